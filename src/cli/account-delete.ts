/**
 * `wren account delete`: tells every server that knows the account (a Delete of the actor, signed with its
 * key), waits a bounded time for those deliveries, then wipes the account and all content, leaving a
 * database on which `wren account create` starts afresh.
 *
 * The server must be stopped: the command runs the delivery worker itself, so two workers never race for
 * the same jobs, and the wipe never pulls rows from under a running server (see docs/decisions.md).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { databaseInUse } from "../backup/restore.js";
import { loadConfig } from "../config/load.js";
import { createContext } from "../context.js";
import { INSTANCE_KEY_OWNER, UserError } from "../core/account.js";
import { announceAccountDeletion } from "../core/move.js";
import { DeliveryWorker } from "../federation/delivery/worker.js";
import { createLogger } from "../log.js";
import { findLocalUser, forgetLocalAccountRef } from "../store/accounts.js";
import { recordDeletedActor } from "../store/deleted-actors.js";
import { openStore, type Store } from "../store/open.js";
import { VERSION } from "../version.js";

export interface DeleteAccountOptions {
  configPath?: string;
  /** Longest wait for the deliveries of the Delete. */
  waitMs: number;
  /** Asks the user to type the username; null skips the question (--yes). */
  confirm: ((username: string) => Promise<string>) | null;
  print: (line: string) => void;
}

interface Progress {
  total: number;
  done: number;
  failed: number;
  pending: number;
  running: number;
  /** The earliest attempt of a queued job. */
  nextAttemptAt: number | null;
}

function progressOf(store: Store, activityId: string): Progress {
  const row = store.sqlite
    .prepare(
      `SELECT count(*) AS total,
              coalesce(sum(state = 'done'), 0) AS done,
              coalesce(sum(state = 'failed'), 0) AS failed,
              coalesce(sum(state = 'running'), 0) AS running,
              min(CASE WHEN state = 'queued' THEN next_attempt_at END) AS nextAttemptAt
       FROM delivery_jobs WHERE activity_id = ?`,
    )
    .get(activityId) as Omit<Progress, "pending">;
  return { ...row, pending: row.total - row.done - row.failed };
}

/** The queued Delete of the actor (announceAccountDeletion wrote it), or null when no server knows us. */
function deleteActivityId(store: Store, actorUri: string): string | null {
  const row = store.sqlite
    .prepare(
      `SELECT id FROM outbound_activities WHERE json_extract(body, '$.id') = ? AND json_extract(body, '$.type') = 'Delete'
       ORDER BY id DESC LIMIT 1`,
    )
    .get(`${actorUri}#delete`) as { id: string } | undefined;
  return row?.id ?? null;
}

/**
 * Runs the delivery worker until the Delete has reached every inbox, or failed for good, or the wait is
 * over (a retry due after the deadline ends the wait early: nothing can change before it).
 */
async function drain(ctx: ReturnType<typeof createContext>, activityId: string, waitMs: number) {
  const worker = new DeliveryWorker(ctx);
  const deadline = Date.now() + waitMs;
  worker.start();
  try {
    for (;;) {
      const progress = progressOf(ctx.store, activityId);
      if (progress.pending === 0 || Date.now() >= deadline) return progress;
      if (progress.running === 0 && (progress.nextAttemptAt ?? 0) > deadline) return progress;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await worker.stop(5_000);
  }
}

/**
 * Empties every table but the migrations', the instance actor's keys and the deleted actors (this one is
 * added to them), then rewrites the file.
 */
export function wipe(store: Store, deleted: { uri: string; username: string }): void {
  const tables = store.sqlite
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'",
    )
    .all() as { name: string }[];
  store.sqlite.pragma("foreign_keys = OFF");
  try {
    store.sqlite.transaction(() => {
      for (const { name } of tables) {
        const quoted = `"${name.replace(/"/g, '""')}"`;
        if (name === "deleted_actors") continue;
        if (name === "key_pairs") {
          store.sqlite.prepare(`DELETE FROM ${quoted} WHERE owner != ?`).run(INSTANCE_KEY_OWNER);
        } else {
          store.sqlite.prepare(`DELETE FROM ${quoted}`).run();
        }
      }
      recordDeletedActor(store.db, deleted.uri, deleted.username);
    })();
  } finally {
    store.sqlite.pragma("foreign_keys = ON");
  }
  forgetLocalAccountRef(store.db);
  // Deleted rows stay readable in free pages until the file is rewritten.
  store.sqlite.exec("VACUUM");
}

function emptyFolder(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
}

/** Returns the exit code. */
export async function deleteAccount(options: DeleteAccountOptions): Promise<number> {
  const { config } = loadConfig({ configPath: options.configPath });
  const path = config.database.path;
  if (!existsSync(path)) throw new UserError(`there is no database at ${path}`);
  if (databaseInUse(path)) {
    throw new UserError(
      "the database is in use: stop the server first (this command sends the Delete itself, then wipes the data)",
    );
  }
  const store = openStore(path, { busyTimeoutMs: config.database.busy_timeout_ms });
  try {
    const ctx = createContext(config, store, createLogger("warn"), VERSION);
    const local = findLocalUser(store.db);
    if (!local) throw new UserError("there is no account to delete");
    const { username, uri } = local.account;
    if (options.confirm) {
      const typed = await options.confirm(username);
      if (typed !== username) throw new UserError("the username typed does not match: nothing was deleted");
    }
    announceAccountDeletion(ctx);
    const activityId = deleteActivityId(store, uri);
    if (activityId) {
      const seconds = Math.round(options.waitMs / 1000);
      options.print(`Sending the Delete of ${uri} (waiting at most ${seconds} s)...`);
      const p = await drain(ctx, activityId, options.waitMs);
      options.print(
        `Delete delivered to ${p.done} of ${p.total} inboxes` +
          (p.failed > 0 ? `, refused by ${p.failed}` : "") +
          (p.pending > 0 ? `, ${p.pending} not reached in time (given up)` : "") +
          ".",
      );
    } else {
      options.print("No other server knows the account: nothing to send.");
    }
    wipe(store, { uri, username });
    emptyFolder(config.media.path);
    options.print(
      `@${username} is deleted and its data wiped; its address now answers 410 Gone. \`wren account create\` starts afresh (with another username).`,
    );
    return 0;
  } finally {
    store.close();
  }
}
