/**
 * Filters, API v2 (/api/v2/filters with its keywords and statuses) and v1 (/api/v1/filters, where one filter
 * is one keyword of a v2 filter, as Mastodon maps it), and the Filter, FilterKeyword, FilterStatus and
 * FilterResult entities. What a filter does to timelines is src/core/filters.ts's.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import {
  addFilterStatus,
  addKeyword,
  createFilter,
  createV1Filter,
  deleteFilter,
  deleteFilterStatus,
  deleteKeyword,
  deleteV1Filter,
  type FilterChange,
  type FilterResult,
  updateFilter,
  updateKeyword,
  updateV1Filter,
} from "../../core/filters.js";
import {
  type FilterKeywordRow,
  type FilterRow,
  type FilterStatusRow,
  type FilterWithRules,
  findFilter,
  findFilterKeyword,
  findFilterStatus,
  findFilterWithRules,
  keywordsOf,
  listFiltersWithRules,
} from "../../store/filters.js";
import { isId } from "../../store/ids.js";
import { HttpError, notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { type Params, read, readParams } from "./params.js";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// ---- Entities ----

function renderFilterOnly(filter: FilterRow) {
  return {
    id: filter.id,
    title: filter.title,
    context: filter.context,
    expires_at: iso(filter.expiresAt),
    filter_action: filter.action,
  };
}

export function renderFilterKeyword(keyword: FilterKeywordRow) {
  return { id: keyword.id, keyword: keyword.keyword, whole_word: keyword.wholeWord };
}

export function renderFilterStatus(row: FilterStatusRow) {
  return { id: row.id, status_id: row.statusId };
}

/** The v2 Filter with its keywords and statuses (a FilterResult's filter has neither, as on Mastodon). */
export function renderFilter({ filter, keywords, statuses }: FilterWithRules) {
  return {
    ...renderFilterOnly(filter),
    keywords: keywords.map(renderFilterKeyword),
    statuses: statuses.map(renderFilterStatus),
  };
}

/** A v1 filter: one keyword with its filter's context, expiry and action (`irreversible` is hide). */
export function renderV1Filter(keyword: FilterKeywordRow, filter: FilterRow) {
  return {
    id: keyword.id,
    phrase: keyword.keyword,
    context: filter.context,
    whole_word: keyword.wholeWord,
    expires_at: iso(filter.expiresAt),
    irreversible: filter.action === "hide",
  };
}

/** The `filtered` of a Status entity. */
export function renderFilterResults(results: FilterResult[]) {
  return results.map((r) => ({
    filter: renderFilterOnly(r.filter),
    keyword_matches: r.keywordMatches,
    status_matches: r.statusMatches,
  }));
}

// ---- Parameters ----

/** Seconds from now; null to clear (absent, empty or null); undefined when not given at all. */
function readExpiresIn(params: Params): number | null | undefined {
  if (!("expires_in" in params)) return undefined;
  const value = params.expires_in;
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n <= 0) throw new HttpError(422, "expires_in must be a number of seconds");
  return n;
}

function readContext(params: Params): string[] | undefined {
  return read.strings(params, "context");
}

type Attributes = Record<string, unknown>;

/**
 * Rails' nested attributes (`keywords_attributes`): a JSON array or an object keyed by index, or form fields
 * `keywords_attributes[][keyword]` (a new entry starts when a field repeats) or `keywords_attributes[0][keyword]`,
 * which the shared parameter reader keeps as flat keys, so the form is read again here.
 */
async function nestedAttributes(
  c: HonoContext,
  params: Params,
  name: string,
): Promise<Attributes[] | undefined> {
  const value = params[name];
  const asList = (items: unknown[]) =>
    items.map((item) => {
      if (typeof item !== "object" || item === null || Array.isArray(item))
        throw new HttpError(422, `${name} must be a list of objects`);
      return item as Attributes;
    });
  if (Array.isArray(value)) return asList(value);
  if (typeof value === "object" && value !== null) return asList(Object.values(value));
  if (value !== undefined && value !== null) throw new HttpError(422, `${name} must be a list of objects`);

  const pattern = new RegExp(`^${name}\\[(\\d*)\\]\\[([a-z_]+)\\]$`);
  if (!Object.keys(params).some((key) => pattern.test(key))) return undefined;
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const entries: [string, unknown][] = [...new URL(c.req.url).searchParams];
  if (type.startsWith("multipart/form-data")) entries.push(...(await c.req.formData()));
  else if (c.req.method !== "GET") entries.push(...new URLSearchParams(await c.req.text()));
  const unnamed: Attributes[] = [];
  const indexed = new Map<string, Attributes>();
  for (const [key, raw] of entries) {
    const match = key.match(pattern);
    if (!match) continue;
    const [, index, field] = match as [string, string, string];
    if (index === "") {
      const last = unnamed[unnamed.length - 1];
      if (!last || field in last) unnamed.push({ [field]: raw });
      else last[field] = raw;
    } else {
      const entry = indexed.get(index) ?? {};
      entry[field] = raw;
      indexed.set(index, entry);
    }
  }
  return [...unnamed, ...indexed.values()];
}

function keywordAttributes(list: Attributes[]): NonNullable<FilterChange["keywords"]> {
  return list.map((attributes) => {
    const id = read.string(attributes, "id");
    if (id !== undefined && id !== "" && !isId(id)) throw notFound();
    return {
      id: id === "" ? undefined : id,
      keyword: read.string(attributes, "keyword"),
      wholeWord: read.boolean(attributes, "whole_word"),
      destroy: read.boolean(attributes, "_destroy") ?? false,
    };
  });
}

function idParam(c: HonoContext, name = "id"): string {
  const id = c.req.param(name);
  if (!id || !isId(id)) throw notFound();
  return id;
}

// ---- Routes ----

export function filterRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const readScope = (c: HonoContext<ApiEnv>) => requireViewer(ctx, c, "read:filters");
  const writeScope = (c: HonoContext<ApiEnv>) => requireViewer(ctx, c, "write:filters");
  const withRules = (id: string) => {
    const found = findFilterWithRules(db, id);
    if (!found) throw notFound();
    return renderFilter(found);
  };

  // -- v2 --

  app.get("/api/v2/filters", (c) => {
    readScope(c);
    return c.json(listFiltersWithRules(db).map(renderFilter));
  });

  app.post("/api/v2/filters", async (c) => {
    writeScope(c);
    const params = await readParams(c);
    const keywords = keywordAttributes((await nestedAttributes(c, params, "keywords_attributes")) ?? []);
    const filter = createFilter(ctx, {
      title: read.string(params, "title") ?? "",
      context: readContext(params) ?? [],
      action: read.string(params, "filter_action") || "warn",
      expiresIn: readExpiresIn(params) ?? null,
      keywords: keywords
        .filter((k) => !k.destroy)
        .map((k) => ({ keyword: k.keyword ?? "", wholeWord: k.wholeWord ?? true })),
    });
    return c.json(withRules(filter.id));
  });

  app.get("/api/v2/filters/:id{[0-9]+}", (c) => {
    readScope(c);
    return c.json(withRules(idParam(c)));
  });

  app.put("/api/v2/filters/:id{[0-9]+}", async (c) => {
    writeScope(c);
    const id = idParam(c);
    const params = await readParams(c);
    const attributes = await nestedAttributes(c, params, "keywords_attributes");
    const action = read.string(params, "filter_action");
    updateFilter(ctx, id, {
      title: read.string(params, "title"),
      context: readContext(params),
      action: action === "" ? undefined : action,
      expiresIn: readExpiresIn(params),
      keywords: attributes ? keywordAttributes(attributes) : undefined,
    });
    return c.json(withRules(id));
  });

  app.delete("/api/v2/filters/:id{[0-9]+}", (c) => {
    writeScope(c);
    deleteFilter(ctx, idParam(c));
    return c.json({});
  });

  app.get("/api/v2/filters/:id{[0-9]+}/keywords", (c) => {
    readScope(c);
    const id = idParam(c);
    if (!findFilter(db, id)) throw notFound();
    return c.json(keywordsOf(db, id).map(renderFilterKeyword));
  });

  app.post("/api/v2/filters/:id{[0-9]+}/keywords", async (c) => {
    writeScope(c);
    const params = await readParams(c);
    const keyword = addKeyword(ctx, idParam(c), {
      keyword: read.string(params, "keyword") ?? "",
      wholeWord: read.boolean(params, "whole_word") ?? true,
    });
    return c.json(renderFilterKeyword(keyword));
  });

  app.get("/api/v2/filters/keywords/:id{[0-9]+}", (c) => {
    readScope(c);
    const keyword = findFilterKeyword(db, idParam(c));
    if (!keyword) throw notFound();
    return c.json(renderFilterKeyword(keyword));
  });

  app.put("/api/v2/filters/keywords/:id{[0-9]+}", async (c) => {
    writeScope(c);
    const params = await readParams(c);
    const keyword = updateKeyword(ctx, idParam(c), {
      keyword: read.string(params, "keyword"),
      wholeWord: read.boolean(params, "whole_word"),
    });
    return c.json(renderFilterKeyword(keyword));
  });

  app.delete("/api/v2/filters/keywords/:id{[0-9]+}", (c) => {
    writeScope(c);
    deleteKeyword(ctx, idParam(c));
    return c.json({});
  });

  app.get("/api/v2/filters/:id{[0-9]+}/statuses", (c) => {
    readScope(c);
    const found = findFilterWithRules(db, idParam(c));
    if (!found) throw notFound();
    return c.json(found.statuses.map(renderFilterStatus));
  });

  app.post("/api/v2/filters/:id{[0-9]+}/statuses", async (c) => {
    writeScope(c);
    const statusId = read.string(await readParams(c), "status_id") ?? "";
    if (statusId === "") throw new HttpError(422, "status_id must be given");
    if (!isId(statusId)) throw notFound();
    return c.json(renderFilterStatus(addFilterStatus(ctx, idParam(c), statusId)));
  });

  app.get("/api/v2/filters/statuses/:id{[0-9]+}", (c) => {
    readScope(c);
    const row = findFilterStatus(db, idParam(c));
    if (!row) throw notFound();
    return c.json(renderFilterStatus(row));
  });

  app.delete("/api/v2/filters/statuses/:id{[0-9]+}", (c) => {
    writeScope(c);
    deleteFilterStatus(ctx, idParam(c));
    return c.json({});
  });

  // -- v1: one filter per keyword --

  const v1Entity = (keywordId: string) => {
    const keyword = findFilterKeyword(db, keywordId);
    const filter = keyword ? findFilter(db, keyword.filterId) : null;
    if (!keyword || !filter) throw notFound();
    return renderV1Filter(keyword, filter);
  };

  app.get("/api/v1/filters", (c) => {
    readScope(c);
    return c.json(
      listFiltersWithRules(db).flatMap(({ filter, keywords }) =>
        keywords.map((k) => renderV1Filter(k, filter)),
      ),
    );
  });

  app.post("/api/v1/filters", async (c) => {
    writeScope(c);
    const params = await readParams(c);
    const keyword = createV1Filter(ctx, {
      phrase: read.string(params, "phrase") ?? "",
      context: readContext(params) ?? [],
      irreversible: read.boolean(params, "irreversible") ?? false,
      wholeWord: read.boolean(params, "whole_word") ?? true,
      expiresIn: readExpiresIn(params) ?? null,
    });
    return c.json(v1Entity(keyword.id));
  });

  app.get("/api/v1/filters/:id{[0-9]+}", (c) => {
    readScope(c);
    return c.json(v1Entity(idParam(c)));
  });

  app.put("/api/v1/filters/:id{[0-9]+}", async (c) => {
    writeScope(c);
    const id = idParam(c);
    const params = await readParams(c);
    updateV1Filter(ctx, id, {
      phrase: read.string(params, "phrase"),
      context: readContext(params),
      irreversible: read.boolean(params, "irreversible"),
      wholeWord: read.boolean(params, "whole_word"),
      expiresIn: readExpiresIn(params),
    });
    return c.json(v1Entity(id));
  });

  app.delete("/api/v1/filters/:id{[0-9]+}", (c) => {
    writeScope(c);
    deleteV1Filter(ctx, idParam(c));
    return c.json({});
  });

  return app;
}
