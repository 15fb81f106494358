import { randomBytes } from "node:crypto";
import { count, eq } from "drizzle-orm";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/core/secrets.js";
import { type ApiEnv, authenticate, requireUser } from "../src/http/mastodon/auth.js";
import { addressKey, RateLimiter } from "../src/http/ratelimit.js";
import { oauthApps, oauthCodes, oauthTokens, webSessions } from "../src/store/schema.js";
import { Browser, clickThrough, codeFrom, findForm, mustForm, pkce } from "./helpers/oauth-flow.js";
import { startTestServer, TEST_PASSWORD, type TestServer } from "./helpers/server.js";

let server: TestServer;
let origin: string;

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  origin = server.origin;
});
afterAll(async () => {
  await server?.close();
});

// ------------------------------------------------------------------------------------------------------------
// Helpers: requests, a cookie jar and a tiny HTML form reader, so the tests click through the pages like a browser.

type Json = Record<string, unknown>;

async function send(
  method: string,
  path: string,
  options: {
    json?: unknown;
    form?: Record<string, string>;
    raw?: string;
    multipart?: FormData;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: Headers; json: Json; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Uint8Array | FormData | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  } else if (options.raw !== undefined) {
    // Bytes, not a string: fetch would otherwise add "text/plain", and the point is no Content-Type at all.
    body = new TextEncoder().encode(options.raw);
  } else if (options.multipart) body = options.multipart;
  const response = await fetch(`${origin}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  let json: Json = {};
  try {
    json = text ? (JSON.parse(text) as Json) : {};
  } catch {
    json = {};
  }
  return { status: response.status, headers: response.headers, json, text };
}

function rows(table: typeof oauthTokens | typeof oauthCodes | typeof oauthApps | typeof webSessions): number {
  return server.context.store.db.select({ n: count() }).from(table).get()?.n ?? 0;
}

function snapshot() {
  const db = server.context.store.db;
  return {
    apps: rows(oauthApps),
    tokens: db.select().from(oauthTokens).all(),
    codes: db.select().from(oauthCodes).all(),
    sessions: rows(webSessions),
  };
}

interface App {
  id: string;
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

async function registerApp(
  redirectUris: string | string[] = "https://app.example/callback",
  scopes = "read write follow push",
) {
  const reply = await send("POST", "/api/v1/apps", {
    json: { client_name: "Test client", redirect_uris: redirectUris, scopes, website: "https://app.example" },
  });
  expect(reply.status).toBe(200);
  return reply.json as unknown as App;
}

function authorizeUrl(app: App, extra: Record<string, string> = {}, path = "/oauth/authorize") {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: app.redirect_uris[0] ?? "",
    scope: "read write",
    state: "xyz 123",
    ...extra,
  });
  return `${path}?${query}`;
}

async function token(app: App, body: Record<string, string>, headers: Record<string, string> = {}) {
  return send("POST", "/oauth/token", {
    form: { client_id: app.client_id, client_secret: app.client_secret, ...body },
    headers,
  });
}

async function codeFlow(app: App, browser = new Browser(server.origin)) {
  const { verifier, challenge } = pkce();
  const done = await clickThrough(
    browser,
    authorizeUrl(app, { code_challenge: challenge, code_challenge_method: "S256" }),
  );
  expect(done.status).toBe(302);
  const { code } = codeFrom(done.headers.get("location"));
  return { code, verifier, browser };
}

async function exchange(app: App, code: string, verifier: string) {
  return token(app, {
    grant_type: "authorization_code",
    code,
    redirect_uri: app.redirect_uris[0] ?? "",
    code_verifier: verifier,
  });
}

const verifyApp = (accessToken: string) =>
  send("GET", "/api/v1/apps/verify_credentials", { headers: { Authorization: `Bearer ${accessToken}` } });

// ------------------------------------------------------------------------------------------------------------

describe("POST /api/v1/apps", () => {
  it("registers an app from JSON with an array of redirect URIs and keeps only the secret's hash", async () => {
    const uris = ["https://app.example/callback", "com.tapbots.Ivory.19300:/request_token", "icecubesapp://"];
    const reply = await send("POST", "/api/v1/apps", {
      json: {
        client_name: "Ivory",
        redirect_uris: uris,
        scopes: "read write follow push",
        website: "https://ivory.example",
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toContain("application/json");
    const body = reply.json;
    expect(body).toMatchObject({
      name: "Ivory",
      website: "https://ivory.example",
      scopes: ["read", "write", "follow", "push"],
      redirect_uri: uris.join("\n"),
      redirect_uris: uris,
      client_secret_expires_at: 0,
    });
    expect(typeof body.id).toBe("string");
    expect(typeof body.client_id).toBe("string");
    expect(typeof body.client_secret).toBe("string");
    const row = server.context.store.db
      .select()
      .from(oauthApps)
      .where(eq(oauthApps.id, String(body.id)))
      .get();
    expect(row?.clientSecretHash).toBe(hashSecret(String(body.client_secret)));
    expect(JSON.stringify(row)).not.toContain(String(body.client_secret));
  });

  it("returns vapid_key: the server's VAPID public key (an uncompressed P-256 point), the same for every app", async () => {
    const first = (await registerApp()) as unknown as Json;
    const second = (await registerApp()) as unknown as Json;
    expect(first.vapid_key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect(second.vapid_key).toBe(first.vapid_key);
  });

  it("accepts a form body with newline-separated redirect URIs", async () => {
    const reply = await send("POST", "/api/v1/apps", {
      form: {
        client_name: "toot",
        redirect_uris: "urn:ietf:wg:oauth:2.0:oob\nivory://callback/x",
        scopes: "read write",
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.json.redirect_uris).toEqual(["urn:ietf:wg:oauth:2.0:oob", "ivory://callback/x"]);
    expect(reply.json.redirect_uri).toBe("urn:ietf:wg:oauth:2.0:oob\nivory://callback/x");
    expect(reply.json.scopes).toEqual(["read", "write"]);
  });

  it("accepts form-encoded and JSON bodies without a Content-Type, multipart, and the query string", async () => {
    const noType = await send("POST", "/api/v1/apps", {
      raw: "client_name=Bare&redirect_uris=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob",
    });
    expect(noType.status).toBe(200);
    expect(noType.json.name).toBe("Bare");
    expect(noType.json.scopes).toEqual(["read"]);

    const jsonNoType = await send("POST", "/api/v1/apps", {
      raw: JSON.stringify({ client_name: "Bare JSON", redirect_uris: "https://a.example/cb" }),
    });
    expect(jsonNoType.status).toBe(200);
    expect(jsonNoType.json.redirect_uris).toEqual(["https://a.example/cb"]);

    const multipart = new FormData();
    multipart.set("client_name", "Multipart");
    multipart.append("redirect_uris[]", "https://m.example/1");
    multipart.append("redirect_uris[]", "https://m.example/2");
    multipart.set("scopes", "read write");
    const multi = await send("POST", "/api/v1/apps", { multipart });
    expect(multi.status).toBe(200);
    expect(multi.json.redirect_uris).toEqual(["https://m.example/1", "https://m.example/2"]);

    const query = new URLSearchParams({
      client_name: "Query",
      redirect_uris: "icecubesapp://",
      scopes: "read",
    });
    const viaQuery = await send("POST", `/api/v1/apps?${query}`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.json.redirect_uris).toEqual(["icecubesapp://"]);
  });

  it("refuses unknown scopes, a missing name and bad redirect URIs with 422, storing nothing", async () => {
    const before = rows(oauthApps);
    const cases: unknown[] = [
      { client_name: "X", redirect_uris: "https://a.example/cb", scopes: "read fly" },
      { redirect_uris: "https://a.example/cb" },
      { client_name: "   ", redirect_uris: "https://a.example/cb" },
      { client_name: "x".repeat(201), redirect_uris: "https://a.example/cb" },
      { client_name: "X" },
      { client_name: "X", redirect_uris: "/relative/callback" },
      { client_name: "X", redirect_uris: "javascript:alert(1)" },
      { client_name: "X", redirect_uris: "https://a.example/cb#fragment" },
      { client_name: "X", redirect_uris: "https://a.example/cb", website: "not a url" },
    ];
    for (const json of cases) {
      const reply = await send("POST", "/api/v1/apps", { json });
      expect(reply.status, JSON.stringify(json)).toBe(422);
      expect(typeof reply.json.error).toBe("string");
    }
    expect(rows(oauthApps)).toBe(before);
  });
});

describe("authorization code flow", () => {
  it("logs in, consents, redirects with code and state, and exchanges the code with PKCE S256", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin);
    const { verifier, challenge } = pkce();

    const first = await browser.get(
      authorizeUrl(app, { code_challenge: challenge, code_challenge_method: "S256" }),
    );
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("text/html");
    const login = mustForm(first.html, "login");
    expect(login.fields.map(([n]) => n)).toEqual(
      expect.arrayContaining(["username", "password", "csrf_token"]),
    );

    const consentPage = await browser.submit(login, { username: "alice", password: TEST_PASSWORD });
    expect(consentPage.status).toBe(200);
    expect(consentPage.html).toContain("Test client");
    expect(consentPage.html).toContain("<code>read</code>");
    expect(consentPage.html).toContain("<code>write</code>");
    expect(consentPage.html).not.toContain("<code>push</code>");
    const sessionCookie = browser.cookies.get("wren_session");
    expect(sessionCookie).toBeTruthy();

    const before = rows(oauthTokens);
    const done = await browser.submit(mustForm(consentPage.html, "consent"), {}, "authorize");
    expect(done.status).toBe(302);
    const location = done.headers.get("location") ?? "";
    expect(location.startsWith("https://app.example/callback?")).toBe(true);
    const { code, state } = codeFrom(location);
    expect(state).toBe("xyz 123");
    expect(code.length).toBeGreaterThan(30);
    expect(rows(oauthTokens)).toBe(before);

    // The code is stored hashed, with its scopes, redirect URI and challenge.
    const codeRow = server.context.store.db
      .select()
      .from(oauthCodes)
      .where(eq(oauthCodes.codeHash, hashSecret(code)))
      .get();
    expect(codeRow).toMatchObject({
      scopes: "read write",
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
    });
    expect((codeRow?.expiresAt ?? 0) - Date.now()).toBeGreaterThan(9 * 60_000);
    expect((codeRow?.expiresAt ?? 0) - Date.now()).toBeLessThanOrEqual(10 * 60_000);

    const reply = await exchange(app, code, verifier);
    expect(reply.status).toBe(200);
    expect(reply.headers.get("cache-control")).toContain("no-store");
    expect(reply.json).toMatchObject({ token_type: "Bearer", scope: "read write" });
    expect(typeof reply.json.access_token).toBe("string");
    expect(typeof reply.json.refresh_token).toBe("string");
    expect(reply.json).not.toHaveProperty("expires_in");
    expect(Math.abs(Number(reply.json.created_at) - Date.now() / 1000)).toBeLessThan(60);

    const accessToken = String(reply.json.access_token);
    const tokenRow = server.context.store.db
      .select()
      .from(oauthTokens)
      .where(eq(oauthTokens.tokenHash, hashSecret(accessToken)))
      .get();
    expect(tokenRow?.userId).not.toBeNull();
    expect(JSON.stringify(server.context.store.db.select().from(oauthTokens).all())).not.toContain(
      accessToken,
    );

    const verified = await verifyApp(accessToken);
    expect(verified.status).toBe(200);
    expect(verified.json).toMatchObject({
      id: app.id,
      name: "Test client",
      website: "https://app.example",
      scopes: ["read", "write", "follow", "push"],
      redirect_uri: "https://app.example/callback",
      redirect_uris: ["https://app.example/callback"],
    });
    expect(verified.json.vapid_key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect(verified.json).not.toHaveProperty("client_secret");
  });

  it("sets a hashed, HttpOnly, SameSite=Lax session cookie for 30 days (not Secure over http)", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin);
    const page = await browser.get(authorizeUrl(app));
    const before = rows(webSessions);
    const response = await fetch(`${origin}/oauth/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        "X-Forwarded-For": browser.address,
      },
      body: new URLSearchParams(
        mustForm(page.html, "login")
          .fields.filter(([n]) => n !== "username" && n !== "password")
          .concat([
            ["username", "alice"],
            ["password", TEST_PASSWORD],
          ]),
      ).toString(),
    });
    expect(response.status).toBe(200);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith("wren_session="));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Max-Age=2592000/i);
    expect(cookie).not.toMatch(/Secure/i);
    const value = (cookie ?? "").split(";")[0]?.split("=")[1] ?? "";
    expect(rows(webSessions)).toBe(before + 1);
    const session = server.context.store.db
      .select()
      .from(webSessions)
      .where(eq(webSessions.idHash, hashSecret(value)))
      .get();
    expect(session).toBeDefined();
  });

  it("also serves /oauth/authorize/ (toot) and redirects to custom schemes as registered", async () => {
    const app = await registerApp("com.tapbots.Ivory.19300:/request_token");
    const done = await clickThrough(new Browser(server.origin), authorizeUrl(app, {}, "/oauth/authorize/"));
    expect(done.status).toBe(302);
    const location = done.headers.get("location") ?? "";
    expect(location.startsWith("com.tapbots.Ivory.19300:/request_token?code=")).toBe(true);
    expect(codeFrom(location).state).toBe("xyz 123");

    const icecubes = await registerApp("icecubesapp://");
    const second = await clickThrough(new Browser(server.origin), authorizeUrl(icecubes));
    expect(second.headers.get("location")).toMatch(/^icecubesapp:\/\/\?code=/);
  });

  it("accepts PKCE plain", async () => {
    const app = await registerApp();
    const verifier = randomBytes(40).toString("base64url");
    const done = await clickThrough(
      new Browser(server.origin),
      authorizeUrl(app, { code_challenge: verifier, code_challenge_method: "plain" }),
    );
    const { code } = codeFrom(done.headers.get("location"));
    const reply = await exchange(app, code, verifier);
    expect(reply.status).toBe(200);
    expect((await verifyApp(String(reply.json.access_token))).status).toBe(200);
  });

  it("shows the code on a page for urn:ietf:wg:oauth:2.0:oob", async () => {
    const app = await registerApp("urn:ietf:wg:oauth:2.0:oob");
    const done = await clickThrough(new Browser(server.origin), authorizeUrl(app));
    expect(done.status).toBe(200);
    expect(done.headers.get("location")).toBeNull();
    const code = done.html.match(/<code id="code">([^<]+)<\/code>/)?.[1];
    expect(code).toBeTruthy();
    const reply = await token(app, {
      grant_type: "authorization_code",
      code: code ?? "",
      redirect_uri: "urn:ietf:wg:oauth:2.0:oob",
    });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("read write");
  });

  it("answers an unregistered redirect_uri or unknown client with a 400 page, never a redirect", async () => {
    const app = await registerApp();
    const before = snapshot();
    const browser = new Browser(server.origin);
    for (const url of [
      authorizeUrl(app, { redirect_uri: "https://evil.example/callback" }),
      authorizeUrl(app, { redirect_uri: "https://app.example/callback/extra" }),
      authorizeUrl({ ...app, client_id: "nope" }),
    ]) {
      const page = await browser.get(url);
      expect(page.status).toBe(400);
      expect(page.headers.get("location")).toBeNull();
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(findForm(page.html, "login")).toBeNull();
    }
    // A forged POST with a bad redirect_uri is refused the same way, even with a valid session and CSRF token.
    const page = await browser.get(authorizeUrl(app));
    const login = mustForm(page.html, "login");
    const forged = await browser.submit(login, {
      redirect_uri: "https://evil.example/callback",
      username: "alice",
      password: TEST_PASSWORD,
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get("location")).toBeNull();
    expect(snapshot()).toEqual(before);
  });

  it("redirects an invalid scope or response type back to the app as an error", async () => {
    const app = await registerApp("https://app.example/callback", "read");
    const browser = new Browser(server.origin);
    const scoped = await browser.get(authorizeUrl(app, { scope: "read write" }));
    expect(scoped.status).toBe(302);
    const scopeError = codeFrom(scoped.headers.get("location"));
    expect(scopeError.params.get("error")).toBe("invalid_scope");
    expect(scopeError.state).toBe("xyz 123");
    const typed = await browser.get(authorizeUrl(app, { response_type: "token", scope: "read" }));
    expect(codeFrom(typed.headers.get("location")).params.get("error")).toBe("unsupported_response_type");
  });

  it("redirects with error=access_denied when the user denies", async () => {
    const app = await registerApp();
    const before = rows(oauthCodes);
    const done = await clickThrough(new Browser(server.origin), authorizeUrl(app), "deny");
    expect(done.status).toBe(302);
    const { params, state } = codeFrom(done.headers.get("location"));
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("code")).toBeNull();
    expect(state).toBe("xyz 123");
    expect(rows(oauthCodes)).toBe(before);
  });

  it("needs one step with a session cookie, and shows the login again with force_login", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin);
    await codeFlow(app, browser);
    const sessions = rows(webSessions);

    const again = await browser.get(authorizeUrl(app));
    expect(again.status).toBe(200);
    expect(findForm(again.html, "login")).toBeNull();
    const done = await browser.submit(mustForm(again.html, "consent"), {}, "authorize");
    expect(done.status).toBe(302);
    expect(codeFrom(done.headers.get("location")).code).toBeTruthy();
    expect(rows(webSessions)).toBe(sessions);

    const forced = await browser.get(authorizeUrl(app, { force_login: "true" }));
    expect(forced.status).toBe(200);
    expect(findForm(forced.html, "login")).not.toBeNull();
    expect(findForm(forced.html, "consent")).toBeNull();
  });

  it("refuses a form without the CSRF token or cookie, changing nothing", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin);
    const page = await browser.get(authorizeUrl(app));
    const login = mustForm(page.html, "login");
    const before = snapshot();

    const noToken = await browser.submit(
      { ...login, fields: login.fields.filter(([n]) => n !== "csrf_token") },
      { username: "alice", password: TEST_PASSWORD },
    );
    expect(noToken.status).toBe(403);
    const stranger = new Browser(server.origin);
    const noCookie = await stranger.submit(login, { username: "alice", password: TEST_PASSWORD });
    expect(noCookie.status).toBe(403);
    const wrong = await browser.submit(login, {
      csrf_token: hashSecret("guess"),
      username: "alice",
      password: TEST_PASSWORD,
    });
    expect(wrong.status).toBe(403);
    expect(snapshot()).toEqual(before);

    // A consent post without a session leads back to the login, not to a code.
    const consent = await browser.submit(
      { ...login, fields: login.fields.map(([n, v]) => [n, n === "step" ? "consent" : v]) },
      {},
    );
    expect(consent.status).toBe(200);
    expect(findForm(consent.html, "login")).not.toBeNull();
    expect(consent.headers.get("location")).toBeNull();
    expect(rows(oauthCodes)).toBe(before.codes.length);
  });

  it("shows the login form again after a wrong password, without saying which part was wrong", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin, "198.51.100.20");
    const page = await browser.get(authorizeUrl(app));
    const before = snapshot();
    const wrongPassword = await browser.submit(mustForm(page.html, "login"), {
      username: "alice",
      password: "wrong password",
    });
    const wrongUser = await browser.submit(mustForm(page.html, "login"), {
      username: "bob",
      password: TEST_PASSWORD,
    });
    for (const reply of [wrongPassword, wrongUser]) {
      expect(reply.status).toBe(401);
      expect(findForm(reply.html, "login")).not.toBeNull();
      expect(reply.html).toContain("Wrong username or password.");
      expect(browser.cookies.has("wren_session")).toBe(false);
    }
    expect(snapshot()).toEqual(before);
  });
});

describe("POST /oauth/token", () => {
  it("fails a reused code and revokes the token issued from it", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const first = await exchange(app, code, verifier);
    expect(first.status).toBe(200);
    const accessToken = String(first.json.access_token);
    expect((await verifyApp(accessToken)).status).toBe(200);

    const tokensBefore = rows(oauthTokens);
    const again = await exchange(app, code, verifier);
    expect(again.status).toBe(400);
    expect(again.json.error).toBe("invalid_grant");
    expect(typeof again.json.error_description).toBe("string");
    expect(rows(oauthTokens)).toBe(tokensBefore);
    expect((await verifyApp(accessToken)).status).toBe(401);
    // The refresh token went with it.
    const refreshed = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(first.json.refresh_token),
    });
    expect(refreshed.json.error).toBe("invalid_grant");
  });

  it("revokes the refreshed descendants of a replayed code too", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const first = await exchange(app, code, verifier);
    const refreshed = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(first.json.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    expect((await verifyApp(String(refreshed.json.access_token))).status).toBe(200);
    expect((await exchange(app, code, verifier)).json.error).toBe("invalid_grant");
    expect((await verifyApp(String(refreshed.json.access_token))).status).toBe(401);
  });

  it("refuses a wrong or missing code_verifier, leaving the code usable", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const before = snapshot();
    const wrong = await exchange(app, code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe("invalid_grant");
    const missing = await token(app, {
      grant_type: "authorization_code",
      code,
      redirect_uri: app.redirect_uris[0] ?? "",
    });
    expect(missing.json.error).toBe("invalid_grant");
    expect(snapshot()).toEqual(before);
    expect((await exchange(app, code, verifier)).status).toBe(200);
  });

  it("refuses an expired code", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    server.context.store.db
      .update(oauthCodes)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(oauthCodes.codeHash, hashSecret(code)))
      .run();
    const before = snapshot();
    const reply = await exchange(app, code, verifier);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_grant");
    expect(snapshot()).toEqual(before);
  });

  it("refuses a code with another redirect_uri, another app's credentials, or a wrong secret", async () => {
    const app = await registerApp(["https://app.example/callback", "https://app.example/other"]);
    const other = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const before = snapshot();
    const otherUri = await token(app, {
      grant_type: "authorization_code",
      code,
      redirect_uri: "https://app.example/other",
      code_verifier: verifier,
    });
    expect(otherUri.json.error).toBe("invalid_grant");
    const otherApp = await exchange(other, code, verifier);
    expect(otherApp.json.error).toBe("invalid_grant");
    const badSecret = await exchange({ ...app, client_secret: "wrong" }, code, verifier);
    expect(badSecret.status).toBe(401);
    expect(badSecret.json.error).toBe("invalid_client");
    const unknown = await exchange({ ...app, client_id: "unknown" }, code, verifier);
    expect(unknown.status).toBe(401);
    expect(snapshot()).toEqual(before);
  });

  it("accepts client credentials by HTTP Basic, alone or with the same ones in the body", async () => {
    const app = await registerApp();
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret)}`).toString("base64")}`;
    const { code, verifier } = await codeFlow(app);
    const reply = await send("POST", "/oauth/token", {
      form: {
        grant_type: "authorization_code",
        code,
        redirect_uri: app.redirect_uris[0] ?? "",
        code_verifier: verifier,
      },
      headers: { Authorization: basic },
    });
    expect(reply.status).toBe(200);

    const both = await token(app, { grant_type: "client_credentials" }, { Authorization: basic });
    expect(both.status).toBe(200);

    const before = snapshot();
    const wrongBasic = `Basic ${Buffer.from(`${app.client_id}:nope`).toString("base64")}`;
    const refused = await send("POST", "/oauth/token", {
      form: { grant_type: "client_credentials" },
      headers: { Authorization: wrongBasic },
    });
    expect(refused.status).toBe(401);
    expect(refused.json.error).toBe("invalid_client");
    expect(refused.headers.get("www-authenticate")).toMatch(/^Basic/);
    const differ = await token(app, { grant_type: "client_credentials" }, { Authorization: wrongBasic });
    expect(differ.status).toBe(401);
    expect(snapshot()).toEqual(before);
  });

  it("issues an app token for client_credentials, within the app's scopes, without a refresh token", async () => {
    const app = await registerApp("https://app.example/callback", "read write");
    const reply = await send("POST", "/oauth/token", {
      json: { grant_type: "client_credentials", client_id: app.client_id, client_secret: app.client_secret },
    });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("read");
    expect(reply.json).not.toHaveProperty("refresh_token");
    const row = server.context.store.db
      .select()
      .from(oauthTokens)
      .where(eq(oauthTokens.tokenHash, hashSecret(String(reply.json.access_token))))
      .get();
    expect(row?.userId).toBeNull();
    expect((await verifyApp(String(reply.json.access_token))).status).toBe(200);

    const noType = await send("POST", "/oauth/token", {
      raw: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: app.client_id,
        client_secret: app.client_secret,
        scope: "read write",
      }).toString(),
    });
    expect(noType.status).toBe(200);
    expect(noType.json.scope).toBe("read write");

    const before = snapshot();
    const tooWide = await token(app, { grant_type: "client_credentials", scope: "read push" });
    expect(tooWide.status).toBe(400);
    expect(tooWide.json.error).toBe("invalid_scope");
    const unsupported = await token(app, { grant_type: "implicit" });
    expect(unsupported.json.error).toBe("unsupported_grant_type");
    const noGrant = await token(app, {});
    expect(noGrant.json.error).toBe("invalid_request");
    expect(snapshot()).toEqual(before);
  });

  it("issues a user token for the password grant (toot's CLI login)", async () => {
    const app = await registerApp("urn:ietf:wg:oauth:2.0:oob");
    const reply = await token(app, {
      grant_type: "password",
      username: "alice",
      password: TEST_PASSWORD,
      scope: "read write follow",
    });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("read write follow");
    expect(typeof reply.json.refresh_token).toBe("string");
    const row = server.context.store.db
      .select()
      .from(oauthTokens)
      .where(eq(oauthTokens.tokenHash, hashSecret(String(reply.json.access_token))))
      .get();
    expect(row?.userId).not.toBeNull();

    const before = snapshot();
    const wrong = await token(
      app,
      { grant_type: "password", username: "alice", password: "not it" },
      { "X-Forwarded-For": "198.51.100.30" },
    );
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe("invalid_grant");
    expect(snapshot()).toEqual(before);
  });

  it("rotates refresh tokens: new pair, old access and refresh tokens revoked", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const first = await exchange(app, code, verifier);
    const second = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(first.json.refresh_token),
    });
    expect(second.status).toBe(200);
    expect(second.json.scope).toBe("read write");
    expect(second.json.access_token).not.toBe(first.json.access_token);
    expect(second.json.refresh_token).not.toBe(first.json.refresh_token);
    expect((await verifyApp(String(first.json.access_token))).status).toBe(401);
    expect((await verifyApp(String(second.json.access_token))).status).toBe(200);

    const before = snapshot();
    const reused = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(first.json.refresh_token),
    });
    expect(reused.status).toBe(400);
    expect(reused.json.error).toBe("invalid_grant");
    const wider = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(second.json.refresh_token),
      scope: "read write push",
    });
    expect(wider.json.error).toBe("invalid_scope");
    expect(snapshot()).toEqual(before);

    const narrower = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(second.json.refresh_token),
      scope: "read",
    });
    expect(narrower.status).toBe(200);
    expect(narrower.json.scope).toBe("read");
  });
});

describe("POST /oauth/revoke", () => {
  it("revokes a token: it then gets 401 everywhere", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const issued = await exchange(app, code, verifier);
    const accessToken = String(issued.json.access_token);

    const other = await registerApp();
    const before = snapshot();
    const foreign = await send("POST", "/oauth/revoke", {
      form: { client_id: other.client_id, client_secret: other.client_secret, token: accessToken },
    });
    expect(foreign.status).toBe(403);
    const badSecret = await send("POST", "/oauth/revoke", {
      form: { client_id: app.client_id, client_secret: "nope", token: accessToken },
    });
    expect(badSecret.status).toBe(401);
    expect(snapshot()).toEqual(before);
    expect((await verifyApp(accessToken)).status).toBe(200);

    const reply = await send("POST", "/oauth/revoke", {
      json: { client_id: app.client_id, client_secret: app.client_secret, token: accessToken },
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({});
    expect((await verifyApp(accessToken)).status).toBe(401);
    const elsewhere = await send("GET", "/api/v1/instance", {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    expect(elsewhere.status).toBe(401);
    const refresh = await token(app, {
      grant_type: "refresh_token",
      refresh_token: String(issued.json.refresh_token),
    });
    expect(refresh.json.error).toBe("invalid_grant");

    const unknown = await send("POST", "/oauth/revoke", {
      form: { client_id: app.client_id, client_secret: app.client_secret, token: "no-such-token" },
    });
    expect(unknown.status).toBe(200);
  });

  it("revokes by refresh token, with HTTP Basic credentials", async () => {
    const app = await registerApp();
    const { code, verifier } = await codeFlow(app);
    const issued = await exchange(app, code, verifier);
    const reply = await send("POST", "/oauth/revoke", {
      form: { token: String(issued.json.refresh_token), token_type_hint: "refresh_token" },
      headers: {
        Authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64")}`,
      },
    });
    expect(reply.status).toBe(200);
    expect((await verifyApp(String(issued.json.access_token))).status).toBe(401);
  });
});

describe("failed-login rate limit", () => {
  it("answers 429 after five failures from one address, even with the right password", async () => {
    const app = await registerApp();
    const browser = new Browser(server.origin, "203.0.113.7");
    const page = await browser.get(authorizeUrl(app));
    const login = mustForm(page.html, "login");
    for (let i = 0; i < 5; i++) {
      const reply = await browser.submit(login, { username: "alice", password: `wrong ${i}` });
      expect(reply.status).toBe(401);
    }
    const before = snapshot();
    const blocked = await browser.submit(login, { username: "alice", password: TEST_PASSWORD });
    expect(blocked.status).toBe(429);
    expect(blocked.html).toMatch(/Too many failed login attempts\. Try again in 5 minutes\./);
    expect(blocked.headers.get("retry-after")).toBeTruthy();
    expect(browser.cookies.has("wren_session")).toBe(false);
    expect(snapshot()).toEqual(before);

    // The password grant shares the limit.
    const grant = await token(
      app,
      { grant_type: "password", username: "alice", password: TEST_PASSWORD },
      { "X-Forwarded-For": "203.0.113.7" },
    );
    expect(grant.status).toBe(429);
    expect(grant.json.error_description).toMatch(/Try again in 5 minutes/);

    // Another address is not affected.
    const done = await clickThrough(new Browser(server.origin, "203.0.113.8"), authorizeUrl(app));
    expect(done.status).toBe(302);
  });

  it("limits the password grant on its own as well", async () => {
    const app = await registerApp();
    const headers = { "X-Forwarded-For": "203.0.113.9" };
    for (let i = 0; i < 5; i++) {
      const reply = await token(
        app,
        { grant_type: "password", username: "alice", password: "nope" },
        headers,
      );
      expect(reply.status).toBe(400);
    }
    const blocked = await token(
      app,
      { grant_type: "password", username: "alice", password: TEST_PASSWORD },
      headers,
    );
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBeTruthy();
  });

  it("keeps a bounded number of addresses and forgets old failures", () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 1000, maxKeys: 3 });
    limiter.hit("a", 0);
    limiter.hit("a", 10);
    expect(limiter.retryAfterMs("a", 20)).toBe(980);
    expect(limiter.retryAfterMs("a", 999)).toBe(1);
    expect(limiter.retryAfterMs("a", 1000)).toBe(0);
    for (const key of ["b", "c", "d", "e"]) limiter.hit(key, 2000);
    expect(limiter.size).toBe(3);
    limiter.reset("e");
    expect(limiter.retryAfterMs("e", 2000)).toBe(0);
    expect(addressKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
  });
});

describe("scopes", () => {
  it("requireUser refuses a read-only token on a write endpoint with 403", async () => {
    // A one-route app puts authenticate + requireUser in front of tokens obtained through the real endpoints.
    const app = await registerApp();
    const readOnly = String(
      (
        await token(app, {
          grant_type: "password",
          username: "alice",
          password: TEST_PASSWORD,
          scope: "read",
        })
      ).json.access_token,
    );
    const writer = String(
      (
        await token(app, {
          grant_type: "password",
          username: "alice",
          password: TEST_PASSWORD,
          scope: "write",
        })
      ).json.access_token,
    );
    const appToken = String(
      (await token(app, { grant_type: "client_credentials", scope: "write" })).json.access_token,
    );

    const probe = new Hono<ApiEnv>();
    probe.use("*", authenticate(server.context));
    probe.post("/api/v1/statuses", (c) => c.json({ user: requireUser(c, "write:statuses").userId }));
    probe.onError((error, c) =>
      c.json({ error: error.message }, ((error as { status?: number }).status ?? 500) as 401),
    );
    const call = (bearer: string) =>
      probe.request("/api/v1/statuses", { method: "POST", headers: { Authorization: `Bearer ${bearer}` } });
    expect((await call(readOnly)).status).toBe(403);
    expect((await call(writer)).status).toBe(200);
    expect((await call(appToken)).status).toBe(422);
    expect((await call("bogus")).status).toBe(401);

    // And through a real write endpoint of the API (POST /api/v1/markers needs write:statuses).
    const markers = (bearer: string) =>
      send("POST", "/api/v1/markers", {
        json: { home: { last_read_id: "1" } },
        headers: { Authorization: `Bearer ${bearer}` },
      });
    expect((await markers(readOnly)).status).toBe(403);
    expect((await markers(writer)).status).not.toBe(403);
  });
});

describe("GET /.well-known/oauth-authorization-server", () => {
  it("describes the endpoints as Mastodon 4.3 does", async () => {
    const reply = await send("GET", "/.well-known/oauth-authorization-server");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("access-control-allow-origin")).toBe("*");
    expect(reply.json).toMatchObject({
      issuer: `${origin}/`,
      authorization_endpoint: `${origin}/oauth/authorize`,
      token_endpoint: `${origin}/oauth/token`,
      app_registration_endpoint: `${origin}/api/v1/apps`,
      revocation_endpoint: `${origin}/oauth/revoke`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "password", "client_credentials", "refresh_token"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256"],
    });
    expect(typeof reply.json.service_documentation).toBe("string");
    expect(reply.json.scopes_supported).toEqual(
      expect.arrayContaining(["read", "write", "follow", "push", "profile"]),
    );
    expect(reply.json.response_modes_supported).toEqual(expect.arrayContaining(["query"]));
  });
});
