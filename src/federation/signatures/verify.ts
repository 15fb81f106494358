import { verifyCavage } from "./cavage.js";
import { verifyBodyDigests } from "./digest.js";
import { verifyRfc9421 } from "./rfc9421.js";
import {
  DEFAULT_WINDOW_SECONDS,
  type PublicKeyInfo,
  SignatureError,
  type SignatureStandard,
  type VerifyOptions,
  type VerifyResult,
} from "./types.js";

/**
 * Verifies an incoming request signed with either standard: RFC 9421 when it has a Signature-Input
 * header, draft-cavage otherwise. A body that does not match its Digest or Content-Digest is
 * rejected whatever the signature says.
 */
export async function verifyRequest(
  method: string,
  headers: Headers,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const req = { method, headers, url: new URL(opts.url) };
  const common = {
    lookupKey: opts.lookupKey,
    windowSeconds: opts.windowSeconds ?? DEFAULT_WINDOW_SECONDS,
    now: opts.now ?? new Date(),
  };
  const signatureInput = headers.get("signature-input");
  const signature = headers.get("signature");
  const authorization = headers.get("authorization");
  const cavageHeader =
    signature ?? (authorization?.startsWith("Signature ") ? authorization.slice("Signature ".length) : null);
  if (cavageHeader === null) return { ok: false, status: 401, error: "request is not signed" };

  const digest = verifyBodyDigests(headers, opts.body);
  if (!digest.ok) return { ok: false, status: 400, error: digest.error };

  try {
    let key: PublicKeyInfo;
    let standard: SignatureStandard;
    if (signatureInput !== null && signature !== null) {
      key = await verifyRfc9421(signatureInput, signature, req, common);
      standard = "rfc9421";
    } else {
      key = await verifyCavage(cavageHeader, req, common);
      standard = "draft-cavage";
    }
    return { ok: true, keyId: key.keyId, ownerId: key.ownerId, standard };
  } catch (error) {
    if (error instanceof SignatureError) return { ok: false, status: error.status, error: error.message };
    throw error;
  }
}
