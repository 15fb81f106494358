/**
 * Remote interaction: where a visitor's own server lets them follow, reply to, boost or favourite something
 * they found here. Their server advertises it in WebFinger as the OStatus subscribe template (Mastodon's
 * `/authorize_interaction?uri={uri}`, Misskey's `/authorize-follow?acct={uri}`, ...).
 */
import type { Context } from "../context.js";
import { FetchError } from "./fetch.js";
import { parseHandle, ResolveError } from "./resolve.js";
import { asArray, httpUrl, isObject } from "./vocab/parse.js";

export const SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe";
const JRD_MAX_BYTES = 256 * 1024;

/** The subscribe template of a handle's server (through the guarded client), or a ResolveError. */
export async function subscribeTemplate(ctx: Context, handle: string): Promise<string> {
  const { username, domain } = parseHandle(handle);
  const resource = `acct:${username}@${domain}`;
  const url = `${ctx.config.server.protocol}://${domain}/.well-known/webfinger?resource=${encodeURIComponent(resource)}`;
  let jrd: unknown;
  try {
    const res = await ctx.federation.plain({
      url,
      headers: { Accept: "application/jrd+json, application/json;q=0.9" },
      maxBytes: JRD_MAX_BYTES,
    });
    if (res.status === 404 || res.status === 410)
      throw new ResolveError("not_found", `${resource} was not found`);
    if (!res.ok) throw new ResolveError("network", `${domain} answered ${res.status}`);
    jrd = res.json();
  } catch (error) {
    if (error instanceof ResolveError) throw error;
    if (error instanceof FetchError) throw new ResolveError("network", `${domain} could not be reached`);
    throw error;
  }
  if (isObject(jrd)) {
    for (const link of asArray(jrd.links).slice(0, 100)) {
      if (!isObject(link) || link.rel !== SUBSCRIBE_REL || typeof link.template !== "string") continue;
      if (link.template.includes("{uri}") && httpUrl(link.template.replaceAll("{uri}", "x")))
        return link.template;
    }
  }
  throw new ResolveError("not_found", `${domain} does not say where to follow from`);
}

/** The visitor's server's page for `uri`. */
export function fillTemplate(template: string, uri: string): string {
  return template.replaceAll("{uri}", encodeURIComponent(uri));
}
