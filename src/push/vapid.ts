/**
 * The server's VAPID identity (RFC 8292): one P-256 key pair, made once and kept in `settings`, whose public
 * half apps pass to the push service when they subscribe (`server_key`, `vapid_key`,
 * `configuration.vapid.public_key`); and the JWT that proves each push comes from us.
 */
import { generateKeyPairSync } from "node:crypto";
import { eq } from "drizzle-orm";
import type { CryptoKey } from "jose";
import type { Db } from "../store/open.js";
import { settings } from "../store/schema.js";

export interface VapidKeys {
  /** Uncompressed P-256 point (65 bytes), base64url: what apps and push services are given. */
  publicKey: string;
  /** The private scalar d (32 bytes), base64url. */
  privateKey: string;
}

/** How long a VAPID JWT is valid; RFC 8292 allows at most 24 hours. */
export const VAPID_JWT_TTL_SECONDS = 12 * 60 * 60;

const VAPID_SETTING = "vapid";
const keysCache = new WeakMap<Db, VapidKeys>();
const signingKeyCache = new WeakMap<VapidKeys, Promise<CryptoKey | Uint8Array>>();

function isVapidKeys(value: unknown): value is VapidKeys {
  const v = value as Partial<VapidKeys> | null;
  return typeof v?.publicKey === "string" && typeof v.privateKey === "string";
}

/** The instance's VAPID key pair, made on first use and kept in `settings` for good. */
export function vapidKeys(db: Db): VapidKeys {
  const cached = keysCache.get(db);
  if (cached) return cached;
  const read = () => {
    const value = db.select().from(settings).where(eq(settings.key, VAPID_SETTING)).get()?.value;
    return isVapidKeys(value) ? value : null;
  };
  let keys = read();
  if (!keys) {
    const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const pub = pair.publicKey.export({ format: "jwk" });
    const priv = pair.privateKey.export({ format: "jwk" });
    if (!pub.x || !pub.y || !priv.d) throw new Error("the P-256 key could not be exported");
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(pub.x, "base64url"),
      Buffer.from(pub.y, "base64url"),
    ]);
    const made: VapidKeys = { publicKey: point.toString("base64url"), privateKey: priv.d };
    // Another process may have made one meanwhile: the first written wins, and everyone reads that one.
    db.insert(settings).values({ key: VAPID_SETTING, value: made }).onConflictDoNothing().run();
    keys = read() ?? made;
  }
  keysCache.set(db, keys);
  return keys;
}

/** jose is loaded with the first push, so a server nobody subscribed to never pays for it. */
const loadJose = () => import("jose");

function signingKey(keys: VapidKeys): Promise<CryptoKey | Uint8Array> {
  let key = signingKeyCache.get(keys);
  if (!key) {
    const point = Buffer.from(keys.publicKey, "base64url");
    key = loadJose().then(({ importJWK }) =>
      importJWK(
        {
          kty: "EC",
          crv: "P-256",
          x: point.subarray(1, 33).toString("base64url"),
          y: point.subarray(33, 65).toString("base64url"),
          d: keys.privateKey,
        },
        "ES256",
      ),
    );
    signingKeyCache.set(keys, key);
  }
  return key;
}

/**
 * A VAPID JWT for a push to `endpoint`: `aud` is the push service's origin, `exp` 12 hours ahead, `sub` the
 * contact URI (mailto: or the instance's URL).
 */
export async function vapidJwt(keys: VapidKeys, endpoint: string, subject: string, nowMs: number) {
  const { SignJWT } = await loadJose();
  return new SignJWT({ sub: subject })
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setAudience(new URL(endpoint).origin)
    .setExpirationTime(Math.floor(nowMs / 1000) + VAPID_JWT_TTL_SECONDS)
    .sign(await signingKey(keys));
}
