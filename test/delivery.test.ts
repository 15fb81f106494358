// The durable delivery queue against real HTTP receivers on 127.0.0.1: fan-out through shared inboxes with
// verified signatures, retries and backoff, 4xx/410/429 handling, per-host caps, parking and probing, and
// crash recovery of "running" jobs. Tests that need control over time stop the server's own worker and
// drive a DeliveryWorker with a fake clock through runOnce().
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Context } from "../src/context.js";
import { createStatus } from "../src/core/statuses.js";
import { retryDelayMs } from "../src/federation/delivery/backoff.js";
import { enqueueActivity } from "../src/federation/delivery/enqueue.js";
import {
  dayOf,
  markHostAlive,
  PARK_AFTER_FAILURE_DAYS,
  PROBE_INTERVAL_MS,
} from "../src/federation/delivery/hosts.js";
import { DeliveryWorker, requeueStuckJobs } from "../src/federation/delivery/worker.js";
import { verifyRequest } from "../src/federation/signatures/index.js";
import { purgeOldRows } from "../src/jobs/upkeep.js";
import { nextRun } from "../src/jobs/wall-clock.js";
import { findKeyPairs, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { transaction } from "../src/store/open.js";
import {
  accounts,
  deliveryJobs,
  follows,
  hosts,
  inboundActivities,
  outboundActivities,
} from "../src/store/schema.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

interface Received {
  method: string;
  path: string;
  headers: Headers;
  body: Buffer;
}

type Reply = { status: number; headers?: Record<string, string>; delayMs?: number } | "hang";

interface Receiver {
  port: number;
  host: string;
  origin: string;
  received: Received[];
  maxActive: number;
  /** TCP connections accepted, and those still open. */
  connections: number;
  open: () => number;
  reply: (req: Received, n: number) => Reply;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A peer server's inbox: records every request and answers as `reply` says. */
async function startReceiver(reply: Receiver["reply"] = () => ({ status: 202 })): Promise<Receiver> {
  const sockets = new Set<Socket>();
  let active = 0;
  const receiver = {
    received: [] as Received[],
    maxActive: 0,
    connections: 0,
    open: () => sockets.size,
    reply,
  } as Receiver;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const got: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers,
        body: Buffer.concat(chunks),
      };
      receiver.received.push(got);
      const answer = receiver.reply(got, receiver.received.length);
      if (answer === "hang") return;
      active++;
      receiver.maxActive = Math.max(receiver.maxActive, active);
      setTimeout(() => {
        active--;
        res.writeHead(answer.status, answer.headers).end();
      }, answer.delayMs ?? 0);
    });
  });
  server.on("connection", (socket) => {
    receiver.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.host = `127.0.0.1:${port}`;
  receiver.origin = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return receiver;
}

let server: TestServer;
let ctx: Context;
let localId: string;
const receivers: Receiver[] = [];
const workers: DeliveryWorker[] = [];
let clock: number;

beforeEach(async () => {
  server = await startTestServer({ account: "alice" });
  ctx = server.context;
  localId = findLocalUser(ctx.store.db)!.account.id;
  clock = Date.UTC(2026, 0, 10, 12, 0, 0);
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop(0);
  await server.close();
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(reply?: Receiver["reply"]): Promise<Receiver> {
  const r = await startReceiver(reply);
  receivers.push(r);
  return r;
}

/**
 * A worker under the test's control: the server's own one is stopped first, and so is its upkeep, whose
 * requeue task runs on the real clock and would take the fake clock's leases for abandoned ones.
 */
async function manualWorker(
  options: ConstructorParameters<typeof DeliveryWorker>[1] = {},
): Promise<DeliveryWorker> {
  await server.delivery.stop(0);
  server.upkeep.stop();
  const worker = new DeliveryWorker(ctx, {
    now: () => clock,
    retryDelay: (n) => retryDelayMs(n, () => 0),
    ...options,
  });
  workers.push(worker);
  return worker;
}

let followerSeq = 0;
/** A remote account following alice, with its inbox (and optionally shared inbox) on a receiver. */
function addFollower(r: Receiver, options: { shared?: boolean } = {}): string {
  const n = ++followerSeq;
  const id = newId();
  const uri = `${r.origin}/users/f${n}`;
  ctx.store.db
    .insert(accounts)
    .values({
      id,
      uri,
      username: `f${n}`,
      domain: r.host,
      inboxUrl: `${uri}/inbox`,
      sharedInboxUrl: options.shared === false ? null : `${r.origin}/inbox`,
      createdAt: Date.now(),
      updatedAt: Date.now(),
    })
    .run();
  ctx.store.db
    .insert(follows)
    .values({ id: newId(), followerId: id, followingId: localId, state: "accepted", createdAt: Date.now() })
    .run();
  return id;
}

let activitySeq = 0;
/** Queues an activity exactly as the core does (in a transaction, due at the fake clock). */
function enqueue(inboxes: string[], activity: object = note()): string {
  const id = transaction(ctx.store, () => enqueueActivity(ctx.store.db, activity, localId, inboxes, clock));
  return id!;
}

function note(): object {
  const n = ++activitySeq;
  return {
    "@context": "https://www.w3.org/ns/activitystreams",
    id: `${server.origin}/users/alice/statuses/${n}/activity`,
    type: "Create",
    actor: `${server.origin}/users/alice`,
    object: { id: `${server.origin}/users/alice/statuses/${n}`, type: "Note", content: `note ${n}` },
  };
}

function jobs() {
  return ctx.store.db.select().from(deliveryJobs).all();
}

function job(activityId: string) {
  return ctx.store.db.select().from(deliveryJobs).where(eq(deliveryJobs.activityId, activityId)).get()!;
}

function hostRow(host: string) {
  return ctx.store.db.select().from(hosts).where(eq(hosts.host, host)).get();
}

async function verifySignature(got: Received, url: string) {
  const local = findLocalUser(ctx.store.db)!.account;
  const publicPem = findKeyPairs(ctx.store.db, local.id).rsa!.publicKey;
  return verifyRequest(got.method, got.headers, {
    body: new Uint8Array(got.body),
    url,
    lookupKey: async (keyId) =>
      keyId === ctx.urls.mainKey(local.username)
        ? { keyId, ownerId: local.uri, type: "rsa", publicPem }
        : null,
  });
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

describe("fan-out", () => {
  it("delivers a post to 50 followers on 3 hosts with exactly 3 signed POSTs to the shared inboxes", async () => {
    const peers = [await receiver(), await receiver(), await receiver()];
    for (let i = 0; i < 50; i++) addFollower(peers[i % 3]!);

    const statusId = await createStatus(ctx, { text: "hello" });

    await until(() => peers.every((p) => p.received.length >= 1));
    await until(() => jobs().every((j) => j.state === "done"));
    await sleep(200);
    expect(peers.map((p) => p.received.length)).toEqual([1, 1, 1]);
    const bodies = new Set<string>();
    for (const peer of peers) {
      const got = peer.received[0]!;
      expect(got.method).toBe("POST");
      expect(got.path).toBe("/inbox");
      expect(got.headers.get("signature")).toBeTruthy();
      const verified = await verifySignature(got, `${peer.origin}/inbox`);
      expect(verified).toMatchObject({ ok: true, ownerId: `${server.origin}/users/alice` });
      const activity = JSON.parse(got.body.toString("utf8"));
      expect(activity.type).toBe("Create");
      expect(activity.object.id).toContain(statusId);
      bodies.add(got.body.toString("utf8"));
    }
    // One stored activity, one job per shared inbox, the same bytes everywhere.
    expect(bodies.size).toBe(1);
    const stored = ctx.store.db.select().from(outboundActivities).all();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.body).toBe([...bodies][0]);
    expect(jobs()).toHaveLength(3);
    for (const peer of peers) expect(hostRow(peer.host)?.lastSuccessAt).toBeTypeOf("number");
  });

  it("delivers one host's personal inboxes in a row, reusing its connections, and closes them after", async () => {
    const peers = [await receiver(), await receiver(), await receiver()];
    const inboxes: string[] = [];
    // Queued host after host in turn; the queue puts each host's jobs together.
    for (let i = 0; i < 30; i++) {
      const id = addFollower(peers[i % 3]!, { shared: false });
      inboxes.push(ctx.store.db.select().from(accounts).where(eq(accounts.id, id)).get()!.inboxUrl!);
    }
    const worker = await manualWorker({ concurrency: 4 });
    enqueue(inboxes);
    expect(await worker.runOnce()).toBe(30);
    expect(jobs().every((j) => j.state === "done")).toBe(true);
    for (const peer of peers) {
      expect(peer.received).toHaveLength(10);
      // Two at a time per host (delivery_per_host), each connection used for several POSTs.
      expect(peer.connections).toBeGreaterThanOrEqual(2);
      expect(peer.connections).toBeLessThanOrEqual(4);
      for (const got of peer.received)
        expect(await verifySignature(got, `${peer.origin}${got.path}`)).toMatchObject({ ok: true });
      // The host's last POST asked to close; nothing waits open for long.
      expect(peer.received.at(-1)!.headers.get("connection")).toBe("close");
    }
    await until(() => peers.every((p) => p.open() === 0), 5_000);
  });

  it("opens a connection per POST when each host gets one", async () => {
    const peers = [await receiver(), await receiver(), await receiver()];
    const worker = await manualWorker();
    enqueue(peers.map((p) => `${p.origin}/inbox`));
    expect(await worker.runOnce()).toBe(3);
    for (const peer of peers) {
      expect(peer.connections).toBe(1);
      expect(peer.received[0]!.headers.get("connection")).toBe("close");
    }
  });
});

describe("retries", () => {
  it("retries a 500 with growing delays and succeeds once the host answers 202", async () => {
    const peer = await receiver((_req, n) => ({ status: n <= 3 ? 500 : 202 }));
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);

    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await worker.runOnce()).toBe(1);
      const row = job(activityId);
      expect(row).toMatchObject({
        state: "queued",
        attempts: attempt,
        lastError: "HTTP 500",
        lockedAt: null,
      });
      delays.push(row.nextAttemptAt - clock);
      // Not due yet: nothing happens.
      clock = row.nextAttemptAt - 1;
      expect(await worker.runOnce()).toBe(0);
      clock = row.nextAttemptAt;
    }
    expect(delays).toEqual([16_000, 31_000, 96_000]);
    expect(hostRow(peer.host)?.failureDays).toEqual([dayOf(clock)]);

    expect(await worker.runOnce()).toBe(1);
    expect(job(activityId)).toMatchObject({ state: "done", attempts: 4, lastError: null });
    expect(peer.received).toHaveLength(4);
    expect(hostRow(peer.host)).toMatchObject({
      failureDays: [],
      lastSuccessAt: clock,
      unavailableSince: null,
    });
  });

  it("spreads the schedule over about two to three days and gives up after 16 attempts", async () => {
    const total = Array.from({ length: 15 }, (_, i) => retryDelayMs(i + 1, () => 0)).reduce(
      (a, b) => a + b,
      0,
    );
    expect(total / DAY).toBeGreaterThan(2);
    expect(total / DAY).toBeLessThan(3);
    // Jitter adds at most 10·(n + 1) seconds.
    expect(retryDelayMs(3, () => 0.999)).toBeLessThanOrEqual(retryDelayMs(3, () => 0) + 40_000);

    const peer = await receiver(() => ({ status: 503 }));
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    for (let attempt = 1; attempt <= 16; attempt++) {
      expect(await worker.runOnce()).toBe(1);
      clock = Math.max(clock, job(activityId).nextAttemptAt);
    }
    expect(job(activityId)).toMatchObject({ state: "failed", attempts: 16, lastError: "HTTP 503" });
    clock += 30 * DAY;
    expect(await worker.runOnce()).toBe(0);
    expect(peer.received).toHaveLength(16);
  });

  it("does not retry a 403", async () => {
    const peer = await receiver(() => ({ status: 403 }));
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    expect(await worker.runOnce()).toBe(1);
    expect(job(activityId)).toMatchObject({ state: "failed", attempts: 1, lastError: "HTTP 403" });
    clock += DAY;
    expect(await worker.runOnce()).toBe(0);
    expect(peer.received).toHaveLength(1);
    // A refusal still proves the host is up: no failure day.
    expect(hostRow(peer.host)?.failureDays ?? []).toEqual([]);
  });

  it("honours Retry-After on a 429 and does not count it against the host", async () => {
    const peer = await receiver((_req, n) =>
      n === 1 ? { status: 429, headers: { "Retry-After": "120" } } : { status: 202 },
    );
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    expect(await worker.runOnce()).toBe(1);
    const row = job(activityId);
    expect(row).toMatchObject({ state: "queued", attempts: 1, lastError: "HTTP 429" });
    expect(row.nextAttemptAt - clock).toBe(120_000);
    expect(hostRow(peer.host)?.failureDays ?? []).toEqual([]);
    clock += 119_000;
    expect(await worker.runOnce()).toBe(0);
    clock += 1_000;
    expect(await worker.runOnce()).toBe(1);
    expect(job(activityId).state).toBe("done");
  });

  it("retries a request that times out", async () => {
    const peer = await receiver(() => "hang");
    const worker = await manualWorker({ timeoutMs: 300 });
    const activityId = enqueue([`${peer.origin}/inbox`]);
    expect(await worker.runOnce()).toBe(1);
    const row = job(activityId);
    expect(row.state).toBe("queued");
    expect(row.attempts).toBe(1);
    expect(row.lastError).toMatch(/^timeout/);
    expect(hostRow(peer.host)?.lastFailureAt).toBe(clock);
  });

  it("drops the follower whose inbox answers 410 Gone", async () => {
    const peer = await receiver((req) => ({
      status:
        req.path.startsWith("/users/f") && req.path.endsWith("/inbox") && goneInbox === req.path ? 410 : 202,
    }));
    const goneId = addFollower(peer, { shared: false });
    const keptId = addFollower(peer, { shared: false });
    const goneAccount = ctx.store.db.select().from(accounts).where(eq(accounts.id, goneId)).get()!;
    const keptAccount = ctx.store.db.select().from(accounts).where(eq(accounts.id, keptId)).get()!;
    const goneInbox = new URL(goneAccount.inboxUrl!).pathname;
    const worker = await manualWorker();
    const activityId = enqueue([goneAccount.inboxUrl!, keptAccount.inboxUrl!]);

    expect(await worker.runOnce()).toBe(2);
    const byInbox = new Map(
      jobs()
        .filter((j) => j.activityId === activityId)
        .map((j) => [j.inboxUrl, j]),
    );
    expect(byInbox.get(goneAccount.inboxUrl!)).toMatchObject({ state: "failed", lastError: "HTTP 410" });
    expect(byInbox.get(keptAccount.inboxUrl!)).toMatchObject({ state: "done" });
    const remaining = ctx.store.db.select().from(follows).where(eq(follows.followingId, localId)).all();
    expect(remaining.map((f) => f.followerId)).toEqual([keptId]);
    expect(ctx.store.db.select().from(accounts).where(eq(accounts.id, goneId)).get()?.goneAt).toBe(clock);
    expect(ctx.store.db.select().from(accounts).where(eq(accounts.id, keptId)).get()?.goneAt).toBeNull();
  });
});

describe("concurrency", () => {
  it("keeps at most delivery_per_host requests in flight per host, and the global cap overall", async () => {
    let active = 0;
    let maxActive = 0;
    const slow = () => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => active--, 100);
      return { status: 202, delayMs: 100 };
    };
    const peers = [await receiver(slow), await receiver(slow), await receiver(slow)];
    const inboxes: string[] = [];
    for (const peer of peers) {
      for (let i = 0; i < 8; i++) {
        const id = addFollower(peer, { shared: false });
        inboxes.push(ctx.store.db.select().from(accounts).where(eq(accounts.id, id)).get()!.inboxUrl!);
      }
    }
    expect(ctx.config.federation.delivery_per_host).toBe(2);
    const worker = await manualWorker({ concurrency: 5 });
    enqueue(inboxes);
    expect(await worker.runOnce()).toBe(24);
    for (const peer of peers) {
      expect(peer.received).toHaveLength(8);
      expect(peer.maxActive).toBe(2);
    }
    expect(maxActive).toBeLessThanOrEqual(5);
    expect(maxActive).toBeGreaterThan(2);
    expect(jobs().every((j) => j.state === "done")).toBe(true);
  });
});

describe("parking", () => {
  it("parks a host failing on 7 distinct days, probes it hourly with one job and revives it on success", async () => {
    let answer = 500;
    const peer = await receiver(() => ({ status: answer }));
    const pastDays = Array.from({ length: PARK_AFTER_FAILURE_DAYS - 1 }, (_, i) =>
      dayOf(clock - (i + 1) * DAY),
    ).sort();
    ctx.store.db
      .insert(hosts)
      .values({ host: peer.host, failureDays: pastDays, lastFailureAt: clock - DAY })
      .run();
    const worker = await manualWorker();
    const inbox = `${peer.origin}/inbox`;

    // The 7th failing day parks it.
    const first = enqueue([inbox]);
    expect(await worker.runOnce()).toBe(1);
    expect(hostRow(peer.host)).toMatchObject({ unavailableSince: clock, lastFailureAt: clock });
    expect(hostRow(peer.host)?.failureDays).toHaveLength(PARK_AFTER_FAILURE_DAYS);
    const parkedAt = clock;

    // New jobs for it are not tried one by one.
    const others = [enqueue([inbox]), enqueue([inbox]), enqueue([inbox])];
    clock += 10 * 60 * 1000;
    expect(await worker.runOnce()).toBe(0);
    for (const id of [first, ...others])
      expect(job(id).nextAttemptAt).toBeGreaterThanOrEqual(parkedAt + PROBE_INTERVAL_MS);
    expect(peer.received).toHaveLength(1);

    // An hour later: exactly one probe; it fails, the host stays parked.
    clock = parkedAt + PROBE_INTERVAL_MS;
    expect(await worker.runOnce()).toBe(1);
    expect(peer.received).toHaveLength(2);
    expect(hostRow(peer.host)?.unavailableSince).toBe(parkedAt);
    clock += 30 * 60 * 1000;
    expect(await worker.runOnce()).toBe(0);

    // Next hour the probe succeeds: the host is back and all its jobs go out.
    answer = 202;
    clock = parkedAt + 2 * PROBE_INTERVAL_MS + 1;
    expect(await worker.runOnce()).toBe(4);
    expect(peer.received).toHaveLength(6);
    expect(hostRow(peer.host)).toMatchObject({
      unavailableSince: null,
      failureDays: [],
      lastSuccessAt: clock,
    });
    for (const id of [first, ...others]) expect(job(id).state).toBe("done");
  });

  it("revives a parked host that delivers to us (markHostAlive)", async () => {
    const peer = await receiver();
    ctx.store.db
      .insert(hosts)
      .values({ host: peer.host, failureDays: ["2026-01-01"], lastFailureAt: clock, unavailableSince: clock })
      .run();
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    clock += 60_000;
    expect(await worker.runOnce()).toBe(0);
    expect(job(activityId).nextAttemptAt).toBeGreaterThan(clock);

    let woken = 0;
    ctx.events.on("delivery.queued", () => woken++);
    markHostAlive(ctx, peer.host, clock);
    expect(woken).toBe(1);
    expect(hostRow(peer.host)).toMatchObject({ unavailableSince: null, failureDays: [] });
    expect(await worker.runOnce()).toBe(1);
    expect(job(activityId).state).toBe("done");
    // A healthy host: nothing written, nothing woken.
    markHostAlive(ctx, peer.host, clock);
    markHostAlive(ctx, "unknown.example", clock);
    expect(woken).toBe(1);
  });

  it("gives up the jobs of a host parked for days", async () => {
    const peer = await receiver();
    const worker = await manualWorker();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    clock += 4 * DAY;
    ctx.store.db
      .insert(hosts)
      .values({
        host: peer.host,
        failureDays: [],
        lastFailureAt: clock - 60_000,
        unavailableSince: clock - DAY,
      })
      .run();
    expect(await worker.runOnce()).toBe(0);
    expect(job(activityId)).toMatchObject({ state: "failed", lastError: "host unavailable" });
    expect(peer.received).toHaveLength(0);
  });
});

describe("durability", () => {
  it("requeues jobs left running by a crash, and the started worker delivers them", async () => {
    const peer = await receiver();
    await server.delivery.stop(0);
    const activityId = enqueue([`${peer.origin}/inbox`]);
    const now = Date.now();
    ctx.store.db
      .update(deliveryJobs)
      .set({ state: "running", lockedAt: now - 60_000, nextAttemptAt: now - 60_000 })
      .where(eq(deliveryJobs.activityId, activityId))
      .run();
    // The upkeep only takes jobs locked for more than 5 minutes.
    expect(requeueStuckJobs(ctx, undefined, now)).toBe(0);
    expect(requeueStuckJobs(ctx, undefined, now + 5 * 60_000)).toBe(1);
    ctx.store.db
      .update(deliveryJobs)
      .set({ state: "running" })
      .where(eq(deliveryJobs.activityId, activityId))
      .run();

    // A fresh worker owns the database: every running job is requeued at start.
    const worker = new DeliveryWorker(ctx);
    workers.push(worker);
    worker.start();
    await until(() => job(activityId).state === "done");
    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]!.body.toString("utf8")).toBe(
      ctx.store.db.select().from(outboundActivities).where(eq(outboundActivities.id, activityId)).get()!.body,
    );
  });

  it("wakes on delivery.queued and on its timer for a job due later", async () => {
    const peer = await receiver();
    await server.delivery.stop(0);
    const worker = new DeliveryWorker(ctx);
    workers.push(worker);
    worker.start();
    clock = Date.now();
    const now = enqueue([`${peer.origin}/inbox`]);
    ctx.events.emit("delivery.queued");
    await until(() => job(now).state === "done");
    // Due in 700 ms: the event finds nothing due and arms the timer for it, which picks it up.
    clock = Date.now() + 700;
    const later = enqueue([`${peer.origin}/inbox`]);
    ctx.events.emit("delivery.queued");
    await sleep(300);
    expect(job(later).state).toBe("queued");
    await until(() => job(later).state === "done", 5_000);
    expect(peer.received).toHaveLength(2);
  });

  it("stops taking jobs on stop() and leaves deliveries still in flight after the grace period for the next start", async () => {
    const peer = await receiver(() => "hang");
    await server.delivery.stop(0);
    const worker = new DeliveryWorker(ctx, { timeoutMs: 10_000 });
    workers.push(worker);
    worker.start();
    clock = Date.now();
    const activityId = enqueue([`${peer.origin}/inbox`]);
    ctx.events.emit("delivery.queued");
    await until(() => peer.received.length === 1);
    const started = Date.now();
    await worker.stop(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(job(activityId).state).toBe("running");
    expect(worker.inFlight).toBe(1);
  });
});

describe("upkeep", () => {
  it("schedules the requeue every minute and the purges hourly, and unschedules them on stop", async () => {
    expect(server.upkeep.scheduled()).toEqual([
      { name: "requeue", at: {} },
      { name: "polls", at: {} },
      { name: "purge", at: { minute: 17 } },
      { name: "purge-media", at: { minute: 43 } },
      { name: "scheduled", at: {} },
      { name: "prune", at: { hour: 4, minute: 27 } },
    ]);
    await server.close();
    expect(server.upkeep.scheduled()).toEqual([]);
  });

  it("finds the next run of a wall-clock time: the next whole minute that matches, in local time", () => {
    const at = (h: number, m: number, s = 0) => new Date(2026, 11, 1, h, m, s).getTime();
    expect(nextRun({}, at(10, 5, 30))).toBe(at(10, 6));
    expect(nextRun({}, at(10, 5))).toBe(at(10, 6));
    expect(nextRun({ minute: 17 }, at(10, 5))).toBe(at(10, 17));
    expect(nextRun({ minute: 17 }, at(10, 17))).toBe(at(11, 17));
    expect(nextRun({ hour: 4, minute: 27 }, at(10, 5))).toBe(new Date(2026, 11, 2, 4, 27).getTime());
    expect(nextRun({ hour: 4, minute: 27 }, at(4, 26, 59))).toBe(at(4, 27));
  });

  it("purges old done and failed jobs, finished activities and old inbound activities", async () => {
    await server.delivery.stop(0);
    const now = Date.now();
    const peer = "http://127.0.0.1:9/inbox";
    const doneOld = enqueue([peer]);
    const doneRecent = enqueue([peer]);
    const failedOld = enqueue([peer]);
    const queued = enqueue([peer]);
    const set = (id: string, values: Partial<typeof deliveryJobs.$inferInsert>) =>
      ctx.store.db.update(deliveryJobs).set(values).where(eq(deliveryJobs.activityId, id)).run();
    set(doneOld, { state: "done", finishedAt: now - 2 * DAY });
    set(doneRecent, { state: "done", finishedAt: now - HOUR });
    set(failedOld, { state: "failed", finishedAt: now - 8 * DAY });
    await server.inbox.stop(0);
    const inbound = (key: string, state: "pending" | "done" | "failed", finishedAt: number | null) => ({
      dedupeKey: key,
      actorUri: "https://a.example/actor",
      state,
      receivedAt: now - 9 * DAY,
      nextAttemptAt: now - 9 * DAY,
      finishedAt,
    });
    ctx.store.db
      .insert(inboundActivities)
      .values([
        inbound("https://a.example/1", "done", now - 8 * DAY),
        inbound("https://a.example/2", "done", now - DAY),
        inbound("https://a.example/3", "failed", now - 8 * DAY),
        inbound("https://a.example/4", "pending", null),
      ])
      .run();

    expect(purgeOldRows(ctx, now)).toEqual({ doneJobs: 1, failedJobs: 1, activities: 2, inbound: 2 });
    const left = ctx.store.db
      .select({ id: outboundActivities.id })
      .from(outboundActivities)
      .all()
      .map((r) => r.id);
    expect(left.sort()).toEqual([doneRecent, queued].sort());
    expect(
      ctx.store.db
        .select()
        .from(deliveryJobs)
        .where(and(eq(deliveryJobs.activityId, queued), eq(deliveryJobs.state, "queued")))
        .all(),
    ).toHaveLength(1);
    expect(
      ctx.store.db
        .select()
        .from(inboundActivities)
        .all()
        .map((r) => r.dedupeKey),
    ).toEqual(["https://a.example/2", "https://a.example/4"]);
  });
});
