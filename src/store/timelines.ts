/**
 * Timeline, notification and thread queries. Every list is keyset-paginated by an id column that has an
 * index (max_id/since_id exclusive, min_id = the items just newer), reads at most LIMIT rows from that index,
 * and never uses OFFSET. Lists are read in two steps: the ids of the page (a narrow index scan), then the rows
 * by primary key, so the wide rows are read only for what is returned.
 */
import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import {
  notDomainBlockedSql,
  notHiddenSql,
  notificationsNotMutedSql,
  visibleStatusSql,
} from "../core/visibility.js";
import type { Db } from "./open.js";
import { comparableId, cutPage, keyset, newestFirst, type PageBounds } from "./pagination.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accounts, notifications, statuses } from "./schema.js";
import type { StatusRow } from "./statuses.js";

export type NotificationRow = typeof notifications.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;

/** One item of a page: `pageId` is the id the Link header carries (a favourite's id, not the status's). */
export interface PagedRow<T> {
  pageId: string;
  row: T;
}

function whereAll(parts: SQL[]): SQL {
  return parts.length === 0 ? sql`1` : sql.join(parts, sql` AND `);
}

/** Runs an id query built from `select ... where ... order by column` and returns ids newest first. */
export function pageIds(
  db: Db,
  from: SQL,
  column: SQL,
  filters: SQL[],
  page: PageBounds,
): { pageId: string; statusId: string }[] {
  const { where, order } = keyset(column, page);
  const rows = db.all<{ pageId: string; statusId: string }>(
    sql`SELECT ${column} AS pageId, s.id AS statusId ${from} WHERE ${whereAll([...filters, ...where])} ORDER BY ${order} LIMIT ${page.limit}`,
  );
  return newestFirst(rows, page);
}

const statusesQuery = preparedPerDb((db) =>
  db.select().from(statuses).where(inList(statuses.id, "ids")).prepare(),
);

/** The status rows for the given ids, in the order of the ids (missing ones dropped). */
export function statusesByIds(db: Db, ids: string[]): StatusRow[] {
  if (ids.length === 0) return [];
  const rows = new Map(
    statusesQuery(db)
      .all({ ids: JSON.stringify(ids) })
      .map((row) => [row.id, row]),
  );
  return ids.map((id) => rows.get(id)).filter((r): r is StatusRow => r !== undefined);
}

export function withRows(db: Db, ids: { pageId: string; statusId: string }[]): PagedRow<StatusRow>[] {
  const rows = new Map(
    statusesByIds(
      db,
      ids.map((i) => i.statusId),
    ).map((r) => [r.id, r]),
  );
  return ids.flatMap((i) => {
    const row = rows.get(i.statusId);
    return row ? [{ pageId: i.pageId, row }] : [];
  });
}

/**
 * The home timeline: a backwards scan of home_feed's primary key (status id) joined to statuses by primary
 * key. CROSS JOIN pins the loop order so SQLite never starts from statuses.
 */
export function homeTimeline(
  db: Db,
  viewerId: string,
  page: PageBounds,
  now = Date.now(),
): PagedRow<StatusRow>[] {
  const from = sql`FROM home_feed h CROSS JOIN statuses s ON s.id = h.status_id LEFT JOIN statuses r ON r.id = s.reblog_of_id`;
  const filters = [
    sql`s.deleted_at IS NULL`,
    sql`(s.reblog_of_id IS NULL OR (r.id IS NOT NULL AND r.deleted_at IS NULL))`,
    notHiddenSql(viewerId, [sql`s.account_id`, sql`r.account_id`], now),
  ];
  return withRows(db, pageIds(db, from, sql`h.status_id`, filters, page));
}

export interface PublicFilter {
  /** Only local statuses (true), only remote ones (false) or both (null). */
  local: boolean | null;
  onlyMedia: boolean;
  viewerId: string | null;
  /** The local account: its statuses are the local ones (Wren has one user). */
  localAccountId: string | null;
}

function publicFilters(filter: PublicFilter, now: number): SQL[] {
  const parts = [sql`s.visibility = 'public'`, sql`s.reblog_of_id IS NULL`, sql`s.deleted_at IS NULL`];
  if (filter.local === true) parts.push(sql`s.account_id = ${filter.localAccountId ?? ""}`);
  if (filter.local === false) parts.push(sql`s.local = 0`);
  if (filter.onlyMedia)
    parts.push(sql`EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)`);
  if (filter.viewerId) parts.push(notHiddenSql(filter.viewerId, [sql`s.account_id`], now));
  return parts;
}

/**
 * Public statuses (no boosts), newest first. The scan starts from the index that holds the wanted statuses
 * densest: the local account's statuses for local=true, the attached media for only_media (statuses with
 * media may be rare), the (visibility, id) index otherwise.
 */
export function publicTimeline(
  db: Db,
  filter: PublicFilter,
  page: PageBounds,
  now = Date.now(),
): PagedRow<StatusRow>[] {
  const filters = publicFilters(filter, now);
  if (filter.local === true) {
    return withRows(
      db,
      pageIds(db, sql`FROM statuses s INDEXED BY statuses_account`, sql`s.id`, filters, page),
    );
  }
  if (filter.onlyMedia) {
    // A backwards scan of the (status_id, position) index, one row per status: its first attachment.
    const from = sql`FROM media_attachments ma INDEXED BY media_status CROSS JOIN statuses s ON s.id = ma.status_id`;
    const first = sql`ma.status_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM media_attachments mb WHERE mb.status_id = ma.status_id
      AND (mb.position < ma.position OR (mb.position = ma.position AND mb.id < ma.id)))`;
    return withRows(db, pageIds(db, from, sql`ma.status_id`, [first, ...filters], page));
  }
  return withRows(db, pageIds(db, sql`FROM statuses s INDEXED BY statuses_public`, sql`s.id`, filters, page));
}

export interface TagFilter extends PublicFilter {
  /** Statuses with any of these tags (ids). */
  any: string[];
  /** ... and all of these. */
  all: string[];
  /** ... and none of these. */
  none: string[];
}

/**
 * Public statuses with any of `any` tags, all of `all` and none of `none`. Each `any` tag is one backwards
 * scan of (tag_id, status_id) with the limit; the pages are merged, so several tags cost a few index scans,
 * never a sort of everything tagged.
 */
export function tagTimeline(
  db: Db,
  filter: TagFilter,
  page: PageBounds,
  now = Date.now(),
): PagedRow<StatusRow>[] {
  const filters = publicFilters(filter, now);
  for (const tagId of filter.all) {
    filters.push(sql`EXISTS (SELECT 1 FROM status_tags a WHERE a.status_id = s.id AND a.tag_id = ${tagId})`);
  }
  for (const tagId of filter.none) {
    filters.push(
      sql`NOT EXISTS (SELECT 1 FROM status_tags n WHERE n.status_id = s.id AND n.tag_id = ${tagId})`,
    );
  }
  const seen = new Map<string, { pageId: string; statusId: string }>();
  for (const tagId of new Set(filter.any)) {
    const from = sql`FROM status_tags st CROSS JOIN statuses s ON s.id = st.status_id`;
    for (const item of pageIds(db, from, sql`st.status_id`, [sql`st.tag_id = ${tagId}`, ...filters], page)) {
      seen.set(item.statusId, item);
    }
  }
  const merged = [...seen.values()].sort((a, b) => (a.pageId < b.pageId ? 1 : a.pageId > b.pageId ? -1 : 0));
  return withRows(db, cutPage(merged, page));
}

export interface AccountStatusFilter {
  excludeReplies: boolean;
  excludeReblogs: boolean;
  onlyMedia: boolean;
  /** A hashtag name, lower case. */
  tagged: string | null;
}

function accountStatusFilters(
  accountId: string,
  viewerId: string | null,
  filter: AccountStatusFilter,
): SQL[] {
  const parts = [sql`s.account_id = ${accountId}`, visibleStatusSql(viewerId, "s")];
  // Replies to itself (threads) stay, as on Mastodon.
  if (filter.excludeReplies)
    parts.push(sql`(s.in_reply_to_uri IS NULL OR s.in_reply_to_account_id = ${accountId})`);
  if (filter.excludeReblogs || filter.onlyMedia || filter.tagged !== null)
    parts.push(sql`s.reblog_of_id IS NULL`);
  if (filter.onlyMedia)
    parts.push(sql`EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id)`);
  if (filter.tagged !== null) {
    parts.push(sql`EXISTS (SELECT 1 FROM status_tags st JOIN tags t ON t.id = st.tag_id
      WHERE st.status_id = s.id AND t.name = ${filter.tagged})`);
  }
  return parts;
}

/** An account's statuses the viewer may see, newest first, from the (account_id, id) index. */
export function accountStatuses(
  db: Db,
  accountId: string,
  viewerId: string | null,
  filter: AccountStatusFilter,
  page: PageBounds,
): PagedRow<StatusRow>[] {
  const from = sql`FROM statuses s INDEXED BY statuses_account`;
  return withRows(db, pageIds(db, from, sql`s.id`, accountStatusFilters(accountId, viewerId, filter), page));
}

/** An account's pinned statuses the viewer may see, newest pin first (pins are few: not paginated). */
export function pinnedStatuses(
  db: Db,
  accountId: string,
  viewerId: string | null,
  filter: AccountStatusFilter,
  limit: number,
): StatusRow[] {
  const parts = [...accountStatusFilters(accountId, viewerId, filter), sql`s.pinned_at IS NOT NULL`];
  const ids = db
    .all<{ id: string }>(
      sql`SELECT s.id AS id FROM statuses s WHERE ${whereAll(parts)} ORDER BY s.pinned_at DESC LIMIT ${limit}`,
    )
    .map((r) => r.id);
  return statusesByIds(db, ids);
}

/** The viewer's favourites, paginated by the favourite's id (as Mastodon does). */
export function favouritedStatuses(db: Db, viewerId: string, page: PageBounds): PagedRow<StatusRow>[] {
  const from = sql`FROM favourites f CROSS JOIN statuses s ON s.id = f.status_id`;
  return withRows(
    db,
    pageIds(db, from, sql`f.id`, [sql`f.account_id = ${viewerId}`, sql`s.deleted_at IS NULL`], page),
  );
}

/** Bookmarks (the local account's only), paginated by the bookmark's id. */
export function bookmarkedStatuses(db: Db, page: PageBounds): PagedRow<StatusRow>[] {
  const from = sql`FROM bookmarks bm CROSS JOIN statuses s ON s.id = bm.status_id`;
  return withRows(db, pageIds(db, from, sql`bm.id`, [sql`s.deleted_at IS NULL`], page));
}

/** Accounts that favourited a status, paginated by the favourite's id. */
export function favouritedBy(db: Db, statusId: string, page: PageBounds): PagedRow<AccountRow>[] {
  const { where, order } = keyset(sql`f.id`, page);
  const rows = db.all<{ pageId: string; accountId: string }>(
    sql`SELECT f.id AS pageId, f.account_id AS accountId FROM favourites f
      WHERE ${whereAll([sql`f.status_id = ${statusId}`, ...where])}
      ORDER BY ${order} LIMIT ${page.limit}`,
  );
  return withAccounts(db, newestFirst(rows, page));
}

/** Accounts that boosted a status, paginated by the boost's id. */
export function rebloggedBy(db: Db, statusId: string, page: PageBounds): PagedRow<AccountRow>[] {
  const { where, order } = keyset(sql`s.id`, page);
  const rows = db.all<{ pageId: string; accountId: string }>(
    sql`SELECT s.id AS pageId, s.account_id AS accountId FROM statuses s
      WHERE ${whereAll([sql`s.reblog_of_id = ${statusId}`, sql`s.deleted_at IS NULL`, ...where])}
      ORDER BY ${order} LIMIT ${page.limit}`,
  );
  return withAccounts(db, newestFirst(rows, page));
}

function withAccounts(db: Db, rows: { pageId: string; accountId: string }[]): PagedRow<AccountRow>[] {
  if (rows.length === 0) return [];
  const byId = new Map(
    db
      .select()
      .from(accounts)
      .where(
        inArray(
          accounts.id,
          rows.map((r) => r.accountId),
        ),
      )
      .all()
      .map((a) => [a.id, a]),
  );
  return rows.flatMap((r) => {
    const row = byId.get(r.accountId);
    return row ? [{ pageId: r.pageId, row }] : [];
  });
}

// ---- Notifications ----

export interface NotificationFilter {
  /** Types to include (null: every type). An empty list matches nothing. */
  types: string[] | null;
  excludeTypes: string[];
  fromAccountId: string | null;
  /** Also those the notification policy filtered (always when asking for one sender's, as Mastodon). */
  includeFiltered?: boolean;
}

/** The conditions every notification list applies, over the alias `n`. */
export function notificationFilters(viewerId: string, filter: NotificationFilter, now: number): SQL[] {
  const parts = [
    sql`n.dismissed_at IS NULL`,
    sql`NOT EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = ${viewerId} AND b.target_id = n.from_account_id)`,
    notificationsNotMutedSql(viewerId, sql`n.from_account_id`, now),
    notDomainBlockedSql([sql`n.from_account_id`]),
  ];
  if (filter.types !== null) {
    if (filter.types.length === 0) parts.push(sql`0`);
    else parts.push(sql`n.type IN ${filter.types}`);
  }
  if (filter.excludeTypes.length > 0) parts.push(sql`n.type NOT IN ${filter.excludeTypes}`);
  if (filter.fromAccountId !== null) parts.push(sql`n.from_account_id = ${filter.fromAccountId}`);
  else if (!filter.includeFiltered) parts.push(sql`n.filtered = 0`);
  return parts;
}

const notificationsQuery = preparedPerDb((db) =>
  db.select().from(notifications).where(inList(notifications.id, "ids")).prepare(),
);

/** The local account's notifications, newest first, from the primary key index. */
export function listNotifications(
  db: Db,
  viewerId: string,
  filter: NotificationFilter,
  page: PageBounds,
  now = Date.now(),
): NotificationRow[] {
  const { where, order } = keyset(sql`n.id`, page);
  const ids = newestFirst(
    db
      .all<{ id: string }>(
        sql`SELECT n.id AS id FROM notifications n WHERE ${whereAll([...notificationFilters(viewerId, filter, now), ...where])}
        ORDER BY ${order} LIMIT ${page.limit}`,
      )
      .map((r) => r.id),
    page,
  );
  if (ids.length === 0) return [];
  const rows = new Map(
    notificationsQuery(db)
      .all({ ids: JSON.stringify(ids) })
      .map((n) => [n.id, n]),
  );
  return ids.map((id) => rows.get(id)).filter((n): n is NotificationRow => n !== undefined);
}

export function findNotification(db: Db, id: string): NotificationRow | null {
  return (
    db
      .select()
      .from(notifications)
      .where(and(eq(notifications.id, id), isNull(notifications.dismissedAt)))
      .get() ?? null
  );
}

/** Unread notifications (newer than `afterId`), counted up to `cap` so a huge backlog costs a bounded scan. */
export function countUnreadNotifications(
  db: Db,
  viewerId: string,
  afterId: string | null,
  cap: number,
  now = Date.now(),
): number {
  const filters = notificationFilters(viewerId, { types: null, excludeTypes: [], fromAccountId: null }, now);
  if (afterId !== null) filters.push(sql`n.id > ${comparableId(afterId)}`);
  const row = db.get<{ n: number }>(
    sql`SELECT count(*) AS n FROM (SELECT 1 FROM notifications n WHERE ${whereAll(filters)} LIMIT ${cap})`,
  );
  return row?.n ?? 0;
}

// ---- Threads ----

export const MAX_ANCESTORS = 40;

/** The statuses a status replies to, root first, following in_reply_to_id (or the uri when not linked). */
export function ancestorsOf(db: Db, status: StatusRow, limit = MAX_ANCESTORS): StatusRow[] {
  const chain: StatusRow[] = [];
  const seen = new Set<string>([status.id]);
  let current = status;
  while (chain.length < limit) {
    let parent: StatusRow | undefined;
    if (current.inReplyToId)
      parent = db.select().from(statuses).where(eq(statuses.id, current.inReplyToId)).get();
    else if (current.inReplyToUri)
      parent = db.select().from(statuses).where(eq(statuses.uri, current.inReplyToUri)).get();
    if (!parent || seen.has(parent.id)) break;
    seen.add(parent.id);
    chain.push(parent);
    current = parent;
  }
  return chain.reverse();
}

/**
 * Replies to a status and replies to those, depth first with siblings oldest first (Mastodon's order), found
 * by a recursive query over in_reply_to_uri (set for local replies and for remote ones whose parent arrived
 * later). At most `limit` rows, at most `maxDepth` levels.
 */
export function descendantsOf(db: Db, status: StatusRow, limit: number, maxDepth: number): StatusRow[] {
  const found = db.all<{ id: string; uri: string; parent: string; depth: number }>(
    sql`WITH RECURSIVE tree(id, uri, parent, depth) AS (
      SELECT s.id, s.uri, s.in_reply_to_uri, 1 FROM statuses s WHERE s.in_reply_to_uri = ${status.uri}
      UNION
      SELECT s.id, s.uri, s.in_reply_to_uri, t.depth + 1 FROM statuses s JOIN tree t ON s.in_reply_to_uri = t.uri
        WHERE t.depth < ${maxDepth}
      LIMIT ${limit}
    ) SELECT id, uri, parent, depth FROM tree`,
  );
  const children = new Map<string, { id: string; uri: string }[]>();
  for (const r of found) {
    const list = children.get(r.parent) ?? [];
    list.push({ id: r.id, uri: r.uri });
    children.set(r.parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const order: string[] = [];
  const visited = new Set<string>();
  const walk = (uri: string) => {
    for (const child of children.get(uri) ?? []) {
      if (visited.has(child.id)) continue;
      visited.add(child.id);
      order.push(child.id);
      walk(child.uri);
    }
  };
  walk(status.uri);
  return statusesByIds(db, order);
}
