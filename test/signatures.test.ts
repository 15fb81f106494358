import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64Url, generateEd25519KeyPair, generateRsaKeyPair } from "../src/federation/keys.js";
import { signCavage } from "../src/federation/signatures/cavage.js";
import { signBytes, verifyBytes } from "../src/federation/signatures/crypto.js";
import {
  cavageSigningString,
  computeContentDigestHeader,
  computeDigestHeader,
  otherStandard,
  type PublicKeyInfo,
  parseAcceptSignature,
  parseCavageSignature,
  parseRfc9421Signatures,
  type SignatureStandard,
  SignatureStandardMemory,
  type SigningKey,
  signatureBase,
  signRequest,
  type VerifyOptions,
  verifyBodyDigests,
  verifyContentDigestHeader,
  verifyDigestHeader,
  verifyRequest,
} from "../src/federation/signatures/index.js";
import { signRfc9421 } from "../src/federation/signatures/rfc9421.js";
import {
  Decimal,
  parseDictionary,
  serializeInnerList,
  serializeItem,
  Token,
} from "../src/federation/signatures/structured.js";
import {
  CAVAGE_ALL_HEADERS_SIGNATURE,
  CAVAGE_BASIC_SIGNATURE,
  CAVAGE_DEFAULT_SIGNATURE,
  CAVAGE_REQUEST,
  CAVAGE_TEST_PRIVATE_PEM,
  CAVAGE_TEST_PUBLIC_PEM,
  RFC9421_ACCEPT_SIGNATURE,
  RFC9421_B26,
  RFC9421_ED25519_PRIVATE,
  RFC9421_ED25519_PUBLIC,
  RFC9421_PROXIED_REQUEST,
  RFC9421_RSA_PRIVATE_PEM,
  RFC9421_RSA_PUBLIC_PEM,
  RFC9421_TEST_REQUEST,
} from "./fixtures/signatures/vectors.js";

const encode = (text: string) => new TextEncoder().encode(text);

const ACTOR = "https://remote.example/users/bob";
const RSA_KEY_ID = `${ACTOR}#main-key`;
const ED_KEY_ID = `${ACTOR}#ed25519-key`;
const INBOX = "https://wren.example/users/alice/inbox";
const OUTBOX = "https://wren.example/users/alice/outbox?page=2";
const ACTIVITY = encode(JSON.stringify({ type: "Follow", actor: ACTOR }));

let rsaKey: SigningKey;
let edKey: SigningKey;
let rotatedRsaKey: SigningKey;
const publicKeys = new Map<string, PublicKeyInfo>();

async function lookupKey(keyId: string): Promise<PublicKeyInfo | null> {
  return publicKeys.get(keyId) ?? null;
}

beforeAll(() => {
  const rsa = generateRsaKeyPair();
  const rotated = generateRsaKeyPair();
  const ed = generateEd25519KeyPair();
  rsaKey = { keyId: RSA_KEY_ID, type: "rsa", privatePem: rsa.privatePem };
  rotatedRsaKey = { keyId: RSA_KEY_ID, type: "rsa", privatePem: rotated.privatePem };
  edKey = { keyId: ED_KEY_ID, type: "ed25519", privateKey: ed.privateKey };
  publicKeys.set(RSA_KEY_ID, { keyId: RSA_KEY_ID, ownerId: ACTOR, type: "rsa", publicPem: rsa.publicPem });
  publicKeys.set(ED_KEY_ID, {
    keyId: ED_KEY_ID,
    ownerId: ACTOR,
    type: "ed25519",
    publicKey: fromBase64Url(ed.publicKey),
  });
  // Some servers use the actor id itself as keyId; the lookup resolves it to the actor's key.
  publicKeys.set(ACTOR, publicKeys.get(RSA_KEY_ID)!);
  publicKeys.set("rotated-old", {
    keyId: RSA_KEY_ID,
    ownerId: ACTOR,
    type: "rsa",
    publicPem: rsa.publicPem,
  });
  publicKeys.set("rotated-new", {
    keyId: RSA_KEY_ID,
    ownerId: ACTOR,
    type: "rsa",
    publicPem: rotated.publicPem,
  });
});

interface Parts {
  method: string;
  url: string;
  headers: Headers;
  body: Uint8Array | null;
}

async function partsOf(request: Request): Promise<Parts> {
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
  return { method: request.method, url: request.url, headers: request.headers, body };
}

async function sign(
  standard: SignatureStandard,
  key: SigningKey,
  method: "GET" | "POST",
  opts: Parameters<typeof signRequest>[4] = {},
): Promise<Parts> {
  const url = method === "GET" ? OUTBOX : INBOX;
  const headers: Record<string, string> =
    method === "POST" ? { "content-type": "application/activity+json" } : { accept: "application/json" };
  const request = new Request(url, { method, headers });
  return partsOf(await signRequest(request, method === "POST" ? ACTIVITY : null, key, standard, opts));
}

function verify(parts: Parts, opts: Partial<VerifyOptions> = {}) {
  return verifyRequest(parts.method, parts.headers, {
    body: parts.body,
    url: parts.url,
    lookupKey,
    ...opts,
  });
}

function withHeaders(parts: Parts, changes: Record<string, string | null>): Parts {
  const headers = new Headers(parts.headers);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { ...parts, headers };
}

/** A hand-made draft-cavage signature over `covered`, for cases our signer never produces. */
function cavageSigned(
  parts: Parts,
  key: SigningKey,
  covered: string[],
  extra: { algorithm?: string; created?: string; expires?: string; withQuery?: boolean } = {},
): Parts {
  const req = { method: parts.method, headers: parts.headers, url: new URL(parts.url) };
  const text = cavageSigningString({ headers: covered, ...extra }, req, extra.withQuery ?? true);
  const signature = Buffer.from(signBytes(key, encode(text))).toString("base64");
  const fields = [`keyId="${key.keyId}"`];
  if (extra.algorithm) fields.push(`algorithm="${extra.algorithm}"`);
  if (extra.created) fields.push(`created=${extra.created}`);
  if (extra.expires) fields.push(`expires=${extra.expires}`);
  fields.push(`headers="${covered.join(" ")}"`, `signature="${signature}"`);
  return withHeaders(parts, { signature: fields.join(","), "signature-input": null });
}

/** A hand-made RFC 9421 signature with arbitrary components and parameters. */
function rfc9421Signed(
  parts: Parts,
  key: SigningKey,
  components: string[],
  params: [string, string | number][],
  label = "sig1",
): Parts {
  const req = { method: parts.method, headers: parts.headers, url: new URL(parts.url) };
  const input = {
    items: components.map((value) => ({ value, params: new Map() })),
    params: new Map<string, string | number>(params),
  };
  const signature = Buffer.from(signBytes(key, encode(signatureBase(input, req)))).toString("base64");
  return withHeaders(parts, {
    "signature-input": `${label}=${serializeInnerList(input)}`,
    signature: `${label}=:${signature}:`,
  });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe("structured fields (RFC 8941)", () => {
  it("parses a dictionary of inner lists and re-serializes it canonically", () => {
    const dict = parseDictionary(
      'sig1=("@method" "@target-uri");created=1618884473;keyid="k\\"1", sig2=:AQID:;a=?0, flag;x=1.50',
    );
    const sig1 = dict.get("sig1")!;
    expect("items" in sig1 && serializeInnerList(sig1)).toBe(
      '("@method" "@target-uri");created=1618884473;keyid="k\\"1"',
    );
    const sig2 = dict.get("sig2")!;
    expect("value" in sig2 && [...(sig2.value as Uint8Array)]).toEqual([1, 2, 3]);
    expect("value" in sig2 && serializeItem(sig2)).toBe(":AQID:;a=?0");
    const flag = dict.get("flag")!;
    expect("value" in flag && flag.value).toBe(true);
    expect("value" in flag && serializeItem(flag)).toBe("?1;x=1.5");
  });

  it("keeps tokens, decimals and negative integers", () => {
    const dict = parseDictionary("a=abc/def, b=2.0, c=-7, d=(a b);q");
    expect([...dict.values()].map((m) => ("items" in m ? serializeInnerList(m) : serializeItem(m)))).toEqual([
      "abc/def",
      "2.0",
      "-7",
      "(a b);q",
    ]);
    expect(dict.get("a")).toMatchObject({ value: new Token("abc/def") });
    expect(dict.get("b")).toMatchObject({ value: new Decimal(2) });
  });

  it("rejects malformed input", () => {
    for (const bad of ["a=1,", "a=(1", 'a="unterminated', "A=1", "a=1.", "a=:not base64!:", "a=1 b=2"]) {
      expect(() => parseDictionary(bad), bad).toThrow();
    }
  });
});

describe("body digests", () => {
  const body = encode('{"hello": "world"}');

  it("computes Digest (RFC 3230) and Content-Digest (RFC 9530) values", () => {
    expect(computeDigestHeader(body)).toBe("SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=");
    expect(computeContentDigestHeader(body, "sha-512")).toBe(RFC9421_TEST_REQUEST.headers["Content-Digest"]);
    expect(computeContentDigestHeader(body)).toBe("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  });

  it("accepts Digest in any case and with several values", () => {
    const sha256 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
    const sha512 = computeDigestHeader(body, "sha-512");
    expect(verifyDigestHeader(`sha-256=${sha256}`, body)).toEqual({ ok: true });
    expect(verifyDigestHeader(`MD5=abc, ${sha512}, Sha-256=${sha256}`, body)).toEqual({ ok: true });
  });

  it("rejects a Digest that does not match or has no usable algorithm", () => {
    expect(verifyDigestHeader(computeDigestHeader(encode("other")), body)).toEqual({
      ok: false,
      error: "body does not match Digest (SHA-256)",
    });
    expect(verifyDigestHeader(`SHA-256=${computeDigestHeader(body).slice(8)}, SHA-512=AAAA`, body)).toEqual({
      ok: false,
      error: "body does not match Digest (SHA-512)",
    });
    expect(verifyDigestHeader("MD5=Sd/dVLAcvNLSq16eXua5uQ==", body)).toMatchObject({ ok: false });
  });

  it("checks Content-Digest values", () => {
    const both = `${computeContentDigestHeader(body, "sha-512")}, ${computeContentDigestHeader(body)}`;
    expect(verifyContentDigestHeader(both, body)).toEqual({ ok: true });
    expect(verifyContentDigestHeader(computeContentDigestHeader(encode("x")), body)).toEqual({
      ok: false,
      error: "body does not match Content-Digest (sha-256)",
    });
    expect(verifyContentDigestHeader("sha-256=abc", body)).toMatchObject({ ok: false });
    expect(verifyContentDigestHeader("sha-256=:abc", body)).toEqual({
      ok: false,
      error: "Content-Digest is malformed",
    });
  });

  it("checks whichever digest headers are present, against an empty body when there is none", () => {
    const headers = new Headers({ digest: computeDigestHeader(new Uint8Array(0)) });
    expect(verifyBodyDigests(headers, null)).toEqual({ ok: true });
    headers.set("content-digest", computeContentDigestHeader(body));
    expect(verifyBodyDigests(headers, null)).toMatchObject({ ok: false });
    expect(verifyBodyDigests(new Headers(), body)).toEqual({ ok: true });
  });
});

describe("draft-cavage-http-signatures-12 Appendix C", () => {
  const req = {
    method: CAVAGE_REQUEST.method,
    headers: new Headers(CAVAGE_REQUEST.headers),
    url: new URL(CAVAGE_REQUEST.url),
  };
  const testKey: SigningKey = { keyId: "Test", type: "rsa", privatePem: CAVAGE_TEST_PRIVATE_PEM };
  const publicKey: PublicKeyInfo = {
    keyId: "Test",
    ownerId: "test",
    type: "rsa",
    publicPem: CAVAGE_TEST_PUBLIC_PEM,
  };
  const lookupTest = async (keyId: string) => (keyId === "Test" ? publicKey : null);
  const parts = (signature: string): Parts => ({
    method: CAVAGE_REQUEST.method,
    url: CAVAGE_REQUEST.url,
    headers: new Headers({ ...CAVAGE_REQUEST.headers, Signature: signature }),
    body: encode(CAVAGE_REQUEST.body),
  });

  it("C.1 Default Test: no headers= means date only", () => {
    const sig = parseCavageSignature(
      `keyId="Test",algorithm="rsa-sha256",signature="${CAVAGE_DEFAULT_SIGNATURE}"`,
    );
    expect(sig.headers).toEqual(["date"]);
    const text = cavageSigningString(sig, req);
    expect(text).toBe("date: Sun, 05 Jan 2014 21:31:40 GMT");
    expect(verifyBytes(publicKey, encode(text), sig.signature)).toBe(true);
    expect(Buffer.from(signBytes(testKey, encode(text))).toString("base64")).toBe(CAVAGE_DEFAULT_SIGNATURE);
  });

  it("C.2 Basic Test: (request-target) host date", () => {
    const header = signCavage(testKey, req, ["(request-target)", "host", "date"], "rsa-sha256");
    expect(header).toBe(
      `keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",signature="${CAVAGE_BASIC_SIGNATURE}"`,
    );
    expect(cavageSigningString(parseCavageSignature(header), req)).toBe(
      "(request-target): post /foo?param=value&pet=dog\nhost: example.com\ndate: Sun, 05 Jan 2014 21:31:40 GMT",
    );
  });

  it("C.3 All Headers Test", () => {
    const covered = ["(request-target)", "host", "date", "content-type", "digest", "content-length"];
    const header = signCavage(testKey, req, covered, "rsa-sha256");
    expect(parseCavageSignature(header).signature).toEqual(
      new Uint8Array(Buffer.from(CAVAGE_ALL_HEADERS_SIGNATURE, "base64")),
    );
    expect(cavageSigningString(parseCavageSignature(header), req)).toBe(
      [
        "(request-target): post /foo?param=value&pet=dog",
        "host: example.com",
        "date: Sun, 05 Jan 2014 21:31:40 GMT",
        "content-type: application/json",
        "digest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        "content-length: 18",
      ].join("\n"),
    );
  });

  it("verifies the All Headers example as a request, and rejects the others for their coverage", async () => {
    const opts = { lookupKey: lookupTest, now: CAVAGE_REQUEST.now };
    const all = `keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date content-type digest content-length",signature="${CAVAGE_ALL_HEADERS_SIGNATURE}"`;
    expect(await verify(parts(all), opts)).toEqual({
      ok: true,
      keyId: "Test",
      ownerId: "test",
      standard: "draft-cavage",
    });
    const basic = `keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",signature="${CAVAGE_BASIC_SIGNATURE}"`;
    expect(await verify(parts(basic), opts)).toEqual({
      ok: false,
      status: 401,
      error: "signature does not cover digest (covered: (request-target) host date)",
    });
    const dflt = `keyId="Test",algorithm="rsa-sha256",signature="${CAVAGE_DEFAULT_SIGNATURE}"`;
    expect(await verify(parts(dflt), opts)).toEqual({
      ok: false,
      status: 401,
      error:
        "signature does not cover (request-target) (covered: date only, since the Signature header has no headers= list)",
    });
  });
});

describe("RFC 9421 Appendix B and §4.3", () => {
  const edPublic: PublicKeyInfo = {
    keyId: "test-key-ed25519",
    ownerId: "test",
    type: "ed25519",
    publicKey: fromBase64Url(RFC9421_ED25519_PUBLIC),
  };
  const rsaPublic: PublicKeyInfo = {
    keyId: "test-key-rsa",
    ownerId: "test",
    type: "rsa",
    publicPem: RFC9421_RSA_PUBLIC_PEM,
  };
  const lookupTest = async (keyId: string) => [edPublic, rsaPublic].find((k) => k.keyId === keyId) ?? null;
  const testRequest = {
    method: RFC9421_TEST_REQUEST.method,
    headers: new Headers(RFC9421_TEST_REQUEST.headers),
    url: new URL(RFC9421_TEST_REQUEST.url),
  };

  it("B.2.6: reproduces the ed25519 signature base and signature exactly", () => {
    const [sig] = parseRfc9421Signatures(RFC9421_B26.signatureInput, RFC9421_B26.signature);
    expect(sig!.label).toBe("sig-b26");
    const base = signatureBase(sig!.input, testRequest);
    expect(base).toBe(RFC9421_B26.base);
    expect(verifyBytes(edPublic, encode(base), sig!.signature)).toBe(true);

    const key: SigningKey = {
      keyId: "test-key-ed25519",
      type: "ed25519",
      privateKey: RFC9421_ED25519_PRIVATE,
    };
    const components = ["date", "@method", "@path", "@authority", "content-type", "content-length"];
    const signed = signRfc9421(key, testRequest, components, {
      created: RFC9421_B26.created,
      label: "sig-b26",
      includeAlg: false,
    });
    expect(signed).toEqual({ signatureInput: RFC9421_B26.signatureInput, signature: RFC9421_B26.signature });
  });

  it("B.2.6 as a whole request: valid, but refused because it does not cover content-digest", async () => {
    const parts: Parts = {
      method: "POST",
      url: RFC9421_TEST_REQUEST.url,
      headers: new Headers({
        ...RFC9421_TEST_REQUEST.headers,
        "Signature-Input": RFC9421_B26.signatureInput,
        Signature: RFC9421_B26.signature,
      }),
      body: encode(RFC9421_TEST_REQUEST.body),
    };
    const result = await verify(parts, { lookupKey: lookupTest, now: new Date(RFC9421_B26.created * 1000) });
    expect(result).toMatchObject({ ok: false, status: 401 });
    expect(result.ok || result.error).toMatch(/^signature does not cover content-digest/);
  });

  it("§4.3: reproduces the rsa-v1_5-sha256 proxy signature exactly", () => {
    const p = RFC9421_PROXIED_REQUEST;
    const req = { method: p.method, headers: new Headers(p.headers), url: new URL(p.url) };
    const proxySig = parseRfc9421Signatures(p.headers["Signature-Input"], p.headers.Signature).find(
      (s) => s.label === "proxy_sig",
    )!;
    const base = signatureBase(proxySig.input, req);
    expect(base).toBe(p.proxySigBase);
    const key: SigningKey = { keyId: "test-key-rsa", type: "rsa", privatePem: RFC9421_RSA_PRIVATE_PEM };
    expect(signBytes(key, encode(base))).toEqual(proxySig.signature);
  });

  it("§4.3: accepts the request on its one verifiable signature (the other is ECDSA)", async () => {
    const p = RFC9421_PROXIED_REQUEST;
    const parts: Parts = {
      method: p.method,
      url: p.url,
      headers: new Headers(p.headers),
      body: encode(p.body),
    };
    expect(await verify(parts, { lookupKey: lookupTest, now: p.now })).toEqual({
      ok: true,
      keyId: "test-key-rsa",
      ownerId: "test",
      standard: "rfc9421",
    });
    // Once proxy_sig has expired, both fail and both reasons are reported.
    expect(await verify(parts, { lookupKey: lookupTest, now: new Date(1618884600 * 1000) })).toEqual({
      ok: false,
      status: 401,
      error: "sig1: could not find key test-key-ecc-p256; proxy_sig: signature expired 60 seconds ago",
    });
  });
});

describe("round trips through our own signer and verifier", () => {
  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    for (const keyType of ["rsa", "ed25519"] as const) {
      for (const method of ["GET", "POST"] as const) {
        it(`${standard}, ${keyType} key, ${method}`, async () => {
          const parts = await sign(standard, keyType === "rsa" ? rsaKey : edKey, method);
          expect(parts.headers.get("host")).toBe("wren.example");
          expect(parts.headers.get("date")).toMatch(/GMT$/);
          expect(await verify(parts)).toEqual({
            ok: true,
            keyId: keyType === "rsa" ? RSA_KEY_ID : ED_KEY_ID,
            ownerId: ACTOR,
            standard,
          });
        });
      }
    }
  }

  it("signs draft-cavage the way Mastodon does", async () => {
    const post = await sign("draft-cavage", rsaKey, "POST");
    expect(post.headers.get("digest")).toBe(computeDigestHeader(ACTIVITY));
    expect(post.headers.get("signature")).toMatch(
      /^keyId="https:\/\/remote\.example\/users\/bob#main-key",algorithm="rsa-sha256",headers="\(request-target\) host date digest content-type",signature="[A-Za-z0-9+/]+=*"$/,
    );
    expect(post.body).toEqual(ACTIVITY);
    const get = await sign("draft-cavage", edKey, "GET");
    expect(get.headers.get("signature")).toContain('algorithm="hs2019",headers="(request-target) host date"');
    expect(get.headers.has("digest")).toBe(false);
  });

  it("signs RFC 9421 with @method @target-uri content-digest, created, keyid and alg", async () => {
    const now = new Date("2025-01-02T03:04:05Z");
    const post = await sign("rfc9421", rsaKey, "POST", { now });
    expect(post.headers.get("content-digest")).toBe(computeContentDigestHeader(ACTIVITY));
    expect(post.headers.get("signature-input")).toBe(
      `sig1=("@method" "@target-uri" "content-digest");created=1735787045;keyid="${RSA_KEY_ID}";alg="rsa-v1_5-sha256"`,
    );
    expect(post.headers.get("signature")).toMatch(/^sig1=:[A-Za-z0-9+/]+=*:$/);
    const get = await sign("rfc9421", edKey, "GET", { now, includeAlg: false, label: "wren" });
    expect(get.headers.get("signature-input")).toBe(
      `wren=("@method" "@target-uri");created=1735787045;keyid="${ED_KEY_ID}"`,
    );
    expect(await verify(get, { now })).toMatchObject({ ok: true });
  });

  it("verifies hs2019, a missing algorithm, and algorithm=ed25519", async () => {
    const hs2019 = await sign("draft-cavage", rsaKey, "POST", { algorithm: "hs2019" });
    expect(hs2019.headers.get("signature")).toContain('algorithm="hs2019"');
    expect(await verify(hs2019)).toMatchObject({ ok: true });
    const noAlgorithm = withHeaders(hs2019, {
      signature: hs2019.headers.get("signature")!.replace('algorithm="hs2019",', ""),
    });
    expect(await verify(noAlgorithm)).toMatchObject({ ok: true });
    const ed = await sign("draft-cavage", edKey, "GET");
    const ed25519 = withHeaders(ed, {
      signature: ed.headers.get("signature")!.replace('algorithm="hs2019"', 'algorithm="ed25519"'),
    });
    expect(await verify(ed25519)).toMatchObject({ ok: true });
  });

  it("verifies the Authorization: Signature form", async () => {
    const parts = await sign("draft-cavage", rsaKey, "GET");
    const moved = withHeaders(parts, {
      authorization: `Signature ${parts.headers.get("signature")}`,
      signature: null,
    });
    expect(await verify(moved)).toMatchObject({ ok: true, standard: "draft-cavage" });
  });

  it("verifies (created) and (expires) pseudo-headers instead of Date", async () => {
    const created = String(nowSeconds() - 10);
    const expires = String(nowSeconds() + 300);
    const base = withHeaders(await sign("draft-cavage", edKey, "POST"), { date: null });
    const covered = ["(request-target)", "host", "(created)", "(expires)", "digest"];
    const parts = cavageSigned(base, edKey, covered, { algorithm: "hs2019", created, expires });
    expect(await verify(parts)).toMatchObject({ ok: true });
    const expired = cavageSigned(base, edKey, covered, {
      algorithm: "hs2019",
      created,
      expires: String(nowSeconds() - 120),
    });
    expect(await verify(expired)).toEqual({
      ok: false,
      status: 401,
      error: "signature expired 2 minutes ago",
    });
  });

  it("lets a signature satisfy an Accept-Signature challenge", async () => {
    const [wanted] = parseAcceptSignature(
      'sig1=("@method" "@target-uri" "@authority" "content-digest" "content-type");created;keyid="x"',
    );
    const parts = await sign("rfc9421", rsaKey, "POST", {
      components: wanted!.components,
      label: wanted!.label,
    });
    expect(parts.headers.get("signature-input")).toMatch(
      /^sig1=\("@method" "@target-uri" "@authority" "content-digest" "content-type"\);created=\d+;/,
    );
    expect(await verify(parts)).toMatchObject({ ok: true });
  });
});

describe("rejections", () => {
  it("rejects an unsigned request", async () => {
    const parts = await partsOf(new Request(INBOX, { method: "POST", body: ACTIVITY }));
    expect(await verify(parts)).toEqual({ ok: false, status: 401, error: "request is not signed" });
  });

  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    it(`${standard}: rejects a tampered body whatever the signature says`, async () => {
      const parts = await sign(standard, rsaKey, "POST");
      const tampered = { ...parts, body: encode(JSON.stringify({ type: "Delete", actor: ACTOR })) };
      const header = standard === "draft-cavage" ? "Digest (SHA-256)" : "Content-Digest (sha-256)";
      expect(await verify(tampered)).toEqual({
        ok: false,
        status: 400,
        error: `body does not match ${header}`,
      });
    });

    it(`${standard}: rejects a signature made with another key`, async () => {
      const parts = await sign(standard, { ...rotatedRsaKey }, "POST");
      expect(await verify(parts)).toEqual({
        ok: false,
        status: 401,
        error: `signature does not verify with key ${RSA_KEY_ID} (checked for host wren.example)`,
      });
    });

    it(`${standard}: rejects a Date outside the window, either way`, async () => {
      const old = await sign(standard, rsaKey, "GET", { now: new Date(Date.now() - 3 * 3600_000 - 5000) });
      const ahead = await sign(standard, rsaKey, "GET", { now: new Date(Date.now() + 2 * 3600_000 + 5000) });
      if (standard === "draft-cavage") {
        expect(await verify(old)).toEqual({ ok: false, status: 401, error: "Date is 3 hours old" });
        expect(await verify(ahead)).toEqual({
          ok: false,
          status: 401,
          error: "Date is 2 hours in the future",
        });
      } else {
        expect(await verify(old)).toEqual({
          ok: false,
          status: 401,
          error: "signature was created 3 hours ago",
        });
        expect(await verify(ahead)).toEqual({
          ok: false,
          status: 401,
          error: "signature creation time is 2 hours in the future",
        });
      }
      // A wider window accepts them; a narrower one refuses a two-minute-old signature.
      expect(await verify(old, { windowSeconds: 4 * 3600 })).toMatchObject({ ok: true });
      const recent = await sign(standard, rsaKey, "GET", { now: new Date(Date.now() - 120_000) });
      expect(await verify(recent, { windowSeconds: 60 })).toMatchObject({ ok: false, status: 401 });
      expect(await verify(recent)).toMatchObject({ ok: true });
    });

    it(`${standard}: rejects an unknown key and a failing key lookup`, async () => {
      const parts = await sign(
        standard,
        { ...rsaKey, keyId: "https://remote.example/users/nobody#main-key" },
        "GET",
      );
      expect(await verify(parts)).toEqual({
        ok: false,
        status: 401,
        error: "could not find key https://remote.example/users/nobody#main-key",
      });
      const failing = async () => {
        throw new Error("connection refused");
      };
      expect(await verify(parts, { lookupKey: failing })).toEqual({
        ok: false,
        status: 401,
        error: "could not fetch key https://remote.example/users/nobody#main-key: connection refused",
      });
    });
  }

  it("draft-cavage: requires (request-target), host, digest on POST, and date or (created)", async () => {
    const get = await sign("draft-cavage", rsaKey, "GET");
    const post = await sign("draft-cavage", rsaKey, "POST");
    const cases: [Parts, string[], string][] = [
      [get, ["host", "date"], "(request-target)"],
      [get, ["(request-target)", "date"], "host"],
      [post, ["(request-target)", "host", "date", "content-type"], "digest"],
      [post, ["(request-target)", "host", "digest"], "date or (created)"],
      // A POST that does not cover host could be replayed to the same path on another server.
      [post, ["(request-target)", "date", "digest", "content-type"], "host"],
    ];
    for (const [parts, covered, what] of cases) {
      const result = await verify(cavageSigned(parts, rsaKey, covered, { algorithm: "rsa-sha256" }));
      expect(result).toEqual({
        ok: false,
        status: 401,
        error: `signature does not cover ${what} (covered: ${covered.join(" ")})`,
      });
    }
  });

  it("rfc9421: requires @method, the target, the host, content-digest on POST, and created", async () => {
    const get = await sign("rfc9421", rsaKey, "GET");
    const post = await sign("rfc9421", rsaKey, "POST");
    const params: [string, string | number][] = [
      ["created", nowSeconds()],
      ["keyid", RSA_KEY_ID],
    ];
    const cases: [Parts, string[], string][] = [
      [post, ["@method", "@target-uri"], "content-digest"],
      [post, ["@target-uri", "content-digest"], "@method"],
      [post, ["@method", "@authority", "content-digest"], "the request target (@target-uri or @path)"],
      [get, ["@method", "@path"], "the host (@target-uri or @authority)"],
      [post, ["@method", "@path", "content-digest"], "the host (@target-uri or @authority)"],
    ];
    for (const [parts, components, what] of cases) {
      const result = await verify(rfc9421Signed(parts, rsaKey, components, params));
      expect(result.ok || result.error).toBe(
        `signature does not cover ${what} (covered: ${components.map((c) => `"${c}"`).join(" ")})`,
      );
    }
    const noCreated = rfc9421Signed(post, rsaKey, ["@method", "@target-uri", "content-digest"], [params[1]!]);
    expect(await verify(noCreated)).toEqual({
      ok: false,
      status: 401,
      error: "signature has no created time",
    });
    const pathAndAuthority = rfc9421Signed(get, rsaKey, ["@method", "@authority", "@path", "@query"], params);
    expect(await verify(pathAndAuthority)).toMatchObject({ ok: true });
    // Either @authority or @target-uri binds the host (Mastodon and Wren sign @target-uri only).
    for (const components of [
      ["@method", "@authority", "@path", "content-digest"],
      ["@method", "@target-uri", "content-digest"],
    ]) {
      expect(await verify(rfc9421Signed(post, rsaKey, components, params))).toMatchObject({ ok: true });
    }
  });

  it("rfc9421: honours expires", async () => {
    const post = await sign("rfc9421", edKey, "POST");
    const components = ["@method", "@target-uri", "content-digest"];
    const expired = rfc9421Signed(post, edKey, components, [
      ["created", nowSeconds() - 600],
      ["keyid", ED_KEY_ID],
      ["expires", nowSeconds() - 300],
    ]);
    expect(await verify(expired)).toEqual({
      ok: false,
      status: 401,
      error: "signature expired 5 minutes ago",
    });
    const valid = rfc9421Signed(post, edKey, components, [
      ["created", nowSeconds() - 600],
      ["keyid", ED_KEY_ID],
      ["expires", nowSeconds() + 300],
    ]);
    expect(await verify(valid)).toMatchObject({ ok: true });
  });

  it("rfc9421: verifies header fields and derived components, and refuses what it cannot rebuild", async () => {
    const post = withHeaders(await sign("rfc9421", rsaKey, "POST"), {
      "x-empty": "",
      "x-spaced": "  a  b  ",
    });
    const params: [string, string | number][] = [
      ["created", nowSeconds()],
      ["keyid", RSA_KEY_ID],
    ];
    const all = [
      "@method",
      "@target-uri",
      "@authority",
      "@scheme",
      "@request-target",
      "@path",
      "@query",
      "content-digest",
      "content-type",
      "host",
      "date",
      "x-empty",
      "x-spaced",
    ];
    expect(await verify(rfc9421Signed(post, rsaKey, all, params))).toMatchObject({ ok: true });
    const withExtra = rfc9421Signed(
      withHeaders(post, { "x-extra": "1" }),
      rsaKey,
      [...all, "x-extra"],
      params,
    );
    expect(await verify(withHeaders(withExtra, { "x-extra": null }))).toEqual({
      ok: false,
      status: 401,
      error: "covered header x-extra is missing from the request",
    });
    const signed = rfc9421Signed(post, rsaKey, all, params);
    const altered = withHeaders(signed, { "content-type": "text/plain" });
    expect(await verify(altered)).toMatchObject({ ok: false, status: 401 });
    const input = signed.headers.get("signature-input")!.replace('"@query"', '"@query-param";name="a"');
    expect(await verify(withHeaders(signed, { "signature-input": input }))).toEqual({
      ok: false,
      status: 401,
      error: 'component parameters are not supported: "@query-param";name="a"',
    });
  });

  it("rfc9421: accepts a request when one of several signatures is valid", async () => {
    const post = await sign("rfc9421", rsaKey, "POST");
    const good = post.headers;
    const bad = rfc9421Signed(
      post,
      rotatedRsaKey,
      ["@method", "@target-uri", "content-digest"],
      [
        ["created", nowSeconds()],
        ["keyid", RSA_KEY_ID],
      ],
      "bad",
    );
    const both = withHeaders(post, {
      "signature-input": `${bad.headers.get("signature-input")}, ${good.get("signature-input")}`,
      signature: `${bad.headers.get("signature")}, ${good.get("signature")}`,
    });
    expect(await verify(both)).toMatchObject({ ok: true, standard: "rfc9421" });
    const onlyBad = withHeaders(both, { signature: bad.headers.get("signature") });
    expect(await verify(onlyBad)).toEqual({
      ok: false,
      status: 401,
      error: `signature does not verify with key ${RSA_KEY_ID} (checked for host wren.example)`,
    });
  });

  it("rejects unsupported algorithms and algorithm/key mismatches", async () => {
    const get = await sign("draft-cavage", rsaKey, "GET");
    const signature = get.headers.get("signature")!;
    for (const algorithm of ["rsa-sha1", "hmac-sha256", "ecdsa-sha256"]) {
      const changed = withHeaders(get, { signature: signature.replace("rsa-sha256", algorithm) });
      expect(await verify(changed)).toEqual({
        ok: false,
        status: 401,
        error: `unsupported signature algorithm ${algorithm}`,
      });
    }
    const ed = await sign("draft-cavage", edKey, "GET");
    const mislabelled = withHeaders(ed, {
      signature: ed.headers.get("signature")!.replace("hs2019", "rsa-sha256"),
    });
    expect(await verify(mislabelled)).toEqual({
      ok: false,
      status: 401,
      error: `algorithm rsa-sha256 cannot be used with ed25519 key ${ED_KEY_ID}`,
    });
    const rfc = await sign("rfc9421", rsaKey, "GET");
    const pss = withHeaders(rfc, {
      "signature-input": rfc.headers.get("signature-input")!.replace("rsa-v1_5-sha256", "rsa-pss-sha512"),
    });
    expect(await verify(pss)).toEqual({
      ok: false,
      status: 401,
      error: 'unsupported signature algorithm "rsa-pss-sha512"',
    });
  });

  it("rejects malformed signature headers with 400", async () => {
    const get = await sign("draft-cavage", rsaKey, "GET");
    for (const [signature, error] of [
      ['keyId="a",signature="b",headers', 'Signature header is malformed near "headers"'],
      ['algorithm="rsa-sha256",signature="b"', "Signature header has no keyId"],
      ['keyId="a",headers="date"', "Signature header has no signature"],
    ]) {
      expect(await verify(withHeaders(get, { signature: signature! }))).toEqual({
        ok: false,
        status: 400,
        error,
      });
    }
    const rfc = await sign("rfc9421", rsaKey, "GET");
    const result = await verify(withHeaders(rfc, { "signature-input": "sig1=(" }));
    expect(result).toMatchObject({ ok: false, status: 400 });
    const other = await verify(withHeaders(rfc, { signature: "other=:AAAA:" }));
    expect(other).toEqual({
      ok: false,
      status: 400,
      error: "Signature-Input and Signature have no label in common",
    });
  });
});

describe("keyId, request-target and key rotation", () => {
  it("accepts a keyId with or without a #fragment, passing it to the lookup as sent", async () => {
    const seen: string[] = [];
    const recording = async (keyId: string) => {
      seen.push(keyId);
      return lookupKey(keyId);
    };
    for (const standard of ["draft-cavage", "rfc9421"] as const) {
      const withFragment = await sign(standard, rsaKey, "POST");
      const withoutFragment = await sign(standard, { ...rsaKey, keyId: ACTOR }, "POST");
      const expected = { ok: true, keyId: RSA_KEY_ID, ownerId: ACTOR, standard };
      expect(await verify(withFragment, { lookupKey: recording })).toEqual(expected);
      expect(await verify(withoutFragment, { lookupKey: recording })).toEqual(expected);
    }
    expect(seen).toEqual([RSA_KEY_ID, ACTOR, RSA_KEY_ID, ACTOR]);
  });

  it("checks (request-target) with the query string, then without it", async () => {
    const get = await sign("draft-cavage", rsaKey, "GET");
    const covered = ["(request-target)", "host", "date"];
    const options = { algorithm: "rsa-sha256" };
    expect(await verify(cavageSigned(get, rsaKey, covered, { ...options, withQuery: true }))).toMatchObject({
      ok: true,
    });
    expect(await verify(cavageSigned(get, rsaKey, covered, { ...options, withQuery: false }))).toMatchObject({
      ok: true,
    });
    const otherPage = cavageSigned(
      { ...get, url: OUTBOX.replace("page=2", "page=3") },
      rsaKey,
      covered,
      options,
    );
    expect(await verify({ ...otherPage, url: OUTBOX })).toMatchObject({ ok: false, status: 401 });
    const otherPath = cavageSigned({ ...get, url: `${INBOX}?page=2` }, rsaKey, covered, options);
    expect(await verify({ ...otherPath, url: OUTBOX })).toMatchObject({ ok: false, status: 401 });
  });

  it("uses the public URL's host, not a Host header a proxy rewrote", async () => {
    const get = await sign("draft-cavage", rsaKey, "GET");
    expect(await verify(withHeaders(get, { host: "127.0.0.1:3000" }))).toMatchObject({ ok: true });
    expect(await verify(get, { url: OUTBOX.replace("wren.example", "elsewhere.example") })).toMatchObject({
      ok: false,
    });
  });

  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    it(`${standard}: looks the key up again with refresh: true when the cached one fails`, async () => {
      const calls: boolean[] = [];
      const rotating = async (_keyId: string, { refresh }: { refresh: boolean }) => {
        calls.push(refresh);
        return publicKeys.get(refresh ? "rotated-new" : "rotated-old")!;
      };
      const parts = await sign(standard, rotatedRsaKey, "POST");
      expect(await verify(parts, { lookupKey: rotating })).toMatchObject({ ok: true, keyId: RSA_KEY_ID });
      expect(calls).toEqual([false, true]);

      calls.length = 0;
      const stale = async (_keyId: string, { refresh }: { refresh: boolean }) => {
        calls.push(refresh);
        return publicKeys.get("rotated-old")!;
      };
      expect(await verify(parts, { lookupKey: stale })).toMatchObject({ ok: false, status: 401 });
      expect(calls).toEqual([false, true]);
    });
  }
});

describe("host binding: a signature made for one server is refused by another", () => {
  const elsewhere = (url: string) => url.replace("wren.example", "other.example");

  for (const standard of ["draft-cavage", "rfc9421"] as const) {
    for (const method of ["GET", "POST"] as const) {
      it(`${standard}, ${method}: our signer covers the host, so the request verifies only there`, async () => {
        const parts = await sign(standard, rsaKey, method);
        const covered =
          standard === "draft-cavage"
            ? parseCavageSignature(parts.headers.get("signature")!).headers
            : parseRfc9421Signatures(
                parts.headers.get("signature-input")!,
                parts.headers.get("signature")!,
              )[0]!.input.items.map((item) => item.value);
        expect(covered).toContain(standard === "draft-cavage" ? "host" : "@target-uri");

        // Captured as sent to wren.example and replayed, Host header and all, to other.example.
        expect(await verify(parts, { url: elsewhere(parts.url) })).toEqual({
          ok: false,
          status: 401,
          error: `signature does not verify with key ${RSA_KEY_ID} (checked for host other.example, but the request's Host header is wren.example: was it signed for another server?)`,
        });
        // The same with the Host header rewritten to match.
        const rewritten = withHeaders(parts, { host: "other.example" });
        expect(await verify(rewritten, { url: elsewhere(parts.url) })).toEqual({
          ok: false,
          status: 401,
          error: `signature does not verify with key ${RSA_KEY_ID} (checked for host other.example)`,
        });
      });
    }
  }

  it("rfc9421: @authority alone binds the host as well", async () => {
    const post = await sign("rfc9421", rsaKey, "POST");
    const params: [string, string | number][] = [
      ["created", nowSeconds()],
      ["keyid", RSA_KEY_ID],
    ];
    const signed = rfc9421Signed(post, rsaKey, ["@method", "@authority", "@path", "content-digest"], params);
    expect(await verify(signed)).toMatchObject({ ok: true });
    expect(await verify(signed, { url: elsewhere(signed.url) })).toMatchObject({ ok: false, status: 401 });
  });

  it("the specifications' vectors verify for their own host only", async () => {
    const cavageKey: PublicKeyInfo = {
      keyId: "Test",
      ownerId: "test",
      type: "rsa",
      publicPem: CAVAGE_TEST_PUBLIC_PEM,
    };
    const all = `keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date content-type digest content-length",signature="${CAVAGE_ALL_HEADERS_SIGNATURE}"`;
    const cavage: Parts = {
      method: CAVAGE_REQUEST.method,
      url: CAVAGE_REQUEST.url,
      headers: new Headers({ ...CAVAGE_REQUEST.headers, Signature: all }),
      body: encode(CAVAGE_REQUEST.body),
    };
    const cavageOpts = { lookupKey: async () => cavageKey, now: CAVAGE_REQUEST.now };
    expect(await verify(cavage, cavageOpts)).toMatchObject({ ok: true });
    const moved = CAVAGE_REQUEST.url.replace("example.com", "example.org");
    expect(await verify(cavage, { ...cavageOpts, url: moved })).toEqual({
      ok: false,
      status: 401,
      error:
        "signature does not verify with key Test (checked for host example.org, but the request's Host header is example.com: was it signed for another server?)",
    });

    const p = RFC9421_PROXIED_REQUEST;
    const rsaPublic: PublicKeyInfo = {
      keyId: "test-key-rsa",
      ownerId: "test",
      type: "rsa",
      publicPem: RFC9421_RSA_PUBLIC_PEM,
    };
    const proxied: Parts = {
      method: p.method,
      url: p.url,
      headers: new Headers(p.headers),
      body: encode(p.body),
    };
    const rfcOpts = {
      lookupKey: async (keyId: string) => (keyId === "test-key-rsa" ? rsaPublic : null),
      now: p.now,
    };
    expect(await verify(proxied, rfcOpts)).toMatchObject({ ok: true });
    const result = await verify(proxied, { ...rfcOpts, url: p.url.replace("origin.host", "other.host") });
    expect(result).toMatchObject({ ok: false, status: 401 });
    expect(result.ok || result.error).toContain("proxy_sig: signature does not verify with key test-key-rsa");
  });
});

describe("negotiation helpers", () => {
  it("remembers the standard per host, least recently used first out", () => {
    const memory = new SignatureStandardMemory(3);
    expect(memory.firstChoice("a.example")).toBe("draft-cavage");
    memory.set("A.example", "rfc9421");
    memory.set("b.example", "draft-cavage");
    memory.set("c.example", "rfc9421");
    expect(memory.get("a.example")).toBe("rfc9421");
    memory.set("d.example", "rfc9421");
    expect(memory.size).toBe(3);
    expect(memory.get("b.example")).toBeUndefined();
    expect(memory.entries()).toEqual([
      ["c.example", "rfc9421"],
      ["a.example", "rfc9421"],
      ["d.example", "rfc9421"],
    ]);
    const restored = new SignatureStandardMemory();
    restored.load(memory.entries());
    expect(restored.entries()).toEqual(memory.entries());
    restored.delete("c.example");
    expect(restored.firstChoice("c.example")).toBe("draft-cavage");
    expect(otherStandard("draft-cavage")).toBe("rfc9421");
    expect(otherStandard("rfc9421")).toBe("draft-cavage");
  });

  it("stays bounded at 10,000 hosts by default", () => {
    const memory = new SignatureStandardMemory();
    for (let i = 0; i < 10_050; i++) memory.set(`h${i}.example`, "rfc9421");
    expect(memory.size).toBe(10_000);
    expect(memory.get("h0.example")).toBeUndefined();
    expect(memory.get("h10049.example")).toBe("rfc9421");
  });

  it("parses Accept-Signature (RFC 9421 §5.1)", () => {
    expect(parseAcceptSignature(RFC9421_ACCEPT_SIGNATURE)).toEqual([
      {
        label: "sig1",
        components: ["@method", "@target-uri", "@authority", "content-digest", "cache-control"],
        params: { keyid: "test-key-rsa-pss", created: true, tag: "app-123" },
      },
    ]);
    expect(parseAcceptSignature('a=("@query-param";name="id");alg=ed25519, b=?1')).toEqual([
      { label: "a", components: ['@query-param;name="id"'], params: { alg: "ed25519" } },
    ]);
    expect(parseAcceptSignature(null)).toEqual([]);
    expect(parseAcceptSignature("sig1=(")).toEqual([]);
  });
});
