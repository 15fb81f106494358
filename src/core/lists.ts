/**
 * The local account's lists: create, change and delete them, add and remove members. A member must be an
 * account the local account follows or asked to follow (Mastodon refuses others with 422); the membership
 * row hangs on the follow, so it ends with it. Which statuses land in a list is decided by feeds.ts.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Context } from "../context.js";
import { accountsByIds } from "../store/account-lists.js";
import { newId } from "../store/ids.js";
import {
  findList,
  type ListRow,
  membersAmong,
  REPLIES_POLICIES,
  type RepliesPolicy,
} from "../store/lists.js";
import { follows, listAccounts, lists } from "../store/schema.js";
import { UserError } from "./account.js";
import { requireLocalAccount } from "./common.js";
import { dropMemberFromList, mergeIntoList } from "./feeds.js";
import { commit } from "./unit-of-work.js";

export const MAX_LIST_TITLE = 256;
/** Mastodon's limits: lists per account, members per list. */
export const MAX_LISTS = 50;
export const MAX_LIST_ACCOUNTS = 500;

export interface ListInput {
  title?: string;
  repliesPolicy?: string;
  exclusive?: boolean;
}

function validTitle(title: string | undefined): string {
  const trimmed = title?.trim() ?? "";
  if (trimmed === "") throw new UserError("Validation failed: Title can't be blank");
  if ([...trimmed].length > MAX_LIST_TITLE)
    throw new UserError(`Validation failed: Title is too long (maximum is ${MAX_LIST_TITLE} characters)`);
  return trimmed;
}

function validPolicy(policy: string): RepliesPolicy {
  if (!(REPLIES_POLICIES as readonly string[]).includes(policy))
    throw new UserError(`'${policy}' is not a valid replies_policy`);
  return policy as RepliesPolicy;
}

function countOf(ctx: Context, query: SQL): number {
  return ctx.store.db.get<{ n: number }>(query)?.n ?? 0;
}

export function requireList(ctx: Context, id: string): ListRow {
  const list = findList(ctx.store.db, id);
  if (!list) throw new UserError("Record not found", 404);
  return list;
}

export function createList(ctx: Context, input: ListInput): ListRow {
  requireLocalAccount(ctx);
  const title = validTitle(input.title);
  const repliesPolicy = validPolicy(input.repliesPolicy ?? "list");
  return commit(ctx, () => {
    const count = countOf(ctx, sql`SELECT count(*) AS n FROM lists`);
    if (count >= MAX_LISTS) throw new UserError(`Validation failed: at most ${MAX_LISTS} lists`);
    const row: ListRow = {
      id: newId(),
      title,
      repliesPolicy,
      exclusive: input.exclusive ?? false,
      createdAt: Date.now(),
    };
    ctx.store.db.insert(lists).values(row).run();
    return row;
  });
}

/** Changes what is given; the feed keeps what it has (new statuses follow the new rules, as on Mastodon). */
export function updateList(ctx: Context, id: string, input: ListInput): ListRow {
  const list = requireList(ctx, id);
  const changes: Partial<ListRow> = {};
  if (input.title !== undefined) changes.title = validTitle(input.title);
  if (input.repliesPolicy !== undefined) changes.repliesPolicy = validPolicy(input.repliesPolicy);
  if (input.exclusive !== undefined) changes.exclusive = input.exclusive;
  if (Object.keys(changes).length === 0) return list;
  ctx.store.db.update(lists).set(changes).where(eq(lists.id, id)).run();
  return { ...list, ...changes };
}

/** Deletes a list; its members and its feed go with it (foreign keys). */
export function deleteList(ctx: Context, id: string): void {
  requireList(ctx, id);
  ctx.store.db.delete(lists).where(eq(lists.id, id)).run();
}

/**
 * Adds accounts to a list, all or none: each must exist (404), be followed or asked to follow (422) and not
 * be a member already (422, as Mastodon's uniqueness check). Their recent statuses are brought into the list.
 */
export function addListAccounts(ctx: Context, listId: string, accountIds: string[]): void {
  const local = requireLocalAccount(ctx);
  const list = requireList(ctx, listId);
  const ids = [...new Set(accountIds)];
  if (ids.length === 0) return;
  const found = accountsByIds(ctx.store.db, ids);
  if (found.length !== ids.length) throw new UserError("Record not found", 404);
  const followRows = ctx.store.db
    .select()
    .from(follows)
    .where(and(eq(follows.followerId, local.id), inArray(follows.followingId, ids)))
    .all();
  const followOf = new Map(followRows.map((f) => [f.followingId, f]));
  for (const account of found) {
    if (!followOf.has(account.id))
      throw new UserError("Validation failed: You must follow this account to add it to a list");
  }
  if (membersAmong(ctx.store.db, listId, ids).size > 0)
    throw new UserError("Validation failed: Account has already been taken");
  commit(ctx, () => {
    const count = countOf(ctx, sql`SELECT count(*) AS n FROM list_accounts WHERE list_id = ${listId}`);
    if (count + ids.length > MAX_LIST_ACCOUNTS)
      throw new UserError(`Validation failed: a list has at most ${MAX_LIST_ACCOUNTS} accounts`);
    for (const id of ids) {
      const follow = followOf.get(id);
      if (!follow) continue;
      ctx.store.db
        .insert(listAccounts)
        .values({ id: newId(), listId, accountId: id, followId: follow.id })
        .run();
      mergeIntoList(ctx, list, id);
    }
  });
}

/** Removes accounts from a list; their statuses leave its feed. Ids that are not members are ignored. */
export function removeListAccounts(ctx: Context, listId: string, accountIds: string[]): void {
  requireList(ctx, listId);
  const ids = [...new Set(accountIds)];
  if (ids.length === 0) return;
  commit(ctx, () => {
    ctx.store.db
      .delete(listAccounts)
      .where(and(eq(listAccounts.listId, listId), inArray(listAccounts.accountId, ids)))
      .run();
    dropMemberFromList(ctx, listId, ids);
  });
}
