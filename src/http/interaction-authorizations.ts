/**
 * The authorizations the owner gave in answer to GoToSocial interaction requests, served at their ids
 * (`/users/:username/authorizations/:id`): a third server dereferences one to check that a reply, like or
 * boost carrying it was approved. Whoever may fetch the post may fetch its authorizations.
 */
import { Hono } from "hono";
import type { Context } from "../context.js";
import { findAuthorization } from "../core/interaction-policy.js";
import { mayFetch } from "../core/visibility.js";
import { renderAuthorization } from "../federation/vocab/interaction-policy.js";
import { findLocalAccountByUsername } from "../store/accounts.js";
import { isId } from "../store/ids.js";
import { findStatusById } from "../store/statuses.js";
import { activityJson } from "./activitypub.js";
import { authorizeFetch } from "./authorized-fetch.js";
import { HttpError } from "./errors.js";

export function interactionAuthorizationRoutes(ctx: Context) {
  const app = new Hono();
  app.get("/users/:username/authorizations/:id", async (c) => {
    const owner = findLocalAccountByUsername(ctx.store.db, c.req.param("username"));
    const id = c.req.param("id");
    const authorization = owner && isId(id) ? findAuthorization(ctx, id) : null;
    const status = authorization ? findStatusById(ctx.store.db, authorization.statusId) : null;
    if (!owner || !authorization || !status || status.accountId !== owner.id)
      throw new HttpError(404, "no such authorization");
    const fetcher = await authorizeFetch(ctx, c, owner);
    if (!mayFetch(ctx.store.db, status, fetcher)) {
      if (!fetcher) throw new HttpError(401, "sign the request as an actor allowed to see the post");
      throw new HttpError(404, "no such authorization");
    }
    const isPrivate = status.visibility === "private" || status.visibility === "direct";
    return activityJson(c.req.header("accept"), renderAuthorization(owner, authorization, status), {
      private: isPrivate,
    });
  });
  return app;
}
