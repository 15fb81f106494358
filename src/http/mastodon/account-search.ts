/**
 * Account search as /api/v1/accounts/search and /api/v2/search both answer it: handles parsed from what the
 * user typed, an exact handle first, and with `resolve` an unknown user@host looked up by WebFinger.
 */
import type { Context } from "../../context.js";
import { resolveHandle } from "../../federation/resolve.js";
import type { AccountRow } from "../../store/accounts.js";
import { findAccountsMatching, findKnownByHandle } from "../../store/search.js";

/** "user", "@user", "user@host", "@user@host" → username and (lower-case) host, or null when not a handle. */
export function splitHandle(text: string): { username: string; domain: string | null } | null {
  const match = text
    .trim()
    .replace(/^acct:/i, "")
    .match(/^@?([A-Za-z0-9_.~-]+)(?:@([A-Za-z0-9.-]+(?::\d{1,5})?))?$/);
  if (!match?.[1]) return null;
  return { username: match[1], domain: match[2]?.toLowerCase() ?? null };
}

/** An account we know by what the user typed as its handle, or null. */
export function findByHandle(ctx: Context, text: string): AccountRow | null {
  const handle = splitHandle(text);
  return handle ? findKnownByHandle(ctx.store.db, ctx.urls.domain, handle.username, handle.domain) : null;
}

export interface AccountSearch {
  limit: number;
  offset: number;
  /** Look an unknown user@host handle up by WebFinger. */
  resolve: boolean;
  /** Only accounts the local account follows. */
  following: boolean;
  localId: string | null;
}

/**
 * Accounts whose username starts with, or display name contains, the query; an exact handle match comes first.
 * With `resolve`, a user@host handle we do not know yet is looked up (failures just give no result).
 */
export async function searchAccounts(
  ctx: Context,
  query: string,
  options: AccountSearch,
): Promise<AccountRow[]> {
  const q = query.trim().replace(/^@/, "");
  if (q === "") return [];
  const handle = splitHandle(q);
  let exact: AccountRow | null = null;
  if (handle?.domain && options.offset === 0) {
    exact = findKnownByHandle(ctx.store.db, ctx.urls.domain, handle.username, handle.domain);
    if (!exact && options.resolve) {
      try {
        exact = await resolveHandle(ctx, `${handle.username}@${handle.domain}`);
      } catch (error) {
        ctx.log.debug({ err: error, handle: q }, "account search: handle not resolved");
      }
    }
  }
  if (options.following && !options.localId) return [];
  const rows = findAccountsMatching(ctx.store.db, {
    term: (handle?.domain ? handle.username : q).toLowerCase(),
    domain: handle?.domain ?? null,
    localDomain: ctx.urls.domain,
    followedBy: options.following ? options.localId : null,
    limit: options.limit,
    offset: options.offset,
  });
  if (exact && (!options.following || rows.some((r) => r.id === exact?.id))) {
    return [exact, ...rows.filter((r) => r.id !== exact?.id)].slice(0, options.limit);
  }
  return rows;
}
