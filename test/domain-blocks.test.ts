// Domain blocks and conversation mutes against a real, independent server: a Fedify peer on 127.0.0.1. Its
// domain is `127.0.0.1:PORT`, the host with its port, which is how Wren keeps the domain of every account.
import { createRestAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { inboundRows, inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let mega: ReturnType<Generator>;
let aliceUri: string;
let peerAccount: mastodon.v1.Account;
/** alice's post the peer answers: a thread. */
let root: mastodon.v1.Status;

const sqlite = () => server.context.store.sqlite;

function followState(followerUri: string, followingUri: string): string | null {
  const row = sqlite()
    .prepare(
      `SELECT f.state FROM follows f JOIN accounts a ON a.id = f.follower_id JOIN accounts b ON b.id = f.following_id
       WHERE a.uri = ? AND b.uri = ?`,
    )
    .get(followerUri, followingUri) as { state: string } | undefined;
  return row?.state ?? null;
}

/** The notifications alice's apps see that the peer caused, as "type status-uri". */
async function peerNotifications(): Promise<string[]> {
  const list = await client.v1.notifications.list({ limit: 80 });
  return list
    .filter((n) => n.account?.id === peerAccount.id)
    .map((n) => `${n.type} ${n.status?.uri ?? ""}`)
    .sort();
}

/** A reply by the peer to `parent` that mentions alice, stored once the inbox worker applied it. */
async function peerReply(parent: string, content: string): Promise<string> {
  const uri = await peer.post({ content: `<p>${content}</p>`, inReplyTo: parent, mentions: [aliceUri] });
  await inboxSettled(server);
  return uri;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  mega = generator("mastodon", server.origin, token);
  const found = await client.v2.search.list({ q: `@${peer.handle}`, type: "accounts", resolve: true });
  peerAccount = found.accounts[0] as mastodon.v1.Account;
  expect(peerAccount.acct).toBe(peer.handle);
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

describe("conversation mute", () => {
  it("stops the notifications of a thread, shows muted on its statuses, and unmuting brings them back", async () => {
    root = await client.v1.statuses.create({ status: "a thread worth muting" });
    const first = await peerReply(root.uri, "first reply");
    expect(await peerNotifications()).toEqual([`mention ${first}`]);

    const muted = await client.v1.statuses.$select(root.id).mute();
    expect(muted).toMatchObject({ id: root.id, muted: true });
    const replyId = idByUri(sqlite(), "statuses", first) as string;
    // Every status of the thread shows it, the peer's reply too; a status elsewhere does not.
    expect((await client.v1.statuses.$select(replyId).fetch()).muted).toBe(true);
    const elsewhere = await client.v1.statuses.create({ status: "another thread" });
    expect(elsewhere.muted).toBe(false);

    const second = await peerReply(root.uri, "second reply");
    await peer.like(root.uri);
    await inboxSettled(server);
    expect(idByUri(sqlite(), "statuses", second)).not.toBeNull();
    expect(await peerNotifications()).toEqual([`mention ${first}`]);
    // A reply to the reply is in the same thread.
    const deeper = await peerReply(second, "deeper reply");
    expect(idByUri(sqlite(), "statuses", deeper)).not.toBeNull();
    expect(await peerNotifications()).toEqual([`mention ${first}`]);

    const unmuted = await mega.unmuteStatus(root.id);
    expect(unmuted.data.muted).toBe(false);
    const third = await peerReply(root.uri, "third reply");
    expect(await peerNotifications()).toEqual([`mention ${first}`, `mention ${third}`]);
    // megalodon mutes too.
    expect((await mega.muteStatus(replyId)).data.muted).toBe(true);
    expect((await client.v1.statuses.$select(root.id).fetch()).muted).toBe(true);
    await client.v1.statuses.$select(root.id).unmute();
  });
});

describe("domain blocks", () => {
  let before: string;

  it("follows the peer both ways before the block", async () => {
    await client.v1.accounts.$select(peerAccount.id).follow();
    await waitUntil(() => followState(aliceUri, peer.actorUri) === "accepted", "alice's follow accepted");
    await peer.follow(aliceUri);
    await peer.waitFor((r) => r.type === "Accept");
    expect(followState(peer.actorUri, aliceUri)).toBe("accepted");

    before = await peer.post({ content: "<p>before the blockade</p>" });
    await inboxSettled(server);
    const home = await client.v1.timelines.home.list({ limit: 40 });
    expect(home.map((s) => s.uri)).toContain(before);
    expect(
      (await client.v2.search.list({ q: "blockade", type: "statuses" })).statuses.map((s) => s.uri),
    ).toEqual([before]);
  });

  it("refuses bad domains and the server's own, with or without its port", async () => {
    for (const domain of ["", "not a domain", "https://", server.domain, "127.0.0.1"]) {
      const response = await api(server, token, "POST", "/api/v1/domain_blocks", { domain });
      expect(response.status, domain).toBe(422);
    }
    expect(await client.v1.domainBlocks.list()).toEqual([]);
  });

  it("hides the domain everywhere, ends the follows both ways and tells the peer", async () => {
    await client.v1.domainBlocks.create({ domain: peer.domain.toUpperCase() });
    expect(await client.v1.domainBlocks.list()).toEqual([peer.domain]);

    const [relationship] = await client.v1.accounts.relationships.fetch({ id: [peerAccount.id] });
    expect(relationship).toMatchObject({
      domainBlocking: true,
      following: false,
      followedBy: false,
      blocking: false,
    });
    expect(followState(aliceUri, peer.actorUri)).toBeNull();
    expect(followState(peer.actorUri, aliceUri)).toBeNull();

    // As a block does: Undo(Follow) of alice's follow and Reject(Follow) of the peer's.
    const undo = await peer.waitFor((r) => r.type === "Undo" && r.actor === aliceUri);
    expect((undo.json.object as Record<string, unknown>).type).toBe("Follow");
    const reject = await peer.waitFor((r) => r.type === "Reject" && r.actor === aliceUri);
    expect((reject.json.object as Record<string, unknown>).actor).toBe(peer.actorUri);
    await deliveriesSettled(sqlite());
    // No Block goes out: a domain block is private.
    expect(peer.received.some((r) => r.type === "Block")).toBe(false);

    // Gone from the home timeline, search, threads and notifications.
    expect((await client.v1.timelines.home.list({ limit: 40 })).map((s) => s.uri)).not.toContain(before);
    expect((await client.v2.search.list({ q: "blockade", type: "statuses" })).statuses).toEqual([]);
    const context = await client.v1.statuses.$select(root.id).context.fetch();
    expect(context.descendants).toEqual([]);
    expect(await peerNotifications()).toEqual([]);
  });

  it("drops the peer's new activities and delivers nothing to it", async () => {
    const inboundBefore = inboundRows(server).length;
    const mention = await peer.post({ content: "<p>are you there?</p>", mentions: [aliceUri] });
    await peer.like(root.uri);
    await inboxSettled(server);
    expect(inboundRows(server)).toHaveLength(inboundBefore);
    expect(idByUri(sqlite(), "statuses", mention)).toBeNull();
    expect(await peerNotifications()).toEqual([]);

    const jobs = () =>
      (
        sqlite().prepare("SELECT count(*) AS n FROM delivery_jobs WHERE host = ?").get(peer.domain) as {
          n: number;
        }
      ).n;
    const jobsBefore = jobs();
    await client.v1.statuses.create({ status: `hello @${peer.handle}` });
    await client.v1.statuses.$select(root.id).favourite();
    await deliveriesSettled(sqlite());
    expect(jobs()).toBe(jobsBefore);

    // Following an account of a blocked domain is refused, as on Mastodon.
    expect((await api(server, token, "POST", `/api/v1/accounts/${peerAccount.id}/follow`)).status).toBe(422);
  });

  it("covers subdomains, and every port unless the block names one", async () => {
    const on = (domain: string) =>
      remoteAccount(server, `u${Math.random().toString(36).slice(2, 8)}`, domain);
    const accounts = [
      on("sub.example.net"),
      on("deep.sub.example.net:8443"),
      on("example.net"),
      on("notexample.net"),
      on("other.example:8443"),
      on("other.example:9000"),
    ];
    expect((await mega.blockDomain("example.net")).status).toBe(200);
    await client.v1.domainBlocks.create({ domain: "https://other.example:8443/some/path" });
    const relationships = await client.v1.accounts.relationships.fetch({ id: accounts.map((a) => a.id) });
    expect(relationships.map((r) => r.domainBlocking)).toEqual([true, true, true, false, true, false]);

    // The list pages with Link headers, newest first.
    const first = await api(server, token, "GET", "/api/v1/domain_blocks?limit=2");
    expect(first.json).toEqual(["other.example:8443", "example.net"]);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get("link") ?? "")?.[1] as string;
    const rest = await fetch(next, { headers: { Authorization: `Bearer ${token}` } });
    expect(await rest.json()).toEqual([peer.domain]);
    expect((await mega.getDomainBlocks()).data).toEqual(["other.example:8443", "example.net", peer.domain]);

    await mega.unblockDomain("example.net");
    await client.v1.domainBlocks.remove({ domain: "other.example:8443" });
    expect(await client.v1.domainBlocks.list()).toEqual([peer.domain]);
  });

  it("hides the posts of accounts first seen after a block, until the last block covering them goes", async () => {
    const author = (domain: string) => {
      const account = remoteAccount(server, `w${Math.random().toString(36).slice(2, 8)}`, domain);
      return { account, statusId: remoteNote(server, account) };
    };
    await client.v1.domainBlocks.create({ domain: "example.org" });
    await client.v1.domainBlocks.create({ domain: "sub.example.org" });
    await client.v1.domainBlocks.create({ domain: "ports.example:8443" });
    // Met after the blocks, as a reply or a boost from a new server would bring them.
    const covered = [
      author("deep.sub.example.org"),
      author("example.org:8443"),
      author("ports.example:8443"),
    ];
    const open = [author("example.organic"), author("ports.example:9000")];
    const shown = async () =>
      new Set((await client.v1.timelines.public.list({ limit: 40 })).map((s) => s.id));

    let ids = await shown();
    for (const { statusId } of open) expect(ids.has(statusId)).toBe(true);
    for (const { statusId } of covered) expect(ids.has(statusId)).toBe(false);

    // deep.sub.example.org is still under sub.example.org's block.
    await client.v1.domainBlocks.remove({ domain: "example.org" });
    ids = await shown();
    expect(ids.has(covered[0]?.statusId as string)).toBe(false);
    expect(ids.has(covered[1]?.statusId as string)).toBe(true);

    await client.v1.domainBlocks.remove({ domain: "sub.example.org" });
    await client.v1.domainBlocks.remove({ domain: "ports.example:8443" });
    ids = await shown();
    for (const { statusId } of [...covered, ...open]) expect(ids.has(statusId)).toBe(true);
  });

  it("unblocking lets new activities in again", async () => {
    await client.v1.domainBlocks.remove({ domain: peer.domain });
    expect(await client.v1.domainBlocks.list()).toEqual([]);
    const [relationship] = await client.v1.accounts.relationships.fetch({ id: [peerAccount.id] });
    expect(relationship?.domainBlocking).toBe(false);

    const mention = await peer.post({ content: "<p>back again</p>", mentions: [aliceUri] });
    await inboxSettled(server);
    expect(idByUri(sqlite(), "statuses", mention)).not.toBeNull();
    expect(await peerNotifications()).toContain(`mention ${mention}`);
  });
});
