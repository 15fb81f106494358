import { type SQL, type SQLWrapper, sql } from "drizzle-orm";
import type { Db } from "./open.js";

/**
 * Queries built and prepared once per database handle. Building a drizzle query (a select of every column
 * with a 40-id list) and compiling its SQL costs more than running it, and a timeline page runs a dozen, so
 * the queries every page runs are kept. Lists are bound as one JSON array read with json_each (see inList),
 * so the SQL text, and the statement, are the same whatever the length of the list.
 */
export function preparedPerDb<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>();
  return (db) => {
    let queries = cache.get(db);
    if (queries === undefined) {
      queries = build(db);
      cache.set(db, queries);
    }
    return queries;
  };
}

/** `column IN (the JSON array bound to placeholder "name")`, for preparedPerDb queries. */
export function inList(column: SQLWrapper, name: string): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${sql.placeholder(name)}))`;
}
