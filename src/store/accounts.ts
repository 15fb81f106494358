import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { preparedPerDb } from "./prepared.js";
import { accounts, keyPairs, users } from "./schema.js";

export type AccountRow = typeof accounts.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type KeyPairRow = typeof keyPairs.$inferSelect;

// Every API and ActivityPub request reads these, so they are prepared once.
const queries = preparedPerDb((db) => ({
  localUser: db.select().from(users).innerJoin(accounts, eq(users.accountId, accounts.id)).limit(1).prepare(),
  localByUsername: db
    .select()
    .from(accounts)
    .where(
      and(isNull(accounts.domain), sql`lower(${accounts.username}) = lower(${sql.placeholder("username")})`),
    )
    .prepare(),
  keyPairs: db
    .select()
    .from(keyPairs)
    .where(eq(keyPairs.owner, sql.placeholder("owner")))
    .prepare(),
}));

/** The local account and its user row, or null before `wren account create`. */
export function findLocalUser(db: Db): { account: AccountRow; user: UserRow } | null {
  const row = queries(db).localUser.get();
  return row ? { account: row.accounts, user: row.users } : null;
}

/** The local account's id and its user row's id (what tokens carry). */
export interface LocalAccountRef {
  readonly id: string;
  readonly userId: string;
}

const localRefs = new WeakMap<Db, LocalAccountRef>();

/**
 * The local account's ids, for the rules that only compare against them (feeds, notifications, the inbox, the
 * token's user on every API request): ids never change once the account exists, so they are read once per
 * database instead of a whole row every time.
 */
export function localAccountRef(db: Db): LocalAccountRef | null {
  const known = localRefs.get(db);
  if (known) return known;
  const row = queries(db).localUser.get();
  if (!row) return null;
  const ref = Object.freeze({ id: row.accounts.id, userId: row.users.id });
  localRefs.set(db, ref);
  return ref;
}

/** After the local account is deleted (`wren account delete`): the next lookup reads the database again. */
export function forgetLocalAccountRef(db: Db): void {
  localRefs.delete(db);
}

/** Usernames are case-insensitive, as on Mastodon. */
export function findLocalAccountByUsername(db: Db, username: string): AccountRow | null {
  return queries(db).localByUsername.get({ username }) ?? null;
}

export function findKeyPairs(db: Db, owner: string): { rsa?: KeyPairRow; ed25519?: KeyPairRow } {
  const rows = queries(db).keyPairs.all({ owner });
  return {
    rsa: rows.find((r) => r.algorithm === "rsa"),
    ed25519: rows.find((r) => r.algorithm === "ed25519"),
  };
}
