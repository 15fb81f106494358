/** Figures the instance endpoints publish: post counts, the domains we know, weekly activity. */
import { and, asc, count, countDistinct, eq, gte, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { accounts, oauthTokens, statuses } from "./schema.js";

/** Domains of the remote accounts we know and that are not gone, sorted. */
export function knownDomains(db: Db): string[] {
  return db
    .selectDistinct({ domain: accounts.domain })
    .from(accounts)
    .where(and(isNotNull(accounts.domain), isNull(accounts.goneAt)))
    .orderBy(asc(accounts.domain))
    .all()
    .flatMap((r) => (r.domain === null ? [] : [r.domain]));
}

export function countKnownDomains(db: Db): number {
  return (
    db
      .select({ n: countDistinct(accounts.domain) })
      .from(accounts)
      .where(and(isNotNull(accounts.domain), isNull(accounts.goneAt)))
      .get()?.n ?? 0
  );
}

/** The account's own posts per week since `oldest`: week index (0 = the week starting at `oldest`) → count. */
export function weeklyPostCounts(
  db: Db,
  accountId: string,
  oldest: number,
  weekMs: number,
): Map<number, number> {
  // Integers computed here, inlined so the GROUP BY expression is the selected one exactly.
  const bucket = sql<number>`(${statuses.createdAt} - ${sql.raw(String(Math.floor(oldest)))}) / ${sql.raw(String(Math.floor(weekMs)))}`;
  const rows = db
    .select({ bucket, n: count() })
    .from(statuses)
    .where(
      and(
        eq(statuses.accountId, accountId),
        isNull(statuses.reblogOfId),
        isNull(statuses.deletedAt),
        gte(statuses.createdAt, oldest),
      ),
    )
    .groupBy(bucket)
    .all();
  return new Map(rows.map((r) => [Number(r.bucket), r.n]));
}

/** When user tokens were made or last used, for those made or used since `since` (at most `limit`). */
export function recentTokenUse(
  db: Db,
  since: number,
  limit: number,
): { createdAt: number; lastUsedAt: number | null }[] {
  return db
    .select({ createdAt: oauthTokens.createdAt, lastUsedAt: oauthTokens.lastUsedAt })
    .from(oauthTokens)
    .where(
      and(
        isNotNull(oauthTokens.userId),
        or(gte(oauthTokens.createdAt, since), gte(oauthTokens.lastUsedAt, since)),
      ),
    )
    .limit(limit)
    .all();
}
