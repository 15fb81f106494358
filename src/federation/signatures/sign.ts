import { signCavage } from "./cavage.js";
import { computeContentDigestHeader, computeDigestHeader } from "./digest.js";
import { signRfc9421 } from "./rfc9421.js";
import { hasBody, type SignatureStandard, type SigningKey } from "./types.js";

export interface SignOptions {
  now?: Date;
  /** draft-cavage: the `algorithm=` label. Default `rsa-sha256` for RSA keys, `hs2019` for Ed25519 keys. */
  algorithm?: "rsa-sha256" | "hs2019";
  /** rfc9421: the covered components. Default `@method @target-uri`, plus `content-digest` with a body. */
  components?: string[];
  /** rfc9421: the signature label. Default `sig1`. */
  label?: string;
  /** rfc9421: whether to send the `alg` parameter. Default true. */
  includeAlg?: boolean;
}

/**
 * Returns a copy of `request` with Host, Date, a body digest (for anything but GET/HEAD, or when a
 * body is given) and the signature headers of `standard`. `body` must be the exact bytes to send;
 * the returned request carries them. See signHeaders.
 */
export async function signRequest(
  request: Request,
  body: Uint8Array | null,
  key: SigningKey,
  standard: SignatureStandard,
  opts: SignOptions = {},
): Promise<Request> {
  const headers = signHeaders(
    { method: request.method, url: new URL(request.url), headers: request.headers, body },
    key,
    standard,
    opts,
  );
  const withBody = body !== null || hasBody(request.method);
  return new Request(request, { headers, body: withBody ? (body ?? new Uint8Array(0)) : null });
}

/**
 * The headers to send for a request: a copy of its headers with Host, Date, a body digest (for anything but
 * GET/HEAD, or when a body is given) and the signature headers of `standard`. `body` must be the exact bytes
 * to send. The delivery path signs with this directly, without building a Request.
 *
 * draft-cavage covers `(request-target) host date`, plus `digest` with a body and `content-type`
 * when there is one. rfc9421 covers `@method @target-uri`, plus `content-digest` with a body. Either way the
 * target's host is covered, so the signature is good for that server only.
 */
export function signHeaders(
  request: { method: string; url: URL; headers: Headers; body: Uint8Array | null },
  key: SigningKey,
  standard: SignatureStandard,
  opts: SignOptions = {},
): Headers {
  const now = opts.now ?? new Date();
  const { method, url, body } = request;
  const headers = new Headers(request.headers);
  headers.delete("signature");
  headers.delete("signature-input");
  headers.set("host", url.host);
  headers.set("date", now.toUTCString());
  const withBody = body !== null || hasBody(method);
  const bytes = body ?? new Uint8Array(0);
  const req = { method, headers, url };

  if (standard === "draft-cavage") {
    const covered = ["(request-target)", "host", "date"];
    if (withBody) {
      headers.set("digest", computeDigestHeader(bytes));
      covered.push("digest");
    }
    if (headers.has("content-type")) covered.push("content-type");
    const algorithm = opts.algorithm ?? (key.type === "rsa" ? "rsa-sha256" : "hs2019");
    headers.set("signature", signCavage(key, req, covered, algorithm));
  } else {
    if (withBody) headers.set("content-digest", computeContentDigestHeader(bytes));
    const components = opts.components ?? ["@method", "@target-uri", ...(withBody ? ["content-digest"] : [])];
    const signed = signRfc9421(key, req, components, {
      created: Math.floor(now.getTime() / 1000),
      label: opts.label ?? "sig1",
      includeAlg: opts.includeAlg ?? true,
    });
    headers.set("signature-input", signed.signatureInput);
    headers.set("signature", signed.signature);
  }
  return headers;
}
