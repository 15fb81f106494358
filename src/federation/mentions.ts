import type { Context } from "../context.js";
import { mentionKey } from "../core/statuses.js";
import { extractMentions } from "../core/text.js";
import type { AccountRow } from "../store/accounts.js";
import { resolveHandle } from "./resolve.js";

/** At most this many handles of one text are looked up (Mastodon has no limit; a post has 5,000 characters). */
const MAX_LOOKUPS = 50;

/**
 * Resolves the remote @user@domain mentions of a text by WebFinger, before the text goes to the core (which
 * does no network I/O): the map is `StatusInput.mentions`. A handle that cannot be resolved is left out and
 * stays plain text, as on Mastodon.
 */
export async function resolveMentions(ctx: Context, text: string): Promise<Map<string, AccountRow>> {
  const ourDomain = ctx.urls.domain.toLowerCase();
  const found = new Map<string, AccountRow>();
  const remote = extractMentions(text).filter(
    (ref) => ref.domain !== null && ref.domain.toLowerCase() !== ourDomain,
  );
  for (const ref of remote.slice(0, MAX_LOOKUPS)) {
    const key = mentionKey(ref);
    if (found.has(key)) continue;
    try {
      found.set(key, await resolveHandle(ctx, `${ref.username}@${ref.domain}`));
    } catch (error) {
      ctx.log.debug({ err: error, handle: key }, "mention not resolved; left as text");
    }
  }
  return found;
}
