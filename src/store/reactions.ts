/**
 * Reads about emoji reactions: the counts shown on statuses (`pleroma.emoji_reactions`) and the reaction a
 * notification stands for.
 */
import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { reactions } from "./schema.js";

export type ReactionRow = typeof reactions.$inferSelect;

/** One emoji on one status, as Pleroma and Akkoma render it. */
export interface ReactionCount {
  name: string;
  count: number;
  me: boolean;
  url: string | null;
  accountIds: string[];
}

const queries = preparedPerDb((db) => ({
  ofStatuses: db
    .select({
      statusId: reactions.statusId,
      name: reactions.name,
      url: reactions.url,
      accountId: reactions.accountId,
    })
    .from(reactions)
    .where(inList(reactions.statusId, "ids"))
    .orderBy(asc(reactions.id))
    .prepare(),
}));

/** Status id → its reactions grouped by emoji, in the order each emoji first came. */
export function reactionCounts(db: Db, statusIds: string[], viewerId: string | null) {
  const out = new Map<string, ReactionCount[]>();
  if (statusIds.length === 0) return out;
  for (const row of queries(db).ofStatuses.all({ ids: JSON.stringify(statusIds) })) {
    let list = out.get(row.statusId);
    if (!list) {
      list = [];
      out.set(row.statusId, list);
    }
    let entry = list.find((r) => r.name === row.name);
    if (!entry) {
      entry = { name: row.name, count: 0, me: false, url: row.url, accountIds: [] };
      list.push(entry);
    }
    entry.count += 1;
    entry.accountIds.push(row.accountId);
    if (row.accountId === viewerId) entry.me = true;
  }
  return out;
}

/**
 * The reaction a `pleroma:emoji_reaction` notification stands for: the account's latest one to the status
 * made by the time of the notification.
 */
export function reactionNotified(
  db: Db,
  accountId: string,
  statusId: string,
  notifiedAt: number,
): ReactionRow | null {
  return (
    db
      .select()
      .from(reactions)
      .where(
        and(
          eq(reactions.accountId, accountId),
          eq(reactions.statusId, statusId),
          lte(reactions.createdAt, notifiedAt),
        ),
      )
      .orderBy(sql`${reactions.id} DESC`)
      .get() ?? null
  );
}
