/**
 * The plain-HTTP side of streaming: the health check, and Server-Sent Events at /api/v1/streaming/<stream>
 * (Mastodon's older transport: /user, /user/notification, /public[/local|/remote][?only_media=true],
 * /hashtag[/local]?tag=, /direct), one stream per request. The token comes from the Authorization header or
 * access_token, as the API's authenticate middleware read it.
 */
import { Hono } from "hono";
import type { Context } from "../../../context.js";
import type { ApiEnv } from "../auth.js";
import { hubFor, type StreamClient, type Transport } from "./hub.js";
import { isStreamError, parseStream, streamNameFromPath } from "./streams.js";

const PREFIX = "/api/v1/streaming";
const encoder = new TextEncoder();

class EventStreamTransport implements Transport {
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #open = true;
  /** Called once the stream was ended by close(): the hub forgets the client. */
  onClosed: (() => void) | null = null;

  attach(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  write(text: string): void {
    if (!this.#open || !this.#controller) return;
    this.#controller.enqueue(encoder.encode(text));
  }

  send(_label: string[], event: string, payload: string): void {
    this.write(`event: ${event}\ndata: ${payload}\n\n`);
  }

  /** The queue counts bytes and its high-water mark is 0: desiredSize is minus the bytes not yet written. */
  bufferedAmount(): number {
    return this.#open ? Math.max(0, -(this.#controller?.desiredSize ?? 0)) : 0;
  }

  ping(client: StreamClient): void {
    // A comment line keeps proxies from timing the stream out; a broken connection cancels the stream.
    this.write(":thump\n\n");
    client.alive = true;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#controller?.close();
    } catch {
      // Already cancelled.
    }
    this.onClosed?.();
  }

  terminate(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#controller?.error(new Error("stream dropped"));
    } catch {
      // Already cancelled.
    }
  }
}

export function streamingRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();

  app.get(`${PREFIX}/health`, (c) => c.text("OK", 200, { "Cache-Control": "no-store" }));

  app.get(`${PREFIX}/*`, (c) => {
    const hub = hubFor(ctx);
    const access = hub.authorize(c.get("auth"));
    if ("error" in access) return c.json({ error: access.error }, access.status as 401 | 403);
    const name = streamNameFromPath(c.req.path.slice(PREFIX.length), c.req.query("only_media"));
    const sub = parseStream(name, c.req.query("tag"), c.req.query("list"));
    if (isStreamError(sub)) return c.json({ error: sub.error }, sub.status as 400 | 404);
    if (!hub.reserve()) return c.json({ error: "Too many streaming connections" }, 503);
    const transport = new EventStreamTransport();
    const client = hub.add(transport, access);
    const error = hub.subscribe(client, sub);
    if (error) {
      hub.remove(client);
      return c.json({ error: error.error }, error.status as 403);
    }
    transport.onClosed = () => hub.remove(client);
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          transport.attach(controller);
          // Mastodon's first bytes. A blank line after them would end an empty event, which Mastodon.py
          // refuses as malformed.
          transport.write(":)\n");
        },
        cancel() {
          hub.remove(client);
        },
      },
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    );
    // close() ends the body; the connection then finishes like any response.
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
      },
    });
  });

  return app;
}
