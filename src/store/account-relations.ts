/** The rows behind Relationship entities: follows both ways, blocks and mutes between the local account and others. */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { blocks, follows, mutes } from "./schema.js";

type FollowRow = typeof follows.$inferSelect;
type MuteRow = typeof mutes.$inferSelect;

export interface RelationRows {
  /** The local account's follows (accepted or requested) of the targets. */
  outgoing: FollowRow[];
  /** The targets' follows of the local account. */
  incoming: FollowRow[];
  blockedIds: string[];
  /** Mute rows as stored, expired ones included. */
  mutes: MuteRow[];
}

const queries = preparedPerDb((db) => ({
  outgoing: db
    .select()
    .from(follows)
    .where(and(eq(follows.followerId, sql.placeholder("local")), inList(follows.followingId, "ids")))
    .prepare(),
  incoming: db
    .select()
    .from(follows)
    .where(and(eq(follows.followingId, sql.placeholder("local")), inList(follows.followerId, "ids")))
    .prepare(),
  blocked: db
    .select({ id: blocks.targetId })
    .from(blocks)
    .where(and(eq(blocks.accountId, sql.placeholder("local")), inList(blocks.targetId, "ids")))
    .prepare(),
  mutes: db
    .select()
    .from(mutes)
    .where(and(eq(mutes.accountId, sql.placeholder("local")), inList(mutes.targetId, "ids")))
    .prepare(),
}));

export function loadRelationRows(db: Db, localId: string, targetIds: string[]): RelationRows {
  if (targetIds.length === 0) return { outgoing: [], incoming: [], blockedIds: [], mutes: [] };
  const q = queries(db);
  const args = { local: localId, ids: JSON.stringify(targetIds) };
  return {
    outgoing: q.outgoing.all(args),
    incoming: q.incoming.all(args),
    blockedIds: q.blocked.all(args).map((b) => b.id),
    mutes: q.mutes.all(args),
  };
}
