/**
 * GoToSocial interaction policies (docs.gotosocial.org, "interaction controls"). A remote post may say who
 * can like, reply to or boost it (`interactionPolicy`, kept per status as it came); the owner's own like,
 * reply and boost of such a post are checked here and refused when the policy leaves the owner out or
 * asks for the author's approval, which Wren does not request (docs/decisions.md). The other direction, other
 * servers asking the owner's approval (LikeRequest, ReplyRequest, AnnounceRequest), is answered here too:
 * the owner's policy lets anyone who can see a post interact with it, so a request is accepted whenever
 * the requester may see the post (and, for a boost, the post is public or unlisted).
 */
import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { accountsByIds } from "../store/account-lookups.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import {
  follows,
  type InteractionPolicy,
  interactionAuthorizations,
  interactionPolicies,
  mentions,
} from "../store/schema.js";
import { findStatusByUri, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { commit } from "./unit-of-work.js";
import { mayFetch } from "./visibility.js";

export type Interaction = "like" | "reply" | "announce";

const PUBLIC_IRIS = new Set(["https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"]);

const SUB_POLICY = { like: "canLike", reply: "canReply", announce: "canAnnounce" } as const;

/** Stores (or, when the post has none, forgets) a remote status's policy, in the caller's transaction. */
export function storeInteractionPolicy(
  ctx: Context,
  statusId: string,
  policy: InteractionPolicy | null | undefined,
): void {
  const db = ctx.store.db;
  if (!policy) {
    db.delete(interactionPolicies).where(eq(interactionPolicies.statusId, statusId)).run();
    return;
  }
  db.insert(interactionPolicies)
    .values({ statusId, policy })
    .onConflictDoUpdate({ target: interactionPolicies.statusId, set: { policy } })
    .run();
}

export function interactionPolicyOf(ctx: Context, statusId: string): InteractionPolicy | null {
  return (
    ctx.store.db
      .select({ policy: interactionPolicies.policy })
      .from(interactionPolicies)
      .where(eq(interactionPolicies.statusId, statusId))
      .get()?.policy ?? null
  );
}

/**
 * What the policy of `status` says about the local account doing `kind`: allowed outright, allowed only
 * after the author approves (a manual approval, or a match through the author's followers or following
 * collection, which GoToSocial wants asked for: "Case 2"), or not allowed.
 */
export function ownerVerdict(
  ctx: Context,
  status: StatusRow,
  kind: Interaction,
): "allowed" | "approval" | "refused" {
  const local = requireLocalAccount(ctx);
  if (status.local || status.accountId === local.id) return "allowed";
  const sub = interactionPolicyOf(ctx, status.id)?.[SUB_POLICY[kind]];
  if (!sub) return "allowed";
  const db = ctx.store.db;
  // Mentioned (and replied-to) accounts may always reply, GoToSocial's first implicit rule.
  if (kind === "reply") {
    const mentioned = db
      .select({ id: mentions.accountId })
      .from(mentions)
      .where(and(eq(mentions.statusId, status.id), eq(mentions.accountId, local.id)))
      .get();
    if (mentioned || status.inReplyToAccountId === local.id) return "allowed";
  }
  const [author] = accountsByIds(db, [status.accountId]);
  const accepted = (followerId: string, followingId: string) =>
    db
      .select({ state: follows.state })
      .from(follows)
      .where(and(eq(follows.followerId, followerId), eq(follows.followingId, followingId)))
      .get()?.state === "accepted";
  const inCollection = (uri: string) =>
    (author?.followersUrl === uri && accepted(local.id, status.accountId)) ||
    (author?.followingUrl === uri && accepted(status.accountId, local.id));
  // The more specific entry wins: the owner's own URI, then Public, then a collection the owner is in.
  if (sub.automatic.includes(local.uri)) return "allowed";
  if (sub.manual.includes(local.uri)) return "approval";
  if (sub.automatic.some((uri) => PUBLIC_IRIS.has(uri))) return "allowed";
  if (sub.automatic.some(inCollection)) return "approval";
  if (sub.manual.some((uri) => PUBLIC_IRIS.has(uri) || inCollection(uri))) return "approval";
  return "refused";
}

const WHAT = { like: "favourite", reply: "reply to", announce: "boost" } as const;

/** Throws a 422 the app shows when the owner may not like, reply to or boost `status`. */
export function requireInteractionAllowed(ctx: Context, status: StatusRow, kind: Interaction): void {
  const verdict = ownerVerdict(ctx, status, kind);
  if (verdict === "allowed") return;
  throw new UserError(
    verdict === "approval"
      ? `the author of this status must approve whoever wants to ${WHAT[kind]} it, and Wren cannot ask for that approval yet`
      : `the author of this status does not allow you to ${WHAT[kind]} it`,
    422,
  );
}

// ---- Requests from other servers (GoToSocial 0.20+) ----

export type AuthorizationRow = typeof interactionAuthorizations.$inferSelect;

export interface InteractionRequest {
  kind: Interaction;
  /** The request activity's id. */
  uri: string;
  /** The post interacted with (`object`). */
  statusUri: string;
  /** The interaction (`instrument`): the reply's id, the Like's or the Announce's. */
  interactingObject: string;
}

/**
 * A remote actor asks to like, reply to or boost a local status. The owner's policy lets anyone who may see
 * it do so, so the request is accepted unless the requester may not see it (or asks to boost a
 * followers-only or direct post): the answer, an Accept with the authorization or a Reject, goes out as the
 * `InteractionRequestAnswered` event. Returns the authorization, or null when refused or not ours.
 */
export function receiveInteractionRequest(
  ctx: Context,
  actor: AccountRow,
  request: InteractionRequest,
): AuthorizationRow | null {
  const db = ctx.store.db;
  const status = findStatusByUri(db, request.statusUri);
  if (!status?.local || status.reblogOfId) return null;
  const existing = db
    .select()
    .from(interactionAuthorizations)
    .where(eq(interactionAuthorizations.requestUri, request.uri))
    .get();
  if (existing && existing.accountId !== actor.id)
    throw new UserError("the request's id belongs to another actor's request", 403);
  const granted =
    status.deletedAt === null &&
    mayFetch(db, status, actor.uri) &&
    (request.kind !== "announce" || status.visibility === "public" || status.visibility === "unlisted");
  return commit(ctx, (uow) => {
    let authorization: AuthorizationRow | null = existing ?? null;
    if (granted && !authorization) {
      authorization = {
        id: newId(),
        kind: request.kind,
        requestUri: request.uri,
        accountId: actor.id,
        statusId: status.id,
        interactingObject: request.interactingObject,
        createdAt: Date.now(),
      };
      db.insert(interactionAuthorizations).values(authorization).run();
    }
    recordAnswer(uow, actor, status, request, granted ? authorization : null);
    return granted ? authorization : null;
  });
}

function recordAnswer(
  uow: UnitOfWork,
  actor: AccountRow,
  status: StatusRow,
  request: InteractionRequest,
  authorization: AuthorizationRow | null,
) {
  uow.record({ type: "InteractionRequestAnswered", requester: actor, status, request, authorization });
}

export function findAuthorization(ctx: Context, id: string): AuthorizationRow | null {
  return (
    ctx.store.db.select().from(interactionAuthorizations).where(eq(interactionAuthorizations.id, id)).get() ??
    null
  );
}
