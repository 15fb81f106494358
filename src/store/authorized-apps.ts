import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import type { Db } from "./open.js";
import { oauthApps, oauthTokens } from "./schema.js";

export interface AuthorizedToken {
  id: string;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
}

export interface AuthorizedApp {
  appId: string;
  name: string;
  website: string | null;
  tokens: AuthorizedToken[];
}

/** The apps holding a live token of the user (client_credentials tokens act for no user and are left out). */
export function authorizedApps(db: Db, userId: string, now = Date.now()): AuthorizedApp[] {
  const rows = db
    .select({
      id: oauthTokens.id,
      scopes: oauthTokens.scopes,
      createdAt: oauthTokens.createdAt,
      lastUsedAt: oauthTokens.lastUsedAt,
      appId: oauthApps.id,
      name: oauthApps.name,
      website: oauthApps.website,
    })
    .from(oauthTokens)
    .innerJoin(oauthApps, eq(oauthApps.id, oauthTokens.appId))
    .where(
      and(
        eq(oauthTokens.userId, userId),
        isNull(oauthTokens.revokedAt),
        or(isNull(oauthTokens.expiresAt), gt(oauthTokens.expiresAt, now)),
      ),
    )
    .orderBy(asc(oauthApps.name), asc(oauthTokens.id))
    .all();
  const apps = new Map<string, AuthorizedApp>();
  for (const row of rows) {
    let app = apps.get(row.appId);
    if (!app) {
      app = { appId: row.appId, name: row.name, website: row.website, tokens: [] };
      apps.set(row.appId, app);
    }
    app.tokens.push({
      id: row.id,
      scopes: row.scopes.split(" ").filter((s) => s !== ""),
      createdAt: row.createdAt,
      lastUsedAt: row.lastUsedAt,
    });
  }
  return [...apps.values()];
}
