/**
 * OAuth 2 as Mastodon clients use it: app registration, authorization codes (with PKCE), tokens (with rotating
 * refresh tokens) and the browser sessions of the authorize page. Client secrets, codes, tokens and session ids
 * are random 256-bit secrets stored only as their SHA-256 hash.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { and, eq, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { Context } from "../context.js";
import { findLocalUser, type UserRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { type Db, transaction } from "../store/open.js";
import { oauthApps, oauthCodes, oauthTokens, webSessions } from "../store/schema.js";
import { UserError } from "./account.js";
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from "./password.js";
import { hasScope, isSubset, parseScopes, unknownScope } from "./scopes.js";
import { hashSecret, newSecret, secretMatches } from "./secrets.js";

export type AppRow = typeof oauthApps.$inferSelect;
export type TokenRow = typeof oauthTokens.$inferSelect;
export type CodeRow = typeof oauthCodes.$inferSelect;

export const OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob";
export const CODE_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
export const APP_NAME_MAX = 200;
const URI_MAX = 2000;
const REDIRECT_URIS_MAX = 20;
/** Used codes are kept this long after they expire, to recognise a replayed code. */
const CODE_RETENTION_MS = 24 * 3600_000;
/** Scopes granted when a request names none, as Mastodon (Doorkeeper's default scope). */
const DEFAULT_SCOPES = ["read"];
/** Schemes a browser must never be sent to with a code. */
const FORBIDDEN_SCHEMES = new Set(["javascript", "data", "vbscript", "file", "blob", "about"]);

/** An error in RFC 6749 terms: `error` is the code ("invalid_grant"), the message its description. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    description: string,
    readonly status: 400 | 401 | 403 | 429 = 400,
  ) {
    super(description);
  }
}

const invalidClient = () =>
  new OAuthError(
    "invalid_client",
    "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
    401,
  );
const invalidGrant = (why: string) =>
  new OAuthError(
    "invalid_grant",
    `The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client. (${why})`,
  );

// ---------------------------------------------------------------------------------------------------------------
// Apps

/** Why a redirect URI is refused, or null: absolute (custom schemes welcome), no fragment, nothing dangerous. */
export function redirectUriProblem(uri: string): string | null {
  if (uri === OOB_REDIRECT_URI) return null;
  if (uri.length > URI_MAX) return `is too long (maximum is ${URI_MAX} characters)`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return "must not contain spaces or control characters";
  const scheme = uri.match(/^([A-Za-z][A-Za-z0-9+.-]*):./)?.[1]?.toLowerCase();
  if (!scheme) return "must be an absolute URI";
  if (FORBIDDEN_SCHEMES.has(scheme)) return `must not use the scheme ${scheme}`;
  if (uri.includes("#")) return "must not contain a fragment";
  try {
    new URL(uri);
  } catch {
    return "must be an absolute URI";
  }
  if ((scheme === "http" || scheme === "https") && !/^https?:\/\/[^/?#]+/i.test(uri))
    return "must be an absolute URI";
  return null;
}

/** Redirect URIs as apps send them: strings holding one URI per line, or a list of such strings. */
export function splitRedirectUris(values: string[]): string[] {
  const uris = values.flatMap((v) => v.split(/[\r\n]+/)).map((v) => v.trim());
  return [...new Set(uris.filter((v) => v !== ""))];
}

export interface AppInput {
  name: string | undefined;
  redirectUris: string[];
  scopes: string[];
  website: string | undefined;
}

/** Registers a client app; the secret is returned this once and only its hash is kept. */
export function registerApp(ctx: Context, input: AppInput): { app: AppRow; clientSecret: string } {
  const name = (input.name ?? "").trim();
  if (name === "") throw new UserError("Validation failed: Application name can't be blank");
  if (name.length > APP_NAME_MAX)
    throw new UserError(
      `Validation failed: Application name is too long (maximum is ${APP_NAME_MAX} characters)`,
    );
  const redirectUris = splitRedirectUris(input.redirectUris);
  if (redirectUris.length === 0) throw new UserError("Validation failed: Redirect URI can't be blank");
  if (redirectUris.length > REDIRECT_URIS_MAX)
    throw new UserError(`Validation failed: Redirect URI lists at most ${REDIRECT_URIS_MAX} URIs`);
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new UserError(`Validation failed: Redirect URI ${problem}`);
  }
  const scopes = input.scopes.length > 0 ? input.scopes : DEFAULT_SCOPES;
  const unknown = unknownScope(scopes);
  if (unknown !== null) throw new UserError(`Validation failed: Scopes contain an unknown scope: ${unknown}`);
  const website = input.website?.trim() || null;
  if (website !== null) {
    let ok = website.length <= URI_MAX;
    try {
      ok &&= ["http:", "https:"].includes(new URL(website).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new UserError("Validation failed: Website is not a valid URL");
  }
  const now = Date.now();
  const clientSecret = newSecret();
  const app: AppRow = {
    id: newId(now),
    name,
    website,
    redirectUris,
    scopes: scopes.join(" "),
    clientId: newSecret(),
    clientSecretHash: hashSecret(clientSecret),
    createdAt: now,
  };
  ctx.store.db.insert(oauthApps).values(app).run();
  return { app, clientSecret };
}

export function findAppByClientId(db: Db, clientId: string): AppRow | null {
  return db.select().from(oauthApps).where(eq(oauthApps.clientId, clientId)).get() ?? null;
}

export function findAppById(db: Db, id: string): AppRow | null {
  return db.select().from(oauthApps).where(eq(oauthApps.id, id)).get() ?? null;
}

/**
 * The app behind a token request. A secret, when given, must be right; without one the app is accepted only
 * when `allowPublic` (an authorization code bound to a PKCE challenge proves the caller well enough).
 */
export function authenticateClient(
  ctx: Context,
  clientId: string | undefined,
  clientSecret: string | undefined,
  allowPublic = false,
): AppRow {
  if (!clientId) throw invalidClient();
  const app = findAppByClientId(ctx.store.db, clientId);
  if (!app) throw invalidClient();
  if (clientSecret === undefined || clientSecret === "") {
    if (!allowPublic) throw invalidClient();
  } else if (!secretMatches(clientSecret, app.clientSecretHash)) throw invalidClient();
  return app;
}

// ---------------------------------------------------------------------------------------------------------------
// Scopes and PKCE

/**
 * The scopes a request gets: what it asked for (each known and within what the app registered), or Mastodon's
 * default "read" when it asked for nothing (the app's own scopes if they do not include "read").
 */
export function grantedScopes(requested: string | undefined, app: AppRow): string[] {
  const allowed = parseScopes(app.scopes);
  const asked = parseScopes(requested);
  if (asked.length === 0) return isSubset(DEFAULT_SCOPES, allowed) ? DEFAULT_SCOPES : allowed;
  const unknown = unknownScope(asked);
  if (unknown !== null) throw new OAuthError("invalid_scope", `The requested scope is unknown: ${unknown}`);
  if (!isSubset(asked, allowed)) {
    const outside = asked.find((s) => !allowed.includes(s) && !hasScope(allowed, s));
    throw new OAuthError("invalid_scope", `The requested scope exceeds what the app registered: ${outside}`);
  }
  return asked;
}

export type PkceMethod = "S256" | "plain";
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/;

/** The PKCE part of an authorization request, or an invalid_request error. */
export function readPkce(
  challenge: string | undefined,
  method: string | undefined,
): { codeChallenge: string | null; codeChallengeMethod: PkceMethod | null } {
  if (!challenge) {
    if (method)
      throw new OAuthError("invalid_request", "code_challenge_method was given without code_challenge");
    return { codeChallenge: null, codeChallengeMethod: null };
  }
  // RFC 7636 §4.3: "plain" when the method is left out.
  const m = method || "plain";
  if (m !== "S256" && m !== "plain")
    throw new OAuthError("invalid_request", `code_challenge_method must be S256 or plain, not ${m}`);
  if (!PKCE_VALUE.test(challenge))
    throw new OAuthError(
      "invalid_request",
      "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
    );
  return { codeChallenge: challenge, codeChallengeMethod: m };
}

export function pkceMatches(verifier: string, challenge: string, method: string): boolean {
  if (!PKCE_VALUE.test(verifier)) return false;
  const expected = method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
  const a = Buffer.from(expected);
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------------------------
// Authorization requests (the /oauth/authorize page)

export type ResponseMode = "query" | "fragment" | "form_post";

export interface AuthorizationParams {
  clientId?: string;
  redirectUri?: string;
  responseType?: string;
  scope?: string;
  state?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  responseMode?: string;
}

export interface AuthorizationRequest {
  app: AppRow;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  codeChallenge: string | null;
  codeChallengeMethod: PkceMethod | null;
  responseMode: ResponseMode;
}

export type AuthorizationCheck =
  | { kind: "ok"; request: AuthorizationRequest }
  /** The client or the redirect URI is wrong: show an error page, never redirect. */
  | { kind: "fatal"; message: string }
  /** Anything else: tell the app at its redirect URI. */
  | {
      kind: "redirect";
      app: AppRow;
      redirectUri: string;
      responseMode: ResponseMode;
      state: string | undefined;
      error: OAuthError;
    };

export function checkAuthorizationRequest(ctx: Context, params: AuthorizationParams): AuthorizationCheck {
  if (!params.clientId) return { kind: "fatal", message: "The request names no client_id." };
  const app = findAppByClientId(ctx.store.db, params.clientId);
  if (!app) return { kind: "fatal", message: "No app is registered with this client_id." };
  // One registered URI may be left out (RFC 6749 §3.1.2.3); several must be told apart.
  const redirectUri = params.redirectUri || (app.redirectUris.length === 1 ? app.redirectUris[0] : undefined);
  if (!redirectUri) return { kind: "fatal", message: "The request names no redirect_uri." };
  if (!app.redirectUris.includes(redirectUri))
    return { kind: "fatal", message: "The redirect_uri is not one the app registered." };
  const state = params.state || undefined;
  const mode = params.responseMode || "query";
  const responseMode: ResponseMode = mode === "fragment" || mode === "form_post" ? mode : "query";
  const fail = (error: OAuthError): AuthorizationCheck => ({
    kind: "redirect",
    app,
    redirectUri,
    responseMode,
    state,
    error,
  });
  if (mode !== responseMode)
    return fail(new OAuthError("invalid_request", `Unsupported response_mode: ${mode}`));
  if (params.responseType !== "code")
    return fail(
      new OAuthError(
        "unsupported_response_type",
        "The authorization server does not support this response type.",
      ),
    );
  try {
    const scopes = grantedScopes(params.scope, app);
    const pkce = readPkce(params.codeChallenge, params.codeChallengeMethod);
    return { kind: "ok", request: { app, redirectUri, scopes, state, responseMode, ...pkce } };
  } catch (error) {
    if (error instanceof OAuthError) return fail(error);
    throw error;
  }
}

/** The URL that carries a response to the app: query parameters added, or the fragment for response_mode=fragment. */
export function redirectUrl(
  redirectUri: string,
  params: Record<string, string | undefined>,
  mode: ResponseMode,
) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, value);
  // Built as text so the registered URI stays byte for byte what the app expects (URL would lower-case schemes).
  if (mode === "fragment") return `${redirectUri}#${search}`;
  return `${redirectUri}${redirectUri.includes("?") ? "&" : "?"}${search}`;
}

/** A single-use code for the local user, valid ten minutes. */
export function issueCode(ctx: Context, request: AuthorizationRequest): string {
  const code = newSecret();
  const now = Date.now();
  const { db } = ctx.store;
  db.delete(oauthCodes)
    .where(lt(oauthCodes.expiresAt, now - CODE_RETENTION_MS))
    .run();
  db.insert(oauthCodes)
    .values({
      codeHash: hashSecret(code),
      appId: request.app.id,
      scopes: request.scopes.join(" "),
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      expiresAt: now + CODE_TTL_MS,
      createdAt: now,
    })
    .run();
  return code;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

export interface TokenGrant {
  accessToken: string;
  refreshToken: string | null;
  scopes: string[];
  createdAt: number;
}

function insertToken(
  db: Db,
  input: { appId: string; userId: string | null; scopes: string[]; refresh: boolean; now: number },
): TokenGrant {
  const accessToken = newSecret();
  const refreshToken = input.refresh ? newSecret() : null;
  db.insert(oauthTokens)
    .values({
      id: newId(input.now),
      tokenHash: hashSecret(accessToken),
      refreshTokenHash: refreshToken === null ? null : hashSecret(refreshToken),
      appId: input.appId,
      userId: input.userId,
      scopes: input.scopes.join(" "),
      createdAt: input.now,
    })
    .run();
  return { accessToken, refreshToken, scopes: input.scopes, createdAt: input.now };
}

/**
 * Revokes what a code produced when it is replayed (RFC 6749 §4.1.2). The schema does not link a token to its
 * code, so the link is by time: the token made from the code was created when the code was marked used, and a
 * refresh makes the next token at the very millisecond it revokes the previous one.
 */
function revokeIssuedFromCode(db: Db, code: CodeRow, now: number): void {
  const seen = new Set<string>();
  let createdAt: number | null = code.usedAt;
  for (let hop = 0; createdAt !== null && hop < 1000; hop++) {
    const rows = db
      .select()
      .from(oauthTokens)
      .where(
        and(
          eq(oauthTokens.appId, code.appId),
          eq(oauthTokens.createdAt, createdAt),
          isNotNull(oauthTokens.userId),
        ),
      )
      .all();
    let next: number | null = null;
    for (const row of rows) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      if (row.revokedAt === null) {
        db.update(oauthTokens).set({ revokedAt: now }).where(eq(oauthTokens.id, row.id)).run();
      } else if (row.refreshTokenHash !== null) next = row.revokedAt;
    }
    createdAt = next;
  }
}

/** grant_type=authorization_code. `clientAuthenticated` is false when the app sent no secret (PKCE only). */
export function exchangeCode(
  ctx: Context,
  input: {
    app: AppRow;
    code: string | undefined;
    redirectUri: string | undefined;
    codeVerifier: string | undefined;
    clientAuthenticated: boolean;
  },
): TokenGrant {
  if (!input.code) throw new OAuthError("invalid_request", "The code parameter is missing.");
  const code = input.code;
  const { db } = ctx.store;
  // A replayed code revokes tokens: that change must be committed, so the error is raised after the transaction.
  const outcome = transaction(ctx.store, (): TokenGrant | OAuthError => {
    const now = Date.now();
    const row = db
      .select()
      .from(oauthCodes)
      .where(eq(oauthCodes.codeHash, hashSecret(code)))
      .get();
    if (!row || row.appId !== input.app.id) return invalidGrant("unknown code");
    if (row.usedAt !== null) {
      revokeIssuedFromCode(db, row, now);
      return invalidGrant("the code was already used; the tokens issued for it are revoked");
    }
    if (row.expiresAt <= now) return invalidGrant("the code has expired");
    const redirectUri =
      input.redirectUri || (input.app.redirectUris.length === 1 ? input.app.redirectUris[0] : "");
    if (redirectUri !== row.redirectUri)
      return invalidGrant("redirect_uri does not match the authorization request");
    if (row.codeChallenge !== null) {
      if (!input.codeVerifier) return invalidGrant("code_verifier is missing");
      if (!pkceMatches(input.codeVerifier, row.codeChallenge, row.codeChallengeMethod ?? "plain"))
        return invalidGrant("code_verifier does not match the code_challenge");
    } else if (!input.clientAuthenticated) return invalidClient();
    const user = findLocalUser(db)?.user;
    if (!user) return invalidGrant("there is no account");
    db.update(oauthCodes).set({ usedAt: now }).where(eq(oauthCodes.codeHash, row.codeHash)).run();
    return insertToken(db, {
      appId: input.app.id,
      userId: user.id,
      scopes: parseScopes(row.scopes),
      refresh: true,
      now,
    });
  });
  if (outcome instanceof OAuthError) throw outcome;
  return outcome;
}

/** grant_type=client_credentials: a token that acts for the app, not for the user. */
export function clientCredentialsGrant(ctx: Context, app: AppRow, scope: string | undefined): TokenGrant {
  const scopes = grantedScopes(scope, app);
  return insertToken(ctx.store.db, { appId: app.id, userId: null, scopes, refresh: false, now: Date.now() });
}

/** grant_type=password, once the caller checked the login (see verifyLogin). */
export function passwordGrant(
  ctx: Context,
  app: AppRow,
  user: UserRow,
  scope: string | undefined,
): TokenGrant {
  const scopes = grantedScopes(scope, app);
  return insertToken(ctx.store.db, {
    appId: app.id,
    userId: user.id,
    scopes,
    refresh: true,
    now: Date.now(),
  });
}

/** grant_type=refresh_token: a new access and refresh token; the old pair is revoked. Scopes may narrow. */
export function refreshGrant(
  ctx: Context,
  app: AppRow,
  refreshToken: string | undefined,
  scope: string | undefined,
): TokenGrant {
  if (!refreshToken) throw new OAuthError("invalid_request", "The refresh_token parameter is missing.");
  const { db } = ctx.store;
  return transaction(ctx.store, () => {
    const now = Date.now();
    const row = db
      .select()
      .from(oauthTokens)
      .where(eq(oauthTokens.refreshTokenHash, hashSecret(refreshToken)))
      .get();
    if (!row || row.appId !== app.id || row.revokedAt !== null || row.userId === null)
      throw invalidGrant("unknown or revoked refresh token");
    const held = parseScopes(row.scopes);
    const asked = parseScopes(scope);
    if (asked.length > 0 && !isSubset(asked, held))
      throw new OAuthError("invalid_scope", "The requested scope exceeds the scope of the refresh token.");
    db.update(oauthTokens).set({ revokedAt: now }).where(eq(oauthTokens.id, row.id)).run();
    return insertToken(db, {
      appId: app.id,
      userId: row.userId,
      scopes: asked.length > 0 ? asked : held,
      refresh: true,
      now,
    });
  });
}

/**
 * Revokes an access or refresh token of `app` (RFC 7009): an unknown token is not an error, another app's
 * token is refused.
 */
export function revokeToken(ctx: Context, app: AppRow, token: string): void {
  const { db } = ctx.store;
  const hash = hashSecret(token);
  const row = db
    .select()
    .from(oauthTokens)
    .where(or(eq(oauthTokens.tokenHash, hash), eq(oauthTokens.refreshTokenHash, hash)))
    .get();
  if (!row) return;
  if (row.appId !== app.id)
    throw new OAuthError("unauthorized_client", "You are not authorized to revoke this token.", 403);
  if (row.revokedAt === null)
    db.update(oauthTokens)
      .set({ revokedAt: Date.now() })
      .where(and(eq(oauthTokens.id, row.id), isNull(oauthTokens.revokedAt)))
      .run();
}

/** Records that a token was used, at most once a minute: a write on every request would be wasteful. */
export function recordTokenUse(ctx: Context, token: TokenRow, now = Date.now()): void {
  if (token.lastUsedAt !== null && token.lastUsedAt >= now - 60_000) return;
  ctx.store.db.update(oauthTokens).set({ lastUsedAt: now }).where(eq(oauthTokens.id, token.id)).run();
}

// ---------------------------------------------------------------------------------------------------------------
// Logins and sessions

let dummyHash: Promise<string> | null = null;

/**
 * The local user when `login` names it (username, @username, username@domain or the e-mail address, any case)
 * and the password is right. The password is checked even for a wrong name so the time taken tells nothing.
 */
export async function verifyLogin(ctx: Context, login: string, password: string): Promise<UserRow | null> {
  const local = findLocalUser(ctx.store.db);
  const name = login.trim().replace(/^@/, "").toLowerCase();
  const username = local?.account.username.toLowerCase();
  const named =
    local !== null &&
    name !== "" &&
    (name === username ||
      name === `${username}@${ctx.urls.domain.toLowerCase()}` ||
      (local.user.email !== null && name === local.user.email.toLowerCase()));
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return null;
  dummyHash ??= hashPassword("no account has this password");
  const stored = local?.user.passwordHash ?? (await dummyHash);
  const right = await verifyPassword(password, stored);
  return named && right && local ? local.user : null;
}

/** A browser session for the authorize page; returns the cookie value. */
export function createSession(ctx: Context, userId: string): { id: string; expiresAt: number } {
  const id = newSecret();
  const now = Date.now();
  const { db } = ctx.store;
  db.delete(webSessions).where(lt(webSessions.expiresAt, now)).run();
  db.insert(webSessions)
    .values({ idHash: hashSecret(id), userId, createdAt: now, expiresAt: now + SESSION_TTL_MS })
    .run();
  return { id, expiresAt: now + SESSION_TTL_MS };
}

export function findSessionUser(ctx: Context, id: string | undefined): string | null {
  if (!id) return null;
  const row = ctx.store.db
    .select()
    .from(webSessions)
    .where(eq(webSessions.idHash, hashSecret(id)))
    .get();
  return row && row.expiresAt > Date.now() ? row.userId : null;
}

export function deleteSession(ctx: Context, id: string): void {
  ctx.store.db
    .delete(webSessions)
    .where(eq(webSessions.idHash, hashSecret(id)))
    .run();
}
