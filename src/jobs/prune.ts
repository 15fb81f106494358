/**
 * Pruning: keeps the database inside its disk by removing what the owner never touched.
 *
 * - remote statuses older than `prune.remote_statuses_days` that are not protected (see PROTECTED below),
 *   with everything that hangs off them (feeds, mentions, tag links, polls and votes, favourites, edits,
 *   notifications: foreign-key cascades; media rows: deleted here, since their key only nulls);
 * - notifications older than `prune.notifications_days`;
 * - remote accounts nothing refers to any more, and tags nothing refers to.
 *
 * Every step works in windows of BATCH rows walked in id order, one short transaction per window, and yields
 * to the event loop between windows, so requests wait at most one window (a few milliseconds). At the end the
 * freed pages are handed back to the file system with `PRAGMA incremental_vacuum`, in steps too.
 */
import { rmSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Context } from "../context.js";
import { evictCachedMedia, sweepUnreferencedMedia } from "../media/cache.js";
import { deleteMediaFile } from "../media/store.js";

const DAY = 24 * 60 * 60 * 1000;
/**
 * Rows examined per transaction: removing 50 remote statuses with their feed entries, mentions and tag links
 * takes about 5 ms on a busy 2-core machine (200 took 12 ms, with a long tail).
 */
export const BATCH = 50;
/** Pages freed per incremental_vacuum step (4 KiB pages: 4 MiB). */
const VACUUM_STEP_PAGES = 1024;

export interface PruneOptions {
  remoteStatusesDays: number;
  notificationsDays: number;
  now?: number;
}

export interface PruneCounts {
  statuses: number;
  media: number;
  polls: number;
  notifications: number;
  accounts: number;
  tags: number;
}

export interface PruneReport extends PruneCounts {
  bytesBefore: number;
  bytesAfter: number;
  /** Cached remote files removed because nothing refers to them any more, and evicted for the disk budget. */
  cachedFilesSwept: number;
  cachedFilesEvicted: number;
  /** The days used in the last pass (halved when the disk budget was exceeded). */
  remoteStatusesDays: number;
  notificationsDays: number;
  /** False when the database predates incremental auto-vacuum: the file keeps its size (see decisions). */
  incrementalVacuum: boolean;
}

const LOCAL_IDS = "(SELECT id FROM accounts WHERE domain IS NULL)";

/**
 * Why a remote status stays however old it is: the owner favourited, boosted, bookmarked, replied to it or
 * voted in its poll; it mentions the owner, replies to the owner, boosts one of the owner's posts or is in a
 * thread the owner posted in; its author pinned it; it is in a direct conversation, a filter, a newer boost,
 * a notification younger than `notifications_days`, or a scheduled post replies to it. Home and list feed entries alone do not protect.
 */
const PROTECTED = `(
  s.pinned_at IS NOT NULL
  OR EXISTS (SELECT 1 FROM bookmarks b WHERE b.status_id = s.id)
  OR EXISTS (SELECT 1 FROM favourites f WHERE f.status_id = s.id AND f.account_id IN ${LOCAL_IDS})
  OR EXISTS (SELECT 1 FROM statuses r WHERE r.reblog_of_id = s.id AND (r.local = 1 OR r.created_at >= :cutoff))
  OR EXISTS (SELECT 1 FROM statuses r WHERE r.in_reply_to_id = s.id AND r.local = 1)
  OR EXISTS (SELECT 1 FROM statuses o WHERE o.id = s.reblog_of_id AND o.local = 1)
  OR (s.in_reply_to_account_id IS NOT NULL AND s.in_reply_to_account_id IN ${LOCAL_IDS})
  OR EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = s.id AND m.account_id IN ${LOCAL_IDS})
  OR EXISTS (SELECT 1 FROM statuses o WHERE o.conversation_uri = s.conversation_uri AND o.local = 1)
  OR EXISTS (SELECT 1 FROM statuses o WHERE o.conversation_uri = s.uri AND o.local = 1)
  OR EXISTS (SELECT 1 FROM polls p JOIN poll_votes v ON v.poll_id = p.id
             WHERE p.status_id = s.id AND v.account_id IN ${LOCAL_IDS})
  OR EXISTS (SELECT 1 FROM conversation_statuses cs WHERE cs.status_id = s.id)
  OR EXISTS (SELECT 1 FROM filter_statuses fs WHERE fs.status_id = s.id)
  OR EXISTS (SELECT 1 FROM scheduled_statuses ss WHERE json_extract(ss.params, '$.inReplyToId') = s.id)
  OR EXISTS (SELECT 1 FROM notifications n WHERE n.status_id = s.id AND n.created_at >= :notificationCutoff)
)`;

/** Why a remote account stays: any row that points at it (most would cascade away with it). */
const REFERENCED = `(
  EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = a.id)
  OR EXISTS (SELECT 1 FROM follows f WHERE f.following_id = a.id)
  OR EXISTS (SELECT 1 FROM blocks b WHERE b.target_id = a.id OR b.account_id = a.id)
  OR EXISTS (SELECT 1 FROM mutes m WHERE m.target_id = a.id OR m.account_id = a.id)
  OR EXISTS (SELECT 1 FROM list_accounts l WHERE l.account_id = a.id)
  OR EXISTS (SELECT 1 FROM endorsements e WHERE e.target_id = a.id)
  OR EXISTS (SELECT 1 FROM account_notes n WHERE n.target_id = a.id)
  OR EXISTS (SELECT 1 FROM statuses s WHERE s.account_id = a.id)
  OR EXISTS (SELECT 1 FROM mentions m WHERE m.account_id = a.id)
  OR EXISTS (SELECT 1 FROM notifications n WHERE n.from_account_id = a.id)
  OR EXISTS (SELECT 1 FROM favourites f WHERE f.account_id = a.id)
  OR EXISTS (SELECT 1 FROM poll_votes v WHERE v.account_id = a.id)
  OR EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.account_id = a.id)
  OR EXISTS (SELECT 1 FROM reports r WHERE r.from_account_id = a.id OR r.target_account_id = a.id)
  OR EXISTS (SELECT 1 FROM notification_requests q WHERE q.from_account_id = a.id)
  OR EXISTS (SELECT 1 FROM notification_permissions p WHERE p.from_account_id = a.id)
  OR EXISTS (SELECT 1 FROM conversations c, json_each(c.participant_ids) j WHERE j.value = a.id)
)`;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The database's size on disk: the main file and its write-ahead log. */
export function databaseBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      bytes += statSync(file).size;
    } catch {
      // no WAL file (yet)
    }
  }
  return bytes;
}

interface Target {
  sqlite: Database.Database;
  /** Removes a media file by name (after the rows are gone); null in a dry run. */
  removeFile: ((name: string) => Promise<void>) | null;
}

/** Walks a table in id order, BATCH rows per transaction; `step` returns how many it removed. */
async function inWindows(
  target: Target,
  windowSql: string,
  step: (ids: string[]) => number,
): Promise<number> {
  const window = target.sqlite.prepare(windowSql).pluck();
  let after = "";
  let removed = 0;
  for (;;) {
    const ids = window.all(after) as string[];
    if (ids.length === 0) return removed;
    after = ids[ids.length - 1] as string;
    removed += target.sqlite.transaction(() => step(ids)).immediate();
    await yieldToEventLoop();
  }
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => "?").join(",");
}

async function pruneStatuses(
  target: Target,
  counts: PruneCounts,
  cutoff: number,
  notificationCutoff: number,
) {
  const { sqlite } = target;
  const files: string[] = [];
  counts.statuses += await inWindows(
    target,
    `SELECT id FROM statuses WHERE local = 0 AND id > ? ORDER BY id LIMIT ${BATCH}`,
    (window) => {
      const doomed = sqlite
        .prepare(
          `SELECT s.id FROM statuses s WHERE s.id IN (${placeholders(window.length)})
           AND s.local = 0 AND s.created_at < :cutoff AND NOT ${PROTECTED}`,
        )
        .pluck()
        .all(...window, { cutoff, notificationCutoff }) as string[];
      if (doomed.length === 0) return 0;
      const list = placeholders(doomed.length);
      // Remote boosts of a doomed status are old themselves (a newer or local one would have protected it).
      const boosts = sqlite
        .prepare(`SELECT id FROM statuses WHERE reblog_of_id IN (${list}) AND local = 0`)
        .pluck()
        .all(...doomed) as string[];
      const all = [...doomed, ...boosts];
      const allList = placeholders(all.length);
      const media = sqlite
        .prepare(`SELECT file_name, preview_file_name FROM media_attachments WHERE status_id IN (${allList})`)
        .raw()
        .all(...all) as [string | null, string | null][];
      for (const [file, preview] of media) {
        if (file) files.push(file);
        if (preview) files.push(preview);
      }
      counts.media += sqlite
        .prepare(`DELETE FROM media_attachments WHERE status_id IN (${allList})`)
        .run(...all).changes;
      counts.polls += sqlite
        .prepare(`SELECT count(*) FROM polls WHERE status_id IN (${allList})`)
        .pluck()
        .get(...all) as number;
      // Everything else that points at a status goes with it by ON DELETE CASCADE.
      return sqlite.prepare(`DELETE FROM statuses WHERE id IN (${allList})`).run(...all).changes;
    },
  );
  if (target.removeFile) for (const name of files) await target.removeFile(name);
}

async function pruneNotifications(target: Target, counts: PruneCounts, notificationCutoff: number) {
  counts.notifications += await inWindows(
    target,
    `SELECT id FROM notifications WHERE id > ? ORDER BY id LIMIT ${BATCH}`,
    (window) =>
      target.sqlite
        .prepare(`DELETE FROM notifications WHERE id IN (${placeholders(window.length)}) AND created_at < ?`)
        .run(...window, notificationCutoff).changes,
  );
}

async function pruneAccounts(target: Target, counts: PruneCounts, cutoff: number) {
  counts.accounts += await inWindows(
    target,
    `SELECT id FROM accounts WHERE domain IS NOT NULL AND id > ? ORDER BY id LIMIT ${BATCH}`,
    (window) =>
      target.sqlite
        .prepare(
          `DELETE FROM accounts WHERE id IN (
             SELECT a.id FROM accounts a WHERE a.id IN (${placeholders(window.length)})
             AND a.domain IS NOT NULL AND coalesce(a.fetched_at, a.updated_at) < ? AND NOT ${REFERENCED})`,
        )
        .run(...window, cutoff).changes,
  );
}

async function pruneTags(target: Target, counts: PruneCounts) {
  counts.tags += await inWindows(
    target,
    `SELECT id FROM tags WHERE id > ? ORDER BY id LIMIT ${BATCH}`,
    (window) =>
      target.sqlite
        .prepare(
          `DELETE FROM tags WHERE id IN (${placeholders(window.length)}) AND followed = 0
           AND NOT EXISTS (SELECT 1 FROM status_tags st WHERE st.tag_id = tags.id)
           AND NOT EXISTS (SELECT 1 FROM featured_tags ft WHERE ft.tag_id = tags.id)`,
        )
        .run(...window).changes,
  );
}

/** Hands free pages back to the file system, a step at a time; false when auto_vacuum is not incremental. */
async function shrink(sqlite: Database.Database): Promise<boolean> {
  if (sqlite.pragma("auto_vacuum", { simple: true }) !== 2) return false;
  while ((sqlite.pragma("freelist_count", { simple: true }) as number) > 0) {
    sqlite.pragma(`incremental_vacuum(${VACUUM_STEP_PAGES})`);
    await yieldToEventLoop();
  }
  // The file is truncated when the write-ahead log is copied back into it.
  sqlite.pragma("wal_checkpoint(TRUNCATE)");
  return true;
}

async function prunePass(target: Target, options: PruneOptions, counts: PruneCounts): Promise<void> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.remoteStatusesDays * DAY;
  const notificationCutoff = now - options.notificationsDays * DAY;
  // Notifications first: an old one no longer keeps its status.
  await pruneNotifications(target, counts, notificationCutoff);
  await pruneStatuses(target, counts, cutoff, notificationCutoff);
  await pruneAccounts(target, counts, cutoff);
  await pruneTags(target, counts);
}

const emptyCounts = (): PruneCounts => ({
  statuses: 0,
  media: 0,
  polls: 0,
  notifications: 0,
  accounts: 0,
  tags: 0,
});

/** Bytes of the files in the media folder (uploads and the remote media cache); 0 when it does not exist. */
export async function mediaFolderBytes(path: string): Promise<number> {
  let bytes = 0;
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch {
    return 0;
  }
  for (const name of entries) {
    try {
      const info = await stat(join(path, name));
      if (info.isFile()) bytes += info.size;
    } catch {
      // removed meanwhile
    }
  }
  return bytes;
}

/**
 * One prune of the running server's database: a pass with the configured days and the removal of cached
 * remote files nothing refers to any more. Then, while the database and the media folder together are above
 * `prune.disk_budget_mb` (when set): first the remote media cache is evicted (least recently viewed first)
 * as far as needed, then further passes run with the days halved each time (down to one day), each logged
 * as a warning.
 */
export async function prune(ctx: Context, overrides: Partial<PruneOptions> = {}): Promise<PruneReport> {
  const path = ctx.config.database.path;
  const target: Target = {
    sqlite: ctx.store.sqlite,
    removeFile: (name) => deleteMediaFile(ctx, name),
  };
  let options: PruneOptions = {
    remoteStatusesDays: ctx.config.prune.remote_statuses_days,
    notificationsDays: ctx.config.prune.notifications_days,
    ...overrides,
  };
  const counts = emptyCounts();
  const bytesBefore = databaseBytes(path);
  await prunePass(target, options, counts);
  let incrementalVacuum = await shrink(target.sqlite);
  let cachedFilesSwept = await sweepUnreferencedMedia(ctx);
  let cachedFilesEvicted = 0;
  const budget = ctx.config.prune.disk_budget_mb * 1024 * 1024;
  const diskBytes = async () => databaseBytes(path) + (await mediaFolderBytes(ctx.config.media.path));
  let used = budget > 0 ? await diskBytes() : 0;
  if (budget > 0 && used > budget) {
    const evicted = await evictCachedMedia(ctx, used - budget);
    cachedFilesEvicted += evicted.files;
    ctx.log.warn(
      { bytes: used, budgetMb: ctx.config.prune.disk_budget_mb, evicted },
      "prune: the database and media exceed prune.disk_budget_mb, cached remote media evicted",
    );
    used = await diskBytes();
  }
  while (budget > 0 && used > budget && options.remoteStatusesDays > 1) {
    options = {
      ...options,
      remoteStatusesDays: Math.max(1, Math.floor(options.remoteStatusesDays / 2)),
      notificationsDays: Math.max(1, Math.floor(options.notificationsDays / 2)),
    };
    ctx.log.warn(
      { bytes: used, budgetMb: ctx.config.prune.disk_budget_mb, ...options },
      "prune: the database and media exceed prune.disk_budget_mb, pruning again with halved days",
    );
    await prunePass(target, options, counts);
    incrementalVacuum = await shrink(target.sqlite);
    cachedFilesSwept += await sweepUnreferencedMedia(ctx);
    used = await diskBytes();
  }
  const report = {
    ...counts,
    bytesBefore,
    bytesAfter: databaseBytes(path),
    cachedFilesSwept,
    cachedFilesEvicted,
    ...options,
    incrementalVacuum,
  };
  ctx.log.info(report, "prune: done");
  return report;
}

/**
 * What a prune would remove, without changing anything: the database is copied (VACUUM INTO, a read that
 * does not block the server's writes) to a temporary file, the copy is pruned and counted, then deleted.
 */
export async function pruneDryRun(ctx: Context, overrides: Partial<PruneOptions> = {}): Promise<PruneCounts> {
  const copy = join(tmpdir(), `wren-prune-dry-run-${process.pid}-${Date.now()}.db`);
  ctx.store.sqlite.prepare("VACUUM INTO ?").run(copy);
  const sqlite = new Database(copy);
  try {
    sqlite.pragma("foreign_keys = ON");
    const counts = emptyCounts();
    await prunePass(
      { sqlite, removeFile: null },
      {
        remoteStatusesDays: ctx.config.prune.remote_statuses_days,
        notificationsDays: ctx.config.prune.notifications_days,
        ...overrides,
      },
      counts,
    );
    return counts;
  } finally {
    sqlite.close();
    rmSync(copy, { force: true });
  }
}

/**
 * Switches a database made before incremental auto-vacuum to it: a full VACUUM, which rewrites the whole
 * file (needs as much free disk again and holds the write lock throughout), so it is only offered from the
 * CLI, with the server stopped. Returns false when it was already incremental.
 */
export function enableIncrementalVacuum(ctx: Context): boolean {
  const sqlite = ctx.store.sqlite;
  if (sqlite.pragma("auto_vacuum", { simple: true }) === 2) return false;
  sqlite.pragma("auto_vacuum = INCREMENTAL");
  sqlite.exec("VACUUM");
  return true;
}
