/**
 * The local account's domain blocks (Mastodon's user domain blocks). Blocking a domain hides its accounts'
 * posts and notifications everywhere (the rule lives in visibility.ts), ends the follows between the local
 * account and that domain both ways, telling the other side (Undo(Follow), Reject(Follow)), and from then on
 * its activities are dropped at the inbox and nothing is delivered to it. The block itself is private: no
 * Block is sent, as on Mastodon.
 */
import { and, eq, or, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { accounts, domainBlocks, follows, homeFeed } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { commit } from "./unit-of-work.js";
import { domainMatches, domainMatchesSql, forgetBlockedDomains } from "./visibility.js";

const MAX_DOMAIN = 253 + 6;

/**
 * A domain as the client typed it (`example.com`, `EXAMPLE.com.`, `https://example.com/path`, `host:8080`)
 * in the form `accounts.domain` holds: the lower-case host, with its port when one is given and not the
 * default, internationalised names in their ASCII form.
 */
export function normalizeDomain(input: string): string {
  let text = input.trim().toLowerCase();
  if (text === "") throw new UserError("domain is required");
  if (text.length > MAX_DOMAIN) throw new UserError("domain is too long");
  if (text.includes("://")) {
    try {
      text = new URL(text).host;
    } catch {
      throw new UserError("domain is not a domain name");
    }
  }
  let host: string;
  try {
    const url = new URL(`https://${text}`);
    if (url.pathname !== "/" || url.search !== "" || url.username !== "" || url.password !== "")
      throw new Error("not a bare host");
    host = url.host;
  } catch {
    throw new UserError("domain is not a domain name");
  }
  host = host.replace(/\.(?=:\d+$)|\.$/, "");
  if (host === "" || host.startsWith(".")) throw new UserError("domain is not a domain name");
  return host;
}

/** accounts.domain is on `domain` (or a subdomain), by the rule of visibility.ts. */
const onDomain = (domain: string) => domainMatchesSql(sql`${accounts.domain}`, sql`${domain}`);

/** Blocks a domain; blocking it again changes nothing. Returns the normalised domain. */
export function blockDomain(ctx: Context, input: string): string {
  const local = requireLocalAccount(ctx);
  const domain = normalizeDomain(input);
  if (domainMatches(ctx.urls.domain.toLowerCase(), domain))
    throw new UserError("you cannot block your own domain");
  try {
    blockCommitted(ctx, local, domain);
  } finally {
    forgetBlockedDomains(ctx.store.db);
  }
  return domain;
}

function blockCommitted(ctx: Context, local: AccountRow, domain: string): void {
  commit(ctx, () => {
    const existing = ctx.store.db
      .select({ id: domainBlocks.id })
      .from(domainBlocks)
      .where(eq(domainBlocks.domain, domain))
      .get();
    if (existing) return;
    // The follows end first, in a savepoint whose events reach the outbox before the block exists: the
    // Undo(Follow) and Reject(Follow) must still go to the domain the block then cuts off.
    commit(ctx, (uow) => {
      const ended = ctx.store.db
        .select({ follow: follows, other: accounts })
        .from(follows)
        .innerJoin(
          accounts,
          or(
            and(eq(follows.followerId, local.id), eq(accounts.id, follows.followingId)),
            and(eq(follows.followingId, local.id), eq(accounts.id, follows.followerId)),
          ),
        )
        .where(onDomain(domain))
        .all();
      for (const { follow, other } of ended) {
        ctx.store.db.delete(follows).where(eq(follows.id, follow.id)).run();
        if (follow.followerId === local.id)
          uow.record({ type: "Unfollowed", follow, follower: local, target: other });
        else uow.record({ type: "FollowRejected", follow, follower: other, target: local });
      }
      ctx.store.db
        .delete(homeFeed)
        .where(
          sql`${homeFeed.accountId} IN (SELECT ${accounts.id} FROM ${accounts} WHERE ${onDomain(domain)})`,
        )
        .run();
    });
    ctx.store.db.insert(domainBlocks).values({ id: newId(), domain, createdAt: Date.now() }).run();
  });
}

export function unblockDomain(ctx: Context, input: string): void {
  requireLocalAccount(ctx);
  ctx.store.db
    .delete(domainBlocks)
    .where(eq(domainBlocks.domain, normalizeDomain(input)))
    .run();
  forgetBlockedDomains(ctx.store.db);
}
