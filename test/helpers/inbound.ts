import type { SqliteLike } from "./fedify-peer.js";
import { waitUntil } from "./fedify-peer.js";

/** A running Wren (its store) or a database opened on the side (a spawned server's). */
type Target = { context: { store: { sqlite: SqliteLike } } } | SqliteLike;

function sqliteOf(target: Target): SqliteLike {
  return "context" in target ? target.context.store.sqlite : target;
}

export interface InboundRow {
  id: number;
  dedupe_key: string;
  actor_uri: string;
  state: "pending" | "running" | "done" | "failed";
  attempts: number;
  last_error: string | null;
}

/** Every row of the inbound queue, oldest first. */
export function inboundRows(target: Target): InboundRow[] {
  return sqliteOf(target)
    .prepare(
      "SELECT id, dedupe_key, actor_uri, state, attempts, last_error FROM inbound_activities ORDER BY id",
    )
    .all() as InboundRow[];
}

/**
 * Waits until the inbox worker has applied (or failed) every activity the inbox accepted: no row of the
 * inbound queue is pending or running.
 */
export async function inboxSettled(target: Target, timeoutMs = 10_000): Promise<void> {
  const sqlite = sqliteOf(target);
  const waiting = () =>
    sqlite
      .prepare("SELECT count(*) AS n FROM inbound_activities WHERE state IN ('pending', 'running')")
      .get() as { n: number };
  try {
    await waitUntil(() => waiting().n === 0, "the inbound queue to settle", timeoutMs);
  } catch (error) {
    const left = inboundRows(sqlite).filter((r) => r.state === "pending" || r.state === "running");
    throw new Error(`${(error as Error).message}: ${JSON.stringify(left)}`);
  }
}

/** The last inbound row, once it is settled (for tests that check how an activity ended). */
export async function lastInbound(target: Target): Promise<InboundRow> {
  await inboxSettled(target);
  const rows = inboundRows(target);
  const last = rows.at(-1);
  if (!last) throw new Error("no inbound activity was recorded");
  return last;
}
