import { hashSecret, newSecret } from "../../src/core/secrets.js";
import { findLocalUser } from "../../src/store/accounts.js";
import { newId } from "../../src/store/ids.js";
import { oauthApps, oauthTokens } from "../../src/store/schema.js";
import type { TestServer } from "./server.js";

/**
 * A registered app and a user token written straight into the store, for API tests that are not about OAuth
 * itself (test/oauth.test.ts covers the real flows). Returns the bearer token.
 */
export function issueToken(server: TestServer, scopes = "read write follow push"): string {
  const { db } = server.context.store;
  const user = findLocalUser(db)?.user;
  if (!user) throw new Error("issueToken needs the local account: start the server with { account }");
  const now = Date.now();
  const appId = newId(now);
  db.insert(oauthApps)
    .values({
      id: appId,
      name: "test app",
      website: null,
      redirectUris: ["urn:ietf:wg:oauth:2.0:oob"],
      scopes,
      clientId: newSecret(),
      clientSecretHash: hashSecret(newSecret()),
      createdAt: now,
    })
    .run();
  const token = newSecret();
  db.insert(oauthTokens)
    .values({ id: newId(now), tokenHash: hashSecret(token), appId, userId: user.id, scopes, createdAt: now })
    .run();
  return token;
}

/** fetch against the test server's API with a bearer token and JSON body. */
export async function api(
  server: TestServer,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json };
}
