/**
 * The inbound queue in the store (`inbound_activities`): what the inbox request writes and the inbox worker
 * reads. A verified activity is recorded once, keyed by a digest of its id or, when it has none, of its
 * body; recording a key already there (waiting, applied or failed in the last 7 days) changes nothing.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import { type Store, transaction } from "../../store/open.js";
import { inboundActivities, inboundBodies } from "../../store/schema.js";

/** Applied and failed rows are kept this long, so a late re-delivery is still a duplicate. */
export const INBOUND_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The de-duplication key: the first 128 bits of the SHA-256 of the activity's id (or of its body, when it has
 * none), as 22 characters. It is kept a week for every activity received, in the row and in its unique index,
 * where an id's URL would take three times the room.
 */
export function dedupeKey(id: string | null, body: Uint8Array): string {
  const hash = createHash("sha256");
  if (id === null) hash.update(body);
  else hash.update(`id ${id}`);
  return hash.digest("base64url").slice(0, 22);
}

/** How long a counted backlog is trusted (plus what was recorded since): counting costs O(backlog). */
const BACKLOG_RECOUNT_MS = 250;

const prepared = new WeakMap<Store, ReturnType<typeof prepareQueries>>();
const backlogs = new WeakMap<Store, { count: number; at: number }>();
const signals = new WeakMap<Store, EventEmitter<{ recorded: [] }>>();
/** Activities recorded per 100 ms slot, this slot and the one before. */
const rates = new WeakMap<Store, { slot: number; count: number; previous: number }>();
const RATE_SLOT_MS = 100;

function countArrival(store: Store, now: number): void {
  const slot = Math.floor(now / RATE_SLOT_MS);
  const rate = rates.get(store);
  if (!rate) rates.set(store, { slot, count: 1, previous: 0 });
  else if (rate.slot === slot) rate.count++;
  else {
    rate.previous = rate.slot === slot - 1 ? rate.count : 0;
    rate.slot = slot;
    rate.count = 1;
  }
}

/** About how many activities the inbox took in the last 100 to 200 ms: the worker yields while it is high. */
export function recentArrivals(store: Store, now = Date.now()): number {
  const rate = rates.get(store);
  if (!rate) return 0;
  const slot = Math.floor(now / RATE_SLOT_MS);
  if (rate.slot === slot) return rate.count + rate.previous;
  return rate.slot === slot - 1 ? rate.count : 0;
}

function queries(store: Store) {
  let q = prepared.get(store);
  if (!q) {
    q = prepareQueries(store);
    prepared.set(store, q);
  }
  return q;
}

function prepareQueries(store: Store) {
  const p = sql.placeholder;
  return {
    insert: store.db
      .insert(inboundActivities)
      .values({
        dedupeKey: p("key"),
        actorUri: p("actor"),
        receivedAt: p("now"),
        nextAttemptAt: p("now"),
      })
      .onConflictDoNothing({ target: inboundActivities.dedupeKey })
      .prepare(),
    insertBody: store.db
      .insert(inboundBodies)
      .values({ activityId: p("id"), body: p("body") })
      .prepare(),
    // Counting stops at the bound: past it the exact number does not matter.
    backlog: store.sqlite.prepare<[number], { n: number }>(
      "SELECT count(*) AS n FROM (SELECT 1 FROM inbound_activities WHERE state IN ('pending', 'running') LIMIT ?)",
    ),
  };
}

/**
 * Activities recorded and not yet applied or failed, counted up to `limit`. Under a burst the count is
 * reused for a moment (with the activities recorded since added), so the bound is soft by a few requests.
 */
export function inboundBacklog(store: Store, limit: number, now = Date.now()): number {
  const cached = backlogs.get(store);
  if (cached && now - cached.at < BACKLOG_RECOUNT_MS) return cached.count;
  const count = queries(store).backlog.get(limit)?.n ?? 0;
  backlogs.set(store, { count, at: now });
  return count;
}

interface PendingRecord {
  activity: { key: string; actorUri: string; body: string };
  now: number;
  resolve: (recorded: boolean) => void;
  reject: (error: unknown) => void;
}

const batches = new WeakMap<Context, PendingRecord[]>();

/**
 * Records a verified activity for the worker and wakes it; resolves once it is committed, with false when its
 * key was already recorded (a duplicate: nothing is written). The requests of one turn of the event loop
 * are committed together in one transaction (a group commit): under a burst that halves the cost of
 * recording, and each request still answers only after its activity is on disk.
 */
export function recordInbound(
  ctx: Context,
  activity: { key: string; actorUri: string; body: string },
  now = Date.now(),
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let batch = batches.get(ctx);
    if (!batch) {
      batch = [];
      batches.set(ctx, batch);
      setImmediate(() => commitBatch(ctx));
    }
    batch.push({ activity, now, resolve, reject });
  });
}

function commitBatch(ctx: Context): void {
  const batch = batches.get(ctx) ?? [];
  batches.delete(ctx);
  let results: boolean[];
  try {
    const { insert, insertBody } = queries(ctx.store);
    results = transaction(ctx.store, () =>
      batch.map(({ activity, now }) => {
        countArrival(ctx.store, now);
        const recorded = insert.run({ key: activity.key, actor: activity.actorUri, now });
        if (recorded.changes === 0) return false;
        insertBody.run({ id: Number(recorded.lastInsertRowid), body: activity.body });
        return true;
      }),
    );
  } catch (error) {
    for (const pending of batch) pending.reject(error);
    return;
  }
  const added = results.filter(Boolean).length;
  const cached = backlogs.get(ctx.store);
  if (cached) cached.count += added;
  batch.forEach((pending, i) => {
    pending.resolve(results[i] as boolean);
  });
  if (added > 0) signals.get(ctx.store)?.emit("recorded");
}

/** Calls `listener` whenever an activity is recorded in this store; returns the function that stops it. */
export function onInboundRecorded(store: Store, listener: () => void): () => void {
  let signal = signals.get(store);
  if (!signal) {
    signal = new EventEmitter();
    signals.set(store, signal);
  }
  signal.on("recorded", listener);
  const emitter = signal;
  return () => emitter.off("recorded", listener);
}
