/**
 * The owner's settings page, /settings: one section per module, each with its own forms posting to
 * /settings/<section>/<action>. Only for the logged-in owner (the browser session the OAuth login also
 * starts; /login otherwise); every form carries a CSRF token; nothing here is cached.
 *
 * A new section is one module exporting a SettingsSection, and one line in SECTIONS.
 */
import { Hono, type Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../../context.js";
import { findLocalUser } from "../../../store/accounts.js";
import { readParams } from "../../mastodon/params.js";
import { layout, sendPage } from "../layout.js";
import { csrfValid, loginRoutes, logout } from "../login.js";
import { csrfToken, sessionUser } from "../session.js";
import { appsSection } from "./apps.js";
import { backupSection } from "./backup.js";
import { movingSection } from "./moving.js";
import { passwordSection } from "./password.js";
import { portabilitySection } from "./portability.js";
import { relaysSection } from "./relays.js";
import type { Message, SettingsSection } from "./section.js";
import { twoFactorSection } from "./two-factor.js";

const SECTIONS: SettingsSection[] = [
  passwordSection,
  twoFactorSection,
  appsSection,
  backupSection,
  portabilitySection,
  movingSection,
  relaysSection,
];

const CSRF_COOKIE = "wren_settings_csrf";

export function settingsRoutes(ctx: Context) {
  const app = new Hono();
  app.route("/", loginRoutes(ctx));

  const csrf = (c: HonoContext) =>
    csrfToken(ctx, c, { name: CSRF_COOKIE, path: "/settings", maxAgeSeconds: 3600 });

  function render(
    c: HonoContext,
    userId: string,
    focus: { section?: string; message?: Message; data?: unknown } = {},
    status: ContentfulStatusCode = 200,
  ) {
    const token = csrf(c);
    const handle = findLocalUser(ctx.store.db)?.account.username ?? "";
    const body = html`<h1>Settings</h1>
<p>Logged in as <strong>@${handle}@${ctx.urls.domain}</strong>.</p>
<form method="post" action="/settings/logout" id="logout">
<input type="hidden" name="csrf_token" value="${token}">
<button type="submit">Log out</button>
</form>
<nav aria-label="Settings"><ul>${SECTIONS.map((s) => html`<li><a href="#${s.id}">${s.title}</a></li>`)}</ul></nav>
${SECTIONS.map((section) => {
  const mine = section.id === focus.section;
  const view = {
    ctx,
    userId,
    csrf: token,
    message: mine ? focus.message : undefined,
    data: mine ? focus.data : undefined,
  };
  return html`<section id="${section.id}">
<h2>${section.title}</h2>
${section.render(view)}
</section>`;
})}`;
    return sendPage(c, layout(`Settings – ${ctx.config.server.title}`, body, "", { noindex: true }), status);
  }

  /** The owner's user id, or null when this browser has no session (or it belongs to nobody here any more). */
  function owner(c: HonoContext): string | null {
    const userId = sessionUser(ctx, c);
    const local = findLocalUser(ctx.store.db);
    return userId && local && local.user.id === userId ? userId : null;
  }

  const toLogin = (c: HonoContext) => {
    c.header("Cache-Control", "no-store");
    return c.redirect(`/login?next=${encodeURIComponent("/settings")}`, 303);
  };

  const refused = (c: HonoContext) =>
    sendPage(
      c,
      layout(
        "Form refused",
        html`<h1>Form refused</h1>
<p class="error">This form has expired or did not come from this site.</p>
<p><a href="/settings">Back to the settings</a></p>`,
      ),
      403,
    );

  app.get("/settings", (c) => {
    const userId = owner(c);
    return userId ? render(c, userId) : toLogin(c);
  });

  app.post("/settings/logout", async (c) => {
    const params = await readParams(c);
    if (!csrfValid(c, CSRF_COOKIE, params.csrf_token)) return refused(c);
    return logout(ctx, c);
  });

  app.post("/settings/:section/:action", async (c) => {
    const userId = owner(c);
    if (!userId) return toLogin(c);
    const params = await readParams(c);
    if (!csrfValid(c, CSRF_COOKIE, params.csrf_token)) return refused(c);
    const section = SECTIONS.find((s) => s.id === c.req.param("section"));
    const action = section
      ? Object.hasOwn(section.actions, c.req.param("action")) && section.actions[c.req.param("action")]
      : undefined;
    if (!section || !action) return c.notFound();
    return action({
      ctx,
      c,
      userId,
      params,
      show: ({ message, data, status }) => render(c, userId, { section: section.id, message, data }, status),
    });
  });

  return app;
}
