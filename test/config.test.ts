import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, type LoadOptions, loadConfig, publicOrigin } from "../src/config/load.js";
import { CONFIG_SPEC, type KeySpec } from "../src/config/spec.js";
import { tempDir } from "./helpers/server.js";

const EXAMPLE = fileURLToPath(new URL("../config.example.toml", import.meta.url));

/** The table of a section in parsed TOML; "media.s3" is the sub-table s3 of media. */
const tableOf = (parsed: Record<string, unknown>, section: string) =>
  section
    .split(".")
    .reduce<Record<string, unknown> | undefined>(
      (table, name) => table?.[name] as Record<string, unknown> | undefined,
      parsed,
    );

const specEntries = (): [string, string, KeySpec][] =>
  Object.entries(CONFIG_SPEC).flatMap(([section, keys]) =>
    Object.entries(keys as Record<string, KeySpec>).map(([key, spec]): [string, string, KeySpec] => [
      section,
      key,
      spec,
    ]),
  );

let dir: string;
beforeEach(() => {
  dir = tempDir("wren-config-");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a TOML file into the temp dir and returns its absolute path. */
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** loadConfig in the temp dir with an empty environment unless given one (never the test runner's). */
function load(options: LoadOptions = {}) {
  return loadConfig({ cwd: dir, env: {}, ...options });
}

/** Runs loadConfig expecting a ConfigError and returns it. */
function configError(options: LoadOptions): ConfigError {
  try {
    load(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("defaults", () => {
  it("uses every key's default with no file and no environment (the trial profile)", () => {
    const { config, file, sources } = load();
    expect(file).toBeNull();
    for (const [section, key, spec] of specEntries()) {
      const value = (config as unknown as Record<string, Record<string, unknown>>)[section]?.[key];
      if (section === "server" && key === "protocol") continue;
      if (key === "path") expect(value).toBe(join(dir, spec.default as string));
      else expect(value, `${section}.${key}`).toBe(spec.default);
      expect(sources[`${section}.${key}`], `${section}.${key}`).toBe("default");
    }
    // Trial profile: no file at all means plain http on localhost.
    expect(config.server.protocol).toBe("http");
    expect(sources["server.protocol"]).toBe("trial default (no config file)");
    expect(config.server.domain).toBe("localhost:8080");
    expect(publicOrigin(config)).toBe("http://localhost:8080");
  });

  it("defaults the protocol to https as soon as a config file exists, even an empty one", () => {
    const path = write("config.toml", "# nothing here\n");
    const { config, file, sources } = load({ configPath: path });
    expect(file).toBe(path);
    expect(config.server.protocol).toBe("https");
    expect(sources["server.protocol"]).toBe("default");
    expect(publicOrigin(config)).toBe("https://localhost:8080");
  });

  it("resolves relative database and media paths against the working directory", () => {
    write("config.toml", '[database]\npath = "db/w.db"\n[media]\npath = "../m"\n');
    const { config } = load();
    expect(config.database.path).toBe(join(dir, "db/w.db"));
    expect(config.media.path).toBe(join(dir, "../m"));
  });
});

describe("config file", () => {
  it("reads values from the file and names the file as their source", () => {
    const path = write(
      "wren.toml",
      `[server]
domain = "social.example.com"
listen_port = 9000
title = "My Wren"

[database]
path = "/var/lib/wren/wren.db"

[federation]
allow_private_addresses = true

[log]
level = "debug"
`,
    );
    const { config, file, sources } = load({ configPath: path });
    expect(file).toBe(path);
    expect(config.server.domain).toBe("social.example.com");
    expect(config.server.listen_port).toBe(9000);
    expect(config.server.title).toBe("My Wren");
    expect(config.server.protocol).toBe("https");
    expect(config.database.path).toBe("/var/lib/wren/wren.db");
    expect(config.federation.allow_private_addresses).toBe(true);
    expect(config.log.level).toBe("debug");
    expect(publicOrigin(config)).toBe("https://social.example.com");
    for (const key of [
      "server.domain",
      "server.listen_port",
      "server.title",
      "database.path",
      "federation.allow_private_addresses",
      "log.level",
    ])
      expect(sources[key], key).toBe(path);
    expect(sources["server.listen_host"]).toBe("default");
  });

  it("lets a WREN_<SECTION>_<KEY> variable override the file, and names the variable as source", () => {
    const path = write("config.toml", '[server]\nlisten_port = 9000\ndomain = "a.example"\n');
    const { config, sources } = load({
      configPath: path,
      env: {
        WREN_SERVER_LISTEN_PORT: "9100",
        WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "yes",
        WREN_DATABASE_BUSY_TIMEOUT_MS: "250",
        WREN_LOG_LEVEL: "warn",
        // Variables outside Wren's prefix are none of its business.
        HOME: "/nowhere",
      },
    });
    expect(config.server.listen_port).toBe(9100);
    expect(sources["server.listen_port"]).toBe("WREN_SERVER_LISTEN_PORT");
    expect(config.server.domain).toBe("a.example");
    expect(sources["server.domain"]).toBe(path);
    expect(config.federation.allow_private_addresses).toBe(true);
    expect(sources["federation.allow_private_addresses"]).toBe("WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES");
    expect(config.database.busy_timeout_ms).toBe(250);
    expect(config.log.level).toBe("warn");
  });

  it("accepts the environment alone, without a file", () => {
    const { config, file, sources } = load({
      env: { WREN_SERVER_PROTOCOL: "https", WREN_SERVER_DOMAIN: "env.example" },
    });
    expect(file).toBeNull();
    expect(config.server.protocol).toBe("https");
    expect(sources["server.protocol"]).toBe("WREN_SERVER_PROTOCOL");
    expect(publicOrigin(config)).toBe("https://env.example");
  });
});

describe("file lookup", () => {
  it("picks ./config.toml from the working directory", () => {
    write("config.toml", "[server]\nlisten_port = 1234\n");
    const { config, file, sources } = load();
    expect(file).toBe(join(dir, "config.toml"));
    expect(config.server.listen_port).toBe(1234);
    expect(sources["server.listen_port"]).toBe(join(dir, "config.toml"));
    expect(config.server.protocol).toBe("https");
  });

  it("prefers WREN_CONFIG (relative to the working directory) over ./config.toml", () => {
    write("config.toml", "[server]\nlisten_port = 1234\n");
    mkdirSync(join(dir, "etc"));
    write("etc/wren.toml", "[server]\nlisten_port = 4321\n");
    const { config, file } = load({ env: { WREN_CONFIG: "etc/wren.toml" } });
    expect(file).toBe(join(dir, "etc/wren.toml"));
    expect(config.server.listen_port).toBe(4321);
  });

  it("prefers --config over WREN_CONFIG", () => {
    const a = write("a.toml", "[server]\nlisten_port = 1111\n");
    write("b.toml", "[server]\nlisten_port = 2222\n");
    const { config, file } = load({ configPath: "a.toml", env: { WREN_CONFIG: "b.toml" } });
    expect(file).toBe(a);
    expect(config.server.listen_port).toBe(1111);
  });

  it("does not treat WREN_CONFIG as a configuration key", () => {
    const path = write("x.toml", "");
    expect(() => load({ env: { WREN_CONFIG: path } })).not.toThrow();
  });
});

describe("errors name the key and where it came from", () => {
  const cases: { name: string; toml: string; expected: string[] }[] = [
    { name: "unknown section", toml: "[nope]\nx = 1\n", expected: ["unknown section [nope]"] },
    { name: "unknown key", toml: "[server]\nnope = 1\n", expected: ["unknown key server.nope"] },
    {
      name: "wrong type",
      toml: '[server]\nlisten_port = "x"\n',
      expected: ["server.listen_port", 'must be an integer, got "x"'],
    },
    {
      name: "non-integer number",
      toml: "[server]\nlisten_port = 80.5\n",
      expected: ["server.listen_port", "must be an integer, got 80.5"],
    },
    {
      name: "out-of-range integer",
      toml: "[server]\nlisten_port = 70000\n",
      expected: ["server.listen_port", "must be between 0 and 65535, got 70000"],
    },
    {
      name: "integer below its minimum",
      toml: "[limits]\nmax_body_bytes = 10\n",
      expected: ["limits.max_body_bytes", "between 1024 and"],
    },
    {
      name: "bad enum",
      toml: '[log]\nlevel = "loud"\n',
      expected: ["log.level", 'must be one of "fatal"', 'got "loud"'],
    },
    {
      name: "string for a boolean",
      toml: '[federation]\nallow_private_addresses = "true"\n',
      expected: ["federation.allow_private_addresses", "must be true or false"],
    },
    {
      name: "number for a string",
      toml: "[server]\ntitle = 5\n",
      expected: ["server.title", "must be a string, got 5"],
    },
    {
      name: "bad domain",
      toml: '[server]\ndomain = "https://Example.com/"\n',
      expected: ["server.domain", "must be a lower-case host name"],
    },
    {
      name: "empty path",
      toml: '[database]\npath = " "\n',
      expected: ["database.path", "must not be empty"],
    },
    { name: "section that is not a table", toml: "server = 1\n", expected: ["server must be a table"] },
  ];

  for (const { name, toml, expected } of cases) {
    it(`rejects ${name}`, () => {
      const path = write("config.toml", toml);
      const error = configError({ configPath: path });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toContain(path);
      for (const text of expected) expect(error.message).toContain(text);
    });
  }

  it("reports every problem at once", () => {
    const path = write("config.toml", '[server]\nlisten_port = "x"\nnope = 1\n[log]\nlevel = "loud"\n');
    const error = configError({ configPath: path, env: { WREN_SERVER_NOPE: "1" } });
    expect(error.problems).toHaveLength(4);
    expect(error.message).toContain("server.listen_port");
    expect(error.message).toContain("server.nope");
    expect(error.message).toContain("log.level");
    expect(error.message).toContain("WREN_SERVER_NOPE");
  });

  it("rejects malformed TOML, naming the file and the line", () => {
    const path = write("config.toml", '[server]\nlisten_port = 80\ntitle = "unterminated\n');
    const error = configError({ configPath: path });
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/3:/);
  });

  it("rejects a missing --config file", () => {
    const error = configError({ configPath: "missing.toml" });
    expect(error.message).toContain(join(dir, "missing.toml"));
    expect(error.message).toContain("file not found");
  });

  it("rejects a missing WREN_CONFIG file", () => {
    const error = configError({ env: { WREN_CONFIG: "/nonexistent/wren.toml" } });
    expect(error.message).toContain("/nonexistent/wren.toml: file not found");
  });

  it("rejects a bad environment value, naming the variable and the key", () => {
    const error = configError({ env: { WREN_SERVER_LISTEN_PORT: "abc" } });
    expect(error.problems).toEqual([
      'environment variable WREN_SERVER_LISTEN_PORT: server.listen_port must be an integer, got "abc"',
    ]);
  });

  it("rejects an out-of-range or invalid environment value", () => {
    expect(configError({ env: { WREN_SERVER_LISTEN_PORT: "-1" } }).message).toContain(
      "WREN_SERVER_LISTEN_PORT: server.listen_port must be between 0 and 65535, got -1",
    );
    expect(configError({ env: { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "maybe" } }).message).toContain(
      'WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: federation.allow_private_addresses must be true or false, got "maybe"',
    );
    expect(configError({ env: { WREN_SERVER_PROTOCOL: "ftp" } }).message).toContain(
      "WREN_SERVER_PROTOCOL: server.protocol must be one of",
    );
  });

  it("rejects an unknown WREN_ variable", () => {
    const error = configError({ env: { WREN_SERVER_LISTEN_PROT: "80" } });
    expect(error.problems).toEqual([
      "environment variable WREN_SERVER_LISTEN_PROT: no such configuration key",
    ]);
  });

  it("lists the problems in the error message, one per line", () => {
    const error = configError({ env: { WREN_NOPE: "1" } });
    expect(error.message).toBe(
      "invalid configuration:\n  - environment variable WREN_NOPE: no such configuration key",
    );
  });
});

describe("config.example.toml", () => {
  const text = readFileSync(EXAMPLE, "utf8");

  it("is a valid configuration file", () => {
    const { config, file, sources } = loadConfig({ configPath: EXAMPLE, env: {}, cwd: dir });
    expect(file).toBe(EXAMPLE);
    expect(config.server.protocol).toBe("https");
    // Every key is set in the file, so every source is the file.
    for (const [section, key] of specEntries())
      expect(sources[`${section}.${key}`], `${section}.${key} set in the example`).toBe(EXAMPLE);
  });

  it("sets every key of CONFIG_SPEC to its default, and nothing else", () => {
    const parsed = parseToml(text) as Record<string, Record<string, unknown>>;
    for (const [section, key, spec] of specEntries()) {
      expect(tableOf(parsed, section), `[${section}]`).toBeTypeOf("object");
      expect(tableOf(parsed, section)?.[key], `${section}.${key}`).toBe(spec.default);
    }
    const specKeys = specEntries().map(([s, k]) => `${s}.${k}`);
    // A sub-table ([media.s3]) is a section of its own, not a key of its parent.
    const fileKeys = Object.entries(parsed).flatMap(([s, keys]) =>
      Object.entries(keys).flatMap(([k, v]) =>
        typeof v === "object" && v !== null ? Object.keys(v).map((sub) => `${s}.${k}.${sub}`) : [`${s}.${k}`],
      ),
    );
    expect(fileKeys.sort()).toEqual(specKeys.sort());
  });

  it("documents every key with its doc text in the comment just above it", () => {
    // Collect the comment block directly above each `key = value` line, per section.
    const comments = new Map<string, string>();
    let section = "";
    let block: string[] = [];
    for (const line of text.split("\n")) {
      const header = /^\[([a-z0-9_.]+)\]\s*$/.exec(line);
      const assignment = /^([a-z_]+)\s*=/.exec(line);
      if (header) {
        section = header[1] as string;
        block = [];
      } else if (line.startsWith("#")) block.push(line.replace(/^#\s?/, ""));
      else if (assignment) {
        comments.set(`${section}.${assignment[1]}`, block.join(" "));
        block = [];
      } else if (line.trim() === "") block = [];
    }
    for (const [section, key, spec] of specEntries()) {
      const comment = comments.get(`${section}.${key}`);
      expect(comment, `${section}.${key} has a comment`).toBeDefined();
      expect(comment?.replace(/\s+/g, " "), `${section}.${key}`).toContain(spec.doc.replace(/\s+/g, " "));
      expect(comment).toContain(`WREN_${section.replace(".", "_").toUpperCase()}_${key.toUpperCase()}`);
    }
  });

  it("explains the trial profile and what a real deployment must set", () => {
    expect(text).toMatch(/trial profile/);
    expect(text).toMatch(/protocol "http"/);
    expect(text).toMatch(/server\.domain/);
  });
});
