/**
 * What a push message says, as Mastodon's Web::NotificationSerializer writes it: the token (apps find the
 * account by it), the locale, the notification's id and type, the sender's avatar, a title and a body of at
 * most 140 characters. Apps fetch the notification itself by its id.
 */
import { LosslessNumber, stringify } from "lossless-json";
import type { Context } from "../context.js";
import { mastodonNotificationType } from "../core/reactions.js";
import { htmlToText } from "../core/text.js";
import { DEFAULT_AVATAR_PATH } from "../http/mastodon/entities.js";
import { findAccountById } from "../store/account-lists.js";
import type { PushSubscriptionRow } from "../store/push-subscriptions.js";
import { findStatusById } from "../store/statuses.js";
import type { NotificationRow } from "../store/timelines.js";

/** Mastodon's English titles (notification_mailer.<type>.subject). */
const TITLES: Record<string, (name: string) => string> = {
  mention: (name) => `You were mentioned by ${name}`,
  status: (name) => `${name} just posted`,
  reblog: (name) => `${name} boosted your post`,
  follow: (name) => `${name} is now following you`,
  follow_request: (name) => `Pending follower: ${name}`,
  favourite: (name) => `${name} favorited your post`,
  poll: (name) => `A poll by ${name} has ended`,
  update: (name) => `${name} edited a post`,
  "admin.sign_up": (name) => `${name} signed up`,
  "admin.report": (name) => `${name} submitted a report`,
};

const BODY_MAX = 140;

/** Rails' truncate: at most `max` characters, the last three of them "..." when cut. */
function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 3).join("")}...`;
}

/**
 * The JSON text of the push for a notification, or null when there is nothing to say any more (its status
 * was deleted, its sender is gone). `notification_id` is written as a JSON number, as
 * Mastodon does (the official app and Ice Cubes decode it as a 64-bit integer), with every digit kept.
 */
export function pushPayload(
  ctx: Context,
  subscription: PushSubscriptionRow,
  notification: NotificationRow,
): string | null {
  const db = ctx.store.db;
  const from = findAccountById(db, notification.fromAccountId);
  const type = mastodonNotificationType(notification.type);
  const title = TITLES[type];
  if (!from || !title) return null;
  let text: string;
  if (notification.statusId !== null) {
    const status = findStatusById(db, notification.statusId);
    if (!status || status.deletedAt !== null) return null;
    text = status.spoilerText || (status.text ?? htmlToText(status.content));
  } else {
    text = htmlToText(from.note);
  }
  const name = from.displayName.trim() || from.username;
  return stringify({
    access_token: subscription.accessToken,
    preferred_locale: "en",
    notification_id: new LosslessNumber(notification.id),
    notification_type: type,
    icon: from.avatarUrl ?? `${ctx.urls.origin}${DEFAULT_AVATAR_PATH}`,
    title: title(name),
    body: truncate(text.replace(/\s+/g, " ").trim(), BODY_MAX),
  }) as string;
}
