import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { oauthTokens } from "./schema.js";

// Every API request looks its token up, so the statement is prepared once.
const queries = preparedPerDb((db) => ({
  byHash: db
    .select()
    .from(oauthTokens)
    .where(and(eq(oauthTokens.tokenHash, sql.placeholder("hash")), isNull(oauthTokens.revokedAt)))
    .prepare(),
}));

/** The token with this hash, unless it was revoked or has expired. */
export function findLiveToken(
  db: Db,
  tokenHash: string,
  now = Date.now(),
): typeof oauthTokens.$inferSelect | null {
  const row = queries(db).byHash.get({ hash: tokenHash });
  if (!row || (row.expiresAt !== null && row.expiresAt <= now)) return null;
  return row;
}
