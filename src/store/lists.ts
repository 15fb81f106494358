/**
 * The local account's lists: the lists themselves, their members (paginated by the membership's id) and
 * their timelines (the list_feed rows, paginated by status id like the home timeline).
 */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { notHiddenSql, visibleStatusSql } from "../core/visibility.js";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accounts, listAccounts, listFeed, lists } from "./schema.js";
import type { StatusRow } from "./statuses.js";
import { type PagedRow, pageIds, withRows } from "./timelines.js";

export type ListRow = typeof lists.$inferSelect;
export type RepliesPolicy = ListRow["repliesPolicy"];
export const REPLIES_POLICIES: readonly RepliesPolicy[] = ["followed", "list", "none"];

const queries = preparedPerDb((db) => ({
  byId: db
    .select()
    .from(lists)
    .where(eq(lists.id, sql.placeholder("id")))
    .prepare(),
  all: db.select().from(lists).orderBy(asc(lists.id)).prepare(),
  containing: db
    .select({ list: lists })
    .from(listAccounts)
    .innerJoin(lists, eq(lists.id, listAccounts.listId))
    .where(eq(listAccounts.accountId, sql.placeholder("account")))
    .orderBy(asc(lists.id))
    .prepare(),
  membersOf: db
    .select({ accountId: listAccounts.accountId })
    .from(listAccounts)
    .where(and(eq(listAccounts.listId, sql.placeholder("list")), inList(listAccounts.accountId, "ids")))
    .prepare(),
}));

export function findList(db: Db, id: string): ListRow | null {
  return queries(db).byId.get({ id }) ?? null;
}

/** Every list, oldest first (Mastodon returns them in creation order). */
export function allLists(db: Db): ListRow[] {
  return queries(db).all.all();
}

/** The lists an account is a member of. */
export function listsContaining(db: Db, accountId: string): ListRow[] {
  return queries(db)
    .containing.all({ account: accountId })
    .map((r) => r.list);
}

/** Which of `accountIds` are members of the list. */
export function membersAmong(db: Db, listId: string, accountIds: string[]): Set<string> {
  if (accountIds.length === 0) return new Set();
  const rows = queries(db).membersOf.all({ list: listId, ids: JSON.stringify(accountIds) });
  return new Set(rows.map((r) => r.accountId));
}

/** A list's members (not gone), paginated by the membership's id; `page` null: all of them. */
export function listMembers(db: Db, listId: string, page: PageBounds | null): PagedRow<AccountRow>[] {
  const bounds = page ? keyset(listAccounts.id, page) : null;
  const query = db
    .select({ pageId: listAccounts.id, row: accounts })
    .from(listAccounts)
    .innerJoin(accounts, eq(accounts.id, listAccounts.accountId))
    .where(and(eq(listAccounts.listId, listId), isNull(accounts.goneAt), ...(bounds?.where ?? [])))
    .orderBy(bounds?.order ?? sql`${listAccounts.id} DESC`);
  if (!page) return query.all();
  return newestFirst(query.limit(page.limit).all(), page);
}

/**
 * A list's timeline: a backwards scan of list_feed's primary key (list, status id). The statuses are checked
 * against the visibility rule and the viewer's mutes and blocks, as every timeline is.
 */
export function listTimeline(
  db: Db,
  listId: string,
  viewerId: string,
  page: PageBounds,
  now = Date.now(),
): PagedRow<StatusRow>[] {
  const from = sql`FROM list_feed lf CROSS JOIN statuses s ON s.id = lf.status_id LEFT JOIN statuses r ON r.id = s.reblog_of_id`;
  const filters = [
    sql`lf.list_id = ${listId}`,
    visibleStatusSql(viewerId, "s"),
    notHiddenSql(viewerId, [sql`s.account_id`, sql`r.account_id`], now),
  ];
  return withRows(db, pageIds(db, from, sql`lf.status_id`, filters, page));
}

const feedHas = preparedPerDb((db) =>
  db
    .select({ id: listFeed.statusId })
    .from(listFeed)
    .where(and(eq(listFeed.listId, sql.placeholder("list")), eq(listFeed.statusId, sql.placeholder("id"))))
    .prepare(),
);

/** Whether a status is in a list's feed (streaming asks). */
export function listFeedHas(db: Db, listId: string, statusId: string): boolean {
  return feedHas(db).get({ list: listId, id: statusId }) !== undefined;
}
