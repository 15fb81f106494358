/**
 * The streams a client may subscribe to, as Mastodon names them, and which of them an event reaches.
 * Pure functions: the hub gathers the facts about a status, this file decides.
 */
import { parseBoolean } from "../params.js";

export type StreamKind = "home" | "notifications" | "public" | "hashtag" | "direct" | "list";

export interface Subscription {
  /** The stream as Mastodon names it: "user", "public:local:media", "hashtag", ... */
  name: string;
  kind: StreamKind;
  /** Lower-cased tag name without '#', for hashtag streams. */
  tag: string | null;
  /** The list's id, for list streams. */
  list?: string | null;
  /** Only local statuses (true), only remote ones (false) or both (null). */
  local: boolean | null;
  onlyMedia: boolean;
  /** The scope the token needs for this stream. */
  scope: string;
  /** Identifies the subscription on its connection (subscribe twice = once). */
  key: string;
  /** The `stream` array of the messages sent for it, e.g. ["hashtag", "Cats"]. */
  label: string[];
}

export interface StreamError {
  error: string;
  status: number;
}

const MAX_TAG_LENGTH = 100;

const PUBLIC_STREAMS: Record<string, { local: boolean | null; onlyMedia: boolean }> = {
  public: { local: null, onlyMedia: false },
  "public:media": { local: null, onlyMedia: true },
  "public:local": { local: true, onlyMedia: false },
  "public:local:media": { local: true, onlyMedia: true },
  "public:remote": { local: false, onlyMedia: false },
  "public:remote:media": { local: false, onlyMedia: true },
};

export function isStreamError(value: Subscription | StreamError): value is StreamError {
  return "error" in value;
}

/** Normalises a tag as the tags table stores it: lower case, without the leading '#'. */
export function normalizeTag(tag: string): string {
  return tag.trim().replace(/^#/, "").normalize("NFKC").toLowerCase();
}

/** Parses a stream name (and its `tag` or `list` parameter) into a subscription, or the error to answer. */
export function parseStream(name: unknown, tag: unknown, list?: unknown): Subscription | StreamError {
  if (typeof name !== "string" || name === "") return { error: "Unknown stream type", status: 400 };
  const base = {
    name,
    tag: null,
    local: null,
    onlyMedia: false,
    scope: "read:statuses",
    key: name,
    label: [name],
  };
  if (name === "user") return { ...base, kind: "home" };
  if (name === "user:notification") return { ...base, kind: "notifications", scope: "read:notifications" };
  if (name === "direct") return { ...base, kind: "direct" };
  const publicStream = PUBLIC_STREAMS[name];
  if (publicStream) return { ...base, kind: "public", ...publicStream };
  if (name === "hashtag" || name === "hashtag:local") {
    if (typeof tag !== "string" || normalizeTag(tag) === "") {
      return { error: "Missing tag name parameter", status: 400 };
    }
    if (tag.length > MAX_TAG_LENGTH) return { error: "Tag name too long", status: 400 };
    const normalized = normalizeTag(tag);
    return {
      ...base,
      kind: "hashtag",
      tag: normalized,
      local: name === "hashtag:local" ? true : null,
      key: `${name}\u0000${normalized}`,
      label: [name, tag],
    };
  }
  if (name === "list") {
    const id = typeof list === "number" ? String(list) : list;
    if (typeof id !== "string" || id === "") return { error: "Missing list name parameter", status: 400 };
    // The hub checks that the list exists.
    return { ...base, kind: "list", list: id, key: `list\u0000${id}`, label: ["list", id] };
  }
  return { error: "Unknown stream type", status: 400 };
}

/**
 * The stream name of a Server-Sent-Events path below /api/v1/streaming: "/public/local" is "public:local", and
 * `only_media` turns a public stream into its media variant (Mastodon's routes).
 */
export function streamNameFromPath(rest: string, onlyMedia: string | undefined): string {
  let name = rest.replace(/^\/+|\/+$/g, "").replaceAll("/", ":");
  if (name.startsWith("public") && !name.endsWith(":media") && isTruthy(onlyMedia)) name += ":media";
  return name;
}

export function isTruthy(value: string | undefined): boolean {
  return parseBoolean(value) === true;
}

/**
 * What is known about a status when it is created, edited or deleted. The costly facts are functions, asked
 * only when a subscription needs them (and remembered by the caller).
 */
export interface StatusFacts {
  /** In the local account's home feed (for a deletion: assumed, the entry is gone already). */
  inHome: () => boolean;
  /** Public and not a boost: the public and hashtag timelines show it. */
  isPublic: boolean;
  local: boolean;
  hasMedia: () => boolean;
  tags: () => Set<string>;
  /** In this list's feed (for a deletion: assumed, like home). */
  inList?: (listId: string) => boolean;
}

/** Whether a status event reaches a subscription. */
export function statusMatches(sub: Subscription, facts: StatusFacts): boolean {
  switch (sub.kind) {
    case "home":
      return facts.inHome();
    case "public":
      return (
        facts.isPublic &&
        (sub.local === null || sub.local === facts.local) &&
        (!sub.onlyMedia || facts.hasMedia())
      );
    case "hashtag":
      return (
        facts.isPublic &&
        (sub.local === null || sub.local === facts.local) &&
        sub.tag !== null &&
        facts.tags().has(sub.tag)
      );
    case "list":
      return sub.list != null && facts.inList?.(sub.list) === true;
    default:
      // Notifications and direct conversations come as their own events.
      return false;
  }
}

/** Whether a notification reaches a subscription: user:notification always, user when the token may read them. */
export function notificationMatches(sub: Subscription, canReadNotifications: boolean): boolean {
  return sub.kind === "notifications" || (sub.kind === "home" && canReadNotifications);
}
