/**
 * The account archive as Mastodon's BackupService makes it: a tar.gz with `actor.json` (avatar and header as
 * files beside it), `outbox.json` (an OrderedCollection of the owner's Create and Announce activities, without
 * their @context), `likes.json` and `bookmarks.json` (OrderedCollections of status URIs), and the owner's
 * media under `media_attachments/files/`, which the attachments' `url` then names.
 *
 * The JSON files are written a page of statuses at a time into a temporary folder, then archived with their
 * sizes known; nothing holds all the statuses at once.
 */
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { END_OF_ARCHIVE, fileHeader, padding } from "../backup/tar.js";
import type { Context } from "../context.js";
import { requireLocalAccount } from "../core/common.js";
import { renderPerson } from "../federation/vocab/actor.js";
import { AS_CONTEXT } from "../federation/vocab/context.js";
import { renderAnnounce, renderCreate } from "../federation/vocab/note.js";
import { mediaFilePath } from "../media/store.js";
import { findKeyPairs } from "../store/accounts.js";
import { loadStatusViews, type MediaRow } from "../store/statuses.js";
import { bookmarkPage, favouritePage, ownMediaPage, ownStatusPage, PAGE_SIZE, paged } from "./queries.js";

const MEDIA_FOLDER = "media_attachments/files";

export interface ArchiveSummary {
  statuses: number;
  likes: number;
  bookmarks: number;
  mediaFiles: number;
  /** Media rows whose file is not on disk (left out, as Mastodon does). */
  missingMedia: string[];
}

interface Entry {
  /** Path in the archive. */
  path: string;
  /** File on disk. */
  source: string;
}

const byId = (row: { id: string }) => row.id;

/** Writes a JSON document whose one array is streamed in: `head` and `tail` are its parts around the items. */
class JsonArrayFile {
  readonly #fd: number;
  #count = 0;
  constructor(
    readonly path: string,
    head: string,
  ) {
    this.#fd = openSync(path, "wx", 0o600);
    writeSync(this.#fd, head);
  }
  push(item: unknown): void {
    writeSync(this.#fd, `${this.#count === 0 ? "" : ","}${JSON.stringify(item)}`);
    this.#count++;
  }
  close(tail: (count: number) => string): number {
    writeSync(this.#fd, tail(this.#count));
    closeSync(this.#fd);
    return this.#count;
  }
}

/** `{"@context":…,"id":"NAME","type":"OrderedCollection","orderedItems":[` … `],"totalItems":N}` */
function collectionFile(dir: string, name: string): JsonArrayFile {
  const head = JSON.stringify({ "@context": AS_CONTEXT, id: name, type: "OrderedCollection" });
  return new JsonArrayFile(join(dir, name), `${head.slice(0, -1)},"orderedItems":[`);
}
const collectionTail = (count: number) => `],"totalItems":${count}}\n`;

/** The archive path of a stored media file. */
const archivedMedia = (fileName: string) => `${MEDIA_FOLDER}/${fileName}`;

function writeOutbox(ctx: Context, dir: string, localId: string): number {
  const file = collectionFile(dir, "outbox.json");
  const db = ctx.store.db;
  // A page of statuses at a time, turned into views with a few queries, rendered and written, then dropped.
  let before: string | null = null;
  for (;;) {
    const page = ownStatusPage(db, localId, before);
    for (const view of loadStatusViews(db, page)) {
      if (view.status.reblogOfId !== null) {
        // A boost of a status that is gone has nothing left to announce.
        if (view.reblog) file.push(withoutContext(renderAnnounce(view)));
        continue;
      }
      const create = withoutContext(renderCreate(view, ctx.urls));
      create.object.attachment = create.object.attachment.map((attachment, i) => {
        const media = view.media[i];
        return media?.fileName ? { ...attachment, url: archivedMedia(media.fileName) } : attachment;
      });
      file.push(create);
    }
    const last = page[page.length - 1];
    if (!last || page.length < PAGE_SIZE) break;
    before = last.id;
  }
  return file.close(collectionTail);
}

function withoutContext<T extends { "@context": unknown }>(activity: T): Omit<T, "@context"> {
  const { "@context": _context, ...rest } = activity;
  return rest;
}

function writeUris(dir: string, name: string, rows: Iterable<{ uri: string }>): number {
  const file = collectionFile(dir, name);
  for (const row of rows) file.push(row.uri);
  return file.close(collectionTail);
}

/**
 * Builds the archive of the local account and writes it, gzipped, to `destination` (a file stream, an HTTP
 * response...). The caller closes nothing: `destination` ends when the archive does.
 */
export async function writeAccountArchive(ctx: Context, destination: Writable): Promise<ArchiveSummary> {
  const local = requireLocalAccount(ctx);
  const db = ctx.store.db;
  const dir = mkdtempSync(join(tmpdir(), "wren-archive-"));
  try {
    const statuses = writeOutbox(ctx, dir, local.id);
    const likes = writeUris(
      dir,
      "likes.json",
      paged((before) => favouritePage(db, local.id, before), byId),
    );
    const bookmarks = writeUris(
      dir,
      "bookmarks.json",
      paged((before) => bookmarkPage(db, before), byId),
    );

    const entries: Entry[] = [];
    const missingMedia: string[] = [];
    const stored = (media: MediaRow | undefined) => {
      if (!media?.fileName) return null;
      const source = mediaFilePath(ctx, media.fileName);
      if (existsSync(source)) return source;
      missingMedia.push(media.fileName);
      return null;
    };
    let mediaFiles = 0;
    const profileImages = new Map<string, MediaRow>();
    for (const media of paged((before) => ownMediaPage(db, local.id, before), byId)) {
      if (media.id === local.avatarMediaId || media.id === local.headerMediaId) {
        profileImages.set(media.id, media);
        continue;
      }
      if (media.statusId === null) continue;
      const source = stored(media);
      if (!source || !media.fileName) continue;
      entries.push({ path: archivedMedia(media.fileName), source });
      mediaFiles++;
    }

    const actor: Record<string, unknown> = {
      ...renderPerson(ctx, local, findKeyPairs(db, local.id)),
      outbox: "outbox.json",
      likes: "likes.json",
      bookmarks: "bookmarks.json",
    };
    for (const [key, mediaId, name] of [
      ["icon", local.avatarMediaId, "avatar"],
      ["image", local.headerMediaId, "header"],
    ] as const) {
      const media = mediaId ? profileImages.get(mediaId) : undefined;
      const source = stored(media);
      if (!source || !media?.fileName) continue;
      const path = `${name}${extname(media.fileName)}`;
      entries.push({ path, source });
      actor[key] = { ...(actor[key] as object), url: path };
    }
    const actorPath = join(dir, "actor.json");
    const actorFd = openSync(actorPath, "wx", 0o600);
    writeSync(actorFd, `${JSON.stringify(actor)}\n`);
    closeSync(actorFd);

    for (const name of ["outbox.json", "likes.json", "bookmarks.json"])
      entries.push({ path: name, source: join(dir, name) });
    entries.push({ path: "actor.json", source: actorPath });

    await pipeline(Readable.from(tarEntries(entries)), createGzip(), destination);
    return { statuses, likes, bookmarks, mediaFiles, missingMedia };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function* tarEntries(entries: Entry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const { size, mtimeMs } = statSync(entry.source);
    yield fileHeader(entry.path, size, mtimeMs);
    let written = 0;
    if (size > 0) {
      for await (const chunk of createReadStream(entry.source, { end: size - 1 })) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    if (written !== size) throw new Error(`${entry.source} changed while it was archived`);
    yield padding(size);
  }
  yield END_OF_ARCHIVE;
}
