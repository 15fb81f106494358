import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { accounts, keyPairs, users } from "./schema.js";

export type AccountRow = typeof accounts.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type KeyPairRow = typeof keyPairs.$inferSelect;

/** The local account and its user row, or null before `wren account create`. */
export function findLocalUser(db: Db): { account: AccountRow; user: UserRow } | null {
  const row = db.select().from(users).innerJoin(accounts, eq(users.accountId, accounts.id)).limit(1).get();
  return row ? { account: row.accounts, user: row.users } : null;
}

/** Usernames are case-insensitive, as on Mastodon. */
export function findLocalAccountByUsername(db: Db, username: string): AccountRow | null {
  const account = db
    .select()
    .from(accounts)
    .where(and(isNull(accounts.domain), sql`lower(${accounts.username}) = lower(${username})`))
    .get();
  return account ?? null;
}

export function findKeyPairs(db: Db, owner: string): { rsa?: KeyPairRow; ed25519?: KeyPairRow } {
  const rows = db.select().from(keyPairs).where(eq(keyPairs.owner, owner)).all();
  return {
    rsa: rows.find((r) => r.algorithm === "rsa"),
    ed25519: rows.find((r) => r.algorithm === "ed25519"),
  };
}
