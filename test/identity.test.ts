import { createPublicKey, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import {
  Application,
  CryptographicKey,
  type DocumentLoader,
  getDocumentLoader,
  Multikey,
  Person,
} from "@fedify/fedify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { INSTANCE_KEY_OWNER } from "../src/core/account.js";
import { fromBase64Url, multibaseToEd25519PublicKey } from "../src/federation/keys.js";
import { ACTOR_CONTEXT } from "../src/federation/vocab/context.js";
import { findKeyPairs, findLocalUser } from "../src/store/accounts.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const AS_LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"';
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

let server: TestServer;
let origin: string;
let domain: string;
let actorUrl: string;
let profileUrl: string;

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  origin = server.origin;
  domain = server.domain;
  actorUrl = `${origin}/users/alice`;
  profileUrl = `${origin}/@alice`;
});
afterAll(async () => {
  await server?.close();
});

function get(path: string, accept?: string) {
  return fetch(`${origin}${path}`, { headers: accept ? { accept } : {} });
}

function webfinger(resource: string | null) {
  const query = resource === null ? "" : `?resource=${encodeURIComponent(resource)}`;
  return get(`/.well-known/webfinger${query}`);
}

interface Jrd {
  subject: string;
  aliases?: string[];
  links: { rel: string; type?: string; href?: string; template?: string }[];
}

describe("WebFinger", () => {
  it("resolves the account by every name it has", async () => {
    for (const resource of [
      `acct:alice@${domain}`,
      `alice@${domain}`,
      `@alice@${domain}`,
      `acct:ALICE@${domain}`,
      `acct:Alice@${domain.toUpperCase()}`,
      actorUrl,
      profileUrl,
    ]) {
      const res = await webfinger(resource);
      expect(res.status, resource).toBe(200);
      expect(res.headers.get("content-type"), resource).toMatch(/^application\/jrd\+json/);
      expect(res.headers.get("access-control-allow-origin"), resource).toBe("*");
      const jrd = (await res.json()) as Jrd;
      expect(jrd.subject, resource).toBe(`acct:alice@${domain}`);
      expect(jrd.aliases).toEqual([actorUrl, profileUrl]);
      const self = jrd.links.filter((l) => l.rel === "self");
      expect(self).toEqual([{ rel: "self", type: "application/activity+json", href: actorUrl }]);
      expect(jrd.links).toContainEqual({
        rel: "http://webfinger.net/rel/profile-page",
        type: "text/html",
        href: profileUrl,
      });
    }
  });

  it("points `self` at exactly the id of the actor document", async () => {
    const jrd = (await (await webfinger(`acct:alice@${domain}`)).json()) as Jrd;
    const href = jrd.links.find((l) => l.rel === "self")?.href as string;
    const actor = (await (
      await fetch(href, { headers: { accept: "application/activity+json" } })
    ).json()) as {
      id: string;
    };
    expect(actor.id).toBe(href);
  });

  it("resolves the instance actor as acct:DOMAIN@DOMAIN", async () => {
    const res = await webfinger(`acct:${domain}@${domain}`);
    expect(res.status).toBe(200);
    const jrd = (await res.json()) as Jrd;
    expect(jrd.subject).toBe(`acct:${domain}@${domain}`);
    expect(jrd.links.find((l) => l.rel === "self")).toEqual({
      rel: "self",
      type: "application/activity+json",
      href: `${origin}/actor`,
    });
    // And by its URL.
    const byUrl = (await (await webfinger(`${origin}/actor`)).json()) as Jrd;
    expect(byUrl.subject).toBe(`acct:${domain}@${domain}`);
  });

  it("answers 404 for an unknown user or another domain, as JSON with CORS", async () => {
    for (const resource of [
      `acct:bob@${domain}`,
      `acct:alice@example.com`,
      `alice@other.test`,
      `${origin}/users/bob`,
      "https://example.com/users/alice",
    ]) {
      const res = await webfinger(resource);
      expect(res.status, resource).toBe(404);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(((await res.json()) as { error: string }).error).toContain("no such resource");
    }
  });

  it("answers 400 for a missing or malformed resource", async () => {
    for (const resource of [null, "", "acct:nope", "acct:@x", "acct:alice@", "acct:a b@c", "nope"]) {
      const res = await webfinger(resource);
      expect(res.status, String(resource)).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: string }).error).toMatch(/resource/);
    }
  });

  it("answers POST with 405 and an Allow header", async () => {
    const res = await fetch(`${origin}/.well-known/webfinger?resource=acct:alice@${domain}`, {
      method: "POST",
      body: "x",
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toMatch(/\bGET\b/);
    expect(((await res.json()) as { error: string }).error).toContain("POST");
  });
});

describe("host-meta", () => {
  const template = () => `${origin}/.well-known/webfinger?resource={uri}`;

  it("serves the XRD document with the lrdd template", async () => {
    const res = await get("/.well-known/host-meta");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/xrd\+xml/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const xml = await res.text();
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>/);
    expect(xml).toContain('<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">');
    expect(xml).toContain(`<Link rel="lrdd" template="${template()}"/>`);
  });

  it("serves host-meta.json", async () => {
    const res = await get("/.well-known/host-meta.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.json()).toEqual({ links: [{ rel: "lrdd", template: template() }] });
  });
});

describe("NodeInfo", () => {
  it("links both schema versions from the discovery document", async () => {
    const res = await get("/.well-known/nodeinfo");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.json()).toEqual({
      links: [
        { rel: "http://nodeinfo.diaspora.software/ns/schema/2.0", href: `${origin}/nodeinfo/2.0` },
        { rel: "http://nodeinfo.diaspora.software/ns/schema/2.1", href: `${origin}/nodeinfo/2.1` },
      ],
    });
  });

  for (const version of ["2.0", "2.1"]) {
    it(`serves the ${version} document`, async () => {
      const res = await get(`/nodeinfo/${version}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("content-type")).toBe(
        `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/${version}#"`,
      );
      const body = (await res.json()) as {
        version: string;
        software: { name: string; version: string };
        protocols: string[];
        openRegistrations: boolean;
        usage: { users: { total: number; activeMonth: number; activeHalfyear: number }; localPosts: number };
      };
      expect(body.version).toBe(version);
      expect(body.software).toEqual({ name: "wren", version: PACKAGE_VERSION });
      expect(body.protocols).toEqual(["activitypub"]);
      expect(body.openRegistrations).toBe(false);
      expect(body.usage.users).toEqual({ total: 1, activeMonth: 1, activeHalfyear: 1 });
      expect(body.usage.localPosts).toBe(0);
    });
  }
});

interface ActorJson {
  "@context": unknown;
  id: string;
  type: string;
  preferredUsername: string;
  name: string;
  summary: string;
  url: string;
  inbox: string;
  outbox: string;
  followers: string;
  following: string;
  featured: string;
  endpoints: { sharedInbox: string };
  manuallyApprovesFollowers: boolean;
  discoverable: boolean;
  published: string;
  publicKey: { id: string; owner: string; publicKeyPem: string };
  assertionMethod: { id: string; type: string; controller: string; publicKeyMultibase: string }[];
}

describe("the actor", () => {
  async function actor(accept: string) {
    const res = await get("/users/alice", accept);
    expect(res.status).toBe(200);
    return { res, json: (await res.json()) as ActorJson };
  }

  it("answers application/activity+json with that content type", async () => {
    const { res } = await actor("application/activity+json");
    expect(res.headers.get("content-type")).toBe("application/activity+json");
    expect(res.headers.get("vary")).toMatch(/Accept/i);
  });

  it("answers the ld+json ActivityStreams profile with that content type", async () => {
    const { res, json } = await actor(AS_LD);
    expect(res.headers.get("content-type")).toBe(AS_LD);
    expect(json.id).toBe(actorUrl);
  });

  it("has every field other servers need", async () => {
    const { json } = await actor("application/activity+json");
    const { account } = findLocalUser(server.context.store.db) ?? {};
    expect(json["@context"]).toEqual(ACTOR_CONTEXT);
    expect(json).toMatchObject({
      id: actorUrl,
      type: "Person",
      preferredUsername: "alice",
      name: "alice",
      summary: "",
      url: profileUrl,
      inbox: `${actorUrl}/inbox`,
      outbox: `${actorUrl}/outbox`,
      followers: `${actorUrl}/followers`,
      following: `${actorUrl}/following`,
      featured: `${actorUrl}/collections/featured`,
      endpoints: { sharedInbox: `${origin}/inbox` },
      manuallyApprovesFollowers: false,
      discoverable: true,
      published: new Date(account?.createdAt ?? 0).toISOString(),
    });
    expect(json.publicKey.id).toBe(`${actorUrl}#main-key`);
    expect(json.publicKey.id.endsWith("#main-key")).toBe(true);
    expect(json.publicKey.owner).toBe(actorUrl);
    expect(json.publicKey.publicKeyPem).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/,
    );
    expect(json.assertionMethod).toHaveLength(1);
    expect(json.assertionMethod[0]).toMatchObject({
      id: `${actorUrl}#ed25519-key`,
      type: "Multikey",
      controller: actorUrl,
    });
    expect(json.assertionMethod[0]?.publicKeyMultibase).toMatch(/^z6Mk/);
    // No private key material leaks.
    expect(JSON.stringify(json)).not.toMatch(/PRIVATE KEY/);
  });

  it("finds the user case-insensitively but always names them as stored", async () => {
    const res = await get("/users/ALICE", "application/activity+json");
    expect(res.status).toBe(200);
    expect(((await res.json()) as ActorJson).id).toBe(actorUrl);
  });

  it("gives a browser the HTML profile that links the ActivityPub document, as /@alice does", async () => {
    const alternate = `<link rel="alternate" type="application/activity+json" href="${actorUrl}">`;
    for (const path of ["/users/alice", "/@alice"]) {
      const res = await get(path, BROWSER_ACCEPT);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html, path).toContain(alternate);
      expect(html, path).toContain(`@alice@${domain}`);
    }
    // Without any Accept header, a page too (what curl and link previews get).
    const plain = await get("/users/alice");
    expect(plain.headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("answers 404 JSON for an unknown user", async () => {
    const res = await get("/users/bob", "application/activity+json");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: "no such account" });
    expect((await get("/@bob", BROWSER_ACCEPT)).status).toBe(404);
  });

  it("refuses an oversized body with 413, with or without Content-Length", async () => {
    const limit = server.context.config.limits.max_body_bytes;
    const big = Buffer.alloc(limit + 1, "a");
    const sized = await fetch(`${origin}/inbox`, {
      method: "POST",
      headers: { "content-type": "application/activity+json" },
      body: big,
    });
    expect(sized.status).toBe(413);
    // The rest of the body is never read, so the connection must not be reused.
    expect(sized.headers.get("connection")).toBe("close");
    expect(((await sized.json()) as { error: string }).error).toContain(String(limit));
    for (let i = 0; i < 5; i++) expect((await get("/actor", "application/activity+json")).status).toBe(200);
    // A body within the limit gets through the limit (and on to the route).
    const small = await fetch(`${origin}/.well-known/webfinger`, { method: "POST", body: "x".repeat(limit) });
    expect(small.status).toBe(405);
    await small.text();
    // ... and the unread body does not break the kept-alive connection for the next requests.
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await get("/actor", "application/activity+json")).status).toBe(200);
    }

    // Chunked: the limit is enforced while reading, not only from the header.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${origin}/inbox`, {
        method: "POST",
        headers: { "content-type": "application/activity+json", "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(limit / 4, "b"));
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe("Fedify reads our actors", () => {
  // Only the JSON-LD contexts we reference may be loaded, and only from Fedify's preloaded copies: there is
  // no network here, and a parser that needed one would fail the same way on a real peer.
  const contexts = new Set(
    ACTOR_CONTEXT.filter((c): c is Extract<typeof c, string> => typeof c === "string"),
  );
  const requested: string[] = [];
  const preloaded = getDocumentLoader();
  const documentLoader: DocumentLoader = async (url, options) => {
    requested.push(url);
    if (!contexts.has(url as never)) throw new Error(`unexpected document load: ${url}`);
    return preloaded(url, options);
  };
  let externalFetches: string[] = [];
  const realFetch = globalThis.fetch;

  beforeAll(() => {
    // Count any fetch Fedify might attempt behind our back (ours go to 127.0.0.1 only).
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith(origin)) externalFetches.push(url);
      return realFetch(input, init);
    });
  });
  afterEach(() => {
    expect(externalFetches).toEqual([]);
    expect(requested.every((url) => contexts.has(url as never))).toBe(true);
    externalFetches = [];
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  async function fetchJson(path: string) {
    const res = await realFetch(`${origin}${path}`, { headers: { accept: "application/activity+json" } });
    expect(res.status).toBe(200);
    return res.json();
  }

  async function rawSpki(pem: string): Promise<Buffer> {
    return createPublicKey(pem).export({ type: "spki", format: "der" });
  }

  async function checkKeys(
    parsed: Person | Application,
    id: string,
    stored: { rsa?: { publicKey: string }; ed25519?: { publicKey: string } },
  ) {
    const loaders = { documentLoader, contextLoader: documentLoader };
    const key = await parsed.getPublicKey(loaders);
    expect(key).toBeInstanceOf(CryptographicKey);
    expect(key?.id?.href).toBe(`${id}#main-key`);
    expect(key?.ownerId?.href).toBe(id);
    const keys = [];
    for await (const k of parsed.getPublicKeys(loaders)) keys.push(k);
    expect(keys).toHaveLength(1);
    const exported = Buffer.from(
      await webcrypto.subtle.exportKey("spki", key?.publicKey as webcrypto.CryptoKey),
    );
    expect(exported.equals(await rawSpki(stored.rsa?.publicKey as string))).toBe(true);

    const methods: Multikey[] = [];
    for await (const m of parsed.getAssertionMethods(loaders)) methods.push(m);
    expect(methods).toHaveLength(1);
    const multikey = methods[0] as Multikey;
    expect(multikey).toBeInstanceOf(Multikey);
    expect(multikey.id?.href).toBe(`${id}#ed25519-key`);
    expect(multikey.controllerId?.href).toBe(id);
    const publicKey = multikey.publicKey as webcrypto.CryptoKey;
    expect(publicKey.algorithm.name).toBe("Ed25519");
    const raw = new Uint8Array(await webcrypto.subtle.exportKey("raw", publicKey));
    const expected = fromBase64Url(stored.ed25519?.publicKey as string);
    expect(raw).toEqual(expected);
    // Our own multibase decoder agrees with Fedify's.
    const multibase = (await fetchJson(new URL(id).pathname)) as ActorJson;
    expect(multibaseToEd25519PublicKey(multibase.assertionMethod[0]?.publicKeyMultibase ?? "")).toEqual(
      expected,
    );
  }

  it("parses the Person with its keys", async () => {
    const json = await fetchJson("/users/alice");
    const person = await Person.fromJsonLd(json, { documentLoader, contextLoader: documentLoader });
    expect(person).toBeInstanceOf(Person);
    expect(person.id?.href).toBe(actorUrl);
    expect(person.preferredUsername?.toString()).toBe("alice");
    expect(person.inboxId?.href).toBe(`${actorUrl}/inbox`);
    expect(person.outboxId?.href).toBe(`${actorUrl}/outbox`);
    expect(person.followersId?.href).toBe(`${actorUrl}/followers`);
    expect(person.followingId?.href).toBe(`${actorUrl}/following`);
    expect(person.featuredId?.href).toBe(`${actorUrl}/collections/featured`);
    expect(person.endpoints?.sharedInbox?.href).toBe(`${origin}/inbox`);
    expect(person.url?.href).toBe(profileUrl);
    expect(person.manuallyApprovesFollowers).toBe(false);
    expect(person.discoverable).toBe(true);
    expect(person.published).not.toBeNull();

    const local = findLocalUser(server.context.store.db);
    expect(local).not.toBeNull();
    await checkKeys(person, actorUrl, findKeyPairs(server.context.store.db, local?.account.id ?? ""));
  });

  it("parses the instance actor as an Application with its keys", async () => {
    const json = await fetchJson("/actor");
    const app = await Application.fromJsonLd(json, { documentLoader, contextLoader: documentLoader });
    expect(app).toBeInstanceOf(Application);
    expect(app.id?.href).toBe(`${origin}/actor`);
    expect(app.preferredUsername?.toString()).toBe(domain);
    expect(app.inboxId?.href).toBe(`${origin}/actor/inbox`);
    expect(app.endpoints?.sharedInbox?.href).toBe(`${origin}/inbox`);
    expect(app.manuallyApprovesFollowers).toBe(true);
    await checkKeys(app, `${origin}/actor`, findKeyPairs(server.context.store.db, INSTANCE_KEY_OWNER));
  });

  it("loaded only the contexts our documents name", () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(new Set(requested)).toEqual(new Set(requested.filter((url) => contexts.has(url as never))));
  });
});
