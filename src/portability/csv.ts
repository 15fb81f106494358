/**
 * Mastodon's CSV files: the kinds, their headers, how a field is written, and how an uploaded file is read
 * (app/models/export.rb and app/models/form/import.rb). A file may come with or without its header row: a
 * first row whose first field is a known header is taken as the header, else the kind's default columns apply.
 */
import { UserError } from "../core/account.js";

export const EXPORT_KINDS = [
  "following",
  "followers",
  "blocks",
  "mutes",
  "domain_blocks",
  "bookmarks",
  "lists",
] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export const IMPORT_KINDS = ["following", "blocks", "mutes", "domain_blocks", "bookmarks", "lists"] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** Mastodon refuses files with more rows than this. */
export const MAX_IMPORT_ROWS = 20_000;

/** The header row each import kind expects when there is one (Mastodon's EXPECTED_HEADERS_BY_TYPE). */
const EXPECTED_HEADERS: Record<ImportKind, string[]> = {
  following: ["Account address", "Show boosts", "Notify on new posts", "Languages"],
  blocks: ["Account address"],
  mutes: ["Account address", "Hide notifications"],
  domain_blocks: ["#domain"],
  bookmarks: ["#uri"],
  lists: ["List name", "Account address"],
};

/** The columns of a file without a header row. */
const DEFAULT_HEADERS: Record<ImportKind, string[]> = {
  following: ["Account address"],
  blocks: ["Account address"],
  mutes: ["Account address"],
  domain_blocks: ["#domain"],
  bookmarks: ["#uri"],
  lists: ["List name", "Account address"],
};

const KNOWN_FIRST_HEADERS = new Set(Object.values(EXPECTED_HEADERS).map((h) => h[0]));

export function isExportKind(kind: string): kind is ExportKind {
  return (EXPORT_KINDS as readonly string[]).includes(kind);
}

export function isImportKind(kind: string): kind is ImportKind {
  return (IMPORT_KINDS as readonly string[]).includes(kind);
}

/** One CSV line as Ruby's CSV writes it: a field is quoted only when it must be; null is an empty field. */
export function csvLine(fields: (string | boolean | null)[]): string {
  return `${fields
    .map((field) => {
      if (field === null) return "";
      const text = String(field);
      return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
    })
    .join(",")}\n`;
}

/** A row of an import file: its line in the file and its fields by header. */
export interface CsvRow {
  line: number;
  fields: Map<string, string>;
}

/**
 * Reads an import file strictly (quotes must be balanced; a malformed file is refused whole, as Mastodon
 * does). Blank lines are skipped; rows may be shorter or longer than the header.
 */
export async function readImportCsv(
  kind: ImportKind,
  text: string,
): Promise<{ rows: CsvRow[]; hasHeader: boolean }> {
  // Loaded by the first import, not when the server starts.
  const { parse } = await import("csv-parse/sync");
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    throw new UserError(`not a valid CSV file: ${(error as Error).message}`);
  }
  const first = records[0]?.record;
  if (!first) throw new UserError("the file is empty");
  const hasHeader = KNOWN_FIRST_HEADERS.has(first[0]?.trim() ?? "");
  const headers = hasHeader ? first.map((h) => h.trim()) : DEFAULT_HEADERS[kind];
  const missing = DEFAULT_HEADERS[kind].filter((h) => !headers.includes(h));
  if (missing.length > 0)
    throw new UserError(
      `this is not a ${kind} file: its header has no ${missing.map((h) => JSON.stringify(h)).join(", ")} column`,
    );
  const body = hasHeader ? records.slice(1) : records;
  if (body.length > MAX_IMPORT_ROWS)
    throw new UserError(`the file has ${body.length} rows; at most ${MAX_IMPORT_ROWS} can be imported`);
  const wanted = new Set(EXPECTED_HEADERS[kind]);
  const rows = body.map(({ record, info }) => {
    const fields = new Map<string, string>();
    headers.forEach((header, i) => {
      const value = record[i];
      if (wanted.has(header) && value !== undefined) fields.set(header, value);
    });
    return { line: info.lines, fields };
  });
  return { rows, hasHeader };
}

const FALSE_VALUES = new Set(["0", "f", "false", "off"]);

/** Rails' boolean cast, as Mastodon applies it to these columns: empty is "not given", anything not false is true. */
export function csvBoolean(value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  return !FALSE_VALUES.has(value.trim().toLowerCase());
}

/** "en, de" → ["en", "de"]; empty → undefined. */
export function csvLanguages(value: string | undefined): string[] | undefined {
  const list = (value ?? "")
    .split(",")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return list.length > 0 ? list : undefined;
}

/** "@user@host " → "user@host". */
export function csvAccount(value: string | undefined): string {
  return (value ?? "").trim().replace(/^@/, "");
}
