/**
 * When to try a delivery again, and which answers are worth another try. The schedule follows Mastodon's:
 * after the n-th failed attempt wait n^4 + 15 seconds plus up to 10·(n + 1) seconds of jitter, and give up
 * after 16 attempts. The waits add up to about 2.8 days (n = 1..15: 15 s, 31 s, 96 s, ... 14 h).
 */

/** Attempts before a job is marked failed. */
export const MAX_ATTEMPTS = 16;

/** The longest we honour a Retry-After (a server asking for more is treated as asking for a day). */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Milliseconds to wait after `attempts` failed attempts (1 after the first failure). `random` returns a
 * number in [0, 1) and spreads retries so a host that comes back is not hit by every job in the same second.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const n = Math.max(1, attempts);
  const seconds = n ** 4 + 15 + Math.floor(random() * 10 * (n + 1));
  return seconds * 1000;
}

/**
 * Statuses after which another attempt cannot help: every 4xx except 401 (the host may not have fetched
 * our key yet), 408 (timeout) and 429 (rate limit); and 501 (the inbox does not accept POST).
 */
export function isPermanentStatus(status: number): boolean {
  if (status === 501) return true;
  return status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429;
}

/**
 * Parses Retry-After (delay-seconds or an HTTP date) into milliseconds from `now`, capped at a day.
 * null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}
