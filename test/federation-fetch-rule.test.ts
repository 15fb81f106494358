// Who may fetch a non-public status, through real signed GETs from a Fedify peer: its actor follows alice;
// "friend" and "instance" are other actors on the same server (the latter stands for the server's instance
// actor, which signs fetches but follows no one). Unsigned refusals are 401 (sign and retry), signed ones 404.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStatus } from "../src/core/statuses.js";
import { resolveActor } from "../src/federation/resolve.js";
import { type SignatureStandard, type SigningKey, signRequest } from "../src/federation/signatures/index.js";
import { AP_ACCEPT, type FedifyPeer, type PeerActor, startFedifyPeer } from "./helpers/fedify-peer.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let peer: FedifyPeer;
let friend: PeerActor;
let instance: PeerActor;
let aliceUri: string;

const sqlite = () => server.context.store.sqlite;
const uriOf = (id: string) =>
  (sqlite().prepare("SELECT uri FROM statuses WHERE id = ?").get(id) as { uri: string }).uri;

/** A GET of `url` signed as one of the peer's other actors. */
async function fetchAs(actor: PeerActor, url: string, standard: SignatureStandard = "draft-cavage") {
  const key: SigningKey = { keyId: actor.keyId, type: "rsa", privatePem: actor.rsaPrivatePem };
  const signed = await signRequest(new Request(url, { headers: { accept: AP_ACCEPT } }), null, key, standard);
  return fetch(url, { headers: signed.headers, redirect: "manual" });
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["friend", "instance"] }),
  ]);
  aliceUri = `${server.origin}/users/alice`;
  friend = peer.extra.get("friend") as PeerActor;
  instance = peer.extra.get("instance") as PeerActor;
  const followId = await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
  await resolveActor(server.context, friend.actorUri);
  await resolveActor(server.context, instance.actorUri);
});

afterAll(async () => {
  await peer?.close();
  await server?.close();
});

describe("fetching alice's statuses from another server", () => {
  it("public: anyone, signed or not", async () => {
    const uri = uriOf(await createStatus(server.context, { text: "for everyone" }));
    expect((await peer.fetchUnsigned(uri)).status).toBe(200);
    expect((await fetchAs(instance, uri)).status).toBe(200);
  });

  it("followers-only: the accepted follower; not the server's other actors, nor an unsigned request", async () => {
    const uri = uriOf(await createStatus(server.context, { text: "followers only", visibility: "private" }));
    expect((await peer.fetchSigned(uri)).status).toBe(200);
    expect((await peer.fetchUnsigned(uri)).status).toBe(401);
    for (const standard of ["draft-cavage", "rfc9421"] as const) {
      expect((await fetchAs(instance, uri, standard)).status, standard).toBe(404);
      expect((await fetchAs(friend, uri, standard)).status, standard).toBe(404);
    }
  });

  it("followers-only: a mentioned account that does not follow alice may fetch it", async () => {
    const id = await createStatus(server.context, {
      text: `@friend@${peer.domain} and my followers`,
      visibility: "private",
    });
    const uri = uriOf(id);
    expect(sqlite().prepare("SELECT 1 FROM mentions WHERE status_id = ?").get(id)).toBeDefined();
    expect((await fetchAs(friend, uri)).status).toBe(200);
    expect((await fetchAs(instance, uri)).status).toBe(404);
  });

  it("followers-only: a follow still pending is not enough", async () => {
    const uri = uriOf(await createStatus(server.context, { text: "not yet", visibility: "private" }));
    const setState = (state: string) =>
      sqlite()
        .prepare(
          "UPDATE follows SET state = ? WHERE following_id = (SELECT id FROM accounts WHERE uri = ?) AND follower_id = (SELECT id FROM accounts WHERE uri = ?)",
        )
        .run(state, aliceUri, peer.actorUri);
    expect(setState("pending").changes).toBe(1);
    try {
      expect((await peer.fetchSigned(uri)).status).toBe(404);
    } finally {
      setState("accepted");
    }
    expect((await peer.fetchSigned(uri)).status).toBe(200);
  });

  it("direct: the mentioned account only, not a follower", async () => {
    const uri = uriOf(
      await createStatus(server.context, { text: `@friend@${peer.domain} psst`, visibility: "direct" }),
    );
    expect((await fetchAs(friend, uri)).status).toBe(200);
    expect((await fetchAs(friend, `${uri}/activity`)).status).toBe(200);
    expect((await peer.fetchSigned(uri)).status).toBe(404);
    expect((await fetchAs(instance, uri)).status).toBe(404);
    expect((await peer.fetchUnsigned(uri)).status).toBe(401);
  });
});
