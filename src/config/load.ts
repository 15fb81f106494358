import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { CONFIG_SPEC, type Config, type KeySpec } from "./spec.js";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export interface LoadedConfig {
  config: Config;
  /** Where the file came from, or null when only defaults and the environment were used. */
  file: string | null;
  /** For each "section.key", where its value came from: "default", the file path, or the variable name. */
  sources: Record<string, string>;
}

export interface LoadOptions {
  /** Path given with --config. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Config file lookup: --config PATH, else WREN_CONFIG, else ./config.toml when present, else built-in defaults.
 * Then every WREN_<SECTION>_<KEY> variable overrides its key. Relative paths are resolved against the working
 * directory.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];

  let file: string | null = null;
  if (options.configPath) file = resolve(cwd, options.configPath);
  else if (env.WREN_CONFIG) file = resolve(cwd, env.WREN_CONFIG);
  else if (existsSync(resolve(cwd, "config.toml"))) file = resolve(cwd, "config.toml");

  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = parseToml(readFileSync(file, "utf8"));
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
      throw new ConfigError([`${file}: ${reason}`]);
    }
  }

  // A sub-table such as [media.s3] is a section of its own, named "media.s3".
  for (const [section, table] of Object.entries(fromFile)) {
    if (typeof table !== "object" || table === null) continue;
    for (const [key, value] of Object.entries(table)) {
      if (`${section}.${key}` in CONFIG_SPEC && typeof value === "object" && value !== null) {
        fromFile[`${section}.${key}`] = value;
        delete (table as Record<string, unknown>)[key];
      }
    }
  }

  const values: Record<string, Record<string, unknown>> = {};
  const sources: Record<string, string> = {};
  for (const [section, keys] of Object.entries(CONFIG_SPEC)) {
    values[section] = {};
    for (const [key, spec] of Object.entries(keys as Record<string, KeySpec>)) {
      values[section][key] = spec.default;
      sources[`${section}.${key}`] = "default";
    }
  }

  if (!file) {
    // No file at all: the trial profile, so that `npm start` works on a fresh machine. Plain http is only
    // acceptable here because the default domain is localhost; any real deployment has a config file.
    (values.server as Record<string, unknown>).protocol = "http";
    sources["server.protocol"] = "trial default (no config file)";
  }

  for (const [section, table] of Object.entries(fromFile)) {
    const sectionSpec = (CONFIG_SPEC as Record<string, Record<string, KeySpec>>)[section];
    if (!sectionSpec) {
      problems.push(`${file}: unknown section [${section}]`);
      continue;
    }
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      problems.push(`${file}: ${section} must be a table ([${section}])`);
      continue;
    }
    for (const [key, raw] of Object.entries(table)) {
      const spec = sectionSpec[key];
      if (!spec) {
        problems.push(`${file}: unknown key ${section}.${key}`);
        continue;
      }
      const error = checkValue(spec, raw);
      if (error) problems.push(`${file}: ${section}.${key} ${error}`);
      else {
        (values[section] as Record<string, unknown>)[key] = raw;
        sources[`${section}.${key}`] = file as string;
      }
    }
  }

  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith("WREN_") || name === "WREN_CONFIG" || text === undefined) continue;
    const target = envTarget(name);
    if (!target) {
      problems.push(`environment variable ${name}: no such configuration key`);
      continue;
    }
    const [section, key, spec] = target;
    const parsed = parseEnvValue(spec, text);
    const error = parsed.error ?? checkValue(spec, parsed.value);
    if (error) problems.push(`environment variable ${name}: ${section}.${key} ${error}`);
    else {
      (values[section] as Record<string, unknown>)[key] = parsed.value;
      sources[`${section}.${key}`] = name;
    }
  }

  const s3 = values["media.s3"] as Record<string, string>;
  if (values.media?.storage === "s3" && (!s3.endpoint || !s3.bucket))
    problems.push('media.storage = "s3" needs media.s3.endpoint and media.s3.bucket');

  if (problems.length > 0) throw new ConfigError(problems);

  const config = values as unknown as Config;
  (config.database as { path: string }).path = resolve(cwd, config.database.path);
  (config.media as { path: string }).path = resolve(cwd, config.media.path);
  (config.backup as { path: string }).path = resolve(cwd, config.backup.path);
  return { config, file, sources };
}

function envTarget(name: string): [string, string, KeySpec] | null {
  const rest = name.slice("WREN_".length).toLowerCase();
  for (const [section, keys] of Object.entries(CONFIG_SPEC)) {
    if (!rest.startsWith(`${section.replace(".", "_")}_`)) continue;
    const key = rest.slice(section.length + 1);
    const spec = (keys as Record<string, KeySpec>)[key];
    if (spec) return [section, key, spec];
  }
  return null;
}

function parseEnvValue(spec: KeySpec, text: string): { value?: unknown; error?: string } {
  switch (spec.type) {
    case "integer":
      return /^-?\d+$/.test(text.trim())
        ? { value: Number(text.trim()) }
        : { error: `must be an integer, got "${text}"` };
    case "boolean": {
      const lower = text.trim().toLowerCase();
      if (["true", "1", "yes"].includes(lower)) return { value: true };
      if (["false", "0", "no"].includes(lower)) return { value: false };
      return { error: `must be true or false, got "${text}"` };
    }
    default:
      return { value: text };
  }
}

function checkValue(spec: KeySpec, value: unknown): string | null {
  switch (spec.type) {
    case "string":
      if (typeof value !== "string") return `must be a string, got ${describe(value)}`;
      return spec.check ? spec.check(value) : null;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value))
        return `must be an integer, got ${describe(value)}`;
      if (value < spec.min || value > spec.max)
        return `must be between ${spec.min} and ${spec.max}, got ${value}`;
      return null;
    case "boolean":
      return typeof value === "boolean" ? null : `must be true or false, got ${describe(value)}`;
    case "enum":
      if (typeof value !== "string" || !spec.values.includes(value))
        return `must be one of ${spec.values.map((v) => `"${v}"`).join(", ")}, got ${describe(value)}`;
      return null;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean")
    return String(value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return typeof value === "object" && value !== null ? "a table" : String(value);
}

/** The public origin, e.g. https://example.com */
export function publicOrigin(config: Config): string {
  return `${config.server.protocol}://${config.server.domain}`;
}
