/**
 * Polls: voting (the vote is recorded; for a remote poll the outbox sends it to the poll's author), votes
 * arriving from other servers on local polls (their new counts go out debounced, and again when the poll
 * closes, as Mastodon does), replacing a poll when its status is edited, and a remote poll's counts refreshed.
 */
import { and, eq, isNotNull, isNull, lte } from "drizzle-orm";
import type { Context } from "../context.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { polls, pollVotes, statuses } from "../store/schema.js";
import { findStatusById, findStatusByUri, type PollRow, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, requireLocalAccount } from "./common.js";
import type { RemotePoll } from "./remote.js";
import { commit } from "./unit-of-work.js";

/**
 * How long new counts of a local poll wait before they are sent: votes arriving meanwhile go out together
 * (Mastodon waits three minutes too).
 */
export const POLL_REFRESH_DELAY_MS = 3 * 60_000;

function loadPoll(ctx: Context, pollId: string): { poll: PollRow; status: StatusRow } {
  const poll = ctx.store.db.select().from(polls).where(eq(polls.id, pollId)).get();
  const status = poll ? findStatusById(ctx.store.db, poll.statusId) : null;
  if (!poll || !status || status.deletedAt !== null) throw new UserError("poll not found", 404);
  return { poll, status };
}

export function isExpired(poll: PollRow, now = Date.now()): boolean {
  return poll.expiresAt !== null && poll.expiresAt <= now;
}

function hasVoted(ctx: Context, pollId: string, accountId: string): boolean {
  return (
    ctx.store.db
      .select({ id: pollVotes.id })
      .from(pollVotes)
      .where(and(eq(pollVotes.pollId, pollId), eq(pollVotes.accountId, accountId)))
      .get() !== undefined
  );
}

/** Adds one voter's choices to the cached counts. */
function countVotes(ctx: Context, poll: PollRow, choices: number[], now: number) {
  const options = poll.options.map((o, i) =>
    choices.includes(i) ? { title: o.title, votes: o.votes + 1 } : o,
  );
  ctx.store.db
    .update(polls)
    .set({ options, votersCount: poll.votersCount === null ? null : poll.votersCount + 1, updatedAt: now })
    .where(eq(polls.id, poll.id))
    .run();
}

/**
 * The local account votes. Checks run inside the transaction, so two racing requests cannot both vote.
 * Returns the poll id.
 */
export function vote(ctx: Context, pollId: string, choices: number[]): string {
  const local = requireLocalAccount(ctx);
  const now = Date.now();
  return commit(ctx, (uow) => {
    const { poll, status } = loadPoll(ctx, pollId);
    if (isExpired(poll, now)) throw new UserError("the poll has already ended");
    if (choices.length === 0) throw new UserError("choose at least one option");
    if (new Set(choices).size !== choices.length) throw new UserError("an option can be chosen only once");
    if (choices.some((c) => !Number.isInteger(c) || c < 0 || c >= poll.options.length))
      throw new UserError("a choice is not one of the poll's options");
    if (!poll.multiple && choices.length > 1) throw new UserError("this poll allows only one choice");
    if (hasVoted(ctx, poll.id, local.id)) throw new UserError("you have already voted on this poll");

    const votes = choices.map((choice) => ({ id: newId(now), choice }));
    for (const v of votes) {
      const uri = status.local ? null : `${local.uri}#votes/${v.id}`;
      ctx.store.db
        .insert(pollVotes)
        .values({ id: v.id, pollId: poll.id, accountId: local.id, choice: v.choice, uri, createdAt: now })
        .run();
    }
    countVotes(ctx, poll, choices, now);
    uow.record({ type: "PollVoted", poll, status, voter: local, votes });
    return poll.id;
  });
}

/**
 * A remote account's vote on a local poll (a Create of a Note with `name` replying to the Question). One call
 * per Note; a second choice on a single-choice poll, a repeated choice or a vote after the end is ignored.
 * Returns whether the vote was counted.
 */
export function receivePollVote(
  ctx: Context,
  voter: AccountRow,
  questionUri: string,
  title: string,
  voteUri: string | null,
): boolean {
  const status = findStatusByUri(ctx.store.db, questionUri);
  if (!status?.local || status.deletedAt !== null) return false;
  const now = Date.now();
  return commit(ctx, (uow) => {
    const poll = ctx.store.db.select().from(polls).where(eq(polls.statusId, status.id)).get();
    if (!poll || isExpired(poll, now)) return false;
    const choice = poll.options.findIndex((o) => o.title === title);
    if (choice < 0) return false;
    const already = ctx.store.db
      .select({ choice: pollVotes.choice })
      .from(pollVotes)
      .where(and(eq(pollVotes.pollId, poll.id), eq(pollVotes.accountId, voter.id)))
      .all();
    if (already.some((v) => v.choice === choice) || (!poll.multiple && already.length > 0)) return false;
    const voteId = newId(now);
    ctx.store.db
      .insert(pollVotes)
      .values({ id: voteId, pollId: poll.id, accountId: voter.id, choice, uri: voteUri, createdAt: now })
      .run();
    const options = poll.options.map((o, i) => (i === choice ? { title: o.title, votes: o.votes + 1 } : o));
    const firstVote = already.length === 0;
    ctx.store.db
      .update(polls)
      .set({
        options,
        votersCount: firstVote ? (poll.votersCount ?? 0) + 1 : poll.votersCount,
        refreshDueAt: poll.refreshDueAt ?? now + POLL_REFRESH_DELAY_MS,
        updatedAt: now,
      })
      .where(eq(polls.id, poll.id))
      .run();
    uow.record({ type: "PollVoted", poll, status, voter, votes: [{ id: voteId, choice }] });
    return true;
  });
}

export interface PollEdit {
  options: string[];
  expiresIn: number;
  multiple?: boolean;
  hideTotals?: boolean;
}

/**
 * The poll part of an edit, inside the edit's transaction (Mastodon's rules): no poll removes the existing
 * one; a poll replaces it, and its votes are reset when the options or `multiple` changed.
 */
export function applyPollEdit(ctx: Context, statusId: string, edit: PollEdit | null, now: number): void {
  const db = ctx.store.db;
  const existing = db.select().from(polls).where(eq(polls.statusId, statusId)).get();
  if (!edit) {
    if (existing) db.delete(polls).where(eq(polls.id, existing.id)).run();
    return;
  }
  const multiple = edit.multiple ?? false;
  const hideTotals = edit.hideTotals ?? false;
  const expiresAt = now + edit.expiresIn * 1000;
  if (!existing) {
    db.insert(polls)
      .values({
        id: newId(now),
        statusId,
        options: edit.options.map((title) => ({ title, votes: 0 })),
        multiple,
        hideTotals,
        votersCount: 0,
        expiresAt,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    return;
  }
  const changed =
    existing.multiple !== multiple ||
    existing.options.length !== edit.options.length ||
    existing.options.some((o, i) => o.title !== edit.options[i]);
  if (changed) db.delete(pollVotes).where(eq(pollVotes.pollId, existing.id)).run();
  db.update(polls)
    .set({
      options: changed ? edit.options.map((title) => ({ title, votes: 0 })) : existing.options,
      votersCount: changed ? 0 : existing.votersCount,
      multiple,
      hideTotals,
      expiresAt,
      updatedAt: now,
    })
    .where(eq(polls.id, existing.id))
    .run();
}

/** The status a poll belongs to, for routes that check its visibility before voting. */
export function pollStatus(ctx: Context, pollId: string): StatusRow {
  return loadPoll(ctx, pollId).status;
}

/**
 * Announces ended polls: a "poll" notification for each poll of the local account's, and for each poll it
 * voted in, once (Mastodon's behaviour). Run every minute by the upkeep; returns how many were announced.
 */
export function notifyEndedPolls(ctx: Context, now = Date.now()): number {
  const local = findLocalUser(ctx.store.db)?.account;
  if (!local) return 0;
  const ended = ctx.store.db
    .select({ poll: polls, status: statuses })
    .from(polls)
    .innerJoin(statuses, eq(polls.statusId, statuses.id))
    .where(and(isNull(polls.endNotifiedAt), lte(polls.expiresAt, now)))
    .limit(100)
    .all();
  if (ended.length === 0) return 0;
  return commit(ctx, (uow) => {
    let announced = 0;
    for (const { poll, status } of ended) {
      ctx.store.db
        .update(polls)
        .set({ endNotifiedAt: now, refreshDueAt: null })
        .where(eq(polls.id, poll.id))
        .run();
      // The final counts go to other servers once the poll is closed.
      if (status.local && status.deletedAt === null) uow.record({ type: "PollResultsChanged", status });
      const voted =
        ctx.store.db
          .select({ id: pollVotes.id })
          .from(pollVotes)
          .where(and(eq(pollVotes.pollId, poll.id), eq(pollVotes.accountId, local.id)))
          .get() !== undefined;
      if (status.deletedAt !== null || (status.accountId !== local.id && !voted)) continue;
      addNotification(ctx, uow, "poll", status.accountId, status.id);
      announced++;
    }
    return announced;
  });
}

/**
 * Sends the new counts of local polls whose refresh is due (votes arrived at least POLL_REFRESH_DELAY_MS
 * ago). Run every minute by the upkeep; returns how many polls were refreshed.
 */
export function refreshPollResults(ctx: Context, now = Date.now()): number {
  const due = ctx.store.db
    .select({ poll: polls, status: statuses })
    .from(polls)
    .innerJoin(statuses, eq(polls.statusId, statuses.id))
    .where(and(isNotNull(polls.refreshDueAt), lte(polls.refreshDueAt, now)))
    .limit(100)
    .all();
  if (due.length === 0) return 0;
  return commit(ctx, (uow) => {
    for (const { poll, status } of due) {
      ctx.store.db.update(polls).set({ refreshDueAt: null }).where(eq(polls.id, poll.id)).run();
      if (status.local && status.deletedAt === null) uow.record({ type: "PollResultsChanged", status });
    }
    return due.length;
  });
}

/**
 * Stores a remote status's poll, or refreshes the one it has: the same options keep the poll's id and the
 * local account's vote, with the counts from the remote copy; other options replace it and reset the votes.
 */
export function storeRemotePoll(ctx: Context, statusId: string, remote: RemotePoll): void {
  const db = ctx.store.db;
  const now = Date.now();
  const existing = db.select().from(polls).where(eq(polls.statusId, statusId)).get();
  if (!existing) {
    db.insert(polls)
      .values({
        id: newId(now),
        statusId,
        options: remote.options,
        multiple: remote.multiple,
        votersCount: remote.votersCount,
        expiresAt: remote.endTime,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    return;
  }
  const sameOptions =
    existing.multiple === remote.multiple &&
    existing.options.length === remote.options.length &&
    existing.options.every((o, i) => o.title === remote.options[i]?.title);
  if (!sameOptions) db.delete(pollVotes).where(eq(pollVotes.pollId, existing.id)).run();
  db.update(polls)
    .set({
      options: remote.options,
      multiple: remote.multiple,
      votersCount: remote.votersCount,
      expiresAt: remote.endTime,
      updatedAt: now,
    })
    .where(eq(polls.id, existing.id))
    .run();
}
