/**
 * Web Push message encryption with node:crypto: RFC 8291 (`aes128gcm`, RFC 8188 framing) for standard
 * subscriptions, and the earlier `aesgcm` draft (draft-ietf-webpush-encryption-04 with
 * draft-ietf-httpbis-encryption-encoding-03) that Mastodon still sends to subscriptions that are not
 * `standard`. Each message gets a fresh ephemeral ECDH key pair and salt. The payload fits one record.
 */
import { createCipheriv, createECDH, hkdfSync, randomBytes } from "node:crypto";

/** The record size announced in an aes128gcm header; a push message is one record, well under it. */
const RECORD_SIZE = 4096;
const TAG_LENGTH = 16;
/** Push services accept 4096 bytes of body; the aes128gcm header takes 86 of them. */
export const MAX_PLAINTEXT_BYTES = 3993;

/** The subscriber's keys, as apps send them (base64 or base64url). */
export interface SubscriberKeys {
  /** The user agent's P-256 public key, an uncompressed point. */
  p256dh: string;
  /** The 16-byte authentication secret. */
  auth: string;
}

export interface LegacyMessage {
  body: Buffer;
  /** For the `Encryption: salt=…` header. */
  salt: Buffer;
  /** The ephemeral public key, for the `Crypto-Key: dh=…` header. */
  serverPublicKey: Buffer;
}

const hkdf = (ikm: Buffer, salt: Buffer, info: Buffer, length: number) =>
  Buffer.from(hkdfSync("sha256", ikm, salt, info, length));

function sharedSecret(uaPublic: Buffer) {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return { secret: ecdh.computeSecret(uaPublic), asPublic: ecdh.getPublicKey() };
}

function seal(key: Buffer, nonce: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv("aes-128-gcm", key, nonce);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function checkSize(payload: Buffer): void {
  if (payload.length > MAX_PLAINTEXT_BYTES)
    throw new Error(`a push payload has at most ${MAX_PLAINTEXT_BYTES} bytes, not ${payload.length}`);
}

/** RFC 8291: the body to POST with `Content-Encoding: aes128gcm`. */
export function encryptAes128gcm(payload: Buffer, keys: SubscriberKeys): Buffer {
  checkSize(payload);
  const uaPublic = Buffer.from(keys.p256dh, "base64");
  const authSecret = Buffer.from(keys.auth, "base64");
  const { secret, asPublic } = sharedSecret(uaPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
  const ikm = hkdf(secret, authSecret, keyInfo, 32);
  const salt = randomBytes(16);
  const cek = hkdf(ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16);
  const nonce = hkdf(ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12);
  // One record, so it is the last one: its padding delimiter is 0x02.
  const record = seal(cek, nonce, Buffer.concat([payload, Buffer.from([2])]));
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(RECORD_SIZE, 16);
  header.writeUInt8(asPublic.length, 20);
  return Buffer.concat([header, asPublic, record]);
}

/** The legacy draft: the body to POST with `Content-Encoding: aesgcm`, and its header values. */
export function encryptAesgcm(payload: Buffer, keys: SubscriberKeys): LegacyMessage {
  checkSize(payload);
  const uaPublic = Buffer.from(keys.p256dh, "base64");
  const authSecret = Buffer.from(keys.auth, "base64");
  const { secret, asPublic } = sharedSecret(uaPublic);
  const ikm = hkdf(secret, authSecret, Buffer.from("Content-Encoding: auth\0"), 32);
  const salt = randomBytes(16);
  const length = (key: Buffer) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(key.length);
    return b;
  };
  const context = Buffer.concat([
    Buffer.from("P-256\0"),
    length(uaPublic),
    uaPublic,
    length(asPublic),
    asPublic,
  ]);
  const cek = hkdf(ikm, salt, Buffer.concat([Buffer.from("Content-Encoding: aesgcm\0"), context]), 16);
  const nonce = hkdf(ikm, salt, Buffer.concat([Buffer.from("Content-Encoding: nonce\0"), context]), 12);
  // Two bytes of padding length (no padding), then the payload; a single record shorter than its size.
  const body = seal(cek, nonce, Buffer.concat([Buffer.alloc(2), payload]));
  if (body.length >= RECORD_SIZE + TAG_LENGTH) throw new Error("a push payload must fit one record");
  return { body, salt, serverPublicKey: asPublic };
}
