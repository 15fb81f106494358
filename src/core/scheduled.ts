/**
 * Scheduled statuses: kept with the input they will be posted with, moved or cancelled until they are due,
 * then posted through `createStatus`. Publishing deletes the row inside the transaction that creates the
 * status, so a crash, a restart or two publishers racing never post it twice. Every change signals
 * "scheduled.changed" after its commit, which re-arms the publisher's timer (src/jobs/scheduled.ts).
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { findMediaByIds } from "../store/media.js";
import {
  countScheduledBetween,
  countScheduledStatuses,
  findScheduledStatus,
  mediaHeldByScheduled,
  type ScheduledStatusRow,
} from "../store/scheduled-statuses.js";
import { type ScheduledParams, scheduledStatuses } from "../store/schema.js";
import { findStatusById } from "../store/statuses.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { createStatus, validateInput } from "./statuses.js";
import { commit } from "./unit-of-work.js";

/** Mastodon's limits (ScheduledStatus and PostStatusService::MIN_SCHEDULE_OFFSET). */
export const MIN_SCHEDULE_OFFSET_MS = 5 * 60_000;
export const SCHEDULED_TOTAL_LIMIT = 300;
export const SCHEDULED_DAILY_LIMIT = 25;

const DAY_MS = 24 * 60 * 60_000;

export interface ScheduleInput {
  params: ScheduledParams;
  mediaIds: string[];
  scheduledAt: number;
}

function changed(ctx: Context, uow: UnitOfWork): void {
  uow.afterCommit(() => ctx.events.emit("scheduled.changed"));
}

/** Mastodon's validations of a scheduled status: far enough ahead, and within the total and daily limits. */
function checkTime(ctx: Context, scheduledAt: number, exceptId: string | null, now: number): void {
  if (!Number.isFinite(scheduledAt) || scheduledAt <= now + MIN_SCHEDULE_OFFSET_MS)
    throw new UserError("Validation failed: Scheduled at must be at least 5 minutes in the future");
  const db = ctx.store.db;
  if (exceptId === null && countScheduledStatuses(db) >= SCHEDULED_TOTAL_LIMIT)
    throw new UserError(
      `Validation failed: You have exceeded the limit of ${SCHEDULED_TOTAL_LIMIT} scheduled posts`,
    );
  // The day of the time it is scheduled for, in UTC (Mastodon compares `scheduled_at::date`).
  const dayStart = Math.floor(scheduledAt / DAY_MS) * DAY_MS;
  if (countScheduledBetween(db, dayStart, dayStart + DAY_MS, exceptId) >= SCHEDULED_DAILY_LIMIT)
    throw new UserError(
      `Validation failed: You have exceeded the limit of ${SCHEDULED_DAILY_LIMIT} scheduled posts for that day`,
    );
}

/** The uploads must be the owner's, attached to no live status and held by no other scheduled status. */
function checkMedia(ctx: Context, local: AccountRow, mediaIds: string[], exceptId: string | null): void {
  const db = ctx.store.db;
  const rows = new Map(findMediaByIds(db, mediaIds).map((m) => [m.id, m]));
  const held = mediaHeldByScheduled(db, mediaIds, exceptId);
  for (const id of mediaIds) {
    const row = rows.get(id);
    if (!row || row.accountId !== local.id) throw new UserError(`media ${id} does not exist`);
    const owner = row.statusId ? findStatusById(db, row.statusId) : null;
    if ((owner && owner.deletedAt === null) || held.has(id))
      throw new UserError(`media ${id} is already attached to another status`);
  }
}

/** Schedules a status; returns its row. */
export function scheduleStatus(ctx: Context, input: ScheduleInput, now = Date.now()): ScheduledStatusRow {
  const local = requireLocalAccount(ctx);
  validateInput({ ...input.params, mediaIds: input.mediaIds }, input.mediaIds.length > 0);
  return commit(ctx, (uow) => {
    checkTime(ctx, input.scheduledAt, null, now);
    checkMedia(ctx, local, input.mediaIds, null);
    const row: ScheduledStatusRow = {
      id: newId(now),
      scheduledAt: input.scheduledAt,
      params: input.params,
      mediaIds: input.mediaIds,
      createdAt: now,
    };
    ctx.store.db.insert(scheduledStatuses).values(row).run();
    changed(ctx, uow);
    return row;
  });
}

function requireScheduled(ctx: Context, id: string): ScheduledStatusRow {
  const row = findScheduledStatus(ctx.store.db, id);
  if (!row) throw new UserError("Record not found", 404);
  return row;
}

/** Moves a scheduled status to another time (the same rules as scheduling it). */
export function rescheduleStatus(
  ctx: Context,
  id: string,
  scheduledAt: number,
  now = Date.now(),
): ScheduledStatusRow {
  return commit(ctx, (uow) => {
    const row = requireScheduled(ctx, id);
    checkTime(ctx, scheduledAt, id, now);
    ctx.store.db.update(scheduledStatuses).set({ scheduledAt }).where(eq(scheduledStatuses.id, id)).run();
    changed(ctx, uow);
    return { ...row, scheduledAt };
  });
}

/** Cancels a scheduled status; its uploads become unattached again. */
export function cancelScheduledStatus(ctx: Context, id: string): void {
  commit(ctx, (uow) => {
    requireScheduled(ctx, id);
    ctx.store.db.delete(scheduledStatuses).where(eq(scheduledStatuses.id, id)).run();
    changed(ctx, uow);
  });
}

/**
 * Posts a due scheduled status: claims (deletes) its row and creates the status in one transaction. Returns
 * the new status's id, or null when another publisher claimed it first. A reply whose parent is gone is
 * posted on its own, and uploads gone meanwhile are left out (as Mastodon does). `mentions` are the remote
 * accounts its text mentions, resolved beforehand (see StatusInput.mentions).
 */
export function publishScheduledStatus(
  ctx: Context,
  id: string,
  mentions: ReadonlyMap<string, AccountRow>,
  now = Date.now(),
): string | null {
  return commit(ctx, () => {
    const row = findScheduledStatus(ctx.store.db, id);
    if (!row || row.scheduledAt > now) return null;
    const claimed = ctx.store.db.delete(scheduledStatuses).where(eq(scheduledStatuses.id, id)).run().changes;
    if (claimed !== 1) return null;
    const { params } = row;
    const parent = params.inReplyToId ? findStatusById(ctx.store.db, params.inReplyToId) : null;
    const media = new Map(findMediaByIds(ctx.store.db, row.mediaIds).map((m) => [m.id, m]));
    const mediaIds = row.mediaIds.filter((mediaId) => {
      const m = media.get(mediaId);
      if (!m) return false;
      const owner = m.statusId ? findStatusById(ctx.store.db, m.statusId) : null;
      return !owner || owner.deletedAt !== null;
    });
    return createStatus(ctx, {
      ...params,
      inReplyToId: parent && parent.deletedAt === null ? parent.id : null,
      mediaIds,
      mentions,
    });
  });
}

/** Drops a scheduled status that cannot be posted (its input is no longer valid). */
export function dropScheduledStatus(ctx: Context, id: string): void {
  commit(ctx, (uow) => {
    ctx.store.db.delete(scheduledStatuses).where(eq(scheduledStatuses.id, id)).run();
    changed(ctx, uow);
  });
}
