/**
 * Delivery health of other servers, in the `hosts` table. Like Mastodon: a host that fails on 7 distinct
 * days with no success in between is parked (`unavailable_since`). Its jobs are then not tried one by one:
 * the worker sends one probe per host per hour, and the host is available again when a probe succeeds or
 * when the host delivers something to us (`markHostAlive`, called by the inbox).
 */
import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import type { Db } from "../../store/open.js";
import { deliveryJobs, hosts } from "../../store/schema.js";

/** Distinct failure days (without a success) after which a host is parked. */
export const PARK_AFTER_FAILURE_DAYS = 7;

/** How often a parked host is probed with one of its jobs. */
export const PROBE_INTERVAL_MS = 60 * 60 * 1000;

/** A healthy host's last_success_at is written at most this often (a fan-out succeeds many times a second). */
const TOUCH_INTERVAL_MS = 60_000;
const MAX_REMEMBERED_HOSTS = 10_000;
const healthyAt = new WeakMap<Db, Map<string, number>>();

/** When this process last stored a success of each healthy host; a failure forgets the host. */
function recentlyHealthy(db: Db): Map<string, number> {
  let known = healthyAt.get(db);
  if (!known) {
    known = new Map();
    healthyAt.set(db, known);
  }
  return known;
}

/** Failure days kept per host (only the count up to PARK_AFTER_FAILURE_DAYS matters). */
const MAX_FAILURE_DAYS_KEPT = 31;

export type HostRow = typeof hosts.$inferSelect;

/** The UTC calendar day of a time, as stored in hosts.failure_days. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function findHost(ctx: Context, host: string): HostRow | null {
  return ctx.store.db.select().from(hosts).where(eq(hosts.host, host)).get() ?? null;
}

/** When a parked host may be probed next: an interval after it was parked or after its last failure. */
export function nextProbeAt(
  row: Pick<HostRow, "unavailableSince" | "lastFailureAt">,
  intervalMs = PROBE_INTERVAL_MS,
): number {
  return Math.max(row.unavailableSince ?? 0, row.lastFailureAt ?? 0) + intervalMs;
}

/**
 * The host answered (a delivery succeeded, or it refused the activity for good, which still proves it is up):
 * forget its failures and, if it was parked, make its waiting jobs due now. `delivered` also records
 * last_success_at. Returns true when a parked host came back.
 */
export function recordHostSuccess(ctx: Context, host: string, now: number, delivered = true): boolean {
  // The common cases, a healthy known host or a new one: one statement, and none at all when this process
  // found the host healthy a moment ago (last_success_at is then up to TOUCH_INTERVAL_MS old).
  if (delivered) {
    const touched = recentlyHealthy(ctx.store.db);
    const at = touched.get(host);
    if (at !== undefined && now - at >= 0 && now - at < TOUCH_INTERVAL_MS) return false;
    const q = statements(ctx.store.db);
    if (q.touchHealthy.run({ host, now }).changes === 1 || q.insertHealthy.run({ host, now }).changes === 1) {
      if (touched.size >= MAX_REMEMBERED_HOSTS) touched.clear();
      touched.set(host, now);
      return false;
    }
  }
  const row = findHost(ctx, host);
  const wasParked = row?.unavailableSince != null;
  const clean = row !== null && row.failureDays.length === 0 && !wasParked;
  if (clean && !delivered) return false;
  const changes = clean
    ? { lastSuccessAt: now }
    : { failureDays: [] as string[], unavailableSince: null, ...(delivered ? { lastSuccessAt: now } : {}) };
  ctx.store.db
    .insert(hosts)
    .values({ host, failureDays: [], ...(delivered ? { lastSuccessAt: now } : {}) })
    .onConflictDoUpdate({ target: hosts.host, set: changes })
    .run();
  if (wasParked) {
    resumeHostJobs(ctx, host, now);
    ctx.log.info({ host }, "host is reachable again: resuming its deliveries");
  }
  return wasParked;
}

/**
 * A delivery to the host failed in a way that says nothing good about it (5xx, timeout, refused connection).
 * Adds today to its failure days and parks it at the 7th. Returns true when this failure parked it.
 */
export function recordHostFailure(ctx: Context, host: string, now: number): boolean {
  recentlyHealthy(ctx.store.db).delete(host);
  const row = findHost(ctx, host);
  const today = dayOf(now);
  const days = row ? [...row.failureDays] : [];
  if (!days.includes(today)) days.push(today);
  const kept = days.sort().slice(-MAX_FAILURE_DAYS_KEPT);
  const park = row?.unavailableSince == null && kept.length >= PARK_AFTER_FAILURE_DAYS;
  const unavailableSince = park ? now : (row?.unavailableSince ?? null);
  ctx.store.db
    .insert(hosts)
    .values({ host, failureDays: kept, lastFailureAt: now, unavailableSince })
    .onConflictDoUpdate({
      target: hosts.host,
      set: { failureDays: kept, lastFailureAt: now, unavailableSince },
    })
    .run();
  if (park) {
    ctx.log.warn(
      { host, failureDays: kept.length },
      "host failing on too many days: parked, deliveries wait for an hourly probe",
    );
  }
  return park;
}

/** Makes the queued jobs of a host due now (after it comes back from being parked). */
function resumeHostJobs(ctx: Context, host: string, now: number): void {
  ctx.store.db
    .update(deliveryJobs)
    .set({ nextAttemptAt: now })
    .where(
      and(eq(deliveryJobs.host, host), eq(deliveryJobs.state, "queued"), gt(deliveryJobs.nextAttemptAt, now)),
    )
    .run();
}

/**
 * The host just delivered a verified activity to us, so it is up. Cheap when the host is healthy (one
 * primary-key read, no write), since the inbox calls it for every activity. A parked host comes back and
 * its jobs are woken.
 */
export function markHostAlive(ctx: Context, host: string, now = Date.now()): void {
  const key = host.toLowerCase();
  const row = statements(ctx.store.db).health.get({ host: key });
  if (!row || (row.failureDays.length === 0 && row.unavailableSince === null)) return;
  if (recordHostSuccess(ctx, key, now, false)) ctx.events.emit("delivery.queued");
}

function prepareStatements(db: Db) {
  return {
    touchHealthy: db
      .update(hosts)
      .set({ lastSuccessAt: sql`${sql.placeholder("now")}` })
      .where(
        and(
          eq(hosts.host, sql.placeholder("host")),
          isNull(hosts.unavailableSince),
          sql`${hosts.failureDays} = '[]'`,
        ),
      )
      .prepare(),
    insertHealthy: db
      .insert(hosts)
      .values({ host: sql`${sql.placeholder("host")}`, lastSuccessAt: sql`${sql.placeholder("now")}` })
      .onConflictDoNothing()
      .prepare(),
    health: db
      .select({ failureDays: hosts.failureDays, unavailableSince: hosts.unavailableSince })
      .from(hosts)
      .where(eq(hosts.host, sql.placeholder("host")))
      .prepare(),
  };
}

/** Prepared once per database connection: these run for every delivery and every inbound activity. */
const prepared = new WeakMap<Db, ReturnType<typeof prepareStatements>>();
function statements(db: Db) {
  let found = prepared.get(db);
  if (!found) {
    found = prepareStatements(db);
    prepared.set(db, found);
  }
  return found;
}

/** Hosts currently parked (for the CLI or an admin page). */
export function parkedHosts(ctx: Context): HostRow[] {
  return ctx.store.db.select().from(hosts).where(sql`${hosts.unavailableSince} IS NOT NULL`).all();
}
