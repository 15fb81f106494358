import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { type AccountRow, findLocalUser, localAccountRef } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import {
  accounts,
  mediaAttachments,
  mentions,
  notifications,
  polls,
  statusEdits,
  statuses,
  statusTags,
  tags,
} from "../store/schema.js";
import { findStatusById, findStatusByUri, type StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import { addNotification, requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { findFollow } from "./follows.js";
import { requireInteractionAllowed, storeInteractionPolicy } from "./interaction-policy.js";
import { applyPollEdit, storeRemotePoll } from "./polls.js";
import {
  applyRemoteQuote,
  checkQuoteAudience,
  initialQuotePolicy,
  type QuotePolicy,
  quotableStatus,
  storeLocalQuote,
  visibilityForQuote,
  withQuoteFallback,
} from "./quotes.js";
import type { RemoteNote } from "./remote.js";
import { extractHashtags, extractMentions, formatText, type MentionRef } from "./text.js";
import { commit } from "./unit-of-work.js";

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
  /** The status this one quotes, and who may quote this one (core/quotes.ts). */
  quotedStatusId?: string | null;
  quotePolicy?: QuotePolicy;
  /**
   * Remote accounts the text mentions, resolved by the caller beforehand (WebFinger is network I/O, which a
   * use case never does): keys are `mentionKey(ref)`. Mentions not in it are looked up in the store only.
   */
  mentions?: ReadonlyMap<string, AccountRow>;
}

/** New alt text and focal point (each -1..1) for one media of a status, as an edit's media_attributes give them. */
export interface MediaAttributes {
  id: string;
  description?: string;
  focus?: [number, number];
}

export interface EditInput extends Omit<StatusInput, "visibility" | "inReplyToId"> {
  mediaAttributes?: MediaAttributes[];
}

/** The key of a mention in `StatusInput.mentions`: lower-case user@domain (domain empty for a bare @name). */
export function mentionKey(ref: MentionRef): string {
  return `${ref.username.toLowerCase()}@${ref.domain?.toLowerCase() ?? ""}`;
}

/** The accounts a text mentions: the local account, accounts the caller resolved, and ones the store knows. */
function mentionedAccounts(
  ctx: Context,
  refs: MentionRef[],
  resolved: ReadonlyMap<string, AccountRow> = new Map(),
): Map<string, AccountRow> {
  const found = new Map<string, AccountRow>();
  const local = findLocalUser(ctx.store.db)?.account;
  const ourDomain = ctx.urls.domain.toLowerCase();
  for (const ref of refs.slice(0, 50)) {
    const key = mentionKey(ref);
    const domain = ref.domain?.toLowerCase() ?? null;
    const username = ref.username.toLowerCase();
    let account: AccountRow | undefined = resolved.get(key);
    if (!account && (domain === null || domain === ourDomain) && local?.username.toLowerCase() === username)
      account = local;
    else if (!account && domain !== ourDomain) {
      // A bare @name matches an account we know by that username when there is exactly one.
      const known = ctx.store.db
        .select()
        .from(accounts)
        .where(
          domain === null
            ? sql`lower(${accounts.username}) = ${username}`
            : sql`lower(${accounts.username}) = ${username} AND lower(${accounts.domain}) = ${domain}`,
        )
        .limit(2)
        .all();
      if (known.length === 1) account = known[0];
    }
    if (account) found.set(key, account);
  }
  return found;
}

function formatStatusText(ctx: Context, text: string, mentioned: Map<string, AccountRow>): string {
  return formatText(text, {
    mention: (ref) => mentioned.get(mentionKey(ref)) ?? null,
    tagUrl: (name) => `${ctx.urls.origin}/tags/${encodeURIComponent(name)}`,
  });
}

export function validateInput(input: StatusInput, hasMedia: boolean): void {
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

/** Posts a status as the local account. Mentions of remote accounts must be resolved first (`input.mentions`). */
export function createStatus(ctx: Context, input: StatusInput): string {
  const local = requireLocalAccount(ctx);
  const mediaIds = input.mediaIds ?? [];
  validateInput(input, mediaIds.length > 0);
  const parent = input.inReplyToId ? visibleParent(ctx, input.inReplyToId) : null;
  const quoted = input.quotedStatusId ? quotableStatus(ctx, input.quotedStatusId) : null;

  if (parent) requireInteractionAllowed(ctx, parent, "reply");
  const mentioned = mentionedAccounts(ctx, extractMentions(input.text), input.mentions);
  const visibility = visibilityForQuote(input.visibility ?? "public", quoted);
  if (quoted)
    checkQuoteAudience(
      visibility,
      quoted,
      [...mentioned.values()].map((a) => a.id),
    );
  const formatted = formatStatusText(ctx, input.text, mentioned);
  const content = quoted ? withQuoteFallback(formatted, input.text, quoted) : formatted;
  const now = Date.now();
  const id = newId(now);

  return commit(ctx, (uow) => {
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
        quotePolicy: initialQuotePolicy(visibility, input.quotePolicy),
        createdAt: now,
      })
      .run();
    setMentionsAndTags(
      ctx,
      id,
      [...mentioned.values()].map((a) => a.id),
      extractHashtags(input.text),
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
    uow.record({ type: "StatusCreated", status: mustStatus(ctx, id) });
    if (quoted) storeLocalQuote(ctx, uow, mustStatus(ctx, id), quoted);
    return id;
  });
}

function mustStatus(ctx: Context, id: string): StatusRow {
  const row = findStatusById(ctx.store.db, id);
  if (!row) throw new Error(`status ${id} vanished inside its transaction`);
  return row;
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

/** Edits a local status; the previous version is kept in the history. The whole edit is one transaction. */
export function editStatus(ctx: Context, id: string, input: EditInput): void {
  const { local, status } = ownStatus(ctx, id);
  const mediaIds = input.mediaIds ?? [];
  validateInput({ ...input, visibility: status.visibility }, mediaIds.length > 0);
  for (const attr of input.mediaAttributes ?? []) {
    if (!mediaIds.includes(attr.id)) throw new UserError(`media ${attr.id} is not one of the status's media`);
  }
  const mentioned = mentionedAccounts(ctx, extractMentions(input.text), input.mentions);
  const content = formatStatusText(ctx, input.text, mentioned);
  const now = Date.now();
  commit(ctx, (uow) => {
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
      [...mentioned.values()].map((a) => a.id),
      extractHashtags(input.text),
    );
    ctx.store.db
      .update(mediaAttachments)
      .set({ statusId: null })
      .where(eq(mediaAttachments.statusId, id))
      .run();
    attachMedia(ctx, local.id, id, mediaIds);
    for (const attr of input.mediaAttributes ?? []) {
      ctx.store.db
        .update(mediaAttachments)
        .set({
          ...(attr.description !== undefined ? { description: attr.description } : {}),
          ...(attr.focus
            ? { focusX: Math.round(attr.focus[0] * 1000), focusY: Math.round(attr.focus[1] * 1000) }
            : {}),
        })
        .where(and(eq(mediaAttachments.id, attr.id), eq(mediaAttachments.statusId, id)))
        .run();
    }
    applyPollEdit(ctx, id, input.poll ?? null, now);
    uow.record({ type: "StatusEdited", status: mustStatus(ctx, id) });
  });
}

/** Deletes a local status (and its boosts); returns the row as it was, for redraft. */
export function deleteStatus(ctx: Context, id: string): StatusRow {
  const { status } = ownStatus(ctx, id);
  commit(ctx, (uow) => tombstone(ctx, uow, status));
  return status;
}

/** Marks a status deleted and removes it from every list it appears in. */
function tombstone(ctx: Context, uow: UnitOfWork, status: StatusRow) {
  const now = Date.now();
  ctx.store.db
    .update(statuses)
    .set({ deletedAt: now, pinnedAt: null })
    .where(eq(statuses.id, status.id))
    .run();
  ctx.store.db.delete(notifications).where(eq(notifications.statusId, status.id)).run();
  // Boosts of it go with it; other servers drop theirs when they hear of the Delete.
  const boosts = ctx.store.db.select().from(statuses).where(eq(statuses.reblogOfId, status.id)).all();
  for (const boost of boosts) {
    ctx.store.db.delete(statuses).where(eq(statuses.id, boost.id)).run();
  }
  if (status.inReplyToId) bumpReplies(ctx, status.inReplyToId, -1);
  uow.record({ type: "StatusDeleted", status: mustStatus(ctx, status.id) });
  for (const boost of boosts) uow.record({ type: "StatusDeleted", status: boost });
}

/**
 * A remote Note (Create, or fetched): stored with its mentions, tags and attachments; the author's followers
 * see it in the home timeline, the local account is notified when mentioned. An already known note is left as
 * it is (edits come through `receiveNoteUpdate`). With `notify: false` (a backfilled post) nobody is notified.
 * Returns the status id.
 */
export function receiveNote(
  ctx: Context,
  author: AccountRow,
  note: RemoteNote,
  options: { notify?: boolean } = {},
): string {
  if (note.attributedTo !== author.uri) throw new UserError("the note's author is not the actor", 403);
  const existing = findStatusByUri(ctx.store.db, note.uri);
  if (existing) return existing.id;
  const local = localAccountRef(ctx.store.db);
  const visibility = note.visibility;
  const mentionedAccounts = knownAccounts(ctx, note.mentions);
  const parent = note.inReplyTo ? findStatusByUri(ctx.store.db, note.inReplyTo) : null;
  const id = newId(note.published);

  return commit(ctx, (uow) => {
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
    storeInteractionPolicy(ctx, id, note.interactionPolicy);
    setMentionsAndTags(
      ctx,
      id,
      mentionedAccounts.map((a) => a.id),
      note.hashtags,
    );
    storeRemoteMedia(ctx, author.id, id, note);
    if (note.poll) storeRemotePoll(ctx, id, note.poll);
    if (parent) bumpReplies(ctx, parent.id, 1);
    if (note.quote) applyRemoteQuote(ctx, uow, mustStatus(ctx, id), author, note.quote);
    ctx.store.db
      .update(accounts)
      .set({ lastStatusAt: note.published, statusesCount: sql`${accounts.statusesCount} + 1` })
      .where(eq(accounts.id, author.id))
      .run();

    if (local && options.notify !== false) {
      const follow = findFollow(ctx, local.id, author.id);
      const mentionsLocal = mentionedAccounts.some((a) => a.id === local.id);
      if (mentionsLocal) addNotification(ctx, uow, "mention", author.id, id);
      else if (follow?.state === "accepted" && follow.notify && !note.inReplyTo) {
        addNotification(ctx, uow, "status", author.id, id);
      }
    }
    uow.record({ type: "StatusCreated", status: mustStatus(ctx, id) });
    return id;
  });
}

/**
 * An Update of a remote Note. It is an edit only when `updated` moved on past the version we have: then the
 * previous version goes to the history. Otherwise it is a refresh (Mastodon re-sends a poll as votes come in):
 * only the poll's counts change, and the local vote, the poll's id and the history stay.
 */
export function receiveNoteUpdate(ctx: Context, author: AccountRow, note: RemoteNote): string | null {
  const existing = findStatusByUri(ctx.store.db, note.uri);
  if (!existing || existing.deletedAt !== null) return existing ? null : receiveNote(ctx, author, note);
  if (existing.accountId !== author.id) throw new UserError("only the author may update a note", 403);
  storeInteractionPolicy(ctx, existing.id, note.interactionPolicy);
  const edited = note.updated !== null && note.updated > (existing.editedAt ?? existing.createdAt);
  if (!edited) {
    if (note.poll) {
      const poll = note.poll;
      commit(ctx, () => storeRemotePoll(ctx, existing.id, poll));
    }
    return existing.id;
  }
  const at = note.updated as number;
  return commit(ctx, (uow) => {
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
    if (note.poll) storeRemotePoll(ctx, existing.id, note.poll);
    else ctx.store.db.delete(polls).where(eq(polls.statusId, existing.id)).run();
    // The local account hears of the edit of a status it boosted (Mastodon's "update" notification).
    const local = localAccountRef(ctx.store.db);
    if (local) {
      const boosted = ctx.store.db
        .select({ id: statuses.id })
        .from(statuses)
        .where(and(eq(statuses.reblogOfId, existing.id), eq(statuses.accountId, local.id)))
        .get();
      if (boosted) addNotification(ctx, uow, "update", author.id, existing.id);
    }
    uow.record({ type: "StatusEdited", status: mustStatus(ctx, existing.id) });
    return existing.id;
  });
}

/** A remote Delete of a note: only its author may delete it. Returns false when nothing was deleted. */
export function receiveNoteDelete(ctx: Context, author: AccountRow, uri: string): boolean {
  const status = findStatusByUri(ctx.store.db, uri);
  if (!status || status.deletedAt !== null) return false;
  if (status.accountId !== author.id) throw new UserError("only the author may delete a note", 403);
  commit(ctx, (uow) => {
    if (status.reblogOfId) removeBoost(ctx, uow, status);
    else tombstone(ctx, uow, status);
  });
  return true;
}

/** Removes a boost (undone, or its booster gone). */
export function removeBoost(ctx: Context, uow: UnitOfWork, boost: StatusRow): void {
  const target = findStatusById(ctx.store.db, boost.reblogOfId as string);
  ctx.store.db.delete(statuses).where(eq(statuses.id, boost.id)).run();
  if (!target) return;
  bumpReblogs(ctx, target.id, -1);
  uow.record({ type: "Unreblogged", boost, target });
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

function storeRemoteMedia(ctx: Context, accountId: string, statusId: string, note: RemoteNote) {
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

/** A remote account pins (Add to its featured collection) or unpins one of its own statuses. */
export function receiveFeatured(ctx: Context, author: AccountRow, statusUri: string, pinned: boolean): void {
  const status = findStatusByUri(ctx.store.db, statusUri);
  if (!status || status.accountId !== author.id || (status.pinnedAt !== null) === pinned) return;
  commit(ctx, (uow) => {
    const pinnedAt = pinned ? Date.now() : null;
    ctx.store.db.update(statuses).set({ pinnedAt }).where(eq(statuses.id, status.id)).run();
    uow.record({ type: pinned ? "StatusPinned" : "StatusUnpinned", status: { ...status, pinnedAt } });
  });
}

/** Statuses of a deleted remote actor are tombstoned and its follows removed. */
export function removeRemoteActor(ctx: Context, actor: AccountRow): void {
  commit(ctx, (uow) => {
    const rows = ctx.store.db
      .select()
      .from(statuses)
      .where(and(eq(statuses.accountId, actor.id), isNull(statuses.deletedAt)))
      .all();
    for (const status of rows) {
      if (status.reblogOfId) removeBoost(ctx, uow, status);
      else tombstone(ctx, uow, status);
    }
    ctx.store.db.run(sql`DELETE FROM follows WHERE follower_id = ${actor.id} OR following_id = ${actor.id}`);
    ctx.store.db.update(accounts).set({ goneAt: Date.now() }).where(eq(accounts.id, actor.id)).run();
  });
}
