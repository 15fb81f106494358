/**
 * Timelines (home, public, hashtag; lists are in lists.ts), favourites and bookmarks, and hashtags
 * (/api/v1/tags; the followed_tags list is served by instance.ts). Lists are keyset pages with a Link header;
 * see src/store/timelines.ts.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { followTag, unfollowTag } from "../../core/feeds.js";
import { applyFilters, type FilterContext } from "../../core/filters.js";
import { findLocalUser } from "../../store/accounts.js";
import type { StatusRow } from "../../store/statuses.js";
import { findTagByName, findTagsByNames, type TagRow } from "../../store/tags.js";
import {
  bookmarkedStatuses,
  favouritedStatuses,
  homeTimeline,
  type PagedRow,
  publicTimeline,
  tagTimeline,
} from "../../store/timelines.js";
import { notFound } from "../errors.js";
import { type ApiEnv, optionalViewer, requireViewer } from "./auth.js";
import { renderStatuses } from "./entities.js";
import { type NextLink, type Page, readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";

const TIMELINE_LIMIT = 20;
const TIMELINE_MAX = 40;
const MAX_TAGS_PER_FILTER = 10;
const HASHTAG = /^[\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*$/u;

/** A hashtag name from a path or a filter, without '#'; null when it cannot be a hashtag. */
export function hashtagName(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const name = raw.trim().replace(/^#/, "");
  return name.length > 0 && name.length <= 100 && HASHTAG.test(name) ? name : null;
}

function tagNames(params: Params, key: string): string[] {
  return (read.strings(params, key) ?? [])
    .map((n) => hashtagName(n))
    .filter((n): n is string => n !== null)
    .slice(0, MAX_TAGS_PER_FILTER);
}

function localFilter(params: Params): boolean | null {
  if (read.boolean(params, "local") === true) return true;
  if (read.boolean(params, "remote") === true) return false;
  return null;
}

export function renderTag(ctx: Context, tag: TagRow | null, name: string) {
  const lower = tag?.name ?? name.toLowerCase();
  return {
    id: tag?.id ?? null,
    name: tag?.displayName ?? name,
    url: `${ctx.urls.origin}/tags/${encodeURIComponent(lower)}`,
    history: [],
    following: tag?.followed ?? false,
    featuring: false,
  };
}

export function timelineRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const localAccountId = () => findLocalUser(db)?.account.id ?? null;

  /**
   * Renders a page of statuses and sets its Link header from the pagination ids (of the whole page: statuses
   * a `hide` filter of `filterContext` removes still move the page on).
   */
  const respond = (
    c: HonoContext<ApiEnv>,
    items: PagedRow<StatusRow>[],
    page: Page,
    viewerId: string | null,
    filterContext: FilterContext | null,
    next: NextLink = "unless-empty",
  ) => {
    setLinkHeader(
      ctx,
      c,
      items.map((i) => i.pageId),
      page,
      next,
    );
    const { visible, filteredById } = applyFilters(
      ctx,
      filterContext,
      items.map((i) => i.row),
      viewerId,
    );
    return c.json(renderStatuses(ctx, visible, viewerId, filteredById));
  };

  app.get("/api/v1/timelines/home", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:statuses");
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    return respond(c, homeTimeline(db, viewerId, page), page, viewerId, "home");
  });

  app.get("/api/v1/timelines/public", async (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const params = await readParams(c);
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    const filter = {
      local: localFilter(params),
      onlyMedia: read.boolean(params, "only_media") ?? false,
      viewerId,
      localAccountId: localAccountId(),
    };
    return respond(c, publicTimeline(db, filter, page), page, viewerId, "public");
  });

  app.get("/api/v1/timelines/tag/:hashtag", async (c) => {
    const viewerId = optionalViewer(ctx, c, "read:statuses");
    const params = await readParams(c);
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    const name = hashtagName(c.req.param("hashtag"));
    if (!name) return c.json([]);
    const any = findTagsByNames(db, [name, ...tagNames(params, "any")]);
    const allNames = tagNames(params, "all");
    const all = findTagsByNames(db, allNames);
    // A required tag nobody used yet: nothing can match.
    if (any.length === 0 || all.length < new Set(allNames.map((n) => n.toLowerCase())).size)
      return c.json([]);
    const none = findTagsByNames(db, tagNames(params, "none"));
    const filter = {
      local: localFilter(params),
      onlyMedia: read.boolean(params, "only_media") ?? false,
      viewerId,
      localAccountId: localAccountId(),
      any: any.map((t) => t.id),
      all: all.map((t) => t.id),
      none: none.map((t) => t.id),
    };
    return respond(c, tagTimeline(db, filter, page), page, viewerId, "public");
  });

  app.get("/api/v1/favourites", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:favourites");
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    return respond(c, favouritedStatuses(db, viewerId, page), page, viewerId, null, "when-full");
  });

  app.get("/api/v1/bookmarks", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:bookmarks");
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    return respond(c, bookmarkedStatuses(db, page), page, viewerId, null, "when-full");
  });

  app.get("/api/v1/tags/:name", (c) => {
    optionalViewer(ctx, c, "read:follows");
    const name = hashtagName(c.req.param("name"));
    if (!name) throw notFound();
    return c.json(renderTag(ctx, findTagByName(db, name), name));
  });

  // A followed hashtag brings public and unlisted posts that carry it home (core/feeds.ts).
  app.post("/api/v1/tags/:name/follow", (c) => {
    requireViewer(ctx, c, "write:follows");
    const name = hashtagName(c.req.param("name"));
    if (!name) throw notFound();
    followTag(ctx, name);
    return c.json(renderTag(ctx, findTagByName(db, name), name));
  });

  app.post("/api/v1/tags/:name/unfollow", (c) => {
    requireViewer(ctx, c, "write:follows");
    const name = hashtagName(c.req.param("name"));
    if (!name) throw notFound();
    unfollowTag(ctx, name);
    return c.json(renderTag(ctx, findTagByName(db, name), name));
  });

  return app;
}
