import type { Context as HonoContext, MiddlewareHandler } from "hono";
import type { Context } from "../../context.js";
import { recordTokenUse } from "../../core/oauth.js";
import { hasScope, parseScopes } from "../../core/scopes.js";
import { hashSecret } from "../../core/secrets.js";
import { localAccountRef } from "../../store/accounts.js";
import { findLiveToken } from "../../store/oauth-tokens.js";
import { HttpError } from "../errors.js";

export interface Auth {
  tokenId: string;
  appId: string;
  /** null for a client_credentials token: it acts for the app, not for the user. */
  userId: string | null;
  scopes: string[];
}

export type ApiEnv = { Variables: { auth: Auth | null; requestId: string } };

/** The bearer token of a request, from the Authorization header or (streaming, some apps) access_token. */
export function bearerToken(c: HonoContext): string | null {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1] ?? c.req.query("access_token") ?? null;
}

export function findAuth(ctx: Context, token: string): Auth | null {
  const row = findLiveToken(ctx.store.db, hashSecret(token));
  if (!row) return null;
  recordTokenUse(ctx, row);
  return { tokenId: row.id, appId: row.appId, userId: row.userId, scopes: parseScopes(row.scopes) };
}

/** Reads the token, if any, into c.var.auth. An invalid token is a 401 even on public endpoints, as on Mastodon. */
export function authenticate(ctx: Context): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const token = bearerToken(c);
    const auth = token ? findAuth(ctx, token) : null;
    if (token && !auth) throw new HttpError(401, "The access token is invalid");
    c.set("auth", auth);
    await next();
  };
}

/**
 * Requires a user token holding `scope`. `alsoAccept` lists narrower scopes that are enough for this endpoint
 * (verify_credentials takes "profile").
 */
export function requireUser(
  c: HonoContext<ApiEnv>,
  scope: string,
  alsoAccept: string[] = [],
): Auth & { userId: string } {
  const auth = c.get("auth");
  if (!auth) throw new HttpError(401, "The access token is invalid");
  if (!hasScope(auth.scopes, scope) && !alsoAccept.some((s) => auth.scopes.includes(s))) {
    throw new HttpError(403, "This action is outside the authorized scopes");
  }
  if (auth.userId === null) throw new HttpError(422, "This method requires an authenticated user");
  return auth as Auth & { userId: string };
}

/** For endpoints that work without a token but honour one (public timelines, account lookups). */
export function optionalUser(c: HonoContext<ApiEnv>, scope: string): (Auth & { userId: string }) | null {
  const auth = c.get("auth");
  if (!auth || auth.userId === null) return null;
  if (!hasScope(auth.scopes, scope)) throw new HttpError(403, "This action is outside the authorized scopes");
  return auth as Auth & { userId: string };
}

/**
 * The local account id behind a token (tokens carry the users row id; statuses, favourites and follows use
 * the account id), or null for anonymous requests.
 */
export function viewerAccountId(ctx: Context, auth: Auth | null): string | null {
  if (!auth?.userId) return null;
  const local = localAccountRef(ctx.store.db);
  if (!local || local.userId !== auth.userId) throw new HttpError(401, "The access token is invalid");
  return local.id;
}

/** requireUser, answering with the local account id. */
export function requireViewer(
  ctx: Context,
  c: HonoContext<ApiEnv>,
  scope: string,
  alsoAccept: string[] = [],
): { auth: Auth; viewerId: string } {
  const auth = requireUser(c, scope, alsoAccept);
  const viewerId = viewerAccountId(ctx, auth);
  if (!viewerId) throw new HttpError(401, "The access token is invalid");
  return { auth, viewerId };
}

/** optionalUser, answering with the local account id or null. */
export function optionalViewer(ctx: Context, c: HonoContext<ApiEnv>, scope: string): string | null {
  return viewerAccountId(ctx, optionalUser(c, scope));
}
