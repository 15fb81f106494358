import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Context } from "../src/context.js";
import { follow } from "../src/core/follows.js";
import { FetchError } from "../src/federation/fetch.js";
import {
  type Ed25519KeyPair,
  ed25519PublicKeyToMultibase,
  generateEd25519KeyPair,
  generateRsaKeyPair,
  type RsaKeyPair,
} from "../src/federation/keys.js";
import {
  ACTOR_MAX_AGE_MS,
  countRefreshesSettled,
  fetchObject,
  lookupPublicKey,
  lrddTemplate,
  parseHandle,
  persistActor,
  ResolveError,
  resolveActor,
  resolveHandle,
  webfinger,
} from "../src/federation/resolve.js";
import { parseActor } from "../src/federation/vocab/parse.js";
import { findLocalUser } from "../src/store/accounts.js";
import { accounts, remoteKeys } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { type FedifyPeer, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// ---------------------------------------------------------------------------------------------------------
// A small remote server that serves whatever documents a test puts in it.

interface Route {
  status?: number;
  type?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Delay before answering, in ms. */
  delay?: number;
}

class Remote {
  readonly routes = new Map<string, Route | ((req: IncomingMessage) => Route)>();
  readonly hits: { path: string; accept: string | undefined; signed: boolean }[] = [];
  origin = "";
  host = "";

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Remote> {
    const server = createServer();
    const remote = new Remote(server);
    server.on("request", (req, res) => {
      const path = req.url ?? "/";
      remote.hits.push({ path, accept: req.headers.accept, signed: req.headers.signature !== undefined });
      const entry = remote.routes.get(path) ?? remote.routes.get(path.split("?")[0]!);
      const route = typeof entry === "function" ? entry(req) : entry;
      const answer = () => {
        if (!route) {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found");
          return;
        }
        const body =
          route.body === undefined
            ? ""
            : typeof route.body === "string"
              ? route.body
              : JSON.stringify(route.body);
        res
          .writeHead(route.status ?? 200, {
            "content-type": route.type ?? "application/activity+json",
            ...route.headers,
          })
          .end(body);
      };
      if (route?.delay) setTimeout(answer, route.delay);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    remote.host = `127.0.0.1:${port}`;
    remote.origin = `http://${remote.host}`;
    return remote;
  }

  set(path: string, route: Route | ((req: IncomingMessage) => Route)): void {
    this.routes.set(path, route);
  }

  count(path: string): number {
    return this.hits.filter((h) => h.path === path).length;
  }

  reset(): void {
    this.routes.clear();
    this.hits.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

function actorDoc(
  remote: Remote,
  username: string,
  keys: { rsa: RsaKeyPair; ed?: Ed25519KeyPair },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const id = `${remote.origin}/users/${username}`;
  return {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    id,
    type: "Person",
    preferredUsername: username,
    name: `${username} <b>display</b>`,
    summary: `<p>about ${username}<script>x</script></p>`,
    url: `${remote.origin}/@${username}`,
    inbox: `${id}/inbox`,
    outbox: { id: `${id}/outbox`, type: "OrderedCollection", totalItems: 12 },
    followers: `${id}/followers`,
    following: `${id}/following`,
    endpoints: { sharedInbox: `${remote.origin}/inbox` },
    publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: keys.rsa.publicPem },
    ...(keys.ed
      ? {
          assertionMethod: [
            {
              id: `${id}#ed25519-key`,
              type: "Multikey",
              controller: id,
              publicKeyMultibase: ed25519PublicKeyToMultibase(keys.ed.publicKey),
            },
          ],
        }
      : {}),
    attachment: [
      { type: "PropertyValue", name: "Site", value: '<a href="https://example.com">example.com</a>' },
    ],
    ...extra,
  };
}

function jrd(subject: string, href: string) {
  return {
    type: "application/jrd+json",
    body: {
      subject,
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: `${href}/profile` },
        { rel: "self", type: "application/activity+json", href },
      ],
    },
  };
}

function wfPath(resource: string): string {
  return `/.well-known/webfinger?resource=${encodeURIComponent(resource)}`;
}

async function rejection(promise: Promise<unknown>): Promise<ResolveError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ResolveError);
    return error as ResolveError;
  }
  throw new Error("expected a rejection");
}

// ---------------------------------------------------------------------------------------------------------

let server: TestServer;
let ctx: Context;
let remote: Remote;
let other: Remote;
let rsa: RsaKeyPair;
let rsa2: RsaKeyPair;
let ed: Ed25519KeyPair;

beforeAll(async () => {
  [server, remote, other] = await Promise.all([
    startTestServer({ account: "me" }),
    Remote.start(),
    Remote.start(),
  ]);
  ctx = server.context;
  rsa = generateRsaKeyPair();
  rsa2 = generateRsaKeyPair();
  ed = generateEd25519KeyPair();
});

afterAll(async () => {
  await Promise.all([server?.close(), remote?.close(), other?.close()]);
});

beforeEach(() => {
  remote.reset();
  other.reset();
});

function accountRow(uri: string) {
  return ctx.store.db.select().from(accounts).where(eq(accounts.uri, uri)).get();
}

function keyRows(ownerUri: string) {
  return ctx.store.db.select().from(remoteKeys).where(eq(remoteKeys.ownerUri, ownerUri)).all();
}

describe("parseHandle", () => {
  it("accepts the three spellings and normalises the host", () => {
    expect(parseHandle("alice@Example.COM")).toEqual({ username: "alice", domain: "example.com" });
    expect(parseHandle("@alice@example.com")).toEqual({ username: "alice", domain: "example.com" });
    expect(parseHandle("acct:alice@example.com:8443")).toEqual({
      username: "alice",
      domain: "example.com:8443",
    });
  });

  it("refuses what is not a handle", () => {
    for (const handle of [
      "alice",
      "@example.com",
      "alice@",
      "a b@example.com",
      "alice@example.com/x",
      "alice@exa mple.com",
    ]) {
      expect(() => parseHandle(handle), handle).toThrow(ResolveError);
    }
  });
});

describe("lrddTemplate", () => {
  it("reads the lrdd template of a host-meta document", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="other" template="https://x/{uri}"/>
  <Link rel='lrdd' type="application/xrd+xml" template="https://example.com/.well-known/webfinger?a=1&amp;resource={uri}"/>
</XRD>`;
    expect(lrddTemplate(xml)).toBe("https://example.com/.well-known/webfinger?a=1&resource={uri}");
    expect(lrddTemplate("<XRD></XRD>")).toBeNull();
  });
});

describe("webfinger", () => {
  it("finds the actor URL by the self link, whatever the handle's spelling", async () => {
    const href = `${remote.origin}/users/alice`;
    remote.set(wfPath(`acct:alice@${remote.host}`), jrd(`acct:alice@${remote.host}`, href));
    expect(await webfinger(ctx, `alice@${remote.host}`)).toBe(href);
    expect(await webfinger(ctx, `@alice@${remote.host}`)).toBe(href);
    expect(await webfinger(ctx, `acct:alice@${remote.host}`)).toBe(href);
    expect(remote.hits[0]?.accept).toMatch(/^application\/jrd\+json/);
  });

  it("accepts the ld+json profile type for the self link", async () => {
    const href = `${remote.origin}/ap/alice`;
    remote.set(wfPath(`acct:alice@${remote.host}`), {
      type: "application/json",
      body: {
        links: [
          { rel: "self", type: "text/html", href: `${remote.origin}/wrong` },
          { rel: "self", type: 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"', href },
        ],
      },
    });
    expect(await webfinger(ctx, `alice@${remote.host}`)).toBe(href);
  });

  it("falls back to host-meta's lrdd template when WebFinger answers 404", async () => {
    const href = `${remote.origin}/users/bob`;
    remote.set("/.well-known/host-meta", {
      type: "application/xrd+xml",
      body: `<?xml version="1.0"?><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"><Link rel="lrdd" template="${remote.origin}/wf?resource={uri}"/></XRD>`,
    });
    remote.set(
      `/wf?resource=${encodeURIComponent(`acct:bob@${remote.host}`)}`,
      jrd(`acct:bob@${remote.host}`, href),
    );
    expect(await webfinger(ctx, `bob@${remote.host}`)).toBe(href);
    expect(remote.count(wfPath(`acct:bob@${remote.host}`))).toBe(1);
    expect(remote.count("/.well-known/host-meta")).toBe(1);
  });

  it("says gone on 410 and not_found on 404 without host-meta", async () => {
    remote.set(wfPath(`acct:gone@${remote.host}`), { status: 410, body: "" });
    expect((await rejection(webfinger(ctx, `gone@${remote.host}`))).code).toBe("gone");
    expect((await rejection(webfinger(ctx, `nobody@${remote.host}`))).code).toBe("not_found");
  });

  it("says not_found without an ActivityPub self link, invalid for a bad handle", async () => {
    remote.set(wfPath(`acct:nolink@${remote.host}`), {
      type: "application/jrd+json",
      body: { links: [{ rel: "self", type: "text/html", href: `${remote.origin}/x` }] },
    });
    expect((await rejection(webfinger(ctx, `nolink@${remote.host}`))).code).toBe("not_found");
    expect((await rejection(webfinger(ctx, "not a handle"))).code).toBe("invalid");
  });
});

describe("resolveActor", () => {
  it("fetches, stores the account and its keys, then serves it from the store", async () => {
    const uri = `${remote.origin}/users/carol`;
    remote.set("/users/carol", { body: actorDoc(remote, "carol", { rsa, ed }) });
    const account = await resolveActor(ctx, uri);
    expect(account).toMatchObject({
      uri,
      username: "carol",
      domain: remote.host,
      displayName: "carol display",
      note: "<p>about carol</p>",
      url: `${remote.origin}/@carol`,
      inboxUrl: `${uri}/inbox`,
      sharedInboxUrl: `${remote.origin}/inbox`,
      outboxUrl: `${uri}/outbox`,
      followersUrl: `${uri}/followers`,
      statusesCount: 12,
      goneAt: null,
    });
    expect(account.fields).toEqual([
      {
        name: "Site",
        value:
          '<a href="https://example.com" rel="nofollow noopener noreferrer" target="_blank">example.com</a>',
      },
    ]);
    expect(account.fetchedAt).toBeGreaterThan(Date.now() - 10_000);
    expect(remote.hits[0]?.accept).toContain("application/activity+json");
    const keys = keyRows(uri).sort((a, b) => a.keyId.localeCompare(b.keyId));
    expect(keys.map((k) => [k.keyId, k.algorithm])).toEqual([
      [`${uri}#ed25519-key`, "ed25519"],
      [`${uri}#main-key`, "rsa"],
    ]);

    expect((await resolveActor(ctx, uri)).id).toBe(account.id);
    expect(remote.count("/users/carol")).toBe(1);
  });

  it("fetches again with refresh, or when the stored copy is older than the refresh age", async () => {
    const uri = `${remote.origin}/users/dora`;
    remote.set("/users/dora", { body: actorDoc(remote, "dora", { rsa }) });
    const first = await resolveActor(ctx, uri);
    remote.set("/users/dora", { body: actorDoc(remote, "dora", { rsa }, { name: "Dora 2" }) });
    const second = await resolveActor(ctx, uri, { refresh: true });
    expect(second.id).toBe(first.id);
    expect(second.displayName).toBe("Dora 2");
    expect(remote.count("/users/dora")).toBe(2);

    ctx.store.db
      .update(accounts)
      .set({ fetchedAt: Date.now() - ACTOR_MAX_AGE_MS - 1000 })
      .where(eq(accounts.uri, uri))
      .run();
    remote.set("/users/dora", { body: actorDoc(remote, "dora", { rsa }, { name: "Dora 3" }) });
    expect((await resolveActor(ctx, uri)).displayName).toBe("Dora 3");
    expect(remote.count("/users/dora")).toBe(3);
  });

  it("shares one request between concurrent callers", async () => {
    const uri = `${remote.origin}/users/erin`;
    remote.set("/users/erin", { body: actorDoc(remote, "erin", { rsa }), delay: 100 });
    const rows = await Promise.all(Array.from({ length: 5 }, () => resolveActor(ctx, uri)));
    expect(new Set(rows.map((r) => r.id)).size).toBe(1);
    expect(remote.count("/users/erin")).toBe(1);
  });

  it("refuses a document whose id is on another host, leaving the store unchanged", async () => {
    const uri = `${remote.origin}/users/mallory`;
    remote.set("/users/mallory", {
      body: { ...actorDoc(remote, "mallory", { rsa }), id: `${other.origin}/users/mallory` },
    });
    const error = await rejection(resolveActor(ctx, uri));
    expect(error.code).toBe("invalid");
    expect(accountRow(uri)).toBeUndefined();
    expect(accountRow(`${other.origin}/users/mallory`)).toBeUndefined();
    expect(keyRows(`${other.origin}/users/mallory`)).toEqual([]);

    // A stored account is not touched by a refresh that fails the check either.
    remote.set("/users/frank", { body: actorDoc(remote, "frank", { rsa }) });
    const frank = await resolveActor(ctx, `${remote.origin}/users/frank`);
    remote.set("/users/frank", {
      body: {
        ...actorDoc(remote, "frank", { rsa: rsa2 }, { name: "Evil" }),
        id: `${other.origin}/users/frank`,
      },
    });
    expect((await rejection(resolveActor(ctx, frank.uri, { refresh: true }))).code).toBe("invalid");
    expect(accountRow(frank.uri)).toEqual(frank);
    expect(keyRows(frank.uri).map((k) => k.publicKey)).toEqual([rsa.publicPem.trim()]);
  });

  it("follows a redirect when the final URL is the id, and refuses one to another host claiming the first", async () => {
    const target = `${other.origin}/users/gina`;
    remote.set("/users/gina-old", { status: 301, headers: { location: target } });
    other.set("/users/gina", { body: actorDoc(other, "gina", { rsa }) });
    expect((await resolveActor(ctx, `${remote.origin}/users/gina-old`)).uri).toBe(target);

    const claimed = `${remote.origin}/users/hank`;
    remote.set("/users/hank", { status: 302, headers: { location: `${other.origin}/evil/hank` } });
    other.set("/evil/hank", { body: { ...actorDoc(remote, "hank", { rsa }) } });
    expect((await rejection(resolveActor(ctx, claimed))).code).toBe("invalid");
    expect(accountRow(claimed)).toBeUndefined();
  });

  it("fetches the id once more when a profile URL answers with the actor", async () => {
    remote.set("/@ivy", { body: actorDoc(remote, "ivy", { rsa }) });
    remote.set("/users/ivy", { body: actorDoc(remote, "ivy", { rsa }) });
    const account = await resolveActor(ctx, `${remote.origin}/@ivy`);
    expect(account.uri).toBe(`${remote.origin}/users/ivy`);
    expect(remote.count("/users/ivy")).toBe(1);
  });

  it("refuses documents that are not ActivityPub JSON, or not actors", async () => {
    remote.set("/users/json", { type: "application/json", body: actorDoc(remote, "json", { rsa }) });
    expect((await rejection(resolveActor(ctx, `${remote.origin}/users/json`))).code).toBe("invalid");
    remote.set("/users/note", { body: { ...actorDoc(remote, "note", { rsa }), type: "Note" } });
    expect((await rejection(resolveActor(ctx, `${remote.origin}/users/note`))).code).toBe("invalid");
    expect((await rejection(resolveActor(ctx, `${remote.origin}/users/missing`))).code).toBe("not_found");
    expect((await rejection(resolveActor(ctx, "ftp://example.com/x"))).code).toBe("invalid");
  });

  it("marks a stored account gone on 410", async () => {
    const uri = `${remote.origin}/users/jack`;
    remote.set("/users/jack", { body: actorDoc(remote, "jack", { rsa }) });
    await resolveActor(ctx, uri);
    remote.set("/users/jack", { status: 410, body: "" });
    expect((await rejection(resolveActor(ctx, uri, { refresh: true }))).code).toBe("gone");
    expect(accountRow(uri)?.goneAt).not.toBeNull();
    expect((await rejection(resolveActor(ctx, uri))).code).toBe("gone");
  });

  it("keeps using a stale copy when its server cannot be reached", async () => {
    const uri = `${remote.origin}/users/kim`;
    remote.set("/users/kim", { body: actorDoc(remote, "kim", { rsa }) });
    const kim = await resolveActor(ctx, uri);
    ctx.store.db.update(accounts).set({ fetchedAt: 1 }).where(eq(accounts.uri, uri)).run();
    remote.set("/users/kim", { status: 503, body: "" });
    expect((await resolveActor(ctx, uri)).id).toBe(kim.id);
    expect((await rejection(resolveActor(ctx, uri, { refresh: true }))).code).toBe("network");
  });

  it("never overwrites the local account", async () => {
    const local = findLocalUser(ctx.store.db)!.account;
    expect((await resolveActor(ctx, local.uri)).id).toBe(local.id);
    const doc = { ...actorDoc(remote, "me", { rsa }), id: local.uri, inbox: `${local.uri}/inbox` };
    const parsed = parseActor(doc, local.uri);
    expect(() => persistActor(ctx, parsed)).toThrow(ResolveError);
    expect(findLocalUser(ctx.store.db)!.account).toEqual(local);
  });

  it("gives an older actor's username up to a new one with the same name on the same host", async () => {
    remote.set("/users/lee", { body: actorDoc(remote, "lee", { rsa }) });
    const old = await resolveActor(ctx, `${remote.origin}/users/lee`);
    remote.set("/u/lee-new", {
      body: { ...actorDoc(remote, "lee", { rsa }), id: `${remote.origin}/u/lee-new` },
    });
    const fresh = await resolveActor(ctx, `${remote.origin}/u/lee-new`);
    expect(fresh.username).toBe("lee");
    expect(accountRow(old.uri)?.username).toBe(`lee~${old.id}`);
  });
});

describe("remote accounts' counts", () => {
  const collection = (id: string, totalItems?: unknown) => ({
    body: { "@context": "https://www.w3.org/ns/activitystreams", id, type: "OrderedCollection", totalItems },
  });

  it("come from the collections' totalItems, linked or embedded, fetched with the actor only", async () => {
    const uri = `${remote.origin}/users/nora`;
    remote.set("/users/nora", { body: actorDoc(remote, "nora", { rsa }) });
    remote.set("/users/nora/followers", collection(`${uri}/followers`, 345));
    remote.set("/users/nora/following", collection(`${uri}/following`, 67));
    const account = await resolveActor(ctx, uri);
    // The outbox is embedded (totalItems 12), so it is not fetched.
    expect(account).toMatchObject({ followersCount: 345, followingCount: 67, statusesCount: 12 });
    expect(remote.hits.map((h) => h.path).sort()).toEqual([
      "/users/nora",
      "/users/nora/followers",
      "/users/nora/following",
    ]);

    // A cache hit fetches nothing; a refresh fetches the counts again.
    await resolveActor(ctx, uri);
    expect(remote.hits).toHaveLength(3);
    remote.set("/users/nora/followers", collection(`${uri}/followers`, 346));
    remote.set("/users/nora", {
      body: actorDoc(remote, "nora", { rsa }, { outbox: `${uri}/outbox` }),
    });
    remote.set("/users/nora/outbox", collection(`${uri}/outbox`, 13));
    expect(await resolveActor(ctx, uri, { refresh: true })).toMatchObject({
      followersCount: 346,
      followingCount: 67,
      statusesCount: 13,
    });
    expect(remote.hits).toHaveLength(7);
  });

  it("keep their previous numbers (or 0) when a collection is hidden, odd or unreachable; resolution still works", async () => {
    const uri = `${remote.origin}/users/omar`;
    remote.set("/users/omar", { body: actorDoc(remote, "omar", { rsa }) });
    remote.set("/users/omar/followers", collection(`${uri}/followers`, 10));
    remote.set("/users/omar/following", collection(`${uri}/following`, 20));
    expect(await resolveActor(ctx, uri)).toMatchObject({ followersCount: 10, followingCount: 20 });

    // Hidden (403), no totalItems, and a counter that is not a count: the stored numbers stay.
    remote.set("/users/omar/followers", { status: 403, body: "" });
    remote.set("/users/omar/following", collection(`${uri}/following`));
    remote.set("/users/omar", {
      body: actorDoc(remote, "omar", { rsa }, { outbox: { type: "OrderedCollection", totalItems: -1 } }),
    });
    expect(await resolveActor(ctx, uri, { refresh: true })).toMatchObject({
      followersCount: 10,
      followingCount: 20,
      statusesCount: 12,
    });
    remote.set("/users/omar/following", { status: 200, type: "text/html", body: "<p>following</p>" });
    remote.set("/users/omar/followers", { delay: 200, status: 500, body: "" });
    expect(await resolveActor(ctx, uri, { refresh: true })).toMatchObject({
      followersCount: 10,
      followingCount: 20,
    });

    // A new account whose collections cannot be had starts at 0.
    const pia = `${remote.origin}/users/pia`;
    remote.set("/users/pia", { body: actorDoc(remote, "pia", { rsa }) });
    expect(await resolveActor(ctx, pia)).toMatchObject({ followersCount: 0, followingCount: 0 });
  });

  it("are read only from collections on the actor's own host", async () => {
    const uri = `${remote.origin}/users/quentin`;
    other.set("/quentin/followers", collection(`${other.origin}/quentin/followers`, 999));
    remote.set("/users/quentin", {
      body: actorDoc(remote, "quentin", { rsa }, { followers: `${other.origin}/quentin/followers` }),
    });
    remote.set("/users/quentin/following", collection(`${uri}/following`, 3));
    expect(await resolveActor(ctx, uri)).toMatchObject({ followersCount: 0, followingCount: 3 });
    expect(other.hits).toHaveLength(0);
  });

  it("are fetched too, in the background, when the actor is fetched for its key", async () => {
    const uri = `${remote.origin}/users/rosa`;
    remote.set("/users/rosa", { body: actorDoc(remote, "rosa", { rsa }) });
    remote.set("/users/rosa/followers", collection(`${uri}/followers`, 4));
    remote.set("/users/rosa/following", collection(`${uri}/following`, 5));
    expect(await lookupPublicKey(ctx, `${uri}#main-key`, { refresh: false })).toMatchObject({ ownerId: uri });
    // The inbox request that looked the key up does not wait for the counts.
    await countRefreshesSettled(ctx);
    expect(accountRow(uri)).toMatchObject({ followersCount: 4, followingCount: 5, statusesCount: 12 });
  });
});

describe("resolveHandle", () => {
  it("resolves by WebFinger, then serves the stored account while fresh", async () => {
    const uri = `${remote.origin}/users/mona`;
    remote.set(wfPath(`acct:mona@${remote.host}`), jrd(`acct:mona@${remote.host}`, uri));
    remote.set("/users/mona", { body: actorDoc(remote, "mona", { rsa }) });
    const account = await resolveHandle(ctx, `@mona@${remote.host}`);
    expect(account.uri).toBe(uri);
    // WebFinger, the actor, and its followers and following collections (for their counts).
    expect(remote.hits).toHaveLength(4);
    expect((await resolveHandle(ctx, `MONA@${remote.host}`)).id).toBe(account.id);
    expect(remote.hits).toHaveLength(4);
  });

  it("checks that the actor's own handle leads back to it", async () => {
    // The handle names "nick", the actor calls itself "nico", and nico@host is somebody else.
    const uri = `${remote.origin}/users/nick`;
    remote.set(wfPath(`acct:nick@${remote.host}`), jrd(`acct:nick@${remote.host}`, uri));
    remote.set("/users/nick", {
      body: { ...actorDoc(remote, "nico", { rsa }), id: uri, inbox: `${uri}/inbox` },
    });
    remote.set(
      wfPath(`acct:nico@${remote.host}`),
      jrd(`acct:nico@${remote.host}`, `${remote.origin}/users/nico`),
    );
    expect((await rejection(resolveHandle(ctx, `nick@${remote.host}`))).code).toBe("invalid");
  });

  it("accepts a split-domain handle whose actor WebFingers back to itself on its own host", async () => {
    // The handle is on `other`, the actor on `remote` (like LOCAL_DOMAIN / WEB_DOMAIN on Mastodon).
    const uri = `${remote.origin}/users/olga`;
    other.set(wfPath(`acct:olga@${other.host}`), jrd(`acct:olga@${other.host}`, uri));
    remote.set(wfPath(`acct:olga@${remote.host}`), jrd(`acct:olga@${other.host}`, uri));
    remote.set("/users/olga", { body: actorDoc(remote, "olga", { rsa }) });
    const account = await resolveHandle(ctx, `olga@${other.host}`);
    expect(account.uri).toBe(uri);
    expect(remote.count(wfPath(`acct:olga@${remote.host}`))).toBe(1);
  });

  it("finds the local account without any request", async () => {
    const local = findLocalUser(ctx.store.db)!.account;
    expect((await resolveHandle(ctx, `me@${server.domain}`)).id).toBe(local.id);
    expect((await rejection(resolveHandle(ctx, `nobody@${server.domain}`))).code).toBe("not_found");
  });
});

describe("lookupPublicKey", () => {
  it("finds a key by its id with a fragment, fetching and storing its actor", async () => {
    const uri = `${remote.origin}/users/pat`;
    remote.set("/users/pat", { body: actorDoc(remote, "pat", { rsa, ed }) });
    const key = await lookupPublicKey(ctx, `${uri}#main-key`, { refresh: false });
    expect(key).toEqual({
      keyId: `${uri}#main-key`,
      ownerId: uri,
      type: "rsa",
      publicPem: rsa.publicPem.trim(),
    });
    expect(accountRow(uri)?.username).toBe("pat");

    const edKey = await lookupPublicKey(ctx, `${uri}#ed25519-key`, { refresh: false });
    expect(edKey?.type).toBe("ed25519");
    expect(edKey?.ownerId).toBe(uri);
    expect(Buffer.from(edKey!.publicKey!).toString("base64url")).toBe(ed.publicKey);
    // The key id without fragment is the actor: its RSA key.
    expect((await lookupPublicKey(ctx, uri, { refresh: false }))?.publicPem).toBe(rsa.publicPem.trim());
    expect(remote.count("/users/pat")).toBe(1);
    // An unknown key of an actor just fetched is not fetched again.
    expect(await lookupPublicKey(ctx, `${uri}#other-key`, { refresh: false })).toBeNull();
    expect(remote.count("/users/pat")).toBe(1);
  });

  it("returns the new key after a rotation when asked to refresh", async () => {
    const uri = `${remote.origin}/users/quinn`;
    const keyId = `${uri}#main-key`;
    remote.set("/users/quinn", { body: actorDoc(remote, "quinn", { rsa }) });
    expect((await lookupPublicKey(ctx, keyId, { refresh: false }))?.publicPem).toBe(rsa.publicPem.trim());

    remote.set("/users/quinn", { body: actorDoc(remote, "quinn", { rsa: rsa2 }) });
    // Without refresh, the stored key.
    expect((await lookupPublicKey(ctx, keyId, { refresh: false }))?.publicPem).toBe(rsa.publicPem.trim());
    // A refresh right after a fetch is not honoured (no fetch storms)…
    expect((await lookupPublicKey(ctx, keyId, { refresh: true }))?.publicPem).toBe(rsa.publicPem.trim());
    expect(remote.count("/users/quinn")).toBe(1);
    // …but once the key is a minute old it is: the clock moves two minutes on.
    const realNow = Date.now;
    const clock = vi.spyOn(Date, "now").mockImplementation(() => realNow() + 120_000);
    try {
      expect((await lookupPublicKey(ctx, keyId, { refresh: true }))?.publicPem).toBe(rsa2.publicPem.trim());
      expect((await lookupPublicKey(ctx, keyId, { refresh: false }))?.publicPem).toBe(rsa2.publicPem.trim());
    } finally {
      clock.mockRestore();
    }
    expect(remote.count("/users/quinn")).toBe(2);
  });

  it("follows a key document to its owner, whose document must list the key", async () => {
    const uri = `${remote.origin}/users/rae`;
    const keyId = `${uri}/main-key`;
    // GoToSocial style: the key has its own URL, which serves a stub of the actor.
    remote.set("/users/rae/main-key", {
      body: {
        id: uri,
        type: "Person",
        preferredUsername: "rae",
        publicKey: { id: keyId, owner: uri, publicKeyPem: rsa.publicPem },
      },
    });
    remote.set("/users/rae", {
      body: actorDoc(
        remote,
        "rae",
        { rsa },
        { publicKey: { id: keyId, owner: uri, publicKeyPem: rsa.publicPem } },
      ),
    });
    expect(await lookupPublicKey(ctx, keyId, { refresh: false })).toMatchObject({
      keyId,
      ownerId: uri,
      type: "rsa",
    });

    // A key document naming an owner whose actor does not list that key.
    const forgedId = `${remote.origin}/keys/forged`;
    remote.set("/keys/forged", {
      body: { id: forgedId, owner: `${remote.origin}/users/sam`, publicKeyPem: rsa2.publicPem },
    });
    remote.set("/users/sam", { body: actorDoc(remote, "sam", { rsa }) });
    expect(await lookupPublicKey(ctx, forgedId, { refresh: false })).toBeNull();
  });

  it("returns null when the key cannot be found", async () => {
    expect(
      await lookupPublicKey(ctx, `${remote.origin}/users/nobody#main-key`, { refresh: false }),
    ).toBeNull();
    expect(await lookupPublicKey(ctx, "not a url", { refresh: false })).toBeNull();
    remote.set("/users/tom", {
      body: { ...actorDoc(remote, "tom", { rsa }), id: `${other.origin}/users/tom` },
    });
    expect(await lookupPublicKey(ctx, `${remote.origin}/users/tom#main-key`, { refresh: false })).toBeNull();
  });
});

describe("fetchObject", () => {
  it("returns an object whose id is its URL, and refuses one claiming another host", async () => {
    const note = {
      id: `${remote.origin}/notes/1`,
      type: "Note",
      content: "hi",
      attributedTo: `${remote.origin}/users/a`,
    };
    remote.set("/notes/1", {
      type: 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
      body: note,
    });
    expect(await fetchObject(ctx, note.id)).toEqual(note);
    remote.set("/notes/2", { body: { ...note, id: `${other.origin}/notes/2` } });
    expect((await rejection(fetchObject(ctx, `${remote.origin}/notes/2`))).code).toBe("invalid");
    expect((await rejection(fetchObject(ctx, `${server.origin}/users/me/statuses/1`))).code).toBe("invalid");
  });

  it("signs the request as asked", async () => {
    const note = {
      id: `${remote.origin}/notes/3`,
      type: "Note",
      content: "secret",
      attributedTo: `${remote.origin}/users/a`,
    };
    remote.set("/notes/3", (req) => (req.headers.signature ? { body: note } : { status: 401, body: "" }));
    expect(await fetchObject(ctx, note.id)).toEqual(note);
    expect(remote.hits.map((h) => h.signed)).toEqual([false, true]);
    expect(await fetchObject(ctx, note.id, { signAs: "instance" })).toEqual(note);
    expect(remote.hits.at(-1)?.signed).toBe(true);
  });
});

describe("private addresses", () => {
  let strict: TestServer;

  beforeAll(async () => {
    strict = await startTestServer({ env: { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "false" } });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it("refuses an actor, a handle and a key on a private address", async () => {
    remote.set("/users/uma", { body: actorDoc(remote, "uma", { rsa }) });
    remote.set(
      wfPath(`acct:uma@${remote.host}`),
      jrd(`acct:uma@${remote.host}`, `${remote.origin}/users/uma`),
    );
    const error = await rejection(resolveActor(strict.context, `${remote.origin}/users/uma`));
    expect(error.code).toBe("invalid");
    expect(error.cause).toBeInstanceOf(FetchError);
    expect((error.cause as FetchError).code).toBe("private_address");
    expect((await rejection(resolveHandle(strict.context, `uma@${remote.host}`))).code).toBe("invalid");
    expect(
      await lookupPublicKey(strict.context, `${remote.origin}/users/uma#main-key`, { refresh: false }),
    ).toBeNull();
    expect(remote.hits).toEqual([]);
  });
});

describe("remote accounts' counts from a Fedify peer, through the API", () => {
  let peer: FedifyPeer;

  beforeAll(async () => {
    peer = await startFedifyPeer();
  });

  afterAll(async () => {
    await peer?.close();
  });

  it("shows the numbers the peer's collections report, and the new ones after a refresh", async () => {
    await peer.post({ content: "<p>one</p>", silent: true });
    await peer.post({ content: "<p>two</p>", silent: true });
    const me = `${server.origin}/users/me`;
    const followId = await peer.follow(me);
    await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);

    // Wren fetched the peer's actor to check the Follow's signature, and its counts with it.
    const token = issueToken(server);
    const id = accountRow(peer.actorUri)!.id;
    const shown = async () => (await api(server, token, "GET", `/api/v1/accounts/${id}`)).json;
    expect(await shown()).toMatchObject({ followers_count: 0, following_count: 1, statuses_count: 2 });

    follow(ctx, accountRow(peer.actorUri)!);
    await waitUntil(() => peer.followers.has(me), "the peer to accept the follow");
    await peer.post({ content: "<p>three</p>", silent: true });
    await resolveActor(ctx, peer.actorUri, { refresh: true });
    expect(await shown()).toMatchObject({ followers_count: 1, following_count: 1, statuses_count: 3 });
  });
});
