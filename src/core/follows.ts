import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { accounts, follows } from "../store/schema.js";
import { UserError } from "./account.js";
import { addNotification, requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { dropAuthorFromFeeds } from "./feeds.js";
import { commit } from "./unit-of-work.js";
import { isBlocked } from "./visibility.js";

export type FollowRow = typeof follows.$inferSelect;

export function findFollow(ctx: Context, followerId: string, followingId: string): FollowRow | null {
  return (
    ctx.store.db
      .select()
      .from(follows)
      .where(and(eq(follows.followerId, followerId), eq(follows.followingId, followingId)))
      .get() ?? null
  );
}

/** The follow with this activity id, sent by `followerId`. */
export function findFollowByUri(ctx: Context, uri: string, followerId: string): FollowRow | null {
  return (
    ctx.store.db
      .select()
      .from(follows)
      .where(and(eq(follows.uri, uri), eq(follows.followerId, followerId)))
      .get() ?? null
  );
}

function requireInbox(account: AccountRow): void {
  if (!account.inboxUrl) throw new UserError(`@${account.username}@${account.domain} has no inbox`, 422);
}

/** The local account follows `target`: pending until the remote server sends Accept. */
export function follow(
  ctx: Context,
  target: AccountRow,
  options: { reblogs?: boolean; notify?: boolean; languages?: string[] | null } = {},
): FollowRow {
  const local = requireLocalAccount(ctx);
  if (target.id === local.id) throw new UserError("you cannot follow yourself");
  if (target.domain === null) throw new UserError("no such account", 404);
  if (isBlocked(ctx.store.db, local.id, target.id))
    throw new UserError("unblock this account before following it", 422);
  requireInbox(target);
  return commit(ctx, (uow) => {
    const existing = findFollow(ctx, local.id, target.id);
    if (existing) {
      const changes = {
        showReblogs: options.reblogs ?? existing.showReblogs,
        notify: options.notify ?? existing.notify,
        languages: options.languages === undefined ? existing.languages : options.languages,
      };
      ctx.store.db.update(follows).set(changes).where(eq(follows.id, existing.id)).run();
      return { ...existing, ...changes };
    }
    const id = newId();
    const row: FollowRow = {
      id,
      followerId: local.id,
      followingId: target.id,
      state: "pending",
      uri: `${local.uri}#follows/${id}`,
      showReblogs: options.reblogs ?? true,
      notify: options.notify ?? false,
      languages: options.languages ?? null,
      createdAt: Date.now(),
    };
    ctx.store.db.insert(follows).values(row).run();
    uow.record({ type: "Followed", follow: row, follower: local, target });
    return row;
  });
}

export function unfollow(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const existing = findFollow(ctx, local.id, target.id);
    if (!existing) return;
    ctx.store.db.delete(follows).where(eq(follows.id, existing.id)).run();
    dropAuthorFromFeeds(ctx, target.id);
    uow.record({ type: "Unfollowed", follow: existing, follower: local, target });
  });
}

/** Tells the follower's side that its Follow was accepted (or refused, or has ended). */
function answer(uow: UnitOfWork, local: AccountRow, follower: AccountRow, row: FollowRow, accepted: boolean) {
  const event = { follow: row, follower, target: local };
  uow.record(accepted ? { type: "FollowAccepted", ...event } : { type: "FollowRejected", ...event });
}

/** A remote Follow of the local account: accepted at once, or held as a request when the account is locked. */
export function receiveFollow(ctx: Context, follower: AccountRow, activityUri: string): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    if (isBlocked(ctx.store.db, local.id, follower.id)) {
      const rejected: FollowRow = {
        id: newId(),
        followerId: follower.id,
        followingId: local.id,
        state: "pending",
        uri: activityUri,
        showReblogs: true,
        notify: false,
        languages: null,
        createdAt: Date.now(),
      };
      answer(uow, local, follower, rejected, false);
      return;
    }
    const existing = findFollow(ctx, follower.id, local.id);
    if (existing) {
      // A repeated Follow (the remote side lost our Accept): record its id and answer again.
      ctx.store.db.update(follows).set({ uri: activityUri }).where(eq(follows.id, existing.id)).run();
      if (existing.state === "accepted")
        answer(uow, local, follower, { ...existing, uri: activityUri }, true);
      return;
    }
    const row: FollowRow = {
      id: newId(),
      followerId: follower.id,
      followingId: local.id,
      state: local.locked ? "pending" : "accepted",
      uri: activityUri,
      showReblogs: true,
      notify: false,
      languages: null,
      createdAt: Date.now(),
    };
    ctx.store.db.insert(follows).values(row).run();
    if (row.state === "accepted") {
      answer(uow, local, follower, row, true);
      addNotification(ctx, uow, "follow", follower.id);
    } else {
      addNotification(ctx, uow, "follow_request", follower.id);
    }
  });
}

export function authorizeFollowRequest(ctx: Context, follower: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const row = findFollow(ctx, follower.id, local.id);
    if (row?.state !== "pending") throw new UserError("there is no follow request from this account", 404);
    ctx.store.db.update(follows).set({ state: "accepted" }).where(eq(follows.id, row.id)).run();
    answer(uow, local, follower, row, true);
    addNotification(ctx, uow, "follow", follower.id);
  });
}

export function rejectFollowRequest(ctx: Context, follower: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const row = findFollow(ctx, follower.id, local.id);
    if (row?.state !== "pending") throw new UserError("there is no follow request from this account", 404);
    ctx.store.db.delete(follows).where(eq(follows.id, row.id)).run();
    answer(uow, local, follower, row, false);
  });
}

/** The local account removes a follower: the follow ends and the follower's server gets a Reject of it. */
export function removeFromFollowers(ctx: Context, follower: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const row = findFollow(ctx, follower.id, local.id);
    if (!row) return;
    ctx.store.db.delete(follows).where(eq(follows.id, row.id)).run();
    answer(uow, local, follower, row, false);
  });
}

/** Drops a follower without telling it (its server is gone, or it unfollowed). */
export function removeFollower(ctx: Context, follower: AccountRow): void {
  const local = requireLocalAccount(ctx);
  ctx.store.db
    .delete(follows)
    .where(and(eq(follows.followerId, follower.id), eq(follows.followingId, local.id)))
    .run();
}

/** Accept of our Follow: `followUri` is the Follow's id when the Accept names it. */
export function receiveFollowAccepted(ctx: Context, target: AccountRow, followUri: string | null): boolean {
  const local = requireLocalAccount(ctx);
  const row = findFollow(ctx, local.id, target.id);
  if (!row || (followUri && row.uri && row.uri !== followUri)) return false;
  ctx.store.db.update(follows).set({ state: "accepted" }).where(eq(follows.id, row.id)).run();
  return true;
}

/** Reject of our Follow, or the remote side ending an accepted follow. */
export function receiveFollowRejected(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, () => {
    ctx.store.db
      .delete(follows)
      .where(and(eq(follows.followerId, local.id), eq(follows.followingId, target.id)))
      .run();
    dropAuthorFromFeeds(ctx, target.id);
  });
}

/**
 * A remote account moved to `target` (which lists it in alsoKnownAs; the inbox checked that): one change that
 * records the move, follows the new account in place of the old one (keeping the follow's options) and tells
 * the local account.
 */
export function receiveMove(ctx: Context, actor: AccountRow, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    ctx.store.db.update(accounts).set({ movedToUri: target.uri }).where(eq(accounts.id, actor.id)).run();
    const existing = findFollow(ctx, local.id, actor.id);
    if (existing && target.id !== local.id && !isBlocked(ctx.store.db, local.id, target.id)) {
      follow(ctx, target, { reblogs: existing.showReblogs, notify: existing.notify });
      unfollow(ctx, actor);
    }
    addNotification(ctx, uow, "moved", actor.id);
  });
}
