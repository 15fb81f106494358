import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { inList, preparedPerDb } from "./prepared.js";
import { quotes, statuses } from "./schema.js";
import type { StatusRow } from "./statuses.js";

export type QuoteRow = typeof quotes.$inferSelect;
export type QuoteState = QuoteRow["state"];

export function findQuoteByStatus(db: Db, statusId: string): QuoteRow | null {
  return db.select().from(quotes).where(eq(quotes.statusId, statusId)).get() ?? null;
}

export function findQuoteById(db: Db, id: string): QuoteRow | null {
  return db.select().from(quotes).where(eq(quotes.id, id)).get() ?? null;
}

/** The quote a QuoteRequest asked for (its id is the request's activity id). */
export function findQuoteByActivity(db: Db, activityUri: string): QuoteRow | null {
  return db.select().from(quotes).where(eq(quotes.activityUri, activityUri)).get() ?? null;
}

export function findQuoteByAuthorization(db: Db, authorizationUri: string): QuoteRow | null {
  return db.select().from(quotes).where(eq(quotes.authorizationUri, authorizationUri)).get() ?? null;
}

/** The quotes made by these statuses, by quoting status id (one query). */
export function quotesOfStatuses(db: Db, statusIds: string[]): Map<string, QuoteRow> {
  if (statusIds.length === 0) return new Map();
  const rows = pageQueries(db).ofStatuses.all({ ids: JSON.stringify(statusIds) });
  return new Map(rows.map((q) => [q.statusId, q]));
}

// Every page of statuses asks both: prepared once, the ids bound as one JSON array.
const pageQueries = preparedPerDb((db) => ({
  ofStatuses: db.select().from(quotes).where(inList(quotes.statusId, "ids")).prepare(),
  acceptedCounts: db
    .select({ id: quotes.quotedStatusId, count: sql<number>`count(*)` })
    .from(quotes)
    .where(and(inList(quotes.quotedStatusId, "ids"), eq(quotes.state, "accepted")))
    .groupBy(quotes.quotedStatusId)
    .prepare(),
}));

/** Accepted quotes of a status that are not deleted, newest first, paginated by the quote's id. */
export function acceptedQuotesOf(
  db: Db,
  quotedStatusId: string,
  page: PageBounds,
): { pageId: string; row: StatusRow }[] {
  const { where, order } = keyset(quotes.id, page);
  const rows = db
    .select({ pageId: quotes.id, row: statuses })
    .from(quotes)
    .innerJoin(statuses, eq(quotes.statusId, statuses.id))
    .where(
      and(
        eq(quotes.quotedStatusId, quotedStatusId),
        eq(quotes.state, "accepted"),
        sql`${statuses.deletedAt} IS NULL`,
        ...where,
      ),
    )
    .orderBy(order)
    .limit(page.limit)
    .all();
  return newestFirst(rows, page);
}

/** Accepted quotes of a status made by one account's statuses (the owner's quotes of an edited post). */
export function acceptedQuotesBy(db: Db, quotedStatusId: string, accountId: string): QuoteRow[] {
  return db
    .select()
    .from(quotes)
    .where(
      and(
        eq(quotes.quotedStatusId, quotedStatusId),
        eq(quotes.accountId, accountId),
        eq(quotes.state, "accepted"),
      ),
    )
    .all();
}

/** How many accepted quotes each of these statuses has (Mastodon's quotes_count). */
export function acceptedQuoteCounts(db: Db, statusIds: string[]): Map<string, number> {
  if (statusIds.length === 0) return new Map();
  const rows = pageQueries(db).acceptedCounts.all({ ids: JSON.stringify(statusIds) });
  return new Map(rows.map((r) => [r.id as string, r.count]));
}
