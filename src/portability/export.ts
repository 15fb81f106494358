/**
 * The owner's data as Mastodon's CSV exports (app/models/export.rb): the same columns, the same header rows
 * (following and mutes have one; blocks, domain blocks, bookmarks and lists do not), newest first. Followers
 * is not a Mastodon export; it is written like following with its one column.
 */
import { Readable } from "node:stream";
import type { Context } from "../context.js";
import { requireLocalAccount } from "../core/common.js";
import { csvLine, type ExportKind } from "./csv.js";
import {
  type AccountAddress,
  blockPage,
  bookmarkPage,
  domainBlockPage,
  followPage,
  listMemberPage,
  mutePage,
  paged,
} from "./queries.js";

const byId = (row: { id: string }) => row.id;

/** user@host, and the local account with this server's domain, as Mastodon writes an address. */
export function addressOf(ctx: Context, account: AccountAddress): string {
  return `${account.username}@${account.domain ?? ctx.urls.domain}`;
}

/** The lines of an export, read from the database a page at a time as they are consumed. */
export function* exportLines(ctx: Context, kind: ExportKind): Generator<string> {
  const db = ctx.store.db;
  const local = requireLocalAccount(ctx);
  const address = (account: AccountAddress) => addressOf(ctx, account);
  switch (kind) {
    case "following":
      yield csvLine(["Account address", "Show boosts", "Notify on new posts", "Languages"]);
      for (const row of paged((before) => followPage(db, local.id, "following", before), byId))
        yield csvLine([address(row), row.showReblogs, row.notify, row.languages?.join(", ") ?? null]);
      return;
    case "followers":
      yield csvLine(["Account address"]);
      for (const row of paged((before) => followPage(db, local.id, "followers", before), byId))
        yield csvLine([address(row)]);
      return;
    case "blocks":
      for (const row of paged((before) => blockPage(db, local.id, before), byId))
        yield csvLine([address(row)]);
      return;
    case "mutes": {
      yield csvLine(["Account address", "Hide notifications"]);
      const now = Date.now();
      for (const row of paged((before) => mutePage(db, local.id, before, now), byId))
        yield csvLine([address(row), row.hideNotifications]);
      return;
    }
    case "domain_blocks":
      for (const row of paged((before) => domainBlockPage(db, before), byId)) yield csvLine([row.domain]);
      return;
    case "bookmarks":
      for (const row of paged((before) => bookmarkPage(db, before), byId)) yield csvLine([row.uri]);
      return;
    case "lists":
      for (const row of paged((after) => listMemberPage(db, after), byId))
        yield csvLine([row.title, address(row)]);
      return;
  }
}

/** An export as a byte stream (for a file, standard output or an HTTP response). */
export function exportStream(ctx: Context, kind: ExportKind): Readable {
  return Readable.from(exportLines(ctx, kind), { objectMode: false });
}

/** An export as one string, for small exports. */
export function exportText(ctx: Context, kind: ExportKind): string {
  let text = "";
  for (const line of exportLines(ctx, kind)) text += line;
  return text;
}
