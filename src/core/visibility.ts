/**
 * Who may see what, in one place: whether the local account (or an anonymous client) may see a status,
 * whether a remote actor may fetch one, and which accounts the local account has muted or blocked. Each rule
 * is given as SQL conditions for list queries and as a predicate for single objects and short lists; the two
 * forms state the same rule (test/visibility.test.ts checks that they agree).
 *
 * The viewer of the client API is always the local account (Wren has one user), so "in the home feed" means
 * in the viewer's home feed.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "../store/open.js";
import { inList, preparedPerDb } from "../store/prepared.js";
import {
  accounts,
  accountsOnBlockedDomains,
  blocks,
  conversationMutes,
  domainBlocks,
  follows,
  homeFeed,
  mentions,
  mutes,
  statuses,
} from "../store/schema.js";
import type { StatusRow } from "../store/statuses.js";

/** A column of a table alias (`s`, `statuses`, ...) as SQL. */
function col(alias: string, name: string): SQL {
  return sql`${sql.identifier(alias)}.${sql.identifier(name)}`;
}

/** A time in milliseconds: a value, or a placeholder of a prepared statement. */
type Now = number | SQL | ReturnType<typeof sql.placeholder>;

// ---- Mutes and blocks ----

/** A mute counts until its expiry (none: until unmuted). Expired rows stay until pruneExpiredMutes. */
export function isActiveMute(row: { expiresAt: number | null }, now = Date.now()): boolean {
  return row.expiresAt === null || row.expiresAt > now;
}

/** isActiveMute in SQL, over a row of `mutes` known by `alias`. */
export function activeMuteSql(alias: string, now: Now): SQL {
  return sql`(${col(alias, "expires_at")} IS NULL OR ${col(alias, "expires_at")} > ${now})`;
}

// ---- Domain blocks (the local account's; a domain is a host, with its port when not the default) ----

/** The host without its port (`[v6]` literals keep their brackets). */
function bareHost(domain: string): string {
  if (domain.startsWith("[")) return domain.slice(0, domain.indexOf("]") + 1);
  const colon = domain.indexOf(":");
  return colon > 0 ? domain.slice(0, colon) : domain;
}

/**
 * Whether a block of `blocked` covers an account on `domain`: the same host, or a subdomain of it (as on
 * Mastodon); a block without a port covers every port of the host, one with a port only that port.
 */
export function domainMatches(domain: string, blocked: string): boolean {
  return [domain, bareHost(domain)].some((d) => d === blocked || d.endsWith(`.${blocked}`));
}

function bareHostSql(domain: SQL): SQL {
  return sql`(CASE WHEN substr(${domain}, 1, 1) = '[' THEN substr(${domain}, 1, instr(${domain}, ']'))
    WHEN instr(${domain}, ':') > 0 THEN substr(${domain}, 1, instr(${domain}, ':') - 1) ELSE ${domain} END)`;
}

/** domainMatches in SQL. */
export function domainMatchesSql(domain: SQL, blocked: SQL): SQL {
  const host = bareHostSql(domain);
  return sql`(${domain} = ${blocked} OR ${host} = ${blocked}
    OR substr(${domain}, -length(${blocked}) - 1) = '.' || ${blocked}
    OR substr(${host}, -length(${blocked}) - 1) = '.' || ${blocked})`;
}

/**
 * True when none of the accounts given by `authors` (SQL expressions) is on a domain the local account blocks:
 * a primary-key lookup in domain_blocked_accounts, which triggers keep (drizzle/0019), so a row costs the same
 * with a thousand blocks as with none.
 */
export function notDomainBlockedSql(authors: SQL[]): SQL {
  const targets = sql`(${sql.join(authors, sql`, `)})`;
  return sql`NOT EXISTS (SELECT 1 FROM domain_blocked_accounts dba WHERE dba.account_id IN ${targets})`;
}

/**
 * True when none of the accounts given by `authors` (SQL expressions, such as `s.account_id`) is muted
 * (unexpired) or blocked by the viewer, or on a domain it blocks: what the timelines and the streams hide.
 */
export function notHiddenSql(viewerId: string, authors: SQL[], now: Now): SQL {
  const targets = sql`(${sql.join(authors, sql`, `)})`;
  return sql`NOT EXISTS (SELECT 1 FROM mutes hm WHERE hm.account_id = ${viewerId} AND hm.target_id IN ${targets}
      AND ${activeMuteSql("hm", now)})
    AND NOT EXISTS (SELECT 1 FROM blocks hb WHERE hb.account_id = ${viewerId} AND hb.target_id IN ${targets})
    AND ${notDomainBlockedSql(authors)}`;
}

/** True unless the viewer muted the sender (`from`, an SQL expression) with its notifications, unexpired. */
export function notificationsNotMutedSql(viewerId: string, from: SQL, now: Now): SQL {
  return sql`NOT EXISTS (SELECT 1 FROM mutes nm WHERE nm.account_id = ${viewerId} AND nm.target_id = ${from}
      AND nm.hide_notifications = 1 AND ${activeMuteSql("nm", now)})`;
}

const hiddenQueries = preparedPerDb((db) => ({
  muted: db
    .select({ id: mutes.id, hideNotifications: mutes.hideNotifications })
    .from(mutes)
    .where(
      and(
        eq(mutes.accountId, sql.placeholder("viewer")),
        inList(mutes.targetId, "ids"),
        activeMuteSql("mutes", sql.placeholder("now")),
      ),
    )
    .prepare(),
  blocked: db
    .select({ id: blocks.id })
    .from(blocks)
    .where(and(eq(blocks.accountId, sql.placeholder("viewer")), inList(blocks.targetId, "ids")))
    .limit(1)
    .prepare(),
  domainBlocked: db
    .select({ id: accountsOnBlockedDomains.accountId })
    .from(accountsOnBlockedDomains)
    .where(inList(accountsOnBlockedDomains.accountId, "ids"))
    .prepare(),
  domains: db.select({ domain: domainBlocks.domain }).from(domainBlocks).prepare(),
  conversationMuted: db
    .select({ uri: conversationMutes.conversationUri })
    .from(conversationMutes)
    .where(inList(conversationMutes.conversationUri, "uris"))
    .prepare(),
}));

/** The domains the local account blocks. */
export function blockedDomains(db: Db): string[] {
  let domains = blockedDomainCache.get(db);
  if (!domains) {
    domains = hiddenQueries(db)
      .domains.all()
      .map((d) => d.domain);
    blockedDomainCache.set(db, domains);
  }
  return domains;
}

/**
 * The blocked domains in memory: the inbox asks for every request. core/domain-blocks.ts, their one writer,
 * calls forgetBlockedDomains once a change is committed (or rolled back).
 */
const blockedDomainCache = new WeakMap<Db, string[]>();

export function forgetBlockedDomains(db: Db): void {
  blockedDomainCache.delete(db);
}

/** Which of these accounts are on a domain the local account blocks. */
export function domainBlockedAccounts(db: Db, accountIds: string[]): Set<string> {
  if (accountIds.length === 0) return new Set();
  return new Set(
    hiddenQueries(db)
      .domainBlocked.all({ ids: JSON.stringify(accountIds) })
      .map((a) => a.id),
  );
}

/** Whether the host of an inbox or an actor (`host[:port]`) is on a domain the local account blocks. */
export function isDomainBlockedHost(db: Db, host: string): boolean {
  const lower = host.toLowerCase();
  return blockedDomains(db).some((blocked) => domainMatches(lower, blocked));
}

/** The thread a status belongs to, as conversation mutes name it: its root's URI. */
export function threadKey(row: Pick<StatusRow, "conversationUri" | "uri">): string {
  return row.conversationUri ?? row.uri;
}

/** Which of these threads (threadKey) the local account muted. */
export function mutedThreads(db: Db, keys: string[]): Set<string> {
  if (keys.length === 0) return new Set();
  return new Set(
    hiddenQueries(db)
      .conversationMuted.all({ uris: JSON.stringify([...new Set(keys)]) })
      .map((m) => m.uri),
  );
}

/** Whether the viewer muted (unexpired) or blocked any of these accounts, or blocks the domain of one. */
export function isHidden(db: Db, viewerId: string, accountIds: string[], now = Date.now()): boolean {
  if (accountIds.length === 0) return false;
  const q = hiddenQueries(db);
  const ids = JSON.stringify(accountIds);
  return (
    q.muted.all({ viewer: viewerId, ids, now }).length > 0 ||
    q.blocked.get({ viewer: viewerId, ids }) !== undefined ||
    domainBlockedAccounts(db, accountIds).size > 0
  );
}

/** The statuses whose authors (and boosted authors) the viewer has not hidden (isHidden): a thread, a search. */
export function filterNotHidden(db: Db, viewerId: string | null, rows: StatusRow[]): StatusRow[] {
  if (viewerId === null || rows.length === 0) return rows;
  const boosted = new Map(
    statusQueries(db)
      .byIds.all({ ids: JSON.stringify(rows.map((r) => r.reblogOfId).filter((id) => id !== null)) })
      .map((r) => [r.id, r.accountId]),
  );
  const hidden = new Map<string, boolean>();
  const isHiddenAuthor = (id: string) => {
    let value = hidden.get(id);
    if (value === undefined) {
      value = id !== viewerId && isHidden(db, viewerId, [id]);
      hidden.set(id, value);
    }
    return value;
  };
  return rows.filter((row) => {
    const booster = row.reblogOfId ? boosted.get(row.reblogOfId) : undefined;
    return !isHiddenAuthor(row.accountId) && (booster === undefined || !isHiddenAuthor(booster));
  });
}

/**
 * Whether `accountId` blocks `targetId`: the local account blocks someone or their domain (domain blocks are
 * only ever the local account's, and the local account has no domain), or a remote account blocked it.
 */
export function isBlocked(db: Db, accountId: string, targetId: string): boolean {
  const ids = JSON.stringify([targetId]);
  const q = hiddenQueries(db);
  return q.blocked.get({ viewer: accountId, ids }) !== undefined || q.domainBlocked.all({ ids }).length > 0;
}

/**
 * Whether the local account hides notifications from `otherId`: an unexpired mute that covers them, or, for a
 * notification about a status (`statusId`), a mute of that status's thread.
 */
export function isMutedForNotifications(
  db: Db,
  localId: string,
  otherId: string,
  now = Date.now(),
  statusId: string | null = null,
): boolean {
  if (statusId !== null) {
    const [status] = statusQueries(db).byIds.all({ ids: JSON.stringify([statusId]) });
    if (status && mutedThreads(db, [threadKey(status)]).size > 0) return true;
  }
  return hiddenQueries(db)
    .muted.all({ viewer: localId, ids: JSON.stringify([otherId]), now })
    .some((m) => m.hideNotifications);
}

// ---- Statuses seen through the client API ----

const OPEN_VISIBILITIES = ["public", "unlisted"] as const;

function isOpen(row: StatusRow): boolean {
  return row.visibility === "public" || row.visibility === "unlisted";
}

/** The rule for one status row (deletion and boosts aside), over `alias`. */
function seenSql(viewerId: string | null, alias: string): SQL {
  const open = sql`${col(alias, "visibility")} IN ${OPEN_VISIBILITIES}`;
  if (viewerId === null) return open;
  return sql`(${open}
    OR ${col(alias, "account_id")} = ${viewerId}
    OR EXISTS (SELECT 1 FROM mentions vm WHERE vm.status_id = ${col(alias, "id")} AND vm.account_id = ${viewerId})
    OR EXISTS (SELECT 1 FROM home_feed vh WHERE vh.status_id = ${col(alias, "id")})
    OR (${col(alias, "visibility")} = 'private' AND EXISTS (SELECT 1 FROM follows vf
      WHERE vf.follower_id = ${viewerId} AND vf.following_id = ${col(alias, "account_id")} AND vf.state = 'accepted')))`;
}

/**
 * The statuses (rows of `alias`, `s` in the store's queries) the viewer may see: see `filterVisible`. A
 * boost also needs its boosted status to be visible.
 */
export function visibleStatusSql(viewerId: string | null, alias = "s"): SQL {
  return sql`(${col(alias, "deleted_at")} IS NULL AND ${seenSql(viewerId, alias)}
    AND (${col(alias, "reblog_of_id")} IS NULL OR EXISTS (SELECT 1 FROM statuses vr
      WHERE vr.id = ${col(alias, "reblog_of_id")} AND vr.deleted_at IS NULL AND ${seenSql(viewerId, "vr")})))`;
}

const statusQueries = preparedPerDb((db) => ({
  byIds: db.select().from(statuses).where(inList(statuses.id, "ids")).prepare(),
  mentioned: db
    .select({ id: mentions.statusId })
    .from(mentions)
    .where(and(eq(mentions.accountId, sql.placeholder("viewer")), inList(mentions.statusId, "ids")))
    .prepare(),
  inHome: db
    .select({ id: homeFeed.statusId })
    .from(homeFeed)
    .where(inList(homeFeed.statusId, "ids"))
    .prepare(),
  followed: db
    .select({ id: follows.followingId })
    .from(follows)
    .where(
      and(
        eq(follows.followerId, sql.placeholder("viewer")),
        eq(follows.state, "accepted"),
        inList(follows.followingId, "ids"),
      ),
    )
    .prepare(),
}));

/**
 * Which of `rows` the viewer may see. Deleted statuses never; public and unlisted ones always; for the local
 * account also its own, those that mention it or reached its home feed, and the followers-only ones of
 * accounts it follows (accepted). A boost is visible when it and the boosted status both are.
 */
export function filterVisible(db: Db, viewerId: string | null, rows: StatusRow[]): StatusRow[] {
  if (rows.length === 0) return [];
  const q = statusQueries(db);
  const reblogIds = [...new Set(rows.map((r) => r.reblogOfId).filter((id): id is string => id !== null))];
  const targets = new Map(
    reblogIds.length > 0 ? q.byIds.all({ ids: JSON.stringify(reblogIds) }).map((r) => [r.id, r]) : [],
  );
  const restricted = [...rows, ...targets.values()].filter((r) => !isOpen(r));
  const mentioned = new Set<string>();
  const inHome = new Set<string>();
  const followed = new Set<string>();
  if (viewerId && restricted.length > 0) {
    const ids = JSON.stringify(restricted.map((r) => r.id));
    for (const m of q.mentioned.all({ viewer: viewerId, ids })) mentioned.add(m.id);
    for (const h of q.inHome.all({ ids })) inHome.add(h.id);
    const authors = JSON.stringify([...new Set(restricted.map((r) => r.accountId))]);
    for (const f of q.followed.all({ viewer: viewerId, ids: authors })) followed.add(f.id);
  }
  const seen = (row: StatusRow): boolean => {
    if (row.deletedAt !== null) return false;
    if (isOpen(row)) return true;
    if (!viewerId) return false;
    if (row.accountId === viewerId || mentioned.has(row.id) || inHome.has(row.id)) return true;
    return row.visibility === "private" && followed.has(row.accountId);
  };
  return rows.filter((row) => {
    if (!seen(row)) return false;
    if (row.reblogOfId === null) return true;
    const target = targets.get(row.reblogOfId);
    return target !== undefined && seen(target);
  });
}

export function isVisible(db: Db, viewerId: string | null, row: StatusRow): boolean {
  return filterVisible(db, viewerId, [row]).length === 1;
}

// ---- Statuses fetched by other servers ----

const fetchQueries = preparedPerDb((db) => ({
  actor: db
    .select({ id: accounts.id })
    .from(accounts)
    .where(eq(accounts.uri, sql.placeholder("uri")))
    .prepare(),
  mentioned: db
    .select({ id: mentions.statusId })
    .from(mentions)
    .where(
      and(eq(mentions.statusId, sql.placeholder("status")), eq(mentions.accountId, sql.placeholder("actor"))),
    )
    .prepare(),
  follows: db
    .select({ id: follows.id })
    .from(follows)
    .where(
      and(
        eq(follows.followerId, sql.placeholder("actor")),
        eq(follows.followingId, sql.placeholder("author")),
        eq(follows.state, "accepted"),
      ),
    )
    .prepare(),
  status: db
    .select()
    .from(statuses)
    .where(eq(statuses.id, sql.placeholder("id")))
    .prepare(),
}));

/**
 * Whether the remote actor `fetcher` (its URI; null for an unsigned request) may fetch a status: public and
 * unlisted ones anyone may; followers-only ones its accepted followers and the accounts it mentions; direct
 * ones the mentioned accounts only. Only the signer itself counts: a server's instance actor follows nobody
 * and is mentioned nowhere, so its signature reveals nothing that is not public. A boost also needs its
 * boosted status to be fetchable. The route answers a refusal with 401 when unsigned (a signed retry may
 * succeed) and 404 when signed.
 */
export function mayFetch(db: Db, status: StatusRow, fetcher: string | null): boolean {
  const q = fetchQueries(db);
  const allowed = (row: StatusRow, actorId: string | null): boolean => {
    if (row.deletedAt !== null) return false;
    if (isOpen(row)) return true;
    if (actorId === null) return false;
    if (q.mentioned.get({ status: row.id, actor: actorId }) !== undefined) return true;
    return (
      row.visibility === "private" && q.follows.get({ actor: actorId, author: row.accountId }) !== undefined
    );
  };
  const actorId = fetcher === null ? null : (q.actor.get({ uri: fetcher })?.id ?? null);
  if (!allowed(status, actorId)) return false;
  if (status.reblogOfId === null) return true;
  const target = q.status.get({ id: status.reblogOfId });
  return target !== undefined && allowed(target, actorId);
}

// ---- Statuses on the public web pages and feeds ----

/**
 * What an anonymous visitor of the web pages may see in a list (profile, tag page, feeds, a thread): public
 * statuses only, and boosts only of public statuses. Unlisted ones have their own page and nothing else
 * (`shownOnItsOwnPage`); followers-only and direct ones never appear.
 */
export function listedOnWebSql(alias = "s"): SQL {
  return sql`(${col(alias, "deleted_at")} IS NULL AND ${col(alias, "visibility")} = 'public'
    AND (${col(alias, "reblog_of_id")} IS NULL OR EXISTS (SELECT 1 FROM statuses wr
      WHERE wr.id = ${col(alias, "reblog_of_id")} AND wr.deleted_at IS NULL AND wr.visibility = 'public')))`;
}

/** listedOnWebSql for one row that is not a boost. */
export function isListedOnWeb(row: StatusRow): boolean {
  return row.deletedAt === null && row.reblogOfId === null && row.visibility === "public";
}

/** Whether a status (not a boost) has a page of its own for anonymous visitors: public and unlisted ones. */
export function shownOnItsOwnPage(row: StatusRow): boolean {
  return row.deletedAt === null && row.reblogOfId === null && isOpen(row);
}
