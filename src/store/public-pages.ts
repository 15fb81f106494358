/**
 * The reads behind the public web pages and feeds: the owner's public statuses (profile, replies and media
 * tabs, tag pages), its pinned ones, and the public part of a thread. What an anonymous visitor may see is
 * the rule of core/visibility.ts (`listedOnWebSql`, `isListedOnWeb`); pages are keyset-paginated by status id.
 */
import { type SQL, sql } from "drizzle-orm";
import { isHidden, isListedOnWeb, listedOnWebSql } from "../core/visibility.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import type { StatusRow } from "./statuses.js";
import { ancestorsOf, descendantsOf, statusesByIds } from "./timelines.js";

export interface WebListFilter {
  /** Replies to others too (a thread of the owner's own stays in either case). */
  withReplies: boolean;
  /** Only statuses with media (boosts left out). */
  onlyMedia: boolean;
  /** Only statuses with this hashtag (lower case; boosts left out). */
  tag: string | null;
}

export interface WebPage {
  /** Newest first. */
  rows: StatusRow[];
  /** Whether there are older rows than the last one (for a min_id page: newer rows than the first one). */
  more: boolean;
}

function filters(accountId: string, filter: WebListFilter): SQL[] {
  const parts = [sql`s.account_id = ${accountId}`, listedOnWebSql("s")];
  if (!filter.withReplies)
    parts.push(sql`(s.in_reply_to_uri IS NULL OR s.in_reply_to_account_id = ${accountId})`);
  if (filter.onlyMedia || filter.tag !== null) parts.push(sql`s.reblog_of_id IS NULL`);
  if (filter.onlyMedia)
    parts.push(sql`EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)`);
  if (filter.tag !== null) {
    parts.push(sql`EXISTS (SELECT 1 FROM status_tags st JOIN tags t ON t.id = st.tag_id
      WHERE st.status_id = s.id AND t.name = ${filter.tag})`);
  }
  return parts;
}

/**
 * A page of an account's statuses as visitors see them, from the (account_id, id) index. One row more than
 * the limit is read to know whether another page follows.
 */
export function webStatuses(db: Db, accountId: string, filter: WebListFilter, page: PageBounds): WebPage {
  const { where, order } = keyset(sql`s.id`, page);
  const ids = db
    .all<{ id: string }>(
      sql`SELECT s.id AS id FROM statuses s INDEXED BY statuses_account
        WHERE ${sql.join([...filters(accountId, filter), ...where], sql` AND `)}
        ORDER BY ${order} LIMIT ${page.limit + 1}`,
    )
    .map((r) => r.id);
  const more = ids.length > page.limit;
  const kept = newestFirst(ids.slice(0, page.limit), page);
  return { rows: statusesByIds(db, kept), more };
}

/** The account's pinned statuses that visitors may see, newest pin first. */
export function webPinned(db: Db, accountId: string, limit = 5): StatusRow[] {
  const ids = db
    .all<{ id: string }>(
      sql`SELECT s.id AS id FROM statuses s WHERE s.account_id = ${accountId} AND s.pinned_at IS NOT NULL
        AND ${listedOnWebSql("s")} ORDER BY s.pinned_at DESC LIMIT ${limit}`,
    )
    .map((r) => r.id);
  return statusesByIds(db, ids);
}

const MAX_REPLIES = 200;
const MAX_DEPTH = 20;

/**
 * The public part of the thread around a status: its ancestors (root first) and replies (depth first), local
 * and remote, without what is not public and without the accounts the owner mutes or blocks.
 */
export function webThread(
  db: Db,
  ownerId: string,
  status: StatusRow,
): { ancestors: StatusRow[]; descendants: StatusRow[] } {
  const shown = (rows: StatusRow[]) => {
    const hidden = new Set(
      [...new Set(rows.map((r) => r.accountId))].filter(
        (id) => id !== ownerId && isHidden(db, ownerId, [id]),
      ),
    );
    return rows.filter((r) => isListedOnWeb(r) && !hidden.has(r.accountId));
  };
  return {
    ancestors: shown(ancestorsOf(db, status)),
    descendants: shown(descendantsOf(db, status, MAX_REPLIES, MAX_DEPTH)),
  };
}
