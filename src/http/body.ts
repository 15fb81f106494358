import type { IncomingMessage } from "node:http";
import type { Context as HonoContext } from "hono";
import { isInteger, isSafeNumber, parse as parseLossless } from "lossless-json";
import { HttpError } from "./errors.js";

/** The Node request behind a Hono request, when served by @hono/node-server (not in `app.request()` tests). */
export function incomingOf(c: HonoContext): IncomingMessage | null {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return env?.incoming ?? null;
}

/**
 * The request body as bytes, at most `maxBytes` (413 past that). With a Content-Length (which the body limit
 * of app.ts has checked) it is read straight from Node's request: going through the web Request (an undici
 * Request and a web stream per request) costs more than the rest of an inbox request together. A chunked
 * body goes through the web Request, where the body limit counts it as it arrives.
 */
export async function readBody(c: HonoContext, maxBytes: number): Promise<Uint8Array> {
  const incoming = incomingOf(c);
  if (!incoming || c.req.header("content-length") === undefined)
    return new Uint8Array(await c.req.arrayBuffer());
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new HttpError(413, `request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

const losslessOptions = {
  // An integer a double cannot hold exactly (an 18-digit id sent as a JSON number, as Mastodon.py does) stays
  // the text it was written as; other numbers become numbers, as JSON.parse makes them.
  parseNumber: (text: string) => (isInteger(text) && !isSafeNumber(text) ? text : Number(text)),
  // JSON.parse keeps the last of duplicate keys; lossless-json would throw.
  onDuplicateKey: ({ newValue }: { newValue: unknown }) => newValue,
};

/**
 * A request's JSON text parsed so that no integer loses a digit: those beyond 2^53 come back as strings.
 * JSON.parse reads it first; only when that produced an integer it could not hold exactly is the text read again
 * by the lossless parser, which is 4 to 13 times slower (ids sent as strings, the usual case, never are).
 * Throws a SyntaxError, or a RangeError when nested too deeply.
 */
export function parseJsonLossless(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return hasUnsafeInteger(value) ? parseLossless(text, null, losslessOptions) : value;
}

function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (typeof value !== "object" || value === null) return false;
  for (const item of Array.isArray(value) ? value : Object.values(value))
    if (hasUnsafeInteger(item)) return true;
  return false;
}
