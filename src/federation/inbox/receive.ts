import type { Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { isDomainBlockedHost } from "../../core/visibility.js";
import { readBody } from "../../http/body.js";
import { markHostAlive } from "../delivery/hosts.js";
import { JsonParseError, parseJsonBounded } from "../fetch.js";
import { lookupPublicKey } from "../resolve.js";
import { verifyRequest } from "../signatures/index.js";
import { proofOf, verifyDocumentProof } from "../signatures/proof.js";
import { hostOf } from "../urls.js";
import { asString, idOf } from "../vocab/parse.js";
import { dedupeKey, inboundBacklog, recordInbound } from "./queue.js";

/** An inbound activity after verification: its JSON, the verified actor URI and the host it came from. */
export interface Inbound {
  activity: Record<string, unknown>;
  id: string | null;
  type: string;
  actorUri: string;
}

/** What an overloaded inbox asks senders to wait, in seconds. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 60;

export const MAX_DEPTH = 32;

function reject(c: HonoContext, status: 400 | 401, error: string) {
  return c.json({ error }, status);
}

/**
 * Whether the activity carries a valid `eddsa-jcs-2022` proof by a key of its actor: then another server may
 * deliver it (a forwarded reply, a relayed post). Only asked when the HTTP signature is someone else's, so
 * the usual request costs nothing more.
 */
async function provenByActor(ctx: Context, activity: Record<string, unknown>, actorUri: string) {
  const proof = proofOf(activity);
  if (!proof) return false;
  for (const refresh of [false, true]) {
    const key = await lookupPublicKey(ctx, proof.verificationMethod, { refresh });
    if (key?.type !== "ed25519" || !key.publicKey || key.ownerId !== actorUri) continue;
    if (verifyDocumentProof(activity, proof, key.publicKey)) return true;
  }
  return false;
}

/** The activity in a body, or why it is not one. */
export function parseActivity(text: string): { ok: true; activity: Inbound } | { ok: false; error: string } {
  let activity: Record<string, unknown>;
  try {
    const parsed = parseJsonBounded(text, MAX_DEPTH);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { ok: false, error: "the body must be a JSON object" };
    }
    activity = parsed as Record<string, unknown>;
  } catch (error) {
    return {
      ok: false,
      error: error instanceof JsonParseError ? error.message : "the body is not valid JSON",
    };
  }
  const type = asString(activity.type);
  const actorUri = idOf(activity.actor);
  if (!type || !actorUri) return { ok: false, error: "an activity needs a type and an actor" };
  return { ok: true, activity: { activity, id: idOf(activity.id), type, actorUri } };
}

/**
 * POST to an inbox (the account's, the shared one, or the instance actor's). Verifies the HTTP signature
 * against the raw body, checks that the signer is the activity's actor and that the activity's id is on the
 * actor's host, then records it for the inbox worker (worker.ts) and answers 202 at once; a duplicate is
 * answered 202 too and not recorded again. What is wrong with the request itself is a 4xx; what is only
 * found when applying it (a third party's object, an unreachable reference) ends the row as failed.
 * When the backlog is past `federation.inbox_backlog_max`, nothing is verified or recorded: 503.
 */
export async function receiveInbox(ctx: Context, c: HonoContext): Promise<Response> {
  if (
    inboundBacklog(ctx.store, ctx.config.federation.inbox_backlog_max) >=
    ctx.config.federation.inbox_backlog_max
  ) {
    c.header("Retry-After", String(OVERLOAD_RETRY_AFTER_SECONDS));
    return c.json({ error: "too many activities are waiting to be processed; retry later" }, 503);
  }
  const raw = await readBody(c, ctx.config.limits.max_body_bytes);
  const url = new URL(c.req.url);
  const publicUrl = `${ctx.urls.origin}${url.pathname}${url.search}`;

  const verified = await verifyRequest(c.req.method, c.req.raw.headers, {
    body: raw,
    url: publicUrl,
    lookupKey: (keyId, opts) => lookupPublicKey(ctx, keyId, opts),
    windowSeconds: ctx.config.federation.signature_window_seconds,
  });
  if (!verified.ok) return reject(c, verified.status === 400 ? 400 : 401, verified.error);

  const body = new TextDecoder().decode(raw);
  const parsed = parseActivity(body);
  if (!parsed.ok) return reject(c, 400, parsed.error);
  const { id, actorUri } = parsed.activity;
  if (actorUri !== verified.ownerId && !(await provenByActor(ctx, parsed.activity.activity, actorUri))) {
    return reject(
      c,
      401,
      `the request is signed by ${verified.ownerId}, not by the activity's actor ${actorUri}, and the activity carries no valid proof (FEP-8b32) by its actor`,
    );
  }
  const actorHost = hostOf(actorUri);
  if (!actorHost) return reject(c, 400, "the actor is not a URL");
  if (id && hostOf(id) !== actorHost) return reject(c, 400, "the activity id is not on its actor's host");
  // A domain the local account blocks is not told so (as on Mastodon): accepted, and dropped unrecorded.
  if (isDomainBlockedHost(ctx.store.db, actorHost)) return c.body(null, 202);
  markHostAlive(ctx, actorHost);

  await recordInbound(ctx, { key: dedupeKey(id, raw), actorUri, body });
  return c.body(null, 202);
}
