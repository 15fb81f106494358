/** The QuoteAuthorizations the owner gave (FEP-044f): other servers dereference them to check a quote. */
import { Hono } from "hono";
import type { Context } from "../context.js";
import { renderAuthorization } from "../federation/quotes.js";
import { findLocalAccountByUsername } from "../store/accounts.js";
import { isId } from "../store/ids.js";
import { activityJson } from "./activitypub.js";
import { authorizeFetch } from "./authorized-fetch.js";
import { HttpError } from "./errors.js";

export function quoteAuthorizationRoutes(ctx: Context) {
  const app = new Hono();
  app.get("/users/:username/quote_authorizations/:id", async (c) => {
    const owner = findLocalAccountByUsername(ctx.store.db, c.req.param("username"));
    const id = c.req.param("id");
    if (!owner || !isId(id)) throw new HttpError(404, "no such authorization");
    // Under authorized fetch, a signature is required here as for the owner's statuses.
    await authorizeFetch(ctx, c, owner);
    const document = renderAuthorization(ctx, id, owner.id);
    if (!document) throw new HttpError(404, "no such authorization");
    return activityJson(c.req.header("accept"), document);
  });
  return app;
}
