import { beforeEach, describe, expect, it, vi } from "vitest";

type Ids = typeof import("../src/store/ids.js");

/** ids.ts keeps the last time and sequence in module state: each test gets a fresh copy. */
let ids: Ids;
beforeEach(async () => {
  vi.resetModules();
  ids = await import("../src/store/ids.js");
});

/** The earliest time an id can carry: the first millisecond whose id has 18 digits (10^17 / 2^16). */
const MIN_TIME = Date.UTC(2018, 4, 9, 15, 15, 6, 250);

describe("newId", () => {
  it("is strictly increasing over 100,000 calls, as numbers and as text, with 18 digits", () => {
    let previous = ids.newId();
    expect(previous).toMatch(/^\d{18}$/);
    for (let i = 0; i < 100_000; i++) {
      const id = ids.newId();
      if (id.length !== 18 || !(BigInt(id) > BigInt(previous)) || !(id > previous)) {
        throw new Error(`id ${i}: ${id} does not follow ${previous}`);
      }
      previous = id;
    }
  });

  it("round-trips its time through idTime", () => {
    const now = Date.now();
    expect(ids.idTime(ids.newId(now))).toBe(now);
    for (const at of [Date.UTC(2020, 5, 15, 12, 30, 45, 123), MIN_TIME, MIN_TIME + 1, Date.UTC(2023, 0, 1)]) {
      const id = ids.newId(at);
      expect(id).toMatch(/^\d{18}$/);
      expect(ids.idTime(id)).toBe(at);
    }
  });

  it("drops fractions of a millisecond", () => {
    expect(ids.idTime(ids.newId(Date.UTC(2024, 0, 1) + 0.75))).toBe(Date.UTC(2024, 0, 1));
  });

  it("clamps old times (2017, 1999, 1970) to May 2018, keeping 18 digits so text order stays time order", () => {
    expect(ids.newId(MIN_TIME)).toBe("100000000000000000");
    for (const at of [0, Date.UTC(1999, 11, 31), Date.UTC(2017, 0, 1), MIN_TIME - 1, -1_000_000]) {
      const id = ids.newId(at);
      expect(id).toMatch(/^\d{18}$/);
      expect(ids.idTime(id)).toBe(MIN_TIME);
    }
    const old = ids.newId(Date.UTC(2001, 0, 1));
    const recent = ids.newId();
    expect(old < recent).toBe(true);
  });

  it("keeps 18 digits up to the year 2453", () => {
    const id = ids.newId(Date.UTC(2453, 0, 1));
    expect(id).toMatch(/^\d{18}$/);
    expect(ids.idTime(id)).toBe(Date.UTC(2453, 0, 1));
  });

  it("gives an id for a past time (a remote post) that sorts before ids made now", () => {
    const now = ids.newId();
    const past = ids.newId(Date.now() - 24 * 3600_000);
    expect(past).toMatch(/^\d{18}$/);
    expect(past < now).toBe(true);
    // Ids made now keep increasing after it.
    expect(ids.newId() > now).toBe(true);
  });

  it("never goes backwards when the clock steps back a little", () => {
    const at = Date.now();
    const first = ids.newId(at);
    const second = ids.newId(at - 5_000);
    const third = ids.newId(at - 10_000);
    expect(BigInt(second) > BigInt(first)).toBe(true);
    expect(BigInt(third) > BigInt(second)).toBe(true);
  });

  it("carries into the next millisecond after 65,536 ids in one millisecond", () => {
    const at = Date.UTC(2030, 0, 1);
    const made = Array.from({ length: 70_000 }, () => ids.newId(at));
    expect(new Set(made).size).toBe(made.length);
    for (let i = 1; i < made.length; i++) {
      if (!(BigInt(made[i] as string) > BigInt(made[i - 1] as string)))
        throw new Error(`not increasing at ${i}`);
    }
    expect(ids.idTime(made[0] as string)).toBe(at);
    expect(ids.idTime(made[65_535] as string)).toBe(at);
    expect(ids.idTime(made[65_536] as string)).toBe(at + 1);
  });
});

describe("idAtTime and isId", () => {
  it("gives the smallest id of a millisecond, a bound for pagination", () => {
    const at = Date.UTC(2025, 2, 3, 4, 5, 6, 7);
    const bound = ids.idAtTime(at);
    expect(bound).toMatch(/^\d{18}$/);
    expect(ids.idTime(bound)).toBe(at);
    const id = ids.newId(at);
    expect(BigInt(bound) <= BigInt(id)).toBe(true);
    expect(BigInt(ids.idAtTime(at + 1)) > BigInt(id)).toBe(true);
    expect(ids.idAtTime(0)).toBe(ids.idAtTime(MIN_TIME));
    expect(ids.idAtTime(0)).toMatch(/^\d{18}$/);
  });

  it("recognises ids", () => {
    expect(ids.isId(ids.newId())).toBe(true);
    expect(ids.isId("1")).toBe(true);
    expect(ids.isId("")).toBe(false);
    expect(ids.isId("12a")).toBe(false);
    expect(ids.isId("-1")).toBe(false);
    expect(ids.isId("1".repeat(20))).toBe(false);
  });
});
