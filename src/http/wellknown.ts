import { Hono } from "hono";
import type { Context } from "../context.js";
import { findLocalUser } from "../store/accounts.js";
import { HttpError } from "./errors.js";

const NODEINFO_SCHEMAS = ["2.0", "2.1"] as const;

/**
 * Maps a WebFinger resource to the local actor it names: "acct:user@domain" (also without "acct:"), the actor
 * URL or the profile URL. Returns null for a well-formed resource that is not ours; throws 400 when malformed.
 */
function resolveResource(
  ctx: Context,
  resource: string,
): { subject: string; actor: string; profile: string } | null {
  const { urls } = ctx;
  const local = findLocalUser(ctx.store.db)?.account;
  const domain = urls.domain.toLowerCase();

  if (/^https?:\/\//i.test(resource)) {
    let url: URL;
    try {
      url = new URL(resource);
    } catch {
      throw new HttpError(400, "resource is not a valid URL");
    }
    if (url.host.toLowerCase() !== domain) return null;
    const normalised = `${urls.origin}${url.pathname}`;
    if (normalised === urls.instanceActor) return instanceResource(ctx);
    if (local && (normalised === urls.actor(local.username) || normalised === urls.profile(local.username))) {
      return {
        subject: `acct:${local.username}@${urls.domain}`,
        actor: urls.actor(local.username),
        profile: urls.profile(local.username),
      };
    }
    return null;
  }

  const acct = resource.replace(/^acct:/i, "").replace(/^@/, "");
  const at = acct.lastIndexOf("@");
  if (at <= 0 || at === acct.length - 1 || /[\s/]/.test(acct)) {
    throw new HttpError(400, "resource must be acct:user@domain or a URL");
  }
  const username = acct.slice(0, at);
  const host = acct.slice(at + 1).toLowerCase();
  if (host !== domain) return null;
  if (username.toLowerCase() === domain) return instanceResource(ctx);
  if (!local || local.username.toLowerCase() !== username.toLowerCase()) return null;
  return {
    subject: `acct:${local.username}@${urls.domain}`,
    actor: urls.actor(local.username),
    profile: urls.profile(local.username),
  };
}

function instanceResource(ctx: Context) {
  const { urls } = ctx;
  return {
    subject: `acct:${urls.domain}@${urls.domain}`,
    actor: urls.instanceActor,
    profile: `${urls.origin}/about`,
  };
}

export function wellKnownRoutes(ctx: Context) {
  const app = new Hono();
  const { urls } = ctx;

  app.get("/.well-known/webfinger", (c) => {
    const resource = c.req.query("resource");
    if (!resource) throw new HttpError(400, "the resource parameter is required");
    const found = resolveResource(ctx, resource.trim());
    if (!found) throw new HttpError(404, `no such resource here: ${resource}`);
    const body = {
      subject: found.subject,
      aliases: [found.actor, found.profile],
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: found.profile },
        { rel: "self", type: "application/activity+json", href: found.actor },
        // Where other servers send their users to follow or act on something (remote interaction).
        {
          rel: "http://ostatus.org/schema/1.0/subscribe",
          template: `${urls.origin}/authorize_interaction?uri={uri}`,
        },
      ],
    };
    return c.body(JSON.stringify(body), 200, {
      "Content-Type": "application/jrd+json; charset=utf-8",
      "Access-Control-Allow-Origin": "*",
      "Cache-Control": "max-age=300, public",
    });
  });

  const lrdd = `${urls.origin}/.well-known/webfinger?resource={uri}`;
  app.get("/.well-known/host-meta", (c) => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="${lrdd.replace(/&/g, "&amp;")}"/>
</XRD>
`;
    return c.body(xml, 200, {
      "Content-Type": "application/xrd+xml; charset=utf-8",
      "Access-Control-Allow-Origin": "*",
    });
  });
  app.get("/.well-known/host-meta.json", (c) =>
    c.json({ links: [{ rel: "lrdd", template: lrdd }] }, 200, { "Access-Control-Allow-Origin": "*" }),
  );

  app.get("/.well-known/nodeinfo", (c) =>
    c.json({
      links: NODEINFO_SCHEMAS.map((version) => ({
        rel: `http://nodeinfo.diaspora.software/ns/schema/${version}`,
        href: `${urls.origin}/nodeinfo/${version}`,
      })),
    }),
  );

  for (const version of NODEINFO_SCHEMAS) {
    app.get(`/nodeinfo/${version}`, (c) => {
      const local = findLocalUser(ctx.store.db);
      const localPosts = local?.account.statusesCount ?? 0;
      const users = local ? 1 : 0;
      const body = {
        version,
        software: { name: "wren", version: ctx.version },
        protocols: ["activitypub"],
        services: { inbound: [], outbound: [] },
        openRegistrations: false,
        usage: { users: { total: users, activeMonth: users, activeHalfyear: users }, localPosts },
        metadata: {
          nodeName: ctx.config.server.title,
          nodeDescription: ctx.config.server.description,
          // Client libraries (megalodon's detector, used by Whalebird and Fedistar) read this to pick the Mastodon API.
          upstream: { name: "mastodon", version: "4.5.0" },
        },
      };
      return c.body(JSON.stringify(body), 200, {
        "Content-Type": `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/${version}#"`,
      });
    });
  }
  return app;
}
