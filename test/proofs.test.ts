// FEP-8b32 object integrity proofs (eddsa-jcs-2022) in both directions, with Fedify's own implementation as
// the counterpart: Fedify signs with `signObject` and verifies with `verifyObject`; Wren signs every activity
// it delivers and accepts an activity delivered by someone other than its actor when the actor's proof holds.
import { Create, Note, signObject, verifyObject } from "@fedify/fedify";
import { Temporal } from "@js-temporal/polyfill";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { generateEd25519KeyPair } from "../src/federation/keys.js";
import { resolveHandle } from "../src/federation/resolve.js";
import { proofOf, signDocument, verifyDocumentProof } from "../src/federation/signatures/proof.js";
import { api, issueToken } from "./helpers/api.js";
import {
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
const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

describe("eddsa-jcs-2022 proofs, on their own", () => {
  const pair = generateEd25519KeyPair();
  const key = { keyId: "https://wren.example/users/alice#ed25519-key", ...pair };
  const raw = new Uint8Array(Buffer.from(pair.publicKey, "base64url"));
  const doc = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
    id: "https://wren.example/users/alice/statuses/1/activity",
    type: "Create",
    actor: "https://wren.example/users/alice",
    object: { type: "Note", content: "<p>héllo ✨</p>", to: [PUBLIC] },
  };

  it("signs a document so that it verifies, and every changed byte breaks it", () => {
    const signed = signDocument(doc, key, Date.parse("2026-12-01T06:00:00.456Z"));
    expect(signed.proof).toMatchObject({
      type: "DataIntegrityProof",
      cryptosuite: "eddsa-jcs-2022",
      verificationMethod: key.keyId,
      proofPurpose: "assertionMethod",
      created: "2026-12-01T06:00:00Z",
    });
    expect(signed.proof.proofValue).toMatch(/^z[1-9A-HJ-NP-Za-km-z]{80,90}$/);
    const proof = proofOf(signed);
    expect(proof).not.toBeNull();
    expect(verifyDocumentProof(signed, proof as never, raw)).toBe(true);

    const tampered = { ...signed, object: { ...doc.object, content: "<p>hello ✨</p>" } };
    expect(verifyDocumentProof(tampered, signed.proof, raw)).toBe(false);
    const otherDate = { ...signed.proof, created: "2026-12-01T06:00:01Z" };
    expect(verifyDocumentProof(signed, otherDate, raw)).toBe(false);
    const otherKey = new Uint8Array(Buffer.from(generateEd25519KeyPair().publicKey, "base64url"));
    expect(verifyDocumentProof(signed, signed.proof, otherKey)).toBe(false);
  });

  it("adds the Data Integrity context when the document lacks it, so JSON-LD readers keep the proof", () => {
    const bare = { ...doc, "@context": "https://www.w3.org/ns/activitystreams" };
    const signed = signDocument(bare, key);
    expect(signed["@context"]).toEqual([
      "https://www.w3.org/ns/activitystreams",
      "https://w3id.org/security/data-integrity/v1",
    ]);
    expect(verifyDocumentProof(signed, signed.proof, raw)).toBe(true);
    expect(signDocument(doc, key)["@context"]).toEqual(doc["@context"]);
  });

  it("ignores key order and proofs of other suites", () => {
    const signed = signDocument(doc, key);
    const { proof, object, ...rest } = signed;
    const reordered = JSON.parse(JSON.stringify({ proof, object, ...rest })) as Json;
    expect(verifyDocumentProof(reordered, signed.proof, raw)).toBe(true);
    expect(proofOf({ ...doc, proof: { ...signed.proof, cryptosuite: "eddsa-rdfc-2022" } })).toBeNull();
    expect(proofOf(doc)).toBeNull();
  });
});

interface Setup {
  server: TestServer;
  peer: FedifyPeer;
  aliceUri: string;
  forwarder: PeerActor;
}

/**
 * A Wren with alice, who follows the peer's main actor and is followed by it; the peer has a second actor
 * that forwards.
 */
async function setup(): Promise<Setup> {
  const [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["forwarder"] }),
  ]);
  const account = await resolveHandle(server.context, peer.handle);
  const row = follow(server.context, account, {});
  await followAccepted(server.context.store.sqlite, row.id, "alice's follow of the peer");
  const aliceUri = `${server.origin}/users/alice`;
  await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.actor === aliceUri);
  await inboxSettled(server);
  return {
    server,
    peer,
    aliceUri,
    forwarder: peer.extra.get("forwarder") as PeerActor,
  };
}

/** A public Create(Note) by the peer's main actor, proof-signed by Fedify with the actor's Ed25519 key. */
async function proofSignedCreate(peer: FedifyPeer, n: number): Promise<{ json: Json; noteUri: string }> {
  const ctx = peer.context();
  const actor = new URL(peer.actorUri);
  const noteUri = new URL(`${peer.actorUri}/forwarded-notes/${n}`);
  const create = new Create({
    id: new URL(`${noteUri.href}/activity`),
    actor,
    to: new URL(PUBLIC),
    object: new Note({
      id: noteUri,
      attribution: actor,
      to: new URL(PUBLIC),
      content: `<p>proven note ${n}</p>`,
      published: Temporal.Now.instant(),
    }),
  });
  const ed25519 = await peer.ed25519Key("peer");
  const signed = await signObject(create, ed25519.privateKey, ed25519.keyId, {
    contextLoader: ctx.contextLoader,
    documentLoader: ctx.documentLoader,
  });
  const json = (await signed.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader })) as Json;
  return { json, noteUri: noteUri.href };
}

describe("an activity delivered by another server than its actor's", () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(async () => {
    await s?.server.close();
    await s?.peer.close();
  });

  it("is accepted by its actor's proof and stored as the actor's", async () => {
    const { json, noteUri } = await proofSignedCreate(s.peer, 1);
    expect(proofOf(json), JSON.stringify(json)).not.toBeNull();
    const res = await signedPost(`${s.server.origin}/inbox`, json, keyOf(s.forwarder));
    expect(res.status, res.body).toBe(202);
    await inboxSettled(s.server);
    const row = inboundRows(s.server).find((r) => r.dedupe_key === inboundKey(String(json.id)));
    expect(row, JSON.stringify(inboundRows(s.server))).toMatchObject({ state: "done", last_error: null });

    const statusId = idByUri(s.server.context.store.sqlite, "statuses", noteUri);
    expect(statusId).not.toBeNull();
    const token = issueToken(s.server);
    const status = await api(s.server, token, "GET", `/api/v1/statuses/${statusId}`);
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ uri: noteUri, account: { acct: s.peer.handle } });
  });

  it("is refused when the proof does not match the document", async () => {
    const { json, noteUri } = await proofSignedCreate(s.peer, 2);
    const object = json.object as Json;
    const tampered = { ...json, object: { ...object, content: "<p>not what was signed</p>" } };
    const res = await signedPost(`${s.server.origin}/inbox`, tampered, keyOf(s.forwarder));
    expect(res.status).toBe(401);
    expect(res.body).toContain("no valid proof");
    expect(idByUri(s.server.context.store.sqlite, "statuses", noteUri)).toBeNull();
  });

  it("is refused when it carries no proof, as before", async () => {
    const { json } = await proofSignedCreate(s.peer, 3);
    const { proof: _proof, ...bare } = json;
    const res = await signedPost(`${s.server.origin}/inbox`, bare, keyOf(s.forwarder));
    expect(res.status).toBe(401);
  });

  it("is refused when the proof is by the forwarder's key, not the actor's", async () => {
    const ctx = s.peer.context();
    const { json } = await proofSignedCreate(s.peer, 4);
    const create = await Create.fromJsonLd(json, { contextLoader: ctx.contextLoader });
    const forwarderKey = await s.peer.ed25519Key("forwarder");
    const resigned = await signObject(
      create.clone({ proofs: [] }),
      forwarderKey.privateKey,
      forwarderKey.keyId,
      {
        contextLoader: ctx.contextLoader,
        documentLoader: ctx.documentLoader,
      },
    );
    const body = await resigned.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
    const res = await signedPost(`${s.server.origin}/inbox`, body, keyOf(s.forwarder));
    expect(res.status).toBe(401);
  });
});

describe("Wren's own activities", () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(async () => {
    await s?.server.close();
    await s?.peer.close();
  });

  it("carry a proof that Fedify's verifier accepts", async () => {
    const token = issueToken(s.server);
    const posted = await api(s.server, token, "POST", "/api/v1/statuses", {
      status: "signed twice: over HTTP and over the object ✨",
      visibility: "public",
    });
    expect(posted.status).toBe(200);
    const uri = (posted.json as Json).uri as string;
    const received = await s.peer.waitFor(
      (r) => r.type === "Create" && (r.json.object as Json | undefined)?.id === uri,
    );
    const proof = proofOf(received.json);
    expect(proof).toMatchObject({ verificationMethod: `${s.aliceUri}#ed25519-key` });

    const ctx = s.peer.context();
    const verified = await verifyObject(Create, received.json, {
      contextLoader: ctx.contextLoader,
      documentLoader: ctx.documentLoader,
    });
    expect(verified).not.toBeNull();
    expect(verified?.actorId?.href).toBe(s.aliceUri);

    // Fedify refuses the same activity once it is changed after signing.
    const tampered = {
      ...received.json,
      object: { ...(received.json.object as Json), content: "<p>forged</p>" },
    };
    const refused = await verifyObject(Create, tampered, {
      contextLoader: ctx.contextLoader,
      documentLoader: ctx.documentLoader,
    });
    expect(refused).toBeNull();
  });

  it("are signed once: every inbox receives the same proof", async () => {
    const token = issueToken(s.server);
    const posted = await api(s.server, token, "POST", "/api/v1/statuses", {
      status: "once",
      visibility: "public",
    });
    const uri = (posted.json as Json).uri as string;
    const row = await waitUntil(
      () =>
        s.server.context.store.sqlite
          .prepare("SELECT body FROM outbound_activities WHERE body LIKE ?")
          .get(`%${uri}%`) as { body: string } | undefined,
      "the Create in the outbound queue",
    );
    const stored = JSON.parse(row.body) as Json;
    const received = await s.peer.waitFor(
      (r) => r.type === "Create" && (r.json.object as Json | undefined)?.id === uri,
    );
    expect(received.json.proof).toEqual(stored.proof);
  });
});
