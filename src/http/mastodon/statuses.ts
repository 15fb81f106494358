/**
 * /api/v1/statuses and /api/v1/polls: posting (with Idempotency-Key), reading with visibility rules, edits and
 * their history, threads, and the interactions (favourite, boost, bookmark, pin, muting a conversation).
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { setConversationMuted } from "../../core/conversation-mutes.js";
import { applyFilters } from "../../core/filters.js";
import { IDEMPOTENCY_TTL_MS, rememberIdempotencyKey } from "../../core/idempotency.js";
import {
  bookmark,
  favourite,
  pin,
  reblog,
  unbookmark,
  unfavourite,
  unreblog,
} from "../../core/interactions.js";
import { pollStatus, vote } from "../../core/polls.js";
import { QUOTE_POLICIES, type QuotePolicy } from "../../core/quotes.js";
import {
  createStatus,
  deleteStatus,
  editStatus,
  type MediaAttributes,
  type StatusInput,
  VISIBILITIES,
  type Visibility,
} from "../../core/statuses.js";
import { filterNotHidden, filterVisible, isVisible } from "../../core/visibility.js";
import { resolveMentions } from "../../federation/mentions.js";
import { deleteStatusMedia } from "../../media/delete.js";
import { findLocalUser } from "../../store/accounts.js";
import { findIdempotentStatusId } from "../../store/idempotency-keys.js";
import { isId } from "../../store/ids.js";
import { findMediaByIds } from "../../store/media.js";
import { findStatusEdits } from "../../store/status-edits.js";
import { findStatusById, loadStatusView, type StatusRow } from "../../store/statuses.js";
import {
  ancestorsOf,
  descendantsOf,
  favouritedBy,
  rebloggedBy,
  statusesByIds,
} from "../../store/timelines.js";
import { notFound } from "../errors.js";
import { type ApiEnv, optionalViewer, requireViewer } from "./auth.js";
import { iso, renderAccount, renderMedia, renderStatus, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";
import { postScheduledStatus, readScheduledAt } from "./scheduled.js";

type C = HonoContext<ApiEnv>;

/** Mastodon's limits for a thread: anonymous viewers get a shorter one. */
const CONTEXT_LIMIT = 4096;
const ANONYMOUS_DESCENDANTS = 60;
const ANONYMOUS_DEPTH = 20;
const MAX_IDS_PER_REQUEST = 40;

/**
 * A status by the id in the path, visible to the viewer (null: anonymous), or 404 — a status the viewer may
 * not see answers exactly like one that does not exist.
 */
export function visibleStatus(ctx: Context, id: string | undefined, viewerId: string | null): StatusRow {
  if (!id || !isId(id)) throw notFound();
  const row = findStatusById(ctx.store.db, id);
  if (!row || !isVisible(ctx.store.db, viewerId, row)) throw notFound();
  return row;
}

function reload(ctx: Context, id: string): StatusRow {
  const row = findStatusById(ctx.store.db, id);
  if (!row) throw notFound();
  return row;
}

function preferences(ctx: Context): Record<string, unknown> {
  return findLocalUser(ctx.store.db)?.user.preferences ?? {};
}

const LANGUAGE = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/i;

/** ISO 639 codes pass; anything else is ignored (as Mastodon does) so the default applies. */
function language(params: Params): string | null | undefined {
  const value = read.string(params, "language");
  if (value === undefined || value.trim() === "") return undefined;
  const code = value.trim();
  if (!LANGUAGE.test(code)) return undefined;
  const [primary, ...rest] = code.split("-");
  return [primary?.toLowerCase(), ...rest].join("-");
}

function mediaIds(params: Params): string[] {
  const ids = (read.strings(params, "media_ids") ?? []).map((id) => id.trim()).filter((id) => id !== "");
  for (const id of ids) if (!isId(id)) throw new UserError(`media ${id} does not exist`);
  return ids;
}

/** poll[options][], poll[expires_in], poll[multiple], poll[hide_totals], from JSON or a form. */
function pollParam(params: Params): StatusInput["poll"] {
  const raw = params.poll;
  if (raw === undefined || raw === null || raw === "") return null;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new UserError("poll must be an object");
  const poll = raw as Params;
  const options = read.strings(poll, "options") ?? [];
  const expiresIn = read.integer(poll, "expires_in", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (options.length === 0 && expiresIn === undefined) return null;
  if (expiresIn === undefined) throw new UserError("poll[expires_in] is required");
  return {
    options,
    expiresIn,
    multiple: read.boolean(poll, "multiple") ?? false,
    hideTotals: read.boolean(poll, "hide_totals") ?? false,
  };
}

function visibilityParam(params: Params, fallback: Visibility): Visibility {
  const value = read.string(params, "visibility");
  if (value === undefined || value === "") return fallback;
  if (!VISIBILITIES.includes(value as Visibility))
    throw new UserError(`visibility must be one of ${VISIBILITIES.join(", ")}`);
  return value as Visibility;
}

function defaultVisibility(ctx: Context): Visibility {
  const value = preferences(ctx)["posting:default:visibility"];
  return typeof value === "string" && VISIBILITIES.includes(value as Visibility)
    ? (value as Visibility)
    : "public";
}

/** The status input of a POST or PUT, validated as far as the route can (the core checks the rest). */
function statusInput(ctx: Context, params: Params): Omit<StatusInput, "visibility" | "inReplyToId"> {
  const media = mediaIds(params);
  const spoilerText = read.string(params, "spoiler_text") ?? "";
  const prefs = preferences(ctx);
  const defaultSensitive = media.length > 0 && prefs["posting:default:sensitive"] === true;
  const lang = language(params);
  return {
    text: read.string(params, "status") ?? "",
    spoilerText,
    sensitive: read.boolean(params, "sensitive") ?? (defaultSensitive || spoilerText !== ""),
    language: lang,
    mediaIds: media,
    poll: pollParam(params),
  };
}

/**
 * Idempotency-Key: a repeat of the same key with the same token within an hour returns the status made the
 * first time. Requests still in flight are joined, so two quick retries never post twice.
 */
const inFlight = new Map<string, Promise<string>>();

function rememberedStatus(ctx: Context, tokenId: string, key: string): StatusRow | null {
  const id = findIdempotentStatusId(ctx.store.db, tokenId, key, Date.now() - IDEMPOTENCY_TTL_MS);
  const status = id ? findStatusById(ctx.store.db, id) : null;
  return status && status.deletedAt === null ? status : null;
}

async function postStatus(ctx: Context, c: C): Promise<Response> {
  const { auth, viewerId } = requireViewer(ctx, c, "write:statuses");
  const params = await readParams(c);
  let scheduledAt = readScheduledAt(read.string(params, "scheduled_at"));
  // A time already past is posted now, as Mastodon does; one less than 5 minutes ahead is refused.
  if (scheduledAt !== null && scheduledAt <= Date.now()) scheduledAt = null;
  const key = c.req.header("idempotency-key")?.trim().slice(0, 200);
  if (key && scheduledAt === null) {
    const flightKey = `${auth.tokenId}\u0000${key}`;
    const pending = inFlight.get(flightKey);
    if (pending) return c.json(renderStatus(ctx, reload(ctx, await pending), viewerId));
    const known = rememberedStatus(ctx, auth.tokenId, key);
    if (known) return c.json(renderStatus(ctx, known, viewerId));
  }

  const replyTo = read.string(params, "in_reply_to_id");
  let inReplyToId: string | null = null;
  if (replyTo !== undefined && replyTo !== "") {
    const parent = isId(replyTo) ? findStatusById(ctx.store.db, replyTo) : null;
    if (!parent || parent.reblogOfId || !isVisible(ctx.store.db, viewerId, parent))
      throw notFound("the status replied to does not exist");
    inReplyToId = parent.id;
  }
  const input: StatusInput = {
    ...statusInput(ctx, params),
    visibility: visibilityParam(params, defaultVisibility(ctx)),
    inReplyToId,
    applicationId: auth.appId,
    ...quoteParams(ctx, params, viewerId),
  };
  if (input.quotedStatusId && scheduledAt !== null) throw new UserError("a quote cannot be scheduled", 422);
  if (input.language === undefined) {
    const lang = preferences(ctx)["posting:default:language"];
    input.language = typeof lang === "string" && lang !== "" ? lang : null;
  }
  if (scheduledAt !== null) {
    const idempotency = key ? { tokenId: auth.tokenId, key } : null;
    return c.json(postScheduledStatus(ctx, input, scheduledAt, idempotency));
  }
  const post = async () => createStatus(ctx, { ...input, mentions: await resolveMentions(ctx, input.text) });
  let id: string;
  if (key) {
    const flightKey = `${auth.tokenId}\u0000${key}`;
    const created = post();
    inFlight.set(flightKey, created);
    try {
      id = await created;
      rememberIdempotencyKey(ctx, auth.tokenId, key, id);
    } finally {
      inFlight.delete(flightKey);
    }
  } else id = await post();
  return c.json(renderStatus(ctx, reload(ctx, id), viewerId));
}

/** quoted_status_id (a status the viewer can see) and quote_approval_policy (public, followers, nobody). */
function quoteParams(
  ctx: Context,
  params: Params,
  viewerId: string,
): Pick<StatusInput, "quotedStatusId" | "quotePolicy"> {
  const quotedId = read.string(params, "quoted_status_id");
  let quotedStatusId: string | null = null;
  if (quotedId !== undefined && quotedId !== "") {
    const quoted = isId(quotedId) ? findStatusById(ctx.store.db, quotedId) : null;
    if (!quoted || !isVisible(ctx.store.db, viewerId, quoted))
      throw notFound("the quoted status does not exist");
    quotedStatusId = quoted.id;
  }
  const policy = read.string(params, "quote_approval_policy");
  if (policy !== undefined && policy !== "" && !QUOTE_POLICIES.includes(policy as QuotePolicy))
    throw new UserError(`quote_approval_policy must be one of ${QUOTE_POLICIES.join(", ")}`, 422);
  return { quotedStatusId, quotePolicy: policy ? (policy as QuotePolicy) : undefined };
}

/** Mastodon's StatusEdit entities, oldest first, the current version last. */
function history(ctx: Context, status: StatusRow) {
  const db = ctx.store.db;
  const current = loadStatusView(db, status.id);
  if (!current) throw notFound();
  const account = renderAccount(ctx, current.account);
  const edits = findStatusEdits(db, status.id);
  const oldMedia = new Map(
    findMediaByIds(db, [...new Set(edits.flatMap((e) => e.mediaIds))]).map((m) => [m.id, m]),
  );
  const emojis = status.emojis.map((e) => ({
    shortcode: e.shortcode,
    url: e.url,
    static_url: e.staticUrl ?? e.url,
    visible_in_picker: false,
  }));
  const versions = edits.map((e) => ({
    content: e.content,
    spoiler_text: e.spoilerText,
    sensitive: e.sensitive,
    created_at: iso(e.createdAt),
    account,
    poll: e.poll ? { options: e.poll.options.map((title) => ({ title })) } : null,
    media_attachments: e.mediaIds.flatMap((id) => {
      const media = oldMedia.get(id);
      return media ? [renderMedia(ctx, media)] : [];
    }),
    emojis,
  }));
  versions.push({
    content: status.content,
    spoiler_text: status.spoilerText,
    sensitive: status.sensitive,
    created_at: iso(status.editedAt ?? status.createdAt),
    account,
    poll: current.poll ? { options: current.poll.options.map((o) => ({ title: o.title })) } : null,
    media_attachments: current.media.map((m) => renderMedia(ctx, m)),
    emojis,
  });
  return versions;
}

/** media_attributes[] of an edit: new descriptions and focal points for the status's own uploads. */
function mediaAttributes(params: Params): MediaAttributes[] {
  const raw = params.media_attributes;
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : typeof raw === "object" ? Object.values(raw as object) : null;
  if (!list) throw new UserError("media_attributes must be a list");
  return list.map((item) => {
    if (typeof item !== "object" || item === null)
      throw new UserError("media_attributes must be a list of objects");
    const attrs = item as Params;
    const id = read.string(attrs, "id");
    if (!id || !isId(id)) throw new UserError("media_attributes needs the id of each media");
    const description = read.string(attrs, "description");
    if (description !== undefined && description.length > 1500)
      throw new UserError("a media description has at most 1500 characters");
    const focusText = read.string(attrs, "focus");
    let focus: [number, number] | undefined;
    if (focusText) {
      const [x, y] = focusText.split(",").map((n) => Number(n));
      if (x === undefined || y === undefined || !(Math.abs(x) <= 1) || !(Math.abs(y) <= 1))
        throw new UserError("focus must be two numbers between -1 and 1");
      focus = [x, y];
    }
    return { id, description, focus };
  });
}

function pollEntity(ctx: Context, status: StatusRow, viewerId: string | null) {
  const rendered = renderStatus(ctx, status, viewerId);
  if (!rendered.poll) throw notFound();
  return rendered.poll;
}

export function statusRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  app.post("/api/v1/statuses", (c) => postStatus(ctx, c));

  app.get("/api/v1/statuses", async (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const params = await readParams(c);
    const ids = [...new Set(read.strings(params, "id") ?? [])].filter(isId).slice(0, MAX_IDS_PER_REQUEST);
    return c.json(renderStatuses(ctx, filterVisible(db, viewerId, statusesByIds(db, ids)), viewerId));
  });

  app.get("/api/v1/statuses/:id", (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    return c.json(renderStatus(ctx, visibleStatus(ctx, c.req.param("id"), viewerId), viewerId));
  });

  app.delete("/api/v1/statuses/:id", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:statuses");
    const id = c.req.param("id");
    if (!isId(id)) throw notFound();
    const deleteMedia = read.boolean(await readParams(c), "delete_media");
    const before = deleteStatus(ctx, id);
    // The row as it was, with its source text, media and poll, for "delete and redraft".
    const body = { ...renderStatus(ctx, before, viewerId), text: before.text ?? "" };
    // Mastodon's delete_media: the attachments go now instead of being kept a day for a redraft.
    if (deleteMedia) await deleteStatusMedia(ctx, before.id);
    return c.json(body);
  });

  app.put("/api/v1/statuses/:id", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:statuses");
    const id = c.req.param("id");
    if (!isId(id)) throw notFound();
    const params = await readParams(c);
    const existing = findStatusById(db, id);
    if (!existing || existing.deletedAt !== null || existing.accountId !== viewerId || existing.reblogOfId)
      throw notFound();
    const input = statusInput(ctx, params);
    editStatus(ctx, id, {
      ...input,
      language: input.language ?? existing.language,
      mediaAttributes: mediaAttributes(params),
      mentions: await resolveMentions(ctx, input.text),
    });
    return c.json(renderStatus(ctx, reload(ctx, id), viewerId));
  });

  app.get("/api/v1/statuses/:id/history", (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const status = visibleStatus(ctx, c.req.param("id"), viewerId);
    if (status.reblogOfId) throw notFound();
    return c.json(history(ctx, status));
  });

  app.get("/api/v1/statuses/:id/source", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:statuses");
    const status = visibleStatus(ctx, c.req.param("id"), viewerId);
    if (status.accountId !== viewerId || status.reblogOfId) throw notFound();
    return c.json({ id: status.id, text: status.text ?? "", spoiler_text: status.spoilerText });
  });

  app.get("/api/v1/statuses/:id/context", (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const status = visibleStatus(ctx, c.req.param("id"), viewerId);
    const target = status.reblogOfId ? visibleStatus(ctx, status.reblogOfId, viewerId) : status;
    // As on Mastodon, a thread leaves out the accounts the viewer muted or blocked, and their domains.
    const seen = (rows: StatusRow[]) => filterNotHidden(db, viewerId, filterVisible(db, viewerId, rows));
    const ancestors = seen(ancestorsOf(db, target));
    const descendants = seen(
      viewerId
        ? descendantsOf(db, target, CONTEXT_LIMIT, CONTEXT_LIMIT)
        : descendantsOf(db, target, ANONYMOUS_DESCENDANTS, ANONYMOUS_DEPTH),
    );
    const thread = applyFilters(ctx, "thread", [...ancestors, ...descendants], viewerId);
    const shown = (rows: StatusRow[]) => rows.filter((r) => !thread.hidden.has(r.id));
    return c.json({
      ancestors: renderStatuses(ctx, shown(ancestors), viewerId, thread.filteredById),
      descendants: renderStatuses(ctx, shown(descendants), viewerId, thread.filteredById),
    });
  });

  /** An action on a status the local account can see; answers with the resulting status as it now is. */
  const action =
    (scope: string, run: (id: string, params: Params) => string, alsoAccept: string[] = []) =>
    async (c: C) => {
      const { viewerId } = requireViewer(ctx, c, scope, alsoAccept);
      const params = await readParams(c);
      const status = visibleStatus(ctx, c.req.param("id"), viewerId);
      return c.json(renderStatus(ctx, reload(ctx, run(status.id, params)), viewerId));
    };

  app.post(
    "/api/v1/statuses/:id/favourite",
    action("write:favourites", (id) => favourite(ctx, id).id),
  );
  app.post(
    "/api/v1/statuses/:id/unfavourite",
    action("write:favourites", (id) => unfavourite(ctx, id).id),
  );
  app.post(
    "/api/v1/statuses/:id/reblog",
    action("write:statuses", (id, params) => {
      const visibility = visibilityParam(params, "public");
      if (visibility === "direct") throw new UserError("a boost cannot be direct");
      return reblog(ctx, id, visibility);
    }),
  );
  app.post(
    "/api/v1/statuses/:id/unreblog",
    action("write:statuses", (id) => unreblog(ctx, id).id),
  );
  app.post(
    "/api/v1/statuses/:id/bookmark",
    action("write:bookmarks", (id) => bookmark(ctx, id).id),
  );
  app.post(
    "/api/v1/statuses/:id/unbookmark",
    action("write:bookmarks", (id) => unbookmark(ctx, id).id),
  );
  app.post(
    "/api/v1/statuses/:id/pin",
    action("write:accounts", (id) => pin(ctx, id, true).id),
  );
  app.post(
    "/api/v1/statuses/:id/unpin",
    action("write:accounts", (id) => pin(ctx, id, false).id),
  );

  // Muting a conversation: its notifications stop. Mastodon asks write:mutes for these.
  for (const [path, muted] of [
    ["mute", true],
    ["unmute", false],
  ] as const) {
    app.post(`/api/v1/statuses/:id/${path}`, (c) => {
      const { viewerId } = requireViewer(ctx, c, "write:conversations", ["write:mutes"]);
      const shown = visibleStatus(ctx, c.req.param("id"), viewerId);
      const status = shown.reblogOfId ? visibleStatus(ctx, shown.reblogOfId, viewerId) : shown;
      setConversationMuted(ctx, status, muted);
      return c.json(renderStatus(ctx, reload(ctx, status.id), viewerId));
    });
  }

  for (const [path, query] of [
    ["favourited_by", favouritedBy],
    ["reblogged_by", rebloggedBy],
  ] as const) {
    app.get(`/api/v1/statuses/:id/${path}`, (c) => {
      const viewerId = optionalViewer(ctx, c, "read:accounts");
      const status = visibleStatus(ctx, c.req.param("id"), viewerId);
      const page = readPage(c, 40, 80);
      const items = query(db, status.reblogOfId ?? status.id, page);
      setLinkHeader(
        ctx,
        c,
        items.map((i) => i.pageId),
        page,
        "when-full",
      );
      return c.json(items.map((i) => renderAccount(ctx, i.row)));
    });
  }

  app.get("/api/v1/polls/:id", (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const id = c.req.param("id");
    if (!isId(id)) throw notFound();
    const status = pollStatus(ctx, id);
    if (!isVisible(db, viewerId, status)) throw notFound();
    return c.json(pollEntity(ctx, status, viewerId));
  });

  app.post("/api/v1/polls/:id/votes", async (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:statuses");
    const id = c.req.param("id");
    if (!isId(id)) throw notFound();
    const params = await readParams(c);
    const status = pollStatus(ctx, id);
    if (!isVisible(db, viewerId, status)) throw notFound();
    const choices = (read.strings(params, "choices") ?? []).map((choice) => {
      if (!/^\d{1,3}$/.test(choice.trim())) throw new UserError("choices must be option indexes");
      return Number(choice);
    });
    vote(ctx, id, choices);
    return c.json(pollEntity(ctx, reload(ctx, status.id), viewerId));
  });

  return app;
}
