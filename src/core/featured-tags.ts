/**
 * Hashtags featured on the local profile. Other servers read them from the actor's `featuredTags`
 * collection, so a change sends an Update of the actor (ProfileUpdated), as Mastodon does.
 */
import { count, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { newId } from "../store/ids.js";
import { accounts, featuredTags, tags } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import type { UnitOfWork } from "./events.js";
import { extractHashtags } from "./text.js";
import { commit } from "./unit-of-work.js";

/** Mastodon's limit. */
export const MAX_FEATURED_TAGS = 10;

export type FeaturedTagRow = typeof featuredTags.$inferSelect;

/** The tag's name as typed (with or without '#'), or a 422 when it is not a hashtag. */
function tagName(input: string): string {
  const name = input.trim().replace(/^#/, "");
  const [found] = extractHashtags(`#${name}`);
  if (name === "" || found !== name) throw new UserError("name is not a valid hashtag");
  return name;
}

function profileChanged(ctx: Context, uow: UnitOfWork): void {
  const local = requireLocalAccount(ctx);
  // A new updatedAt gives the Update of the actor an id of its own.
  const now = Math.max(Date.now(), local.updatedAt + 1);
  ctx.store.db.update(accounts).set({ updatedAt: now }).where(eq(accounts.id, local.id)).run();
  uow.record({ type: "ProfileUpdated", account: { ...local, updatedAt: now } });
}

/** Features a hashtag (featuring one again returns it as it is). */
export function featureTag(ctx: Context, input: string): FeaturedTagRow {
  requireLocalAccount(ctx);
  const name = tagName(input);
  return commit(ctx, (uow) => {
    const now = Date.now();
    ctx.store.db
      .insert(tags)
      .values({ id: newId(now), name: name.toLowerCase(), displayName: name, createdAt: now })
      .onConflictDoNothing()
      .run();
    const tag = ctx.store.db.select().from(tags).where(eq(tags.name, name.toLowerCase())).get();
    if (!tag) throw new Error("tag vanished inside its transaction");
    const existing = ctx.store.db.select().from(featuredTags).where(eq(featuredTags.tagId, tag.id)).get();
    if (existing) return existing;
    const featured = ctx.store.db.select({ n: count() }).from(featuredTags).get()?.n ?? 0;
    if (featured >= MAX_FEATURED_TAGS)
      throw new UserError(`at most ${MAX_FEATURED_TAGS} hashtags can be featured`);
    const row: FeaturedTagRow = { id: newId(now), tagId: tag.id, createdAt: now };
    ctx.store.db.insert(featuredTags).values(row).run();
    profileChanged(ctx, uow);
    return row;
  });
}

export function unfeatureTag(ctx: Context, id: string): void {
  requireLocalAccount(ctx);
  commit(ctx, (uow) => {
    const removed = ctx.store.db.delete(featuredTags).where(eq(featuredTags.id, id)).run();
    if (removed.changes === 0) throw new UserError("featured tag not found", 404);
    profileChanged(ctx, uow);
  });
}
