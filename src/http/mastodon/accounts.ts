/**
 * Accounts, relationships and the lists around them (followers, following, follow requests, blocks, mutes),
 * and the local profile (verify_credentials, update_credentials). Remote accounts are those already known:
 * only search with resolve=true looks new ones up.
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { requireLocalAccount } from "../../core/common.js";
import {
  authorizeFollowRequest,
  follow,
  rejectFollowRequest,
  removeFromFollowers,
  unfollow,
} from "../../core/follows.js";
import { block, unblock } from "../../core/interactions.js";
import { MAX_MUTE_SECONDS, mute, pruneExpiredMutes, unmute } from "../../core/mutes.js";
import { type ProfileInput, updateProfile } from "../../core/profile.js";
import { resolveHandle } from "../../federation/resolve.js";
import { type AccountRow, findLocalAccountByUsername, findLocalUser } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import { accounts, blocks, follows, mutes, statuses } from "../../store/schema.js";
import { HttpError } from "../errors.js";
import { type ApiEnv, optionalUser, requireUser } from "./auth.js";
import {
  iso,
  renderAccount,
  renderCredentialAccount,
  renderRelationships,
  renderStatuses,
} from "./entities.js";
import { type Page, readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";

type C = HonoContext<ApiEnv>;

/** A known, not deleted account by id; anything else (a malformed id too) is a 404, as on Mastodon. */
export function findAccount(ctx: Context, id: string): AccountRow {
  const row = isId(id) ? ctx.store.db.select().from(accounts).where(eq(accounts.id, id)).get() : undefined;
  if (!row || row.goneAt !== null) throw new HttpError(404, "Record not found");
  return row;
}

/** The local account a user token acts for. */
function localAccount(ctx: Context): AccountRow {
  return requireLocalAccount(ctx);
}

// ---- Pagination by an id column (Mastodon's max_id / since_id / min_id) ----

export function pageConditions(column: AnySQLiteColumn, page: Page): SQL[] {
  const conditions: SQL[] = [];
  if (page.maxId) conditions.push(lt(column, page.maxId));
  if (page.sinceId) conditions.push(gt(column, page.sinceId));
  if (page.minId) conditions.push(gt(column, page.minId));
  return conditions;
}

/** min_id pages are read oldest first (the items just after min_id), then returned newest first. */
export function pageOrder(column: AnySQLiteColumn, page: Page): SQL {
  return page.minId ? asc(column) : desc(column);
}

export function newestFirst<T>(rows: T[], page: Page): T[] {
  return page.minId ? rows.reverse() : rows;
}

// ---- Visibility ----

/**
 * The statuses the viewer may see: public and unlisted ones; for the local account also its own, followers-only
 * posts of accounts it follows, and anything that mentions it. Anonymous requests see public and unlisted only.
 */
export function statusVisibleTo(localId: string | null): SQL {
  const open = inArray(statuses.visibility, ["public", "unlisted"]);
  if (!localId) return open;
  return or(
    open,
    eq(statuses.accountId, localId),
    and(
      eq(statuses.visibility, "private"),
      sql`EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${localId} AND f.following_id = ${statuses.accountId} AND f.state = 'accepted')`,
    ),
    sql`EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = ${statuses.id} AND m.account_id = ${localId})`,
  ) as SQL;
}

/** LIKE pattern text with its wildcards escaped (use with ESCAPE '\'). */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

// ---- Account search (also used by /api/v2/search) ----

/** "user", "@user", "user@host", "@user@host" → username and (lower-case) host, or null when not a handle. */
export function splitHandle(text: string): { username: string; domain: string | null } | null {
  const match = text
    .trim()
    .replace(/^acct:/i, "")
    .match(/^@?([A-Za-z0-9_.~-]+)(?:@([A-Za-z0-9.-]+(?::\d{1,5})?))?$/);
  if (!match?.[1]) return null;
  return { username: match[1], domain: match[2]?.toLowerCase() ?? null };
}

/** An account we know by its handle; a handle on our own domain is the local account. */
export function findKnownByHandle(ctx: Context, username: string, domain: string | null): AccountRow | null {
  if (domain === null || domain === ctx.urls.domain.toLowerCase())
    return findLocalAccountByUsername(ctx.store.db, username);
  const row = ctx.store.db
    .select()
    .from(accounts)
    .where(
      and(
        eq(accounts.domain, domain),
        sql`lower(${accounts.username}) = lower(${username})`,
        isNull(accounts.goneAt),
      ),
    )
    .get();
  return row ?? null;
}

export interface AccountSearch {
  limit: number;
  offset: number;
  /** Look an unknown user@host handle up by WebFinger. */
  resolve: boolean;
  /** Only accounts the local account follows. */
  following: boolean;
  localId: string | null;
}

/**
 * Accounts whose username starts with, or display name contains, the query; an exact handle match comes first.
 * With `resolve`, a user@host handle we do not know yet is looked up (failures just give no result).
 */
export async function searchAccounts(
  ctx: Context,
  query: string,
  options: AccountSearch,
): Promise<AccountRow[]> {
  const q = query.trim().replace(/^@/, "");
  if (q === "") return [];
  const handle = splitHandle(q);
  let exact: AccountRow | null = null;
  if (handle?.domain && options.offset === 0) {
    exact = findKnownByHandle(ctx, handle.username, handle.domain);
    if (!exact && options.resolve) {
      try {
        exact = await resolveHandle(ctx, `${handle.username}@${handle.domain}`);
      } catch (error) {
        ctx.log.debug({ err: error, handle: q }, "account search: handle not resolved");
      }
    }
  }
  const term = (handle?.domain ? handle.username : q).toLowerCase();
  const conditions: SQL[] = [
    isNull(accounts.goneAt),
    or(
      sql`lower(${accounts.username}) LIKE ${`${likeEscape(term)}%`} ESCAPE '\\'`,
      sql`lower(${accounts.displayName}) LIKE ${`%${likeEscape(term)}%`} ESCAPE '\\'`,
    ) as SQL,
  ];
  if (handle?.domain) {
    conditions.push(
      handle.domain === ctx.urls.domain.toLowerCase()
        ? isNull(accounts.domain)
        : sql`${accounts.domain} LIKE ${`${likeEscape(handle.domain)}%`} ESCAPE '\\'`,
    );
  }
  if (options.following) {
    if (!options.localId) return [];
    conditions.push(
      sql`EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${options.localId} AND f.following_id = ${accounts.id} AND f.state = 'accepted')`,
    );
  }
  const rows = ctx.store.db
    .select()
    .from(accounts)
    .where(and(...conditions))
    .orderBy(
      sql`CASE WHEN lower(${accounts.username}) = ${term} THEN 0 ELSE 1 END`,
      sql`CASE WHEN ${accounts.domain} IS NULL THEN 0 ELSE 1 END`,
      asc(accounts.username),
      asc(accounts.id),
    )
    .limit(options.limit)
    .offset(options.offset)
    .all();
  if (exact && (!options.following || rows.some((r) => r.id === exact?.id))) {
    return [exact, ...rows.filter((r) => r.id !== exact?.id)].slice(0, options.limit);
  }
  return rows;
}

// ---- update_credentials input ----

function text(value: unknown, key: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (value === undefined || value === null) return "";
  throw new HttpError(422, `${key} must be a string`);
}

/**
 * fields_attributes as apps send it: form keys `fields_attributes[0][name]`, a JSON array of {name, value}, or
 * a JSON object keyed by index. Returns undefined when the request does not touch the fields.
 */
function readFields(params: Params): { name: string; value: string }[] | undefined {
  const byIndex = new Map<number, { name?: unknown; value?: unknown }>();
  const put = (index: number, entry: unknown) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry) || entry instanceof File) {
      throw new HttpError(422, "fields_attributes entries must have a name and a value");
    }
    byIndex.set(index, entry as { name?: unknown; value?: unknown });
  };
  const raw = params.fields_attributes;
  let touched = false;
  if (raw !== undefined && raw !== null && raw !== "") {
    touched = true;
    if (Array.isArray(raw)) {
      if (raw.length > 100) throw new HttpError(422, "too many fields_attributes");
      for (const [i, entry] of raw.entries()) put(i, entry);
    } else if (typeof raw === "object" && !(raw instanceof File)) {
      for (const [key, entry] of Object.entries(raw)) {
        if (!/^\d{1,3}$/.test(key)) throw new HttpError(422, "fields_attributes must be indexed by number");
        put(Number(key), entry);
      }
    } else throw new HttpError(422, "fields_attributes must be a list of {name, value}");
  }
  for (const [key, value] of Object.entries(params)) {
    const match = key.match(/^fields_attributes\[(\d{1,3})\]\[(name|value)\]$/);
    if (!match) continue;
    touched = true;
    const index = Number(match[1]);
    const entry = byIndex.get(index) ?? {};
    entry[match[2] as "name" | "value"] = value;
    byIndex.set(index, entry);
  }
  if (!touched) return undefined;
  if (byIndex.size > 100) throw new HttpError(422, "too many fields_attributes");
  return [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, f]) => ({ name: text(f.name, "field name"), value: text(f.value, "field value") }));
}

function readImage(params: Params, key: "avatar" | "header"): File | undefined {
  const value = params[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (value instanceof File) return value.size > 0 ? value : undefined;
  throw new HttpError(422, `${key} must be an image file sent as multipart/form-data`);
}

function readProfileInput(params: Params): ProfileInput {
  const input: ProfileInput = {
    displayName: read.string(params, "display_name"),
    note: read.string(params, "note"),
    fields: readFields(params),
    locked: read.boolean(params, "locked"),
    bot: read.boolean(params, "bot"),
    discoverable: read.boolean(params, "discoverable"),
    indexable: read.boolean(params, "indexable"),
    avatar: readImage(params, "avatar"),
    header: readImage(params, "header"),
  };
  const source = params.source;
  if (source !== undefined && source !== null && source !== "") {
    if (typeof source !== "object" || Array.isArray(source) || source instanceof File) {
      throw new HttpError(422, "source must be an object");
    }
    const s = source as Params;
    const language = read.string(s, "language");
    input.source = {
      privacy: read.string(s, "privacy"),
      sensitive: read.boolean(s, "sensitive"),
      language: language === undefined ? undefined : language === "" ? null : language,
    };
  }
  return input;
}

function preferencesOf(ctx: Context): Record<string, unknown> {
  return findLocalUser(ctx.store.db)?.user.preferences ?? {};
}

// ---- Routes ----

export function accountRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const relationship = (target: AccountRow) => renderRelationships(ctx, localAccount(ctx).id, [target])[0];
  const renderList = (rows: AccountRow[]) => rows.map((row) => renderAccount(ctx, row));

  /** Accounts joined through an id column (follows, blocks, mutes), paginated by that column's id. */
  const accountPage = (
    c: C,
    table: SQLiteTable,
    column: AnySQLiteColumn,
    join: SQL,
    where: SQL[],
    page: Page,
  ) => {
    const rows = newestFirst(
      db
        .select({ pageId: column, account: accounts })
        .from(accounts)
        .innerJoin(table, join)
        .where(and(isNull(accounts.goneAt), ...where, ...pageConditions(column, page)))
        .orderBy(pageOrder(column, page))
        .limit(page.limit)
        .all() as { pageId: string; account: AccountRow }[],
      page,
    );
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.pageId),
      page,
      "when-full",
    );
    return rows;
  };

  // -- The local profile --

  app.get("/api/v1/accounts/verify_credentials", (c) => {
    requireUser(c, "read:accounts", ["profile"]);
    return c.json(renderCredentialAccount(ctx, localAccount(ctx), preferencesOf(ctx)));
  });

  const updateCredentials = async (c: C) => {
    requireUser(c, "write:accounts");
    const input = readProfileInput(await readParams(c));
    const account = await updateProfile(ctx, input);
    return c.json(renderCredentialAccount(ctx, account, preferencesOf(ctx)));
  };
  app.patch("/api/v1/accounts/update_credentials", updateCredentials);
  app.put("/api/v1/accounts/update_credentials", updateCredentials);

  for (const kind of ["avatar", "header"] as const) {
    app.delete(`/api/v1/profile/${kind}`, async (c) => {
      requireUser(c, "write:accounts");
      const account = await updateProfile(ctx, { [kind]: null });
      return c.json(renderCredentialAccount(ctx, account, preferencesOf(ctx)));
    });
  }

  // -- Several accounts at once --

  const idsOf = async (c: C): Promise<string[]> => {
    const ids = read.strings(await readParams(c), "id") ?? [];
    return [...new Set(ids)].filter(isId).slice(0, 100);
  };

  app.get("/api/v1/accounts", async (c) => {
    optionalUser(c, "read:accounts");
    const ids = await idsOf(c);
    if (ids.length === 0) return c.json([]);
    const rows = db
      .select()
      .from(accounts)
      .where(and(inArray(accounts.id, ids), isNull(accounts.goneAt)))
      .all();
    const byId = new Map(rows.map((r) => [r.id, r]));
    return c.json(renderList(ids.map((id) => byId.get(id)).filter((r): r is AccountRow => r !== undefined)));
  });

  app.get("/api/v1/accounts/relationships", async (c) => {
    requireUser(c, "read:follows");
    const ids = await idsOf(c);
    if (ids.length === 0) return c.json([]);
    const rows = db.select().from(accounts).where(inArray(accounts.id, ids)).all();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const targets = ids.map((id) => byId.get(id)).filter((r): r is AccountRow => r !== undefined);
    return c.json(renderRelationships(ctx, localAccount(ctx).id, targets));
  });

  app.get("/api/v1/accounts/familiar_followers", async (c) => {
    requireUser(c, "read:follows");
    // Only the local account can follow anyone here, so there are never followers in common.
    return c.json((await idsOf(c)).map((id) => ({ id, accounts: [] })));
  });

  app.get("/api/v1/accounts/lookup", (c) => {
    optionalUser(c, "read:accounts");
    const acct = c.req.query("acct");
    if (!acct) throw new HttpError(422, "acct is required");
    const handle = splitHandle(acct);
    const account = handle ? findKnownByHandle(ctx, handle.username, handle.domain) : null;
    if (!account) throw new HttpError(404, "Record not found");
    return c.json(renderAccount(ctx, account));
  });

  app.get("/api/v1/accounts/search", async (c) => {
    requireUser(c, "read:accounts");
    const params = await readParams(c);
    const q = read.string(params, "q");
    if (q === undefined || q.trim() === "") throw new HttpError(400, "q is required");
    const rows = await searchAccounts(ctx, q, {
      limit: read.integer(params, "limit", 1, 80) ?? 40,
      offset: read.integer(params, "offset", 0, 10_000) ?? 0,
      resolve: read.boolean(params, "resolve") ?? false,
      following: read.boolean(params, "following") ?? false,
      localId: localAccount(ctx).id,
    });
    return c.json(renderList(rows));
  });

  // -- One account --

  app.get("/api/v1/accounts/:id{[0-9]+}", (c) => {
    optionalUser(c, "read:accounts");
    return c.json(renderAccount(ctx, findAccount(ctx, c.req.param("id"))));
  });

  app.get("/api/v1/accounts/:id{[0-9]+}/statuses", async (c) => {
    const viewer = optionalUser(c, "read:statuses");
    const account = findAccount(ctx, c.req.param("id"));
    const params = await readParams(c);
    const pinned = read.boolean(params, "pinned") ?? false;
    const excludeReplies = read.boolean(params, "exclude_replies") ?? false;
    const excludeReblogs = read.boolean(params, "exclude_reblogs") ?? false;
    const onlyMedia = read.boolean(params, "only_media") ?? false;
    const tagged = read.string(params, "tagged")?.replace(/^#/, "").toLowerCase();
    const page = readPage(c, 20, 40);
    const localId = viewer ? localAccount(ctx).id : null;

    const conditions: SQL[] = [
      eq(statuses.accountId, account.id),
      isNull(statuses.deletedAt),
      statusVisibleTo(localId),
    ];
    if (excludeReplies) {
      conditions.push(or(isNull(statuses.inReplyToUri), eq(statuses.inReplyToAccountId, account.id)) as SQL);
    }
    if (excludeReblogs || onlyMedia || tagged || pinned) conditions.push(isNull(statuses.reblogOfId));
    if (onlyMedia)
      conditions.push(sql`EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = ${statuses.id})`);
    if (tagged) {
      conditions.push(
        sql`EXISTS (SELECT 1 FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = ${statuses.id} AND t.name = ${tagged})`,
      );
    }
    if (pinned) {
      // Pins are few and shown whole, newest pin first; they are not paginated.
      if (page.maxId || page.minId || page.sinceId) return c.json([]);
      const rows = db
        .select()
        .from(statuses)
        .where(and(...conditions, isNotNull(statuses.pinnedAt)))
        .orderBy(desc(statuses.pinnedAt))
        .limit(page.limit)
        .all();
      return c.json(renderStatuses(ctx, rows, localId));
    }
    const rows = newestFirst(
      db
        .select()
        .from(statuses)
        .where(and(...conditions, ...pageConditions(statuses.id, page)))
        .orderBy(pageOrder(statuses.id, page))
        .limit(page.limit)
        .all(),
      page,
    );
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.id),
      page,
      "when-full",
    );
    return c.json(renderStatuses(ctx, rows, localId));
  });

  // Followers are the accounts following this one, following the accounts it follows: the same accepted
  // follows, joined and filtered on opposite sides.
  for (const [path, listed, target] of [
    ["followers", follows.followerId, follows.followingId],
    ["following", follows.followingId, follows.followerId],
  ] as const) {
    app.get(`/api/v1/accounts/:id{[0-9]+}/${path}`, (c) => {
      optionalUser(c, "read:accounts");
      const account = findAccount(ctx, c.req.param("id"));
      const page = readPage(c, 40, 80);
      const rows = accountPage(
        c,
        follows,
        follows.id,
        eq(listed, accounts.id),
        [eq(target, account.id), eq(follows.state, "accepted")],
        page,
      );
      return c.json(renderList(rows.map((r) => r.account)));
    });
  }

  // Wren has no featured tags, lists or identity proofs: honest empty lists (INTEROP.md: never 404 there).
  app.get("/api/v1/accounts/:id{[0-9]+}/featured_tags", (c) => {
    optionalUser(c, "read:accounts");
    findAccount(ctx, c.req.param("id"));
    return c.json([]);
  });
  app.get("/api/v1/accounts/:id{[0-9]+}/lists", (c) => {
    requireUser(c, "read:lists");
    findAccount(ctx, c.req.param("id"));
    return c.json([]);
  });
  app.get("/api/v1/accounts/:id{[0-9]+}/identity_proofs", (c) => {
    optionalUser(c, "read:accounts");
    findAccount(ctx, c.req.param("id"));
    return c.json([]);
  });

  // -- Acting on an account --

  app.post("/api/v1/accounts/:id{[0-9]+}/follow", async (c) => {
    requireUser(c, "write:follows");
    const target = findAccount(ctx, c.req.param("id"));
    const params = await readParams(c);
    follow(ctx, target, { reblogs: read.boolean(params, "reblogs"), notify: read.boolean(params, "notify") });
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/unfollow", (c) => {
    requireUser(c, "write:follows");
    const target = findAccount(ctx, c.req.param("id"));
    unfollow(ctx, target);
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/remove_from_followers", (c) => {
    requireUser(c, "write:follows");
    const target = findAccount(ctx, c.req.param("id"));
    removeFromFollowers(ctx, target);
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/block", (c) => {
    requireUser(c, "write:blocks");
    const target = findAccount(ctx, c.req.param("id"));
    block(ctx, target);
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/unblock", (c) => {
    requireUser(c, "write:blocks");
    const target = findAccount(ctx, c.req.param("id"));
    unblock(ctx, target);
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/mute", async (c) => {
    requireUser(c, "write:mutes");
    const target = findAccount(ctx, c.req.param("id"));
    const params = await readParams(c);
    mute(ctx, target, {
      notifications: read.boolean(params, "notifications"),
      durationSeconds: read.integer(params, "duration", 0, MAX_MUTE_SECONDS),
    });
    return c.json(relationship(target));
  });

  app.post("/api/v1/accounts/:id{[0-9]+}/unmute", (c) => {
    requireUser(c, "write:mutes");
    const target = findAccount(ctx, c.req.param("id"));
    unmute(ctx, target);
    return c.json(relationship(target));
  });

  // -- Follow requests, blocks, mutes --

  app.get("/api/v1/follow_requests", (c) => {
    requireUser(c, "read:follows");
    const page = readPage(c, 40, 80);
    const rows = accountPage(
      c,
      follows,
      follows.id,
      eq(follows.followerId, accounts.id),
      [eq(follows.followingId, localAccount(ctx).id), eq(follows.state, "pending")],
      page,
    );
    return c.json(renderList(rows.map((r) => r.account)));
  });

  app.post("/api/v1/follow_requests/:id{[0-9]+}/authorize", (c) => {
    requireUser(c, "write:follows");
    const follower = findAccount(ctx, c.req.param("id"));
    authorizeFollowRequest(ctx, follower);
    return c.json(relationship(follower));
  });

  app.post("/api/v1/follow_requests/:id{[0-9]+}/reject", (c) => {
    requireUser(c, "write:follows");
    const follower = findAccount(ctx, c.req.param("id"));
    rejectFollowRequest(ctx, follower);
    return c.json(relationship(follower));
  });

  app.get("/api/v1/blocks", (c) => {
    requireUser(c, "read:blocks");
    const page = readPage(c, 40, 80);
    const rows = accountPage(
      c,
      blocks,
      blocks.id,
      eq(blocks.targetId, accounts.id),
      [eq(blocks.accountId, localAccount(ctx).id)],
      page,
    );
    return c.json(renderList(rows.map((r) => r.account)));
  });

  app.get("/api/v1/mutes", (c) => {
    requireUser(c, "read:mutes");
    pruneExpiredMutes(ctx);
    const page = readPage(c, 40, 80);
    const rows = accountPage(
      c,
      mutes,
      mutes.id,
      eq(mutes.targetId, accounts.id),
      [eq(mutes.accountId, localAccount(ctx).id)],
      page,
    );
    const ids = rows.map((r) => r.pageId);
    const expiries = new Map(
      ids.length > 0
        ? db
            .select({ id: mutes.id, expiresAt: mutes.expiresAt })
            .from(mutes)
            .where(inArray(mutes.id, ids))
            .all()
            .map((m) => [m.id, m.expiresAt])
        : [],
    );
    return c.json(
      rows.map((r) => {
        const expiresAt = expiries.get(r.pageId);
        return { ...renderAccount(ctx, r.account), mute_expires_at: expiresAt ? iso(expiresAt) : null };
      }),
    );
  });

  return app;
}
