/** Parameters the notification lists share (v1, v2 grouped). */
import { type Params, read } from "./params.js";

/** Every type Mastodon knows; filters drop anything else instead of failing, as apps send newer types. */
const NOTIFICATION_TYPES = new Set([
  "mention",
  "status",
  "reblog",
  "follow",
  "follow_request",
  "favourite",
  "poll",
  "update",
  "admin.sign_up",
  "admin.report",
  "severed_relationships",
  "moderation_warning",
  "annual_report",
  "quote",
  "quoted_update",
  "moved",
  "pleroma:emoji_reaction",
]);

/** The known types of a filter; null when the filter is absent or empty. */
export function typeList(params: Params, key: string): string[] | null {
  const list = (read.strings(params, key) ?? []).map((t) => t.trim()).filter((t) => t !== "");
  if (list.length === 0) return null;
  return list.filter((t) => NOTIFICATION_TYPES.has(t));
}
