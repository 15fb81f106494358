/**
 * Import and export: each CSV export and the account archive as a download (a POST, so the CSRF token
 * guards it), and a CSV import that runs in the background (it resolves accounts over the network); its
 * progress and summary show on the page. One import at a time; its state lives in memory only.
 */
import { PassThrough, Readable } from "node:stream";
import { html } from "hono/html";
import type { Context } from "../../../context.js";
import { UserError } from "../../../core/account.js";
import { writeAccountArchive } from "../../../portability/archive.js";
import {
  EXPORT_KINDS,
  IMPORT_KINDS,
  isExportKind,
  isImportKind,
  readImportCsv,
} from "../../../portability/csv.js";
import { exportStream } from "../../../portability/export.js";
import { type ImportMode, type ImportSummary, importCsv } from "../../../portability/import.js";
import {
  csrfField,
  formatTime,
  messageOf,
  type SectionRequest,
  type SettingsSection,
  text,
} from "./section.js";

export const MAX_IMPORT_BYTES = 2 * 1024 * 1024;
/** The import form's path: its body limit is raised to MAX_IMPORT_BYTES (src/http/app.ts). */
export const IMPORT_PATH = "/settings/portability/import";

interface ImportState {
  kind: string;
  mode: ImportMode;
  startedAt: number;
  finished: number;
  total: number;
  summary?: ImportSummary;
  /** Why the whole import failed (an unreadable file, an unexpected error). */
  error?: string;
}

/** The last (or running) import of each server in this process. */
const imports = new WeakMap<Context, ImportState>();

const running = (state: ImportState | undefined) => state !== undefined && !state.summary && !state.error;

const stamp = (now = new Date()) => now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");

function download(body: Readable, type: string, filename: string): Response {
  return new Response(Readable.toWeb(body) as ReadableStream, {
    headers: {
      "Content-Type": type,
      "Content-Disposition": `attachment; filename="${filename}"`,
      "Cache-Control": "no-store",
    },
  });
}

function exportFile({ ctx, params, show }: SectionRequest): Response | Promise<Response> {
  const kind = text(params, "kind");
  if (kind === "archive") {
    const out = new PassThrough();
    writeAccountArchive(ctx, out).catch((error: unknown) => {
      ctx.log.warn({ err: error }, "settings: the account archive failed");
      out.destroy(error instanceof Error ? error : new Error(String(error)));
    });
    return download(out, "application/gzip", `wren-archive-${stamp()}.tar.gz`);
  }
  if (!isExportKind(kind))
    return show({ status: 400, message: { kind: "error", text: `There is no export "${kind}".` } });
  return download(exportStream(ctx, kind), "text/csv; charset=utf-8", `${kind}.csv`);
}

async function startImport({ ctx, params, show }: SectionRequest): Promise<Response> {
  const error = (status: 400 | 409 | 413, message: string) =>
    show({ status, message: { kind: "error", text: message } });
  const kind = text(params, "kind");
  if (!isImportKind(kind)) return error(400, "Choose what the file holds.");
  const mode = text(params, "mode") || "merge";
  if (mode !== "merge" && mode !== "overwrite") return error(400, "The mode is merge or overwrite.");
  const file = params.file;
  if (!(file instanceof Blob) || file.size === 0) return error(400, "Choose a CSV file to import.");
  if (file.size > MAX_IMPORT_BYTES) return error(413, "The file is larger than 2 MB.");
  const csv = await file.text();
  // A file that cannot be read is refused now, before anything starts (the import reads it again: 2 MB at most).
  try {
    await readImportCsv(kind, csv);
  } catch (failure) {
    if (failure instanceof UserError) return error(400, `The file was not imported: ${failure.message}`);
    throw failure;
  }
  // Checked after the last await, so that two forms sent at once cannot both start.
  if (running(imports.get(ctx)))
    return error(409, "An import is running already. Reload the page to see how far it is.");
  const state: ImportState = { kind, mode, startedAt: Date.now(), finished: 0, total: 0 };
  imports.set(ctx, state);
  importCsv(ctx, kind, csv, {
    mode,
    onProgress: (progress) => {
      state.finished = progress.finished;
      state.total = progress.total;
    },
  }).then(
    (summary) => {
      state.summary = summary;
    },
    (failure: unknown) => {
      if (!(failure instanceof UserError)) ctx.log.warn({ err: failure }, "settings: the import failed");
      state.error =
        failure instanceof UserError ? failure.message : "an unexpected error (see the server log)";
    },
  );
  return show({
    status: 202,
    message: { kind: "notice", text: "The import has started. Reload the page to see how far it is." },
  });
}

function importStatus(state: ImportState | undefined) {
  if (!state) return "";
  const what = `${state.kind} (${state.mode}), started ${formatTime(state.startedAt)}`;
  if (state.error)
    return html`<p id="import_status" class="error">The import of ${what} failed: ${state.error}</p>`;
  const summary = state.summary;
  if (!summary)
    return html`<p id="import_status">Importing ${what}: ${state.finished} of ${state.total || "?"} rows finished.</p>`;
  return html`<div id="import_status"><p>The import of ${what} is done: ${summary.done} of ${summary.rows} rows done, ${summary.failed.length} failed${summary.removed > 0 ? `, ${summary.removed} removed (not in the file)` : ""}.</p>
${
  summary.failed.length > 0
    ? html`<ul class="failed">${summary.failed.map((f) => html`<li>Line ${f.line}: ${f.item}: ${f.reason}</li>`)}</ul>`
    : ""
}</div>`;
}

export const portabilitySection: SettingsSection = {
  id: "portability",
  title: "Import and export",
  render: (view) => html`${messageOf(view)}
<h3>Export</h3>
<p>Your data as Mastodon's CSV files, which Mastodon and most other servers import, or your whole account as an archive.</p>
<ul>
${[...EXPORT_KINDS, "archive" as const].map(
  (kind) => html`<li><form method="post" action="/settings/portability/export" id="export_${kind}">
${csrfField(view)}
<input type="hidden" name="kind" value="${kind}">
<button type="submit">${kind === "archive" ? "Account archive (.tar.gz)" : `${kind.replace("_", " ")} (.csv)`}</button>
</form></li>`,
)}
</ul>
<h3>Import</h3>
${importStatus(imports.get(view.ctx))}
<form method="post" action="${IMPORT_PATH}" id="import" enctype="multipart/form-data">
${csrfField(view)}
<p><label>The file holds <select name="kind">${IMPORT_KINDS.map((kind) => html`<option value="${kind}">${kind.replace("_", " ")}</option>`)}</select></label></p>
<p><label><input type="radio" name="mode" value="merge" checked> Merge: add to what you have</label><br>
<label><input type="radio" name="mode" value="overwrite"> Overwrite: also undo what the file does not list</label></p>
<p><label>CSV file (at most 2 MB) <input type="file" name="file" accept=".csv,text/csv" required></label></p>
<p><button type="submit">Import</button></p>
</form>`,
  actions: { export: exportFile, import: startImport },
};
