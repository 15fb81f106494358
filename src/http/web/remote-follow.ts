/**
 * Remote follow and interaction for visitors: the "Follow" form of the profile and the Reply, Boost and
 * Favourite links of a status ask for the visitor's own handle, find their server's subscribe template by
 * WebFinger (through the guarded client) and send them there with the URI of the account or post.
 */
import { Hono, type Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { Context } from "../../context.js";
import { ResolveError } from "../../federation/resolve.js";
import { fillTemplate, subscribeTemplate } from "../../federation/subscribe.js";
import { clientAddress, RateLimiter } from "../ratelimit.js";
import { layout, sendPage, siteNav } from "./layout.js";

export const INTERACT_PATH = "/interact";

const ACTIONS = {
  follow: "Follow",
  reply: "Reply",
  reblog: "Boost",
  favourite: "Favourite",
} as const;
export type InteractAction = keyof typeof ACTIONS;

/** The form that asks a visitor for their handle. */
export function interactForm(
  uri: string,
  action: InteractAction,
  heading: string,
  options: { acct?: string; error?: string } = {},
) {
  const id = `interact-${action}`;
  return html`<form class="interact" method="post" action="${INTERACT_PATH}" id="${action === "follow" ? "remote-follow" : id}">
<input type="hidden" name="uri" value="${uri}">
<input type="hidden" name="action" value="${action}">
<label for="${id}-acct">${heading}: enter your handle on your own server</label>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<input id="${id}-acct" name="acct" type="text" inputmode="email" autocomplete="username" autocapitalize="none" spellcheck="false" placeholder="you@your.server" required value="${options.acct ?? ""}">
<button type="submit">${ACTIONS[action]}</button>
</form>`;
}

/** Links to the interaction form for a status (the page of a status shows them). */
export function interactLinks(uri: string) {
  const link = (action: InteractAction) =>
    html`<li><a href="${INTERACT_PATH}?${new URLSearchParams({ uri, action })}">${ACTIONS[action]}</a></li>`;
  return html`<ul class="actions" aria-label="Interact from your server">${link("reply")}${link("reblog")}${link("favourite")}</ul>`;
}

function isAction(value: unknown): value is InteractAction {
  return typeof value === "string" && Object.hasOwn(ACTIONS, value);
}

/** Lookups of visitors' servers allowed per client address and window: each makes Wren fetch from a host. */
const LOOKUPS = 20;
const LOOKUP_WINDOW_MS = 5 * 60_000;

export function remoteFollowRoutes(ctx: Context) {
  const app = new Hono();
  const lookups = new RateLimiter({ limit: LOOKUPS, windowMs: LOOKUP_WINDOW_MS });
  // Only this server's accounts and posts are offered to others' servers.
  const ours = (uri: unknown): uri is string =>
    typeof uri === "string" && uri.startsWith(`${ctx.urls.origin}/`);

  const page = (uri: string, action: InteractAction, acct = "", error = "") =>
    layout(
      `${ACTIONS[action]} from your server`,
      html`<main><h1>${ACTIONS[action]} from your server</h1>
<p>You are about to ${ACTIONS[action].toLowerCase()} <a href="${uri}">${uri}</a>. Your server will show it to you; you act on it there.</p>
${interactForm(uri, action, ACTIONS[action], { acct, error })}</main>`,
      "",
      { nav: siteNav(ctx), noindex: true },
    );

  const nothing = (c: HonoContext) =>
    sendPage(
      c,
      layout(
        "Nothing to interact with",
        html`<main><h1>Nothing to interact with</h1><p>This link names nothing on this server.</p></main>`,
        "",
        { nav: siteNav(ctx), noindex: true },
      ),
      400,
    );

  app.get(INTERACT_PATH, (c) => {
    const uri = c.req.query("uri");
    const action = c.req.query("action") ?? "follow";
    if (!ours(uri) || !isAction(action)) return nothing(c);
    return sendPage(c, page(uri, action));
  });

  app.post(INTERACT_PATH, async (c) => {
    const form = await c.req.parseBody();
    const { uri, action } = form;
    const acct = typeof form.acct === "string" ? form.acct.trim() : "";
    if (!ours(uri) || !isAction(action)) return nothing(c);
    const address = clientAddress(c);
    const wait = lookups.retryAfterMs(address);
    if (wait > 0) {
      c.header("Retry-After", String(Math.ceil(wait / 1000)));
      return sendPage(c, page(uri, action, acct, "Too many attempts. Try again in a few minutes."), 429);
    }
    lookups.hit(address);
    try {
      const template = await subscribeTemplate(ctx, acct);
      c.header("Cache-Control", "no-store");
      return c.redirect(fillTemplate(template, uri), 303);
    } catch (error) {
      if (!(error instanceof ResolveError)) throw error;
      const message =
        error.code === "invalid"
          ? "Enter your handle as you@your.server."
          : `Your server could not be asked (${error.message}). Search for ${uri} in your app instead.`;
      return sendPage(c, page(uri, action, acct, message), 422);
    }
  });
  return app;
}
