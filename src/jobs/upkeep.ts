/**
 * Periodic housekeeping, on wall-clock timers (wall-clock.ts), and node-cron for the owner's backup schedule:
 *
 * - every minute: delivery jobs left "running" for more than 5 minutes go back to the queue (a delivery
 *   never takes that long, so its process lost it) and the worker is woken;
 * - every hour: delete delivery jobs done more than a day ago and failed more than a week ago, the outbound
 *   activities left without any job, and inbound activities applied or failed more than 7 days ago (kept
 *   until then so that a re-delivery is still recognised as a duplicate);
 * - every minute: a "poll" notification for each ended poll of the account's or that it voted in, the final
 *   counts of ended local polls to other servers, and the new counts of local polls that got votes;
 * - every hour: remove uploads never attached to a status (nor used as avatar or header) after a day;
 * - every hour, after those: the remote media cache's pass (media/cache.ts): queue profile images not cached
 *   yet, remove cached files nothing refers to any more, evict past the budget;
 * - every minute: post the scheduled statuses that are due (a safety net for the timer in scheduled.ts);
 * - every day at 04:27, unless `prune.enabled` is false: prune old remote statuses, notifications, accounts
 *   and tags (prune.ts);
 * - on `backup.schedule`, when set: a backup into the backup folder (backup-schedule.ts).
 *
 * Every run is recorded (runs.ts) for `wren status`.
 *
 * Remote actors need no periodic pass: a cached actor is refreshed when it is next used and its fetched_at
 * is old (checked lazily by the resolver), so nothing is marked stale here.
 */
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { ScheduledTask } from "node-cron";
import type { Context } from "../context.js";
import { notifyEndedPolls, refreshPollResults } from "../core/polls.js";
import { requeueStuckJobs } from "../federation/delivery/worker.js";
import { INBOUND_RETENTION_MS } from "../federation/inbox/queue.js";
import { mediaCacheUpkeep } from "../media/cache.js";
import { purgeUnattachedMedia } from "../media/store.js";
import { deliveryJobs, inboundActivities, outboundActivities } from "../store/schema.js";
import { SCHEDULED_BACKUP_JOB, scheduledBackup } from "./backup-schedule.js";
import { nodeCron } from "./cron.js";
import { prune } from "./prune.js";
import { trackRun } from "./runs.js";
import { publishDue } from "./scheduled.js";
import { every, type WallClockTime } from "./wall-clock.js";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** Done jobs are kept this long (to see what was delivered), failed ones longer (to see what was not). */
export const DONE_JOB_RETENTION_MS = DAY;
export const FAILED_JOB_RETENTION_MS = 7 * DAY;

export interface PurgeCounts {
  doneJobs: number;
  failedJobs: number;
  activities: number;
  inbound: number;
}

/** Requeues abandoned deliveries and wakes the worker when there were any. Returns how many. */
export function requeueAbandonedDeliveries(ctx: Context, now = Date.now()): number {
  const requeued = requeueStuckJobs(ctx, undefined, now);
  if (requeued > 0) {
    ctx.log.warn({ jobs: requeued }, "deliveries stuck in flight requeued");
    ctx.events.emit("delivery.queued");
  }
  return requeued;
}

/** The hourly purge; returns what it deleted. */
export function purgeOldRows(ctx: Context, now = Date.now()): PurgeCounts {
  const db = ctx.store.db;
  const doneJobs = db
    .delete(deliveryJobs)
    .where(and(eq(deliveryJobs.state, "done"), lt(deliveryJobs.finishedAt, now - DONE_JOB_RETENTION_MS)))
    .run().changes;
  const failedJobs = db
    .delete(deliveryJobs)
    .where(and(eq(deliveryJobs.state, "failed"), lt(deliveryJobs.finishedAt, now - FAILED_JOB_RETENTION_MS)))
    .run().changes;
  // enqueueActivity writes an activity and its jobs in one transaction, so an activity without jobs is done.
  const activities = db
    .delete(outboundActivities)
    .where(
      sql`NOT EXISTS (SELECT 1 FROM ${deliveryJobs} WHERE ${deliveryJobs.activityId} = ${outboundActivities.id})`,
    )
    .run().changes;
  const inbound = db
    .delete(inboundActivities)
    .where(
      and(
        inArray(inboundActivities.state, ["done", "failed"]),
        lt(inboundActivities.finishedAt, now - INBOUND_RETENTION_MS),
      ),
    )
    .run().changes;
  const counts = { doneJobs, failedJobs, activities, inbound };
  if (doneJobs + failedJobs + activities + inbound > 0) ctx.log.info(counts, "upkeep: old rows purged");
  return counts;
}

export interface Upkeep {
  /** The maintenance tasks on timers now: their name (as `wren status` shows it) and when they run. */
  scheduled(): { name: string; at: WallClockTime }[];
  stop(): void;
}

/** Schedules the upkeep tasks; `stop()` cancels them. */
export function startUpkeep(ctx: Context): Upkeep {
  let stopped = false;
  // Each run is logged when it fails and recorded for `wren status` (runs.ts).
  const guarded = (name: string, fn: () => unknown) => () => (stopped ? undefined : trackRun(ctx, name, fn));
  const tasks: [name: string, at: WallClockTime, fn: () => unknown][] = [
    ["requeue", {}, () => requeueAbandonedDeliveries(ctx)],
    ["polls", {}, () => notifyEndedPolls(ctx) + refreshPollResults(ctx)],
    ["purge", { minute: 17 }, () => purgeOldRows(ctx)],
    [
      "purge-media",
      { minute: 43 },
      async () => {
        const removed = await purgeUnattachedMedia(ctx);
        if (removed > 0) ctx.log.info({ removed }, "upkeep: unattached uploads older than a day removed");
        await mediaCacheUpkeep(ctx);
      },
    ],
    ["scheduled", {}, () => publishDue(ctx)],
  ];
  if (ctx.config.prune.enabled) tasks.push(["prune", { hour: 4, minute: 27 }, () => prune(ctx)]);
  let timers = tasks.map(([name, at, fn]) => ({ name, at, timer: every(at, guarded(name, fn)) }));

  // The owner's cron expression is node-cron's job, loaded only when there is one.
  const cronTasks: ScheduledTask[] = [];
  if (ctx.config.backup.schedule.trim() !== "") {
    const logger = {
      info: (message: string) => ctx.log.debug(`node-cron: ${message}`),
      debug: (message: string | Error) => ctx.log.debug(`node-cron: ${String(message)}`),
      warn: (message: string) => ctx.log.warn(`node-cron: ${message}`),
      error: (message: string | Error, err?: Error) =>
        ctx.log.error({ err }, `node-cron: ${String(message)}`),
    };
    try {
      cronTasks.push(
        nodeCron().schedule(
          ctx.config.backup.schedule,
          guarded(SCHEDULED_BACKUP_JOB, () => scheduledBackup(ctx)),
          { noOverlap: true, logger, suppressMissedWarning: true, name: "wren-backup" },
        ),
      );
    } catch (error) {
      ctx.log.error({ err: error }, "could not schedule the backups");
    }
  }
  return {
    scheduled: () => timers.map(({ name, at }) => ({ name, at })),
    stop() {
      stopped = true;
      for (const { timer } of timers) timer.stop();
      timers = [];
      for (const task of cronTasks.splice(0)) void task.destroy();
    },
  };
}
