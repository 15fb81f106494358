import { eq } from "drizzle-orm";
import type { Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { UserError } from "../../core/account.js";
import { inboxSeen } from "../../store/schema.js";
import { markHostAlive } from "../delivery/hosts.js";
import { JsonParseError, parseJsonBounded } from "../fetch.js";
import { lookupPublicKey, ResolveError } from "../resolve.js";
import { verifyRequest } from "../signatures/index.js";
import { asString, idOf, ParseError } from "../vocab/parse.js";
import { dispatch, hostOf } from "./handlers.js";

/** An inbound activity after verification: its JSON, the verified actor URI and the host it came from. */
export interface Inbound {
  activity: Record<string, unknown>;
  id: string | null;
  type: string;
  actorUri: string;
}

const MAX_DEPTH = 32;

function reject(c: HonoContext, status: 400 | 401 | 403 | 413 | 422 | 502, error: string) {
  return c.json({ error }, status);
}

/**
 * POST to an inbox (the account's, the shared one, or the instance actor's). Verifies the HTTP signature
 * against the raw body, checks that the signer is the activity's actor, drops duplicates, then hands the
 * activity to its handler. Anything wrong is a 4xx with a message and no change to the store.
 */
export async function receiveInbox(ctx: Context, c: HonoContext): Promise<Response> {
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const url = new URL(c.req.url);
  const publicUrl = `${ctx.urls.origin}${url.pathname}${url.search}`;

  const verified = await verifyRequest(c.req.method, c.req.raw.headers, {
    body: raw,
    url: publicUrl,
    lookupKey: (keyId, opts) => lookupPublicKey(ctx, keyId, opts),
    windowSeconds: ctx.config.federation.signature_window_seconds,
  });
  if (!verified.ok) return reject(c, verified.status === 400 ? 400 : 401, verified.error);

  let activity: Record<string, unknown>;
  try {
    const parsed = parseJsonBounded(new TextDecoder().decode(raw), MAX_DEPTH);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return reject(c, 400, "the body must be a JSON object");
    }
    activity = parsed as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof JsonParseError ? error.message : "the body is not valid JSON";
    return reject(c, 400, message);
  }

  const type = asString(activity.type);
  const actorUri = idOf(activity.actor);
  if (!type || !actorUri) return reject(c, 400, "an activity needs a type and an actor");
  if (actorUri !== verified.ownerId) {
    return reject(
      c,
      401,
      `the request is signed by ${verified.ownerId}, not by the activity's actor ${actorUri}`,
    );
  }
  const id = idOf(activity.id);
  const actorHost = hostOf(actorUri);
  if (!actorHost) return reject(c, 400, "the actor is not a URL");
  if (id && hostOf(id) !== actorHost) return reject(c, 400, "the activity id is not on its actor's host");
  markHostAlive(ctx, actorHost);

  if (id && alreadySeen(ctx, id)) return c.body(null, 202);
  try {
    await dispatch(ctx, { activity, id, type, actorUri });
  } catch (error) {
    if (error instanceof UserError)
      return reject(c, error.status === 404 ? 422 : error.status === 409 ? 422 : error.status, error.message);
    // A malformed embedded object, or a referenced one that cannot be had: the sender's problem, not a 500.
    if (error instanceof ParseError) return reject(c, 400, error.message);
    if (error instanceof ResolveError) {
      // network: the other server may answer later, so the sender should retry (5xx); the rest will not change.
      return reject(c, error.code === "network" ? 502 : error.code === "invalid" ? 400 : 422, error.message);
    }
    throw error;
  }
  if (id) remember(ctx, id);
  return c.body(null, 202);
}

function alreadySeen(ctx: Context, id: string): boolean {
  return ctx.store.db.select().from(inboxSeen).where(eq(inboxSeen.activityUri, id)).get() !== undefined;
}

function remember(ctx: Context, id: string): void {
  ctx.store.db
    .insert(inboxSeen)
    .values({ activityUri: id, receivedAt: Date.now() })
    .onConflictDoNothing()
    .run();
}
