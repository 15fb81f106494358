// Backfill: following an account fetches the newest posts of its outbox (through the durable queue, which
// honours a 429's Retry-After), and a reply whose parents are unknown brings its ancestors, bounded.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRsaKeyPair } from "../src/federation/keys.js";
import { resolveActor } from "../src/federation/resolve.js";
import { api, issueToken } from "./helpers/api.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { signedPost } from "./helpers/inbox-post.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let aliceUri: string;

interface Status {
  id: string;
  uri: string;
  content: string;
  reblog: Status | null;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ outboxPageSize: 25 }),
  ]);
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
});

afterAll(async () => {
  await peer?.close();
  await server?.close();
});

const sqlite = () => server.context.store.sqlite;

function countOf(accountUri: string): number {
  const row = sqlite()
    .prepare("SELECT count(*) AS n FROM statuses s JOIN accounts a ON a.id = s.account_id WHERE a.uri = ?")
    .get(accountUri) as { n: number };
  return row.n;
}

async function followByApi(accountUri: string): Promise<string> {
  const account = await resolveActor(server.context, accountUri);
  const res = await api(server, token, "POST", `/api/v1/accounts/${account.id}/follow`);
  expect(res.status).toBe(200);
  return account.id;
}

describe("following an account backfills its outbox", () => {
  it("stores the 20 newest of 30 posts, in its statuses and (followed) in home, without notifying", async () => {
    const posted: string[] = [];
    for (let i = 1; i <= 30; i++)
      posted.push(await peer.post({ content: `<p>old post ${i}</p>`, silent: true }));
    // One of them mentions alice: a backfilled mention is no notification.
    posted.push(await peer.post({ content: "<p>hello alice</p>", mentions: [aliceUri], silent: true }));
    const accountId = await followByApi(peer.actorUri);
    await waitUntil(() => countOf(peer.actorUri) >= 20, "the outbox to be backfilled");
    await deliveriesSettled(sqlite());
    expect(countOf(peer.actorUri)).toBe(20);

    const res = await api(server, token, "GET", `/api/v1/accounts/${accountId}/statuses?limit=40`);
    const statuses = res.json as Status[];
    expect(statuses.map((s) => s.uri).sort()).toEqual(posted.slice(-20).sort());
    // Newest first, by their dates.
    expect(statuses[0]?.uri).toBe(posted.at(-1));

    const home = (await api(server, token, "GET", "/api/v1/timelines/home?limit=40")).json as Status[];
    expect(home.map((s) => s.uri)).toEqual(statuses.map((s) => s.uri));
    const notifications = (await api(server, token, "GET", "/api/v1/notifications")).json as unknown[];
    expect(notifications).toEqual([]);
    // The oldest ten stay where they are.
    expect(idByUri(sqlite(), "statuses", posted[0] as string)).toBeNull();
  });
});

describe("a reply whose ancestors are unknown", () => {
  async function contextOf(uri: string) {
    const id = await waitUntil(() => idByUri(sqlite(), "statuses", uri), "the reply to be stored");
    const res = await api(server, token, "GET", `/api/v1/statuses/${id}/context`);
    return res.json as { ancestors: Status[]; descendants: Status[] };
  }

  it("fetches a 3-deep chain and stores it, oldest first", async () => {
    const a = await peer.post({ content: "<p>root</p>", silent: true });
    const b = await peer.post({ content: "<p>first reply</p>", inReplyTo: a, silent: true });
    const c = await peer.post({ content: "<p>second reply</p>", inReplyTo: b, silent: true });
    const d = await peer.post({ content: "<p>and you, alice?</p>", inReplyTo: c, mentions: [aliceUri] });
    await inboxSettled(server);
    await waitUntil(() => idByUri(sqlite(), "statuses", a), "the root to be fetched");
    await deliveriesSettled(sqlite());
    const context = await contextOf(d);
    expect(context.ancestors.map((s) => s.uri)).toEqual([a, b, c]);
    // Stored oldest first: the ids (from the dates) and the row order agree.
    const rows = sqlite()
      .prepare("SELECT uri FROM statuses WHERE uri IN (?, ?, ?) ORDER BY rowid")
      .all(a, b, c) as { uri: string }[];
    expect(rows.map((r) => r.uri)).toEqual([a, b, c]);
    // The root's thread shows the replies, the one that arrived first included.
    const root = await contextOf(a);
    expect(root.descendants.map((s) => s.uri)).toEqual([b, c, d]);
  });

  it("fetches at most five ancestors, and what it stored brings no more", async () => {
    const chain: string[] = [];
    for (let i = 0; i < 7; i++) {
      const inReplyTo = chain.at(-1);
      chain.push(
        await peer.post({ content: `<p>link ${i}</p>`, silent: true, ...(inReplyTo ? { inReplyTo } : {}) }),
      );
    }
    const reply = await peer.post({ content: "<p>deep</p>", inReplyTo: chain.at(-1), mentions: [aliceUri] });
    await inboxSettled(server);
    await waitUntil(() => idByUri(sqlite(), "statuses", chain[2] as string), "five ancestors");
    await deliveriesSettled(sqlite());
    const context = await contextOf(reply);
    expect(context.ancestors.map((s) => s.uri)).toEqual(chain.slice(2));
    expect(idByUri(sqlite(), "statuses", chain[1] as string)).toBeNull();
    expect(idByUri(sqlite(), "statuses", chain[0] as string)).toBeNull();
  });
});

/**
 * A server whose outbox first answers 429 with Retry-After, then an OrderedCollection with its first page
 * embedded and items given by URI: a Create, a bare Note, and an Announce of the Fedify peer's post.
 */
async function startOddServer(boosted: string) {
  const keys = generateRsaKeyPair();
  let origin = "";
  let outboxRequests = 0;
  const docs = new Map<string, Record<string, unknown>>();
  const server: Server = createServer((req, res) => {
    const url = `${origin}${req.url ?? "/"}`;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/activity+json", ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method === "POST") {
      req.resume();
      return send(202);
    }
    if (url === `${origin}/users/carol/outbox`) {
      outboxRequests++;
      if (outboxRequests === 1) return send(429, { error: "slow down" }, { "retry-after": "1" });
    }
    const doc = docs.get(url);
    if (doc) return send(200, doc);
    send(404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const actor = `${origin}/users/carol`;
  const note = (n: number) => ({
    "@context": AS,
    id: `${actor}/notes/${n}`,
    type: "Note",
    attributedTo: actor,
    content: `<p>carol ${n}</p>`,
    published: `2026-11-0${n}T10:00:00.000Z`,
    to: [PUBLIC],
    cc: [`${actor}/followers`],
  });
  docs.set(actor, {
    "@context": [AS, "https://w3id.org/security/v1"],
    id: actor,
    type: "Person",
    preferredUsername: "carol",
    inbox: `${actor}/inbox`,
    outbox: `${actor}/outbox`,
    followers: `${actor}/followers`,
    publicKey: { id: `${actor}#main-key`, owner: actor, publicKeyPem: keys.publicPem },
  });
  docs.set(`${actor}/notes/1`, note(1));
  docs.set(`${actor}/notes/2`, note(2));
  docs.set(`${actor}/notes/1/activity`, {
    "@context": AS,
    id: `${actor}/notes/1/activity`,
    type: "Create",
    actor,
    to: [PUBLIC],
    object: `${actor}/notes/1`,
  });
  docs.set(`${actor}/announces/1`, {
    "@context": AS,
    id: `${actor}/announces/1`,
    type: "Announce",
    actor,
    published: "2026-11-05T10:00:00.000Z",
    to: [PUBLIC],
    cc: [`${actor}/followers`],
    object: boosted,
  });
  docs.set(`${actor}/outbox`, {
    "@context": AS,
    id: `${actor}/outbox`,
    type: "OrderedCollection",
    totalItems: 3,
    first: {
      id: `${actor}/outbox?page=true`,
      type: "OrderedCollectionPage",
      orderedItems: [`${actor}/announces/1`, `${actor}/notes/2`, `${actor}/notes/1/activity`],
    },
  });
  return {
    actor,
    keyId: `${actor}#main-key`,
    privatePem: keys.privatePem,
    outboxRequests: () => outboxRequests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("other outbox shapes", () => {
  it("waits out a 429, then stores Creates and Notes by URI and an Announce of a post fetched elsewhere", async () => {
    const boosted = await peer.post({ content: "<p>boost me</p>", silent: true });
    const carol = await startOddServer(boosted);
    try {
      const accountId = await followByApi(carol.actor);
      const followUri = await waitUntil(
        () =>
          (
            sqlite().prepare("SELECT uri FROM follows WHERE following_id = ?").get(accountId) as
              | { uri: string }
              | undefined
          )?.uri,
        "the follow",
      );
      const accept = await signedPost(
        `${server.origin}/inbox`,
        {
          "@context": AS,
          id: `${carol.actor}#accepts/1`,
          type: "Accept",
          actor: carol.actor,
          object: { id: followUri, type: "Follow", actor: aliceUri, object: carol.actor },
        },
        { keyId: carol.keyId, type: "rsa", privatePem: carol.privatePem },
      );
      expect(accept.status).toBe(202);
      await inboxSettled(server);
      await waitUntil(() => idByUri(sqlite(), "statuses", `${carol.actor}/announces/1`), "the boost", 15_000);
      await deliveriesSettled(sqlite());
      expect(carol.outboxRequests()).toBe(2);

      const res = await api(server, token, "GET", `/api/v1/accounts/${accountId}/statuses`);
      const statuses = res.json as Status[];
      expect(statuses.map((s) => s.uri)).toEqual([
        `${carol.actor}/announces/1`,
        `${carol.actor}/notes/2`,
        `${carol.actor}/notes/1`,
      ]);
      expect(statuses[0]?.reblog?.uri).toBe(boosted);
    } finally {
      await carol.close();
    }
  });
});
