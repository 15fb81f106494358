// The visibility rule and the mute/block rule each exist as SQL (for list queries) and as a predicate (for
// single objects): on a real database, both forms must give the same answer for every combination of
// visibility and relation. Then, through the API, a mute that has expired hides nothing any more.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type SQL, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNotification } from "../src/core/common.js";
import { createStatus } from "../src/core/statuses.js";
import { commit } from "../src/core/unit-of-work.js";
import {
  filterVisible,
  isHidden,
  isMutedForNotifications,
  notHiddenSql,
  notificationsNotMutedSql,
  visibleStatusSql,
} from "../src/core/visibility.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { openStore, type Store } from "../src/store/open.js";
import { accounts, blocks, follows, homeFeed, mentions, mutes, statuses } from "../src/store/schema.js";
import type { StatusRow } from "../src/store/statuses.js";
import { api, issueToken } from "./helpers/api.js";
import { followRow, remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { startTestServer, type TestServer, tempDir } from "./helpers/server.js";

const VISIBILITIES = ["public", "unlisted", "private", "direct"] as const;
type Visibility = (typeof VISIBILITIES)[number];

describe("the visibility rule: SQL and predicate agree", () => {
  let dir: string;
  let store: Store;
  const ids = { viewer: "", followed: "", pending: "", stranger: "" };
  const now = Date.now();
  let seq = 0;

  const account = (username: string): string => {
    const id = newId();
    const uri = `https://example.test/users/${username}`;
    store.db
      .insert(accounts)
      .values({ id, uri, username, domain: "example.test", createdAt: now, updatedAt: now })
      .run();
    return id;
  };

  const status = (
    authorId: string,
    visibility: Visibility,
    extra: { mentioned?: boolean; inHome?: boolean; deleted?: boolean; reblogOf?: string } = {},
  ): string => {
    const id = newId();
    seq += 1;
    store.db
      .insert(statuses)
      .values({
        id,
        uri: `https://example.test/statuses/${seq}`,
        accountId: authorId,
        visibility,
        reblogOfId: extra.reblogOf ?? null,
        deletedAt: extra.deleted ? now : null,
        createdAt: now,
      })
      .run();
    if (extra.mentioned) store.db.insert(mentions).values({ statusId: id, accountId: ids.viewer }).run();
    if (extra.inHome) store.db.insert(homeFeed).values({ statusId: id, accountId: authorId }).run();
    return id;
  };

  beforeAll(() => {
    dir = tempDir("wren-visibility-");
    store = openStore(join(dir, "wren.db"));
    ids.viewer = account("viewer");
    ids.followed = account("followed");
    ids.pending = account("pending");
    ids.stranger = account("stranger");
    for (const [following, state] of [
      [ids.followed, "accepted"],
      [ids.pending, "pending"],
    ] as const) {
      store.db
        .insert(follows)
        .values({ id: newId(), followerId: ids.viewer, followingId: following, state, createdAt: now })
        .run();
    }
    // Every visibility × author relation × mentioned × in the home feed × deleted...
    const originals: string[] = [];
    for (const author of Object.values(ids)) {
      for (const visibility of VISIBILITIES) {
        for (const mentioned of [false, true]) {
          for (const inHome of [false, true]) {
            for (const deleted of [false, true]) {
              originals.push(status(author, visibility, { mentioned, inHome, deleted }));
            }
          }
        }
      }
    }
    // ...and boosts of each of them, by accounts of every relation, public or followers-only.
    for (const target of originals) {
      for (const booster of [ids.viewer, ids.followed, ids.stranger]) {
        for (const visibility of ["public", "private"] as const)
          status(booster, visibility, { reblogOf: target });
      }
    }
  });

  afterAll(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const allRows = (): StatusRow[] => store.db.select().from(statuses).all();
  const bySql = (viewerId: string | null): Set<string> =>
    new Set(
      store.db
        .all<{ id: string }>(sql`SELECT s.id AS id FROM statuses s WHERE ${visibleStatusSql(viewerId, "s")}`)
        .map((r) => r.id),
    );
  const byPredicate = (viewerId: string | null): Set<string> =>
    new Set(filterVisible(store.db, viewerId, allRows()).map((r) => r.id));

  it.each([
    ["the local account", () => ids.viewer],
    ["an anonymous client", () => null],
  ])("for %s", (_, viewer) => {
    const viewerId = viewer();
    const fromSql = bySql(viewerId);
    const fromPredicate = byPredicate(viewerId);
    expect(allRows().length).toBe(4 * 4 * 8 * 7);
    expect([...fromSql].sort()).toEqual([...fromPredicate].sort());
    // Both see something and hide something: the matrix is not trivially all or nothing.
    expect(fromSql.size).toBeGreaterThan(0);
    expect(fromSql.size).toBeLessThan(allRows().length);
  });

  it("says what the rule says for the cases that matter", () => {
    const check = (id: string, viewer: boolean, anon: boolean) => {
      expect(bySql(ids.viewer).has(id), `viewer, ${id}`).toBe(viewer);
      expect(bySql(null).has(id), `anonymous, ${id}`).toBe(anon);
    };
    check(status(ids.stranger, "public"), true, true);
    check(status(ids.stranger, "unlisted"), true, true);
    check(status(ids.stranger, "public", { deleted: true }), false, false);
    check(status(ids.followed, "private"), true, false);
    check(status(ids.pending, "private"), false, false);
    check(status(ids.stranger, "private"), false, false);
    check(status(ids.stranger, "private", { mentioned: true }), true, false);
    check(status(ids.followed, "direct"), false, false);
    check(status(ids.stranger, "direct", { mentioned: true }), true, false);
    check(status(ids.stranger, "direct", { inHome: true }), true, false);
    check(status(ids.viewer, "direct"), true, false);
    const hidden = status(ids.stranger, "private");
    check(status(ids.followed, "public", { reblogOf: hidden }), false, false);
    const gone = status(ids.stranger, "public", { deleted: true });
    check(status(ids.followed, "public", { reblogOf: gone }), false, false);
    const followersOnly = status(ids.followed, "private");
    check(status(ids.stranger, "public", { reblogOf: followersOnly }), true, false);
  });

  it("mutes and blocks: unexpired mutes and blocks hide, expired mutes do not, in SQL and as functions", () => {
    const targets = { active: account("muted"), forever: account("forever"), expired: account("expired") };
    const quiet = account("quiet");
    const blocked = account("blocked");
    const free = account("free");
    const mute = (targetId: string, expiresAt: number | null, hideNotifications = true) =>
      store.db
        .insert(mutes)
        .values({
          id: newId(),
          accountId: ids.viewer,
          targetId,
          expiresAt,
          hideNotifications,
          createdAt: now,
        })
        .run();
    mute(targets.active, now + 60_000);
    mute(targets.forever, null);
    mute(targets.expired, now - 1);
    mute(quiet, null, false);
    store.db
      .insert(blocks)
      .values({ id: newId(), accountId: ids.viewer, targetId: blocked, createdAt: now })
      .run();

    const cases: [string, boolean, boolean][] = [
      [targets.active, true, true],
      [targets.forever, true, true],
      [targets.expired, false, false],
      [quiet, true, false],
      [blocked, true, false],
      [free, false, false],
    ];
    const sqlSays = (condition: SQL) =>
      store.db.get<{ ok: number }>(sql`SELECT (${condition}) AS ok`)?.ok === 1;
    for (const [target, hidden, notificationsMuted] of cases) {
      expect(isHidden(store.db, ids.viewer, [target], now), target).toBe(hidden);
      expect(sqlSays(notHiddenSql(ids.viewer, [sql`${target}`], now)), target).toBe(!hidden);
      expect(isMutedForNotifications(store.db, ids.viewer, target, now), target).toBe(notificationsMuted);
      expect(sqlSays(notificationsNotMutedSql(ids.viewer, sql`${target}`, now)), target).toBe(
        !notificationsMuted,
      );
    }
    // Any one hidden account among several hides (a boost of a muted author's post).
    expect(isHidden(store.db, ids.viewer, [free, blocked], now)).toBe(true);
    // The same expired mute counted before it ran out.
    expect(isHidden(store.db, ids.viewer, [targets.expired], now - 10)).toBe(true);
  });
});

describe("an expired mute hides nothing any more (API)", () => {
  let server: TestServer;
  let token: string;
  let local: AccountRow;
  let bob: AccountRow;

  beforeAll(async () => {
    server = await startTestServer({ account: "alice" });
    await server.delivery.stop(1000);
    token = issueToken(server);
    local = findLocalUser(server.context.store.db)?.account as AccountRow;
    bob = remoteAccount(server, "bob");
    followRow(server, local.id, bob.id);
  });

  afterAll(async () => {
    await server?.close();
  });

  const setMute = (expiresAt: number | null) => {
    const { db } = server.context.store;
    db.delete(mutes).run();
    db.insert(mutes)
      .values({
        id: newId(),
        accountId: local.id,
        targetId: bob.id,
        expiresAt,
        hideNotifications: true,
        createdAt: Date.now(),
      })
      .run();
  };

  const ids = async (path: string) => {
    const res = await api(server, token, "GET", path);
    expect(res.status).toBe(200);
    return (res.json as { id: string }[]).map((i) => i.id);
  };

  it("on the home timeline, in notifications, in relationships and in the mutes list", async () => {
    const statusId = remoteNote(server, bob, { content: "<p>muted for a while</p>" });
    await createStatus(server.context, { text: "mine" });
    const notificationId = commit(server.context, (uow) =>
      addNotification(server.context, uow, "follow", bob.id),
    );
    expect(notificationId).not.toBeNull();

    setMute(Date.now() + 3_600_000);
    expect(await ids("/api/v1/timelines/home")).not.toContain(statusId);
    expect(await ids("/api/v1/notifications")).not.toContain(notificationId);
    expect(await ids("/api/v1/mutes")).toEqual([bob.id]);

    setMute(Date.now() - 1);
    expect(await ids("/api/v1/timelines/home")).toContain(statusId);
    expect(await ids("/api/v1/notifications")).toContain(notificationId);
    expect(await ids("/api/v1/mutes")).toEqual([]);
    const relationships = await api(server, token, "GET", `/api/v1/accounts/relationships?id[]=${bob.id}`);
    expect((relationships.json as { muting: boolean }[])[0]?.muting).toBe(false);
  });
});
