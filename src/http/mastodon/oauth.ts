/**
 * App registration (/api/v1/apps), the token and revocation endpoints (/oauth/token, /oauth/revoke), the
 * RFC 8414 metadata document and, from web/authorize.ts, the authorize page. Errors of the OAuth endpoints
 * have the RFC 6749 form {"error": "invalid_grant", "error_description": "…"}.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import {
  type AppRow,
  authenticateClient,
  clientCredentialsGrant,
  exchangeCode,
  findAppByClientId,
  findAppById,
  OAuthError,
  passwordGrant,
  refreshGrant,
  registerApp,
  revokeToken,
  type TokenGrant,
  verifyLogin,
} from "../../core/oauth.js";
import { GRANULAR_SCOPES, TOP_LEVEL_SCOPES } from "../../core/scopes.js";
import { totpEnabled } from "../../core/totp.js";
import { vapidKeys } from "../../push/vapid.js";
import { HttpError } from "../errors.js";
import { clientAddress, type RateLimiter } from "../ratelimit.js";
import type { ApiEnv } from "./auth.js";
import { type Params, read, readParams } from "./params.js";

function renderApp(ctx: Context, app: AppRow) {
  return {
    id: app.id,
    name: app.name,
    website: app.website,
    scopes: app.scopes.split(" ").filter((s) => s !== ""),
    redirect_uri: app.redirectUris.join("\n"),
    redirect_uris: app.redirectUris,
    // Deprecated by Mastodon (configuration.vapid.public_key replaces it) but still sent and read.
    vapid_key: vapidKeys(ctx.store.db).publicKey,
  };
}

function oauthError(c: HonoContext, error: OAuthError, headers: Record<string, string> = {}) {
  return c.json({ error: error.error, error_description: error.message }, error.status, {
    "Cache-Control": "no-store",
    ...headers,
  });
}

function tokenResponse(c: HonoContext, grant: TokenGrant) {
  return c.json(
    {
      access_token: grant.accessToken,
      token_type: "Bearer",
      scope: grant.scopes.join(" "),
      created_at: Math.floor(grant.createdAt / 1000),
      ...(grant.refreshToken === null ? {} : { refresh_token: grant.refreshToken }),
    },
    200,
    { "Cache-Control": "no-store", Pragma: "no-cache" },
  );
}

/** A parameter as a string; anything else (an object, a list) is an invalid_request. */
function param(params: Params, key: string): string | undefined {
  try {
    const value = read.string(params, key);
    return value === "" ? undefined : value;
  } catch {
    throw new OAuthError("invalid_request", `${key} must be a string`);
  }
}

/** Parameters of an OAuth endpoint: a body it cannot read is an invalid_request, not a plain 400. */
async function oauthParams(c: HonoContext): Promise<Params> {
  try {
    return await readParams(c);
  } catch (error) {
    if (error instanceof HttpError) throw new OAuthError("invalid_request", error.message);
    throw error;
  }
}

/**
 * Client credentials from HTTP Basic (RFC 6749 §2.3.1: form-encoded, then base64) and from the body. Both
 * may be sent; then they must agree.
 */
function clientCredentials(c: HonoContext, params: Params): { id?: string; secret?: string; basic: boolean } {
  const bodyId = param(params, "client_id");
  const bodySecret = param(params, "client_secret");
  const header = c.req.header("authorization")?.match(/^Basic\s+(\S+)$/i)?.[1];
  if (!header) return { id: bodyId, secret: bodySecret, basic: false };
  const decoded = Buffer.from(header, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const formDecode = (v: string) => {
    try {
      return decodeURIComponent(v.replaceAll("+", " "));
    } catch {
      return v;
    }
  };
  const id = formDecode(colon < 0 ? decoded : decoded.slice(0, colon));
  const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
  if (
    (bodyId !== undefined && bodyId !== id) ||
    (bodySecret !== undefined && secret !== undefined && bodySecret !== secret)
  )
    throw new OAuthError(
      "invalid_client",
      "The client credentials in the body and in the Authorization header differ.",
      401,
    );
  return { id, secret: secret || bodySecret, basic: true };
}

function tooManyAttempts(waitMs: number): OAuthError {
  const minutes = Math.ceil(waitMs / 60_000);
  return new OAuthError(
    "too_many_attempts",
    `Too many failed login attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    429,
  );
}

/** `logins` counts failed logins; the authorize page shares it, so both ways of logging in have one limit. */
export function oauthApiRoutes(ctx: Context, logins: RateLimiter) {
  const app = new Hono<ApiEnv>();
  const { origin } = ctx.urls;

  app.post("/api/v1/apps", async (c) => {
    const params = await readParams(c);
    const uris = read.strings(params, "redirect_uris") ?? read.strings(params, "redirect_uri") ?? [];
    const scopes = (read.strings(params, "scopes") ?? [])
      .join(" ")
      .split(/[\s+]+/)
      .filter((s) => s !== "");
    try {
      const { app: created, clientSecret } = registerApp(ctx, {
        name: read.string(params, "client_name"),
        redirectUris: uris,
        scopes,
        website: read.string(params, "website"),
      });
      return c.json({
        ...renderApp(ctx, created),
        client_id: created.clientId,
        client_secret: clientSecret,
        client_secret_expires_at: 0,
      });
    } catch (error) {
      if (error instanceof UserError) throw new HttpError(422, error.message);
      throw error;
    }
  });

  // Any valid token will do, an app token (client_credentials) as well as a user's, whatever its scopes.
  app.get("/api/v1/apps/verify_credentials", (c) => {
    const auth = c.get("auth");
    if (!auth) throw new HttpError(401, "The access token is invalid");
    const row = findAppById(ctx.store.db, auth.appId);
    if (!row) throw new HttpError(401, "The access token is invalid");
    return c.json(renderApp(ctx, row));
  });

  app.post("/oauth/token", async (c) => {
    let basic = false;
    try {
      const params = await oauthParams(c);
      const client = clientCredentials(c, params);
      basic = client.basic;
      const grantType = param(params, "grant_type");
      const scope = param(params, "scope") ?? param(params, "scopes");
      switch (grantType) {
        case "authorization_code": {
          const authenticated = client.secret !== undefined;
          const found = authenticateClient(ctx, client.id, client.secret, true);
          return tokenResponse(
            c,
            exchangeCode(ctx, {
              app: found,
              code: param(params, "code"),
              redirectUri: param(params, "redirect_uri"),
              codeVerifier: param(params, "code_verifier"),
              clientAuthenticated: authenticated,
            }),
          );
        }
        case "client_credentials":
          return tokenResponse(
            c,
            clientCredentialsGrant(ctx, authenticateClient(ctx, client.id, client.secret), scope),
          );
        case "password": {
          const found = authenticateClient(ctx, client.id, client.secret);
          const username = param(params, "username");
          const password = param(params, "password");
          if (!username || !password)
            throw new OAuthError("invalid_request", "username and password are required.");
          const address = clientAddress(c);
          const wait = logins.retryAfterMs(address);
          if (wait > 0) {
            return oauthError(c, tooManyAttempts(wait), { "Retry-After": String(Math.ceil(wait / 1000)) });
          }
          const user = await verifyLogin(ctx, username, password);
          if (!user) {
            logins.hit(address);
            throw new OAuthError(
              "invalid_grant",
              "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client. (wrong username or password)",
            );
          }
          // A password alone must not get past two-factor login: such an owner logs apps in through the browser.
          if (totpEnabled(ctx, user.id))
            throw new OAuthError(
              "invalid_grant",
              "Two-factor login is on: authorize the app in the browser (authorization code flow).",
            );
          logins.reset(address);
          return tokenResponse(c, passwordGrant(ctx, found, user, scope));
        }
        case "refresh_token": {
          const found = authenticateClient(ctx, client.id, client.secret);
          return tokenResponse(c, refreshGrant(ctx, found, param(params, "refresh_token"), scope));
        }
        case undefined:
          throw new OAuthError("invalid_request", "The grant_type parameter is missing.");
        default:
          throw new OAuthError(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
          );
      }
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      const headers: Record<string, string> =
        error.error === "invalid_client" && basic ? { "WWW-Authenticate": 'Basic realm="oauth"' } : {};
      return oauthError(c, error, headers);
    }
  });

  app.post("/oauth/revoke", async (c) => {
    try {
      const params = await oauthParams(c);
      const client = clientCredentials(c, params);
      const token = param(params, "token");
      if (!token) throw new OAuthError("invalid_request", "The token parameter is missing.");
      // Public clients (no secret) may revoke their own tokens too: knowing the token is proof enough.
      const found =
        client.secret === undefined && client.id ? findAppByClientId(ctx.store.db, client.id) : null;
      revokeToken(ctx, found ?? authenticateClient(ctx, client.id, client.secret), token);
      return c.json({}, 200, { "Cache-Control": "no-store" });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return oauthError(c, error);
    }
  });

  // RFC 8414, with the fields Mastodon 4.3 serves.
  app.get("/.well-known/oauth-authorization-server", (c) =>
    c.json({
      issuer: `${origin}/`,
      service_documentation: "https://docs.joinmastodon.org/",
      authorization_endpoint: `${origin}/oauth/authorize`,
      token_endpoint: `${origin}/oauth/token`,
      app_registration_endpoint: `${origin}/api/v1/apps`,
      revocation_endpoint: `${origin}/oauth/revoke`,
      scopes_supported: [...TOP_LEVEL_SCOPES, ...GRANULAR_SCOPES, "admin:read", "admin:write"],
      response_types_supported: ["code"],
      response_modes_supported: ["query", "fragment", "form_post"],
      grant_types_supported: ["authorization_code", "password", "client_credentials", "refresh_token"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256"],
    }),
  );

  return app;
}
