import { asc, eq } from "drizzle-orm";
import type { Db } from "./open.js";
import { tags } from "./schema.js";
import type { TagRow } from "./statuses.js";

/** Hashtags marked as followed, by name. */
export function listFollowedTags(db: Db, limit: number): TagRow[] {
  return db.select().from(tags).where(eq(tags.followed, true)).orderBy(asc(tags.name)).limit(limit).all();
}
