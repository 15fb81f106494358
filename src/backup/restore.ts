import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { UserError } from "../core/account.js";
import { openStore } from "../store/open.js";
import type { Manifest } from "./archive.js";
import { unpackAndVerify } from "./archive.js";
import type { Progress } from "./progress.js";
import { ArchiveError } from "./tar.js";

export interface RestoreOptions {
  archive: string;
  databasePath: string;
  mediaPath: string;
  force: boolean;
  busyTimeoutMs: number;
  progress: Progress;
}

/**
 * True when another connection has the database open. A connection in exclusive locking mode cannot take
 * its lock while any other connection (an idle server included) holds the WAL's shared memory.
 */
export function databaseInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 0");
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return false;
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return true;
    // A damaged file is not in use; whether it may be replaced is the --force check's question.
    if (code.startsWith("SQLITE_")) return false;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * True when restoring would replace something: media files, or a database with an account in it. A database
 * only migrated (a fresh install) holds nothing; one that cannot be read is treated as holding data.
 */
function holdsData(databasePath: string, mediaPath: string): boolean {
  if (existsSync(mediaPath) && readdirSync(mediaPath).length > 0) return true;
  if (!existsSync(databasePath) || statSync(databasePath).size === 0) return false;
  try {
    // Not read-only: a read-only connection to a WAL database leaves -wal and -shm files behind.
    const db = new Database(databasePath, { fileMustExist: true });
    try {
      const hasAccounts = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
        .get();
      return hasAccounts !== undefined && db.prepare("SELECT 1 FROM accounts LIMIT 1").get() !== undefined;
    } finally {
      db.close();
    }
  } catch {
    return true;
  }
}

const SIDE_FILES = ["", "-wal", "-shm", "-journal"];

function moveFolder(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    cpSync(from, to, { recursive: true });
    rmSync(from, { recursive: true, force: true });
  }
}

/**
 * Restores an archive into a stopped instance: the archive is unpacked beside the database and checked in
 * full first, so a damaged one changes nothing; then the current database and media folder are moved aside,
 * the restored ones moved in, and the store opened once to run the migrations. Should that fail, the
 * previous files are put back.
 */
export async function restoreBackup(options: RestoreOptions): Promise<Manifest> {
  const { archive, databasePath, mediaPath, progress } = options;
  if (!existsSync(archive) || !statSync(archive).isFile()) throw new UserError(`no archive at ${archive}`);
  const refuseInUse = () => {
    if (databaseInUse(databasePath))
      throw new UserError(`the database ${databasePath} is in use: stop Wren before restoring`);
  };
  refuseInUse();
  if (holdsData(databasePath, mediaPath) && !options.force)
    throw new UserError(
      `${databasePath} or ${mediaPath} already holds data; run again with --force to replace it with the archive`,
    );

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(dirname(databasePath), { recursive: true });
  const staging = join(dirname(databasePath), `.wren-restore-${stamp}`);
  const previousMedia = join(dirname(mediaPath), `.${basename(mediaPath)}-before-restore-${stamp}`);
  try {
    progress.step("checking the archive");
    const size = statSync(archive).size;
    let manifest: Manifest;
    let unpackedMedia: string;
    let unpackedDatabase: string;
    try {
      const unpacked = await unpackAndVerify(archive, join(staging, "new"), (read) =>
        progress.percent(read, size),
      );
      manifest = unpacked.manifest;
      unpackedMedia = unpacked.mediaDir;
      unpackedDatabase = unpacked.databasePath;
    } catch (error) {
      if (error instanceof ArchiveError)
        throw new UserError(`refusing ${archive}: ${error.message}. Nothing was changed.`);
      throw error;
    }
    progress.done(`(backup of ${manifest.createdAt}, Wren ${manifest.wrenVersion})`);

    refuseInUse();
    progress.step("replacing the database and media");
    const previous = join(staging, "previous");
    mkdirSync(previous);
    const moved: string[] = [];
    for (const suffix of SIDE_FILES) {
      if (existsSync(databasePath + suffix)) {
        renameSync(databasePath + suffix, join(previous, `wren.db${suffix}`));
        moved.push(suffix);
      }
    }
    const hadMedia = existsSync(mediaPath);
    if (hadMedia) renameSync(mediaPath, previousMedia);
    const putBack = () => {
      for (const suffix of SIDE_FILES) rmSync(databasePath + suffix, { force: true });
      for (const suffix of moved) renameSync(join(previous, `wren.db${suffix}`), databasePath + suffix);
      rmSync(mediaPath, { recursive: true, force: true });
      if (hadMedia) renameSync(previousMedia, mediaPath);
    };
    try {
      renameSync(unpackedDatabase, databasePath);
      if (existsSync(unpackedMedia)) moveFolder(unpackedMedia, mediaPath);
      else mkdirSync(mediaPath, { recursive: true });
      progress.done();
      progress.step("running migrations");
      openStore(databasePath, { busyTimeoutMs: options.busyTimeoutMs }).close();
      progress.done();
    } catch (error) {
      putBack();
      throw new UserError(`restore failed, the previous data is back in place: ${(error as Error).message}`);
    }
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(previousMedia, { recursive: true, force: true });
  }
}
