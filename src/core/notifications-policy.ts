/**
 * The owner's notification policy and its requests: changing the policy, accepting a request (its
 * notifications are released and the sender passes from then on) and dismissing one (its notifications go).
 * Also the v2 dismissal of a whole notification group.
 */
import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Context } from "../context.js";
import { findPolicy, type NotificationPolicy } from "../store/notifications-policy.js";
import {
  notificationPermissions,
  notificationPolicy,
  notificationRequests,
  notifications,
} from "../store/schema.js";
import { requireLocalAccount } from "./common.js";
import { commit } from "./unit-of-work.js";

/** Changes the policy (only the keys given) and returns it as it now is. */
export function updateNotificationPolicy(
  ctx: Context,
  changes: Partial<NotificationPolicy>,
  now = Date.now(),
): NotificationPolicy {
  const local = requireLocalAccount(ctx);
  return commit(ctx, () => {
    const policy = { ...findPolicy(ctx.store.db, local.id), ...changes };
    ctx.store.db
      .insert(notificationPolicy)
      .values({ accountId: local.id, ...policy, updatedAt: now })
      .onConflictDoUpdate({ target: notificationPolicy.accountId, set: { ...policy, updatedAt: now } })
      .run();
    return policy;
  });
}

function requestsWithIds(ctx: Context, ids: string[]) {
  if (ids.length === 0) return [];
  return ctx.store.db.select().from(notificationRequests).where(inArray(notificationRequests.id, ids)).all();
}

/**
 * Accepts requests: every filtered notification of their senders is released into the lists (not
 * streamed: they are old news, as on Mastodon), the senders pass the policy from now on, and the requests
 * go. Returns how many requests there were.
 */
export function acceptNotificationRequests(ctx: Context, ids: string[], now = Date.now()): number {
  return commit(ctx, () => {
    const db = ctx.store.db;
    const requests = requestsWithIds(ctx, ids);
    for (const request of requests) {
      db.insert(notificationPermissions)
        .values({ fromAccountId: request.fromAccountId, createdAt: now })
        .onConflictDoNothing()
        .run();
      db.update(notifications)
        .set({ filtered: false })
        .where(and(eq(notifications.fromAccountId, request.fromAccountId), eq(notifications.filtered, true)))
        .run();
      db.delete(notificationRequests).where(eq(notificationRequests.id, request.id)).run();
    }
    return requests.length;
  });
}

/** Dismisses requests: they go, with every filtered notification of their senders. */
export function dismissNotificationRequests(ctx: Context, ids: string[]): number {
  return commit(ctx, () => {
    const db = ctx.store.db;
    const requests = requestsWithIds(ctx, ids);
    for (const request of requests) {
      db.delete(notifications)
        .where(and(eq(notifications.fromAccountId, request.fromAccountId), eq(notifications.filtered, true)))
        .run();
      db.delete(notificationRequests).where(eq(notificationRequests.id, request.id)).run();
    }
    return requests.length;
  });
}

/**
 * Hides every notification of a group (`ungrouped-<id>` names one notification). Mastodon answers the same
 * whether or not the group had any, so this returns nothing.
 */
export function dismissNotificationGroup(ctx: Context, groupKey: string, now = Date.now()): void {
  const ungrouped = groupKey.startsWith("ungrouped-") ? groupKey.slice("ungrouped-".length) : null;
  ctx.store.db
    .update(notifications)
    .set({ dismissedAt: now })
    .where(
      and(
        ungrouped !== null ? eq(notifications.id, ungrouped) : eq(notifications.groupKey, groupKey),
        isNull(notifications.dismissedAt),
      ),
    )
    .run();
}
