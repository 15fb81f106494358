/**
 * What happens to a notification as it is made: the owner's policy accepts, filters or drops it, and
 * favourites, boosts and follows get the group key that API v2 groups them by. Both follow Mastodon 4.3
 * (NotifyService's filter and drop conditions, Notification::Groups#set_group_key!).
 */
import { sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { accountsByIds } from "../store/account-lookups.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import {
  acceptedFollowSince,
  DEFAULT_POLICY,
  findPolicy,
  hasNotificationPermission,
  type PolicyAction,
  repliesToPrivateMention,
} from "../store/notifications-policy.js";
import { notificationRequests } from "../store/schema.js";
import { findStatusById } from "../store/statuses.js";

/** The types a policy may hold back (Mastodon's `filterable` ones); the others always pass. */
const FILTERABLE_TYPES = new Set(["mention", "reblog", "follow", "follow_request", "favourite", "quote"]);
/** The types API v2 groups by default. */
export const GROUPABLE_TYPES = ["favourite", "reblog", "follow"] as const;

const DAY = 24 * 3_600_000;
const NEW_ACCOUNT_MS = 30 * DAY;
const NEW_FOLLOWER_MS = 3 * DAY;
const HOUR = 3_600_000;
/** A group takes in notifications until it spans this many hours, and while they keep coming within it. */
const MAXIMUM_GROUP_SPAN_HOURS = 12;

export type Verdict = PolicyAction;

function samePolicy(a: typeof DEFAULT_POLICY, b: typeof DEFAULT_POLICY): boolean {
  return (Object.keys(a) as (keyof typeof a)[]).every((key) => a[key] === b[key]);
}

/**
 * What the owner's policy does with a notification of `type` from `senderId`: the strictest action of the
 * policies that match it (drop over filter over accept). An account whose request was accepted always
 * passes, and so does a mention from an account the owner follows. Wren limits no accounts, so
 * `for_limited_accounts` never matches.
 */
export function policyVerdict(
  ctx: Context,
  owner: AccountRow,
  type: string,
  senderId: string,
  statusId: string | null,
  now = Date.now(),
): Verdict {
  if (!FILTERABLE_TYPES.has(type)) return "accept";
  const db = ctx.store.db;
  const policy = findPolicy(db, owner.id);
  if (samePolicy(policy, DEFAULT_POLICY)) return "accept";
  if (hasNotificationPermission(db, senderId)) return "accept";
  const following = acceptedFollowSince(db, owner.id, senderId) !== null;
  if (following && type === "mention") return "accept";

  const actions: PolicyAction[] = [];
  if (!following) actions.push(policy.forNotFollowing);
  if (policy.forNotFollowers !== "accept") {
    const since = acceptedFollowSince(db, senderId, owner.id);
    if (since === null || since > now - NEW_FOLLOWER_MS) actions.push(policy.forNotFollowers);
  }
  if (!following && policy.forNewAccounts !== "accept") {
    // "Created" is when a remote actor says it was published, or when Wren first saw it.
    const [sender] = accountsByIds(db, [senderId]);
    if (sender && (sender.publishedAt ?? sender.createdAt) > now - NEW_ACCOUNT_MS) {
      actions.push(policy.forNewAccounts);
    }
  }
  if (!following && type === "mention" && policy.forPrivateMentions !== "accept" && statusId !== null) {
    const status = findStatusById(db, statusId);
    const unsolicited =
      status?.visibility === "direct" &&
      (status.inReplyToId === null || !repliesToPrivateMention(db, owner.id, senderId, status.inReplyToId));
    if (unsolicited) actions.push(policy.forPrivateMentions);
  }
  if (actions.includes("drop")) return "drop";
  return actions.includes("filter") ? "filter" : "accept";
}

/**
 * The group key of a new notification, or null for the types that stay ungrouped. Favourites and boosts of
 * one status, and follows, share a key made of the hour the group began: a new notification joins the
 * latest group when that group began less than 12 hours ago and its last notification is less than 12 hours
 * old, as Mastodon does (it keeps the hour in Redis for 12 hours; here the notifications table says it).
 */
export function groupKeyFor(
  ctx: Context,
  type: string,
  statusId: string | null,
  now = Date.now(),
): string | null {
  let prefix: string;
  if (type === "follow") prefix = "follow";
  else if ((type === "favourite" || type === "reblog") && statusId !== null) prefix = `${type}-${statusId}`;
  else return null;
  let bucket = Math.floor(now / HOUR);
  // Hour numbers have the same number of digits until the year 2084, so the greatest key is the latest group.
  const latest = ctx.store.db.get<{ key: string; at: number }>(
    sql`SELECT group_key AS key, created_at AS at FROM notifications INDEXED BY notifications_group
      WHERE group_key > ${`${prefix}-`} AND group_key < ${`${prefix}-~`}
      ORDER BY group_key DESC, id DESC LIMIT 1`,
  );
  if (latest && latest.at > now - MAXIMUM_GROUP_SPAN_HOURS * HOUR) {
    const previous = Number(latest.key.slice(prefix.length + 1));
    if (previous <= bucket && bucket < previous + MAXIMUM_GROUP_SPAN_HOURS) bucket = previous;
  }
  return `${prefix}-${bucket}`;
}

/** A filtered mention opens (or refreshes) the request of its sender. */
export function recordFilteredMention(
  ctx: Context,
  fromAccountId: string,
  statusId: string,
  now = Date.now(),
): void {
  ctx.store.db
    .insert(notificationRequests)
    .values({ id: newId(now), fromAccountId, lastStatusId: statusId, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: notificationRequests.fromAccountId,
      set: { lastStatusId: statusId, updatedAt: now },
    })
    .run();
}
