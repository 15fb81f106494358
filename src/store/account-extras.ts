/**
 * What the local account keeps about other accounts besides follows, blocks and mutes: private notes and
 * endorsements. An endorsement counts only while the account is followed (accepted), whatever ended it.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accountNotes, accounts, endorsements } from "./schema.js";
import type { PagedRow } from "./timelines.js";

const followed = (localId: string | SQL | ReturnType<typeof sql.placeholder>): SQL =>
  sql`EXISTS (SELECT 1 FROM follows ef WHERE ef.follower_id = ${localId}
    AND ef.following_id = ${endorsements.targetId} AND ef.state = 'accepted')`;

const queries = preparedPerDb((db) => ({
  notes: db
    .select({ targetId: accountNotes.targetId, comment: accountNotes.comment })
    .from(accountNotes)
    .where(inList(accountNotes.targetId, "ids"))
    .prepare(),
  endorsed: db
    .select({ id: endorsements.targetId })
    .from(endorsements)
    .where(and(inList(endorsements.targetId, "ids"), followed(sql.placeholder("local"))))
    .prepare(),
}));

/** The notes on these accounts, by account id. */
export function notesOn(db: Db, targetIds: string[]): Map<string, string> {
  if (targetIds.length === 0) return new Map();
  return new Map(
    queries(db)
      .notes.all({ ids: JSON.stringify(targetIds) })
      .map((n) => [n.targetId, n.comment]),
  );
}

/** Which of these accounts the local account endorses. */
export function endorsedAmong(db: Db, localId: string, targetIds: string[]): Set<string> {
  if (targetIds.length === 0) return new Set();
  return new Set(
    queries(db)
      .endorsed.all({ local: localId, ids: JSON.stringify(targetIds) })
      .map((e) => e.id),
  );
}

/** The accounts the local account endorses, newest endorsement first. */
export function endorsedAccounts(db: Db, localId: string, page: PageBounds): PagedRow<AccountRow>[] {
  const bounds = keyset(endorsements.id, page);
  const rows = db
    .select({ pageId: endorsements.id, row: accounts })
    .from(endorsements)
    .innerJoin(accounts, eq(accounts.id, endorsements.targetId))
    .where(and(sql`${accounts.goneAt} IS NULL`, followed(localId), ...bounds.where))
    .orderBy(bounds.order)
    .limit(page.limit)
    .all();
  return newestFirst(rows, page);
}
