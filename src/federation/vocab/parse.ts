/**
 * Raw ActivityStreams JSON (as compacted by the usual servers: Mastodon, Misskey, GoToSocial, Pleroma, Fedify…)
 * to the plain, validated values of types.ts. Everything that ends up as HTML is sanitised here, everything
 * that ends up as text is made plain, every list is bounded, and every URL is an absolute http(s) URL of at
 * most MAX_URL_LENGTH characters. Nothing here fetches: what is not embedded is left out.
 */
import { createPublicKey } from "node:crypto";
import type { RemoteNote, RemoteQuote } from "../../core/remote.js";
import type { Visibility } from "../../core/statuses.js";
import { escapeHtml } from "../../core/text.js";
import type { CustomEmoji, InteractionPolicy, ProfileField, SubPolicy } from "../../store/schema.js";
import { multibaseToEd25519PublicKey, toBase64Url } from "../keys.js";
import { sanitizeHtml, sanitizePlain } from "../sanitize.js";
import { hostOf } from "../urls.js";
import { PUBLIC } from "./context.js";
import {
  ACTOR_TYPES,
  type ActorType,
  type ParsedActor,
  type ParsedAttachment,
  type ParsedKey,
  type ParsedNote,
} from "./types.js";

export const MAX_URL_LENGTH = 4096;
/** Per kind: mentions, hashtags, emojis. */
export const MAX_TAGS = 50;
export const MAX_ATTACHMENTS = 16;
export const MAX_FIELDS = 16;
export const MAX_KEYS = 10;
export const MAX_ADDRESSEES = 1000;
export const MAX_ALSO_KNOWN_AS = 20;
export const MAX_POLL_OPTIONS = 20;
export const MAX_SPOILER_TEXT = 1000;
export const MAX_DESCRIPTION = 1500;
export const MAX_FIELD_NAME = 255;
export const MAX_FIELD_VALUE_INPUT = 2048;
export const MAX_PROFILE_NOTE_INPUT = 20_000;
export const MAX_USERNAME = 255;
/** A `published` further ahead than this is taken as now, so it cannot pin a post to the top of timelines. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export const NOTE_TYPES = ["Note", "Article", "Page", "Question"] as const;
const MEDIA_TYPES = ["Document", "Image", "Video", "Audio", "Link"] as const;

/** The JSON is not an acceptable actor or note; the message says why. */
export class ParseError extends Error {
  override readonly name = "ParseError";
}

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** JSON-LD lets any property be one value or an array of them; absent and null are the empty array. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A reference: the string itself, or the `id` of an embedded object. */
export function idOf(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.id === "string") return value.id;
  return null;
}

/** An absolute http(s) URL of reasonable length, as given (ids are compared exactly, so never normalised). */
export function httpUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_URL_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === "https:" || url.protocol === "http:" ? value : null;
}

/** `idOf` restricted to http(s) URLs. */
function refUrl(value: unknown): string | null {
  return httpUrl(idOf(value));
}

/**
 * The URL in a `url`, `icon` or `href`-like value: a string, a Link ({href}), an Image ({url: …}), or an array
 * of those (a text/html link preferred when `preferHtml`).
 */
export function urlOf(value: unknown, preferHtml = false, depth = 0): string | null {
  if (depth > 3) return null;
  if (typeof value === "string") return httpUrl(value);
  if (Array.isArray(value)) {
    const candidates = value.slice(0, 20);
    if (preferHtml) {
      for (const entry of candidates) {
        if (isObject(entry) && asString(entry.mediaType)?.startsWith("text/html")) {
          const found = urlOf(entry, false, depth + 1);
          if (found) return found;
        }
      }
    }
    for (const entry of candidates) {
      const found = urlOf(entry, preferHtml, depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (isObject(value)) {
    if (value.href !== undefined) return httpUrl(value.href);
    if (value.url !== undefined) return urlOf(value.url, preferHtml, depth + 1);
  }
  return null;
}

/** The first of `allowed` that `type` (a string or an array of strings) names. */
function typeIn<T extends string>(type: unknown, allowed: readonly T[]): T | null {
  for (const t of asArray(type)) {
    if (typeof t === "string" && (allowed as readonly string[]).includes(t)) return t as T;
  }
  return null;
}

function hasType(value: unknown, type: string): boolean {
  return isObject(value) && asArray(value.type).includes(type);
}

/** An ISO 8601 date-time to Unix milliseconds. */
export function parseTime(value: unknown): number | null {
  if (typeof value !== "string" || value.length > 64) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function nonNegativeInt(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER)
    : null;
}

/** `totalItems` of a collection given as an object (embedded, or fetched by the caller); null for a bare URL. */
export function collectionTotal(value: unknown): number | null {
  return isObject(value) ? nonNegativeInt(value.totalItems) : null;
}

/** The first value of a language map ({"en": "…"}), with its key. */
function firstOfMap(map: unknown): { language: string; value: string } | null {
  if (!isObject(map)) return null;
  for (const [language, value] of Object.entries(map)) {
    if (typeof value === "string") return { language, value };
  }
  return null;
}

function languageTag(value: unknown): string | null {
  if (typeof value !== "string" || value.length > 35) return null;
  if (!/^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$/.test(value)) return null;
  return value.toLowerCase() === "und" ? null : value;
}

/** `@language` from the document's @context. */
function contextLanguage(json: Json): string | null {
  for (const entry of asArray(json["@context"])) {
    if (isObject(entry) && typeof entry["@language"] === "string") return languageTag(entry["@language"]);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Keys

function pemKey(pem: unknown): { algorithm: "rsa" | "ed25519"; publicKey: string } | null {
  if (typeof pem !== "string" || pem.length > 10_000 || !pem.includes("-----BEGIN")) return null;
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType === "rsa") return { algorithm: "rsa", publicKey: pem.trim() };
    if (key.asymmetricKeyType === "ed25519") {
      const x = key.export({ format: "jwk" }).x;
      return typeof x === "string" ? { algorithm: "ed25519", publicKey: x } : null;
    }
  } catch {
    // not a public key node can read
  }
  return null;
}

/**
 * The keys an actor document declares: `publicKey` (one or several, PEM: RSA, or Ed25519 from the few servers
 * that put one there) and `assertionMethod` Multikeys (Ed25519, FEP-521a). A key counts only when it names
 * this actor as its `owner`/`controller` (a key embedded without one is the actor's by being in its
 * document) and its id is on the actor's host, so one actor can never claim another's key id.
 */
export function parseKeys(actorJson: unknown, actorId?: string): ParsedKey[] {
  if (!isObject(actorJson)) return [];
  const owner = actorId ?? asString(actorJson.id);
  if (!owner) return [];
  const ownerHost = hostOf(owner);
  const keys: ParsedKey[] = [];
  const seen = new Set<string>();
  const accept = (keyId: string | null, declaredOwner: unknown, found: ParsedKey["algorithm"] | null) => {
    if (!keyId || !found || seen.has(keyId) || keys.length >= MAX_KEYS) return false;
    if (declaredOwner !== undefined && idOf(declaredOwner) !== owner) return false;
    return hostOf(keyId) === ownerHost;
  };

  for (const entry of asArray(actorJson.publicKey).slice(0, 20)) {
    if (!isObject(entry)) continue;
    const keyId = httpUrl(entry.id);
    const key = pemKey(entry.publicKeyPem);
    if (!key || !accept(keyId, entry.owner ?? entry.controller, key.algorithm)) continue;
    seen.add(keyId!);
    keys.push({ keyId: keyId!, ownerUri: owner, algorithm: key.algorithm, publicKey: key.publicKey });
  }

  for (const entry of asArray(actorJson.assertionMethod).slice(0, 20)) {
    if (!isObject(entry) || !hasType(entry, "Multikey")) continue;
    const keyId = httpUrl(entry.id);
    const multibase = asString(entry.publicKeyMultibase);
    const raw = multibase && multibase.length <= 200 ? multibaseToEd25519PublicKey(multibase) : null;
    // A Multikey must say whose it is.
    if (!raw || entry.controller === undefined || !accept(keyId, entry.controller, "ed25519")) continue;
    seen.add(keyId!);
    keys.push({ keyId: keyId!, ownerUri: owner, algorithm: "ed25519", publicKey: toBase64Url(raw) });
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------------------
// Tags shared by actors and notes

const EMOJI_SHORTCODE = /^[a-zA-Z0-9_]{1,100}$/;

function parseEmoji(tag: unknown): CustomEmoji | null {
  if (!hasType(tag, "Emoji") || !isObject(tag)) return null;
  const name = asString(tag.name)?.trim().replace(/^:/, "").replace(/:$/, "");
  if (!name || !EMOJI_SHORTCODE.test(name)) return null;
  const url = urlOf(tag.icon);
  return url ? { shortcode: name, url } : null;
}

function parseEmojis(tags: unknown[]): CustomEmoji[] {
  const out: CustomEmoji[] = [];
  const seen = new Set<string>();
  for (const tag of tags) {
    if (out.length >= MAX_TAGS) break;
    const emoji = parseEmoji(tag);
    if (!emoji || seen.has(emoji.shortcode)) continue;
    seen.add(emoji.shortcode);
    out.push(emoji);
  }
  return out;
}

/** How many tag entries are looked at, whatever their kind. */
const MAX_TAG_ENTRIES = 500;

/** One Unicode emoji (with its modifiers, joiners and variation selectors), or a flag. */
const UNICODE_EMOJI =
  /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\p{Regional_Indicator}|\u200d|\ufe0f|\u20e3)+$/u;
/** `:shortcode:`, or Misskey's `:shortcode@host:` / `:shortcode@.:` for another server's emoji. */
const CUSTOM_REACTION = /^:([a-zA-Z0-9_]{1,100})(?:@[^:\s]{0,253})?:$/;

/**
 * The emoji of a reaction activity (Pleroma/Akkoma `EmojiReact`, Misskey `Like`): `content`, else Misskey's
 * `_misskey_reaction`. A custom emoji needs its `Emoji` tag (the image); anything that is not one emoji is
 * null.
 */
export function parseReaction(activity: unknown): { name: string; url: string | null } | null {
  if (!isObject(activity)) return null;
  const raw = (asString(activity.content) ?? asString(activity._misskey_reaction))?.trim();
  if (!raw || raw.length > 256) return null;
  const custom = CUSTOM_REACTION.exec(raw);
  if (custom) {
    const emoji = parseEmojis(asArray(activity.tag).slice(0, MAX_TAG_ENTRIES)).find(
      (e) => e.shortcode === custom[1],
    );
    return emoji ? { name: emoji.shortcode, url: emoji.url } : null;
  }
  return raw.length <= 64 &&
    UNICODE_EMOJI.test(raw) &&
    /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(raw)
    ? { name: raw, url: null }
    : null;
}

// ---------------------------------------------------------------------------------------------------------
// Actors

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
const BAD_USERNAME = /[\s@/\\<>"'\u0000-\u001f\u007f]/;

/**
 * An actor document fetched from `fetchedUrl` (the URL of the last hop, after redirects). Throws ParseError
 * when it is not an actor, its id is not on the host that served it, or preferredUsername or inbox is missing.
 */
export function parseActor(json: unknown, fetchedUrl: string): ParsedActor {
  if (!isObject(json)) throw new ParseError("the actor document is not a JSON object");
  const type = typeIn<ActorType>(json.type, ACTOR_TYPES);
  if (!type)
    throw new ParseError(
      `type ${JSON.stringify(json.type)} is not an actor type (${ACTOR_TYPES.join(", ")})`,
    );
  const uri = httpUrl(json.id);
  if (!uri) throw new ParseError("the actor has no id, or its id is not an http(s) URL");
  const domain = hostOf(uri)!;
  const servedFrom = hostOf(fetchedUrl);
  if (servedFrom === null || servedFrom !== domain) {
    throw new ParseError(`the actor id ${uri} is not on ${servedFrom ?? fetchedUrl}, which served it`);
  }
  const username = asString(json.preferredUsername)?.trim() ?? "";
  if (username === "") throw new ParseError(`the actor ${uri} has no preferredUsername`);
  if (username.length > MAX_USERNAME || BAD_USERNAME.test(username)) {
    throw new ParseError(`the actor ${uri} has an unusable preferredUsername`);
  }
  const inbox = refUrl(json.inbox);
  if (!inbox) throw new ParseError(`the actor ${uri} has no inbox`);
  const endpoints = isObject(json.endpoints) ? json.endpoints : {};
  const tags = asArray(json.tag).slice(0, MAX_TAG_ENTRIES);

  const fields: ProfileField[] = [];
  for (const entry of asArray(json.attachment).slice(0, 100)) {
    if (fields.length >= MAX_FIELDS) break;
    if (!hasType(entry, "PropertyValue") || !isObject(entry)) continue;
    const name = sanitizePlain(asString(entry.name) ?? "", MAX_FIELD_NAME);
    const value = asString(entry.value) ?? "";
    if (name === "" && value === "") continue;
    fields.push({ name, value: sanitizeHtml(value.slice(0, MAX_FIELD_VALUE_INPUT)) });
  }

  const alsoKnownAs: string[] = [];
  for (const entry of asArray(json.alsoKnownAs).slice(0, 100)) {
    const ref = refUrl(entry);
    if (ref && !alsoKnownAs.includes(ref) && alsoKnownAs.length < MAX_ALSO_KNOWN_AS) alsoKnownAs.push(ref);
  }

  return {
    uri,
    type,
    username,
    domain,
    displayName: sanitizePlain(asString(json.name) ?? ""),
    note: sanitizeHtml((asString(json.summary) ?? "").slice(0, MAX_PROFILE_NOTE_INPUT)),
    url: urlOf(json.url, true),
    inbox,
    // Misskey also writes it at the top level.
    sharedInbox: refUrl(endpoints.sharedInbox) ?? refUrl(json.sharedInbox),
    outbox: refUrl(json.outbox),
    followers: refUrl(json.followers),
    following: refUrl(json.following),
    featured: refUrl(json.featured),
    avatarUrl: urlOf(json.icon),
    headerUrl: urlOf(json.image),
    fields,
    emojis: parseEmojis(tags),
    locked: json.manuallyApprovesFollowers === true,
    // Mastodon shows Service and Application actors as bots.
    bot: type === "Service" || type === "Application",
    discoverable: json.discoverable === true,
    indexable: json.indexable === true,
    movedTo: refUrl(json.movedTo),
    alsoKnownAs,
    published: parseTime(json.published),
    keys: parseKeys(json, uri),
    followersCount: collectionTotal(json.followers),
    followingCount: collectionTotal(json.following),
    statusesCount: collectionTotal(json.outbox),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Notes

/** "as:Public" and "Public" are the compacted forms of the Public collection; written in full here. */
function expandAddress(value: string): string {
  return value === "as:Public" || value === "Public" ? PUBLIC : value;
}

function addressees(value: unknown): string[] {
  const out = new Set<string>();
  for (const entry of asArray(value).slice(0, MAX_ADDRESSEES * 2)) {
    const id = idOf(entry);
    if (!id) continue;
    const expanded = expandAddress(id);
    if (expanded === PUBLIC || httpUrl(expanded)) out.add(expanded);
    if (out.size >= MAX_ADDRESSEES) break;
  }
  return [...out];
}

/** The author: a string, an object, or an array of them (then the first Person, else the first actor). */
function authorOf(value: unknown): string | null {
  const entries = asArray(value).slice(0, 20);
  for (const preferred of ["Person", ...ACTOR_TYPES]) {
    for (const entry of entries) {
      if (hasType(entry, preferred)) {
        const id = refUrl(entry);
        if (id) return id;
      }
    }
  }
  for (const entry of entries) {
    // An untyped reference (a bare URL, or an object without type) is taken as is.
    if (typeof entry === "string" || (isObject(entry) && entry.type === undefined)) {
      const id = refUrl(entry);
      if (id) return id;
    }
  }
  return null;
}

const HASHTAG_FORBIDDEN = /[\s#<>"'&,.;:!?()[\]{}\\/]/u;

function hashtagName(tag: Json): string | null {
  const name = asString(tag.name)?.trim().replace(/^#+/, "");
  if (!name || name.length > 100 || HASHTAG_FORBIDDEN.test(name)) return null;
  return name;
}

function mediaKind(mediaType: string | null, type: string | null): ParsedAttachment["kind"] {
  const major = mediaType?.split("/")[0]?.toLowerCase();
  if (major === "image") return "image";
  // A Mastodon "gifv" arrives as a video/mp4 Document and cannot be told from a short video: kept as video.
  if (major === "video") return "video";
  if (major === "audio") return "audio";
  if (mediaType === null) {
    if (type === "Image") return "image";
    if (type === "Video") return "video";
    if (type === "Audio") return "audio";
  }
  return "unknown";
}

function mediaTypeOf(value: unknown): string | null {
  const mediaType = asString(value)?.trim().toLowerCase();
  return mediaType && mediaType.length <= 100 && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+/.test(mediaType)
    ? mediaType
    : null;
}

function focalPoint(value: unknown): [number, number] | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [x, y] = value;
  if (typeof x !== "number" || typeof y !== "number" || !Number.isFinite(x) || !Number.isFinite(y))
    return null;
  const clamp = (n: number) => Math.min(1, Math.max(-1, n));
  return [clamp(x), clamp(y)];
}

function dimension(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value > 0 && value <= 1_000_000
    ? Math.round(value)
    : null;
}

const BLURHASH = /^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{6,200}$/;

/** The URL and media type of a media attachment (its `url` may be a string, a Link, or an array of Links). */
function mediaUrl(entry: Json, type: string): { url: string; mediaType: string | null } | null {
  const own = mediaTypeOf(entry.mediaType);
  if (type === "Link") {
    const url = httpUrl(entry.href);
    return url ? { url, mediaType: own } : null;
  }
  for (const candidate of asArray(entry.url).slice(0, 20)) {
    if (typeof candidate === "string") {
      const url = httpUrl(candidate);
      if (url) return { url, mediaType: own };
    } else if (isObject(candidate)) {
      const url = httpUrl(candidate.href) ?? httpUrl(candidate.url);
      const mediaType = mediaTypeOf(candidate.mediaType) ?? own;
      // An HTML page among the links (PeerTube's watch page) is not the media itself.
      if (url && !mediaType?.startsWith("text/html")) return { url, mediaType };
    }
  }
  return null;
}

function parseAttachment(entry: unknown): ParsedAttachment | null {
  if (!isObject(entry)) return null;
  const type = typeIn(entry.type, MEDIA_TYPES);
  if (!type) return null;
  const found = mediaUrl(entry, type);
  if (!found) return null;
  const kind = mediaKind(found.mediaType, type);
  // A Link to a web page is a link, not media (Lemmy's link posts): notes show it in the content instead.
  if (type === "Link" && kind === "unknown") return null;
  const description = sanitizePlain(asString(entry.name) ?? "", MAX_DESCRIPTION, { keepNewlines: true });
  const blurhash = asString(entry.blurhash);
  return {
    url: found.url,
    mediaType: found.mediaType,
    kind,
    description: description === "" ? null : description,
    blurhash: blurhash && BLURHASH.test(blurhash) ? blurhash : null,
    focalPoint: focalPoint(entry.focalPoint),
    width: dimension(entry.width),
    height: dimension(entry.height),
  };
}

function parsePoll(json: Json, now: number): ParsedNote["poll"] {
  const multiple = asArray(json.anyOf).length > 0;
  const choices = asArray(multiple ? json.anyOf : json.oneOf);
  if (choices.length === 0) return null;
  const options: { title: string; votes: number }[] = [];
  for (const choice of choices.slice(0, MAX_POLL_OPTIONS)) {
    if (!isObject(choice)) continue;
    const title = sanitizePlain(asString(choice.name) ?? "", 200);
    if (title === "") continue;
    const replies = isObject(choice.replies) ? choice.replies : {};
    options.push({ title, votes: nonNegativeInt(replies.totalItems) ?? 0 });
  }
  if (options.length === 0) return null;
  // `closed` is the closing time of a closed poll; some servers just say `closed: true`.
  const endTime = parseTime(json.endTime) ?? parseTime(json.closed) ?? (json.closed === true ? now : null);
  return { multiple, options, endTime, votersCount: nonNegativeInt(json.votersCount) };
}

/** Content as HTML, from `content`/`contentMap` (plain text when mediaType says so), with its language. */
function contentOf(json: Json): { html: string; language: string | null } {
  const map = firstOfMap(json.contentMap);
  const content = asString(json.content);
  let raw = content || map?.value || "";
  let language: string | null = null;
  if (map && isObject(json.contentMap)) {
    // The language whose text is `content`, else the first one.
    const matching = Object.entries(json.contentMap).find(([, v]) => v === content);
    language = languageTag(matching ? matching[0] : map.language);
  }
  language ??= contextLanguage(json);
  if (asString(json.mediaType)?.toLowerCase().startsWith("text/plain")) {
    raw = `<p>${escapeHtml(raw.slice(0, 100_000)).replace(/\r?\n/g, "<br>")}</p>`;
  }
  return { html: sanitizeHtml(raw), language };
}

/**
 * A Note, Article, Page or Question. Throws ParseError without an http(s) id or an author.
 *
 * Articles and Pages (blogs, WordPress, Lemmy, Plume…) are shown the way a timeline can show them: the title
 * (`name`) as a bold paragraph linked to the article's `url`, then the content (or, when there is none, the
 * `summary`, which for these types is an excerpt rather than a content warning — Mastodon treats it so too),
 * then any non-media links they carry (a Lemmy link post's target). Their summary is therefore never a
 * content warning. For Notes and Questions `summary` is the content warning, as plain text.
 */
export function parseNote(json: unknown): ParsedNote {
  if (!isObject(json)) throw new ParseError("the object is not a JSON object");
  const type = typeIn(json.type, NOTE_TYPES);
  if (!type) throw new ParseError(`type ${JSON.stringify(json.type)} is not one of ${NOTE_TYPES.join(", ")}`);
  const uri = httpUrl(json.id);
  if (!uri) throw new ParseError("the object has no id, or its id is not an http(s) URL");
  const attributedTo = authorOf(json.attributedTo);
  if (!attributedTo) throw new ParseError(`the object ${uri} has no attributedTo`);
  const now = Date.now();
  const url = urlOf(json.url, true);

  const { html, language } = contentOf(json);
  const summaryText = asString(json.summary) ?? firstOfMap(json.summaryMap)?.value ?? "";
  let content = html;
  let summary = "";
  const tags = asArray(json.tag).slice(0, MAX_TAG_ENTRIES);
  const rawAttachments = asArray(json.attachment).slice(0, MAX_ATTACHMENTS * 4);

  if (type === "Article" || type === "Page") {
    const parts: string[] = [];
    const name = sanitizePlain(asString(json.name) ?? firstOfMap(json.nameMap)?.value ?? "", 500);
    if (name !== "") {
      const title = `<strong>${escapeHtml(name)}</strong>`;
      parts.push(`<p>${url ? `<a href="${escapeHtml(url)}">${title}</a>` : title}</p>`);
    }
    parts.push(html !== "" ? html : summaryText ? sanitizeHtml(summaryText) : "");
    for (const entry of rawAttachments) {
      if (!hasType(entry, "Link") || !isObject(entry) || parseAttachment(entry)) continue;
      const href = httpUrl(entry.href);
      if (href && href !== url) parts.push(`<p><a href="${escapeHtml(href)}">${escapeHtml(href)}</a></p>`);
    }
    content = sanitizeHtml(parts.filter((p) => p !== "").join(""));
  } else {
    summary = sanitizePlain(summaryText, MAX_SPOILER_TEXT);
  }

  const mentions: string[] = [];
  const hashtags: string[] = [];
  const seenTags = new Set<string>();
  for (const tag of tags) {
    if (!isObject(tag)) continue;
    if (hasType(tag, "Mention")) {
      const href = httpUrl(tag.href);
      if (href && !mentions.includes(href) && mentions.length < MAX_TAGS) mentions.push(href);
    } else if (hasType(tag, "Hashtag")) {
      const name = hashtagName(tag);
      if (name && !seenTags.has(name.toLowerCase()) && hashtags.length < MAX_TAGS) {
        seenTags.add(name.toLowerCase());
        hashtags.push(name);
      }
    }
  }

  const attachments: ParsedAttachment[] = [];
  for (const entry of rawAttachments) {
    if (attachments.length >= MAX_ATTACHMENTS) break;
    const attachment = parseAttachment(entry);
    if (attachment) attachments.push(attachment);
  }

  const published = parseTime(json.published);
  return {
    uri,
    type,
    url,
    attributedTo,
    content,
    summary,
    // Mastodon marks a post with a content warning as sensitive whatever `sensitive` says.
    sensitive: json.sensitive === true || summary !== "",
    language,
    published: published === null || published > now + MAX_CLOCK_SKEW_MS ? now : published,
    updated: parseTime(json.updated),
    inReplyTo: refUrl(asArray(json.inReplyTo)[0]),
    to: addressees(json.to),
    cc: addressees(json.cc),
    mentions,
    hashtags,
    emojis: parseEmojis(tags),
    attachments,
    poll: type === "Question" ? parsePoll(json, now) : null,
    quote: parseQuote(json),
    ...withPolicy(parseInteractionPolicy(json.interactionPolicy)),
  };
}

/**
 * The post a note quotes, read as Mastodon 4.5 reads it: FEP-044f `quote` (a URI or an embedded object),
 * else Misskey's `_misskey_quote`, `quoteUrl` or Fedibird's `quoteUri` (a "legacy" quote, made without
 * asking). `quoteAuthorization` names the consent; it is only trusted once checked (federation/quotes.ts).
 */
function parseQuote(json: Json): RemoteQuote | null {
  for (const key of ["quote", "_misskey_quote", "quoteUrl", "quoteUri"]) {
    const value = asArray(json[key])[0];
    // Mastodon sends a Tombstone once the quoted post is gone.
    if (isObject(value) && value.type === "Tombstone") return null;
    const uri = refUrl(value);
    if (!uri) continue;
    return {
      uri,
      authorization: refUrl(asArray(json.quoteAuthorization)[0]),
      legacy: !("quote" in json),
      authorized: false,
    };
  }
  return null;
}

function withPolicy(policy: InteractionPolicy | null): { interactionPolicy?: InteractionPolicy } {
  return policy ? { interactionPolicy: policy } : {};
}

/** How many URIs a sub-policy keeps per list. */
const MAX_POLICY_ENTRIES = 100;

function policyUris(value: unknown): string[] {
  const out: string[] = [];
  for (const entry of asArray(value).slice(0, MAX_POLICY_ENTRIES * 2)) {
    const id = idOf(entry);
    const uri = id === "as:Public" || id === "Public" ? PUBLIC : httpUrl(id);
    if (uri && !out.includes(uri) && out.length < MAX_POLICY_ENTRIES) out.push(uri);
  }
  return out;
}

/**
 * One sub-policy (canLike, canReply, canAnnounce): `automaticApproval`/`manualApproval` since GoToSocial
 * 0.20, `always`/`approvalRequired` before (0.20 sends both). Missing, null or `{}` is null: the default,
 * anyone who can see the post.
 */
function parseSubPolicy(value: unknown): SubPolicy | null {
  if (!isObject(value)) return null;
  const automatic = policyUris(value.automaticApproval ?? value.always);
  const manual = policyUris(value.manualApproval ?? value.approvalRequired);
  return automatic.length === 0 && manual.length === 0 && Object.keys(value).length === 0
    ? null
    : { automatic, manual };
}

/** GoToSocial's `interactionPolicy` on a post; null when absent or empty (the implicit default). */
export function parseInteractionPolicy(value: unknown): InteractionPolicy | null {
  if (!isObject(value)) return null;
  const policy = {
    canLike: parseSubPolicy(value.canLike),
    canReply: parseSubPolicy(value.canReply),
    canAnnounce: parseSubPolicy(value.canAnnounce),
  };
  return policy.canLike || policy.canReply || policy.canAnnounce ? policy : null;
}

/** Visibility of a remote object from its addressing (the reverse of vocab/note.ts `addressing`). */
export function visibilityFrom(to: string[], cc: string[], followersUrl: string | null): Visibility {
  const isPublic = (v: string) => v === PUBLIC || v === "as:Public" || v === "Public";
  if (to.some(isPublic)) return "public";
  if (cc.some(isPublic)) return "unlisted";
  if (followersUrl && [...to, ...cc].includes(followersUrl)) return "private";
  return "direct";
}

/** A parsed note as the core takes it: its addressing read as a visibility against its author's followers. */
export function toRemoteNote(note: ParsedNote, author: { followersUrl: string | null }): RemoteNote {
  const { to, cc, ...rest } = note;
  return { ...rest, visibility: visibilityFrom(to, cc, author.followersUrl) };
}
