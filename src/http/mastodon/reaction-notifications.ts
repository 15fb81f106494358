/**
 * How emoji-reaction notifications (`pleroma:emoji_reaction`, core/reactions.ts) reach apps. Pleroma's and
 * Akkoma's clients ask for the type by name (`types[]`, or Pleroma's `include_types[]`) and get it as is, with
 * the emoji; every other app sees a `favourite`, so a reaction is never lost on an app that would ignore an
 * unknown type. Filters follow what the app sees: without the type asked for, `types[]=favourite` includes
 * reactions and `exclude_types[]=favourite` leaves them out.
 */
import { mastodonNotificationType, REACTION_NOTIFICATION } from "../../core/reactions.js";
import type { Db } from "../../store/open.js";
import { reactionNotified } from "../../store/reactions.js";
import type { NotificationRow } from "../../store/timelines.js";
import { typeList } from "./notification-params.js";
import type { Params } from "./params.js";

export const REACTION_TYPE = REACTION_NOTIFICATION;

/** Whether the request names the reaction type in `types[]` or `include_types[]`. */
export function asksForReactions(params: Params): boolean {
  return [...(typeList(params, "types") ?? []), ...(typeList(params, "include_types") ?? [])].includes(
    REACTION_TYPE,
  );
}

/** The type filters of a notification list, reactions counted as favourites unless asked for by name. */
export function typeFilters(params: Params): { types: string[] | null; excludeTypes: string[] } {
  const included = typeList(params, "types") ?? typeList(params, "include_types");
  const excluded = typeList(params, "exclude_types") ?? [];
  if (asksForReactions(params)) return { types: included, excludeTypes: excluded };
  const widen = (list: string[]) => (list.includes("favourite") ? [...list, REACTION_TYPE] : list);
  return { types: included && widen(included), excludeTypes: widen(excluded) };
}

/** The type an app is shown. */
export function shownType(type: string, reactionsAsked: boolean): string {
  return reactionsAsked ? type : mastodonNotificationType(type);
}

/** Pleroma's extra notification keys: the emoji and, for a custom one, its image. */
export function reactionFields(db: Db, row: NotificationRow): Record<string, unknown> {
  if (row.type !== REACTION_TYPE || row.statusId === null) return {};
  const reaction = reactionNotified(db, row.fromAccountId, row.statusId, row.createdAt);
  return reaction ? { emoji: reaction.name, emoji_url: reaction.url } : {};
}
