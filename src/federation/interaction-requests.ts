/**
 * Sends the owner's answers to GoToSocial interaction requests (core/interaction-policy.ts): an Accept with
 * the authorization, or a Reject, to the requester's own inbox, in the transaction that answered.
 */
import type { Context } from "../context.js";
import { findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { enqueueActivity } from "./delivery/enqueue.js";
import { renderRequestAnswer } from "./vocab/interaction-policy.js";

export function registerInteractionRequests(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (event.type !== "InteractionRequestAnswered") return;
    const owner = findLocalUser(ctx.store.db)?.account;
    const inbox = event.requester.inboxUrl ?? event.requester.sharedInboxUrl;
    if (!owner || !inbox || event.requester.domain === null) return;
    const answerId = event.authorization?.id ?? newId();
    const answer = renderRequestAnswer(owner, event.requester, event.request, event.authorization, answerId);
    if (enqueueActivity(ctx.store.db, answer, owner.id, [inbox]))
      uow.afterCommit(() => ctx.events.emit("delivery.queued"));
  });
}
