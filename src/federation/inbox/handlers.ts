import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import {
  findFollow,
  findFollowByUri,
  receiveFollow,
  receiveFollowAccepted,
  receiveFollowRejected,
  receiveMove,
  removeFollower,
} from "../../core/follows.js";
import { type Interaction, receiveInteractionRequest } from "../../core/interaction-policy.js";
import {
  hasFollowRelation,
  receiveAnnounce,
  receiveBlock,
  receiveLike,
  receiveUndoAnnounce,
  receiveUndoBlock,
  receiveUndoLike,
} from "../../core/interactions.js";
import { receivePollVote } from "../../core/polls.js";
import { receiveAuthorizationDelete, receiveQuoteUpdate } from "../../core/quotes.js";
import { receiveReaction, receiveUndoReaction } from "../../core/reactions.js";
import { isAcceptedRelay, relayAnswered } from "../../core/relays.js";
import type { RemoteNote } from "../../core/remote.js";
import { receiveReport } from "../../core/reports.js";
import {
  receiveFeatured,
  receiveNote,
  receiveNoteDelete,
  receiveNoteUpdate,
  removeRemoteActor,
} from "../../core/statuses.js";
import { isBlocked } from "../../core/visibility.js";
import { findAccountByUri } from "../../store/account-lookups.js";
import { type AccountRow, findLocalUser, localAccountRef } from "../../store/accounts.js";
import { followsAnyTag } from "../../store/followed-tags.js";
import { findStatusByUri } from "../../store/statuses.js";
import { backfillAfterAccept } from "../backfill.js";
import { handleQuoteAnswer, handleQuoteRequest, prepareQuote } from "../quotes.js";
import { acceptRelayFollow } from "../relays.js";
import { fetchObject, persistActor, ResolveError, resolveActor } from "../resolve.js";
import { hostOf } from "../urls.js";
import {
  asArray,
  asString,
  idOf,
  parseActor,
  parseNote,
  parseReaction,
  toRemoteNote,
  visibilityFrom,
} from "../vocab/parse.js";
import { ACTOR_TYPES } from "../vocab/types.js";
import type { Inbound } from "./receive.js";

const NOTE_TYPES = new Set(["Note", "Article", "Page", "Question"]);
type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An object embedded in an activity is trusted only when it comes from the actor's own host. */
function requireSameOrigin(actorUri: string, objectId: string | null, what: string): void {
  if (!objectId) throw new UserError(`the ${what} has no id`, 400);
  if (hostOf(objectId) !== hostOf(actorUri)) {
    throw new UserError(
      `the ${what} ${objectId} is not on the actor's host; refusing a third party's object`,
      403,
    );
  }
}

/**
 * The note an activity carries: embedded (and then it must be the actor's own, from the actor's host) or by
 * reference (then fetched from its origin, never trusted from a third party).
 */
async function noteOf(ctx: Context, actor: AccountRow, object: unknown) {
  const id = idOf(object);
  requireSameOrigin(actor.uri, id, "object");
  const json = isObject(object) && asString(object.type) ? object : await fetchObject(ctx, id as string);
  const note = parseNote(json);
  if (note.uri !== id) throw new UserError("the object's id changed when it was fetched", 400);
  if (note.attributedTo !== actor.uri)
    throw new UserError(`the object is attributed to ${note.attributedTo}, not to the actor`, 403);
  return toRemoteNote(note, actor);
}

const inboxesOf = (actor: AccountRow) =>
  [actor.inboxUrl, actor.sharedInboxUrl].filter((url): url is string => url !== null);

function localActor(ctx: Context): AccountRow {
  const local = findLocalUser(ctx.store.db)?.account;
  if (!local) throw new UserError("this server has no account yet", 404);
  return local;
}

/** Whether a remote note concerns the local account at all: we keep only what its owner would see. */
function isWanted(ctx: Context, actor: AccountRow, note: RemoteNote): boolean {
  const { mentions, inReplyTo } = note;
  const local = localActor(ctx);
  if (findFollow(ctx, local.id, actor.id)?.state === "accepted") return true;
  if (mentions.includes(local.uri)) return true;
  // A followed hashtag brings public and unlisted posts home (core/feeds.ts).
  if (
    (note.visibility === "public" || note.visibility === "unlisted") &&
    followsAnyTag(ctx.store.db, note.hashtags)
  )
    return true;
  if (inReplyTo) {
    const parent = findStatusByUri(ctx.store.db, inReplyTo);
    if (parent && parent.deletedAt === null) return true;
  }
  // A quote of the owner's post concerns the owner as a mention does.
  if (note.quote && findStatusByUri(ctx.store.db, note.quote.uri)?.accountId === local.id) return true;
  return false;
}

/** An embedded Note with a `name` and no content, replying to a local status: a vote in its poll. */
function isPollVote(ctx: Context, object: unknown): boolean {
  if (!isObject(object) || object.type !== "Note" || !asString(object.name) || asString(object.content))
    return false;
  const parent = idOf(object.inReplyTo);
  const status = parent ? findStatusByUri(ctx.store.db, parent) : null;
  // receivePollVote checks that the status has a poll and the name is one of its options.
  return status?.local === true;
}

export async function dispatch(ctx: Context, inbound: Inbound): Promise<void> {
  const { activity, type } = inbound;
  const handler = HANDLERS[type];
  if (!handler) {
    ctx.log.debug({ type, id: inbound.id }, "ignored activity type");
    return;
  }
  const actor = await resolveSender(ctx, inbound);
  const local = localAccountRef(ctx.store.db);
  if (local && isBlocked(ctx.store.db, local.id, actor.id) && type !== "Undo" && type !== "Delete") return;
  await handler(ctx, actor, activity, inbound);
}

/**
 * The actor who sent an activity. For a Delete of the actor itself, a 404 or 410 on refetching it confirms
 * the deletion (INTEROP.md): the stored copy is used, so the Delete still takes effect.
 */
async function resolveSender(ctx: Context, inbound: Inbound): Promise<AccountRow> {
  try {
    return await resolveActor(ctx, inbound.actorUri);
  } catch (error) {
    const selfDelete = inbound.type === "Delete" && idOf(inbound.activity.object) === inbound.actorUri;
    if (
      !selfDelete ||
      !(error instanceof ResolveError) ||
      (error.code !== "gone" && error.code !== "not_found")
    )
      throw error;
    const stored = findAccountByUri(ctx.store.db, inbound.actorUri);
    if (!stored) throw error;
    return stored;
  }
}

type Handler = (ctx: Context, actor: AccountRow, activity: Json, inbound: Inbound) => Promise<void> | void;

const HANDLERS: Record<string, Handler> = {
  Follow(ctx, actor, activity, inbound) {
    const local = localActor(ctx);
    if (idOf(activity.object) === ctx.urls.instanceActor && acceptRelayFollow(ctx, actor.uri, activity))
      return;
    if (idOf(activity.object) !== local.uri) return; // A Follow of someone else, or of the instance actor.
    if (!inbound.id) throw new UserError("a Follow needs an id", 400);
    receiveFollow(ctx, actor, inbound.id);
  },

  Accept(ctx, actor, activity) {
    if (handleQuoteAnswer(ctx, actor, activity, true)) return;
    const local = localActor(ctx);
    const object = activity.object;
    const followUri = idOf(object);
    if (relayAnswered(ctx, actor.uri, inboxesOf(actor), followUri, true)) return;
    if (isObject(object) && asString(object.type) && object.type !== "Follow") return;
    if (isObject(object) && idOf(object.actor) && idOf(object.actor) !== local.uri) return;
    if (receiveFollowAccepted(ctx, actor, followUri)) backfillAfterAccept(ctx, actor);
  },

  Reject(ctx, actor, activity) {
    if (handleQuoteAnswer(ctx, actor, activity, false)) return;
    const object = activity.object;
    if (relayAnswered(ctx, actor.uri, inboxesOf(actor), idOf(object), false)) return;
    if (isObject(object) && asString(object.type) && object.type !== "Follow") return;
    receiveFollowRejected(ctx, actor);
  },

  async Undo(ctx, actor, activity) {
    const object = activity.object;
    const objectId = idOf(object);
    if (isObject(object) && idOf(object.actor) && idOf(object.actor) !== actor.uri) {
      throw new UserError("an actor can only undo its own activities", 403);
    }
    const innerType = isObject(object) ? asString(object.type) : null;
    const inner = isObject(object) ? idOf(object.object) : null;
    const local = localActor(ctx);
    // An embedded Follow without an id (Fedify sends these) is matched by its actor and object, as Mastodon does.
    if (!objectId && innerType === "Follow" && isObject(object) && idOf(object.actor) === actor.uri) {
      if (inner === local.uri) removeFollower(ctx, actor);
      return;
    }
    if (!objectId) throw new UserError("Undo needs an object", 400);

    if (innerType === "Follow" || (!innerType && findFollowByUri(ctx, objectId, actor.id))) {
      removeFollower(ctx, actor);
      return;
    }
    if (innerType === "EmojiReact" || innerType === "Like" || !innerType) {
      const emoji = isObject(object) && inner ? parseReaction(object) : null;
      receiveUndoReaction(
        ctx,
        actor,
        objectId,
        emoji && inner ? { statusUri: inner, name: emoji.name } : null,
      );
      if (innerType === "EmojiReact") return;
    }
    if (innerType === "Like" || !innerType) {
      if (receiveUndoLike(ctx, actor, objectId, inner)) return;
    }
    if (innerType === "Announce" || !innerType) {
      if (receiveUndoAnnounce(ctx, actor, objectId)) return;
    }
    if (innerType === "Block" && idOf(isObject(object) ? object.object : null) === local.uri) {
      receiveUndoBlock(ctx, actor);
    }
  },

  async Create(ctx, actor, activity) {
    const object = activity.object;
    const objectType = isObject(object) ? asString(object.type) : null;
    if (objectType && !NOTE_TYPES.has(objectType)) return; // e.g. a ChatMessage: accepted and ignored.
    if (isPollVote(ctx, object)) {
      // A vote: a Note with only a `name` (the option), in reply to our Question (INTEROP.md).
      const vote = object as Json;
      requireSameOrigin(actor.uri, idOf(vote), "vote");
      if (idOf(vote.attributedTo) !== actor.uri)
        throw new UserError("a vote must be attributed to its actor", 403);
      receivePollVote(ctx, actor, idOf(vote.inReplyTo) as string, asString(vote.name) as string, idOf(vote));
      return;
    }
    const note = await noteOf(ctx, actor, object);
    if (!isWanted(ctx, actor, note)) return;
    await prepareQuote(ctx, note);
    receiveNote(ctx, actor, note);
  },

  async Update(ctx, actor, activity) {
    const object = activity.object;
    const objectType = isObject(object) ? asString(object.type) : null;
    if (objectType && (ACTOR_TYPES as readonly string[]).includes(objectType)) {
      if (idOf(object) !== actor.uri) throw new UserError("an actor can only update itself", 403);
      persistActor(ctx, parseActor(object, actor.uri));
      return;
    }
    if (objectType && !NOTE_TYPES.has(objectType)) return;
    const note = await noteOf(ctx, actor, object);
    if (!findStatusByUri(ctx.store.db, note.uri) && !isWanted(ctx, actor, note)) return;
    await prepareQuote(ctx, note);
    receiveNoteUpdate(ctx, actor, note);
    if (note.quote) receiveQuoteUpdate(ctx, actor, note.uri, note.quote);
  },

  Delete(ctx, actor, activity) {
    const objectId = idOf(activity.object);
    if (!objectId) throw new UserError("Delete needs an object", 400);
    if (objectId === actor.uri) {
      removeRemoteActor(ctx, actor);
      return;
    }
    requireSameOrigin(actor.uri, objectId, "object");
    if (receiveAuthorizationDelete(ctx, actor, objectId)) return;
    receiveNoteDelete(ctx, actor, objectId);
  },

  Like(ctx, actor, activity, inbound) {
    const objectId = idOf(activity.object);
    if (!objectId || !inbound.id) throw new UserError("Like needs an id and an object", 400);
    // Misskey's reactions are Likes naming the emoji: a favourite and a reaction (core/reactions.ts).
    const emoji = parseReaction(activity);
    if (emoji) receiveReaction(ctx, actor, objectId, inbound.id, emoji, true);
    else receiveLike(ctx, actor, objectId, inbound.id);
  },

  EmojiReact(ctx, actor, activity, inbound) {
    const objectId = idOf(activity.object);
    if (!objectId || !inbound.id) throw new UserError("EmojiReact needs an id and an object", 400);
    const emoji = parseReaction(activity);
    if (!emoji) throw new UserError("EmojiReact needs one emoji as its content", 422);
    receiveReaction(ctx, actor, objectId, inbound.id, emoji);
  },

  async Announce(ctx, actor, activity, inbound) {
    const objectId = idOf(activity.object);
    if (!objectId || !inbound.id) throw new UserError("Announce needs an id and an object", 400);
    let target = findStatusByUri(ctx.store.db, objectId);
    // A relay's Announce brings a public post, and is no boost (as on Mastodon).
    const relayed = isAcceptedRelay(ctx, actor.uri);
    if (!target) {
      // Someone we follow boosted a post we don't have: fetch it from its origin (never trust an embedded copy).
      if (!relayed && !hasFollowRelation(ctx, actor.id)) return;
      const json = await fetchObject(ctx, objectId);
      const note = parseNote(json);
      if (note.uri !== objectId) throw new UserError("the boosted object's id changed when fetched", 400);
      const author = await resolveActor(ctx, note.attributedTo);
      if (hostOf(author.uri) !== hostOf(note.uri))
        throw new UserError("the boosted object is not on its author's host", 403);
      const id = receiveNote(ctx, author, toRemoteNote(note, author));
      target = findStatusByUri(ctx.store.db, note.uri);
      if (!target || target.id !== id) return;
    }
    if (relayed) return;
    const addressees = (value: unknown) =>
      asArray(value)
        .map(idOf)
        .filter((v): v is string => v !== null);
    receiveAnnounce(ctx, actor, target, {
      uri: inbound.id,
      published: Date.parse(asString(activity.published) ?? "") || Date.now(),
      visibility: visibilityFrom(addressees(activity.to), addressees(activity.cc), actor.followersUrl),
    });
  },

  Block(ctx, actor, activity, inbound) {
    if (idOf(activity.object) !== localActor(ctx).uri) return;
    receiveBlock(ctx, actor, inbound.id);
  },

  async Move(ctx, actor, activity) {
    const origin = idOf(activity.object);
    const targetUri = idOf(activity.target);
    if (origin !== actor.uri || !targetUri)
      throw new UserError("Move must move the actor itself to a target", 400);
    const target = await resolveActor(ctx, targetUri, { refresh: true });
    if (!target.alsoKnownAs.includes(actor.uri)) {
      throw new UserError("the Move target does not list the moving account in alsoKnownAs", 422);
    }
    receiveMove(ctx, actor, target);
  },

  Flag(ctx, actor, activity, inbound) {
    receiveReport(ctx, actor, {
      uri: inbound.id,
      objects: asArray(activity.object)
        .map(idOf)
        .filter((v): v is string => v !== null),
      comment: asString(activity.content) ?? "",
    });
  },

  QuoteRequest(ctx, actor, activity, inbound) {
    return handleQuoteRequest(ctx, actor, activity, inbound.id, (object) => noteOf(ctx, actor, object));
  },

  LikeRequest(ctx, actor, activity, inbound) {
    interactionRequest(ctx, actor, activity, inbound, "like");
  },

  ReplyRequest(ctx, actor, activity, inbound) {
    interactionRequest(ctx, actor, activity, inbound, "reply");
  },

  AnnounceRequest(ctx, actor, activity, inbound) {
    interactionRequest(ctx, actor, activity, inbound, "announce");
  },

  Add(ctx, actor, activity) {
    return setFeatured(ctx, actor, activity, true);
  },

  Remove(ctx, actor, activity) {
    return setFeatured(ctx, actor, activity, false);
  },
};

/**
 * Add/Remove of the actor's own status to/from its featured collection (pins). A pinned status we do not
 * have is fetched first, as Mastodon does, and kept if the owner would see it (isWanted).
 */
async function setFeatured(ctx: Context, actor: AccountRow, activity: Json, pinned: boolean) {
  const target = idOf(activity.target);
  const objectId = idOf(activity.object);
  if (!target || !objectId || !actor.featuredUrl || target !== actor.featuredUrl) return;
  if (pinned && !findStatusByUri(ctx.store.db, objectId)) {
    const note = await noteOf(ctx, actor, objectId);
    if (!isWanted(ctx, actor, note)) return;
    receiveNote(ctx, actor, note);
  }
  receiveFeatured(ctx, actor, objectId, pinned);
}

/**
 * A GoToSocial interaction request (0.20+): `object` is the owner's post, `instrument` the interaction
 * (the reply Note, the Like or the Announce), which must be the actor's own. core answers it.
 */
function interactionRequest(
  ctx: Context,
  actor: AccountRow,
  activity: Json,
  inbound: Inbound,
  kind: Interaction,
) {
  const statusUri = idOf(activity.object);
  const instrument = activity.instrument;
  const interactingObject = idOf(instrument);
  if (!inbound.id || !statusUri || !interactingObject)
    throw new UserError("an interaction request needs an id, an object and an instrument", 400);
  requireSameOrigin(actor.uri, interactingObject, "instrument");
  if (isObject(instrument)) {
    const by = idOf(kind === "reply" ? instrument.attributedTo : instrument.actor);
    if (by && by !== actor.uri) throw new UserError("the interaction is not the actor's own", 403);
    if (kind === "reply" && idOf(instrument.inReplyTo) && idOf(instrument.inReplyTo) !== statusUri)
      throw new UserError("the reply does not reply to the request's object", 400);
  }
  receiveInteractionRequest(ctx, actor, { kind, uri: inbound.id, statusUri, interactingObject });
}
