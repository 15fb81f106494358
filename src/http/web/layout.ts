import type { Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../context.js";
import { STYLESHEET_PATH } from "./stylesheet.js";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The policy of the public pages: app.ts's, narrowed (images and media only from this server, the one
 * stylesheet, no inline styles) and with media-src for the video and audio players. A form may end at
 * another server: remote follow redirects the visitor to their own.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "img-src 'self' data:",
  "media-src 'self'",
  "style-src 'self'",
  "form-action 'self' *",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export interface LayoutOptions {
  /** The page's language (BCP 47); "en" when unknown. */
  lang?: string;
  /** Ask search engines not to index the page (the owner turned off discoverable or indexable). */
  noindex?: boolean;
  /** Site navigation above the page (the public pages have it; the OAuth pages do not). */
  nav?: Html | string;
}

/** The one page frame: server-rendered, no scripts, one stylesheet, readable without it. */
export function layout(title: string, body: Html, head: Html | string = "", options: LayoutOptions = {}) {
  return html`<!doctype html>
<html lang="${options.lang ?? "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
${options.noindex ? html`<meta name="robots" content="noindex, noarchive">` : ""}
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="${STYLESHEET_PATH}">
${head}
</head>
<body>
${options.nav ?? ""}
${body}
</body>
</html>`;
}

/** Sends a page that is not cached (forms, errors) under the pages' policy. */
export function sendPage(c: HonoContext, page: Html, status: ContentfulStatusCode = 200) {
  c.header("Content-Security-Policy", PAGE_CSP);
  c.header("Cache-Control", "no-store");
  return c.html(page, status);
}

/** The site bar of every public page. */
export function siteNav(ctx: Context) {
  return html`<nav class="site" aria-label="Site"><a href="/">${ctx.config.server.title}</a></nav>`;
}
