import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNotification } from "../src/core/common.js";
import { receiveLike } from "../src/core/interactions.js";
import { createStatus } from "../src/core/statuses.js";
import { commit } from "../src/core/unit-of-work.js";
import type { ParsedNote } from "../src/federation/vocab/types.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { blocks, markers, mediaAttachments, mutes, notifications } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { followRow, remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let token: string;
let local: AccountRow;
let bob: AccountRow;
let carol: AccountRow;

type Json = Record<string, unknown> & { id: string };

/** A remote status received through the core; no language, as many servers send. */
function remote(author: AccountRow, overrides: Partial<ParsedNote> = {}): string {
  return remoteNote(server, author, { language: null, ...overrides });
}

function localPost(text: string, visibility: "public" | "unlisted" | "private" | "direct" = "public") {
  return createStatus(server.context, { text, visibility });
}

async function get(path: string, t: string | null = token) {
  const res = await api(server, t, "GET", path);
  expect(res.status, `${path}: ${JSON.stringify(res.json)}`).toBe(200);
  return { items: res.json as Json[], link: res.headers.get("link") };
}

function linkOf(link: string | null, rel: "next" | "prev"): string | null {
  return link?.match(new RegExp(`<([^>]+)>; rel="${rel}"`))?.[1] ?? null;
}

/** Follows `next` links from `path` until a page is empty; returns every id in the order seen. */
async function walk(path: string, t: string | null = token): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let url: string | null = `${server.url}${path}`;
  let pages = 0;
  while (url) {
    const res = await fetch(url, { headers: t ? { Authorization: `Bearer ${t}` } : {} });
    expect(res.status).toBe(200);
    const items = (await res.json()) as Json[];
    if (items.length === 0) break;
    pages += 1;
    ids.push(...items.map((i) => i.id));
    // Lists paged by row id (favourites, bookmarks) offer `next` only after a full page, as Mastodon does.
    url = linkOf(res.headers.get("link"), "next");
    if (url) expect(url.startsWith(server.origin)).toBe(true);
    if (pages > 100) throw new Error("pagination does not end");
  }
  return { ids, pages };
}

const newestFirst = (ids: string[]) => [...ids].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  await server.delivery.stop(1000);
  token = issueToken(server);
  const found = findLocalUser(server.context.store.db);
  if (!found) throw new Error("no local account");
  local = found.account;
  bob = remoteAccount(server, "bob", "remote.example");
  carol = remoteAccount(server, "carol", "other.example");
  followRow(server, local.id, bob.id);
});

afterAll(async () => {
  await server?.close();
});

describe("home timeline", () => {
  it("pages through local and followed statuses exactly once, newest first", async () => {
    const expected: string[] = [];
    for (let i = 0; i < 23; i++) {
      expected.push(await localPost(`local ${i}`, i % 5 === 0 ? "private" : "public"));
      if (i % 2 === 0) expected.push(remote(bob));
    }
    // Not followed, not mentioning alice: not in home.
    const stranger = remote(carol);
    const { ids, pages } = await walk("/api/v1/timelines/home?limit=7");
    expect(ids).toEqual(newestFirst(expected));
    expect(ids).not.toContain(stranger);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBe(Math.ceil(expected.length / 7));

    // Default 20, at most 40.
    expect((await get("/api/v1/timelines/home")).items.length).toBe(20);
    expect((await get("/api/v1/timelines/home?limit=500")).items.length).toBe(35);

    const sorted = newestFirst(expected);
    const pivot = sorted[10] as string;
    // max_id and since_id are exclusive; since_id gives the newest items above the bound.
    expect((await get(`/api/v1/timelines/home?max_id=${pivot}&limit=3`)).items.map((s) => s.id)).toEqual(
      sorted.slice(11, 14),
    );
    expect((await get(`/api/v1/timelines/home?since_id=${pivot}&limit=3`)).items.map((s) => s.id)).toEqual(
      sorted.slice(0, 3),
    );
    // min_id gives the items just newer than the bound, still newest first.
    expect((await get(`/api/v1/timelines/home?min_id=${pivot}&limit=3`)).items.map((s) => s.id)).toEqual(
      sorted.slice(7, 10),
    );
    const between = await get(`/api/v1/timelines/home?max_id=${sorted[2]}&since_id=${sorted[6]}`);
    expect(between.items.map((s) => s.id)).toEqual(sorted.slice(3, 6));
    // The prev link of a page leads to the items newer than it.
    const page = await get(`/api/v1/timelines/home?max_id=${pivot}&limit=3`);
    const prev = linkOf(page.link, "prev");
    expect(prev).toContain(`min_id=${sorted[11]}`);
    const newer = (await (
      await fetch(prev ?? "", { headers: { Authorization: `Bearer ${token}` } })
    ).json()) as Json[];
    expect(newer.map((s) => s.id)).toEqual(sorted.slice(8, 11));
    // Bounds of odd lengths are still numbers.
    expect((await get("/api/v1/timelines/home?max_id=5")).items).toEqual([]);
    expect((await get("/api/v1/timelines/home?since_id=5&limit=1")).items.map((s) => s.id)).toEqual([
      sorted[0],
    ]);
    expect((await api(server, token, "GET", "/api/v1/timelines/home?max_id=abc")).status).toBe(422);
  });

  it("skips deleted statuses and muted or blocked authors", async () => {
    const dave = remoteAccount(server, "dave", "dave.example");
    followRow(server, local.id, dave.id);
    const fromDave = remote(dave);
    const fromBob = remote(bob);
    const mine = await localPost("soon deleted");
    const top = async () => (await get("/api/v1/timelines/home?limit=3")).items.map((s) => s.id);
    expect(await top()).toEqual([mine, fromBob, fromDave]);
    await api(server, token, "DELETE", `/api/v1/statuses/${mine}`);
    server.context.store.db
      .insert(mutes)
      .values({ id: newId(), accountId: local.id, targetId: dave.id, createdAt: Date.now() })
      .run();
    expect(await top()).not.toContain(fromDave);
    expect((await top())[0]).toBe(fromBob);
    server.context.store.db.delete(mutes).run();
    // An expired mute hides nothing.
    server.context.store.db
      .insert(mutes)
      .values({
        id: newId(),
        accountId: local.id,
        targetId: dave.id,
        expiresAt: Date.now() - 1000,
        createdAt: Date.now(),
      })
      .run();
    expect(await top()).toContain(fromDave);
    server.context.store.db.delete(mutes).run();
    server.context.store.db
      .insert(blocks)
      .values({ id: newId(), accountId: local.id, targetId: bob.id, createdAt: Date.now() })
      .run();
    expect(await top()).not.toContain(fromBob);
    server.context.store.db.delete(blocks).run();
    // A boost of a muted author's status is hidden too.
    const boosted = remote(carol);
    const boost = await api(server, token, "POST", `/api/v1/statuses/${boosted}/reblog`);
    expect((await top())[0]).toBe((boost.json as Json).id);
    server.context.store.db
      .insert(mutes)
      .values({ id: newId(), accountId: local.id, targetId: carol.id, createdAt: Date.now() })
      .run();
    expect(await top()).not.toContain((boost.json as Json).id);
    server.context.store.db.delete(mutes).run();
  });

  it("needs a token with read:statuses", async () => {
    expect((await api(server, null, "GET", "/api/v1/timelines/home")).status).toBe(401);
    expect((await api(server, issueToken(server, "write"), "GET", "/api/v1/timelines/home")).status).toBe(
      403,
    );
    expect(
      (await api(server, issueToken(server, "read:statuses"), "GET", "/api/v1/timelines/home")).status,
    ).toBe(200);
    expect((await api(server, token, "GET", "/api/v1/timelines/list/123")).status).toBe(404);
  });
});

describe("public and hashtag timelines", () => {
  it("lists public statuses only, with local, remote and only_media", async () => {
    const localPublic = await localPost("public #Cats");
    const localUnlisted = await localPost("unlisted #cats", "unlisted");
    const localPrivate = await localPost("private #cats", "private");
    const remotePublic = remote(carol, { hashtags: ["cats"] });
    const withMedia = remote(bob, {
      hashtags: ["Cats", "dogs"],
      attachments: [
        {
          url: "https://remote.example/cat.png",
          mediaType: "image/png",
          kind: "image",
          description: "a cat",
          blurhash: null,
          focalPoint: null,
          width: 10,
          height: 10,
        },
        {
          url: "https://remote.example/cat2.png",
          mediaType: "image/png",
          kind: "image",
          description: "another cat",
          blurhash: null,
          focalPoint: null,
          width: 10,
          height: 10,
        },
      ],
    });
    const reply = remote(carol, {
      inReplyTo: `${server.origin}/users/alice/statuses/${localPublic}`,
      hashtags: ["dogs"],
    });

    const all = (await get("/api/v1/timelines/public?limit=40", null)).items.map((s) => s.id);
    expect(all.slice(0, 4)).toEqual([reply, withMedia, remotePublic, localPublic]);
    expect(all).not.toContain(localUnlisted);
    expect(all).not.toContain(localPrivate);
    const localOnly = (await get("/api/v1/timelines/public?local=true&limit=40", null)).items;
    expect(localOnly.every((s) => (s.account as Json).id === local.id)).toBe(true);
    expect(localOnly[0]?.id).toBe(localPublic);
    const remoteOnly = (await get("/api/v1/timelines/public?remote=1&limit=40", null)).items;
    expect(remoteOnly.every((s) => (s.account as Json).id !== local.id)).toBe(true);
    expect(remoteOnly[0]?.id).toBe(reply);
    // One entry per status however many attachments it has; unattached uploads are no statuses.
    server.context.store.db
      .insert(mediaAttachments)
      .values({ id: newId(), accountId: local.id, type: "image", fileName: "x.png", createdAt: Date.now() })
      .run();
    expect((await get("/api/v1/timelines/public?only_media=true", null)).items.map((s) => s.id)).toEqual([
      withMedia,
    ]);
    expect(
      (await get("/api/v1/timelines/public?only_media=true&remote=true", null)).items.map((s) => s.id),
    ).toEqual([withMedia]);
    expect((await get("/api/v1/timelines/public?only_media=true&local=true", null)).items).toEqual([]);
    // Boosts are not in public timelines.
    await api(server, token, "POST", `/api/v1/statuses/${remotePublic}/reblog`);
    const again = (await get("/api/v1/timelines/public?limit=40", null)).items;
    expect(again.every((s) => s.reblog === null)).toBe(true);

    const paged = await walk("/api/v1/timelines/public?limit=3", null);
    expect(paged.ids).toEqual(all);

    // Hashtags, case-insensitively, public only.
    const cats = await walk("/api/v1/timelines/tag/CATS?limit=2", null);
    expect(cats.ids).toEqual([withMedia, remotePublic, localPublic]);
    expect((await get("/api/v1/timelines/tag/cats?local=true", null)).items.map((s) => s.id)).toEqual([
      localPublic,
    ]);
    expect((await get("/api/v1/timelines/tag/cats?only_media=true", null)).items.map((s) => s.id)).toEqual([
      withMedia,
    ]);
    const anyOf = await walk("/api/v1/timelines/tag/cats?any[]=dogs&limit=2", null);
    expect(anyOf.ids).toEqual([reply, withMedia, remotePublic, localPublic]);
    expect((await get("/api/v1/timelines/tag/cats?all[]=dogs", null)).items.map((s) => s.id)).toEqual([
      withMedia,
    ]);
    expect((await get("/api/v1/timelines/tag/cats?none[]=dogs", null)).items.map((s) => s.id)).toEqual([
      remotePublic,
      localPublic,
    ]);
    expect((await get("/api/v1/timelines/tag/cats?all[]=unused", null)).items).toEqual([]);
    expect((await get("/api/v1/timelines/tag/nobody_uses_this", null)).items).toEqual([]);
    expect((await get("/api/v1/timelines/tag/%E2%9C%A8", null)).items).toEqual([]);
    const since = (await get(`/api/v1/timelines/tag/cats?any[]=dogs&min_id=${remotePublic}&limit=1`, null))
      .items;
    expect(since.map((s) => s.id)).toEqual([withMedia]);
  });
});

describe("favourites and bookmarks", () => {
  it("pages by the favourite's and bookmark's own ids, most recent action first", async () => {
    const targets: string[] = [];
    for (let i = 0; i < 7; i++) targets.push(remote(bob));
    // Favourite and bookmark in an order unlike the statuses' own.
    const order = [3, 0, 6, 1, 5, 2, 4].map((i) => targets[i] as string);
    for (const id of order) {
      expect((await api(server, token, "POST", `/api/v1/statuses/${id}/favourite`)).status).toBe(200);
      expect((await api(server, token, "POST", `/api/v1/statuses/${id}/bookmark`)).status).toBe(200);
    }
    // Someone else's like of a local status is not alice's favourite.
    const mine = await localPost("liked by carol");
    receiveLike(
      server.context,
      carol,
      `${server.origin}/users/alice/statuses/${mine}`,
      "https://other.example/like/1",
    );

    const favs = await walk("/api/v1/favourites?limit=3");
    expect(favs.ids).toEqual([...order].reverse());
    expect(favs.pages).toBe(3);
    const first = await get("/api/v1/favourites?limit=3");
    const favRows = server.context.store.sqlite
      .prepare("SELECT id, status_id AS statusId FROM favourites WHERE account_id = ? ORDER BY id DESC")
      .all(local.id) as { id: string; statusId: string }[];
    expect(linkOf(first.link, "next")).toContain(`max_id=${favRows[2]?.id}`);
    expect(linkOf(first.link, "prev")).toContain(`min_id=${favRows[0]?.id}`);

    const marks = await walk("/api/v1/bookmarks?limit=2");
    expect(marks.ids).toEqual([...order].reverse());
    // A deleted status leaves the lists.
    await api(server, token, "POST", `/api/v1/statuses/${mine}/bookmark`);
    expect((await get("/api/v1/bookmarks?limit=1")).items[0]?.id).toBe(mine);
    await api(server, token, "DELETE", `/api/v1/statuses/${mine}`);
    expect((await get("/api/v1/bookmarks?limit=1")).items[0]?.id).toBe(order[order.length - 1]);

    expect((await api(server, issueToken(server, "read:statuses"), "GET", "/api/v1/favourites")).status).toBe(
      403,
    );
    expect(
      (await api(server, issueToken(server, "read:favourites"), "GET", "/api/v1/favourites")).status,
    ).toBe(200);
    expect(
      (await api(server, issueToken(server, "read:favourites"), "GET", "/api/v1/bookmarks")).status,
    ).toBe(403);
  });
});

describe("tags", () => {
  it("shows a hashtag, follows and unfollows it", async () => {
    const tag = (await api(server, null, "GET", "/api/v1/tags/Knitting")).json as Json;
    expect(tag).toMatchObject({
      name: "Knitting",
      history: [],
      following: false,
      url: `${server.origin}/tags/knitting`,
    });
    const followed = await api(server, token, "POST", "/api/v1/tags/Knitting/follow");
    expect(followed.status).toBe(200);
    expect(followed.json).toMatchObject({ name: "Knitting", following: true });
    expect((await get("/api/v1/followed_tags")).items).toMatchObject([{ name: "Knitting", following: true }]);
    expect((await api(server, token, "GET", "/api/v1/tags/knitting")).json).toMatchObject({
      following: true,
    });
    expect((await api(server, token, "POST", "/api/v1/tags/knitting/unfollow")).json).toMatchObject({
      following: false,
    });
    // Unfollowing a tag never seen stores nothing.
    expect((await api(server, token, "POST", "/api/v1/tags/NeverSeen/unfollow")).json).toMatchObject({
      id: null,
      following: false,
    });
    expect((await get("/api/v1/followed_tags")).items).toEqual([]);
    expect((await api(server, token, "GET", "/api/v1/tags/not%20a%20tag")).status).toBe(404);
    expect((await api(server, issueToken(server, "read"), "POST", "/api/v1/tags/x/follow")).status).toBe(403);
  });
});

describe("notifications", () => {
  it("lists, filters, dismisses, clears and counts", async () => {
    const db = server.context.store.db;
    const mine = await localPost("notify me");
    const mineUri = `${server.origin}/users/alice/statuses/${mine}`;
    const mention = remote(bob, {
      content: "<p>@alice hi</p>",
      mentions: [local.uri],
      to: [local.uri],
      cc: [],
    });
    receiveLike(server.context, carol, mineUri, "https://other.example/likes/2");
    receiveLike(server.context, bob, mineUri, "https://remote.example/likes/3");
    const follow = commit(server.context, (uow) => addNotification(server.context, uow, "follow", carol.id));
    // Unknown types from newer servers must not break anything.
    db.insert(notifications)
      .values({ id: newId(), type: "some.future_type", fromAccountId: bob.id, createdAt: Date.now() })
      .run();

    const all = (await get("/api/v1/notifications")).items;
    expect(all.map((n) => n.type)).toEqual([
      "some.future_type",
      "follow",
      "favourite",
      "favourite",
      "mention",
    ]);
    expect(all[4]).toMatchObject({ account: { id: bob.id }, status: { id: mention } });
    expect((all[1] as Json).status).toBeNull();
    expect(all.every((n) => typeof n.created_at === "string" && typeof n.group_key === "string")).toBe(true);

    const ids = (path: string) => get(path).then((r) => r.items.map((n) => n.type));
    expect(await ids("/api/v1/notifications?types[]=favourite&types[]=bogus")).toEqual([
      "favourite",
      "favourite",
    ]);
    expect(await ids("/api/v1/notifications?types[]=bogus")).toEqual([]);
    expect(await ids("/api/v1/notifications?exclude_types[]=favourite&exclude_types[]=bogus")).toEqual([
      "some.future_type",
      "follow",
      "mention",
    ]);
    expect(await ids(`/api/v1/notifications?account_id=${carol.id}`)).toEqual(["follow", "favourite"]);
    expect(await ids(`/api/v1/notifications?account_id=${carol.id}&types[]=follow`)).toEqual(["follow"]);
    expect(await ids("/api/v1/notifications?account_id=junk")).toEqual([]);

    const paged = await walk("/api/v1/notifications?limit=2");
    expect(paged.ids).toEqual(all.map((n) => n.id));
    expect(paged.pages).toBe(3);
    const one = await api(server, token, "GET", `/api/v1/notifications/${follow}`);
    expect(one.json).toMatchObject({ id: follow, type: "follow", account: { id: carol.id } });

    expect((await api(server, token, "GET", "/api/v1/notifications/unread_count")).json).toEqual({
      count: 5,
    });
    db.insert(markers)
      .values({ timeline: "notifications", lastReadId: all[2]?.id ?? "", updatedAt: Date.now() })
      .onConflictDoNothing()
      .run();
    expect((await api(server, token, "GET", "/api/v1/notifications/unread_count")).json).toEqual({
      count: 2,
    });
    expect((await api(server, token, "GET", "/api/v1/notifications/unread_count?limit=1")).json).toEqual({
      count: 1,
    });

    // Muted (with notifications) and blocked accounts' notifications are hidden.
    db.insert(mutes)
      .values({ id: newId(), accountId: local.id, targetId: carol.id, createdAt: Date.now() })
      .run();
    expect(await ids("/api/v1/notifications")).toEqual(["some.future_type", "favourite", "mention"]);
    db.delete(mutes).run();

    expect((await api(server, token, "POST", `/api/v1/notifications/${follow}/dismiss`)).status).toBe(200);
    expect((await api(server, token, "GET", `/api/v1/notifications/${follow}`)).status).toBe(404);
    expect((await api(server, token, "POST", `/api/v1/notifications/${follow}/dismiss`)).status).toBe(404);
    expect(await ids("/api/v1/notifications")).not.toContain("follow");
    const legacy = await api(server, token, "POST", "/api/v1/notifications/dismiss", { id: all[0]?.id });
    expect(legacy.status).toBe(200);
    expect((await get("/api/v1/notifications")).items.length).toBe(3);

    expect(
      (await api(server, issueToken(server, "read"), "POST", "/api/v1/notifications/clear")).status,
    ).toBe(403);
    expect((await api(server, issueToken(server, "write"), "GET", "/api/v1/notifications")).status).toBe(403);
    expect((await api(server, token, "POST", "/api/v1/notifications/clear")).status).toBe(200);
    expect((await get("/api/v1/notifications")).items).toEqual([]);
    expect((await api(server, token, "GET", "/api/v1/notifications/unread_count")).json).toEqual({
      count: 0,
    });
    expect((await api(server, token, "GET", "/api/v1/notifications/abc")).status).toBe(404);

    const policy = (await api(server, token, "GET", "/api/v1/notifications/policy")).json as Json;
    expect(policy).toMatchObject({
      filter_not_following: false,
      for_not_following: "accept",
      summary: { pending_requests_count: 0 },
    });
    expect((await get("/api/v1/notifications/requests")).items).toEqual([]);
  });

  it("changes the notification policy through v1's flags and v2's actions, and refuses unknown actions", async () => {
    for (const version of ["v1", "v2"]) {
      const path = `/api/${version}/notifications/policy`;
      const applied = (await api(server, token, "GET", path)).json as Json;
      expect(applied).toMatchObject({ for_private_mentions: "accept", filter_private_mentions: false });

      const changed = await api(server, token, "PUT", path, {
        for_not_following: "filter",
        for_new_accounts: "drop",
      });
      expect(changed.status, path).toBe(200);
      expect(changed.json, path).toMatchObject({
        for_not_following: "filter",
        filter_not_following: true,
        for_new_accounts: "drop",
        filter_new_accounts: true,
        for_not_followers: "accept",
      });
      const refused = await api(server, token, "PATCH", path, { for_not_followers: "mute" });
      expect(refused.status, path).toBe(422);
      expect((refused.json as Json).error).toBe("for_not_followers must be one of accept, filter, drop");
      // The v1 form, as a form body: "false" is "accept".
      const form = await fetch(`${server.url}${path}`, {
        method: "PATCH",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
        body: "filter_not_following=false&filter_new_accounts=0",
      });
      expect(form.status, path).toBe(200);
      expect((await api(server, token, "GET", path)).json, path).toEqual(applied);
      expect((await api(server, issueToken(server, "read"), "PUT", path, {})).status, path).toBe(403);
    }
  });
});
