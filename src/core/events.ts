import { EventEmitter } from "node:events";
import type { AccountRow } from "../store/accounts.js";
import type { QuoteRow } from "../store/quotes.js";
import type { follows, interactionAuthorizations } from "../store/schema.js";
import type { PollRow, StatusRow } from "../store/statuses.js";
import type { QuoteAnswer } from "./quotes.js";

type FollowRow = typeof follows.$inferSelect;

/**
 * What the core did, as typed domain events. A use case records them in its unit of work (see
 * unit-of-work.ts); it never knows who listens. Rows travel with the event when the change removes them
 * (an undone boost, an ended follow), so a subscriber can still describe what was there.
 */
export type DomainEvent =
  /** A status was stored: a local post, or a remote one that reached us. Boosts are `Reblogged`. */
  | { type: "StatusCreated"; status: StatusRow }
  /** A status's content changed (an edit, local or remote). */
  | { type: "StatusEdited"; status: StatusRow }
  /** A status was deleted (its row stays as a tombstone). */
  | { type: "StatusDeleted"; status: StatusRow }
  /** The local account pinned one of its statuses to its profile (the featured collection), or unpinned it. */
  | { type: "StatusPinned"; status: StatusRow }
  | { type: "StatusUnpinned"; status: StatusRow }
  /** A boost was stored: `boost` is the boost's own row, `target` the boosted status. */
  | { type: "Reblogged"; boost: StatusRow; target: StatusRow }
  /** A boost was undone; its row is gone. */
  | { type: "Unreblogged"; boost: StatusRow; target: StatusRow }
  | { type: "Favourited"; accountId: string; status: StatusRow; uri: string }
  | { type: "Unfavourited"; accountId: string; status: StatusRow; uri: string }
  /** A follow was asked for (pending) by `follow.followerId` of `follow.followingId`. */
  | { type: "Followed"; follow: FollowRow; follower: AccountRow; target: AccountRow }
  /** A follow ended by its follower; the row is gone. */
  | { type: "Unfollowed"; follow: FollowRow; follower: AccountRow; target: AccountRow }
  /** The followed side accepted (or refused, or later removed) a follow. */
  | { type: "FollowAccepted"; follow: FollowRow; follower: AccountRow; target: AccountRow }
  | { type: "FollowRejected"; follow: FollowRow; follower: AccountRow; target: AccountRow }
  /**
   * `accountId` blocked `target`. The follows the block ended, both ways, travel along so the other side
   * can be told (Mastodon sends Undo(Follow) and Reject(Follow) with the Block).
   */
  | {
      type: "Blocked";
      account: AccountRow;
      target: AccountRow;
      uri: string;
      endedFollows: { follow: FollowRow; follower: AccountRow; target: AccountRow }[];
    }
  | { type: "Unblocked"; account: AccountRow; target: AccountRow; uri: string }
  /** The local profile changed in a way other servers see. */
  | { type: "ProfileUpdated"; account: AccountRow }
  /** The local account moved to `target` (its movedTo is set): followers get the Update and a Move. */
  | { type: "AccountMoved"; account: AccountRow; target: AccountRow }
  /** The local account is being deleted: every server that knows it is told (its data is wiped after). */
  | { type: "AccountDeleted"; account: AccountRow }
  /** Someone voted: `votes` are the new vote rows' ids and choices. */
  | {
      type: "PollVoted";
      poll: PollRow;
      status: StatusRow;
      voter: AccountRow;
      votes: { id: string; choice: number }[];
    }
  /** A local poll's counts or state changed and should be shown to those who have a copy (not an edit). */
  | { type: "PollResultsChanged"; status: StatusRow }
  | { type: "NotificationCreated"; notificationId: string }
  /** A local status quotes another account's status that needs its consent: ask for it (a QuoteRequest). */
  | { type: "QuoteRequested"; quote: QuoteRow }
  /** Someone asked to quote the owner's status; the answer (Accept with an authorization, or Reject) goes back. */
  | { type: "QuoteRequestAnswered"; answer: QuoteAnswer }
  /** The owner withdrew the consent it gave to a quote of its status. */
  | { type: "QuoteRevoked"; quote: QuoteRow }

  /**
   * A remote actor asked to like, reply to or boost a local status (GoToSocial's interaction requests):
   * `authorization` is what was granted, null when refused (core/interaction-policy.ts).
   */
  | {
      type: "InteractionRequestAnswered";
      requester: AccountRow;
      status: StatusRow;
      request: {
        kind: "like" | "reply" | "announce";
        uri: string;
        statusUri: string;
        interactingObject: string;
      };
      authorization: typeof interactionAuthorizations.$inferSelect | null;
    }
  /** A direct-message conversation got a status, lost one, or was read. */
  | { type: "ConversationChanged"; conversationId: string };

export type DomainEventType = DomainEvent["type"];

/** The unit of work a use case records into; `afterCommit` hooks run once the transaction has committed. */
export interface UnitOfWork {
  record(event: DomainEvent): void;
  afterCommit(hook: () => void): void;
}

/** Runs inside the transaction that caused the event: it may write (the federation outbox does). */
export type TransactionSubscriber = (event: DomainEvent, uow: UnitOfWork) => void;
/** Runs after the commit: it must not write as part of the change (streaming, push, caches). */
export type CommitSubscriber = (event: DomainEvent) => void;

/**
 * The event bus of a running Wren. Domain events reach two kinds of subscribers: those inside the
 * transaction (the outbox, so a change and its deliveries commit together) and those after the commit
 * (streaming, so a rolled-back change is never announced). "delivery.queued" is a plain signal that wakes
 * the delivery workers; "scheduled.changed" re-arms the scheduled-status timer.
 */
export class Events extends EventEmitter<{ "delivery.queued": []; "scheduled.changed": [] }> {
  readonly #inTransaction: TransactionSubscriber[] = [];
  readonly #afterCommit = new Set<CommitSubscriber>();

  onTransaction(subscriber: TransactionSubscriber): void {
    this.#inTransaction.push(subscriber);
  }

  /** Returns the function that unsubscribes. */
  onCommit(subscriber: CommitSubscriber): () => void {
    this.#afterCommit.add(subscriber);
    return () => this.#afterCommit.delete(subscriber);
  }

  /** @internal for the unit of work */
  runInTransaction(event: DomainEvent, uow: UnitOfWork): void {
    for (const subscriber of this.#inTransaction) subscriber(event, uow);
  }

  /** @internal for the unit of work. A failing subscriber never reaches the use case that committed. */
  publish(event: DomainEvent, onError: (error: unknown) => void): void {
    for (const subscriber of [...this.#afterCommit]) {
      try {
        subscriber(event);
      } catch (error) {
        onError(error);
      }
    }
  }
}
