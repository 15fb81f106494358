/**
 * Wren's one outbound HTTP client: WebFinger, actor and object fetches, deliveries and remote
 * media all go through `createOutboundClient(...).request()`.
 *
 * Guarantees, hop by hop (redirects are followed here, never by a lower layer):
 * - https only, unless the client allows http;
 * - the host name is resolved here and every address it resolves to is checked against the
 *   non-public ranges of `./fetch/address.ts`; the socket then connects to one of exactly those
 *   addresses (a `lookup` that answers with them), so a second DNS answer cannot slip in;
 * - a connect timeout, a total timeout over all hops, and a byte cap counted while streaming
 *   (after decompression, whatever Content-Length says);
 * - connections are kept alive briefly and reused by the same client only, per host and port (see
 *   `./fetch/pool.ts`), so a reused socket is connected to an address checked when it was opened;
 * - no cache, no cookies.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { pipeline, type Readable, Transform } from "node:stream";
import zlib from "node:zlib";
import { VERSION } from "../version.js";
import { type AddressKind, classifyAddress, NEVER_ALLOWED_KINDS } from "./fetch/address.js";
import { DEFAULT_MAX_JSON_DEPTH, JsonParseError, parseJsonBounded } from "./fetch/json.js";
import { type ConnectionPool, createConnectionPool } from "./fetch/pool.js";

export {
  type AddressKind,
  classifyAddress,
  isPublicAddress,
  NEVER_ALLOWED_KINDS,
  parseIPv4,
  parseIPv6,
} from "./fetch/address.js";
export { DEFAULT_MAX_JSON_DEPTH, JsonParseError, jsonNestingDepth, parseJsonBounded } from "./fetch/json.js";

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 5;

export type FetchErrorCode =
  /** The URL does not parse, or a redirect's Location does not. */
  | "bad_url"
  /** Not https (or http when allowed). */
  | "bad_scheme"
  /** The host is, or resolves to, an address that is not allowed. */
  | "private_address"
  /** The host name does not resolve. */
  | "dns"
  | "too_many_redirects"
  /** The connect timeout or the total timeout passed. */
  | "timeout"
  /** The caller's signal aborted the request. */
  | "aborted"
  /** The body is larger than the byte cap. */
  | "too_large"
  /** The body uses a Content-Encoding this client cannot decode, or does not decode. */
  | "bad_encoding"
  /** Connection refused or reset, TLS failure, malformed response… */
  | "network"
  /** `OutboundResponse.json()` on a body that is not JSON or nests too deeply. */
  | "bad_json";

export class FetchError extends Error {
  override readonly name = "FetchError";
  /** The URL of the hop that failed, when known. */
  readonly url: string | undefined;
  /** For "private_address": the refused address and what it is. */
  readonly address: string | undefined;
  readonly addressKind: AddressKind | undefined;

  constructor(
    readonly code: FetchErrorCode,
    message: string,
    details: { url?: URL | string; address?: string; addressKind?: AddressKind; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.url = details.url === undefined ? undefined : String(details.url);
    this.address = details.address;
    this.addressKind = details.addressKind;
  }
}

/** An address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** What a signer sees: the request as it is about to be sent to one hop, Host header included. */
export interface SignableRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array | null;
}

/** Returns the headers to send, typically `headers` plus Date, Digest and Signature. */
export type RequestSigner = (req: SignableRequest) => Promise<Headers>;

export interface OutboundClientOptions {
  /** Sent on every request; see `wrenUserAgent`. */
  userAgent: string;
  /** Allow plain http (a server itself running on http, in tests). */
  allowHttp: boolean;
  /** Allow loopback, private and other non-public addresses (tests on one machine only). */
  allowPrivateAddresses: boolean;
  connectTimeoutMs?: number;
  /** Total time for a request, redirects and body included. */
  timeoutMs?: number;
  /** Body size cap. */
  maxBytes?: number;
  /** Called for each attempt of a request that is signed, redirect hops included. */
  signer?: RequestSigner;
  /**
   * Replaces the address policy (public only, or all unicast with `allowPrivateAddresses`):
   * for tests that need to tell one loopback address from another.
   */
  isAddressAllowed?: (address: string, kind: AddressKind) => boolean;
  /** Replaces the system resolver (getaddrinfo); for tests. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

export interface OutboundRequest {
  method?: "GET" | "POST" | "HEAD";
  url: string | URL;
  headers?: ConstructorParameters<typeof Headers>[0];
  body?: Uint8Array | string | null;
  /**
   * true: sign every attempt (needs a signer). "auto": send unsigned, and when a GET or HEAD
   * gets 401, try that URL once more, signed. false (default): never sign.
   */
  sign?: boolean | "auto";
  timeoutMs?: number;
  maxBytes?: number;
  signal?: AbortSignal;
  /**
   * More requests to this host follow at once (a fan-out's next job): the connection is kept open a
   * moment for them. Otherwise it is closed after the answer (an open one is still reused first).
   */
  keepAlive?: boolean;
}

export interface OutboundResponse {
  status: number;
  /** 200–299. */
  ok: boolean;
  headers: Headers;
  /** The URL of the last hop, after redirects. */
  url: URL;
  redirected: boolean;
  /** Whether the request that got this response was signed. */
  signed: boolean;
  /** The body, decoded from its Content-Encoding; empty for HEAD. */
  body: Uint8Array;
  /** The body as UTF-8. */
  text(): string;
  /** The body parsed as JSON with bounded nesting; throws a FetchError "bad_json". */
  json(maxDepth?: number): unknown;
}

export interface OutboundClient {
  request(req: OutboundRequest): Promise<OutboundResponse>;
  readonly userAgent: string;
}

/** `Wren/<version> (+<instance url>)`. */
export function wrenUserAgent(instanceUrl: string, version: string = VERSION): string {
  return `Wren/${version} (+${instanceUrl})`;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
  "digest",
  "content-digest",
];
const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie"];
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8");

export function createOutboundClient(opts: OutboundClientOptions): OutboundClient {
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const resolve = opts.resolve ?? systemResolve;
  const pool = createConnectionPool();

  function checkUrl(url: URL): void {
    if (url.protocol === "https:" || (url.protocol === "http:" && opts.allowHttp)) return;
    throw new FetchError("bad_scheme", `refusing ${url.protocol} URL ${url.href}`, { url });
  }

  function checkAddress(url: URL, address: string): void {
    const kind = classifyAddress(address);
    const allowed = opts.isAddressAllowed
      ? opts.isAddressAllowed(address, kind)
      : kind === "public" || (opts.allowPrivateAddresses && !NEVER_ALLOWED_KINDS.has(kind));
    if (allowed) return;
    const host = bareHost(url);
    const what = host === address ? `address ${address}` : `${host} resolves to ${address}, which`;
    throw new FetchError("private_address", `${what} is ${kind} and not allowed`, {
      url,
      address,
      addressKind: kind,
    });
  }

  async function addressesOf(url: URL, signal: AbortSignal): Promise<ResolvedAddress[]> {
    const host = bareHost(url);
    const family = isIP(host);
    let addresses: ResolvedAddress[];
    if (family === 4 || family === 6) {
      addresses = [{ address: host, family }];
    } else {
      try {
        addresses = await untilAborted(resolve(host), signal);
      } catch (err) {
        if (err instanceof FetchError) throw err;
        throw new FetchError("dns", `cannot resolve ${host}: ${errorMessage(err)}`, { url, cause: err });
      }
      if (addresses.length === 0) throw new FetchError("dns", `${host} has no address`, { url });
    }
    for (const a of addresses) checkAddress(url, a.address);
    return addresses;
  }

  async function run(req: OutboundRequest, signal: AbortSignal, maxBytes: number): Promise<OutboundResponse> {
    let url = parseUrl(req.url);
    let method = req.method ?? "GET";
    let body = typeof req.body === "string" ? new TextEncoder().encode(req.body) : (req.body ?? null);
    if (body && method !== "POST") throw new TypeError(`a ${method} request cannot have a body`);
    if (req.sign === true && !opts.signer) throw new TypeError("sign: true but the client has no signer");
    const headers = new Headers(req.headers);
    let signing = req.sign === true;
    let redirects = 0;

    for (;;) {
      signal.throwIfAborted();
      checkUrl(url);
      const addresses = await addressesOf(url, signal);
      let sendHeaders = hopHeaders(headers, url, method, body, opts.userAgent);
      if (signing && opts.signer) {
        sendHeaders = await untilAborted(
          opts.signer({ method, url: new URL(url), headers: sendHeaders, body }),
          signal,
        );
      }
      const res = await send({
        url,
        method,
        headers: sendHeaders,
        body,
        addresses,
        signal,
        connectTimeoutMs,
        pool,
        keepAlive: req.keepAlive === true,
      });
      const status = res.statusCode ?? 0;
      const location = res.headers.location;

      if (REDIRECT_STATUSES.has(status) && location !== undefined) {
        res.destroy();
        if (redirects >= MAX_REDIRECTS) {
          throw new FetchError("too_many_redirects", `more than ${MAX_REDIRECTS} redirects`, { url });
        }
        redirects++;
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (err) {
          throw new FetchError("bad_url", `bad redirect Location ${JSON.stringify(location)}`, {
            url,
            cause: err,
          });
        }
        if (
          (status === 303 && method !== "GET" && method !== "HEAD") ||
          (status <= 302 && method === "POST")
        ) {
          method = "GET";
          body = null;
          for (const name of BODY_HEADERS) headers.delete(name);
        }
        if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
        url = stripCredentials(next);
        continue;
      }

      if (status === 401 && req.sign === "auto" && !signing && opts.signer && method !== "POST") {
        res.destroy();
        signing = true;
        continue;
      }

      let bytes: Uint8Array = EMPTY;
      if (method === "HEAD") res.destroy();
      else bytes = await readBody(res, maxBytes, signal, url);
      return makeResponse(status, res, url, redirects > 0, signing, bytes);
    }
  }

  return {
    userAgent: opts.userAgent,
    async request(req: OutboundRequest): Promise<OutboundResponse> {
      const timeoutMs = req.timeoutMs ?? opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const maxBytes = req.maxBytes ?? opts.maxBytes ?? DEFAULT_MAX_BYTES;
      const controller = new AbortController();
      const timer = setTimeout(() => {
        controller.abort(
          new FetchError("timeout", `no complete response within ${timeoutMs} ms`, { url: String(req.url) }),
        );
      }, timeoutMs);
      const callerSignal = req.signal;
      const onCallerAbort = () => {
        controller.abort(
          new FetchError("aborted", "request aborted", { url: String(req.url), cause: callerSignal?.reason }),
        );
      };
      if (callerSignal?.aborted) onCallerAbort();
      else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
      try {
        return await run(req, controller.signal, maxBytes);
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener("abort", onCallerAbort);
      }
    },
  };
}

function parseUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch (err) {
    throw new FetchError("bad_url", `not a URL: ${JSON.stringify(String(input))}`, { cause: err });
  }
  return stripCredentials(url);
}

function stripCredentials(url: URL): URL {
  if (url.username === "" && url.password === "") return url;
  const copy = new URL(url);
  copy.username = "";
  copy.password = "";
  return copy;
}

/** The URL's host name without IPv6 brackets. */
function bareHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

async function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  const found = await dnsLookup(hostname, { all: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/** Rejects with the signal's reason as soon as it aborts, whether or not `promise` settles. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function hopHeaders(
  base: Headers,
  url: URL,
  method: string,
  body: Uint8Array | null,
  userAgent: string,
): Headers {
  const h = new Headers(base);
  h.set("host", url.host);
  if (!h.has("user-agent")) h.set("user-agent", userAgent);
  if (!h.has("accept-encoding")) h.set("accept-encoding", "gzip, deflate, br");
  if (method === "POST") h.set("content-length", String(body?.byteLength ?? 0));
  else h.delete("content-length");
  h.delete("connection");
  h.delete("transfer-encoding");
  return h;
}

interface SendArgs {
  url: URL;
  method: string;
  headers: Headers;
  body: Uint8Array | null;
  addresses: ResolvedAddress[];
  signal: AbortSignal;
  connectTimeoutMs: number;
  /** Kept-alive connections to use, or null for a connection of its own. */
  pool: ConnectionPool | null;
  /** Keep the connection open for the next request (see OutboundRequest.keepAlive). */
  keepAlive: boolean;
}

/** Errors of a kept-alive connection the server closed just as we reused it. */
const STALE_CONNECTION_ERRORS = new Set(["ECONNRESET", "EPIPE"]);

/**
 * One HTTP exchange up to the response head; the caller reads or destroys the response. When a reused
 * connection turns out to be closed by the server before any answer, the request is sent once more on a
 * new connection (an activity is delivered at least once anyway).
 */
function send(args: SendArgs): Promise<http.IncomingMessage> {
  const { url, signal, addresses, connectTimeoutMs } = args;
  const first = addresses[0]!;
  // Answers with the addresses that were checked, whatever the host name: no second DNS query.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options?.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  };
  const tls = url.protocol === "https:";
  const keepAlive = args.keepAlive && args.pool !== null;

  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const req = (tls ? https : http).request({
      protocol: url.protocol,
      hostname: bareHost(url),
      port: url.port === "" ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: args.method,
      headers: { ...Object.fromEntries(args.headers), connection: keepAlive ? "keep-alive" : "close" },
      agent: args.pool ? (tls ? args.pool.https : args.pool.http) : false,
      lookup,
    });
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const done = () => {
      settled = true;
      clearTimeout(connectTimer);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => req.destroy(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });

    req.once("socket", (socket) => {
      if (req.reusedSocket) return;
      connectTimer = setTimeout(() => {
        req.destroy(
          new FetchError("timeout", `could not connect to ${url.host} within ${connectTimeoutMs} ms`, {
            url,
          }),
        );
      }, connectTimeoutMs);
      socket.once(tls ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
      socket.once("close", () => clearTimeout(connectTimer));
    });
    req.on("error", (err) => {
      if (settled) return;
      done();
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && code && STALE_CONNECTION_ERRORS.has(code) && !signal.aborted) {
        resolve(send({ ...args, pool: null }));
        return;
      }
      reject(toFetchError(err, url));
    });
    req.once("response", (res) => {
      done();
      res.on("error", () => {}); // read (and its errors handled) by readBody, or destroyed
      resolve(res);
    });
    req.end(args.body ?? undefined);
  });
}

function decoderFor(encoding: string, url: URL): Transform | null {
  switch (encoding) {
    case "":
    case "identity":
      return null;
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip();
    case "deflate":
      return zlib.createInflate();
    case "br":
      return zlib.createBrotliDecompress();
    default:
      throw new FetchError("bad_encoding", `unsupported Content-Encoding ${JSON.stringify(encoding)}`, {
        url,
      });
  }
}

/** Reads the whole body, stopping as soon as more than `maxBytes` arrived (on the wire or decoded). */
async function readBody(
  res: http.IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
  url: URL,
): Promise<Uint8Array> {
  const tooLarge = () => new FetchError("too_large", `body larger than ${maxBytes} bytes`, { url });
  let source: Readable = res;
  const onAbort = () => {
    source.destroy(signal.reason);
    res.destroy(signal.reason);
  };
  try {
    signal.throwIfAborted();
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
    const decoder = decoderFor((res.headers["content-encoding"] ?? "").trim().toLowerCase(), url);
    if (decoder) {
      let wire = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          wire += chunk.length;
          if (wire > maxBytes) callback(tooLarge());
          else callback(null, chunk);
        },
      });
      source = pipeline(res, counter, decoder, () => {});
    }
    signal.addEventListener("abort", onAbort, { once: true });

    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge();
      chunks.push(chunk);
    }
    // A fresh, exactly sized buffer: never a view into Node's shared pool.
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  } catch (err) {
    if (err instanceof FetchError) throw err;
    if (signal.aborted && signal.reason instanceof FetchError) throw signal.reason;
    if (err instanceof Error && "code" in err && typeof err.code === "string" && err.code.startsWith("Z_")) {
      throw new FetchError("bad_encoding", `cannot decode body: ${err.message}`, { url, cause: err });
    }
    throw toFetchError(err, url);
  } finally {
    signal.removeEventListener("abort", onAbort);
    source.destroy();
    res.destroy();
  }
}

function makeResponse(
  status: number,
  res: http.IncomingMessage,
  url: URL,
  redirected: boolean,
  signed: boolean,
  body: Uint8Array,
): OutboundResponse {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A header value Headers will not hold: drop it rather than the response.
    }
  }
  return {
    status,
    ok: status >= 200 && status <= 299,
    headers,
    url,
    redirected,
    signed,
    body,
    text: () => utf8.decode(body),
    json(maxDepth = DEFAULT_MAX_JSON_DEPTH) {
      try {
        return parseJsonBounded(utf8.decode(body), maxDepth);
      } catch (err) {
        const message = err instanceof JsonParseError ? err.message : errorMessage(err);
        throw new FetchError("bad_json", `bad JSON from ${url.href}: ${message}`, { url, cause: err });
      }
    },
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function toFetchError(err: unknown, url: URL): FetchError {
  if (err instanceof FetchError) return err;
  const code = err instanceof Error && "code" in err ? String(err.code) : "";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NODATA") {
    return new FetchError("dns", `cannot resolve ${url.hostname}: ${errorMessage(err)}`, { url, cause: err });
  }
  return new FetchError("network", `${url.host}: ${errorMessage(err)}`, { url, cause: err });
}
