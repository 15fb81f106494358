/**
 * Mastodon's streaming API: WebSocket at /api/v1/streaming (websocket.ts), Server-Sent Events and the health
 * check as HTTP routes (routes.ts), both fed by one hub per running server (hub.ts).
 */
import type { Server } from "node:http";
import type { Context } from "../../../context.js";
import { hubFor } from "./hub.js";
import { WebSocketEndpoint } from "./websocket.js";

export { hubFor } from "./hub.js";
export { streamingRoutes } from "./routes.js";

export interface Streaming {
  /** Refuses new streams and closes the open ones with 1001; resolves when they are gone. */
  close(): Promise<void>;
}

/** Attaches the WebSocket endpoint to the http server. Nothing is loaded until the first upgrade request. */
export function startStreaming(ctx: Context, server: Server): Streaming {
  const hub = hubFor(ctx);
  const endpoint = new WebSocketEndpoint(ctx, hub);
  server.on("upgrade", endpoint.handleUpgrade);
  return {
    // The upgrade listener stays: once closed, the hub answers upgrades with 503.
    close: () => hub.close(),
  };
}
