// Grouped notifications (API v2) from a real Fedify peer serving three actors: their follows, likes and
// boosts of one of alice's posts come back grouped as Mastodon 4.3 groups them, through masto's
// v2.notifications and through raw requests where the exact shape matters: pages and their Link headers,
// one group and its accounts, dismissing a group, and the unread count of groups.
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../src/store/ids.js";
import { notifications } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, idByUri, type PeerActor, startFedifyPeer } from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { announceAs, followAs, likeAs } from "./helpers/peer-actors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let bob: PeerActor;
let carol: PeerActor;
/** Account ids in Wren. */
const ids = { alice: "", peer: "", bob: "", carol: "" };
/** alice's post that everyone likes and some boost. */
let post: mastodon.v1.Status;
let mentionStatusId: string;

const HOUR = 3_600_000;

async function settled<T>(action: Promise<T>): Promise<T> {
  const value = await action;
  await inboxSettled(server);
  return value;
}

function accountId(uri: string): string {
  const id = idByUri(server.context.store.sqlite, "accounts", uri);
  if (!id) throw new Error(`no account for ${uri}`);
  return id;
}

/** The groups of a v2 answer as JSON (masto's types make every group type a separate shape). */
function groupsOf(results: mastodon.v1.GroupedNotificationsResults): Json[] {
  return results.notificationGroups as unknown as Json[];
}

async function getJson(path: string): Promise<{ status: number; json: Json; link: string | null }> {
  const res = await api(server, token, "GET", path);
  return { status: res.status, json: res.json as Json, link: res.headers.get("link") };
}

function nextPath(link: string | null): string | null {
  const next = link?.match(/<([^>]+)>; rel="next"/)?.[1];
  return next ? next.slice(server.origin.length) : null;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["bob", "carol"] }),
  ]);
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  aliceUri = `${server.origin}/users/alice`;
  bob = peer.extra.get("bob") as PeerActor;
  carol = peer.extra.get("carol") as PeerActor;
  post = await client.v1.statuses.create({ status: "a post for everyone to like", visibility: "public" });

  // Oldest first: two follows, a mention, three likes and two boosts.
  await settled(peer.follow(aliceUri));
  await settled(followAs(server, bob, aliceUri));
  const mentionUri = await settled(
    peer.post({ content: `<p>@alice hello</p>`, mentions: [aliceUri], visibility: "public" }),
  );
  await settled(peer.like(post.uri));
  await settled(likeAs(server, bob, post.uri));
  await settled(likeAs(server, carol, post.uri));
  await settled(peer.announce(post.uri));
  await settled(announceAs(server, bob, post.uri));
  ids.alice = accountId(aliceUri);
  ids.peer = accountId(peer.actorUri);
  ids.bob = accountId(bob.actorUri);
  ids.carol = accountId(carol.actorUri);
  mentionStatusId = idByUri(server.context.store.sqlite, "statuses", mentionUri) as string;
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

describe("grouped notifications", () => {
  it("groups likes, boosts and follows of several peer accounts, with sample accounts and counts (masto)", async () => {
    const results = await client.v2.notifications.list();
    const groups = groupsOf(results);
    expect(groups.map((g) => [g.type, g.notificationsCount])).toEqual([
      ["reblog", 2],
      ["favourite", 3],
      ["mention", 1],
      ["follow", 2],
    ]);
    const [reblog, favourite, mention, follow] = groups as [Json, Json, Json, Json];
    expect(favourite.sampleAccountIds).toEqual([ids.carol, ids.bob, ids.peer]);
    expect(favourite.statusId).toBe(post.id);
    expect(favourite.groupKey).toMatch(new RegExp(`^favourite-${post.id}-\\d+$`));
    expect(reblog.sampleAccountIds).toEqual([ids.bob, ids.peer]);
    expect(reblog.groupKey).toMatch(new RegExp(`^reblog-${post.id}-\\d+$`));
    expect(follow.sampleAccountIds).toEqual([ids.bob, ids.peer]);
    expect(follow.groupKey).toMatch(/^follow-\d+$/);
    expect(follow).not.toHaveProperty("statusId");
    expect(mention.groupKey).toMatch(/^ungrouped-\d+$/);
    expect(mention.statusId).toBe(mentionStatusId);
    // Every account and status once, the groups pointing at them by id.
    expect(results.accounts.map((a) => a.id).sort()).toEqual(Object.values(ids).sort());
    expect(results.statuses.map((s) => s.id)).toEqual([post.id, mentionStatusId]);
    expect(results.statuses[0]?.favouritesCount).toBe(3);
    expect(results.partialAccounts).toBeUndefined();

    // The same notifications one by one in v1, carrying their group's key.
    const v1 = await client.v1.notifications.list();
    expect(v1.map((n) => n.type)).toEqual([
      "reblog",
      "reblog",
      "favourite",
      "favourite",
      "favourite",
      "mention",
      "follow",
      "follow",
    ]);
    expect(v1.filter((n) => n.type === "favourite").map((n) => n.groupKey)).toEqual(
      Array(3).fill(favourite.groupKey),
    );
    expect(v1[5]?.groupKey).toBe(`ungrouped-${v1[5]?.id}`);
    expect(mention.mostRecentNotificationId).toBe(v1[5]?.id);
    expect(favourite.mostRecentNotificationId).toBe(v1[2]?.id);
  });

  it("serves the exact shape, grouped_types, types and partial accounts (raw requests)", async () => {
    const v1 = (await getJson("/api/v1/notifications")).json as unknown as Json[];
    const { status, json } = await getJson("/api/v2/notifications");
    expect(status).toBe(200);
    expect(Object.keys(json).sort()).toEqual(["accounts", "notification_groups", "statuses"]);
    const favourite = (json.notification_groups as Json[])[1] as Json;
    expect(Object.keys(favourite).sort()).toEqual(
      [
        "group_key",
        "latest_page_notification_at",
        "most_recent_notification_id",
        "notifications_count",
        "page_max_id",
        "page_min_id",
        "sample_account_ids",
        "status_id",
        "type",
      ].sort(),
    );
    expect(favourite).toMatchObject({
      type: "favourite",
      notifications_count: 3,
      most_recent_notification_id: v1[2]?.id,
      page_max_id: v1[2]?.id,
      page_min_id: v1[4]?.id,
      latest_page_notification_at: v1[2]?.created_at,
      status_id: post.id,
    });

    // Boosts not grouped: each is a group of its own, keyed by its id.
    const byFavourite = await getJson("/api/v2/notifications?grouped_types[]=favourite");
    const groups = byFavourite.json.notification_groups as Json[];
    expect(groups.map((g) => [g.type, g.notifications_count])).toEqual([
      ["reblog", 1],
      ["reblog", 1],
      ["favourite", 3],
      ["mention", 1],
      ["follow", 1],
      ["follow", 1],
    ]);
    expect(groups[0]?.group_key).toBe(`ungrouped-${v1[0]?.id}`);

    const partial = await getJson("/api/v2/notifications?types[]=favourite&expand_accounts=partial_avatars");
    expect((partial.json.notification_groups as Json[]).map((g) => g.type)).toEqual(["favourite"]);
    // The first sample account and the status's author in full, the other samples in short.
    expect((partial.json.accounts as Json[]).map((a) => a.id).sort()).toEqual([ids.carol, ids.alice].sort());
    const short = partial.json.partial_accounts as Json[];
    expect(short.map((a) => a.id).sort()).toEqual([ids.bob, ids.peer].sort());
    expect(Object.keys(short[0] as Json).sort()).toEqual(
      ["acct", "avatar", "avatar_static", "bot", "id", "locked", "url"].sort(),
    );

    expect((await getJson("/api/v2/notifications?expand_accounts=everything")).status).toBe(400);
    expect((await getJson("/api/v2/notifications?types[]=bogus")).json.notification_groups).toEqual([]);
    expect((await getJson(`/api/v2/notifications?account_id=${ids.carol}`)).json.notification_groups).toEqual(
      [expect.objectContaining({ type: "favourite", notifications_count: 3 })],
    );
  });

  it("pages groups through the Link headers as Mastodon does, and min_id pages from the oldest", async () => {
    const pages: [unknown, unknown][][] = [];
    let path: string | null = "/api/v2/notifications?limit=2";
    while (path) {
      const page = await getJson(path);
      const groups = page.json.notification_groups as Json[];
      if (groups.length === 0) {
        expect(page.link).toBeNull();
        break;
      }
      pages.push(groups.map((g) => [g.type, g.notifications_count]));
      path = nextPath(page.link);
    }
    // A group whose older notifications lie past the page comes again on the next page, counted from there.
    expect(pages).toEqual([
      [
        ["reblog", 2],
        ["favourite", 3],
      ],
      [
        ["favourite", 2],
        ["mention", 1],
      ],
      [["follow", 2]],
      [["follow", 1]],
    ]);

    const v1 = (await getJson("/api/v1/notifications")).json as unknown as Json[];
    const oldest = v1.at(-1)?.id as string;
    const up = await getJson(`/api/v2/notifications?min_id=${oldest}&limit=2`);
    expect((up.json.notification_groups as Json[]).map((g) => g.type)).toEqual(["mention", "follow"]);
    expect(up.link).toContain(`min_id=${v1[5]?.id}`);
  });

  it("shows one group, lists its accounts page by page, and 404s for a group that is not there", async () => {
    const groups = groupsOf(await client.v2.notifications.list());
    const favouriteKey = groups[1]?.groupKey as string;
    const one = await client.v2.notifications.$select(favouriteKey).fetch();
    expect(groupsOf(one)).toEqual([
      expect.objectContaining({ groupKey: favouriteKey, notificationsCount: 3, statusId: post.id }),
    ]);
    expect(groupsOf(one)[0]).not.toHaveProperty("pageMinId");
    expect(one.statuses.map((s) => s.id)).toEqual([post.id]);

    const mentionKey = groups[2]?.groupKey as string;
    const mention = await getJson(`/api/v2/notifications/${mentionKey}`);
    expect(mention.json.notification_groups).toEqual([
      expect.objectContaining({ group_key: mentionKey, type: "mention", sample_account_ids: [ids.peer] }),
    ]);

    const accounts = await client.v2.notifications.$select(favouriteKey).accounts.fetch();
    expect(accounts.map((a) => a.id)).toEqual([ids.carol, ids.bob, ids.peer]);
    const first = await getJson(`/api/v2/notifications/${favouriteKey}/accounts?limit=2`);
    expect((first.json as unknown as Json[]).map((a) => a.id)).toEqual([ids.carol, ids.bob]);
    const rest = await getJson(nextPath(first.link) as string);
    expect((rest.json as unknown as Json[]).map((a) => a.id)).toEqual([ids.peer]);

    expect((await getJson(`/api/v2/notifications/favourite-${post.id}-1`)).status).toBe(404);
    expect((await getJson("/api/v2/notifications/ungrouped-abc")).status).toBe(404);
    expect((await getJson("/api/v2/notifications/ungrouped-123456789012345678")).status).toBe(404);
  });

  it("leaves out a group whose status a hide filter of the notifications context matches", async () => {
    const keysBefore = groupsOf(await client.v2.notifications.list()).map((g) => g.type);
    expect(keysBefore).toContain("mention");
    const filter = await client.v2.filters.create({
      title: "no greetings",
      context: ["notifications"],
      filterAction: "hide",
      keywordsAttributes: [{ keyword: "hello", wholeWord: true }],
    });
    try {
      const types = groupsOf(await client.v2.notifications.list()).map((g) => g.type);
      expect(types).not.toContain("mention");
      expect(types).toEqual(keysBefore.filter((t) => t !== "mention"));
    } finally {
      await client.v2.filters.$select(filter.id).remove();
    }
    expect(groupsOf(await client.v2.notifications.list()).map((g) => g.type)).toEqual(keysBefore);
  });

  it("dismisses a whole group, then counts unread groups after the marker", async () => {
    const groups = groupsOf(await client.v2.notifications.list());
    const favouriteKey = groups[1]?.groupKey as string;
    await client.v2.notifications.$select(favouriteKey).dismiss();
    const after = groupsOf(await client.v2.notifications.list());
    expect(after.map((g) => g.type)).toEqual(["reblog", "mention", "follow"]);
    expect((await client.v1.notifications.list()).map((n) => n.type)).not.toContain("favourite");
    // Mastodon answers the same for a group that is gone.
    expect((await api(server, token, "POST", `/api/v2/notifications/${favouriteKey}/dismiss`)).status).toBe(
      200,
    );

    expect((await client.v2.notifications.unreadCount.fetch()).count).toBe(3);
    expect((await client.v1.notifications.unreadCount.fetch()).count).toBe(5);
    const mentionId = (after[1]?.mostRecentNotificationId as string) ?? "";
    await client.v1.markers.create({ notifications: { lastReadId: mentionId } });
    expect((await client.v2.notifications.unreadCount.fetch()).count).toBe(1);
    expect((await client.v1.notifications.unreadCount.fetch()).count).toBe(2);
    expect((await client.v2.notifications.unreadCount.fetch({ groupedTypes: [] })).count).toBe(1);
    expect((await getJson("/api/v2/notifications/unread_count?grouped_types[]=follow")).json).toEqual({
      count: 2,
    });
    expect((await getJson("/api/v2/notifications/unread_count?limit=1&grouped_types[]=follow")).json).toEqual(
      {
        count: 1,
      },
    );
  });

  it("starts a new group when the last one began 12 hours ago or went quiet for 12 hours", async () => {
    const db = server.context.store.db;
    const hour = Math.floor(Date.now() / HOUR);
    const seed = (statusId: string, from: string, hoursAgo: number, bucket: number) =>
      db
        .insert(notifications)
        .values({
          id: newId(Date.now() - hoursAgo * HOUR),
          type: "favourite",
          fromAccountId: from,
          statusId,
          groupKey: `favourite-${statusId}-${bucket}`,
          createdAt: Date.now() - hoursAgo * HOUR,
        })
        .run();
    const keyOfLatest = async (statusId: string) => {
      const list = await client.v1.notifications.list({ types: ["favourite"], limit: 80 });
      return list.find((n) => n.status?.id === statusId)?.groupKey;
    };
    const [quiet, busy, old] = await Promise.all(
      ["went quiet", "busy", "began long ago"].map((status) => client.v1.statuses.create({ status })),
    );
    if (!quiet || !busy || !old) throw new Error("statuses were not created");

    // Its last like is 13 hours old: a new group.
    seed(quiet.id, ids.carol, 13, hour - 13);
    await settled(likeAs(server, bob, quiet.uri));
    expect(await keyOfLatest(quiet.id)).toBe(`favourite-${quiet.id}-${hour}`);
    // Began 11 hours ago, last like an hour ago: joined.
    seed(busy.id, ids.carol, 11, hour - 11);
    seed(busy.id, ids.peer, 1, hour - 11);
    await settled(likeAs(server, bob, busy.uri));
    expect(await keyOfLatest(busy.id)).toBe(`favourite-${busy.id}-${hour - 11}`);
    // Began 12 hours ago, though its last like is an hour old: a new group.
    seed(old.id, ids.carol, 12, hour - 12);
    seed(old.id, ids.peer, 1, hour - 12);
    await settled(likeAs(server, bob, old.uri));
    expect(await keyOfLatest(old.id)).toBe(`favourite-${old.id}-${hour}`);

    const busyGroups = (await getJson("/api/v2/notifications?types[]=favourite")).json
      .notification_groups as Json[];
    expect(busyGroups.find((g) => g.status_id === busy.id)?.notifications_count).toBe(3);
  });
  it("counts every notification of several large groups on one page and samples the eight newest accounts", async () => {
    const db = server.context.store.db;
    const [first, second] = await Promise.all(
      ["liked by many", "liked by many more"].map((status) => client.v1.statuses.create({ status })),
    );
    if (!first || !second) throw new Error("statuses were not created");
    const senders = [ids.peer, ids.bob, ids.carol];
    // Newer than every earlier notification, and the first status's likes all before the second's.
    const seeded = (statusId: string, count: number, after: number) =>
      Array.from({ length: count }, (_, i) => {
        const at = Date.now() + after + i * 1000;
        const row = {
          id: newId(at),
          type: "favourite" as const,
          fromAccountId: senders[i % senders.length] as string,
          statusId,
          groupKey: `favourite-${statusId}-large`,
          createdAt: at,
        };
        db.insert(notifications).values(row).run();
        return row;
      }).reverse();
    const firstRows = seeded(first.id, 10, 1_000);
    const secondRows = seeded(second.id, 12, 60_000);

    const { json } = await getJson("/api/v2/notifications?types[]=favourite&limit=2");
    const groups = json.notification_groups as Json[];
    expect(groups.map((g) => [g.group_key, g.notifications_count])).toEqual([
      [`favourite-${second.id}-large`, 12],
      [`favourite-${first.id}-large`, 10],
    ]);
    for (const [group, rows] of [
      [groups[0], secondRows],
      [groups[1], firstRows],
    ] as const) {
      expect(group?.most_recent_notification_id).toBe(rows[0]?.id);
      expect(group?.sample_account_ids).toEqual(rows.slice(0, 8).map((r) => r.fromAccountId));
    }
    // The page's range ends at its last group's newest notification (Mastodon 4.3's page_min_id).
    expect(groups[0]?.page_min_id).toBe(secondRows.at(-1)?.id);
    expect(groups[1]?.page_min_id).toBe(firstRows[0]?.id);
    const one = (await getJson(`/api/v2/notifications/favourite-${first.id}-large`)).json;
    expect((one.notification_groups as Json[])[0]).toMatchObject({
      notifications_count: 10,
      sample_account_ids: firstRows.slice(0, 8).map((r) => r.fromAccountId),
    });
  });
});
