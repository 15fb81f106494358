import { and, count, eq, inArray, isNotNull } from "drizzle-orm";
import { findLocalUser } from "./accounts.js";
import type { Db } from "./open.js";
import { accounts, deliveryJobs, follows, hosts, inboundActivities, statuses } from "./schema.js";

export interface InstanceCounts {
  statuses: number;
  /** Statuses by the local account. */
  localStatuses: number;
  accounts: number;
  followers: number;
  following: number;
  /** Delivery jobs waiting or in flight. */
  deliveryQueue: number;
  parkedHosts: { host: string; since: number }[];
  /** Received activities not applied yet. */
  inboundBacklog: number;
}

/** The numbers `wren status` shows. */
export function instanceCounts(db: Db): InstanceCounts {
  const total = (rows: { n: number }[]) => rows[0]?.n ?? 0;
  const local = findLocalUser(db)?.account.id ?? null;
  const accepted = (column: typeof follows.followerId | typeof follows.followingId) =>
    local === null
      ? 0
      : total(
          db
            .select({ n: count() })
            .from(follows)
            .where(and(eq(column, local), eq(follows.state, "accepted")))
            .all(),
        );
  return {
    statuses: total(db.select({ n: count() }).from(statuses).all()),
    localStatuses:
      local === null
        ? 0
        : total(db.select({ n: count() }).from(statuses).where(eq(statuses.accountId, local)).all()),
    accounts: total(db.select({ n: count() }).from(accounts).all()),
    followers: accepted(follows.followingId),
    following: accepted(follows.followerId),
    deliveryQueue: total(
      db
        .select({ n: count() })
        .from(deliveryJobs)
        .where(inArray(deliveryJobs.state, ["queued", "running"]))
        .all(),
    ),
    parkedHosts: db
      .select({ host: hosts.host, since: hosts.unavailableSince })
      .from(hosts)
      .where(isNotNull(hosts.unavailableSince))
      .orderBy(hosts.host)
      .all()
      .map((row) => ({ host: row.host, since: row.since ?? 0 })),
    inboundBacklog: total(
      db
        .select({ n: count() })
        .from(inboundActivities)
        .where(inArray(inboundActivities.state, ["pending", "running"]))
        .all(),
    ),
  };
}
