/**
 * What real clients send, sent exactly: Phanpy's popup login (no Cross-Origin-Opener-Policy on the OAuth pages),
 * toot's `resolve=True`, Mastodon.py's trailing slashes, 18-digit ids as JSON numbers and its event-stream
 * reader, and what browsers ask of static files (CORS, a favicon).
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { api, issueToken } from "./helpers/api.js";
import { type FedifyPeer, startFedifyPeer } from "./helpers/fedify-peer.js";
import { Browser, codeFrom, findForm, mustForm } from "./helpers/oauth-flow.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, TEST_PASSWORD, type TestServer } from "./helpers/server.js";

let server: TestServer;
let peer: FedifyPeer;
let token: string;

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  token = issueToken(server);
});

afterAll(async () => {
  await Promise.all([server?.close(), peer?.close()]);
});

type Json = Record<string, unknown>;

/** A request as a client library sends it: the exact path and query, a raw body, the token. */
async function send(
  method: string,
  pathAndQuery: string,
  init: { body?: string; type?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: Json & Json[] }> {
  const headers: Record<string, string> = { ...init.headers };
  const bearer = init.token === undefined ? token : init.token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (init.type) headers["Content-Type"] = init.type;
  const res = await fetch(`${server.url}${pathAndQuery}`, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

async function postStatus(body: Json): Promise<Json> {
  const res = await api(server, token, "POST", "/api/v1/statuses", body);
  expect(res.status).toBe(200);
  return res.json as Json;
}

/** A new status whose id a JavaScript number cannot hold (most 18-digit ids; a few are exact doubles). */
async function statusWithUnsafeId(text: string): Promise<string> {
  for (;;) {
    const id = String((await postStatus({ status: text })).id);
    expect(id).toMatch(/^\d{18}$/);
    if (String(Number(id)) !== id) return id;
  }
}

describe("Phanpy's popup login: the OAuth pages keep window.opener", () => {
  it("sends no Cross-Origin-Opener-Policy from the authorize, login and consent pages, and keeps the rest", async () => {
    const redirectUri = "https://phanpy.social/";
    const registered = await send("POST", "/api/v1/apps", {
      token: null,
      type: "application/json",
      body: JSON.stringify({
        client_name: "Phanpy",
        redirect_uris: redirectUri,
        scopes: "read write follow push",
        website: "https://phanpy.social",
      }),
    });
    expect(registered.status).toBe(200);
    const clientId = String(registered.json.client_id);

    const browser = new Browser(server.origin);
    const query = new URLSearchParams({
      client_id: clientId,
      scope: "read write follow push",
      redirect_uri: redirectUri,
      response_type: "code",
    });
    const loginPage = await browser.get(`/oauth/authorize?${query}`);
    expect(loginPage.status).toBe(200);
    const login = mustForm(loginPage.html, "login");

    // The CSRF check still holds: the form without its token is refused.
    const forged = await browser.submit(
      { ...login, fields: login.fields.filter(([n]) => n !== "csrf_token") },
      {
        username: "alice",
        password: TEST_PASSWORD,
      },
    );
    expect(forged.status).toBe(403);

    const consentPage = await browser.submit(login, { username: "alice", password: TEST_PASSWORD });
    expect(consentPage.status).toBe(200);
    const done = await browser.submit(mustForm(consentPage.html, "consent"), {}, "authorize");
    expect(done.status).toBe(302);
    expect(codeFrom(done.headers.get("location")).code).not.toBe("");

    for (const page of [loginPage, forged, consentPage, done]) {
      const coop = page.headers.get("cross-origin-opener-policy");
      expect(coop === null || coop === "unsafe-none").toBe(true);
    }
    for (const page of [loginPage, consentPage]) {
      const csp = page.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(page.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    }

    // toot opens the same page with a trailing slash.
    const tootPage = await browser.get(`/oauth/authorize/?${query}`);
    expect(tootPage.status).toBe(200);
    expect(tootPage.headers.get("cross-origin-opener-policy")).toBeNull();
    expect(findForm(tootPage.html, "consent")).not.toBeNull();
  });

  it("keeps Cross-Origin-Opener-Policy on the other pages", async () => {
    const res = await fetch(`${server.url}/@alice`, { headers: { Accept: "text/html" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
  });
});

describe("toot's booleans: every spelling Rails accepts", () => {
  it("resolves a remote account with resolve=True on /api/v2/search", async () => {
    const res = await send(
      "GET",
      `/api/v2/search?q=${encodeURIComponent(peer.handle)}&resolve=True&type=accounts`,
    );
    expect(res.status).toBe(200);
    expect((res.json.accounts as Json[]).map((a) => a.acct)).toEqual([peer.handle]);
  });

  it("accepts resolve=True on /api/v1/accounts/search, /api/v1/search and /api/v1/accounts/lookup", async () => {
    const search = await send(
      "GET",
      `/api/v1/accounts/search?q=${encodeURIComponent(peer.handle)}&resolve=True`,
    );
    expect(search.status).toBe(200);
    expect(search.json.map((a) => a.acct)).toEqual([peer.handle]);
    const v1 = await send("GET", "/api/v1/search?q=alice&resolve=True");
    expect(v1.status).toBe(200);
    const lookup = await send("GET", "/api/v1/accounts/lookup?acct=alice&resolve=True");
    expect(lookup.status).toBe(200);
    expect(lookup.json.username).toBe("alice");
    const local = await send("GET", "/api/v1/accounts/search?q=alice&resolve=False&following=False");
    expect(local.status).toBe(200);
    expect(local.json.map((a) => a.username)).toContain("alice");
  });

  it("reads true, false and their other spellings with their meaning, in any case", async () => {
    const me = (await api(server, token, "GET", "/api/v1/accounts/verify_credentials")).json as Json;
    const pinned = await postStatus({ status: "pinned" });
    const other = await postStatus({ status: "not pinned" });
    expect((await api(server, token, "POST", `/api/v1/statuses/${pinned.id}/pin`)).status).toBe(200);
    const ids = async (query: string) => {
      const res = await send("GET", `/api/v1/accounts/${me.id}/statuses?${query}`);
      expect(res.status).toBe(200);
      return res.json.map((s) => s.id);
    };
    for (const yes of ["True", "TRUE", "true", "1", "t", "T", "on", "ON", "yes", "Yes"]) {
      expect(await ids(`pinned=${yes}`), yes).toEqual([pinned.id]);
    }
    for (const no of ["False", "FALSE", "false", "0", "f", "F", "off", "Off", "no", "NO"]) {
      expect(await ids(`pinned=${no}`), no).toContain(other.id);
    }
    // Forms, as Mastodon.py and older apps post them.
    const sensitive = await send("POST", "/api/v1/statuses", {
      type: "application/x-www-form-urlencoded",
      body: "status=careful&sensitive=True&spoiler_text=",
    });
    expect(sensitive.status).toBe(200);
    expect(sensitive.json.sensitive).toBe(true);
    const plain = await send("POST", "/api/v1/statuses", {
      type: "application/x-www-form-urlencoded",
      body: "status=plain&sensitive=no",
    });
    expect(plain.json.sensitive).toBe(false);
  });

  it("refuses a value that is no boolean", async () => {
    const res = await send("GET", "/api/v2/search?q=alice&resolve=maybe");
    expect(res.status).toBe(422);
    expect(String(res.json.error)).toContain("resolve");
  });
});

describe("Mastodon.py's trailing slashes", () => {
  it("answers GET /api/v1/instance/ with the instance and its version", async () => {
    const res = await send("GET", "/api/v1/instance/", { token: null });
    expect(res.status).toBe(200);
    expect(String(res.json.version)).toMatch(/^4\.\d+\.\d+/);
    const v2 = await send("GET", "/api/v2/instance/", { token: null });
    expect(v2.status).toBe(200);
    expect(v2.json.domain).toBe(server.domain);
  });

  it("ignores a trailing slash on reads, writes with a body, uploads, OAuth and well-known routes", async () => {
    const created = await send("POST", "/api/v1/statuses/", {
      type: "application/json",
      body: JSON.stringify({ status: "posted with a slash", visibility: "unlisted" }),
    });
    expect(created.status).toBe(200);
    expect(created.json.visibility).toBe("unlisted");
    const shown = await send("GET", `/api/v1/statuses/${created.json.id}/`);
    expect(shown.status).toBe(200);
    expect(shown.json.content).toContain("posted with a slash");
    const home = await send("GET", "/api/v1/timelines/home/?limit=1");
    expect(home.status).toBe(200);
    expect(home.json).toHaveLength(1);

    // The upload limit, not the small-body one, applies to /api/v2/media/.
    const form = new FormData();
    form.append(
      "file",
      new Blob([new Uint8Array(await makePng(1200, 1200))], { type: "image/png" }),
      "a.png",
    );
    form.append("padding", "x".repeat(200_000));
    const media = await fetch(`${server.url}/api/v2/media/`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    expect([200, 202]).toContain(media.status);

    const app = await send("POST", "/api/v1/apps/", {
      token: null,
      type: "application/x-www-form-urlencoded",
      body: "client_name=Mastodon.py&scopes=read&redirect_uris=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob",
    });
    expect(app.status).toBe(200);
    const grant = await send("POST", "/oauth/token/", {
      token: null,
      type: "application/x-www-form-urlencoded",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: String(app.json.client_id),
        client_secret: String(app.json.client_secret),
      }).toString(),
    });
    expect(grant.status).toBe(200);
    expect(grant.json.token_type).toBe("Bearer");

    const webfinger = await send("GET", `/.well-known/webfinger/?resource=acct:alice@${server.domain}`, {
      token: null,
    });
    expect(webfinger.status).toBe(200);
    expect(webfinger.json.subject).toBe(`acct:alice@${server.domain}`);
    const nodeinfo = await send("GET", "/.well-known/nodeinfo/", { token: null });
    expect(nodeinfo.status).toBe(200);

    // A wrong method is still told apart from a missing route.
    const wrong = await send("DELETE", "/api/v1/instance/");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("GET");
  });

  it("streams below /api/v1/streaming/ with a slash, over Server-Sent Events and WebSocket", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/streaming/user/?access_token=${token}`, {
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    abort.abort();
    await res.body?.cancel().catch(() => {});

    const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/api/v1/streaming/?access_token=${token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const subscribed = new Promise<Json>((resolve) =>
      ws.on("message", (data) => resolve(JSON.parse(String(data)))),
    );
    ws.send(JSON.stringify({ type: "subscribe", stream: "user" }));
    const status = await postStatus({ status: "over the socket" });
    expect(await subscribed).toMatchObject({ stream: ["user"], event: "update" });
    expect(JSON.parse(String((await subscribed).payload)).id).toBe(status.id);
    ws.close();
  });
});

describe("Mastodon.py's ids as JSON numbers", () => {
  it("replies to the status an 18-digit in_reply_to_id names, not to the one its double rounds to", async () => {
    const parent = await statusWithUnsafeId("the parent");
    const res = await send("POST", "/api/v1/statuses", {
      type: "application/json",
      body: `{"status": "a reply by number", "in_reply_to_id": ${parent}, "visibility": "public"}`,
    });
    expect(res.status).toBe(200);
    expect(res.json.in_reply_to_id).toBe(parent);
  });

  it("replies with a poll to an id sent as a number", async () => {
    const parent = await statusWithUnsafeId("the parent of a poll");
    const res = await send("POST", "/api/v1/statuses", {
      type: "application/json",
      body: `{"status": "which?", "in_reply_to_id": ${parent}, "poll": {"options": ["this", "that"], "expires_in": 3600, "multiple": false}}`,
    });
    expect(res.status).toBe(200);
    expect(res.json.in_reply_to_id).toBe(parent);
    expect((res.json.poll as Json).options).toHaveLength(2);
    expect((res.json.poll as Json).multiple).toBe(false);
  });

  it("attaches media whose ids are sent as numbers", async () => {
    let mediaId = "";
    while (mediaId === "" || String(Number(mediaId)) === mediaId) {
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(await makePng(8, 8))], { type: "image/png" }), "a.png");
      const res = await fetch(`${server.url}/api/v2/media`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body: form,
      });
      expect([200, 202]).toContain(res.status);
      mediaId = String(((await res.json()) as Json).id);
    }
    const res = await send("POST", "/api/v1/statuses", {
      type: "application/json",
      body: `{"status": "with a picture", "media_ids": [${mediaId}], "sensitive": false}`,
    });
    expect(res.status).toBe(200);
    expect((res.json.media_attachments as Json[]).map((m) => m.id)).toEqual([mediaId]);
  });

  it("stores every digit of a marker's last_read_id", async () => {
    const id = await statusWithUnsafeId("read up to here");
    const res = await send("POST", "/api/v1/markers", {
      type: "application/json",
      body: `{"home": {"last_read_id": ${id}}}`,
    });
    expect(res.status).toBe(200);
    expect((res.json.home as Json).last_read_id).toBe(id);
    const read = await send("GET", "/api/v1/markers?timeline[]=home");
    expect((read.json.home as Json).last_read_id).toBe(id);
  });

  it("subscribes over WebSocket to a list whose id is sent as a number", async () => {
    const list = await send("POST", "/api/v1/lists", {
      type: "application/json",
      body: '{"title": "by number"}',
    });
    expect(list.status).toBe(200);
    const listId = list.json.id as string;
    expect(Number.isSafeInteger(Number(listId))).toBe(false);
    const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/api/v1/streaming?access_token=${token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const first = new Promise<Json>((resolve) =>
      ws.once("message", (data) => resolve(JSON.parse(String(data)))),
    );
    // The list is found (an id rounded by a double would be unknown: an error would come first).
    ws.send(`{"type": "subscribe", "stream": "list", "list": ${listId}}`);
    ws.send(JSON.stringify({ type: "subscribe", stream: "user" }));
    const status = await postStatus({ status: "after the list subscription" });
    const message = await first;
    expect(message).toMatchObject({ stream: ["user"], event: "update" });
    expect(JSON.parse(String(message.payload)).id).toBe(status.id);
    ws.close();
  });

  it("keeps small numbers numbers and refuses broken JSON", async () => {
    const res = await send("POST", "/api/v1/statuses", {
      type: "application/json",
      body: '{"status": "1234567890123456789 in the text", "poll": {"options": ["a", "b"], "expires_in": 600}}',
    });
    expect(res.status).toBe(200);
    expect(res.json.content).toContain("1234567890123456789");
    const broken = await send("POST", "/api/v1/markers", {
      type: "application/json",
      body: '{"home": {"last_read_id": 123456789012345678901234}',
    });
    expect(broken.status).toBe(400);
  });
});

describe("Mastodon.py's event-stream reader", () => {
  it("gets ':)' and one newline first, then the events with no empty event between", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/streaming/user?access_token=${token}`, {
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe(":)\n");

    const status = await postStatus({ status: "to the event stream" });
    while (!text.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const [first = ""] = text.split("\n\n");
    const lines = first.split("\n");
    expect(lines[0]).toBe(":)");
    expect(lines[1]).toBe("event: update");
    expect(JSON.parse((lines[2] ?? "").replace(/^data: /, "")).id).toBe(status.id);
    abort.abort();
    await reader.cancel().catch(() => {});
  });
});

describe("static files for browsers", () => {
  it("serves the default avatar and header with Access-Control-Allow-Origin: *", async () => {
    const me = (await api(server, token, "GET", "/api/v1/accounts/verify_credentials")).json as Json;
    for (const url of [String(me.avatar), String(me.header)]) {
      expect(url).toMatch(/\/static\//);
      const res = await fetch(url, { headers: { Origin: "https://phanpy.social" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("content-type")).toBe("image/png");
    }
  });

  it("serves /favicon.ico: an icon with caching headers", async () => {
    const res = await fetch(`${server.url}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/x-icon");
    expect(res.headers.get("cache-control")).toMatch(/public, max-age=\d+/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // ICONDIR: reserved 0, type 1 (icon), one image; its data is a PNG.
    expect([...bytes.subarray(0, 6)]).toEqual([0, 0, 1, 0, 1, 0]);
    const offset = bytes.readUInt32LE(18);
    const image = await sharp(bytes.subarray(offset, offset + bytes.readUInt32LE(14))).metadata();
    expect(image).toMatchObject({ format: "png", width: 32, height: 32 });
  });
});
