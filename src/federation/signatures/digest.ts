import { createHash } from "node:crypto";
import { isInnerList, parseDictionary } from "./structured.js";

// Body digests: `Digest: SHA-256=<base64>` (RFC 3230, used with draft-cavage) and
// `Content-Digest: sha-256=:<base64>:` (RFC 9530, used with RFC 9421).

export type DigestAlgorithm = "sha-256" | "sha-512";

export type DigestCheck = { ok: true } | { ok: false; error: string };

const NODE_HASH: Record<DigestAlgorithm, string> = { "sha-256": "sha256", "sha-512": "sha512" };

function hash(algorithm: DigestAlgorithm, body: Uint8Array): Buffer {
  return createHash(NODE_HASH[algorithm]).update(body).digest();
}

function isSupported(algorithm: string): algorithm is DigestAlgorithm {
  return algorithm === "sha-256" || algorithm === "sha-512";
}

export function computeDigestHeader(body: Uint8Array, algorithm: DigestAlgorithm = "sha-256"): string {
  return `${algorithm.toUpperCase()}=${hash(algorithm, body).toString("base64")}`;
}

export function computeContentDigestHeader(body: Uint8Array, algorithm: DigestAlgorithm = "sha-256"): string {
  return `${algorithm}=:${hash(algorithm, body).toString("base64")}:`;
}

/** Checks a `Digest` header: every SHA-256/SHA-512 value in it must match, and there must be one. */
export function verifyDigestHeader(value: string, body: Uint8Array): DigestCheck {
  let checked = 0;
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    const algorithm = part
      .slice(0, eq < 0 ? undefined : eq)
      .trim()
      .toLowerCase();
    if (eq < 0 || !isSupported(algorithm)) continue;
    const given = Buffer.from(part.slice(eq + 1).trim(), "base64");
    if (!given.equals(hash(algorithm, body))) {
      return { ok: false, error: `body does not match Digest (${algorithm.toUpperCase()})` };
    }
    checked++;
  }
  return checked ? { ok: true } : { ok: false, error: "Digest has no SHA-256 or SHA-512 value" };
}

/** Checks a `Content-Digest` header: every sha-256/sha-512 value in it must match, and there must be one. */
export function verifyContentDigestHeader(value: string, body: Uint8Array): DigestCheck {
  let dictionary: ReturnType<typeof parseDictionary>;
  try {
    dictionary = parseDictionary(value);
  } catch {
    return { ok: false, error: "Content-Digest is malformed" };
  }
  let checked = 0;
  for (const [algorithm, member] of dictionary) {
    if (!isSupported(algorithm)) continue;
    if (isInnerList(member) || !(member.value instanceof Uint8Array)) {
      return { ok: false, error: `Content-Digest ${algorithm} is not a byte sequence` };
    }
    if (!Buffer.from(member.value).equals(hash(algorithm, body))) {
      return { ok: false, error: `body does not match Content-Digest (${algorithm})` };
    }
    checked++;
  }
  return checked ? { ok: true } : { ok: false, error: "Content-Digest has no sha-256 or sha-512 value" };
}

/** Checks whichever of `Digest` and `Content-Digest` the request carries against the raw body. */
export function verifyBodyDigests(headers: Headers, body: Uint8Array | null): DigestCheck {
  const bytes = body ?? new Uint8Array(0);
  const digest = headers.get("digest");
  if (digest !== null) {
    const result = verifyDigestHeader(digest, bytes);
    if (!result.ok) return result;
  }
  const contentDigest = headers.get("content-digest");
  if (contentDigest !== null) return verifyContentDigestHeader(contentDigest, bytes);
  return { ok: true };
}
