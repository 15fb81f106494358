/**
 * Updating the local profile (Mastodon's update_credentials): validates everything first, stores the images,
 * then writes the account, the preferences and the Update of the actor for followers in one transaction.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { saveProfileImage } from "../media/store.js";
import { type AccountRow, findLocalUser } from "../store/accounts.js";
import { accounts, type ProfileField, users } from "../store/schema.js";
import { UserError } from "./account.js";
import { formatText, type MentionRef } from "./text.js";
import { commit } from "./unit-of-work.js";

/** Mastodon's limits for local accounts. */
export const MAX_DISPLAY_NAME = 30;
export const MAX_NOTE = 500;
export const MAX_PROFILE_FIELDS = 4;
export const MAX_FIELD_NAME = 255;
export const MAX_FIELD_VALUE = 255;

/** Visibilities a default may take (direct is never a default, as on Mastodon). */
export const DEFAULT_PRIVACIES = ["public", "unlisted", "private"] as const;

/**
 * Where the note's plain-text source is kept (in users.preferences): the HTML loses the domain of remote
 * mentions, and apps edit the source they are given, so re-saving the profile from the HTML would change it.
 */
export const NOTE_SOURCE_KEY = "wren:profile:note_source";

export interface ProfileInput {
  displayName?: string;
  /** Plain text, as typed. */
  note?: string;
  /** Replaces every field; entries with an empty name and value are dropped. */
  fields?: { name: string; value: string }[];
  locked?: boolean;
  bot?: boolean;
  discoverable?: boolean;
  indexable?: boolean;
  /** A new image, or null to remove the current one. */
  avatar?: File | null;
  header?: File | null;
  source?: { privacy?: string; sensitive?: boolean; language?: string | null };
}

const length = (text: string) => [...text].length;

function validate(input: ProfileInput): { name: string; value: string }[] | undefined {
  if (input.displayName !== undefined && length(input.displayName) > MAX_DISPLAY_NAME) {
    throw new UserError(`display_name must have at most ${MAX_DISPLAY_NAME} characters`);
  }
  if (input.note !== undefined && length(input.note) > MAX_NOTE) {
    throw new UserError(`note must have at most ${MAX_NOTE} characters`);
  }
  let fields: { name: string; value: string }[] | undefined;
  if (input.fields !== undefined) {
    fields = input.fields
      .map((f) => ({ name: f.name.trim(), value: f.value.replace(/\s+/g, " ").trim() }))
      .filter((f) => f.name !== "" || f.value !== "");
    if (fields.length > MAX_PROFILE_FIELDS)
      throw new UserError(`at most ${MAX_PROFILE_FIELDS} profile fields`);
    for (const f of fields) {
      if (length(f.name) > MAX_FIELD_NAME)
        throw new UserError(`field names must have at most ${MAX_FIELD_NAME} characters`);
      if (length(f.value) > MAX_FIELD_VALUE)
        throw new UserError(`field values must have at most ${MAX_FIELD_VALUE} characters`);
    }
  }
  const source = input.source;
  if (source?.privacy !== undefined && !(DEFAULT_PRIVACIES as readonly string[]).includes(source.privacy)) {
    throw new UserError(`source[privacy] must be one of ${DEFAULT_PRIVACIES.join(", ")}`);
  }
  if (source?.language !== undefined && source.language !== null && !/^[a-z]{2,3}$/.test(source.language)) {
    throw new UserError("source[language] must be an ISO 639 language code");
  }
  return fields;
}

/** A mention in the profile links to an account we already know; the profile never triggers a lookup. */
function knownMention(ctx: Context, local: AccountRow) {
  return (ref: MentionRef): AccountRow | null => {
    const ours = ref.domain === null || ref.domain === ctx.urls.domain.toLowerCase();
    if (ours && ref.username.toLowerCase() === local.username.toLowerCase()) return local;
    if (ours) return null;
    const row = ctx.store.db
      .select()
      .from(accounts)
      .where(
        and(
          eq(accounts.domain, ref.domain as string),
          sql`lower(${accounts.username}) = lower(${ref.username})`,
        ),
      )
      .get();
    return row ?? null;
  };
}

function format(ctx: Context, local: AccountRow, text: string): string {
  return formatText(text, {
    mention: knownMention(ctx, local),
    tagUrl: (name) => `${ctx.urls.origin}/tags/${encodeURIComponent(name)}`,
  });
}

/** A field value is one line of linked text, without the paragraph around it. */
function formatFieldValue(ctx: Context, local: AccountRow, value: string): string {
  return format(ctx, local, value)
    .replace(/^<p>/, "")
    .replace(/<\/p>$/, "");
}

export async function updateProfile(ctx: Context, input: ProfileInput): Promise<AccountRow> {
  const found = findLocalUser(ctx.store.db);
  if (!found) throw new UserError("there is no account yet: create it with `wren account create`", 404);
  const { account: local, user } = found;
  const fields = validate(input);

  const changes: Partial<typeof accounts.$inferInsert> = {};
  if (input.displayName !== undefined) changes.displayName = input.displayName.trim();
  if (input.note !== undefined) changes.note = format(ctx, local, input.note);
  if (fields !== undefined) {
    changes.fields = fields.map((f): ProfileField => {
      const value = formatFieldValue(ctx, local, f.value);
      // A link keeps its verification while its value stays (as on Mastodon); the check after the commit redoes it.
      return {
        name: f.name,
        value,
        verifiedAt: local.fields.find((o) => o.value === value)?.verifiedAt ?? null,
      };
    });
  }
  for (const key of ["locked", "bot", "discoverable", "indexable"] as const) {
    if (input[key] !== undefined) changes[key] = input[key];
  }
  // Images last: everything that can be refused has been checked, so a refusal leaves no file behind.
  if (input.avatar === null) Object.assign(changes, { avatarUrl: null, avatarMediaId: null });
  else if (input.avatar) {
    const saved = await saveProfileImage(ctx, local.id, input.avatar);
    Object.assign(changes, { avatarUrl: saved.url, avatarMediaId: saved.mediaId });
  }
  if (input.header === null) Object.assign(changes, { headerUrl: null, headerMediaId: null });
  else if (input.header) {
    const saved = await saveProfileImage(ctx, local.id, input.header);
    Object.assign(changes, { headerUrl: saved.url, headerMediaId: saved.mediaId });
  }

  const preferences: Record<string, unknown> = {};
  if (input.note !== undefined) preferences[NOTE_SOURCE_KEY] = input.note;
  if (input.source?.privacy !== undefined) preferences["posting:default:visibility"] = input.source.privacy;
  if (input.source?.sensitive !== undefined)
    preferences["posting:default:sensitive"] = input.source.sensitive;
  if (input.source?.language !== undefined) preferences["posting:default:language"] = input.source.language;

  const federated = Object.entries(changes).some(([key, value]) => {
    const before = (local as Record<string, unknown>)[key];
    return JSON.stringify(before) !== JSON.stringify(value);
  });

  return commit(ctx, (uow) => {
    const now = Date.now();
    if (federated) {
      ctx.store.db
        .update(accounts)
        .set({ ...changes, updatedAt: Math.max(now, local.updatedAt + 1) })
        .where(eq(accounts.id, local.id))
        .run();
    }
    if (Object.keys(preferences).length > 0) {
      // Read again inside the transaction: another request may have changed other preferences meanwhile.
      const current = ctx.store.db
        .select({ preferences: users.preferences })
        .from(users)
        .where(eq(users.id, user.id))
        .get();
      ctx.store.db
        .update(users)
        .set({ preferences: { ...(current?.preferences ?? {}), ...preferences }, updatedAt: now })
        .where(eq(users.id, user.id))
        .run();
    }
    const updated = ctx.store.db.select().from(accounts).where(eq(accounts.id, local.id)).get();
    if (!updated) throw new Error("the local account vanished");
    if (federated) uow.record({ type: "ProfileUpdated", account: updated });
    return updated;
  });
}
