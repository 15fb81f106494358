// draft-cavage-http-signatures-12: the `Signature: keyId="…",algorithm="…",headers="…",signature="…"`
// header that Mastodon and most of the fediverse use.

import { signBytes, verifyBytes, withKey } from "./crypto.js";
import { checkCreated, checkDateHeader, checkExpires } from "./freshness.js";
import {
  checkedFor,
  fail,
  hasBody,
  type IncomingRequest,
  type KeyLookup,
  type PublicKeyInfo,
  type SigningKey,
} from "./types.js";

export interface CavageSignature {
  keyId: string;
  /** Lowercased; undefined when the header has none, which means hs2019. */
  algorithm: string | undefined;
  /** The covered header names, lowercased, in signing order. */
  headers: string[];
  /** False when the header had no `headers=`, so only `date` is covered. */
  explicitHeaders: boolean;
  signature: Uint8Array;
  /** Kept as sent: `(created)` and `(expires)` sign the parameter text itself. */
  created?: string;
  expires?: string;
}

const SUPPORTED_ALGORITHMS = new Set<string>(["rsa-sha256", "hs2019", "ed25519"]);

const FIELD = /\s*([A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/y;

export function parseCavageSignature(value: string): CavageSignature {
  const fields = new Map<string, string>();
  for (let pos = 0; pos < value.length; pos = FIELD.lastIndex) {
    FIELD.lastIndex = pos;
    const match = FIELD.exec(value);
    if (!match) fail(400, `Signature header is malformed near "${value.slice(pos, pos + 20)}"`);
    fields.set(match[1]!.toLowerCase(), match[2]?.replace(/\\(.)/g, "$1") ?? match[3]!);
  }
  const keyId = fields.get("keyid");
  const signature = fields.get("signature");
  if (!keyId) fail(400, "Signature header has no keyId");
  if (!signature) fail(400, "Signature header has no signature");
  for (const name of ["created", "expires"]) {
    const number = fields.get(name);
    if (number !== undefined && !/^\d+(\.\d+)?$/.test(number)) fail(400, `Signature ${name} is not a number`);
  }
  const headers = fields.get("headers");
  return {
    keyId,
    algorithm: fields.get("algorithm")?.toLowerCase(),
    headers: headers === undefined ? ["date"] : headers.toLowerCase().split(/\s+/).filter(Boolean),
    explicitHeaders: headers !== undefined,
    signature: new Uint8Array(Buffer.from(signature, "base64")),
    created: fields.get("created"),
    expires: fields.get("expires"),
  };
}

type Covered = Pick<CavageSignature, "headers" | "created" | "expires">;

/**
 * The signing string, rebuilt from the covered header list. `(request-target)` is
 * `method path?query`; with `withQuery: false` the query is left out, as some senders do.
 * `host` is the public host from the URL, since a reverse proxy may have rewritten the header.
 */
export function cavageSigningString(sig: Covered, req: IncomingRequest, withQuery = true): string {
  return sig.headers.map((name) => `${name}: ${coveredValue(name, sig, req, withQuery)}`).join("\n");
}

function coveredValue(name: string, sig: Covered, req: IncomingRequest, withQuery: boolean): string {
  switch (name) {
    case "(request-target)":
      return `${req.method.toLowerCase()} ${req.url.pathname}${withQuery ? req.url.search : ""}`;
    case "(created)":
      return sig.created ?? fail(401, "signature covers (created) but has no created parameter");
    case "(expires)":
      return sig.expires ?? fail(401, "signature covers (expires) but has no expires parameter");
    case "host":
      return req.url.host;
    default: {
      const value = req.headers.get(name);
      if (value === null) fail(401, `signed header ${name} is missing from the request`);
      return value.trim();
    }
  }
}

export function signCavage(
  key: SigningKey,
  req: IncomingRequest,
  headers: string[],
  algorithm: "rsa-sha256" | "hs2019",
): string {
  if (algorithm === "rsa-sha256" && key.type !== "rsa") throw new TypeError("rsa-sha256 needs an RSA key");
  const data = Buffer.from(cavageSigningString({ headers }, req));
  const signature = Buffer.from(signBytes(key, data)).toString("base64");
  return `keyId="${key.keyId}",algorithm="${algorithm}",headers="${headers.join(" ")}",signature="${signature}"`;
}

export interface CavageVerifyOptions {
  lookupKey: KeyLookup;
  windowSeconds: number;
  now: Date;
}

export async function verifyCavage(
  header: string,
  req: IncomingRequest,
  opts: CavageVerifyOptions,
): Promise<PublicKeyInfo> {
  const sig = parseCavageSignature(header);
  const algorithm = sig.algorithm ?? "hs2019";
  if (!SUPPORTED_ALGORITHMS.has(algorithm)) fail(401, `unsupported signature algorithm ${algorithm}`);
  requireCoverage(sig, req.method);
  if (sig.headers.includes("date")) checkDateHeader(req.headers.get("date"), opts.now, opts.windowSeconds);
  if (sig.created !== undefined) checkCreated(Number(sig.created), opts.now, opts.windowSeconds);
  if (sig.expires !== undefined) checkExpires(Number(sig.expires), opts.now);

  const candidates = [cavageSigningString(sig, req, true)];
  if (req.url.search) candidates.push(cavageSigningString(sig, req, false));
  const encoded = candidates.map((text) => Buffer.from(text));
  return withKey(sig.keyId, opts.lookupKey, checkedFor(req), (key) => {
    const needed = algorithm === "rsa-sha256" ? "rsa" : algorithm === "ed25519" ? "ed25519" : key.type;
    if (key.type !== needed)
      fail(401, `algorithm ${algorithm} cannot be used with ${key.type} key ${key.keyId}`);
    return encoded.some((data) => verifyBytes(key, data, sig.signature));
  });
}

function requireCoverage(sig: CavageSignature, method: string): void {
  const covers = (name: string) => sig.headers.includes(name);
  const missing = (what: string) => {
    const covered = sig.explicitHeaders
      ? sig.headers.join(" ")
      : "date only, since the Signature header has no headers= list";
    return fail(401, `signature does not cover ${what} (covered: ${covered})`);
  };
  if (!covers("(request-target)")) missing("(request-target)");
  if (hasBody(method) && !covers("digest")) missing("digest");
  // Every request, not only GETs (Mastodon's rule): without it, a delivery signed for another server's
  // inbox at the same path could be replayed here.
  if (!covers("host")) missing("host");
  if (!covers("date") && !covers("(created)")) missing("date or (created)");
}
