// Web Push end to end: apps subscribe through the API (raw form fields, masto.js, megalodon), the Fedify
// peer's follow, mention and like become notifications, and a push endpoint on 127.0.0.1 receives what Wren
// sends. The endpoint decrypts with http_ece (Mozilla's implementation, independent of Wren's) using the
// subscriber's private key and auth secret, and checks the VAPID Authorization with jose against the
// server_key the subscription entity gave. Retries, Retry-After and giving up run on a fake clock, with the
// delivery worker driven by hand as in delivery.test.ts.
import { createECDH, type ECDH, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import { eq } from "drizzle-orm";
import { importJWK, jwtVerify } from "jose";
import { createRestAPIClient } from "masto";
import megalodon from "megalodon";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { retryDelayMs } from "../src/federation/delivery/backoff.js";
import { DeliveryWorker } from "../src/federation/delivery/worker.js";
import { findLocalUser } from "../src/store/accounts.js";
import { deliveryJobs, oauthTokens, pushSubscriptions } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, idByUri, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

/** http_ece has no type declarations: the two calls used here. */
interface Ece {
  decrypt(
    body: Buffer,
    params: { version: string; privateKey: ECDH; authSecret: string; dh?: string; salt?: string },
  ): Buffer;
}
const ece = createRequire(import.meta.url)("http_ece") as Ece;

type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

// ---------------------------------------------------------------------------------------------------------
// A push service endpoint and a subscriber (what a browser or a phone holds)

interface Push {
  path: string;
  headers: Headers;
  body: Buffer;
}

type Reply = { status: number; headers?: Record<string, string> };

interface PushService {
  origin: string;
  received: Push[];
  reply: (push: Push, n: number) => Reply;
  close(): Promise<void>;
}

async function startPushService(reply: PushService["reply"] = () => ({ status: 201 })): Promise<PushService> {
  const sockets = new Set<Socket>();
  const service = { received: [] as Push[], reply } as PushService;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
      const push = { path: req.url ?? "", headers, body: Buffer.concat(chunks) };
      service.received.push(push);
      const answer = service.reply(push, service.received.length);
      res.writeHead(answer.status, answer.headers).end();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  service.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  service.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return service;
}

interface Subscriber {
  ecdh: ECDH;
  p256dh: string;
  auth: string;
}

/** A subscriber's keys as a user agent makes them: a P-256 pair and a 16-byte secret. */
function subscriberKeys(): Subscriber {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return {
    ecdh,
    p256dh: ecdh.getPublicKey().toString("base64url"),
    auth: randomBytes(16).toString("base64url"),
  };
}

/** Decrypts a push with http_ece, by its Content-Encoding. */
function decrypt(push: Push, subscriber: Subscriber): string {
  const encoding = push.headers.get("content-encoding");
  if (encoding === "aes128gcm") {
    return ece
      .decrypt(push.body, { version: "aes128gcm", privateKey: subscriber.ecdh, authSecret: subscriber.auth })
      .toString("utf8");
  }
  expect(encoding).toBe("aesgcm");
  const salt = push.headers.get("encryption")?.match(/salt=([A-Za-z0-9_-]+)/)?.[1];
  const dh = push.headers.get("crypto-key")?.match(/dh=([A-Za-z0-9_-]+)/)?.[1];
  return ece
    .decrypt(push.body, {
      version: "aesgcm",
      dh,
      salt,
      privateKey: subscriber.ecdh,
      authSecret: subscriber.auth,
    })
    .toString("utf8");
}

/** Checks the VAPID header of a push against the subscription's server_key; returns the JWT's claims. */
async function verifyVapid(push: Push, serverKey: string, endpoint: string) {
  const authorization = push.headers.get("authorization") ?? "";
  let jwt: string;
  if (push.headers.get("content-encoding") === "aes128gcm") {
    const match = authorization.match(/^vapid t=([^,]+),\s*k=([A-Za-z0-9_-]+)$/);
    expect(match, authorization).not.toBeNull();
    expect(match?.[2]).toBe(serverKey);
    jwt = match?.[1] as string;
  } else {
    const match = authorization.match(/^WebPush (\S+)$/);
    expect(match, authorization).not.toBeNull();
    expect(push.headers.get("crypto-key")).toContain(`p256ecdsa=${serverKey}`);
    jwt = match?.[1] as string;
  }
  const point = Buffer.from(serverKey, "base64url");
  const key = await importJWK(
    {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33).toString("base64url"),
    },
    "ES256",
  );
  const { payload, protectedHeader } = await jwtVerify(jwt, key, { audience: new URL(endpoint).origin });
  expect(protectedHeader.alg).toBe("ES256");
  const now = Math.floor(Date.now() / 1000);
  expect(payload.exp).toBeGreaterThan(now);
  expect(payload.exp).toBeLessThanOrEqual(now + 24 * 3600);
  expect(String(payload.sub)).toMatch(/^(mailto:|https?:\/\/)/);
  return payload;
}

/** The raw JSON text keeps notification_id's digits: a JSON number beyond 2^53. */
function notificationIdOf(json: string): string {
  const match = json.match(/"notification_id":(\d+)[,}]/);
  expect(match, json).not.toBeNull();
  return match?.[1] as string;
}

/** Subscribes with form fields exactly as Mastodon's own web app and many apps send them. */
async function subscribeWithForm(
  server: TestServer,
  token: string,
  endpoint: string,
  subscriber: Subscriber,
  fields: Record<string, string> = {},
) {
  const form = new URLSearchParams({
    "subscription[endpoint]": endpoint,
    "subscription[keys][p256dh]": subscriber.p256dh,
    "subscription[keys][auth]": subscriber.auth,
    ...fields,
  });
  const response = await fetch(`${server.url}/api/v1/push/subscription`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const json = (await response.json()) as Json;
  expect(response.status, JSON.stringify(json)).toBe(200);
  return json;
}

const ALL_ALERTS = {
  "data[alerts][mention]": "true",
  "data[alerts][follow]": "true",
  "data[alerts][favourite]": "true",
  "data[alerts][reblog]": "true",
};

// ---------------------------------------------------------------------------------------------------------

describe("Web Push from the Fedify peer's activities", () => {
  let server: TestServer;
  let peer: FedifyPeer;
  let service: PushService;
  let aliceUri: string;

  beforeAll(async () => {
    [server, peer, service] = await Promise.all([
      startTestServer({ account: "alice" }),
      startFedifyPeer(),
      startPushService(),
    ]);
    aliceUri = `${server.origin}/users/alice`;
  });

  afterAll(async () => {
    await server?.close();
    await peer?.close();
    await service?.close();
  });

  const pushesTo = (path: string) => service.received.filter((p) => p.path === path);
  const jobsFor = (endpoint: string) =>
    server.context.store.db.select().from(deliveryJobs).where(eq(deliveryJobs.inboxUrl, endpoint)).all();

  it("pushes a follow, a mention and a favourite, in aes128gcm and aesgcm, as Mastodon writes them", async () => {
    const standardToken = issueToken(server);
    const legacyToken = issueToken(server);
    const standard = subscriberKeys();
    const legacy = subscriberKeys();
    const standardEndpoint = `${service.origin}/push/standard`;
    const legacyEndpoint = `${service.origin}/push/legacy`;
    const a = await subscribeWithForm(server, standardToken, standardEndpoint, standard, {
      ...ALL_ALERTS,
      "subscription[standard]": "true",
    });
    const b = await subscribeWithForm(server, legacyToken, legacyEndpoint, legacy, ALL_ALERTS);
    expect(a).toMatchObject({ endpoint: standardEndpoint, standard: true, policy: "all" });
    expect(b).toMatchObject({ endpoint: legacyEndpoint, standard: false, policy: "all" });
    expect(a.alerts).toMatchObject({
      mention: true,
      follow: true,
      favourite: true,
      poll: false,
      update: false,
    });
    const serverKey = a.server_key as string;
    const instance = (await api(server, null, "GET", "/api/v2/instance")).json as {
      configuration: { vapid: { public_key: string } };
    };
    expect(serverKey).toBe(instance.configuration.vapid.public_key);
    expect(b.server_key).toBe(serverKey);

    // The follow.
    await peer.follow(aliceUri);
    await inboxSettled(server);
    // The mention.
    const noteUri = await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> are you there? &amp; more</p>`,
      mentions: [aliceUri],
    });
    await inboxSettled(server);
    // The favourite of alice's post.
    const posted = await api(server, standardToken, "POST", "/api/v1/statuses", { status: "a post to like" });
    const status = posted.json as Json;
    await peer.like(status.uri as string);
    await inboxSettled(server);

    await waitUntil(
      () => pushesTo("/push/standard").length >= 3 && pushesTo("/push/legacy").length >= 3,
      "6 pushes",
    );
    const notifications = (await api(server, standardToken, "GET", "/api/v1/notifications")).json as Json[];
    const byType = new Map(notifications.map((n) => [n.type as string, n]));
    const peerName = ((byType.get("follow") as Json).account as Json).display_name as string;
    const avatar = ((byType.get("follow") as Json).account as Json).avatar_static as string;
    const expected: Record<string, { title: string; body: string }> = {
      follow: {
        title: `${peerName} is now following you`,
        body: "An independent server for Wren's federation tests.",
      },
      mention: { title: `You were mentioned by ${peerName}`, body: "@alice are you there? & more" },
      favourite: { title: `${peerName} favorited your post`, body: "a post to like" },
    };

    for (const [path, subscriber, token, encoding] of [
      ["/push/standard", standard, standardToken, "aes128gcm"],
      ["/push/legacy", legacy, legacyToken, "aesgcm"],
    ] as const) {
      const pushes = pushesTo(path);
      expect(pushes).toHaveLength(3);
      const seen: string[] = [];
      for (const push of pushes) {
        expect(push.headers.get("content-encoding")).toBe(encoding);
        expect(push.headers.get("content-type")).toBe("application/octet-stream");
        expect(push.headers.get("ttl")).toBe("172800");
        expect(push.headers.get("urgency")).toBe("normal");
        expect(push.headers.get("topic")).toBeNull();
        await verifyVapid(push, serverKey, `${service.origin}${path}`);
        const text = decrypt(push, subscriber);
        const payload = JSON.parse(text) as Json;
        const type = payload.notification_type as string;
        seen.push(type);
        const notification = byType.get(type) as Json;
        expect(notificationIdOf(text)).toBe(notification.id);
        expect(payload).toEqual({
          access_token: token,
          preferred_locale: "en",
          notification_id: expect.any(Number),
          notification_type: type,
          icon: avatar,
          ...expected[type],
        });
      }
      expect(seen.sort()).toEqual(["favourite", "follow", "mention"]);
    }
    const mention = byType.get("mention") as Json;
    expect((mention.status as Json).uri).toBe(noteUri);
    expect((byType.get("favourite") as Json).status).toMatchObject({ id: status.id });
    // Every push was one durable job, done.
    for (const endpoint of [standardEndpoint, legacyEndpoint]) {
      expect(jobsFor(endpoint).map((j) => j.state)).toEqual(["done", "done", "done"]);
    }
  });

  it("honours the policy and the alerts: none sends nothing, favourite=false skips favourites", async () => {
    const control = subscriberKeys();
    const controlEndpoint = `${service.origin}/push/control`;
    const noneEndpoint = `${service.origin}/push/none`;
    const noFavEndpoint = `${service.origin}/push/no-favourites`;
    const followedEndpoint = `${service.origin}/push/followed`;
    await subscribeWithForm(server, issueToken(server), controlEndpoint, control, {
      ...ALL_ALERTS,
      "subscription[standard]": "true",
    });
    await subscribeWithForm(server, issueToken(server), noneEndpoint, subscriberKeys(), {
      ...ALL_ALERTS,
      "data[policy]": "none",
    });
    await subscribeWithForm(server, issueToken(server), noFavEndpoint, subscriberKeys(), {
      ...ALL_ALERTS,
      "data[alerts][favourite]": "false",
    });
    // alice does not follow the peer: "followed" admits nothing from it.
    await subscribeWithForm(server, issueToken(server), followedEndpoint, subscriberKeys(), {
      ...ALL_ALERTS,
      "data[policy]": "followed",
    });

    const token = issueToken(server);
    const status = (await api(server, token, "POST", "/api/v1/statuses", { status: "another post" }))
      .json as Json;
    await peer.like(status.uri as string);
    await inboxSettled(server);
    const reply = await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> second</p>`,
      mentions: [aliceUri],
    });
    await inboxSettled(server);
    expect(idByUri(server.context.store.sqlite, "statuses", reply)).not.toBeNull();

    await waitUntil(() => pushesTo("/push/control").length >= 2, "the control subscription's two pushes");
    const types = pushesTo("/push/control").map((p) => JSON.parse(decrypt(p, control)).notification_type);
    expect(types.sort()).toEqual(["favourite", "mention"]);
    // The jobs are written with the notification, in one transaction: no job means no push, ever.
    expect(jobsFor(noneEndpoint)).toEqual([]);
    expect(jobsFor(followedEndpoint)).toEqual([]);
    expect(jobsFor(noFavEndpoint)).toHaveLength(1);
    await waitUntil(() => pushesTo("/push/no-favourites").length === 1, "the mention on no-favourites");
    expect(pushesTo("/push/none")).toEqual([]);
    expect(pushesTo("/push/followed")).toEqual([]);
  });

  it("sends no push for a notification a hide filter of the notifications context matches", async () => {
    const keys = subscriberKeys();
    const endpoint = `${service.origin}/push/filtered`;
    const token = issueToken(server);
    await subscribeWithForm(server, token, endpoint, keys, {
      ...ALL_ALERTS,
      "subscription[standard]": "true",
    });
    const filter = await api(server, token, "POST", "/api/v2/filters", {
      title: "no spoilers",
      context: ["notifications"],
      filter_action: "hide",
      keywords_attributes: [{ keyword: "spoiler", whole_word: true }],
    });
    expect(filter.status).toBe(200);

    await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> the spoiler is here</p>`,
      mentions: [aliceUri],
    });
    const kept = await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> nothing to hide</p>`,
      mentions: [aliceUri],
    });
    await inboxSettled(server);
    expect(idByUri(server.context.store.sqlite, "statuses", kept)).not.toBeNull();
    await waitUntil(() => pushesTo("/push/filtered").length >= 1, "the push of the mention no filter hides");
    expect(jobsFor(endpoint)).toHaveLength(1);
    const payload = JSON.parse(decrypt(pushesTo("/push/filtered")[0]!, keys)) as Json;
    expect(payload.body).toBe("@alice nothing to hide");
    await api(server, token, "DELETE", `/api/v2/filters/${(filter.json as Json).id as string}`);
  });

  it("removes a subscription whose push service answers 410, and one whose token was revoked", async () => {
    service.reply = (push) => (push.path === "/push/gone" ? { status: 410 } : { status: 201 });
    const goneToken = issueToken(server);
    const revokedToken = issueToken(server);
    await subscribeWithForm(server, goneToken, `${service.origin}/push/gone`, subscriberKeys(), ALL_ALERTS);
    await subscribeWithForm(
      server,
      revokedToken,
      `${service.origin}/push/revoked`,
      subscriberKeys(),
      ALL_ALERTS,
    );
    expect((await api(server, revokedToken, "GET", "/api/v1/push/subscription")).status).toBe(200);
    const revokedId = server.context.store.db
      .select()
      .from(pushSubscriptions)
      .all()
      .find((s) => s.endpoint.endsWith("/push/revoked"))?.tokenId as string;
    server.context.store.db
      .update(oauthTokens)
      .set({ revokedAt: Date.now() })
      .where(eq(oauthTokens.id, revokedId))
      .run();

    await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> third</p>`,
      mentions: [aliceUri],
    });
    await inboxSettled(server);
    await waitUntil(() => pushesTo("/push/gone").length === 1, "the push to the expired subscription");
    await waitUntil(
      () =>
        !server.context.store.db
          .select()
          .from(pushSubscriptions)
          .all()
          .some((s) => s.endpoint.endsWith("/push/gone")),
      "the expired subscription to be removed",
    );
    expect((await api(server, goneToken, "GET", "/api/v1/push/subscription")).status).toBe(404);
    const rows = server.context.store.db.select().from(pushSubscriptions).all();
    expect(rows.map((r) => r.endpoint).filter((e) => /gone|revoked/.test(e))).toEqual([]);
    expect(pushesTo("/push/revoked")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("push delivery through the durable queue, on a fake clock", () => {
  let server: TestServer;
  let service: PushService;
  let worker: DeliveryWorker | null = null;
  let clock: number;

  beforeEach(async () => {
    [server, service] = await Promise.all([startTestServer({ account: "alice" }), startPushService()]);
    // The server's own worker and upkeep stop; this worker runs when the test says, on its clock.
    await server.delivery.stop(0);
    server.upkeep.stop();
    clock = Date.now();
    worker = new DeliveryWorker(server.context, {
      now: () => clock,
      retryDelay: (n) => retryDelayMs(n, () => 0),
    });
  });

  afterEach(async () => {
    await worker?.stop(0);
    await server.close();
    await service.close();
  });

  /** A mention of alice from a remote account, received through the core: one notification. */
  function mention(): void {
    const local = findLocalUser(server.context.store.db)?.account;
    const bob = remoteAccount(server, `bob${Date.now()}`, "remote.example", { displayName: "Bob" });
    remoteNote(server, bob, { to: [local?.uri as string], cc: [], mentions: [local?.uri as string] });
    // The job is due at the real time it was written.
    clock = Date.now();
  }

  async function subscribe(path: string): Promise<string> {
    const endpoint = `${service.origin}${path}`;
    await subscribeWithForm(server, issueToken(server), endpoint, subscriberKeys(), {
      ...ALL_ALERTS,
      "subscription[standard]": "true",
    });
    return endpoint;
  }

  const jobsFor = (endpoint: string) =>
    server.context.store.db.select().from(deliveryJobs).where(eq(deliveryJobs.inboxUrl, endpoint)).all();

  it("retries an endpoint that is down with the federation backoff, then gives up", async () => {
    service.reply = () => ({ status: 503 });
    const endpoint = await subscribe("/push/down");
    mention();
    let attempts = 0;
    for (let i = 0; i < 20; i++) {
      await worker?.runOnce();
      const [job] = jobsFor(endpoint);
      if (job?.state === "failed") break;
      attempts = job?.attempts ?? 0;
      clock = (job?.nextAttemptAt ?? clock) + 1;
    }
    const [job] = jobsFor(endpoint);
    expect(job?.state).toBe("failed");
    // 15 attempts fit in the 48-hour TTL (the 15th at about 35 h); the next would come after it, so the
    // push is given up then: a notification two days old is not worth a buzz.
    expect(service.received).toHaveLength(15);
    expect(attempts).toBe(15);
    expect(job?.lastError).toMatch(/too old/);
  });

  it("honours Retry-After on 429, then delivers", async () => {
    service.reply = (_push, n) =>
      n === 1 ? { status: 429, headers: { "Retry-After": "120" } } : { status: 201 };
    const endpoint = await subscribe("/push/busy");
    mention();
    await worker?.runOnce();
    let [job] = jobsFor(endpoint);
    expect(job).toMatchObject({ state: "queued", attempts: 1, lastError: "HTTP 429" });
    expect(job?.nextAttemptAt).toBe(clock + 120_000);
    clock += 60_000;
    expect(await worker?.runOnce()).toBe(0);
    clock += 60_000;
    await worker?.runOnce();
    [job] = jobsFor(endpoint);
    expect(job?.state).toBe("done");
    expect(service.received).toHaveLength(2);
  });

  it("drops a queued push whose token was revoked meanwhile, and the subscription with it", async () => {
    const endpoint = await subscribe("/push/revoked-later");
    mention();
    const [row] = server.context.store.db.select().from(pushSubscriptions).all();
    // What /oauth/revoke does to the token row.
    server.context.store.db
      .update(oauthTokens)
      .set({ revokedAt: Date.now() })
      .where(eq(oauthTokens.id, row?.tokenId as string))
      .run();
    await worker?.runOnce();
    expect(jobsFor(endpoint)).toMatchObject([
      { state: "failed", lastError: expect.stringMatching(/revoked/) },
    ]);
    expect(service.received).toEqual([]);
    expect(server.context.store.db.select().from(pushSubscriptions).all()).toEqual([]);
  });

  it("keeps a queued push across a restart of the worker", async () => {
    const endpoint = await subscribe("/push/later");
    mention();
    expect(jobsFor(endpoint).map((j) => j.state)).toEqual(["queued"]);
    await worker?.stop(0);
    worker = new DeliveryWorker(server.context, { now: () => clock });
    await worker.runOnce();
    expect(jobsFor(endpoint).map((j) => j.state)).toEqual(["done"]);
    expect(service.received).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("the subscription API", () => {
  let server: TestServer;
  const endpoint = "https://push.example/wpush/v2/abc";

  beforeAll(async () => {
    server = await startTestServer({ account: "alice" });
    restoreNativeResponse();
  });

  afterAll(async () => {
    await server?.close();
  });

  it("masto.js creates, reads, updates and deletes a subscription", async () => {
    const client = createRestAPIClient({ url: server.origin, accessToken: issueToken(server) });
    const keys = subscriberKeys();
    const created = await client.v1.push.subscription.create({
      subscription: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } },
      data: { alerts: { mention: true, follow: true } },
      policy: "follower",
    });
    expect(created).toMatchObject({ endpoint, policy: "follower" });
    expect(created.alerts).toMatchObject({ mention: true, follow: true, favourite: false, reblog: false });
    expect(created.serverKey).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    const fetched = await client.v1.push.subscription.fetch();
    expect(fetched).toEqual(created);
    const updated = await client.v1.push.subscription.update({ data: { alerts: { favourite: true } } });
    expect(updated.alerts).toMatchObject({ mention: false, follow: false, favourite: true });
    expect(updated.policy).toBe("follower");
    expect(updated.id).toBe(created.id);
    await client.v1.push.subscription.remove();
    await expect(client.v1.push.subscription.fetch()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("megalodon creates, reads, updates and deletes a subscription", async () => {
    const client = generator("mastodon", server.origin, issueToken(server));
    const keys = subscriberKeys();
    const created = (
      await client.subscribePushNotification(
        { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } },
        { alerts: { mention: true, poll: true } },
      )
    ).data;
    expect(created).toMatchObject({ endpoint, alerts: { mention: true, poll: true, follow: false } });
    expect(created.server_key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect((await client.getPushSubscription()).data).toEqual(created);
    const updated = (await client.updatePushSubscription({ alerts: { reblog: true } })).data;
    expect(updated.alerts).toMatchObject({ reblog: true, mention: false, poll: false });
    expect((await client.deletePushSubscription()).data).toEqual({});
    await expect(client.getPushSubscription()).rejects.toMatchObject({ response: { status: 404 } });
  });

  it("keeps one subscription per token: a new one replaces the old", async () => {
    const token = issueToken(server);
    const first = await subscribeWithForm(server, token, endpoint, subscriberKeys());
    const second = await subscribeWithForm(server, token, `${endpoint}/2`, subscriberKeys());
    expect(second.id).not.toBe(first.id);
    const current = (await api(server, token, "GET", "/api/v1/push/subscription")).json as Json;
    expect(current).toMatchObject({ id: second.id, endpoint: `${endpoint}/2`, standard: false });
    expect(Object.keys(current.alerts as Json).sort()).toEqual(
      [
        "admin.report",
        "admin.sign_up",
        "favourite",
        "follow",
        "follow_request",
        "mention",
        "poll",
        "quote",
        "quoted_update",
        "reblog",
        "status",
        "update",
      ].sort(),
    );
    // Another token sees none.
    expect((await api(server, issueToken(server), "GET", "/api/v1/push/subscription")).status).toBe(404);
  });

  it("refuses endpoints and keys that cannot work, and tokens without the push scope", async () => {
    const token = issueToken(server);
    const keys = subscriberKeys();
    const post = (subscription: Json) =>
      api(server, token, "POST", "/api/v1/push/subscription", {
        subscription,
        data: { alerts: { mention: true } },
      });
    const good = { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
    expect((await post({ ...good, endpoint: "not a url" })).status).toBe(422);
    expect((await post({ ...good, endpoint: "ftp://push.example/x" })).status).toBe(422);
    expect((await post({ ...good, keys: { p256dh: "BCD", auth: keys.auth } })).status).toBe(422);
    // 65 bytes that are not a point on the curve.
    const offCurve = Buffer.alloc(65, 1);
    offCurve[0] = 4;
    expect(
      (await post({ ...good, keys: { p256dh: offCurve.toString("base64"), auth: keys.auth } })).status,
    ).toBe(422);
    expect((await post({ ...good, keys: { p256dh: keys.p256dh, auth: "c2hvcnQ" } })).status).toBe(422);
    const invalidPolicy = await api(server, token, "POST", "/api/v1/push/subscription", {
      subscription: good,
      data: { policy: "everyone" },
    });
    expect(invalidPolicy.status).toBe(422);
    // Standard base64 with padding is accepted as well as base64url.
    const padded = await post({
      ...good,
      keys: {
        p256dh: Buffer.from(keys.p256dh, "base64url").toString("base64"),
        auth: Buffer.from(keys.auth, "base64url").toString("base64"),
      },
    });
    expect(padded.status).toBe(200);

    expect((await api(server, null, "GET", "/api/v1/push/subscription")).status).toBe(401);
    const readOnly = issueToken(server, "read");
    expect((await api(server, readOnly, "GET", "/api/v1/push/subscription")).status).toBe(403);
    expect(
      (await api(server, readOnly, "POST", "/api/v1/push/subscription", { subscription: good })).status,
    ).toBe(403);
    // Nothing to remove is not an error, as on Mastodon.
    const pushOnly = issueToken(server, "push");
    expect(await api(server, pushOnly, "DELETE", "/api/v1/push/subscription")).toMatchObject({
      status: 200,
      json: {},
    });
    expect((await api(server, pushOnly, "PUT", "/api/v1/push/subscription", { data: {} })).status).toBe(404);
  });
});
