import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { loadConfig } from "../src/config/load.js";
import { createContext } from "../src/context.js";
import {
  databaseBytes,
  enableIncrementalVacuum,
  type PruneReport,
  prune,
  pruneDryRun,
} from "../src/jobs/prune.js";
import { createLogger } from "../src/log.js";
import { findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { openStore } from "../src/store/open.js";
import { api, issueToken } from "./helpers/api.js";
import { dbSnapshot } from "./helpers/fedify-peer.js";
import { remoteAccount } from "./helpers/fixtures.js";
import { startTestServer, type TestServer, tempDir } from "./helpers/server.js";

const DAY = 24 * 60 * 60 * 1000;
const OLD = Date.now() - 60 * DAY;
const VERY_OLD = Date.now() - 120 * DAY;
const FILLER = 10_000;

let server: TestServer;
let sqlite: Database.Database;
let token: string;
let owner: string;
/** Old remote statuses that must survive, by the reason they are protected. */
const kept: Record<string, string> = {};
/** Rows that must go. */
const doomed: Record<string, string> = {};
/** Remote accounts that must stay, by why; and one that must go. */
const keptAccounts: Record<string, string> = {};
let orphanAccount: string;
let authors: string[] = [];

type Row = Record<string, string | number | null>;

function insert(table: string, row: Row): void {
  const columns = Object.keys(row);
  sqlite
    .prepare(`INSERT INTO ${table} (${columns.join(",")}) VALUES (${columns.map(() => "?").join(",")})`)
    .run(...Object.values(row));
}

let seq = 0;
function status(accountId: string, fields: Row = {}): string {
  seq += 1;
  const createdAt = (fields.created_at as number | undefined) ?? OLD + seq;
  const id = newId(createdAt);
  insert("statuses", {
    id,
    uri: `https://remote.example/statuses/${seq}`,
    account_id: accountId,
    local: 0,
    content: `<p>${"an old remote post that nobody here ever looked at again. ".repeat(6)}${seq}</p>`,
    visibility: "public",
    created_at: createdAt,
    ...fields,
  });
  return id;
}

const localStatus = (fields: Row) =>
  status(owner, { local: 1, uri: `${server.origin}/statuses/${seq + 1}`, ...fields });
const uriOf = (id: string) =>
  sqlite.prepare("SELECT uri FROM statuses WHERE id = ?").pluck().get(id) as string;
const exists = (table: string, id: string) =>
  sqlite.prepare(`SELECT count(*) FROM ${table} WHERE id = ?`).pluck().get(id) === 1;
const count = (table: string) => sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

function oldAccount(name: string): string {
  return remoteAccount(server, name, "remote.example", { createdAt: OLD, updatedAt: OLD, fetchedAt: OLD }).id;
}

function fill(): void {
  authors = Array.from({ length: 20 }, (_, i) => oldAccount(`author${i}`));
  const bystander = oldAccount("bystander");
  const tag = newId();
  insert("tags", { id: tag, name: "oldtag", display_name: "oldtag", created_at: OLD });
  doomed.tag = tag;
  sqlite.transaction(() => {
    for (let i = 0; i < FILLER; i++) {
      const author = authors[i % authors.length] as string;
      const id = status(author);
      insert("home_feed", { status_id: id, account_id: author });
      if (i % 10 === 0) insert("status_tags", { status_id: id, tag_id: tag });
      if (i % 25 === 0) insert("mentions", { status_id: id, account_id: bystander });
      if (i % 50 === 0) {
        insert("media_attachments", {
          id: newId(),
          account_id: author,
          status_id: id,
          type: "image",
          remote_url: `https://remote.example/media/${i}.png`,
          created_at: OLD,
        });
      }
      if (i % 100 === 0) {
        insert("polls", {
          id: newId(),
          status_id: id,
          options: JSON.stringify([{ title: "a", votes: 1 }]),
          created_at: OLD,
          updated_at: OLD,
        });
      }
      if (i % 200 === 0) {
        insert("notifications", {
          id: newId(VERY_OLD + i),
          type: "status",
          from_account_id: author,
          status_id: id,
          created_at: VERY_OLD,
        });
      }
    }
  })();

  const author = authors[0] as string;
  // A status only in the home feed and a list's feed: feed entries alone do not protect.
  const listId = newId();
  insert("lists", { id: listId, title: "a list", created_at: OLD });
  doomed.listed = status(author);
  insert("home_feed", { status_id: doomed.listed, account_id: author });
  insert("list_feed", { list_id: listId, status_id: doomed.listed, account_id: author });
  // Its media file on disk goes too.
  const media = server.context.config.media.path;
  mkdirSync(media, { recursive: true });
  writeFileSync(join(media, "cached.png"), "not really a png");
  doomed.media = newId();
  insert("media_attachments", {
    id: doomed.media,
    account_id: author,
    status_id: doomed.listed,
    type: "image",
    file_name: "cached.png",
    created_at: OLD,
  });
  // An old remote boost of a doomed status goes with it.
  doomed.boost = status(authors[1] as string, { reblog_of_id: doomed.listed, content: "" });

  kept.favourited = status(author);
  insert("favourites", { id: newId(), account_id: owner, status_id: kept.favourited, created_at: OLD });
  kept.boosted = status(author);
  localStatus({ reblog_of_id: kept.boosted, content: "" });
  kept.bookmarked = status(author);
  insert("bookmarks", { id: newId(), status_id: kept.bookmarked, created_at: OLD });
  kept.repliedTo = status(author);
  localStatus({ in_reply_to_id: kept.repliedTo, in_reply_to_account_id: author });
  kept.mentionsOwner = status(author);
  insert("mentions", { status_id: kept.mentionsOwner, account_id: owner });
  kept.repliesToOwner = status(author, { in_reply_to_account_id: owner });
  kept.threadRoot = status(author);
  kept.inThread = status(authors[2] as string, { conversation_uri: uriOf(kept.threadRoot) });
  localStatus({ conversation_uri: uriOf(kept.threadRoot) });
  kept.pinned = status(author, { pinned_at: OLD });
  kept.voted = status(author);
  const poll = newId();
  insert("polls", {
    id: poll,
    status_id: kept.voted,
    options: '[{"title":"a","votes":1}]',
    created_at: OLD,
    updated_at: OLD,
  });
  insert("poll_votes", { id: newId(), poll_id: poll, account_id: owner, choice: 0, created_at: OLD });
  kept.conversation = status(author, { visibility: "direct" });
  const conversation = newId();
  insert("conversations", {
    id: conversation,
    thread_uri: uriOf(kept.conversation),
    last_status_id: kept.conversation,
    participant_ids: JSON.stringify([author]),
    created_at: OLD,
    updated_at: OLD,
  });
  insert("conversation_statuses", { conversation_id: conversation, status_id: kept.conversation });
  kept.filtered = status(author);
  const filter = newId();
  insert("filters", { id: filter, title: "f", context: '["home"]', created_at: OLD, updated_at: OLD });
  insert("filter_statuses", { id: newId(), filter_id: filter, status_id: kept.filtered, created_at: OLD });
  kept.scheduledReply = status(author);
  insert("scheduled_statuses", {
    id: newId(),
    scheduled_at: Date.now() + DAY,
    params: JSON.stringify({ text: "later", visibility: "public", inReplyToId: kept.scheduledReply }),
    created_at: Date.now(),
  });
  kept.recentNotification = status(author);
  insert("notifications", {
    id: newId(),
    type: "status",
    from_account_id: author,
    status_id: kept.recentNotification,
    created_at: Date.now() - DAY,
  });
  const ownPost = localStatus({ created_at: OLD });
  kept.boostOfOwnPost = status(author, { reblog_of_id: ownPost, content: "" });
  kept.newerBoostKeepsOriginal = status(author);
  status(authors[3] as string, { reblog_of_id: kept.newerBoostKeepsOriginal, created_at: Date.now() - DAY });
  kept.recent = status(author, { created_at: Date.now() - DAY });
  kept.ownOld = localStatus({ created_at: OLD });

  // Remote accounts with no statuses left, each still referred to by one thing.
  const ref = (name: string) => {
    keptAccounts[name] = oldAccount(name);
    return keptAccounts[name] as string;
  };
  insert("follows", {
    id: newId(),
    follower_id: owner,
    following_id: ref("followed"),
    state: "accepted",
    created_at: OLD,
  });
  insert("follows", {
    id: newId(),
    follower_id: ref("follower"),
    following_id: owner,
    state: "accepted",
    created_at: OLD,
  });
  insert("blocks", { id: newId(), account_id: owner, target_id: ref("blocked"), created_at: OLD });
  insert("mutes", { id: newId(), account_id: owner, target_id: ref("muted"), created_at: OLD });
  insert("account_notes", { target_id: ref("noted"), comment: "met at a conference", updated_at: OLD });
  insert("endorsements", { id: newId(), target_id: keptAccounts.followed as string, created_at: OLD });
  insert("mentions", { status_id: kept.recent, account_id: ref("mentioned") });
  insert("favourites", { id: newId(), account_id: ref("favouriter"), status_id: ownPost, created_at: OLD });
  insert("notifications", {
    id: newId(),
    type: "follow",
    from_account_id: ref("notifier"),
    created_at: Date.now() - DAY,
  });
  keptAccounts.recentlyFetched = remoteAccount(server, "recentlyfetched", "remote.example", {
    createdAt: OLD,
    updatedAt: OLD,
    fetchedAt: Date.now() - DAY,
  }).id;
  orphanAccount = oldAccount("orphan");
  doomed.oldFollowNotification = newId(VERY_OLD);
  insert("notifications", {
    id: doomed.oldFollowNotification,
    type: "follow",
    from_account_id: keptAccounts.followed as string,
    created_at: VERY_OLD,
  });

  const followedTag = newId();
  insert("tags", {
    id: followedTag,
    name: "followedtag",
    display_name: "followedtag",
    followed: 1,
    created_at: OLD,
  });
  const featuredTag = newId();
  insert("tags", { id: featuredTag, name: "featuredtag", display_name: "featuredtag", created_at: OLD });
  insert("featured_tags", { id: newId(), tag_id: featuredTag, created_at: OLD });
  keptAccounts.followedTag = followedTag;
  keptAccounts.featuredTag = featuredTag;
}

beforeAll(async () => {
  server = await startTestServer({ account: "owner" });
  sqlite = server.context.store.sqlite;
  token = issueToken(server);
  owner = findLocalUser(server.context.store.db)?.account.id as string;
  fill();
  sqlite.pragma("wal_checkpoint(TRUNCATE)");
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("prune", () => {
  it("creates new databases with incremental auto-vacuum", () => {
    expect(sqlite.pragma("auto_vacuum", { simple: true })).toBe(2);
  });

  it("dry run: counts what would go and changes nothing", async () => {
    const before = dbSnapshot(sqlite);
    const counts = await pruneDryRun(server.context);
    // The filler, the listed status and its boost.
    expect(counts.statuses).toBe(FILLER + 2);
    expect(counts.media).toBe(FILLER / 50 + 1);
    expect(counts.polls).toBe(FILLER / 100);
    expect(counts.notifications).toBe(FILLER / 200 + 1);
    // Authors left without statuses (all but 0, 2 and 3), the bystander mentioned only in doomed statuses,
    // and the orphan.
    expect(counts.accounts).toBe(authors.length - 3 + 2);
    expect(counts.tags).toBe(1);
    // dbSnapshot leaves out job_runs, which the server's own minute upkeep may write meanwhile.
    expect(dbSnapshot(sqlite)).toEqual(before);
    expect(existsSync(join(server.context.config.media.path, "cached.png"))).toBe(true);
  }, 60_000);

  it("wren prune --dry-run prints the counts and changes nothing", async () => {
    const dir = tempDir();
    const config = join(dir, "config.toml");
    writeFileSync(
      config,
      `[database]\npath = ${JSON.stringify(server.context.config.database.path)}\n[log]\nlevel = "silent"\n`,
    );
    const before = count("statuses");
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => printed.push(line);
    try {
      expect(await main(["prune", "--dry-run", "--config", config])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(printed.join("\n")).toContain(`remote statuses: ${FILLER + 2}`);
    expect(printed.join("\n")).toContain("Nothing was changed (dry run).");
    expect(count("statuses")).toBe(before);
  }, 60_000);

  let report: PruneReport;
  it("answers API requests while it prunes", async () => {
    const running = prune(server.context);
    let done = false;
    void running.then(() => {
      done = true;
    });
    let answeredDuring = 0;
    while (!done) {
      const response = await api(server, token, "GET", "/api/v1/timelines/home?limit=5");
      expect(response.status).toBe(200);
      if (!done) answeredDuring += 1;
    }
    report = await running;
    // Requests are answered between the batches, not after the whole prune. (How long one waits is a matter
    // for a bench, not a timed assertion on a shared CI machine.)
    expect(answeredDuring).toBeGreaterThan(5);
  }, 120_000);

  it("removed the unprotected statuses and their rows, and the file shrank", () => {
    expect(report.statuses).toBe(FILLER + 2);
    expect(report.incrementalVacuum).toBe(true);
    expect(report.bytesAfter).toBeLessThan(report.bytesBefore / 2);
    expect(databaseBytes(server.context.config.database.path)).toBeLessThan(report.bytesBefore / 2);
    for (const id of [doomed.listed, doomed.boost] as string[]) expect(exists("statuses", id)).toBe(false);
    expect(count("list_feed")).toBe(0);
    expect(exists("media_attachments", doomed.media as string)).toBe(false);
    expect(existsSync(join(server.context.config.media.path, "cached.png"))).toBe(false);
    expect(count("status_tags")).toBe(0);
    expect(exists("tags", doomed.tag as string)).toBe(false);
    expect(exists("notifications", doomed.oldFollowNotification as string)).toBe(false);
    // Nothing left pointing at a status that is gone.
    for (const table of ["home_feed", "mentions", "polls", "notifications", "media_attachments"]) {
      const dangling = sqlite
        .prepare(
          `SELECT count(*) FROM ${table} t WHERE t.status_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM statuses s WHERE s.id = t.status_id)`,
        )
        .pluck()
        .get();
      expect(dangling, table).toBe(0);
    }
    expect(sqlite.pragma("foreign_key_check")).toEqual([]);
  });

  it("kept every protected status", () => {
    for (const [why, id] of Object.entries(kept)) expect(exists("statuses", id), why).toBe(true);
    const remoteLeft = sqlite.prepare("SELECT count(*) FROM statuses WHERE local = 0").pluck().get();
    // The protected ones and the newer boost.
    expect(remoteLeft).toBe(Object.keys(kept).length - 1 + 1);
  });

  it("kept the remote accounts still referred to and the followed and featured tags", () => {
    for (const [why, id] of Object.entries(keptAccounts)) {
      const table = why.endsWith("Tag") ? "tags" : "accounts";
      expect(exists(table, id), why).toBe(true);
    }
    expect(exists("accounts", orphanAccount)).toBe(false);
    // Authors of protected statuses stay, the others go.
    expect(authors.filter((id) => exists("accounts", id))).toEqual([authors[0], authors[2], authors[3]]);
    expect(exists("accounts", owner)).toBe(true);
  });

  it("finds nothing more to do on a second run", async () => {
    const again = await prune(server.context);
    expect([again.statuses, again.notifications, again.accounts, again.tags]).toEqual([0, 0, 0, 0]);
  });
});

describe("prune on an older database", () => {
  it("wren prune --vacuum switches a database made without incremental auto-vacuum", async () => {
    const dir = tempDir();
    const path = join(dir, "old.db");
    const old = new Database(path);
    old.exec("CREATE TABLE before_incremental (x)");
    old.close();
    const store = openStore(path);
    try {
      const { config } = loadConfig({ env: { WREN_DATABASE_PATH: path, WREN_LOG_LEVEL: "silent" } });
      const ctx = createContext(config, store, createLogger("silent"), "test");
      expect(store.sqlite.pragma("auto_vacuum", { simple: true })).toBe(0);
      expect((await prune(ctx)).incrementalVacuum).toBe(false);
      expect(enableIncrementalVacuum(ctx)).toBe(true);
      expect(store.sqlite.pragma("auto_vacuum", { simple: true })).toBe(2);
      expect(enableIncrementalVacuum(ctx)).toBe(false);
      expect((await prune(ctx)).incrementalVacuum).toBe(true);
    } finally {
      store.close();
    }
  });
});

describe("disk budget", () => {
  it("prunes again with halved days while the database is above prune.disk_budget_mb", async () => {
    const dir = tempDir();
    const path = join(dir, "budget.db");
    const store = openStore(path);
    try {
      const { config } = loadConfig({
        env: { WREN_DATABASE_PATH: path, WREN_LOG_LEVEL: "silent", WREN_PRUNE_DISK_BUDGET_MB: "1" },
      });
      const ctx = createContext(config, store, createLogger("silent"), "test");
      const db = store.sqlite;
      const twentyDaysAgo = Date.now() - 20 * DAY;
      const author = newId(twentyDaysAgo);
      db.prepare(
        "INSERT INTO accounts (id, uri, username, domain, created_at, updated_at) VALUES (?, ?, 'a', 'remote.example', ?, ?)",
      ).run(author, "https://remote.example/users/a", twentyDaysAgo, twentyDaysAgo);
      const add = db.prepare(
        "INSERT INTO statuses (id, uri, account_id, content, visibility, created_at) VALUES (?, ?, ?, ?, 'public', ?)",
      );
      db.transaction(() => {
        for (let i = 0; i < 3000; i++)
          add.run(
            newId(twentyDaysAgo + i),
            `https://remote.example/s/${i}`,
            author,
            "x".repeat(600),
            twentyDaysAgo + i,
          );
      })();
      db.pragma("wal_checkpoint(TRUNCATE)");
      expect(databaseBytes(path)).toBeGreaterThan(1024 * 1024);

      const report = await prune(ctx);
      // 30 days kept them all; 15 days did not.
      expect(report.remoteStatusesDays).toBe(15);
      expect(report.notificationsDays).toBe(45);
      expect(report.statuses).toBe(3000);
      expect(report.accounts).toBe(1);
      expect(report.bytesAfter).toBeLessThanOrEqual(1024 * 1024);
    } finally {
      store.close();
    }
  });
});
