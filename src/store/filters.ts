/**
 * Reads of the local account's filters (their rules are compiled and cached by src/core/filters.ts), and the
 * parts of statuses that keyword filters read besides the status row: poll options and media descriptions.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { filterKeywords, filterStatuses, filters, mediaAttachments, polls } from "./schema.js";

export type FilterRow = typeof filters.$inferSelect;
export type FilterKeywordRow = typeof filterKeywords.$inferSelect;
export type FilterStatusRow = typeof filterStatuses.$inferSelect;

/** A filter with its rules, as the v2 API shows it. */
export interface FilterWithRules {
  filter: FilterRow;
  keywords: FilterKeywordRow[];
  statuses: FilterStatusRow[];
}

const queries = preparedPerDb((db) => ({
  filter: db
    .select()
    .from(filters)
    .where(eq(filters.id, sql.placeholder("id")))
    .prepare(),
  keyword: db
    .select()
    .from(filterKeywords)
    .where(eq(filterKeywords.id, sql.placeholder("id")))
    .prepare(),
  status: db
    .select()
    .from(filterStatuses)
    .where(eq(filterStatuses.id, sql.placeholder("id")))
    .prepare(),
  media: db
    .select({ statusId: mediaAttachments.statusId, description: mediaAttachments.description })
    .from(mediaAttachments)
    .where(inList(mediaAttachments.statusId, "ids"))
    .orderBy(asc(mediaAttachments.position))
    .prepare(),
  polls: db
    .select({ statusId: polls.statusId, options: polls.options })
    .from(polls)
    .where(inList(polls.statusId, "ids"))
    .prepare(),
}));

/** Every filter (expired ones too) with its keywords and statuses, oldest first. */
export function listFiltersWithRules(db: Db): FilterWithRules[] {
  const rows = db.select().from(filters).orderBy(asc(filters.id)).all();
  const keywords = db.select().from(filterKeywords).orderBy(asc(filterKeywords.id)).all();
  const statuses = db.select().from(filterStatuses).orderBy(asc(filterStatuses.id)).all();
  return rows.map((filter) => ({
    filter,
    keywords: keywords.filter((k) => k.filterId === filter.id),
    statuses: statuses.filter((s) => s.filterId === filter.id),
  }));
}

export function findFilter(db: Db, id: string): FilterRow | null {
  return queries(db).filter.get({ id }) ?? null;
}

export function findFilterWithRules(db: Db, id: string): FilterWithRules | null {
  const filter = findFilter(db, id);
  if (!filter) return null;
  return {
    filter,
    keywords: keywordsOf(db, id),
    statuses: db
      .select()
      .from(filterStatuses)
      .where(eq(filterStatuses.filterId, id))
      .orderBy(asc(filterStatuses.id))
      .all(),
  };
}

export function keywordsOf(db: Db, filterId: string): FilterKeywordRow[] {
  return db
    .select()
    .from(filterKeywords)
    .where(eq(filterKeywords.filterId, filterId))
    .orderBy(asc(filterKeywords.id))
    .all();
}

export function findFilterKeyword(db: Db, id: string): FilterKeywordRow | null {
  return queries(db).keyword.get({ id }) ?? null;
}

export function findFilterStatus(db: Db, id: string): FilterStatusRow | null {
  return queries(db).status.get({ id }) ?? null;
}

/**
 * Poll options, then media descriptions, of each status (by id), in the order Mastodon adds them to the text
 * a keyword is looked for in. Statuses with neither are absent.
 */
export function pollOptionsAndDescriptions(db: Db, statusIds: string[]): Map<string, string[]> {
  const parts = new Map<string, string[]>();
  if (statusIds.length === 0) return parts;
  const ids = { ids: JSON.stringify(statusIds) };
  const add = (statusId: string | null, texts: string[]) => {
    if (statusId === null || texts.length === 0) return;
    const list = parts.get(statusId) ?? [];
    list.push(...texts);
    parts.set(statusId, list);
  };
  for (const poll of queries(db).polls.all(ids))
    add(
      poll.statusId,
      poll.options.map((o) => o.title),
    );
  for (const media of queries(db).media.all(ids)) {
    if (media.description) add(media.statusId, [media.description]);
  }
  return parts;
}
