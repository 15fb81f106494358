/**
 * Decimal snowflake ids: (milliseconds << 16) | sequence. As text they sort by time because every id has the
 * same number of digits (18) for any time between 2018-05-09 and 2453; earlier times (old remote posts) are
 * clamped to the first millisecond with 18-digit ids, so they still have 18 digits and sort first. Apps receive
 * them as opaque strings, as from Mastodon.
 */
// 10^17 / 2^16 = 2018-05-09T15:15:06.250Z: the first millisecond whose id has 18 digits (2017 ids had 17).
const MIN_TIME = 1_525_878_906_250;
let lastMs = 0;
let sequence = 0;

export function newId(at: number = Date.now()): string {
  const ms = Math.max(Math.floor(at), MIN_TIME);
  if (ms < lastMs - 60_000) {
    // An id for a past time (a remote post's published date): random low bits make collisions unlikely.
    return ((BigInt(ms) << 16n) | BigInt(Math.floor(Math.random() * 0x10000))).toString();
  }
  if (ms > lastMs) {
    lastMs = ms;
    sequence = 0;
  } else if (++sequence > 0xffff) {
    // Ids made now never go backwards, even past 65,536 in one millisecond or when the clock steps back.
    lastMs += 1;
    sequence = 0;
  }
  return ((BigInt(lastMs) << 16n) | BigInt(sequence)).toString();
}

/** The smallest id of a given millisecond, for turning a time into a pagination bound. */
export function idAtTime(ms: number): string {
  return (BigInt(Math.max(Math.floor(ms), MIN_TIME)) << 16n).toString();
}

export function idTime(id: string): number {
  return Number(BigInt(id) >> 16n);
}

export function isId(value: string): boolean {
  return /^\d{1,19}$/.test(value);
}
