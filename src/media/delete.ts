import { eq, or } from "drizzle-orm";
import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import { accounts, mediaAttachments } from "../store/schema.js";
import { deleteMediaFile, findOwnMedia } from "./store.js";

/**
 * Deletes an upload of the account that is not in use (Mastodon's DELETE /api/v1/media/:id): its row, then
 * its files. One attached to a status, or serving as the avatar or header, is refused (422); another
 * account's is not found (404).
 */
export async function deleteUpload(ctx: Context, accountId: string, id: string): Promise<void> {
  const row = findOwnMedia(ctx, accountId, id);
  if (row.statusId !== null) throw new UserError("the media is attached to a status", 422);
  const profileImage = ctx.store.db
    .select({ id: accounts.id })
    .from(accounts)
    .where(or(eq(accounts.avatarMediaId, row.id), eq(accounts.headerMediaId, row.id)))
    .get();
  if (profileImage) throw new UserError("the media is the profile's avatar or header", 422);
  ctx.store.db.delete(mediaAttachments).where(eq(mediaAttachments.id, row.id)).run();
  for (const name of [row.fileName, row.previewFileName]) if (name) await deleteMediaFile(ctx, name);
}

/** The media of a deleted status, rows and files, at once (DELETE /api/v1/statuses/:id?delete_media=true). */
export async function deleteStatusMedia(ctx: Context, statusId: string): Promise<void> {
  const rows = ctx.store.db
    .select()
    .from(mediaAttachments)
    .where(eq(mediaAttachments.statusId, statusId))
    .all();
  ctx.store.db.delete(mediaAttachments).where(eq(mediaAttachments.statusId, statusId)).run();
  for (const row of rows)
    for (const name of [row.fileName, row.previewFileName]) if (name) await deleteMediaFile(ctx, name);
}
