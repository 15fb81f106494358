import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import type { AccountRow } from "../store/accounts.js";
import { ResolveError, resolveActor, resolveHandle } from "./resolve.js";

/**
 * The account named by a handle (`user@host`, `@user@host`) or an actor URI. With `fresh`, the actor
 * document is fetched again whatever the stored copy's age (a move must see the target's current aliases).
 */
export async function resolveAccountRef(ctx: Context, ref: string, fresh: boolean): Promise<AccountRow> {
  try {
    if (/^https?:\/\//i.test(ref)) return await resolveActor(ctx, ref, { refresh: fresh });
    const account = await resolveHandle(ctx, ref);
    if (!fresh || account.domain === null) return account;
    return await resolveActor(ctx, account.uri, { refresh: true });
  } catch (error) {
    if (error instanceof ResolveError) throw new UserError(`cannot resolve ${ref}: ${error.message}`);
    throw error;
  }
}
