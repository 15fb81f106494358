/**
 * The queries behind search: accounts by handle, username or display name, statuses by their text, and what
 * a URL names among what we already have. Hashtags are searched in tags.ts.
 */
import { and, asc, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import { notHiddenSql, visibleStatusSql } from "../core/visibility.js";
import { type AccountRow, findLocalAccountByUsername } from "./accounts.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { accounts, statuses } from "./schema.js";
import type { StatusRow } from "./statuses.js";
import { statusesByIds } from "./timelines.js";

/** LIKE pattern text with its wildcards escaped (use with ESCAPE '\'). */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** An account we know by its handle; `domain` null (or our own domain) names the local account. */
export function findKnownByHandle(
  db: Db,
  localDomain: string,
  username: string,
  domain: string | null,
): AccountRow | null {
  if (domain === null || domain === localDomain.toLowerCase())
    return findLocalAccountByUsername(db, username);
  const row = db
    .select()
    .from(accounts)
    .where(
      and(
        eq(accounts.domain, domain),
        sql`lower(${accounts.username}) = lower(${username})`,
        isNull(accounts.goneAt),
      ),
    )
    .get();
  return row ?? null;
}

export interface AccountMatch {
  /** Lower case: a username prefix or a part of the display name. */
  term: string;
  /** Only accounts on this host (a prefix of it); our own domain means the local account. */
  domain: string | null;
  localDomain: string;
  /** Only accounts this account follows (accepted). */
  followedBy: string | null;
  limit: number;
  offset: number;
}

/** Accounts whose username starts with, or display name contains, the term: exact username first, local first. */
export function findAccountsMatching(db: Db, match: AccountMatch): AccountRow[] {
  const pattern = likeEscape(match.term);
  const conditions: SQL[] = [
    isNull(accounts.goneAt),
    or(
      sql`lower(${accounts.username}) LIKE ${`${pattern}%`} ESCAPE '\\'`,
      sql`lower(${accounts.displayName}) LIKE ${`%${pattern}%`} ESCAPE '\\'`,
    ) as SQL,
  ];
  if (match.domain !== null) {
    conditions.push(
      match.domain === match.localDomain.toLowerCase()
        ? isNull(accounts.domain)
        : sql`${accounts.domain} LIKE ${`${likeEscape(match.domain)}%`} ESCAPE '\\'`,
    );
  }
  if (match.followedBy !== null) {
    conditions.push(
      sql`EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${match.followedBy} AND f.following_id = ${accounts.id} AND f.state = 'accepted')`,
    );
  }
  return db
    .select()
    .from(accounts)
    .where(and(...conditions))
    .orderBy(
      sql`CASE WHEN lower(${accounts.username}) = ${match.term} THEN 0 ELSE 1 END`,
      sql`CASE WHEN ${accounts.domain} IS NULL THEN 0 ELSE 1 END`,
      asc(accounts.username),
      asc(accounts.id),
    )
    .limit(match.limit)
    .offset(match.offset)
    .all();
}

export interface StatusMatch {
  /** Text the content or the content warning contains. */
  text: string;
  /** Only this author's statuses. */
  accountId: string | null;
  /** Id bounds (Mastodon's search takes max_id and min_id), and the page size. */
  page: PageBounds;
  offset: number;
}

/** Statuses (not boosts) the viewer may see whose text contains the term, newest first. */
export function searchStatuses(db: Db, viewerId: string, match: StatusMatch): StatusRow[] {
  const pattern = `%${likeEscape(match.text)}%`;
  const bounds = keyset(sql`s.id`, match.page);
  const conditions = [
    sql`s.reblog_of_id IS NULL`,
    visibleStatusSql(viewerId, "s"),
    notHiddenSql(viewerId, [sql`s.account_id`], Date.now()),
    sql`(s.content LIKE ${pattern} ESCAPE '\\' OR s.spoiler_text LIKE ${pattern} ESCAPE '\\')`,
    ...bounds.where,
  ];
  if (match.accountId !== null) conditions.push(sql`s.account_id = ${match.accountId}`);
  const ids = db
    .all<{ id: string }>(
      sql`SELECT s.id AS id FROM statuses s WHERE ${sql.join(conditions, sql` AND `)}
        ORDER BY ${bounds.order} LIMIT ${match.page.limit} OFFSET ${match.offset}`,
    )
    .map((r) => r.id);
  return statusesByIds(db, newestFirst(ids, match.page));
}

/** What a URL names among what we already have: an account (by id or profile URL) or a status (by id or URL). */
export function findKnownByUrl(db: Db, url: string): { account?: AccountRow; status?: StatusRow } {
  const account = db
    .select()
    .from(accounts)
    .where(and(or(eq(accounts.uri, url), eq(accounts.url, url)), isNull(accounts.goneAt)))
    .get();
  if (account) return { account };
  const status = db
    .select()
    .from(statuses)
    .where(and(or(eq(statuses.uri, url), eq(statuses.url, url)), isNull(statuses.deletedAt)))
    .get();
  return status ? { status } : {};
}
