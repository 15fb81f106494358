// Interoperability with an independent implementation: Fedify 1.10's HTTP signatures.
import type { webcrypto } from "node:crypto";
import {
  CryptographicKey,
  signRequest as fedifySignRequest,
  verifyRequest as fedifyVerifyRequest,
  type HttpMessageSignaturesSpec,
  type KeyCache,
} from "@fedify/fedify";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64Url, generateEd25519KeyPair, generateRsaKeyPair } from "../src/federation/keys.js";
import {
  type PublicKeyInfo,
  type SignatureStandard,
  type SigningKey,
  signRequest,
  verifyRequest,
} from "../src/federation/signatures/index.js";

const ACTOR = "https://remote.example/users/bob";
const RSA_KEY_ID = `${ACTOR}#main-key`;
const ED_KEY_ID = `${ACTOR}#ed25519-key`;
const INBOX = "https://wren.example/users/alice/inbox";
const OUTBOX = "https://wren.example/users/alice/outbox";
const ACTIVITY = new TextEncoder().encode(JSON.stringify({ type: "Follow", actor: ACTOR }));

type CryptoKey = webcrypto.CryptoKey;

const SPEC: Record<SignatureStandard, HttpMessageSignaturesSpec> = {
  "draft-cavage": "draft-cavage-http-signatures-12",
  rfc9421: "rfc9421",
};

let rsaKey: SigningKey;
let edKey: SigningKey;
let ours: Map<string, PublicKeyInfo>;
let fedifyPrivateKey: CryptoKey;
const fedifyPublicKeys = new Map<string, CryptoKey>();

function der(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ""), "base64"));
}

beforeAll(async () => {
  const rsa = generateRsaKeyPair();
  const ed = generateEd25519KeyPair();
  rsaKey = { keyId: RSA_KEY_ID, type: "rsa", privatePem: rsa.privatePem };
  edKey = { keyId: ED_KEY_ID, type: "ed25519", privateKey: ed.privateKey };
  ours = new Map<string, PublicKeyInfo>([
    [RSA_KEY_ID, { keyId: RSA_KEY_ID, ownerId: ACTOR, type: "rsa", publicPem: rsa.publicPem }],
  ]);
  const rsaAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  fedifyPrivateKey = await crypto.subtle.importKey("pkcs8", der(rsa.privatePem), rsaAlgorithm, true, [
    "sign",
  ]);
  fedifyPublicKeys.set(
    RSA_KEY_ID,
    await crypto.subtle.importKey("spki", der(rsa.publicPem), rsaAlgorithm, true, ["verify"]),
  );
  fedifyPublicKeys.set(
    ED_KEY_ID,
    await crypto.subtle.importKey("raw", fromBase64Url(ed.publicKey), "Ed25519", true, ["verify"]),
  );
});

// Fedify finds keys through its cache first; serving them from memory keeps these tests offline.
const keyCache: KeyCache = {
  async get(keyId: URL) {
    const publicKey = fedifyPublicKeys.get(keyId.href);
    return publicKey ? new CryptographicKey({ id: keyId, owner: new URL(ACTOR), publicKey }) : undefined;
  },
  async set() {},
};

async function offline(url: string): Promise<never> {
  throw new Error(`no network in tests: ${url}`);
}

function fedifyVerify(request: Request, standard: SignatureStandard) {
  return fedifyVerifyRequest(request, {
    spec: SPEC[standard],
    keyCache,
    documentLoader: offline,
    contextLoader: offline,
  });
}

function request(method: "GET" | "POST", url: string): Request {
  return method === "GET"
    ? new Request(url, { headers: { accept: "application/activity+json" } })
    : new Request(url, { method, headers: { "content-type": "application/activity+json" }, body: ACTIVITY });
}

describe("requests signed by Fedify verify with ours", () => {
  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    for (const [method, url] of [
      ["GET", `${OUTBOX}?page=2`],
      ["POST", INBOX],
    ] as const) {
      it(`${standard}, RSA, ${method} ${url}`, async () => {
        const signed = await fedifySignRequest(request(method, url), fedifyPrivateKey, new URL(RSA_KEY_ID), {
          spec: SPEC[standard],
        });
        expect(signed.headers.has("signature-input")).toBe(standard === "rfc9421");
        const body = signed.body ? new Uint8Array(await signed.arrayBuffer()) : null;
        const result = await verifyRequest(signed.method, signed.headers, {
          body,
          url: signed.url,
          lookupKey: async (keyId) => ours.get(keyId) ?? null,
        });
        expect(result).toEqual({ ok: true, keyId: RSA_KEY_ID, ownerId: ACTOR, standard });
      });
    }
  }

  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    it(`${standard}: a Fedify-signed POST covers the host, so ours refuses it at another host`, async () => {
      const signed = await fedifySignRequest(request("POST", INBOX), fedifyPrivateKey, new URL(RSA_KEY_ID), {
        spec: SPEC[standard],
      });
      const covered =
        standard === "draft-cavage"
          ? /headers="([^"]*)"/.exec(signed.headers.get("signature")!)![1]!.split(" ")
          : (/^[^=]+=\(([^)]*)\)/.exec(signed.headers.get("signature-input")!)![1]!.match(/"[^"]+"/g) ?? []);
      expect(covered).toEqual(
        expect.arrayContaining(standard === "draft-cavage" ? ["host"] : ['"@authority"', '"@target-uri"']),
      );
      const body = new Uint8Array(await signed.arrayBuffer());
      const replayed = await verifyRequest(signed.method, signed.headers, {
        body,
        url: INBOX.replace("wren.example", "other.example"),
        lookupKey: async (keyId) => ours.get(keyId) ?? null,
      });
      expect(replayed).toEqual({
        ok: false,
        status: 401,
        error: `signature does not verify with key ${RSA_KEY_ID} (checked for host other.example, but the request's Host header is wren.example: was it signed for another server?)`,
      });
    });
  }

  it("rejects a Fedify-signed POST whose body was swapped", async () => {
    const signed = await fedifySignRequest(request("POST", INBOX), fedifyPrivateKey, new URL(RSA_KEY_ID));
    const result = await verifyRequest(signed.method, signed.headers, {
      body: new TextEncoder().encode("{}"),
      url: signed.url,
      lookupKey: async (keyId) => ours.get(keyId) ?? null,
    });
    expect(result).toEqual({ ok: false, status: 400, error: "body does not match Digest (SHA-256)" });
  });
});

describe("requests signed by us verify with Fedify", () => {
  // Fedify's draft-cavage verifier leaves the query out of (request-target), so GETs here have none.
  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    for (const [method, url] of [
      ["GET", OUTBOX],
      ["POST", INBOX],
    ] as const) {
      it(`${standard}, RSA, ${method}`, async () => {
        const signed = await signRequest(
          request(method, url),
          method === "POST" ? ACTIVITY : null,
          rsaKey,
          standard,
        );
        const key = await fedifyVerify(signed, standard);
        expect(key?.id?.href).toBe(RSA_KEY_ID);
      });
    }
  }

  it("rfc9421 with an Ed25519 key (Fedify's draft-cavage verifier is RSA-only)", async () => {
    for (const method of ["GET", "POST"] as const) {
      const url = method === "GET" ? `${OUTBOX}?page=2` : INBOX;
      const signed = await signRequest(
        request(method, url),
        method === "POST" ? ACTIVITY : null,
        edKey,
        "rfc9421",
      );
      const key = await fedifyVerify(signed, "rfc9421");
      expect(key?.id?.href).toBe(ED_KEY_ID);
    }
  });

  it("Fedify refuses our signatures once the body is swapped", async () => {
    for (const standard of ["draft-cavage", "rfc9421"] as const) {
      const signed = await signRequest(request("POST", INBOX), ACTIVITY, rsaKey, standard);
      const swapped = new Request(signed.url, { method: "POST", headers: signed.headers, body: "{}" });
      expect(await fedifyVerify(swapped, standard)).toBeNull();
    }
  });
});
