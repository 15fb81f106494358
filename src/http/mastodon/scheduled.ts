/**
 * Scheduled statuses: `scheduled_at` on POST /api/v1/statuses (statuses.ts hands the parsed input here) and
 * /api/v1/scheduled_statuses to list, read, move and cancel them. Posting them when due is the publisher's
 * (src/jobs/scheduled.ts).
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { IDEMPOTENCY_TTL_MS, rememberIdempotencyKey } from "../../core/idempotency.js";
import { cancelScheduledStatus, rescheduleStatus, scheduleStatus } from "../../core/scheduled.js";
import type { StatusInput } from "../../core/statuses.js";
import { findIdempotentStatusId } from "../../store/idempotency-keys.js";
import { isId } from "../../store/ids.js";
import { findMediaByIds } from "../../store/media.js";
import {
  findScheduledStatus,
  listScheduledStatuses,
  type ScheduledStatusRow,
} from "../../store/scheduled-statuses.js";
import { notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { iso, renderMedia } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { read, readParams } from "./params.js";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 40;

/** An ISO 8601 date and time with an offset (or Z), or a bare date (midnight UTC), as Rails parses them. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:([T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses `scheduled_at`: the time in milliseconds, or null when absent. */
export function readScheduledAt(value: string | undefined): number | null {
  if (value === undefined || value.trim() === "") return null;
  const text = value.trim();
  const match = ISO_8601.exec(text);
  // Without an offset, Rails reads the time as UTC (its default zone); Date.parse would take local time.
  const at = match ? Date.parse(match[1] && !match[2] ? `${text}Z` : text) : Number.NaN;
  if (Number.isNaN(at)) throw new UserError("Validation failed: Scheduled at is not an ISO 8601 time");
  return at;
}

/** Mastodon's ScheduledStatus entity. */
export function renderScheduledStatus(ctx: Context, row: ScheduledStatusRow): Record<string, unknown> {
  const media = new Map(findMediaByIds(ctx.store.db, row.mediaIds).map((m) => [m.id, m]));
  const p = row.params;
  return {
    id: row.id,
    scheduled_at: iso(row.scheduledAt),
    params: {
      text: p.text,
      poll: p.poll
        ? {
            options: p.poll.options,
            expires_in: p.poll.expiresIn,
            multiple: p.poll.multiple,
            hide_totals: p.poll.hideTotals,
          }
        : null,
      media_ids: row.mediaIds.length > 0 ? row.mediaIds : null,
      sensitive: p.sensitive,
      spoiler_text: p.spoilerText,
      visibility: p.visibility,
      in_reply_to_id: p.inReplyToId,
      language: p.language,
      application_id: p.applicationId,
      scheduled_at: null,
      idempotency: null,
      with_rate_limit: false,
    },
    media_attachments: row.mediaIds.flatMap((id) => {
      const m = media.get(id);
      return m ? [renderMedia(ctx, m)] : [];
    }),
  };
}

/**
 * Schedules the status a POST /api/v1/statuses asked for with `scheduled_at`. An Idempotency-Key repeated
 * within the hour answers the status scheduled the first time (the key remembers its id, as Mastodon's does).
 */
export function postScheduledStatus(
  ctx: Context,
  input: StatusInput,
  scheduledAt: number,
  idempotency: { tokenId: string; key: string } | null,
): Record<string, unknown> {
  if (idempotency) {
    const known = findRememberedScheduled(ctx, idempotency.tokenId, idempotency.key);
    if (known) return renderScheduledStatus(ctx, known);
  }
  const row = scheduleStatus(ctx, {
    scheduledAt,
    mediaIds: input.mediaIds ?? [],
    params: {
      text: input.text,
      visibility: input.visibility ?? "public",
      spoilerText: input.spoilerText ?? "",
      sensitive: input.sensitive ?? false,
      inReplyToId: input.inReplyToId ?? null,
      language: input.language ?? null,
      poll: input.poll
        ? {
            options: input.poll.options,
            expiresIn: input.poll.expiresIn,
            multiple: input.poll.multiple ?? false,
            hideTotals: input.poll.hideTotals ?? false,
          }
        : null,
      applicationId: input.applicationId ?? null,
    },
  });
  if (idempotency) rememberIdempotencyKey(ctx, idempotency.tokenId, idempotency.key, row.id);
  return renderScheduledStatus(ctx, row);
}

/** The keys table holds a status id or, for a scheduled post, the scheduled status's id. */
function findRememberedScheduled(ctx: Context, tokenId: string, key: string): ScheduledStatusRow | null {
  const id = findIdempotentStatusId(ctx.store.db, tokenId, key, Date.now() - IDEMPOTENCY_TTL_MS);
  return id ? findScheduledStatus(ctx.store.db, id) : null;
}

function scheduledById(ctx: Context, id: string | undefined): ScheduledStatusRow {
  if (!id || !isId(id)) throw notFound();
  const row = findScheduledStatus(ctx.store.db, id);
  if (!row) throw notFound();
  return row;
}

export function scheduledRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();

  app.get("/api/v1/scheduled_statuses", (c) => {
    requireViewer(ctx, c, "read:statuses");
    const page = readPage(c, DEFAULT_LIMIT, MAX_LIMIT);
    const rows = listScheduledStatuses(ctx.store.db, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.id),
      page,
      "when-full",
    );
    return c.json(rows.map((r) => renderScheduledStatus(ctx, r)));
  });

  app.get("/api/v1/scheduled_statuses/:id", (c) => {
    requireViewer(ctx, c, "read:statuses");
    return c.json(renderScheduledStatus(ctx, scheduledById(ctx, c.req.param("id"))));
  });

  app.put("/api/v1/scheduled_statuses/:id", async (c) => {
    requireViewer(ctx, c, "write:statuses");
    const row = scheduledById(ctx, c.req.param("id"));
    const at = readScheduledAt(read.string(await readParams(c), "scheduled_at"));
    if (at === null) return c.json(renderScheduledStatus(ctx, row));
    return c.json(renderScheduledStatus(ctx, rescheduleStatus(ctx, row.id, at)));
  });

  app.delete("/api/v1/scheduled_statuses/:id", (c) => {
    requireViewer(ctx, c, "write:statuses");
    cancelScheduledStatus(ctx, scheduledById(ctx, c.req.param("id")).id);
    return c.json({});
  });

  return app;
}
