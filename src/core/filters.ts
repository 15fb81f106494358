/**
 * Filters (Mastodon's custom filters): the use cases that change them, and the one engine every surface asks
 * whether a status is filtered in a context. A filter holds keywords (whole word or not) and individual
 * statuses; a status matches when its searchable text contains a keyword or when it (or, for a boost, the
 * boosted status) is one of the filter's statuses. `hide` removes matches from what a surface shows; `warn`
 * and `blur` keep them with the results in the Status entity's `filtered`.
 *
 * Filters are read on every timeline page, so their compiled form (one regular expression per filter) is kept
 * per database and dropped when a change to them commits.
 */
import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import {
  type FilterKeywordRow,
  type FilterRow,
  type FilterStatusRow,
  findFilter,
  findFilterKeyword,
  findFilterStatus,
  keywordsOf,
  listFiltersWithRules,
  pollOptionsAndDescriptions,
} from "../store/filters.js";
import { newId } from "../store/ids.js";
import type { Db } from "../store/open.js";
import { filterKeywords, filterStatuses, filters } from "../store/schema.js";
import { findStatusById, type StatusRow } from "../store/statuses.js";
import { statusesByIds } from "../store/timelines.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { htmlToText } from "./text.js";
import { commit } from "./unit-of-work.js";
import { isVisible } from "./visibility.js";

export const FILTER_CONTEXTS = ["home", "notifications", "public", "thread", "account"] as const;
export type FilterContext = (typeof FILTER_CONTEXTS)[number];
export const FILTER_ACTIONS = ["warn", "hide", "blur"] as const;
export type FilterAction = (typeof FILTER_ACTIONS)[number];

export const MAX_TITLE_LENGTH = 256;
export const MAX_KEYWORD_LENGTH = 512;
/** The longest expiry accepted (in seconds): ten years. */
export const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600;

// ---- The engine ----

/** One filter that matched a status: Mastodon's FilterResult. */
export interface FilterResult {
  filter: FilterRow;
  /** The keyword text found (the first one in the status), or null when only a status rule matched. */
  keywordMatches: string[] | null;
  /** The filtered status ids that matched (the status, or the boosted one), or null. */
  statusMatches: string[] | null;
}

interface CompiledFilter {
  filter: FilterRow;
  contexts: Set<string>;
  /** The union of the filter's keywords, or null when it has none. */
  keywords: RegExp | null;
  statusIds: Set<string>;
}

/** Letters, marks, digits and connector punctuation: what Ruby's [[:word:]] holds, which Mastodon uses. */
const WORD = "[\\p{L}\\p{M}\\p{N}\\p{Pc}]";
const STARTS_WITH_WORD = new RegExp(`^${WORD}`, "u");
const ENDS_WITH_WORD = new RegExp(`${WORD}$`, "u");

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/**
 * A keyword as a pattern, as Mastodon builds it: case-insensitive; a whole-word keyword must not touch a word
 * character on a side where it begins or ends with one ("c++" matches in "c++!" and "c++x").
 */
export function keywordPattern(keyword: string, wholeWord: boolean): string {
  const escaped = escapeRegExp(keyword);
  if (!wholeWord) return escaped;
  const before = STARTS_WITH_WORD.test(keyword) ? `(?<!${WORD})` : "";
  const after = ENDS_WITH_WORD.test(keyword) ? `(?!${WORD})` : "";
  return `${before}${escaped}${after}`;
}

const compiledByDb = new WeakMap<Db, CompiledFilter[]>();

function compile(db: Db, now: number): CompiledFilter[] {
  return listFiltersWithRules(db)
    .filter(({ filter }) => filter.expiresAt === null || filter.expiresAt > now)
    .filter(({ keywords, statuses }) => keywords.length > 0 || statuses.length > 0)
    .map(({ filter, keywords, statuses }) => ({
      filter,
      contexts: new Set(filter.context),
      keywords:
        keywords.length > 0
          ? new RegExp(keywords.map((k) => keywordPattern(k.keyword, k.wholeWord)).join("|"), "iu")
          : null,
      statusIds: new Set(statuses.map((s) => s.statusId)),
    }));
}

/** The filters in force now, compiled once and kept until a filter changes (expiry is checked on each use). */
function activeFilters(db: Db, now: number): CompiledFilter[] {
  let compiled = compiledByDb.get(db);
  if (!compiled) {
    compiled = compile(db, now);
    compiledByDb.set(db, compiled);
  }
  return compiled.filter((c) => c.filter.expiresAt === null || c.filter.expiresAt > now);
}

/** Forgets the compiled filters: the next request compiles them again. */
export function invalidateFilters(ctx: Context): void {
  compiledByDb.delete(ctx.store.db);
}

/** The text keywords are looked for in, as Mastodon's `searchable_text`: spoiler, text, poll options, media descriptions. */
function searchableText(status: StatusRow, extras: string[] | undefined): string {
  const plain = status.local && status.text !== null ? status.text : htmlToText(status.content);
  return [status.spoilerText, plain, ...(extras ?? [])].join("\n\n");
}

const STRENGTH: Record<FilterAction, number> = { blur: 1, warn: 2, hide: 3 };

/** The strongest action among results: hide, then warn (the whole status behind a warning), then blur (its media). */
export function strongestAction(results: FilterResult[]): FilterAction | null {
  let best: FilterAction | null = null;
  for (const { filter } of results) {
    const action = filter.action as FilterAction;
    if (best === null || STRENGTH[action] > STRENGTH[best]) best = action;
  }
  return best;
}

/**
 * The filter results of each status, by its id, for the viewer in `context` (null: in any context, for a
 * status asked for by itself). The boosted status is what is matched for a boost. The viewer's own statuses
 * are never filtered (as Mastodon's web app does), nor anything for an anonymous viewer.
 */
export function matchFilters(
  ctx: Context,
  context: FilterContext | null,
  statuses: StatusRow[],
  viewerId: string | null,
  now = Date.now(),
): Map<string, FilterResult[]> {
  const found = new Map<string, FilterResult[]>();
  if (viewerId === null || statuses.length === 0) return found;
  const db = ctx.store.db;
  const active = activeFilters(db, now).filter((f) => context === null || f.contexts.has(context));
  if (active.length === 0) return found;

  const boostedIds = statuses.map((s) => s.reblogOfId).filter((id): id is string => id !== null);
  const boosted = new Map(statusesByIds(db, boostedIds).map((s) => [s.id, s]));
  const proper = (s: StatusRow) => (s.reblogOfId ? (boosted.get(s.reblogOfId) ?? null) : s);
  const candidates = statuses.filter((s) => {
    const p = proper(s);
    return p !== null && p.accountId !== viewerId;
  });
  const extras = active.some((f) => f.keywords !== null)
    ? pollOptionsAndDescriptions(db, [...new Set(candidates.map((s) => (proper(s) as StatusRow).id))])
    : new Map<string, string[]>();

  for (const status of candidates) {
    const target = proper(status) as StatusRow;
    let text: string | null = null;
    const results: FilterResult[] = [];
    for (const rule of active) {
      let keywordMatches: string[] | null = null;
      if (rule.keywords) {
        text ??= searchableText(target, extras.get(target.id));
        const match = rule.keywords.exec(text);
        if (match) keywordMatches = [match[0]];
      }
      const ids = [status.id, status.reblogOfId].filter((id): id is string => id !== null);
      const statusMatches = ids.filter((id) => rule.statusIds.has(id));
      if (keywordMatches === null && statusMatches.length === 0) continue;
      results.push({
        filter: rule.filter,
        keywordMatches,
        statusMatches: statusMatches.length > 0 ? statusMatches : null,
      });
    }
    if (results.length > 0) found.set(status.id, results);
  }
  return found;
}

/** What a surface shows of a list of statuses once the viewer's filters are applied. */
export interface FilteredStatuses {
  /** The statuses no `hide` filter matched, in their order. */
  visible: StatusRow[];
  /** The ids of those a `hide` filter removed. */
  hidden: Set<string>;
  /** The results to render as `filtered`, by status id (a boost's also under the boosted id), hidden ones too. */
  filteredById: Map<string, FilterResult[]>;
}

/**
 * The one function surfaces call: the viewer's filters applied to statuses shown in `context`. A `hide`
 * match drops the status; the other matches travel to the renderer. With a null context (a status asked for
 * by itself) nothing is dropped and every context's results are given, as Mastodon does.
 */
export function applyFilters(
  ctx: Context,
  context: FilterContext | null,
  statuses: StatusRow[],
  viewerId: string | null,
  now = Date.now(),
): FilteredStatuses {
  const matches = matchFilters(ctx, context, statuses, viewerId, now);
  const filteredById = new Map<string, FilterResult[]>();
  const hidden = new Set<string>();
  if (matches.size === 0) return { visible: statuses, hidden, filteredById };
  const visible: StatusRow[] = [];
  for (const status of statuses) {
    const results = matches.get(status.id);
    if (results) {
      filteredById.set(status.id, results);
      if (status.reblogOfId) filteredById.set(status.reblogOfId, results);
    }
    if (results && context !== null && strongestAction(results) === "hide") hidden.add(status.id);
    else visible.push(status);
  }
  return { visible, hidden, filteredById };
}

// ---- Changing filters ----

export interface KeywordInput {
  keyword: string;
  wholeWord: boolean;
}

export interface FilterInput {
  title: string;
  context: string[];
  action: string;
  /** Seconds from now; null for no expiry. */
  expiresIn: number | null;
  keywords: KeywordInput[];
}

/** A change to a filter: only what is given changes. `keywords` are Mastodon's keywords_attributes. */
export interface FilterChange {
  title?: string;
  context?: string[];
  action?: string;
  expiresIn?: number | null;
  keywords?: { id?: string; keyword?: string; wholeWord?: boolean; destroy?: boolean }[];
}

function checkTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed === "") throw new UserError("title must not be empty");
  if (trimmed.length > MAX_TITLE_LENGTH)
    throw new UserError(`title must have at most ${MAX_TITLE_LENGTH} characters`);
  return trimmed;
}

function checkContext(context: string[]): string[] {
  const list = [...new Set(context.map((c) => c.trim()).filter((c) => c !== ""))];
  if (list.length === 0)
    throw new UserError(`context must list at least one of ${FILTER_CONTEXTS.join(", ")}`);
  const unknown = list.find((c) => !(FILTER_CONTEXTS as readonly string[]).includes(c));
  if (unknown !== undefined)
    throw new UserError(`context ${unknown} is not one of ${FILTER_CONTEXTS.join(", ")}`);
  return list;
}

function checkAction(action: string): FilterAction {
  if (!(FILTER_ACTIONS as readonly string[]).includes(action))
    throw new UserError(`filter_action must be one of ${FILTER_ACTIONS.join(", ")}`);
  return action as FilterAction;
}

function expiresAt(expiresIn: number | null, now: number): number | null {
  if (expiresIn === null) return null;
  if (!Number.isInteger(expiresIn) || expiresIn <= 0 || expiresIn > MAX_EXPIRES_IN)
    throw new UserError(`expires_in must be a number of seconds between 1 and ${MAX_EXPIRES_IN}`);
  return now + expiresIn * 1000;
}

function checkKeyword(keyword: string): string {
  if (keyword.trim() === "") throw new UserError("keyword must not be empty");
  if (keyword.length > MAX_KEYWORD_LENGTH)
    throw new UserError(`keyword must have at most ${MAX_KEYWORD_LENGTH} characters`);
  return keyword;
}

function requireFilter(ctx: Context, id: string): FilterRow {
  const filter = findFilter(ctx.store.db, id);
  if (!filter) throw new UserError("Record not found", 404);
  return filter;
}

/** Runs a change to the filters in one transaction; the compiled filters are dropped once it commits. */
function change<T>(ctx: Context, fn: () => T): T {
  requireLocalAccount(ctx);
  return commit(ctx, (uow) => {
    uow.afterCommit(() => invalidateFilters(ctx));
    return fn();
  });
}

function insertKeyword(ctx: Context, filterId: string, input: KeywordInput, now: number): FilterKeywordRow {
  const row = {
    id: newId(now),
    filterId,
    keyword: checkKeyword(input.keyword),
    wholeWord: input.wholeWord,
    createdAt: now,
  };
  ctx.store.db.insert(filterKeywords).values(row).run();
  return row;
}

function touch(ctx: Context, filterId: string, now: number): void {
  ctx.store.db.update(filters).set({ updatedAt: now }).where(eq(filters.id, filterId)).run();
}

export function createFilter(ctx: Context, input: FilterInput, now = Date.now()): FilterRow {
  return change(ctx, () => {
    const row: FilterRow = {
      id: newId(now),
      title: checkTitle(input.title),
      context: checkContext(input.context),
      action: checkAction(input.action),
      expiresAt: expiresAt(input.expiresIn, now),
      createdAt: now,
      updatedAt: now,
    };
    ctx.store.db.insert(filters).values(row).run();
    for (const keyword of input.keywords) insertKeyword(ctx, row.id, keyword, now);
    return row;
  });
}

export function updateFilter(ctx: Context, id: string, input: FilterChange, now = Date.now()): FilterRow {
  return change(ctx, () => {
    const existing = requireFilter(ctx, id);
    const db = ctx.store.db;
    const set: Partial<FilterRow> = { updatedAt: now };
    if (input.title !== undefined) set.title = checkTitle(input.title);
    if (input.context !== undefined) set.context = checkContext(input.context);
    if (input.action !== undefined) set.action = checkAction(input.action);
    if (input.expiresIn !== undefined) set.expiresAt = expiresAt(input.expiresIn, now);
    db.update(filters).set(set).where(eq(filters.id, id)).run();
    for (const attributes of input.keywords ?? []) {
      if (attributes.id === undefined) {
        if (attributes.destroy) continue;
        insertKeyword(
          ctx,
          id,
          { keyword: attributes.keyword ?? "", wholeWord: attributes.wholeWord ?? true },
          now,
        );
        continue;
      }
      const keyword = findFilterKeyword(db, attributes.id);
      if (!keyword || keyword.filterId !== id) throw new UserError("Record not found", 404);
      if (attributes.destroy) {
        db.delete(filterKeywords).where(eq(filterKeywords.id, keyword.id)).run();
        continue;
      }
      const keywordSet: Partial<FilterKeywordRow> = {};
      if (attributes.keyword !== undefined) keywordSet.keyword = checkKeyword(attributes.keyword);
      if (attributes.wholeWord !== undefined) keywordSet.wholeWord = attributes.wholeWord;
      if (Object.keys(keywordSet).length > 0)
        db.update(filterKeywords).set(keywordSet).where(eq(filterKeywords.id, keyword.id)).run();
    }
    return { ...existing, ...set };
  });
}

export function deleteFilter(ctx: Context, id: string): void {
  change(ctx, () => {
    requireFilter(ctx, id);
    ctx.store.db.delete(filters).where(eq(filters.id, id)).run();
  });
}

export function addKeyword(ctx: Context, filterId: string, input: KeywordInput, now = Date.now()) {
  return change(ctx, () => {
    requireFilter(ctx, filterId);
    touch(ctx, filterId, now);
    return insertKeyword(ctx, filterId, input, now);
  });
}

export function updateKeyword(
  ctx: Context,
  id: string,
  input: { keyword?: string; wholeWord?: boolean },
  now = Date.now(),
): FilterKeywordRow {
  return change(ctx, () => {
    const existing = findFilterKeyword(ctx.store.db, id);
    if (!existing) throw new UserError("Record not found", 404);
    const set: Partial<FilterKeywordRow> = {};
    if (input.keyword !== undefined) set.keyword = checkKeyword(input.keyword);
    if (input.wholeWord !== undefined) set.wholeWord = input.wholeWord;
    if (Object.keys(set).length > 0)
      ctx.store.db.update(filterKeywords).set(set).where(eq(filterKeywords.id, id)).run();
    touch(ctx, existing.filterId, now);
    return { ...existing, ...set };
  });
}

export function deleteKeyword(ctx: Context, id: string, now = Date.now()): void {
  change(ctx, () => {
    const existing = findFilterKeyword(ctx.store.db, id);
    if (!existing) throw new UserError("Record not found", 404);
    ctx.store.db.delete(filterKeywords).where(eq(filterKeywords.id, id)).run();
    touch(ctx, existing.filterId, now);
  });
}

/** Adds a status the local account can see to a filter (once: a second time is refused, as on Mastodon). */
export function addFilterStatus(
  ctx: Context,
  filterId: string,
  statusId: string,
  now = Date.now(),
): FilterStatusRow {
  return change(ctx, () => {
    const local = requireLocalAccount(ctx);
    requireFilter(ctx, filterId);
    const db = ctx.store.db;
    const status = findStatusById(db, statusId);
    if (!status || status.deletedAt !== null || !isVisible(db, local.id, status))
      throw new UserError("Record not found", 404);
    const existing = db
      .select()
      .from(filterStatuses)
      .where(and(eq(filterStatuses.filterId, filterId), eq(filterStatuses.statusId, statusId)))
      .get();
    if (existing) throw new UserError("status_id has already been added to this filter");
    const row = { id: newId(now), filterId, statusId, createdAt: now };
    db.insert(filterStatuses).values(row).run();
    touch(ctx, filterId, now);
    return row;
  });
}

export function deleteFilterStatus(ctx: Context, id: string, now = Date.now()): void {
  change(ctx, () => {
    const existing = findFilterStatus(ctx.store.db, id);
    if (!existing) throw new UserError("Record not found", 404);
    ctx.store.db.delete(filterStatuses).where(eq(filterStatuses.id, id)).run();
    touch(ctx, existing.filterId, now);
  });
}

// ---- The v1 API: one filter per keyword ----

export interface V1FilterInput {
  phrase: string;
  context: string[];
  irreversible: boolean;
  wholeWord: boolean;
  expiresIn: number | null;
}

/** A v1 filter is a keyword with its filter: creating one makes both (the filter's title is the phrase). */
export function createV1Filter(ctx: Context, input: V1FilterInput, now = Date.now()): FilterKeywordRow {
  return change(ctx, () => {
    const filter = createFilter(
      ctx,
      {
        title: input.phrase,
        context: input.context,
        action: input.irreversible ? "hide" : "warn",
        expiresIn: input.expiresIn,
        keywords: [],
      },
      now,
    );
    return insertKeyword(ctx, filter.id, { keyword: input.phrase, wholeWord: input.wholeWord }, now);
  });
}

/**
 * Changes a v1 filter: the phrase and whole_word belong to the keyword; context, irreversible and expiry to its
 * filter, which may not change through v1 when it holds other keywords (Mastodon refuses it the same way).
 */
export function updateV1Filter(
  ctx: Context,
  keywordId: string,
  input: Partial<V1FilterInput>,
  now = Date.now(),
): FilterKeywordRow {
  return change(ctx, () => {
    const keyword = findFilterKeyword(ctx.store.db, keywordId);
    if (!keyword) throw new UserError("Record not found", 404);
    const updated = updateKeyword(ctx, keywordId, { keyword: input.phrase, wholeWord: input.wholeWord }, now);
    const filter = requireFilter(ctx, keyword.filterId);
    const filterChange: FilterChange = {};
    const single = keywordsOf(ctx.store.db, filter.id).length === 1;
    // The filter's title is the phrase while the filter has only this keyword.
    if (input.phrase !== undefined && single) filterChange.title = input.phrase;
    if (input.context !== undefined) filterChange.context = input.context;
    if (input.irreversible !== undefined) filterChange.action = input.irreversible ? "hide" : "warn";
    if (input.expiresIn !== undefined) filterChange.expiresIn = input.expiresIn;
    const changes =
      (filterChange.context !== undefined &&
        checkContext(filterChange.context).join() !== filter.context.join()) ||
      (filterChange.action !== undefined && filterChange.action !== filter.action) ||
      filterChange.expiresIn !== undefined;
    if (changes && !single) {
      throw new UserError(
        "context, irreversible and expires_in apply to every keyword of this filter: change them with the v2 API",
      );
    }
    if (changes || filterChange.title !== undefined) updateFilter(ctx, filter.id, filterChange, now);
    return updated;
  });
}

/**
 * Deletes a v1 filter: its keyword, and the filter too when nothing is left in it (Mastodon keeps an empty
 * filter behind, which v1 apps cannot see or remove).
 */
export function deleteV1Filter(ctx: Context, keywordId: string): void {
  change(ctx, () => {
    const keyword = findFilterKeyword(ctx.store.db, keywordId);
    if (!keyword) throw new UserError("Record not found", 404);
    const db = ctx.store.db;
    db.delete(filterKeywords).where(eq(filterKeywords.id, keywordId)).run();
    const left =
      keywordsOf(db, keyword.filterId).length +
      db.select().from(filterStatuses).where(eq(filterStatuses.filterId, keyword.filterId)).all().length;
    if (left === 0) db.delete(filters).where(eq(filters.id, keyword.filterId)).run();
  });
}
