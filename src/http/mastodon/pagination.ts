import type { Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { isId } from "../../store/ids.js";
import type { PageBounds } from "../../store/pagination.js";
import { HttpError } from "../errors.js";

/** What readPage gives; the bounds mean what src/store/pagination.ts says. */
export type Page = PageBounds;

function idParam(c: HonoContext, name: string): string | null {
  const value = c.req.query(name);
  if (value === undefined || value === "") return null;
  if (!isId(value)) throw new HttpError(422, `${name} must be an id`);
  return value;
}

/** The page a list request asks for: its id bounds and its size, capped at `maxLimit`. */
export function readPage(c: HonoContext, defaultLimit: number, maxLimit: number): Page {
  const raw = c.req.query("limit");
  let limit = defaultLimit;
  if (raw !== undefined && raw !== "") {
    const n = Number.parseInt(raw, 10);
    if (!Number.isFinite(n)) throw new HttpError(422, "limit must be a number");
    limit = Math.min(Math.max(n, 1), maxLimit);
  }
  return { maxId: idParam(c, "max_id"), sinceId: idParam(c, "since_id"), minId: idParam(c, "min_id"), limit };
}

/**
 * When a list offers its `next` page. Mastodon's timelines and notifications offer it on every page that is not
 * empty; its other lists (accounts: followers, following, blocks, mutes, follow requests, favourited_by,
 * reblogged_by; an account's statuses; favourites; bookmarks) only on a full page (`records_continue?`). Apps
 * rely on the latter: megalodon's getAccountFollowers({get_all}) follows `next` until there is none, and fails
 * on the empty page's missing header when a short page still offers one.
 */
export type NextLink = "unless-empty" | "when-full";

/**
 * Sets the Link header as Mastodon formats it: absolute URLs, `next` (older, max_id) first, then `prev`
 * (newer, min_id), keeping the request's other query parameters. `ids` are the page's pagination ids, newest first.
 */
export function setLinkHeader(
  ctx: Context,
  c: HonoContext,
  ids: string[],
  page: Page,
  next: NextLink = "unless-empty",
): void {
  if (ids.length === 0) return;
  const url = new URL(c.req.url);
  const base = `${ctx.urls.origin}${url.pathname}`;
  const link = (name: string, value: string) => {
    const params = new URLSearchParams(url.search);
    for (const key of ["max_id", "min_id", "since_id"]) params.delete(key);
    params.set("limit", String(page.limit));
    params.set(name, value);
    return `${base}?${params.toString()}`;
  };
  const newest = ids[0] as string;
  const oldest = ids[ids.length - 1] as string;
  const prev = `<${link("min_id", newest)}>; rel="prev"`;
  if (next === "when-full" && ids.length < page.limit) c.header("Link", prev);
  else c.header("Link", `<${link("max_id", oldest)}>; rel="next", ${prev}`);
}
