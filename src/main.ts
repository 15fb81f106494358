import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { loadConfig } from "./config/load.js";
import { type Context, createContext } from "./context.js";
import { ensureInstanceKeys } from "./core/account.js";
import { DeliveryWorker } from "./federation/delivery/worker.js";
import { InboxWorker } from "./federation/inbox/worker.js";
import { createApp } from "./http/app.js";
import { startStreaming } from "./http/mastodon/streaming/index.js";
import { startScheduledPublisher } from "./jobs/scheduled.js";
import { startUpkeep, type Upkeep } from "./jobs/upkeep.js";
import { createLogger } from "./log.js";
import { configureImageWorker, stopImageWorker } from "./media/image-process.js";
import { findLocalUser } from "./store/accounts.js";
import { openStore } from "./store/open.js";
import { VERSION } from "./version.js";

const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningServer {
  /** Where it listens, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** The public origin its URLs use, e.g. https://example.com */
  publicOrigin: string;
  hasAccount: boolean;
  context: Context;
  /** The delivery worker (tests stop it to drive their own). */
  delivery: DeliveryWorker;
  /** The worker applying what the inbox recorded. */
  inbox: InboxWorker;
  /** The scheduled maintenance, on the real clock (tests driving a fake clock stop it). */
  upkeep: Upkeep;
  /** Stops accepting, lets in-flight requests finish (up to 10 s), then closes the database. */
  stop(): Promise<void>;
}

export async function startServer(
  options: { configPath?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningServer> {
  const { config, file } = loadConfig(options);
  const log = createLogger(config.log.level);
  const store = openStore(config.database.path, { busyTimeoutMs: config.database.busy_timeout_ms });
  const ctx = createContext(config, store, log, VERSION);
  configureImageWorker({
    idleSeconds: config.media.image_worker_idle_s,
    jobTimeoutSeconds: config.media.image_job_timeout_s,
    log,
  });
  ensureInstanceKeys(ctx);
  const app = createApp(ctx);

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve(
      { fetch: app.fetch, hostname: config.server.listen_host, port: config.server.listen_port },
      () => resolve(s as Server),
    );
    s.once("error", reject);
  });
  const streaming = startStreaming(ctx, server);
  const port = (server.address() as AddressInfo).port;
  const listenUrl = `http://${config.server.listen_host.includes(":") ? `[${config.server.listen_host}]` : config.server.listen_host}:${port}`;
  log.info(
    {
      listen: listenUrl,
      public: ctx.urls.origin,
      config: file ?? "built-in trial defaults",
      version: VERSION,
    },
    "wren is serving",
  );
  const delivery = new DeliveryWorker(ctx);
  delivery.start();
  const inbox = new InboxWorker(ctx);
  inbox.start();
  const upkeep = startUpkeep(ctx);
  const scheduled = startScheduledPublisher(ctx);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      upkeep.stop();
      scheduled.stop();
      // Upgraded sockets are no longer the http server's: server.close() would wait for them.
      void streaming.close();
      const drained = Promise.all([delivery.stop(SHUTDOWN_GRACE_MS), inbox.stop(SHUTDOWN_GRACE_MS)]);
      const force = setTimeout(() => {
        log.warn("requests still running after 10 s: closing their connections");
        server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        void drained.then(async () => {
          await stopImageWorker();
          store.close();
          log.info("stopped");
          resolve();
        });
      });
      server.closeIdleConnections();
    });
    return stopping;
  };

  return {
    url: listenUrl,
    port,
    publicOrigin: ctx.urls.origin,
    hasAccount: findLocalUser(store.db) !== null,
    context: ctx,
    delivery,
    inbox,
    upkeep,
    stop,
  };
}
