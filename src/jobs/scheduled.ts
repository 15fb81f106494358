/**
 * Publishes scheduled statuses on time: a timer set to the next one due, re-armed whenever they change
 * ("scheduled.changed") and after each run, with the upkeep's minute check as a safety net (upkeep.ts). At
 * start the timer is armed from the table, so statuses that came due while the server was down are posted
 * at once. Each status is claimed in the transaction that posts it (core/scheduled.ts): running twice, here
 * or in another process on the same file, never posts one twice.
 */
import type { Context } from "../context.js";
import { UserError } from "../core/account.js";
import { dropScheduledStatus, publishScheduledStatus } from "../core/scheduled.js";
import { resolveMentions } from "../federation/mentions.js";
import { dueScheduledStatuses, nextScheduledAt } from "../store/scheduled-statuses.js";

/** Statuses posted per pass; a longer backlog takes further passes right after. */
const BATCH = 20;
/** setTimeout's longest delay; a later status is looked at again then (or by the minute check). */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface PassResult {
  posted: number;
  /** Left for a later pass after an unexpected failure. */
  failed: number;
}

const running = new WeakMap<Context, Promise<PassResult>>();

/**
 * Posts the statuses due now. Concurrent calls for one context share one pass. Returns how many were posted.
 * A status that can no longer be posted (its input became invalid) is dropped and logged, as Mastodon does;
 * any other failure leaves it for a later pass.
 */
export function publishDue(ctx: Context, now: () => number = Date.now): Promise<PassResult> {
  const pending = running.get(ctx);
  if (pending) return pending;
  const pass = (async () => {
    const result: PassResult = { posted: 0, failed: 0 };
    for (const row of dueScheduledStatuses(ctx.store.db, now(), BATCH)) {
      try {
        const mentions = await resolveMentions(ctx, row.params.text);
        const id = publishScheduledStatus(ctx, row.id, mentions, now());
        if (id) {
          result.posted++;
          ctx.log.info({ scheduled: row.id, status: id }, "scheduled status posted");
        }
      } catch (error) {
        if (!(error instanceof UserError)) {
          ctx.log.warn({ err: error, scheduled: row.id }, "scheduled status not posted; retried later");
          result.failed++;
          continue;
        }
        ctx.log.warn({ err: error, scheduled: row.id }, "scheduled status could not be posted: dropped");
        dropScheduledStatus(ctx, row.id);
      }
    }
    return result;
  })().finally(() => running.delete(ctx));
  running.set(ctx, pass);
  return pass;
}

export interface ScheduledPublisher {
  stop(): void;
}

/** Arms the timer for the next due status and keeps it armed until `stop()`. */
export function startScheduledPublisher(ctx: Context, now: () => number = Date.now): ScheduledPublisher {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let failures = 0;

  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stopped) return;
    const next = nextScheduledAt(ctx.store.db);
    if (next === null) return;
    // After a failing pass the minute check takes over rather than a tight loop of retries.
    const delay = failures > 0 ? 60_000 : Math.min(Math.max(next - now(), 0), MAX_DELAY_MS);
    timer = setTimeout(fire, delay);
    timer.unref();
  };

  const fire = () => {
    timer = null;
    if (stopped) return;
    publishDue(ctx, now)
      .then((result) => {
        failures = result.failed > 0 ? failures + 1 : 0;
      })
      .catch((error: unknown) => {
        failures++;
        ctx.log.error({ err: error }, "scheduled statuses: the pass failed");
      })
      .finally(arm);
  };

  ctx.events.on("scheduled.changed", arm);
  arm();
  return {
    stop() {
      stopped = true;
      ctx.events.off("scheduled.changed", arm);
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
