/** Hashtags: lookups by name, the search by prefix, and following them. */
import { asc, eq, inArray, sql } from "drizzle-orm";
import { newId } from "./ids.js";
import type { Db } from "./open.js";
import { tags } from "./schema.js";
import { likeEscape } from "./search.js";

export type TagRow = typeof tags.$inferSelect;

export function findTagsByNames(db: Db, names: string[]): TagRow[] {
  const lower = [...new Set(names.map((n) => n.toLowerCase()))];
  if (lower.length === 0) return [];
  return db.select().from(tags).where(inArray(tags.name, lower)).all();
}

export function findTagByName(db: Db, name: string): TagRow | null {
  return db.select().from(tags).where(eq(tags.name, name.toLowerCase())).get() ?? null;
}

/** Tags whose name starts with `prefix` (lower case): the exact name first, then the shortest. */
export function searchTags(db: Db, prefix: string, limit: number, offset: number): TagRow[] {
  return db
    .select()
    .from(tags)
    .where(sql`${tags.name} LIKE ${`${likeEscape(prefix)}%`} ESCAPE '\\'`)
    .orderBy(
      sql`CASE WHEN ${tags.name} = ${prefix} THEN 0 ELSE 1 END`,
      sql`length(${tags.name})`,
      asc(tags.name),
    )
    .limit(limit)
    .offset(offset)
    .all();
}

/** Follows or unfollows a hashtag; following one nobody used yet creates it. */
export function setTagFollowed(db: Db, name: string, followed: boolean, now = Date.now()): void {
  if (followed) {
    db.insert(tags)
      .values({ id: newId(now), name: name.toLowerCase(), displayName: name, followed, createdAt: now })
      .onConflictDoUpdate({ target: tags.name, set: { followed } })
      .run();
  } else db.update(tags).set({ followed }).where(eq(tags.name, name.toLowerCase())).run();
}
