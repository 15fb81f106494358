/**
 * The inbox worker: applies the activities the inbox recorded in `inbound_activities` (queue.ts), in order
 * of arrival, by running `dispatch` (resolve the actor, fetch what is missing, call core).
 *
 * - Bounded: at most `federation.inbox_concurrency` activities at once, and never two of the same actor, so
 *   one actor's Create, Update and Delete of a note apply in the order they arrived. An actor whose activity
 *   waits for a retry holds its later ones back too (for a few minutes at most).
 * - Every row ends "done" or "failed": a network failure (ResolveError "network") is retried with backoff
 *   up to MAX_ATTEMPTS, anything else fails the row at once with its message.
 * - Durable: the request committed the row before answering 202; start-up puts rows a previous run left
 *   "running" back to "pending" and works through every pending row.
 * - Memory holds the ids and actors of a bounded window of pending rows (MAX_LOADED), never their bodies
 *   except for those in flight.
 */
import { sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { type Store, transaction } from "../../store/open.js";
import { inboundActivities, inboundBodies } from "../../store/schema.js";
import { ResolveError } from "../resolve.js";
import { settledWithin } from "../settle.js";
import { ParseError } from "../vocab/parse.js";
import { dispatch } from "./handlers.js";
import { onInboundRecorded, recentArrivals } from "./queue.js";
import { parseActivity } from "./receive.js";

/** Attempts of an activity whose references could not be fetched (network), the first one included. */
export const MAX_ATTEMPTS = 4;

/** Wait after `attempts` failed attempts: 10 s, 1 min, 6 min. */
export function inboundRetryDelayMs(attempts: number): number {
  return 10_000 * 6 ** (attempts - 1);
}

/**
 * During a burst (more than BURST_ARRIVALS activities in the last 100 to 200 ms, that is some 200 a second)
 * the worker applies one activity at a time and pauses YIELD_MS between them: answering the requests comes
 * first, and the backlog is applied at full speed once the burst is over. A steady flow below that is
 * applied as it comes. A flood that lasts fills the backlog up to its bound, and then the inbox answers 503
 * (senders retry later), which ends the burst for the worker.
 */
const BURST_ARRIVALS = 30;
const YIELD_MS = 50;

/** Pending rows read per look at the table. */
const BATCH = 128;
/** Most pending rows held (as id and actor) while looking for one whose actor is not busy. */
const MAX_LOADED = 4096;

export interface InboxWorkerOptions {
  /** Activities applied at once; default `federation.inbox_concurrency`. */
  concurrency?: number;
  /** Wait after `attempts` failed attempts, in ms. */
  retryDelay?: (attempts: number) => number;
  now?: () => number;
}

export class InboxWorker {
  readonly #ctx: Context;
  readonly #concurrency: number;
  readonly #retryDelay: (attempts: number) => number;
  readonly #now: () => number;
  readonly #q: ReturnType<typeof prepareQueries>;

  /** Loaded pending row ids per actor, oldest first; Map order is the order actors were first seen. */
  readonly #lanes = new Map<string, number[]>();
  #loaded = 0;
  /** The highest id loaded: newer pending rows are read after it. */
  #cursor = 0;
  /** Actors with an activity in flight or waiting for its retry. */
  readonly #busy = new Set<string>();
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #retries = new Map<number, NodeJS.Timeout>();

  #started = false;
  #stopping = false;
  #closed = false;
  #pumpScheduled = false;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(ctx: Context, options: InboxWorkerOptions = {}) {
    this.#ctx = ctx;
    this.#concurrency = options.concurrency ?? ctx.config.federation.inbox_concurrency;
    this.#retryDelay = options.retryDelay ?? inboundRetryDelayMs;
    this.#now = options.now ?? Date.now;
    this.#q = prepareQueries(ctx.store);
  }

  /** Activities being applied right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Puts rows left "running" by the last run back in the queue, then applies every pending row. */
  start(): void {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    const requeued = this.#q.requeue.run().changes;
    if (requeued > 0)
      this.#ctx.log.info(
        { activities: requeued },
        "inbound activities interrupted by the last shutdown requeued",
      );
    this.#unsubscribe = onInboundRecorded(this.#ctx.store, () => this.#schedulePump());
    this.#schedulePump();
  }

  /**
   * Stops taking rows and waits up to `graceMs` for those in flight. Rows still running after that, and
   * rows waiting for a retry, are taken up again at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#unsubscribe?.();
      if (this.#timer) clearTimeout(this.#timer);
      for (const timer of this.#retries.values()) clearTimeout(timer);
      this.#retries.clear();
    }
    if (this.#inFlight.size === 0) return;
    const settled = await settledWithin(this.#inFlight.values(), graceMs);
    if (!settled && this.#inFlight.size > 0) {
      this.#closed = true;
      this.#ctx.log.warn(
        { activities: this.#inFlight.size },
        "inbound activities still being applied at shutdown: they will be retried at the next start",
      );
    }
  }

  #schedulePump(): void {
    if (!this.#started || this.#stopping || this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    const pump = () => {
      this.#pumpScheduled = false;
      if (this.#stopping) return;
      try {
        this.#fill();
      } catch (error) {
        this.#ctx.log.error({ err: error }, "inbox worker could not read the queue");
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#schedulePump();
        }, 5_000);
        this.#timer.unref();
      }
    };
    if (this.#inboxBusy()) setTimeout(pump, YIELD_MS);
    else setImmediate(pump);
  }

  #inboxBusy(): boolean {
    return recentArrivals(this.#ctx.store, this.#now()) > BURST_ARRIVALS;
  }

  /**
   * Starts one row, and looks again on the next turn of the event loop while slots are free: applying a row
   * is mostly synchronous work, so starting them one per turn lets the inbox requests waiting on the socket
   * be answered in between (the 202s stay fast during a burst).
   */
  #fill(): void {
    const slots = this.#inboxBusy() ? 1 : this.#concurrency;
    while (this.#inFlight.size < slots && !this.#stopping) {
      const next = this.#takeRunnable();
      if (next) {
        this.#start(next.id, next.actorUri);
        if (this.#inFlight.size < slots) this.#schedulePump();
        return;
      }
      if (!this.#load()) return;
    }
  }

  /** The oldest loaded row of the first actor not busy, removed from its lane. */
  #takeRunnable(): { id: number; actorUri: string } | null {
    for (const [actorUri, ids] of this.#lanes) {
      if (this.#busy.has(actorUri)) continue;
      const id = ids.shift() as number;
      if (ids.length === 0) this.#lanes.delete(actorUri);
      this.#loaded--;
      return { id, actorUri };
    }
    return null;
  }

  /** Reads the next pending rows after the cursor; false when there are none or the window is full. */
  #load(): boolean {
    if (this.#loaded >= MAX_LOADED) return false;
    const rows = this.#q.pending.all({
      after: this.#cursor,
      limit: Math.min(BATCH, MAX_LOADED - this.#loaded),
    });
    for (const row of rows) {
      const lane = this.#lanes.get(row.actorUri);
      if (lane) lane.push(row.id);
      else this.#lanes.set(row.actorUri, [row.id]);
      this.#loaded++;
      this.#cursor = row.id;
    }
    return rows.length > 0;
  }

  #start(id: number, actorUri: string): void {
    this.#busy.add(actorUri);
    const promise = this.#run(id, actorUri).finally(() => {
      this.#inFlight.delete(id);
      this.#schedulePump();
    });
    this.#inFlight.set(id, promise);
  }

  async #run(id: number, actorUri: string): Promise<void> {
    const log = this.#ctx.log;
    let retrying = false;
    try {
      const row = this.#q.claim.get({ id });
      if (!row) return;
      const attempts = row.attempts + 1;
      const error = await this.#apply(this.#q.body.get({ id })?.body ?? null);
      if (this.#closed) return;
      const now = this.#now();
      if (error === null) {
        transaction(this.#ctx.store, () => {
          this.#q.done.run({ id, attempts, now });
          this.#q.dropBody.run({ id });
        });
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const known =
        error instanceof UserError || error instanceof ParseError || error instanceof ResolveError;
      if (error instanceof ResolveError && error.code === "network" && attempts < MAX_ATTEMPTS) {
        const delay = this.#retryDelay(attempts);
        this.#q.retry.run({ id, attempts, next: now + delay, lastError: message });
        log.info(
          {
            id,
            actor: actorUri,
            attempt: attempts,
            error: message,
            retryInSeconds: Math.round(delay / 1000),
          },
          "inbound activity not applied: will retry",
        );
        this.#retryLater(id, actorUri, delay);
        retrying = true;
        return;
      }
      this.#q.failed.run({ id, attempts, now, lastError: message });
      if (known) log.info({ id, actor: actorUri, error: message }, "inbound activity not applied");
      else log.error({ err: error, id, actor: actorUri }, "inbound activity failed unexpectedly");
    } catch (error) {
      // The store itself failed: the row stays as it is and is taken up again at the next start.
      if (!this.#closed) log.error({ err: error, id }, "could not record an inbound activity's outcome");
    } finally {
      if (!retrying) this.#busy.delete(actorUri);
    }
  }

  /** Runs dispatch on a stored body; returns what it threw, or null. */
  async #apply(body: string | null): Promise<unknown> {
    const parsed = parseActivity(body ?? "");
    if (!parsed.ok) return new ParseError(parsed.error);
    try {
      await dispatch(this.#ctx, parsed.activity);
      return null;
    } catch (error) {
      return error;
    }
  }

  /** After `delay`, the row goes back to the front of its actor's lane, which stays held until then. */
  #retryLater(id: number, actorUri: string, delay: number): void {
    const timer = setTimeout(() => {
      this.#retries.delete(id);
      const lane = this.#lanes.get(actorUri);
      if (lane) lane.unshift(id);
      else this.#lanes.set(actorUri, [id]);
      this.#loaded++;
      this.#busy.delete(actorUri);
      this.#schedulePump();
    }, delay);
    timer.unref();
    this.#retries.set(id, timer);
  }
}

function prepareQueries(store: Store) {
  const p = sql.placeholder;
  const value = (name: string) => sql`${p(name)}`;
  const t = inboundActivities;
  return {
    requeue: store.db.update(t).set({ state: "pending" }).where(sql`${t.state} = 'running'`).prepare(),
    pending: store.db
      .select({ id: t.id, actorUri: t.actorUri })
      .from(t)
      .where(sql`${t.state} = 'pending' AND ${t.id} > ${p("after")}`)
      .orderBy(t.id)
      .limit(p("limit"))
      .prepare(),
    claim: store.db
      .update(t)
      .set({ state: "running" })
      .where(sql`${t.id} = ${p("id")} AND ${t.state} = 'pending'`)
      .returning({ attempts: t.attempts })
      .prepare(),
    body: store.db
      .select({ body: inboundBodies.body })
      .from(inboundBodies)
      .where(sql`${inboundBodies.activityId} = ${p("id")}`)
      .prepare(),
    dropBody: store.db
      .delete(inboundBodies)
      .where(sql`${inboundBodies.activityId} = ${p("id")}`)
      .prepare(),
    done: store.db
      .update(t)
      .set({
        state: "done",
        attempts: value("attempts"),
        finishedAt: value("now"),
        lastError: null,
      })
      .where(sql`${t.id} = ${p("id")}`)
      .prepare(),
    failed: store.db
      .update(t)
      .set({
        state: "failed",
        attempts: value("attempts"),
        finishedAt: value("now"),
        lastError: value("lastError"),
      })
      .where(sql`${t.id} = ${p("id")}`)
      .prepare(),
    retry: store.db
      .update(t)
      .set({
        state: "pending",
        attempts: value("attempts"),
        nextAttemptAt: value("next"),
        lastError: value("lastError"),
      })
      .where(sql`${t.id} = ${p("id")}`)
      .prepare(),
  };
}
