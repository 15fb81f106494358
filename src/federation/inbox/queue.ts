/**
 * The inbound queue in the store (`inbound_activities`): what the inbox request writes and the inbox worker
 * reads. A verified activity is recorded once, keyed by its id or, when it has none, by the SHA-256 of its
 * body; recording a key already there (waiting, applied or failed in the last 7 days) changes nothing.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import type { Store } from "../../store/open.js";
import { inboundActivities } from "../../store/schema.js";

/** Applied and failed rows are kept this long, so a late re-delivery is still a duplicate. */
export const INBOUND_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export function dedupeKey(id: string | null, body: Uint8Array): string {
  return id ?? `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

/** How long a counted backlog is trusted (plus what was recorded since): counting costs O(backlog). */
const BACKLOG_RECOUNT_MS = 250;

const prepared = new WeakMap<Store, ReturnType<typeof prepareQueries>>();
const backlogs = new WeakMap<Store, { count: number; at: number }>();
const signals = new WeakMap<Store, EventEmitter<{ recorded: [] }>>();

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
        body: p("body"),
        receivedAt: p("now"),
        nextAttemptAt: p("now"),
      })
      .onConflictDoNothing({ target: inboundActivities.dedupeKey })
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

/**
 * Records a verified activity for the worker and wakes it. Returns false when its key was already recorded
 * (a duplicate: nothing is written).
 */
export function recordInbound(
  ctx: Context,
  activity: { key: string; actorUri: string; body: string },
  now = Date.now(),
): boolean {
  const result = queries(ctx.store).insert.run({
    key: activity.key,
    actor: activity.actorUri,
    body: activity.body,
    now,
  });
  if (result.changes === 0) return false;
  const cached = backlogs.get(ctx.store);
  if (cached) cached.count++;
  signals.get(ctx.store)?.emit("recorded");
  return true;
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
