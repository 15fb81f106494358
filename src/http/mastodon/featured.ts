/**
 * What the local account features or keeps about others: endorsements (featured accounts), featured hashtags
 * and private notes on accounts. Remote accounts' endorsements and featured tags are not fetched: their lists
 * are empty here.
 */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { setAccountNote } from "../../core/account-notes.js";
import { requireLocalAccount } from "../../core/common.js";
import { endorse, unendorse } from "../../core/endorsements.js";
import { featureTag, unfeatureTag } from "../../core/featured-tags.js";
import { endorsedAccounts } from "../../store/account-extras.js";
import { findAccountById } from "../../store/account-lists.js";
import type { AccountRow } from "../../store/accounts.js";
import { type FeaturedTagView, listFeaturedTags, suggestedTags } from "../../store/featured-tags.js";
import { isId } from "../../store/ids.js";
import type { TagRow } from "../../store/tags.js";
import { HttpError, notFound } from "../errors.js";
import { type ApiEnv, optionalUser, requireUser } from "./auth.js";
import { renderAccount, renderRelationships } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { read, readParams } from "./params.js";

type C = HonoContext<ApiEnv>;

const SUGGESTIONS = 10;

function findAccount(ctx: Context, c: C): AccountRow {
  const id = c.req.param("id") ?? "";
  const row = isId(id) ? findAccountById(ctx.store.db, id) : null;
  if (!row || row.goneAt !== null) throw notFound();
  return row;
}

function tagUrl(ctx: Context, tag: TagRow): string {
  return `${ctx.urls.origin}/tags/${encodeURIComponent(tag.name)}`;
}

/** Mastodon's FeaturedTag: the count as a string and the last post's date without its time. */
function renderFeaturedTag(ctx: Context, local: AccountRow, view: FeaturedTagView) {
  return {
    id: view.id,
    name: view.tag.displayName,
    url: `${ctx.urls.profile(local.username)}/tagged/${encodeURIComponent(view.tag.name)}`,
    statuses_count: String(view.statusesCount),
    last_status_at:
      view.lastStatusAt === null ? null : new Date(view.lastStatusAt).toISOString().slice(0, 10),
  };
}

export function featuredRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;
  const relationship = (target: AccountRow) =>
    renderRelationships(ctx, requireLocalAccount(ctx).id, [target])[0];

  // -- Notes --

  app.post("/api/v1/accounts/:id{[0-9]+}/note", async (c) => {
    requireUser(c, "write:accounts");
    const target = findAccount(ctx, c);
    const comment = read.string(await readParams(c), "comment") ?? "";
    setAccountNote(ctx, target, comment);
    return c.json(relationship(target));
  });

  // -- Endorsements (pin/unpin before Mastodon 4.4, endorse/unendorse since) --

  for (const path of ["pin", "endorse"]) {
    app.post(`/api/v1/accounts/:id{[0-9]+}/${path}`, (c) => {
      requireUser(c, "write:accounts");
      const target = findAccount(ctx, c);
      endorse(ctx, target);
      return c.json(relationship(target));
    });
  }
  for (const path of ["unpin", "unendorse"]) {
    app.post(`/api/v1/accounts/:id{[0-9]+}/${path}`, (c) => {
      requireUser(c, "write:accounts");
      const target = findAccount(ctx, c);
      unendorse(ctx, target);
      return c.json(relationship(target));
    });
  }

  const endorsementPage = (c: C) => {
    const page = readPage(c, 40, 80);
    const rows = endorsedAccounts(db, requireLocalAccount(ctx).id, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.pageId),
      page,
      "when-full",
    );
    return c.json(rows.map((r) => renderAccount(ctx, r.row)));
  };

  app.get("/api/v1/endorsements", (c) => {
    requireUser(c, "read:accounts");
    return endorsementPage(c);
  });

  app.get("/api/v1/accounts/:id{[0-9]+}/endorsements", (c) => {
    optionalUser(c, "read:accounts");
    const account = findAccount(ctx, c);
    if (account.domain !== null) return c.json([]);
    return endorsementPage(c);
  });

  // -- Featured tags --

  const featuredList = () => {
    const local = requireLocalAccount(ctx);
    return listFeaturedTags(db, local.id).map((view) => renderFeaturedTag(ctx, local, view));
  };

  app.get("/api/v1/featured_tags", (c) => {
    requireUser(c, "read:accounts");
    return c.json(featuredList());
  });

  app.post("/api/v1/featured_tags", async (c) => {
    requireUser(c, "write:accounts");
    const name = read.string(await readParams(c), "name");
    if (name === undefined || name.trim() === "") throw new HttpError(422, "name is required");
    const row = featureTag(ctx, name);
    const local = requireLocalAccount(ctx);
    const view = listFeaturedTags(db, local.id).find((v) => v.id === row.id);
    if (!view) throw notFound();
    return c.json(renderFeaturedTag(ctx, local, view));
  });

  app.delete("/api/v1/featured_tags/:id{[0-9]+}", (c) => {
    requireUser(c, "write:accounts");
    unfeatureTag(ctx, c.req.param("id"));
    return c.json({});
  });

  app.get("/api/v1/featured_tags/suggestions", (c) => {
    requireUser(c, "read:accounts");
    const local = requireLocalAccount(ctx);
    return c.json(
      suggestedTags(db, local.id, SUGGESTIONS).map((tag) => ({
        name: tag.displayName,
        url: tagUrl(ctx, tag),
        history: [],
        following: tag.followed,
      })),
    );
  });

  app.get("/api/v1/accounts/:id{[0-9]+}/featured_tags", (c) => {
    optionalUser(c, "read:accounts");
    const account = findAccount(ctx, c);
    if (account.domain !== null) return c.json([]);
    return c.json(featuredList());
  });

  return app;
}
