import { eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { mediaAttachments } from "./schema.js";
import type { MediaRow } from "./statuses.js";

// The file route looks a row up for every image a timeline shows.
const queries = preparedPerDb((db) => ({
  byId: db
    .select()
    .from(mediaAttachments)
    .where(eq(mediaAttachments.id, sql.placeholder("id")))
    .prepare(),
  byIds: db.select().from(mediaAttachments).where(inList(mediaAttachments.id, "ids")).prepare(),
}));

export function findMediaById(db: Db, id: string): MediaRow | null {
  return queries(db).byId.get({ id }) ?? null;
}

/** Media rows by id, in no particular order (missing ones left out). */
export function findMediaByIds(db: Db, ids: string[]): MediaRow[] {
  return ids.length === 0 ? [] : queries(db).byIds.all({ ids: JSON.stringify(ids) });
}
