import type { Context as HonoContext } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An error a route raises to answer with a 4xx and a message; rendered as {"error": "..."} on API paths. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A 404: also what a client gets for something it may not see, so it cannot tell the two apart. */
export const notFound = (what = "Record not found") => new HttpError(404, what);

/** Paths whose clients are programs: they get JSON errors. Browsers elsewhere get plain text. */
export function wantsJsonErrors(path: string, accept: string | undefined): boolean {
  if (/^\/(api|oauth|\.well-known|nodeinfo|inbox|actor|users)(\/|$)/.test(path)) {
    return !(path.startsWith("/users/") && accept?.includes("text/html"));
  }
  return false;
}

export function errorResponse(
  c: HonoContext,
  status: ContentfulStatusCode,
  message: string,
  headers: Record<string, string> = {},
) {
  if (wantsJsonErrors(c.req.path, c.req.header("accept"))) return c.json({ error: message }, status, headers);
  return c.text(message, status, headers);
}
