/**
 * Fixed maintenance times ("every minute", "hourly at :17", "daily at 04:27") on plain timers. node-cron is
 * kept for the one schedule the owner writes as a cron expression (`backup.schedule`): its every `schedule()`
 * builds an `Intl.DateTimeFormat`, which maps ICU's data, about 8 MB resident for the life of the process, and
 * 20 ms of start-up. These fixed times need none of that (docs/decisions.md, "Memory").
 */

export interface WallClockTime {
  /** 0-59; absent: every minute. */
  minute?: number;
  /** 0-23, server local time; absent: every hour. */
  hour?: number;
}

const MINUTE = 60_000;

/** The first whole minute strictly after `after` (ms since the epoch) that matches `at`, in local time. */
export function nextRun(at: WallClockTime, after: number): number {
  let candidate = (Math.floor(after / MINUTE) + 1) * MINUTE;
  // At most a day of minutes (plus an hour for a daylight-saving change) is ever searched.
  for (let i = 0; i < 25 * 60; i++, candidate += MINUTE) {
    const date = new Date(candidate);
    if (at.minute !== undefined && date.getMinutes() !== at.minute) continue;
    if (at.hour !== undefined && date.getHours() !== at.hour) continue;
    return candidate;
  }
  throw new Error(`no minute matches ${JSON.stringify(at)}`);
}

export interface Timed {
  stop(): void;
}

/**
 * Runs `fn` at every minute matching `at`. A run still going when the next is due makes that one skip (as
 * node-cron's `noOverlap`). The timer never keeps the process alive by itself.
 */
export function every(at: WallClockTime, fn: () => Promise<unknown> | unknown): Timed {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    timer = setTimeout(fire, Math.max(0, nextRun(at, Date.now()) - Date.now()));
    timer.unref();
  };
  const fire = () => {
    arm();
    if (running) return;
    running = true;
    void Promise.resolve()
      .then(fn)
      .catch(() => undefined)
      .finally(() => {
        running = false;
      });
  };
  arm();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
