import { createHash } from "node:crypto";
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, writeSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { createGunzip } from "node:zlib";
import Database from "better-sqlite3";
import { ArchiveError, readTar } from "./tar.js";

/** What `manifest.json`, the last entry of an archive, says about the rest. */
export interface Manifest {
  format: "wren-backup";
  formatVersion: 1;
  wrenVersion: string;
  createdAt: string;
  /** Rows per table of the copied database. */
  tables: Record<string, number>;
  files: { path: string; size: number; sha256: string }[];
}

export const DATABASE_ENTRY = "wren.db";
export const MANIFEST_ENTRY = "manifest.json";
export const MEDIA_PREFIX = "media/";

const ARCHIVE_NAME = /^wren-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.tar\.gz$/;

/** wren-backup-2026-12-01T05-00-00-000Z.tar.gz: sorts by name in time order. */
export function archiveName(now: Date): string {
  return `wren-backup-${now.toISOString().replace(/[:.]/g, "-")}.tar.gz`;
}

/** The archives in `dir`, oldest first (none when the folder does not exist). */
export function listArchives(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names.filter((name) => ARCHIVE_NAME.test(name)).sort();
}

/** Rows in every table, by name. */
export function countRows(db: Database.Database): Record<string, number> {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[table] = db
      .prepare(`SELECT count(*) FROM "${table.replaceAll('"', '""')}"`)
      .pluck()
      .get() as number;
  }
  return counts;
}

/** "ok", or the first problems PRAGMA integrity_check reports. */
export function integrityProblems(db: Database.Database): string | null {
  const rows = db.pragma("integrity_check(10)", { simple: false }) as { integrity_check: string }[];
  const messages = rows.map((row) => row.integrity_check);
  return messages.length === 1 && messages[0] === "ok" ? null : messages.join("; ");
}

/** Media file names the database refers to. */
export function referencedMedia(db: Database.Database): string[] {
  return db
    .prepare(
      `SELECT file_name FROM media_attachments WHERE file_name IS NOT NULL
       UNION SELECT preview_file_name FROM media_attachments WHERE preview_file_name IS NOT NULL`,
    )
    .pluck()
    .all() as string[];
}

/** A path inside the archive that stays inside the folder it is unpacked into. */
function safeEntryPath(path: string): boolean {
  if (path === DATABASE_ENTRY || path === MANIFEST_ENTRY) return true;
  if (!path.startsWith(MEDIA_PREFIX) || path.includes("\\")) return false;
  const normalized = normalize(path);
  return normalized === path && !path.split("/").some((part) => part === ".." || part === "." || part === "");
}

export interface Unpacked {
  manifest: Manifest;
  databasePath: string;
  mediaDir: string;
}

/**
 * Unpacks an archive into `dir` (which must be empty or missing) and checks it completely: gzip and tar
 * framing, every file's size and SHA-256 against the manifest, nothing missing or extra, the database's
 * integrity and its row counts. Throws ArchiveError when anything is off; `dir` is then the caller's to remove.
 */
export async function unpackAndVerify(
  archive: string,
  dir: string,
  onBytes?: (compressedBytesRead: number) => void,
): Promise<Unpacked> {
  mkdirSync(dir, { recursive: true });
  const seen = new Map<string, { size: number; sha256: string }>();
  const manifestChunks: Buffer[] = [];
  const input = createReadStream(archive);
  if (onBytes) input.on("data", () => onBytes(input.bytesRead));
  const gunzip = createGunzip();
  input.on("error", (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    await readTar(gunzip, (path, size) => {
      if (!safeEntryPath(path)) throw new ArchiveError(`unexpected entry in the archive: ${path}`);
      if (seen.has(path)) throw new ArchiveError(`entry twice in the archive: ${path}`);
      const hash = createHash("sha256");
      if (path === MANIFEST_ENTRY) {
        return {
          write: (chunk) => {
            manifestChunks.push(Buffer.from(chunk));
          },
          end: () => {},
        };
      }
      const target = join(dir, path);
      mkdirSync(dirname(target), { recursive: true });
      const fd = openSync(target, "wx");
      return {
        write(chunk) {
          hash.update(chunk);
          writeSync(fd, chunk);
        },
        end() {
          closeSync(fd);
          seen.set(path, { size, sha256: hash.digest("hex") });
        },
      };
    });
  } catch (error) {
    input.destroy();
    if (error instanceof ArchiveError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR" || code === "Z_STREAM_ERROR")
      throw new ArchiveError(`the archive is damaged (${(error as Error).message})`);
    throw error;
  }

  if (manifestChunks.length === 0) throw new ArchiveError("the archive has no manifest (incomplete backup?)");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(Buffer.concat(manifestChunks).toString("utf8")) as Manifest;
  } catch {
    throw new ArchiveError("the archive's manifest is not valid JSON");
  }
  if (manifest.format !== "wren-backup" || manifest.formatVersion !== 1)
    throw new ArchiveError("not a Wren backup archive (unknown manifest format)");
  for (const file of manifest.files) {
    const found = seen.get(file.path);
    if (!found) throw new ArchiveError(`missing from the archive: ${file.path}`);
    if (found.size !== file.size || found.sha256 !== file.sha256)
      throw new ArchiveError(`damaged in the archive: ${file.path}`);
  }
  if (seen.size !== manifest.files.length)
    throw new ArchiveError("the archive holds files its manifest omits");
  if (!seen.has(DATABASE_ENTRY)) throw new ArchiveError("the archive holds no database");

  const databasePath = join(dir, DATABASE_ENTRY);
  const db = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    const problems = integrityProblems(db);
    if (problems) throw new ArchiveError(`the archived database fails its integrity check: ${problems}`);
    const counts = countRows(db);
    if (JSON.stringify(counts) !== JSON.stringify(manifest.tables))
      throw new ArchiveError("the archived database's row counts differ from its manifest");
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`the archived database cannot be read: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  return { manifest, databasePath, mediaDir: join(dir, "media") };
}
