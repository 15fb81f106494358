// RFC 9421 HTTP Message Signatures: `Signature-Input: sig1=("@method" …);created=…;keyid="…"` and
// `Signature: sig1=:<base64>:`.

import { signBytes, verifyBytes, withKey } from "./crypto.js";
import { checkCreated, checkDateHeader, checkExpires } from "./freshness.js";
import {
  type BareItem,
  Decimal,
  type InnerList,
  isInnerList,
  type Member,
  parseDictionary,
  serializeBareItem,
  serializeInnerList,
  serializeItem,
  serializeParams,
  Token,
} from "./structured.js";
import {
  checkedFor,
  fail,
  hasBody,
  type IncomingRequest,
  type KeyLookup,
  type PublicKeyInfo,
  SignatureError,
  type SigningKey,
} from "./types.js";

export interface Rfc9421Signature {
  label: string;
  /** The covered components and the signature parameters. */
  input: InnerList;
  signature: Uint8Array;
}

const ALGORITHMS = new Map<string, "rsa" | "ed25519">([
  ["rsa-v1_5-sha256", "rsa"],
  ["ed25519", "ed25519"],
]);

/** The signatures present in both headers, in Signature-Input order. */
export function parseRfc9421Signatures(signatureInput: string, signature: string): Rfc9421Signature[] {
  const inputs = parseHeader("Signature-Input", signatureInput);
  const values = parseHeader("Signature", signature);
  const signatures: Rfc9421Signature[] = [];
  for (const [label, input] of inputs) {
    const value = values.get(label);
    if (value === undefined) continue;
    if (!isInnerList(input)) fail(400, `Signature-Input ${label} is not a list of components`);
    if (isInnerList(value) || !(value.value instanceof Uint8Array)) {
      fail(400, `Signature ${label} is not a byte sequence`);
    }
    signatures.push({ label, input, signature: value.value });
  }
  if (signatures.length === 0) fail(400, "Signature-Input and Signature have no label in common");
  return signatures;
}

function parseHeader(name: string, value: string): Map<string, Member> {
  try {
    return parseDictionary(value);
  } catch (error) {
    return fail(400, `${name} is malformed: ${(error as Error).message}`);
  }
}

/**
 * The signature base (RFC 9421 §2.5). Derived components come from the public URL; so does the
 * `host` field, since a reverse proxy may have rewritten the header.
 */
export function signatureBase(input: InnerList, req: IncomingRequest): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const item of input.items) {
    if (typeof item.value !== "string") fail(400, "component identifiers must be strings");
    const id = serializeItem(item);
    if (item.params.size > 0) fail(401, `component parameters are not supported: ${id}`);
    if (seen.has(id)) fail(400, `component ${id} is covered twice`);
    seen.add(id);
    lines.push(`${id}: ${componentValue(item.value, req)}`);
  }
  lines.push(`"@signature-params": ${serializeInnerList(input)}`);
  return lines.join("\n");
}

function componentValue(name: string, req: IncomingRequest): string {
  const { url } = req;
  switch (name) {
    case "@method":
      return req.method;
    case "@target-uri":
      return url.href;
    case "@authority":
      return url.host;
    case "@scheme":
      return url.protocol.slice(0, -1);
    case "@request-target":
      return url.pathname + url.search;
    case "@path":
      return url.pathname;
    case "@query":
      return url.search || "?";
  }
  if (name.startsWith("@")) fail(401, `unsupported derived component ${name}`);
  if (name !== name.toLowerCase()) fail(400, `component name ${name} is not lowercase`);
  if (name === "host") return url.host;
  const value = req.headers.get(name);
  if (value === null) fail(401, `covered header ${name} is missing from the request`);
  return value.trim();
}

export interface Rfc9421SignOptions {
  created: number;
  label: string;
  includeAlg: boolean;
}

export function signRfc9421(
  key: SigningKey,
  req: IncomingRequest,
  components: string[],
  opts: Rfc9421SignOptions,
): { signatureInput: string; signature: string } {
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(opts.label))
    throw new TypeError(`invalid signature label ${opts.label}`);
  const params = new Map<string, BareItem>([
    ["created", opts.created],
    ["keyid", key.keyId],
  ]);
  if (opts.includeAlg) params.set("alg", key.type === "rsa" ? "rsa-v1_5-sha256" : "ed25519");
  const input: InnerList = { items: components.map((value) => ({ value, params: new Map() })), params };
  const signature = signBytes(key, Buffer.from(signatureBase(input, req)));
  return {
    signatureInput: `${opts.label}=${serializeInnerList(input)}`,
    signature: `${opts.label}=${serializeBareItem(signature)}`,
  };
}

export interface Rfc9421VerifyOptions {
  lookupKey: KeyLookup;
  windowSeconds: number;
  now: Date;
}

/** Accepts the request if any one of its signatures is valid and meets our coverage requirements. */
export async function verifyRfc9421(
  signatureInput: string,
  signature: string,
  req: IncomingRequest,
  opts: Rfc9421VerifyOptions,
): Promise<PublicKeyInfo> {
  const errors: { label: string; error: SignatureError }[] = [];
  for (const sig of parseRfc9421Signatures(signatureInput, signature)) {
    try {
      return await verifyOne(sig, req, opts);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      errors.push({ label: sig.label, error });
    }
  }
  if (errors.length === 1) throw errors[0]!.error;
  const status = errors.every((e) => e.error.status === 400) ? 400 : 401;
  return fail(status, errors.map((e) => `${e.label}: ${e.error.message}`).join("; "));
}

async function verifyOne(sig: Rfc9421Signature, req: IncomingRequest, opts: Rfc9421VerifyOptions) {
  const { params, items } = sig.input;
  const keyId = params.get("keyid");
  const created = params.get("created");
  const expires = params.get("expires");
  const alg = params.get("alg");
  if (typeof keyId !== "string") fail(401, "signature has no keyid");
  if (typeof created !== "number") fail(401, "signature has no created time");
  if (expires !== undefined && typeof expires !== "number") fail(400, "signature expires is not an integer");
  const algType = typeof alg === "string" ? ALGORITHMS.get(alg) : undefined;
  if (alg !== undefined && !algType) fail(401, `unsupported signature algorithm ${serializeBareItem(alg)}`);

  const names = items.map((item) => item.value);
  const covers = (...options: string[]) => options.some((name) => names.includes(name));
  const missing = (what: string) =>
    fail(401, `signature does not cover ${what} (covered: ${items.map(serializeItem).join(" ")})`);
  if (!covers("@method")) missing("@method");
  if (!covers("@target-uri", "@request-target", "@path"))
    missing("the request target (@target-uri or @path)");
  if (hasBody(req.method) && !covers("content-digest")) missing("content-digest");
  // The host binds the signature to this server. @target-uri carries it as well as @authority does, and
  // Mastodon (which requires @method and @target-uri) and Wren sign @target-uri without @authority.
  if (!covers("@target-uri", "@authority", "host")) missing("the host (@target-uri or @authority)");

  checkCreated(created, opts.now, opts.windowSeconds);
  if (expires !== undefined) checkExpires(expires, opts.now);
  if (covers("date")) checkDateHeader(req.headers.get("date"), opts.now, opts.windowSeconds);

  const base = Buffer.from(signatureBase(sig.input, req));
  return withKey(keyId, opts.lookupKey, checkedFor(req), (key) => {
    if (algType && key.type !== algType)
      fail(401, `alg ${alg} cannot be used with ${key.type} key ${key.keyId}`);
    return verifyBytes(key, base, sig.signature);
  });
}

/** One signature that an `Accept-Signature` challenge (RFC 9421 §5) asks for. */
export interface SignatureRequest {
  label: string;
  /** Component names; one with parameters keeps them in structured-field form, e.g. `@query-param;name="id"`. */
  components: string[];
  /** Requested parameters; a bare `created` (meaning "include one") comes out as `created: true`. */
  params: Record<string, string | number | boolean>;
}

/** Parses an `Accept-Signature` header; returns [] when it is absent or malformed. */
export function parseAcceptSignature(header: string | null): SignatureRequest[] {
  if (!header) return [];
  let dictionary: Map<string, Member>;
  try {
    dictionary = parseDictionary(header);
  } catch {
    return [];
  }
  const requests: SignatureRequest[] = [];
  for (const [label, member] of dictionary) {
    if (!isInnerList(member)) continue;
    requests.push({
      label,
      components: member.items
        .filter((item) => typeof item.value === "string")
        .map((item) => `${item.value as string}${serializeParams(item.params)}`),
      params: Object.fromEntries([...member.params].map(([key, value]) => [key, plain(value)])),
    });
  }
  return requests;
}

function plain(value: BareItem): string | number | boolean {
  if (value instanceof Token || value instanceof Decimal) return value.value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}
