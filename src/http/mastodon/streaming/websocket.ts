/**
 * The WebSocket endpoint, /api/v1/streaming (Mastodon's streaming API). The `ws` package is loaded on the first
 * upgrade request, by the dynamic import below — the only place Wren imports it — so a server nobody streams
 * from never loads it. The upgrade is authenticated before anything is loaded.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { RawData, WebSocket, WebSocketServer } from "ws";
import type { Context } from "../../../context.js";
import { parseJsonLossless } from "../../body.js";
import { findAuth } from "../auth.js";
import type { Access, StreamClient, StreamingHub, Transport } from "./hub.js";
import { isStreamError, parseStream, type StreamError } from "./streams.js";

const MAX_PAYLOAD = 16 * 1024;
const PATHS = new Set(["/api/v1/streaming", "/api/v1/streaming/"]);

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  503: "Service Unavailable",
};

/** The token of an upgrade request: Authorization: Bearer, Sec-WebSocket-Protocol, or access_token. */
export function upgradeToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (header) return header;
  const protocol = req.headers["sec-websocket-protocol"]?.split(",")[0]?.trim();
  if (protocol) return protocol;
  return url.searchParams.get("access_token") || null;
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuse(socket: Duplex, status: number, error: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

class WebSocketTransport implements Transport {
  constructor(readonly ws: WebSocket) {}

  send(label: string[], event: string, payload: string): void {
    this.raw(JSON.stringify({ stream: label, event, payload }));
  }

  raw(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class WebSocketEndpoint {
  readonly #ctx: Context;
  readonly #hub: StreamingHub;
  #server: Promise<WebSocketServer> | null = null;

  constructor(ctx: Context, hub: StreamingHub) {
    this.#ctx = ctx;
    this.#hub = hub;
  }

  /** The http server's "upgrade" listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.#handle(req, socket, head).catch((error: unknown) => {
      this.#ctx.log.warn({ err: error }, "streaming: upgrade failed");
      refuse(socket, 503, "Streaming is unavailable");
    });
  };

  async #handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const onError = () => socket.destroy();
    socket.on("error", onError);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!PATHS.has(url.pathname)) return refuse(socket, 404, "Not found");
    if (this.#hub.closed) return refuse(socket, 503, "The server is shutting down");
    const token = upgradeToken(req, url);
    const access = this.#hub.authorize(token ? findAuth(this.#ctx, token) : null);
    if ("error" in access) return refuse(socket, access.status, access.error);
    if (!this.#hub.reserve()) return refuse(socket, 503, "Too many streaming connections");
    let wss: WebSocketServer;
    try {
      wss = await this.#load();
    } catch (error) {
      this.#hub.release();
      throw error;
    }
    if (socket.destroyed || this.#hub.closed) {
      this.#hub.release();
      return refuse(socket, 503, "The server is shutting down");
    }
    let accepted = false;
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted = true;
      socket.off("error", onError);
      this.#open(ws, access, url);
    });
    // handleUpgrade answers an invalid handshake itself (400) without calling back.
    if (!accepted && socket.destroyed) this.#hub.release();
    else if (!accepted) socket.once("close", () => !accepted && this.#hub.release());
  }

  /** The WebSocketServer, created on first use. */
  #load(): Promise<WebSocketServer> {
    this.#server ??= import("ws").then(
      ({ WebSocketServer }) =>
        new WebSocketServer({
          noServer: true,
          clientTracking: false,
          perMessageDeflate: false,
          maxPayload: MAX_PAYLOAD,
          // The token may come as the subprotocol: the client expects it back as the accepted one.
          handleProtocols: (protocols) => protocols.values().next().value ?? false,
        }),
    );
    this.#server.catch(() => {
      this.#server = null;
    });
    return this.#server;
  }

  #open(ws: WebSocket, access: Access, url: URL): void {
    const transport = new WebSocketTransport(ws);
    const client = this.#hub.add(transport, access);
    if (client.closed) return;
    ws.on("pong", () => {
      client.alive = true;
    });
    ws.on("close", () => this.#hub.remove(client));
    ws.on("error", (error) => {
      this.#ctx.log.debug({ err: error }, "streaming: socket error");
      this.#hub.remove(client);
    });
    ws.on("message", (data, isBinary) => this.#message(client, transport, data, isBinary));
    const initial = url.searchParams.get("stream");
    if (initial)
      this.#subscribe(client, transport, initial, url.searchParams.get("tag"), url.searchParams.get("list"));
  }

  #message(client: StreamClient, transport: WebSocketTransport, data: RawData, isBinary: boolean): void {
    client.alive = true;
    const error = this.#handleMessage(client, data, isBinary);
    if (error) sendError(transport, error);
  }

  /** Handles one client message; answers the error to report, if any. */
  #handleMessage(client: StreamClient, data: RawData, isBinary: boolean): StreamError | null {
    if (isBinary) return { error: "Expected a JSON text message", status: 400 };
    let message: unknown;
    try {
      // Lossless: a list id sent as a JSON number keeps every digit (ids pass 2^53).
      message = parseJsonLossless(rawText(data));
    } catch {
      return { error: "Invalid JSON", status: 400 };
    }
    if (typeof message !== "object" || message === null)
      return { error: "Expected a JSON object", status: 400 };
    const { type, stream, tag, list } = message as Record<string, unknown>;
    if (type !== "subscribe" && type !== "unsubscribe") return { error: "Unknown message type", status: 400 };
    const sub = parseStream(stream, tag, list);
    if (isStreamError(sub)) return sub;
    if (type === "subscribe") return this.#hub.subscribe(client, sub);
    this.#hub.unsubscribe(client, sub.key);
    return null;
  }

  #subscribe(
    client: StreamClient,
    transport: WebSocketTransport,
    stream: unknown,
    tag: unknown,
    list: unknown,
  ): void {
    const sub = parseStream(stream, tag, list);
    const error = isStreamError(sub) ? sub : this.#hub.subscribe(client, sub);
    if (error) sendError(transport, error);
  }
}

function sendError(transport: WebSocketTransport, error: StreamError): void {
  transport.raw(JSON.stringify(error));
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
