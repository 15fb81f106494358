// A signature binds the host it was made for. Two Wrens (A and B) and a Fedify peer: a delivery the peer
// signs for A, captured and POSTed to B at the same path, is refused with a 401 that says why, and B's
// database is left as it was; the same capture is then accepted by A. A signed GET made for A is refused
// by B the same way. Both signature standards, signed by Fedify's own signer.
import { webcrypto } from "node:crypto";
import { request as httpRequest } from "node:http";
import { signRequest as fedifySignRequest } from "@fedify/fedify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStatus } from "../src/core/statuses.js";
import { resolveActor } from "../src/federation/resolve.js";
import { signCavage } from "../src/federation/signatures/cavage.js";
import { computeDigestHeader, type SigningKey, signRequest } from "../src/federation/signatures/index.js";
import {
  dbSnapshot,
  deliveriesSettled,
  type FedifyPeer,
  type PeerSignatureSpec,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboundKey } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";

let a: TestServer;
let b: TestServer;
let peer: FedifyPeer;
let peerKey: webcrypto.CryptoKey;
let counter = 0;

beforeAll(async () => {
  [a, b, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startTestServer({ account: "alice" }),
    startFedifyPeer(),
  ]);
  // Extractable: Fedify's signer exports the key to learn its algorithm.
  const der = Buffer.from(peer.rsaPrivatePem.replace(/-----[^-]+-----|\s+/g, ""), "base64");
  peerKey = await webcrypto.subtle.importKey(
    "pkcs8",
    der,
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true,
    ["sign"],
  );
  // Both Wrens know the peer and its keys before anything is measured.
  await Promise.all([resolveActor(a.context, peer.actorUri), resolveActor(b.context, peer.actorUri)]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), peer?.close()]);
});

interface RawResponse {
  status: number;
  body: string;
}

/** A request over node:http with exactly these headers (Host included), as a replaying client would send. */
function rawRequest(
  method: string,
  url: string,
  headers: Headers,
  body: Uint8Array | null,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing: Record<string, string> = {};
    headers.forEach((value, name) => {
      outgoing[name] = value;
    });
    if (body) outgoing["content-length"] = String(body.byteLength);
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method,
        headers: outgoing,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body ? Buffer.from(body) : undefined);
  });
}

/** Signs a request for `url` with the peer's key, as Fedify does; returns its headers and body. */
async function signedByPeer(spec: PeerSignatureSpec, method: "GET" | "POST", url: string, body?: unknown) {
  const init: RequestInit =
    method === "POST"
      ? { method, headers: { "content-type": "application/activity+json" }, body: JSON.stringify(body) }
      : { method, headers: { accept: "application/activity+json" } };
  const signed = await fedifySignRequest(new Request(url, init), peerKey, new URL(peer.keyId), { spec });
  const bytes = method === "POST" ? new Uint8Array(await signed.arrayBuffer()) : null;
  return { headers: signed.headers, body: bytes };
}

function withHost(headers: Headers, host: string): Headers {
  const copy = new Headers(headers);
  copy.set("host", host);
  return copy;
}

describe("a delivery whose signature does not cover the host", () => {
  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    it(`${standard}: is refused (401), whatever else it covers`, async () => {
      const inbox = `${b.origin}/users/alice/inbox`;
      const body = new TextEncoder().encode(
        JSON.stringify({
          "@context": AS,
          id: `${peer.actorUri}#hostless-follow-${++counter}`,
          type: "Follow",
          actor: peer.actorUri,
          object: `${b.origin}/users/alice`,
        }),
      );
      const key: SigningKey = { keyId: peer.keyId, type: "rsa", privatePem: peer.rsaPrivatePem };
      const request = new Request(inbox, {
        method: "POST",
        headers: { "content-type": "application/activity+json" },
      });
      let headers: Headers;
      if (standard === "rfc9421") {
        const signed = await signRequest(request, body, key, standard, {
          components: ["@method", "@path", "content-digest"],
        });
        headers = signed.headers;
      } else {
        headers = new Headers(request.headers);
        headers.set("date", new Date().toUTCString());
        headers.set("digest", computeDigestHeader(body));
        const req = { method: "POST", headers, url: new URL(inbox) };
        headers.set("signature", signCavage(key, req, ["(request-target)", "date", "digest"], "rsa-sha256"));
      }
      const sqlite = b.context.store.sqlite;
      await deliveriesSettled(sqlite);
      const before = dbSnapshot(sqlite);
      const res = await rawRequest("POST", inbox, headers, body);
      expect(res.status, res.body).toBe(401);
      expect((JSON.parse(res.body) as { error: string }).error).toMatch(
        standard === "rfc9421"
          ? /^signature does not cover the host \(@target-uri or @authority\)/
          : /^signature does not cover host/,
      );
      await deliveriesSettled(sqlite);
      expect(dbSnapshot(sqlite)).toEqual(before);
    });
  }
});

describe.each<PeerSignatureSpec>(["draft-cavage-http-signatures-12", "rfc9421"])("signed with %s", (spec) => {
  it("a delivery signed for A and replayed to B is refused (401) and changes nothing; A accepts it", async () => {
    const aliceA = `${a.origin}/users/alice`;
    const follow = {
      "@context": AS,
      id: `${peer.actorUri}#replayed-follow-${++counter}`,
      type: "Follow",
      actor: peer.actorUri,
      object: aliceA,
    };
    const captured = await signedByPeer(spec, "POST", `${aliceA}/inbox`, follow);
    expect(captured.headers.get("host")).toBe(a.domain);

    const sqlite = b.context.store.sqlite;
    await deliveriesSettled(sqlite);
    const before = dbSnapshot(sqlite);
    const bInbox = `${b.origin}/users/alice/inbox`;

    // Replayed verbatim, Host header and all.
    const verbatim = await rawRequest("POST", bInbox, captured.headers, captured.body);
    expect(verbatim.status, verbatim.body).toBe(401);
    expect((JSON.parse(verbatim.body) as { error: string }).error).toBe(
      `signature does not verify with key ${peer.keyId} (checked for host ${b.domain}, but the request's Host header is ${a.domain}: was it signed for another server?)`,
    );
    // Replayed with the Host header rewritten to B's.
    const rewritten = await rawRequest("POST", bInbox, withHost(captured.headers, b.domain), captured.body);
    expect(rewritten.status, rewritten.body).toBe(401);
    expect((JSON.parse(rewritten.body) as { error: string }).error).toBe(
      `signature does not verify with key ${peer.keyId} (checked for host ${b.domain})`,
    );
    await deliveriesSettled(sqlite);
    expect(dbSnapshot(sqlite)).toEqual(before);

    // Control: the capture was a good delivery for A.
    const delivered = await rawRequest("POST", `${aliceA}/inbox`, captured.headers, captured.body);
    expect(delivered.status, delivered.body).toBe(202);
    await waitUntil(
      () =>
        a.context.store.sqlite
          .prepare("SELECT 1 FROM inbound_activities WHERE dedupe_key = ?")
          .get(inboundKey(follow.id)),
      "A to record the follow",
    );
  });

  it("a signed GET made for A is refused by B (401); made for B, it is answered", async () => {
    const id = await createStatus(b.context, { text: "a public status on B" });
    const path = `/users/alice/statuses/${id}`;
    const forA = await signedByPeer(spec, "GET", `${a.origin}${path}`);
    const refused = await rawRequest("GET", `${b.origin}${path}`, withHost(forA.headers, b.domain), null);
    expect(refused.status, refused.body).toBe(401);
    expect((JSON.parse(refused.body) as { error: string }).error).toBe(
      `signature does not verify with key ${peer.keyId} (checked for host ${b.domain})`,
    );
    const forB = await signedByPeer(spec, "GET", `${b.origin}${path}`);
    const answered = await rawRequest("GET", `${b.origin}${path}`, forB.headers, null);
    expect(answered.status, answered.body).toBe(200);
  });
});
