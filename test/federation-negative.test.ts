// What Wren's inbox refuses, and what its outbound client will not fetch. Every refused request must get a
// clear 4xx with a JSON error AND leave the database exactly as it was. The requests are crafted and signed
// here with Wren's own signer (src/federation/signatures), using the keys the Fedify peer publishes, so the
// only thing wrong with each one is the thing under test; a correctly crafted request is accepted (control).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { createStatus } from "../src/core/statuses.js";
import { createOutboundClient, FetchError } from "../src/federation/fetch.js";
import { generateRsaKeyPair } from "../src/federation/keys.js";
import { ResolveError, resolveActor, resolveHandle } from "../src/federation/resolve.js";
import type { SignatureStandard, SigningKey } from "../src/federation/signatures/index.js";
import {
  dbSnapshot,
  deliveriesSettled,
  type FedifyPeer,
  type PeerActor,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboundRows, inboxSettled } from "./helpers/inbound.js";
import { encodeJson, type RawResponse, rawPost, signedPost as signedPostTo } from "./helpers/inbox-post.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

let server: TestServer;
let peer: FedifyPeer;
let mallory: PeerActor;
let aliceUri: string;
/** A public status of alice's, known to the peer. */
let aliceStatusUri: string;
/** A note of the peer's, stored by Wren (alice follows the peer). */
let peerNoteUri: string;
let peerKey: SigningKey;
let counter = 0;

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ spec: "rfc9421", extraActors: ["mallory"] }),
  ]);
  aliceUri = `${server.origin}/users/alice`;
  mallory = peer.extra.get("mallory") as PeerActor;
  peerKey = { keyId: peer.keyId, type: "rsa", privatePem: peer.rsaPrivatePem };

  // Both ways following, so Wren knows the peer (account and keys) and wants its notes.
  const followId = await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
  const row = follow(server.context, await resolveHandle(server.context, peer.handle));
  await waitUntil(() => peer.followers.has(aliceUri), "the peer to accept alice");
  const sqlite = server.context.store.sqlite;
  await waitUntil(
    () =>
      (sqlite.prepare("SELECT state FROM follows WHERE id = ?").get(row.id) as { state: string }).state ===
      "accepted",
    "alice's follow to be accepted",
  );
  peerNoteUri = await peer.post({ content: "<p>a note by the peer</p>" });
  await inboxSettled(server);
  expect(sqlite.prepare("SELECT id FROM statuses WHERE uri = ?").get(peerNoteUri)).toBeDefined();
  const id = await createStatus(server.context, { text: "a status by alice" });
  aliceStatusUri = `${aliceUri}/statuses/${id}`;
  await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === aliceStatusUri);
  // mallory (another actor on the peer's host) is known too, keys included, before anything is measured.
  await resolveActor(server.context, mallory.actorUri);
  await deliveriesSettled(sqlite);
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

const encode = encodeJson;

/** Signs `body` for `path` on Wren (with `key`, the peer's own by default) and POSTs it. */
function signedPost(
  standard: SignatureStandard,
  body: unknown,
  options: { key?: SigningKey; now?: Date; path?: string; sendInstead?: Uint8Array } = {},
): Promise<RawResponse> {
  const url = `${server.origin}${options.path ?? "/inbox"}`;
  return signedPostTo(url, body, options.key ?? peerKey, standard, options);
}

function activity(type: string, object: unknown, actor = peer.actorUri) {
  return { "@context": AS, id: `${actor}/crafted/${++counter}`, type, actor, object, to: [PUBLIC] };
}

/** Waits until the inbound and the delivery queues have nothing left to do. */
async function quiet(target: TestServer) {
  await inboxSettled(target);
  await deliveriesSettled(target.context.store.sqlite);
}

/** Runs `send` on a quiet database and checks it is refused with `status` and a JSON error, changing nothing. */
async function expectRefused(
  status: number,
  send: () => Promise<RawResponse>,
  error?: RegExp,
  target = server,
) {
  const sqlite = target.context.store.sqlite;
  await quiet(target);
  const before = dbSnapshot(sqlite);
  const res = await send();
  expect(res.status, res.body).toBe(status);
  const json = JSON.parse(res.body) as { error: unknown };
  expect(json.error).toEqual(expect.any(String));
  if (error) expect(json.error).toMatch(error);
  await quiet(target);
  expect(dbSnapshot(sqlite)).toEqual(before);
}

/** A request that is acknowledged (202) but must not change anything, like a replay. */
async function expectIgnored(send: () => Promise<RawResponse>) {
  const sqlite = server.context.store.sqlite;
  await quiet(server);
  const before = dbSnapshot(sqlite);
  const res = await send();
  expect(res.status, res.body).toBe(202);
  await quiet(server);
  expect(dbSnapshot(sqlite)).toEqual(before);
}

/** The snapshot without the inbound queue, which records every accepted activity however it ends. */
function contentSnapshot() {
  const { counts, rows } = dbSnapshot(server.context.store.sqlite);
  delete counts.inbound_activities;
  delete rows.inbound_activities;
  delete counts.inbound_bodies;
  return { counts, rows };
}

/**
 * A request sound in itself (signature, actor, origin of its id) whose problem shows only when it is applied:
 * accepted (202), then its inbound row ends "failed" with an error matching `error`, and nothing else changes.
 */
async function expectFailedWhenApplied(send: () => Promise<RawResponse>, error: RegExp) {
  await quiet(server);
  const before = contentSnapshot();
  const rowsBefore = inboundRows(server).length;
  const res = await send();
  expect(res.status, res.body).toBe(202);
  await quiet(server);
  expect(contentSnapshot()).toEqual(before);
  const rows = inboundRows(server);
  expect(rows).toHaveLength(rowsBefore + 1);
  expect(rows.at(-1)).toMatchObject({ state: "failed", last_error: expect.stringMatching(error) });
}

describe("the inbox refuses", () => {
  it("an unsigned POST, on the shared and the personal inbox (401)", async () => {
    for (const path of ["/inbox", "/users/alice/inbox"]) {
      await expectRefused(
        401,
        () =>
          rawPost(
            `${server.origin}${path}`,
            new Headers({ "content-type": "application/activity+json" }),
            encode(activity("Like", aliceStatusUri)),
          ),
        /not signed/,
      );
    }
  });

  describe.each<SignatureStandard>(["draft-cavage", "rfc9421"])("signed with %s", (standard) => {
    it("control: the same crafting, correctly signed, is accepted (202) and stored", async () => {
      const like = activity("Like", aliceStatusUri);
      const res = await signedPost(standard, like, { path: "/users/alice/inbox" });
      expect(res.status, res.body).toBe(202);
      await inboxSettled(server);
      const row = server.context.store.sqlite.prepare("SELECT * FROM favourites WHERE uri = ?").get(like.id);
      expect(row).toBeDefined();
      // Replayed (a retry after a lost answer): accepted again, processed once.
      await expectIgnored(() => signedPost(standard, like, { path: "/users/alice/inbox" }));
      const undo = await signedPost(standard, activity("Undo", like));
      expect(undo.status, undo.body).toBe(202);
      await inboxSettled(server);
      expect(
        server.context.store.sqlite.prepare("SELECT * FROM favourites WHERE uri = ?").get(like.id),
      ).toBeUndefined();
    });

    it("a signature by a key that is not the one the actor publishes (401)", async () => {
      const wrong: SigningKey = {
        keyId: peer.keyId,
        type: "rsa",
        privatePem: generateRsaKeyPair().privatePem,
      };
      await expectRefused(
        401,
        () => signedPost(standard, activity("Like", aliceStatusUri), { key: wrong }),
        /does not verify/,
      );
    });

    it("a valid signature by an actor other than the activity's actor (401)", async () => {
      // Signed by the peer; the activity claims to be mallory's (a real actor on the same host).
      const forged = activity("Like", aliceStatusUri, mallory.actorUri);
      await expectRefused(401, () => signedPost(standard, forged), /not by the activity's actor/);
      // And the other way round: mallory signs what claims to be the peer's.
      const malloryKey: SigningKey = { keyId: mallory.keyId, type: "rsa", privatePem: mallory.rsaPrivatePem };
      await expectRefused(
        401,
        () => signedPost(standard, activity("Like", aliceStatusUri), { key: malloryKey }),
        /not by the activity's actor/,
      );
    });

    it("a stale signature, made 2 hours ago (401)", async () => {
      const now = new Date(Date.now() - 2 * 60 * 60 * 1000);
      await expectRefused(
        401,
        () => signedPost(standard, activity("Like", aliceStatusUri), { now }),
        /2 hours/,
      );
    });

    it("a body altered after signing: digest mismatch (400)", async () => {
      const signedBody = activity("Like", aliceStatusUri);
      const altered = encode({ ...signedBody, object: peerNoteUri });
      await expectRefused(400, () => signedPost(standard, signedBody, { sendInstead: altered }), /digest/i);
    });

    it("a Create whose object id is on another host (202, fails when applied)", async () => {
      const note = {
        id: `http://127.0.0.2:9/notes/${++counter}`,
        type: "Note",
        attributedTo: peer.actorUri,
        content: "<p>smuggled</p>",
        to: [PUBLIC],
        published: new Date().toISOString(),
      };
      await expectFailedWhenApplied(
        () => signedPost(standard, activity("Create", note)),
        /not on the actor's host/,
      );
    });

    it("a Create of a note attributed to someone else on the same host (202, fails when applied)", async () => {
      const note = {
        id: `${peer.origin}/users/mallory/notes/${++counter}`,
        type: "Note",
        attributedTo: mallory.actorUri,
        content: `<p>words put in mallory's mouth</p>`,
        to: [PUBLIC],
        cc: [aliceUri],
        tag: [{ type: "Mention", href: aliceUri, name: `@alice@${server.domain}` }],
        published: new Date().toISOString(),
      };
      await expectFailedWhenApplied(() => signedPost(standard, activity("Create", note)), /attributed to/);
    });

    it("a Delete of someone else's object: alice's status, or another actor's note on the same host (202, fails when applied)", async () => {
      await expectFailedWhenApplied(
        () => signedPost(standard, activity("Delete", { id: aliceStatusUri, type: "Tombstone" })),
        /not on the actor's host/,
      );
      const malloryKey: SigningKey = { keyId: mallory.keyId, type: "rsa", privatePem: mallory.rsaPrivatePem };
      const del = activity("Delete", { id: peerNoteUri, type: "Tombstone" }, mallory.actorUri);
      await expectFailedWhenApplied(() => signedPost(standard, del, { key: malloryKey }), /author/);
      const status = server.context.store.sqlite
        .prepare("SELECT deleted_at FROM statuses WHERE uri = ?")
        .get(peerNoteUri);
      expect(status).toEqual({ deleted_at: null });
    });

    // These four once answered 500; ParseError and ResolveError now end the inbound row as failed.
    it("a Create whose object, given by reference, does not exist on its server (202, fails when applied)", async () => {
      const missing = `${peer.origin}/users/peer/notes/missing-${++counter}`;
      await expectFailedWhenApplied(() => signedPost(standard, activity("Create", missing)), /not found/);
    });

    it("an Announce of an object its server cannot produce (202, fails when applied)", async () => {
      const missing = `${peer.origin}/users/peer/notes/missing-${++counter}`;
      await expectFailedWhenApplied(() => signedPost(standard, activity("Announce", missing)), /not found/);
    });

    it("a Create of an embedded Note without attributedTo (202, fails when applied)", async () => {
      const note = {
        id: `${peer.origin}/users/peer/notes/${++counter}`,
        type: "Note",
        content: "<p>whose?</p>",
      };
      await expectFailedWhenApplied(() => signedPost(standard, activity("Create", note)), /attributedTo/);
    });

    it("an Update of the actor itself with an unusable document (202, fails when applied)", async () => {
      await expectFailedWhenApplied(
        () => signedPost(standard, activity("Update", { id: peer.actorUri, type: "Person" })),
        /preferredUsername/,
      );
    });

    it("deeply nested JSON, depth 100 (400)", async () => {
      let nested: unknown = "bottom";
      for (let i = 0; i < 100; i++) nested = { a: nested };
      await expectRefused(400, () => signedPost(standard, activity("Create", nested)), /deep|nest|depth/i);
    });

    it("a body over 1 MiB (413), signature valid or not", async () => {
      const big = activity("Create", {
        id: `${peer.origin}/users/peer/notes/big-${++counter}`,
        type: "Note",
        attributedTo: peer.actorUri,
        content: "x".repeat(1024 * 1024 + 1024),
        to: [PUBLIC],
      });
      await expectRefused(413, () => signedPost(standard, big));
    });
  });
});

describe("private addresses", () => {
  let strict: TestServer;

  beforeAll(async () => {
    strict = await startTestServer({
      account: "alice",
      env: { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "false" },
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it("a Wren with the switch off cannot resolve the peer on 127.0.0.1; with the switch on it can", async () => {
    const refused = await resolveHandle(strict.context, peer.handle).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ResolveError);
    expect(refused).toMatchObject({ code: "invalid" });
    expect((refused as Error).message).toMatch(/private|not allowed|127\.0\.0\.1/i);
    const direct = await strict.context.federation.get(peer.actorUri).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(FetchError);
    expect(direct).toMatchObject({ code: "private_address", address: "127.0.0.1" });

    expect((await resolveHandle(server.context, peer.handle)).uri).toBe(peer.actorUri);
  });

  it("so its inbox cannot fetch the peer's key: a signed Follow from the peer is refused (401), nothing stored", async () => {
    const body = {
      "@context": AS,
      id: `${peer.actorUri}/crafted/${++counter}`,
      type: "Follow",
      actor: peer.actorUri,
      object: `${strict.origin}/users/alice`,
    };
    await expectRefused(
      401,
      () => signedPostTo(`${strict.origin}/inbox`, body, peerKey, "draft-cavage"),
      /key/,
      strict,
    );
    const accounts = strict.context.store.sqlite
      .prepare("SELECT count(*) AS n FROM accounts WHERE domain IS NOT NULL")
      .get();
    expect(accounts).toEqual({ n: 0 });
  });

  it("the guarded client refuses a redirect to an address it does not allow (checked hop by hop)", async () => {
    // Everything here is loopback, so the policy is narrowed to 127.0.0.1: the first hop is allowed, the
    // redirect to 127.0.0.2 is not. (test/fetch.test.ts covers the same rule with its own servers.)
    const redirector: Server = createServer((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.2:${new URL(peer.origin).port}/users/peer` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const client = createOutboundClient({
        userAgent: "wren-test",
        allowHttp: true,
        allowPrivateAddresses: false,
        isAddressAllowed: (address) => address === "127.0.0.1",
      });
      const ok = await client.request({
        url: peer.actorUri,
        headers: { accept: "application/activity+json" },
      });
      expect(ok.status).toBe(200);
      const port = (redirector.address() as AddressInfo).port;
      const error = await client.request({ url: `http://127.0.0.1:${port}/actor` }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FetchError);
      expect(error).toMatchObject({ code: "private_address", address: "127.0.0.2" });
    } finally {
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }
  });
});

describe("crafted activities the inbox accepts", () => {
  it("counts a vote on a local poll (a Note with a name, replying to the Question) once", async () => {
    const id = await createStatus(server.context, {
      text: "tea or coffee?",
      poll: { options: ["tea", "coffee"], expiresIn: 3600 },
    });
    const questionUri = `${aliceUri}/statuses/${id}`;
    const vote = (n: number) =>
      activity("Create", {
        id: `${peer.actorUri}/votes/${n}`,
        type: "Note",
        name: "coffee",
        attributedTo: peer.actorUri,
        inReplyTo: questionUri,
        to: [aliceUri],
      });
    const votes = () =>
      (
        server.context.store.sqlite.prepare("SELECT options FROM polls WHERE status_id = ?").get(id) as {
          options: string;
        }
      ).options;

    const first = await signedPost("draft-cavage", vote(1));
    expect(first.status, first.body).toBe(202);
    await inboxSettled(server);
    expect(JSON.parse(votes())).toEqual([
      { title: "tea", votes: 0 },
      { title: "coffee", votes: 1 },
    ]);
    // A second vote on a single-choice poll is acknowledged but not counted, and no status is stored for it.
    const second = await signedPost("draft-cavage", vote(2));
    expect(second.status, second.body).toBe(202);
    await inboxSettled(server);
    expect(JSON.parse(votes())[1].votes).toBe(1);
    expect(
      server.context.store.sqlite
        .prepare("SELECT id FROM statuses WHERE uri LIKE ?")
        .get(`${peer.actorUri}/votes/%`),
    ).toBeUndefined();
  });
});
