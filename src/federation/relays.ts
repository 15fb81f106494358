/**
 * Relays: the instance actor subscribes to a relay with a Follow, and from then on the relay sends it the
 * public posts of its other subscribers (as Announce, or the Create forwarded) and takes ours.
 *
 * Two conventions exist, and `wren relay add` speaks both:
 * - Mastodon (and ActivityRelay, Aode relay in their Mastodon mode): the Follow's object is the Public
 *   collection and it goes to the relay's inbox URL, which is what the admin is given ("…/inbox").
 * - LitePub (Pleroma, Akkoma, ActivityRelay's LitePub mode): the Follow's object is the relay actor itself
 *   ("…/actor", type Application), sent to that actor's inbox. Chosen with `--litepub`, or when the URL
 *   given is an actor document rather than an inbox.
 * The Follow, its Undo and the owner's public posts to the relay's inbox are delivery jobs like any other.
 */
import type { Context } from "../context.js";
import { INSTANCE_KEY_OWNER, UserError } from "../core/account.js";
import { addRelay, findRelay, type RelayMode, type RelayRow, removeRelay } from "../core/relays.js";
import { commit } from "../core/unit-of-work.js";
import { enqueueActivity } from "./delivery/enqueue.js";
import { fetchObject, ResolveError } from "./resolve.js";
import { AS_CONTEXT, PUBLIC } from "./vocab/context.js";
import { asString, httpUrl, idOf, isObject } from "./vocab/parse.js";

/** The Follow of a relay, without its `@context` (the Undo embeds it). */
function followObject(ctx: Context, relay: RelayRow) {
  return {
    id: relay.followUri,
    type: "Follow",
    actor: ctx.urls.instanceActor,
    object: relay.mode === "litepub" ? relay.actorUri : PUBLIC,
  };
}

/** What a URL given to `relay add` names: the relay's inbox (Mastodon style) or its actor (LitePub). */
async function describe(
  ctx: Context,
  url: string,
  litepub: boolean,
): Promise<{ inboxUrl: string; actorUri: string | null; mode: RelayMode }> {
  const parsed = httpUrl(url);
  if (!parsed) throw new UserError(`${url} is not an http(s) URL`, 400);
  const looksLikeActor = /\/actor\/?$/.test(new URL(parsed).pathname);
  if (!litepub && !looksLikeActor) return { inboxUrl: parsed, actorUri: null, mode: "mastodon" };
  let doc: unknown;
  try {
    doc = await fetchObject(ctx, parsed);
  } catch (error) {
    if (error instanceof ResolveError) throw new UserError(`could not read ${url}: ${error.message}`, 422);
    throw error;
  }
  const inbox = isObject(doc) ? httpUrl(doc.inbox) : null;
  const actorUri = isObject(doc) ? idOf(doc.id) : null;
  if (!inbox || !actorUri) {
    if (litepub) throw new UserError(`${url} is not an actor with an inbox`, 422);
    return { inboxUrl: parsed, actorUri: null, mode: "mastodon" };
  }
  const type = isObject(doc) ? asString(doc.type) : null;
  // An Application at …/actor is a relay actor: LitePub-style, as Pleroma follows one.
  if (!litepub && type !== "Application" && type !== "Service")
    throw new UserError(
      `${url} is a ${type ?? "document"}, not a relay actor; pass --litepub to insist`,
      422,
    );
  return { inboxUrl: inbox, actorUri, mode: "litepub" };
}

/** `wren relay add`: records the relay (pending) and queues the Follow, signed by the instance actor. */
export async function subscribeRelay(ctx: Context, url: string, options: { litepub: boolean }) {
  const target = await describe(ctx, url, options.litepub);
  return commit(ctx, (uow) => {
    const relay = addRelay(ctx, {
      ...target,
      followUri: (id) => `${ctx.urls.instanceActor}#relays/${id}`,
    });
    const follow = { "@context": AS_CONTEXT, ...followObject(ctx, relay) };
    if (enqueueActivity(ctx.store.db, follow, INSTANCE_KEY_OWNER, [relay.inboxUrl]))
      uow.afterCommit(() => ctx.events.emit("delivery.queued"));
    return relay;
  });
}

/** `wren relay remove`: sends Undo(Follow) and forgets the relay. */
export function unsubscribeRelay(ctx: Context, url: string): RelayRow {
  const relay = findRelay(ctx, url);
  if (!relay) throw new UserError(`no relay ${url}; see wren relay list`, 404);
  return commit(ctx, (uow) => {
    const undo = {
      "@context": AS_CONTEXT,
      id: `${relay.followUri}/undo`,
      type: "Undo",
      actor: ctx.urls.instanceActor,
      object: followObject(ctx, relay),
    };
    removeRelay(ctx, relay);
    if (enqueueActivity(ctx.store.db, undo, INSTANCE_KEY_OWNER, [relay.inboxUrl]))
      uow.afterCommit(() => ctx.events.emit("delivery.queued"));
    return relay;
  });
}

/**
 * A LitePub relay follows its subscriber back (FEP-ae0c): a Follow of the instance actor from a relay we
 * subscribed to is accepted at once. Follows of the instance actor from anyone else are ignored. Returns
 * whether the Follow was a relay's.
 */
export function acceptRelayFollow(ctx: Context, actorUri: string, follow: Record<string, unknown>): boolean {
  const relay = findRelay(ctx, actorUri);
  if (!relay) return false;
  const followId = idOf(follow.id);
  const accept = {
    "@context": AS_CONTEXT,
    id: `${ctx.urls.instanceActor}#accepts/relays/${relay.id}/${Date.now()}`,
    type: "Accept",
    actor: ctx.urls.instanceActor,
    object: { id: followId, type: "Follow", actor: actorUri, object: ctx.urls.instanceActor },
  };
  return commit(ctx, (uow) => {
    if (enqueueActivity(ctx.store.db, accept, INSTANCE_KEY_OWNER, [relay.inboxUrl]))
      uow.afterCommit(() => ctx.events.emit("delivery.queued"));
    return true;
  });
}
