/**
 * The remote media cache: avatars, headers and attachments of other servers are copied here and served from
 * Wren's own `/media/...` URLs, so the apps never load them from their origin (which would tell every server
 * the owner's address and habits, and break when it is down).
 *
 * - Queued, never fetched in a use case: a subscriber sees a remote status stored or edited (its attachments,
 *   its author's avatar and header) and a follow (the followed account's), inserts a `remote_media` row per
 *   new URL and a job in the delivery queue (signer MEDIA_CACHE_SIGNER) in the same transaction. The
 *   delivery worker runs the job with `fetchRemoteMedia`: durable, retried, bounded per host like deliveries.
 * - Fetched through the one guarded client (private addresses refused unless configured), capped at
 *   `media.remote_max_bytes` (images at `media.remote_max_image_bytes`), type sniffed from the bytes; images
 *   get a preview and a blurhash as uploads do.
 * - `media.cache_budget_mb` in all: past it, the least recently served files go (`last_accessed_at` moves at
 *   most once an hour per file), after each new file and in the hourly upkeep, which also queues profile
 *   images not seen yet and removes the files nothing refers to any more (after a prune, an edit, a new
 *   avatar).
 * - What apps get: `remoteMediaView` and `profileImageUrls`; an origin that is not cached is handed out only
 *   when `isAppSafeRemoteUrl` says so.
 */
import { isIP } from "node:net";
import { and, eq, inArray } from "drizzle-orm";
import type { Context } from "../context.js";
import { isPermanentStatus } from "../federation/delivery/backoff.js";
import { enqueueActivity } from "../federation/delivery/enqueue.js";
import { classifyAddress, FetchError, NEVER_ALLOWED_KINDS } from "../federation/fetch.js";
import { newId } from "../store/ids.js";
import {
  cachedBytes,
  cachedMediaById,
  cachedMediaByUrl,
  forgetCachedMedia,
  type RemoteMediaRow,
} from "../store/media-cache.js";
import { transaction } from "../store/open.js";
import { accounts, mediaAttachments, remoteMedia } from "../store/schema.js";
import type { MediaRow } from "../store/statuses.js";
import { ImageError, imageMeta, processImage } from "./images.js";
import { sniff } from "./sniff.js";
import { deleteMediaFile, fileName, writeMediaFile } from "./store.js";

/** The `signer` of a queued media fetch: the stored body is a `MediaFetchJob`, fetched unsigned. */
export const MEDIA_CACHE_SIGNER = "media-cache";

export interface MediaFetchJob {
  url: string;
}

const MB = 1024 * 1024;
const HOUR = 60 * 60 * 1000;
/** `last_accessed_at` is written at most this often per file: serving a file rarely costs a write. */
export const ACCESS_RESOLUTION_MS = HOUR;
/** A large video over a slow link takes longer than a delivery. */
const MEDIA_TIMEOUT_MS = 60_000;
/** Profile images queued per upkeep run. */
const PROFILE_SCAN_LIMIT = 200;
const EVICT_BATCH = 50;
/**
 * Fetch errors after which the file is marked failed and the job ends: a retry cannot fix them, or (a host
 * name that does not resolve) the copy is not worth two days of retries: apps still get the origin.
 */
const FINAL_FETCH_ERRORS = new Set([
  "bad_url",
  "bad_scheme",
  "private_address",
  "too_many_redirects",
  "too_large",
  "dns",
]);

/** A file the cache will not keep (type, size, unreadable image). */
class NotCacheable extends Error {}

const budgetBytes = (ctx: Context) => ctx.config.media.cache_budget_mb * MB;

/**
 * May an app be handed this remote URL to load itself? The static part of the guarded client's rule: a
 * scheme it would use (https; http only when this server itself runs on http), no credentials, and a host
 * that is not `localhost` nor an address literal the guard refuses (private, loopback, link-local...,
 * unless `federation.allow_private_addresses`). Host names are not resolved here: the apps resolve them.
 */
export function isAppSafeRemoteUrl(ctx: Context, url: string | null): url is string {
  if (url === null) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const httpAllowed = ctx.config.server.protocol === "http";
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && httpAllowed)) return false;
  if (parsed.username || parsed.password) return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(host) === 0) {
    const local = host === "localhost" || host.endsWith(".localhost");
    return !local || ctx.config.federation.allow_private_addresses;
  }
  const kind = classifyAddress(host);
  return (
    kind === "public" || (ctx.config.federation.allow_private_addresses && !NEVER_ALLOWED_KINDS.has(kind))
  );
}

function fetchableUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * Queues a fetch for each URL not in the cache yet (or evicted from it), inside the caller's transaction.
 * Returns how many were queued; the caller wakes the worker after the commit.
 */
export function queueMediaFetches(ctx: Context, urls: Iterable<string | null>): number {
  if (budgetBytes(ctx) === 0) return 0;
  const db = ctx.store.db;
  const now = Date.now();
  let queued = 0;
  for (const url of new Set(urls)) {
    if (url === null || !fetchableUrl(url)) continue;
    const claimed = db
      .insert(remoteMedia)
      .values({ id: newId(now), url, createdAt: now })
      .onConflictDoUpdate({
        target: remoteMedia.url,
        set: { state: "pending", error: null },
        // Seen again after its eviction: worth a new copy.
        setWhere: eq(remoteMedia.state, "evicted"),
      })
      .run();
    forgetCachedMedia(db);
    if (claimed.changes === 0) continue;
    const job: MediaFetchJob = { url };
    if (enqueueActivity(db, job, MEDIA_CACHE_SIGNER, [url], now)) queued++;
    else markFailed(ctx, url, "the domain is blocked");
  }
  return queued;
}

function remoteStatusMediaUrls(ctx: Context, statusId: string): string[] {
  return ctx.store.db
    .select({ url: mediaAttachments.remoteUrl })
    .from(mediaAttachments)
    .where(eq(mediaAttachments.statusId, statusId))
    .all()
    .map((r) => r.url)
    .filter((url): url is string => url !== null);
}

function profileImages(ctx: Context, accountId: string): (string | null)[] {
  const account = ctx.store.db
    .select({ domain: accounts.domain, avatar: accounts.avatarUrl, header: accounts.headerUrl })
    .from(accounts)
    .where(eq(accounts.id, accountId))
    .get();
  return account && account.domain !== null ? [account.avatar, account.header] : [];
}

/** Subscribes the cache to the domain events that bring remote media in. */
export function registerMediaCache(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (budgetBytes(ctx) === 0) return;
    let urls: (string | null)[];
    switch (event.type) {
      case "StatusCreated":
      case "StatusEdited":
        if (event.status.local) return;
        urls = [
          ...remoteStatusMediaUrls(ctx, event.status.id),
          ...profileImages(ctx, event.status.accountId),
        ];
        break;
      case "Followed":
        urls = profileImages(ctx, event.target.id);
        break;
      default:
        return;
    }
    if (queueMediaFetches(ctx, urls) > 0) uow.afterCommit(() => ctx.events.emit("delivery.queued"));
  });
}

function markFailed(ctx: Context, url: string, error: string): void {
  ctx.store.db
    .update(remoteMedia)
    .set({ state: "failed", error: error.slice(0, 500) })
    .where(and(eq(remoteMedia.url, url), eq(remoteMedia.state, "pending")))
    .run();
  forgetCachedMedia(ctx.store.db);
}

interface StoredFiles {
  type: "image" | "video" | "audio";
  contentType: string;
  fileName: string;
  previewFileName: string | null;
  bytes: number;
  blurhash: string | null;
  meta: Record<string, unknown>;
}

async function storeFiles(ctx: Context, id: string, bytes: Uint8Array): Promise<StoredFiles> {
  const kind = sniff(bytes);
  if (!kind) throw new NotCacheable("not an image, video or audio file");
  if (kind.type !== "image") {
    const name = fileName(id, "", kind.ext);
    await writeMediaFile(ctx, name, bytes);
    return {
      type: kind.type,
      contentType: kind.mime,
      fileName: name,
      previewFileName: null,
      bytes: bytes.length,
      blurhash: null,
      meta: {},
    };
  }
  if (bytes.length > ctx.config.media.remote_max_image_bytes)
    throw new NotCacheable(`the image is larger than ${ctx.config.media.remote_max_image_bytes} bytes`);
  let image: Awaited<ReturnType<typeof processImage>>;
  try {
    image = await processImage(bytes, kind.mime, ctx.config.media.max_image_pixels);
  } catch (error) {
    if (error instanceof ImageError) throw new NotCacheable(error.message);
    throw error;
  }
  const original = fileName(id, "", image.original.ext);
  const small = fileName(id, "-small", image.small.ext);
  await writeMediaFile(ctx, original, image.original.bytes);
  await writeMediaFile(ctx, small, image.small.bytes);
  return {
    type: "image",
    contentType: image.original.mime,
    fileName: original,
    previewFileName: small,
    bytes: image.original.bytes.length + image.small.bytes.length,
    blurhash: image.blurhash,
    meta: {
      original: imageMeta(image.original.width, image.original.height),
      small: imageMeta(image.small.width, image.small.height),
    },
  };
}

/**
 * Runs one queued media fetch (called by the delivery worker). Answers what the origin answered, so the
 * worker retries, gives up and keeps host health as for a delivery; a file the cache refuses (too large, not
 * media, an unreadable image, a refused address) is marked failed and the job ends with the error.
 */
export async function fetchRemoteMedia(
  ctx: Context,
  body: string,
  options: { timeoutMs: number },
): Promise<{ status: number; headers: Headers }> {
  const { url } = JSON.parse(body) as MediaFetchJob;
  const row = cachedMediaByUrl(ctx.store.db, url);
  // Swept or already fetched meanwhile: nothing to do.
  if (row?.state !== "pending") return { status: 204, headers: new Headers() };
  let stored: StoredFiles;
  try {
    const response = await ctx.federation.plain({
      url,
      headers: { Accept: "image/*, video/*, audio/*, */*;q=0.1" },
      maxBytes: ctx.config.media.remote_max_bytes,
      timeoutMs: Math.max(options.timeoutMs, MEDIA_TIMEOUT_MS),
    });
    if (!response.ok) {
      if (isPermanentStatus(response.status) || response.status === 410)
        markFailed(ctx, url, `HTTP ${response.status}`);
      return response;
    }
    stored = await storeFiles(ctx, row.id, response.body);
  } catch (error) {
    const final = error instanceof FetchError && FINAL_FETCH_ERRORS.has(error.code);
    if (!final && !(error instanceof NotCacheable)) throw error;
    const message = final ? `${error.code}: ${error.message}` : (error as Error).message;
    markFailed(ctx, url, message);
    ctx.log.info({ url, error: message }, "remote media not cached");
    // Not a FetchError any more: the worker ends the job instead of retrying it.
    throw new Error(message);
  }
  const now = Date.now();
  const saved = ctx.store.db
    .update(remoteMedia)
    .set({ ...stored, state: "done", error: null, fetchedAt: now, lastAccessedAt: now })
    .where(and(eq(remoteMedia.id, row.id), eq(remoteMedia.state, "pending")))
    .run();
  forgetCachedMedia(ctx.store.db);
  if (saved.changes === 0) {
    for (const name of [stored.fileName, stored.previewFileName]) if (name) await deleteMediaFile(ctx, name);
  } else {
    await enforceCacheBudget(ctx);
  }
  return { status: 200, headers: new Headers() };
}

/**
 * Evicts the least recently served files until at least `bytes` are freed (or the cache is empty). Their
 * rows stay, marked evicted, so the apps get the origin again and a new reference fetches them anew.
 */
export async function evictCachedMedia(
  ctx: Context,
  bytes: number,
): Promise<{ files: number; bytes: number }> {
  const db = ctx.store.db;
  let freed = 0;
  let files = 0;
  while (freed < bytes) {
    const batch = db
      .select()
      .from(remoteMedia)
      .where(eq(remoteMedia.state, "done"))
      .orderBy(remoteMedia.lastAccessedAt, remoteMedia.id)
      .limit(EVICT_BATCH)
      .all();
    if (batch.length === 0) break;
    for (const row of batch) {
      if (freed >= bytes) break;
      const evicted = db
        .update(remoteMedia)
        .set({ state: "evicted", fileName: null, previewFileName: null, bytes: 0 })
        .where(and(eq(remoteMedia.id, row.id), eq(remoteMedia.state, "done")))
        .run();
      if (evicted.changes === 0) continue;
      forgetCachedMedia(db);
      await removeFiles(ctx, row);
      freed += row.bytes;
      files++;
    }
  }
  return { files, bytes: freed };
}

async function removeFiles(ctx: Context, row: Pick<RemoteMediaRow, "fileName" | "previewFileName">) {
  for (const name of [row.fileName, row.previewFileName]) if (name) await deleteMediaFile(ctx, name);
}

/** Evicts past `media.cache_budget_mb`; returns what went. */
export async function enforceCacheBudget(ctx: Context): Promise<{ files: number; bytes: number }> {
  const excess = cachedBytes(ctx.store.db) - budgetBytes(ctx);
  if (excess <= 0) return { files: 0, bytes: 0 };
  const evicted = await evictCachedMedia(ctx, excess);
  ctx.log.info(
    { ...evicted, budgetMb: ctx.config.media.cache_budget_mb },
    "media cache over its budget: least recently viewed files evicted",
  );
  return evicted;
}

/**
 * Removes the cached files no attachment and no account refers to any more (their status was pruned or
 * edited, their account pruned or given a new avatar). Returns how many rows went.
 */
export async function sweepUnreferencedMedia(ctx: Context): Promise<number> {
  const rows = ctx.store.sqlite
    .prepare(
      `SELECT id, file_name AS fileName, preview_file_name AS previewFileName FROM remote_media
       WHERE url NOT IN (SELECT remote_url FROM media_attachments WHERE remote_url IS NOT NULL)
       AND url NOT IN (SELECT avatar_url FROM accounts WHERE avatar_url IS NOT NULL)
       AND url NOT IN (SELECT header_url FROM accounts WHERE header_url IS NOT NULL)`,
    )
    .all() as Pick<RemoteMediaRow, "id" | "fileName" | "previewFileName">[];
  for (let i = 0; i < rows.length; i += EVICT_BATCH) {
    const batch = rows.slice(i, i + EVICT_BATCH);
    ctx.store.db
      .delete(remoteMedia)
      .where(
        inArray(
          remoteMedia.id,
          batch.map((r) => r.id),
        ),
      )
      .run();
    forgetCachedMedia(ctx.store.db);
    for (const row of batch) await removeFiles(ctx, row);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return rows.length;
}

/** Queues the avatars and headers of remote accounts that are not in the cache yet (a bounded batch). */
export function queueProfileImages(ctx: Context, limit = PROFILE_SCAN_LIMIT): number {
  if (budgetBytes(ctx) === 0) return 0;
  const urls = ctx.store.sqlite
    .prepare(
      `SELECT u FROM (
         SELECT avatar_url AS u FROM accounts WHERE domain IS NOT NULL AND avatar_url IS NOT NULL
         UNION SELECT header_url FROM accounts WHERE domain IS NOT NULL AND header_url IS NOT NULL)
       WHERE u NOT IN (SELECT url FROM remote_media) LIMIT ?`,
    )
    .pluck()
    .all(limit) as string[];
  if (urls.length === 0) return 0;
  const queued = transaction(ctx.store, () => queueMediaFetches(ctx, urls));
  if (queued > 0) ctx.events.emit("delivery.queued");
  return queued;
}

/** The hourly pass: profile images not seen yet, files nothing refers to, the budget. */
export async function mediaCacheUpkeep(ctx: Context): Promise<void> {
  const queued = queueProfileImages(ctx);
  const swept = await sweepUnreferencedMedia(ctx);
  const evicted = await enforceCacheBudget(ctx);
  if (queued + swept + evicted.files > 0)
    ctx.log.info({ queued, swept, evicted: evicted.files }, "upkeep: media cache");
}

/**
 * A cached file asked for by name (the file route): its row when the name is one of its files, with
 * `last_accessed_at` moved on when it is more than ACCESS_RESOLUTION_MS old.
 */
export function servedCachedFile(
  ctx: Context,
  name: string,
): Pick<RemoteMediaRow, "fileName" | "previewFileName" | "contentType"> | null {
  const row = cachedMediaById(ctx.store.db, name.split("-")[0] as string);
  if (row?.state !== "done" || (row.fileName !== name && row.previewFileName !== name)) return null;
  const now = Date.now();
  if (row.lastAccessedAt < now - ACCESS_RESOLUTION_MS) {
    ctx.store.db.update(remoteMedia).set({ lastAccessedAt: now }).where(eq(remoteMedia.id, row.id)).run();
  }
  return row;
}

/** How a remote attachment is shown to apps: the cached copy, else its origin when safe, else nothing. */
export function remoteMediaView(
  ctx: Context,
  media: MediaRow & { remoteUrl: string },
): {
  type: MediaRow["type"];
  url: string | null;
  previewUrl: string | null;
  remoteUrl: string | null;
  blurhash: string | null;
  meta: Record<string, unknown>;
} {
  const cached = cachedMediaByUrl(ctx.store.db, media.remoteUrl);
  const safe = isAppSafeRemoteUrl(ctx, media.remoteUrl) ? media.remoteUrl : null;
  if (cached?.state === "done" && cached.fileName && cached.type) {
    const url = ctx.urls.media(cached.fileName);
    return {
      // A GIF that Mastodon turned into a video says so; the file itself is a video.
      type: media.type === "gifv" && cached.type === "video" ? "gifv" : cached.type,
      url,
      previewUrl: cached.previewFileName ? ctx.urls.media(cached.previewFileName) : url,
      remoteUrl: safe,
      blurhash: media.blurhash ?? cached.blurhash,
      meta: { ...media.meta, ...cached.meta },
    };
  }
  return {
    type: safe ? media.type : "unknown",
    url: safe,
    previewUrl: safe,
    remoteUrl: safe,
    blurhash: media.blurhash,
    meta: media.meta,
  };
}

/**
 * A remote account's avatar or header for apps: the cached copy (and for a GIF, its still preview as the
 * static one), else the origin when safe; null when neither (the caller shows the default image).
 */
export function profileImageUrls(ctx: Context, url: string | null): { url: string; static: string } | null {
  if (url === null) return null;
  const cached = budgetBytes(ctx) > 0 ? cachedMediaByUrl(ctx.store.db, url) : null;
  if (cached?.state === "done" && cached.fileName) {
    const original = ctx.urls.media(cached.fileName);
    const still =
      cached.contentType === "image/gif" && cached.previewFileName
        ? ctx.urls.media(cached.previewFileName)
        : original;
    return { url: original, static: still };
  }
  return isAppSafeRemoteUrl(ctx, url) ? { url, static: url } : null;
}
