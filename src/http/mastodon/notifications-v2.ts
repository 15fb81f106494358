/**
 * Grouped notifications, /api/v2/notifications, as Mastodon 4.3+ serves them: favourites and boosts of one
 * status, and follows, come as one group with a count and sample accounts; every other notification is a
 * group of its own. The answer lists each account and status once (`accounts`, `statuses`) and the groups
 * refer to them by id.
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { clearNotifications } from "../../core/dismissals.js";
import { applyFilters } from "../../core/filters.js";
import { GROUPABLE_TYPES } from "../../core/notifications.js";
import { dismissNotificationGroup } from "../../core/notifications-policy.js";
import { accountsByIds } from "../../store/account-lookups.js";
import { isId } from "../../store/ids.js";
import { findMarker } from "../../store/markers.js";
import {
  countGroups,
  findNotificationGroup,
  type GroupFilter,
  groupedNotifications,
  type NotificationGroup,
  notificationGroupAccounts,
} from "../../store/notifications-groups.js";
import { statusesByIds } from "../../store/timelines.js";
import { HttpError, notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { iso, renderAccount, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";
import { REACTION_TYPE, shownType, typeFilters } from "./reaction-notifications.js";

const UNREAD_DEFAULT = 100;
const UNREAD_MAX = 1000;

/** The types whose group carries `status_id` (Mastodon's NotificationGroupSerializer#status_type?). */
const STATUS_TYPES = new Set([
  "favourite",
  "reblog",
  "status",
  "mention",
  "poll",
  "update",
  "quote",
  "quoted_update",
  REACTION_TYPE,
]);

type Expand = "full" | "partial_avatars";

function expandAccounts(params: Params): Expand {
  const value = read.string(params, "expand_accounts");
  if (value === undefined || value === "full") return "full";
  if (value === "partial_avatars") return "partial_avatars";
  throw new HttpError(
    400,
    `Invalid value for 'expand_accounts': '${value}', allowed values are 'full' and 'partial_avatars'`,
  );
}

/** grouped_types[]: which of the groupable types to group (all of them when absent). */
function groupedTypes(params: Params): string[] {
  const asked = read.strings(params, "grouped_types");
  if (asked === undefined) return [...GROUPABLE_TYPES];
  return asked.filter((t) => (GROUPABLE_TYPES as readonly string[]).includes(t));
}

/** The list's filters; null when account_id names no account (nothing matches). */
function listFilter(params: Params): GroupFilter | null {
  const accountId = read.string(params, "account_id");
  if (accountId !== undefined && accountId !== "" && !isId(accountId)) return null;
  return {
    ...typeFilters(params),
    fromAccountId: accountId || null,
    includeFiltered: read.boolean(params, "include_filtered") ?? false,
    groupedTypes: groupedTypes(params),
  };
}

function groupStatusId(group: NotificationGroup): string | null {
  return STATUS_TYPES.has(group.notification.type) ? group.notification.statusId : null;
}

function renderGroup(group: NotificationGroup, known: Set<string>): Record<string, unknown> {
  // Grouped notifications are Mastodon's alone: a reaction is shown as the favourite Mastodon apps know.
  const type = shownType(group.notification.type, false);
  return {
    group_key: group.groupKey,
    notifications_count: group.count,
    type,
    most_recent_notification_id: group.mostRecentId,
    ...(group.page
      ? {
          page_min_id: group.page.minId,
          page_max_id: group.mostRecentId,
          latest_page_notification_at: iso(group.page.latestAt),
        }
      : {}),
    sample_account_ids: group.sampleAccountIds.filter((id) => known.has(id)),
    ...(STATUS_TYPES.has(type) ? { status_id: groupStatusId(group) } : {}),
    ...(type === "admin.report" ? { report: null } : {}),
  };
}

/**
 * The grouped answer: every account a group names (with partial_avatars, only each group's first sample
 * account in full and the others in `partial_accounts`), the groups' statuses and their authors.
 */
function renderGrouped(
  ctx: Context,
  groups: NotificationGroup[],
  viewerId: string,
  expand: Expand,
): Record<string, unknown> {
  const db = ctx.store.db;
  const statusIds = [...new Set(groups.map(groupStatusId).filter((id): id is string => id !== null))];
  // A group whose status a `hide` filter of the notifications context matches is left out, as in v1.
  const filtered = applyFilters(ctx, "notifications", statusesByIds(db, statusIds), viewerId);
  const statusRows = filtered.visible;
  groups = groups.filter((g) => {
    const statusId = groupStatusId(g);
    return statusId === null || !filtered.hidden.has(statusId);
  });
  const statuses = renderStatuses(ctx, statusRows, viewerId, filtered.filteredById);
  const full = new Set<string>();
  const partial = new Set<string>();
  for (const group of groups) {
    group.sampleAccountIds.forEach((id, i) => {
      (expand === "partial_avatars" && i > 0 ? partial : full).add(id);
    });
  }
  for (const row of statusRows) full.add(row.accountId);
  for (const id of full) partial.delete(id);
  const rows = accountsByIds(db, [...full, ...partial]);
  const known = new Set(rows.map((a) => a.id));
  const rendered = new Map(rows.map((a) => [a.id, renderAccount(ctx, a)]));
  const pick = (ids: Set<string>) =>
    [...ids].map((id) => rendered.get(id)).filter((a): a is Record<string, unknown> => a !== undefined);
  const body: Record<string, unknown> = {
    accounts: pick(full),
    statuses,
    notification_groups: groups.map((g) => renderGroup(g, known)),
  };
  if (expand === "partial_avatars") {
    body.partial_accounts = pick(partial).map((a) => ({
      id: a.id,
      acct: a.acct,
      locked: a.locked,
      bot: a.bot,
      url: a.url,
      avatar: a.avatar,
      avatar_static: a.avatar_static,
    }));
  }
  return body;
}

export function groupedNotificationRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  app.get("/api/v2/notifications", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const params = await readParams(c);
    const page = readPage(c, 40, 80);
    const expand = expandAccounts(params);
    const filter = listFilter(params);
    if (!filter) return c.json(renderGrouped(ctx, [], viewerId, expand));
    const { groups, pageIds } = groupedNotifications(db, viewerId, filter, page);
    setLinkHeader(ctx, c, pageIds, page);
    return c.json(renderGrouped(ctx, groups, viewerId, expand));
  });

  app.get("/api/v2/notifications/unread_count", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const params = await readParams(c);
    const raw = Number.parseInt(c.req.query("limit") ?? "", 10);
    const limit = Number.isFinite(raw) ? Math.min(Math.max(raw, 1), UNREAD_MAX) : UNREAD_DEFAULT;
    const marker = findMarker(db, "notifications");
    const filter = listFilter(params);
    if (!filter) return c.json({ count: 0 });
    return c.json({ count: countGroups(db, viewerId, filter, marker?.lastReadId ?? null, limit) });
  });

  app.post("/api/v2/notifications/clear", (c) => {
    requireViewer(ctx, c, "write:notifications");
    clearNotifications(ctx);
    return c.json({});
  });

  app.get("/api/v2/notifications/:group_key", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const group = findNotificationGroup(db, viewerId, c.req.param("group_key"));
    if (!group) throw notFound();
    return c.json(renderGrouped(ctx, [group], viewerId, "full"));
  });

  app.post("/api/v2/notifications/:group_key/dismiss", (c) => {
    requireViewer(ctx, c, "write:notifications");
    dismissNotificationGroup(ctx, c.req.param("group_key"));
    return c.json({});
  });

  app.get("/api/v2/notifications/:group_key/accounts", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const page = readPage(c, 40, 80);
    const rows = notificationGroupAccounts(db, viewerId, c.req.param("group_key"), page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.pageId),
      page,
    );
    return c.json(rows.map((r) => renderAccount(ctx, r.row)));
  });

  return app;
}
