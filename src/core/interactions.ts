import { and, eq, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { targetInboxes } from "../federation/delivery/enqueue.js";
import { renderAnnounce, renderResponse, renderSimple } from "../federation/vocab/note.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { accounts, blocks, bookmarks, favourites, follows, homeFeed, statuses } from "../store/schema.js";
import {
  findReblog,
  findStatusById,
  findStatusByUri,
  loadStatusView,
  type StatusRow,
} from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, commit, followerInboxes, requireLocalAccount } from "./common.js";
import { findFollow } from "./follows.js";
import { bumpReblogs, type Visibility, visibilityFrom } from "./statuses.js";

function authorOf(ctx: Context, status: StatusRow): AccountRow {
  const author = ctx.store.db.select().from(accounts).where(eq(accounts.id, status.accountId)).get();
  if (!author) throw new Error(`status ${status.id} has no author`);
  return author;
}

/** A status the local account may interact with: it exists, is not deleted, and is not itself a boost. */
function interactable(ctx: Context, id: string): StatusRow {
  const status = findStatusById(ctx.store.db, id);
  if (!status || status.deletedAt !== null) throw new UserError("status not found", 404);
  if (status.reblogOfId) return interactable(ctx, status.reblogOfId);
  return status;
}

const remoteInbox = (account: AccountRow) => (account.domain !== null ? targetInboxes([account]) : []);

function bumpFavourites(ctx: Context, statusId: string, delta: number) {
  ctx.store.db
    .update(statuses)
    .set({ favouritesCount: sql`max(0, ${statuses.favouritesCount} + ${delta})` })
    .where(eq(statuses.id, statusId))
    .run();
}

export function favourite(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  commit(ctx, (effects) => {
    const favId = newId();
    const uri = `${local.uri}#likes/${favId}`;
    const inserted = ctx.store.db
      .insert(favourites)
      .values({ id: favId, accountId: local.id, statusId: status.id, uri, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return;
    bumpFavourites(ctx, status.id, 1);
    const author = authorOf(ctx, status);
    effects.deliver(ctx, renderSimple("Like", uri, local.uri, status.uri), remoteInbox(author), local.id);
  });
  return status;
}

export function unfavourite(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  commit(ctx, (effects) => {
    const row = ctx.store.db
      .select()
      .from(favourites)
      .where(and(eq(favourites.accountId, local.id), eq(favourites.statusId, status.id)))
      .get();
    if (!row) return;
    ctx.store.db.delete(favourites).where(eq(favourites.id, row.id)).run();
    bumpFavourites(ctx, status.id, -1);
    const like = renderSimple("Like", row.uri ?? `${local.uri}#likes/${row.id}`, local.uri, status.uri);
    effects.deliver(
      ctx,
      renderResponse("Undo", `${like.id}/undo`, local.uri, like),
      remoteInbox(authorOf(ctx, status)),
      local.id,
    );
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
  return commit(ctx, (effects) => {
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
    ctx.store.db.insert(homeFeed).values({ statusId: boostId, accountId: local.id }).run();
    const view = loadStatusView(ctx.store.db, boostId);
    if (!view) throw new Error("boost vanished inside its transaction");
    const inboxes = [...new Set([...followerInboxes(ctx, local.id), ...remoteInbox(authorOf(ctx, status))])];
    effects.deliver(ctx, renderAnnounce(view), inboxes, local.id);
    effects.created.push(boostId);
    return boostId;
  });
}

export function unreblog(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const status = interactable(ctx, id);
  const boost = findReblog(ctx.store.db, local.id, status.id);
  if (!boost) return status;
  const view = loadStatusView(ctx.store.db, boost.id);
  commit(ctx, (effects) => {
    ctx.store.db.delete(statuses).where(eq(statuses.id, boost.id)).run();
    bumpReblogs(ctx, status.id, -1);
    if (view) {
      const announce = renderAnnounce(view);
      const inboxes = [
        ...new Set([...followerInboxes(ctx, local.id), ...remoteInbox(authorOf(ctx, status))]),
      ];
      effects.deliver(
        ctx,
        renderResponse("Undo", `${announce.id}/undo`, local.uri, announce),
        inboxes,
        local.id,
      );
    }
    effects.deleted.push(boost.id);
  });
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
  ctx.store.db
    .update(statuses)
    .set({ pinnedAt: pinned ? (status.pinnedAt ?? Date.now()) : null })
    .where(eq(statuses.id, status.id))
    .run();
  return status;
}

export function block(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  if (target.id === local.id) throw new UserError("you cannot block yourself");
  commit(ctx, (effects) => {
    const blockId = newId();
    const uri = `${local.uri}#blocks/${blockId}`;
    const inserted = ctx.store.db
      .insert(blocks)
      .values({ id: blockId, accountId: local.id, targetId: target.id, uri, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return;
    // A block ends following both ways.
    ctx.store.db.run(
      sql`DELETE FROM follows WHERE (follower_id = ${local.id} AND following_id = ${target.id}) OR (follower_id = ${target.id} AND following_id = ${local.id})`,
    );
    ctx.store.db.delete(homeFeed).where(eq(homeFeed.accountId, target.id)).run();
    effects.deliver(ctx, renderSimple("Block", uri, local.uri, target.uri), remoteInbox(target), local.id);
  });
}

export function unblock(ctx: Context, target: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, (effects) => {
    const row = ctx.store.db
      .select()
      .from(blocks)
      .where(and(eq(blocks.accountId, local.id), eq(blocks.targetId, target.id)))
      .get();
    if (!row) return;
    ctx.store.db.delete(blocks).where(eq(blocks.id, row.id)).run();
    const activity = renderSimple("Block", row.uri ?? `${local.uri}#blocks/${row.id}`, local.uri, target.uri);
    effects.deliver(
      ctx,
      renderResponse("Undo", `${activity.id}/undo`, local.uri, activity),
      remoteInbox(target),
      local.id,
    );
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
  return commit(ctx, (effects) => {
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
    effects.notified(addNotification(ctx, "favourite", actor.id, status.id));
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
  activity: { uri: string; published: number; to: string[]; cc: string[] },
): string | null {
  if (target.deletedAt !== null) return null;
  if (target.visibility === "private" || target.visibility === "direct") return null;
  const existing = findStatusByUri(ctx.store.db, activity.uri);
  if (existing) return existing.id;
  const local = findLocalUser(ctx.store.db)?.account ?? null;
  return commit(ctx, (effects) => {
    const id = newId(activity.published);
    ctx.store.db
      .insert(statuses)
      .values({
        id,
        uri: activity.uri,
        accountId: actor.id,
        local: false,
        reblogOfId: target.id,
        visibility: visibilityFrom(activity.to, activity.cc, actor.followersUrl),
        createdAt: activity.published,
      })
      .run();
    bumpReblogs(ctx, target.id, 1);
    if (local) {
      const follow = findFollow(ctx, local.id, actor.id);
      if (follow?.state === "accepted" && follow.showReblogs && target.accountId !== local.id) {
        ctx.store.db
          .insert(homeFeed)
          .values({ statusId: id, accountId: actor.id })
          .onConflictDoNothing()
          .run();
      }
      if (target.accountId === local.id)
        effects.notified(addNotification(ctx, "reblog", actor.id, target.id));
    }
    effects.created.push(id);
    return id;
  });
}

export function receiveUndoAnnounce(ctx: Context, actor: AccountRow, announceUri: string): boolean {
  const boost = findStatusByUri(ctx.store.db, announceUri);
  if (!boost?.reblogOfId || boost.accountId !== actor.id) return false;
  const targetId = boost.reblogOfId;
  commit(ctx, (effects) => {
    ctx.store.db.delete(statuses).where(eq(statuses.id, boost.id)).run();
    bumpReblogs(ctx, targetId, -1);
    effects.deleted.push(boost.id);
  });
  return true;
}

/** A remote account blocks us: follows both ways end (we keep no record of their block beyond that). */
export function receiveBlock(ctx: Context, actor: AccountRow): void {
  const local = requireLocalAccount(ctx);
  commit(ctx, () => {
    ctx.store.db.run(
      sql`DELETE FROM follows WHERE (follower_id = ${local.id} AND following_id = ${actor.id}) OR (follower_id = ${actor.id} AND following_id = ${local.id})`,
    );
    ctx.store.db.delete(homeFeed).where(eq(homeFeed.accountId, actor.id)).run();
  });
}

/** Whether the local account follows someone, used to decide whether their content is wanted at all. */
export function hasFollowRelation(ctx: Context, accountId: string): boolean {
  const local = findLocalUser(ctx.store.db)?.account;
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
