/**
 * Backups made by the running server: on the `backup.schedule` cron expression into the backup folder (keeping
 * `backup.keep`), and on demand from the settings page into a folder of their own. One at a time: a backup
 * reads the whole database and media folder, which a small machine should not do twice at once.
 */

import { type BackupResult, createBackup } from "../backup/backup.js";
import type { Progress } from "../backup/progress.js";
import { formatBytes } from "../cli/format.js";
import type { Context } from "../context.js";
import { VERSION } from "../version.js";

export const SCHEDULED_BACKUP_JOB = "backup";

const silent: Progress = { step() {}, percent() {}, done() {} };
const running = new WeakSet<Context>();

export class BackupBusyError extends Error {
  constructor() {
    super("a backup is being made already");
  }
}

/** Takes the one backup slot of this server; returns its release, or throws BackupBusyError. */
export function acquireBackupSlot(ctx: Context): () => void {
  if (running.has(ctx)) throw new BackupBusyError();
  running.add(ctx);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    running.delete(ctx);
  };
}

/** An online backup of this server's database and media into `to`, keeping `keep` archives there. */
export function writeBackup(ctx: Context, to: string, keep: number): Promise<BackupResult> {
  return createBackup({
    databasePath: ctx.config.database.path,
    mediaPath: ctx.config.media.path,
    to,
    keep,
    busyTimeoutMs: ctx.config.database.busy_timeout_ms,
    wrenVersion: VERSION,
    progress: silent,
  });
}

/** The scheduled backup: into backup.path; returns the line `wren status` shows. */
export async function scheduledBackup(ctx: Context): Promise<string> {
  const release = acquireBackupSlot(ctx);
  try {
    const result = await writeBackup(ctx, ctx.config.backup.path, ctx.config.backup.keep);
    ctx.log.info({ archive: result.archive, bytes: result.bytes }, "scheduled backup written");
    return `${result.archive} (${formatBytes(result.bytes)})`;
  } finally {
    release();
  }
}
