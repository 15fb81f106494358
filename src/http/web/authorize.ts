/**
 * The OAuth authorize page (GET and POST /oauth/authorize): a login form when the browser has no session, then
 * the consent form naming the app and the scopes. Plain HTML forms, no scripts. Every form carries a CSRF token
 * derived from a short-lived cookie; the session cookie is HttpOnly and SameSite=Lax.
 */
import { Hono, type Context as HonoContext } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../context.js";
import {
  type AuthorizationCheck,
  type AuthorizationParams,
  type AuthorizationRequest,
  checkAuthorizationRequest,
  issueCode,
  OOB_REDIRECT_URI,
  redirectUrl,
  verifyLogin,
} from "../../core/oauth.js";
import { secretMatches } from "../../core/secrets.js";
import { totpEnabled } from "../../core/totp.js";
import { findLocalUser } from "../../store/accounts.js";
import { type Params, parseBoolean, readParams } from "../mastodon/params.js";
import { clientAddress, type RateLimiter } from "../ratelimit.js";
import { layout } from "./layout.js";
import {
  checkSecondFactor,
  credentialFields,
  pendingLogins,
  secondFactorFields,
  tooManyLogins,
} from "./login.js";
import { sessionUser, startSession, csrfToken as webCsrfToken } from "./session.js";

const CSRF_COOKIE = "wren_csrf";
const CSRF_TTL_SECONDS = 3600;

/** The authorization request's own parameters, carried through the forms as hidden fields. */
const CARRIED = [
  "client_id",
  "redirect_uri",
  "response_type",
  "scope",
  "state",
  "code_challenge",
  "code_challenge_method",
  "response_mode",
] as const;

function text(params: Params, key: string): string | undefined {
  const value = params[key];
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && typeof value[0] === "string") return value.join(" ");
  return undefined;
}

function authorizationParams(params: Params): AuthorizationParams {
  return {
    clientId: text(params, "client_id"),
    redirectUri: text(params, "redirect_uri"),
    responseType: text(params, "response_type"),
    // Some apps send "scopes"; Doorkeeper reads "scope".
    scope: text(params, "scope") ?? text(params, "scopes"),
    state: text(params, "state"),
    codeChallenge: text(params, "code_challenge"),
    codeChallengeMethod: text(params, "code_challenge_method"),
    responseMode: text(params, "response_mode"),
  };
}

function carried(params: Params): [string, string][] {
  const out: [string, string][] = [];
  for (const key of CARRIED) {
    const value = key === "scope" ? (text(params, "scope") ?? text(params, "scopes")) : text(params, key);
    if (value !== undefined && value !== "") out.push([key, value]);
  }
  return out;
}

const SCOPE_TEXT: Record<string, string> = {
  read: "Read all your account's data",
  write: "Modify all your account's data",
  follow: "Follow, block and mute accounts, and see those lists",
  push: "Receive your push notifications",
  profile: "Read only your account's profile information",
  "admin:read": "Read administration data",
  "admin:write": "Perform administration actions",
};

function scopeText(scope: string): string {
  const known = SCOPE_TEXT[scope];
  if (known) return known;
  const [top, what = ""] = scope.split(":");
  return `${top === "read" ? "Read" : "Change"} your ${what.replaceAll("_", " ")}`;
}

/**
 * The policy of these pages: app.ts's, with the app's redirect target added to form-action, since Chromium also
 * checks the redirect a form submission ends with, and "*" does not match custom schemes (ivory:, tusky…).
 * Whether it reaches the browser depends on app.ts letting a handler's header stand (secureHeaders overwrite).
 */
function contentSecurityPolicy(redirectUri: string | null): string {
  let target = "";
  if (redirectUri && redirectUri !== OOB_REDIRECT_URI) {
    const scheme = redirectUri.match(/^([A-Za-z][A-Za-z0-9+.-]*):/)?.[1]?.toLowerCase();
    if (scheme === "http" || scheme === "https") {
      try {
        target = ` ${new URL(redirectUri).origin}`;
      } catch {
        target = "";
      }
    } else if (scheme) target = ` ${scheme}:`;
  }
  return [
    "default-src 'none'",
    "img-src 'self' https: data:",
    "style-src 'self' 'unsafe-inline'",
    `form-action 'self'${target}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export function authorizeRoutes(ctx: Context, logins: RateLimiter) {
  const app = new Hono();

  function page(c: HonoContext, status: ContentfulStatusCode, title: string, body: ReturnType<typeof html>) {
    c.header("Cache-Control", "no-store");
    return c.html(layout(title, body), status);
  }

  function errorPage(c: HonoContext, status: ContentfulStatusCode, message: string, retry?: string) {
    return page(
      c,
      status,
      "Authorization failed",
      html`<h1>Authorization failed</h1>
<p class="error">${message}</p>
${retry ? html`<p><a href="${retry}">Start again</a></p>` : ""}`,
    );
  }

  const csrfToken = (c: HonoContext) =>
    webCsrfToken(ctx, c, { name: CSRF_COOKIE, path: "/oauth", maxAgeSeconds: CSRF_TTL_SECONDS });

  function csrfValid(c: HonoContext, params: Params): boolean {
    const cookie = getCookie(c, CSRF_COOKIE);
    const token = text(params, "csrf_token");
    return !!cookie && !!token && secretMatches(`csrf:${cookie}`, token);
  }

  function hidden(fields: [string, string][]) {
    return fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  }

  function restartLink(params: Params): string {
    return `/oauth/authorize?${new URLSearchParams(carried(params))}`;
  }

  function loginPage(
    c: HonoContext,
    request: AuthorizationRequest,
    params: Params,
    options: { status?: ContentfulStatusCode; error?: string; username?: string } = {},
  ) {
    const token = csrfToken(c);
    c.header("Content-Security-Policy", contentSecurityPolicy(null));
    return page(
      c,
      options.status ?? 200,
      `Log in – ${ctx.config.server.title}`,
      html`<h1>Log in to ${ctx.config.server.title}</h1>
<p><strong>${request.app.name}</strong> asks to use your account. Log in first.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<form method="post" action="/oauth/authorize" id="login">
${hidden(carried(params))}
<input type="hidden" name="csrf_token" value="${token}">
<input type="hidden" name="step" value="login">
${credentialFields(options.username)}
</form>`,
    );
  }

  function secondFactorPage(
    c: HonoContext,
    request: AuthorizationRequest,
    params: Params,
    loginToken: string,
    options: { status?: ContentfulStatusCode; error?: string } = {},
  ) {
    c.header("Content-Security-Policy", contentSecurityPolicy(null));
    return page(
      c,
      options.status ?? 200,
      `Two-factor login – ${ctx.config.server.title}`,
      html`<h1>Two-factor login</h1>
<p><strong>${request.app.name}</strong> asks to use your account.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<form method="post" action="/oauth/authorize" id="second_factor">
${hidden(carried(params))}
<input type="hidden" name="csrf_token" value="${csrfToken(c)}">
<input type="hidden" name="step" value="second_factor">
${secondFactorFields(loginToken)}
</form>`,
    );
  }

  function consentPage(c: HonoContext, request: AuthorizationRequest, params: Params, userId: string) {
    const token = csrfToken(c);
    const local = findLocalUser(ctx.store.db);
    const handle = local && local.user.id === userId ? `@${local.account.username}@${ctx.urls.domain}` : "";
    c.header("Content-Security-Policy", contentSecurityPolicy(request.redirectUri));
    const { app: client } = request;
    return page(
      c,
      200,
      `Authorize ${client.name}`,
      html`<h1>Authorize ${client.name}?</h1>
<p><strong>${client.name}</strong>${client.website ? html` (<a href="${client.website}" rel="noopener noreferrer">${client.website}</a>)` : ""} asks for access to your account <strong>${handle}</strong>. It will be able to:</p>
<ul id="scopes">
${request.scopes.map((s) => html`<li><code>${s}</code>: ${scopeText(s)}</li>`)}
</ul>
${request.redirectUri === OOB_REDIRECT_URI ? html`<p>You will be shown a code to paste into the app.</p>` : ""}
<form method="post" action="/oauth/authorize" id="consent">
${hidden(carried(params))}
<input type="hidden" name="csrf_token" value="${token}">
<input type="hidden" name="step" value="consent">
<p><button type="submit" name="decision" value="authorize">Authorize</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`,
    );
  }

  /** Sends the app the code, or an error, the way its response_mode asks. */
  function respond(
    c: HonoContext,
    request: Pick<AuthorizationRequest, "redirectUri" | "responseMode" | "app">,
    values: Record<string, string | undefined>,
  ) {
    if (request.responseMode === "form_post") {
      c.header("Content-Security-Policy", contentSecurityPolicy(request.redirectUri));
      const fields = Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined);
      return page(
        c,
        200,
        `Return to ${request.app.name}`,
        html`<h1>Return to ${request.app.name}</h1>
<form method="post" action="${request.redirectUri}" id="form_post">
${hidden(fields)}
<p><button type="submit">Continue</button></p>
</form>`,
      );
    }
    c.header("Cache-Control", "no-store");
    return c.redirect(redirectUrl(request.redirectUri, values, request.responseMode), 302);
  }

  function redirectError(c: HonoContext, check: Extract<AuthorizationCheck, { kind: "redirect" }>) {
    if (check.redirectUri === OOB_REDIRECT_URI) return errorPage(c, 400, check.error.message);
    return respond(c, check, {
      error: check.error.error,
      error_description: check.error.message,
      state: check.state,
    });
  }

  async function show(c: HonoContext) {
    const params = await readParams(c);
    const check = checkAuthorizationRequest(ctx, authorizationParams(params));
    if (check.kind === "fatal") return errorPage(c, 400, check.message);
    if (check.kind === "redirect") return redirectError(c, check);
    const userId = sessionUser(ctx, c);
    const forceLogin = parseBoolean(params.force_login) === true;
    if (userId && !forceLogin) return consentPage(c, check.request, params, userId);
    return loginPage(c, check.request, params);
  }

  async function submit(c: HonoContext) {
    const params = await readParams(c);
    const check = checkAuthorizationRequest(ctx, authorizationParams(params));
    if (check.kind === "fatal") return errorPage(c, 400, check.message);
    if (!csrfValid(c, params)) {
      return errorPage(
        c,
        403,
        "This form has expired or did not come from this site. Start again.",
        restartLink(params),
      );
    }
    if (check.kind === "redirect") return redirectError(c, check);
    const { request } = check;
    const step = text(params, "step");

    if (step === "login") {
      const address = clientAddress(c);
      const username = text(params, "username") ?? "";
      const wait = logins.retryAfterMs(address);
      if (wait > 0) {
        const minutes = Math.ceil(wait / 60_000);
        c.header("Retry-After", String(Math.ceil(wait / 1000)));
        return loginPage(c, request, params, {
          status: 429,
          username,
          error: `Too many failed login attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        });
      }
      const user = await verifyLogin(ctx, username, text(params, "password") ?? "");
      if (!user) {
        logins.hit(address);
        return loginPage(c, request, params, { status: 401, username, error: "Wrong username or password." });
      }
      if (totpEnabled(ctx, user.id))
        return secondFactorPage(c, request, params, pendingLogins(ctx).issue(user.id));
      logins.reset(address);
      startSession(ctx, c, user.id);
      return consentPage(c, request, params, user.id);
    }

    if (step === "second_factor") {
      const token = text(params, "login_token") ?? "";
      const tooMany = tooManyLogins(c, logins);
      if (tooMany) return secondFactorPage(c, request, params, token, { status: 429, error: tooMany });
      const result = checkSecondFactor(ctx, c, params);
      if (result.kind === "expired")
        return loginPage(c, request, params, { status: 401, error: "This login has expired. Log in again." });
      if (result.kind === "wrong")
        return secondFactorPage(c, request, params, token, { status: 401, error: "That code is not right." });
      startSession(ctx, c, result.userId);
      return consentPage(c, request, params, result.userId);
    }

    if (step === "consent") {
      const userId = sessionUser(ctx, c);
      if (!userId) return loginPage(c, request, params, { error: "Your session has expired. Log in again." });
      const decision = text(params, "decision");
      if (decision === "deny") {
        if (request.redirectUri === OOB_REDIRECT_URI) {
          return page(
            c,
            200,
            "Access denied",
            html`<h1>Access denied</h1><p>${request.app.name} was not authorized.</p>`,
          );
        }
        return respond(c, request, {
          error: "access_denied",
          error_description: "The resource owner or authorization server denied the request.",
          state: request.state,
        });
      }
      if (decision !== "authorize")
        return errorPage(c, 400, "Choose Authorize or Deny.", restartLink(params));
      const code = issueCode(ctx, request);
      if (request.redirectUri === OOB_REDIRECT_URI) {
        return page(
          c,
          200,
          "Authorization code",
          html`<h1>Authorization code</h1>
<p>Copy this code and paste it into ${request.app.name}:</p>
<p><code id="code">${code}</code></p>
<p>It is valid for ten minutes and works once.</p>`,
        );
      }
      return respond(c, request, { code, state: request.state });
    }
    return errorPage(c, 400, "This form was not understood. Start again.", restartLink(params));
  }

  // toot's /oauth/authorize/ (trailing slash) comes here too: the app ignores trailing slashes.
  app.get("/oauth/authorize", show);
  app.post("/oauth/authorize", submit);
  return app;
}
