/**
 * Pieces of the public pages: an account's byline, a status (content warning behind <details>, media, poll,
 * edited marker, counts), dates in the reader's language. Content and notes are HTML we produced or
 * sanitised on the way in (federation/sanitize.ts), so they are inserted as they are.
 *
 * Nothing here makes the browser ask another server: remote avatars and remote media that are not cached on
 * this server are linked, never embedded.
 */
import { html, raw } from "hono/html";
import type { Context } from "../../context.js";
import { type AccountRow, findLocalUser } from "../../store/accounts.js";
import type { MediaRow, PollRow, StatusView } from "../../store/statuses.js";
import { DEFAULT_AVATAR_PATH } from "../mastodon/entities.js";
import type { Html } from "./layout.js";

export type DateFormat = (ms: number) => string;

/** The language the owner posts in by default (their app's posting setting), for the pages' lang. */
export function ownerLanguage(ctx: Context): string {
  const language = findLocalUser(ctx.store.db)?.user.preferences["posting:default:language"];
  return typeof language === "string" && /^[a-z]{2,3}$/.test(language) ? language : "en";
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 32;

/** The first language of an Accept-Language header that Intl knows, else "en". */
export function readerLanguage(acceptLanguage: string | undefined): string {
  for (const part of (acceptLanguage ?? "").split(",")) {
    const tag = part.split(";")[0]?.trim();
    if (!tag || tag === "*") continue;
    try {
      const [supported] = Intl.DateTimeFormat.supportedLocalesOf([tag]);
      if (supported) return supported;
    } catch {
      // not a language tag
    }
  }
  return "en";
}

/**
 * Dates as the reader writes them. Without scripts the page cannot know the reader's time zone, so times are
 * given in UTC and say so; the <time> element carries the exact ISO time.
 */
export function dateFormat(language: string): DateFormat {
  let format = formatters.get(language);
  if (!format) {
    format = new Intl.DateTimeFormat(language, {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "UTC",
    });
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(language, format);
  }
  const f = format;
  return (ms) => `${f.format(new Date(ms))} UTC`;
}

export function timeTag(ms: number, format: DateFormat) {
  return html`<time datetime="${new Date(ms).toISOString()}">${format(ms)}</time>`;
}

export function displayName(account: AccountRow): string {
  return account.displayName.trim() || account.username;
}

export function handleOf(ctx: Context, account: AccountRow): string {
  return `@${account.username}@${account.domain ?? ctx.urls.domain}`;
}

export function profileUrl(ctx: Context, account: AccountRow): string {
  return account.domain === null ? ctx.urls.profile(account.username) : (account.url ?? account.uri);
}

/** Where a status is read: its page here for the owner's, its own server's page for others. */
export function statusUrl(ctx: Context, view: StatusView): string {
  const { status, account } = view;
  return account.domain === null
    ? ctx.urls.statusPage(account.username, status.id)
    : (status.url ?? status.uri);
}

/** Only images on this server are shown: a remote avatar would be a request to another server. */
export function avatarSrc(ctx: Context, account: AccountRow): string {
  const url = account.avatarUrl;
  if (url?.startsWith(`${ctx.urls.origin}/`)) return url;
  return `${ctx.urls.origin}${DEFAULT_AVATAR_PATH}`;
}

export function byline(ctx: Context, account: AccountRow) {
  return html`<a class="byline" href="${profileUrl(ctx, account)}"><img class="small-avatar" src="${avatarSrc(ctx, account)}" alt="" width="44" height="44">
<span><span class="name">${displayName(account)}</span> <span class="handle">${handleOf(ctx, account)}</span></span></a>`;
}

/** The URL of a media file on this server, or null when only the remote original exists. */
export function localMediaUrl(ctx: Context, media: MediaRow, preview = false): string | null {
  const file = preview ? (media.previewFileName ?? media.fileName) : media.fileName;
  if (!file || media.processing !== "done") return null;
  return ctx.urls.media(file);
}

function size(media: MediaRow): { width?: number; height?: number } {
  const original = media.meta.original as { width?: unknown; height?: unknown } | undefined;
  return typeof original?.width === "number" && typeof original.height === "number"
    ? { width: original.width, height: original.height }
    : {};
}

function mediaItem(ctx: Context, media: MediaRow) {
  const url = localMediaUrl(ctx, media);
  const alt = media.description ?? "";
  if (!url) {
    const remote = media.remoteUrl;
    const label = alt || `${media.type === "unknown" ? "attachment" : media.type}`;
    return remote
      ? html`<figure><a href="${remote}" rel="nofollow noopener noreferrer">${label}</a> <span class="meta">(on another server)</span></figure>`
      : "";
  }
  const { width, height } = size(media);
  const caption = alt ? html`<figcaption>${alt}</figcaption>` : "";
  switch (media.type) {
    case "image":
      return html`<figure><a href="${url}"><img src="${localMediaUrl(ctx, media, true) ?? url}" alt="${alt}" loading="lazy"${width ? html` width="${width}" height="${height}"` : ""}></a></figure>`;
    case "gifv":
      return html`<figure><video src="${url}" controls loop muted playsinline preload="metadata" aria-label="${alt}"></video>${caption}</figure>`;
    case "video":
      return html`<figure><video src="${url}" controls preload="metadata"${localMediaUrl(ctx, media, true) !== url ? html` poster="${localMediaUrl(ctx, media, true)}"` : ""} aria-label="${alt}"></video>${caption}</figure>`;
    case "audio":
      return html`<figure><audio src="${url}" controls preload="none" aria-label="${alt}"></audio>${caption}</figure>`;
    default:
      return html`<figure><a href="${url}">${alt || "attachment"}</a></figure>`;
  }
}

export function gallery(ctx: Context, media: MediaRow[], sensitive: boolean) {
  if (media.length === 0) return "";
  const items = html`<div class="gallery">${media.map((m) => mediaItem(ctx, m))}</div>`;
  return sensitive
    ? html`<details class="sensitive"><summary>Sensitive media</summary>${items}</details>`
    : items;
}

function pollResults(poll: PollRow, format: DateFormat) {
  const expired = poll.expiresAt !== null && poll.expiresAt <= Date.now();
  const hidden = poll.hideTotals && !expired;
  const total = poll.options.reduce((sum, o) => sum + o.votes, 0);
  const voters = poll.votersCount ?? total;
  return html`<ul class="poll">
${poll.options.map((o) => {
  if (hidden) return html`<li>${o.title}</li>`;
  const percent = total > 0 ? Math.round((o.votes / total) * 100) : 0;
  return html`<li><span>${o.title}</span> <strong>${percent}%</strong><meter min="0" max="${Math.max(total, 1)}" value="${o.votes}">${o.votes}</meter></li>`;
})}
</ul>
<p class="meta">${voters} ${voters === 1 ? "person" : "people"}${
    poll.expiresAt !== null
      ? html` · ${expired ? "closed" : "closes"} ${timeTag(poll.expiresAt, format)}`
      : ""
  }</p>`;
}

export interface StatusOptions {
  format: DateFormat;
  /** The status of the page (larger, without the link to itself). */
  focus?: boolean;
}

function body(ctx: Context, view: StatusView, format: DateFormat) {
  const { status } = view;
  const inner = html`<div class="content"${status.language ? html` lang="${status.language}"` : ""}>${raw(status.content)}</div>
${gallery(ctx, view.media, status.sensitive && status.spoilerText === "")}
${view.poll ? pollResults(view.poll, format) : ""}`;
  if (status.spoilerText === "") return inner;
  return html`<details class="cw"><summary${status.language ? html` lang="${status.language}"` : ""}>${status.spoilerText}</summary>${inner}</details>`;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One status as an <article>; a boost shows who boosted and the boosted status. */
export function statusArticle(ctx: Context, view: StatusView, options: StatusOptions): Html {
  const shown = view.reblog ?? view;
  const { status } = shown;
  const url = statusUrl(ctx, shown);
  const when = timeTag(status.createdAt, options.format);
  return html`<article class="status${options.focus ? " focus" : ""}" id="s${view.status.id}">
${view.reblog ? html`<p class="boosted">${displayName(view.account)} boosted</p>` : ""}
${byline(ctx, shown.account)}
${shown.inReplyTo && !options.focus ? html`<p class="reply-to">In reply to <a href="${shown.inReplyTo.uri}">a post</a></p>` : ""}
${body(ctx, shown, options.format)}
<p class="meta">${options.focus ? when : html`<a href="${url}">${when}</a>`}${
    status.editedAt
      ? html` · <span class="edited">edited ${timeTag(status.editedAt, options.format)}</span>`
      : ""
  }${
    status.visibility === "unlisted" ? " · unlisted" : ""
  } · <span class="counts">${count(status.repliesCount, "reply", "replies")}, ${count(status.reblogsCount, "boost", "boosts")}, ${count(status.favouritesCount, "favourite", "favourites")}</span></p>
</article>`;
}

/** A short plain description of a status for link previews. */
export function summaryOf(view: StatusView): string {
  const { status } = view;
  if (status.spoilerText) return `Content warning: ${status.spoilerText}`;
  const text = status.content
    .replace(/<br\s*\/?>/gi, " ")
    .replace(/<\/p>/gi, " ")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
  return [...text].length > 200 ? `${[...text].slice(0, 199).join("")}…` : text;
}
