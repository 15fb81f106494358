/** The page of a hashtag: the owner's public posts with it (hashtag links in posts point here). */
import type { Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { Context } from "../../context.js";
import type { AccountRow } from "../../store/accounts.js";
import { webStatuses } from "../../store/public-pages.js";
import { loadStatusViews } from "../../store/statuses.js";
import type { TagRow } from "../../store/tags.js";
import { sendCached } from "./caching.js";
import { layout, siteNav } from "./layout.js";
import { hidesFromSearch, pageFrom, pager } from "./profile.js";
import { dateFormat, displayName, handleOf, ownerLanguage, readerLanguage, statusArticle } from "./render.js";

export async function renderTagPage(
  ctx: Context,
  c: HonoContext,
  account: AccountRow,
  tag: TagRow,
): Promise<Response> {
  const format = dateFormat(readerLanguage(c.req.header("accept-language")));
  const page = pageFrom(c);
  const list = webStatuses(
    ctx.store.db,
    account.id,
    { withReplies: true, onlyMedia: false, tag: tag.name },
    page,
  );
  const views = loadStatusViews(ctx.store.db, list.rows);
  const base = `${ctx.urls.origin}/tags/${encodeURIComponent(tag.name)}`;
  const title = `#${tag.displayName} – ${displayName(account)} (${handleOf(ctx, account)})`;
  const head = html`<link rel="alternate" type="application/rss+xml" title="${title} (RSS)" href="${base}.rss">
<link rel="alternate" type="application/atom+xml" title="${title} (Atom)" href="${base}.atom">
<link rel="canonical" href="${base}">
<meta property="og:type" content="website">
<meta property="og:site_name" content="${ctx.config.server.title}">
<meta property="og:title" content="#${tag.displayName}">
<meta property="og:description" content="Posts of ${handleOf(ctx, account)} with #${tag.displayName}">
<meta property="og:url" content="${base}">`;
  const body = html`<main>
<h1>#${tag.displayName}</h1>
<p>Public posts of <a href="${ctx.urls.profile(account.username)}">${displayName(account)}</a> with this hashtag.</p>
${views.length === 0 ? html`<p>No posts here yet.</p>` : views.map((v) => statusArticle(ctx, v, { format }))}
${pager(
  base,
  views.map((v) => v.status.id),
  page,
  list.more,
)}
</main>`;
  const rendered = await layout(title, body, head, {
    lang: ownerLanguage(ctx),
    noindex: hidesFromSearch(account),
    nav: siteNav(ctx),
  });
  c.header("Vary", "Accept-Language");
  return sendCached(ctx, c, rendered.toString(), "text/html; charset=utf-8");
}
