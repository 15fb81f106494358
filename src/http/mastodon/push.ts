/**
 * /api/v1/push/subscription: the Web Push subscription of the calling token (one per token, as Mastodon).
 * Parameters come as JSON (`{"subscription": {"keys": {...}}, "data": {"alerts": {...}}}`) or as form fields
 * (`subscription[keys][p256dh]`, `data[alerts][mention]`), which the shared reader leaves flat past one
 * level of brackets, so both shapes are read here.
 */
import { Hono } from "hono";
import type { Context } from "../../context.js";
import {
  changeSubscription,
  PUSH_ALERT_TYPES,
  subscribe,
  unsubscribe,
} from "../../core/push-subscriptions.js";
import { vapidKeys } from "../../push/vapid.js";
import { findPushSubscriptionByToken, type PushSubscriptionRow } from "../../store/push-subscriptions.js";
import { HttpError } from "../errors.js";
import { type ApiEnv, bearerToken, requireUser } from "./auth.js";
import { type Params, read, readParams } from "./params.js";

/** The value at `path`, nested (JSON, one level of form brackets) or as a flat `a[b][c]` form key. */
function pick(params: Params, path: string[]): unknown {
  let value: unknown = params;
  for (const key of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      value = undefined;
      break;
    }
    value = (value as Params)[key];
  }
  if (value !== undefined) return value;
  const [first, ...rest] = path;
  const flat = `${first}${rest.map((k) => `[${k}]`).join("")}`;
  return params[flat];
}

function pickString(params: Params, path: string[]): string | undefined {
  return read.string({ value: pick(params, path) }, "value");
}

function pickBoolean(params: Params, path: string[], name: string): boolean | undefined {
  try {
    return read.boolean({ value: pick(params, path) }, "value");
  } catch {
    throw new HttpError(422, `${name} must be true or false`);
  }
}

/** `data[alerts]`, or undefined when the request names no alert at all. */
function readAlerts(params: Params): Record<string, boolean> | undefined {
  let named = false;
  const alerts: Record<string, boolean> = {};
  for (const type of PUSH_ALERT_TYPES) {
    const value = pickBoolean(params, ["data", "alerts", type], `data[alerts][${type}]`);
    if (value === undefined) continue;
    named = true;
    alerts[type] = value;
  }
  if (!named && typeof pick(params, ["data", "alerts"]) === "object") named = true;
  return named ? alerts : undefined;
}

/** `data[policy]`; masto.js sends it as a top-level `policy`, which Mastodon ignores and Wren accepts. */
function readPolicy(params: Params): string | undefined {
  return pickString(params, ["data", "policy"]) ?? pickString(params, ["policy"]);
}

function renderSubscription(ctx: Context, row: PushSubscriptionRow) {
  return {
    id: row.id,
    endpoint: row.endpoint,
    standard: row.standard,
    alerts: Object.fromEntries(PUSH_ALERT_TYPES.map((type) => [type, row.alerts[type] === true])),
    policy: row.policy,
    server_key: vapidKeys(ctx.store.db).publicKey,
  };
}

export function pushRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();
  const path = "/api/v1/push/subscription";

  app.post(path, async (c) => {
    const auth = requireUser(c, "push");
    const params = await readParams(c);
    const accessToken = bearerToken(c);
    if (!accessToken) throw new HttpError(401, "The access token is invalid");
    const row = subscribe(
      ctx,
      { id: auth.tokenId, accessToken },
      {
        endpoint: pickString(params, ["subscription", "endpoint"]),
        p256dh: pickString(params, ["subscription", "keys", "p256dh"]),
        auth: pickString(params, ["subscription", "keys", "auth"]),
        standard: pickBoolean(params, ["subscription", "standard"], "subscription[standard]") ?? false,
        alerts: readAlerts(params) ?? {},
        policy: readPolicy(params),
      },
    );
    return c.json(renderSubscription(ctx, row));
  });

  app.get(path, (c) => {
    const auth = requireUser(c, "push");
    const row = findPushSubscriptionByToken(ctx.store.db, auth.tokenId);
    if (!row) throw new HttpError(404, "Record not found");
    return c.json(renderSubscription(ctx, row));
  });

  app.put(path, async (c) => {
    const auth = requireUser(c, "push");
    const params = await readParams(c);
    const row = changeSubscription(ctx, auth.tokenId, {
      alerts: readAlerts(params),
      policy: readPolicy(params),
    });
    return c.json(renderSubscription(ctx, row));
  });

  app.delete(path, (c) => {
    const auth = requireUser(c, "push");
    unsubscribe(ctx, auth.tokenId);
    return c.json({});
  });

  return app;
}
