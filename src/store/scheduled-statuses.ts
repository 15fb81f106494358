/** Reads of the scheduled statuses (written by core/scheduled.ts). */
import { and, asc, eq, gte, lt, lte, ne, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { scheduledStatuses } from "./schema.js";

export type ScheduledStatusRow = typeof scheduledStatuses.$inferSelect;

export function findScheduledStatus(db: Db, id: string): ScheduledStatusRow | null {
  return db.select().from(scheduledStatuses).where(eq(scheduledStatuses.id, id)).get() ?? null;
}

/** Newest first by id, as Mastodon pages them. */
export function listScheduledStatuses(db: Db, page: PageBounds): ScheduledStatusRow[] {
  const { where, order } = keyset(scheduledStatuses.id, page);
  const rows = db
    .select()
    .from(scheduledStatuses)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(order)
    .limit(page.limit)
    .all();
  return newestFirst(rows, page);
}

/** The statuses due at `now`, the earliest first. */
export function dueScheduledStatuses(db: Db, now: number, limit: number): ScheduledStatusRow[] {
  return db
    .select()
    .from(scheduledStatuses)
    .where(lte(scheduledStatuses.scheduledAt, now))
    .orderBy(asc(scheduledStatuses.scheduledAt), asc(scheduledStatuses.id))
    .limit(limit)
    .all();
}

/** When the next scheduled status is due, or null when there is none. */
export function nextScheduledAt(db: Db): number | null {
  return (
    db
      .select({ at: scheduledStatuses.scheduledAt })
      .from(scheduledStatuses)
      .orderBy(asc(scheduledStatuses.scheduledAt))
      .limit(1)
      .get()?.at ?? null
  );
}

export function countScheduledStatuses(db: Db): number {
  return db.select({ n: sql<number>`count(*)` }).from(scheduledStatuses).get()?.n ?? 0;
}

/** How many are scheduled in [from, to), leaving out `exceptId` (the one being moved). */
export function countScheduledBetween(db: Db, from: number, to: number, exceptId: string | null): number {
  const conditions = [gte(scheduledStatuses.scheduledAt, from), lt(scheduledStatuses.scheduledAt, to)];
  if (exceptId) conditions.push(ne(scheduledStatuses.id, exceptId));
  return (
    db
      .select({ n: sql<number>`count(*)` })
      .from(scheduledStatuses)
      .where(and(...conditions))
      .get()?.n ?? 0
  );
}

/** Which of these uploads another scheduled status (not `exceptId`) already holds. */
export function mediaHeldByScheduled(db: Db, mediaIds: string[], exceptId: string | null): Set<string> {
  if (mediaIds.length === 0) return new Set();
  const rows = db.all<{ id: string }>(
    sql`SELECT m.value AS id FROM scheduled_statuses ss, json_each(ss.media_ids) m
      WHERE m.value IN (SELECT value FROM json_each(${JSON.stringify(mediaIds)}))
        AND ss.id != ${exceptId ?? ""}`,
  );
  return new Set(rows.map((r) => r.id));
}
