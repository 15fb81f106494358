/**
 * The owner's direct-message conversations, kept up to date from the domain events inside the transaction
 * that stored or deleted a status: a `direct` status written by the owner, or by someone else and mentioning
 * the owner, joins the conversation of its thread (one per thread) and becomes its last status. The owner's
 * own message leaves the conversation read, anyone else's makes it unread (Mastodon's AccountConversation).
 * A deleted status leaves its conversation, which falls back to the previous status or goes when none is left.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { findLocalUser, localAccountRef } from "../store/accounts.js";
import { findConversation } from "../store/conversations.js";
import { newId } from "../store/ids.js";
import { conversationStatuses, conversations } from "../store/schema.js";
import type { StatusRow } from "../store/statuses.js";
import { UserError } from "./account.js";
import type { UnitOfWork } from "./events.js";
import { commit } from "./unit-of-work.js";
import { isHidden } from "./visibility.js";

/** The thread a status belongs to, as statuses.conversation_uri names it. */
export function threadOf(status: StatusRow): string {
  return status.conversationUri ?? status.uri;
}

/** Subscribes the conversations to the domain events; called once by createContext. */
export function registerConversations(ctx: Context): void {
  ctx.events.onTransaction((event, uow) => {
    if (event.type === "StatusCreated") addStatus(ctx, uow, event.status);
    else if (event.type === "StatusDeleted") removeStatus(ctx, uow, event.status);
  });
}

function isAddressedTo(ctx: Context, status: StatusRow, accountId: string): boolean {
  if (status.accountId === accountId) return true;
  return (
    ctx.store.db.get<{ one: number }>(
      sql`SELECT 1 AS one FROM mentions WHERE status_id = ${status.id} AND account_id = ${accountId}`,
    ) !== undefined
  );
}

function addStatus(ctx: Context, uow: UnitOfWork, status: StatusRow): void {
  if (status.visibility !== "direct" || status.reblogOfId !== null) return;
  const local = localAccountRef(ctx.store.db);
  if (!local || !isAddressedTo(ctx, status, local.id)) return;
  const own = status.accountId === local.id;
  // A direct message from an account the owner muted or blocked starts nothing (it is not notified either).
  if (!own && isHidden(ctx.store.db, local.id, [status.accountId])) return;
  const db = ctx.store.db;
  const now = Date.now();
  const thread = threadOf(status);
  let row = db.select().from(conversations).where(eq(conversations.threadUri, thread)).get();
  if (!row) {
    row = {
      id: newId(now),
      threadUri: thread,
      lastStatusId: status.id,
      unread: !own,
      participantIds: [],
      createdAt: now,
      updatedAt: now,
    };
    db.insert(conversations).values(row).run();
  }
  db.insert(conversationStatuses)
    .values({ conversationId: row.id, statusId: status.id })
    .onConflictDoNothing()
    .run();
  db.update(conversations)
    .set({
      // Ids of equal length sort as text; a late, older message does not become the last one.
      lastStatusId: [status.id, row.lastStatusId].sort()[1] ?? status.id,
      unread: !own,
      participantIds: participantsOf(ctx, row.id, local.id),
      updatedAt: now,
    })
    .where(eq(conversations.id, row.id))
    .run();
  uow.record({ type: "ConversationChanged", conversationId: row.id });
}

function removeStatus(ctx: Context, uow: UnitOfWork, status: StatusRow): void {
  if (status.visibility !== "direct") return;
  const db = ctx.store.db;
  const joined = db
    .select({ id: conversationStatuses.conversationId })
    .from(conversationStatuses)
    .where(eq(conversationStatuses.statusId, status.id))
    .all();
  if (joined.length === 0) return;
  db.delete(conversationStatuses).where(eq(conversationStatuses.statusId, status.id)).run();
  const local = findLocalUser(db)?.account;
  for (const { id } of joined) {
    const last = db.get<{ id: string | null }>(
      sql`SELECT max(s.id) AS id FROM conversation_statuses cs CROSS JOIN statuses s ON s.id = cs.status_id
        WHERE cs.conversation_id = ${id} AND s.deleted_at IS NULL`,
    )?.id;
    if (!last) {
      db.delete(conversations).where(eq(conversations.id, id)).run();
      continue;
    }
    db.update(conversations)
      .set({
        lastStatusId: last,
        participantIds: participantsOf(ctx, id, local?.id ?? ""),
        updatedAt: Date.now(),
      })
      .where(eq(conversations.id, id))
      .run();
    uow.record({ type: "ConversationChanged", conversationId: id });
  }
}

/** The authors and mentioned accounts of a conversation's live statuses, without the owner, oldest first. */
function participantsOf(ctx: Context, conversationId: string, ownerId: string): string[] {
  const rows = ctx.store.db.all<{ id: string }>(
    sql`SELECT account_id AS id FROM (
        SELECT s.account_id, s.id AS status_id FROM conversation_statuses cs
          CROSS JOIN statuses s ON s.id = cs.status_id
          WHERE cs.conversation_id = ${conversationId} AND s.deleted_at IS NULL
        UNION ALL
        SELECT m.account_id, s.id FROM conversation_statuses cs
          CROSS JOIN statuses s ON s.id = cs.status_id
          CROSS JOIN mentions m ON m.status_id = s.id
          WHERE cs.conversation_id = ${conversationId} AND s.deleted_at IS NULL)
      WHERE account_id != ${ownerId} GROUP BY account_id ORDER BY min(status_id), account_id`,
  );
  return rows.map((r) => r.id);
}

function requireConversation(ctx: Context, id: string) {
  const row = findConversation(ctx.store.db, id);
  if (!row) throw new UserError("Record not found", 404);
  return row;
}

/** POST /api/v1/conversations/:id/read */
export function markConversationRead(ctx: Context, id: string): void {
  commit(ctx, (uow) => {
    requireConversation(ctx, id);
    ctx.store.db
      .update(conversations)
      .set({ unread: false, updatedAt: Date.now() })
      .where(and(eq(conversations.id, id), eq(conversations.unread, true)))
      .run();
    uow.record({ type: "ConversationChanged", conversationId: id });
  });
}

/** DELETE /api/v1/conversations/:id: gone from the list; the thread's next message starts a new one. */
export function removeConversation(ctx: Context, id: string): void {
  commit(ctx, () => {
    requireConversation(ctx, id);
    ctx.store.db.delete(conversations).where(eq(conversations.id, id)).run();
  });
}
