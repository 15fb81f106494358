import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
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

const liveIdsQuery = preparedPerDb((db) =>
  db
    .select({ id: oauthTokens.id })
    .from(oauthTokens)
    .where(
      and(
        inList(oauthTokens.id, "ids"),
        isNull(oauthTokens.revokedAt),
        sql`(${oauthTokens.expiresAt} IS NULL OR ${oauthTokens.expiresAt} > ${sql.placeholder("now")})`,
      ),
    )
    .prepare(),
);

/** Which of these token ids are still valid (not revoked, not expired). */
export function liveTokenIds(db: Db, ids: string[], now = Date.now()): Set<string> {
  if (ids.length === 0) return new Set();
  return new Set(
    liveIdsQuery(db)
      .all({ ids: JSON.stringify(ids), now })
      .map((r) => r.id),
  );
}
