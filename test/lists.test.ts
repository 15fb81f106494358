// Lists end to end: masto and megalodon create, rename and delete lists and manage their members; three Fedify
// peers post, and their posts reach the lists (timeline and streams), leave home for an exclusive list, pass
// or not each replies_policy; a followed hashtag brings a stranger's public post home.
import { createRestAPIClient, createStreamingAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** See clients-megalodon.test.ts: the generator under vitest's interop or under plain Node ESM. */
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

let server: TestServer;
/** A list member. */
let peerA: FedifyPeer;
/** Followed, member of some lists only: the account replied to. */
let peerB: FedifyPeer;
/** Never followed. */
let peerC: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let accountA: mastodon.v1.Account;
let accountB: mastodon.v1.Account;
let accountC: mastodon.v1.Account;

async function resolve(peer: FedifyPeer): Promise<mastodon.v1.Account> {
  const found = await client.v2.search.list({ q: `@${peer.handle}`, type: "accounts", resolve: true });
  const account = found.accounts[0];
  if (!account) throw new Error(`${peer.handle} was not found`);
  return account;
}

async function follow(account: mastodon.v1.Account): Promise<void> {
  await client.v1.accounts.$select(account.id).follow();
  const sqlite = server.context.store.sqlite;
  await waitUntil(
    () =>
      (
        sqlite.prepare("SELECT state FROM follows WHERE following_id = ?").get(account.id) as
          | { state: string }
          | undefined
      )?.state === "accepted",
    `the follow of ${account.acct} to be accepted`,
  );
}

/** A peer posts; returns the Wren status id once the inbox applied it (null when Wren dropped it). */
async function peerPost(
  peer: FedifyPeer,
  options: Parameters<FedifyPeer["post"]>[0],
): Promise<string | null> {
  const uri = await peer.post(options);
  await inboxSettled(server);
  const row = server.context.store.sqlite.prepare("SELECT id FROM statuses WHERE uri = ?").get(uri) as
    | { id: string }
    | undefined;
  return row?.id ?? null;
}

function idOf(uri: string): string | null {
  const row = server.context.store.sqlite.prepare("SELECT id FROM statuses WHERE uri = ?").get(uri) as
    | { id: string }
    | undefined;
  return row?.id ?? null;
}

async function listTimelineIds(listId: string): Promise<string[]> {
  return (await client.v1.timelines.list.$select(listId).list({ limit: 40 })).map((s) => s.id);
}

async function homeIds(): Promise<string[]> {
  return (await client.v1.timelines.home.list({ limit: 40 })).map((s) => s.id);
}

/** A Server-Sent Events stream that keeps every event it receives. */
async function openEventStream(path: string) {
  const abort = new AbortController();
  const res = await fetch(`${server.url}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  const events: { event: string; data: string }[] = [];
  const reader = res.body?.getReader();
  const pump = (async () => {
    if (!reader) return;
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = block.match(/^event: (.*)$/m)?.[1];
        const data = block.match(/^data: (.*)$/m)?.[1];
        if (event && data !== undefined) events.push({ event, data });
        end = buffer.indexOf("\n\n");
      }
    }
  })();
  return {
    status: res.status,
    events,
    async close() {
      abort.abort();
      await pump;
    },
  };
}

beforeAll(async () => {
  [server, peerA, peerB, peerC] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer(),
    startFedifyPeer(),
    startFedifyPeer(),
  ]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server, "read write follow");
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  [accountA, accountB, accountC] = [await resolve(peerA), await resolve(peerB), await resolve(peerC)];
  await follow(accountA);
  await follow(accountB);
});

afterAll(async () => {
  await server?.close();
  await Promise.all([peerA?.close(), peerB?.close(), peerC?.close()]);
});

describe("lists: the lists themselves", () => {
  it("masto creates, reads, renames and deletes a list", async () => {
    const created = await client.v1.lists.create({ title: "Friends", repliesPolicy: "followed" } as never);
    expect(created).toEqual({
      id: created.id,
      title: "Friends",
      repliesPolicy: "followed",
      exclusive: false,
    });
    expect(await client.v1.lists.$select(created.id).fetch()).toEqual(created);
    expect((await client.v1.lists.list()).map((l) => l.id)).toContain(created.id);

    const renamed = await client.v1.lists
      .$select(created.id)
      .update({ title: "Close friends", exclusive: true, repliesPolicy: "none" } as never);
    expect(renamed).toEqual({
      id: created.id,
      title: "Close friends",
      repliesPolicy: "none",
      exclusive: true,
    });
    // A partial update keeps the rest.
    expect((await api(server, token, "PUT", `/api/v1/lists/${created.id}`, { title: "Pals" })).json).toEqual({
      id: created.id,
      title: "Pals",
      replies_policy: "none",
      exclusive: true,
    });

    await client.v1.lists.$select(created.id).remove();
    expect((await api(server, token, "GET", `/api/v1/lists/${created.id}`)).status).toBe(404);
    expect((await client.v1.lists.list()).map((l) => l.id)).not.toContain(created.id);
  });

  it("megalodon creates, renames and deletes a list", async () => {
    const mega = generator("mastodon", server.origin, token);
    const created = (await mega.createList("Mega")).data;
    expect(created).toMatchObject({ title: "Mega", replies_policy: "list" });
    expect((await mega.updateList(created.id, "Mega renamed")).data).toMatchObject({ title: "Mega renamed" });
    expect((await mega.getList(created.id)).data).toMatchObject({ id: created.id, title: "Mega renamed" });
    expect((await mega.getLists()).data.map((l) => l.id)).toContain(created.id);
    await mega.deleteList(created.id);
    expect((await mega.getLists()).data.map((l) => l.id)).not.toContain(created.id);
  });

  it("refuses a blank title, an unknown replies_policy, unknown lists and missing scopes", async () => {
    const blank = await api(server, token, "POST", "/api/v1/lists", { title: "  " });
    expect(blank.status).toBe(422);
    expect(blank.json).toEqual({ error: "Validation failed: Title can't be blank" });
    const policy = await api(server, token, "POST", "/api/v1/lists", { title: "x", replies_policy: "all" });
    expect(policy.status).toBe(422);
    expect((await api(server, token, "GET", "/api/v1/lists/123456789012345678")).status).toBe(404);
    expect((await api(server, token, "GET", "/api/v1/timelines/list/123456789012345678")).status).toBe(404);
    const readOnly = issueToken(server, "read:lists");
    expect((await api(server, readOnly, "GET", "/api/v1/lists")).status).toBe(200);
    expect((await api(server, readOnly, "POST", "/api/v1/lists", { title: "x" })).status).toBe(403);
    expect((await api(server, issueToken(server, "read:statuses"), "GET", "/api/v1/lists")).status).toBe(403);
    expect((await api(server, null, "GET", "/api/v1/lists")).status).toBe(401);
  });
});

describe("lists: members", () => {
  it("adds followed accounts (JSON and form), refuses others, pages, and removes them", async () => {
    const list = await client.v1.lists.create({ title: "Members" });
    const members = client.v1.lists.$select(list.id).accounts;
    await members.create({ accountIds: [accountA.id] });

    // Not followed: 422, and nothing is added (all or none).
    const refused = await api(server, token, "POST", `/api/v1/lists/${list.id}/accounts`, {
      account_ids: [accountB.id, accountC.id],
    });
    expect(refused.status).toBe(422);
    expect((refused.json as { error: string }).error).toMatch(/follow/);
    // Already a member: 422 as Mastodon's uniqueness check.
    expect(
      (await api(server, token, "POST", `/api/v1/lists/${list.id}/accounts`, { account_ids: [accountA.id] }))
        .status,
    ).toBe(422);
    expect(
      (await api(server, token, "POST", `/api/v1/lists/${list.id}/accounts`, { account_ids: ["1"] })).status,
    ).toBe(404);
    expect((await members.list()).map((a) => a.id)).toEqual([accountA.id]);

    // The form as apps send it: account_ids[]=…
    const form = await fetch(`${server.url}/api/v1/lists/${list.id}/accounts`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: `account_ids[]=${accountB.id}`,
    });
    expect(form.status).toBe(200);
    expect(await form.json()).toEqual({});

    // Pages by the membership, newest first, with a Link header; limit=0 is everything, with none.
    const first = await api(server, token, "GET", `/api/v1/lists/${list.id}/accounts?limit=1`);
    expect((first.json as { id: string }[]).map((a) => a.id)).toEqual([accountB.id]);
    const next = first.headers.get("link")?.match(/<([^>]+)>; rel="next"/)?.[1];
    expect(next).toBeDefined();
    const second = await api(server, token, "GET", (next as string).slice(server.origin.length));
    expect((second.json as { id: string }[]).map((a) => a.id)).toEqual([accountA.id]);
    const all = await api(server, token, "GET", `/api/v1/lists/${list.id}/accounts?limit=0`);
    expect((all.json as { id: string }[]).map((a) => a.id)).toEqual([accountB.id, accountA.id]);
    expect(all.headers.get("link")).toBeNull();

    // The lists an account is on.
    expect((await client.v1.accounts.$select(accountA.id).lists.list()).map((l) => l.id)).toContain(list.id);
    expect(await client.v1.accounts.$select(accountC.id).lists.list()).toEqual([]);

    // megalodon reads and removes members.
    const mega = generator("mastodon", server.origin, token);
    expect((await mega.getAccountsInList(list.id)).data.map((a) => a.id).sort()).toEqual(
      [accountA.id, accountB.id].sort(),
    );
    await mega.deleteAccountsFromList(list.id, [accountB.id]);
    expect((await mega.getAccountsInList(list.id)).data.map((a) => a.id)).toEqual([accountA.id]);
    await mega.addAccountsToList(list.id, [accountB.id]);
    await members.remove({ accountIds: [accountA.id, accountB.id] });
    expect(await members.list()).toEqual([]);
    await client.v1.lists.$select(list.id).remove();
  });
});

describe("lists: feeds", () => {
  it("shows a member's post in the list timeline and the list streams (WebSocket and SSE)", async () => {
    const list = await client.v1.lists.create({ title: "Stream" });
    await client.v1.lists.$select(list.id).accounts.create({ accountIds: [accountA.id] });

    const streaming = createStreamingAPIClient({
      streamingApiUrl: `ws://${server.domain}`,
      accessToken: token,
      implementation: WebSocket,
    });
    const received: mastodon.streaming.Event[] = [];
    const subscription = streaming.list.subscribe({ list: list.id });
    const reading = (async () => {
      for await (const event of subscription) received.push(event);
    })();
    const sse = await openEventStream(`/api/v1/streaming/list?list=${list.id}`);
    expect(sse.status).toBe(200);
    // The masto subscription is sent when the socket opens: wait until the hub holds both.
    const { hubFor } = await import("../src/http/mastodon/streaming/hub.js");
    // masto subscribes as soon as its socket opens, long before the peer's post has crossed the inbox.
    await waitUntil(() => hubFor(server.context).size === 2, "both streams to be open");

    const noteUri = await peerA.post({ content: "<p>For the list</p>" });
    await inboxSettled(server);
    const id = server.context.store.sqlite.prepare("SELECT id FROM statuses WHERE uri = ?").get(noteUri) as {
      id: string;
    };
    expect(await listTimelineIds(list.id)).toContain(id.id);
    expect(await homeIds()).toContain(id.id);
    // A non-member's post stays out of the list; a member's boost of it comes in.
    const otherUri = await peerB.post({ content: "<p>Not in the list</p>" });
    await inboxSettled(server);
    const other = idOf(otherUri);
    expect(await listTimelineIds(list.id)).not.toContain(other);
    const boostUri = await peerA.announce(otherUri);
    await inboxSettled(server);
    const boost = idOf(boostUri);
    expect(boost).not.toBeNull();
    expect(await listTimelineIds(list.id)).toContain(boost);

    await waitUntil(
      () => received.find((e) => e.event === "update" && e.payload.id === id.id),
      "the update on the WebSocket list stream",
    );
    await waitUntil(
      () => sse.events.find((e) => e.event === "update" && JSON.parse(e.data).id === id.id),
      "the update on the SSE list stream",
    );
    expect(received.every((e) => e.stream[0] === "list" && e.stream[1] === list.id)).toBe(true);

    await peerA.delete(noteUri);
    await inboxSettled(server);
    await waitUntil(
      () => received.find((e) => e.event === "delete" && e.payload === id.id),
      "the delete on the WebSocket list stream",
    );
    await waitUntil(
      () => sse.events.find((e) => e.event === "delete" && e.data === id.id),
      "the delete on the SSE list stream",
    );
    expect(await listTimelineIds(list.id)).not.toContain(id.id);
    expect(
      sse.events.filter((e) => e.event === "update").map((e) => JSON.parse(e.data).id as string),
    ).not.toContain(other);

    subscription.unsubscribe();
    streaming.close();
    await reading.catch(() => {});
    await sse.close();
    // An unknown list cannot be streamed.
    const unknown = await fetch(`${server.url}/api/v1/streaming/list?list=123456789012345678`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(unknown.status).toBe(404);

    // Deleting the list removes its feed.
    await client.v1.lists.$select(list.id).remove();
    const rows = server.context.store.sqlite
      .prepare("SELECT count(*) AS n FROM list_feed WHERE list_id = ?")
      .get(list.id) as { n: number };
    expect(rows.n).toBe(0);
  });

  it("keeps an exclusive list's members out of home; a removed member's posts leave the list", async () => {
    const list = await client.v1.lists.create({ title: "Exclusive", exclusive: true });
    await client.v1.lists.$select(list.id).accounts.create({ accountIds: [accountA.id] });
    const before = await peerPost(peerA, { content: "<p>Only in the list</p>" });
    expect(before).not.toBeNull();
    expect(await listTimelineIds(list.id)).toContain(before);
    expect(await homeIds()).not.toContain(before);
    // Other followed accounts still come home.
    const fromB = await peerPost(peerB, { content: "<p>Home as ever</p>" });
    expect(await homeIds()).toContain(fromB);

    await client.v1.lists.$select(list.id).accounts.remove({ accountIds: [accountA.id] });
    expect(await listTimelineIds(list.id)).toEqual([]);
    const after = await peerPost(peerA, { content: "<p>Home again</p>" });
    expect(await homeIds()).toContain(after);
    await client.v1.lists.$select(list.id).remove();
  });

  it("applies replies_policy: followed, list and none", async () => {
    const make = async (title: string, policy: string, members: string[]) => {
      const list = await client.v1.lists.create({ title, repliesPolicy: policy } as never);
      await client.v1.lists.$select(list.id).accounts.create({ accountIds: members });
      return list.id;
    };
    const followed = await make("followed", "followed", [accountA.id]);
    const listWithB = await make("list with B", "list", [accountA.id, accountB.id]);
    const listWithoutB = await make("list without B", "list", [accountA.id]);
    const none = await make("none", "none", [accountA.id, accountB.id]);

    const noteB = await peerB.post({ content: "<p>B speaks</p>" });
    await inboxSettled(server);
    const own = await client.v1.statuses.create({ status: "alice speaks" });
    const noteA = await peerA.post({ content: "<p>A speaks</p>" });
    await inboxSettled(server);

    const toB = await peerPost(peerA, { content: "<p>A answers B</p>", inReplyTo: noteB });
    const toAlice = await peerPost(peerA, { content: "<p>A answers alice</p>", inReplyTo: own.uri });
    const toSelf = await peerPost(peerA, { content: "<p>A goes on</p>", inReplyTo: noteA });
    // A reply to a post Wren does not have never reaches a list.
    const unknownParent = await peerPost(peerA, {
      content: "<p>A answers someone unknown</p>",
      inReplyTo: `${peerC.origin}/notes/unknown`,
    });

    const seen = async (listId: string) => {
      const ids = await listTimelineIds(listId);
      return {
        toB: ids.includes(toB as string),
        toAlice: ids.includes(toAlice as string),
        toSelf: ids.includes(toSelf as string),
      };
    };
    expect(await seen(followed)).toEqual({ toB: true, toAlice: true, toSelf: true });
    expect(await seen(listWithB)).toEqual({ toB: true, toAlice: true, toSelf: true });
    expect(await seen(listWithoutB)).toEqual({ toB: false, toAlice: true, toSelf: true });
    expect(await seen(none)).toEqual({ toB: false, toAlice: true, toSelf: true });
    expect(unknownParent).not.toBeNull();
    for (const listId of [followed, listWithB, listWithoutB, none]) {
      expect(await listTimelineIds(listId)).not.toContain(unknownParent);
    }

    // Unfollowing a member takes it off every list, and its posts with it.
    await client.v1.accounts.$select(accountB.id).unfollow();
    expect(await client.v1.lists.$select(listWithB).accounts.list()).toMatchObject([{ id: accountA.id }]);
    const noteBId = server.context.store.sqlite
      .prepare("SELECT id FROM statuses WHERE uri = ?")
      .get(noteB) as {
      id: string;
    };
    expect(await listTimelineIds(none)).not.toContain(noteBId.id);
    for (const listId of [followed, listWithB, listWithoutB, none])
      await client.v1.lists.$select(listId).remove();
    await follow(accountB);
  });
});

describe("followed hashtags", () => {
  it("bring a stranger's public post home, until unfollowed", async () => {
    const tag = await client.v1.tags.$select("WrenLists").follow();
    expect(tag).toMatchObject({ name: "WrenLists", following: true });
    expect((await client.v1.followedTags.list()).map((t) => t.name)).toContain("WrenLists");

    const tagged = await peerPost(peerC, {
      content: "<p>Hello #wrenlists</p>",
      hashtags: ["wrenlists"],
      deliverTo: [aliceUri],
    });
    expect(tagged).not.toBeNull();
    expect(await homeIds()).toContain(tagged);
    // Without a followed tag, a stranger's post is not even kept.
    const untagged = await peerPost(peerC, { content: "<p>Hello</p>", deliverTo: [aliceUri] });
    expect(untagged).toBeNull();
    // Followers-only posts never come through a tag: not kept either.
    const privatePost = await peerPost(peerC, {
      content: "<p>Hello #wrenlists</p>",
      hashtags: ["wrenlists"],
      visibility: "followers",
      deliverTo: [aliceUri],
    });
    expect(privatePost).toBeNull();

    const unfollowed = await client.v1.tags.$select("wrenlists").unfollow();
    expect(unfollowed).toMatchObject({ following: false });
    expect(await homeIds()).not.toContain(tagged);
    expect((await client.v1.followedTags.list()).map((t) => t.name)).not.toContain("WrenLists");
  });
});
