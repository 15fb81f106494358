import { asc, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { jobRuns } from "./schema.js";

export type JobRun = typeof jobRuns.$inferSelect;

/** Remembers the last run of a scheduled job (one row per job, replaced each run). */
export function recordJobRun(db: Db, run: JobRun): void {
  db.insert(jobRuns)
    .values(run)
    .onConflictDoUpdate({
      target: jobRuns.name,
      set: {
        startedAt: sql`excluded.started_at`,
        finishedAt: sql`excluded.finished_at`,
        ok: sql`excluded.ok`,
        detail: sql`excluded.detail`,
      },
    })
    .run();
}

/** The last run of every job that ran, by name. */
export function lastJobRuns(db: Db): JobRun[] {
  return db.select().from(jobRuns).orderBy(asc(jobRuns.name)).all();
}
