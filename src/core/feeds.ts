/**
 * Who gets a status in a feed: the home feed and the lists' feeds, decided in one place. The module listens
 * to the domain events inside the transaction that stored the status (or the boost), so a status and its
 * feed entries commit together, and streaming, after the commit, finds them.
 *
 * Home (the rules Wren always had, plus exclusive lists and followed hashtags):
 * - the local account's own posts and boosts;
 * - a remote status (not direct) by an account the local account follows, or one that mentions it;
 * - a boost by a followed account whose boosts are shown, unless it boosts the local account's own post;
 * - a public or unlisted status carrying a hashtag the local account follows (Mastodon's tag feed);
 * - but nothing by a member of an exclusive list: those go to their lists only (Mastodon's `:skip_home`).
 * Lists: a status (not direct) or boost by a member, when the member is followed (accepted), boosts are
 * shown, and replies pass the list's `replies_policy` (Mastodon's FeedManager#filter_from_list? together with
 * its home rule for replies): a member's replies to itself and to the local account always pass; replies to
 * others pass with `followed` when the local account follows the account replied to, with `list` when it is a
 * member of the list, never with `none`; a reply to a status we do not have never passes.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { localAccountRef } from "../store/accounts.js";
import { carriesFollowedTag } from "../store/followed-tags.js";
import { type ListRow, listsContaining, membersAmong } from "../store/lists.js";
import { preparedPerDb } from "../store/prepared.js";
import { follows, homeFeed, listAccounts, listFeed, lists, mentions, statuses } from "../store/schema.js";
import type { StatusRow } from "../store/statuses.js";
import { setTagFollowed } from "../store/tags.js";
import type { DomainEvent } from "./events.js";
import { commit } from "./unit-of-work.js";
import { isHidden } from "./visibility.js";

/** Subscribes the feeds to the domain events (called once by createContext). */
export function registerFeeds(ctx: Context): void {
  ctx.events.onTransaction((event: DomainEvent) => {
    switch (event.type) {
      case "StatusCreated":
        return placeStatus(ctx, event.status);
      case "Reblogged":
        return placeBoost(ctx, event.boost, event.target);
      case "StatusDeleted":
        // The row stays as a tombstone, so its entries go by hand; a removed boost's go with its row.
        return removeStatus(ctx, event.status.id);
    }
  });
}

/** The statements every new status runs, prepared once per database. */
const queries = preparedPerDb((db) => ({
  follow: db
    .select()
    .from(follows)
    .where(
      and(eq(follows.followerId, sql.placeholder("local")), eq(follows.followingId, sql.placeholder("id"))),
    )
    .prepare(),
  mention: db
    .select({ id: mentions.statusId })
    .from(mentions)
    .where(
      and(eq(mentions.statusId, sql.placeholder("status")), eq(mentions.accountId, sql.placeholder("id"))),
    )
    .prepare(),
  exclusive: db
    .select({ id: listAccounts.id })
    .from(listAccounts)
    .innerJoin(lists, eq(lists.id, listAccounts.listId))
    .where(and(eq(listAccounts.accountId, sql.placeholder("id")), eq(lists.exclusive, true)))
    .limit(1)
    .prepare(),
}));

function followOf(ctx: Context, localId: string, accountId: string) {
  return queries(ctx.store.db).follow.get({ local: localId, id: accountId }) ?? null;
}

function mentionsAccount(ctx: Context, statusId: string, accountId: string): boolean {
  return queries(ctx.store.db).mention.get({ status: statusId, id: accountId }) !== undefined;
}

/** Whether the account is a member of an exclusive list: its posts then stay out of home. */
function inExclusiveList(ctx: Context, accountId: string): boolean {
  return queries(ctx.store.db).exclusive.get({ id: accountId }) !== undefined;
}

function addToHome(ctx: Context, status: StatusRow): void {
  ctx.store.db
    .insert(homeFeed)
    .values({ statusId: status.id, accountId: status.accountId })
    .onConflictDoNothing()
    .run();
}

function addToList(ctx: Context, listId: string, status: StatusRow): void {
  ctx.store.db
    .insert(listFeed)
    .values({ listId, statusId: status.id, accountId: status.accountId })
    .onConflictDoNothing()
    .run();
}

/** Whether a list shows a status of one of its members, as far as replies go (see the module comment). */
function listShowsReply(ctx: Context, list: ListRow, status: StatusRow, localId: string): boolean {
  if (status.inReplyToUri === null) return true;
  const repliedTo = status.inReplyToAccountId;
  if (repliedTo === null) return false;
  if (repliedTo === status.accountId || repliedTo === localId) return true;
  switch (list.repliesPolicy) {
    case "followed":
      return followOf(ctx, localId, repliedTo)?.state === "accepted";
    case "list":
      return membersAmong(ctx.store.db, list.id, [repliedTo]).size > 0;
    default:
      return false;
  }
}

function placeStatus(ctx: Context, status: StatusRow): void {
  const local = localAccountRef(ctx.store.db);
  if (!local) return;
  if (status.accountId === local.id) {
    addToHome(ctx, status);
    return;
  }
  const follow = followOf(ctx, local.id, status.accountId);
  const followed = follow?.state === "accepted";
  if (!inExclusiveList(ctx, status.accountId)) {
    const fromFollowed = followed && status.visibility !== "direct";
    if (fromFollowed || mentionsAccount(ctx, status.id, local.id) || isTaggedForHome(ctx, status, local.id))
      addToHome(ctx, status);
  }
  if (!followed || status.visibility === "direct") return;
  for (const list of listsContaining(ctx.store.db, status.accountId)) {
    if (listShowsReply(ctx, list, status, local.id)) addToList(ctx, list.id, status);
  }
}

/** A public or unlisted post with a followed hashtag, by someone not muted or blocked. */
function isTaggedForHome(ctx: Context, status: StatusRow, localId: string): boolean {
  if (status.visibility !== "public" && status.visibility !== "unlisted") return false;
  if (!carriesFollowedTag(ctx.store.db, status.id)) return false;
  return !isHidden(ctx.store.db, localId, [status.accountId]);
}

function placeBoost(ctx: Context, boost: StatusRow, target: StatusRow): void {
  const local = localAccountRef(ctx.store.db);
  if (!local) return;
  if (boost.accountId === local.id) {
    addToHome(ctx, boost);
    return;
  }
  const follow = followOf(ctx, local.id, boost.accountId);
  if (follow?.state !== "accepted" || !follow.showReblogs || target.accountId === local.id) return;
  if (!inExclusiveList(ctx, boost.accountId)) addToHome(ctx, boost);
  for (const list of listsContaining(ctx.store.db, boost.accountId)) addToList(ctx, list.id, boost);
}

function removeStatus(ctx: Context, statusId: string): void {
  ctx.store.db.delete(homeFeed).where(eq(homeFeed.statusId, statusId)).run();
  ctx.store.db.delete(listFeed).where(eq(listFeed.statusId, statusId)).run();
}

/**
 * An account's entries leave the home feed and the lists' feeds: the local account stopped following it (its
 * list memberships go with the follow row). Called inside the change that ended the follow.
 */
export function dropAuthorFromFeeds(ctx: Context, accountId: string): void {
  ctx.store.db.delete(homeFeed).where(eq(homeFeed.accountId, accountId)).run();
  ctx.store.db.delete(listFeed).where(eq(listFeed.accountId, accountId)).run();
}

/** A member's entries leave one list's feed (it was removed from the list). */
export function dropMemberFromList(ctx: Context, listId: string, accountIds: string[]): void {
  if (accountIds.length === 0) return;
  ctx.store.db
    .delete(listFeed)
    .where(and(eq(listFeed.listId, listId), inArray(listFeed.accountId, accountIds)))
    .run();
}

/** How many of a new member's recent statuses and boosts are brought into the list (Mastodon merges 200). */
const MERGE_LIMIT = 200;

/** Brings a new member's recent statuses into a list's feed, under the same rules as new ones. */
export function mergeIntoList(ctx: Context, list: ListRow, accountId: string): void {
  const local = localAccountRef(ctx.store.db);
  if (!local) return;
  const follow = followOf(ctx, local.id, accountId);
  if (follow?.state !== "accepted") return;
  const rows = ctx.store.db
    .select()
    .from(statuses)
    .where(
      sql`${statuses.accountId} = ${accountId} AND ${statuses.deletedAt} IS NULL AND ${statuses.visibility} <> 'direct'`,
    )
    .orderBy(sql`${statuses.id} DESC`)
    .limit(MERGE_LIMIT)
    .all();
  for (const status of rows) {
    if (status.reblogOfId !== null) {
      const target = ctx.store.db.select().from(statuses).where(eq(statuses.id, status.reblogOfId)).get();
      if (!follow.showReblogs || !target || target.deletedAt !== null || target.accountId === local.id)
        continue;
    } else if (!listShowsReply(ctx, list, status, local.id)) continue;
    addToList(ctx, list.id, status);
  }
}

/** Follows a hashtag: from now on, public and unlisted posts that carry it come home. */
export function followTag(ctx: Context, name: string): void {
  setTagFollowed(ctx.store.db, name, true);
}

/**
 * Unfollows a hashtag. Its posts that came home only because of it leave (as Mastodon's TagUnmergeWorker
 * does): those by accounts not followed, that do not mention the local account and carry no other followed tag.
 */
export function unfollowTag(ctx: Context, name: string): void {
  const local = localAccountRef(ctx.store.db);
  const db = ctx.store.db;
  commit(ctx, () => {
    setTagFollowed(db, name, false);
    if (!local) return;
    db.run(sql`DELETE FROM home_feed WHERE status_id IN (
      SELECT st.status_id FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE t.name = ${name.toLowerCase()})
      AND account_id <> ${local.id}
      AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${local.id}
        AND f.following_id = home_feed.account_id AND f.state = 'accepted')
      AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = home_feed.status_id AND m.account_id = ${local.id})
      AND NOT EXISTS (SELECT 1 FROM status_tags so JOIN tags ot ON ot.id = so.tag_id
        WHERE so.status_id = home_feed.status_id AND ot.followed = 1)`);
  });
}
