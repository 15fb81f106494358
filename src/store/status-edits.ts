import { asc, eq } from "drizzle-orm";
import type { Db } from "./open.js";
import { statusEdits } from "./schema.js";

export type StatusEditRow = typeof statusEdits.$inferSelect;

/** The earlier versions of a status, oldest first. */
export function findStatusEdits(db: Db, statusId: string): StatusEditRow[] {
  return db
    .select()
    .from(statusEdits)
    .where(eq(statusEdits.statusId, statusId))
    .orderBy(asc(statusEdits.createdAt), asc(statusEdits.id))
    .all();
}
