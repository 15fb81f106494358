import { and, eq, not } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { mutes } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { activeMuteSql } from "./visibility.js";

export type MuteRow = typeof mutes.$inferSelect;

/** Mastodon takes the duration in seconds; 0 (or none) means until unmuted. The longest it offers is a week, we allow a year. */
export const MAX_MUTE_SECONDS = 365 * 24 * 3600;

/**
 * The local account mutes `target`: its posts leave the timelines and, unless `notifications` is false, its
 * notifications are dropped. Muting again updates the options. Muting is private: nothing is sent.
 */
export function mute(
  ctx: Context,
  target: AccountRow,
  options: { notifications?: boolean; durationSeconds?: number } = {},
): MuteRow {
  const local = requireLocalAccount(ctx);
  if (target.id === local.id) throw new UserError("you cannot mute yourself");
  const duration = options.durationSeconds ?? 0;
  if (!Number.isInteger(duration) || duration < 0 || duration > MAX_MUTE_SECONDS) {
    throw new UserError(`duration must be between 0 and ${MAX_MUTE_SECONDS} seconds`);
  }
  const now = Date.now();
  const values = {
    hideNotifications: options.notifications ?? true,
    expiresAt: duration > 0 ? now + duration * 1000 : null,
  };
  ctx.store.db
    .insert(mutes)
    .values({ id: newId(now), accountId: local.id, targetId: target.id, createdAt: now, ...values })
    .onConflictDoUpdate({ target: [mutes.accountId, mutes.targetId], set: values })
    .run();
  const row = findMute(ctx, local.id, target.id);
  if (!row) throw new Error("mute vanished after it was written");
  return row;
}

export function unmute(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  ctx.store.db
    .delete(mutes)
    .where(and(eq(mutes.accountId, local.id), eq(mutes.targetId, target.id)))
    .run();
}

export function findMute(ctx: Context, accountId: string, targetId: string): MuteRow | null {
  return (
    ctx.store.db
      .select()
      .from(mutes)
      .where(and(eq(mutes.accountId, accountId), eq(mutes.targetId, targetId)))
      .get() ?? null
  );
}

/** Removes mutes whose duration has run out; returns how many. Cheap enough to call before listing mutes. */
export function pruneExpiredMutes(ctx: Context, now = Date.now()): number {
  return ctx.store.db
    .delete(mutes)
    .where(not(activeMuteSql("mutes", now)))
    .run().changes;
}
