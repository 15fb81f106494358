/** The owner's profile page: header, bio, fields, counts, pinned and public posts with paging, and tabs. */
import type { Context as HonoContext } from "hono";
import { html, raw } from "hono/html";
import type { Context } from "../../context.js";
import { htmlToText } from "../../core/text.js";
import { findAccountByUri } from "../../store/account-lookups.js";
import type { AccountRow } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import type { PageBounds } from "../../store/pagination.js";
import { webPinned, webStatuses } from "../../store/public-pages.js";
import { loadStatusViews } from "../../store/statuses.js";
import { DEFAULT_HEADER_PATH } from "../mastodon/entities.js";
import { sendCached } from "./caching.js";
import { type Html, layout, siteNav } from "./layout.js";
import { interactForm } from "./remote-follow.js";
import {
  avatarSrc,
  type DateFormat,
  dateFormat,
  displayName,
  handleOf,
  ownerLanguage,
  readerLanguage,
  statusArticle,
  timeTag,
} from "./render.js";

export const PAGE_SIZE = 20;

export type ProfileTab = "posts" | "with_replies" | "media";

const TABS: { tab: ProfileTab; path: string; label: string }[] = [
  { tab: "posts", path: "", label: "Posts" },
  { tab: "with_replies", path: "/with_replies", label: "Posts and replies" },
  { tab: "media", path: "/media", label: "Media" },
];

/** max_id / min_id of a page link; anything else is the first page. */
export function pageFrom(c: HonoContext, limit = PAGE_SIZE): PageBounds {
  const maxId = c.req.query("max_id");
  const minId = c.req.query("min_id");
  return {
    maxId: maxId && isId(maxId) ? maxId : null,
    minId: !maxId && minId && isId(minId) ? minId : null,
    sinceId: null,
    limit,
  };
}

/** "Newer" and "Older" links around a page of rows (newest first). */
export function pager(base: string, ids: string[], page: PageBounds, more: boolean) {
  const first = ids[0];
  const last = ids[ids.length - 1];
  const newer = page.minId !== null ? more : page.maxId !== null;
  const older = page.minId !== null ? true : more;
  if (!first || !last) {
    return page.maxId !== null || page.minId !== null
      ? html`<nav class="pager" aria-label="Pages"><a href="${base}">Newest posts</a></nav>`
      : "";
  }
  if (!newer && !older) return "";
  const join = base.includes("?") ? "&" : "?";
  return html`<nav class="pager" aria-label="Pages">
<span>${newer ? html`<a rel="prev" href="${base}${join}min_id=${first}">Newer posts</a>` : ""}</span>
<span>${older ? html`<a rel="next" href="${base}${join}max_id=${last}">Older posts</a>` : ""}</span>
</nav>`;
}

/** Field values link with rel="me" (what profile link verification on other servers looks for). */
function fieldValue(value: string): string {
  return value.replace(/rel="nofollow noopener noreferrer"/g, 'rel="me nofollow noopener noreferrer"');
}

export function hidesFromSearch(account: AccountRow): boolean {
  return !account.discoverable || !account.indexable;
}

/** Mastodon's banner on a moved account: the new address, linked to its profile. */
function movedNotice(ctx: Context, account: AccountRow) {
  if (!account.movedToUri) return "";
  const target = findAccountByUri(ctx.store.db, account.movedToUri);
  const href = target?.url ?? account.movedToUri;
  const label = target ? handleOf(ctx, target) : account.movedToUri;
  return html`<p class="moved">${displayName(account)} has moved to <a href="${href}" rel="nofollow noopener">${label}</a>.</p>`;
}

function profileHeader(ctx: Context, account: AccountRow, format: DateFormat) {
  const handle = handleOf(ctx, account);
  const header = account.headerUrl ?? `${ctx.urls.origin}${DEFAULT_HEADER_PATH}`;
  return html`<header class="profile">
<img class="banner" src="${header}" alt="" width="600" height="200">
<div class="identity"><img class="avatar" src="${avatarSrc(ctx, account)}" alt="${displayName(account)}'s avatar" width="80" height="80"></div>
<h1>${displayName(account)}</h1>
${movedNotice(ctx, account)}
<p class="handle"><label class="visually-hidden" for="handle">Handle</label><input id="handle" type="text" readonly value="${handle}" size="${[...handle].length}"></p>
<div class="note">${raw(account.note)}</div>
${
  account.fields.length > 0
    ? html`<dl class="fields">${account.fields.map(
        (f) =>
          html`<dt>${f.name}</dt><dd${f.verifiedAt ? html` class="verified"` : ""}>${raw(fieldValue(f.value))}${
            f.verifiedAt
              ? html` <span class="verified" title="Verified">✓ <span class="visually-hidden">verified</span> ${timeTag(f.verifiedAt, format)}</span>`
              : ""
          }</dd>`,
      )}</dl>`
    : ""
}
<ul class="counts">
<li><strong>${account.statusesCount}</strong> posts</li>
<li><strong>${account.followingCount}</strong> following</li>
<li><strong>${account.followersCount}</strong> followers</li>
</ul>
<p class="meta">Joined ${timeTag(account.publishedAt ?? account.createdAt, format)}</p>
${interactForm(account.uri, "follow", `Follow ${displayName(account)}`)}
</header>`;
}

function profileHead(ctx: Context, account: AccountRow, showPosts: boolean) {
  const title = `${displayName(account)} (${handleOf(ctx, account)})`;
  const description = htmlToText(account.note).replace(/\s+/g, " ").slice(0, 300);
  const profile = ctx.urls.profile(account.username);
  return html`<link rel="alternate" type="application/activity+json" href="${account.uri}">
${
  showPosts
    ? html`<link rel="alternate" type="application/rss+xml" title="${title} (RSS)" href="${profile}.rss">
<link rel="alternate" type="application/atom+xml" title="${title} (Atom)" href="${profile}.atom">`
    : ""
}
<link rel="canonical" href="${profile}">
<meta name="description" content="${description}">
<meta property="og:type" content="profile">
<meta property="og:site_name" content="${ctx.config.server.title}">
<meta property="og:title" content="${title}">
<meta property="og:description" content="${description}">
<meta property="og:url" content="${profile}">
<meta property="og:image" content="${avatarSrc(ctx, account)}">
<meta property="profile:username" content="${account.username}">
<meta name="twitter:card" content="summary">
<meta name="twitter:title" content="${title}">
<meta name="twitter:description" content="${description}">
<meta name="twitter:image" content="${avatarSrc(ctx, account)}">`;
}

/** The HTML profile a browser gets at /@username (and its tabs) and at the actor URL. */
export async function renderProfilePage(
  ctx: Context,
  c: HonoContext,
  account: AccountRow,
  tab: ProfileTab = "posts",
): Promise<Response> {
  const language = readerLanguage(c.req.header("accept-language"));
  const format = dateFormat(language);
  const showPosts = ctx.config.web.show_posts;
  const base = ctx.urls.profile(account.username);
  let posts: Html | string = "";
  if (showPosts) {
    const page = pageFrom(c);
    const first = page.maxId === null && page.minId === null;
    const pinned =
      first && tab === "posts" ? loadStatusViews(ctx.store.db, webPinned(ctx.store.db, account.id)) : [];
    const list = webStatuses(
      ctx.store.db,
      account.id,
      { withReplies: tab === "with_replies", onlyMedia: tab === "media", tag: null },
      page,
    );
    const views = loadStatusViews(ctx.store.db, list.rows);
    const tabBase = `${base}${TABS.find((t) => t.tab === tab)?.path ?? ""}`;
    posts = html`<nav class="tabs" aria-label="Posts">${TABS.map(
      (t) =>
        html`<a href="${base}${t.path}"${t.tab === tab ? html` aria-current="page"` : ""}>${t.label}</a>`,
    )}</nav>
${
  pinned.length > 0
    ? html`<section aria-labelledby="pinned"><h2 id="pinned">Pinned</h2>${pinned.map((v) => statusArticle(ctx, v, { format }))}</section>`
    : ""
}
<section aria-labelledby="posts"><h2 id="posts" class="${pinned.length > 0 ? "" : "visually-hidden"}">${TABS.find((t) => t.tab === tab)?.label}</h2>
${views.length === 0 ? html`<p>No posts here yet.</p>` : views.map((v) => statusArticle(ctx, v, { format }))}
${pager(
  tabBase,
  views.map((v) => v.status.id),
  page,
  list.more,
)}
</section>`;
  }
  const page = await layout(
    `${displayName(account)} (${handleOf(ctx, account)})`,
    html`<main>${profileHeader(ctx, account, format)}${posts}</main>`,
    profileHead(ctx, account, showPosts),
    { lang: ownerLanguage(ctx), noindex: hidesFromSearch(account), nav: siteNav(ctx) },
  );
  c.header("Vary", "Accept, Accept-Language");
  return sendCached(ctx, c, page.toString(), "text/html; charset=utf-8");
}
