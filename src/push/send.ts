/**
 * Web Push delivery, the sending side: the delivery worker hands it each queued push job (see
 * subscriber.ts). The message is built from the rows as they are now, encrypted for the subscription
 * (`aes128gcm` when it is `standard`, else the legacy `aesgcm`), authorised with a VAPID JWT, and POSTed
 * through the one guarded HTTP client; retries, backoff, Retry-After and parking are the worker's, as for
 * any delivery. Headers as Mastodon's Web::PushNotificationWorker sends them (TTL 48 hours, Urgency normal,
 * no Topic).
 */
import type { Context } from "../context.js";
import { removeSubscription } from "../core/push-subscriptions.js";
import type { OutboundResponse } from "../federation/fetch.js";
import { findLocalUser } from "../store/accounts.js";
import { liveTokenIds } from "../store/oauth-tokens.js";
import { findPushSubscription, type PushSubscriptionRow } from "../store/push-subscriptions.js";
import { findNotification } from "../store/timelines.js";
import { encryptAes128gcm, encryptAesgcm } from "./encryption.js";
import { pushPayload } from "./payload.js";
import type { PushJob } from "./subscriber.js";
import { vapidJwt, vapidKeys } from "./vapid.js";

/** How long the push service keeps an undelivered message; also the age after which we stop trying. */
export const PUSH_TTL_SECONDS = 48 * 60 * 60;

/**
 * Sends one queued push. Throws (the worker gives the job up) when there is nothing to send any more: the
 * subscription or the notification is gone, the token was revoked (its subscription goes with it), or the
 * notification is older than the TTL. A 404 or 410 from
 * the push service means the subscription expired: it is removed.
 */
export async function sendPush(
  ctx: Context,
  body: string,
  options: { timeoutMs: number; now: number },
): Promise<OutboundResponse> {
  const job = JSON.parse(body) as PushJob;
  const db = ctx.store.db;
  const subscription = findPushSubscription(db, job.subscriptionId);
  if (!subscription) throw new Error("the push subscription was removed");
  if (!liveTokenIds(db, [subscription.tokenId]).has(subscription.tokenId)) {
    removeSubscription(ctx, subscription.id);
    throw new Error("the subscription's access token was revoked");
  }
  const notification = findNotification(db, job.notificationId);
  if (!notification) throw new Error("the notification was dismissed");
  if (notification.createdAt < options.now - PUSH_TTL_SECONDS * 1000)
    throw new Error("the notification is too old to push");
  const payload = pushPayload(ctx, subscription, notification);
  if (payload === null) throw new Error("the notification's status or sender is gone");

  const response = await ctx.federation.plain({
    method: "POST",
    url: subscription.endpoint,
    ...(await encrypted(ctx, subscription, Buffer.from(payload))),
    timeoutMs: options.timeoutMs,
  });
  if (response.status === 404 || response.status === 410) {
    removeSubscription(ctx, subscription.id);
    ctx.log.info(
      { subscription: subscription.id, status: response.status },
      "push subscription expired at its push service: removed",
    );
  }
  return response;
}

async function encrypted(ctx: Context, subscription: PushSubscriptionRow, payload: Buffer) {
  const keys = vapidKeys(ctx.store.db);
  // The JWT is checked by the push service against the real time, whatever clock the queue runs on.
  const jwt = await vapidJwt(keys, subscription.endpoint, contactUri(ctx), Date.now());
  const common = {
    "Content-Type": "application/octet-stream",
    TTL: String(PUSH_TTL_SECONDS),
    Urgency: "normal",
  };
  if (subscription.standard) {
    return {
      headers: {
        ...common,
        "Content-Encoding": "aes128gcm",
        Authorization: `vapid t=${jwt},k=${keys.publicKey}`,
      },
      body: encryptAes128gcm(payload, subscription),
    };
  }
  const message = encryptAesgcm(payload, subscription);
  return {
    headers: {
      ...common,
      "Content-Encoding": "aesgcm",
      Encryption: `salt=${message.salt.toString("base64url")}`,
      "Crypto-Key": `dh=${message.serverPublicKey.toString("base64url")};p256ecdsa=${keys.publicKey}`,
      Authorization: `WebPush ${jwt}`,
    },
    body: message.body,
  };
}

/** The VAPID `sub`: the contact e-mail address (config, else the owner's), else the instance's URL. */
function contactUri(ctx: Context): string {
  const email = ctx.config.server.contact_email || findLocalUser(ctx.store.db)?.user.email;
  return email ? `mailto:${email}` : ctx.urls.origin;
}
