/**
 * The delivery worker: takes due jobs from `delivery_jobs` (written by enqueue.ts in the transaction of the
 * change that caused them), signs and POSTs each activity to its inbox, and records the outcome.
 *
 * - At least once: a job is marked "running" while in flight and "done" only after a 2xx. A crash leaves it
 *   "running"; start-up (and the upkeep every minute, for jobs locked long ago) puts it back in the queue.
 * - Memory holds only the jobs in flight: due jobs are read in small batches ordered by next_attempt_at
 *   (index delivery_jobs_due), an activity's JSON is read once per batch of its jobs in flight.
 * - Concurrency: at most `delivery_concurrency` requests overall and `delivery_per_host` per host. A POST
 *   asks to keep its connection open only when more jobs for its host wait (Job.moreForHost).
 * - Failures: 5xx, 401, 408, 429 and network errors are retried with exponential backoff and jitter (see
 *   backoff.ts; a 429's Retry-After wins), up to 16 attempts. Other 4xx and 501 end the job; 410 Gone also
 *   drops the followers whose inbox it is. Hosts that keep failing are parked and probed (see hosts.ts).
 * - Web Push messages share the queue: their jobs (signer "vapid") are sent by src/push/send.ts; so do
 *   remote media fetches (signer "media-cache"), run by src/media/cache.ts.
 * - Wake-ups: on "delivery.queued", when a delivery finishes, and on a timer set to the next due job
 *   (at most 30 s away, unref'd so it never keeps the process alive).
 * - One write transaction per turn of the event loop: the outcomes of the deliveries that finished since the
 *   last turn and the claims of the jobs started next are committed together (#turn). A commit costs more than
 *   the updates in it, and a fan-out finishes many deliveries per turn. A delivery counts as settled once its
 *   outcome is committed.
 */
import { and, eq, inArray, isNotNull, lt, lte, min, sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import { fetchRemoteMedia, MEDIA_CACHE_SIGNER } from "../../media/cache.js";
import { sendPush } from "../../push/send.js";
import { VAPID_SIGNER } from "../../push/subscriber.js";
import { type Db, transaction } from "../../store/open.js";
import { accounts, deliveryJobs, follows, hosts, outboundActivities } from "../../store/schema.js";
import { BACKFILL_SIGNER, runBackfill } from "../backfill.js";
import { FetchError, type FetchErrorCode } from "../fetch.js";
import { settledWithin } from "../settle.js";
import { isPermanentStatus, MAX_ATTEMPTS, parseRetryAfter, retryDelayMs } from "./backoff.js";
import { nextProbeAt, PROBE_INTERVAL_MS, recordHostFailure, recordHostSuccess } from "./hosts.js";

/** A job still "running" after this long was abandoned by a crash or a hang: it goes back to the queue. */
export const STUCK_AFTER_MS = 5 * 60 * 1000;

/** Jobs of a parked host older than this are given up (about the span of the whole retry schedule). */
export const PARKED_JOB_MAX_AGE_MS = 3 * 24 * 60 * 60 * 1000;

/** Longest sleep between two looks at the queue. */
const MAX_WAKE_MS = 30_000;

/** Request timeout for one delivery (connection, request and response). */
const DELIVERY_TIMEOUT_MS = 15_000;

/** Errors that no retry can fix: the URL itself is unusable or not allowed. */
const PERMANENT_FETCH_ERRORS = new Set<FetchErrorCode>([
  "bad_url",
  "bad_scheme",
  "private_address",
  "too_many_redirects",
]);

export interface DeliveryWorkerOptions {
  /** Requests in flight overall; default `federation.delivery_concurrency`. */
  concurrency?: number;
  /** Requests in flight per host; default `federation.delivery_per_host`. */
  perHost?: number;
  /** The clock (milliseconds); tests pass a fake one. */
  now?: () => number;
  /** Wait after `attempts` failed attempts, in ms; default `retryDelayMs` (attempts^4 + 15 s + jitter). */
  retryDelay?: (attempts: number) => number;
  /** Timeout of one POST; default 15 s. */
  timeoutMs?: number;
  /** Rows read per look at the queue; default max(50, 4 × concurrency). */
  batchSize?: number;
  /** How often a parked host is probed; default one hour. */
  probeIntervalMs?: number;
}

interface Job {
  id: string;
  activityId: string;
  inboxUrl: string;
  host: string;
  attempts: number;
  /** Sent to a parked host to see whether it is back. */
  probe: boolean;
  /** Jobs for the same host were read and wait their turn: its connection is worth keeping open. */
  moreForHost: boolean;
}

type Outcome =
  | { kind: "delivered"; status: number }
  /** The host answered but will never take this activity (most 4xx, 501). */
  | { kind: "rejected"; status: number }
  | { kind: "gone"; status: number }
  /** Worth another try later; `hostFailure` counts against the host's health. */
  | { kind: "retry"; error: string; status: number | null; retryAfterMs: number | null; hostFailure: boolean }
  /** Cannot succeed whatever we do (unusable URL, missing signing key). */
  | { kind: "fatal"; error: string };

type DueRow = ReturnType<ReturnType<typeof prepareQueries>["due"]["all"]>[number];

interface Payload {
  body: string;
  signer: string;
  refs: number;
}

export class DeliveryWorker {
  readonly #ctx: Context;
  readonly #concurrency: number;
  readonly #perHost: number;
  readonly #now: () => number;
  readonly #retryDelay: (attempts: number) => number;
  readonly #timeoutMs: number;
  readonly #batchSize: number;
  readonly #probeIntervalMs: number;

  /** Jobs in flight, by id: each promise settles once the outcome is stored. */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #hostLoad = new Map<string, number>();
  readonly #payloads = new Map<string, Payload>();
  /** Due rows read and not started yet (see #claim), and the due time they were read for. */
  #readAhead: DueRow[] = [];
  #readAheadDueBy = 0;

  #started = false;
  #stopping = false;
  /** After stop() gave up waiting: late outcomes must not touch the (closed) store. */
  #closed = false;
  #turnScheduled = false;
  /** Outcomes waiting for the next turn's transaction. */
  #outcomes: { job: Job; outcome: Outcome; ms: number; stored: () => void }[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #onQueued = () => this.#schedulePump();
  readonly #q: ReturnType<typeof prepareQueries>;

  constructor(ctx: Context, options: DeliveryWorkerOptions = {}) {
    this.#ctx = ctx;
    this.#concurrency = options.concurrency ?? ctx.config.federation.delivery_concurrency;
    this.#perHost = options.perHost ?? ctx.config.federation.delivery_per_host;
    this.#now = options.now ?? Date.now;
    this.#retryDelay = options.retryDelay ?? ((attempts) => retryDelayMs(attempts));
    this.#timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
    this.#batchSize = options.batchSize ?? Math.max(50, this.#concurrency * 4);
    this.#probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
    this.#q = prepareQueries(ctx.store.db);
  }

  /** Deliveries in flight right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Starts delivering: puts back the jobs a previous run left "running" (one process owns the database, so
   * none of them is really in flight), then works through the due jobs and keeps listening.
   */
  start(): void {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    const requeued = requeueStuckJobs(this.#ctx, 0, this.#now());
    if (requeued > 0)
      this.#ctx.log.info({ jobs: requeued }, "deliveries interrupted by the last shutdown requeued");
    this.#ctx.events.on("delivery.queued", this.#onQueued);
    this.#schedulePump();
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for the deliveries in flight. Those still running after that
   * stay "running" in the database and are retried at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return this.#waitForInFlight(graceMs);
    this.#stopping = true;
    this.#ctx.events.off("delivery.queued", this.#onQueued);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#waitForInFlight(graceMs);
  }

  async #waitForInFlight(graceMs: number): Promise<void> {
    if (this.#inFlight.size === 0) return;
    const settled = await settledWithin(this.#inFlight.values(), graceMs);
    if (!settled && this.#inFlight.size > 0) {
      this.#closed = true;
      this.#ctx.log.warn(
        { deliveries: this.#inFlight.size },
        "deliveries still running at shutdown: they will be retried at the next start",
      );
    }
  }

  /**
   * Delivers every job due now (within the caps) and waits for them; for tests and one-off runs. Returns the
   * number of delivery attempts made. A job rescheduled to a time not after the call's start is not tried
   * twice in the same call.
   */
  async runOnce(): Promise<number> {
    const dueBy = this.#now();
    this.#readAhead = [];
    const tried = new Set<string>();
    let count = 0;
    for (;;) {
      count += this.#startJobs(transaction(this.#ctx.store, () => this.#claim(dueBy, tried)));
      if (this.#inFlight.size === 0) break;
      await Promise.race(this.#inFlight.values());
    }
    return count;
  }

  #schedulePump(): void {
    if (!this.#started || this.#stopping) return;
    this.#scheduleTurn();
  }

  /** Runs #turn once the current turn of the event loop is over (at most one is pending). */
  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => this.#turn());
  }

  /**
   * In one transaction: stores the outcomes waiting, then (unless stopping) claims the due jobs the caps allow.
   * After the commit the claimed jobs start and the stored deliveries settle.
   */
  #turn(): void {
    this.#turnScheduled = false;
    const outcomes = this.#outcomes;
    this.#outcomes = [];
    if (this.#closed) {
      // stop() gave up waiting and the store may be closed: these jobs stay "running" for the next start.
      for (const { stored } of outcomes) stored();
      return;
    }
    const pumping = this.#started && !this.#stopping;
    let claimed: Job[] = [];
    try {
      claimed = transaction(this.#ctx.store, () => {
        for (const { job, outcome, ms } of outcomes) this.#storeOutcome(job, outcome, ms);
        return pumping ? this.#claim(this.#now()) : [];
      });
    } catch (error) {
      // Outcomes not stored leave their jobs "running": the upkeep requeues them (at least once, never lost).
      this.#ctx.log.error({ err: error }, "delivery worker could not write to the queue");
      if (pumping) this.#arm(5_000);
    }
    for (const { stored } of outcomes) stored();
    this.#startJobs(claimed);
    if (pumping) {
      try {
        this.#arm();
      } catch (error) {
        this.#ctx.log.error({ err: error }, "delivery worker could not read the queue");
        this.#arm(5_000);
      }
    }
  }

  #startJobs(jobs: Job[]): number {
    for (const job of jobs) this.#start(job);
    return jobs.length;
  }

  /** Sets the timer for the next look at the queue: the next due job, at most 30 s away. */
  #arm(forceMs?: number): void {
    if (!this.#started || this.#stopping) return;
    // Deliveries in flight pump again when they finish: the queue need not be looked at until then.
    if (forceMs === undefined && this.#inFlight.size > 0 && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    let delay = forceMs ?? MAX_WAKE_MS;
    if (forceMs === undefined) {
      const next = this.#q.nextDue.get()?.at;
      if (next != null) {
        const wait = next - this.#now();
        // Due but not taken: the caps are full and a finishing delivery will pump again.
        if (wait <= 0) delay = this.#inFlight.size > 0 ? MAX_WAKE_MS : 1_000;
        else delay = Math.min(wait, MAX_WAKE_MS);
      }
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#schedulePump();
    }, delay);
    this.#timer.unref();
  }

  /**
   * Claims due jobs (next_attempt_at ≤ dueBy) until the caps, counting the jobs in flight, are full or none is
   * left, and returns them to start once the transaction it runs in commits. With `tried`, skips and records
   * job ids (runOnce).
   *
   * A look at the queue reads a batch; what the caps leave of it is kept (#readAhead) for the next claim, so
   * a fan-out reads the queue once per batch instead of once per finished delivery. A kept row may have
   * changed since: the claim takes it only if it is still queued and due.
   */
  #claim(dueBy: number, tried?: Set<string>): Job[] {
    const claimed: Job[] = [];
    const claimedPerHost = new Map<string, number>();
    const loadOf = (host: string) => (this.#hostLoad.get(host) ?? 0) + (claimedPerHost.get(host) ?? 0);
    const full = () => this.#inFlight.size + claimed.length >= this.#concurrency;
    /** Hosts with due jobs read and left for later: their connections are worth keeping open. */
    const waiting = new Set<string>();
    let fresh = false;
    while (!full() && !this.#stopping) {
      if (this.#readAhead.length === 0 || this.#readAheadDueBy > dueBy) {
        if (fresh) break;
        const hostsInUse = new Set([...this.#hostLoad.keys(), ...claimedPerHost.keys()]);
        const saturated = [...hostsInUse].filter((host) => loadOf(host) >= this.#perHost);
        this.#readAhead = this.#q.due.all({ dueBy, busy: JSON.stringify(saturated), limit: this.#batchSize });
        this.#readAheadDueBy = dueBy;
        fresh = true;
        if (this.#readAhead.length === 0) break;
      }
      const now = this.#now();
      const kept: DueRow[] = [];
      let progressed = false;
      for (const row of this.#readAhead) {
        if (tried?.has(row.id)) continue;
        const load = loadOf(row.host);
        if (full() || load >= this.#perHost) {
          kept.push(row);
          waiting.add(row.host);
          continue;
        }
        let probe = false;
        if (row.unavailableSince !== null) {
          const probeAt = nextProbeAt(row, this.#probeIntervalMs);
          if (load > 0 || now < probeAt) {
            // Parked and not time to probe (or a probe is out): its jobs wait for the probe's verdict.
            this.#deferParkedHost(row.host, load > 0 ? now + this.#probeIntervalMs : probeAt, now);
            progressed = true;
            continue;
          }
          probe = true;
        }
        if (this.#q.claim.run({ id: row.id, now, dueBy }).changes !== 1) continue;
        tried?.add(row.id);
        claimed.push({ ...row, probe, moreForHost: false });
        claimedPerHost.set(row.host, (claimedPerHost.get(row.host) ?? 0) + 1);
        progressed = true;
      }
      this.#readAhead = kept;
      // Nothing startable among the kept rows: look at the queue itself (once per claim).
      if (!progressed) this.#readAhead = [];
    }
    for (const job of claimed) job.moreForHost = waiting.has(job.host);
    return claimed;
  }

  /** Moves a parked host's due jobs to its next probe time, and gives up those too old to matter. */
  #deferParkedHost(host: string, until: number, now: number): void {
    const db = this.#ctx.store.db;
    transaction(this.#ctx.store, () => {
      const expired = db
        .update(deliveryJobs)
        .set({ state: "failed", finishedAt: now, lockedAt: null, lastError: "host unavailable" })
        .where(
          and(
            eq(deliveryJobs.host, host),
            eq(deliveryJobs.state, "queued"),
            lt(deliveryJobs.createdAt, now - PARKED_JOB_MAX_AGE_MS),
          ),
        )
        .run();
      if (expired.changes > 0) {
        this.#ctx.log.warn(
          { host, jobs: expired.changes },
          "host unavailable for too long: deliveries given up",
        );
      }
      db.update(deliveryJobs)
        .set({ nextAttemptAt: until })
        .where(
          and(
            eq(deliveryJobs.host, host),
            eq(deliveryJobs.state, "queued"),
            lt(deliveryJobs.nextAttemptAt, until),
          ),
        )
        .run();
    });
  }

  #start(job: Job): void {
    this.#hostLoad.set(job.host, (this.#hostLoad.get(job.host) ?? 0) + 1);
    const promise = this.#deliver(job).finally(() => {
      this.#inFlight.delete(job.id);
      const load = (this.#hostLoad.get(job.host) ?? 1) - 1;
      if (load > 0) this.#hostLoad.set(job.host, load);
      else this.#hostLoad.delete(job.host);
      this.#schedulePump();
    });
    this.#inFlight.set(job.id, promise);
  }

  #payload(activityId: string): Payload | null {
    let payload = this.#payloads.get(activityId);
    if (!payload) {
      const row = this.#q.payload.get({ id: activityId });
      if (!row) return null;
      payload = { ...row, refs: 0 };
      this.#payloads.set(activityId, payload);
    }
    payload.refs++;
    return payload;
  }

  #release(activityId: string): void {
    const payload = this.#payloads.get(activityId);
    if (payload && --payload.refs <= 0) this.#payloads.delete(activityId);
  }

  async #deliver(job: Job): Promise<void> {
    let outcome: Outcome;
    const startedAt = performance.now();
    let payload: Payload | null = null;
    try {
      payload = this.#payload(job.activityId);
      if (!payload) {
        outcome = { kind: "fatal", error: "the activity is no longer stored" };
      } else {
        // A Web Push job is sent encrypted to its push service, a backfill job fetches (backfill.ts);
        // everything after the answer is the same.
        const response =
          payload.signer === VAPID_SIGNER
            ? await sendPush(this.#ctx, payload.body, { timeoutMs: this.#timeoutMs, now: this.#now() })
            : payload.signer === BACKFILL_SIGNER
              ? await runBackfill(this.#ctx, payload.body, { timeoutMs: this.#timeoutMs })
              : payload.signer === MEDIA_CACHE_SIGNER
                ? await fetchRemoteMedia(this.#ctx, payload.body, { timeoutMs: this.#timeoutMs })
                : await this.#ctx.federation.post(job.inboxUrl, payload.body, payload.signer, {
                    timeoutMs: this.#timeoutMs,
                    keepAlive: job.moreForHost,
                  });
        outcome = classifyResponse(response.status, response.headers, this.#now());
      }
    } catch (error) {
      outcome = classifyError(error);
    } finally {
      if (payload) this.#release(job.activityId);
    }
    const ms = Math.round(performance.now() - startedAt);
    if (this.#closed) return;
    await new Promise<void>((stored) => {
      this.#outcomes.push({ job, outcome, ms, stored });
      this.#scheduleTurn();
    });
  }

  /**
   * Stores one outcome inside #turn's transaction, in a savepoint of its own: a failure leaves that job
   * "running" (requeued by the upkeep or at the next start) and the others stored.
   */
  #storeOutcome(job: Job, outcome: Outcome, ms: number): void {
    try {
      this.#record(job, outcome, ms);
    } catch (error) {
      this.#ctx.log.error(
        { err: error, job: job.id, host: job.host },
        "could not record a delivery's outcome",
      );
    }
  }

  /** Stores what happened to one attempt and updates the host's health. */
  #record(job: Job, outcome: Outcome, ms: number): void {
    const { store, log } = this.#ctx;
    const now = this.#now();
    const attempts = job.attempts + 1;
    const end = (state: "done" | "failed", lastError: string | null) =>
      this.#q.finish.run({ id: job.id, state, attempts, now, lastError });
    const base = {
      host: job.host,
      inbox: job.inboxUrl,
      attempt: attempts,
      ms,
      ...(job.probe ? { probe: true } : {}),
    };
    transaction(store, () => {
      switch (outcome.kind) {
        case "delivered":
          end("done", null);
          recordHostSuccess(this.#ctx, job.host, now, true);
          log.debug({ ...base, status: outcome.status }, "delivered");
          break;
        case "rejected":
        case "gone": {
          end("failed", `HTTP ${outcome.status}`);
          recordHostSuccess(this.#ctx, job.host, now, false);
          if (outcome.kind === "gone") {
            const dropped = this.#dropGoneRecipients(job.inboxUrl, now);
            log.info(
              { ...base, status: outcome.status, dropped },
              dropped > 0 ? "inbox is gone: its followers were removed" : "inbox or push endpoint is gone",
            );
          } else {
            log.info({ ...base, status: outcome.status }, "delivery refused: not retrying");
          }
          break;
        }
        case "fatal":
          end("failed", outcome.error);
          log.warn({ ...base, error: outcome.error }, "delivery impossible: not retrying");
          break;
        case "retry": {
          if (outcome.hostFailure) recordHostFailure(this.#ctx, job.host, now);
          const lastError = outcome.status === null ? outcome.error : `HTTP ${outcome.status}`;
          if (attempts >= MAX_ATTEMPTS) {
            end("failed", lastError);
            log.warn({ ...base, status: outcome.status, error: outcome.error }, "delivery failed: giving up");
            break;
          }
          const delay = outcome.retryAfterMs ?? this.#retryDelay(attempts);
          this.#q.retry.run({ id: job.id, attempts, next: now + delay, lastError });
          log.info(
            {
              ...base,
              status: outcome.status,
              error: outcome.error,
              retryInSeconds: Math.round(delay / 1000),
            },
            "delivery failed: will retry",
          );
          break;
        }
      }
    });
  }

  /**
   * 410 Gone from an inbox: the actors whose own inbox it is no longer exist. They stop being followers and
   * are marked gone (so followerInboxes skips them). A shared inbox answering 410 drops nobody: other
   * actors on that server may still exist. Returns the number of accounts dropped.
   */
  #dropGoneRecipients(inboxUrl: string, now: number): number {
    const ctx = this.#ctx;
    const gone = ctx.store.db
      .select({ id: accounts.id })
      .from(accounts)
      .where(and(eq(accounts.inboxUrl, inboxUrl), isNotNull(accounts.domain)))
      .all();
    if (gone.length === 0) return 0;
    const ids = gone.map((a) => a.id);
    ctx.store.db.delete(follows).where(inArray(follows.followerId, ids)).run();
    ctx.store.db.update(accounts).set({ goneAt: now }).where(inArray(accounts.id, ids)).run();
    return gone.length;
  }
}

/** The statements run for every delivery, prepared once per worker. */
function prepareQueries(db: Db) {
  const p = sql.placeholder;
  const value = (name: string) => sql`${p(name)}`;
  return {
    /**
     * A batch of due jobs, oldest first and then in the order written (one host's jobs in a row: see
     * enqueue.ts), skipping hosts already at their cap (a JSON array).
     */
    due: db
      .select({
        id: deliveryJobs.id,
        activityId: deliveryJobs.activityId,
        inboxUrl: deliveryJobs.inboxUrl,
        host: deliveryJobs.host,
        attempts: deliveryJobs.attempts,
        unavailableSince: hosts.unavailableSince,
        lastFailureAt: hosts.lastFailureAt,
      })
      .from(deliveryJobs)
      .leftJoin(hosts, eq(hosts.host, deliveryJobs.host))
      .where(
        and(
          eq(deliveryJobs.state, "queued"),
          lte(deliveryJobs.nextAttemptAt, p("dueBy")),
          sql`${deliveryJobs.host} NOT IN (SELECT value FROM json_each(${p("busy")}))`,
        ),
      )
      .orderBy(deliveryJobs.nextAttemptAt, sql`"delivery_jobs"."rowid"`)
      .limit(p("limit"))
      .prepare(),
    claim: db
      .update(deliveryJobs)
      .set({ state: "running", lockedAt: value("now") })
      .where(
        and(
          eq(deliveryJobs.id, p("id")),
          eq(deliveryJobs.state, "queued"),
          lte(deliveryJobs.nextAttemptAt, p("dueBy")),
        ),
      )
      .prepare(),
    finish: db
      .update(deliveryJobs)
      .set({
        state: value("state"),
        attempts: value("attempts"),
        lockedAt: null,
        finishedAt: value("now"),
        lastError: value("lastError"),
      })
      .where(eq(deliveryJobs.id, p("id")))
      .prepare(),
    retry: db
      .update(deliveryJobs)
      .set({
        state: "queued",
        attempts: value("attempts"),
        lockedAt: null,
        nextAttemptAt: value("next"),
        lastError: value("lastError"),
      })
      .where(eq(deliveryJobs.id, p("id")))
      .prepare(),
    payload: db
      .select({ body: outboundActivities.body, signer: outboundActivities.signer })
      .from(outboundActivities)
      .where(eq(outboundActivities.id, p("id")))
      .prepare(),
    nextDue: db
      .select({ at: min(deliveryJobs.nextAttemptAt) })
      .from(deliveryJobs)
      .where(eq(deliveryJobs.state, "queued"))
      .prepare(),
  };
}

function classifyResponse(status: number, headers: Headers, now: number): Outcome {
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  if (status === 410) return { kind: "gone", status };
  if (isPermanentStatus(status)) return { kind: "rejected", status };
  if (status === 429) {
    // Rate limited: the host is up, so its health is not affected; its Retry-After sets the next attempt.
    return {
      kind: "retry",
      error: "rate limited",
      status,
      retryAfterMs: parseRetryAfter(headers.get("retry-after"), now),
      hostFailure: false,
    };
  }
  return { kind: "retry", error: `HTTP ${status}`, status, retryAfterMs: null, hostFailure: true };
}

function classifyError(error: unknown): Outcome {
  if (error instanceof FetchError) {
    if (PERMANENT_FETCH_ERRORS.has(error.code))
      return { kind: "fatal", error: `${error.code}: ${error.message}` };
    return {
      kind: "retry",
      error: `${error.code}: ${error.message}`,
      status: null,
      retryAfterMs: null,
      hostFailure: true,
    };
  }
  return { kind: "fatal", error: error instanceof Error ? error.message : String(error) };
}

/**
 * Puts jobs left "running" for longer than `olderThanMs` back in the queue, due at once: their process died
 * or lost them. With 0, every running job (at start-up, when no delivery of this process is in flight).
 * Returns the number requeued.
 */
export function requeueStuckJobs(ctx: Context, olderThanMs = STUCK_AFTER_MS, now = Date.now()): number {
  const result = ctx.store.db
    .update(deliveryJobs)
    .set({ state: "queued", lockedAt: null })
    .where(
      and(
        eq(deliveryJobs.state, "running"),
        olderThanMs > 0 ? lt(deliveryJobs.lockedAt, now - olderThanMs) : undefined,
      ),
    )
    .run();
  return result.changes;
}
