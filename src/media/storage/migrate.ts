import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import type { Config } from "../../config/spec.js";
import { contentTypeOf } from "./content-type.js";
import { storageOf } from "./index.js";
import type { MediaStorage } from "./types.js";

export interface MigrateReport {
  files: number;
  copied: number;
  /** Already in the target, verified (a run that was interrupted, or `keepSource` before). */
  present: number;
  /** Referred to by the database but in neither place. */
  missing: string[];
  deleted: number;
}

export class MigrateError extends Error {}

/** Every media file the database refers to: uploads, their previews, and cached remote files. */
function referencedFiles(sqlite: Database.Database): string[] {
  return sqlite
    .prepare(
      "SELECT file_name AS name FROM media_attachments WHERE file_name IS NOT NULL UNION SELECT preview_file_name FROM media_attachments WHERE preview_file_name IS NOT NULL ORDER BY 1",
    )
    .pluck()
    .all() as string[];
}

/** The copy in the target is the source's: same size and, where the target reports one, an ETag that is its MD5. */
function sameFile(bytes: Uint8Array, stored: { size: number; etag: string | null }): boolean {
  if (stored.size !== bytes.length) return false;
  if (stored.etag === null) return true;
  return stored.etag === createHash("md5").update(bytes).digest("hex");
}

/**
 * Moves every media file from the other storage to `to`: copies each one, checks the copy, and only when every
 * file is in the target deletes the source copies. A rerun skips what is already there, so an interrupted run is
 * simply run again. With `keepSource` nothing is deleted (for a first pass while the server still serves from
 * the source).
 */
export async function migrateMedia(
  sqlite: Database.Database,
  config: Config,
  to: MediaStorage["kind"],
  options: { keepSource?: boolean; progress?: (line: string) => void } = {},
): Promise<MigrateReport> {
  const s3 = config["media.s3"];
  if (!s3.endpoint || !s3.bucket)
    throw new MigrateError("[media.s3] needs endpoint and bucket (and the access keys) to migrate");
  const from = to === "s3" ? "local" : "s3";
  const source = storageOf(config, from);
  const target = storageOf(config, to);
  const say = options.progress ?? (() => {});
  const names = referencedFiles(sqlite);
  const report: MigrateReport = { files: names.length, copied: 0, present: 0, missing: [], deleted: 0 };
  const moved: string[] = [];
  for (const [index, name] of names.entries()) {
    const step = `[${index + 1}/${names.length}] ${name}`;
    const bytes = await source.get(name);
    const stored = await target.stat(name);
    if (!bytes) {
      if (stored) {
        // A run that stopped while deleting the source copies.
        report.present++;
        say(`${step}: already in ${to}`);
      } else {
        report.missing.push(name);
        say(`${step}: MISSING in ${from} and ${to}, skipped`);
      }
      continue;
    }
    if (stored && sameFile(bytes, stored)) {
      report.present++;
      moved.push(name);
      say(`${step}: already in ${to}`);
      continue;
    }
    await target.put(name, bytes, contentTypeOf(name));
    const copy = await target.stat(name);
    if (!copy || !sameFile(bytes, copy))
      throw new MigrateError(
        `${name}: the copy in ${to} does not match (${copy ? `${copy.size} bytes` : "absent"}, expected ${bytes.length}); nothing was deleted`,
      );
    report.copied++;
    moved.push(name);
    say(`${step}: copied (${bytes.length} bytes)`);
  }
  if (!options.keepSource) {
    for (const name of moved) {
      await source.delete(name);
      report.deleted++;
    }
    if (moved.length > 0) say(`deleted ${moved.length} files from ${from}`);
  }
  return report;
}
