/**
 * What the viewer did to the statuses of a page: favourited, boosted, bookmarked, voted in their polls, muted
 * their conversations. Every rendered list asks, so the queries are prepared once per database.
 */
import { and, eq, sql } from "drizzle-orm";
import { mutedThreads } from "../core/visibility.js";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { bookmarks, favourites, pollVotes, statuses } from "./schema.js";

export interface ViewerState {
  favourited: Set<string>;
  reblogged: Set<string>;
  bookmarked: Set<string>;
  /** Poll id → the viewer's choices. */
  votes: Map<string, number[]>;
  /** The muted conversations among the statuses' threads (threadKey in core/visibility.ts). */
  mutedThreads: Set<string>;
}

const queries = preparedPerDb((db) => ({
  favourited: db
    .select({ id: favourites.statusId })
    .from(favourites)
    .where(and(eq(favourites.accountId, sql.placeholder("viewer")), inList(favourites.statusId, "ids")))
    .prepare(),
  // From the boosts of each target (a few rows), never from the viewer's statuses: left to itself SQLite picks
  // (account_id, id) and reads every status of the local account, thousands of rows, for each page.
  reblogged: db
    .select({ id: sql<string>`reblog_of_id` })
    .from(sql`${statuses} INDEXED BY statuses_reblog_of`)
    .where(and(inList(statuses.reblogOfId, "ids"), eq(statuses.accountId, sql.placeholder("viewer"))))
    .prepare(),
  bookmarked: db
    .select({ id: bookmarks.statusId })
    .from(bookmarks)
    .where(inList(bookmarks.statusId, "ids"))
    .prepare(),
  votes: db
    .select({ pollId: pollVotes.pollId, choice: pollVotes.choice })
    .from(pollVotes)
    .where(and(eq(pollVotes.accountId, sql.placeholder("viewer")), inList(pollVotes.pollId, "ids")))
    .prepare(),
}));

/** One query per relation; `statusIds` are the statuses shown (the boosted one for a boost). */
export function loadViewerState(
  db: Db,
  viewerId: string | null,
  of: { statusIds: string[]; pollIds: string[]; threadKeys: string[] },
): ViewerState {
  const state: ViewerState = {
    favourited: new Set(),
    reblogged: new Set(),
    bookmarked: new Set(),
    votes: new Map(),
    mutedThreads: new Set(),
  };
  if (!viewerId || of.statusIds.length === 0) return state;
  const q = queries(db);
  const ids = JSON.stringify(of.statusIds);
  for (const r of q.favourited.all({ viewer: viewerId, ids })) state.favourited.add(r.id);
  for (const r of q.reblogged.all({ viewer: viewerId, ids })) state.reblogged.add(r.id);
  for (const r of q.bookmarked.all({ ids })) state.bookmarked.add(r.id);
  if (of.pollIds.length > 0) {
    for (const r of q.votes.all({ viewer: viewerId, ids: JSON.stringify(of.pollIds) })) {
      state.votes.set(r.pollId, [...(state.votes.get(r.pollId) ?? []), r.choice]);
    }
  }
  state.mutedThreads = mutedThreads(db, of.threadKeys);
  return state;
}
