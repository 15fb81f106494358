/**
 * Two-factor login with time-based one-time passwords (RFC 6238 over RFC 4226: HMAC-SHA1, 30-second steps, six
 * digits), as every authenticator app computes them, plus single-use recovery codes. A code is accepted one step
 * early or late (clock drift), and never for a step at or before the last one accepted (no replay).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "../context.js";
import { recoveryCodes, totpSecrets } from "../store/schema.js";
import { UserError } from "./account.js";
import { hashSecret } from "./secrets.js";
import { commit } from "./unit-of-work.js";

export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of now. */
const WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Encode(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.toUpperCase().replace(/[\s=]/g, "")) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The time step of a moment (Unix milliseconds). */
export function totpStep(now = Date.now()): number {
  return Math.floor(now / 1000 / TOTP_STEP_SECONDS);
}

/** The code for one time step (RFC 4226 §5.3 dynamic truncation). */
export function totpCode(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, "0");
}

/** The step within the window whose code this is, or null. Steps at or before `after` are not tried. */
export function matchingStep(secret: string, code: string, now: number, after: number | null): number | null {
  const given = code.replace(/\s/g, "");
  if (!/^\d{6}$/.test(given)) return null;
  const current = totpStep(now);
  let found: number | null = null;
  // Every candidate is computed and compared in constant time, so the time taken does not tell which matched.
  for (let step = current - WINDOW; step <= current + WINDOW; step++) {
    const same = timingSafeEqual(Buffer.from(totpCode(secret, step)), Buffer.from(given));
    if (same && (after === null || step > after) && found === null) found = step;
  }
  return found;
}

/** The otpauth:// URI authenticator apps read (from a QR code or typed in). */
export function otpauthUri(secret: string, issuer: string, account: string): string {
  const label = encodeURIComponent(`${issuer}:${account}`);
  const params = new URLSearchParams({
    secret,
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${params}`;
}

export type TotpState = { kind: "off" } | { kind: "pending"; secret: string } | { kind: "on" };

export function totpState(ctx: Context, userId: string): TotpState {
  const row = ctx.store.db.select().from(totpSecrets).where(eq(totpSecrets.userId, userId)).get();
  if (!row) return { kind: "off" };
  return row.confirmedAt === null ? { kind: "pending", secret: row.secret } : { kind: "on" };
}

export function totpEnabled(ctx: Context, userId: string): boolean {
  return totpState(ctx, userId).kind === "on";
}

/** Starts enrolment: a new 160-bit secret, not yet required at login. Refused while two-factor login is on. */
export function beginTotp(ctx: Context, userId: string, now = Date.now()): string {
  const secret = base32Encode(randomBytes(20));
  commit(ctx, () => {
    if (totpEnabled(ctx, userId)) throw new UserError("two-factor login is already on", 409);
    ctx.store.db.delete(totpSecrets).where(eq(totpSecrets.userId, userId)).run();
    ctx.store.db.insert(totpSecrets).values({ userId, secret, createdAt: now }).run();
  });
  return secret;
}

/** A recovery code as shown: 80 random bits in four groups of four base32 letters. */
function newRecoveryCode(): string {
  return base32Encode(randomBytes(10)).toLowerCase().match(/.{4}/g)?.join("-") ?? "";
}

const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[^a-z2-7]/g, "");

/**
 * Ends enrolment with a code from the app: two-factor login is on from now. Returns the recovery codes, which
 * are shown this once (only their hashes are kept).
 */
export function confirmTotp(ctx: Context, userId: string, code: string, now = Date.now()): string[] {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  commit(ctx, () => {
    const { db } = ctx.store;
    const row = db.select().from(totpSecrets).where(eq(totpSecrets.userId, userId)).get();
    if (!row || row.confirmedAt !== null)
      throw new UserError("start the set-up of two-factor login first", 409);
    const step = matchingStep(row.secret, code, now, null);
    if (step === null)
      throw new UserError("that code is not right: check the time on your phone and try again");
    db.update(totpSecrets)
      .set({ confirmedAt: now, lastStep: step })
      .where(eq(totpSecrets.userId, userId))
      .run();
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)).run();
    db.insert(recoveryCodes)
      .values(codes.map((c) => ({ codeHash: hashSecret(normalizeRecoveryCode(c)), userId, createdAt: now })))
      .run();
  });
  return codes;
}

/** Turns two-factor login off (the caller checked the password) and forgets the secret and recovery codes. */
export function disableTotp(ctx: Context, userId: string): void {
  commit(ctx, () => {
    ctx.store.db.delete(totpSecrets).where(eq(totpSecrets.userId, userId)).run();
    ctx.store.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)).run();
  });
}

/**
 * Checks the second factor of a login: a current TOTP code (its step is then spent) or an unused recovery code
 * (then used up). True when two-factor login is off.
 */
export function verifySecondFactor(ctx: Context, userId: string, code: string, now = Date.now()): boolean {
  return commit(ctx, () => {
    const { db } = ctx.store;
    const row = db.select().from(totpSecrets).where(eq(totpSecrets.userId, userId)).get();
    if (!row || row.confirmedAt === null) return true;
    const step = matchingStep(row.secret, code, now, row.lastStep);
    if (step !== null) {
      db.update(totpSecrets).set({ lastStep: step }).where(eq(totpSecrets.userId, userId)).run();
      return true;
    }
    const normalized = normalizeRecoveryCode(code);
    if (normalized.length !== 16) return false;
    const used = db
      .update(recoveryCodes)
      .set({ usedAt: now })
      .where(
        and(
          eq(recoveryCodes.codeHash, hashSecret(normalized)),
          eq(recoveryCodes.userId, userId),
          isNull(recoveryCodes.usedAt),
        ),
      )
      .run().changes;
    return used === 1;
  });
}

/** Recovery codes not used yet. */
export function unusedRecoveryCodes(ctx: Context, userId: string): number {
  return ctx.store.db
    .select({ hash: recoveryCodes.codeHash })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)))
    .all().length;
}
