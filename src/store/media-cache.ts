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

export function cachedMediaByUrl(db: Db, url: string): RemoteMediaRow | null {
  return queries(db).byUrl.get({ url }) ?? null;
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
