/**
 * Mastodon's id pagination, the one copy every list uses. max_id and since_id are exclusive bounds and the
 * newest items come first; min_id asks for the items just newer than it, so the scan runs oldest first from
 * min_id and the page is turned around before it is returned.
 *
 * When both since_id and min_id are given, min_id wins and since_id is ignored: Mastodon's
 * `to_a_paginated_by_id` (app/models/concerns/paginable.rb) calls `paginate_by_min_id(limit, min_id, max_id)`
 * whenever min_id is present and only passes since_id to `paginate_by_max_id` otherwise; max_id applies in
 * both cases.
 */
import { type SQL, type SQLWrapper, sql } from "drizzle-orm";

/** A page request as the client API reads it (src/http/mastodon/pagination.ts). */
export interface PageBounds {
  maxId: string | null;
  sinceId: string | null;
  minId: string | null;
  limit: number;
}

const ID_DIGITS = 18;

/**
 * Ids are 18-digit decimal strings, so text order is numeric order. A bound given with fewer digits is padded
 * with zeros (it is smaller than every id), one with more is made larger than every id.
 */
export function comparableId(id: string): string {
  if (id.length > ID_DIGITS) return "9".repeat(ID_DIGITS + 1);
  return id.padStart(ID_DIGITS, "0");
}

export interface Keyset {
  /** Conditions on the id column, to AND with the list's own. */
  where: SQL[];
  /** `column DESC`, or `column ASC` for a min_id page. */
  order: SQL;
  /** True when the rows come oldest first: pass them through `newestFirst`. */
  ascending: boolean;
}

/** The bounds and order of a page over an id column (a drizzle column or an SQL expression such as `s.id`). */
export function keyset(column: SQLWrapper, page: PageBounds): Keyset {
  const where: SQL[] = [];
  if (page.maxId !== null) where.push(sql`${column} < ${comparableId(page.maxId)}`);
  const lower = page.minId ?? page.sinceId;
  if (lower !== null) where.push(sql`${column} > ${comparableId(lower)}`);
  const ascending = page.minId !== null;
  return { where, order: ascending ? sql`${column} ASC` : sql`${column} DESC`, ascending };
}

/** The rows of a page newest first, whichever way `keyset` scanned them. */
export function newestFirst<T>(rows: T[], page: PageBounds): T[] {
  return page.minId !== null ? rows.reverse() : rows;
}

/**
 * A page cut from items already bounded by `keyset` and sorted newest first (several scans merged): the
 * newest `limit` ones, or for a min_id page the oldest ones, those just newer than min_id.
 */
export function cutPage<T>(sortedNewestFirst: T[], page: PageBounds): T[] {
  if (page.minId !== null) return sortedNewestFirst.slice(Math.max(0, sortedNewestFirst.length - page.limit));
  return sortedNewestFirst.slice(0, page.limit);
}
