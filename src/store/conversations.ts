/**
 * Reads of the owner's direct-message conversations (written by core/conversations.ts). The list is
 * paginated by the conversation's last status id, as Mastodon does, and shows only conversations whose last
 * status the owner may see and whose author it has not muted or blocked.
 */
import { eq, type SQL, sql } from "drizzle-orm";
import { notHiddenSql, visibleStatusSql } from "../core/visibility.js";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { preparedPerDb } from "./prepared.js";
import { conversations } from "./schema.js";

export type ConversationRow = typeof conversations.$inferSelect;

const queries = preparedPerDb((db) => ({
  byId: db
    .select()
    .from(conversations)
    .where(eq(conversations.id, sql.placeholder("id")))
    .prepare(),
}));

export function findConversation(db: Db, id: string): ConversationRow | null {
  return queries(db).byId.get({ id }) ?? null;
}

/** The viewer's conversations, newest last status first; `pageId` of each is its last status id. */
export function listConversations(
  db: Db,
  viewerId: string,
  page: PageBounds,
  now = Date.now(),
): ConversationRow[] {
  const { where, order } = keyset(sql`c.last_status_id`, page);
  const filters: SQL[] = [
    visibleStatusSql(viewerId, "s"),
    notHiddenSql(viewerId, [sql`s.account_id`], now),
    ...where,
  ];
  const ids = db.all<{ id: string }>(
    sql`SELECT c.id AS id FROM conversations c CROSS JOIN statuses s ON s.id = c.last_status_id
      WHERE ${sql.join(filters, sql` AND `)} ORDER BY ${order} LIMIT ${page.limit}`,
  );
  return newestFirst(ids, page).flatMap(({ id }) => {
    const row = findConversation(db, id);
    return row ? [row] : [];
  });
}

/** Whether the viewer may see the conversation now (the rule of the list, for one conversation). */
export function isConversationShown(db: Db, viewerId: string, id: string, now = Date.now()): boolean {
  const row = db.get<{ id: string }>(
    sql`SELECT c.id AS id FROM conversations c CROSS JOIN statuses s ON s.id = c.last_status_id
      WHERE c.id = ${id} AND ${visibleStatusSql(viewerId, "s")} AND ${notHiddenSql(viewerId, [sql`s.account_id`], now)}`,
  );
  return row !== undefined;
}
