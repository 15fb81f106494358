import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../context.js";
import { INSTANCE_KEY_OWNER } from "../core/account.js";
import { mayFetch } from "../core/visibility.js";
import { receiveInbox } from "../federation/inbox/receive.js";
import { renderInstanceActor, renderPerson } from "../federation/vocab/actor.js";
import { ACTIVITY_JSON, LD_JSON_AS } from "../federation/vocab/context.js";
import { OBJECT_CONTEXT, renderAnnounce, renderCreate, renderNote } from "../federation/vocab/note.js";
import { type AccountRow, findKeyPairs, findLocalAccountByUsername } from "../store/accounts.js";
import {
  countFollows,
  countOutbox,
  featuredStatuses,
  followUris,
  outboxPage,
  publicReplyUris,
} from "../store/collections.js";
import { isDeletedUsername } from "../store/deleted-actors.js";
import { listFeaturedTags } from "../store/featured-tags.js";
import { isId } from "../store/ids.js";
import { findStatusById, loadStatusViews, type StatusView } from "../store/statuses.js";
import { authorizeFetch, fetchIsAuthorized } from "./authorized-fetch.js";
import { HttpError } from "./errors.js";
import { wantsActivityJson } from "./negotiate.js";
import { renderProfilePage, renderStatusPage } from "./web/pages.js";

const OUTBOX_PAGE = 20;
const FOLLOW_PAGE = 40;

/** Answers with the media type the client asked for: the ld+json profile when it asked for that, else activity+json. */
export function activityJson(
  accept: string | undefined,
  document: unknown,
  options: { private?: boolean } = {},
): Response {
  const type =
    accept?.includes("application/ld+json") && !accept.includes("application/activity+json")
      ? LD_JSON_AS
      : ACTIVITY_JSON;
  return new Response(JSON.stringify(document), {
    status: 200,
    headers: {
      "Content-Type": type,
      Vary: "Accept, Signature",
      "Cache-Control": options.private ? "private, no-store" : "max-age=60, public",
    },
  });
}

function localAccount(ctx: Context, c: HonoContext): AccountRow {
  const username = c.req.param("username") ?? "";
  const account = findLocalAccountByUsername(ctx.store.db, username);
  if (!account && isDeletedUsername(ctx.store.db, username))
    throw new HttpError(410, "the account was deleted");
  if (!account) throw new HttpError(404, "no such account");
  return account;
}

function orderedCollection(id: string, totalItems: number, first?: string) {
  return {
    "@context": OBJECT_CONTEXT,
    id,
    type: "OrderedCollection",
    totalItems,
    ...(first ? { first } : {}),
  };
}

function collectionPage(
  partOf: string,
  id: string,
  items: unknown[],
  next: string | null,
  totalItems?: number,
) {
  return {
    "@context": OBJECT_CONTEXT,
    id,
    type: "OrderedCollectionPage",
    partOf,
    ...(totalItems !== undefined ? { totalItems } : {}),
    orderedItems: items,
    ...(next ? { next } : {}),
  };
}

export function activityPubRoutes(ctx: Context) {
  const app = new Hono();
  const { db } = ctx.store;

  /** The owner's collections: under authorized fetch the answer depends on the signer, so no shared caching. */
  const ownerJson = (c: HonoContext, document: unknown) =>
    activityJson(c.req.header("accept"), document, { private: fetchIsAuthorized(ctx) });

  app.get("/users/:username", (c) => {
    const account = localAccount(ctx, c);
    const accept = c.req.header("accept");
    if (!wantsActivityJson(accept)) return renderProfilePage(ctx, c, account);
    // Served unsigned whatever the fetch mode: servers need our key to verify us (see INTEROP.md).
    return activityJson(accept, renderPerson(ctx, account, findKeyPairs(db, account.id)));
  });

  app.get("/actor", (c) =>
    activityJson(c.req.header("accept"), renderInstanceActor(ctx, findKeyPairs(db, INSTANCE_KEY_OWNER))),
  );

  for (const path of ["/inbox", "/users/:username/inbox", "/actor/inbox"]) {
    app.post(path, (c) => {
      if (c.req.param("username") !== undefined) localAccount(ctx, c);
      return receiveInbox(ctx, c);
    });
  }

  app.get("/users/:username/outbox", async (c) => {
    const account = localAccount(ctx, c);
    await authorizeFetch(ctx, c, account);
    const id = ctx.urls.outbox(account.username);
    const total = countOutbox(db, account.id);
    if (c.req.query("page") === undefined)
      return ownerJson(c, orderedCollection(id, total, `${id}?page=true`));
    const raw = c.req.query("max_id");
    const maxId = raw && isId(raw) ? raw : null;
    const rows = outboxPage(db, account.id, { maxId, sinceId: null, minId: null, limit: OUTBOX_PAGE });
    const items = loadStatusViews(db, rows).map((view) =>
      view.reblog ? renderAnnounce(view) : renderCreate(view, ctx.urls),
    );
    const last = rows.at(-1);
    const next = rows.length === OUTBOX_PAGE && last ? `${id}?page=true&max_id=${last.id}` : null;
    return ownerJson(
      c,
      collectionPage(id, `${id}?page=true${maxId ? `&max_id=${maxId}` : ""}`, items.map(stripContext), next),
    );
  });

  const followCollection = (direction: "followers" | "following") => async (c: HonoContext) => {
    const account = localAccount(ctx, c);
    await authorizeFetch(ctx, c, account);
    const id =
      direction === "followers" ? ctx.urls.followers(account.username) : ctx.urls.following(account.username);
    const total = countFollows(db, account.id, direction);
    const pageParam = c.req.query("page");
    if (pageParam === undefined) return ownerJson(c, orderedCollection(id, total, `${id}?page=1`));
    const page = Math.max(1, Math.min(10_000, Number.parseInt(pageParam, 10) || 1));
    const uris = followUris(db, account.id, direction, page, FOLLOW_PAGE);
    const next = page * FOLLOW_PAGE < total ? `${id}?page=${page + 1}` : null;
    return ownerJson(c, collectionPage(id, `${id}?page=${page}`, uris, next, total));
  };
  app.get("/users/:username/followers", followCollection("followers"));
  app.get("/users/:username/following", followCollection("following"));

  app.get("/users/:username/collections/featured", async (c) => {
    const account = localAccount(ctx, c);
    await authorizeFetch(ctx, c, account);
    const items = loadStatusViews(db, featuredStatuses(db, account.id, 20)).map((view) =>
      renderNote(view, ctx.urls),
    );
    return ownerJson(c, {
      ...orderedCollection(ctx.urls.featured(account.username), items.length),
      orderedItems: items,
    });
  });

  // The featured hashtags, as Mastodon serves them: an unordered Collection of Hashtag objects.
  app.get("/users/:username/collections/tags", async (c) => {
    const account = localAccount(ctx, c);
    await authorizeFetch(ctx, c, account);
    const items = listFeaturedTags(db, account.id).map(({ tag }) => ({
      type: "Hashtag",
      href: `${ctx.urls.origin}/tags/${encodeURIComponent(tag.name)}`,
      name: `#${tag.displayName}`,
    }));
    return ownerJson(c, {
      "@context": OBJECT_CONTEXT,
      id: `${ctx.urls.actor(account.username)}/collections/tags`,
      type: "Collection",
      totalItems: items.length,
      items,
    });
  });

  /**
   * A local status, if its fetcher may see it; 401 asks an unsigned client to sign, 404 hides the rest. Web
   * pages (`asPage`) never need a signature for a public status, even under authorized fetch, as in Mastodon.
   */
  async function visibleStatus(
    c: HonoContext,
    asPage = false,
  ): Promise<{ view: StatusView; private: boolean }> {
    const account = localAccount(ctx, c);
    const statusId = c.req.param("id") ?? "";
    const row = isId(statusId) ? findStatusById(db, statusId) : null;
    if (!row || row.accountId !== account.id || row.deletedAt !== null)
      throw new HttpError(404, "no such status");
    const fetcher = await authorizeFetch(ctx, c, account, !asPage && fetchIsAuthorized(ctx));
    if (!mayFetch(db, row, fetcher)) {
      if (!fetcher)
        throw new HttpError(401, "this status is not public: sign the request as an actor allowed to see it");
      throw new HttpError(404, "no such status");
    }
    const [view] = loadStatusViews(db, [row]);
    if (!view) throw new HttpError(404, "no such status");
    return {
      view,
      private:
        row.visibility === "private" || row.visibility === "direct" || (!asPage && fetchIsAuthorized(ctx)),
    };
  }

  app.get("/users/:username/statuses/:id", async (c) => {
    const accept = c.req.header("accept");
    const asPage = !wantsActivityJson(accept);
    const { view, private: isPrivate } = await visibleStatus(c, asPage);
    if (asPage) return renderStatusPage(ctx, c, view);
    const document = view.reblog
      ? renderAnnounce(view)
      : { "@context": OBJECT_CONTEXT, ...renderNote(view, ctx.urls) };
    return activityJson(accept, document, { private: isPrivate });
  });

  app.get("/users/:username/statuses/:id/activity", async (c) => {
    const { view, private: isPrivate } = await visibleStatus(c);
    return activityJson(
      c.req.header("accept"),
      view.reblog ? renderAnnounce(view) : renderCreate(view, ctx.urls),
      { private: isPrivate },
    );
  });

  app.get("/users/:username/statuses/:id/replies", async (c) => {
    const { view } = await visibleStatus(c);
    const uris = publicReplyUris(db, view.status.id, 100);
    const id = `${view.status.uri}/replies`;
    return ownerJson(c, {
      "@context": OBJECT_CONTEXT,
      id,
      type: "Collection",
      totalItems: uris.length,
      items: uris,
    });
  });

  return app;
}

function stripContext<T extends { "@context"?: unknown }>(activity: T): Omit<T, "@context"> {
  const { "@context": _context, ...rest } = activity;
  return rest;
}
