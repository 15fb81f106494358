/** Local accounts that were deleted (see `deletedActors` in schema.ts). */
import { sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { deletedActors } from "./schema.js";

/** True when a local account with this username (case-insensitive, as usernames are) was deleted. */
export function isDeletedUsername(db: Db, username: string): boolean {
  return (
    db
      .select({ uri: deletedActors.uri })
      .from(deletedActors)
      .where(sql`lower(${deletedActors.username}) = lower(${username})`)
      .get() !== undefined
  );
}

export function recordDeletedActor(db: Db, uri: string, username: string, now = Date.now()): void {
  db.insert(deletedActors).values({ uri, username, deletedAt: now }).onConflictDoNothing().run();
}
