import { Hono, type Context as HonoContext } from "hono";
import { html, raw } from "hono/html";
import type { Context } from "../../context.js";
import { type AccountRow, findLocalAccountByUsername, findLocalUser } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import { findStatusById, loadStatusViews, type StatusView } from "../../store/statuses.js";
import { HttpError } from "../errors.js";
import { layout } from "./layout.js";

/** The HTML profile a browser gets at the actor URL or at /@username. It links the ActivityPub document. */
export function renderProfilePage(ctx: Context, c: HonoContext, account: AccountRow) {
  const { urls } = ctx;
  const handle = `@${account.username}@${urls.domain}`;
  const actor = urls.actor(account.username);
  const head = html`<link rel="alternate" type="application/activity+json" href="${actor}">
<meta property="og:title" content="${account.displayName || account.username} (${handle})">`;
  const body = html`<header>
${account.headerUrl ? html`<img src="${account.headerUrl}" alt="">` : ""}
${account.avatarUrl ? html`<img class="avatar" src="${account.avatarUrl}" alt="">` : ""}
<h1>${account.displayName || account.username}</h1>
<p class="handle">${handle}</p>
</header>
<main>
${/* The note is HTML we produced or sanitised on the way in. */ raw(account.note)}
${
  account.fields.length > 0
    ? html`<dl>${account.fields.map((f) => html`<dt>${f.name}</dt><dd>${raw(f.value)}</dd>`)}</dl>`
    : ""
}
<p>Follow ${handle} from any fediverse server: search for the handle in your app.</p>
</main>`;
  c.header("Vary", "Accept");
  return c.html(layout(`${account.displayName || account.username} (${handle})`, body, head));
}

/** A status page for browsers; the Note itself is linked for servers and scripts. */
export function renderStatusPage(ctx: Context, c: HonoContext, view: StatusView) {
  const shown = view.reblog ?? view;
  const author = shown.account;
  const handle = `@${author.username}@${author.domain ?? ctx.urls.domain}`;
  const head = html`<link rel="alternate" type="application/activity+json" href="${shown.status.uri}">`;
  const body = html`<article>
<p><a href="${author.url ?? author.uri}">${author.displayName || author.username}</a> <span class="handle">${handle}</span></p>
${shown.status.spoilerText ? html`<p><strong>${shown.status.spoilerText}</strong></p>` : ""}
${/* Content is HTML we produced or sanitised on the way in. */ raw(shown.status.content)}
<p><time datetime="${new Date(shown.status.createdAt).toISOString()}">${new Date(shown.status.createdAt).toUTCString()}</time></p>
</article>`;
  c.header("Vary", "Accept");
  return c.html(layout(`${author.displayName || author.username}: ${handle}`, body, head));
}

export function webRoutes(ctx: Context) {
  const app = new Hono();

  // Hono reads a parameter only at the start of a segment ("/@:username" would be a literal path).
  app.get("/:handle{@[^/]+}", (c) => {
    const account = findLocalAccountByUsername(ctx.store.db, c.req.param("handle").slice(1));
    if (!account) throw new HttpError(404, "no such account");
    return renderProfilePage(ctx, c, account);
  });

  app.get("/:handle{@[^/]+}/:id", (c) => {
    const account = findLocalAccountByUsername(ctx.store.db, (c.req.param("handle") ?? "").slice(1));
    const id = c.req.param("id") ?? "";
    const row = account && isId(id) ? findStatusById(ctx.store.db, id) : null;
    // Only public and unlisted statuses have a page: a browser carries no signature to prove who it is.
    if (
      !account ||
      !row ||
      row.accountId !== account.id ||
      row.deletedAt !== null ||
      (row.visibility !== "public" && row.visibility !== "unlisted")
    ) {
      throw new HttpError(404, "no such status");
    }
    const [view] = loadStatusViews(ctx.store.db, [row]);
    if (!view) throw new HttpError(404, "no such status");
    return renderStatusPage(ctx, c, view);
  });

  app.get("/", (c) => {
    const local = findLocalUser(ctx.store.db)?.account;
    const body = html`<h1>${ctx.config.server.title}</h1>
<p>${ctx.config.server.description}</p>
${
  local
    ? html`<p>This is the home of <a href="${ctx.urls.profile(local.username)}">@${local.username}@${ctx.urls.domain}</a>.</p>`
    : html`<p>No account yet. Create it on the server with <code>npx wren account create --username NAME</code>.</p>`
}`;
    return c.html(layout(ctx.config.server.title, body));
  });

  app.get("/about", (c) => c.redirect("/", 302));
  return app;
}
