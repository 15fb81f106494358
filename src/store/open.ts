import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { PACKAGE_ROOT } from "../version.js";
import * as schema from "./schema.js";

export type Db = BetterSQLite3Database<typeof schema>;

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
  const db = drizzle(sqlite, { schema });
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

/** Runs fn in one IMMEDIATE transaction (takes the write lock up front, so no upgrade deadlocks). */
export function transaction<T>(store: Store, fn: () => T): T {
  return store.sqlite.transaction(fn).immediate();
}
