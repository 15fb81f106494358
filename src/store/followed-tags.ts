import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { statusTags, tags } from "./schema.js";
import type { TagRow } from "./statuses.js";

/** Hashtags marked as followed, by name. */
export function listFollowedTags(db: Db, limit: number): TagRow[] {
  return db.select().from(tags).where(eq(tags.followed, true)).orderBy(asc(tags.name)).limit(limit).all();
}

const carries = preparedPerDb((db) =>
  db
    .select({ id: tags.id })
    .from(statusTags)
    .innerJoin(tags, eq(tags.id, statusTags.tagId))
    .where(and(eq(statusTags.statusId, sql.placeholder("id")), eq(tags.followed, true)))
    .limit(1)
    .prepare(),
);

/** Whether a stored status carries a hashtag the local account follows. */
export function carriesFollowedTag(db: Db, statusId: string): boolean {
  return carries(db).get({ id: statusId }) !== undefined;
}

/** Whether any of these hashtag names (any case, without '#') is followed. */
export function followsAnyTag(db: Db, names: string[]): boolean {
  const lower = [...new Set(names.map((n) => n.toLowerCase()))].slice(0, 100);
  if (lower.length === 0) return false;
  return (
    db
      .select({ id: tags.id })
      .from(tags)
      .where(and(inArray(tags.name, lower), eq(tags.followed, true)))
      .limit(1)
      .get() !== undefined
  );
}
