/**
 * Timeline, notification and thread queries. Every list is keyset-paginated by an id column that has an
 * index (max_id/since_id exclusive, min_id = the items just newer), reads at most LIMIT rows from that index,
 * and never uses OFFSET. Lists are read in two steps: the ids of the page (a narrow index scan), then the rows
 * by primary key, so the wide rows are read only for what is returned.
 */
import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { accounts, follows, homeFeed, mentions, notifications, polls, statuses, tags } from "./schema.js";
import type { StatusRow } from "./statuses.js";

export type NotificationRow = typeof notifications.$inferSelect;
export type TagRow = typeof tags.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;

/** A page request as readPage() gives it. */
export interface PageBounds {
  maxId: string | null;
  sinceId: string | null;
  minId: string | null;
  limit: number;
}

/** One item of a page: `pageId` is the id the Link header carries (a favourite's id, not the status's). */
export interface PagedRow<T> {
  pageId: string;
  row: T;
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

interface Keyset {
  where: SQL[];
  ascending: boolean;
}

/** Mastodon's rules: min_id wins over since_id and turns the scan around (oldest first, reversed later). */
function keyset(column: SQL, page: PageBounds): Keyset {
  const where: SQL[] = [];
  if (page.maxId !== null) where.push(sql`${column} < ${comparableId(page.maxId)}`);
  const lower = page.minId ?? page.sinceId;
  if (lower !== null) where.push(sql`${column} > ${comparableId(lower)}`);
  return { where, ascending: page.minId !== null };
}

function whereAll(parts: SQL[]): SQL {
  return parts.length === 0 ? sql`1` : sql.join(parts, sql` AND `);
}

/** Runs an id query built from `select ... where ... order by column` and returns ids newest first. */
function pageIds(
  db: Db,
  from: SQL,
  column: SQL,
  filters: SQL[],
  page: PageBounds,
): { pageId: string; statusId: string }[] {
  const { where, ascending } = keyset(column, page);
  const order = ascending ? sql`ASC` : sql`DESC`;
  const rows = db.all<{ pageId: string; statusId: string }>(
    sql`SELECT ${column} AS pageId, s.id AS statusId ${from} WHERE ${whereAll([...filters, ...where])} ORDER BY ${column} ${order} LIMIT ${page.limit}`,
  );
  return ascending ? rows.reverse() : rows;
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

function withRows(db: Db, ids: { pageId: string; statusId: string }[]): PagedRow<StatusRow>[] {
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

/** Hides what the viewer muted (unexpired) or blocked, by the author of `s` and of the boosted status `r`. */
function notMutedOrBlocked(viewerId: string, now: number, withReblog: boolean): SQL {
  const targets = withReblog ? sql`(s.account_id, r.account_id)` : sql`(s.account_id)`;
  return sql`NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = ${viewerId} AND m.target_id IN ${targets}
      AND (m.expires_at IS NULL OR m.expires_at > ${now}))
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = ${viewerId} AND b.target_id IN ${targets})`;
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
    notMutedOrBlocked(viewerId, now, true),
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
  if (filter.viewerId) parts.push(notMutedOrBlocked(filter.viewerId, now, false));
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

export function findTagsByNames(db: Db, names: string[]): TagRow[] {
  const lower = [...new Set(names.map((n) => n.toLowerCase()))];
  if (lower.length === 0) return [];
  return db.select().from(tags).where(inArray(tags.name, lower)).all();
}

export function findTagByName(db: Db, name: string): TagRow | null {
  return db.select().from(tags).where(eq(tags.name, name.toLowerCase())).get() ?? null;
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
  // min_id pages are the items just newer than the bound: keep the oldest of the merged ones.
  const kept =
    page.minId !== null ? merged.slice(Math.max(0, merged.length - page.limit)) : merged.slice(0, page.limit);
  return withRows(db, kept);
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
  const { where, ascending } = keyset(sql`f.id`, page);
  const rows = db.all<{ pageId: string; accountId: string }>(
    sql`SELECT f.id AS pageId, f.account_id AS accountId FROM favourites f
      WHERE ${whereAll([sql`f.status_id = ${statusId}`, ...where])}
      ORDER BY f.id ${ascending ? sql`ASC` : sql`DESC`} LIMIT ${page.limit}`,
  );
  return withAccounts(db, ascending ? rows.reverse() : rows);
}

/** Accounts that boosted a status, paginated by the boost's id. */
export function rebloggedBy(db: Db, statusId: string, page: PageBounds): PagedRow<AccountRow>[] {
  const { where, ascending } = keyset(sql`s.id`, page);
  const rows = db.all<{ pageId: string; accountId: string }>(
    sql`SELECT s.id AS pageId, s.account_id AS accountId FROM statuses s
      WHERE ${whereAll([sql`s.reblog_of_id = ${statusId}`, sql`s.deleted_at IS NULL`, ...where])}
      ORDER BY s.id ${ascending ? sql`ASC` : sql`DESC`} LIMIT ${page.limit}`,
  );
  return withAccounts(db, ascending ? rows.reverse() : rows);
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
}

function notificationFilters(viewerId: string, filter: NotificationFilter, now: number): SQL[] {
  const parts = [
    sql`n.dismissed_at IS NULL`,
    sql`NOT EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = ${viewerId} AND b.target_id = n.from_account_id)`,
    sql`NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = ${viewerId} AND m.target_id = n.from_account_id
      AND m.hide_notifications = 1 AND (m.expires_at IS NULL OR m.expires_at > ${now}))`,
  ];
  if (filter.types !== null) {
    if (filter.types.length === 0) parts.push(sql`0`);
    else parts.push(sql`n.type IN ${filter.types}`);
  }
  if (filter.excludeTypes.length > 0) parts.push(sql`n.type NOT IN ${filter.excludeTypes}`);
  if (filter.fromAccountId !== null) parts.push(sql`n.from_account_id = ${filter.fromAccountId}`);
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
  const { where, ascending } = keyset(sql`n.id`, page);
  const ids = db
    .all<{ id: string }>(
      sql`SELECT n.id AS id FROM notifications n WHERE ${whereAll([...notificationFilters(viewerId, filter, now), ...where])}
        ORDER BY n.id ${ascending ? sql`ASC` : sql`DESC`} LIMIT ${page.limit}`,
    )
    .map((r) => r.id);
  if (ascending) ids.reverse();
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

// ---- Visibility ----

/**
 * Which of `rows` a viewer may see. Anonymous viewers see public and unlisted statuses; the local account sees
 * its own, public and unlisted ones, followers-only ones of accounts it follows, and anything that mentions it
 * or reached its home timeline. Deleted statuses are never visible; a boost is visible when it and the boosted
 * status both are.
 */
export function filterVisible(db: Db, viewerId: string | null, rows: StatusRow[]): StatusRow[] {
  if (rows.length === 0) return [];
  const reblogIds = [...new Set(rows.map((r) => r.reblogOfId).filter((id): id is string => id !== null))];
  const targets = new Map(statusesByIds(db, reblogIds).map((r) => [r.id, r]));
  const all = [...rows, ...targets.values()];
  const restricted = all.filter((r) => r.visibility === "private" || r.visibility === "direct");
  const mentioned = new Set<string>();
  const inHome = new Set<string>();
  const followed = new Set<string>();
  if (viewerId && restricted.length > 0) {
    const ids = restricted.map((r) => r.id);
    for (const m of db
      .select({ id: mentions.statusId })
      .from(mentions)
      .where(and(eq(mentions.accountId, viewerId), inArray(mentions.statusId, ids)))
      .all())
      mentioned.add(m.id);
    for (const h of db
      .select({ id: homeFeed.statusId })
      .from(homeFeed)
      .where(inArray(homeFeed.statusId, ids))
      .all())
      inHome.add(h.id);
    const authors = [...new Set(restricted.map((r) => r.accountId))];
    for (const f of db
      .select({ id: follows.followingId })
      .from(follows)
      .where(
        and(
          eq(follows.followerId, viewerId),
          eq(follows.state, "accepted"),
          inArray(follows.followingId, authors),
        ),
      )
      .all())
      followed.add(f.id);
  }
  const visible = (row: StatusRow): boolean => {
    if (row.deletedAt !== null) return false;
    if (row.visibility === "public" || row.visibility === "unlisted") return true;
    if (!viewerId) return false;
    if (row.accountId === viewerId || mentioned.has(row.id) || inHome.has(row.id)) return true;
    return row.visibility === "private" && followed.has(row.accountId);
  };
  return rows.filter((row) => {
    if (!visible(row)) return false;
    if (row.reblogOfId === null) return true;
    const target = targets.get(row.reblogOfId);
    return target !== undefined && visible(target);
  });
}

export function isVisible(db: Db, viewerId: string | null, row: StatusRow): boolean {
  return filterVisible(db, viewerId, [row]).length === 1;
}

/** The poll with its status, or null. */
export function findPollWithStatus(db: Db, pollId: string) {
  const row = db
    .select()
    .from(polls)
    .innerJoin(statuses, eq(polls.statusId, statuses.id))
    .where(eq(polls.id, pollId))
    .get();
  return row ? { poll: row.polls, status: row.statuses } : null;
}
