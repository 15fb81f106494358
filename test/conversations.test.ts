// Direct-message conversations end to end: a Fedify peer sends the owner direct messages, the owner answers
// from masto.js and megalodon, and the conversation list, its unread state, the direct stream's
// `conversation` events and the deletions follow as on Mastodon.
import { createRestAPIClient, createStreamingAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, idByUri, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let streaming: mastodon.streaming.Client;
let direct: mastodon.streaming.Subscription;
/** Every event the direct stream delivered, in order. */
const events: mastodon.streaming.Event[] = [];
let aliceUri: string;
let peerAccountId: string;

async function nextEvent(match: (e: mastodon.streaming.Event) => boolean, what: string) {
  return waitUntil(() => events.find(match), what);
}

const conversationEvents = (id: string) =>
  events.filter(
    (e): e is mastodon.streaming.ConversationEvent => e.event === "conversation" && e.payload.id === id,
  );

/** The peer sends a direct message to alice; resolves with the note's URI once Wren has applied it. */
async function peerWrites(content: string, inReplyTo?: string): Promise<string> {
  const uri = await peer.post({ content, visibility: "direct", mentions: [aliceUri], inReplyTo });
  await inboxSettled(server);
  expect(idByUri(server.context.store.sqlite, "statuses", uri)).not.toBeNull();
  return uri;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  streaming = createStreamingAPIClient({
    streamingApiUrl: server.url.replace(/^http/, "ws"),
    accessToken: token,
    implementation: WebSocket,
    retry: false,
  });
  direct = streaming.direct.subscribe();
  void (async () => {
    for await (const event of direct) events.push(event);
  })();
  // The subscription is sent once the socket is open: wait until the server counts it.
  const { hubFor } = await import("../src/http/mastodon/streaming/hub.js");
  await waitUntil(() => hubFor(server.context).size === 1, "the direct stream to open");
});

afterAll(async () => {
  direct?.unsubscribe();
  streaming?.close();
  await server?.close();
  await peer?.close();
});

describe("conversations", () => {
  let conversationId: string;
  let firstUri: string;
  let replyId: string;
  let replyUri: string;

  it("lists a peer's direct message as an unread conversation and streams it", async () => {
    expect(await client.v1.conversations.list()).toEqual([]);
    firstUri = await peerWrites("<p>psst, alice</p>");
    const [conversation, ...others] = await client.v1.conversations.list();
    expect(others).toEqual([]);
    expect(conversation).toMatchObject({ unread: true });
    expect(conversation?.accounts.map((a) => a.acct)).toEqual([peer.handle]);
    expect(conversation?.lastStatus).toMatchObject({ visibility: "direct", uri: firstUri });
    expect(conversation?.lastStatus?.content).toContain("psst, alice");
    conversationId = conversation?.id as string;
    peerAccountId = conversation?.accounts[0]?.id as string;

    const event = await nextEvent(
      (e) => e.event === "conversation" && e.payload.id === conversationId,
      "the conversation event",
    );
    expect(event.stream).toEqual(["direct"]);
    expect(event.payload).toMatchObject({ id: conversationId, unread: true, lastStatus: { uri: firstUri } });
  });

  it("the owner's direct reply (masto) joins the conversation, read, and reaches the peer", async () => {
    const first = (await client.v1.conversations.list())[0]?.lastStatus as mastodon.v1.Status;
    const reply = await client.v1.statuses.create({
      status: `@${peer.handle} here I am`,
      visibility: "direct",
      inReplyToId: first.id,
    });
    replyId = reply.id;
    replyUri = reply.uri;
    const [conversation, ...others] = await client.v1.conversations.list();
    expect(others).toEqual([]);
    expect(conversation).toMatchObject({ id: conversationId, unread: false, lastStatus: { id: reply.id } });
    expect(conversation?.accounts.map((a) => a.id)).toEqual([peerAccountId]);
    const event = await nextEvent(
      (e) =>
        e.event === "conversation" &&
        e.payload.id === conversationId &&
        e.payload.lastStatus?.id === reply.id,
      "the conversation event of the reply",
    );
    expect(event.payload).toMatchObject({ unread: false });
    // A direct message is not a timeline update on the direct stream: only its conversation is sent.
    expect(events.filter((e) => e.event === "update")).toEqual([]);
    const received = await peer.waitFor(
      (r) => r.type === "Create" && (r.json.object as { id?: string })?.id === reply.uri,
    );
    expect(received.json.to).toEqual([peer.actorUri]);
  });

  it("a peer's answer makes it unread again; masto marks it read", async () => {
    const answerUri = await peerWrites("<p>good to hear</p>", replyUri);
    const [conversation] = await client.v1.conversations.list();
    expect(conversation).toMatchObject({ id: conversationId, unread: true, lastStatus: { uri: answerUri } });

    const read = await client.v1.conversations.$select(conversationId).read();
    expect(read).toMatchObject({ id: conversationId, unread: false, lastStatus: { uri: answerUri } });
    expect((await client.v1.conversations.list())[0]?.unread).toBe(false);
    await nextEvent(
      (e) =>
        e.event === "conversation" &&
        e.payload.id === conversationId &&
        !e.payload.unread &&
        e.payload.lastStatus?.uri === answerUri,
      "the conversation event of the read",
    );

    // Deleting the last message moves the conversation back to the one before it.
    await peer.delete(answerUri);
    await inboxSettled(server);
    const [after] = await client.v1.conversations.list();
    expect(after).toMatchObject({ id: conversationId, lastStatus: { id: replyId } });
    const deleted = idByUri(server.context.store.sqlite, "statuses", answerUri);
    await nextEvent((e) => e.event === "delete" && e.payload === deleted, "the delete on the direct stream");
  });

  it("megalodon lists, reads and deletes it; the thread's next message starts a new one", async () => {
    const mega = generator("mastodon", server.origin, token);
    const listed = await mega.getConversationTimeline();
    expect(listed.data.map((c) => [c.id, c.unread, c.last_status?.id])).toEqual([
      [conversationId, false, replyId],
    ]);
    expect((await mega.readConversation(conversationId)).data).toMatchObject({
      id: conversationId,
      unread: false,
    });
    await mega.deleteConversation(conversationId);
    expect((await mega.getConversationTimeline()).data).toEqual([]);
    expect((await api(server, token, "POST", `/api/v1/conversations/${conversationId}/read`)).status).toBe(
      404,
    );
    expect((await api(server, token, "DELETE", `/api/v1/conversations/${conversationId}`)).status).toBe(404);

    const uri = await peerWrites("<p>still there?</p>", replyUri);
    const [renewed, ...others] = (await mega.getConversationTimeline()).data;
    expect(others).toEqual([]);
    expect(renewed?.id).not.toBe(conversationId);
    expect(renewed).toMatchObject({ unread: true, last_status: { uri } });
    expect(renewed?.accounts.map((a) => a.id)).toEqual([peerAccountId]);
    await waitUntil(
      () => conversationEvents(renewed?.id as string).length > 0,
      "the new conversation's event",
    );

    // Its only message deleted, the conversation goes.
    await peer.delete(uri);
    await inboxSettled(server);
    expect((await mega.getConversationTimeline()).data).toEqual([]);
  });

  it("a conversation the owner starts is read; with nobody else it shows the owner", async () => {
    const status = await client.v1.statuses.create({ status: "a note to self", visibility: "direct" });
    const [conversation] = await client.v1.conversations.list();
    expect(conversation).toMatchObject({ unread: false, lastStatus: { id: status.id } });
    expect(conversation?.accounts.map((a) => a.username)).toEqual(["alice"]);
    await client.v1.statuses.$select(status.id).remove();
    expect(await client.v1.conversations.list()).toEqual([]);
  });

  it("pages by the last status, newest first, with Link headers", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await client.v1.statuses.create({
        status: `@${peer.handle} thread ${i}`,
        visibility: "direct",
      });
      ids.push(s.id);
    }
    const first = await api(server, token, "GET", "/api/v1/conversations?limit=2");
    const page = first.json as { id: string; last_status: { id: string } }[];
    expect(page.map((c) => c.last_status.id)).toEqual([ids[4], ids[3]]);
    const link = first.headers.get("link") ?? "";
    expect(link).toContain(`${server.origin}/api/v1/conversations?limit=2&max_id=${ids[3]}>; rel="next"`);
    expect(link).toContain(`min_id=${ids[4]}>; rel="prev"`);
    const next = await api(server, token, "GET", `/api/v1/conversations?limit=2&max_id=${ids[3]}`);
    expect((next.json as { last_status: { id: string } }[]).map((c) => c.last_status.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    const newer = await api(server, token, "GET", `/api/v1/conversations?limit=2&min_id=${ids[1]}`);
    expect((newer.json as { last_status: { id: string } }[]).map((c) => c.last_status.id)).toEqual([
      ids[3],
      ids[2],
    ]);

    const all = await client.v1.conversations.list({ limit: 40 });
    expect(all.map((c) => c.lastStatus?.id)).toEqual([...ids].reverse());
    for (const id of ids) await client.v1.statuses.$select(id).remove();
    expect(await client.v1.conversations.list()).toEqual([]);
  });

  it("hides blocked and muted accounts' conversations, and a blocked account's DM starts none", async () => {
    const carol = remoteAccount(server, "carol", "dm.example");
    const dave = remoteAccount(server, "dave", "dm.example");
    const dm = (author: typeof carol) =>
      remoteNote(server, author, { to: [aliceUri], cc: [], mentions: [aliceUri] });
    dm(carol);
    const [carols] = await client.v1.conversations.list();
    expect(carols?.accounts.map((a) => a.id)).toEqual([carol.id]);

    await client.v1.accounts.$select(carol.id).mute();
    expect(await client.v1.conversations.list()).toEqual([]);
    expect((await api(server, token, "POST", `/api/v1/conversations/${carols?.id}/read`)).status).toBe(404);
    await client.v1.accounts.$select(carol.id).unmute();
    expect((await client.v1.conversations.list()).map((c) => c.id)).toEqual([carols?.id]);

    await client.v1.accounts.$select(dave.id).block();
    dm(dave);
    const counted = server.context.store.sqlite.prepare("SELECT count(*) AS n FROM conversations").get() as {
      n: number;
    };
    expect(counted.n).toBe(1);
  });

  it("asks for the scopes Mastodon asks for", async () => {
    const readOnly = issueToken(server, "read:statuses");
    expect((await api(server, readOnly, "GET", "/api/v1/conversations")).status).toBe(200);
    const [one] = (await api(server, readOnly, "GET", "/api/v1/conversations")).json as { id: string }[];
    expect((await api(server, readOnly, "POST", `/api/v1/conversations/${one?.id}/read`)).status).toBe(403);
    expect((await api(server, readOnly, "DELETE", `/api/v1/conversations/${one?.id}`)).status).toBe(403);
    const writer = issueToken(server, "write:conversations");
    expect((await api(server, writer, "GET", "/api/v1/conversations")).status).toBe(403);
    expect((await api(server, writer, "POST", `/api/v1/conversations/${one?.id}/read`)).status).toBe(200);
    expect((await api(server, null, "GET", "/api/v1/conversations")).status).toBe(401);
  });

  it("streams conversations over Server-Sent Events at /api/v1/streaming/direct", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/streaming/direct?access_token=${token}`, {
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const uri = await peerWrites("<p>over SSE</p>");
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes("event: conversation")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const data = text.split("\n").find((line) => line.startsWith("data: "));
    const payload = JSON.parse(data?.slice(6) ?? "{}") as { unread: boolean; last_status: { uri: string } };
    expect(payload).toMatchObject({ unread: true, last_status: { uri } });
    abort.abort();
    await reader.cancel().catch(() => {});
  });
});
