/**
 * /api/v1/notifications, with the grouped v2 routes (notifications-v2.ts) and the policy and its requests
 * (notification-policy.ts) mounted in front. Dismissing keeps the row with dismissed_at set; clearing deletes
 * them all. Notifications the policy filtered are left out unless asked for (include_filtered).
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
import { notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { renderNotifications } from "./entities.js";
import { notificationPolicyRoutes } from "./notification-policy.js";
import { groupedNotificationRoutes } from "./notifications-v2.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { read, readParams } from "./params.js";
import { asksForReactions, typeFilters } from "./reaction-notifications.js";

const UNREAD_DEFAULT = 100;
const UNREAD_MAX = 1000;

export function notificationRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  // Mounted first: their paths (requests, policy) would otherwise be taken for a notification id.
  app.route("/", notificationPolicyRoutes(ctx));
  app.route("/", groupedNotificationRoutes(ctx));

  app.get("/api/v1/notifications", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const params = await readParams(c);
    const page = readPage(c, 40, 80);
    const { types, excludeTypes } = typeFilters(params);
    const accountId = read.string(params, "account_id");
    if (accountId !== undefined && accountId !== "" && !isId(accountId)) return c.json([]);
    const rows = listNotifications(
      db,
      viewerId,
      {
        // types[] with only unknown types matches nothing (Mastodon intersects with the known ones).
        types,
        excludeTypes,
        fromAccountId: accountId || null,
        includeFiltered: read.boolean(params, "include_filtered") ?? false,
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
    return c.json(renderNotifications(ctx, shown, viewerId, filteredById, asksForReactions(params)));
  });

  app.get("/api/v1/notifications/unread_count", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const raw = Number.parseInt(c.req.query("limit") ?? "", 10);
    const cap = Number.isFinite(raw) ? Math.min(Math.max(raw, 1), UNREAD_MAX) : UNREAD_DEFAULT;
    const marker = findMarker(db, "notifications");
    return c.json({ count: countUnreadNotifications(db, viewerId, marker?.lastReadId ?? null, cap) });
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
