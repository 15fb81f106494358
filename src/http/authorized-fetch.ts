/**
 * Who fetches the owner's ActivityPub objects, and whether they may: the HTTP signature of a GET is verified
 * here. With `federation.authorized_fetch` on (Mastodon's secure mode) the owner's posts and collections need
 * a valid signature (401 without one) by an actor that is neither blocked nor on a blocked domain (403);
 * instance actors of other servers sign like anyone else. With it off, a signature is only checked when one
 * is sent (followers-only and direct posts need it).
 */
import type { Context as HonoContext } from "hono";
import type { Context } from "../context.js";
import { isBlocked, isDomainBlockedHost } from "../core/visibility.js";
import { lookupPublicKey } from "../federation/resolve.js";
import { verifyRequest } from "../federation/signatures/index.js";
import { findAccountByUri } from "../store/account-lookups.js";
import type { AccountRow } from "../store/accounts.js";
import { HttpError } from "./errors.js";

/** Whether authorized fetch is on: the answers then depend on the signer and must not be shared by caches. */
export function fetchIsAuthorized(ctx: Context): boolean {
  return ctx.config.federation.authorized_fetch;
}

/**
 * The URI of the actor that signed this GET of `owner`'s objects, or null for an unsigned one when no
 * signature is `required` (by default: when authorized fetch is off). A bad signature is a 401 always.
 */
export async function authorizeFetch(
  ctx: Context,
  c: HonoContext,
  owner: AccountRow,
  required = fetchIsAuthorized(ctx),
): Promise<string | null> {
  const signed = c.req.header("signature") !== undefined || c.req.header("signature-input") !== undefined;
  if (!signed) {
    if (required) throw new HttpError(401, "Request not signed: this server requires signed fetches");
    return null;
  }
  const url = new URL(c.req.url);
  const result = await verifyRequest(c.req.method, c.req.raw.headers, {
    body: null,
    url: `${ctx.urls.origin}${url.pathname}${url.search}`,
    lookupKey: (keyId, opts) => lookupPublicKey(ctx, keyId, opts),
    windowSeconds: ctx.config.federation.signature_window_seconds,
  });
  if (!result.ok) throw new HttpError(401, result.error);
  if (fetchIsAuthorized(ctx) && refused(ctx, owner, result.ownerId))
    throw new HttpError(403, "the signing actor or its domain is blocked");
  return result.ownerId;
}

function refused(ctx: Context, owner: AccountRow, actorUri: string): boolean {
  const { db } = ctx.store;
  if (isDomainBlockedHost(db, new URL(actorUri).host)) return true;
  const actor = findAccountByUri(db, actorUri);
  return actor !== null && isBlocked(db, owner.id, actor.id);
}
