/**
 * What apps read about the server (instance v1/v2, peers, activity, custom emojis), the user's preferences
 * and markers, and the lists of features Wren does not have (trends, filters, lists, announcements…), which
 * are honest empty lists: apps break on a 404 there (INTEROP.md). Actions on features Wren does not have yet
 * (following hashtags) answer that they are not supported instead of pretending.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { MAX_FEATURED_TAGS } from "../../core/featured-tags.js";
import { MAX_PINNED_STATUSES } from "../../core/interactions.js";
import { saveMarkers } from "../../core/markers.js";
import { MAX_MEDIA_ATTACHMENTS, MAX_POLL_OPTIONS, MAX_STATUS_CHARACTERS } from "../../core/statuses.js";
import { escapeHtml } from "../../core/text.js";
import { SUPPORTED_MIME_TYPES } from "../../media/sniff.js";
import { MAX_DESCRIPTION } from "../../media/store.js";
import { vapidKeys } from "../../push/vapid.js";
import { findLocalUser } from "../../store/accounts.js";
import { listFollowedTags } from "../../store/followed-tags.js";
import { isId } from "../../store/ids.js";
import {
  countKnownDomains,
  knownDomains,
  recentTokenUse,
  weeklyPostCounts,
} from "../../store/instance-stats.js";
import { findMarkers, type MarkerRow } from "../../store/markers.js";
import { HttpError } from "../errors.js";
import { type ApiEnv, requireUser } from "./auth.js";
import { DEFAULT_HEADER_PATH, iso, renderAccount } from "./entities.js";
import { type Params, read, readParams } from "./params.js";

/** The version apps parse: a Mastodon version they know the features of, then ours. */
function mastodonVersion(ctx: Context): string {
  return `4.5.0 (compatible; Wren ${ctx.version})`;
}

/**
 * Where the source of this server is offered (the AGPL asks for it). Wren has no public repository address
 * yet, so this is the server's own about page until one exists.
 */
function sourceUrl(ctx: Context): string {
  return `${ctx.urls.origin}/about`;
}

const VIDEO_FRAME_RATE_LIMIT = 120;
const VIDEO_MATRIX_LIMIT = 8_294_400;
const POLL_LIMITS = { max_characters_per_option: 50, min_expiration: 300, max_expiration: 2_629_746 };
const WEEK_MS = 7 * 24 * 3600 * 1000;

function streamingUrl(ctx: Context): string {
  return `${ctx.config.server.protocol === "https" ? "wss" : "ws"}://${ctx.urls.domain}`;
}

function localStats(ctx: Context) {
  const db = ctx.store.db;
  const local = findLocalUser(db);
  // The local account's count is kept by triggers (drizzle/0001_local_counters.sql); nodeinfo reads it too.
  const statusCount = local?.account.statusesCount ?? 0;
  return { local, users: local ? 1 : 0, statusCount, domainCount: countKnownDomains(db) };
}

function mediaConfiguration(ctx: Context) {
  return {
    supported_mime_types: SUPPORTED_MIME_TYPES,
    description_limit: MAX_DESCRIPTION,
    image_size_limit: ctx.config.media.max_image_bytes,
    image_matrix_limit: ctx.config.media.max_image_pixels,
    video_size_limit: ctx.config.media.max_video_bytes,
    video_frame_rate_limit: VIDEO_FRAME_RATE_LIMIT,
    video_matrix_limit: VIDEO_MATRIX_LIMIT,
  };
}

function statusesConfiguration() {
  return {
    max_characters: MAX_STATUS_CHARACTERS,
    max_media_attachments: MAX_MEDIA_ATTACHMENTS,
    characters_reserved_per_url: 23,
  };
}

function instanceV2(ctx: Context) {
  const { local, users: userCount } = localStats(ctx);
  const contact = local ? renderAccount(ctx, local.account) : null;
  return {
    domain: ctx.urls.domain,
    title: ctx.config.server.title,
    version: mastodonVersion(ctx),
    source_url: sourceUrl(ctx),
    description: ctx.config.server.description,
    usage: { users: { active_month: userCount } },
    thumbnail: { url: `${ctx.urls.origin}${DEFAULT_HEADER_PATH}`, blurhash: null, versions: {} },
    icon: [],
    languages: ["en"],
    configuration: {
      urls: {
        streaming: streamingUrl(ctx),
        status: null,
        about: `${ctx.urls.origin}/about`,
        privacy_policy: null,
        terms_of_service: null,
      },
      vapid: { public_key: vapidKeys(ctx.store.db).publicKey },
      accounts: { max_featured_tags: MAX_FEATURED_TAGS, max_pinned_statuses: MAX_PINNED_STATUSES },
      statuses: statusesConfiguration(),
      media_attachments: mediaConfiguration(ctx),
      polls: { max_options: MAX_POLL_OPTIONS, ...POLL_LIMITS },
      translation: { enabled: false },
      limited_federation: false,
    },
    registrations: {
      enabled: false,
      approval_required: false,
      reason_required: false,
      min_age: null,
      message: null,
      url: null,
    },
    // 2 announces grouped notifications (/api/v2/notifications): Phanpy, Elk and the official app use them.
    api_versions: { mastodon: 2 },
    contact: { email: contactEmail(ctx, local?.user.email ?? null), account: contact },
    rules: [],
  };
}

function contactEmail(ctx: Context, userEmail: string | null): string {
  return ctx.config.server.contact_email || userEmail || "";
}

function instanceV1(ctx: Context) {
  const stats = localStats(ctx);
  return {
    uri: ctx.urls.domain,
    title: ctx.config.server.title,
    short_description: ctx.config.server.description,
    description: ctx.config.server.description,
    email: contactEmail(ctx, stats.local?.user.email ?? null),
    version: mastodonVersion(ctx),
    urls: { streaming_api: streamingUrl(ctx) },
    stats: { user_count: stats.users, status_count: stats.statusCount, domain_count: stats.domainCount },
    thumbnail: `${ctx.urls.origin}${DEFAULT_HEADER_PATH}`,
    languages: ["en"],
    registrations: false,
    approval_required: false,
    invites_enabled: false,
    // Read by older Pleroma-aware clients.
    max_toot_chars: MAX_STATUS_CHARACTERS,
    configuration: {
      accounts: { max_featured_tags: MAX_FEATURED_TAGS, max_pinned_statuses: MAX_PINNED_STATUSES },
      statuses: statusesConfiguration(),
      media_attachments: mediaConfiguration(ctx),
      polls: { max_options: MAX_POLL_OPTIONS, ...POLL_LIMITS },
    },
    contact_account: stats.local ? renderAccount(ctx, stats.local.account) : null,
    rules: [],
  };
}

/** Twelve weeks (newest first) of local posts, logins and registrations; Mastodon sends the numbers as strings. */
function weeklyActivity(ctx: Context) {
  const db = ctx.store.db;
  const now = new Date();
  const monday =
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) -
    ((now.getUTCDay() + 6) % 7) * 86_400_000;
  const oldest = monday - 11 * WEEK_MS;
  const bucketOf = (ms: number) => Math.floor((ms - oldest) / WEEK_MS);
  const posts = new Map<number, number>();
  const logins = new Set<number>();
  const registrations = new Set<number>();
  const local = findLocalUser(db);
  if (local) {
    for (const [bucket, n] of weeklyPostCounts(db, local.account.id, oldest, WEEK_MS)) posts.set(bucket, n);
    // Only the last use of each token is recorded, so older weeks may undercount: this is a rough figure.
    for (const token of recentTokenUse(db, oldest, 1000)) {
      for (const at of [token.createdAt, token.lastUsedAt])
        if (at !== null && at >= oldest) logins.add(bucketOf(at));
    }
    if (local.user.createdAt >= oldest) registrations.add(bucketOf(local.user.createdAt));
  }
  return Array.from({ length: 12 }, (_, i) => {
    const bucket = 11 - i;
    return {
      week: String(Math.floor((oldest + bucket * WEEK_MS) / 1000)),
      statuses: String(posts.get(bucket) ?? 0),
      logins: String(logins.has(bucket) ? 1 : 0),
      registrations: String(registrations.has(bucket) ? 1 : 0),
    };
  });
}

/** Mastodon's preference keys with their defaults; stored values of the right type win. */
const PREFERENCE_DEFAULTS: Record<string, { value: unknown; valid: (v: unknown) => boolean }> = {
  "posting:default:visibility": {
    value: "public",
    valid: (v) => typeof v === "string" && ["public", "unlisted", "private", "direct"].includes(v),
  },
  "posting:default:sensitive": { value: false, valid: (v) => typeof v === "boolean" },
  "posting:default:language": { value: null, valid: (v) => v === null || typeof v === "string" },
  "posting:default:quote_policy": {
    value: "public",
    valid: (v) => typeof v === "string" && ["public", "followers", "nobody"].includes(v),
  },
  "reading:expand:media": {
    value: "default",
    valid: (v) => typeof v === "string" && ["default", "show_all", "hide_all"].includes(v),
  },
  "reading:expand:spoilers": { value: false, valid: (v) => typeof v === "boolean" },
  "reading:autoplay:gifs": { value: false, valid: (v) => typeof v === "boolean" },
};

function renderPreferences(stored: Record<string, unknown>) {
  return Object.fromEntries(
    Object.entries(PREFERENCE_DEFAULTS).map(([key, { value, valid }]) => [
      key,
      valid(stored[key]) ? stored[key] : value,
    ]),
  );
}

const MARKER_TIMELINES = ["home", "notifications"] as const;

function renderMarkers(rows: MarkerRow[]) {
  return Object.fromEntries(
    rows.map((m) => [
      m.timeline,
      { last_read_id: m.lastReadId, version: m.version, updated_at: iso(m.updatedAt) },
    ]),
  );
}

/** `home[last_read_id]` (form) or {"home": {"last_read_id": …}} (JSON) for each timeline. */
function readMarkerUpdates(params: Params): Map<string, string> {
  const updates = new Map<string, string>();
  for (const timeline of MARKER_TIMELINES) {
    const value = params[timeline];
    if (value === undefined || value === null) continue;
    if (typeof value !== "object" || Array.isArray(value) || value instanceof File) {
      throw new HttpError(422, `${timeline} must be an object with last_read_id`);
    }
    const id = read.string(value as Params, "last_read_id");
    if (id === undefined || !isId(id)) throw new HttpError(422, `${timeline}[last_read_id] must be an id`);
    updates.set(timeline, id);
  }
  if (updates.size === 0) throw new HttpError(422, "give home[last_read_id] or notifications[last_read_id]");
  return updates;
}

export function instanceRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const empty = (scope: string | null) => (c: HonoContext<ApiEnv>) => {
    if (scope) requireUser(c, scope);
    return c.json([]);
  };

  // -- The instance: public, no token needed --

  app.get("/api/v2/instance", (c) => c.json(instanceV2(ctx)));
  app.get("/api/v1/instance", (c) => c.json(instanceV1(ctx)));

  app.get("/api/v1/instance/peers", (c) => c.json(knownDomains(db)));
  app.get("/api/v1/instance/activity", (c) => c.json(weeklyActivity(ctx)));
  app.get("/api/v1/instance/rules", (c) => c.json([]));
  app.get("/api/v1/instance/domain_blocks", (c) => c.json([]));
  app.get("/api/v1/instance/languages", (c) => c.json([{ code: "en", name: "English" }]));
  app.get("/api/v1/instance/translation_languages", (c) => c.json({}));
  app.get("/api/v1/instance/extended_description", (c) => {
    const local = findLocalUser(db);
    return c.json({
      updated_at: iso(local?.user.updatedAt ?? Date.now()),
      content: `<p>${escapeHtml(ctx.config.server.description)}</p>`,
    });
  });
  app.get("/api/v1/custom_emojis", (c) => c.json([]));

  // -- Features Wren does not have --

  app.get("/api/v1/announcements", empty(null));
  app.get("/api/v1/trends", empty(null));
  app.get("/api/v1/trends/tags", empty(null));
  app.get("/api/v1/trends/statuses", empty(null));
  app.get("/api/v1/trends/links", empty(null));
  app.get("/api/v1/suggestions", empty("read:accounts"));
  app.get("/api/v2/suggestions", empty("read:accounts"));

  // Followed hashtags: the tags table knows which are followed; few enough for one page, so no Link header.
  app.get("/api/v1/followed_tags", (c) => {
    requireUser(c, "read:follows");
    const rows = listFollowedTags(db, 200);
    return c.json(
      rows.map((t) => ({
        name: t.displayName,
        url: `${ctx.urls.origin}/tags/${encodeURIComponent(t.name)}`,
        history: [],
        following: true,
      })),
    );
  });

  // -- The user's preferences and read markers --

  app.get("/api/v1/preferences", (c) => {
    requireUser(c, "read:accounts");
    return c.json(renderPreferences(findLocalUser(db)?.user.preferences ?? {}));
  });

  app.get("/api/v1/markers", async (c) => {
    requireUser(c, "read:statuses");
    const asked = read.strings(await readParams(c), "timeline");
    const wanted = asked
      ? asked.filter((t) => (MARKER_TIMELINES as readonly string[]).includes(t))
      : [...MARKER_TIMELINES];
    return c.json(renderMarkers(findMarkers(db).filter((m) => wanted.includes(m.timeline))));
  });

  app.post("/api/v1/markers", async (c) => {
    requireUser(c, "write:statuses");
    const updates = readMarkerUpdates(await readParams(c));
    return c.json(renderMarkers(saveMarkers(ctx, updates)));
  });

  return app;
}
