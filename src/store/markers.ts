import { eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { markers } from "./schema.js";

export type MarkerRow = typeof markers.$inferSelect;

// Apps read the notifications marker with every unread count.
const queries = preparedPerDb((db) => ({
  all: db.select().from(markers).prepare(),
  one: db
    .select()
    .from(markers)
    .where(eq(markers.timeline, sql.placeholder("timeline")))
    .prepare(),
}));

/** The read markers of every timeline that has one. */
export function findMarkers(db: Db): MarkerRow[] {
  return queries(db).all.all();
}

export function findMarker(db: Db, timeline: string): MarkerRow | null {
  return queries(db).one.get({ timeline }) ?? null;
}
