import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { ed25519Sign, ed25519Verify, fromBase64Url } from "../keys.js";
import { fail, type KeyLookup, type PublicKeyInfo, SignatureError, type SigningKey } from "./types.js";

export type KeyType = "rsa" | "ed25519";

/** Parsed private keys by PEM: parsing an RSA PEM costs more than signing with it (one per local signer). */
const privateKeys = new Map<string, KeyObject>();

function privateKeyObject(pem: string): KeyObject {
  let key = privateKeys.get(pem);
  if (!key) {
    if (privateKeys.size >= 16) privateKeys.clear();
    key = createPrivateKey(pem);
    privateKeys.set(pem, key);
  }
  return key;
}

/** RSASSA-PKCS1-v1_5 with SHA-256 for RSA keys, Ed25519 otherwise. */
export function signBytes(key: SigningKey, data: Uint8Array): Uint8Array {
  if (key.type === "rsa") return new Uint8Array(sign("sha256", data, privateKeyObject(key.privatePem)));
  return ed25519Sign(key.privateKey, data);
}

/**
 * Parsed public keys by PEM, bounded: parsing the PEM costs several times the verification itself, and an
 * inbox under load sees the same few senders again and again.
 */
const publicKeys = new Map<string, KeyObject>();
const MAX_PUBLIC_KEYS = 256;

function publicKeyObject(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (key) {
    // Most recently used last, so the oldest is the one dropped.
    publicKeys.delete(pem);
  } else {
    key = createPublicKey(pem);
    if (publicKeys.size >= MAX_PUBLIC_KEYS) publicKeys.delete(publicKeys.keys().next().value as string);
  }
  publicKeys.set(pem, key);
  return key;
}

export function verifyBytes(key: PublicKeyInfo, data: Uint8Array, signature: Uint8Array): boolean {
  if (key.type === "rsa") {
    if (!key.publicPem) fail(401, `key ${key.keyId} has no RSA public key`);
    try {
      return verify("sha256", data, publicKeyObject(key.publicPem), signature);
    } catch {
      fail(401, `key ${key.keyId} is not a usable RSA public key`);
    }
  }
  return ed25519Verify(ed25519PublicKey(key), data, signature);
}

function ed25519PublicKey(key: PublicKeyInfo): Uint8Array {
  if (key.publicKey) return key.publicKey;
  try {
    const jwk = createPublicKey(key.publicPem ?? "").export({ format: "jwk" });
    if (jwk.crv === "Ed25519" && jwk.x) return fromBase64Url(jwk.x);
  } catch {
    // reported below
  }
  return fail(401, `key ${key.keyId} is not a usable Ed25519 public key`);
}

/**
 * Looks the key up and runs `check` with it. If that fails, looks the key up again with
 * `refresh: true` (the sender may have rotated its key) and retries once with the new key. `note` ends the
 * message of a signature that does not verify.
 */
export async function withKey(
  keyId: string,
  lookupKey: KeyLookup,
  note: string,
  check: (key: PublicKeyInfo) => boolean,
): Promise<PublicKeyInfo> {
  const key = await lookup(keyId, lookupKey, false);
  if (!key) fail(401, `could not find key ${keyId}`);
  const firstError = attempt(keyId, key, check, note);
  if (!firstError) return key;
  const fresh = await lookup(keyId, lookupKey, true);
  if (!fresh || sameKey(key, fresh)) throw firstError;
  const secondError = attempt(keyId, fresh, check, note);
  if (!secondError) return fresh;
  throw secondError;
}

function attempt(
  keyId: string,
  key: PublicKeyInfo,
  check: (key: PublicKeyInfo) => boolean,
  note: string,
): SignatureError | null {
  try {
    return check(key) ? null : new SignatureError(401, `signature does not verify with key ${keyId}${note}`);
  } catch (error) {
    if (error instanceof SignatureError) return error;
    throw error;
  }
}

async function lookup(keyId: string, lookupKey: KeyLookup, refresh: boolean): Promise<PublicKeyInfo | null> {
  try {
    return await lookupKey(keyId, { refresh });
  } catch (error) {
    return fail(401, `could not fetch key ${keyId}: ${(error as Error).message}`);
  }
}

function sameKey(a: PublicKeyInfo, b: PublicKeyInfo): boolean {
  if (a.type !== b.type || a.publicPem !== b.publicPem) return false;
  if (!a.publicKey || !b.publicKey) return a.publicKey === b.publicKey;
  return Buffer.from(a.publicKey).equals(b.publicKey);
}
