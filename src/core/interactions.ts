import { and, eq, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { type AccountRow, localAccountRef } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { blocks, bookmarks, favourites, follows, statuses } from "../store/schema.js";
import { findReblog, findStatusById, findStatusByUri, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, requireLocalAccount } from "./common.js";
import { dropAuthorFromFeeds } from "./feeds.js";
import { requireInteractionAllowed } from "./interaction-policy.js";
import { bumpReblogs, removeBoost, type Visibility } from "./statuses.js";
import { commit } from "./unit-of-work.js";

/** Mastodon's limit of pinned statuses, as the instance entity advertises it. */
export const MAX_PINNED_STATUSES = 5;

/** A status the local account may interact with: it exists, is not deleted, and is not itself a boost. */
function interactable(ctx: Context, id: string): StatusRow {
  const status = findStatusById(ctx.store.db, id);
  if (!status || status.deletedAt !== null) throw new UserError("status not found", 404);
  if (status.reblogOfId) return interactable(ctx, status.reblogOfId);
  return status;
}

export function bumpFavourites(ctx: Context, statusId: string, delta: number) {
  ctx.store.db
    .update(statuses)
    .set({ favouritesCount: sql`max(0, ${statuses.favouritesCount} + ${delta})` })
    .where(eq(statuses.id, statusId))
    .run();
}

export function favourite(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  requireInteractionAllowed(ctx, status, "like");
  commit(ctx, (uow) => {
    const favId = newId();
    const uri = `${local.uri}#likes/${favId}`;
    const inserted = ctx.store.db
      .insert(favourites)
      .values({ id: favId, accountId: local.id, statusId: status.id, uri, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return;
    bumpFavourites(ctx, status.id, 1);
    uow.record({ type: "Favourited", accountId: local.id, status, uri });
  });
  return status;
}

export function unfavourite(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  commit(ctx, (uow) => {
    const row = ctx.store.db
      .select()
      .from(favourites)
      .where(and(eq(favourites.accountId, local.id), eq(favourites.statusId, status.id)))
      .get();
    if (!row) return;
    ctx.store.db.delete(favourites).where(eq(favourites.id, row.id)).run();
    bumpFavourites(ctx, status.id, -1);
    const uri = row.uri ?? `${local.uri}#likes/${row.id}`;
    uow.record({ type: "Unfavourited", accountId: local.id, status, uri });
  });
  return status;
}

/** Boosts a status; returns the boost's id. Boosting twice returns the existing boost. */
export function reblog(ctx: Context, id: string, visibility: Visibility = "public"): string {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  if (status.visibility === "private" || status.visibility === "direct") {
    if (status.accountId !== local.id) throw new UserError("this status cannot be boosted", 422);
  }
  const existing = findReblog(ctx.store.db, local.id, status.id);
  if (existing) return existing.id;
  requireInteractionAllowed(ctx, status, "announce");
  return commit(ctx, (uow) => {
    const boostId = newId();
    ctx.store.db
      .insert(statuses)
      .values({
        id: boostId,
        uri: ctx.urls.status(local.username, boostId),
        url: ctx.urls.statusPage(local.username, boostId),
        accountId: local.id,
        local: true,
        reblogOfId: status.id,
        visibility: visibility === "direct" ? "public" : visibility,
        createdAt: Date.now(),
      })
      .run();
    bumpReblogs(ctx, status.id, 1);
    const boost = findStatusById(ctx.store.db, boostId);
    if (!boost) throw new Error("boost vanished inside its transaction");
    uow.record({ type: "Reblogged", boost, target: status });
    return boostId;
  });
}

export function unreblog(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  const boost = findReblog(ctx.store.db, local.id, status.id);
  if (!boost) return status;
  commit(ctx, (uow) => removeBoost(ctx, uow, boost));
  return status;
}

export function bookmark(ctx: Context, id: string): StatusRow {
  const status = interactable(ctx, id);
  ctx.store.db
    .insert(bookmarks)
    .values({ id: newId(), statusId: status.id, createdAt: Date.now() })
    .onConflictDoNothing()
    .run();
  return status;
}

export function unbookmark(ctx: Context, id: string): StatusRow {
  const status = interactable(ctx, id);
  ctx.store.db.delete(bookmarks).where(eq(bookmarks.statusId, status.id)).run();
  return status;
}

/** Pins a local status to the profile (the featured collection). */
export function pin(ctx: Context, id: string, pinned: boolean): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  if (status.accountId !== local.id) throw new UserError("only your own statuses can be pinned", 422);
  if (pinned && (status.visibility === "private" || status.visibility === "direct"))
    throw new UserError("only public and unlisted statuses can be pinned", 422);
  if (pinned && status.pinnedAt === null && pinnedCount(ctx, local.id) >= MAX_PINNED_STATUSES)
    throw new UserError(`at most ${MAX_PINNED_STATUSES} statuses can be pinned`, 422);
  if ((status.pinnedAt !== null) === pinned) return status;
  commit(ctx, (uow) => {
    const pinnedAt = pinned ? Date.now() : null;
    ctx.store.db.update(statuses).set({ pinnedAt }).where(eq(statuses.id, status.id)).run();
    uow.record({ type: pinned ? "StatusPinned" : "StatusUnpinned", status: { ...status, pinnedAt } });
  });
  return status;
}

function pinnedCount(ctx: Context, accountId: string): number {
  const row = ctx.store.db
    .select({ n: sql<number>`count(*)` })
    .from(statuses)
    .where(and(eq(statuses.accountId, accountId), isNotNull(statuses.pinnedAt), isNull(statuses.deletedAt)))
    .get();
  return row?.n ?? 0;
}

/** The follows between two accounts, both ways, with their accounts: a block ends them. */
function followsBetween(ctx: Context, a: AccountRow, b: AccountRow) {
  const rows = ctx.store.db
    .select()
    .from(follows)
    .where(
      or(
        and(eq(follows.followerId, a.id), eq(follows.followingId, b.id)),
        and(eq(follows.followerId, b.id), eq(follows.followingId, a.id)),
      ),
    )
    .all();
  return rows.map((follow) =>
    follow.followerId === a.id ? { follow, follower: a, target: b } : { follow, follower: b, target: a },
  );
}

function endFollowsBetween(ctx: Context, a: AccountRow, b: AccountRow) {
  const ended = followsBetween(ctx, a, b);
  for (const { follow } of ended) ctx.store.db.delete(follows).where(eq(follows.id, follow.id)).run();
  dropAuthorFromFeeds(ctx, b.id);
  return ended;
}

export function block(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  if (target.id === local.id) throw new UserError("you cannot block yourself");
  commit(ctx, (uow) => {
    const blockId = newId();
    const uri = `${local.uri}#blocks/${blockId}`;
    const inserted = ctx.store.db
      .insert(blocks)
      .values({ id: blockId, accountId: local.id, targetId: target.id, uri, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return;
    // A block ends following both ways.
    const endedFollows = endFollowsBetween(ctx, local, target);
    uow.record({ type: "Blocked", account: local, target, uri, endedFollows });
  });
}

export function unblock(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const row = ctx.store.db
      .select()
      .from(blocks)
      .where(and(eq(blocks.accountId, local.id), eq(blocks.targetId, target.id)))
      .get();
    if (!row) return;
    ctx.store.db.delete(blocks).where(eq(blocks.id, row.id)).run();
    uow.record({
      type: "Unblocked",
      account: local,
      target,
      uri: row.uri ?? `${local.uri}#blocks/${row.id}`,
    });
  });
}

// ---- Inbound: what other servers' actors do to us ----

/** A remote Like of a local status. */
export function receiveLike(
  ctx: Context,
  actor: AccountRow,
  objectUri: string,
  activityUri: string,
): boolean {
  const status = findStatusByUri(ctx.store.db, objectUri);
  if (!status || status.deletedAt !== null || !status.local) return false;
  return commit(ctx, (uow) => {
    const inserted = ctx.store.db
      .insert(favourites)
      .values({
        id: newId(),
        accountId: actor.id,
        statusId: status.id,
        uri: activityUri,
        createdAt: Date.now(),
      })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return false;
    bumpFavourites(ctx, status.id, 1);
    addNotification(ctx, uow, "favourite", actor.id, status.id);
    return true;
  });
}

/** Undo of a Like, by the Like's id or, when the Undo only names the object, by (actor, status). */
export function receiveUndoLike(
  ctx: Context,
  actor: AccountRow,
  likeUri: string,
  objectUri: string | null,
): boolean {
  let row = ctx.store.db
    .select()
    .from(favourites)
    .where(and(eq(favourites.uri, likeUri), eq(favourites.accountId, actor.id)))
    .get();
  if (!row && objectUri) {
    const status = findStatusByUri(ctx.store.db, objectUri);
    if (status) {
      row = ctx.store.db
        .select()
        .from(favourites)
        .where(and(eq(favourites.statusId, status.id), eq(favourites.accountId, actor.id)))
        .get();
    }
  }
  if (!row) return false;
  const found = row;
  commit(ctx, () => {
    ctx.store.db.delete(favourites).where(eq(favourites.id, found.id)).run();
    bumpFavourites(ctx, found.statusId, -1);
  });
  return true;
}

/** A remote Announce of a status we know (the inbox fetches unknown ones first). */
export function receiveAnnounce(
  ctx: Context,
  actor: AccountRow,
  target: StatusRow,
  activity: { uri: string; published: number; visibility: Visibility },
): string | null {
  if (target.deletedAt !== null) return null;
  if (target.visibility === "private" || target.visibility === "direct") return null;
  const existing = findStatusByUri(ctx.store.db, activity.uri);
  if (existing) return existing.id;
  const local = localAccountRef(ctx.store.db);
  return commit(ctx, (uow) => {
    const id = newId(activity.published);
    ctx.store.db
      .insert(statuses)
      .values({
        id,
        uri: activity.uri,
        accountId: actor.id,
        local: false,
        reblogOfId: target.id,
        visibility: activity.visibility,
        createdAt: activity.published,
      })
      .run();
    bumpReblogs(ctx, target.id, 1);
    if (local) {
      if (target.accountId === local.id) addNotification(ctx, uow, "reblog", actor.id, target.id);
    }
    const boost = findStatusById(ctx.store.db, id);
    if (boost) uow.record({ type: "Reblogged", boost, target });
    return id;
  });
}

export function receiveUndoAnnounce(ctx: Context, actor: AccountRow, announceUri: string): boolean {
  const boost = findStatusByUri(ctx.store.db, announceUri);
  if (!boost?.reblogOfId || boost.accountId !== actor.id) return false;
  commit(ctx, (uow) => removeBoost(ctx, uow, boost));
  return true;
}

/**
 * A remote account blocks us: follows both ways end, and the block is kept (the API shows `blocked_by`) until
 * it is undone.
 */
export function receiveBlock(ctx: Context, actor: AccountRow, uri: string | null): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, () => {
    ctx.store.db
      .insert(blocks)
      .values({ id: newId(), accountId: actor.id, targetId: local.id, uri, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    endFollowsBetween(ctx, local, actor);
  });
}

export function receiveUndoBlock(ctx: Context, actor: AccountRow): void {
  const local = requireLocalAccount(ctx);
  ctx.store.db
    .delete(blocks)
    .where(and(eq(blocks.accountId, actor.id), eq(blocks.targetId, local.id)))
    .run();
}

/** Whether the local account follows someone, used to decide whether their content is wanted at all. */
export function hasFollowRelation(ctx: Context, accountId: string): boolean {
  const local = localAccountRef(ctx.store.db);
  if (!local) return false;
  return (
    ctx.store.db
      .select({ id: follows.id })
      .from(follows)
      .where(
        sql`(${follows.followerId} = ${local.id} AND ${follows.followingId} = ${accountId}) OR (${follows.followerId} = ${accountId} AND ${follows.followingId} = ${local.id})`,
      )
      .get() !== undefined
  );
}
