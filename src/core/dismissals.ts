import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "../context.js";
import { notifications } from "../store/schema.js";

/** Hides one notification (the row stays, with dismissed_at set). False when there is no such visible one. */
export function dismissNotification(ctx: Context, id: string, now = Date.now()): boolean {
  return (
    ctx.store.db
      .update(notifications)
      .set({ dismissedAt: now })
      .where(and(eq(notifications.id, id), isNull(notifications.dismissedAt)))
      .run().changes > 0
  );
}

/** Deletes every notification. */
export function clearNotifications(ctx: Context): void {
  ctx.store.db.delete(notifications).run();
}
