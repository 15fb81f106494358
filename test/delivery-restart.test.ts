// Deliveries survive a crash: the BUILT server (`node bin/wren.js serve`) is killed with SIGKILL while one
// delivery hangs in flight and another waits for a retry after its peer refused the connection; once the
// peers are back and the server restarts, each peer receives exactly the stored activity, byte for byte.
// Received activities survive one too: answered 202 but not yet applied when the server is killed, they are
// all applied after the restart.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { enqueueActivity } from "../src/federation/delivery/enqueue.js";
import { findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { openStore, transaction } from "../src/store/open.js";
import { accounts, follows, outboundActivities } from "../src/store/schema.js";
import { ensureBuilt } from "./helpers/cli.js";
import { inboundRows, inboxSettled, startActorServer } from "./helpers/inbound.js";
import { childEnv, freePort, tempDir } from "./helpers/server.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin/wren.js");
const PASSWORD = "correct horse battery staple";

// `npm test` builds before vitest runs, so the compiled server is the current sources (a second build here
// cost up to two minutes on a loaded machine).
beforeAll(() => ensureBuilt(), 120_000);

let dir: string;
let dbPath: string;
let port: number;
const children: ChildProcess[] = [];
const peers: Peer[] = [];

beforeEach(async () => {
  dir = tempDir("wren-delivery-restart-");
  dbPath = join(dir, "wren.db");
  port = await freePort();
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const peer of peers.splice(0)) await peer.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => childEnv(dir, port, dbPath);

function run(args: string[], input: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: env(), stdio: "pipe" });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.on("exit", (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

interface Served {
  process: ChildProcess;
  exited: Promise<unknown>;
  output: () => string;
}

async function serve(): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, "serve"], { cwd: dir, env: env(), stdio: "pipe" });
  children.push(proc);
  let output = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`wren serve exited early (${proc.exitCode}):\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/nodeinfo`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`wren serve did not answer within 20 s:\n${output}`);
    await sleep(50);
  }
  return { process: proc, exited, output: () => output };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Peer {
  received: Buffer[];
  close(): Promise<void>;
}

/** A peer inbox on a fixed port: "hang" never answers, "accept" answers 202. */
async function startPeer(peerPort: number, mode: "hang" | "accept"): Promise<Peer> {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push(Buffer.concat(chunks));
      if (mode === "accept") res.writeHead(202).end();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(peerPort, "127.0.0.1", resolve);
  });
  const peer = {
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  peers.push(peer);
  return peer;
}

/** Reads the delivery jobs with a separate connection (safe while the server runs: WAL). */
function jobStates(): Map<string, { state: string; attempts: number }> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT inbox_url, state, attempts FROM delivery_jobs").all() as {
      inbox_url: string;
      state: string;
      attempts: number;
    }[];
    return new Map(rows.map((r) => [r.inbox_url, { state: r.state, attempts: r.attempts }]));
  } finally {
    db.close();
  }
}

describe("delivery across a crash", () => {
  it("delivers the queued activity byte for byte after SIGKILL and restart", async () => {
    const created = await run(["account", "create", "--username", "alice"], `${PASSWORD}\n`);
    expect(created.code, created.output).toBe(0);

    const hangingPort = await freePort();
    const downPort = await freePort();
    const hangingInbox = `http://127.0.0.1:${hangingPort}/users/bob/inbox`;
    const downInbox = `http://127.0.0.1:${downPort}/users/carol/inbox`;

    // While the server is not running: two followers and one queued activity, written as the core writes them.
    const store = openStore(dbPath);
    let body: string;
    try {
      const local = findLocalUser(store.db)!.account;
      const now = Date.now();
      for (const [name, peerPort, inbox] of [
        ["bob", hangingPort, hangingInbox],
        ["carol", downPort, downInbox],
      ] as const) {
        const id = newId();
        store.db
          .insert(accounts)
          .values({
            id,
            uri: `http://127.0.0.1:${peerPort}/users/${name}`,
            username: name,
            domain: `127.0.0.1:${peerPort}`,
            inboxUrl: inbox,
            createdAt: now,
            updatedAt: now,
          })
          .run();
        store.db
          .insert(follows)
          .values({ id: newId(), followerId: id, followingId: local.id, state: "accepted", createdAt: now })
          .run();
      }
      const activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        id: `${local.uri}/statuses/1/activity`,
        type: "Create",
        actor: local.uri,
        to: ["https://www.w3.org/ns/activitystreams#Public"],
        object: { id: `${local.uri}/statuses/1`, type: "Note", content: "<p>héllo, wörld ✓ 🐦</p>" },
      };
      const activityId = transaction(store, () =>
        enqueueActivity(store.db, activity, local.id, [hangingInbox, downInbox], now),
      )!;
      body = store.db
        .select()
        .from(outboundActivities)
        .where(eq(outboundActivities.id, activityId))
        .get()!.body;
    } finally {
      store.close();
    }

    // First run: one peer hangs, the other is down. Kill the server while the first delivery is in flight.
    const hanging = await startPeer(hangingPort, "hang");
    const first = await serve();
    await until(() => hanging.received.length === 1, "the hanging peer to receive the activity");
    await until(() => jobStates().get(downInbox)?.attempts === 1, "the refused delivery to be rescheduled");
    expect(jobStates().get(hangingInbox)?.state).toBe("running");
    first.process.kill("SIGKILL");
    await first.exited;

    // Time passes while the server is down: the refused delivery's retry becomes due.
    const raw = new Database(dbPath);
    raw
      .prepare("UPDATE delivery_jobs SET next_attempt_at = ? WHERE inbox_url = ?")
      .run(Date.now(), downInbox);
    expect(raw.prepare("SELECT state FROM delivery_jobs WHERE inbox_url = ?").get(downInbox)).toEqual({
      state: "queued",
    });
    raw.close();

    // Both peers come back answering 202; the restarted server delivers the very same bytes, once each.
    await hanging.close();
    const back = await startPeer(hangingPort, "accept");
    const wasDown = await startPeer(downPort, "accept");
    const second = await serve();
    await until(
      () => [...jobStates().values()].every((j) => j.state === "done"),
      `both jobs to be done (${second.output()})`,
    );
    await sleep(200);
    expect(back.received).toHaveLength(1);
    expect(wasDown.received).toHaveLength(1);
    const expected = Buffer.from(body, "utf8");
    expect(back.received[0]!.equals(expected)).toBe(true);
    expect(wasDown.received[0]!.equals(expected)).toBe(true);
    expect(hanging.received[0]!.equals(expected)).toBe(true);

    second.process.kill("SIGTERM");
    await second.exited;
  }, 60_000);
});

describe("inbound activities across a crash", () => {
  it("applies every activity answered 202 before a SIGKILL after the restart", async () => {
    const created = await run(["account", "create", "--username", "alice"], `${PASSWORD}\n`);
    expect(created.code, created.output).toBe(0);
    const aliceUri = `http://127.0.0.1:${port}/users/alice`;
    const remote = await startActorServer(["hank"]);
    try {
      const hank = remote.actorUri("hank");
      // Notes given by reference: the worker must fetch each one, and those fetches hang until the crash.
      const noteUris = [1, 2, 3].map((n) => `${hank}/notes/${n}`);
      for (const [n, uri] of noteUris.entries()) {
        remote.notes.set(uri, {
          "@context": "https://www.w3.org/ns/activitystreams",
          id: uri,
          type: "Note",
          attributedTo: hank,
          content: `<p>note ${n + 1} for alice</p>`,
          to: ["https://www.w3.org/ns/activitystreams#Public"],
          cc: [aliceUri],
          tag: [{ type: "Mention", href: aliceUri, name: `@alice@127.0.0.1:${port}` }],
          published: new Date().toISOString(),
        });
      }
      remote.hangObjects = true;

      const first = await serve();
      for (const [n, uri] of noteUris.entries()) {
        const create = {
          "@context": "https://www.w3.org/ns/activitystreams",
          id: `${hank}/create/${n + 1}`,
          type: "Create",
          actor: hank,
          object: uri,
        };
        const res = await remote.post(`http://127.0.0.1:${port}/inbox`, "hank", create);
        expect(res.status, res.body).toBe(202);
      }
      await until(() => remote.objectRequests > 0, "the inbox worker to fetch the first note");
      const before = new Database(dbPath, { readonly: true });
      expect(inboundRows(before).map((r) => r.state)).toEqual(["running", "pending", "pending"]);
      before.close();
      first.process.kill("SIGKILL");
      await first.exited;

      remote.hangObjects = false;
      const second = await serve();
      const db = new Database(dbPath, { readonly: true });
      try {
        await inboxSettled(db, 15_000);
        expect(inboundRows(db).map((r) => r.state)).toEqual(["done", "done", "done"]);
        for (const uri of noteUris) {
          expect(db.prepare("SELECT deleted_at FROM statuses WHERE uri = ?").get(uri), uri).toEqual({
            deleted_at: null,
          });
        }
      } finally {
        db.close();
      }
      second.process.kill("SIGTERM");
      await second.exited;
    } finally {
      await remote.close();
    }
  }, 60_000);
});
