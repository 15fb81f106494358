export { type CavageSignature, cavageSigningString, parseCavageSignature } from "./cavage.js";
export {
  computeContentDigestHeader,
  computeDigestHeader,
  type DigestAlgorithm,
  type DigestCheck,
  verifyBodyDigests,
  verifyContentDigestHeader,
  verifyDigestHeader,
} from "./digest.js";
export { DEFAULT_STANDARD, otherStandard, SignatureStandardMemory } from "./negotiation.js";
export {
  parseAcceptSignature,
  parseRfc9421Signatures,
  type Rfc9421Signature,
  type SignatureRequest,
  signatureBase,
} from "./rfc9421.js";
export { type SignOptions, signHeaders, signRequest } from "./sign.js";
export type {
  KeyLookup,
  PublicKeyInfo,
  SignatureStandard,
  SigningKey,
  VerifyOptions,
  VerifyResult,
} from "./types.js";
export { verifyRequest } from "./verify.js";
