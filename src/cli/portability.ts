import { createWriteStream, readFileSync, renameSync, rmSync, statSync, type WriteStream } from "node:fs";
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { UserError } from "../core/account.js";
import { type ArchiveSummary, writeAccountArchive } from "../portability/archive.js";
import { EXPORT_KINDS, IMPORT_KINDS, isExportKind, isImportKind } from "../portability/csv.js";
import { exportStream } from "../portability/export.js";
import { type ImportMode, importCsv } from "../portability/import.js";
import { CONFIG_OPTION, withCliContext } from "./context.js";
import { formatBytes } from "./format.js";
import type { Command } from "./main.js";

/** Writes a file through a temporary name, so that a failed export leaves no half-written file. */
async function toFile(path: string, write: (out: WriteStream) => Promise<void>): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await write(createWriteStream(partial, { flags: "wx", mode: 0o600 }));
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

const archiveName = (now = new Date()) =>
  `wren-archive-${now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "")}.tar.gz`;

export const exportCommand: Command = {
  usage: `wren export ${[...EXPORT_KINDS, "archive"].join("|")} [--out FILE] [--config PATH]`,
  summary:
    "export follows, blocks, mutes, domain blocks, bookmarks or lists as Mastodon's CSV, or the account archive",
  options: {
    config: CONFIG_OPTION.config,
    out: {
      type: "string",
      description:
        "write to this file (CSV default: standard output; archive default: wren-archive-DATE.tar.gz)",
    },
  },
  positionals: { names: "what to export", min: 1, max: 1 },
  async run(values, positionals) {
    const kind = positionals[0] as string;
    const out = typeof values.out === "string" ? resolve(values.out) : null;
    if (kind === "archive") {
      const path = out ?? resolve(archiveName());
      return withCliContext(values, async (ctx) => {
        let summary: ArchiveSummary | undefined;
        await toFile(path, async (stream) => {
          summary = await writeAccountArchive(ctx, stream);
        });
        const s = summary as ArchiveSummary;
        const { size } = statSync(path);
        console.log(
          `Wrote ${path} (${formatBytes(size)}): ${s.statuses} posts and boosts, ${s.likes} likes, ${s.bookmarks} bookmarks, ${s.mediaFiles} media files.`,
        );
        if (s.missingMedia.length > 0)
          console.log(
            `Note: ${s.missingMedia.length} media files were missing and left out (first: ${s.missingMedia[0]}).`,
          );
        return 0;
      });
    }
    if (!isExportKind(kind))
      throw new UserError(
        `cannot export "${kind}": choose one of ${[...EXPORT_KINDS, "archive"].join(", ")}`,
      );
    return withCliContext(values, async (ctx) => {
      if (out) {
        await toFile(out, (stream) => pipeline(exportStream(ctx, kind), stream));
        console.error(`Wrote ${out}.`);
      } else {
        await pipeline(exportStream(ctx, kind), process.stdout, { end: false });
      }
      return 0;
    });
  },
};

export const importCommand: Command = {
  usage: `wren import ${IMPORT_KINDS.join("|")} FILE [--mode merge|overwrite] [--delay MS] [--concurrency N] [--config PATH]`,
  summary: "import a Mastodon CSV export: follows, blocks, mutes, domain blocks, bookmarks or lists",
  options: {
    config: CONFIG_OPTION.config,
    mode: {
      type: "string",
      description: "merge (default) adds to what is there; overwrite also undoes what the file does not list",
    },
    delay: {
      type: "string",
      description: "pause in milliseconds after each row that asks another server (default 250)",
    },
    concurrency: { type: "string", description: "rows worked on at once (default 2, at most 8)" },
  },
  positionals: { names: "what to import and the file", min: 2, max: 2 },
  async run(values, positionals) {
    const [kind, file] = positionals as [string, string];
    if (!isImportKind(kind))
      throw new UserError(`cannot import "${kind}": choose one of ${IMPORT_KINDS.join(", ")}`);
    const mode = (values.mode ?? "merge") as string;
    if (mode !== "merge" && mode !== "overwrite") throw new UserError("--mode is merge or overwrite");
    const delayMs = integerOption(values.delay, "--delay", 250, 0, 60_000);
    const concurrency = integerOption(values.concurrency, "--concurrency", 2, 1, 8);
    let text: string;
    try {
      text = readFileSync(resolve(file), "utf8");
    } catch (error) {
      throw new UserError(`cannot read ${file}: ${(error as Error).message}`);
    }
    return withCliContext(values, async (ctx) => {
      const summary = await importCsv(ctx, kind, text, {
        mode: mode as ImportMode,
        delayMs,
        concurrency,
        onProgress(p) {
          const where = `[${p.finished}/${p.total}] ${p.item}`;
          console.log(p.error ? `${where}: failed: ${p.error}` : `${where}: done`);
        },
      });
      const removed =
        summary.mode === "overwrite"
          ? `, ${summary.removed} removed because the file does not list them`
          : "";
      console.log(
        `Imported ${kind}: ${summary.done} of ${summary.rows} rows done, ${summary.failed.length} failed${removed}.`,
      );
      for (const failure of summary.failed)
        console.log(`  line ${failure.line}: ${failure.item}: ${failure.reason}`);
      if (kind === "following" || kind === "blocks" || kind === "lists")
        console.log(
          "Follows and blocks are in the delivery queue: a running server sends them within half a minute; otherwise they wait until `wren serve` starts.",
        );
      return summary.failed.length > 0 ? 1 : 0;
    });
  },
};

function integerOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UserError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}
