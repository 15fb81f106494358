/**
 * The reads behind the exports, a page at a time (keyset on the row id, newest first as Mastodon orders its
 * exports), so that a large table is never held in memory whole.
 */
import { and, asc, count, desc, eq, gt, isNull, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../store/open.js";
import {
  accounts,
  blocks,
  bookmarks,
  domainBlocks,
  favourites,
  follows,
  listAccounts,
  lists,
  mediaAttachments,
  mutes,
  statuses,
} from "../store/schema.js";
import type { MediaRow, StatusRow } from "../store/statuses.js";

export const PAGE_SIZE = 500;

/** Every row of a query paged by a descending id: `page(before)` returns the rows with an id below `before`. */
export function* paged<T>(page: (before: string | null) => T[], idOf: (row: T) => string): Generator<T> {
  let before: string | null = null;
  for (;;) {
    const rows = page(before);
    yield* rows;
    if (rows.length < PAGE_SIZE) return;
    before = idOf(rows[rows.length - 1] as T);
  }
}

const below = (column: SQLiteColumn, before: string | null): SQL | undefined =>
  before === null ? undefined : lt(column, before);

export interface AccountAddress {
  username: string;
  domain: string | null;
}

export interface FollowExportRow extends AccountAddress {
  id: string;
  accountId: string;
  showReblogs: boolean;
  notify: boolean;
  languages: string[] | null;
}

/** Accepted follows one way: the accounts `localId` follows, or those following it. */
export function followPage(
  db: Db,
  localId: string,
  direction: "following" | "followers",
  before: string | null,
): FollowExportRow[] {
  const mine = direction === "following" ? follows.followerId : follows.followingId;
  const theirs = direction === "following" ? follows.followingId : follows.followerId;
  return db
    .select({
      id: follows.id,
      accountId: accounts.id,
      username: accounts.username,
      domain: accounts.domain,
      showReblogs: follows.showReblogs,
      notify: follows.notify,
      languages: follows.languages,
    })
    .from(follows)
    .innerJoin(accounts, eq(accounts.id, theirs))
    .where(and(eq(mine, localId), eq(follows.state, "accepted"), below(follows.id, before)))
    .orderBy(desc(follows.id))
    .limit(PAGE_SIZE)
    .all();
}

export function blockPage(db: Db, localId: string, before: string | null) {
  return db
    .select({ id: blocks.id, accountId: accounts.id, username: accounts.username, domain: accounts.domain })
    .from(blocks)
    .innerJoin(accounts, eq(accounts.id, blocks.targetId))
    .where(and(eq(blocks.accountId, localId), below(blocks.id, before)))
    .orderBy(desc(blocks.id))
    .limit(PAGE_SIZE)
    .all();
}

/** Mutes in force now (an expired mute is no longer one). */
export function mutePage(db: Db, localId: string, before: string | null, now: number) {
  return db
    .select({
      id: mutes.id,
      accountId: accounts.id,
      username: accounts.username,
      domain: accounts.domain,
      hideNotifications: mutes.hideNotifications,
    })
    .from(mutes)
    .innerJoin(accounts, eq(accounts.id, mutes.targetId))
    .where(
      and(
        eq(mutes.accountId, localId),
        or(isNull(mutes.expiresAt), gt(mutes.expiresAt, now)),
        below(mutes.id, before),
      ),
    )
    .orderBy(desc(mutes.id))
    .limit(PAGE_SIZE)
    .all();
}

export function domainBlockPage(db: Db, before: string | null) {
  return db
    .select({ id: domainBlocks.id, domain: domainBlocks.domain })
    .from(domainBlocks)
    .where(below(domainBlocks.id, before))
    .orderBy(desc(domainBlocks.id))
    .limit(PAGE_SIZE)
    .all();
}

/** Bookmarked statuses' URIs (bookmarks belong to the local account: the table has no owner column). */
export function bookmarkPage(db: Db, before: string | null) {
  return db
    .select({ id: bookmarks.id, statusId: statuses.id, uri: statuses.uri })
    .from(bookmarks)
    .innerJoin(statuses, eq(statuses.id, bookmarks.statusId))
    .where(below(bookmarks.id, before))
    .orderBy(desc(bookmarks.id))
    .limit(PAGE_SIZE)
    .all();
}

export function favouritePage(db: Db, localId: string, before: string | null) {
  return db
    .select({ id: favourites.id, uri: statuses.uri })
    .from(favourites)
    .innerJoin(statuses, eq(statuses.id, favourites.statusId))
    .where(and(eq(favourites.accountId, localId), below(favourites.id, before)))
    .orderBy(desc(favourites.id))
    .limit(PAGE_SIZE)
    .all();
}

/** List members with their list's title, list by list in creation order. */
export function listMemberPage(db: Db, after: string | null) {
  return db
    .select({ id: listAccounts.id, title: lists.title, username: accounts.username, domain: accounts.domain })
    .from(listAccounts)
    .innerJoin(lists, eq(lists.id, listAccounts.listId))
    .innerJoin(accounts, eq(accounts.id, listAccounts.accountId))
    .where(after === null ? undefined : gt(listAccounts.id, after))
    .orderBy(asc(listAccounts.id))
    .limit(PAGE_SIZE)
    .all();
}

/** The owner's statuses that are not deleted, every visibility (the archive is the owner's own copy). */
export function ownStatusPage(db: Db, localId: string, before: string | null): StatusRow[] {
  return db
    .select()
    .from(statuses)
    .where(and(eq(statuses.accountId, localId), isNull(statuses.deletedAt), below(statuses.id, before)))
    .orderBy(desc(statuses.id))
    .limit(PAGE_SIZE)
    .all();
}

export function countOwnStatuses(db: Db, localId: string): number {
  return (
    db
      .select({ n: count() })
      .from(statuses)
      .where(and(eq(statuses.accountId, localId), isNull(statuses.deletedAt)))
      .get()?.n ?? 0
  );
}

/** The owner's media files stored here: those of its statuses, its avatar and its header. */
export function ownMediaPage(db: Db, localId: string, before: string | null): MediaRow[] {
  return db
    .select()
    .from(mediaAttachments)
    .where(and(eq(mediaAttachments.accountId, localId), below(mediaAttachments.id, before)))
    .orderBy(desc(mediaAttachments.id))
    .limit(PAGE_SIZE)
    .all();
}
