/** The local account's featured hashtags with their counts, and the tags it uses most (suggestions). */
import { sql } from "drizzle-orm";
import type { Db } from "./open.js";
import type { TagRow } from "./tags.js";

export interface FeaturedTagView {
  id: string;
  tag: TagRow;
  /** The local account's public and unlisted statuses with the tag, and when the last one was posted. */
  statusesCount: number;
  lastStatusAt: number | null;
}

const counted = (localId: string, what: "count(*)" | "max(s.created_at)") =>
  sql.raw(what).append(sql` FROM status_tags st JOIN statuses s ON s.id = st.status_id
    WHERE st.tag_id = t.id AND s.account_id = ${localId} AND s.deleted_at IS NULL
      AND s.reblog_of_id IS NULL AND s.visibility IN ('public', 'unlisted')`);

/** The featured tags, oldest first (the order they were featured in, as Mastodon lists them). */
export function listFeaturedTags(db: Db, localId: string): FeaturedTagView[] {
  const rows = db.all<{
    id: string;
    tag_id: string;
    name: string;
    display_name: string;
    followed: number;
    tag_created_at: number;
    statuses_count: number;
    last_status_at: number | null;
  }>(sql`SELECT ft.id, t.id AS tag_id, t.name, t.display_name, t.followed, t.created_at AS tag_created_at,
      (SELECT ${counted(localId, "count(*)")}) AS statuses_count,
      (SELECT ${counted(localId, "max(s.created_at)")}) AS last_status_at
    FROM featured_tags ft JOIN tags t ON t.id = ft.tag_id ORDER BY ft.id`);
  return rows.map((r) => ({
    id: r.id,
    tag: {
      id: r.tag_id,
      name: r.name,
      displayName: r.display_name,
      followed: r.followed === 1,
      createdAt: r.tag_created_at,
    },
    statusesCount: r.statuses_count,
    lastStatusAt: r.last_status_at,
  }));
}

/** The tags of the local account's latest statuses, most used first, not already featured. */
export function suggestedTags(db: Db, localId: string, limit: number, recent = 200): TagRow[] {
  const rows = db.all<{
    id: string;
    name: string;
    display_name: string;
    followed: number;
    created_at: number;
  }>(
    sql`SELECT t.id, t.name, t.display_name, t.followed, t.created_at
      FROM (SELECT id FROM statuses WHERE account_id = ${localId} AND deleted_at IS NULL
        AND reblog_of_id IS NULL ORDER BY id DESC LIMIT ${recent}) s
      JOIN status_tags st ON st.status_id = s.id JOIN tags t ON t.id = st.tag_id
      WHERE NOT EXISTS (SELECT 1 FROM featured_tags ft WHERE ft.tag_id = t.id)
      GROUP BY t.id ORDER BY count(*) DESC, max(s.id) DESC LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    displayName: r.display_name,
    followed: r.followed === 1,
    createdAt: r.created_at,
  }));
}
