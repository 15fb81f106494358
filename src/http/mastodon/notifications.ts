/**
 * /api/v1/notifications (API v1 only: the instance advertises api_versions.mastodon 1, so apps do not ask for
 * grouped notifications). Dismissing keeps the row with dismissed_at set; clearing deletes them all.
 */
import { and, eq, isNull } from "drizzle-orm";
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { isId } from "../../store/ids.js";
import { markers, notifications } from "../../store/schema.js";
import { countUnreadNotifications, findNotification, listNotifications } from "../../store/timelines.js";
import type { ApiEnv } from "./auth.js";
import { renderNotifications } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";
import { notFound, requireViewer } from "./statuses.js";

/** Every type Mastodon knows; filters drop anything else instead of failing, as apps send newer types. */
export const NOTIFICATION_TYPES = new Set([
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

/** Wren filters nothing: this is the policy Mastodon reports when every filter is off (v1 and v2 keys). */
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
    return c.json(renderNotifications(ctx, rows, viewerId));
  });

  app.get("/api/v1/notifications/unread_count", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const raw = Number.parseInt(c.req.query("limit") ?? "", 10);
    const cap = Number.isFinite(raw) ? Math.min(Math.max(raw, 1), UNREAD_MAX) : UNREAD_DEFAULT;
    const marker = db.select().from(markers).where(eq(markers.timeline, "notifications")).get();
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
    // Nothing is ever filtered, so there is nothing to change: the fixed policy is the answer.
    for (const method of ["put", "patch"] as const) {
      app[method](path, (c) => {
        requireViewer(ctx, c, "write:notifications");
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
    db.delete(notifications).run();
    return c.json({});
  });

  const dismiss = (id: string | undefined) => {
    if (!id || !isId(id)) throw notFound();
    const changed = db
      .update(notifications)
      .set({ dismissedAt: Date.now() })
      .where(and(eq(notifications.id, id), isNull(notifications.dismissedAt)))
      .run().changes;
    if (changed === 0) throw notFound();
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
