/**
 * The notification policy (v1 and v2) and its requests (/api/v1/notifications/requests), as Mastodon 4.3
 * serves them. Both policy paths read and write both forms: v2's `for_*` (accept, filter or drop) and v1's
 * `filter_*` booleans (true is "filter"), and one answer holds the keys of both.
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import {
  acceptNotificationRequests,
  dismissNotificationRequests,
  updateNotificationPolicy,
} from "../../core/notifications-policy.js";
import { accountsByIds } from "../../store/account-lookups.js";
import { isId } from "../../store/ids.js";
import {
  findNotificationRequest,
  findPolicy,
  listNotificationRequests,
  type NotificationPolicy,
  type NotificationRequestRow,
  POLICY_ACTIONS,
  type PolicyAction,
  pendingCounts,
  requestsSummary,
} from "../../store/notifications-policy.js";
import { statusesByIds } from "../../store/timelines.js";
import { HttpError, notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { iso, renderAccount, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";

/** Each policy key, with its v2 and (where v1 has it) v1 name. */
const KEYS: { key: keyof NotificationPolicy; v2: string; v1: string | null }[] = [
  { key: "forNotFollowing", v2: "for_not_following", v1: "filter_not_following" },
  { key: "forNotFollowers", v2: "for_not_followers", v1: "filter_not_followers" },
  { key: "forNewAccounts", v2: "for_new_accounts", v1: "filter_new_accounts" },
  { key: "forPrivateMentions", v2: "for_private_mentions", v1: "filter_private_mentions" },
  { key: "forLimitedAccounts", v2: "for_limited_accounts", v1: null },
];

function renderPolicy(ctx: Context, policy: NotificationPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, v1 } of KEYS) if (v1) out[v1] = policy[key] !== "accept";
  for (const { key, v2 } of KEYS) out[v2] = policy[key];
  const summary = requestsSummary(ctx.store.db);
  out.summary = {
    pending_requests_count: summary.requests,
    pending_notifications_count: summary.notifications,
  };
  return out;
}

/** The changes a policy update asks for; an action that is not accept, filter or drop is refused. */
function policyChanges(params: Params): Partial<NotificationPolicy> {
  const changes: Partial<NotificationPolicy> = {};
  for (const { key, v1, v2 } of KEYS) {
    const flag = v1 ? read.boolean(params, v1) : undefined;
    if (flag !== undefined) changes[key] = flag ? "filter" : "accept";
    const action = read.string(params, v2);
    if (action === undefined || action === "") continue;
    if (!(POLICY_ACTIONS as readonly string[]).includes(action)) {
      throw new HttpError(422, `${v2} must be one of ${POLICY_ACTIONS.join(", ")}`);
    }
    changes[key] = action as PolicyAction;
  }
  return changes;
}

function renderRequests(
  ctx: Context,
  rows: NotificationRequestRow[],
  viewerId: string,
): Record<string, unknown>[] {
  const db = ctx.store.db;
  const accounts = new Map(
    accountsByIds(
      db,
      rows.map((r) => r.fromAccountId),
    ).map((a) => [a.id, renderAccount(ctx, a)]),
  );
  const statusIds = rows.map((r) => r.lastStatusId).filter((id): id is string => id !== null);
  const statuses = new Map(
    renderStatuses(ctx, statusesByIds(db, statusIds), viewerId).map((s) => [s.id as string, s]),
  );
  const counts = pendingCounts(
    db,
    rows.map((r) => r.fromAccountId),
  );
  return rows.flatMap((r) => {
    const account = accounts.get(r.fromAccountId);
    if (!account) return [];
    return [
      {
        id: r.id,
        created_at: iso(r.createdAt),
        updated_at: iso(r.updatedAt),
        // A string, as Mastodon serialises it.
        notifications_count: String(counts.get(r.fromAccountId) ?? 0),
        account,
        last_status: r.lastStatusId ? (statuses.get(r.lastStatusId) ?? null) : null,
      },
    ];
  });
}

/** The `id[]` of a bulk action (ids only; anything else names no request). */
function requestIds(params: Params): string[] {
  return [...new Set(read.strings(params, "id") ?? [])].filter(isId);
}

export function notificationPolicyRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  for (const version of ["v1", "v2"] as const) {
    const path = `/api/${version}/notifications/policy`;
    app.get(path, (c) => {
      const { viewerId } = requireViewer(ctx, c, "read:notifications");
      return c.json(renderPolicy(ctx, findPolicy(db, viewerId)));
    });
    for (const method of ["put", "patch"] as const) {
      app[method](path, async (c) => {
        requireViewer(ctx, c, "write:notifications");
        const policy = updateNotificationPolicy(ctx, policyChanges(await readParams(c)));
        return c.json(renderPolicy(ctx, policy));
      });
    }
  }

  app.get("/api/v1/notifications/requests", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const page = readPage(c, 40, 80);
    const rows = listNotificationRequests(db, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.id),
      page,
    );
    return c.json(renderRequests(ctx, rows, viewerId));
  });

  // Accepting is done by the time it answers, so the merge Mastodon runs in the background is always over.
  app.get("/api/v1/notifications/requests/merged", (c) => {
    requireViewer(ctx, c, "read:notifications");
    return c.json({ merged: true });
  });

  app.post("/api/v1/notifications/requests/accept", async (c) => {
    requireViewer(ctx, c, "write:notifications");
    acceptNotificationRequests(ctx, requestIds(await readParams(c)));
    return c.json({});
  });

  app.post("/api/v1/notifications/requests/dismiss", async (c) => {
    requireViewer(ctx, c, "write:notifications");
    dismissNotificationRequests(ctx, requestIds(await readParams(c)));
    return c.json({});
  });

  app.get("/api/v1/notifications/requests/:id", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:notifications");
    const id = c.req.param("id");
    const row = isId(id) ? findNotificationRequest(db, id) : null;
    const [rendered] = row ? renderRequests(ctx, [row], viewerId) : [];
    if (!rendered) throw notFound();
    return c.json(rendered);
  });

  app.post("/api/v1/notifications/requests/:id/accept", (c) => {
    requireViewer(ctx, c, "write:notifications");
    const id = c.req.param("id");
    if (!isId(id) || acceptNotificationRequests(ctx, [id]) === 0) throw notFound();
    return c.json({});
  });

  app.post("/api/v1/notifications/requests/:id/dismiss", (c) => {
    requireViewer(ctx, c, "write:notifications");
    const id = c.req.param("id");
    if (!isId(id) || dismissNotificationRequests(ctx, [id]) === 0) throw notFound();
    return c.json({});
  });

  return app;
}
