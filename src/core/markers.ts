import { sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { findMarkers, type MarkerRow } from "../store/markers.js";
import { transaction } from "../store/open.js";
import { markers } from "../store/schema.js";

/** Sets the last read id of each timeline given (timeline → id), bumping its version; returns those markers. */
export function saveMarkers(ctx: Context, updates: Map<string, string>, now = Date.now()): MarkerRow[] {
  return transaction(ctx.store, () => {
    for (const [timeline, lastReadId] of updates) {
      ctx.store.db
        .insert(markers)
        .values({ timeline, lastReadId, version: 1, updatedAt: now })
        .onConflictDoUpdate({
          target: markers.timeline,
          set: { lastReadId, version: sql`${markers.version} + 1`, updatedAt: now },
        })
        .run();
    }
    return findMarkers(ctx.store.db).filter((m) => updates.has(m.timeline));
  });
}
