/**
 * Reads for the notification policy: the owner's policy row, what the policy needs to know about a sender,
 * and the requests (senders whose mentions were filtered) with their counts.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { preparedPerDb } from "./prepared.js";
import {
  follows,
  notificationPermissions,
  notificationPolicy,
  notificationRequests,
  type PolicyAction,
} from "./schema.js";

export { POLICY_ACTIONS, type PolicyAction } from "./schema.js";
export type NotificationRequestRow = typeof notificationRequests.$inferSelect;

export interface NotificationPolicy {
  forNotFollowing: PolicyAction;
  forNotFollowers: PolicyAction;
  forNewAccounts: PolicyAction;
  forPrivateMentions: PolicyAction;
  forLimitedAccounts: PolicyAction;
}

/** Until the owner changes it, the policy accepts everything (see docs/decisions.md). */
export const DEFAULT_POLICY: NotificationPolicy = {
  forNotFollowing: "accept",
  forNotFollowers: "accept",
  forNewAccounts: "accept",
  forPrivateMentions: "accept",
  forLimitedAccounts: "accept",
};

/** Mastodon counts requests and their notifications up to this many: beyond it, "100+" says enough. */
export const MAX_MEANINGFUL_COUNT = 100;

const queries = preparedPerDb((db) => ({
  policy: db
    .select()
    .from(notificationPolicy)
    .where(eq(notificationPolicy.accountId, sql.placeholder("account")))
    .prepare(),
  permission: db
    .select({ id: notificationPermissions.fromAccountId })
    .from(notificationPermissions)
    .where(eq(notificationPermissions.fromAccountId, sql.placeholder("from")))
    .prepare(),
  follow: db
    .select({ createdAt: follows.createdAt })
    .from(follows)
    .where(
      and(
        eq(follows.followerId, sql.placeholder("follower")),
        eq(follows.followingId, sql.placeholder("following")),
        eq(follows.state, "accepted"),
      ),
    )
    .prepare(),
}));

export function findPolicy(db: Db, accountId: string): NotificationPolicy {
  const row = queries(db).policy.get({ account: accountId });
  if (!row) return DEFAULT_POLICY;
  const { accountId: _, updatedAt: __, ...policy } = row;
  return policy;
}

/** Whether an accepted request lets this sender through whatever the policy says. */
export function hasNotificationPermission(db: Db, fromAccountId: string): boolean {
  return queries(db).permission.get({ from: fromAccountId }) !== undefined;
}

/** When `followerId`'s follow of `followingId` was made, if it is accepted; null when there is none. */
export function acceptedFollowSince(db: Db, followerId: string, followingId: string): number | null {
  return queries(db).follow.get({ follower: followerId, following: followingId })?.createdAt ?? null;
}

/**
 * Whether the status `inReplyToId` or one of its ancestors (at most `depth` of them) is a direct post of the
 * owner that mentions `senderId`: then a private mention from the sender answers the owner and is solicited.
 */
export function repliesToPrivateMention(
  db: Db,
  ownerId: string,
  senderId: string,
  inReplyToId: string,
  depth = 100,
): boolean {
  const row = db.get<{ n: number }>(sql`WITH RECURSIVE up(id, parent, depth) AS (
      SELECT s.id, s.in_reply_to_id, 0 FROM statuses s WHERE s.id = ${inReplyToId}
      UNION
      SELECT s.id, s.in_reply_to_id, up.depth + 1 FROM up JOIN statuses s ON s.id = up.parent
        WHERE up.depth < ${depth}
    )
    SELECT count(*) AS n FROM up JOIN statuses s ON s.id = up.id
    WHERE s.account_id = ${ownerId} AND s.visibility = 'direct'
      AND EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = s.id AND m.account_id = ${senderId})`);
  return (row?.n ?? 0) > 0;
}

// ---- Requests ----

/** The filtered mentions a request holds (what Mastodon counts), as SQL over the request's alias `r`. */
const pendingMentions = sql`SELECT 1 FROM notifications fn WHERE fn.from_account_id = r.from_account_id
  AND fn.filtered = 1 AND fn.type = 'mention' AND fn.dismissed_at IS NULL`;

/** Requests with something pending, newest first, paginated by their id. */
export function listNotificationRequests(db: Db, page: PageBounds): NotificationRequestRow[] {
  const { where, order } = keyset(sql`r.id`, page);
  const parts = [sql`EXISTS (${pendingMentions})`, ...where];
  const ids = db
    .all<{ id: string }>(
      sql`SELECT r.id AS id FROM notification_requests r WHERE ${sql.join(parts, sql` AND `)}
        ORDER BY ${order} LIMIT ${page.limit}`,
    )
    .map((r) => r.id);
  return requestsByIds(db, newestFirst(ids, page));
}

function requestsByIds(db: Db, ids: string[]): NotificationRequestRow[] {
  if (ids.length === 0) return [];
  const found = new Map(
    db
      .select()
      .from(notificationRequests)
      .where(inArray(notificationRequests.id, ids))
      .all()
      .map((r) => [r.id, r]),
  );
  return ids.map((id) => found.get(id)).filter((r): r is NotificationRequestRow => r !== undefined);
}

export function findNotificationRequest(db: Db, id: string): NotificationRequestRow | null {
  return db.select().from(notificationRequests).where(eq(notificationRequests.id, id)).get() ?? null;
}

/** The filtered mentions pending from each sender, counted up to MAX_MEANINGFUL_COUNT. */
export function pendingCounts(db: Db, fromAccountIds: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const from of new Set(fromAccountIds)) {
    const row = db.get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM notifications fn
      WHERE fn.from_account_id = ${from} AND fn.filtered = 1 AND fn.type = 'mention' AND fn.dismissed_at IS NULL
      LIMIT ${MAX_MEANINGFUL_COUNT})`);
    counts.set(from, row?.n ?? 0);
  }
  return counts;
}

/** The policy's summary: pending requests and the notifications they hold, each counted up to 100 requests. */
export function requestsSummary(db: Db): { requests: number; notifications: number } {
  const rows = db.all<{ from: string }>(
    sql`SELECT r.from_account_id AS "from" FROM notification_requests r WHERE EXISTS (${pendingMentions})
      LIMIT ${MAX_MEANINGFUL_COUNT}`,
  );
  const counts = pendingCounts(
    db,
    rows.map((r) => r.from),
  );
  let notifications = 0;
  for (const n of counts.values()) notifications += n;
  return { requests: rows.length, notifications };
}
