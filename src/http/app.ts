import { Hono, type Context as HonoContext, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import { activityPubRoutes } from "./activitypub.js";
import { incomingOf } from "./body.js";
import { errorResponse, HttpError } from "./errors.js";
import { interactionAuthorizationRoutes } from "./interaction-authorizations.js";
import { mastodonRoutes } from "./mastodon/index.js";
import { quoteAuthorizationRoutes } from "./quote-authorizations.js";
import { webRoutes } from "./web/pages.js";
import { settingsRoutes } from "./web/settings/index.js";
import { IMPORT_PATH, MAX_IMPORT_BYTES } from "./web/settings/portability.js";
import { staticRoutes } from "./web/static.js";
import { wellKnownRoutes } from "./wellknown.js";

export type AppEnv = { Variables: { requestId: string } };

export function createApp(ctx: Context): Hono<AppEnv> {
  // strict: false ignores one trailing slash on every route, as Rails does: Mastodon.py asks for
  // `/api/v1/instance/`, toot for `/oauth/authorize/`. c.req.path is then the path without it.
  const app = new Hono<AppEnv>({ strict: false });

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
  // overwrite: false keeps a header a route set itself: the OAuth consent page widens form-action to the app's
  // redirect scheme (Chromium applies form-action to the redirect), media files send a sandboxing policy.
  const headerOptions = {
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
    overwrite: false,
    // Pages are plain server-rendered HTML with inline styles and no scripts.
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      imgSrc: ["'self'", "https:", "data:"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      formAction: ["'self'", "*"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
  };
  const pageHeaders = secureHeaders(headerOptions);
  // Web apps (Phanpy) open the authorize page in a popup and read the code through window.opener: any
  // Cross-Origin-Opener-Policy there (same-origin-allow-popups too, in Chromium) cuts that link. The OAuth
  // pages keep every other protection.
  const oauthHeaders = secureHeaders({ ...headerOptions, crossOriginOpenerPolicy: false });
  app.use((c, next) => (c.req.path.startsWith("/oauth/") ? oauthHeaders(c, next) : pageHeaders(c, next)));
  // Browser-based apps (Elk, Phanpy) call these from other origins.
  const apiCors = cors({
    origin: "*",
    exposeHeaders: ["Link", "X-RateLimit-Remaining", "X-Request-Id"],
    maxAge: 86400,
  });
  for (const path of ["/api/*", "/oauth/token", "/oauth/revoke", "/.well-known/*", "/nodeinfo/*"])
    app.use(path, apiCors);
  // Browser apps (Phanpy) load the default avatar and header cross-origin and log CORS errors without this.
  app.use("/static/*", cors({ origin: "*", maxAge: 86400 }));
  // A request body the route left unread stalls the connection: @hono/node-server drains it for at most half a
  // second and then drops the connection although the response said keep-alive, and the client's next request
  // on it fails. Read it to the end, discarding it (the limit below bounds it; a 413 closes the connection).
  // Straight from Node when served by it: asking for the web Request (c.req.raw.body) would build an undici
  // Request and a web stream for every request, which costs more than most routes.
  app.use(async (c, next) => {
    await next();
    if (c.res.status === 413 || c.req.method === "GET" || c.req.method === "HEAD") return;
    const incoming = incomingOf(c);
    if (incoming) {
      if (incoming.readableEnded || incoming.destroyed) return;
      try {
        for await (const _ of incoming);
      } catch {
        // The client went away: nothing left to keep alive.
      }
      return;
    }
    const raw = c.req.raw;
    if (!raw.body || raw.bodyUsed) return;
    const reader = raw.body.getReader();
    try {
      while (!(await reader.read()).done);
    } catch {
      // as above
    }
  });
  // Uploads (media, avatar and header) may be as large as the largest allowed video; everything else is small.
  // A declared Content-Length is checked here without building the web Request (see above); a chunked body
  // goes through Hono's limit, which counts it as it arrives.
  const limit = (maxSize: number) => {
    const tooLarge = (c: HonoContext) =>
      // The unread rest of the body makes the connection unusable: say so, or clients reuse it and fail.
      errorResponse(c, 413, `request body is larger than ${maxSize} bytes`, { Connection: "close" });
    const counted = bodyLimit({ maxSize, onError: tooLarge });
    const check: MiddlewareHandler = async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
      const length = c.req.header("content-length");
      if (length !== undefined && c.req.header("transfer-encoding") === undefined)
        return Number(length) > maxSize ? tooLarge(c) : next();
      return counted(c, next);
    };
    return check;
  };
  const uploads = limit(
    Math.max(ctx.config.media.max_image_bytes, ctx.config.media.max_video_bytes) + 64 * 1024,
  );
  const others = limit(ctx.config.limits.max_body_bytes);
  const isUpload = (path: string) =>
    /^\/api\/v[12]\/media$|^\/api\/v1\/accounts\/update_credentials$/.test(path);
  // The settings page's CSV import takes a file up to its own cap, plus room for the rest of the form.
  const csvImport = limit(MAX_IMPORT_BYTES + 64 * 1024);
  app.use((c, next) =>
    isUpload(c.req.path)
      ? uploads(c, next)
      : c.req.path === IMPORT_PATH
        ? csvImport(c, next)
        : others(c, next),
  );
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(c, 405, `method ${c.req.method} is not allowed here`, { Allow: methods.join(", ") }),
    }),
  );

  app.route("/", wellKnownRoutes(ctx));
  app.route("/", mastodonRoutes(ctx));
  app.route("/", activityPubRoutes(ctx));
  app.route("/", quoteAuthorizationRoutes(ctx));

  app.route("/", interactionAuthorizationRoutes(ctx));
  app.route("/", webRoutes(ctx));
  app.route("/", settingsRoutes(ctx));
  app.route("/", staticRoutes());

  app.notFound((c) => errorResponse(c, 404, "not found"));
  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error.status, error.message, error.headers);
    if (error instanceof UserError) return errorResponse(c, error.status, error.message);
    ctx.log.error({ id: c.get("requestId"), err: error, path: c.req.path }, "unhandled error");
    return errorResponse(c, 500, "internal error");
  });
  return app;
}
