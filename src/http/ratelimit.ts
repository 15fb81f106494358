import type { IncomingMessage } from "node:http";
import type { Context as HonoContext } from "hono";

export interface RateLimitOptions {
  /** Events allowed per window; the next one is refused. */
  limit: number;
  windowMs: number;
  /** Keys remembered at most: the oldest are forgotten first, so memory stays bounded whatever the traffic. */
  maxKeys?: number;
}

/**
 * A small in-memory sliding-window limiter keyed by client address. It counts what the caller records (failed
 * logins, say) rather than every request, and keeps at most `limit` timestamps for at most `maxKeys` keys.
 * One process serves Wren, so memory is the right place: a restart forgiving everyone is acceptable.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(options: RateLimitOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** 0 when another event is allowed now, otherwise the milliseconds until one is. */
  retryAfterMs(key: string, now = Date.now()): number {
    const times = this.current(key, now);
    if (times.length < this.limit) return 0;
    const oldest = times[times.length - this.limit] ?? now;
    return Math.max(1, oldest + this.windowMs - now);
  }

  /** Records one event for the key. */
  hit(key: string, now = Date.now()): void {
    const times = this.current(key, now);
    times.push(now);
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
    // Re-inserting moves the key to the end: the Map's order is then least recently hit first.
    this.hits.delete(key);
    this.hits.set(key, times);
    while (this.hits.size > this.maxKeys) {
      const first = this.hits.keys().next();
      if (first.done) break;
      this.hits.delete(first.value);
    }
  }

  /** Forgets the key (after a successful login, for instance). */
  reset(key: string): void {
    this.hits.delete(key);
  }

  get size(): number {
    return this.hits.size;
  }

  private current(key: string, now: number): number[] {
    const times = this.hits.get(key);
    if (!times) return [];
    const fresh = times.filter((t) => t > now - this.windowMs);
    if (fresh.length === 0) this.hits.delete(key);
    else if (fresh.length !== times.length) this.hits.set(key, fresh);
    return fresh;
  }
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/**
 * The address a request came from, as a rate-limiting key. A reverse proxy on the same machine (the peer is a
 * loopback address) is trusted for X-Forwarded-For: its last entry is the address the proxy itself saw. IPv6
 * addresses are keyed by their /64, which one client usually holds whole.
 */
export function clientAddress(c: HonoContext): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const peer = incoming?.socket?.remoteAddress;
  let address = peer;
  if (!peer || isLoopback(peer)) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded) address = forwarded;
  }
  return address ? addressKey(address) : "unknown";
}

/** IPv4 as is (also when IPv4-mapped), IPv6 reduced to its first four groups. */
export function addressKey(address: string): string {
  const lower = address.toLowerCase().replace(/%.*$/, "");
  const mapped = lower.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped?.[1]) return mapped[1];
  if (!lower.includes(":")) return lower;
  const [head = "", tail] = lower.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
