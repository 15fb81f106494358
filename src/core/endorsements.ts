/**
 * Endorsements (Mastodon's "featured accounts", once "account pins"): accounts the local account follows and
 * features on its profile. Only a followed account can be endorsed, and an endorsement ends with the follow;
 * that part subscribes to the domain events (registerEndorsements) instead of living in every way a follow
 * can end (unfollow, block, domain block, a remote Reject).
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { endorsements } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { findFollow } from "./follows.js";

export function endorse(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  if (findFollow(ctx, local.id, target.id)?.state !== "accepted")
    throw new UserError("you must already follow the account you want to endorse");
  ctx.store.db
    .insert(endorsements)
    .values({ id: newId(), targetId: target.id, createdAt: Date.now() })
    .onConflictDoNothing()
    .run();
}

export function unendorse(ctx: Context, target: AccountRow): void {
  requireLocalAccount(ctx);
  ctx.store.db.delete(endorsements).where(eq(endorsements.targetId, target.id)).run();
}

/** A follow of the local account's ended (by it, by a block, or refused by the other side): so does its endorsement. */
export function registerEndorsements(ctx: Context): void {
  const end = (targetId: string) =>
    ctx.store.db.delete(endorsements).where(eq(endorsements.targetId, targetId)).run();
  ctx.events.onTransaction((event) => {
    switch (event.type) {
      case "Unfollowed":
      case "FollowRejected":
        if (event.follower.domain === null) end(event.target.id);
        return;
      case "Blocked":
        for (const ended of event.endedFollows) if (ended.follower.domain === null) end(ended.target.id);
        return;
    }
  });
}
