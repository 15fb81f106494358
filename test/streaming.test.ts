import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { receiveLike } from "../src/core/interactions.js";
import { hubFor, type Transport } from "../src/http/mastodon/streaming/hub.js";
import { parseStream, streamNameFromPath } from "../src/http/mastodon/streaming/streams.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import { mutes, oauthTokens } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { followRow, remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

interface Message {
  stream?: string[];
  event?: string;
  payload?: string;
  error?: string;
  status?: number;
}

/** A WebSocket client that keeps every message it receives, to wait for one or to assert on all of them. */
class Client {
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as Message);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => resolve({ code, reason: String(reason) }));
    });
  }

  /** The first message (received so far or later) that matches. */
  async next(match: (m: Message) => boolean, timeoutMs = 3000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /**
   * Waits until the server handled everything sent before: messages are handled in order, so the error answer
   * to an unknown message type comes after them.
   */
  async sync(): Promise<void> {
    const before = this.messages.filter((m) => m.error === "Unknown message type").length;
    this.send({ type: "sync" });
    const deadline = Date.now() + 3000;
    while (this.messages.filter((m) => m.error === "Unknown message type").length === before) {
      if (Date.now() > deadline) throw new Error("no answer to sync");
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  events(stream: string, event?: string): Message[] {
    return this.messages.filter(
      (m) => m.stream?.[0] === stream && (event === undefined || m.event === event),
    );
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }
}

let server: TestServer;
let token: string;
let wsBase: string;
let local: AccountRow;
let bob: AccountRow;
const open: Client[] = [];

function connect(
  query = "",
  options: {
    token?: string | null;
    via?: "header" | "protocol" | "query";
    path?: string;
    autoPong?: boolean;
  } = {},
): Promise<Client> {
  const t = options.token === undefined ? token : options.token;
  const via = options.via ?? "header";
  const params = new URLSearchParams(query);
  if (t && via === "query") params.set("access_token", t);
  const search = params.toString();
  const url = `${wsBase}${options.path ?? "/api/v1/streaming"}${search ? `?${search}` : ""}`;
  const headers: Record<string, string> = t && via === "header" ? { Authorization: `Bearer ${t}` } : {};
  const ws =
    t && via === "protocol"
      ? new WebSocket(url, t, { headers, autoPong: options.autoPong ?? true })
      : new WebSocket(url, { headers, autoPong: options.autoPong ?? true });
  const client = new Client(ws);
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      open.push(client);
      resolve(client);
    });
    ws.once("error", reject);
  });
}

async function post(body: Record<string, unknown>): Promise<{ id: string; uri: string }> {
  const res = await api(server, token, "POST", "/api/v1/statuses", body);
  expect(res.status).toBe(200);
  return res.json as { id: string; uri: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  token = issueToken(server);
  wsBase = server.url.replace(/^http/, "ws");
  const found = findLocalUser(server.context.store.db);
  if (!found) throw new Error("no local account");
  local = found.account;
  bob = remoteAccount(server, "bob", "remote.example");
  followRow(server, local.id, bob.id);
});

afterAll(async () => {
  for (const client of open) client.ws.terminate();
  await server?.close();
});

describe("streaming: stream names", () => {
  it("parses Mastodon's stream names and SSE paths", () => {
    expect(parseStream("user", undefined)).toMatchObject({ kind: "home", label: ["user"] });
    expect(parseStream("public:remote:media", undefined)).toMatchObject({
      kind: "public",
      local: false,
      onlyMedia: true,
    });
    expect(parseStream("hashtag", "#Cats")).toMatchObject({
      kind: "hashtag",
      tag: "cats",
      label: ["hashtag", "#Cats"],
    });
    expect(parseStream("hashtag", "")).toMatchObject({ status: 400 });
    expect(parseStream("nope", undefined)).toMatchObject({ status: 400 });
    expect(streamNameFromPath("/public/local", "true")).toBe("public:local:media");
    expect(streamNameFromPath("/user/notification", undefined)).toBe("user:notification");
  });
});

describe("streaming: endpoint and authentication", () => {
  it("answers the health check", async () => {
    const res = await fetch(`${server.url}/api/v1/streaming/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe("OK");
  });

  it("refuses an upgrade without a token, with a bad one, or without a read scope", async () => {
    await expect(connect("stream=user", { token: null })).rejects.toThrow(/401/);
    await expect(connect("stream=user", { token: "not-a-token" })).rejects.toThrow(/401/);
    await expect(connect("stream=user", { token: "not-a-token", via: "query" })).rejects.toThrow(/401/);
    await expect(connect("stream=user", { token: "not-a-token", via: "protocol" })).rejects.toThrow(/401/);
    const writeOnly = issueToken(server, "write");
    await expect(connect("stream=user", { token: writeOnly })).rejects.toThrow(/403/);
    await expect(connect("", { path: "/api/v1/elsewhere" })).rejects.toThrow(/404/);
  });

  it("takes the token from the Authorization header", async () => {
    const client = await connect("stream=user", { via: "header" });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it("takes the token from Sec-WebSocket-Protocol and echoes it back", async () => {
    const client = await connect("stream=user", { via: "protocol" });
    expect(client.ws.protocol).toBe(token);
    await client.close();
  });

  it("takes the token from access_token, also below /api/v1/streaming/", async () => {
    const client = await connect("stream=user", { via: "query", path: "/api/v1/streaming/" });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it("reports unknown streams, missing tags and missing scopes as error messages", async () => {
    const statusesOnly = issueToken(server, "read:statuses");
    const client = await connect("", { token: statusesOnly });
    client.send({ type: "subscribe", stream: "nope" });
    client.send({ type: "subscribe", stream: "hashtag" });
    client.send({ type: "subscribe", stream: "user:notification" });
    client.ws.send("{not json");
    await client.sync();
    expect(client.messages.slice(0, 4)).toEqual([
      { error: "Unknown stream type", status: 400 },
      { error: "Missing tag name parameter", status: 400 },
      { error: "Access token does not have the required scopes", status: 403 },
      { error: "Invalid JSON", status: 400 },
    ]);
    await client.close();
  });
});

describe("streaming: events", () => {
  it("sends the user stream an update with the status as a JSON string, then its deletion", async () => {
    const client = await connect("");
    client.send({ type: "subscribe", stream: "user" });
    await client.sync();
    const status = await post({ status: "hello stream", visibility: "private" });
    const update = await client.next((m) => m.event === "update");
    expect(update.stream).toEqual(["user"]);
    expect(typeof update.payload).toBe("string");
    const entity = JSON.parse(update.payload ?? "") as Record<string, unknown>;
    expect(entity).toMatchObject({ id: status.id, visibility: "private" });
    expect(entity.content).toContain("hello stream");
    expect((entity.account as { username: string }).username).toBe("alice");

    const edited = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "hello edited",
    });
    expect(edited.status).toBe(200);
    const change = await client.next((m) => m.event === "status.update");
    expect(change.stream).toEqual(["user"]);
    expect(JSON.parse(change.payload ?? "")).toMatchObject({ id: status.id });
    expect(JSON.parse(change.payload ?? "").content).toContain("hello edited");

    expect((await api(server, token, "DELETE", `/api/v1/statuses/${status.id}`)).status).toBe(200);
    const deletion = await client.next((m) => m.event === "delete");
    expect(deletion).toEqual({ stream: ["user"], event: "delete", payload: status.id });
    await client.close();
  });

  it("sends notifications to user and user:notification", async () => {
    const client = await connect("stream=user");
    client.send({ type: "subscribe", stream: "user:notification" });
    await client.sync();
    const status = await post({ status: "like me" });
    expect(receiveLike(server.context, bob, status.uri, `${bob.uri}#likes/${status.id}`)).toBe(true);
    const onUser = await client.next((m) => m.event === "notification" && m.stream?.[0] === "user");
    const onNotifications = await client.next((m) => m.stream?.[0] === "user:notification");
    expect(onNotifications.event).toBe("notification");
    expect(onNotifications.payload).toBe(onUser.payload);
    const notification = JSON.parse(onUser.payload ?? "") as Record<string, unknown>;
    expect(notification).toMatchObject({ type: "favourite", status: { id: status.id } });
    expect((notification.account as { acct: string }).acct).toBe("bob@remote.example");
    await client.close();
  });

  it("leaves notifications out of the user stream when the token may not read them", async () => {
    const statusesOnly = issueToken(server, "read:statuses write:statuses");
    const client = await connect("stream=user", { token: statusesOnly });
    const status = await post({ status: "like me quietly" });
    await client.next((m) => m.event === "update" && JSON.parse(m.payload ?? "").id === status.id);
    receiveLike(server.context, bob, status.uri, `${bob.uri}#likes/${status.id}`);
    await sleep(100);
    expect(client.messages.filter((m) => m.event === "notification")).toEqual([]);
    await client.close();
  });

  it("sends public and hashtag streams a public status with the tag, never a private one", async () => {
    const client = await connect("stream=public");
    for (const stream of ["public:local", "public:remote", "public:media"])
      client.send({ type: "subscribe", stream });
    client.send({ type: "subscribe", stream: "hashtag", tag: "Cats" });
    client.send({ type: "subscribe", stream: "hashtag:local", tag: "cats" });
    client.send({ type: "subscribe", stream: "hashtag", tag: "dogs" });
    client.send({ type: "subscribe", stream: "direct" });
    await client.sync();
    const hidden = await post({ status: "secret #cats", visibility: "private" });
    const unlisted = await post({ status: "quiet #cats", visibility: "unlisted" });
    const shown = await post({ status: "hello #cats" });
    const ofShown = (m: Message) => m.event === "update" && JSON.parse(m.payload ?? "").id === shown.id;
    await client.next((m) => ofShown(m) && m.stream?.[0] === "hashtag:local");
    await sleep(50);
    const streams = client.messages.filter(ofShown).map((m) => m.stream);
    expect(streams).toEqual([["public"], ["public:local"], ["hashtag", "Cats"], ["hashtag:local", "cats"]]);
    const leaked = client.messages.filter((m) =>
      [hidden.id, unlisted.id].includes(JSON.parse(m.payload ?? "{}").id),
    );
    expect(leaked).toEqual([]);

    // A remote public status reaches public and public:remote, not the local streams.
    const remoteId = remoteNote(server, bob, { hashtags: ["cats"] });
    const ofRemote = (m: Message) => m.event === "update" && JSON.parse(m.payload ?? "").id === remoteId;
    await client.next((m) => ofRemote(m) && m.stream?.[0] === "hashtag");
    await sleep(50);
    expect(client.messages.filter(ofRemote).map((m) => m.stream)).toEqual([
      ["public"],
      ["public:remote"],
      ["hashtag", "Cats"],
    ]);

    // Deleting the public status reaches the streams that showed it.
    await api(server, token, "DELETE", `/api/v1/statuses/${shown.id}`);
    await client.next((m) => m.event === "delete" && m.stream?.[0] === "hashtag:local");
    expect(client.messages.filter((m) => m.event === "delete").map((m) => m.stream?.[0])).toEqual([
      "public",
      "public:local",
      "hashtag",
      "hashtag:local",
    ]);
    await client.close();
  });

  it("stops sending a stream after unsubscribe", async () => {
    const client = await connect("stream=user");
    client.send({ type: "subscribe", stream: "public" });
    client.send({ type: "subscribe", stream: "hashtag", tag: "birds" });
    client.send({ type: "unsubscribe", stream: "public" });
    client.send({ type: "unsubscribe", stream: "hashtag", tag: "Birds" });
    await client.sync();
    const status = await post({ status: "after unsubscribing #birds" });
    await client.next((m) => m.event === "update" && JSON.parse(m.payload ?? "").id === status.id);
    await sleep(50);
    expect(client.messages.filter((m) => m.event === "update").map((m) => m.stream)).toEqual([["user"]]);
    await client.close();
  });

  it("hides muted and blocked accounts", async () => {
    const client = await connect("stream=user");
    client.send({ type: "subscribe", stream: "public:remote" });
    await client.sync();
    const seen = remoteNote(server, bob);
    await client.next((m) => m.stream?.[0] === "public:remote" && JSON.parse(m.payload ?? "").id === seen);
    expect(client.events("user", "update").map((m) => JSON.parse(m.payload ?? "").id)).toContain(seen);

    const db = server.context.store.db;
    db.insert(mutes)
      .values({
        id: newId(),
        accountId: local.id,
        targetId: bob.id,
        hideNotifications: true,
        createdAt: Date.now(),
      })
      .run();
    const muted = remoteNote(server, bob);
    const sentinel = await post({ status: "sentinel" });
    await client.next((m) => m.stream?.[0] === "user" && JSON.parse(m.payload ?? "").id === sentinel.id);
    await sleep(50);
    expect(client.messages.filter((m) => JSON.parse(m.payload ?? "{}").id === muted)).toEqual([]);
    db.delete(mutes).where(eq(mutes.targetId, bob.id)).run();
    await client.close();
  });
});

describe("streaming: Server-Sent Events", () => {
  it("streams a public status as an event", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/streaming/hashtag?tag=sse&access_token=${token}`, {
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const status = await post({ status: "streamed #sse" });
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes("event: update")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const data = text.split("\n").find((line) => line.startsWith("data: "));
    expect(JSON.parse(data?.slice(6) ?? "")).toMatchObject({ id: status.id });
    const hub = hubFor(server.context);
    const before = hub.size;
    abort.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 100 && hub.size === before; i++) await sleep(10);
    expect(hub.size).toBe(before - 1);
  });

  it("refuses a stream without a token", async () => {
    const res = await fetch(`${server.url}/api/v1/streaming/user`);
    expect(res.status).toBe(401);
    const bad = await fetch(`${server.url}/api/v1/streaming/user?access_token=nope`);
    expect(bad.status).toBe(401);
  });
});

describe("streaming: limits and liveness", () => {
  it("caps connections and subscriptions", async () => {
    const hub = hubFor(server.context);
    const saved = { ...hub.limits };
    try {
      hub.limits.maxConnections = hub.size + 1;
      const client = await connect("");
      await expect(connect("")).rejects.toThrow(/503/);
      hub.limits.maxSubscriptions = 2;
      for (const tag of ["a", "b", "c"]) client.send({ type: "subscribe", stream: "hashtag", tag });
      await client.sync();
      expect(client.messages[0]).toEqual({ error: "Too many subscriptions", status: 429 });
      await client.close();
    } finally {
      Object.assign(hub.limits, saved);
    }
  });

  it("drops a connection that does not answer pings, and one whose token was revoked", async () => {
    const hub = hubFor(server.context);
    const silent = await connect("stream=user", { autoPong: false });
    const revocable = issueToken(server, "read");
    const revoked = await connect("stream=user", { token: revocable });
    server.context.store.db
      .update(oauthTokens)
      .set({ revokedAt: Date.now() })
      .where(eq(oauthTokens.scopes, "read"))
      .run();
    hub.heartbeat();
    expect((await revoked.closed).code).toBe(1008);
    await sleep(50);
    hub.heartbeat();
    expect((await silent.closed).code).toBe(1006);
  });

  it("drops a client whose unsent output exceeds the bound", async () => {
    const hub = hubFor(server.context);
    const sent: string[] = [];
    let terminated = false;
    const transport: Transport = {
      send: (_label, event) => void sent.push(event),
      bufferedAmount: () => hub.limits.maxBufferedBytes + 1,
      ping: () => {},
      close: () => {},
      terminate: () => {
        terminated = true;
      },
    };
    expect(hub.reserve()).toBe(true);
    const access = hub.authorize({
      tokenId: "x",
      appId: "x",
      userId: findLocalUser(server.context.store.db)!.user.id,
      scopes: ["read"],
    });
    if ("error" in access) throw new Error(access.error);
    const client = hub.add(transport, access);
    expect(hub.subscribe(client, parseStream("user", undefined) as never)).toBeNull();
    await post({ status: "too much" });
    await sleep(100);
    expect(terminated).toBe(true);
    expect(sent).toEqual([]);
    expect(client.closed).toBe(true);
  });
});

describe("streaming: memory", () => {
  it("imports ws only dynamically, in the upgrade path", () => {
    const dir = join(import.meta.dirname, "..", "src");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const staticImports: string[] = [];
    const dynamicImports: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(dir, file), "utf8");
      for (const line of text.split("\n")) {
        if (/from\s+"ws"/.test(line) && !/^\s*import\s+type\b/.test(line))
          staticImports.push(`${file}: ${line}`);
        if (/import\("ws"\)/.test(line)) dynamicImports.push(file);
      }
    }
    expect(staticImports).toEqual([]);
    expect(dynamicImports).toEqual([join("http", "mastodon", "streaming", "websocket.ts")]);
  });
});

describe("streaming: shutdown", () => {
  it("closes the sockets with 1001 when the server stops", async () => {
    const client = await connect("stream=user");
    const stopped = server.stop();
    expect((await client.closed).code).toBe(1001);
    await stopped;
  });
});
