// The notification policy and its requests, with mentions from a real Fedify peer's actors: a mention from an
// account alice does not follow is held in a request (not listed, not announced), accepting the request
// releases it and lets the account through from then on, dismissing it drops its notifications; "drop"
// stores nothing; a followed account's mentions always pass; private mentions pass when they answer alice.
import { createRestAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DomainEvent } from "../src/core/events.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import {
  type FedifyPeer,
  idByUri,
  type PeerActor,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { mentionAs } from "./helpers/peer-actors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** See clients-megalodon.test.ts: the generator under vitest's interop or under plain Node ESM. */
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

type Json = Record<string, unknown>;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let alice: { uri: string; handle: string };
const actors: Record<string, PeerActor> = {};
/** Notifications announced after their commit (what streaming and push hear of). */
const announced: string[] = [];

const EXTRA = ["stranger", "newcomer", "other1", "other2", "dropped", "whisperer"];

async function mention(
  name: string,
  options: { visibility?: "public" | "direct"; inReplyTo?: string } = {},
): Promise<string> {
  const uri = await mentionAs(server, actors[name] as PeerActor, alice, options);
  await inboxSettled(server);
  const id = idByUri(server.context.store.sqlite, "statuses", uri);
  if (!id) throw new Error(`the mention ${uri} was not stored`);
  return id;
}

function accountId(name: string): string {
  const uri = name === "peer" ? peer.actorUri : (actors[name] as PeerActor).actorUri;
  return idByUri(server.context.store.sqlite, "accounts", uri) as string;
}

/** The mentions listed (status ids), newest first. */
async function listed(query = ""): Promise<string[]> {
  const res = await api(server, token, "GET", `/api/v1/notifications?types[]=mention${query}`);
  return (res.json as Json[]).map((n) => (n.status as Json).id as string);
}

function notificationRowsFrom(name: string): number {
  const row = server.context.store.sqlite
    .prepare("SELECT count(*) AS n FROM notifications WHERE from_account_id = ?")
    .get(accountId(name)) as { n: number };
  return row.n;
}

async function setPolicy(policy: Json): Promise<Json> {
  const all = {
    for_not_following: "accept",
    for_not_followers: "accept",
    for_new_accounts: "accept",
    for_private_mentions: "accept",
    for_limited_accounts: "accept",
  };
  const res = await api(server, token, "PATCH", "/api/v2/notifications/policy", { ...all, ...policy });
  expect(res.status).toBe(200);
  return res.json as Json;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: EXTRA }),
  ]);
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  alice = { uri: `${server.origin}/users/alice`, handle: `alice@${server.domain}` };
  for (const name of EXTRA) actors[name] = peer.extra.get(name) as PeerActor;
  server.context.events.onCommit((event: DomainEvent) => {
    if (event.type === "NotificationCreated") announced.push(event.notificationId);
  });
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

describe("notification policy and requests", () => {
  it("reads and changes the policy with masto (v2), every key accepted until changed", async () => {
    const before = await client.v2.notifications.policy.fetch();
    expect(before).toEqual({
      filterNotFollowing: false,
      filterNotFollowers: false,
      filterNewAccounts: false,
      filterPrivateMentions: false,
      forNotFollowing: "accept",
      forNotFollowers: "accept",
      forNewAccounts: "accept",
      forPrivateMentions: "accept",
      forLimitedAccounts: "accept",
      summary: { pendingRequestsCount: 0, pendingNotificationsCount: 0 },
    });
    const after = await client.v2.notifications.policy.update({ forNotFollowing: "filter" });
    expect(after).toMatchObject({
      forNotFollowing: "filter",
      filterNotFollowing: true,
      forNewAccounts: "accept",
    });
    expect(await client.v2.notifications.policy.fetch()).toEqual(after);
  });

  it("holds a stranger's mentions in a request, unannounced, and accepting it lets them through", async () => {
    const first = await mention("stranger");
    const second = await mention("stranger", { visibility: "direct" });
    expect(announced).toEqual([]);
    expect(await listed()).toEqual([]);
    expect((await client.v2.notifications.list()).notificationGroups).toEqual([]);
    expect((await client.v1.notifications.unreadCount.fetch()).count).toBe(0);
    // Asked for, or asked for by sender, they are there.
    expect(await listed("&include_filtered=true")).toEqual([second, first]);
    expect(await listed(`&account_id=${accountId("stranger")}`)).toEqual([second, first]);
    const shown = await api(server, token, "GET", "/api/v1/notifications?include_filtered=true");
    expect((shown.json as Json[]).map((n) => n.filtered)).toEqual([true, true]);
    const grouped = await client.v2.notifications.list({ includeFiltered: true });
    expect(grouped.notificationGroups.map((g) => g.type)).toEqual(["mention", "mention"]);

    const policy = await client.v2.notifications.policy.fetch();
    expect(policy.summary).toEqual({ pendingRequestsCount: 1, pendingNotificationsCount: 2 });
    const requests = await client.v1.notifications.requests.list();
    expect(requests).toHaveLength(1);
    const [request] = requests as [mastodon.v1.NotificationRequest];
    expect(request.account.id).toBe(accountId("stranger"));
    expect(request.lastStatus?.id).toBe(second);
    expect(request.notificationsCount).toBe("2");
    const raw = await api(server, token, "GET", `/api/v1/notifications/requests/${request.id}`);
    expect(Object.keys(raw.json as Json).sort()).toEqual(
      ["account", "created_at", "id", "last_status", "notifications_count", "updated_at"].sort(),
    );
    expect((await client.v1.notifications.requests.$select(request.id).fetch()).id).toBe(request.id);

    await client.v1.notifications.requests.$select(request.id).accept();
    expect(await client.v1.notifications.requests.merged.fetch()).toEqual({ merged: true });
    expect(await listed()).toEqual([second, first]);
    expect(await client.v1.notifications.requests.list()).toEqual([]);
    expect((await client.v2.notifications.policy.fetch()).summary).toEqual({
      pendingRequestsCount: 0,
      pendingNotificationsCount: 0,
    });
    expect((await api(server, token, "GET", `/api/v1/notifications/requests/${request.id}`)).status).toBe(
      404,
    );
    expect(
      (await api(server, token, "POST", `/api/v1/notifications/requests/${request.id}/accept`)).status,
    ).toBe(404);

    // From now on the stranger passes, and is announced like anyone.
    const third = await mention("stranger");
    expect(await listed()).toEqual([third, second, first]);
    expect(announced).toHaveLength(1);
    const mega = generator("mastodon", server.origin, token);
    const notes = await mega.getNotifications({ limit: 10 });
    expect(notes.data.map((n) => n.status?.id)).toEqual([third, second, first]);
    expect(notes.data.every((n) => n.type === "mention" && n.account?.id === accountId("stranger"))).toBe(
      true,
    );
  });

  it("dismissing a request drops its notifications; the bulk forms take id[]", async () => {
    const held = await mention("newcomer");
    const [request] = await client.v1.notifications.requests.list();
    expect(request?.lastStatus?.id).toBe(held);
    await client.v1.notifications.requests.$select(request?.id as string).dismiss();
    expect(await client.v1.notifications.requests.list()).toEqual([]);
    expect(await listed("&include_filtered=true")).not.toContain(held);
    expect(notificationRowsFrom("newcomer")).toBe(0);

    const one = await mention("other1");
    const two = await mention("other2");
    const requests = await client.v1.notifications.requests.list();
    const idOf = (name: string) => requests.find((r) => r.account.id === accountId(name))?.id as string;
    expect(requests.map((r) => r.lastStatus?.id)).toEqual([two, one]);
    // As a form, id[] repeated, with an id that names nothing.
    const accept = await fetch(`${server.url}/api/v1/notifications/requests/accept`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: `id[]=${idOf("other1")}&id[]=123456789012345678`,
    });
    expect(accept.status).toBe(200);
    const dismiss = await api(server, token, "POST", "/api/v1/notifications/requests/dismiss", {
      id: [idOf("other2")],
    });
    expect(dismiss.status).toBe(200);
    expect(await client.v1.notifications.requests.list()).toEqual([]);
    expect(await listed()).toContain(one);
    expect(await listed("&include_filtered=true")).not.toContain(two);
    expect(notificationRowsFrom("other2")).toBe(0);
  });

  it("drops what a drop policy says, and never filters mentions from an account alice follows", async () => {
    // alice follows the peer's main actor (it accepts follows); the peer does not follow alice.
    const [found] = (await client.v2.search.list({ q: `@${peer.handle}`, type: "accounts", resolve: true }))
      .accounts;
    await client.v1.accounts.$select(found?.id as string).follow();
    await waitUntil(
      () =>
        (
          server.context.store.sqlite
            .prepare("SELECT state FROM follows WHERE following_id = ?")
            .get(found?.id) as { state: string } | undefined
        )?.state === "accepted",
      "the follow of the peer to be accepted",
    );

    await setPolicy({
      for_not_following: "filter",
      for_not_followers: "filter",
      for_new_accounts: "drop",
      for_private_mentions: "filter",
    });
    const before = announced.length;
    await mention("dropped");
    expect(notificationRowsFrom("dropped")).toBe(0);
    expect(await client.v1.notifications.requests.list()).toEqual([]);

    const peerUri = await peer.post({
      content: "<p>@alice from someone you follow</p>",
      mentions: [alice.uri],
      visibility: "direct",
    });
    await inboxSettled(server);
    const fromPeer = idByUri(server.context.store.sqlite, "statuses", peerUri);
    expect((await listed())[0]).toBe(fromPeer);
    expect(announced).toHaveLength(before + 1);
  });

  it("filters private mentions, unless they answer a private mention of alice's", async () => {
    await setPolicy({ for_private_mentions: "filter" });
    const unsolicited = await mention("whisperer", { visibility: "direct" });
    const open = await mention("whisperer");
    expect(await listed()).toContain(open);
    expect(await listed()).not.toContain(unsolicited);

    // alice writes to the whisperer privately; its private answer passes.
    const handle = `@whisperer@${peer.domain}`;
    await client.v2.search.list({ q: handle, type: "accounts", resolve: true });
    const dm = await client.v1.statuses.create({ status: `${handle} a secret`, visibility: "direct" });
    expect(dm.mentions).toHaveLength(1);
    const answer = await mention("whisperer", { visibility: "direct", inReplyTo: dm.uri });
    expect((await listed())[0]).toBe(answer);

    const [request] = await client.v1.notifications.requests.list();
    expect(request).toMatchObject({ lastStatus: { id: unsolicited }, notificationsCount: "1" });
  });
});
