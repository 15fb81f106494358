/**
 * Muting a conversation (a thread): notifications about its statuses stop (isMutedForNotifications in
 * visibility.ts), and every status of the thread shows `muted: true`. Private: nothing is sent.
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { conversationMutes } from "../store/schema.js";
import type { StatusRow } from "../store/statuses.js";
import { requireLocalAccount } from "./common.js";
import { threadKey } from "./visibility.js";

export function setConversationMuted(ctx: Context, status: StatusRow, muted: boolean): void {
  requireLocalAccount(ctx);
  const key = threadKey(status);
  if (muted) {
    ctx.store.db
      .insert(conversationMutes)
      .values({ conversationUri: key, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
  } else ctx.store.db.delete(conversationMutes).where(eq(conversationMutes.conversationUri, key)).run();
}
