/**
 * Search: accounts by username and display name, statuses by their text among those the viewer may see,
 * hashtags by prefix. With resolve=true a user@host handle is looked up by WebFinger and an http(s) URL is
 * fetched: an actor is stored as an account, a note as a status.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { requireLocalAccount } from "../../core/common.js";
import { receiveNote } from "../../core/statuses.js";
import { isVisible } from "../../core/visibility.js";
import { FetchError } from "../../federation/fetch.js";
import { fetchObject, ResolveError, resolveActor } from "../../federation/resolve.js";
import { hostOf } from "../../federation/urls.js";
import { asArray, isObject, ParseError, parseNote, toRemoteNote } from "../../federation/vocab/parse.js";
import { ACTOR_TYPES } from "../../federation/vocab/types.js";
import type { AccountRow } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import { findKnownByUrl, searchStatuses } from "../../store/search.js";
import { findStatusByUri, type StatusRow } from "../../store/statuses.js";
import { searchTags, type TagRow } from "../../store/tags.js";
import { HttpError } from "../errors.js";
import { searchAccounts } from "./account-search.js";
import { type ApiEnv, optionalUser } from "./auth.js";
import { renderAccount, renderStatuses } from "./entities.js";
import { read, readParams } from "./params.js";

const TYPES = ["accounts", "statuses", "hashtags"] as const;
type SearchType = (typeof TYPES)[number];

const NOTE_TYPES = new Set(["Note", "Article", "Page", "Question"]);

/** An http(s) URL typed into the search box, or null. */
function searchUrl(q: string): URL | null {
  if (!/^https?:\/\//i.test(q) || /\s/.test(q)) return null;
  try {
    return new URL(q);
  } catch {
    return null;
  }
}

/**
 * Fetches what a URL names from its origin: an actor becomes an account, a note a status (stored like a
 * fetched reply would be). Only one fetch for a note; an actor is fetched again from its own id by resolveActor.
 * Anything that fails (unreachable, not ActivityPub, refused by the checks) gives nothing, as on Mastodon.
 */
export async function resolveUrl(
  ctx: Context,
  url: string,
): Promise<{ account?: AccountRow; status?: StatusRow }> {
  try {
    const doc = await fetchObject(ctx, url);
    if (!isObject(doc)) return {};
    const types = asArray(doc.type).filter((t): t is string => typeof t === "string");
    if (types.some((t) => (ACTOR_TYPES as readonly string[]).includes(t)) && typeof doc.id === "string") {
      return { account: await resolveActor(ctx, doc.id) };
    }
    if (!types.some((t) => NOTE_TYPES.has(t))) return {};
    const note = parseNote(doc);
    const known = findStatusByUri(ctx.store.db, note.uri);
    if (known) return known.deletedAt === null ? { status: known } : {};
    // The note must come from its author's server: nobody may publish a post in someone else's name.
    if (hostOf(note.uri) !== hostOf(note.attributedTo)) return {};
    const author = await resolveActor(ctx, note.attributedTo);
    if (hostOf(author.uri) !== hostOf(note.uri)) return {};
    receiveNote(ctx, author, toRemoteNote(note, author));
    const stored = findStatusByUri(ctx.store.db, note.uri);
    return stored ? { status: stored } : {};
  } catch (error) {
    if (
      error instanceof ResolveError ||
      error instanceof ParseError ||
      error instanceof FetchError ||
      error instanceof UserError
    ) {
      ctx.log.debug({ err: error, url }, "search: URL not resolved");
      return {};
    }
    throw error;
  }
}

function renderTag(ctx: Context, tag: TagRow) {
  return {
    name: tag.displayName,
    url: `${ctx.urls.origin}/tags/${encodeURIComponent(tag.name)}`,
    history: [],
    following: tag.followed,
  };
}

async function search(ctx: Context, c: HonoContext<ApiEnv>) {
  const viewer = optionalUser(c, "read:search");
  const params = await readParams(c);
  const q = read.string(params, "q")?.trim();
  if (q === undefined || q === "") throw new HttpError(400, "q is required");
  const type = read.string(params, "type") || undefined;
  if (type !== undefined && !(TYPES as readonly string[]).includes(type)) {
    throw new HttpError(422, `type must be one of ${TYPES.join(", ")}`);
  }
  const resolve = read.boolean(params, "resolve") ?? false;
  const limit = read.integer(params, "limit", 1, 40) ?? 20;
  const offset = read.integer(params, "offset", 0, 10_000) ?? 0;
  const following = read.boolean(params, "following") ?? false;
  const accountId = read.string(params, "account_id") || undefined;
  if (accountId !== undefined && !isId(accountId)) throw new HttpError(422, "account_id must be an id");
  const maxId = read.string(params, "max_id") || undefined;
  const minId = read.string(params, "min_id") || undefined;
  if ((maxId !== undefined && !isId(maxId)) || (minId !== undefined && !isId(minId))) {
    throw new HttpError(422, "max_id and min_id must be ids");
  }
  // As on Mastodon: looking things up on other servers and paging are for signed-in users.
  if (!viewer && (resolve || offset > 0))
    throw new HttpError(
      401,
      "Search queries that resolve remote resources or use pagination require a signed-in user",
    );
  const localId = viewer ? requireLocalAccount(ctx).id : null;
  const wants = (t: SearchType) => type === undefined || type === t;

  const found: { accounts: AccountRow[]; statuses: StatusRow[]; tags: TagRow[] } = {
    accounts: [],
    statuses: [],
    tags: [],
  };

  // A URL names one thing: what it names is the whole answer.
  const url = searchUrl(q);
  if (url) {
    let hit = findKnownByUrl(ctx.store.db, q);
    if (!hit.account && !hit.status && url.href !== q) hit = findKnownByUrl(ctx.store.db, url.href);
    if (!hit.account && !hit.status && resolve && new URL(ctx.urls.origin).host !== url.host)
      hit = await resolveUrl(ctx, q);
    if (hit.account && wants("accounts") && offset === 0) found.accounts.push(hit.account);
    // Boosts are never search results.
    const status = hit.status?.reblogOfId === null ? hit.status : undefined;
    if (status && wants("statuses") && offset === 0 && isVisible(ctx.store.db, localId, status))
      found.statuses.push(status);
    return render(ctx, c, found, localId);
  }

  if (wants("accounts")) {
    // "#tag" asks for hashtags; anything else may be a name or a handle.
    if (!q.startsWith("#"))
      found.accounts = await searchAccounts(ctx, q, { limit, offset, resolve, following, localId });
  }

  if (wants("statuses") && localId) {
    found.statuses = searchStatuses(ctx.store.db, localId, {
      text: q.replace(/^#/, ""),
      accountId: accountId ?? null,
      page: { maxId: maxId ?? null, minId: minId ?? null, sinceId: null, limit },
      offset,
    });
  }

  if (wants("hashtags")) {
    const name = q.replace(/^#/, "").toLowerCase();
    if (/^[\p{L}\p{N}_]+$/u.test(name)) {
      found.tags = searchTags(ctx.store.db, name, limit, offset);
    }
  }
  return render(ctx, c, found, localId);
}

function render(
  ctx: Context,
  c: HonoContext<ApiEnv>,
  found: { accounts: AccountRow[]; statuses: StatusRow[]; tags: TagRow[] },
  localId: string | null,
) {
  return c.json({
    accounts: found.accounts.map((a) => renderAccount(ctx, a)),
    statuses: renderStatuses(ctx, found.statuses, localId),
    hashtags: found.tags.map((t) => renderTag(ctx, t)),
  });
}

export function searchRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  app.get("/api/v2/search", (c) => search(ctx, c));
  // Mastodon 4 removed v1 search (it answered hashtags as plain strings). Old clients that still call it get
  // the v2 answer rather than a 404: every app that calls it today reads the v2 shape, and none breaks on it.
  app.get("/api/v1/search", (c) => search(ctx, c));
  return app;
}
