import { and, asc, eq, sql } from "drizzle-orm";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { type QuoteRow, quotesOfStatuses } from "./quotes.js";
import {
  accounts,
  homeFeed,
  mediaAttachments,
  mentions,
  polls,
  statuses,
  statusTags,
  tags,
} from "./schema.js";

export type StatusRow = typeof statuses.$inferSelect;
export type MediaRow = typeof mediaAttachments.$inferSelect;
export type PollRow = typeof polls.$inferSelect;
export type TagRow = typeof tags.$inferSelect;

/** A status with what renders it: author, mentioned accounts, tags, media, poll, and the status it boosts. */
export interface StatusView {
  status: StatusRow;
  account: AccountRow;
  mentions: AccountRow[];
  tags: TagRow[];
  media: MediaRow[];
  poll: PollRow | null;
  inReplyTo: { uri: string; accountUri: string | null } | null;
  reblog: StatusView | null;
  /** The status's quote of another (store/quotes.ts), whatever its state. */
  quote: QuoteRow | null;
}

// Every inbound activity and every action on a status looks it up: prepared once.
const lookups = preparedPerDb((db) => ({
  byId: db
    .select()
    .from(statuses)
    .where(eq(statuses.id, sql.placeholder("id")))
    .prepare(),
  byUri: db
    .select()
    .from(statuses)
    .where(eq(statuses.uri, sql.placeholder("uri")))
    .prepare(),
}));

export function findStatusById(db: Db, id: string): StatusRow | null {
  return lookups(db).byId.get({ id }) ?? null;
}

export function findStatusByUri(db: Db, uri: string): StatusRow | null {
  return lookups(db).byUri.get({ uri }) ?? null;
}

/** The queries behind loadStatusViews, prepared once: each takes a JSON array of ids as "ids". */
const viewQueries = preparedPerDb((db) => ({
  statuses: db.select().from(statuses).where(inList(statuses.id, "ids")).prepare(),
  mentions: db
    .select({ statusId: mentions.statusId, account: accounts })
    .from(mentions)
    .innerJoin(accounts, eq(mentions.accountId, accounts.id))
    .where(inList(mentions.statusId, "ids"))
    .prepare(),
  parents: db
    .select({ id: statuses.id, uri: statuses.uri, accountUri: accounts.uri })
    .from(statuses)
    .innerJoin(accounts, eq(statuses.accountId, accounts.id))
    .where(inList(statuses.id, "ids"))
    .prepare(),
  accounts: db.select().from(accounts).where(inList(accounts.id, "ids")).prepare(),
  tags: db
    .select({ statusId: statusTags.statusId, tag: tags })
    .from(statusTags)
    .innerJoin(tags, eq(statusTags.tagId, tags.id))
    .where(inList(statusTags.statusId, "ids"))
    .prepare(),
  media: db
    .select()
    .from(mediaAttachments)
    .where(inList(mediaAttachments.statusId, "ids"))
    .orderBy(asc(mediaAttachments.position))
    .prepare(),
  polls: db.select().from(polls).where(inList(polls.statusId, "ids")).prepare(),
}));

/** Loads the views of several statuses with one query per relation (never one per status). */
export function loadStatusViews(db: Db, rows: StatusRow[]): StatusView[] {
  if (rows.length === 0) return [];
  const q = viewQueries(db);
  const list = (ids: Iterable<string>) => ({ ids: JSON.stringify([...ids]) });
  const reblogIds = rows.map((r) => r.reblogOfId).filter((id): id is string => id !== null);
  const reblogRows = reblogIds.length > 0 ? q.statuses.all(list(reblogIds)) : [];
  const all = [...rows, ...reblogRows];
  const ids = list(all.map((r) => r.id));

  const accountIds = new Set(all.map((r) => r.accountId));
  const mentionRows = q.mentions.all(ids);
  const replyIds = all.map((r) => r.inReplyToId).filter((id): id is string => id !== null);
  const replyRows = replyIds.length > 0 ? q.parents.all(list(replyIds)) : [];
  for (const r of all) if (r.inReplyToAccountId) accountIds.add(r.inReplyToAccountId);
  const accountRows = q.accounts.all(list(accountIds));
  const tagRows = q.tags.all(ids);
  const mediaRows = q.media.all(ids);
  const pollRows = q.polls.all(ids);

  const accountById = new Map(accountRows.map((a) => [a.id, a]));
  const replyById = new Map(replyRows.map((r) => [r.id, r]));
  const group = <T>(items: { statusId: string | null; value: T }[]) => {
    const map = new Map<string, T[]>();
    for (const { statusId, value } of items) {
      if (!statusId) continue;
      const list = map.get(statusId) ?? [];
      list.push(value);
      map.set(statusId, list);
    }
    return map;
  };
  const mentionsBy = group(mentionRows.map((m) => ({ statusId: m.statusId, value: m.account })));
  const tagsBy = group(tagRows.map((t) => ({ statusId: t.statusId, value: t.tag })));
  const mediaBy = group(mediaRows.map((m) => ({ statusId: m.statusId, value: m })));
  const pollBy = new Map(pollRows.map((p) => [p.statusId, p]));
  const quoteBy = quotesOfStatuses(
    db,
    all.map((r) => r.id),
  );

  const view = (row: StatusRow): StatusView => {
    const account = accountById.get(row.accountId);
    if (!account) throw new Error(`status ${row.id} has no author row`);
    let inReplyTo: StatusView["inReplyTo"] = null;
    const parent = row.inReplyToId ? replyById.get(row.inReplyToId) : undefined;
    if (parent) inReplyTo = { uri: parent.uri, accountUri: parent.accountUri };
    else if (row.inReplyToUri) {
      const parentAccount = row.inReplyToAccountId ? accountById.get(row.inReplyToAccountId) : undefined;
      inReplyTo = { uri: row.inReplyToUri, accountUri: parentAccount?.uri ?? null };
    }
    return {
      status: row,
      account,
      mentions: mentionsBy.get(row.id) ?? [],
      tags: tagsBy.get(row.id) ?? [],
      media: mediaBy.get(row.id) ?? [],
      poll: pollBy.get(row.id) ?? null,
      inReplyTo,
      reblog: null,
      quote: quoteBy.get(row.id) ?? null,
    };
  };
  const reblogById = new Map(reblogRows.map((r) => [r.id, view(r)]));
  return rows.map((row) => ({
    ...view(row),
    reblog: row.reblogOfId ? (reblogById.get(row.reblogOfId) ?? null) : null,
  }));
}

export function loadStatusView(db: Db, id: string): StatusView | null {
  const row = findStatusById(db, id);
  return row ? (loadStatusViews(db, [row])[0] ?? null) : null;
}

/** The local account's own boost of a status, if any. */
export function findReblog(db: Db, accountId: string, statusId: string): StatusRow | null {
  return (
    db
      .select()
      .from(statuses)
      .where(and(eq(statuses.accountId, accountId), eq(statuses.reblogOfId, statusId)))
      .get() ?? null
  );
}

/** What streaming subscriptions ask of a status, prepared once (a status event may ask for each). */
const factQueries = preparedPerDb((db) => ({
  inHome: db
    .select({ id: homeFeed.statusId })
    .from(homeFeed)
    .where(eq(homeFeed.statusId, sql.placeholder("id")))
    .prepare(),
  hasMedia: db
    .select({ id: mediaAttachments.id })
    .from(mediaAttachments)
    .where(eq(mediaAttachments.statusId, sql.placeholder("id")))
    .limit(1)
    .prepare(),
  tags: db
    .select({ name: tags.name })
    .from(statusTags)
    .innerJoin(tags, eq(statusTags.tagId, tags.id))
    .where(eq(statusTags.statusId, sql.placeholder("id")))
    .prepare(),
}));

export function isInHomeFeed(db: Db, statusId: string): boolean {
  return factQueries(db).inHome.get({ id: statusId }) !== undefined;
}

export function hasMedia(db: Db, statusId: string): boolean {
  return factQueries(db).hasMedia.get({ id: statusId }) !== undefined;
}

/** The (lower-case) names of a status's hashtags. */
export function tagNamesOf(db: Db, statusId: string): Set<string> {
  return new Set(
    factQueries(db)
      .tags.all({ id: statusId })
      .map((t) => t.name),
  );
}
