/**
 * The owner's login to the web pages (/login, /logout) and what it shares with the OAuth authorize page: the
 * failed-login limiter, the CSRF check of the forms, and the second step that asks for the TOTP code (or a
 * recovery code) once the password was right.
 */
import { Hono, type Context as HonoContext } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../context.js";
import { deleteSession, verifyLogin } from "../../core/oauth.js";
import { hashSecret, newSecret, secretMatches } from "../../core/secrets.js";
import { totpEnabled, verifySecondFactor } from "../../core/totp.js";
import { type Params, readParams } from "../mastodon/params.js";
import { clientAddress, RateLimiter } from "../ratelimit.js";
import { type Html, layout, sendPage } from "./layout.js";
import { csrfToken, SESSION_COOKIE, sessionUser, startSession } from "./session.js";

/** Failed logins (password or code) allowed per client address and window, on every login form together. */
const LOGIN_ATTEMPTS = 5;
const LOGIN_WINDOW_MS = 5 * 60_000;
const limiters = new WeakMap<Context, RateLimiter>();

/** The one failed-login limiter of a running server: /login, /oauth/authorize and the password grant share it. */
export function loginLimiter(ctx: Context): RateLimiter {
  let limiter = limiters.get(ctx);
  if (!limiter) {
    limiter = new RateLimiter({ limit: LOGIN_ATTEMPTS, windowMs: LOGIN_WINDOW_MS });
    limiters.set(ctx, limiter);
  }
  return limiter;
}

/** The error to show when this client failed too often (and its Retry-After header set), or null. */
export function tooManyLogins(c: HonoContext, logins: RateLimiter): string | null {
  const wait = logins.retryAfterMs(clientAddress(c));
  if (wait <= 0) return null;
  const minutes = Math.ceil(wait / 60_000);
  c.header("Retry-After", String(Math.ceil(wait / 1000)));
  return `Too many failed login attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

/** Whether the form's csrf_token belongs to the CSRF cookie `cookieName` (see csrfToken in session.ts). */
export function csrfValid(c: HonoContext, cookieName: string, token: unknown): boolean {
  const cookie = getCookie(c, cookieName);
  return !!cookie && typeof token === "string" && token !== "" && secretMatches(`csrf:${cookie}`, token);
}

const PENDING_TTL_MS = 5 * 60_000;
const PENDING_MAX = 100;

/**
 * Logins whose password was right and which wait for the second factor, in memory (one process; a restart
 * only means typing the password again). The form carries a random token; only its hash is kept.
 */
export class PendingLogins {
  private readonly pending = new Map<string, { userId: string; expiresAt: number }>();

  issue(userId: string, now = Date.now()): string {
    const token = newSecret();
    for (const [key, entry] of this.pending) if (entry.expiresAt <= now) this.pending.delete(key);
    while (this.pending.size >= PENDING_MAX) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
    this.pending.set(hashSecret(token), { userId, expiresAt: now + PENDING_TTL_MS });
    return token;
  }

  /** The user whose password was checked for this token, while it is valid. */
  userOf(token: unknown, now = Date.now()): string | null {
    if (typeof token !== "string" || token === "") return null;
    const entry = this.pending.get(hashSecret(token));
    return entry && entry.expiresAt > now ? entry.userId : null;
  }

  forget(token: string): void {
    this.pending.delete(hashSecret(token));
  }
}

const pendingByContext = new WeakMap<Context, PendingLogins>();

export function pendingLogins(ctx: Context): PendingLogins {
  let pending = pendingByContext.get(ctx);
  if (!pending) {
    pending = new PendingLogins();
    pendingByContext.set(ctx, pending);
  }
  return pending;
}

export type SecondFactorResult = { kind: "ok"; userId: string } | { kind: "expired" } | { kind: "wrong" };

/**
 * Checks the code of a second-factor form (its login_token and code fields) and counts a wrong code as a
 * failed login. On success the pending login is spent; the caller starts the session.
 */
export function checkSecondFactor(ctx: Context, c: HonoContext, params: Params): SecondFactorResult {
  const pending = pendingLogins(ctx);
  const token = params.login_token;
  const userId = pending.userOf(token);
  if (!userId || typeof token !== "string") return { kind: "expired" };
  const code = typeof params.code === "string" ? params.code : "";
  const logins = loginLimiter(ctx);
  if (!verifySecondFactor(ctx, userId, code)) {
    logins.hit(clientAddress(c));
    return { kind: "wrong" };
  }
  pending.forget(token);
  logins.reset(clientAddress(c));
  return { kind: "ok", userId };
}

/** The username and password fields and the button of every login form (/login, OAuth, remote interaction). */
export function credentialFields(username = ""): Html {
  return html`<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${username}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Log in</button></p>`;
}

/** The fields of the second-factor step; the caller wraps them in its form (action, CSRF, carried fields). */
export function secondFactorFields(loginToken: string): Html {
  return html`<input type="hidden" name="login_token" value="${loginToken}">
<label for="code">Code from your authenticator app, or a recovery code</label>
<input id="code" name="code" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" required autofocus>
<p><button type="submit">Verify</button></p>`;
}

const CSRF_COOKIE = "wren_login_csrf";
const loginCsrf = (ctx: Context, c: HonoContext) =>
  csrfToken(ctx, c, { name: CSRF_COOKIE, path: "/login", maxAgeSeconds: 3600 });

/** Where to go after logging in: a path on this site only. */
export function safeNext(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : "/settings";
}

function page(ctx: Context, c: HonoContext, body: Html, status: ContentfulStatusCode = 200) {
  return sendPage(c, layout(`Log in – ${ctx.config.server.title}`, body), status);
}

function codeForm(
  ctx: Context,
  c: HonoContext,
  next: string,
  loginToken: string,
  options: { status?: ContentfulStatusCode; error?: string | null } = {},
) {
  return page(
    ctx,
    c,
    html`<h1>Two-factor login</h1>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<form method="post" action="/login" id="second_factor">
<input type="hidden" name="csrf_token" value="${loginCsrf(ctx, c)}">
<input type="hidden" name="next" value="${next}">
<input type="hidden" name="step" value="second_factor">
${secondFactorFields(loginToken)}
</form>`,
    options.status,
  );
}

/**
 * For a login form elsewhere (remote interaction) whose password was right while two-factor login is on: the
 * code form of /login, which goes on to `next` once the code is right.
 */
export function secondFactorLogin(ctx: Context, c: HonoContext, userId: string, next: string) {
  return codeForm(ctx, c, safeNext(next), pendingLogins(ctx).issue(userId));
}

export function loginRoutes(ctx: Context) {
  const app = new Hono();

  function passwordForm(
    c: HonoContext,
    next: string,
    options: { status?: ContentfulStatusCode; error?: string | null; username?: string } = {},
  ) {
    return page(
      ctx,
      c,
      html`<h1>Log in to ${ctx.config.server.title}</h1>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<form method="post" action="/login" id="login">
<input type="hidden" name="csrf_token" value="${loginCsrf(ctx, c)}">
<input type="hidden" name="next" value="${next}">
<input type="hidden" name="step" value="password">
${credentialFields(options.username)}
</form>`,
      options.status,
    );
  }

  const enter = (c: HonoContext, userId: string, next: string) => {
    startSession(ctx, c, userId);
    c.header("Cache-Control", "no-store");
    return c.redirect(next, 303);
  };

  app.get("/login", (c) => {
    const next = safeNext(c.req.query("next"));
    if (sessionUser(ctx, c)) return c.redirect(next, 303);
    return passwordForm(c, next);
  });

  app.post("/login", async (c) => {
    const params = await readParams(c);
    const next = safeNext(params.next);
    if (!csrfValid(c, CSRF_COOKIE, params.csrf_token))
      return passwordForm(c, next, {
        status: 403,
        error: "This form has expired or did not come from this site. Try again.",
      });
    const logins = loginLimiter(ctx);
    const tooMany = tooManyLogins(c, logins);

    if (params.step === "second_factor") {
      const token = typeof params.login_token === "string" ? params.login_token : "";
      if (tooMany) return codeForm(ctx, c, next, token, { status: 429, error: tooMany });
      const result = checkSecondFactor(ctx, c, params);
      if (result.kind === "expired")
        return passwordForm(c, next, { status: 401, error: "This login has expired. Log in again." });
      if (result.kind === "wrong")
        return codeForm(ctx, c, next, token, { status: 401, error: "That code is not right." });
      return enter(c, result.userId, next);
    }

    const username = typeof params.username === "string" ? params.username : "";
    if (tooMany) return passwordForm(c, next, { status: 429, username, error: tooMany });
    const password = typeof params.password === "string" ? params.password : "";
    const user = await verifyLogin(ctx, username, password);
    if (!user) {
      logins.hit(clientAddress(c));
      return passwordForm(c, next, { status: 401, username, error: "Wrong username or password." });
    }
    // The limiter is reset only once the whole login succeeded: a right password does not buy more code guesses.
    if (totpEnabled(ctx, user.id)) return codeForm(ctx, c, next, pendingLogins(ctx).issue(user.id));
    logins.reset(clientAddress(c));
    return enter(c, user.id, next);
  });

  return app;
}

/** Ends this browser's session. */
export function logout(ctx: Context, c: HonoContext) {
  const id = getCookie(c, SESSION_COOKIE);
  if (id) deleteSession(ctx, id);
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
  c.header("Cache-Control", "no-store");
  return c.redirect("/login", 303);
}
