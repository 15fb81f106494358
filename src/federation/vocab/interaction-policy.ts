/**
 * GoToSocial's interaction controls in ActivityStreams (docs.gotosocial.org/en/latest/federation/
 * interaction_controls/): the policy published on the owner's posts, the answers to interaction requests
 * and the authorization objects they point to. The terms are defined inline, so no processor has to fetch
 * https://gotosocial.org/ns to read them.
 */
import type { AuthorizationRow } from "../../core/interaction-policy.js";
import type { AccountRow } from "../../store/accounts.js";
import type { StatusRow } from "../../store/statuses.js";
import { AS_CONTEXT, PUBLIC } from "./context.js";

const ref = (name: string) => ({ "@id": `gts:${name}`, "@type": "@id" });

export const GTS_TERMS = {
  gts: "https://gotosocial.org/ns#",
  interactionPolicy: ref("interactionPolicy"),
  canLike: ref("canLike"),
  canReply: ref("canReply"),
  canAnnounce: ref("canAnnounce"),
  // Mastodon 4.5 publishes who may quote a post here (quote posts, core/quotes.ts).
  canQuote: ref("canQuote"),
  automaticApproval: ref("automaticApproval"),
  manualApproval: ref("manualApproval"),
  always: ref("always"),
  approvalRequired: ref("approvalRequired"),
  LikeRequest: "gts:LikeRequest",
  ReplyRequest: "gts:ReplyRequest",
  AnnounceRequest: "gts:AnnounceRequest",
  LikeAuthorization: "gts:LikeAuthorization",
  ReplyAuthorization: "gts:ReplyAuthorization",
  AnnounceAuthorization: "gts:AnnounceAuthorization",
  interactingObject: ref("interactingObject"),
  interactionTarget: ref("interactionTarget"),
} as const;

/**
 * The owner's policy on its own post: whoever can see it may like it and reply to it, and anyone may boost a
 * public or unlisted post, only the author a followers-only or direct one. For a followers-only or direct
 * post "whoever can see it" is written out (the author, its followers for followers-only, the mentioned
 * accounts) rather than as Public, so no receiver mistakes Public in it for the post's audience. Written with
 * the properties of GoToSocial 0.20+ and, for older versions, their deprecated names.
 */
export function renderOwnerPolicy(
  visibility: string,
  author: { uri: string; followers: string },
  mentioned: string[],
) {
  const open = visibility === "public" || visibility === "unlisted";
  const audience = open
    ? [PUBLIC]
    : [author.uri, ...(visibility === "private" ? [author.followers] : []), ...mentioned];
  const sub = (uris: string[]) => ({ automaticApproval: uris, always: uris });
  return {
    canLike: sub(audience),
    canReply: sub(audience),
    canAnnounce: sub(open ? [PUBLIC] : [author.uri]),
  };
}

const REQUEST_TYPES = { like: "LikeRequest", reply: "ReplyRequest", announce: "AnnounceRequest" } as const;
const AUTHORIZATION_TYPES = {
  like: "LikeAuthorization",
  reply: "ReplyAuthorization",
  announce: "AnnounceAuthorization",
} as const;

export const authorizationUri = (owner: AccountRow, id: string) => `${owner.uri}/authorizations/${id}`;

/** An Accept (with the authorization as `result`) or a Reject of an interaction request, to the requester. */
export function renderRequestAnswer(
  owner: AccountRow,
  requester: AccountRow,
  request: { kind: keyof typeof REQUEST_TYPES; uri: string; statusUri: string; interactingObject: string },
  authorization: AuthorizationRow | null,
  answerId: string,
) {
  return {
    "@context": [AS_CONTEXT, GTS_TERMS],
    id: `${owner.uri}#${authorization ? "accepts" : "rejects"}/${answerId}`,
    type: authorization ? "Accept" : "Reject",
    actor: owner.uri,
    to: [requester.uri],
    object: {
      id: request.uri,
      type: REQUEST_TYPES[request.kind],
      actor: requester.uri,
      object: request.statusUri,
      instrument: request.interactingObject,
    },
    ...(authorization ? { result: authorizationUri(owner, authorization.id) } : {}),
  };
}

/** The authorization object, served at its id so third servers can verify an interaction. */
export function renderAuthorization(owner: AccountRow, authorization: AuthorizationRow, status: StatusRow) {
  return {
    "@context": [AS_CONTEXT, GTS_TERMS],
    id: authorizationUri(owner, authorization.id),
    type: AUTHORIZATION_TYPES[authorization.kind],
    attributedTo: owner.uri,
    interactingObject: authorization.interactingObject,
    interactionTarget: status.uri,
  };
}
