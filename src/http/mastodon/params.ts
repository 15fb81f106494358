import type { Context as HonoContext } from "hono";
import { parseJsonLossless } from "../body.js";
import { HttpError } from "../errors.js";

export type Params = Record<string, unknown>;

/**
 * Request parameters the way Mastodon reads them: query string, then a JSON, form or multipart body, with
 * `foo[]` collected into arrays and `foo[bar]` into objects. Apps send all of these, sometimes with no
 * Content-Type at all, so the body is sniffed when the header is missing.
 */
export async function readParams(c: HonoContext): Promise<Params> {
  const params: Params = {};
  for (const [key, value] of new URL(c.req.url).searchParams) assign(params, key, value);
  if (c.req.method === "GET" || c.req.method === "HEAD") return params;

  const type = (c.req.header("content-type") ?? "").toLowerCase();
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await c.req.formData();
    } catch {
      throw new HttpError(400, "the multipart body could not be read");
    }
    for (const [key, value] of form) assign(params, key, value);
    return params;
  }
  const text = await c.req.text();
  if (text.trim() === "") return params;
  if (type.includes("json") || (!type.includes("x-www-form-urlencoded") && /^\s*[{[]/.test(text))) {
    let body: unknown;
    try {
      body = parseJsonLossless(text);
    } catch {
      throw new HttpError(400, "the JSON body could not be parsed");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new HttpError(400, "the JSON body must be an object");
    return { ...params, ...(body as Params) };
  }
  for (const [key, value] of new URLSearchParams(text)) assign(params, key, value);
  return params;
}

function assign(params: Params, key: string, value: unknown): void {
  const array = key.match(/^([^[\]]+)\[\]$/);
  if (array?.[1]) {
    const list = Array.isArray(params[array[1]]) ? (params[array[1]] as unknown[]) : [];
    list.push(value);
    params[array[1]] = list;
    return;
  }
  const nested = key.match(/^([^[\]]+)\[([^[\]]+)\](\[\])?$/);
  if (nested?.[1] && nested[2]) {
    const parent = (
      typeof params[nested[1]] === "object" && params[nested[1]] !== null ? params[nested[1]] : {}
    ) as Params;
    if (nested[3]) {
      const list = Array.isArray(parent[nested[2]]) ? (parent[nested[2]] as unknown[]) : [];
      list.push(value);
      parent[nested[2]] = list;
    } else parent[nested[2]] = value;
    params[nested[1]] = parent;
    return;
  }
  params[key] = value;
}

// The spellings Rails reads as booleans (ActiveModel's FALSE_VALUES and their opposites), in any case: toot
// sends Python's `True`, forms send `on`, others `1`, `t` or `yes`.
const TRUE_WORDS = new Set(["true", "1", "on", "yes", "t"]);
const FALSE_WORDS = new Set(["false", "0", "off", "no", "f"]);

/**
 * A boolean as apps send it: true/false, 1/0, or one of the words above in any case. Undefined when absent
 * (undefined, null or ""), null when the value is none of these.
 */
export function parseBoolean(value: unknown): boolean | null | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  if (value === 1) return true;
  if (value === 0) return false;
  if (typeof value !== "string") return null;
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return null;
}

/** Typed readers that accept what apps really send: "True"/"1"/true, numbers as strings, null as absent. */
export const read = {
  string(params: Params, key: string): string | undefined {
    const value = params[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    throw new HttpError(422, `${key} must be a string`);
  },
  boolean(params: Params, key: string): boolean | undefined {
    const value = parseBoolean(params[key]);
    if (value === null) throw new HttpError(422, `${key} must be true or false`);
    return value;
  },
  integer(params: Params, key: string, min: number, max: number): number | undefined {
    const value = params[key];
    if (value === undefined || value === null || value === "") return undefined;
    const n = typeof value === "number" ? value : Number(value);
    if (!Number.isInteger(n)) throw new HttpError(422, `${key} must be an integer`);
    if (n < min || n > max) throw new HttpError(422, `${key} must be between ${min} and ${max}`);
    return n;
  },
  strings(params: Params, key: string): string[] | undefined {
    const value = params[key];
    if (value === undefined || value === null) return undefined;
    const list = Array.isArray(value) ? value : [value];
    return list.map((item) => {
      if (typeof item !== "string" && typeof item !== "number")
        throw new HttpError(422, `${key} must be a list of strings`);
      return String(item);
    });
  },
};
