/**
 * Imports Mastodon's CSV files. Each row is one piece of work: its account is resolved by WebFinger (or its
 * post fetched) outside any transaction, then the core use case does the write, so follows and blocks go out
 * through the delivery queue like those made from an app. Rows run a few at a time with a pause between
 * them, so that a long file does not hammer one server. A row that fails is reported and the rest go on.
 *
 * Overwrite mode first undoes what the file does not list (as Mastodon's BulkImportService): unfollows,
 * unblocks, unmutes, removes domain blocks and bookmarks, and deletes the lists that are not named and empties
 * those that are.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Context } from "../context.js";
import { requireLocalAccount } from "../core/common.js";
import { blockDomain, normalizeDomain, unblockDomain } from "../core/domain-blocks.js";
import { findFollow, follow, unfollow } from "../core/follows.js";
import { block, bookmark, unblock, unbookmark } from "../core/interactions.js";
import { addListAccounts, createList, deleteList, removeListAccounts } from "../core/lists.js";
import { mute, unmute } from "../core/mutes.js";
import { resolveHandle } from "../federation/resolve.js";
import { resolveUrl } from "../http/mastodon/search.js";
import { accountsByIds } from "../store/account-lists.js";
import type { AccountRow } from "../store/accounts.js";
import { allLists, listMembers, membersAmong } from "../store/lists.js";
import { findStatusByUri } from "../store/statuses.js";
import { type CsvRow, csvAccount, csvBoolean, csvLanguages, type ImportKind, readImportCsv } from "./csv.js";
import { addressOf } from "./export.js";
import { blockPage, bookmarkPage, domainBlockPage, followPage, mutePage, paged } from "./queries.js";

export type ImportMode = "merge" | "overwrite";

export interface ImportProgress {
  /** How many rows are finished, this one included. */
  finished: number;
  total: number;
  /** The row's account address, domain, post URI or "list: address". */
  item: string;
  /** Why the row failed; absent when it succeeded. */
  error?: string;
}

export interface ImportOptions {
  mode?: ImportMode;
  /** Rows worked on at once (default 2). */
  concurrency?: number;
  /** Pause after each row that used the network, per worker (default 0). */
  delayMs?: number;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportFailure {
  /** The row's line in the file (its last line when a quoted field spans several). */
  line: number;
  item: string;
  reason: string;
}

export interface ImportSummary {
  kind: ImportKind;
  mode: ImportMode;
  /** Rows in the file, without the header and blank lines. */
  rows: number;
  done: number;
  failed: ImportFailure[];
  /** What overwrite mode undid because the file does not list it. */
  removed: number;
}

interface Task {
  line: number;
  item: string;
  /** False for work that needs no other server (domain blocks): no pause after it. */
  network: boolean;
  run(): Promise<void>;
}

const byId = (row: { id: string }) => row.id;

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last row for each key (a file listing an account twice counts it once, as Mastodon's index_by). */
function lastByKey(rows: CsvRow[], keyOf: (row: CsvRow) => string): CsvRow[] {
  const map = new Map<string, CsvRow>();
  for (const row of rows) {
    const key = keyOf(row);
    map.delete(key);
    map.set(key, row);
  }
  return [...map.values()];
}

const addressKey = (row: CsvRow) => csvAccount(row.fields.get("Account address")).toLowerCase();

/** Runs the tasks `concurrency` at a time, adding the failures to `failed`; returns how many succeeded. */
async function runGently(
  tasks: Task[],
  options: ImportOptions,
  failed: ImportFailure[],
  rowCount: number,
  alreadyFinished: number,
): Promise<number> {
  let next = 0;
  let finished = alreadyFinished;
  let done = 0;
  const delayMs = options.delayMs ?? 0;
  const worker = async () => {
    for (;;) {
      const task = tasks[next++];
      if (!task) return;
      let error: string | undefined;
      try {
        await task.run();
        done++;
      } catch (caught) {
        error = reasonOf(caught);
        failed.push({ line: task.line, item: task.item, reason: error });
      }
      finished++;
      options.onProgress?.({ finished, total: rowCount, item: task.item, ...(error ? { error } : {}) });
      if (task.network && delayMs > 0 && next < tasks.length) await sleep(delayMs);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 2, tasks.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return done;
}

/**
 * Imports one CSV file of `kind`. A file that cannot be read (malformed CSV, another kind's header, too many
 * rows) throws UserError before anything is changed; after that every row is tried and the summary says
 * which failed and why.
 */
export async function importCsv(
  ctx: Context,
  kind: ImportKind,
  text: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const mode = options.mode ?? "merge";
  const local = requireLocalAccount(ctx);
  const { rows } = await readImportCsv(kind, text);
  const failed: ImportFailure[] = [];
  const plan = planFor(ctx, local, kind, rows, failed);
  const removed = mode === "overwrite" ? plan.removeUnlisted() : 0;
  for (const [i, failure] of failed.entries())
    options.onProgress?.({ finished: i + 1, total: rows.length, item: failure.item, error: failure.reason });
  const tasks = plan.tasks();
  const skipped = rows.length - tasks.length - failed.length;
  const done = await runGently(tasks, options, failed, rows.length, failed.length + skipped);
  failed.sort((a, b) => a.line - b.line);
  return { kind, mode, rows: rows.length, done: done + skipped, failed, removed };
}

interface Plan {
  /** Overwrite mode: undoes what the file does not list; returns how many things it undid. */
  removeUnlisted(): number;
  tasks(): Task[];
}

function planFor(
  ctx: Context,
  local: AccountRow,
  kind: ImportKind,
  allRows: CsvRow[],
  failed: ImportFailure[],
): Plan {
  const db = ctx.store.db;
  const address = (a: { username: string; domain: string | null }) => addressOf(ctx, a).toLowerCase();
  /** Rows without the field `name` fail at once. */
  const usable = (rows: CsvRow[], name: string, what: string) =>
    rows.filter((row) => {
      if ((row.fields.get(name) ?? "").trim() !== "") return true;
      failed.push({ line: row.line, item: `line ${row.line}`, reason: `no ${what}` });
      return false;
    });
  /** Undoes each current relation (account rows with an address) that the file does not list. */
  const removeAccounts = <T extends { accountId: string; username: string; domain: string | null }>(
    current: Iterable<T>,
    listed: Set<string>,
    undo: (account: AccountRow) => void,
  ) => {
    const ids = [...current].filter((row) => !listed.has(address(row))).map((row) => row.accountId);
    for (const account of accountsByIds(db, ids, { includeGone: true })) undo(account);
    return ids.length;
  };

  switch (kind) {
    case "following":
    case "blocks":
    case "mutes": {
      const rows = lastByKey(usable(allRows, "Account address", "account address"), addressKey);
      const listed = new Set(rows.map(addressKey));
      return {
        removeUnlisted() {
          if (kind === "following")
            return removeAccounts(
              paged((before) => followPage(db, local.id, "following", before), byId),
              listed,
              (a) => unfollow(ctx, a),
            );
          if (kind === "blocks")
            return removeAccounts(
              paged((before) => blockPage(db, local.id, before), byId),
              listed,
              (a) => unblock(ctx, a),
            );
          const now = Date.now();
          return removeAccounts(
            paged((before) => mutePage(db, local.id, before, now), byId),
            listed,
            (a) => unmute(ctx, a),
          );
        },
        tasks: () =>
          rows.map((row) => {
            const handle = csvAccount(row.fields.get("Account address"));
            return {
              line: row.line,
              item: handle,
              network: true,
              async run() {
                const account = await resolveHandle(ctx, handle);
                if (kind === "following")
                  follow(ctx, account, {
                    reblogs: csvBoolean(row.fields.get("Show boosts")),
                    notify: csvBoolean(row.fields.get("Notify on new posts")),
                    languages: csvLanguages(row.fields.get("Languages")),
                  });
                else if (kind === "blocks") block(ctx, account);
                else
                  mute(ctx, account, {
                    notifications: csvBoolean(row.fields.get("Hide notifications")) ?? true,
                  });
              },
            };
          }),
      };
    }
    case "domain_blocks": {
      const domainOf = (row: CsvRow) => (row.fields.get("#domain") ?? "").trim().toLowerCase();
      const rows = lastByKey(usable(allRows, "#domain", "domain"), domainOf);
      const listed = new Set(
        rows.map((row) => {
          try {
            return normalizeDomain(domainOf(row));
          } catch {
            return domainOf(row);
          }
        }),
      );
      return {
        removeUnlisted() {
          const unlisted = [...paged((before) => domainBlockPage(db, before), byId)].filter(
            (row) => !listed.has(row.domain),
          );
          for (const row of unlisted) unblockDomain(ctx, row.domain);
          return unlisted.length;
        },
        tasks: () =>
          rows.map((row) => ({
            line: row.line,
            item: domainOf(row),
            network: false,
            async run() {
              blockDomain(ctx, domainOf(row));
            },
          })),
      };
    }
    case "bookmarks": {
      const uriOf = (row: CsvRow) => (row.fields.get("#uri") ?? "").trim();
      const rows = lastByKey(usable(allRows, "#uri", "post URI"), uriOf);
      const listed = new Set(rows.map(uriOf));
      return {
        removeUnlisted() {
          const unlisted = [...paged((before) => bookmarkPage(db, before), byId)].filter(
            (row) => !listed.has(row.uri),
          );
          for (const row of unlisted) unbookmark(ctx, row.statusId);
          return unlisted.length;
        },
        tasks: () =>
          rows.map((row) => {
            const uri = uriOf(row);
            return {
              line: row.line,
              item: uri,
              network: true,
              async run() {
                const known = findStatusByUri(db, uri);
                const status =
                  known && known.deletedAt === null ? known : (await resolveUrl(ctx, uri)).status;
                if (!status) throw new Error("the post could not be found or fetched");
                bookmark(ctx, status.id);
              },
            };
          }),
      };
    }
    case "lists": {
      const titleOf = (row: CsvRow) => (row.fields.get("List name") ?? "").trim();
      const rows = lastByKey(
        usable(usable(allRows, "List name", "list name"), "Account address", "account address"),
        (row) => `${titleOf(row)}\n${addressKey(row)}`,
      );
      const titles = new Set(rows.map(titleOf));
      return {
        removeUnlisted() {
          let removed = 0;
          for (const list of allLists(db)) {
            if (!titles.has(list.title)) {
              deleteList(ctx, list.id);
              removed++;
              continue;
            }
            const members = listMembers(db, list.id, null).map((m) => m.row.id);
            removeListAccounts(ctx, list.id, members);
            removed += members.length;
          }
          return removed;
        },
        tasks() {
          const listIds = new Map<string, string>();
          const listProblems = new Map<string, string>();
          for (const list of allLists(db)) if (!listIds.has(list.title)) listIds.set(list.title, list.id);
          for (const title of titles) {
            if (listIds.has(title)) continue;
            try {
              listIds.set(title, createList(ctx, { title }).id);
            } catch (error) {
              listProblems.set(title, reasonOf(error));
            }
          }
          return rows.map((row) => {
            const title = titleOf(row);
            const handle = csvAccount(row.fields.get("Account address"));
            return {
              line: row.line,
              item: `${title}: ${handle}`,
              network: true,
              async run() {
                const listId = listIds.get(title);
                if (!listId) throw new Error(`the list could not be created: ${listProblems.get(title)}`);
                const account = await resolveHandle(ctx, handle);
                // As on Mastodon, a list member that is not followed yet is followed first.
                if (!findFollow(ctx, local.id, account.id)) follow(ctx, account);
                if (membersAmong(db, listId, [account.id]).size === 0)
                  addListAccounts(ctx, listId, [account.id]);
              },
            };
          });
        },
      };
    }
  }
}
