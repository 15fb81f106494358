import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount } from "../../src/core/account.js";
import { type RunningServer, startServer } from "../../src/main.js";
import { ensureBuilt } from "./cli.js";

export interface TestServer extends RunningServer {
  dir: string;
  /** The public origin, http://127.0.0.1:PORT (the tests run with protocol http and the listening port as domain). */
  origin: string;
  domain: string;
  close(): Promise<void>;
}

/** An unused TCP port on 127.0.0.1 (the server's domain must carry its port before it listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "wren-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The configuration of a test server, as WREN_* variables: a database in `dir`, listening on 127.0.0.1:port
 * with that as its domain, plain http, silent, and private addresses allowed (every peer is on loopback).
 */
export function testEnv(dir: string, port: number, database = join(dir, "wren.db")): Record<string, string> {
  return {
    WREN_SERVER_DOMAIN: `127.0.0.1:${port}`,
    WREN_SERVER_PROTOCOL: "http",
    WREN_SERVER_LISTEN_HOST: "127.0.0.1",
    WREN_SERVER_LISTEN_PORT: String(port),
    WREN_DATABASE_PATH: database,
    WREN_MEDIA_PATH: join(dir, "media"),
    WREN_LOG_LEVEL: "silent",
    WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "true",
  };
}

/** The environment for a spawned `wren` process: this one's, without any WREN_* variable, plus testEnv. */
export function childEnv(dir: string, port: number, database?: string): Record<string, string> {
  const inherited = Object.entries(process.env).filter(
    (entry): entry is [string, string] => !entry[0].startsWith("WREN_") && entry[1] !== undefined,
  );
  return { ...Object.fromEntries(inherited), ...testEnv(dir, port, database) };
}

/**
 * Starts a real Wren on 127.0.0.1 with a fresh SQLite file in a temporary folder. `env` may override any
 * WREN_* key. With `account`, the local account is created (password "correct horse battery").
 */
export async function startTestServer(
  options: { env?: Record<string, string>; account?: string; dir?: string } = {},
): Promise<TestServer> {
  // Images are processed by the built worker (dist/media/image-worker.js), even when the server runs from src/.
  ensureBuilt();
  const dir = options.dir ?? tempDir();
  const port = await freePort();
  const domain = `127.0.0.1:${port}`;
  const server = await startServer({ env: { ...testEnv(dir, port), ...options.env } });
  if (options.account) {
    await createAccount(server.context, { username: options.account, password: TEST_PASSWORD });
  }
  return {
    ...server,
    dir,
    domain,
    origin: `http://${domain}`,
    async close() {
      await server.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TEST_PASSWORD = "correct horse battery";
