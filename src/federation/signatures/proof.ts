/**
 * FEP-8b32 Object Integrity Proofs with the `eddsa-jcs-2022` cryptosuite (W3C vc-di-eddsa): an Ed25519
 * signature over SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document without `proof`)). The proof options are
 * the proof's own fields without `proofValue`, under the document's @context. A proof says who made the
 * document, whoever delivers it, so a reply forwarded by another server can be trusted without a refetch.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import canonicalize from "canonicalize";
import { base58btcDecode, base58btcEncode } from "../keys.js";

export const CRYPTOSUITE = "eddsa-jcs-2022";

export interface DataIntegrityProof {
  type: "DataIntegrityProof";
  cryptosuite: typeof CRYPTOSUITE;
  verificationMethod: string;
  proofPurpose: "assertionMethod";
  proofValue: string;
  created: string;
}

/** An Ed25519 key to sign proofs with: the raw 32-byte halves, base64url, as stored in `key_pairs`. */
export interface ProofSigningKey {
  keyId: string;
  publicKey: string;
  privateKey: string;
}

const privateKeys = new Map<string, KeyObject>();

function privateKeyObject(key: ProofSigningKey): KeyObject {
  let object = privateKeys.get(key.privateKey);
  if (!object) {
    object = createPrivateKey({
      key: { kty: "OKP", crv: "Ed25519", d: key.privateKey, x: key.publicKey },
      format: "jwk",
    });
    if (privateKeys.size >= 16) privateKeys.clear();
    privateKeys.set(key.privateKey, object);
  }
  return object;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

function hashData(document: Record<string, unknown>, options: Omit<DataIntegrityProof, "proofValue">) {
  const { proof: _proof, ...unsecured } = document;
  const config = { "@context": document["@context"], ...options };
  return Buffer.concat([sha256(canonicalize(config) ?? ""), sha256(canonicalize(unsecured) ?? "")]);
}

/**
 * `created` without fractional seconds: verifiers that re-serialise the date (Fedify reads it as a
 * Temporal.Instant) write whole seconds as `...:00Z`, and the hash must see the same text.
 */
function createdAt(now: number): string {
  return new Date(Math.floor(now / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export const DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v1";

/**
 * The @context with the Data Integrity terms: without them a JSON-LD reader (Fedify) drops `proof` as an
 * unknown term and falls back to the HTTP signature.
 */
function withDataIntegrity(context: unknown): unknown {
  const list = context === undefined ? [] : Array.isArray(context) ? context : [context];
  return list.includes(DATA_INTEGRITY_CONTEXT) ? context : [...list, DATA_INTEGRITY_CONTEXT];
}

/**
 * The document with a proof made with `key` (an existing proof is replaced), its @context extended with the
 * Data Integrity terms when it lacks them.
 */
export function signDocument<T extends Record<string, unknown>>(
  unsigned: T,
  key: ProofSigningKey,
  now = Date.now(),
): T & { proof: DataIntegrityProof } {
  const document = { ...unsigned, "@context": withDataIntegrity(unsigned["@context"]) };
  const options = {
    type: "DataIntegrityProof",
    cryptosuite: CRYPTOSUITE,
    verificationMethod: key.keyId,
    proofPurpose: "assertionMethod",
    created: createdAt(now),
  } as const;
  const signature = sign(null, hashData(document, options), privateKeyObject(key));
  const proof: DataIntegrityProof = { ...options, proofValue: `z${base58btcEncode(signature)}` };
  return { ...document, proof };
}

/** The one `eddsa-jcs-2022` proof of a document, or null when it carries none we read. */
export function proofOf(document: Record<string, unknown>): DataIntegrityProof | null {
  const proofs = Array.isArray(document.proof) ? document.proof : [document.proof];
  for (const proof of proofs) {
    if (typeof proof !== "object" || proof === null) continue;
    const p = proof as Record<string, unknown>;
    if (
      p.type === "DataIntegrityProof" &&
      p.cryptosuite === CRYPTOSUITE &&
      p.proofPurpose === "assertionMethod" &&
      typeof p.verificationMethod === "string" &&
      typeof p.proofValue === "string" &&
      typeof p.created === "string"
    ) {
      return p as unknown as DataIntegrityProof;
    }
  }
  return null;
}

/**
 * Whether `proof` is a valid signature of `document` by the raw Ed25519 `publicKey`. The document is
 * hashed without every proof it carries (a document with several proofs is checked against this one).
 */
export function verifyDocumentProof(
  document: Record<string, unknown>,
  proof: DataIntegrityProof,
  publicKey: Uint8Array,
): boolean {
  if (!proof.proofValue.startsWith("z")) return false;
  const signature = base58btcDecode(proof.proofValue.slice(1));
  if (signature?.length !== 64) return false;
  const { proofValue: _value, ...options } = proof;
  // Only the fields the cryptosuite defines: anything else in the proof object is not signed.
  const signed = {
    type: options.type,
    cryptosuite: options.cryptosuite,
    verificationMethod: options.verificationMethod,
    proofPurpose: options.proofPurpose,
    created: options.created,
  };
  try {
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    });
    return verify(null, hashData(document, signed), key, signature);
  } catch {
    return false;
  }
}
