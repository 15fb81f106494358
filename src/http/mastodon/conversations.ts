/**
 * /api/v1/conversations: the owner's direct-message conversations (core/conversations.ts keeps them), listed
 * by their last status, marked read, or removed until the thread's next message.
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { markConversationRead, removeConversation } from "../../core/conversations.js";
import { accountsByIds } from "../../store/account-lookups.js";
import { findLocalUser } from "../../store/accounts.js";
import {
  type ConversationRow,
  findConversation,
  isConversationShown,
  listConversations,
} from "../../store/conversations.js";
import { isId } from "../../store/ids.js";
import { statusesByIds } from "../../store/timelines.js";
import { notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { renderAccount, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 40;

/** Mastodon's Conversation entities; a conversation with nobody but the owner shows the owner. */
export function renderConversations(
  ctx: Context,
  rows: ConversationRow[],
  viewerId: string,
): Record<string, unknown>[] {
  const db = ctx.store.db;
  const statuses = new Map(
    renderStatuses(
      ctx,
      statusesByIds(
        db,
        rows.map((r) => r.lastStatusId),
      ),
      viewerId,
    ).map((s) => [s.id as string, s]),
  );
  const accounts = new Map(
    accountsByIds(db, [...new Set(rows.flatMap((r) => r.participantIds))]).map((a) => [a.id, a]),
  );
  const owner = findLocalUser(db)?.account;
  return rows.flatMap((row) => {
    const last = statuses.get(row.lastStatusId);
    if (!last) return [];
    const participants = row.participantIds.flatMap((id) => {
      const account = accounts.get(id);
      return account ? [account] : [];
    });
    if (participants.length === 0 && owner) participants.push(owner);
    return [
      {
        id: row.id,
        unread: row.unread,
        accounts: participants.map((a) => renderAccount(ctx, a)),
        last_status: last,
      },
    ];
  });
}

function shownConversation(ctx: Context, id: string | undefined, viewerId: string): ConversationRow {
  if (!id || !isId(id)) throw notFound();
  const row = findConversation(ctx.store.db, id);
  if (!row || !isConversationShown(ctx.store.db, viewerId, id)) throw notFound();
  return row;
}

export function conversationRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  app.get("/api/v1/conversations", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:statuses");
    const page = readPage(c, DEFAULT_LIMIT, MAX_LIMIT);
    const rows = listConversations(db, viewerId, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.lastStatusId),
      page,
      "when-full",
    );
    return c.json(renderConversations(ctx, rows, viewerId));
  });

  app.post("/api/v1/conversations/:id/read", (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:conversations");
    const row = shownConversation(ctx, c.req.param("id"), viewerId);
    markConversationRead(ctx, row.id);
    const [rendered] = renderConversations(ctx, [findConversation(db, row.id) ?? row], viewerId);
    if (!rendered) throw notFound();
    return c.json(rendered);
  });

  app.delete("/api/v1/conversations/:id", (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:conversations");
    removeConversation(ctx, shownConversation(ctx, c.req.param("id"), viewerId).id);
    return c.json({});
  });

  return app;
}
