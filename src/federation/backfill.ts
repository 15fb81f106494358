/**
 * Backfill: posts fetched from other servers because the owner would otherwise see an empty or broken view.
 *
 * - After a follow of a remote account is accepted (or at once when following a locked account of which
 *   nothing is stored yet), the newest page of its outbox, at most OUTBOX_BACKFILL_POSTS items: Create (the note) and
 *   Announce (a boost of a note, fetched from its origin) activities, embedded or by URI, in an
 *   OrderedCollection whose `first` page is embedded or a URL, or listed in the collection itself.
 * - When a remote reply is stored in the home feed and we lack its parent, its ancestors: at most
 *   MAX_ANCESTORS_FETCHED fetches up the chain per reply, stored oldest first.
 *
 * Both are durable jobs in the delivery queue (signer BACKFILL_SIGNER, the job's "inbox" is the URL fetched
 * first, so the per-host cap, the host's health, backoff and a 429's Retry-After apply as for deliveries).
 * Everything fetched goes through `receiveNote`/`receiveAnnounce`, so visibility, feeds and filters apply;
 * nothing fetched here notifies, and nothing stored by a backfill starts another one.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Context } from "../context.js";
import { receiveAnnounce } from "../core/interactions.js";
import type { RemoteNote } from "../core/remote.js";
import { receiveNote } from "../core/statuses.js";
import { findAccountByUri } from "../store/account-lookups.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import type { Db } from "../store/open.js";
import { transaction } from "../store/open.js";
import { deliveryJobs, outboundActivities, statuses } from "../store/schema.js";
import { findStatusByUri, isInHomeFeed } from "../store/statuses.js";
import { enqueueActivity } from "./delivery/enqueue.js";
import { FetchError } from "./fetch.js";
import { fetchObject, ResolveError, resolveActor } from "./resolve.js";
import { hostOf } from "./urls.js";
import { asArray, asString, idOf, isObject, parseNote, toRemoteNote, visibilityFrom } from "./vocab/parse.js";

/** The `signer` of a queued backfill job; its stored body is a `BackfillJob`, not an activity. */
export const BACKFILL_SIGNER = "backfill";

/** Outbox items read after a follow (Mastodon's own backfill-free servers show nothing; 20 is one page). */
export const OUTBOX_BACKFILL_POSTS = 20;

/** Ancestors fetched for one reply (the whole budget of the job). */
export const MAX_ANCESTORS_FETCHED = 5;

const NOTE_TYPES = new Set(["Note", "Article", "Page", "Question"]);

export type BackfillJob =
  | { kind: "outbox"; actor: string }
  | { kind: "ancestors"; reply: string; parent: string };

/** What the delivery worker needs of an outcome: a 2xx ends the job, a 429 or 5xx retries it. */
export interface BackfillOutcome {
  status: number;
  headers: Headers;
}

const DONE: BackfillOutcome = { status: 200, headers: new Headers() };

/** Set while a backfill stores what it fetched (synchronously): those statuses start no backfill of their own. */
let storing = false;

/** Subscribes backfill to the domain events (called once by createContext). */
export function registerBackfill(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (storing) return;
    let queued = false;
    if (event.type === "Followed") {
      const { follower, target } = event;
      // An account that approves its followers by hand may never accept: its public posts come at once.
      // Otherwise the Accept follows soon and starts the backfill (so the posts go home, see feeds.ts).
      if (
        follower.domain === null &&
        target.domain !== null &&
        target.locked &&
        !hasStatuses(ctx.store.db, target.id)
      )
        queued = queueOutbox(ctx.store.db, target);
    } else if (event.type === "StatusCreated") {
      const status = event.status;
      // Only for replies the owner sees at home (the feeds placed them earlier in this transaction): a relay's
      // or a thread's strangers would otherwise make every reply cost up to five fetches.
      if (
        !status.local &&
        status.inReplyToUri &&
        !status.inReplyToId &&
        !isLocal(ctx, status.inReplyToUri) &&
        isInHomeFeed(ctx.store.db, status.id)
      )
        queued = queue(
          ctx.store.db,
          { kind: "ancestors", reply: status.uri, parent: status.inReplyToUri },
          status.inReplyToUri,
        );
    }
    if (queued) uow.afterCommit(() => ctx.events.emit("delivery.queued"));
  });
}

/** Queues the backfill of a followed account's outbox (the Accept of the owner's Follow arrived). */
export function backfillAfterAccept(ctx: Context, account: AccountRow): void {
  if (account.domain === null) return;
  if (transaction(ctx.store, () => queueOutbox(ctx.store.db, account))) ctx.events.emit("delivery.queued");
}

function hasStatuses(db: Db, accountId: string): boolean {
  return (
    db.select({ id: statuses.id }).from(statuses).where(eq(statuses.accountId, accountId)).limit(1).get() !==
    undefined
  );
}

function queueOutbox(db: Db, account: AccountRow): boolean {
  if (!account.outboxUrl || !/^https?:\/\//.test(account.outboxUrl)) return false;
  return queue(db, { kind: "outbox", actor: account.uri }, account.outboxUrl);
}

/** Queues a job unless the same one is already waiting or running. */
function queue(db: Db, job: BackfillJob, url: string): boolean {
  const body = JSON.stringify(job);
  const waiting = db
    .select({ id: deliveryJobs.id })
    .from(deliveryJobs)
    .innerJoin(outboundActivities, eq(outboundActivities.id, deliveryJobs.activityId))
    .where(
      and(
        eq(deliveryJobs.inboxUrl, url),
        inArray(deliveryJobs.state, ["queued", "running"]),
        eq(outboundActivities.signer, BACKFILL_SIGNER),
        eq(outboundActivities.body, body),
      ),
    )
    .limit(1)
    .get();
  if (waiting) return false;
  return enqueueActivity(db, job, BACKFILL_SIGNER, [url]) !== null;
}

function isLocal(ctx: Context, uri: string): boolean {
  return hostOf(uri) === hostOf(ctx.urls.origin);
}

/**
 * Runs one queued backfill job (the delivery worker calls it instead of POSTing). Returns the answer that
 * decides the job's fate: the remote's own 429/5xx to retry later, its 4xx to give up, 200 when done.
 * Network errors are thrown as the FetchError they are (retried by the worker).
 */
export async function runBackfill(
  ctx: Context,
  body: string,
  options: { timeoutMs: number },
): Promise<BackfillOutcome> {
  const job = JSON.parse(body) as BackfillJob;
  try {
    if (job.kind === "outbox") return await backfillOutbox(ctx, job.actor, options.timeoutMs);
    return await backfillAncestors(ctx, job, options.timeoutMs);
  } catch (error) {
    // An author that could not be fetched for a network reason: the job is tried again later.
    if (error instanceof ResolveError && error.cause instanceof FetchError) throw error.cause;
    throw error;
  }
}

type Json = Record<string, unknown>;

/** A GET of an ActivityPub document whose id (when it has one) is on the host that served it. */
async function fetchDoc(
  ctx: Context,
  url: string,
  signAs: string | undefined,
  timeoutMs: number,
): Promise<{ doc: Json } | { outcome: BackfillOutcome }> {
  const response = await ctx.federation.get(url, { signAs, timeoutMs });
  if (!response.ok) return { outcome: { status: response.status, headers: response.headers } };
  const doc = response.json();
  if (!isObject(doc)) return { outcome: { status: 422, headers: new Headers() } };
  const id = idOf(doc.id);
  if (id && hostOf(id) !== response.url.host) return { outcome: { status: 422, headers: new Headers() } };
  return { doc };
}

function itemsOf(collection: Json): unknown[] | null {
  const items = collection.orderedItems ?? collection.items;
  return items === undefined ? null : asArray(items);
}

async function backfillOutbox(ctx: Context, actorUri: string, timeoutMs: number): Promise<BackfillOutcome> {
  const db = ctx.store.db;
  const actor = findAccountByUri(db, actorUri);
  const local = findLocalUser(db)?.account;
  if (!actor?.outboxUrl || !local) return DONE;
  // Signed as the owner: a server that shows followers-only posts to followers shows them to us.
  const outbox = await fetchDoc(ctx, actor.outboxUrl, local.id, timeoutMs);
  if ("outcome" in outbox) return outbox.outcome;
  let items = itemsOf(outbox.doc);
  if (items === null) {
    const first = outbox.doc.first;
    if (isObject(first) && itemsOf(first) !== null) items = itemsOf(first);
    else {
      const firstUrl = idOf(first);
      if (!firstUrl || hostOf(firstUrl) !== hostOf(actor.outboxUrl)) return DONE;
      const page = await fetchDoc(ctx, firstUrl, local.id, timeoutMs);
      if ("outcome" in page) return page.outcome;
      items = itemsOf(page.doc) ?? [];
    }
  }
  const found: Item[] = [];
  for (const item of (items ?? []).slice(0, OUTBOX_BACKFILL_POSTS)) {
    try {
      const resolved = await resolveItem(ctx, actor, item);
      if (resolved) found.push(resolved);
    } catch (error) {
      ctx.log.debug({ err: error, actor: actor.uri, item: idOf(item) }, "outbox item skipped");
    }
  }
  // Oldest first: the outbox lists the newest first.
  storeQuietly(() => {
    for (const item of found.reverse()) storeItem(ctx, actor, item);
  });
  ctx.log.info({ actor: actor.uri, posts: found.length }, "outbox backfilled");
  return DONE;
}

type Item =
  | { kind: "note"; author: AccountRow; note: RemoteNote }
  | {
      kind: "announce";
      uri: string;
      published: number;
      to: string[];
      cc: string[];
      target: { author: AccountRow; note: RemoteNote } | string;
    };

function addressees(value: unknown): string[] {
  return asArray(value)
    .map(idOf)
    .filter((v): v is string => v !== null);
}

/**
 * One outbox item as something to store: a Create's note (embedded and on the actor's host, or fetched),
 * a bare note, or an Announce of a note (the note fetched from its origin when not stored yet).
 */
async function resolveItem(ctx: Context, actor: AccountRow, raw: unknown): Promise<Item | null> {
  const actorHost = hostOf(actor.uri);
  let item = raw;
  if (!isObject(item)) {
    const uri = idOf(item);
    if (!uri || hostOf(uri) !== actorHost) return null;
    item = await fetchObject(ctx, uri);
    if (!isObject(item)) return null;
  }
  const type = asString(item.type);
  if (type === "Announce") {
    const uri = idOf(item.id);
    const objectId = idOf(item.object);
    if (!uri || !objectId || hostOf(uri) !== actorHost || idOf(item.actor) !== actor.uri) return null;
    const published = Date.parse(asString(item.published) ?? "") || Date.now();
    const common = {
      kind: "announce" as const,
      uri,
      published,
      to: addressees(item.to),
      cc: addressees(item.cc),
    };
    if (findStatusByUri(ctx.store.db, objectId)) return { ...common, target: objectId };
    const note = parseNote(await fetchObject(ctx, objectId));
    if (note.uri !== objectId) return null;
    const author = await resolveActor(ctx, note.attributedTo);
    if (hostOf(author.uri) !== hostOf(note.uri)) return null;
    return { ...common, target: { author, note: toRemoteNote(note, author) } };
  }
  let object: unknown = item;
  if (type === "Create") {
    if (idOf(item.actor) !== actor.uri) return null;
    object = item.object;
  } else if (!type || !NOTE_TYPES.has(type)) return null;
  const objectId = idOf(object);
  if (!objectId || hostOf(objectId) !== actorHost) return null;
  const json = isObject(object) && asString(object.type) ? object : await fetchObject(ctx, objectId);
  if (isObject(json) && !NOTE_TYPES.has(asString(json.type) ?? "")) return null;
  const note = parseNote(json);
  if (note.uri !== objectId || note.attributedTo !== actor.uri) return null;
  return { kind: "note", author: actor, note: toRemoteNote(note, actor) };
}

function storeItem(ctx: Context, actor: AccountRow, item: Item): void {
  if (item.kind === "note") {
    receiveNote(ctx, item.author, item.note, { notify: false });
    return;
  }
  let targetUri: string;
  if (typeof item.target === "string") targetUri = item.target;
  else {
    receiveNote(ctx, item.target.author, item.target.note, { notify: false });
    targetUri = item.target.note.uri;
  }
  const target = findStatusByUri(ctx.store.db, targetUri);
  // A boost of the owner's own post would notify: that one arrived (or not) when it was made.
  if (!target || target.local) return;
  receiveAnnounce(ctx, actor, target, {
    uri: item.uri,
    published: item.published,
    visibility: visibilityFrom(item.to, item.cc, actor.followersUrl),
  });
}

/** Runs `store` with the statuses it stores marked as backfilled (no further backfill). */
function storeQuietly(store: () => void): void {
  storing = true;
  try {
    store();
  } finally {
    storing = false;
  }
}

async function backfillAncestors(
  ctx: Context,
  job: { reply: string; parent: string },
  timeoutMs: number,
): Promise<BackfillOutcome> {
  const db = ctx.store.db;
  const chain: { author: AccountRow; note: RemoteNote }[] = [];
  const seen = new Set<string>([job.reply]);
  let uri: string | null = job.parent;
  while (uri && chain.length < MAX_ANCESTORS_FETCHED && !seen.has(uri) && !isLocal(ctx, uri)) {
    if (findStatusByUri(db, uri)) break;
    seen.add(uri);
    const fetched = await fetchDoc(ctx, uri, undefined, timeoutMs);
    if ("outcome" in fetched) {
      // Nothing is stored before the whole chain is known: a retry starts again from the reply's parent.
      if (chain.length === 0 || fetched.outcome.status === 429 || fetched.outcome.status >= 500)
        return fetched.outcome;
      break;
    }
    if (!NOTE_TYPES.has(asString(fetched.doc.type) ?? "")) break;
    const note = parseNote(fetched.doc);
    if (note.uri !== uri) break;
    const author = await resolveActor(ctx, note.attributedTo);
    if (hostOf(author.uri) !== hostOf(note.uri)) break;
    chain.push({ author, note: toRemoteNote(note, author) });
    uri = note.inReplyTo;
  }
  storeQuietly(() => {
    for (const { author, note } of chain.reverse()) receiveNote(ctx, author, note, { notify: false });
  });
  if (chain.length > 0) ctx.log.debug({ reply: job.reply, ancestors: chain.length }, "ancestors fetched");
  return DONE;
}
