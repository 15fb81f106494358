import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import Database from "better-sqlite3";
import { UserError } from "../core/account.js";
import {
  archiveName,
  countRows,
  DATABASE_ENTRY,
  integrityProblems,
  listArchives,
  MANIFEST_ENTRY,
  type Manifest,
  MEDIA_PREFIX,
  referencedMedia,
  unpackAndVerify,
} from "./archive.js";
import type { Progress } from "./progress.js";
import { ArchiveError, END_OF_ARCHIVE, fileHeader, padding } from "./tar.js";

/** 4096 pages: 16 MiB with the default page size, a step of the progress bar. */
const PAGES_PER_STEP = 4096;
const ALL_PAGES = 0x7fffffff;

export interface BackupOptions {
  databasePath: string;
  mediaPath: string;
  /** Folder the archive goes to (created if missing). */
  to: string;
  /** Archives to keep in `to`, this one included. */
  keep: number;
  busyTimeoutMs: number;
  wrenVersion: string;
  progress: Progress;
  now?: Date;
}

export interface BackupResult {
  archive: string;
  bytes: number;
  tables: Record<string, number>;
  mediaFiles: number;
  /** Files the database refers to that were not in the media folder. */
  missingMedia: string[];
  pruned: string[];
}

interface PlannedFile {
  entry: string;
  source: string;
  size: number;
  mtimeMs: number;
}

/** Every regular file under `dir`, as paths relative to it with "/" separators. */
function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path, base));
    else if (entry.isFile()) found.push(relative(base, path).split(sep).join("/"));
  }
  return found.sort();
}

/** A file system error as a sentence for the owner (disk full, permissions), else the error itself. */
function explain(error: unknown, where: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === "ENOSPC"
      ? "the disk is full"
      : code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : code === "EROFS"
          ? "the file system is read-only"
          : code === "EDQUOT"
            ? "the disk quota is exceeded"
            : null;
  const message = (error as Error).message ?? String(error);
  if (reason) return new UserError(`cannot write ${where}: ${reason} (${message})`);
  if (typeof code === "string" && code.startsWith("E"))
    return new UserError(`cannot write ${where}: ${message}`);
  if (/SQLITE_FULL|database or disk is full/i.test(message))
    return new UserError(`cannot write ${where}: the disk is full (${message})`);
  return error instanceof Error ? error : new Error(message);
}

/**
 * Takes an online backup: SQLite's backup API copies the live database page by page (a writer in another
 * process may keep writing; the copy is one consistent snapshot), then the copy and the media folder are
 * written as one .tar.gz under a temporary name, read back and checked, and only then renamed into place.
 */
export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const { progress } = options;
  if (!existsSync(options.databasePath)) throw new UserError(`no database at ${options.databasePath}`);
  try {
    // The archive holds the account's private keys: only the owner may read it.
    mkdirSync(options.to, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw explain(error, `the backup folder ${options.to}`);
  }
  const now = options.now ?? new Date();
  const name = archiveName(now);
  const final = join(options.to, name);
  if (existsSync(final)) throw new UserError(`${final} already exists`);
  const work = join(options.to, `.${name}.tmp`);
  const partial = join(options.to, `.${name}.partial`);
  try {
    mkdirSync(work);
  } catch (error) {
    throw explain(error, `the backup folder ${options.to}`);
  }
  try {
    const copy = join(work, DATABASE_ENTRY);
    progress.step("copying the database");
    const source = new Database(options.databasePath, { readonly: true, fileMustExist: true });
    let tables: Record<string, number>;
    let referenced: string[];
    try {
      let copied = 0;
      let restarted = false;
      source.pragma(`busy_timeout = ${Math.floor(options.busyTimeoutMs)}`);
      try {
        await source.backup(copy, {
          progress({ totalPages, remainingPages }) {
            const done = totalPages - remainingPages;
            // A write by another connection between steps restarts the copy; with a busy server that could
            // repeat forever, so after one restart the rest is copied in a single step (one read snapshot,
            // which in WAL mode does not hold up the server's writes).
            if (done < copied) restarted = true;
            copied = done;
            progress.percent(done, totalPages);
            return restarted ? ALL_PAGES : PAGES_PER_STEP;
          },
        });
      } catch (error) {
        throw explain(error, `the backup folder ${options.to}`);
      }
    } finally {
      source.close();
    }
    const snapshot = new Database(copy, { fileMustExist: true });
    try {
      // A single file, with no -wal beside it, is what goes into the archive.
      snapshot.pragma("journal_mode = DELETE");
      const problems = integrityProblems(snapshot);
      if (problems) throw new UserError(`the copied database fails its integrity check: ${problems}`);
      tables = countRows(snapshot);
      referenced = referencedMedia(snapshot);
    } finally {
      snapshot.close();
    }
    progress.done(`(${Object.values(tables).reduce((a, b) => a + b, 0)} rows)`);

    const media = walk(options.mediaPath);
    const files: PlannedFile[] = [copy, ...media.map((path) => join(options.mediaPath, path))].map(
      (path, i) => {
        const stat = statSync(path);
        return {
          entry: i === 0 ? DATABASE_ENTRY : `${MEDIA_PREFIX}${media[i - 1]}`,
          source: path,
          size: stat.size,
          mtimeMs: stat.mtimeMs,
        };
      },
    );
    const present = new Set(media);
    const missingMedia = referenced.filter((file) => !present.has(file));

    progress.step(`writing the archive (${media.length} media files)`);
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const manifest: Manifest = {
      format: "wren-backup",
      formatVersion: 1,
      wrenVersion: options.wrenVersion,
      createdAt: now.toISOString(),
      tables,
      files: [],
    };
    async function* entries(): AsyncGenerator<Buffer> {
      let written = 0;
      for (const file of files) {
        yield fileHeader(file.entry, file.size, file.mtimeMs);
        const hash = createHash("sha256");
        let size = 0;
        for await (const chunk of createReadStream(file.source)) {
          const bytes = chunk as Buffer;
          size += bytes.length;
          if (size > file.size) break;
          hash.update(bytes);
          written += bytes.length;
          progress.percent(written, total);
          yield bytes;
        }
        if (size !== file.size)
          throw new UserError(`${file.source} changed size while it was being archived`);
        yield padding(file.size);
        manifest.files.push({ path: file.entry, size: file.size, sha256: hash.digest("hex") });
      }
      const json = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      yield fileHeader(MANIFEST_ENTRY, json.length, now.getTime());
      yield json;
      yield padding(json.length);
      yield END_OF_ARCHIVE;
    }
    try {
      await pipeline(
        Readable.from(entries()),
        createGzip(),
        createWriteStream(partial, { flags: "wx", mode: 0o600 }),
      );
      const fd = openSync(partial, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw explain(error, partial);
    }
    const bytes = statSync(partial).size;
    progress.done(`(${bytes} bytes)`);

    progress.step("verifying the archive");
    rmSync(copy);
    const verify = join(work, "verify");
    try {
      const unpacked = await unpackAndVerify(partial, verify, (read) => progress.percent(read, bytes));
      if (JSON.stringify(unpacked.manifest.tables) !== JSON.stringify(tables))
        throw new UserError("the archive's row counts differ from the database copy's");
      const archived = new Set(unpacked.manifest.files.map((file) => file.path));
      for (const path of media)
        if (!archived.has(`${MEDIA_PREFIX}${path}`))
          throw new UserError(`media file missing from the archive: ${path}`);
    } catch (error) {
      if (error instanceof UserError) throw error;
      if (error instanceof ArchiveError)
        throw new UserError(`the new archive fails its check: ${error.message}`);
      throw explain(error, `the backup folder ${options.to} (while verifying)`);
    }
    progress.done();

    renameSync(partial, final);
    const pruned = prune(options.to, options.keep);
    return { archive: final, bytes, tables, mediaFiles: media.length, missingMedia, pruned };
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}

/** Deletes the oldest archives so that `keep` remain; returns the deleted names. */
export function prune(dir: string, keep: number): string[] {
  const archives = listArchives(dir);
  const old = archives.slice(0, Math.max(0, archives.length - keep));
  for (const name of old) unlinkSync(join(dir, name));
  return old;
}
