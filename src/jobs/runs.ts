import type { Context } from "../context.js";
import { recordJobRun } from "../store/job-runs.js";

/**
 * Runs a scheduled job, logs a failure, and records the run (start, end, outcome and a one-line detail) for
 * `wren status`. `fn` may return a detail to record.
 */
export async function trackRun(ctx: Context, name: string, fn: () => unknown): Promise<void> {
  const startedAt = Date.now();
  let ok = true;
  let detail = "";
  try {
    const result = await fn();
    if (typeof result === "string") detail = result;
  } catch (error) {
    ok = false;
    detail = (error as Error).message ?? String(error);
    ctx.log.error({ err: error, task: name }, "scheduled task failed");
  }
  try {
    recordJobRun(ctx.store.db, { name, startedAt, finishedAt: Date.now(), ok, detail: detail.slice(0, 500) });
  } catch (error) {
    // The store may be closing (shutdown while a task ran): the run is then not worth a crash.
    ctx.log.debug({ err: error, task: name }, "could not record the run");
  }
}
