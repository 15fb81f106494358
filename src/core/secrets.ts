import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A random secret for tokens, codes and client secrets: 256 bits, URL-safe. */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Tokens, codes and client secrets are stored only as this hash; they are high-entropy, so SHA-256 suffices. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function secretMatches(secret: string, hash: string): boolean {
  const a = Buffer.from(hashSecret(secret), "hex");
  const b = Buffer.from(hash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
