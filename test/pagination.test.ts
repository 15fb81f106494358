// Mastodon's id pagination, the same on every list: max_id and since_id are exclusive bounds, min_id gives
// the items just newer than it (newest first), min_id wins over since_id, and ids of other lengths compare
// as numbers. Checked through the API on the home timeline, notifications and followers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNotification } from "../src/core/common.js";
import { createStatus } from "../src/core/statuses.js";
import { commit } from "../src/core/unit-of-work.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { api, issueToken } from "./helpers/api.js";
import { followRow, remoteAccount } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const COUNT = 7;

let server: TestServer;
let token: string;
let local: AccountRow;
/** Per list: the pagination ids newest first, and the id of the item each one shows. */
const lists: Record<string, { pageIds: string[]; itemOf: Map<string, string> }> = {};

const newestFirst = (ids: string[]) => [...ids].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  await server.delivery.stop(1000);
  token = issueToken(server);
  local = findLocalUser(server.context.store.db)?.account as AccountRow;

  const posts: string[] = [];
  for (let i = 0; i < COUNT; i++) posts.push(await createStatus(server.context, { text: `post ${i}` }));
  lists["/api/v1/timelines/home"] = {
    pageIds: newestFirst(posts),
    itemOf: new Map(posts.map((p) => [p, p])),
  };

  const notified: string[] = [];
  const followed = new Map<string, string>();
  for (let i = 0; i < COUNT; i++) {
    const fan = remoteAccount(server, `fan${i}`);
    const notification = commit(server.context, (uow) =>
      addNotification(server.context, uow, "mention", fan.id),
    );
    if (!notification) throw new Error("notification not added");
    notified.push(notification);
    const followId = followRow(server, fan.id, local.id);
    followed.set(followId, fan.id);
  }
  lists["/api/v1/notifications"] = {
    pageIds: newestFirst(notified),
    itemOf: new Map(notified.map((n) => [n, n])),
  };
  lists[`/api/v1/accounts/${local.id}/followers`] = {
    pageIds: newestFirst([...followed.keys()]),
    itemOf: followed,
  };
});

afterAll(async () => {
  await server?.close();
});

describe.each(["/api/v1/timelines/home", "/api/v1/notifications", "followers"])("%s", (name) => {
  const list = () => {
    const path = name === "followers" ? `/api/v1/accounts/${local.id}/followers` : name;
    const entry = lists[path];
    if (!entry) throw new Error(`no fixture for ${path}`);
    return { path, ...entry };
  };

  /** The item ids the list answers for these query parameters. */
  const page = async (query: string): Promise<string[]> => {
    const res = await api(server, token, "GET", `${list().path}?${query}`);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    return (res.json as { id: string }[]).map((i) => i.id);
  };

  /** What Mastodon answers: the items of these pagination ids (given newest first). */
  const items = (...pageIds: (string | undefined)[]) =>
    pageIds.map((id) => list().itemOf.get(id as string) as string);

  it("max_id and since_id are exclusive, newest first", async () => {
    const p = list().pageIds;
    expect(await page(`max_id=${p[2]}&limit=2`)).toEqual(items(p[3], p[4]));
    expect(await page(`since_id=${p[4]}&limit=2`)).toEqual(items(p[0], p[1]));
    expect(await page(`max_id=${p[1]}&since_id=${p[5]}`)).toEqual(items(p[2], p[3], p[4]));
  });

  it("min_id gives the items just newer than it, newest first; max_id still bounds it", async () => {
    const p = list().pageIds;
    expect(await page(`min_id=${p[4]}&limit=2`)).toEqual(items(p[2], p[3]));
    expect(await page(`min_id=${p[4]}&max_id=${p[0]}&limit=10`)).toEqual(items(p[1], p[2], p[3]));
  });

  it("since_id and min_id together: min_id wins, as Mastodon's to_a_paginated_by_id", async () => {
    const p = list().pageIds;
    // since_id alone would answer only p[0]; both together answer what min_id alone answers.
    expect(await page(`since_id=${p[1]}&min_id=${p[4]}&limit=2`)).toEqual(items(p[2], p[3]));
    expect(await page(`since_id=${p[6]}&min_id=${p[4]}&limit=2`)).toEqual(items(p[2], p[3]));
  });

  it("compares ids of other lengths as numbers", async () => {
    const p = list().pageIds;
    expect(await page("max_id=5")).toEqual([]);
    expect(await page("since_id=5&limit=2")).toEqual(items(p[0], p[1]));
    expect(await page("min_id=5&limit=2")).toEqual(items(p[5], p[6]));
    expect(await page("max_id=9999999999999999999")).toEqual(items(...p));
  });
});
