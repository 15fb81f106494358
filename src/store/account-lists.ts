/**
 * Lists of accounts around the local account (followers, following, follow requests, blocks, mutes) and
 * accounts by id. Each list is paginated by the id of the row that links the account (the follow, the block,
 * the mute), as Mastodon does.
 */
import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { activeMuteSql } from "../core/visibility.js";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accounts, blocks, follows, mutes } from "./schema.js";
import type { PagedRow } from "./timelines.js";

const byId = preparedPerDb((db) =>
  db
    .select()
    .from(accounts)
    .where(eq(accounts.id, sql.placeholder("id")))
    .prepare(),
);

/** An account by id, gone ones included. */
export function findAccountById(db: Db, id: string): AccountRow | null {
  return byId(db).get({ id }) ?? null;
}

const byIds = preparedPerDb((db) => db.select().from(accounts).where(inList(accounts.id, "ids")).prepare());

/** Accounts by id in the order of `ids`, unknown ones (and gone ones, unless asked) left out. */
export function accountsByIds(db: Db, ids: string[], options: { includeGone?: boolean } = {}): AccountRow[] {
  if (ids.length === 0) return [];
  const found = new Map(
    byIds(db)
      .all({ ids: JSON.stringify(ids) })
      .filter((a) => options.includeGone === true || a.goneAt === null)
      .map((a) => [a.id, a]),
  );
  return ids.map((id) => found.get(id)).filter((a): a is AccountRow => a !== undefined);
}

/** Accounts joined through a link table, not gone, paginated by the link's id column. */
function linkedAccounts(
  db: Db,
  table: SQLiteTable,
  column: AnySQLiteColumn,
  join: SQL,
  where: SQL[],
  page: PageBounds,
): PagedRow<AccountRow>[] {
  const bounds = keyset(column, page);
  const rows = db
    .select({ pageId: column, row: accounts })
    .from(accounts)
    .innerJoin(table, join)
    .where(and(isNull(accounts.goneAt), ...where, ...bounds.where))
    .orderBy(bounds.order)
    .limit(page.limit)
    .all() as PagedRow<AccountRow>[];
  return newestFirst(rows, page);
}

/** The accounts following `accountId` (accepted). */
export function followersOf(db: Db, accountId: string, page: PageBounds): PagedRow<AccountRow>[] {
  return linkedAccounts(
    db,
    follows,
    follows.id,
    eq(follows.followerId, accounts.id),
    [eq(follows.followingId, accountId), eq(follows.state, "accepted")],
    page,
  );
}

/** The accounts `accountId` follows (accepted). */
export function followingOf(db: Db, accountId: string, page: PageBounds): PagedRow<AccountRow>[] {
  return linkedAccounts(
    db,
    follows,
    follows.id,
    eq(follows.followingId, accounts.id),
    [eq(follows.followerId, accountId), eq(follows.state, "accepted")],
    page,
  );
}

/** The accounts asking to follow `accountId` (pending). */
export function followRequestsOf(db: Db, accountId: string, page: PageBounds): PagedRow<AccountRow>[] {
  return linkedAccounts(
    db,
    follows,
    follows.id,
    eq(follows.followerId, accounts.id),
    [eq(follows.followingId, accountId), eq(follows.state, "pending")],
    page,
  );
}

export function blockedBy(db: Db, accountId: string, page: PageBounds): PagedRow<AccountRow>[] {
  return linkedAccounts(
    db,
    blocks,
    blocks.id,
    eq(blocks.targetId, accounts.id),
    [eq(blocks.accountId, accountId)],
    page,
  );
}

/** The accounts `accountId` mutes (unexpired), with when each mute ends (null: never). */
export function mutedBy(
  db: Db,
  accountId: string,
  page: PageBounds,
  now = Date.now(),
): (PagedRow<AccountRow> & { expiresAt: number | null })[] {
  const rows = linkedAccounts(
    db,
    mutes,
    mutes.id,
    eq(mutes.targetId, accounts.id),
    [eq(mutes.accountId, accountId), activeMuteSql("mutes", now)],
    page,
  );
  const ids = rows.map((r) => r.pageId);
  const expiries = new Map(
    ids.length > 0
      ? db
          .select({ id: mutes.id, expiresAt: mutes.expiresAt })
          .from(mutes)
          .where(inArray(mutes.id, ids))
          .all()
          .map((m) => [m.id, m.expiresAt])
      : [],
  );
  return rows.map((r) => ({ ...r, expiresAt: expiries.get(r.pageId) ?? null }));
}
