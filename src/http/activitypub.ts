import { Hono } from "hono";
import type { Context } from "../context.js";
import { INSTANCE_KEY_OWNER } from "../core/account.js";
import { renderInstanceActor, renderPerson } from "../federation/vocab/actor.js";
import { ACTIVITY_JSON, LD_JSON_AS } from "../federation/vocab/context.js";
import { findKeyPairs, findLocalAccountByUsername } from "../store/accounts.js";
import { HttpError } from "./errors.js";
import { wantsActivityJson } from "./negotiate.js";
import { renderProfilePage } from "./web/pages.js";

/** Answers with the media type the client asked for: the ld+json profile when it asked for that, else activity+json. */
export function activityJson(
  accept: string | undefined,
  document: unknown,
  status: 200 | 201 = 200,
): Response {
  const type =
    accept?.includes("application/ld+json") && !accept.includes("application/activity+json")
      ? LD_JSON_AS
      : ACTIVITY_JSON;
  return new Response(JSON.stringify(document), {
    status,
    headers: { "Content-Type": type, Vary: "Accept", "Cache-Control": "max-age=60, public" },
  });
}

export function activityPubRoutes(ctx: Context) {
  const app = new Hono();

  app.get("/users/:username", (c) => {
    const account = findLocalAccountByUsername(ctx.store.db, c.req.param("username"));
    if (!account) throw new HttpError(404, "no such account");
    const accept = c.req.header("accept");
    if (!wantsActivityJson(accept)) return renderProfilePage(ctx, c, account);
    // Served unsigned whatever the fetch mode: servers need our key to verify us (see INTEROP.md).
    return activityJson(accept, renderPerson(ctx, account, findKeyPairs(ctx.store.db, account.id)));
  });

  app.get("/actor", (c) =>
    activityJson(
      c.req.header("accept"),
      renderInstanceActor(ctx, findKeyPairs(ctx.store.db, INSTANCE_KEY_OWNER)),
    ),
  );
  return app;
}
