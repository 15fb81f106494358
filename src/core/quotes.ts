/**
 * Quote posts as Mastodon 4.5 does them (FEP-044f). A quote is a relation between the quoting status and the
 * quoted one, with a state: pending until the quoted author's server consents with a QuoteAuthorization,
 * accepted, rejected, revoked (consent withdrawn) or deleted (the quoted post is gone). Only an accepted quote
 * shows the quoted post. Who may quote one of the owner's statuses is its quote policy.
 */
import { and, eq, ne } from "drizzle-orm";
import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import {
  acceptedQuotesBy,
  findQuoteByAuthorization,
  findQuoteById,
  findQuoteByStatus,
  type QuoteRow,
  type QuoteState,
} from "../store/quotes.js";
import { quotes } from "../store/schema.js";
import { findStatusById, findStatusByUri, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { findFollow } from "./follows.js";
import type { RemoteQuote } from "./remote.js";
import { escapeHtml } from "./text.js";
import { commit } from "./unit-of-work.js";

export type QuotePolicy = "public" | "followers" | "nobody";
export const QUOTE_POLICIES: readonly QuotePolicy[] = ["public", "followers", "nobody"];

/** What the owner's server answers to a QuoteRequest; the federation layer turns it into Accept or Reject. */
export interface QuoteAnswer {
  accepted: boolean;
  owner: AccountRow;
  requester: AccountRow;
  /** The QuoteRequest's id. */
  requestUri: string;
  quotedUri: string;
  instrumentUri: string;
  /** The quote row (always there when accepted) and its authorization. */
  quote: QuoteRow | null;
  authorizationUri: string | null;
}

/**
 * The policy in force for one of the owner's statuses. Followers-only and direct posts are never quotable by
 * others (as in Mastodon 4.5); a post from before quotes existed (no policy stored) is not either.
 */
export function quotePolicyOf(status: StatusRow): QuotePolicy {
  if (status.visibility === "private" || status.visibility === "direct") return "nobody";
  return status.quotePolicy ?? "nobody";
}

/** The policy stored for a new local status: what was asked for, "public" by default, none for private posts. */
export function initialQuotePolicy(
  visibility: StatusRow["visibility"],
  asked: QuotePolicy | undefined,
): QuotePolicy {
  if (visibility === "private" || visibility === "direct") return "nobody";
  return asked ?? "public";
}

/** Whether `accountId` may quote the local `status` without asking anyone (its author always may). */
export function mayQuote(ctx: Context, status: StatusRow, accountId: string): boolean {
  if (accountId === status.accountId) return true;
  switch (quotePolicyOf(status)) {
    case "public":
      return true;
    case "followers":
      return findFollow(ctx, accountId, status.accountId)?.state === "accepted";
    default:
      return false;
  }
}

/** The URL of the QuoteAuthorization the owner's server gives for a quote of one of the owner's statuses. */
export function authorizationUriFor(ctx: Context, quote: Pick<QuoteRow, "id">): string {
  return `${ctx.urls.actor(requireLocalAccount(ctx).username)}/quote_authorizations/${quote.id}`;
}

/** The id of a quote from one of our authorization URLs, or null when the URL is not one. */
export function quoteIdOfAuthorization(ctx: Context, uri: string): string | null {
  const prefix = `${ctx.urls.actor(requireLocalAccount(ctx).username)}/quote_authorizations/`;
  if (!uri.startsWith(prefix)) return null;
  const id = uri.slice(prefix.length);
  return /^\d{1,20}$/.test(id) ? id : null;
}

/**
 * A status the owner is about to quote: it must exist, not be a private mention, and be public or unlisted
 * unless it is the owner's own. Called by createStatus before its transaction.
 */
export function quotableStatus(ctx: Context, id: string): StatusRow {
  const local = requireLocalAccount(ctx);
  const quoted = findStatusById(ctx.store.db, id);
  if (!quoted || quoted.deletedAt !== null || quoted.reblogOfId !== null)
    throw new UserError("the quoted status does not exist", 404);
  const own = quoted.accountId === local.id;
  if (quoted.visibility === "direct") throw new UserError("private mentions cannot be quoted", 422);
  if (!own && quoted.visibility === "private")
    throw new UserError("only public and unlisted posts of others can be quoted", 422);
  return quoted;
}

/**
 * For servers that know nothing of quotes, Mastodon 4.5 starts a quote's content with a link to the quoted
 * post (`quote-inline`, hidden by apps that show the quote), unless the text already links to it.
 */
export function withQuoteFallback(content: string, text: string, quoted: StatusRow): string {
  const url = quoted.url ?? quoted.uri;
  if (text.includes(url) || text.includes(quoted.uri)) return content;
  const href = escapeHtml(url);
  return `<p class="quote-inline">RE: <a href="${href}">${href}</a></p>${content}`;
}

/** A private mention can quote only a post whose author it mentions (or the owner's own). */
export function checkQuoteAudience(
  visibility: StatusRow["visibility"],
  quoted: StatusRow,
  mentionedIds: string[],
): void {
  if (visibility !== "direct" || quoted.local || mentionedIds.includes(quoted.accountId)) return;
  throw new UserError("a private mention that quotes must mention the quoted author", 422);
}

/** A quote of a followers-only post is followers-only at most (as in Mastodon 4.5). */
export function visibilityForQuote(
  visibility: StatusRow["visibility"],
  quoted: StatusRow | null,
): StatusRow["visibility"] {
  if (quoted?.visibility === "private" && (visibility === "public" || visibility === "unlisted"))
    return "private";
  return visibility;
}

function insertQuote(
  ctx: Context,
  values: Omit<typeof quotes.$inferInsert, "id" | "createdAt" | "updatedAt">,
): QuoteRow {
  const now = Date.now();
  const id = newId(now);
  ctx.store.db
    .insert(quotes)
    .values({ ...values, id, createdAt: now, updatedAt: now })
    .run();
  return findQuoteById(ctx.store.db, id) as QuoteRow;
}

function setState(ctx: Context, quote: QuoteRow, state: QuoteState, extra: Partial<QuoteRow> = {}): QuoteRow {
  ctx.store.db
    .update(quotes)
    .set({ ...extra, state, updatedAt: Date.now() })
    .where(eq(quotes.id, quote.id))
    .run();
  return findQuoteById(ctx.store.db, quote.id) as QuoteRow;
}

/**
 * The quote of a new local status (inside createStatus's transaction). Quoting oneself needs no consent;
 * quoting someone else is pending until their server answers the QuoteRequest.
 */
export function storeLocalQuote(ctx: Context, uow: UnitOfWork, status: StatusRow, quoted: StatusRow): void {
  const own = quoted.accountId === status.accountId;
  const quote = insertQuote(ctx, {
    statusId: status.id,
    accountId: status.accountId,
    quotedUri: quoted.uri,
    quotedStatusId: quoted.id,
    quotedAccountId: quoted.accountId,
    state: own ? "accepted" : "pending",
    activityUri: own ? null : `${status.uri}#quote_requests/${quoted.id}`,
  });
  if (!own) uow.record({ type: "QuoteRequested", quote });
}

/**
 * What a remote note's quote is worth, as Wren decides it: quoting oneself needs no consent; a checked
 * authorization accepts it; a quote of the owner's status written Misskey's way (no consent can be asked)
 * follows the status's policy; a Misskey-style quote of anyone else's post is shown (nothing is known of
 * that post's policy); a FEP-044f quote without a valid authorization waits.
 */
function remoteQuoteState(
  ctx: Context,
  author: AccountRow,
  quote: RemoteQuote,
  quoted: StatusRow | null,
): QuoteState {
  if (!quoted) return quote.legacy ? "accepted" : "pending";
  if (quoted.accountId === author.id || quote.authorized) return "accepted";
  if (quoted.local)
    return quote.legacy ? (mayQuote(ctx, quoted, author.id) ? "accepted" : "rejected") : "pending";
  return quote.legacy ? "accepted" : "pending";
}

/**
 * Stores or moves on the quote of a remote status (a Create or Update that reached us). The quoted post
 * must already be stored if it is to be linked: the federation layer fetches it first. A quote never goes
 * back from accepted (or revoked) to pending because a later copy lacks its authorization.
 */
export function applyRemoteQuote(
  ctx: Context,
  uow: UnitOfWork,
  status: StatusRow,
  author: AccountRow,
  quote: RemoteQuote,
): void {
  const found = findStatusByUri(ctx.store.db, quote.uri);
  const quoted = found && found.deletedAt === null && found.reblogOfId === null ? found : null;
  const state = remoteQuoteState(ctx, author, quote, quoted);
  const existing = findQuoteByStatus(ctx.store.db, status.id);
  let row: QuoteRow;
  if (existing) {
    if (existing.state !== "pending" || state === "pending") return;
    row = setState(ctx, existing, state, {
      authorizationUri: quote.authorized ? quote.authorization : existing.authorizationUri,
    });
  } else {
    row = insertQuote(ctx, {
      statusId: status.id,
      accountId: author.id,
      quotedUri: quote.uri,
      quotedStatusId: quoted?.id ?? null,
      quotedAccountId: quoted?.accountId ?? null,
      state,
      legacy: quote.legacy,
      authorizationUri: quote.authorized ? quote.authorization : null,
    });
  }
  if (row.state === "accepted" && quoted?.local) addNotification(ctx, uow, "quote", author.id, status.id);
}

/** An Update of a remote note that quotes: its quote may now carry an authorization. */
export function receiveQuoteUpdate(
  ctx: Context,
  author: AccountRow,
  statusUri: string,
  quote: RemoteQuote,
): void {
  const status = findStatusByUri(ctx.store.db, statusUri);
  if (!status || status.deletedAt !== null || status.accountId !== author.id) return;
  commit(ctx, (uow) => applyRemoteQuote(ctx, uow, status, author, quote));
}

/**
 * A QuoteRequest from `requester` for one of the owner's statuses, whose instrument (the quoting note) is
 * already stored. Accepted when the status's policy allows it (the quote becomes accepted, with our
 * authorization, and the owner is notified), else rejected. Returns null when it is not about the owner's
 * status at all.
 */
export function receiveQuoteRequest(
  ctx: Context,
  requester: AccountRow,
  request: { uri: string; quotedUri: string; instrumentUri: string },
): QuoteAnswer | null {
  const owner = requireLocalAccount(ctx);
  const quoted = findStatusByUri(ctx.store.db, request.quotedUri);
  if (!quoted || quoted.accountId !== owner.id || quoted.deletedAt !== null || quoted.reblogOfId !== null)
    return null;
  const instrument = findStatusByUri(ctx.store.db, request.instrumentUri);
  const existing =
    instrument && instrument.accountId === requester.id
      ? findQuoteByStatus(ctx.store.db, instrument.id)
      : null;
  const quote = existing && existing.quotedStatusId === quoted.id ? existing : null;
  // As Mastodon: consent is given only to a quote we hold, by the requester, of this very status.
  const accepted = quote !== null && mayQuote(ctx, quoted, requester.id) && quote.state !== "revoked";
  return commit(ctx, (uow) => {
    let row = quote;
    let authorizationUri: string | null = null;
    if (row && accepted) {
      const wasAccepted = row.state === "accepted";
      authorizationUri = row.authorizationUri ?? authorizationUriFor(ctx, row);
      row = setState(ctx, row, "accepted", { authorizationUri, activityUri: request.uri });
      if (!wasAccepted) addNotification(ctx, uow, "quote", requester.id, row.statusId);
    } else if (row) {
      row = setState(ctx, row, "rejected", { activityUri: request.uri });
    }
    const answer: QuoteAnswer = {
      accepted,
      owner,
      requester,
      requestUri: request.uri,
      quotedUri: quoted.uri,
      instrumentUri: request.instrumentUri,
      quote: row,
      authorizationUri,
    };
    uow.record({ type: "QuoteRequestAnswered", answer });
    return answer;
  });
}

/** The quoted author's server accepted (with an authorization it serves) or rejected a quote of the owner's. */
export function receiveQuoteAnswer(
  ctx: Context,
  actor: AccountRow,
  quoteId: string,
  answer: { accepted: true; authorizationUri: string } | { accepted: false },
): boolean {
  const quote = findQuoteById(ctx.store.db, quoteId);
  if (!quote || quote.quotedAccountId !== actor.id || quote.accountId !== requireLocalAccount(ctx).id)
    return false;
  commit(ctx, (uow) => {
    if (answer.accepted) {
      setState(ctx, quote, "accepted", { authorizationUri: answer.authorizationUri });
      // Followers' copies show the quote once they see the authorization: an Update, not an edit.
      const status = findStatusById(ctx.store.db, quote.statusId);
      if (status && status.deletedAt === null) uow.record({ type: "StatusEdited", status });
    } else setState(ctx, quote, "rejected");
  });
  return true;
}

/** A Delete of a QuoteAuthorization by the quoted author: the consent is withdrawn. */
export function receiveAuthorizationDelete(
  ctx: Context,
  actor: AccountRow,
  authorizationUri: string,
): boolean {
  const quote = findQuoteByAuthorization(ctx.store.db, authorizationUri);
  if (!quote || quote.quotedAccountId !== actor.id) return false;
  if (quote.state === "revoked") return true;
  commit(ctx, () => setState(ctx, quote, "revoked"));
  return true;
}

/**
 * The owner withdraws its consent to a quote of one of its statuses (Mastodon's revoke): the quote is
 * revoked and the quoting server hears of it (a Delete of the authorization). Returns the quoting status.
 */
export function revokeQuote(ctx: Context, quotedStatusId: string, quotingStatusId: string): StatusRow {
  const owner = requireLocalAccount(ctx);
  const quoted = findStatusById(ctx.store.db, quotedStatusId);
  const quote = findQuoteByStatus(ctx.store.db, quotingStatusId);
  if (!quoted || quoted.accountId !== owner.id || !quote || quote.quotedStatusId !== quoted.id)
    throw new UserError("Record not found", 404);
  if (quote.accountId === owner.id) throw new UserError("you cannot revoke your own quote", 422);
  if (quote.state !== "accepted") throw new UserError("only an accepted quote can be revoked", 422);
  commit(ctx, (uow) => {
    const revoked = setState(ctx, quote, "revoked");
    uow.record({ type: "QuoteRevoked", quote: revoked });
  });
  return findStatusById(ctx.store.db, quotingStatusId) as StatusRow;
}

/**
 * What quotes follow: a deleted status leaves its quotes "deleted"; an edit of a status the owner quoted
 * notifies the owner (Mastodon's quoted_update).
 */
export function registerQuotes(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (event.type === "StatusDeleted") {
      ctx.store.db
        .update(quotes)
        .set({ state: "deleted", updatedAt: Date.now() })
        .where(and(eq(quotes.quotedStatusId, event.status.id), ne(quotes.state, "deleted")))
        .run();
      return;
    }
    if (event.type !== "StatusEdited" || event.status.local) return;
    const local = requireLocalAccount(ctx);
    for (const quote of acceptedQuotesBy(ctx.store.db, event.status.id, local.id)) {
      const quoting = findStatusById(ctx.store.db, quote.statusId);
      if (quoting && quoting.deletedAt === null)
        addNotification(ctx, uow, "quoted_update", event.status.accountId, quoting.id);
    }
  });
}
