export type SignatureStandard = "draft-cavage" | "rfc9421";

/** Our own key, used to sign outgoing requests. */
export type SigningKey =
  | { keyId: string; type: "rsa"; privatePem: string }
  /** `privateKey` is the raw 32-byte key, base64url, as stored by keys.ts. */
  | { keyId: string; type: "ed25519"; privateKey: string };

/** A remote actor's public key, as found by `lookupKey`. */
export interface PublicKeyInfo {
  keyId: string;
  ownerId: string;
  type: "rsa" | "ed25519";
  /** SPKI or PKCS#1 PEM; required for RSA keys, accepted for Ed25519 keys. */
  publicPem?: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey?: Uint8Array;
}

export type KeyLookup = (keyId: string, opts: { refresh: boolean }) => Promise<PublicKeyInfo | null>;

export interface VerifyOptions {
  /** The raw body bytes, exactly as received (null for GET). */
  body: Uint8Array | null;
  /** The public URL of the request as the client saw it: scheme and host from config, not from the proxy. */
  url: string;
  /**
   * Finds the public key for a keyId (which may or may not carry a #fragment). Called once more with
   * `refresh: true` when the signature does not verify with the first key, in case the key was rotated.
   * It is responsible for checking that the key belongs to `ownerId`.
   */
  lookupKey: KeyLookup;
  /** How far Date and `created` may be from now, each way. Default 3600. */
  windowSeconds?: number;
  now?: Date;
}

export type VerifyResult =
  | { ok: true; keyId: string; ownerId: string; standard: SignatureStandard }
  | { ok: false; status: 400 | 401; error: string };

/** A verification failure; `verifyRequest` turns it into `{ ok: false }`. */
export class SignatureError extends Error {
  constructor(
    readonly status: 400 | 401,
    message: string,
  ) {
    super(message);
  }
}

export function fail(status: 400 | 401, message: string): never {
  throw new SignatureError(status, message);
}

/** The request as the verifier sees it. */
export interface IncomingRequest {
  method: string;
  headers: Headers;
  url: URL;
}

export const DEFAULT_WINDOW_SECONDS = 3600;

/** Requests without a body (GET, HEAD) need no body digest; all others must cover one. */
export function hasBody(method: string): boolean {
  const m = method.toUpperCase();
  return m !== "GET" && m !== "HEAD";
}

/**
 * What a failed verification adds to its message: the host it was checked for (ours, from the configured
 * public URL) and, when the Host header names another, that one too. Host-bound signatures are rebuilt with
 * our host, so a delivery signed for another server fails here.
 */
export function checkedFor(req: IncomingRequest): string {
  const ours = req.url.host;
  const sent = req.headers.get("host")?.trim().toLowerCase();
  if (!sent || sent === ours) return ` (checked for host ${ours})`;
  return ` (checked for host ${ours}, but the request's Host header is ${sent}: was it signed for another server?)`;
}
