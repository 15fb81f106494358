// Authorized fetch (Mastodon's secure mode), through real HTTP: a Wren with the option on answers GETs of
// alice's posts and collections only when signed by an actor it does not block; a Wren with it off keeps
// public posts public; and Wren signs its own fetches when a Fedify peer requires it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockDomain } from "../src/core/domain-blocks.js";
import { block } from "../src/core/interactions.js";
import { createStatus } from "../src/core/statuses.js";
import { resolveActor } from "../src/federation/resolve.js";
import { type SigningKey, signRequest } from "../src/federation/signatures/index.js";
import { api, issueToken } from "./helpers/api.js";
import { AP_ACCEPT, type FedifyPeer, type PeerActor, startFedifyPeer } from "./helpers/fedify-peer.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let secure: TestServer;
let open: TestServer;
let peer: FedifyPeer;
let strictPeer: FedifyPeer;
let instance: PeerActor;
let blocked: PeerActor;

const noteUri = (server: TestServer, id: string) =>
  (server.context.store.sqlite.prepare("SELECT uri FROM statuses WHERE id = ?").get(id) as { uri: string })
    .uri;

/** A GET signed as one of the peer's other actors. */
async function fetchAs(actor: PeerActor, url: string) {
  const key: SigningKey = { keyId: actor.keyId, type: "rsa", privatePem: actor.rsaPrivatePem };
  const signed = await signRequest(
    new Request(url, { headers: { accept: AP_ACCEPT } }),
    null,
    key,
    "draft-cavage",
  );
  return fetch(url, { headers: signed.headers, redirect: "manual" });
}

beforeAll(async () => {
  [secure, open, peer, strictPeer] = await Promise.all([
    startTestServer({ account: "alice", env: { WREN_FEDERATION_AUTHORIZED_FETCH: "true" } }),
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["instance", "blocked"] }),
    startFedifyPeer({ authorizedFetch: true }),
  ]);
  instance = peer.extra.get("instance") as PeerActor;
  blocked = peer.extra.get("blocked") as PeerActor;
});

afterAll(async () => {
  await Promise.all([peer?.close(), strictPeer?.close()]);
  await Promise.all([secure?.close(), open?.close()]);
});

describe("with federation.authorized_fetch on", () => {
  const alice = () => `${secure.origin}/users/alice`;
  const collections = () =>
    ["outbox", "outbox?page=true", "followers", "following", "collections/featured", "collections/tags"].map(
      (path) => `${alice()}/${path}`,
    );

  it("an unsigned GET of a public note is 401; a signed one is 200 and not cached publicly", async () => {
    const uri = noteUri(secure, createStatus(secure.context, { text: "for signed readers" }));
    const unsigned = await peer.fetchUnsigned(uri);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toHaveProperty("error");
    expect((await peer.fetchUnsigned(`${uri}/activity`)).status).toBe(401);
    expect((await peer.fetchUnsigned(`${uri}/replies`)).status).toBe(401);

    const signed = await peer.fetchSigned(uri);
    expect(signed.status).toBe(200);
    expect(signed.headers.get("cache-control")).toBe("private, no-store");
    expect(signed.headers.get("vary")).toContain("Signature");
    expect(((await signed.json()) as { id: string }).id).toBe(uri);
    // RFC 9421 as well as draft-cavage.
    expect((await peer.fetchSigned(uri, { spec: "rfc9421" })).status).toBe(200);
  });

  it("accepts another server's instance actor as the signer", async () => {
    const uri = noteUri(secure, createStatus(secure.context, { text: "for servers" }));
    expect((await fetchAs(instance, uri)).status).toBe(200);
  });

  it("the collections need a signature too", async () => {
    for (const url of collections()) {
      expect((await peer.fetchUnsigned(url)).status, url).toBe(401);
      expect((await peer.fetchSigned(url)).status, url).toBe(200);
    }
  });

  it("the actor, the instance actor and the web page of a public post stay public", async () => {
    const actor = await peer.fetchUnsigned(alice());
    expect(actor.status).toBe(200);
    expect(((await actor.json()) as { publicKey: { id: string } }).publicKey.id).toBe(`${alice()}#main-key`);
    expect((await peer.fetchUnsigned(`${secure.origin}/actor`)).status).toBe(200);
    const uri = noteUri(secure, createStatus(secure.context, { text: "on the web" }));
    const page = await fetch(uri, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("on the web");
  });

  it("a signature that does not verify is 401", async () => {
    const uri = noteUri(secure, createStatus(secure.context, { text: "tampered" }));
    const key: SigningKey = { keyId: peer.keyId, type: "rsa", privatePem: blocked.rsaPrivatePem };
    const signed = await signRequest(
      new Request(uri, { headers: { accept: AP_ACCEPT } }),
      null,
      key,
      "draft-cavage",
    );
    expect((await fetch(uri, { headers: signed.headers })).status).toBe(401);
  });

  it("an actor alice blocked gets 403 for notes and collections", async () => {
    const uri = noteUri(secure, createStatus(secure.context, { text: "not for blocked" }));
    expect((await fetchAs(blocked, uri)).status).toBe(200);
    block(secure.context, await resolveActor(secure.context, blocked.actorUri));
    expect((await fetchAs(blocked, uri)).status).toBe(403);
    for (const url of collections()) expect((await fetchAs(blocked, url)).status, url).toBe(403);
    // The others on that server are not affected.
    expect((await peer.fetchSigned(uri)).status).toBe(200);
  });

  it("fetches from the peer's server, instance actor included, are 403 once its domain is blocked", async () => {
    const uri = noteUri(secure, createStatus(secure.context, { text: "not for that domain" }));
    blockDomain(secure.context, peer.domain);
    expect((await peer.fetchSigned(uri)).status).toBe(403);
    expect((await fetchAs(instance, uri)).status).toBe(403);
    expect((await peer.fetchSigned(`${alice()}/outbox`)).status).toBe(403);
  });
});

describe("with federation.authorized_fetch off (the default)", () => {
  it("public notes and collections answer unsigned GETs", async () => {
    const uri = noteUri(open, createStatus(open.context, { text: "for everyone" }));
    const unsigned = await peer.fetchUnsigned(uri);
    expect(unsigned.status).toBe(200);
    expect(unsigned.headers.get("cache-control")).toBe("max-age=60, public");
    expect((await peer.fetchUnsigned(`${open.origin}/users/alice/outbox`)).status).toBe(200);
    expect((await peer.fetchUnsigned(`${open.origin}/users/alice/followers`)).status).toBe(200);
  });

  it("a blocked actor's signed GET of a public note is still answered (nothing is secret)", async () => {
    const uri = noteUri(open, createStatus(open.context, { text: "public anyway" }));
    block(open.context, await resolveActor(open.context, blocked.actorUri));
    expect((await fetchAs(blocked, uri)).status).toBe(200);
  });
});

describe("Wren fetching from a server that requires signatures", () => {
  it("retries signed as its instance actor, and the peer verifies that signature", async () => {
    const uri = await strictPeer.post({ content: "<p>only for signed fetchers</p>", silent: true });
    expect((await strictPeer.fetchUnsigned(uri)).status).toBe(401);
    for (const server of [secure, open]) {
      const token = issueToken(server);
      const found = await api(
        server,
        token,
        "GET",
        `/api/v2/search?q=${encodeURIComponent(uri)}&resolve=true`,
      );
      expect(found.status).toBe(200);
      const statuses = (found.json as { statuses: { uri: string; content: string }[] }).statuses;
      expect(statuses.map((s) => s.uri)).toEqual([uri]);
      expect(statuses[0]?.content).toContain("only for signed fetchers");
    }
  });
});
