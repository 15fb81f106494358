/** The page of one of the owner's posts: the post, its media and poll, and the public thread around it. */
import type { Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { Context } from "../../context.js";
import { shownOnItsOwnPage } from "../../core/visibility.js";
import { webThread } from "../../store/public-pages.js";
import { loadStatusViews, type StatusView } from "../../store/statuses.js";
import { HttpError } from "../errors.js";
import { sendCached } from "./caching.js";
import { layout, siteNav } from "./layout.js";
import { hidesFromSearch } from "./profile.js";
import { interactLinks } from "./remote-follow.js";
import {
  avatarSrc,
  dateFormat,
  displayName,
  handleOf,
  localMediaUrl,
  readerLanguage,
  statusArticle,
  statusUrl,
  summaryOf,
} from "./render.js";

function statusHead(ctx: Context, view: StatusView) {
  const { status, account } = view;
  const title = `${displayName(account)} (${handleOf(ctx, account)})`;
  const description = summaryOf(view);
  const image = status.sensitive
    ? null
    : view.media
        .filter((m) => m.type === "image")
        .map((m) => ({ url: localMediaUrl(ctx, m), alt: m.description ?? "" }))
        .find((m) => m.url !== null);
  const url = statusUrl(ctx, view);
  return html`<link rel="alternate" type="application/activity+json" href="${status.uri}">
<link rel="canonical" href="${url}">
<meta name="description" content="${description}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="${ctx.config.server.title}">
<meta property="og:title" content="${title}">
<meta property="og:description" content="${description}">
<meta property="og:url" content="${url}">
<meta property="og:image" content="${image?.url ?? avatarSrc(ctx, account)}">
${image ? html`<meta property="og:image:alt" content="${image.alt}">` : ""}
<meta property="article:published_time" content="${new Date(status.createdAt).toISOString()}">
<meta name="twitter:card" content="${image ? "summary_large_image" : "summary"}">
<meta name="twitter:title" content="${title}">
<meta name="twitter:description" content="${description}">`;
}

/**
 * The status page for browsers (at /@name/:id and at the status's ActivityPub URL). Only public and unlisted
 * posts have one; a boost's page is the boosted post's.
 */
export async function renderStatusPage(ctx: Context, c: HonoContext, view: StatusView): Promise<Response> {
  if (!ctx.config.web.show_posts) throw new HttpError(404, "no such status");
  if (view.reblog) {
    if (view.reblog.status.deletedAt !== null || view.reblog.status.visibility !== "public")
      throw new HttpError(404, "no such status");
    return c.redirect(statusUrl(ctx, view.reblog), 302);
  }
  if (!shownOnItsOwnPage(view.status)) throw new HttpError(404, "no such status");
  const { status, account } = view;
  const format = dateFormat(readerLanguage(c.req.header("accept-language")));
  const thread = webThread(ctx.store.db, account.id, status);
  const ancestors = loadStatusViews(ctx.store.db, thread.ancestors);
  const descendants = loadStatusViews(ctx.store.db, thread.descendants);
  const body = html`<main>
<h1 class="visually-hidden">Post by ${displayName(account)}</h1>
${ancestors.length > 0 ? html`<section aria-label="Earlier in the thread">${ancestors.map((v) => statusArticle(ctx, v, { format }))}</section>` : ""}
${statusArticle(ctx, view, { format, focus: true })}
${interactLinks(status.uri)}
${
  descendants.length > 0
    ? html`<section aria-labelledby="replies"><h2 id="replies">Replies</h2>${descendants.map((v) => statusArticle(ctx, v, { format }))}</section>`
    : ""
}
</main>`;
  const page = await layout(
    `${displayName(account)}: ${summaryOf(view) || "a post"}`,
    body,
    statusHead(ctx, view),
    {
      lang: status.language ?? "en",
      noindex: hidesFromSearch(account) || status.visibility !== "public",
      nav: siteNav(ctx),
    },
  );
  c.header("Vary", "Accept, Accept-Language");
  return sendCached(ctx, c, page.toString(), "text/html; charset=utf-8");
}
