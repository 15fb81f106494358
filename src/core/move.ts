/**
 * Account migration, the owner's side: aliases (the accounts the owner says it also is, published as
 * `alsoKnownAs`, so a Move from one of them to us is believed), moving out (`movedTo` and a Move to the
 * followers) and deleting the account. Synchronous use cases: the caller resolves remote accounts first
 * (for a move, with a fresh fetch of the target).
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { findAccountByUri } from "../store/account-lookups.js";
import type { AccountRow } from "../store/accounts.js";
import { accounts } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { commit } from "./unit-of-work.js";

/** The owner's aliases (actor URIs), in the order they were added. */
export function listAliases(ctx: Context): string[] {
  return requireLocalAccount(ctx).alsoKnownAs;
}

function setAccount(ctx: Context, local: AccountRow, changes: Partial<typeof accounts.$inferInsert>) {
  // updatedAt names the Update activity: it must change with every change others are told of.
  const updatedAt = Math.max(Date.now(), local.updatedAt + 1);
  ctx.store.db
    .update(accounts)
    .set({ ...changes, updatedAt })
    .where(eq(accounts.id, local.id))
    .run();
  const updated = findAccountByUri(ctx.store.db, local.uri);
  if (!updated) throw new Error("the local account vanished");
  return updated;
}

/**
 * Adds `uri` (an actor URI, already resolved) to the owner's alsoKnownAs and tells the followers
 * (Update of the actor). Adding an alias already there changes nothing.
 */
export function addAlias(ctx: Context, uri: string): AccountRow {
  return commit(ctx, (uow) => {
    const local = requireLocalAccount(ctx);
    if (uri === local.uri) throw new UserError("an account cannot be its own alias");
    if (local.alsoKnownAs.includes(uri)) return local;
    const updated = setAccount(ctx, local, { alsoKnownAs: [...local.alsoKnownAs, uri] });
    uow.record({ type: "ProfileUpdated", account: updated });
    return updated;
  });
}

/** Removes `uri` from the owner's alsoKnownAs; 404 when it is not an alias. */
export function removeAlias(ctx: Context, uri: string): AccountRow {
  return commit(ctx, (uow) => {
    const local = requireLocalAccount(ctx);
    if (!local.alsoKnownAs.includes(uri)) throw new UserError(`${uri} is not an alias`, 404);
    const updated = setAccount(ctx, local, { alsoKnownAs: local.alsoKnownAs.filter((a) => a !== uri) });
    uow.record({ type: "ProfileUpdated", account: updated });
    return updated;
  });
}

/**
 * Moves the owner to `targetUri`, an account the caller has just fetched afresh (resolveActor with
 * `refresh`): refused unless it lists the owner in alsoKnownAs, as every receiver of the Move will check.
 * Sets movedTo and records AccountMoved (the outbox sends the Update of the actor and the Move to the
 * followers). The owner keeps its follows and may still follow and unfollow, as on Mastodon.
 */
export function moveAccount(ctx: Context, targetUri: string): { account: AccountRow; target: AccountRow } {
  return commit(ctx, (uow) => {
    const local = requireLocalAccount(ctx);
    const target = findAccountByUri(ctx.store.db, targetUri);
    if (!target) throw new UserError(`${targetUri} is not a known account: resolve it first`, 404);
    if (target.id === local.id) throw new UserError("an account cannot move to itself");
    if (target.goneAt !== null) throw new UserError(`${targetUri} is gone`);
    if (target.movedToUri) throw new UserError(`${targetUri} has itself moved to ${target.movedToUri}`);
    if (!target.alsoKnownAs.includes(local.uri)) {
      throw new UserError(
        `${targetUri} does not list ${local.uri} as an alias (alsoKnownAs): add the alias on the new account first`,
      );
    }
    const account = setAccount(ctx, local, { movedToUri: target.uri });
    uow.record({ type: "AccountMoved", account, target });
    return { account, target };
  });
}

/** Clears movedTo (Mastodon allows it after a move) and tells the followers; false when there was none. */
export function cancelMove(ctx: Context): boolean {
  return commit(ctx, (uow) => {
    const local = requireLocalAccount(ctx);
    if (!local.movedToUri) return false;
    uow.record({ type: "ProfileUpdated", account: setAccount(ctx, local, { movedToUri: null }) });
    return true;
  });
}

/**
 * The first half of deleting the account: records AccountDeleted, for which the outbox queues a Delete of
 * the actor to every server that knows it. The data is wiped afterwards (src/cli/account-delete.ts), once
 * the deliveries, which need the account's key, are over.
 */
export function announceAccountDeletion(ctx: Context): AccountRow {
  return commit(ctx, (uow) => {
    const local = requireLocalAccount(ctx);
    uow.record({ type: "AccountDeleted", account: local });
    return local;
  });
}
