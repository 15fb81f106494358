/**
 * The local account's ActivityPub collections: outbox, followers and following, featured (pinned) statuses,
 * and the public replies to a status.
 */
import { and, count, desc, eq, inArray, isNotNull, isNull, type SQL } from "drizzle-orm";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { accounts, follows, statuses } from "./schema.js";
import type { StatusRow } from "./statuses.js";

const OPEN = ["public", "unlisted"] as const;

function outboxWhere(accountId: string): SQL | undefined {
  return and(
    eq(statuses.accountId, accountId),
    isNull(statuses.deletedAt),
    inArray(statuses.visibility, OPEN),
  );
}

/** How many statuses (boosts included) the outbox holds: the public and unlisted ones. */
export function countOutbox(db: Db, accountId: string): number {
  return db.select({ n: count() }).from(statuses).where(outboxWhere(accountId)).get()?.n ?? 0;
}

/** A page of the outbox, newest first (only max_id is offered by its `next` links). */
export function outboxPage(db: Db, accountId: string, page: PageBounds): StatusRow[] {
  const bounds = keyset(statuses.id, page);
  const rows = db
    .select()
    .from(statuses)
    .where(and(outboxWhere(accountId), ...bounds.where))
    .orderBy(bounds.order)
    .limit(page.limit)
    .all();
  return newestFirst(rows, page);
}

export type FollowDirection = "followers" | "following";

function followWhere(accountId: string, direction: FollowDirection): SQL | undefined {
  const mine = direction === "followers" ? follows.followingId : follows.followerId;
  return and(eq(mine, accountId), eq(follows.state, "accepted"));
}

export function countFollows(db: Db, accountId: string, direction: FollowDirection): number {
  return db.select({ n: count() }).from(follows).where(followWhere(accountId, direction)).get()?.n ?? 0;
}

/** The actor URIs of one numbered page (from 1) of followers or following, newest follow first. */
export function followUris(
  db: Db,
  accountId: string,
  direction: FollowDirection,
  pageNumber: number,
  pageSize: number,
): string[] {
  const theirs = direction === "followers" ? follows.followerId : follows.followingId;
  return db
    .select({ uri: accounts.uri })
    .from(follows)
    .innerJoin(accounts, eq(theirs, accounts.id))
    .where(followWhere(accountId, direction))
    .orderBy(desc(follows.id))
    .limit(pageSize)
    .offset((pageNumber - 1) * pageSize)
    .all()
    .map((r) => r.uri);
}

/** The account's pinned statuses, newest pin first. */
export function featuredStatuses(db: Db, accountId: string, limit: number): StatusRow[] {
  return db
    .select()
    .from(statuses)
    .where(and(eq(statuses.accountId, accountId), isNotNull(statuses.pinnedAt), isNull(statuses.deletedAt)))
    .orderBy(desc(statuses.pinnedAt))
    .limit(limit)
    .all();
}

/** The URIs of the public and unlisted replies to a status, oldest first. */
export function publicReplyUris(db: Db, statusId: string, limit: number): string[] {
  return db
    .select({ uri: statuses.uri })
    .from(statuses)
    .where(
      and(eq(statuses.inReplyToId, statusId), isNull(statuses.deletedAt), inArray(statuses.visibility, OPEN)),
    )
    .orderBy(statuses.id)
    .limit(limit)
    .all()
    .map((r) => r.uri);
}
