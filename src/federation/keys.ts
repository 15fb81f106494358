import { createHash, generateKeyPairSync } from "node:crypto";
import * as ed from "@noble/ed25519";

// @noble/ed25519 needs a SHA-512 for its synchronous API; node:crypto provides one.
ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash("sha512").update(message).digest());

/** An RSA-2048 key pair as PEM text (SPKI public, PKCS#8 private): what Mastodon reads as `publicKeyPem`. */
export interface RsaKeyPair {
  publicPem: string;
  privatePem: string;
}

/** An Ed25519 key pair as raw 32-byte keys, base64url-encoded for storage. */
export interface Ed25519KeyPair {
  publicKey: string;
  privateKey: string;
}

export function generateRsaKeyPair(): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  const { secretKey, publicKey } = ed.keygen();
  return { publicKey: toBase64Url(publicKey), privateKey: toBase64Url(secretKey) };
}

export function ed25519Sign(privateKey: string, message: Uint8Array): Uint8Array {
  return ed.sign(message, fromBase64Url(privateKey));
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

// Multikey (FEP-521a, W3C Controlled Identifiers): multibase base58btc ("z") of the multicodec
// ed25519-pub prefix 0xed 0x01 followed by the raw 32-byte key.
const ED25519_PUB_MULTICODEC = Uint8Array.of(0xed, 0x01);

export function ed25519PublicKeyToMultibase(publicKey: string | Uint8Array): string {
  const raw = typeof publicKey === "string" ? fromBase64Url(publicKey) : publicKey;
  const bytes = new Uint8Array(ED25519_PUB_MULTICODEC.length + raw.length);
  bytes.set(ED25519_PUB_MULTICODEC, 0);
  bytes.set(raw, ED25519_PUB_MULTICODEC.length);
  return `z${base58btcEncode(bytes)}`;
}

/** Decodes a `publicKeyMultibase` value; returns null unless it is an Ed25519 public key. */
export function multibaseToEd25519PublicKey(multibase: string): Uint8Array | null {
  if (!multibase.startsWith("z")) return null;
  const bytes = base58btcDecode(multibase.slice(1));
  if (bytes?.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) return null;
  return bytes.slice(2);
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

export function fromBase64Url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64url"));
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function base58btcEncode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = "";
  while (value > 0n) {
    out = BASE58_ALPHABET[Number(value % 58n)] + out;
    value /= 58n;
  }
  return "1".repeat(zeros) + out;
}

export function base58btcDecode(text: string): Uint8Array | null {
  let value = 0n;
  for (const char of text) {
    const digit = BASE58_ALPHABET.indexOf(char);
    if (digit < 0) return null;
    value = value * 58n + BigInt(digit);
  }
  const body: number[] = [];
  while (value > 0n) {
    body.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...body]);
}
