import { Hono } from "hono";
import type { Context } from "../../context.js";
import { authorizeRoutes } from "../web/authorize.js";
import { loginLimiter } from "../web/login.js";
import { accountRoutes } from "./accounts.js";
import { type ApiEnv, authenticate } from "./auth.js";
import { conversationRoutes } from "./conversations.js";
import { domainBlockRoutes } from "./domain-blocks.js";
import { featuredRoutes } from "./featured.js";
import { filterRoutes } from "./filters.js";
import { instanceRoutes } from "./instance.js";
import { listRoutes } from "./lists.js";
import { mediaRoutes } from "./media.js";
import { notificationRoutes } from "./notifications.js";
import { oauthApiRoutes } from "./oauth.js";
import { pushRoutes } from "./push.js";
import { quoteRoutes } from "./quotes.js";

import { scheduledRoutes } from "./scheduled.js";
import { searchRoutes } from "./search.js";
import { statusRoutes } from "./statuses.js";
import { streamingRoutes } from "./streaming/routes.js";
import { timelineRoutes } from "./timelines.js";

/**
 * The Mastodon client API (/api/v1, /api/v2) and OAuth (/oauth). Each file holds one group of endpoints. Order
 * matters where two groups answer the same path: the first mounted answers.
 */
export function mastodonRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  app.use("/api/*", authenticate(ctx));
  const logins = loginLimiter(ctx);
  app.route("/", oauthApiRoutes(ctx, logins));
  app.route("/", authorizeRoutes(ctx, logins));
  app.route("/", instanceRoutes(ctx));
  app.route("/", accountRoutes(ctx));
  app.route("/", statusRoutes(ctx));
  app.route("/", quoteRoutes(ctx));
  app.route("/", timelineRoutes(ctx));
  app.route("/", listRoutes(ctx));
  app.route("/", notificationRoutes(ctx));
  app.route("/", searchRoutes(ctx));
  app.route("/", mediaRoutes(ctx));
  app.route("/", conversationRoutes(ctx));
  app.route("/", scheduledRoutes(ctx));
  app.route("/", domainBlockRoutes(ctx));
  app.route("/", featuredRoutes(ctx));
  app.route("/", streamingRoutes(ctx));
  app.route("/", filterRoutes(ctx));
  app.route("/", pushRoutes(ctx));
  return app;
}
