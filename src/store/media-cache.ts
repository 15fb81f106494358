import { eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { remoteMedia } from "./schema.js";

export type RemoteMediaRow = typeof remoteMedia.$inferSelect;

// Rendering an account or an attachment looks its remote URL up; the file route looks files up by id.
const queries = preparedPerDb((db) => ({
  byUrl: db
    .select()
    .from(remoteMedia)
    .where(eq(remoteMedia.url, sql.placeholder("url")))
    .prepare(),
  byId: db
    .select()
    .from(remoteMedia)
    .where(eq(remoteMedia.id, sql.placeholder("id")))
    .prepare(),
}));

/**
 * Every avatar, header and attachment of a timeline page looks its URL up, a hundred lookups a page: the
 * answers are kept in memory, bounded, for a minute at most (a `wren` command in another process may change
 * rows), and forgotten whenever this process changes a row (`forgetCachedMedia`, called by media/cache.ts).
 */
const MEMO_MAX = 10_000;
const MEMO_TTL_MS = 60_000;
const memos = new WeakMap<Db, Map<string, { row: RemoteMediaRow | null; at: number }>>();

export function cachedMediaByUrl(db: Db, url: string): RemoteMediaRow | null {
  let memo = memos.get(db);
  if (!memo) {
    memo = new Map();
    memos.set(db, memo);
  }
  const now = Date.now();
  const hit = memo.get(url);
  if (hit && now - hit.at < MEMO_TTL_MS) return hit.row;
  const row = queries(db).byUrl.get({ url }) ?? null;
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(url, { row, at: now });
  return row;
}

/** After a change to `remote_media`: the next lookups read the database again. */
export function forgetCachedMedia(db: Db): void {
  memos.get(db)?.clear();
}

export function cachedMediaById(db: Db, id: string): RemoteMediaRow | null {
  return queries(db).byId.get({ id }) ?? null;
}

/** Bytes of the files in the cache (originals and previews). */
export function cachedBytes(db: Db): number {
  return (
    db
      .select({ total: sql<number>`coalesce(sum(${remoteMedia.bytes}), 0)` })
      .from(remoteMedia)
      .where(eq(remoteMedia.state, "done"))
      .get()?.total ?? 0
  );
}
