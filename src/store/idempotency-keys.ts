import { and, eq, gte, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { idempotencyKeys } from "./schema.js";

const queries = preparedPerDb((db) => ({
  statusId: db
    .select({ statusId: idempotencyKeys.statusId })
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.tokenId, sql.placeholder("tokenId")),
        eq(idempotencyKeys.key, sql.placeholder("key")),
        gte(idempotencyKeys.createdAt, sql.placeholder("since")),
      ),
    )
    .prepare(),
}));

/** The status a token's Idempotency-Key made, if the key was used at `since` or later. */
export function findIdempotentStatusId(db: Db, tokenId: string, key: string, since: number): string | null {
  return queries(db).statusId.get({ tokenId, key, since })?.statusId ?? null;
}
