import { Hono } from "hono";
import type { Context } from "../../context.js";
import { streamingRoutes } from "../../streaming/routes.js";
import { accountRoutes } from "./accounts.js";
import { type ApiEnv, authenticate } from "./auth.js";
import { instanceRoutes } from "./instance.js";
import { mediaRoutes } from "./media.js";
import { notificationRoutes } from "./notifications.js";
import { oauthApiRoutes } from "./oauth.js";
import { searchRoutes } from "./search.js";
import { statusRoutes } from "./statuses.js";
import { timelineRoutes } from "./timelines.js";

/** The Mastodon client API (/api/v1, /api/v2) and OAuth (/oauth). Each file holds one group of endpoints. */
export function mastodonRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  app.use("/api/*", authenticate(ctx));
  app.route("/", oauthApiRoutes(ctx));
  app.route("/", instanceRoutes(ctx));
  app.route("/", accountRoutes(ctx));
  app.route("/", statusRoutes(ctx));
  app.route("/", timelineRoutes(ctx));
  app.route("/", notificationRoutes(ctx));
  app.route("/", searchRoutes(ctx));
  app.route("/", mediaRoutes(ctx));
  app.route("/", streamingRoutes(ctx));
  return app;
}
