// Upgrades keep what an earlier schema held: a database migrated up to an older migration, given rows, then
// opened by the current code (which applies the rest, as `wren migrate` and `wren serve` do).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, openStore } from "../src/store/open.js";
import { tempDir } from "./helpers/server.js";

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

/** A database file migrated up to and including migration `last` (its index in the journal). */
function databaseAt(last: number): string {
  const dir = tempDir("wren-migrations-");
  const folder = join(dir, "drizzle");
  mkdirSync(join(folder, "meta"), { recursive: true });
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
    entries: { idx: number; tag: string }[];
  };
  journal.entries = journal.entries.filter((entry) => entry.idx <= last);
  writeFileSync(join(folder, "meta", "_journal.json"), JSON.stringify(journal));
  for (const name of readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith(".sql"))) {
    if (journal.entries.some((entry) => `${entry.tag}.sql` === name))
      copyFileSync(join(MIGRATIONS_FOLDER, name), join(folder, name));
  }
  const path = join(dir, "wren.db");
  const sqlite = new Database(path);
  migrate(drizzle(sqlite), { migrationsFolder: folder });
  sqlite.close();
  return path;
}

describe("0018: inbound bodies in a table of their own", () => {
  it("moves the bodies of waiting and failed activities, and keeps every de-duplication row", () => {
    const path = databaseAt(17);
    const old = new Database(path);
    const insert = old.prepare(
      "INSERT INTO inbound_activities (dedupe_key, actor_uri, body, state, received_at, next_attempt_at) VALUES (?, ?, ?, ?, 1, 1)",
    );
    insert.run("https://a.example/1", "https://a.example/actor", '{"id":"https://a.example/1"}', "pending");
    insert.run("https://a.example/2", "https://a.example/actor", null, "done");
    insert.run("https://a.example/3", "https://a.example/actor", '{"id":"https://a.example/3"}', "failed");
    old.close();

    const store = openStore(path);
    opened.push(store);
    const rows = store.sqlite
      .prepare(
        "SELECT a.dedupe_key AS key, a.state, b.body FROM inbound_activities a LEFT JOIN inbound_bodies b ON b.activity_id = a.id ORDER BY a.id",
      )
      .all();
    expect(rows).toEqual([
      { key: "https://a.example/1", state: "pending", body: '{"id":"https://a.example/1"}' },
      { key: "https://a.example/2", state: "done", body: null },
      { key: "https://a.example/3", state: "failed", body: '{"id":"https://a.example/3"}' },
    ]);
    // A purged row takes its body with it.
    store.sqlite.prepare("DELETE FROM inbound_activities WHERE state = 'failed'").run();
    expect(store.sqlite.prepare("SELECT count(*) AS n FROM inbound_bodies").get()).toEqual({ n: 1 });
  });
});

describe("0019: the accounts domain blocks cover, kept by triggers", () => {
  it("lists the accounts existing blocks already covered, then follows new accounts and blocks", () => {
    const path = databaseAt(18);
    const old = new Database(path);
    const account = old.prepare(
      "INSERT INTO accounts (id, uri, username, domain, created_at, updated_at) VALUES (?, ?, 'u', ?, 1, 1)",
    );
    account.run("1", "https://local.example/users/u", null);
    account.run("2", "https://blocked.example/users/u", "blocked.example");
    account.run("3", "https://a.blocked.example/users/u", "a.blocked.example:8443");
    account.run("4", "https://fine.example/users/u", "fine.example");
    old
      .prepare("INSERT INTO domain_blocks (id, domain, created_at) VALUES ('10', 'blocked.example', 1)")
      .run();
    old.close();

    const store = openStore(path);
    opened.push(store);
    const covered = () =>
      store.sqlite
        .prepare("SELECT account_id FROM domain_blocked_accounts ORDER BY account_id")
        .pluck()
        .all();
    expect(covered()).toEqual(["2", "3"]);
    store.sqlite
      .prepare(
        "INSERT INTO accounts (id, uri, username, domain, created_at, updated_at) VALUES ('5', 'https://x.blocked.example/u', 'u', 'x.blocked.example', 1, 1)",
      )
      .run();
    store.sqlite
      .prepare("INSERT INTO domain_blocks (id, domain, created_at) VALUES ('11', 'fine.example', 1)")
      .run();
    expect(covered()).toEqual(["2", "3", "4", "5"]);
    store.sqlite.prepare("DELETE FROM domain_blocks WHERE domain = 'blocked.example'").run();
    expect(covered()).toEqual(["4"]);
    store.sqlite.prepare("DELETE FROM accounts WHERE id = '4'").run();
    expect(covered()).toEqual([]);
  });
});
