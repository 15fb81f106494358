/**
 * The public web pages: the owner's profile (with its replies and media tabs), post pages, tag pages, their
 * RSS and Atom feeds, the home page, and remote interaction. Every list shows what an anonymous visitor may
 * see (core/visibility.ts: public posts; unlisted ones only on their own page).
 */
import { Hono } from "hono";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../context.js";
import { type AccountRow, findLocalAccountByUsername, findLocalUser } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import { findStatusById, loadStatusViews } from "../../store/statuses.js";
import { findTagByName } from "../../store/tags.js";
import { HttpError } from "../errors.js";
import { authorizeInteractionRoutes } from "./authorize-interaction.js";
import { trackChanges } from "./caching.js";
import { type FeedFormat, sendFeed } from "./feeds.js";
import { layout, sendPage, siteNav } from "./layout.js";
import { renderProfilePage } from "./profile.js";
import { remoteFollowRoutes } from "./remote-follow.js";
import { renderStatusPage } from "./status.js";
import { stylesheetRoutes } from "./stylesheet.js";
import { renderTagPage } from "./tags.js";

export { renderProfilePage } from "./profile.js";
export { renderStatusPage } from "./status.js";

function splitFeed(name: string): { name: string; format: FeedFormat } {
  const dot = name.lastIndexOf(".");
  return { name: name.slice(0, dot), format: name.slice(dot + 1) === "atom" ? "atom" : "rss" };
}

export function webRoutes(ctx: Context) {
  const app = new Hono();
  trackChanges(ctx);
  const showPosts = ctx.config.web.show_posts;

  const owner = (handle: string | undefined): AccountRow => {
    const account = findLocalAccountByUsername(ctx.store.db, (handle ?? "").replace(/^@/, ""));
    if (!account) throw new HttpError(404, "no such account");
    return account;
  };
  const postsShown = () => {
    if (!showPosts) throw new HttpError(404, "the owner shows no posts to visitors");
  };

  app.route("/", stylesheetRoutes());
  app.route("/", remoteFollowRoutes(ctx));
  app.route("/", authorizeInteractionRoutes(ctx));

  // Hono reads a parameter only at the start of a segment ("/@:username" would be a literal path); the feeds
  // come first, since "@name.rss" also fits the profile's pattern.
  app.get("/:feed{@[^/]+\\.(?:rss|atom)}", (c) => {
    postsShown();
    const { name, format } = splitFeed(c.req.param("feed"));
    return sendFeed(ctx, c, owner(name), format, null);
  });
  app.get("/:handle{@[^/]+}", (c) => renderProfilePage(ctx, c, owner(c.req.param("handle"))));
  app.get("/:handle{@[^/]+}/with_replies", (c) =>
    renderProfilePage(ctx, c, owner(c.req.param("handle")), "with_replies"),
  );
  app.get("/:handle{@[^/]+}/media", (c) => renderProfilePage(ctx, c, owner(c.req.param("handle")), "media"));
  app.get("/:handle{@[^/]+}/:id{[0-9]+}", (c) => {
    const account = owner(c.req.param("handle"));
    const id = c.req.param("id");
    const row = isId(id) ? findStatusById(ctx.store.db, id) : null;
    if (!row || row.accountId !== account.id) throw new HttpError(404, "no such status");
    const [view] = loadStatusViews(ctx.store.db, [row]);
    if (!view) throw new HttpError(404, "no such status");
    return renderStatusPage(ctx, c, view);
  });

  const tagged = (name: string) => {
    postsShown();
    const local = findLocalUser(ctx.store.db)?.account;
    const tag = findTagByName(ctx.store.db, name);
    if (!local || !tag) throw new HttpError(404, "no such hashtag here");
    return { local, tag };
  };
  app.get("/tags/:feed{[^/]+\\.(?:rss|atom)}", (c) => {
    const { name, format } = splitFeed(c.req.param("feed"));
    const { local, tag } = tagged(name);
    return sendFeed(ctx, c, local, format, tag);
  });
  app.get("/tags/:name", (c) => {
    const { local, tag } = tagged(c.req.param("name"));
    return renderTagPage(ctx, c, local, tag);
  });

  app.get("/", (c) => {
    const local = findLocalUser(ctx.store.db)?.account;
    const body = html`<main><h1>${ctx.config.server.title}</h1>
<p>${ctx.config.server.description}</p>
${
  local
    ? html`<p>This is the home of <a href="${ctx.urls.profile(local.username)}">@${local.username}@${ctx.urls.domain}</a>.</p>`
    : html`<p>No account yet. Create it on the server with <code>npx wren account create --username NAME</code>.</p>`
}</main>`;
    return sendPage(c, layout(ctx.config.server.title, body, "", { nav: siteNav(ctx) }));
  });

  app.get("/about", (c) => c.redirect("/", 302));

  // Visitors get an HTML page for a missing (or hidden) page; other clients the error app.ts gives everywhere.
  app.onError((error, c) => {
    if (!(error instanceof HttpError) || !(c.req.header("accept") ?? "").includes("text/html")) throw error;
    const title = error.status === 404 ? "Not found" : "Something went wrong";
    return sendPage(
      c,
      layout(title, html`<main><h1>${title}</h1><p>${error.message}.</p></main>`, "", {
        nav: siteNav(ctx),
        noindex: true,
      }),
      error.status as ContentfulStatusCode,
    );
  });
  return app;
}
