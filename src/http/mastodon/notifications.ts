/**
 * /api/v1/notifications (API v1 only: the instance advertises api_versions.mastodon 1, so apps do not ask for
 * grouped notifications). Dismissing keeps the row with dismissed_at set; clearing deletes them all.
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { clearNotifications, dismissNotification } from "../../core/dismissals.js";
import { applyFilters } from "../../core/filters.js";
import { isId } from "../../store/ids.js";
import { findMarker } from "../../store/markers.js";
import {
  countUnreadNotifications,
  findNotification,
  listNotifications,
  statusesByIds,
} from "../../store/timelines.js";
import { HttpError, notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { renderNotifications } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";

/** Every type Mastodon knows; filters drop anything else instead of failing, as apps send newer types. */
const NOTIFICATION_TYPES = new Set([
  "mention",
  "status",
  "reblog",
  "follow",
  "follow_request",
  "favourite",
  "poll",
  "update",
  "admin.sign_up",
  "admin.report",
  "severed_relationships",
  "moderation_warning",
  "annual_report",
  "quote",
  "quoted_update",
  "moved",
]);

const UNREAD_DEFAULT = 100;
const UNREAD_MAX = 1000;

/**
 * The one policy Wren applies: it filters nothing. This is what Mastodon reports when every filter is off,
 * with the keys of v1 (filter_*) and v2 (for_*).
 */
const POLICY = {
  filter_not_following: false,
  filter_not_followers: false,
  filter_new_accounts: false,
  filter_private_mentions: false,
  for_not_following: "accept",
  for_not_followers: "accept",
  for_new_accounts: "accept",
  for_private_mentions: "accept",
  for_limited_accounts: "accept",
  summary: { pending_requests_count: 0, pending_notifications_count: 0 },
};

const POLICY_FLAGS = [
  "filter_not_following",
  "filter_not_followers",
  "filter_new_accounts",
  "filter_private_mentions",
] as const;
const POLICY_CHOICES = [
  "for_not_following",
  "for_not_followers",
  "for_new_accounts",
  "for_private_mentions",
  "for_limited_accounts",
] as const;

/**
 * A policy change is accepted only when it asks for the policy already applied; anything else is refused by
 * name, so an app never shows a filter as on while nothing is filtered.
 */
function checkPolicyChange(params: Params): void {
  const refused: string[] = [];
  for (const key of POLICY_FLAGS) {
    const value = read.boolean(params, key);
    if (value !== undefined && value !== POLICY[key]) refused.push(`${key}=${value}`);
  }
  for (const key of POLICY_CHOICES) {
    const value = read.string(params, key);
    if (value !== undefined && value !== "" && value !== POLICY[key]) refused.push(`${key}=${value}`);
  }
  if (refused.length > 0) {
    throw new HttpError(
      422,
      `filtering notifications is not supported yet: every notification is accepted (refused: ${refused.join(", ")})`,
    );
  }
}

/** The known types of a filter; null when the filter is absent or empty. */
function typeList(params: Params, key: string): string[] | null {
  const list = (read.strings(params, key) ?? []).map((t) => t.trim()).filter((t) => t !== "");
  if (list.length === 0) return null;
  return list.filter((t) => NOTIFICATION_TYPES.has(t));
}

export function notificationRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  app.get("/api/v1/notifications", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const params = await readParams(c);
    const page = readPage(c, 40, 80);
    const types = typeList(params, "types");
    const accountId = read.string(params, "account_id");
    if (accountId !== undefined && accountId !== "" && !isId(accountId)) return c.json([]);
    const rows = listNotifications(
      db,
      viewerId,
      {
        // types[] with only unknown types matches nothing (Mastodon intersects with the known ones).
        types,
        excludeTypes: typeList(params, "exclude_types") ?? [],
        fromAccountId: accountId || null,
      },
      page,
    );
    setLinkHeader(
      ctx,
      c,
      rows.map((n) => n.id),
      page,
    );
    // A notification whose status a `hide` filter of the notifications context matches is left out.
    const statusIds = [...new Set(rows.flatMap((n) => (n.statusId ? [n.statusId] : [])))];
    const { hidden, filteredById } = applyFilters(
      ctx,
      "notifications",
      statusesByIds(db, statusIds),
      viewerId,
    );
    const shown = rows.filter((n) => n.statusId === null || !hidden.has(n.statusId));
    return c.json(renderNotifications(ctx, shown, viewerId, filteredById));
  });

  app.get("/api/v1/notifications/unread_count", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const raw = Number.parseInt(c.req.query("limit") ?? "", 10);
    const cap = Number.isFinite(raw) ? Math.min(Math.max(raw, 1), UNREAD_MAX) : UNREAD_DEFAULT;
    const marker = findMarker(db, "notifications");
    return c.json({ count: countUnreadNotifications(db, viewerId, marker?.lastReadId ?? null, cap) });
  });

  // v1 and v2 (Mastodon 4.3+, where v1 is deprecated): apps that read the 4.5.0 version string ask for v2, as
  // masto.js's v2.notifications.policy does. One answer holds the keys of both.
  for (const version of ["v1", "v2"] as const) {
    const path = `/api/${version}/notifications/policy`;
    app.get(path, (c) => {
      requireViewer(ctx, c, "read:notifications");
      return c.json(POLICY);
    });
    for (const method of ["put", "patch"] as const) {
      app[method](path, async (c) => {
        requireViewer(ctx, c, "write:notifications");
        checkPolicyChange(await readParams(c));
        return c.json(POLICY);
      });
    }
  }

  // Filtered-notification requests: never any, as nothing is filtered.
  app.get("/api/v1/notifications/requests", (c) => {
    requireViewer(ctx, c, "read:notifications");
    return c.json([]);
  });

  app.post("/api/v1/notifications/clear", (c) => {
    requireViewer(ctx, c, "write:notifications");
    clearNotifications(ctx);
    return c.json({});
  });

  const dismiss = (id: string | undefined) => {
    if (!id || !isId(id)) throw notFound();
    if (!dismissNotification(ctx, id)) throw notFound();
  };

  // The old form, id in the body (Mastodon < 3.1), which some apps still send.
  app.post("/api/v1/notifications/dismiss", async (c) => {
    requireViewer(ctx, c, "write:notifications");
    dismiss(read.string(await readParams(c), "id"));
    return c.json({});
  });

  app.post("/api/v1/notifications/:id/dismiss", (c) => {
    requireViewer(ctx, c, "write:notifications");
    dismiss(c.req.param("id"));
    return c.json({});
  });

  app.get("/api/v1/notifications/:id", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const id = c.req.param("id");
    if (!isId(id)) throw notFound();
    const row = findNotification(db, id);
    const [rendered] = row ? renderNotifications(ctx, [row], viewerId) : [];
    if (!rendered) throw notFound();
    return c.json(rendered);
  });

  return app;
}
