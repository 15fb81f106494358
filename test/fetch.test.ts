import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOutboundClient,
  FetchError,
  type FetchErrorCode,
  type OutboundClientOptions,
  type SignableRequest,
  wrenUserAgent,
} from "../src/federation/fetch.js";
import { VERSION } from "../src/version.js";

const UA = wrenUserAgent("http://wren.test");

let server1: Server; // 127.0.0.1
let server2: Server; // 127.0.0.2
let silent: TcpServer; // accepts TCP connections and never says a word
let base1: string;
let base2: string;
let silentPort: number;
const sockets = new Set<Socket>();

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function handler(name: string) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    const body = await readAll(req);
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(value));
    };
    const echo = () => json(200, { server: name, method: req.method, path, headers: req.headers, body });

    if (path === "/echo") return echo();
    if (path === "/conn")
      return json(200, { port: req.socket.remotePort, connection: req.headers.connection });
    if (path === "/text") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      return res.end("héllo");
    }
    const chain = /^\/chain\/(\d+)$/.exec(path);
    if (chain) {
      const n = Number(chain[1]);
      if (n === 0) return echo();
      res.writeHead(302, { location: `/chain/${n - 1}` });
      return res.end();
    }
    const status = /^\/status\/(\d+)$/.exec(path);
    if (status) {
      const to = url.searchParams.get("to") ?? "/echo";
      res.writeHead(Number(status[1]), to === "none" ? {} : { location: to });
      return res.end("redirecting");
    }
    if (path === "/auth") {
      if (typeof req.headers.signature !== "string") return json(401, { error: "sign your requests" });
      return echo();
    }
    if (path === "/sized") {
      const size = Number(url.searchParams.get("n"));
      res.writeHead(200, { "content-length": String(size) });
      return res.end(Buffer.alloc(size, 0x61));
    }
    if (path === "/chunked") {
      const size = Number(url.searchParams.get("n"));
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let sent = 0; sent < size; sent += 16_384)
        res.write(Buffer.alloc(Math.min(16_384, size - sent), 0x62));
      return res.end();
    }
    if (path === "/gzip") {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      return res.end(gzipSync(JSON.stringify({ zipped: true, accept: req.headers["accept-encoding"] })));
    }
    if (path === "/gzip-bomb") {
      res.writeHead(200, { "content-encoding": "gzip" });
      return res.end(gzipSync(Buffer.alloc(20 * 1024 * 1024)));
    }
    if (path === "/bad-gzip") {
      res.writeHead(200, { "content-encoding": "gzip" });
      return res.end("this is not gzip at all");
    }
    if (path === "/weird-encoding") {
      res.writeHead(200, { "content-encoding": "zstd" });
      return res.end("?");
    }
    if (path === "/deep") {
      const depth = Number(url.searchParams.get("n"));
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    }
    if (path === "/not-json") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end("<html>nope</html>");
    }
    if (path === "/hang") return; // never answers
    if (path === "/trickle") {
      res.writeHead(200, { "content-type": "text/plain" });
      const t = setInterval(() => res.write("."), 50);
      res.on("close", () => clearInterval(t));
      return;
    }
    if (path === "/truncated") {
      res.writeHead(200, { "content-length": "1000" });
      res.write("only a part");
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.writeHead(404);
    res.end("not found");
  };
}

function listen(server: Server | TcpServer, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no port"));
      resolve(addr.port);
    });
  });
}

beforeAll(async () => {
  server1 = createServer(handler("one"));
  server2 = createServer(handler("two"));
  silent = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  for (const s of [server1, server2]) {
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
  }
  base1 = `http://127.0.0.1:${await listen(server1, "127.0.0.1")}`;
  base2 = `http://127.0.0.2:${await listen(server2, "127.0.0.2")}`;
  silentPort = await listen(silent, "127.0.0.1");
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(
    [server1, server2, silent].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
});

function client(overrides: Partial<OutboundClientOptions> = {}) {
  return createOutboundClient({ userAgent: UA, allowHttp: true, allowPrivateAddresses: true, ...overrides });
}

/** Only 127.0.0.1 counts as allowed: 127.0.0.2 plays the internal host. */
const only127001 = (ip: string) => ip === "127.0.0.1";

async function failure(promise: Promise<unknown>): Promise<FetchError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FetchError) return err;
    throw err;
  }
  throw new Error("expected the request to fail");
}

async function expectCode(promise: Promise<unknown>, code: FetchErrorCode): Promise<FetchError> {
  const err = await failure(promise);
  expect(err.code, err.message).toBe(code);
  return err;
}

interface Echo {
  server: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

describe("address checks", () => {
  it("refuses a loopback literal by default and allows it when private addresses are allowed", async () => {
    const err = await expectCode(
      client({ allowPrivateAddresses: false }).request({ url: `${base1}/echo` }),
      "private_address",
    );
    expect(err.address).toBe("127.0.0.1");
    expect(err.addressKind).toBe("loopback");

    const res = await client({ allowPrivateAddresses: true }).request({ url: `${base1}/echo` });
    expect(res.status).toBe(200);
    expect((res.json() as Echo).server).toBe("one");
  });

  it("refuses a host name that resolves to a private address", async () => {
    const port = new URL(base1).port;
    const err = await expectCode(
      client({ allowPrivateAddresses: false }).request({ url: `http://localhost:${port}/echo` }),
      "private_address",
    );
    expect(err.message).toMatch(/localhost resolves to/);
    expect(["loopback"]).toContain(err.addressKind);

    const res = await client().request({ url: `http://localhost:${port}/echo` });
    expect((res.json() as Echo).headers.host).toBe(`localhost:${port}`);
  });

  it("refuses IPv6 and encoded forms of loopback in URLs", async () => {
    const port = new URL(base1).port;
    const c = client({ allowPrivateAddresses: false });
    for (const url of [
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://[64:ff9b::127.0.0.1]:${port}/`,
      `http://[2002:7f00:1::]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`,
      `http://0:${port}/`,
      `http://[fe80::1]:${port}/`,
      `https://169.254.169.254/latest/meta-data/`,
      `https://10.0.0.1/`,
      `https://100.64.0.1/`,
      `https://192.168.0.1/`,
      `https://[fd00::1]/`,
    ]) {
      await expectCode(c.request({ url }), "private_address");
    }
  });

  it("never connects to unspecified or broadcast addresses, even when private addresses are allowed", async () => {
    const c = client({ allowPrivateAddresses: true });
    await expectCode(c.request({ url: "http://0.0.0.0:1/" }), "private_address");
    await expectCode(c.request({ url: "http://[::]:1/" }), "private_address");
    await expectCode(c.request({ url: "http://255.255.255.255:1/" }), "private_address");
    await expectCode(c.request({ url: "http://224.0.0.1:1/" }), "private_address");
  });

  it("checks every resolved address, not only the first", async () => {
    const c = client({
      allowPrivateAddresses: false,
      resolve: async () => [
        { address: "93.184.215.14", family: 4 },
        { address: "10.1.2.3", family: 4 },
      ],
    });
    const err = await expectCode(c.request({ url: "https://mixed.example/" }), "private_address");
    expect(err.address).toBe("10.1.2.3");
  });

  it("connects to the address it checked, resolving once per hop", async () => {
    const port = new URL(base1).port;
    const asked: string[] = [];
    const c = client({
      isAddressAllowed: only127001,
      resolve: async (host) => {
        asked.push(host);
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    // peer.invalid has no DNS record: the socket can only get there through the checked answer.
    const res = await c.request({ url: `http://peer.invalid:${port}/echo` });
    expect(res.status).toBe(200);
    expect((res.json() as Echo).headers.host).toBe(`peer.invalid:${port}`);
    expect(asked).toEqual(["peer.invalid"]);
  });

  it("reports names that do not resolve", async () => {
    const err = await expectCode(client().request({ url: "https://does-not-exist.invalid/" }), "dns");
    expect(err.message).toMatch(/does-not-exist\.invalid/);
    await expectCode(client({ resolve: async () => [] }).request({ url: "https://empty.example/" }), "dns");
  });
});

describe("schemes", () => {
  it("refuses http unless allowed", async () => {
    await expectCode(client({ allowHttp: false }).request({ url: `${base1}/echo` }), "bad_scheme");
    const res = await client({ allowHttp: true }).request({ url: `${base1}/echo` });
    expect(res.status).toBe(200);
  });

  it("refuses other schemes and bad URLs", async () => {
    const c = client();
    await expectCode(c.request({ url: "file:///etc/passwd" }), "bad_scheme");
    await expectCode(c.request({ url: "ftp://example.com/" }), "bad_scheme");
    await expectCode(c.request({ url: "data:text/plain,hi" }), "bad_scheme");
    await expectCode(c.request({ url: "not a url" }), "bad_url");
  });
});

describe("redirects", () => {
  it("follows up to 5 and exposes the final URL", async () => {
    const res = await client().request({ url: `${base1}/chain/5` });
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(true);
    expect(res.url.href).toBe(`${base1}/chain/0`);
    const direct = await client().request({ url: `${base1}/chain/0` });
    expect(direct.redirected).toBe(false);
  });

  it("refuses a sixth", async () => {
    await expectCode(client().request({ url: `${base1}/chain/6` }), "too_many_redirects");
  });

  it("re-checks the address of every hop", async () => {
    const c = client({ isAddressAllowed: only127001 });
    expect((await c.request({ url: `${base1}/echo` })).status).toBe(200);
    await expectCode(c.request({ url: `${base2}/echo` }), "private_address");
    const to = encodeURIComponent(`${base2}/echo`);
    const err = await expectCode(c.request({ url: `${base1}/status/302?to=${to}` }), "private_address");
    expect(err.address).toBe("127.0.0.2");
    expect(err.url).toBe(`${base2}/echo`);

    const both = client({ isAddressAllowed: (ip) => ip === "127.0.0.1" || ip === "127.0.0.2" });
    const res = await both.request({ url: `${base1}/status/302?to=${to}` });
    expect(res.url.href).toBe(`${base2}/echo`);
    expect((res.json() as Echo).server).toBe("two");
  });

  it("re-checks the scheme of every hop", async () => {
    const c = client();
    await expectCode(
      c.request({ url: `${base1}/status/302?to=${encodeURIComponent("file:///etc/passwd")}` }),
      "bad_scheme",
    );
    await expectCode(
      c.request({ url: `${base1}/status/301?to=${encodeURIComponent("gopher://example.com/")}` }),
      "bad_scheme",
    );
  });

  it("drops credentials on a cross-origin hop", async () => {
    const c = client();
    const to = encodeURIComponent(`${base2}/echo`);
    const res = await c.request({
      url: `${base1}/status/302?to=${to}`,
      headers: { authorization: "Bearer secret", accept: "application/activity+json" },
    });
    const echo = res.json() as Echo;
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers.accept).toBe("application/activity+json");

    const same = await c.request({ url: `${base1}/status/302`, headers: { authorization: "Bearer secret" } });
    expect((same.json() as Echo).headers.authorization).toBe("Bearer secret");
  });

  it("turns POST into GET on 301, 302 and 303, and keeps it on 307 and 308", async () => {
    const c = client();
    for (const status of [301, 302, 303]) {
      const res = await c.request({
        method: "POST",
        url: `${base1}/status/${status}`,
        headers: { "content-type": "application/activity+json" },
        body: '{"type":"Follow"}',
      });
      const echo = res.json() as Echo;
      expect(echo.method, String(status)).toBe("GET");
      expect(echo.body).toBe("");
      expect(echo.headers["content-type"]).toBeUndefined();
      expect(echo.headers["content-length"]).toBeUndefined();
    }
    for (const status of [307, 308]) {
      const res = await c.request({
        method: "POST",
        url: `${base1}/status/${status}`,
        headers: { "content-type": "application/activity+json" },
        body: '{"type":"Follow"}',
      });
      const echo = res.json() as Echo;
      expect(echo.method, String(status)).toBe("POST");
      expect(echo.body).toBe('{"type":"Follow"}');
      expect(echo.headers["content-type"]).toBe("application/activity+json");
    }
  });

  it("returns a redirect status without Location as it is", async () => {
    const res = await client().request({ url: `${base1}/status/302?to=none` });
    expect(res.status).toBe(302);
    expect(res.redirected).toBe(false);
    expect(res.text()).toBe("redirecting");
  });
});

describe("timeouts and aborts", () => {
  it("aborts a server that never answers within the total timeout", async () => {
    const start = Date.now();
    const err = await expectCode(client().request({ url: `${base1}/hang`, timeoutMs: 300 }), "timeout");
    expect(Date.now() - start).toBeLessThan(2_000);
    expect(err.message).toMatch(/300 ms/);
  });

  it("counts the body in the total timeout", async () => {
    const start = Date.now();
    await expectCode(client({ timeoutMs: 400 }).request({ url: `${base1}/trickle` }), "timeout");
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  it("has a connect timeout covering the TLS handshake", async () => {
    const start = Date.now();
    const err = await expectCode(
      client({ connectTimeoutMs: 200 }).request({
        url: `https://127.0.0.1:${silentPort}/`,
        timeoutMs: 5_000,
      }),
      "timeout",
    );
    expect(err.message).toMatch(/connect/);
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  it("stops when the caller's signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expectCode(client().request({ url: `${base1}/hang`, signal: controller.signal }), "aborted");
    const already = AbortSignal.abort();
    await expectCode(client().request({ url: `${base1}/echo`, signal: already }), "aborted");
  });

  it("reports a connection refused or cut short as a network error", async () => {
    const closed = createServer();
    const port = await listen(closed, "127.0.0.1");
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expectCode(client().request({ url: `http://127.0.0.1:${port}/` }), "network");
    await expectCode(client().request({ url: `${base1}/truncated` }), "network");
  });
});

describe("size cap", () => {
  it("refuses a declared Content-Length over the cap", async () => {
    await expectCode(client().request({ url: `${base1}/sized?n=2000`, maxBytes: 1000 }), "too_large");
    const ok = await client().request({ url: `${base1}/sized?n=1000`, maxBytes: 1000 });
    expect(ok.body.byteLength).toBe(1000);
  });

  it("counts the bytes of a body without Content-Length", async () => {
    await expectCode(client({ maxBytes: 50_000 }).request({ url: `${base1}/chunked?n=60000` }), "too_large");
    const ok = await client({ maxBytes: 50_000 }).request({ url: `${base1}/chunked?n=50000` });
    expect(ok.body.byteLength).toBe(50_000);
    expect(ok.body.every((b) => b === 0x62)).toBe(true);
  });

  it("defaults to 1 MiB, and a request may raise it", async () => {
    await expectCode(client().request({ url: `${base1}/chunked?n=${1024 * 1024 + 1}` }), "too_large");
    const res = await client().request({ url: `${base1}/chunked?n=${2 * 1024 * 1024}`, maxBytes: 4 << 20 });
    expect(res.body.byteLength).toBe(2 * 1024 * 1024);
  });

  it("decodes gzip and caps the decoded size", async () => {
    const res = await client().request({ url: `${base1}/gzip` });
    expect(res.json()).toEqual({ zipped: true, accept: "gzip, deflate, br" });
    await expectCode(client().request({ url: `${base1}/gzip-bomb` }), "too_large");
    await expectCode(client().request({ url: `${base1}/bad-gzip` }), "bad_encoding");
    await expectCode(client().request({ url: `${base1}/weird-encoding` }), "bad_encoding");
  });
});

describe("requests", () => {
  it("sends the User-Agent", async () => {
    expect(UA).toBe(`Wren/${VERSION} (+http://wren.test)`);
    const echo = (await client().request({ url: `${base1}/echo` })).json() as Echo;
    expect(echo.headers["user-agent"]).toBe(UA);
  });

  it("sends a POST body with its length", async () => {
    const res = await client().request({
      method: "POST",
      url: `${base1}/echo`,
      headers: { "content-type": "application/activity+json" },
      body: new TextEncoder().encode('{"type":"Create","content":"é"}'),
    });
    const echo = res.json() as Echo;
    expect(echo.method).toBe("POST");
    expect(echo.body).toBe('{"type":"Create","content":"é"}');
    expect(echo.headers["content-length"]).toBe(String(Buffer.byteLength(echo.body)));
    expect(echo.headers["content-type"]).toBe("application/activity+json");
  });

  it("refuses a body on GET", async () => {
    await expect(client().request({ url: `${base1}/echo`, body: "x" })).rejects.toThrow(TypeError);
  });

  it("supports HEAD", async () => {
    const res = await client().request({ method: "HEAD", url: `${base1}/text` });
    expect(res.status).toBe(200);
    expect(res.body.byteLength).toBe(0);
  });

  it("returns error statuses, headers and text", async () => {
    const res = await client().request({ url: `${base1}/nowhere` });
    expect(res.status).toBe(404);
    expect(res.ok).toBe(false);
    const text = await client().request({ url: `${base1}/text` });
    expect(text.ok).toBe(true);
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(text.text()).toBe("héllo");
  });

  it("parses JSON with bounded depth", async () => {
    const c = client();
    expect((await c.request({ url: `${base1}/deep?n=64` })).json()).toBeInstanceOf(Array);
    const deep = await c.request({ url: `${base1}/deep?n=65` });
    const err = (() => {
      try {
        deep.json();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe("bad_json");
    expect(deep.json(100)).toBeInstanceOf(Array);
    const html = await c.request({ url: `${base1}/not-json` });
    expect(() => html.json()).toThrow(FetchError);
  });
});

describe("signing", () => {
  function recordingSigner() {
    const calls: SignableRequest[] = [];
    const signer = async (req: SignableRequest) => {
      calls.push({ ...req, headers: new Headers(req.headers) });
      const headers = new Headers(req.headers);
      headers.set("signature", `keyId="test",target="${req.method} ${req.url.pathname}"`);
      return headers;
    };
    return { calls, signer };
  }

  it("signs every hop when asked to", async () => {
    const { calls, signer } = recordingSigner();
    const res = await client({ signer }).request({ url: `${base1}/chain/2`, sign: true });
    expect(res.signed).toBe(true);
    expect((res.json() as Echo).headers.signature).toBe('keyId="test",target="GET /chain/0"');
    expect(calls.map((c) => c.url.pathname)).toEqual(["/chain/2", "/chain/1", "/chain/0"]);
    const port = new URL(base1).port;
    expect(calls[0]!.headers.get("host")).toBe(`127.0.0.1:${port}`);
    expect(calls[0]!.headers.get("user-agent")).toBe(UA);
  });

  it("gives the signer the body of a POST", async () => {
    const { calls, signer } = recordingSigner();
    await client({ signer }).request({ method: "POST", url: `${base1}/echo`, body: "{}", sign: true });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.method).toBe("POST");
    expect(new TextDecoder().decode(calls[0]!.body!)).toBe("{}");
    expect(calls[0]!.headers.get("content-length")).toBe("2");
  });

  it("retries a GET once, signed, after a 401 when signing is automatic", async () => {
    const { calls, signer } = recordingSigner();
    const c = client({ signer });
    const res = await c.request({ url: `${base1}/auth`, sign: "auto" });
    expect(res.status).toBe(200);
    expect(res.signed).toBe(true);
    expect(calls).toHaveLength(1);

    const plain = await c.request({ url: `${base1}/echo`, sign: "auto" });
    expect(plain.signed).toBe(false);
    expect(calls).toHaveLength(1);

    const unsigned = await c.request({ url: `${base1}/auth` });
    expect(unsigned.status).toBe(401);
    expect(calls).toHaveLength(1);
  });

  it("does not sign without a signer", async () => {
    const res = await client().request({ url: `${base1}/auth`, sign: "auto" });
    expect(res.status).toBe(401);
    await expect(client().request({ url: `${base1}/auth`, sign: true })).rejects.toThrow(TypeError);
  });
});

describe("kept-alive connections", () => {
  interface Conn {
    port: number;
    connection: string;
  }
  const conn = async (c: ReturnType<typeof client>, url: string, keepAlive?: boolean) =>
    (await c.request({ url, keepAlive })).json() as Conn;

  it("keeps a connection open while more requests follow, reuses it, and closes it after the last", async () => {
    const c = client();
    const first = await conn(c, `${base1}/conn`, true);
    const second = await conn(c, `${base1}/conn`, true);
    const last = await conn(c, `${base1}/conn`);
    expect(first.connection).toBe("keep-alive");
    expect(second).toEqual({ port: first.port, connection: "keep-alive" });
    expect(last).toEqual({ port: first.port, connection: "close" });
    expect((await conn(c, `${base1}/conn`)).port).not.toBe(first.port);
  });

  it("opens a connection of its own for each request without the hint", async () => {
    const c = client();
    const a = await conn(c, `${base1}/conn`);
    const b = await conn(c, `${base1}/conn`);
    expect(a.connection).toBe("close");
    expect(b.port).not.toBe(a.port);
  });

  it("keeps no connection of another client, nor one to another host", async () => {
    const a = client();
    const first = await conn(a, `${base1}/conn`, true);
    expect((await conn(client(), `${base1}/conn`)).port).not.toBe(first.port);
    expect((await conn(a, `${base2}/conn`)).port).not.toBe(first.port);
    expect((await conn(a, `${base1}/conn`)).port).toBe(first.port);
  });

  it("keeps at most 16 idle connections over all hosts, and closes idle ones after 2 s", async () => {
    const servers: Server[] = [];
    const open = new Set<Socket>();
    try {
      for (let i = 0; i < 20; i++) {
        const s = createServer(handler(`s${i}`));
        s.on("connection", (socket) => {
          open.add(socket);
          socket.on("close", () => open.delete(socket));
        });
        servers.push(s);
      }
      const ports = await Promise.all(servers.map((s) => listen(s, "127.0.0.1")));
      const c = client();
      for (const port of ports) await conn(c, `http://127.0.0.1:${port}/conn`, true);
      await until(() => open.size === 16);
      // The most recently used are the ones kept.
      const last = await conn(c, `http://127.0.0.1:${ports[19]}/conn`, true);
      const again = await conn(c, `http://127.0.0.1:${ports[19]}/conn`, true);
      expect(again.port).toBe(last.port);
      await until(() => open.size === 0, 4_000);
    } finally {
      for (const socket of open) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
  });

  it("sends a request again on a new connection when the server closed the kept one under it", async () => {
    // Answers the first request of each connection (keeping it open) and drops the connection at the next.
    const seen: string[] = [];
    let connections = 0;
    const flaky = createTcpServer((socket) => {
      const n = ++connections;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      let requests = 0;
      socket.on("data", (chunk) => {
        const text = chunk.toString("latin1");
        if (!/^[A-Z]+ \//.test(text)) return; // the rest of a request already counted
        seen.push(`${n}:${text.split(" ", 2).join(" ")}`);
        if (++requests > 1) return socket.destroy();
        socket.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
      });
    });
    const port = await listen(flaky, "127.0.0.1");
    try {
      const c = client();
      const url = `http://127.0.0.1:${port}/inbox`;
      expect((await c.request({ method: "POST", url, body: "{}", keepAlive: true })).status).toBe(202);
      expect((await c.request({ method: "POST", url, body: "{}", keepAlive: true })).status).toBe(202);
      expect(seen).toEqual(["1:POST /inbox", "1:POST /inbox", "2:POST /inbox"]);
    } finally {
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
