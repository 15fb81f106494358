// Signed POSTs crafted by the tests themselves, for activities the Fedify peer has no method for (a Question
// and its refreshes, a Move, a vote). They are signed with Wren's signer and the key a peer actor publishes.
import { request as httpRequest } from "node:http";
import {
  type SignatureStandard,
  type SigningKey,
  signRequest,
} from "../../src/federation/signatures/index.js";

export interface RawResponse {
  status: number;
  body: string;
}

/** A POST over node:http: the exact bytes and headers given, nothing added but Content-Length. */
export function rawPost(url: string, headers: Headers, body: Uint8Array): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing: Record<string, string> = {};
    headers.forEach((value, name) => {
      outgoing[name] = value;
    });
    outgoing["content-length"] = String(body.byteLength);
    let answered = false;
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: "POST",
        headers: outgoing,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    // A server that answers before reading the whole body (413) may close the socket under our writes.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    req.end(Buffer.from(body));
  });
}

export const encodeJson = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

/** Signs `body` for `url` with `key` in `standard` and POSTs it; `sendInstead` replaces the bytes sent. */
export async function signedPost(
  url: string,
  body: unknown,
  key: SigningKey,
  standard: SignatureStandard = "draft-cavage",
  options: { now?: Date; sendInstead?: Uint8Array } = {},
): Promise<RawResponse> {
  const bytes = body instanceof Uint8Array ? body : encodeJson(body);
  const signed = await signRequest(
    new Request(url, { method: "POST", headers: { "content-type": "application/activity+json" } }),
    bytes,
    key,
    standard,
    { now: options.now },
  );
  return rawPost(url, signed.headers, options.sendInstead ?? bytes);
}
