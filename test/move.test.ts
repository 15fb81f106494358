// Regression tests for an inbound Move (a followed account moving to a new address), through a real Wren and
// the independent Fedify peer: the peer's main actor moves to another of its actors, which lists it in
// alsoKnownAs (accepted), or to one that does not (refused).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FollowRow, follow } from "../src/core/follows.js";
import { resolveHandle } from "../src/federation/resolve.js";
import { api, issueToken } from "./helpers/api.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  followAccepted,
  idByUri,
  type PeerActor,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboundKey, inboundRows, inboxSettled } from "./helpers/inbound.js";
import { signedPost } from "./helpers/inbox-post.js";
import { keyOf } from "./helpers/peer-actors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
const AS = "https://www.w3.org/ns/activitystreams";

interface Setup {
  server: TestServer;
  peer: FedifyPeer;
  token: string;
  aliceUri: string;
  /** The moving account as Wren knows it. */
  oldId: string;
  /** alice's follow of it (accepted), made with non-default options so the move must carry them over. */
  oldFollow: FollowRow;
  /** Lists the peer's main actor in alsoKnownAs. */
  newme: PeerActor;
  /** Lists no one. */
  stranger: PeerActor;
}

/** A Wren with alice, who follows the peer's main actor (accepted, without boosts, with notifications). */
async function setup(): Promise<Setup> {
  const [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["newme", "stranger"], aliases: { newme: ["/users/peer"] } }),
  ]);
  const aliceUri = `${server.origin}/users/alice`;
  const account = await resolveHandle(server.context, peer.handle);
  const row = follow(server.context, account, { reblogs: false, notify: true });
  await followAccepted(server.context.store.sqlite, row.id, "alice's follow of the peer");
  await inboxSettled(server);
  return {
    server,
    peer,
    token: issueToken(server),
    aliceUri,
    oldId: account.id,
    oldFollow: row,
    newme: peer.extra.get("newme") as PeerActor,
    stranger: peer.extra.get("stranger") as PeerActor,
  };
}

async function close(s: Setup | undefined) {
  await s?.server.close();
  await s?.peer.close();
}

/** A Move of the peer's main actor to `target`, signed by the peer and POSTed to Wren's shared inbox. */
async function deliverMove(s: Setup, target: string): Promise<string> {
  const id = `${s.peer.actorUri}#moves/${Date.now()}`;
  const move = { "@context": AS, id, type: "Move", actor: s.peer.actorUri, object: s.peer.actorUri, target };
  const res = await signedPost(`${s.server.origin}/inbox`, move, keyOf(s.peer));
  expect(res.status, res.body).toBe(202);
  return id;
}

async function relationships(s: Setup, ids: string[]): Promise<Json[]> {
  const query = ids.map((id) => `id[]=${encodeURIComponent(id)}`).join("&");
  const res = await api(s.server, s.token, "GET", `/api/v1/accounts/relationships?${query}`);
  expect(res.status).toBe(200);
  return res.json as Json[];
}

async function entity(s: Setup, id: string): Promise<Json> {
  const res = await api(s.server, s.token, "GET", `/api/v1/accounts/${id}`);
  expect(res.status).toBe(200);
  return res.json as Json;
}

async function movedNotifications(s: Setup): Promise<Json[]> {
  const res = await api(s.server, s.token, "GET", "/api/v1/notifications");
  expect(res.status).toBe(200);
  return (res.json as Json[]).filter((n) => n.type === "moved");
}

function accountIdByUri(s: Setup, uri: string): string | null {
  return idByUri(s.server.context.store.sqlite, "accounts", uri);
}

describe("an inbound Move to an account that lists the mover in alsoKnownAs", () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(() => close(s));

  it("records the move, follows the new account in place of the old one and notifies", async () => {
    const { server, peer, aliceUri, oldId, oldFollow, newme } = s;
    expect(peer.followers.has(aliceUri)).toBe(true);

    const moveId = await deliverMove(s, newme.actorUri);
    await inboxSettled(server);
    const row = inboundRows(server).find((r) => r.dedupe_key === inboundKey(moveId));
    expect(row, JSON.stringify(inboundRows(server))).toMatchObject({ state: "done", last_error: null });

    // The old account renders Mastodon's `moved`: the new account.
    const old = await entity(s, oldId);
    expect(old.moved).toMatchObject({ uri: newme.actorUri, acct: `newme@${peer.domain}` });
    const newId = (old.moved as Json).id as string;
    expect(accountIdByUri(s, newme.actorUri)).toBe(newId);

    // The new account receives alice's Follow (at its own inbox), the old one an Undo of the old Follow.
    const sentFollow = await peer.waitFor(
      (r) => r.type === "Follow" && r.actor === aliceUri && r.json.object === newme.actorUri,
    );
    expect(sentFollow.recipient).toBe("newme");
    const undo = await peer.waitFor((r) => r.type === "Undo" && r.actor === aliceUri);
    expect(undo.json.object).toMatchObject({
      type: "Follow",
      id: oldFollow.uri,
      actor: aliceUri,
      object: peer.actorUri,
    });
    await waitUntil(() => !peer.followers.has(aliceUri), "the peer to drop alice from its followers");

    // Until the new account accepts, the follow is a request; the old follow is gone.
    const [before, beforeNew] = await relationships(s, [oldId, newId]);
    expect(before).toMatchObject({ id: oldId, following: false, requested: false });
    expect(beforeNew).toMatchObject({ id: newId, following: false, requested: true });

    // newme accepts (the peer auto-accepts only Follows of its main actor): the follow keeps the old options.
    const accept = {
      "@context": AS,
      id: `${newme.actorUri}#accepts/1`,
      type: "Accept",
      actor: newme.actorUri,
      object: sentFollow.json,
    };
    const res = await signedPost(`${server.origin}/inbox`, accept, keyOf(newme));
    expect(res.status, res.body).toBe(202);
    await inboxSettled(server);
    const [after, afterNew] = await relationships(s, [oldId, newId]);
    expect(after).toMatchObject({ following: false, requested: false });
    expect(afterNew).toMatchObject({
      following: true,
      requested: false,
      showing_reblogs: false,
      notifying: true,
    });

    // One "moved" notification, from the old account (whose entity points at the new one).
    const notifications = await movedNotifications(s);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]?.account).toMatchObject({ id: oldId, moved: { id: newId } });
    expect(peer.errors).toEqual([]);
  });
});

describe("an inbound Move to an account that does not list the mover in alsoKnownAs", () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(() => close(s));

  it("is refused: the row fails and nothing changes", async () => {
    const { server, peer, aliceUri, oldId, oldFollow, stranger } = s;
    const seen = peer.received.length;
    const moveId = await deliverMove(s, stranger.actorUri);
    await inboxSettled(server);
    const row = inboundRows(server).find((r) => r.dedupe_key === inboundKey(moveId));
    expect(row, JSON.stringify(inboundRows(server))).toMatchObject({ state: "failed" });
    expect(row?.last_error).toMatch(/alsoKnownAs/);

    const sqlite = server.context.store.sqlite;
    await deliveriesSettled(sqlite);
    expect(
      peer.received.slice(seen).map((r) => `${r.type} ${r.id ?? ""}`),
      "nothing is sent to the peer's actors",
    ).toEqual([]);
    expect(peer.followers.has(aliceUri)).toBe(true);

    expect(
      sqlite.prepare("SELECT moved_to_uri FROM accounts WHERE id = ?").get(oldId) as {
        moved_to_uri: unknown;
      },
    ).toEqual({ moved_to_uri: null });
    expect((await entity(s, oldId)).moved).toBeNull();
    expect(sqlite.prepare("SELECT id, following_id, state, uri FROM follows").all()).toEqual([
      { id: oldFollow.id, following_id: oldId, state: "accepted", uri: oldFollow.uri },
    ]);
    // The target was resolved (to read its alsoKnownAs) but is not followed.
    const strangerId = accountIdByUri(s, stranger.actorUri);
    expect(strangerId).not.toBeNull();
    const [old, other] = await relationships(s, [oldId, strangerId as string]);
    expect(old).toMatchObject({ following: true, showing_reblogs: false, notifying: true });
    expect(other).toMatchObject({ following: false, requested: false });
    expect(await movedNotifications(s)).toEqual([]);
  });
});
