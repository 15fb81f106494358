/**
 * Finding remote actors, their keys and objects: WebFinger (with the host-meta fallback), actor fetches stored
 * in `accounts` and `remote_keys` (SQLite is the cache), the key lookup of the signature verifier, and fetches
 * of single objects.
 *
 * Every document is checked the way Mastodon checks it (see ../shared/INTEROP.md): an ActivityPub content
 * type, an `id` equal to the URL fetched (or to the final URL after redirects), on the host that served it.
 * Concurrent fetches of the same thing share one request.
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { type AccountRow, findLocalAccountByUsername } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import type { Db } from "../store/open.js";
import { transaction } from "../store/open.js";
import { preparedPerDb } from "../store/prepared.js";
import { accounts, remoteKeys } from "../store/schema.js";
import { FetchError, type OutboundResponse } from "./fetch.js";
import { fromBase64Url } from "./keys.js";
import type { PublicKeyInfo } from "./signatures/types.js";
import type { Signer } from "./transport.js";
import { hostOf } from "./urls.js";
import {
  asArray,
  asString,
  collectionTotal,
  httpUrl,
  idOf,
  isObject,
  ParseError,
  parseActor,
} from "./vocab/parse.js";
import { ACTOR_TYPES, type ParsedActor } from "./vocab/types.js";

/** A stored remote actor is fetched again when older than this. */
export const ACTOR_MAX_AGE_MS = 24 * 60 * 60_000;
/**
 * A key is fetched again on `refresh` only when it was fetched longer ago than this: a burst of badly signed
 * requests naming someone's key must not turn into as many fetches from their server.
 */
export const KEY_REFRESH_MIN_MS = 60_000;
const MAX_IN_FLIGHT = 1000;
const JRD_MAX_BYTES = 256 * 1024;
const HOST_META_MAX_BYTES = 64 * 1024;
/** A collection's summary is small; one embedding a first page of items is still well under this. */
const COLLECTION_MAX_BYTES = 256 * 1024;
const JRD_ACCEPT = "application/jrd+json, application/json;q=0.9";

export type ResolveErrorCode = "not_found" | "gone" | "invalid" | "network";

/**
 * Why a handle, actor or object could not be resolved. not_found: 404 or no ActivityPub link; gone: 410;
 * invalid: a malformed handle or URL, a refused address, or a document that fails the checks; network: the
 * server could not be reached or answered with an error.
 */
export class ResolveError extends Error {
  override readonly name = "ResolveError";
  constructor(
    readonly code: ResolveErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const INVALID_FETCH_CODES = new Set([
  "bad_url",
  "bad_scheme",
  "private_address",
  "bad_json",
  "too_large",
  "bad_encoding",
]);

function toResolveError(error: unknown, what: string): ResolveError {
  if (error instanceof ResolveError) return error;
  if (error instanceof ParseError)
    return new ResolveError("invalid", `${what}: ${error.message}`, { cause: error });
  if (error instanceof FetchError) {
    const code = INVALID_FETCH_CODES.has(error.code) ? "invalid" : "network";
    return new ResolveError(code, `${what}: ${error.message}`, { cause: error });
  }
  throw error;
}

// ---------------------------------------------------------------------------------------------------------
// In-flight requests shared between concurrent callers

const inFlight = new WeakMap<Context, Map<string, Promise<unknown>>>();

function coalesce<T>(ctx: Context, key: string, run: () => Promise<T>): Promise<T> {
  let map = inFlight.get(ctx);
  if (!map) {
    map = new Map();
    inFlight.set(ctx, map);
  }
  const existing = map.get(key);
  if (existing) return existing as Promise<T>;
  const promise = run();
  // Past the bound, requests simply run on their own.
  if (map.size < MAX_IN_FLIGHT) {
    const requests = map;
    requests.set(key, promise);
    const clear = () => {
      if (requests.get(key) === promise) requests.delete(key);
    };
    promise.then(clear, clear);
  }
  return promise;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function isLocalUri(ctx: Context, uri: string): boolean {
  try {
    return new URL(uri).origin === new URL(ctx.urls.origin).origin;
  } catch {
    return false;
  }
}

function withoutFragment(url: string): string {
  const hash = url.indexOf("#");
  return hash < 0 ? url : url.slice(0, hash);
}

function findAccountByUri(ctx: Context, uri: string): AccountRow | null {
  return ctx.store.db.select().from(accounts).where(eq(accounts.uri, uri)).get() ?? null;
}

function isFresh(row: AccountRow, now = Date.now()): boolean {
  return row.fetchedAt !== null && now - row.fetchedAt < ACTOR_MAX_AGE_MS;
}

function isActivityJson(contentType: string | null): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/activity+json" || mediaType === "application/ld+json";
}

/** A GET of an ActivityPub document: 2xx with an ActivityPub content type and a JSON object body. */
async function getDocument(
  ctx: Context,
  url: string,
  signAs?: Signer,
  maxBytes?: number,
): Promise<{ doc: Record<string, unknown>; finalUrl: string }> {
  let res: OutboundResponse;
  try {
    res = await ctx.federation.get(url, { ...(signAs ? { signAs } : {}), maxBytes });
  } catch (error) {
    throw toResolveError(error, url);
  }
  if (res.status === 410) throw new ResolveError("gone", `${url} is gone (410)`);
  if (res.status === 404) throw new ResolveError("not_found", `${url} was not found (404)`);
  if (!res.ok) throw new ResolveError("network", `${url} answered ${res.status}`);
  if (!isActivityJson(res.headers.get("content-type"))) {
    throw new ResolveError(
      "invalid",
      `${url} is not an ActivityPub document (${res.headers.get("content-type")})`,
    );
  }
  let doc: unknown;
  try {
    doc = res.json();
  } catch (error) {
    throw toResolveError(error, url);
  }
  if (!isObject(doc)) throw new ResolveError("invalid", `${url} is not a JSON object`);
  return { doc, finalUrl: res.url.href };
}

/**
 * A document whose `id` is the URL fetched, or the final URL after redirects, and on the host that served it.
 * When the id is another URL on the same host (a profile URL answering with the actor), that id is fetched
 * once instead and must then match exactly.
 */
async function fetchVerified(
  ctx: Context,
  url: string,
  signAs?: Signer,
  mayFollowId = true,
): Promise<{ doc: Record<string, unknown>; finalUrl: string }> {
  const { doc, finalUrl } = await getDocument(ctx, url, signAs);
  const id = httpUrl(doc.id);
  if (!id) throw new ResolveError("invalid", `the document at ${url} has no http(s) id`);
  if (hostOf(id) !== hostOf(finalUrl)) {
    throw new ResolveError("invalid", `the document at ${finalUrl} claims the id ${id}, on another host`);
  }
  if (id === url || id === finalUrl) return { doc, finalUrl };
  if (mayFollowId && !isLocalUri(ctx, id)) return fetchVerified(ctx, id, signAs, false);
  throw new ResolveError("invalid", `the document at ${url} has the id ${id}`);
}

// ---------------------------------------------------------------------------------------------------------
// WebFinger

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
const BAD_HANDLE_USERNAME = /[\s@/\\?#:<>"'\u0000-\u001f\u007f]/;

/** "user@host", "@user@host" or "acct:user@host" → username and host (lower case, punycode, with its port). */
export function parseHandle(handle: string): { username: string; domain: string } {
  const acct = handle
    .trim()
    .replace(/^acct:/i, "")
    .replace(/^@/, "");
  const at = acct.lastIndexOf("@");
  const username = acct.slice(0, at);
  const host = acct.slice(at + 1);
  if (at <= 0 || host === "" || username.length > 255 || BAD_HANDLE_USERNAME.test(username)) {
    throw new ResolveError("invalid", `${JSON.stringify(handle)} is not a user@host handle`);
  }
  let url: URL;
  try {
    url = new URL(`https://${host}`);
  } catch {
    throw new ResolveError("invalid", `${JSON.stringify(host)} is not a host name`);
  }
  if (url.username || url.password || url.pathname !== "/" || url.search || url.hash || /[/?#@]/.test(host)) {
    throw new ResolveError("invalid", `${JSON.stringify(host)} is not a host name`);
  }
  return { username, domain: url.host };
}

function isActivityPubLinkType(type: unknown): boolean {
  if (typeof type !== "string") return false;
  const t = type.toLowerCase().replace(/\s+/g, "");
  return (
    t === "application/activity+json" ||
    (t.startsWith("application/ld+json") && t.includes("https://www.w3.org/ns/activitystreams"))
  );
}

/** The actor URL of a JRD: its `self` link with an ActivityPub type. */
function selfLink(res: OutboundResponse, resource: string): string {
  let jrd: unknown;
  try {
    jrd = res.json();
  } catch (error) {
    throw toResolveError(error, `WebFinger for ${resource}`);
  }
  if (!isObject(jrd))
    throw new ResolveError("invalid", `the WebFinger answer for ${resource} is not a JSON object`);
  for (const link of asArray(jrd.links).slice(0, 100)) {
    if (!isObject(link) || link.rel !== "self" || !isActivityPubLinkType(link.type)) continue;
    const href = httpUrl(link.href);
    if (href) return href;
  }
  throw new ResolveError("not_found", `${resource} has no ActivityPub actor`);
}

function decodeXmlEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-f]+|#[0-9]+);/gi, (whole, body: string) => {
    const lower = body.toLowerCase();
    if (lower === "amp") return "&";
    if (lower === "lt") return "<";
    if (lower === "gt") return ">";
    if (lower === "quot") return '"';
    if (lower === "apos") return "'";
    const code = lower.startsWith("#x") ? Number.parseInt(lower.slice(2), 16) : Number(lower.slice(1));
    return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The `lrdd` template of a host-meta XRD document, read with a regular expression (no XML parser). */
export function lrddTemplate(xml: string): string | null {
  for (const link of xml.slice(0, HOST_META_MAX_BYTES).matchAll(/<(?:[\w-]+:)?Link\b([^>]*)>/gi)) {
    const attributes = new Map<string, string>();
    for (const attr of (link[1] ?? "").matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attributes.set(attr[1]!.toLowerCase(), decodeXmlEntities(attr[2] ?? attr[3] ?? ""));
    }
    const template = attributes.get("template");
    if (attributes.get("rel") === "lrdd" && template?.includes("{uri}")) return template;
  }
  return null;
}

type JrdOutcome = { href: string } | { error: ResolveError };

async function queryJrd(ctx: Context, url: string, resource: string): Promise<JrdOutcome> {
  let res: OutboundResponse;
  try {
    res = await ctx.federation.plain({ url, headers: { Accept: JRD_ACCEPT }, maxBytes: JRD_MAX_BYTES });
  } catch (error) {
    return { error: toResolveError(error, `WebFinger for ${resource}`) };
  }
  if (res.status === 410) throw new ResolveError("gone", `${resource} is gone (410)`);
  if (res.ok) return { href: selfLink(res, resource) };
  if (res.status === 404) return { error: new ResolveError("not_found", `${resource} was not found (404)`) };
  return { error: new ResolveError("network", `WebFinger for ${resource} answered ${res.status}`) };
}

async function webfingerUncached(ctx: Context, username: string, domain: string): Promise<string> {
  const resource = `acct:${username}@${domain}`;
  const base = `${ctx.config.server.protocol}://${domain}`;
  const first = await queryJrd(
    ctx,
    `${base}/.well-known/webfinger?resource=${encodeURIComponent(resource)}`,
    resource,
  );
  if ("href" in first) return first.href;
  // A refused address or scheme stays refused; anything else may still work through host-meta.
  if (first.error.code === "invalid") throw first.error;

  let template: string | null = null;
  try {
    const res = await ctx.federation.plain({
      url: `${base}/.well-known/host-meta`,
      headers: { Accept: "application/xrd+xml, application/xml;q=0.9, text/xml;q=0.8" },
      maxBytes: HOST_META_MAX_BYTES,
    });
    if (res.ok) template = lrddTemplate(res.text());
  } catch {
    // no host-meta either: the WebFinger error stands
  }
  if (!template) throw first.error;
  const url = httpUrl(template.replaceAll("{uri}", encodeURIComponent(resource)));
  if (!url) throw new ResolveError("invalid", `the host-meta template of ${domain} is not an http(s) URL`);
  const second = await queryJrd(ctx, url, resource);
  if ("href" in second) return second.href;
  throw second.error;
}

/**
 * The actor URL of a handle ("user@host", "@user@host", "acct:user@host"), by WebFinger over the server's own
 * scheme (https in production), falling back to host-meta's lrdd template when WebFinger fails.
 */
export async function webfinger(ctx: Context, handle: string): Promise<string> {
  const { username, domain } = parseHandle(handle);
  return coalesce(ctx, `webfinger:${username.toLowerCase()}@${domain}`, () =>
    webfingerUncached(ctx, username, domain),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Actors

/**
 * Stores an actor (already validated by parseActor, from its own origin) in `accounts`, and its keys in
 * `remote_keys` (replacing the ones it had; a document without keys leaves them as they were). Refuses
 * anything on our own origin.
 *
 * A different, older actor with the same username on the same host (an account deleted and created again,
 * or a server that changed its URL scheme) gives up the username: it becomes `name~<id>`, since the host
 * decides who its usernames belong to.
 */
export function persistActor(ctx: Context, parsed: ParsedActor): AccountRow {
  if (isLocalUri(ctx, parsed.uri)) {
    throw new ResolveError("invalid", `${parsed.uri} is on this server; local accounts are not overwritten`);
  }
  const now = Date.now();
  const db = ctx.store.db;
  return transaction(ctx.store, () => {
    const existing = db.select().from(accounts).where(eq(accounts.uri, parsed.uri)).get();
    if (existing && existing.domain === null) {
      throw new ResolveError("invalid", `${parsed.uri} is a local account and is not overwritten`);
    }
    const clashes = db
      .select()
      .from(accounts)
      .where(
        and(
          eq(accounts.domain, parsed.domain),
          sql`lower(${accounts.username}) = lower(${parsed.username})`,
          ne(accounts.uri, parsed.uri),
        ),
      )
      .all();
    for (const clash of clashes) {
      db.update(accounts)
        .set({ username: `${clash.username}~${clash.id}` })
        .where(eq(accounts.id, clash.id))
        .run();
    }

    const values = {
      uri: parsed.uri,
      username: parsed.username,
      domain: parsed.domain,
      actorType: parsed.type,
      displayName: parsed.displayName,
      note: parsed.note,
      url: parsed.url,
      inboxUrl: parsed.inbox,
      sharedInboxUrl: parsed.sharedInbox,
      outboxUrl: parsed.outbox,
      followersUrl: parsed.followers,
      followingUrl: parsed.following,
      featuredUrl: parsed.featured,
      avatarUrl: parsed.avatarUrl,
      headerUrl: parsed.headerUrl,
      fields: parsed.fields,
      emojis: parsed.emojis,
      locked: parsed.locked,
      bot: parsed.bot,
      discoverable: parsed.discoverable,
      indexable: parsed.indexable,
      movedToUri: parsed.movedTo,
      alsoKnownAs: parsed.alsoKnownAs,
      followersCount: parsed.followersCount ?? existing?.followersCount ?? 0,
      followingCount: parsed.followingCount ?? existing?.followingCount ?? 0,
      statusesCount: parsed.statusesCount ?? existing?.statusesCount ?? 0,
      publishedAt: parsed.published,
      updatedAt: now,
      fetchedAt: now,
      goneAt: null,
    };
    let id: string;
    if (existing) {
      id = existing.id;
      db.update(accounts).set(values).where(eq(accounts.id, id)).run();
    } else {
      id = newId(now);
      db.insert(accounts)
        .values({ id, createdAt: now, ...values })
        .run();
    }

    if (parsed.keys.length > 0) {
      forgetStoredKeys(ctx.store.db);
      db.delete(remoteKeys).where(eq(remoteKeys.ownerUri, parsed.uri)).run();
      for (const key of parsed.keys) {
        const row = {
          ownerUri: parsed.uri,
          algorithm: key.algorithm,
          publicKey: key.publicKey,
          fetchedAt: now,
        };
        db.insert(remoteKeys)
          .values({ keyId: key.keyId, ...row })
          .onConflictDoUpdate({ target: remoteKeys.keyId, set: row })
          .run();
      }
    }
    return db.select().from(accounts).where(eq(accounts.id, id)).get()!;
  });
}

/** `totalItems` of the collection at `url`; null when it cannot be had (logged at debug level, never thrown). */
async function collectionCount(ctx: Context, url: string): Promise<number | null> {
  try {
    const { doc } = await getDocument(ctx, url, undefined, COLLECTION_MAX_BYTES);
    return collectionTotal(doc);
  } catch (err) {
    ctx.log.debug({ err, url }, "collection count not fetched");
    return null;
  }
}

/**
 * The actor's followers, following and statuses counts, as Mastodon gets them: each collection its document
 * links but does not embed is fetched (at most these three, in parallel, on the actor's own host) for its
 * `totalItems`. A count that cannot be had stays null, so persistActor keeps the previous number (or 0).
 * Called only when the actor document itself was just fetched, never for a cached account.
 */
async function withCollectionCounts(ctx: Context, parsed: ParsedActor): Promise<ParsedActor> {
  const count = (url: string | null, embedded: number | null) =>
    embedded !== null || url === null || hostOf(url) !== parsed.domain ? embedded : collectionCount(ctx, url);
  const [followersCount, followingCount, statusesCount] = await Promise.all([
    count(parsed.followers, parsed.followersCount),
    count(parsed.following, parsed.followingCount),
    count(parsed.outbox, parsed.statusesCount),
  ]);
  return { ...parsed, followersCount, followingCount, statusesCount };
}

/** Count refreshes running in the background, per context: one per actor at a time, a few at most. */
const countRefreshes = new WeakMap<Context, Map<string, Promise<void>>>();
const MAX_COUNT_REFRESHES = 4;

/**
 * Fetches an actor's collection counts after the actor was stored, without holding up the caller: the key
 * lookup of an inbox request must not wait for three more fetches. Best effort: skipped when enough
 * refreshes are already running (the next refresh of the actor gets them); failures change nothing.
 */
function refreshCountsLater(ctx: Context, parsed: ParsedActor): void {
  let running = countRefreshes.get(ctx);
  if (!running) {
    running = new Map();
    countRefreshes.set(ctx, running);
  }
  if (running.has(parsed.uri) || running.size >= MAX_COUNT_REFRESHES) return;
  const pending = running;
  const work = withCollectionCounts(ctx, parsed)
    .then((counted) => {
      const values = {
        ...(counted.followersCount !== null ? { followersCount: counted.followersCount } : {}),
        ...(counted.followingCount !== null ? { followingCount: counted.followingCount } : {}),
        ...(counted.statusesCount !== null ? { statusesCount: counted.statusesCount } : {}),
      };
      if (Object.keys(values).length > 0 && ctx.store.sqlite.open)
        ctx.store.db.update(accounts).set(values).where(eq(accounts.uri, parsed.uri)).run();
    })
    .catch((error: unknown) =>
      ctx.log.debug({ err: error, uri: parsed.uri }, "collection counts not refreshed"),
    )
    .finally(() => pending.delete(parsed.uri));
  running.set(parsed.uri, work);
}

/** Resolves when the background count refreshes running now are over (tests, shutdown). */
export async function countRefreshesSettled(ctx: Context): Promise<void> {
  await Promise.all([...(countRefreshes.get(ctx)?.values() ?? [])]);
}

function markGone(ctx: Context, uri: string): void {
  ctx.store.db
    .update(accounts)
    .set({ goneAt: Date.now() })
    .where(and(eq(accounts.uri, uri), sql`${accounts.domain} IS NOT NULL`, sql`${accounts.goneAt} IS NULL`))
    .run();
}

/**
 * The account of an actor URI: the stored row when fetched less than ACTOR_MAX_AGE_MS ago (unless `refresh`),
 * else fetched, checked, parsed and stored. When a stale row cannot be refreshed because its server is
 * unreachable, the stale row is returned (not with `refresh`). A 410 marks the stored row gone. Our own
 * origin is never fetched: its accounts come from the store or not at all.
 */
export async function resolveActor(
  ctx: Context,
  uri: string,
  opts: { refresh?: boolean } = {},
): Promise<AccountRow> {
  if (!httpUrl(uri)) throw new ResolveError("invalid", `${JSON.stringify(uri)} is not an http(s) URL`);
  const stored = findAccountByUri(ctx, uri);
  if (isLocalUri(ctx, uri)) {
    if (stored) return stored;
    throw new ResolveError("not_found", `there is no local account ${uri}`);
  }
  if (stored && !opts.refresh) {
    if (stored.goneAt !== null) throw new ResolveError("gone", `${uri} is gone`);
    if (isFresh(stored)) return stored;
  }
  return coalesce(ctx, `actor:${uri}`, async () => {
    try {
      const { doc, finalUrl } = await fetchVerified(ctx, uri);
      return persistActor(ctx, await withCollectionCounts(ctx, parseActor(doc, finalUrl)));
    } catch (err) {
      const error = toResolveError(err, `actor ${uri}`);
      if (error.code === "gone") markGone(ctx, uri);
      else if (error.code === "network" && stored && !opts.refresh) {
        ctx.log.debug({ err: error, uri }, "actor not refreshed; using the stored copy");
        return stored;
      }
      throw error;
    }
  });
}

/**
 * The account behind a handle. A stored, fresh account with that username on that host is returned as is;
 * otherwise WebFinger gives the actor, which is fetched; then, like Mastodon, the actor's own
 * preferredUsername@host must WebFinger back to that same actor (skipped when it is the handle just looked
 * up; on split-domain setups, where the handle's host is not the actor's, it is what ties them together).
 */
export async function resolveHandle(ctx: Context, handle: string): Promise<AccountRow> {
  const { username, domain } = parseHandle(handle);
  if (domain === ctx.urls.domain.toLowerCase()) {
    const local = findLocalAccountByUsername(ctx.store.db, username);
    if (!local) throw new ResolveError("not_found", `there is no local account ${username}`);
    return local;
  }
  const stored = ctx.store.db
    .select()
    .from(accounts)
    .where(and(eq(accounts.domain, domain), sql`lower(${accounts.username}) = lower(${username})`))
    .get();
  if (stored && stored.goneAt === null && isFresh(stored)) return stored;

  const actorUri = await webfinger(ctx, `${username}@${domain}`);
  const account = await resolveActor(ctx, actorUri);
  const sameHandle = account.domain === domain && account.username.toLowerCase() === username.toLowerCase();
  if (!sameHandle) {
    const back = await webfinger(ctx, `${account.username}@${account.domain}`);
    if (back !== account.uri) {
      throw new ResolveError(
        "invalid",
        `${username}@${domain} points to ${account.uri}, but ${account.username}@${account.domain} is ${back}`,
      );
    }
  }
  return account;
}

// ---------------------------------------------------------------------------------------------------------
// Keys

type KeyRow = typeof remoteKeys.$inferSelect;

function toKeyInfo(row: KeyRow): PublicKeyInfo {
  return row.algorithm === "rsa"
    ? { keyId: row.keyId, ownerId: row.ownerUri, type: "rsa", publicPem: row.publicKey }
    : { keyId: row.keyId, ownerId: row.ownerUri, type: "ed25519", publicKey: fromBase64Url(row.publicKey) };
}

/** The stored key with this id, or, for a key id that is an actor id, that actor's RSA key. */
// Every inbox request looks its key up: prepared once.
const keyQueries = preparedPerDb((db) => ({
  byId: db
    .select()
    .from(remoteKeys)
    .where(eq(remoteKeys.keyId, sql.placeholder("keyId")))
    .prepare(),
  rsaOfOwner: db
    .select()
    .from(remoteKeys)
    .where(and(eq(remoteKeys.ownerUri, sql.placeholder("owner")), eq(remoteKeys.algorithm, "rsa")))
    .prepare(),
}));

/**
 * Stored keys by key id, in memory: every inbox request looks its key up, and the same few senders come
 * back again and again. Bounded (least recently used out first); emptied whenever an actor's keys are
 * written (persistActor, the one writer of remote_keys).
 */
const keyCaches = new WeakMap<Db, Map<string, KeyRow>>();
const KEY_CACHE_MAX = 512;

function forgetStoredKeys(db: Db): void {
  keyCaches.get(db)?.clear();
}

function storedKeyById(db: Db, keyId: string): KeyRow | null {
  let cache = keyCaches.get(db);
  if (!cache) {
    cache = new Map();
    keyCaches.set(db, cache);
  }
  const cached = cache.get(keyId);
  if (cached) {
    cache.delete(keyId);
    cache.set(keyId, cached);
    return cached;
  }
  const row = keyQueries(db).byId.get({ keyId });
  if (!row) return null;
  if (cache.size >= KEY_CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(keyId, row);
  return row;
}

function storedKey(ctx: Context, keyId: string, ownerUri?: string): KeyRow | null {
  const q = keyQueries(ctx.store.db);
  const exact = storedKeyById(ctx.store.db, keyId);
  if (exact) return ownerUri === undefined || exact.ownerUri === ownerUri ? exact : null;
  if (ownerUri !== undefined && ownerUri !== keyId) return null;
  return q.rsaOfOwner.get({ owner: keyId }) ?? null;
}

function isActorDocument(doc: Record<string, unknown>): boolean {
  return asArray(doc.type).some(
    (t) => typeof t === "string" && (ACTOR_TYPES as readonly string[]).includes(t),
  );
}

/** The object among an actor-like document's keys with this id. */
function keyObjectIn(doc: Record<string, unknown>, keyId: string): Record<string, unknown> | null {
  for (const entry of [...asArray(doc.publicKey), ...asArray(doc.assertionMethod)].slice(0, 40)) {
    if (isObject(entry) && entry.id === keyId) return entry;
  }
  return null;
}

async function fetchKey(ctx: Context, keyId: string, refresh: boolean): Promise<KeyRow | null> {
  const url = withoutFragment(keyId);
  const { doc, finalUrl } = await getDocument(ctx, url);
  const docId = asString(doc.id);

  // Mastodon and most others: the key id points into the actor document.
  if (isActorDocument(doc) && (docId === url || docId === finalUrl)) {
    const parsed = parseActor(doc, finalUrl);
    const account = persistActor(ctx, parsed);
    refreshCountsLater(ctx, parsed);
    return storedKey(ctx, keyId, account.uri);
  }

  // A key document ({id, owner, publicKeyPem}) or a stub naming the owner (GoToSocial's /main-key): the key
  // is trusted only once the owner's own actor document, fetched from its origin, lists it.
  const keyObject = docId === keyId || docId === url ? doc : keyObjectIn(doc, keyId);
  const owner = keyObject ? httpUrl(idOf(keyObject.owner) ?? idOf(keyObject.controller)) : null;
  if (!owner || isLocalUri(ctx, owner)) return null;
  let account = await resolveActor(ctx, owner, { refresh });
  let found = storedKey(ctx, keyId, account.uri);
  if (
    !found &&
    !refresh &&
    (account.fetchedAt === null || Date.now() - account.fetchedAt > KEY_REFRESH_MIN_MS)
  ) {
    account = await resolveActor(ctx, owner, { refresh: true });
    found = storedKey(ctx, keyId, account.uri);
  }
  return found;
}

/**
 * The KeyLookup of the signature verifier. A stored key is returned as it is unless `refresh` (the signature
 * did not verify with it: perhaps the key was rotated); otherwise the key id is fetched, the actor holding
 * the key stored with its keys, and the key returned. The owner is always the actor whose own document lists
 * the key. Returns null when no such key can be found (the reason is logged at debug level).
 */
export async function lookupPublicKey(
  ctx: Context,
  keyId: string,
  opts: { refresh: boolean },
): Promise<PublicKeyInfo | null> {
  if (!httpUrl(keyId) || isLocalUri(ctx, keyId)) return null;
  const now = Date.now();
  const known = storedKey(ctx, keyId);
  if (known && (!opts.refresh || now - known.fetchedAt < KEY_REFRESH_MIN_MS)) return toKeyInfo(known);
  if (!known && !opts.refresh) {
    // The actor document this key id points into was fetched a moment ago and did not list it.
    const actor = findAccountByUri(ctx, withoutFragment(keyId));
    if (actor?.fetchedAt && now - actor.fetchedAt < KEY_REFRESH_MIN_MS) return null;
  }
  try {
    const row = await coalesce(ctx, `key:${keyId}`, () => fetchKey(ctx, keyId, opts.refresh));
    return row ? toKeyInfo(row) : null;
  } catch (err) {
    const error =
      err instanceof ResolveError || err instanceof ParseError || err instanceof FetchError ? err : null;
    if (!error) throw err;
    ctx.log.debug({ err: error, keyId }, "public key not found");
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Objects

/**
 * Fetches an ActivityPub object from its origin (signed as `signAs` when given, else unsigned and retried
 * signed on 401) and returns its JSON, after the checks of fetchVerified: the returned document's `id` is
 * on the host that served it and equals the URL fetched, the final URL after redirects, or (after one
 * more fetch) the id the first answer gave. Objects on our own origin are not fetched.
 */
export async function fetchObject(
  ctx: Context,
  uri: string,
  opts: { signAs?: Signer } = {},
): Promise<unknown> {
  if (!httpUrl(uri)) throw new ResolveError("invalid", `${JSON.stringify(uri)} is not an http(s) URL`);
  if (isLocalUri(ctx, uri)) throw new ResolveError("invalid", `${uri} is on this server`);
  return coalesce(ctx, `object:${opts.signAs ?? ""}:${uri}`, async () => {
    try {
      return (await fetchVerified(ctx, uri, opts.signAs)).doc;
    } catch (err) {
      throw toResolveError(err, `object ${uri}`);
    }
  });
}
