import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Context } from "../context.js";
import { activityPubRoutes } from "./activitypub.js";
import { errorResponse, HttpError } from "./errors.js";
import { webRoutes } from "./web/pages.js";
import { wellKnownRoutes } from "./wellknown.js";

export type AppEnv = { Variables: { requestId: string } };

export function createApp(ctx: Context): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    ctx.log.info(
      {
        id: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      "request",
    );
  });
  app.use(
    secureHeaders({
      // Pages are plain server-rendered HTML with inline styles and no scripts.
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        imgSrc: ["'self'", "https:", "data:"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        formAction: ["'self'", "*"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      crossOriginResourcePolicy: false,
      crossOriginEmbedderPolicy: false,
    }),
  );
  // Browser-based apps (Elk, Phanpy) call these from other origins.
  const apiCors = cors({
    origin: "*",
    exposeHeaders: ["Link", "X-RateLimit-Remaining", "X-Request-Id"],
    maxAge: 86400,
  });
  for (const path of ["/api/*", "/oauth/token", "/oauth/revoke", "/.well-known/*", "/nodeinfo/*"])
    app.use(path, apiCors);
  app.use(
    bodyLimit({
      maxSize: ctx.config.limits.max_body_bytes,
      onError: (c) =>
        errorResponse(c, 413, `request body is larger than ${ctx.config.limits.max_body_bytes} bytes`),
    }),
  );
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(c, 405, `method ${c.req.method} is not allowed here`, { Allow: methods.join(", ") }),
    }),
  );

  app.route("/", wellKnownRoutes(ctx));
  app.route("/", activityPubRoutes(ctx));
  app.route("/", webRoutes(ctx));

  app.notFound((c) => errorResponse(c, 404, "not found"));
  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error.status, error.message, error.headers);
    ctx.log.error({ id: c.get("requestId"), err: error, path: c.req.path }, "unhandled error");
    return errorResponse(c, 500, "internal error");
  });
  return app;
}
