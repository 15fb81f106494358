/**
 * `/authorize_interaction?uri=…`: the subscribe template Wren advertises in WebFinger. Another server sends
 * the owner here to follow an account or act on a post they found there. The owner logs in (the web session
 * of the OAuth pages), the URI is resolved (WebFinger for a handle, a fetch for a URL) and the page offers
 * Follow for an account, Favourite and Boost for a post; replying happens in the owner's app, where the post
 * now is. Forms carry a CSRF token derived from a cookie, as on the OAuth pages.
 */
import { Hono, type Context as HonoContext } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { findFollow, follow } from "../../core/follows.js";
import { favourite, reblog } from "../../core/interactions.js";
import { verifyLogin } from "../../core/oauth.js";
import { secretMatches } from "../../core/secrets.js";
import { totpEnabled } from "../../core/totp.js";
import { ResolveError, resolveHandle } from "../../federation/resolve.js";
import { findAccountByUri } from "../../store/account-lookups.js";
import type { AccountRow } from "../../store/accounts.js";
import { findLocalUser } from "../../store/accounts.js";
import { findStatusById, findStatusByUri, loadStatusViews, type StatusRow } from "../../store/statuses.js";
import { resolveUrl } from "../mastodon/search.js";
import { clientAddress } from "../ratelimit.js";
import { type Html, layout, sendPage, siteNav } from "./layout.js";
import { credentialFields, loginLimiter, secondFactorLogin } from "./login.js";
import { byline, dateFormat, readerLanguage, statusArticle, statusUrl } from "./render.js";
import { sessionUser, startSession, csrfToken as webCsrfToken } from "./session.js";

export const AUTHORIZE_INTERACTION_PATH = "/authorize_interaction";
const CSRF_COOKIE = "wren_interaction_csrf";

interface Target {
  account?: AccountRow;
  status?: StatusRow;
}

export function authorizeInteractionRoutes(ctx: Context) {
  const app = new Hono();
  const logins = loginLimiter(ctx);

  function page(c: HonoContext, status: ContentfulStatusCode, title: string, body: Html) {
    return sendPage(
      c,
      layout(title, html`<main><h1>${title}</h1>${body}</main>`, "", { nav: siteNav(ctx), noindex: true }),
      status,
    );
  }

  const csrfToken = (c: HonoContext) =>
    webCsrfToken(ctx, c, { name: CSRF_COOKIE, path: AUTHORIZE_INTERACTION_PATH, maxAgeSeconds: 3600 });

  function csrfValid(c: HonoContext, token: unknown): boolean {
    const cookie = getCookie(c, CSRF_COOKIE);
    return !!cookie && typeof token === "string" && secretMatches(`csrf:${cookie}`, token);
  }

  function hidden(c: HonoContext, uri: string) {
    return html`<input type="hidden" name="uri" value="${uri}"><input type="hidden" name="csrf_token" value="${csrfToken(c)}">`;
  }

  function loginPage(c: HonoContext, uri: string, status: ContentfulStatusCode = 200, error = "") {
    return page(
      c,
      status,
      "Log in to continue",
      html`<p>Log in to follow or interact with <a href="${uri}" rel="nofollow noopener noreferrer">${uri}</a>.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
<form method="post" action="${AUTHORIZE_INTERACTION_PATH}" id="login">
${hidden(c, uri)}<input type="hidden" name="step" value="login">
${credentialFields()}
</form>`,
    );
  }

  /** What a URI names: an account or a post here, or resolved from its server. */
  async function resolveTarget(uri: string): Promise<Target> {
    const local = findLocalUser(ctx.store.db)?.account;
    if (uri.startsWith(`${ctx.urls.origin}/`)) {
      const status = findStatusByUri(ctx.store.db, uri);
      if (status && status.deletedAt === null) return { status };
      const account = findAccountByUri(ctx.store.db, uri);
      if (account) return { account };
      if (local && uri === ctx.urls.profile(local.username)) return { account: local };
      return {};
    }
    if (!/^https?:\/\//i.test(uri)) {
      try {
        return { account: await resolveHandle(ctx, uri) };
      } catch (error) {
        if (error instanceof ResolveError || error instanceof UserError) return {};
        throw error;
      }
    }
    return resolveUrl(ctx, uri);
  }

  function targetPage(c: HonoContext, uri: string, target: Target, notice = "") {
    const local = findLocalUser(ctx.store.db)?.account;
    const format = dateFormat(readerLanguage(c.req.header("accept-language")));
    const button = (step: string, label: string, id: string) =>
      html`<form method="post" action="${AUTHORIZE_INTERACTION_PATH}">${hidden(c, uri)}<input type="hidden" name="step" value="${step}"><input type="hidden" name="id" value="${id}"><button type="submit">${label}</button></form>`;
    const noticeHtml = notice ? html`<p role="status"><strong>${notice}</strong></p>` : "";
    if (target.account) {
      const account = target.account;
      const following = local ? findFollow(ctx, local.id, account.id) : null;
      const mine = account.domain === null;
      return page(
        c,
        200,
        mine ? "Your own account" : "Follow this account?",
        html`${noticeHtml}${byline(ctx, account)}
${
  mine
    ? ""
    : following
      ? html`<p>${following.state === "accepted" ? "You follow this account." : "Your follow request is waiting for approval."}</p>`
      : button("follow", "Follow", account.id)
}`,
      );
    }
    if (target.status) {
      const [view] = loadStatusViews(ctx.store.db, [target.status]);
      if (view) {
        return page(
          c,
          200,
          "Interact with this post",
          html`${noticeHtml}${statusArticle(ctx, view, { format })}
<div class="actions">${button("favourite", "Favourite", view.status.id)}${button("reblog", "Boost", view.status.id)}</div>
<p>To reply, open your app: the post is on your server now (search for <a href="${statusUrl(ctx, view)}">its address</a>).</p>`,
        );
      }
    }
    return page(
      c,
      404,
      "Not found",
      html`<p>Nothing could be found at <a href="${uri}" rel="nofollow noopener noreferrer">${uri}</a>.</p>`,
    );
  }

  app.get(AUTHORIZE_INTERACTION_PATH, async (c) => {
    const uri = (c.req.query("uri") ?? c.req.query("acct") ?? "").trim();
    if (!uri) return page(c, 400, "Nothing to interact with", html`<p>The link has no uri.</p>`);
    if (!sessionUser(ctx, c)) return loginPage(c, uri);
    return targetPage(c, uri, await resolveTarget(uri));
  });

  app.post(AUTHORIZE_INTERACTION_PATH, async (c) => {
    const form = await c.req.parseBody();
    const uri = typeof form.uri === "string" ? form.uri.trim() : "";
    if (!uri || !csrfValid(c, form.csrf_token)) {
      return page(c, 403, "This form has expired", html`<p>Open the link again.</p>`);
    }
    if (form.step === "login") {
      const address = clientAddress(c);
      const wait = logins.retryAfterMs(address);
      if (wait > 0) {
        c.header("Retry-After", String(Math.ceil(wait / 1000)));
        return loginPage(c, uri, 429, "Too many failed login attempts. Try again later.");
      }
      const username = typeof form.username === "string" ? form.username : "";
      const password = typeof form.password === "string" ? form.password : "";
      const user = await verifyLogin(ctx, username, password);
      if (!user) {
        logins.hit(address);
        return loginPage(c, uri, 401, "Wrong username or password.");
      }
      if (totpEnabled(ctx, user.id))
        return secondFactorLogin(
          ctx,
          c,
          user.id,
          `${AUTHORIZE_INTERACTION_PATH}?uri=${encodeURIComponent(uri)}`,
        );
      logins.reset(address);
      startSession(ctx, c, user.id);
      return targetPage(c, uri, await resolveTarget(uri));
    }
    if (!sessionUser(ctx, c)) return loginPage(c, uri);
    const id = typeof form.id === "string" ? form.id : "";
    try {
      if (form.step === "follow") {
        const account = findLocalUser(ctx.store.db) && (await resolveTarget(uri)).account;
        if (!account || account.id !== id) throw new UserError("no such account", 404);
        follow(ctx, account);
        return targetPage(c, uri, { account }, "Follow requested.");
      }
      if (form.step === "favourite" || form.step === "reblog") {
        const status = findStatusById(ctx.store.db, id);
        if (!status) throw new UserError("no such post", 404);
        if (form.step === "favourite") favourite(ctx, status.id);
        else reblog(ctx, status.id);
        return targetPage(c, uri, { status }, form.step === "favourite" ? "Favourited." : "Boosted.");
      }
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      return page(
        c,
        error.status as ContentfulStatusCode,
        "That did not work",
        html`<p class="error">${error.message}</p>`,
      );
    }
    return page(c, 400, "This form was not understood", html`<p>Open the link again.</p>`);
  });
  return app;
}
