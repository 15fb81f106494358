/**
 * Grouped notifications (API v2) as Mastodon 4.3 pages them: a page holds up to `limit` groups, each stood
 * for by one notification (the newest of the group within the page's bounds, or the oldest on a min_id
 * page), and each group carries its count, its most recent notification and up to 8 sample accounts, counted
 * within the page's range so that the same group seen on the next page adds up rather than repeats.
 * Notifications whose type is not grouped, or that have no group key, are groups of one (`ungrouped-<id>`).
 */
import { inArray, type SQL, sql } from "drizzle-orm";
import { accountsByIds } from "./account-lookups.js";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { comparableId, keyset, newestFirst, type PageBounds } from "./pagination.js";
import { notifications } from "./schema.js";
import { type NotificationFilter, type NotificationRow, notificationFilters } from "./timelines.js";

/** Read this many notifications at a time while looking for the next groups of a page. */
const SCAN_BATCH = 200;
const SAMPLE_ACCOUNTS_SIZE = 8;

export interface GroupFilter extends NotificationFilter {
  /** The types grouped by their key; a notification of any other type is a group of its own. */
  groupedTypes: readonly string[];
}

export interface NotificationGroup {
  groupKey: string;
  /** The notification that stands for the group: its type, status and report are the group's. */
  notification: NotificationRow;
  count: number;
  mostRecentId: string;
  sampleAccountIds: string[];
  /** On list pages: the group's oldest notification within the page's range, and its newest one's time. */
  page: { minId: string; latestAt: number } | null;
}

/** An id bound of a range: `id > bound` (or `>=` when inclusive) for the lower one, `<`/`<=` for the upper. */
interface Bound {
  id: string;
  inclusive: boolean;
}

interface Range {
  lower: Bound | null;
  upper: Bound | null;
}

const UNGROUPED = "ungrouped-";

function where(parts: SQL[]): SQL {
  return sql.join(parts, sql` AND `);
}

function rangeSql(range: Range | null): { lower: SQL[]; upper: SQL[] } {
  const lower: SQL[] = [];
  const upper: SQL[] = [];
  if (range?.lower) {
    const id = comparableId(range.lower.id);
    lower.push(range.lower.inclusive ? sql`n.id >= ${id}` : sql`n.id > ${id}`);
  }
  if (range?.upper) {
    const id = comparableId(range.upper.id);
    upper.push(range.upper.inclusive ? sql`n.id <= ${id}` : sql`n.id < ${id}`);
  }
  return { lower, upper };
}

function notificationRows(db: Db, ids: string[]): NotificationRow[] {
  if (ids.length === 0) return [];
  const byId = new Map(
    db
      .select()
      .from(notifications)
      .where(inArray(notifications.id, ids))
      .all()
      .map((n) => [n.id, n]),
  );
  return ids.map((id) => byId.get(id)).filter((n): n is NotificationRow => n !== undefined);
}

/**
 * The notifications that stand for the groups of a page, newest first: the notifications are read in id
 * order, a batch at a time, and each new group key keeps the first notification met.
 */
function pageRepresentatives(
  db: Db,
  viewerId: string,
  filter: GroupFilter,
  page: PageBounds,
  now: number,
): { id: string; key: string }[] {
  const grouped = new Set(filter.groupedTypes);
  const base = notificationFilters(viewerId, filter, now);
  const ascending = page.minId !== null;
  const seen = new Set<string>();
  const picked: { id: string; key: string }[] = [];
  let cursor = ascending ? page.minId : page.maxId;
  for (;;) {
    const bounds: PageBounds = ascending
      ? { minId: cursor, maxId: page.maxId, sinceId: null, limit: SCAN_BATCH }
      : { maxId: cursor, sinceId: page.sinceId, minId: null, limit: SCAN_BATCH };
    const { where: range, order } = keyset(sql`n.id`, bounds);
    const rows = db.all<{ id: string; type: string; groupKey: string | null }>(
      sql`SELECT n.id AS id, n.type AS type, n.group_key AS groupKey FROM notifications n
        WHERE ${where([...base, ...range])} ORDER BY ${order} LIMIT ${SCAN_BATCH}`,
    );
    for (const row of rows) {
      const key = row.groupKey !== null && grouped.has(row.type) ? row.groupKey : `${UNGROUPED}${row.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      picked.push({ id: row.id, key });
      if (picked.length >= page.limit) return ascending ? picked.reverse() : picked;
    }
    const last = rows.at(-1);
    if (!last || rows.length < SCAN_BATCH) return ascending ? picked.reverse() : picked;
    cursor = last.id;
  }
}

interface GroupData {
  count: number;
  mostRecentId: string;
  latestAt: number;
  sampleAccountIds: string[];
  minId: string;
}

/**
 * Count, most recent notification and sample accounts of each keyed group, within `range` (null: all of it),
 * in two statements whatever the number of groups: the newest notifications of every group with its count
 * (window functions over the (group_key, id) index), then the oldest one of each within the lower bound.
 */
function groupsData(db: Db, viewerId: string, keys: string[], range: Range | null, now: number) {
  const data = new Map<string, GroupData>();
  if (keys.length === 0) return data;
  const base = [
    ...notificationFilters(viewerId, { types: null, excludeTypes: [], fromAccountId: null }, now),
    sql`n.group_key IN (SELECT value FROM json_each(${JSON.stringify(keys)}))`,
  ];
  const { lower, upper } = rangeSql(range);
  const recent = db.all<{ groupKey: string; id: string; from: string; at: number; total: number }>(
    sql`SELECT groupKey, id, "from", at, total FROM (
        SELECT n.group_key AS groupKey, n.id AS id, n.from_account_id AS "from", n.created_at AS at,
          row_number() OVER (PARTITION BY n.group_key ORDER BY n.id DESC) AS position,
          count(*) OVER (PARTITION BY n.group_key) AS total
        FROM notifications n WHERE ${where([...base, ...upper])})
      WHERE position <= ${SAMPLE_ACCOUNTS_SIZE} ORDER BY groupKey, id DESC`,
  );
  for (const row of recent) {
    const group = data.get(row.groupKey);
    if (group) group.sampleAccountIds.push(row.from);
    else
      data.set(row.groupKey, {
        count: row.total,
        mostRecentId: row.id,
        latestAt: row.at,
        sampleAccountIds: [row.from],
        minId: row.id,
      });
  }
  const oldest = db.all<{ groupKey: string; id: string }>(
    sql`SELECT n.group_key AS groupKey, min(n.id) AS id FROM notifications n WHERE ${where([...base, ...lower])}
      GROUP BY n.group_key`,
  );
  for (const row of oldest) {
    const group = data.get(row.groupKey);
    if (group) group.minId = row.id;
  }
  return data;
}

/** A group from the notification that stands for it and its figures (none for a group of one). */
function toGroup(
  key: string,
  row: NotificationRow,
  data: GroupData | undefined,
  paged: boolean,
): NotificationGroup {
  if (!data) {
    return {
      groupKey: key,
      notification: row,
      count: 1,
      mostRecentId: row.id,
      sampleAccountIds: [row.fromAccountId],
      page: paged ? { minId: row.id, latestAt: row.createdAt } : null,
    };
  }
  return {
    groupKey: key,
    notification: row,
    count: data.count,
    mostRecentId: data.mostRecentId,
    sampleAccountIds: data.sampleAccountIds,
    page: paged ? { minId: data.minId, latestAt: data.latestAt } : null,
  };
}

const keyed = (key: string) => !key.startsWith(UNGROUPED);

/**
 * A page of notification groups, newest first. `pageIds` are the ids of the notifications that stand for
 * them (what the Link header carries). The range the groups are counted in runs from the page's oldest to
 * its newest notification, or, on the last page, on to the end the request gave (Mastodon's
 * Api::V2::NotificationsController#load_grouped_notifications).
 */
export function groupedNotifications(
  db: Db,
  viewerId: string,
  filter: GroupFilter,
  page: PageBounds,
  now = Date.now(),
): { groups: NotificationGroup[]; pageIds: string[] } {
  const picked = pageRepresentatives(db, viewerId, filter, page, now);
  const first = picked[0];
  const last = picked.at(-1);
  if (!first || !last) return { groups: [], pageIds: [] };
  let range: Range = { lower: { id: last.id, inclusive: true }, upper: { id: first.id, inclusive: true } };
  if (picked.length < page.limit) {
    if (page.minId !== null) {
      range = { lower: range.lower, upper: page.maxId ? { id: page.maxId, inclusive: false } : null };
    } else {
      range = { lower: page.sinceId ? { id: page.sinceId, inclusive: false } : null, upper: range.upper };
    }
  }
  const rows = new Map(
    notificationRows(
      db,
      picked.map((p) => p.id),
    ).map((n) => [n.id, n]),
  );
  const data = groupsData(db, viewerId, picked.map((p) => p.key).filter(keyed), range, now);
  const groups = picked.flatMap((p) => {
    const row = rows.get(p.id);
    return row ? [toGroup(p.key, row, data.get(p.key), true)] : [];
  });
  return { groups, pageIds: picked.map((p) => p.id) };
}

/** How many groups have a notification newer than `afterId` (all of them without one), counted up to `cap`. */
export function countGroups(
  db: Db,
  viewerId: string,
  filter: GroupFilter,
  afterId: string | null,
  cap: number,
  now = Date.now(),
): number {
  const page: PageBounds = { maxId: null, sinceId: null, minId: afterId, limit: cap };
  return pageRepresentatives(db, viewerId, filter, page, now).length;
}

/** The condition naming a group's notifications: its key, or the one notification of `ungrouped-<id>`. */
function groupSql(groupKey: string): SQL | null {
  if (!groupKey.startsWith(UNGROUPED)) return sql`n.group_key = ${groupKey}`;
  const id = groupKey.slice(UNGROUPED.length);
  return /^\d{1,19}$/.test(id) ? sql`n.id = ${id}` : null;
}

/** One group as a whole (no page range), or null when it has no notification the owner may see. */
export function findNotificationGroup(
  db: Db,
  viewerId: string,
  groupKey: string,
  now = Date.now(),
): NotificationGroup | null {
  const condition = groupSql(groupKey);
  if (!condition) return null;
  const base = notificationFilters(
    viewerId,
    { types: null, excludeTypes: [], fromAccountId: null, includeFiltered: true },
    now,
  );
  const newest = db.get<{ id: string }>(
    sql`SELECT n.id AS id FROM notifications n WHERE ${where([...base, condition])} ORDER BY n.id DESC LIMIT 1`,
  );
  const [row] = newest ? notificationRows(db, [newest.id]) : [];
  if (!row) return null;
  const data = keyed(groupKey) ? groupsData(db, viewerId, [groupKey], null, now) : null;
  return toGroup(groupKey, row, data?.get(groupKey), false);
}

/** The accounts of a group's notifications, newest first, paginated by the notifications' ids. */
export function notificationGroupAccounts(
  db: Db,
  viewerId: string,
  groupKey: string,
  page: PageBounds,
  now = Date.now(),
): { pageId: string; row: AccountRow }[] {
  const condition = groupSql(groupKey);
  if (!condition) return [];
  const base = notificationFilters(
    viewerId,
    { types: null, excludeTypes: [], fromAccountId: null, includeFiltered: true },
    now,
  );
  const { where: range, order } = keyset(sql`n.id`, page);
  const rows = newestFirst(
    db.all<{ pageId: string; accountId: string }>(
      sql`SELECT n.id AS pageId, n.from_account_id AS accountId FROM notifications n
        WHERE ${where([...base, condition, ...range])} ORDER BY ${order} LIMIT ${page.limit}`,
    ),
    page,
  );
  const accounts = new Map(
    accountsByIds(
      db,
      rows.map((r) => r.accountId),
    ).map((a) => [a.id, a]),
  );
  return rows.flatMap((r) => {
    const row = accounts.get(r.accountId);
    return row ? [{ pageId: r.pageId, row }] : [];
  });
}
