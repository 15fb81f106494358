import { quotePolicyOf } from "../../core/quotes.js";
import type { AccountRow } from "../../store/accounts.js";
import type { StatusRow, StatusView } from "../../store/statuses.js";
import type { Urls } from "../urls.js";
import { ACTOR_CONTEXT, PUBLIC } from "./context.js";
import { GTS_TERMS, renderOwnerPolicy } from "./interaction-policy.js";

/** The actor's context and GoToSocial's interaction policy terms (vocab/interaction-policy.ts). */
export const OBJECT_CONTEXT = [...ACTOR_CONTEXT, GTS_TERMS];

const iso = (ms: number) => new Date(ms).toISOString();

/** The handle of an account as written in a Mention's name: @user@domain. */
export function handleOf(account: AccountRow, urls: Urls): string {
  return `@${account.username}@${account.domain ?? urls.domain}`;
}

/**
 * to/cc by visibility, as Mastodon writes them (INTEROP.md): a mention needs the actor in to/cc as well as
 * the Mention tag.
 */
export function addressing(
  visibility: string,
  followersUrl: string,
  mentioned: string[],
): { to: string[]; cc: string[] } {
  switch (visibility) {
    case "public":
      return { to: [PUBLIC], cc: [followersUrl, ...mentioned] };
    case "unlisted":
      return { to: [followersUrl], cc: [PUBLIC, ...mentioned] };
    case "private":
      return { to: [followersUrl], cc: mentioned };
    default:
      return { to: mentioned, cc: [] };
  }
}

/** A local status as its ActivityStreams object (Note, or Question for a poll), without @context. */
export function renderNote(view: StatusView, urls: Urls) {
  const { status, account } = view;
  const followers = account.followersUrl ?? `${account.uri}/followers`;
  const { to, cc } = addressing(
    status.visibility,
    followers,
    view.mentions.map((m) => m.uri),
  );
  const tag = [
    ...view.mentions.map((m) => ({ type: "Mention", href: m.uri, name: handleOf(m, urls) })),
    ...view.tags.map((t) => ({
      type: "Hashtag",
      href: `${urls.origin}/tags/${encodeURIComponent(t.name)}`,
      name: `#${t.displayName}`,
    })),
    ...status.emojis.map((e) => ({
      type: "Emoji",
      id: e.url,
      name: `:${e.shortcode}:`,
      icon: { type: "Image", url: e.url },
    })),
  ];
  const attachment = view.media.map((m) => {
    const original = (m.meta.original ?? {}) as { width?: number; height?: number };
    return {
      type: "Document",
      mediaType: m.contentType,
      url: m.fileName ? urls.media(m.fileName) : m.remoteUrl,
      name: m.description ?? null,
      blurhash: m.blurhash ?? undefined,
      focalPoint: m.focusX !== null && m.focusY !== null ? [m.focusX / 1000, m.focusY / 1000] : undefined,
      width: original.width,
      height: original.height,
    };
  });
  const poll = view.poll;
  const question = poll
    ? {
        [poll.multiple ? "anyOf" : "oneOf"]: poll.options.map((o) => ({
          type: "Note",
          name: o.title,
          replies: { type: "Collection", totalItems: o.votes },
        })),
        endTime: poll.expiresAt ? iso(poll.expiresAt) : undefined,
        closed: poll.expiresAt && poll.expiresAt < Date.now() ? iso(poll.expiresAt) : undefined,
        votersCount: poll.votersCount ?? 0,
      }
    : {};
  return {
    id: status.uri,
    type: poll ? "Question" : "Note",
    attributedTo: account.uri,
    summary: status.spoilerText || null,
    content: status.content,
    ...(status.language ? { contentMap: { [status.language]: status.content } } : {}),
    inReplyTo: view.inReplyTo?.uri ?? null,
    published: iso(status.createdAt),
    ...(status.editedAt ? { updated: iso(status.editedAt) } : {}),
    url: status.url ?? status.uri,
    to,
    cc,
    sensitive: status.sensitive,
    tag,
    attachment,
    replies: `${status.uri}/replies`,
    ...question,
    ...quoteOf(view),
    interactionPolicy: {
      ...renderOwnerPolicy(
        status.visibility,
        { uri: account.uri, followers },
        view.mentions.map((m) => m.uri),
      ),
      canQuote: { automaticApproval: quoteApproval(view, followers) },
    },
  };
}

/**
 * A quote as Mastodon 4.5 writes it: FEP-044f `quote`, with Fedibird's and Misskey's names for older
 * servers, and the authorization once the quoted author consented.
 */
function quoteOf(view: StatusView) {
  const quote = view.quote;
  if (!quote) return {};
  return {
    quote: quote.quotedUri,
    quoteUri: quote.quotedUri,
    _misskey_quote: quote.quotedUri,
    ...(quote.state === "accepted" && quote.authorizationUri
      ? { quoteAuthorization: quote.authorizationUri }
      : {}),
  };
}

/** Who may quote the status without asking (GoToSocial's interactionPolicy, as Mastodon 4.5 sends it). */
function quoteApproval(view: StatusView, followers: string): string[] {
  switch (quotePolicyOf(view.status)) {
    case "public":
      return [PUBLIC];
    case "followers":
      return [followers];
    default:
      return [view.account.uri];
  }
}

/** Activities about local statuses. Ids derive from the status so a repeat is recognisably the same activity. */
export function renderCreate(view: StatusView, urls: Urls) {
  const note = renderNote(view, urls);
  return {
    "@context": OBJECT_CONTEXT,
    id: `${view.status.uri}/activity`,
    type: "Create",
    actor: view.account.uri,
    published: note.published,
    to: note.to,
    cc: note.cc,
    object: note,
  };
}

export function renderUpdate(view: StatusView, urls: Urls) {
  const note = renderNote(view, urls);
  return {
    "@context": OBJECT_CONTEXT,
    id: `${view.status.uri}#updates/${view.status.editedAt ?? Date.now()}`,
    type: "Update",
    actor: view.account.uri,
    to: note.to,
    cc: note.cc,
    object: note,
  };
}

export function renderDelete(view: StatusView, urls: Urls) {
  const note = renderNote(view, urls);
  return {
    "@context": OBJECT_CONTEXT,
    id: `${view.status.uri}#delete`,
    type: "Delete",
    actor: view.account.uri,
    to: note.to,
    cc: note.cc,
    object: { id: view.status.uri, type: "Tombstone" },
  };
}

/** A boost: `view` is the boost status (its own uri), `view.reblog` the boosted one. */
export function renderAnnounce(view: StatusView) {
  const target = view.reblog;
  if (!target) throw new Error("renderAnnounce needs a boost");
  return renderAnnounceOf(view.status, view.account, target.status.uri, target.account.uri);
}

/** The Announce of a boost from its parts (an undone boost has no row left to make a view of). */
export function renderAnnounceOf(
  boost: StatusRow,
  booster: AccountRow,
  targetUri: string,
  targetAuthor: string,
) {
  const followers = booster.followersUrl ?? `${booster.uri}/followers`;
  const { to, cc } = addressing(boost.visibility, followers, []);
  return {
    "@context": OBJECT_CONTEXT,
    id: `${boost.uri}/activity`,
    type: "Announce",
    actor: booster.uri,
    published: iso(boost.createdAt),
    to,
    cc: [...cc, targetAuthor],
    object: targetUri,
  };
}

/**
 * New counts of a local poll (after votes, and when it closes), as Mastodon sends them: an Update of the
 * Question without `updated`, so that no server takes it for an edit. Its id is new each time.
 */
export function renderPollRefresh(view: StatusView, urls: Urls, now = Date.now()) {
  const note = renderNote(view, urls);
  delete note.updated;
  return {
    "@context": OBJECT_CONTEXT,
    id: `${view.status.uri}#poll-updates/${now}`,
    type: "Update",
    actor: view.account.uri,
    to: note.to,
    cc: note.cc,
    object: note,
  };
}

/** A vote as Mastodon sends it: a Create of a Note with `name`, addressed to the poll's author only. */
export function renderVote(
  voter: AccountRow,
  authorUri: string,
  questionUri: string,
  title: string,
  voteId: string,
) {
  const id = `${voter.uri}#votes/${voteId}`;
  return {
    "@context": OBJECT_CONTEXT,
    id: `${id}/activity`,
    type: "Create",
    actor: voter.uri,
    to: [authorUri],
    object: {
      id,
      type: "Note",
      name: title,
      attributedTo: voter.uri,
      to: [authorUri],
      inReplyTo: questionUri,
    },
  };
}

/** Follow, Like and Block, and the Accept/Reject/Undo wrapped around them. */
export function renderSimple(type: "Follow" | "Like" | "Block", id: string, actor: string, object: string) {
  return { "@context": OBJECT_CONTEXT, id, type, actor, object };
}

export function renderResponse(
  type: "Accept" | "Reject" | "Undo",
  id: string,
  actor: string,
  object: { id: string; type: string; actor: string; object: unknown },
  to?: string,
) {
  const { id: objectId, type: objectType, actor: objectActor, object: inner } = object;
  return {
    "@context": OBJECT_CONTEXT,
    id,
    type,
    actor,
    ...(to ? { to: [to] } : {}),
    object: { id: objectId, type: objectType, actor: objectActor, object: inner },
  };
}
