import type { Context } from "../context.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { notifications } from "../store/schema.js";
import { UserError } from "./account.js";
import type { UnitOfWork } from "./events.js";
import { groupKeyFor, policyVerdict, recordFilteredMention } from "./notifications.js";
import { isBlocked, isMutedForNotifications } from "./visibility.js";

export function requireLocalAccount(ctx: Context): AccountRow {
  const local = findLocalUser(ctx.store.db);
  if (!local) throw new UserError("there is no account yet: create it with `wren account create`", 404);
  return local.account;
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
  | "quote"
  | "quoted_update"
  | "admin.report"
  | "moved"
  /** An emoji reaction (core/reactions.ts); apps that do not ask for this type see it as a favourite. */
  | "pleroma:emoji_reaction";

/**
 * Adds a notification for the local account unless the sender is blocked or muted, inside the change's unit
 * of work (streaming and push hear of it after the commit). The notification policy may drop it, or keep it
 * filtered: stored, not announced, and for a mention counted in its sender's request. Returns its id, or
 * null when none was added.
 */
export function addNotification(
  ctx: Context,
  uow: UnitOfWork,
  type: NotificationType,
  fromAccountId: string,
  statusId: string | null = null,
  reportId: string | null = null,
): string | null {
  const local = requireLocalAccount(ctx);
  // The one notification about the account's own doing: its poll has ended.
  if (fromAccountId === local.id && type !== "poll") return null;
  if (
    isBlocked(ctx.store.db, local.id, fromAccountId) ||
    isMutedForNotifications(ctx.store.db, local.id, fromAccountId, Date.now(), statusId)
  )
    return null;
  const now = Date.now();
  const verdict = policyVerdict(ctx, local, type, fromAccountId, statusId, now);
  if (verdict === "drop") return null;
  const filtered = verdict === "filter";
  const id = newId(now);
  ctx.store.db
    .insert(notifications)
    .values({
      id,
      type,
      fromAccountId,
      statusId,
      reportId,
      groupKey: filtered ? null : groupKeyFor(ctx, type, statusId, now),
      filtered,
      createdAt: now,
    })
    .run();
  if (filtered) {
    if (type === "mention" && statusId !== null) recordFilteredMention(ctx, fromAccountId, statusId, now);
    return id;
  }
  uow.record({ type: "NotificationCreated", notificationId: id });
  return id;
}
