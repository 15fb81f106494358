/**
 * The owner's credentials as the settings page changes them: the password (which ends every other browser
 * session and every app's access) and the apps' tokens one by one.
 */
import { and, eq, isNull, ne } from "drizzle-orm";
import type { Context } from "../context.js";
import { findLocalUser } from "../store/accounts.js";
import { oauthTokens, users, webSessions } from "../store/schema.js";
import { UserError } from "./account.js";
import { hashPassword, passwordProblem, verifyPassword } from "./password.js";
import { hashSecret } from "./secrets.js";
import { commit } from "./unit-of-work.js";

/** Whether `password` is the local user's. */
export async function passwordIsRight(ctx: Context, userId: string, password: string): Promise<boolean> {
  const local = findLocalUser(ctx.store.db);
  if (!local || local.user.id !== userId || password === "") return false;
  return verifyPassword(password, local.user.passwordHash);
}

/**
 * Sets a new password after checking the current one, then ends every browser session but `keepSessionId`
 * (this browser's) and revokes every OAuth token of the user: whoever knew the old password is out.
 */
export async function changeOwnPassword(
  ctx: Context,
  input: { userId: string; current: string; next: string; keepSessionId: string | undefined },
): Promise<{ revokedTokens: number; endedSessions: number }> {
  if (!(await passwordIsRight(ctx, input.userId, input.current)))
    throw new UserError("the current password is not right", 403);
  const problem = passwordProblem(input.next);
  if (problem) throw new UserError(problem);
  const passwordHash = await hashPassword(input.next);
  return commit(ctx, () => {
    const { db } = ctx.store;
    const now = Date.now();
    db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, input.userId)).run();
    const keep = input.keepSessionId ? hashSecret(input.keepSessionId) : "";
    const endedSessions = db
      .delete(webSessions)
      .where(and(eq(webSessions.userId, input.userId), ne(webSessions.idHash, keep)))
      .run().changes;
    const revokedTokens = db
      .update(oauthTokens)
      .set({ revokedAt: now })
      .where(and(eq(oauthTokens.userId, input.userId), isNull(oauthTokens.revokedAt)))
      .run().changes;
    return { revokedTokens, endedSessions };
  });
}

/** Revokes one of the user's tokens (from the authorized apps list). Unknown or already revoked: 404. */
export function revokeUserToken(ctx: Context, userId: string, tokenId: string): void {
  commit(ctx, () => {
    const changed = ctx.store.db
      .update(oauthTokens)
      .set({ revokedAt: Date.now() })
      .where(and(eq(oauthTokens.id, tokenId), eq(oauthTokens.userId, userId), isNull(oauthTokens.revokedAt)))
      .run().changes;
    if (changed === 0) throw new UserError("no such authorization", 404);
  });
}
