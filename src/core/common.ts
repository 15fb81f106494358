import { and, eq, isNotNull, isNull } from "drizzle-orm";
import type { Context } from "../context.js";
import { enqueueActivity, targetInboxes } from "../federation/delivery/enqueue.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { transaction } from "../store/open.js";
import { accounts, blocks, follows, mutes, notifications } from "../store/schema.js";
import { UserError } from "./account.js";

export function requireLocalAccount(ctx: Context): AccountRow {
  const local = findLocalUser(ctx.store.db);
  if (!local) throw new UserError("there is no account yet: create it with `wren account create`", 404);
  return local.account;
}

/** The inboxes of every remote account that follows `accountId` (accepted follows only). */
export function followerInboxes(ctx: Context, accountId: string): string[] {
  const rows = ctx.store.db
    .select({ inboxUrl: accounts.inboxUrl, sharedInboxUrl: accounts.sharedInboxUrl })
    .from(follows)
    .innerJoin(accounts, eq(follows.followerId, accounts.id))
    .where(
      and(
        eq(follows.followingId, accountId),
        eq(follows.state, "accepted"),
        isNotNull(accounts.domain),
        isNull(accounts.goneAt),
      ),
    )
    .all();
  return targetInboxes(rows);
}

export function isBlocked(ctx: Context, localId: string, otherId: string): boolean {
  return (
    ctx.store.db
      .select({ id: blocks.id })
      .from(blocks)
      .where(and(eq(blocks.accountId, localId), eq(blocks.targetId, otherId)))
      .get() !== undefined
  );
}

/** Whether the local account hides notifications from this account (muted with notifications). */
function isMutedForNotifications(ctx: Context, localId: string, otherId: string): boolean {
  const mute = ctx.store.db
    .select()
    .from(mutes)
    .where(and(eq(mutes.accountId, localId), eq(mutes.targetId, otherId)))
    .get();
  return mute?.hideNotifications === true && (mute.expiresAt === null || mute.expiresAt > Date.now());
}

export type NotificationType =
  | "mention"
  | "status"
  | "reblog"
  | "follow"
  | "follow_request"
  | "favourite"
  | "poll"
  | "update"
  | "admin.report"
  | "moved";

/**
 * Adds a notification for the local account unless the sender is blocked or muted. Call inside the change's
 * transaction; returns the id so the caller can emit "notification.created" after the commit.
 */
export function addNotification(
  ctx: Context,
  type: NotificationType,
  fromAccountId: string,
  statusId: string | null = null,
  reportId: string | null = null,
): string | null {
  const local = requireLocalAccount(ctx);
  // The one notification about the account's own doing: its poll has ended.
  if (fromAccountId === local.id && type !== "poll") return null;
  if (isBlocked(ctx, local.id, fromAccountId) || isMutedForNotifications(ctx, local.id, fromAccountId))
    return null;
  const id = newId();
  ctx.store.db
    .insert(notifications)
    .values({
      id,
      type,
      fromAccountId,
      statusId,
      reportId,
      groupKey: `${type}-${statusId ?? fromAccountId}`,
      createdAt: Date.now(),
    })
    .run();
  return id;
}

/**
 * Runs a change in one transaction, then announces what it produced: queued deliveries wake the workers,
 * new notifications reach streaming and push. Events fire only after the commit.
 */
export function commit<T>(ctx: Context, fn: (effects: Effects) => T): T {
  const effects = new Effects();
  const result = transaction(ctx.store, () => fn(effects));
  effects.emit(ctx);
  return result;
}

export class Effects {
  delivery = false;
  notifications: string[] = [];
  created: string[] = [];
  updated: string[] = [];
  deleted: string[] = [];

  /** Queues an activity signed by `signer` (a local account id) to the given inboxes. */
  deliver(ctx: Context, activity: object, inboxes: string[], signer: string): void {
    if (enqueueActivity(ctx.store.db, activity, signer, inboxes)) this.delivery = true;
  }

  notified(id: string | null): void {
    if (id) this.notifications.push(id);
  }

  emit(ctx: Context): void {
    if (this.delivery) ctx.events.emit("delivery.queued");
    for (const id of this.created) ctx.events.emit("status.created", id);
    for (const id of this.updated) ctx.events.emit("status.updated", id);
    for (const id of this.deleted) ctx.events.emit("status.deleted", id);
    for (const id of this.notifications) ctx.events.emit("notification.created", id);
  }
}
