/**
 * Whether a notification is pushed to a subscription: its alert for that type is on, its policy admits the
 * sender, and no filter hides it.
 */
import type { Context } from "../context.js";
import { applyFilters } from "../core/filters.js";
import { mastodonNotificationType } from "../core/reactions.js";
import { loadRelationRows } from "../store/account-relations.js";
import type { PushSubscriptionRow } from "../store/push-subscriptions.js";
import { findStatusById } from "../store/statuses.js";
import type { NotificationRow } from "../store/timelines.js";

export function shouldPush(
  ctx: Context,
  subscription: PushSubscriptionRow,
  notification: NotificationRow,
  localAccountId: string,
): boolean {
  if (subscription.alerts[mastodonNotificationType(notification.type)] !== true) return false;
  if (!policyAdmits(ctx, subscription.policy, notification.fromAccountId, localAccountId)) return false;
  return !hiddenByFilters(ctx, notification, localAccountId);
}

/**
 * Mastodon's policies: `followed` pushes what comes from accounts the owner follows, `follower` what comes
 * from the owner's followers (accepted follows only, both ways).
 */
function policyAdmits(ctx: Context, policy: string, fromAccountId: string, localAccountId: string): boolean {
  switch (policy) {
    case "all":
      return true;
    case "none":
      return false;
    case "followed":
    case "follower": {
      const rows = loadRelationRows(ctx.store.db, localAccountId, [fromAccountId]);
      const follows = policy === "followed" ? rows.outgoing : rows.incoming;
      return follows.some((f) => f.state === "accepted");
    }
    default:
      return false;
  }
}

/** A `hide` filter of the notifications context that matches the notification's status suppresses the push. */
function hiddenByFilters(ctx: Context, notification: NotificationRow, localAccountId: string): boolean {
  if (notification.statusId === null) return false;
  const status = findStatusById(ctx.store.db, notification.statusId);
  if (!status) return false;
  return applyFilters(ctx, "notifications", [status], localAccountId).hidden.has(status.id);
}
