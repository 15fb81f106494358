/**
 * Web Push delivery, the subscriber side: when the core adds a notification, one push job per subscription
 * that wants it is written in the same transaction, into the durable delivery queue (so a crash between the
 * commit and the send loses nothing), and the delivery worker is woken after the commit. The worker sends
 * those jobs with `sendPush` (send.ts) instead of a signed ActivityPub POST.
 */
import type { Context } from "../context.js";
import { removeSubscription } from "../core/push-subscriptions.js";
import { enqueueActivity } from "../federation/delivery/enqueue.js";
import { localAccountRef } from "../store/accounts.js";
import { pushSubscriptionsWithTokenState } from "../store/push-subscriptions.js";
import { findNotification } from "../store/timelines.js";
import { shouldPush } from "./policy.js";

/**
 * The `signer` of a queued push: the VAPID key signs it. The stored body is a `PushJob`, not an activity;
 * the delivery worker hands such jobs to `sendPush`.
 */
export const VAPID_SIGNER = "vapid";

/** What a push job stores: the message is built when it is sent, from the rows as they are then. */
export interface PushJob {
  subscriptionId: string;
  notificationId: string;
}

export function registerPush(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (event.type !== "NotificationCreated") return;
    if (enqueuePushes(ctx, event.notificationId) > 0)
      uow.afterCommit(() => ctx.events.emit("delivery.queued"));
  });
}

/** Queues the pushes of one notification; returns how many. */
function enqueuePushes(ctx: Context, notificationId: string): number {
  const db = ctx.store.db;
  const subscriptions = pushSubscriptionsWithTokenState(db);
  if (subscriptions.length === 0) return 0;
  const notification = findNotification(db, notificationId);
  const local = localAccountRef(db);
  if (!notification || !local) return 0;
  let queued = 0;
  for (const { subscription, live } of subscriptions) {
    // Revoking a token ends its subscription (Mastodon deletes it with the token, which Wren keeps).
    if (!live) {
      removeSubscription(ctx, subscription.id);
      continue;
    }
    if (!shouldPush(ctx, subscription, notification, local.id)) continue;
    const job: PushJob = { subscriptionId: subscription.id, notificationId };
    if (enqueueActivity(db, job, VAPID_SIGNER, [subscription.endpoint])) queued++;
  }
  return queued;
}
