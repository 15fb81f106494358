/**
 * The federation outbox: the subscriber that turns the core's domain events into ActivityPub activities and
 * delivery jobs. It runs inside the transaction of the change (a transactional outbox), so a change and its
 * deliveries are written together or not at all. Who receives what (the audience) is decided here and only
 * here; the core never knows that other servers exist.
 */
import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import type { DomainEvent, UnitOfWork } from "../core/events.js";
import { acceptedRelayInboxes } from "../core/relays.js";
import type { AccountRow } from "../store/accounts.js";
import { findKeyPairs } from "../store/accounts.js";
import { preparedPerDb } from "../store/prepared.js";
import { accounts, follows, pollVotes } from "../store/schema.js";
import { loadStatusView, type StatusRow, type StatusView } from "../store/statuses.js";
import { enqueueActivity, targetInboxes } from "./delivery/enqueue.js";
import { signDocument } from "./signatures/proof.js";
import { renderActorDelete, renderActorUpdate, renderMove } from "./vocab/actor.js";
import {
  OBJECT_CONTEXT,
  renderAnnounce,
  renderAnnounceOf,
  renderCreate,
  renderDelete,
  renderPollRefresh,
  renderResponse,
  renderSimple,
  renderUpdate,
  renderVote,
} from "./vocab/note.js";

type FollowActivity = { id: string; type: string; actor: string; object: string };

export function registerOutbox(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    const send = (activity: object, inboxes: string[], signer: string) => {
      if (inboxes.length === 0) return;
      // Signed once here, so every delivery carries the same proof (FEP-8b32).
      const key = ctx.federation.proofKey(signer);
      const body = key ? signDocument(activity as Record<string, unknown>, key) : activity;
      if (enqueueActivity(ctx.store.db, body, signer, inboxes)) wakeAfterCommit(ctx, uow);
    };
    deliver(ctx, event, send);
  });
}

const woken = new WeakSet<UnitOfWork>();

function wakeAfterCommit(ctx: Context, uow: UnitOfWork): void {
  if (woken.has(uow)) return;
  woken.add(uow);
  uow.afterCommit(() => ctx.events.emit("delivery.queued"));
}

type Send = (activity: object, inboxes: string[], signer: string) => void;

const isLocal = (account: AccountRow) => account.domain === null;
const remoteInbox = (account: AccountRow) => (isLocal(account) ? [] : targetInboxes([account]));
const unique = (...lists: string[][]) => [...new Set(lists.flat())];

function deliver(ctx: Context, event: DomainEvent, send: Send): void {
  const db = ctx.store.db;
  switch (event.type) {
    case "StatusCreated":
    case "StatusEdited":
    case "StatusDeleted": {
      if (!event.status.local || event.status.reblogOfId) return;
      const view = mustView(ctx, event.status.id);
      const render =
        event.type === "StatusCreated"
          ? renderCreate
          : event.type === "StatusEdited"
            ? renderUpdate
            : renderDelete;
      // Public posts go to the relays too, as Mastodon sends them.
      const relays = view.status.visibility === "public" ? acceptedRelayInboxes(ctx) : [];
      send(render(view, ctx.urls), unique(statusAudience(ctx, view), relays), view.account.id);
      return;
    }
    case "StatusPinned":
    case "StatusUnpinned": {
      if (!event.status.local) return;
      const owner = accountById(ctx, event.status.accountId);
      send(
        featuredChange(ctx, owner, event.status, event.type === "StatusPinned"),
        followerInboxes(ctx, owner.id),
        owner.id,
      );
      return;
    }
    case "Reblogged": {
      if (!event.boost.local) return;
      const view = mustView(ctx, event.boost.id);
      send(renderAnnounce(view), boostAudience(ctx, view.account, event.target.accountId), view.account.id);
      return;
    }
    case "Unreblogged": {
      if (!event.boost.local) return;
      const booster = accountById(ctx, event.boost.accountId);
      const author = accountById(ctx, event.target.accountId);
      const announce = renderAnnounceOf(event.boost, booster, event.target.uri, author.uri);
      send(
        renderResponse("Undo", `${announce.id}/undo`, booster.uri, announce),
        boostAudience(ctx, booster, author.id),
        booster.id,
      );
      return;
    }
    case "Favourited":
    case "Unfavourited": {
      const liker = accountById(ctx, event.accountId);
      if (!isLocal(liker)) return;
      const like = renderSimple("Like", event.uri, liker.uri, event.status.uri);
      const activity =
        event.type === "Favourited" ? like : renderResponse("Undo", `${like.id}/undo`, liker.uri, like);
      send(activity, remoteInbox(accountById(ctx, event.status.accountId)), liker.id);
      return;
    }
    case "Followed":
      if (isLocal(event.follower) && !isLocal(event.target))
        send(
          followActivity(event.follow, event.follower, event.target),
          inboxOf(event.target),
          event.follower.id,
        );
      return;
    case "Unfollowed":
      if (isLocal(event.follower) && !isLocal(event.target)) {
        const follow = followActivity(event.follow, event.follower, event.target);
        send(
          renderResponse("Undo", `${follow.id}/undo`, event.follower.uri, follow),
          inboxOf(event.target),
          event.follower.id,
        );
      }
      return;
    case "FollowAccepted":
    case "FollowRejected":
      if (isLocal(event.target) && !isLocal(event.follower)) {
        send(
          answer(event, event.type === "FollowAccepted" ? "Accept" : "Reject"),
          inboxOf(event.follower),
          event.target.id,
        );
      }
      return;
    case "Blocked":
    case "Unblocked": {
      if (!isLocal(event.account) || isLocal(event.target)) return;
      const inbox = inboxOf(event.target);
      const block = renderSimple("Block", event.uri, event.account.uri, event.target.uri);
      if (event.type === "Unblocked") {
        send(renderResponse("Undo", `${block.id}/undo`, event.account.uri, block), inbox, event.account.id);
        return;
      }
      // As Mastodon does: the follows the block ended are undone or refused too, so the other server's state
      // matches ours even when it treats a Block as a mere notice (snac2 does).
      for (const ended of event.endedFollows) {
        if (ended.follower.id === event.account.id) {
          const follow = followActivity(ended.follow, ended.follower, ended.target);
          send(
            renderResponse("Undo", `${follow.id}/undo`, event.account.uri, follow),
            inbox,
            event.account.id,
          );
        } else {
          send(answer(ended, "Reject"), inbox, event.account.id);
        }
      }
      send(block, inbox, event.account.id);
      return;
    }
    case "ProfileUpdated":
      send(
        renderActorUpdate(ctx, event.account, findKeyPairs(db, event.account.id)),
        followerInboxes(ctx, event.account.id),
        event.account.id,
      );
      return;
    case "AccountMoved": {
      const followers = followerInboxes(ctx, event.account.id);
      const keys = findKeyPairs(db, event.account.id);
      send(renderActorUpdate(ctx, event.account, keys), followers, event.account.id);
      send(renderMove(event.account, event.target), followers, event.account.id);
      return;
    }
    case "AccountDeleted":
      send(renderActorDelete(event.account), knownInboxes(ctx), event.account.id);
      return;
    case "PollVoted": {
      if (event.status.local || !isLocal(event.voter)) return;
      const author = accountById(ctx, event.status.accountId);
      for (const vote of event.votes) {
        const title = event.poll.options[vote.choice]?.title ?? "";
        send(
          renderVote(event.voter, author.uri, event.status.uri, title, vote.id),
          remoteInbox(author),
          event.voter.id,
        );
      }
      return;
    }
    case "PollResultsChanged": {
      if (!event.status.local) return;
      const view = mustView(ctx, event.status.id);
      send(
        renderPollRefresh(view, ctx.urls),
        unique(statusAudience(ctx, view), view.poll ? remoteVoterInboxes(ctx, view.poll.id) : []),
        view.account.id,
      );
      return;
    }
    case "NotificationCreated":
      return;
  }
}

function mustView(ctx: Context, statusId: string): StatusView {
  const view = loadStatusView(ctx.store.db, statusId);
  if (!view) throw new Error(`status ${statusId} vanished inside its transaction`);
  return view;
}

function accountById(ctx: Context, id: string): AccountRow {
  const row = ctx.store.db.select().from(accounts).where(eq(accounts.id, id)).get();
  if (!row) throw new Error(`account ${id} does not exist`);
  return row;
}

/**
 * A pin or unpin as Mastodon sends it to the followers: Add or Remove of the status's URI with the featured
 * collection as `target`. Mastodon's carries no id; ours has one, so receivers can tell a retry from a new pin.
 */
function featuredChange(ctx: Context, owner: AccountRow, status: StatusRow, pinned: boolean) {
  const type = pinned ? "Add" : "Remove";
  return {
    "@context": OBJECT_CONTEXT,
    id: `${owner.uri}#featured/${status.id}/${type.toLowerCase()}/${status.pinnedAt ?? Date.now()}`,
    type,
    actor: owner.uri,
    object: status.uri,
    target: ctx.urls.featured(owner.username),
  };
}

/** The account's own inbox (follows and blocks go there, not to the shared inbox, as Mastodon sends them). */
function inboxOf(account: AccountRow): string[] {
  return account.inboxUrl ? [account.inboxUrl] : [];
}

function followActivity(
  follow: { id: string; uri: string | null },
  follower: AccountRow,
  target: AccountRow,
): FollowActivity {
  return renderSimple(
    "Follow",
    follow.uri ?? `${follower.uri}#follows/${follow.id}`,
    follower.uri,
    target.uri,
  );
}

/** Accept or Reject of a remote account's Follow of the local account. */
function answer(
  ended: { follow: { id: string; uri: string | null }; follower: AccountRow; target: AccountRow },
  type: "Accept" | "Reject",
) {
  const { follow, follower, target } = ended;
  return renderResponse(
    type,
    `${target.uri}#${type.toLowerCase()}s/follows/${follow.id}`,
    target.uri,
    followActivity(follow, follower, target),
    follower.uri,
  );
}

/**
 * The inboxes of every remote account that follows `accountId` (accepted follows only), one shared inbox
 * standing for its server. Every post reads its author's followers: prepared once, and de-duplicated by
 * SQLite (a thousand followers on one server are one row, not a thousand).
 */
const followerInboxQuery = preparedPerDb((db) =>
  db
    .selectDistinct({ inbox: sql<string>`coalesce(${accounts.sharedInboxUrl}, ${accounts.inboxUrl})` })
    .from(follows)
    .innerJoin(accounts, eq(follows.followerId, accounts.id))
    .where(
      and(
        eq(follows.followingId, sql.placeholder("accountId")),
        eq(follows.state, "accepted"),
        isNotNull(accounts.domain),
        isNull(accounts.goneAt),
        sql`coalesce(${accounts.sharedInboxUrl}, ${accounts.inboxUrl}) <> ''`,
      ),
    )
    .prepare(),
);

export function followerInboxes(ctx: Context, accountId: string): string[] {
  return followerInboxQuery(ctx.store.db)
    .all({ accountId })
    .map((row) => row.inbox);
}

/**
 * The inboxes of every remote account the local one dealt with: followers and followed (any state), authors
 * of stored statuses, and accounts that caused a notification. One shared inbox stands for its server.
 */
function knownInboxes(ctx: Context): string[] {
  const rows = ctx.store.sqlite
    .prepare(
      `SELECT inbox_url AS inboxUrl, shared_inbox_url AS sharedInboxUrl FROM accounts
       WHERE domain IS NOT NULL AND gone_at IS NULL AND (
         id IN (SELECT follower_id FROM follows) OR id IN (SELECT following_id FROM follows)
         OR id IN (SELECT account_id FROM statuses) OR id IN (SELECT from_account_id FROM notifications))`,
    )
    .all() as { inboxUrl: string | null; sharedInboxUrl: string | null }[];
  return targetInboxes(rows);
}

/**
 * Everyone a local status goes to: followers (unless direct), mentioned remote accounts, and for public and
 * unlisted replies the replied-to author.
 */
function statusAudience(ctx: Context, view: StatusView): string[] {
  const { status } = view;
  const toParent = status.visibility === "public" || status.visibility === "unlisted";
  const parent = toParent && status.inReplyToAccountId ? accountById(ctx, status.inReplyToAccountId) : null;
  const others = targetInboxes([...view.mentions, ...(parent ? [parent] : [])].filter((a) => !isLocal(a)));
  return unique(status.visibility === "direct" ? [] : followerInboxes(ctx, view.account.id), others);
}

function boostAudience(ctx: Context, booster: AccountRow, targetAuthorId: string): string[] {
  return unique(followerInboxes(ctx, booster.id), remoteInbox(accountById(ctx, targetAuthorId)));
}

/** Remote accounts that voted in a local poll: their copy shows the counts. */
function remoteVoterInboxes(ctx: Context, pollId: string): string[] {
  const rows = ctx.store.db
    .selectDistinct({ inboxUrl: accounts.inboxUrl, sharedInboxUrl: accounts.sharedInboxUrl })
    .from(pollVotes)
    .innerJoin(accounts, eq(pollVotes.accountId, accounts.id))
    .where(and(eq(pollVotes.pollId, pollId), isNotNull(accounts.domain), isNull(accounts.goneAt)))
    .all();
  return targetInboxes(rows);
}
