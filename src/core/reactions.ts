/**
 * Emoji reactions from other servers to the local account's statuses: Pleroma and Akkoma send `EmojiReact`,
 * Misskey (and its forks) a `Like` whose `content`/`_misskey_reaction` names the emoji. A reaction is stored
 * with its emoji and notified as `pleroma:emoji_reaction` (apps that do not ask for that type see a
 * favourite, see docs/decisions.md). A Like with an emoji is still a favourite: it counts in
 * `favourites_count` as well as in the reactions.
 */
import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { favourites, reactions } from "../store/schema.js";
import { findStatusByUri, type StatusRow } from "../store/statuses.js";
import { addNotification } from "./common.js";
import { bumpFavourites } from "./interactions.js";
import { commit } from "./unit-of-work.js";
import { mayFetch } from "./visibility.js";

/** The notification type of a reaction, Pleroma's name for it. */
export const REACTION_NOTIFICATION = "pleroma:emoji_reaction";

/** What Mastodon apps (and Web Push) are shown for a notification type: a reaction is a favourite to them. */
export function mastodonNotificationType(type: string): string {
  return type === REACTION_NOTIFICATION ? "favourite" : type;
}

/** The emoji of a reaction: a Unicode emoji, or a custom emoji's shortcode (no colons) and its image. */
export interface ReactionEmoji {
  name: string;
  url: string | null;
}

/** A local, live status the actor may see, or null: reactions to anything else are ignored. */
function reactable(ctx: Context, actor: AccountRow, statusUri: string): StatusRow | null {
  const status = findStatusByUri(ctx.store.db, statusUri);
  if (!status || status.deletedAt !== null || !status.local || status.reblogOfId) return null;
  return mayFetch(ctx.store.db, status, actor.uri) ? status : null;
}

/**
 * An `EmojiReact` (or, with `alsoFavourite`, a Misskey `Like` carrying an emoji) of a local status.
 * Returns whether a reaction was added; a repeated one (same activity, or same emoji again) is not.
 */
export function receiveReaction(
  ctx: Context,
  actor: AccountRow,
  statusUri: string,
  activityUri: string,
  emoji: ReactionEmoji,
  alsoFavourite = false,
): boolean {
  const status = reactable(ctx, actor, statusUri);
  if (!status) return false;
  return commit(ctx, (uow) => {
    const now = Date.now();
    if (alsoFavourite) {
      const liked = ctx.store.db
        .insert(favourites)
        .values({
          id: newId(now),
          accountId: actor.id,
          statusId: status.id,
          uri: activityUri,
          createdAt: now,
        })
        .onConflictDoNothing()
        .run();
      if (liked.changes > 0) bumpFavourites(ctx, status.id, 1);
    }
    const inserted = ctx.store.db
      .insert(reactions)
      .values({
        id: newId(now),
        accountId: actor.id,
        statusId: status.id,
        name: emoji.name,
        url: emoji.url,
        uri: activityUri,
        createdAt: now,
      })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return false;
    addNotification(ctx, uow, REACTION_NOTIFICATION, actor.id, status.id);
    return true;
  });
}

/**
 * Undo of a reaction, by the activity's id or, when the Undo embeds an EmojiReact without one we know, by
 * (actor, status, emoji). An undone Like is left to receiveUndoLike (the favourite); this removes its emoji.
 */
export function receiveUndoReaction(
  ctx: Context,
  actor: AccountRow,
  activityUri: string,
  fallback: { statusUri: string; name: string } | null = null,
): boolean {
  const db = ctx.store.db;
  let row = db
    .select()
    .from(reactions)
    .where(and(eq(reactions.uri, activityUri), eq(reactions.accountId, actor.id)))
    .get();
  if (!row && fallback) {
    const status = findStatusByUri(db, fallback.statusUri);
    if (status)
      row = db
        .select()
        .from(reactions)
        .where(
          and(
            eq(reactions.accountId, actor.id),
            eq(reactions.statusId, status.id),
            eq(reactions.name, fallback.name),
          ),
        )
        .get();
  }
  if (!row) return false;
  const found = row;
  commit(ctx, () => {
    db.delete(reactions).where(eq(reactions.id, found.id)).run();
  });
  return true;
}
