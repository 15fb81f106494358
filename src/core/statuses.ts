import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { targetInboxes } from "../federation/delivery/enqueue.js";
import { resolveHandle } from "../federation/resolve.js";
import { PUBLIC } from "../federation/vocab/context.js";
import { renderCreate, renderDelete, renderUpdate } from "../federation/vocab/note.js";
import type { ParsedNote } from "../federation/vocab/types.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import {
  accounts,
  homeFeed,
  mediaAttachments,
  mentions,
  notifications,
  polls,
  statusEdits,
  statuses,
  statusTags,
  tags,
} from "../store/schema.js";
import { findStatusById, findStatusByUri, loadStatusView, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, commit, type Effects, followerInboxes, requireLocalAccount } from "./common.js";
import { findFollow } from "./follows.js";
import { applyPollEdit } from "./polls.js";
import { extractHashtags, extractMentions, formatText, type MentionRef } from "./text.js";

export type Visibility = "public" | "unlisted" | "private" | "direct";
export const VISIBILITIES: readonly Visibility[] = ["public", "unlisted", "private", "direct"];

export const MAX_STATUS_CHARACTERS = 5000;
export const MAX_MEDIA_ATTACHMENTS = 4;
export const MAX_POLL_OPTIONS = 4;

export interface StatusInput {
  text: string;
  visibility?: Visibility;
  spoilerText?: string;
  sensitive?: boolean;
  inReplyToId?: string | null;
  language?: string | null;
  mediaIds?: string[];
  poll?: { options: string[]; expiresIn: number; multiple?: boolean; hideTotals?: boolean } | null;
  applicationId?: string | null;
}

/** Resolves the @mentions of a text to accounts: known ones from the store, others by WebFinger. */
async function resolveMentions(ctx: Context, refs: MentionRef[]): Promise<Map<string, AccountRow>> {
  const found = new Map<string, AccountRow>();
  const local = findLocalUser(ctx.store.db)?.account;
  const ourDomain = ctx.urls.domain.toLowerCase();
  for (const ref of refs.slice(0, 50)) {
    const key = `${ref.username.toLowerCase()}@${ref.domain ?? ""}`;
    if (ref.domain === null || ref.domain === ourDomain) {
      if (local && local.username.toLowerCase() === ref.username.toLowerCase()) found.set(key, local);
      else if (ref.domain === null) {
        // A bare @name: an account we already know with that username, when there is exactly one.
        const known = ctx.store.db
          .select()
          .from(accounts)
          .where(sql`lower(${accounts.username}) = ${ref.username.toLowerCase()}`)
          .limit(2)
          .all();
        if (known.length === 1 && known[0]) found.set(key, known[0]);
      }
      continue;
    }
    try {
      found.set(key, await resolveHandle(ctx, `${ref.username}@${ref.domain}`));
    } catch (error) {
      ctx.log.debug({ err: error, handle: key }, "mention not resolved; left as text");
    }
  }
  return found;
}

function validateInput(input: StatusInput, hasMedia: boolean): void {
  if (input.visibility && !VISIBILITIES.includes(input.visibility)) {
    throw new UserError(`visibility must be one of ${VISIBILITIES.join(", ")}`);
  }
  const length = [...input.text].length + [...(input.spoilerText ?? "")].length;
  if (length > MAX_STATUS_CHARACTERS)
    throw new UserError(`text is longer than ${MAX_STATUS_CHARACTERS} characters`);
  if (input.text.trim() === "" && !hasMedia && !input.poll) throw new UserError("text can't be blank");
  if ((input.mediaIds?.length ?? 0) > MAX_MEDIA_ATTACHMENTS)
    throw new UserError(`at most ${MAX_MEDIA_ATTACHMENTS} media attachments`);
  if (input.poll) {
    if (hasMedia) throw new UserError("a status cannot have both media and a poll");
    const { options, expiresIn } = input.poll;
    if (options.length < 2 || options.length > MAX_POLL_OPTIONS)
      throw new UserError(`a poll needs 2 to ${MAX_POLL_OPTIONS} options`);
    if (options.some((o) => o.trim() === "" || o.length > 50))
      throw new UserError("poll options must have 1 to 50 characters");
    if (!Number.isInteger(expiresIn) || expiresIn < 300 || expiresIn > 2_629_746)
      throw new UserError("poll expires_in must be between 300 seconds and one month");
  }
}

/** Everyone a local status goes to: followers (unless direct), mentioned remote accounts, the replied-to author. */
function audienceInboxes(
  ctx: Context,
  local: AccountRow,
  visibility: string,
  mentioned: AccountRow[],
  parentAuthor: AccountRow | null,
) {
  const remoteMentioned = mentioned.filter((a) => a.domain !== null);
  const extra = visibility === "public" || visibility === "unlisted" ? [parentAuthor] : [];
  const others = targetInboxes([
    ...remoteMentioned,
    ...extra.filter((a): a is AccountRow => a !== null && a.domain !== null),
  ]);
  return [...new Set([...(visibility === "direct" ? [] : followerInboxes(ctx, local.id)), ...others])];
}

function upsertTags(ctx: Context, names: string[]): string[] {
  const ids: string[] = [];
  for (const display of names) {
    const name = display.toLowerCase();
    ctx.store.db
      .insert(tags)
      .values({ id: newId(), name, displayName: display, createdAt: Date.now() })
      .onConflictDoNothing()
      .run();
    const row = ctx.store.db.select({ id: tags.id }).from(tags).where(eq(tags.name, name)).get();
    if (row) ids.push(row.id);
  }
  return ids;
}

function setMentionsAndTags(ctx: Context, statusId: string, mentionedIds: string[], tagNames: string[]) {
  ctx.store.db.delete(mentions).where(eq(mentions.statusId, statusId)).run();
  ctx.store.db.delete(statusTags).where(eq(statusTags.statusId, statusId)).run();
  for (const accountId of new Set(mentionedIds))
    ctx.store.db.insert(mentions).values({ statusId, accountId }).run();
  for (const tagId of upsertTags(ctx, tagNames))
    ctx.store.db.insert(statusTags).values({ statusId, tagId }).onConflictDoNothing().run();
}

function attachMedia(ctx: Context, accountId: string, statusId: string, mediaIds: string[]) {
  if (mediaIds.length === 0) return;
  const rows = ctx.store.db
    .select()
    .from(mediaAttachments)
    .where(and(inArray(mediaAttachments.id, mediaIds), eq(mediaAttachments.accountId, accountId)))
    .all();
  for (const id of mediaIds) {
    const row = rows.find((r) => r.id === id);
    if (!row) throw new UserError(`media ${id} does not exist`);
    // Media of a deleted status may be reused: that is how "delete and redraft" works.
    const owner =
      row.statusId && row.statusId !== statusId ? findStatusById(ctx.store.db, row.statusId) : null;
    if (owner && owner.deletedAt === null)
      throw new UserError(`media ${id} is already attached to another status`);
  }
  mediaIds.forEach((id, position) => {
    ctx.store.db
      .update(mediaAttachments)
      .set({ statusId, position })
      .where(eq(mediaAttachments.id, id))
      .run();
  });
}

function visibleParent(ctx: Context, id: string): StatusRow {
  const parent = findStatusById(ctx.store.db, id);
  if (!parent || parent.deletedAt !== null || parent.reblogOfId !== null)
    throw new UserError("the status replied to does not exist", 404);
  return parent;
}

export async function createStatus(ctx: Context, input: StatusInput): Promise<string> {
  const local = requireLocalAccount(ctx);
  const mediaIds = input.mediaIds ?? [];
  validateInput(input, mediaIds.length > 0);
  const parent = input.inReplyToId ? visibleParent(ctx, input.inReplyToId) : null;
  const refs = extractMentions(input.text);
  const resolved = await resolveMentions(ctx, refs);
  const hashtags = extractHashtags(input.text);
  const content = formatText(input.text, {
    mentionUrl: (ref) => {
      const account = resolved.get(`${ref.username.toLowerCase()}@${ref.domain ?? ""}`);
      return account ? (account.url ?? account.uri) : null;
    },
    tagUrl: (name) => `${ctx.urls.origin}/tags/${encodeURIComponent(name.toLowerCase())}`,
  });
  const visibility = input.visibility ?? "public";
  const now = Date.now();
  const id = newId(now);
  const mentioned = [...resolved.values()];

  return commit(ctx, (effects) => {
    const parentAuthor = parent
      ? (ctx.store.db.select().from(accounts).where(eq(accounts.id, parent.accountId)).get() ?? null)
      : null;
    ctx.store.db
      .insert(statuses)
      .values({
        id,
        uri: ctx.urls.status(local.username, id),
        url: ctx.urls.statusPage(local.username, id),
        accountId: local.id,
        local: true,
        inReplyToId: parent?.id ?? null,
        inReplyToUri: parent?.uri ?? null,
        inReplyToAccountId: parent?.accountId ?? null,
        conversationUri: parent ? (parent.conversationUri ?? parent.uri) : null,
        content,
        text: input.text,
        spoilerText: input.spoilerText ?? "",
        sensitive: input.sensitive ?? Boolean(input.spoilerText),
        visibility,
        language: input.language ?? null,
        applicationId: input.applicationId ?? null,
        createdAt: now,
      })
      .run();
    setMentionsAndTags(
      ctx,
      id,
      mentioned.map((a) => a.id),
      hashtags,
    );
    attachMedia(ctx, local.id, id, mediaIds);
    if (input.poll) {
      ctx.store.db
        .insert(polls)
        .values({
          id: newId(now),
          statusId: id,
          options: input.poll.options.map((title) => ({ title, votes: 0 })),
          multiple: input.poll.multiple ?? false,
          hideTotals: input.poll.hideTotals ?? false,
          votersCount: 0,
          expiresAt: now + input.poll.expiresIn * 1000,
          createdAt: now,
          updatedAt: now,
        })
        .run();
    }
    if (parent) bumpReplies(ctx, parent.id, 1);
    ctx.store.db.insert(homeFeed).values({ statusId: id, accountId: local.id }).run();
    const view = loadStatusView(ctx.store.db, id);
    if (!view) throw new Error("status vanished inside its transaction");
    effects.deliver(
      ctx,
      renderCreate(view, ctx.urls),
      audienceInboxes(ctx, local, visibility, mentioned, parentAuthor),
      local.id,
    );
    effects.created.push(id);
    return id;
  });
}

function bumpReplies(ctx: Context, statusId: string, delta: number) {
  ctx.store.db
    .update(statuses)
    .set({ repliesCount: sql`max(0, ${statuses.repliesCount} + ${delta})` })
    .where(eq(statuses.id, statusId))
    .run();
}

function ownStatus(ctx: Context, id: string): { local: AccountRow; status: StatusRow } {
  const local = requireLocalAccount(ctx);
  const status = findStatusById(ctx.store.db, id);
  if (!status || status.deletedAt !== null || status.accountId !== local.id || status.reblogOfId !== null) {
    throw new UserError("status not found", 404);
  }
  return { local, status };
}

function saveRevision(ctx: Context, status: StatusRow, at: number) {
  const media = ctx.store.db
    .select({ id: mediaAttachments.id })
    .from(mediaAttachments)
    .where(eq(mediaAttachments.statusId, status.id))
    .all();
  const poll = ctx.store.db.select().from(polls).where(eq(polls.statusId, status.id)).get();
  ctx.store.db
    .insert(statusEdits)
    .values({
      id: newId(at),
      statusId: status.id,
      content: status.content,
      spoilerText: status.spoilerText,
      sensitive: status.sensitive,
      mediaIds: media.map((m) => m.id),
      poll: poll ? { options: poll.options.map((o) => o.title) } : null,
      createdAt: status.editedAt ?? status.createdAt,
    })
    .run();
}

/** Edits a local status; the previous version is kept in the history. */
export async function editStatus(
  ctx: Context,
  id: string,
  input: Omit<StatusInput, "visibility" | "inReplyToId">,
): Promise<void> {
  const { local, status } = ownStatus(ctx, id);
  const mediaIds = input.mediaIds ?? [];
  validateInput({ ...input, visibility: status.visibility }, mediaIds.length > 0);
  const resolved = await resolveMentions(ctx, extractMentions(input.text));
  const content = formatText(input.text, {
    mentionUrl: (ref) => {
      const account = resolved.get(`${ref.username.toLowerCase()}@${ref.domain ?? ""}`);
      return account ? (account.url ?? account.uri) : null;
    },
    tagUrl: (name) => `${ctx.urls.origin}/tags/${encodeURIComponent(name.toLowerCase())}`,
  });
  const now = Date.now();
  commit(ctx, (effects) => {
    saveRevision(ctx, status, now);
    ctx.store.db
      .update(statuses)
      .set({
        content,
        text: input.text,
        spoilerText: input.spoilerText ?? "",
        sensitive: input.sensitive ?? Boolean(input.spoilerText),
        language: input.language ?? status.language,
        editedAt: now,
      })
      .where(eq(statuses.id, id))
      .run();
    setMentionsAndTags(
      ctx,
      id,
      [...resolved.values()].map((a) => a.id),
      extractHashtags(input.text),
    );
    ctx.store.db
      .update(mediaAttachments)
      .set({ statusId: null })
      .where(eq(mediaAttachments.statusId, id))
      .run();
    attachMedia(ctx, local.id, id, mediaIds);
    applyPollEdit(ctx, id, input.poll ?? null, now);
    const view = loadStatusView(ctx.store.db, id);
    if (!view) throw new Error("status vanished inside its transaction");
    const parentAuthor = status.inReplyToAccountId
      ? (ctx.store.db.select().from(accounts).where(eq(accounts.id, status.inReplyToAccountId)).get() ?? null)
      : null;
    effects.deliver(
      ctx,
      renderUpdate(view, ctx.urls),
      audienceInboxes(ctx, local, status.visibility, view.mentions, parentAuthor),
      local.id,
    );
    effects.updated.push(id);
  });
}

/** Deletes a local status (and its boosts); returns the row as it was, for redraft. */
export function deleteStatus(ctx: Context, id: string): StatusRow {
  const { local, status } = ownStatus(ctx, id);
  const view = loadStatusView(ctx.store.db, id);
  if (!view) throw new UserError("status not found", 404);
  commit(ctx, (effects) => {
    const inboxes = audienceInboxes(ctx, local, status.visibility, view.mentions, null);
    tombstone(ctx, effects, status);
    effects.deliver(ctx, renderDelete(view, ctx.urls), inboxes, local.id);
  });
  return status;
}

/** Marks a status deleted and removes it from every list it appears in. */
function tombstone(ctx: Context, effects: Effects, status: StatusRow) {
  const now = Date.now();
  ctx.store.db
    .update(statuses)
    .set({ deletedAt: now, pinnedAt: null })
    .where(eq(statuses.id, status.id))
    .run();
  ctx.store.db.delete(homeFeed).where(eq(homeFeed.statusId, status.id)).run();
  ctx.store.db.delete(notifications).where(eq(notifications.statusId, status.id)).run();
  // Boosts of it go with it.
  const boosts = ctx.store.db
    .select({ id: statuses.id })
    .from(statuses)
    .where(eq(statuses.reblogOfId, status.id))
    .all();
  for (const boost of boosts) {
    ctx.store.db.delete(statuses).where(eq(statuses.id, boost.id)).run();
  }
  if (status.inReplyToId) bumpReplies(ctx, status.inReplyToId, -1);
  effects.deleted.push(status.id, ...boosts.map((b) => b.id));
}

/** Visibility of a remote object from its addressing. */
export function visibilityFrom(to: string[], cc: string[], followersUrl: string | null): Visibility {
  const isPublic = (v: string) => v === PUBLIC || v === "as:Public" || v === "Public";
  if (to.some(isPublic)) return "public";
  if (cc.some(isPublic)) return "unlisted";
  if (followersUrl && [...to, ...cc].includes(followersUrl)) return "private";
  return "direct";
}

/**
 * A remote Note (Create, or fetched): stored with its mentions, tags and attachments; the author's followers
 * see it in the home timeline, the local account is notified when mentioned. An already known note is left as
 * it is (edits come through `receiveNoteUpdate`). Returns the status id.
 */
export function receiveNote(ctx: Context, author: AccountRow, note: ParsedNote): string {
  if (note.attributedTo !== author.uri) throw new UserError("the note's author is not the actor", 403);
  const existing = findStatusByUri(ctx.store.db, note.uri);
  if (existing) return existing.id;
  const local = findLocalUser(ctx.store.db)?.account ?? null;
  const visibility = visibilityFrom(note.to, note.cc, author.followersUrl);
  const mentionedAccounts = knownAccounts(ctx, note.mentions);
  const parent = note.inReplyTo ? findStatusByUri(ctx.store.db, note.inReplyTo) : null;
  const id = newId(note.published);

  return commit(ctx, (effects) => {
    ctx.store.db
      .insert(statuses)
      .values({
        id,
        uri: note.uri,
        url: note.url,
        accountId: author.id,
        local: false,
        inReplyToId: parent?.id ?? null,
        inReplyToUri: note.inReplyTo,
        inReplyToAccountId: parent?.accountId ?? null,
        conversationUri: parent ? (parent.conversationUri ?? parent.uri) : note.inReplyTo,
        content: note.content,
        spoilerText: note.summary,
        sensitive: note.sensitive,
        visibility,
        language: note.language,
        objectType: note.type,
        emojis: note.emojis,
        createdAt: note.published,
        editedAt: note.updated && note.updated > note.published ? note.updated : null,
      })
      .run();
    setMentionsAndTags(
      ctx,
      id,
      mentionedAccounts.map((a) => a.id),
      note.hashtags,
    );
    storeRemoteMedia(ctx, author.id, id, note);
    storeRemotePoll(ctx, id, note);
    if (parent) bumpReplies(ctx, parent.id, 1);
    ctx.store.db
      .update(accounts)
      .set({ lastStatusAt: note.published, statusesCount: sql`${accounts.statusesCount} + 1` })
      .where(eq(accounts.id, author.id))
      .run();

    if (local) {
      const follow = findFollow(ctx, local.id, author.id);
      const mentionsLocal = mentionedAccounts.some((a) => a.id === local.id);
      if ((follow?.state === "accepted" && visibility !== "direct") || mentionsLocal) {
        ctx.store.db
          .insert(homeFeed)
          .values({ statusId: id, accountId: author.id })
          .onConflictDoNothing()
          .run();
      }
      if (mentionsLocal) effects.notified(addNotification(ctx, "mention", author.id, id));
      else if (follow?.state === "accepted" && follow.notify && !note.inReplyTo) {
        effects.notified(addNotification(ctx, "status", author.id, id));
      }
    }
    effects.created.push(id);
    return id;
  });
}

/** An Update of a remote Note: the previous version goes to the history. */
export function receiveNoteUpdate(ctx: Context, author: AccountRow, note: ParsedNote): string | null {
  const existing = findStatusByUri(ctx.store.db, note.uri);
  if (!existing || existing.deletedAt !== null) return existing ? null : receiveNote(ctx, author, note);
  if (existing.accountId !== author.id) throw new UserError("only the author may update a note", 403);
  const at = note.updated ?? Date.now();
  if (existing.editedAt !== null && at <= existing.editedAt) return existing.id;
  return commit(ctx, (effects) => {
    saveRevision(ctx, existing, at);
    ctx.store.db
      .update(statuses)
      .set({
        content: note.content,
        spoilerText: note.summary,
        sensitive: note.sensitive,
        language: note.language,
        emojis: note.emojis,
        editedAt: at,
      })
      .where(eq(statuses.id, existing.id))
      .run();
    setMentionsAndTags(
      ctx,
      existing.id,
      knownAccounts(ctx, note.mentions).map((a) => a.id),
      note.hashtags,
    );
    ctx.store.db.delete(mediaAttachments).where(eq(mediaAttachments.statusId, existing.id)).run();
    storeRemoteMedia(ctx, author.id, existing.id, note);
    if (note.poll) {
      ctx.store.db.delete(polls).where(eq(polls.statusId, existing.id)).run();
      storeRemotePoll(ctx, existing.id, note);
    }
    // Everyone who boosted or was mentioned hears of the edit (Mastodon's "update" notification).
    const local = findLocalUser(ctx.store.db)?.account;
    if (local) {
      const boosted = ctx.store.db
        .select({ id: statuses.id })
        .from(statuses)
        .where(and(eq(statuses.reblogOfId, existing.id), eq(statuses.accountId, local.id)))
        .get();
      if (boosted) effects.notified(addNotification(ctx, "update", author.id, existing.id));
    }
    effects.updated.push(existing.id);
    return existing.id;
  });
}

/** A remote Delete of a note: only its author may delete it. Returns false when nothing was deleted. */
export function receiveNoteDelete(ctx: Context, author: AccountRow, uri: string): boolean {
  const status = findStatusByUri(ctx.store.db, uri);
  if (!status || status.deletedAt !== null) return false;
  if (status.accountId !== author.id) throw new UserError("only the author may delete a note", 403);
  commit(ctx, (effects) => {
    if (status.reblogOfId) {
      // The Delete of a boost's activity id (some servers send it instead of Undo).
      ctx.store.db.delete(statuses).where(eq(statuses.id, status.id)).run();
      bumpReblogs(ctx, status.reblogOfId, -1);
      effects.deleted.push(status.id);
      return;
    }
    tombstone(ctx, effects, status);
  });
  return true;
}

export function bumpReblogs(ctx: Context, statusId: string, delta: number) {
  ctx.store.db
    .update(statuses)
    .set({ reblogsCount: sql`max(0, ${statuses.reblogsCount} + ${delta})` })
    .where(eq(statuses.id, statusId))
    .run();
}

/** Accounts we already know among the given actor URIs (mentions of unknown accounts are not fetched here). */
function knownAccounts(ctx: Context, uris: string[]): AccountRow[] {
  if (uris.length === 0) return [];
  return ctx.store.db
    .select()
    .from(accounts)
    .where(inArray(accounts.uri, uris.slice(0, 100)))
    .all();
}

function storeRemoteMedia(ctx: Context, accountId: string, statusId: string, note: ParsedNote) {
  note.attachments.slice(0, 16).forEach((a, position) => {
    ctx.store.db
      .insert(mediaAttachments)
      .values({
        id: newId(),
        accountId,
        statusId,
        position,
        type: a.kind,
        contentType: a.mediaType,
        remoteUrl: a.url,
        description: a.description,
        blurhash: a.blurhash,
        focusX: a.focalPoint ? Math.round(a.focalPoint[0] * 1000) : null,
        focusY: a.focalPoint ? Math.round(a.focalPoint[1] * 1000) : null,
        meta: a.width && a.height ? { original: { width: a.width, height: a.height } } : {},
        createdAt: Date.now(),
      })
      .run();
  });
}

function storeRemotePoll(ctx: Context, statusId: string, note: ParsedNote) {
  if (!note.poll) return;
  const now = Date.now();
  ctx.store.db
    .insert(polls)
    .values({
      id: newId(now),
      statusId,
      options: note.poll.options,
      multiple: note.poll.multiple,
      votersCount: note.poll.votersCount,
      expiresAt: note.poll.endTime,
      createdAt: now,
      updatedAt: now,
    })
    .run();
}

/** Statuses of a deleted remote actor are tombstoned and its follows removed. */
export function removeRemoteActor(ctx: Context, actor: AccountRow): void {
  commit(ctx, (effects) => {
    const rows = ctx.store.db
      .select()
      .from(statuses)
      .where(and(eq(statuses.accountId, actor.id), isNull(statuses.deletedAt)))
      .all();
    for (const status of rows) {
      if (status.reblogOfId) {
        ctx.store.db.delete(statuses).where(eq(statuses.id, status.id)).run();
        bumpReblogs(ctx, status.reblogOfId, -1);
        effects.deleted.push(status.id);
      } else tombstone(ctx, effects, status);
    }
    ctx.store.db.run(sql`DELETE FROM follows WHERE follower_id = ${actor.id} OR following_id = ${actor.id}`);
    ctx.store.db.update(accounts).set({ goneAt: Date.now() }).where(eq(accounts.id, actor.id)).run();
  });
}
