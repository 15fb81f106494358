/** Quotes of a status (Mastodon 4.5): the accepted ones, and the owner's revocation of its consent. */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { revokeQuote } from "../../core/quotes.js";
import { filterNotHidden, filterVisible } from "../../core/visibility.js";
import { isId } from "../../store/ids.js";
import { acceptedQuotesOf } from "../../store/quotes.js";
import { notFound } from "../errors.js";
import { type ApiEnv, requireViewer } from "./auth.js";
import { renderStatus, renderStatuses } from "./entities.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { visibleStatus } from "./statuses.js";

export function quoteRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const db = ctx.store.db;

  app.get("/api/v1/statuses/:id/quotes", (c) => {
    const { viewerId } = requireViewer(ctx, c, "read:statuses");
    const status = visibleStatus(ctx, c.req.param("id"), viewerId);
    const page = readPage(c, 20, 40);
    const items = acceptedQuotesOf(db, status.id, page);
    // Paginated by the quote's id, as Mastodon does; the page is cut before what the viewer may not see.
    setLinkHeader(
      ctx,
      c,
      items.map((i) => i.pageId),
      page,
      "when-full",
    );
    const shown = filterNotHidden(
      db,
      viewerId,
      filterVisible(
        db,
        viewerId,
        items.map((i) => i.row),
      ),
    );
    return c.json(renderStatuses(ctx, shown, viewerId));
  });

  app.post("/api/v1/statuses/:id/quotes/:quoting_status_id/revoke", (c) => {
    const { viewerId } = requireViewer(ctx, c, "write:statuses");
    const status = visibleStatus(ctx, c.req.param("id"), viewerId);
    const quotingId = c.req.param("quoting_status_id");
    if (!isId(quotingId)) throw notFound();
    return c.json(renderStatus(ctx, revokeQuote(ctx, status.id, quotingId), viewerId));
  });

  return app;
}
