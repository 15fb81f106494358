/**
 * Lists (/api/v1/lists, their members and timelines, and the lists an account is on), as Mastodon serves
 * them. The rules live in core/lists.ts (members) and core/feeds.ts (what reaches a list's feed).
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { applyFilters } from "../../core/filters.js";
import {
  addListAccounts,
  createList,
  deleteList,
  type ListInput,
  removeListAccounts,
  requireList,
  updateList,
} from "../../core/lists.js";
import { findAccountById } from "../../store/account-lists.js";
import { isId } from "../../store/ids.js";
import { allLists, type ListRow, listMembers, listsContaining, listTimeline } from "../../store/lists.js";
import { notFound } from "../errors.js";
import { type ApiEnv, requireUser, requireViewer } from "./auth.js";
import { renderAccount, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { type Params, read, readParams } from "./params.js";

const TIMELINE_LIMIT = 20;
const TIMELINE_MAX = 40;
const ACCOUNTS_LIMIT = 40;
const ACCOUNTS_MAX = 80;

export function renderList(list: ListRow) {
  return { id: list.id, title: list.title, replies_policy: list.repliesPolicy, exclusive: list.exclusive };
}

function listInput(params: Params): ListInput {
  return {
    title: read.string(params, "title"),
    repliesPolicy: read.string(params, "replies_policy"),
    exclusive: read.boolean(params, "exclusive"),
  };
}

/** `account_ids[]` (form), `account_ids` (JSON array, or one id). */
function accountIds(params: Params): string[] {
  return read.strings(params, "account_ids") ?? [];
}

export function listRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const list = (id: string) => {
    if (!isId(id)) throw notFound();
    return requireList(ctx, id);
  };

  app.get("/api/v1/lists", (c) => {
    requireUser(c, "read:lists");
    return c.json(allLists(db).map(renderList));
  });

  app.post("/api/v1/lists", async (c) => {
    requireUser(c, "write:lists");
    return c.json(renderList(createList(ctx, listInput(await readParams(c)))));
  });

  app.get("/api/v1/lists/:id", (c) => {
    requireUser(c, "read:lists");
    return c.json(renderList(list(c.req.param("id"))));
  });

  app.put("/api/v1/lists/:id", async (c) => {
    requireUser(c, "write:lists");
    const { id } = list(c.req.param("id"));
    return c.json(renderList(updateList(ctx, id, listInput(await readParams(c)))));
  });

  app.delete("/api/v1/lists/:id", (c) => {
    requireUser(c, "write:lists");
    deleteList(ctx, list(c.req.param("id")).id);
    return c.json({});
  });

  // Members: paginated by the membership's id; limit=0 asks for all of them, with no Link header (Mastodon).
  app.get("/api/v1/lists/:id/accounts", (c) => {
    requireUser(c, "read:lists");
    const { id } = list(c.req.param("id"));
    if (c.req.query("limit") === "0")
      return c.json(listMembers(db, id, null).map((r) => renderAccount(ctx, r.row)));
    const page = readPage(c, ACCOUNTS_LIMIT, ACCOUNTS_MAX);
    const rows = listMembers(db, id, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.pageId),
      page,
      "when-full",
    );
    return c.json(rows.map((r) => renderAccount(ctx, r.row)));
  });

  app.post("/api/v1/lists/:id/accounts", async (c) => {
    requireUser(c, "write:lists");
    const { id } = list(c.req.param("id"));
    addListAccounts(ctx, id, accountIds(await readParams(c)));
    return c.json({});
  });

  app.delete("/api/v1/lists/:id/accounts", async (c) => {
    requireUser(c, "write:lists");
    const { id } = list(c.req.param("id"));
    removeListAccounts(ctx, id, accountIds(await readParams(c)));
    return c.json({});
  });

  app.get("/api/v1/timelines/list/:id", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:lists");
    const { id } = list(c.req.param("id"));
    const page = readPage(c, TIMELINE_LIMIT, TIMELINE_MAX);
    const items = listTimeline(db, id, viewerId, page);
    setLinkHeader(
      ctx,
      c,
      items.map((i) => i.pageId),
      page,
    );
    // Mastodon applies the home context's filters to lists.
    const { visible, filteredById } = applyFilters(
      ctx,
      "home",
      items.map((i) => i.row),
      viewerId,
    );
    return c.json(renderStatuses(ctx, visible, viewerId, filteredById));
  });

  // The lists an account is on (the local account's lists: Wren has one user).
  app.get("/api/v1/accounts/:id{[0-9]+}/lists", (c) => {
    requireUser(c, "read:lists");
    const account = findAccountById(db, c.req.param("id"));
    if (!account || account.goneAt !== null) throw notFound();
    return c.json(listsContaining(db, account.id).map(renderList));
  });

  return app;
}
