/**
 * Accounts, relationships and the lists around them (followers, following, follow requests, blocks, mutes),
 * and the local profile (verify_credentials, update_credentials). Remote accounts are those already known:
 * only search with resolve=true looks new ones up.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { requireLocalAccount } from "../../core/common.js";
import { applyFilters } from "../../core/filters.js";
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
import {
  accountsByIds,
  blockedBy,
  findAccountById,
  followersOf,
  followingOf,
  followRequestsOf,
  mutedBy,
} from "../../store/account-lists.js";
import { type AccountRow, findLocalUser } from "../../store/accounts.js";
import { isId } from "../../store/ids.js";
import { accountStatuses, type PagedRow, pinnedStatuses } from "../../store/timelines.js";
import { HttpError, notFound } from "../errors.js";
import { findByHandle, searchAccounts } from "./account-search.js";
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
function findAccount(ctx: Context, id: string): AccountRow {
  const row = isId(id) ? findAccountById(ctx.store.db, id) : null;
  if (!row || row.goneAt !== null) throw notFound();
  return row;
}

/** The local account a user token acts for. */
function localAccount(ctx: Context): AccountRow {
  return requireLocalAccount(ctx);
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

  /** A page of accounts with its Link header (Mastodon offers `next` on these lists only when full). */
  const accountPage = <T extends PagedRow<AccountRow>>(c: C, rows: T[], page: Page): T[] => {
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
    return c.json(renderList(accountsByIds(db, ids)));
  });

  app.get("/api/v1/accounts/relationships", async (c) => {
    requireUser(c, "read:follows");
    const ids = await idsOf(c);
    if (ids.length === 0) return c.json([]);
    const targets = accountsByIds(db, ids, { includeGone: true });
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
    const account = findByHandle(ctx, acct);
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
    const filter = { excludeReplies, excludeReblogs, onlyMedia, tagged: tagged || null };
    if (pinned) {
      // Pins are few and shown whole, newest pin first; they are not paginated.
      if (page.maxId || page.minId || page.sinceId) return c.json([]);
      const pins = pinnedStatuses(db, account.id, localId, filter, page.limit);
      const { visible, filteredById } = applyFilters(ctx, "account", pins, localId);
      return c.json(renderStatuses(ctx, visible, localId, filteredById));
    }
    const items = accountStatuses(db, account.id, localId, filter, page);
    setLinkHeader(
      ctx,
      c,
      items.map((i) => i.pageId),
      page,
      "when-full",
    );
    const { visible, filteredById } = applyFilters(
      ctx,
      "account",
      items.map((i) => i.row),
      localId,
    );
    return c.json(renderStatuses(ctx, visible, localId, filteredById));
  });

  for (const [path, list] of [
    ["followers", followersOf],
    ["following", followingOf],
  ] as const) {
    app.get(`/api/v1/accounts/:id{[0-9]+}/${path}`, (c) => {
      optionalUser(c, "read:accounts");
      const account = findAccount(ctx, c.req.param("id"));
      const page = readPage(c, 40, 80);
      return c.json(renderList(accountPage(c, list(db, account.id, page), page).map((r) => r.row)));
    });
  }

  // Wren has no identity proofs (Mastodon removed them): an honest empty list (INTEROP.md: never 404 there).
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
    const rows = accountPage(c, followRequestsOf(db, localAccount(ctx).id, page), page);
    return c.json(renderList(rows.map((r) => r.row)));
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
    const rows = accountPage(c, blockedBy(db, localAccount(ctx).id, page), page);
    return c.json(renderList(rows.map((r) => r.row)));
  });

  app.get("/api/v1/mutes", (c) => {
    requireUser(c, "read:mutes");
    pruneExpiredMutes(ctx);
    const page = readPage(c, 40, 80);
    const rows = accountPage(c, mutedBy(db, localAccount(ctx).id, page), page);
    return c.json(
      rows.map((r) => ({
        ...renderAccount(ctx, r.row),
        mute_expires_at: r.expiresAt !== null ? iso(r.expiresAt) : null,
      })),
    );
  });

  return app;
}
