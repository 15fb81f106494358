/**
 * Stores the result of a profile link check (federation/verify-links.ts): a field keeps the time it was
 * first found verified, and loses it when its page, read again, no longer links back (a page that cannot be
 * read is not reported, so it changes nothing). Only fields still as they were checked are touched, so a
 * check that raced a profile edit changes nothing of the new fields. Verification is shown to apps (Account
 * `fields[].verified_at`) and on the profile page; other servers check for themselves, so nothing is sent.
 */
import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { findLocalUser } from "../store/accounts.js";
import { accounts, type ProfileField } from "../store/schema.js";
import { commit } from "./unit-of-work.js";

export interface ProfileLinkCheck {
  name: string;
  value: string;
  verified: boolean;
}

export function markProfileLinks(ctx: Context, checks: ProfileLinkCheck[], now = Date.now()): void {
  commit(ctx, () => {
    const local = findLocalUser(ctx.store.db)?.account;
    if (!local) return;
    let changed = false;
    const fields = local.fields.map((field): ProfileField => {
      const check = checks.find((c) => c.name === field.name && c.value === field.value);
      if (!check) return field;
      const verifiedAt = check.verified ? (field.verifiedAt ?? now) : null;
      if (verifiedAt === (field.verifiedAt ?? null)) return field;
      changed = true;
      return { ...field, verifiedAt };
    });
    if (changed) ctx.store.db.update(accounts).set({ fields }).where(eq(accounts.id, local.id)).run();
  });
}
