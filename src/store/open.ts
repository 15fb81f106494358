import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { PACKAGE_ROOT } from "../version.js";

/** drizzle's query builder over the store. Wren does not use drizzle's relational queries (`db.query`), so the
 * schema is not handed to drizzle: building its relational map cost 2.5 ms of every start. */
export type Db = BetterSQLite3Database;

export interface Store {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

/** drizzle/ at the top of the checkout, beside src/ and dist/. */
export const MIGRATIONS_FOLDER = join(PACKAGE_ROOT, "drizzle");

export interface OpenOptions {
  busyTimeoutMs?: number;
  /** Apply pending migrations (the default); `wren migrate` and start-up both do. */
  migrate?: boolean;
}

export function openStore(path: string, options: OpenOptions = {}): Store {
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  // Takes effect only on a new, empty database: it lets the prune hand freed pages back (incremental_vacuum).
  // An older file switches with one full VACUUM, `wren prune --vacuum` (see docs/decisions.md).
  sqlite.pragma("auto_vacuum = INCREMENTAL");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma(`busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5000)}`);
  // Bounded page cache (about 8 MB) so memory stays flat however large the database grows.
  sqlite.pragma("cache_size = -8000");
  sqlite.pragma("temp_store = MEMORY");
  cacheStatements(sqlite);
  const db = drizzle(sqlite);
  if (options.migrate !== false) migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return {
    db,
    sqlite,
    close() {
      if (!sqlite.open) return;
      sqlite.pragma("optimize");
      sqlite.close();
    },
  };
}

/** How many compiled statements are kept: every query shape the server runs, with room to spare. */
const STATEMENT_CACHE_SIZE = 200;

/**
 * Keeps compiled statements by their SQL text. drizzle prepares a statement for every query it runs unless the
 * query was prepared once (store/prepared.ts), and a query whose shape depends on its input (filters, keyset
 * bounds, optional joins) cannot be: compiling it again costs 20-200 µs, often more than running it. The same
 * text now gets the same compiled statement, least recently used ones dropped past STATEMENT_CACHE_SIZE. A
 * statement comes back in its default mode (rows as objects), and one still busy (an unfinished iterate())
 * is never handed out twice: that caller gets a fresh one.
 */
function cacheStatements(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    const known = cache.get(source);
    if (known && !known.busy) {
      cache.delete(source);
      cache.set(source, known);
      if (known.reader) known.raw(false).pluck(false).expand(false);
      return known;
    }
    const statement = prepare(source);
    if (!known) {
      cache.set(source, statement);
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

/** Runs fn in one IMMEDIATE transaction (takes the write lock up front, so no upgrade deadlocks). */
export function transaction<T>(store: Store, fn: () => T): T {
  return store.sqlite.transaction(fn).immediate();
}
