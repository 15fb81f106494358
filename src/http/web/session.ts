/** The owner's browser session and the CSRF tokens of the forms that need one (OAuth consent, interactions). */
import type { Context as HonoContext } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Context } from "../../context.js";
import { createSession, findSessionUser, SESSION_TTL_MS } from "../../core/oauth.js";
import { hashSecret, newSecret } from "../../core/secrets.js";

export const SESSION_COOKIE = "wren_session";

const isSecure = (ctx: Context) => ctx.config.server.protocol === "https";

/** Logs the owner in on this browser: a server-side session and its cookie. */
export function startSession(ctx: Context, c: HonoContext, userId: string): void {
  const session = createSession(ctx, userId);
  setCookie(c, SESSION_COOKIE, session.id, {
    httpOnly: true,
    sameSite: "Lax",
    secure: isSecure(ctx),
    path: "/",
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

/** The user whose session this browser holds, or null. */
export function sessionUser(ctx: Context, c: HonoContext): string | null {
  return findSessionUser(ctx, getCookie(c, SESSION_COOKIE));
}

/**
 * The CSRF cookie `name` of the forms under `path` (made when missing, renewed on every form shown) and the
 * token the forms carry: a hash of the cookie, which a page on another site can neither read nor compute.
 */
export function csrfToken(
  ctx: Context,
  c: HonoContext,
  cookie: { name: string; path: string; maxAgeSeconds: number },
): string {
  const value = getCookie(c, cookie.name) || newSecret();
  setCookie(c, cookie.name, value, {
    httpOnly: true,
    sameSite: "Lax",
    secure: isSecure(ctx),
    path: cookie.path,
    maxAge: cookie.maxAgeSeconds,
  });
  return hashSecret(`csrf:${value}`);
}
