import { eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { generateEd25519KeyPair, generateRsaKeyPair } from "../federation/keys.js";
import { findKeyPairs, findLocalUser } from "../store/accounts.js";
import { isDeletedUsername } from "../store/deleted-actors.js";
import { newId } from "../store/ids.js";
import { transaction } from "../store/open.js";
import { accounts, keyPairs, users } from "../store/schema.js";
import { hashPassword, passwordProblem } from "./password.js";

/** Thrown by use cases for a request that cannot be carried out; surfaces turn it into a 4xx. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409 | 422 = 422,
  ) {
    super(message);
  }
}

export const INSTANCE_KEY_OWNER = "instance";

/** Mastodon's rule for local usernames: letters, digits and underscores, at most 30. */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return "the username must not be empty";
  if (username.length > 30) return "the username must have at most 30 characters";
  if (!/^[A-Za-z0-9_]+$/.test(username))
    return "the username may contain only letters, digits and underscores";
  return null;
}

/** Throws unless the server is still without its account. */
export function refuseSecondAccount(ctx: Context): void {
  const existing = findLocalUser(ctx.store.db);
  if (existing) {
    throw new UserError(
      `this server already has its account (@${existing.account.username}); Wren is a single-user server`,
      409,
    );
  }
}

export async function createAccount(ctx: Context, input: { username: string; password: string }) {
  refuseSecondAccount(ctx);
  const problem = usernameProblem(input.username) ?? passwordProblem(input.password);
  if (problem) throw new UserError(problem);
  if (isDeletedUsername(ctx.store.db, input.username)) {
    throw new UserError(
      `@${input.username} was deleted: other servers remember it as gone; choose another username`,
    );
  }
  const passwordHash = await hashPassword(input.password);
  const rsa = generateRsaKeyPair();
  const ed25519 = generateEd25519KeyPair();
  const now = Date.now();
  const accountId = newId(now);
  const { urls } = ctx;
  transaction(ctx.store, () => {
    // Checked again inside the write lock: two concurrent `account create` runs must not both succeed.
    refuseSecondAccount(ctx);
    ctx.store.db
      .insert(accounts)
      .values({
        id: accountId,
        uri: urls.actor(input.username),
        username: input.username,
        domain: null,
        displayName: input.username,
        url: urls.profile(input.username),
        inboxUrl: urls.inbox(input.username),
        sharedInboxUrl: urls.sharedInbox,
        outboxUrl: urls.outbox(input.username),
        followersUrl: urls.followers(input.username),
        followingUrl: urls.following(input.username),
        featuredUrl: urls.featured(input.username),
        discoverable: true,
        indexable: true,
        publishedAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    ctx.store.db
      .insert(users)
      .values({ id: newId(now), accountId, passwordHash, createdAt: now, updatedAt: now })
      .run();
    ctx.store.db
      .insert(keyPairs)
      .values([
        {
          id: newId(now),
          owner: accountId,
          algorithm: "rsa",
          publicKey: rsa.publicPem,
          privateKey: rsa.privatePem,
          createdAt: now,
        },
        {
          id: newId(now),
          owner: accountId,
          algorithm: "ed25519",
          publicKey: ed25519.publicKey,
          privateKey: ed25519.privateKey,
          createdAt: now,
        },
      ])
      .run();
  });
  const created = findLocalUser(ctx.store.db);
  if (!created) throw new Error("account vanished after creation");
  return created.account;
}

export async function changePassword(ctx: Context, password: string): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new UserError(problem);
  const local = findLocalUser(ctx.store.db);
  if (!local) throw new UserError("there is no account yet: create it with `wren account create`", 404);
  const passwordHash = await hashPassword(password);
  ctx.store.db
    .update(users)
    .set({ passwordHash, updatedAt: Date.now() })
    .where(eq(users.id, local.user.id))
    .run();
}

/** The instance actor's keys, made on first start. */
export function ensureInstanceKeys(ctx: Context): void {
  const existing = findKeyPairs(ctx.store.db, INSTANCE_KEY_OWNER);
  if (existing.rsa && existing.ed25519) return;
  const now = Date.now();
  const rows: (typeof keyPairs.$inferInsert)[] = [];
  if (!existing.rsa) {
    const rsa = generateRsaKeyPair();
    rows.push({
      id: newId(now),
      owner: INSTANCE_KEY_OWNER,
      algorithm: "rsa",
      publicKey: rsa.publicPem,
      privateKey: rsa.privatePem,
      createdAt: now,
    });
  }
  if (!existing.ed25519) {
    const ed = generateEd25519KeyPair();
    rows.push({
      id: newId(now),
      owner: INSTANCE_KEY_OWNER,
      algorithm: "ed25519",
      publicKey: ed.publicKey,
      privateKey: ed.privateKey,
      createdAt: now,
    });
  }
  ctx.store.db.insert(keyPairs).values(rows).onConflictDoNothing().run();
}
