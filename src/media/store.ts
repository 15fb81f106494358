import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { and, eq, isNull, lt } from "drizzle-orm";
import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import { newId } from "../store/ids.js";
import { mediaAttachments, statuses } from "../store/schema.js";
import type { MediaRow } from "../store/statuses.js";
import { ImageError, imageMeta, processImage } from "./images.js";
import { type Sniffed, sniff } from "./sniff.js";
import { contentTypeOf, mediaStorage } from "./storage/index.js";

export const MAX_DESCRIPTION = 1500;

/** File names are random, so a media URL cannot be guessed from another one. */
export function fileName(id: string, suffix: string, ext: string): string {
  return `${id}-${randomBytes(6).toString("hex")}${suffix}.${ext}`;
}

/** Where a file is (or would be) in the local media folder; with `media.storage = "s3"` it lives in the bucket. */
export function mediaFilePath(ctx: Context, name: string): string {
  return join(ctx.config.media.path, name);
}

/** Stores a media file where `media.storage` says (the folder or the bucket). */
export async function writeMediaFile(
  ctx: Context,
  name: string,
  bytes: Uint8Array,
  contentType = contentTypeOf(name),
): Promise<void> {
  await mediaStorage(ctx.config).put(name, bytes, contentType);
}

export async function deleteMediaFile(ctx: Context, name: string): Promise<void> {
  await mediaStorage(ctx.config).delete(name);
}

/** "x,y" with each in [-1, 1], as Mastodon takes `focus`. */
export function parseFocus(text: string | undefined): { x: number; y: number } | null {
  if (text === undefined || text === "") return null;
  // Exactly two parts, neither blank: Number("") is 0, so "," or "0.5," would otherwise pass as a point.
  const parts = text.split(",").map((part) => part.trim());
  const [x, y] = parts.map((part) => (part === "" ? Number.NaN : Number(part)));
  if (
    parts.length !== 2 ||
    x === undefined ||
    y === undefined ||
    !Number.isFinite(x) ||
    !Number.isFinite(y) ||
    Math.abs(x) > 1 ||
    Math.abs(y) > 1
  ) {
    throw new UserError("focus must be two numbers between -1 and 1, as x,y");
  }
  return { x, y };
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && [...description].length > MAX_DESCRIPTION) {
    throw new UserError(`description must have at most ${MAX_DESCRIPTION} characters`);
  }
}

function checkFile(ctx: Context, bytes: Uint8Array, sniffed: Sniffed | null): Sniffed {
  if (!sniffed)
    throw new UserError(
      "this file type is not supported: upload an image (JPEG, PNG, WebP, GIF), a video or audio",
    );
  const limit =
    sniffed.type === "image" ? ctx.config.media.max_image_bytes : ctx.config.media.max_video_bytes;
  if (bytes.length > limit) throw new UserError(`the file is larger than ${limit} bytes`);
  return sniffed;
}

/** Stores an upload: images are processed (orientation, metadata stripped, preview, blurhash); video and audio kept as sent. */
export async function saveUpload(
  ctx: Context,
  accountId: string,
  file: File,
  options: { description?: string; focus?: string } = {},
): Promise<MediaRow> {
  checkDescription(options.description);
  const focus = parseFocus(options.focus);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const kind = checkFile(ctx, bytes, sniff(bytes));
  const id = newId();
  const row: typeof mediaAttachments.$inferInsert = {
    id,
    accountId,
    type: kind.type,
    contentType: kind.mime,
    description: options.description?.trim() || null,
    focusX: focus ? Math.round(focus.x * 1000) : null,
    focusY: focus ? Math.round(focus.y * 1000) : null,
    createdAt: Date.now(),
  };
  if (kind.type === "image") {
    let image: Awaited<ReturnType<typeof processImage>>;
    try {
      image = await processImage(bytes, kind.mime, ctx.config.media.max_image_pixels);
    } catch (error) {
      if (error instanceof ImageError) throw new UserError(error.message);
      throw error;
    }
    const original = fileName(id, "", image.original.ext);
    const small = fileName(id, "-small", image.small.ext);
    await writeMediaFile(ctx, original, image.original.bytes);
    await writeMediaFile(ctx, small, image.small.bytes);
    Object.assign(row, {
      // Mastodon calls a GIF "gifv" only after converting it to video; an image it stays here.
      type: "image",
      contentType: image.original.mime,
      fileName: original,
      previewFileName: small,
      fileSize: image.original.bytes.length,
      blurhash: image.blurhash,
      meta: {
        original: imageMeta(image.original.width, image.original.height),
        small: imageMeta(image.small.width, image.small.height),
      },
    });
  } else {
    const name = fileName(id, "", kind.ext);
    await writeMediaFile(ctx, name, bytes);
    Object.assign(row, { fileName: name, fileSize: bytes.length, meta: {} });
  }
  ctx.store.db.insert(mediaAttachments).values(row).run();
  const saved = ctx.store.db.select().from(mediaAttachments).where(eq(mediaAttachments.id, id)).get();
  if (!saved) throw new Error("media row vanished");
  return saved;
}

/** Avatar or header: an image only, processed like any upload; returns its public URL. */
export async function saveProfileImage(
  ctx: Context,
  accountId: string,
  file: File,
): Promise<{ mediaId: string; url: string }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (sniff(bytes)?.type !== "image")
    throw new UserError("avatar and header must be images (JPEG, PNG, WebP or GIF)");
  const row = await saveUpload(ctx, accountId, new File([bytes], file.name));
  if (!row.fileName) throw new Error("profile image has no file");
  return { mediaId: row.id, url: ctx.urls.media(row.fileName) };
}

export function findOwnMedia(ctx: Context, accountId: string, id: string): MediaRow {
  const row = ctx.store.db
    .select()
    .from(mediaAttachments)
    .where(and(eq(mediaAttachments.id, id), eq(mediaAttachments.accountId, accountId)))
    .get();
  if (!row) throw new UserError("media not found", 404);
  return row;
}

export function updateMedia(
  ctx: Context,
  accountId: string,
  id: string,
  changes: { description?: string; focus?: string },
): MediaRow {
  const row = findOwnMedia(ctx, accountId, id);
  checkDescription(changes.description);
  const focus = changes.focus !== undefined ? parseFocus(changes.focus) : undefined;
  ctx.store.db
    .update(mediaAttachments)
    .set({
      ...(changes.description !== undefined ? { description: changes.description.trim() || null } : {}),
      ...(focus !== undefined
        ? {
            focusX: focus ? Math.round(focus.x * 1000) : null,
            focusY: focus ? Math.round(focus.y * 1000) : null,
          }
        : {}),
    })
    .where(eq(mediaAttachments.id, row.id))
    .run();
  return findOwnMedia(ctx, accountId, id);
}

/**
 * Uploads never attached to a status (and not used as avatar or header) are removed after a day, and so is
 * the media of a local status deleted more than a day ago (kept that long for "delete and redraft").
 */
export async function purgeUnattachedMedia(ctx: Context, olderThanMs = 24 * 3600 * 1000): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  const rows = ctx.store.db
    .select()
    .from(mediaAttachments)
    .where(and(isNull(mediaAttachments.statusId), lt(mediaAttachments.createdAt, cutoff)))
    .all();
  rows.push(
    ...ctx.store.db
      .select({ media: mediaAttachments })
      .from(mediaAttachments)
      .innerJoin(statuses, eq(statuses.id, mediaAttachments.statusId))
      .where(lt(statuses.deletedAt, cutoff))
      .all()
      .map((r) => r.media),
  );
  const inUse = new Set(
    ctx.store.sqlite
      .prepare(
        "SELECT avatar_media_id AS id FROM accounts WHERE avatar_media_id IS NOT NULL UNION SELECT header_media_id FROM accounts WHERE header_media_id IS NOT NULL UNION SELECT m.value FROM scheduled_statuses, json_each(scheduled_statuses.media_ids) m",
      )
      .all()
      .map((r) => (r as { id: string }).id),
  );
  let removed = 0;
  for (const row of rows) {
    if (inUse.has(row.id) || row.remoteUrl) continue;
    for (const name of [row.fileName, row.previewFileName]) if (name) await deleteMediaFile(ctx, name);
    ctx.store.db.delete(mediaAttachments).where(eq(mediaAttachments.id, row.id)).run();
    removed++;
  }
  return removed;
}
