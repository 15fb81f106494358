/**
 * Profile link verification, as Mastodon does it: a profile field whose value is an http(s) URL is verified
 * when the page at that URL links back to the owner's profile (or actor) with rel="me", in an <a> or a <link>.
 * The pages are fetched through the guarded client, outside any transaction; the result is stored by
 * `markProfileLinks` (core). Checked after every profile change that other servers see (`ProfileUpdated`).
 */
import { createRequire } from "node:module";
import type SanitizeHtml from "sanitize-html";
import type { Context } from "../context.js";
import { markProfileLinks, type ProfileLinkCheck } from "../core/profile-links.js";
import { htmlToText } from "../core/text.js";
import { findLocalUser } from "../store/accounts.js";

const MAX_PAGE_BYTES = 1024 * 1024;
const TIMEOUT_MS = 10_000;

let library: typeof SanitizeHtml | null = null;

/** The targets of the rel="me" links (<a> and <link>) of an HTML page, absolute. */
export function relMeLinks(page: string, base: string): string[] {
  library ??= createRequire(import.meta.url)("sanitize-html") as typeof SanitizeHtml;
  const found: string[] = [];
  const collect = (tagName: string, attribs: Record<string, string>) => {
    const rel = (attribs.rel ?? "").toLowerCase().split(/\s+/);
    if (rel.includes("me") && attribs.href) {
      try {
        found.push(new URL(attribs.href.trim(), base).href);
      } catch {
        // not a URL
      }
    }
    return { tagName, attribs };
  };
  // Parsing only: the output is discarded. Script and style contents are text, never links.
  library(page, { allowedTags: [], transformTags: { a: collect, link: collect } });
  return found;
}

/** The URL a field value is, when it is nothing but one http(s) URL. */
export function fieldUrl(value: string): string | null {
  const text = htmlToText(value).trim();
  if (!/^https?:\/\/\S+$/i.test(text)) return null;
  try {
    return new URL(text).href;
  } catch {
    return null;
  }
}

/** Whether the page links back; null when that cannot be told (unreachable, an error status). */
async function linksBack(ctx: Context, url: string, targets: string[]): Promise<boolean | null> {
  try {
    const res = await ctx.federation.plain({
      url,
      headers: { Accept: "text/html, application/xhtml+xml;q=0.9" },
      maxBytes: MAX_PAGE_BYTES,
      timeoutMs: TIMEOUT_MS,
    });
    if (res.status !== 200) return null;
    return relMeLinks(res.text(), res.url.href).some((href) => targets.includes(href.toLowerCase()));
  } catch (error) {
    ctx.log.debug({ err: error, url }, "profile link could not be checked");
    return null;
  }
}

/** Checks every URL field of the local profile and stores which ones link back. */
export async function verifyProfileLinks(ctx: Context): Promise<void> {
  const local = findLocalUser(ctx.store.db)?.account;
  if (!local) return;
  const targets = [ctx.urls.profile(local.username), local.uri].map((u) => u.toLowerCase());
  const checks: ProfileLinkCheck[] = [];
  for (const field of local.fields) {
    const url = fieldUrl(field.value);
    const verified = url ? await linksBack(ctx, url, targets) : false;
    // A page that could not be read leaves the field as it was (a verified link stays verified).
    if (verified !== null) checks.push({ name: field.name, value: field.value, verified });
  }
  markProfileLinks(ctx, checks);
}

const pending = new WeakMap<Context, Promise<void>>();

/** Re-checks the links after each profile change, one check at a time. */
export function registerLinkVerification(ctx: Context): void {
  ctx.events.onCommit((event) => {
    if (event.type !== "ProfileUpdated" || event.account.domain !== null) return;
    const previous = pending.get(ctx) ?? Promise.resolve();
    const next = previous.then(() =>
      verifyProfileLinks(ctx).catch((error: unknown) =>
        ctx.log.warn({ err: error }, "profile link check failed"),
      ),
    );
    pending.set(ctx, next);
  });
}

/** Resolves when the checks started so far are done (for tests and shutdown). */
export async function linkVerificationSettled(ctx: Context): Promise<void> {
  let current = pending.get(ctx);
  while (current) {
    await current;
    const latest = pending.get(ctx);
    if (latest === current) return;
    current = latest;
  }
}
