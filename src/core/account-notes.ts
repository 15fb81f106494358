/** The local account's private note on another account (the Relationship's `note`). */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { accountNotes } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";

/** Mastodon's limit for a note. */
export const MAX_ACCOUNT_NOTE = 2000;

/** Sets the note on `target`; an empty comment removes it. */
export function setAccountNote(ctx: Context, target: AccountRow, comment: string): void {
  const local = requireLocalAccount(ctx);
  if (target.id === local.id) throw new UserError("you cannot write a note on yourself");
  if ([...comment].length > MAX_ACCOUNT_NOTE)
    throw new UserError(`comment must have at most ${MAX_ACCOUNT_NOTE} characters`);
  if (comment.trim() === "") {
    ctx.store.db.delete(accountNotes).where(eq(accountNotes.targetId, target.id)).run();
    return;
  }
  const now = Date.now();
  ctx.store.db
    .insert(accountNotes)
    .values({ targetId: target.id, comment, updatedAt: now })
    .onConflictDoUpdate({ target: accountNotes.targetId, set: { comment, updatedAt: now } })
    .run();
}
