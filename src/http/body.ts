import type { IncomingMessage } from "node:http";
import type { Context as HonoContext } from "hono";
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
