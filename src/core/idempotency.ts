import { lt } from "drizzle-orm";
import type { Context } from "../context.js";
import { transaction } from "../store/open.js";
import { idempotencyKeys } from "../store/schema.js";

/** How long a repeated Idempotency-Key returns the status made the first time (Mastodon keeps it an hour). */
export const IDEMPOTENCY_TTL_MS = 60 * 60 * 1000;

/** Remembers which status a token's Idempotency-Key made. Expired keys go as new ones come. */
export function rememberIdempotencyKey(
  ctx: Context,
  tokenId: string,
  key: string,
  statusId: string,
  now = Date.now(),
): void {
  transaction(ctx.store, () => {
    const db = ctx.store.db;
    db.delete(idempotencyKeys)
      .where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_TTL_MS))
      .run();
    db.insert(idempotencyKeys)
      .values({ key, tokenId, statusId, createdAt: now })
      .onConflictDoUpdate({
        target: [idempotencyKeys.tokenId, idempotencyKeys.key],
        set: { statusId, createdAt: now },
      })
      .run();
  });
}
