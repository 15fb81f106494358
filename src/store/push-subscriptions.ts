/** Web Push subscriptions: one per access token. */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { oauthTokens, pushSubscriptions } from "./schema.js";

export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;

export function findPushSubscriptionByToken(db: Db, tokenId: string): PushSubscriptionRow | null {
  return db.select().from(pushSubscriptions).where(eq(pushSubscriptions.tokenId, tokenId)).get() ?? null;
}

export function findPushSubscription(db: Db, id: string): PushSubscriptionRow | null {
  return db.select().from(pushSubscriptions).where(eq(pushSubscriptions.id, id)).get() ?? null;
}

/** Every subscription, and whether its token is still valid (neither revoked nor expired). */
export function pushSubscriptionsWithTokenState(
  db: Db,
  now = Date.now(),
): { subscription: PushSubscriptionRow; live: boolean }[] {
  return withTokenState(db)
    .all({ now })
    .map((r) => ({ subscription: r.subscription, live: r.live === 1 }));
}

// Every notification asks (most instances have no subscription at all): prepared once.
const withTokenState = preparedPerDb((db) =>
  db
    .select({
      subscription: pushSubscriptions,
      live: sql<number>`${oauthTokens.revokedAt} IS NULL AND (${oauthTokens.expiresAt} IS NULL OR ${oauthTokens.expiresAt} > ${sql.placeholder("now")})`,
    })
    .from(pushSubscriptions)
    .innerJoin(oauthTokens, eq(oauthTokens.id, pushSubscriptions.tokenId))
    .prepare(),
);
