/**
 * Conditional requests for the public pages and feeds. The ETag is a digest of the exact bytes sent, so it is
 * right whatever changed. Last-Modified is the time of the last change the core committed (any domain event:
 * a post, an edit, a deletion, a reply or a favourite arriving, a profile change), or the process start; the
 * few changes that are not domain events (a remote author renamed, a poll closing) are caught by the ETag,
 * which takes precedence (see docs/decisions.md).
 */
import { createHash } from "node:crypto";
import type { Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { PAGE_CSP } from "./layout.js";

const lastChange = new WeakMap<Context, number>();

/** Starts following the core's commits for `ctx`; call once when the routes are built. */
export function trackChanges(ctx: Context): void {
  if (lastChange.has(ctx)) return;
  lastChange.set(ctx, Date.now());
  ctx.events.onCommit(() => {
    lastChange.set(ctx, Date.now());
  });
}

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === bare);
}

/**
 * Sends `body` with ETag and Last-Modified, or 304 Not Modified when the request's validators match
 * (If-None-Match first; If-Modified-Since only when there is none, as RFC 9110 says).
 */
export function sendCached(ctx: Context, c: HonoContext, body: string, contentType: string): Response {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  // HTTP dates count whole seconds: while the second of the last change runs, another change could follow
  // within it under the same date, so no Last-Modified is given until that second is over.
  const changed = Math.floor((lastChange.get(ctx) ?? Date.now()) / 1000) * 1000;
  const headers: Record<string, string> = { ETag: etag, "Cache-Control": "public, no-cache" };
  if (Date.now() >= changed + 1000) headers["Last-Modified"] = new Date(changed).toUTCString();
  const ifNoneMatch = c.req.header("if-none-match");
  const ifModifiedSince = c.req.header("if-modified-since");
  let notModified = false;
  if (ifNoneMatch !== undefined) notModified = etagMatches(ifNoneMatch, etag);
  else if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    notModified = Number.isFinite(since) && since >= changed;
  }
  if (notModified) return c.body(null, 304, headers);
  if (contentType.startsWith("text/html")) headers["Content-Security-Policy"] = PAGE_CSP;
  return c.body(body, 200, { ...headers, "Content-Type": contentType });
}
