/**
 * RSS 2.0 and Atom feeds of the owner's public posts, all of them or those with one hashtag, built with the
 * `feed` library. Each item carries the full HTML (content warning, text, media) and its first attachment
 * as the enclosure (RSS allows one per item).
 */

import type { Item } from "feed";
import type { Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { escapeHtml } from "../../core/text.js";
import type { AccountRow } from "../../store/accounts.js";
import { webStatuses } from "../../store/public-pages.js";
import { loadStatusViews, type StatusView } from "../../store/statuses.js";
import { sendCached } from "./caching.js";
import {
  avatarSrc,
  displayName,
  handleOf,
  localMediaUrl,
  ownerLanguage,
  statusUrl,
  summaryOf,
} from "./render.js";

export type FeedFormat = "rss" | "atom";
const FEED_SIZE = 20;

function itemHtml(ctx: Context, view: StatusView): string {
  const { status } = view;
  let out = "";
  if (status.spoilerText) out += `<p><strong>${escapeHtml(status.spoilerText)}</strong></p>`;
  out += status.content;
  for (const media of view.media) {
    const url = localMediaUrl(ctx, media) ?? media.remoteUrl;
    if (!url) continue;
    const alt = escapeHtml(media.description ?? "");
    out +=
      media.type === "image"
        ? `<p><img src="${escapeHtml(url)}" alt="${alt}"></p>`
        : `<p><a href="${escapeHtml(url)}">${alt || media.type}</a></p>`;
  }
  return cdataSafe(out);
}

/** The library writes titles and content as CDATA sections, which "]]>" would end. */
function cdataSafe(text: string): string {
  return text.replaceAll("]]>", "]]&gt;");
}

function item(ctx: Context, view: StatusView, format: FeedFormat): Item {
  const shown = view.reblog ?? view;
  const { status } = shown;
  const summary = summaryOf(shown);
  const title = view.reblog
    ? `Boosted ${handleOf(ctx, shown.account)}: ${summary}`
    : summary || `Post of ${new Date(status.createdAt).toISOString().slice(0, 10)}`;
  const first = shown.media[0];
  const firstUrl = first ? (localMediaUrl(ctx, first) ?? first.remoteUrl) : null;
  return {
    // Atom's title is written as type="html"; RSS's is text.
    title: cdataSafe(format === "atom" ? escapeHtml(title) : title),
    id: view.status.uri,
    guid: view.status.uri,
    link: statusUrl(ctx, shown),
    date: new Date(view.status.editedAt ?? view.status.createdAt),
    published: new Date(view.status.createdAt),
    content: itemHtml(ctx, shown),
    // RSS wants an e-mail address as author, which there is none of; Atom names the author of a boosted post.
    ...(format === "atom"
      ? { author: [{ name: displayName(shown.account), link: shown.account.url ?? shown.account.uri }] }
      : {}),
    category: shown.tags.map((t) => ({ name: t.displayName, term: t.name })),
    ...(first && firstUrl
      ? {
          enclosure: {
            url: firstUrl,
            type: first.contentType ?? undefined,
            length: first.fileSize ?? 0,
            // RSS 2.0's enclosure has url, length and type only.
            title: format === "atom" ? (first.description ?? undefined) : undefined,
          },
        }
      : {}),
  };
}

/** The feed of the owner's public posts (boosts too), or of those with `tag`. */
export async function sendFeed(
  ctx: Context,
  c: HonoContext,
  account: AccountRow,
  format: FeedFormat,
  tag: { name: string; displayName: string } | null,
): Promise<Response> {
  // Loaded on the first feed request: a server nobody reads by feed never loads the library and its XML writer.
  const { Feed } = await import("feed");
  const page = { maxId: null, minId: null, sinceId: null, limit: FEED_SIZE };
  const { rows } = webStatuses(
    ctx.store.db,
    account.id,
    { withReplies: false, onlyMedia: false, tag: tag?.name ?? null },
    page,
  );
  const views = loadStatusViews(ctx.store.db, rows);
  const base = tag
    ? `${ctx.urls.origin}/tags/${encodeURIComponent(tag.name)}`
    : ctx.urls.profile(account.username);
  const title = tag
    ? `#${tag.displayName} – ${displayName(account)} (${handleOf(ctx, account)})`
    : `${displayName(account)} (${handleOf(ctx, account)})`;
  const newest = views.reduce((max, v) => Math.max(max, v.status.editedAt ?? v.status.createdAt), 0);
  const feed = new Feed({
    id: base,
    title,
    description: tag
      ? `Public posts of ${handleOf(ctx, account)} with #${tag.displayName}`
      : `Public posts of ${handleOf(ctx, account)}`,
    link: base,
    language: ownerLanguage(ctx),
    image: avatarSrc(ctx, account),
    favicon: `${ctx.urls.origin}/favicon.ico`,
    updated: new Date(newest || account.updatedAt),
    generator: `Wren ${ctx.version}`,
    feedLinks: { rss: `${base}.rss`, atom: `${base}.atom` },
    author: { name: displayName(account), link: ctx.urls.profile(account.username) },
    copyright: `${displayName(account)}`,
  });
  for (const view of views) feed.addItem(item(ctx, view, format));
  return format === "rss"
    ? sendCached(ctx, c, feed.rss2(), "application/rss+xml; charset=utf-8")
    : sendCached(ctx, c, feed.atom1(), "application/atom+xml; charset=utf-8");
}
