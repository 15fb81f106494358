/**
 * Quote posts between servers (FEP-044f, as Mastodon 4.5 speaks it). Outbound: a QuoteRequest to the quoted
 * author when the owner quotes someone, an Accept (with our QuoteAuthorization) or a Reject when someone asks
 * to quote the owner, and a Delete of the authorization when the owner revokes it; all written in the
 * transaction of the change, like the outbox. Inbound: what the inbox needs before the core runs (the quoted
 * post fetched, the authorization checked) and the QuoteRequest and its answers.
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import type { DomainEvent } from "../core/events.js";
import {
  type QuoteAnswer,
  quoteIdOfAuthorization,
  receiveQuoteAnswer,
  receiveQuoteRequest,
} from "../core/quotes.js";
import type { RemoteNote, RemoteQuote } from "../core/remote.js";
import { receiveNote } from "../core/statuses.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { findQuoteByActivity, findQuoteById, type QuoteRow } from "../store/quotes.js";
import { accounts } from "../store/schema.js";
import { findStatusById, findStatusByUri, loadStatusView, type StatusRow } from "../store/statuses.js";
import { enqueueActivity } from "./delivery/enqueue.js";
import { followerInboxes } from "./outbox.js";
import { fetchObject, resolveActor } from "./resolve.js";
import { hostOf } from "./urls.js";
import { PUBLIC } from "./vocab/context.js";
import { OBJECT_CONTEXT, renderNote } from "./vocab/note.js";
import { asArray, asString, idOf, isObject, parseNote, toRemoteNote } from "./vocab/parse.js";

type Json = Record<string, unknown>;

const AUTHORIZATION_CONTEXT = [
  ...OBJECT_CONTEXT,
  { QuoteAuthorization: "https://w3id.org/fep/044f#QuoteAuthorization" },
];

// ---- Outbound ----

export function registerQuoteFederation(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    const sent = deliver(ctx, event);
    if (sent) uow.afterCommit(() => ctx.events.emit("delivery.queued"));
  });
}

function accountById(ctx: Context, id: string | null): AccountRow | null {
  if (!id) return null;
  return ctx.store.db.select().from(accounts).where(eq(accounts.id, id)).get() ?? null;
}

/** Activities about quotes go to the account's own inbox, as Mastodon sends them. */
function inboxOf(account: AccountRow | null): string[] {
  return account?.domain && account.inboxUrl ? [account.inboxUrl] : [];
}

function deliver(ctx: Context, event: DomainEvent): boolean {
  const db = ctx.store.db;
  switch (event.type) {
    case "QuoteRequested": {
      const { quote } = event;
      const view = loadStatusView(db, quote.statusId);
      const target = accountById(ctx, quote.quotedAccountId);
      if (!view || !target || !quote.activityUri) return false;
      const request = {
        "@context": OBJECT_CONTEXT,
        id: quote.activityUri,
        type: "QuoteRequest",
        actor: view.account.uri,
        object: quote.quotedUri,
        instrument: renderNote(view, ctx.urls),
      };
      return enqueueActivity(db, request, view.account.id, inboxOf(target)) !== null;
    }
    case "QuoteRequestAnswered":
      return (
        enqueueActivity(
          db,
          renderAnswer(event.answer),
          event.answer.owner.id,
          inboxOf(event.answer.requester),
        ) !== null
      );
    case "QuoteRevoked": {
      const { quote } = event;
      const owner = accountById(ctx, quote.quotedAccountId);
      if (!owner || !quote.authorizationUri) return false;
      const activity = {
        "@context": OBJECT_CONTEXT,
        id: `${quote.authorizationUri}#delete`,
        type: "Delete",
        actor: owner.uri,
        to: [PUBLIC],
        object: quote.authorizationUri,
      };
      const inboxes = [
        ...new Set([...inboxOf(accountById(ctx, quote.accountId)), ...followerInboxes(ctx, owner.id)]),
      ];
      return enqueueActivity(db, activity, owner.id, inboxes) !== null;
    }
    default:
      return false;
  }
}

/** Accept (its `result` the authorization) or Reject of a QuoteRequest, the request embedded as Mastodon does. */
function renderAnswer(answer: QuoteAnswer) {
  const type = answer.accepted ? "Accept" : "Reject";
  return {
    "@context": OBJECT_CONTEXT,
    id: `${answer.owner.uri}#${type.toLowerCase()}s/quote_requests/${answer.quote?.id ?? newId()}`,
    type,
    actor: answer.owner.uri,
    to: [answer.requester.uri],
    object: {
      id: answer.requestUri,
      type: "QuoteRequest",
      actor: answer.requester.uri,
      object: answer.quotedUri,
      instrument: answer.instrumentUri,
    },
    ...(answer.accepted && answer.authorizationUri ? { result: answer.authorizationUri } : {}),
  };
}

/**
 * The QuoteAuthorization the owner gave for a quote of one of its statuses, served at its id while the
 * quote stays accepted; null otherwise (revoked, rejected, or not one of ours).
 */
export function renderAuthorization(ctx: Context, quoteId: string, ownerId: string): object | null {
  const quote = findQuoteById(ctx.store.db, quoteId);
  if (quote?.state !== "accepted" || quote.quotedAccountId !== ownerId || !quote.authorizationUri)
    return null;
  const quoting = findStatusById(ctx.store.db, quote.statusId);
  const owner = accountById(ctx, ownerId);
  if (!quoting || !owner || quote.authorizationUri !== authorizationOf(ctx, quote)) return null;
  return {
    "@context": AUTHORIZATION_CONTEXT,
    id: quote.authorizationUri,
    type: "QuoteAuthorization",
    attributedTo: owner.uri,
    interactingObject: quoting.uri,
    interactionTarget: quote.quotedUri,
  };
}

/** The authorization URI of a quote when it is one of ours. */
function authorizationOf(ctx: Context, quote: QuoteRow): string | null {
  return quote.authorizationUri && quoteIdOfAuthorization(ctx, quote.authorizationUri) === quote.id
    ? quote.authorizationUri
    : null;
}

// ---- Inbound ----

/**
 * The quoted post of a remote note, stored if it was not yet: fetched from its origin (never trusted from
 * the quoting server) and kept only when it is on its author's host. Null when it cannot be had.
 */
async function resolveQuoted(ctx: Context, uri: string): Promise<StatusRow | null> {
  const known = findStatusByUri(ctx.store.db, uri);
  if (known) return known;
  if (hostOf(uri) === ctx.urls.domain) return null;
  try {
    const note = parseNote(await fetchObject(ctx, uri));
    if (note.uri !== uri) return null;
    const author = await resolveActor(ctx, note.attributedTo);
    if (hostOf(author.uri) !== hostOf(note.uri)) return null;
    // One level only: a quote inside the quoted post is stored but not fetched in turn.
    receiveNote(ctx, author, toRemoteNote(note, author));
    return findStatusByUri(ctx.store.db, uri);
  } catch (error) {
    ctx.log.debug({ err: error, uri }, "the quoted post could not be fetched");
    return null;
  }
}

/**
 * Whether a quote's authorization holds, as Mastodon's VerifyQuoteService checks it: a QuoteAuthorization on
 * the quoted author's host, attributed to that author, naming this note and the quoted post. Ours are
 * checked in the store; others are fetched.
 */
async function authorizationHolds(
  ctx: Context,
  noteUri: string,
  quote: RemoteQuote,
  quoted: StatusRow | null,
): Promise<boolean> {
  const uri = quote.authorization;
  if (!uri || !quoted) return false;
  const localId = quoteIdOfAuthorization(ctx, uri);
  if (localId) {
    const row = findQuoteById(ctx.store.db, localId);
    const quoting = row ? findStatusById(ctx.store.db, row.statusId) : null;
    return row?.state === "accepted" && row.authorizationUri === uri && row.quotedStatusId === quoted.id
      ? quoting?.uri === noteUri
      : false;
  }
  const author = accountById(ctx, quoted.accountId);
  if (!author || hostOf(uri) !== hostOf(author.uri)) return false;
  try {
    const json = await fetchObject(ctx, uri);
    if (!isObject(json)) return false;
    return (
      asArray(json.type).includes("QuoteAuthorization") &&
      idOf(json.attributedTo) === author.uri &&
      idOf(json.interactingObject) === noteUri &&
      idOf(json.interactionTarget) === quoted.uri
    );
  } catch (error) {
    ctx.log.debug({ err: error, uri }, "the quote authorization could not be fetched");
    return false;
  }
}

/**
 * Network work a quoting note needs before the core stores it: the quoted post is fetched if unknown and
 * the authorization is checked (`note.quote.authorized`).
 */
export async function prepareQuote(ctx: Context, note: RemoteNote): Promise<void> {
  if (!note.quote) return;
  const quoted = await resolveQuoted(ctx, note.quote.uri);
  note.quote.authorized = await authorizationHolds(ctx, note.uri, note.quote, quoted);
}

/**
 * A QuoteRequest: someone asks to quote one of the owner's statuses with `instrument`, their quoting note
 * (embedded or by reference; `loadNote` fetches and checks it as the inbox does for any note).
 */
export async function handleQuoteRequest(
  ctx: Context,
  actor: AccountRow,
  activity: Json,
  activityId: string | null,
  loadNote: (object: unknown) => Promise<RemoteNote>,
): Promise<void> {
  const quotedUri = idOf(activity.object);
  const instrumentUri = idOf(activity.instrument);
  if (!activityId || !quotedUri || !instrumentUri)
    throw new UserError("a QuoteRequest needs an id, an object and an instrument", 400);
  if (hostOf(activityId) !== hostOf(actor.uri))
    throw new UserError("the QuoteRequest is not on the actor's host", 403);
  const quoted = findStatusByUri(ctx.store.db, quotedUri);
  if (!quoted?.local) return;
  if (!findStatusByUri(ctx.store.db, instrumentUri)) {
    const note = await loadNote(activity.instrument);
    await prepareQuote(ctx, note);
    receiveNote(ctx, actor, note);
  }
  receiveQuoteRequest(ctx, actor, { uri: activityId, quotedUri, instrumentUri });
}

/**
 * An Accept or Reject whose object is one of our QuoteRequests. Returns false when it is about something
 * else (a Follow). As in Mastodon, the Accept itself (signed by the quoted author's server) is the consent:
 * its `result` names the authorization, which must be on that server.
 */
export function handleQuoteAnswer(
  ctx: Context,
  actor: AccountRow,
  activity: Json,
  accepted: boolean,
): boolean {
  const object = activity.object;
  const type = isObject(object) ? asString(object.type) : null;
  if (type && type !== "QuoteRequest") return false;
  const requestId = idOf(object);
  const quote = requestId ? findQuoteByActivity(ctx.store.db, requestId) : null;
  if (!quote) return type === "QuoteRequest";
  if (!accepted) {
    receiveQuoteAnswer(ctx, actor, quote.id, { accepted: false });
    return true;
  }
  const result = idOf(asArray(activity.result)[0]);
  if (!result || hostOf(result) !== hostOf(actor.uri))
    throw new UserError("an Accept of a QuoteRequest needs a result on the actor's host", 400);
  receiveQuoteAnswer(ctx, actor, quote.id, { accepted: true, authorizationUri: result });
  return true;
}
