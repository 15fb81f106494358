/** Account reads behind the rendering of Account entities; prepared once, as every account render may ask. */
import { and, eq, sql } from "drizzle-orm";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accounts, follows } from "./schema.js";

const queries = preparedPerDb((db) => ({
  byIds: db.select().from(accounts).where(inList(accounts.id, "ids")).prepare(),
  byUri: db
    .select()
    .from(accounts)
    .where(eq(accounts.uri, sql.placeholder("uri")))
    .prepare(),
  followRequests: db
    .select({ n: sql<number>`count(*)` })
    .from(follows)
    .where(and(eq(follows.followingId, sql.placeholder("account")), eq(follows.state, "pending")))
    .prepare(),
}));

/** The accounts with these ids, in no particular order (missing ones left out). */
export function accountsByIds(db: Db, ids: string[]): AccountRow[] {
  return ids.length === 0 ? [] : queries(db).byIds.all({ ids: JSON.stringify(ids) });
}

export function findAccountByUri(db: Db, uri: string): AccountRow | null {
  return queries(db).byUri.get({ uri }) ?? null;
}

/** How many follow requests wait for the account's approval. */
export function countFollowRequests(db: Db, accountId: string): number {
  return queries(db).followRequests.get({ account: accountId })?.n ?? 0;
}
