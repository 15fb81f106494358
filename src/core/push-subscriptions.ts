/**
 * Web Push subscriptions as Mastodon has them: one per access token (a new one replaces the old), holding
 * the push service endpoint, the subscriber's keys, which notification types it wants (`alerts`) and from
 * whom (`policy`). What is pushed, and how, lives in src/push/.
 */
import { createPublicKey } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { newId } from "../store/ids.js";
import { transaction } from "../store/open.js";
import { findPushSubscriptionByToken, type PushSubscriptionRow } from "../store/push-subscriptions.js";
import { pushSubscriptions } from "../store/schema.js";
import { UserError } from "./account.js";

/** Every alert Mastodon 4.5 knows (`data[alerts][…]`); the subscription entity lists them all. */
export const PUSH_ALERT_TYPES = [
  "mention",
  "quote",
  "status",
  "reblog",
  "follow",
  "follow_request",
  "favourite",
  "poll",
  "update",
  "quoted_update",
  "admin.sign_up",
  "admin.report",
] as const;

export const PUSH_POLICIES = ["all", "followed", "follower", "none"] as const;
export type PushPolicy = (typeof PUSH_POLICIES)[number];

const ENDPOINT_MAX = 2048;

export interface SubscriptionInput {
  endpoint: string | undefined;
  p256dh: string | undefined;
  auth: string | undefined;
  standard: boolean;
  /** Only the alerts named true are on. */
  alerts: Record<string, boolean>;
  policy: string | undefined;
}

/** The `data` part, the only one a change may touch; what is left out stays as it was. */
export interface SubscriptionChange {
  alerts: Record<string, boolean> | undefined;
  policy: string | undefined;
}

function fail(message: string): never {
  throw new UserError(`Validation failed: ${message}`);
}

/** Base64 or base64url (with or without padding), as apps send keys, or null when it is neither. */
function decodeBase64(value: string): Buffer | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
  return Buffer.from(value, "base64");
}

function readEndpoint(ctx: Context, endpoint: string | undefined): string {
  if (!endpoint) fail("Endpoint can't be blank");
  if (endpoint.length > ENDPOINT_MAX) fail("Endpoint is too long");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    fail("Endpoint is not a valid URL");
  }
  // Push services are https; plain http only where the server itself runs on http (a trial, the tests).
  const allowed = ctx.config.server.protocol === "http" ? ["https:", "http:"] : ["https:"];
  if (!allowed.includes(url.protocol) || url.username || url.password) fail("Endpoint is not a valid URL");
  return endpoint;
}

/** The subscriber's P-256 public key: an uncompressed point on the curve, kept as base64url. */
function readP256dh(value: string | undefined): string {
  const key = value ? decodeBase64(value) : null;
  if (key?.length !== 65 || key[0] !== 4) fail("Key p256dh must be an uncompressed P-256 public key");
  try {
    createPublicKey({
      key: {
        kty: "EC",
        crv: "P-256",
        x: key.subarray(1, 33).toString("base64url"),
        y: key.subarray(33).toString("base64url"),
      },
      format: "jwk",
    });
  } catch {
    fail("Key p256dh is not a point on the P-256 curve");
  }
  return key.toString("base64url");
}

function readAuth(value: string | undefined): string {
  const secret = value ? decodeBase64(value) : null;
  if (secret?.length !== 16) fail("Key auth must be 16 bytes, base64 encoded");
  return secret.toString("base64url");
}

function readPolicy(policy: string | undefined): PushPolicy | undefined {
  if (policy === undefined || policy === "") return undefined;
  if (!(PUSH_POLICIES as readonly string[]).includes(policy))
    fail(`Policy must be one of ${PUSH_POLICIES.join(", ")}`);
  return policy as PushPolicy;
}

/** The alerts to keep: the known types, on when given true (unknown types are ignored, as Mastodon does). */
function readAlerts(alerts: Record<string, boolean>): Record<string, boolean> {
  return Object.fromEntries(PUSH_ALERT_TYPES.map((type) => [type, alerts[type] === true]));
}

/** Subscribes the token, replacing its subscription if it had one. */
export function subscribe(
  ctx: Context,
  token: { id: string; accessToken: string },
  input: SubscriptionInput,
): PushSubscriptionRow {
  const row: PushSubscriptionRow = {
    id: newId(),
    tokenId: token.id,
    accessToken: token.accessToken,
    endpoint: readEndpoint(ctx, input.endpoint),
    p256dh: readP256dh(input.p256dh),
    auth: readAuth(input.auth),
    standard: input.standard,
    alerts: readAlerts(input.alerts),
    policy: readPolicy(input.policy) ?? "all",
    createdAt: Date.now(),
  };
  transaction(ctx.store, () => {
    ctx.store.db.delete(pushSubscriptions).where(eq(pushSubscriptions.tokenId, token.id)).run();
    ctx.store.db.insert(pushSubscriptions).values(row).run();
  });
  return row;
}

/**
 * Changes what the token's subscription receives. Mastodon replaces its whole `data`; here the alerts are
 * replaced when given and the policy when given, so an app that sends only one of them keeps the other.
 */
export function changeSubscription(ctx: Context, tokenId: string, change: SubscriptionChange) {
  const current = findPushSubscriptionByToken(ctx.store.db, tokenId);
  if (!current) throw new UserError("Record not found", 404);
  const alerts = change.alerts === undefined ? current.alerts : readAlerts(change.alerts);
  const policy = readPolicy(change.policy) ?? current.policy;
  ctx.store.db
    .update(pushSubscriptions)
    .set({ alerts, policy })
    .where(eq(pushSubscriptions.id, current.id))
    .run();
  return { ...current, alerts, policy };
}

/** Removes the token's subscription; nothing to remove is not an error. */
export function unsubscribe(ctx: Context, tokenId: string): void {
  ctx.store.db.delete(pushSubscriptions).where(eq(pushSubscriptions.tokenId, tokenId)).run();
}

/** The push service said the subscription is gone (404, 410), or its token no longer exists. */
export function removeSubscription(ctx: Context, id: string): void {
  ctx.store.db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id)).run();
}
