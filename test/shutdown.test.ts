import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BIN, ensureBuilt } from "./helpers/cli.js";
import { childEnv, freePort, tempDir } from "./helpers/server.js";

beforeAll(ensureBuilt, 120_000);

let dir: string;
let dbPath: string;
let child: ChildProcess | null = null;
beforeEach(() => {
  dir = tempDir("wren-shutdown-");
  dbPath = join(dir, "wren.db");
});
afterEach(() => {
  // Only if a test failed half-way: never leave a server running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = null;
  rmSync(dir, { recursive: true, force: true });
});

const env = (port: number) => childEnv(dir, port, dbPath);

interface Served {
  process: ChildProcess;
  origin: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `wren serve` and waits until it answers HTTP. */
async function serve(): Promise<Served> {
  const port = await freePort();
  const proc = spawn(process.execPath, [BIN, "serve"], { cwd: dir, env: env(port), stdio: "pipe" });
  child = proc;
  let output = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`wren serve exited early (${proc.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${origin}/.well-known/nodeinfo`);
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`wren serve did not answer within 20 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: proc, origin, output: () => output, exited };
}

async function stopWith(served: Served, signal: NodeJS.Signals) {
  const started = Date.now();
  served.process.kill(signal);
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000).unref());
  const result = await Promise.race([served.exited, timeout]);
  expect(result, `no exit within 10 s after ${signal}:\n${served.output()}`).not.toBe("timeout");
  return { ...(result as { code: number | null; signal: NodeJS.Signals | null }), ms: Date.now() - started };
}

/** The database after the server is gone: it opens, is intact and the WAL was folded back in. */
function checkDatabase(): Database.Database {
  const db = new Database(dbPath, { fileMustExist: true });
  expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
  expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
  return db;
}

describe("graceful shutdown of `wren serve`", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`exits 0 on ${signal}, leaving a database that opens cleanly`, async () => {
      const served = await serve();
      // A kept-alive idle connection must not hold the shutdown up.
      const actor = await fetch(`${served.origin}/actor`, {
        headers: { accept: "application/activity+json" },
      });
      expect(actor.status).toBe(200);
      await actor.text();

      const { code, signal: killedBy, ms } = await stopWith(served, signal);
      expect(killedBy).toBeNull();
      expect(code, served.output()).toBe(0);
      expect(ms).toBeLessThan(10_000);
      expect(served.output()).toContain(`${signal}: shutting down`);

      // The WAL was checkpointed and removed when the last connection closed.
      const wal = `${dbPath}-wal`;
      expect(!existsSync(wal) || statSync(wal).size === 0, "WAL checkpointed").toBe(true);
      const db = checkDatabase();
      try {
        // The instance actor's keys written at start-up survived.
        const keys = db.prepare("SELECT count(*) AS n FROM key_pairs WHERE owner = 'instance'").get() as {
          n: number;
        };
        expect(keys.n).toBe(2);
      } finally {
        db.close();
      }
      // The port is free again.
      await expect(fetch(`${served.origin}/actor`)).rejects.toThrow();
    });
  }

  it("keeps its data across a restart", async () => {
    const first = await serve();
    const before = (await (
      await fetch(`${first.origin}/actor`, { headers: { accept: "application/activity+json" } })
    ).json()) as { publicKey: { publicKeyPem: string } };
    expect((await stopWith(first, "SIGTERM")).code).toBe(0);

    const second = await serve();
    const after = (await (
      await fetch(`${second.origin}/actor`, { headers: { accept: "application/activity+json" } })
    ).json()) as { publicKey: { publicKeyPem: string } };
    expect(after.publicKey.publicKeyPem).toBe(before.publicKey.publicKeyPem);
    expect((await stopWith(second, "SIGINT")).code).toBe(0);
    checkDatabase().close();
  });
});
