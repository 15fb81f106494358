import { createHash } from "node:crypto";
import { AwsClient } from "aws4fetch";
import type { Config } from "../../config/spec.js";
import { contentTypeOf } from "./content-type.js";
import { type MediaStorage, StorageError } from "./types.js";

/** Waiting for the service to answer (the headers); a streamed body then takes as long as it takes. */
const ANSWER_TIMEOUT_MS = 30_000;
/** A whole upload or download of one file (videos reach 99 MB by default). */
const TRANSFER_TIMEOUT_MS = 10 * 60_000;

export type S3Settings = Config["media.s3"];

/**
 * An S3-compatible bucket, spoken to with SigV4-signed fetches. The endpoint is the operator's configuration,
 * not a federation peer, so these requests do not go through the federation client and its address checks;
 * they have their own timeouts.
 */
export class S3Storage implements MediaStorage {
  readonly kind = "s3";
  readonly #client: AwsClient;
  readonly #base: string;
  readonly #public: string | null;

  constructor(settings: S3Settings) {
    this.#client = new AwsClient({
      accessKeyId: settings.access_key_id,
      secretAccessKey: settings.secret_access_key,
      region: settings.region || "us-east-1",
      service: "s3",
      // aws4fetch retries 5xx and 429 itself; a few times is enough for a request someone is waiting on.
      retries: 2,
    });
    const endpoint = new URL(settings.endpoint);
    const path = endpoint.pathname.replace(/\/+$/, "");
    this.#base = settings.path_style
      ? `${endpoint.origin}${path}/${encodeURIComponent(settings.bucket)}/`
      : `${endpoint.protocol}//${settings.bucket}.${endpoint.host}${path}/`;
    this.#public = settings.public_url ? settings.public_url.replace(/\/+$/, "") : null;
  }

  objectUrl(name: string): string {
    return this.#base + encodeURIComponent(name);
  }

  async #request(method: string, name: string, init: RequestInit, timeoutMs: number): Promise<Response> {
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new StorageError(`S3 ${method} ${name}: no answer in ${timeoutMs / 1000}s`)),
      timeoutMs,
    );
    try {
      return await this.#client.fetch(this.objectUrl(name), { ...init, method, signal: abort.signal });
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(`S3 ${method} ${name}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async put(name: string, bytes: Uint8Array, contentType = contentTypeOf(name)): Promise<void> {
    const response = await this.#request(
      "PUT",
      name,
      {
        body: bytes,
        headers: {
          "Content-Type": contentType,
          // The service checks the bytes against this; its ETag is then this MD5, which `media migrate` compares.
          "Content-MD5": createHash("md5").update(bytes).digest("base64"),
          // Names are random and never reused: served from public_url, the files can be cached for good.
          "Cache-Control": "public, max-age=31536000, immutable",
        },
      },
      TRANSFER_TIMEOUT_MS,
    );
    await response.body?.cancel();
    if (!response.ok) throw new StorageError(`S3 PUT ${name}: HTTP ${response.status}`);
  }

  async get(name: string): Promise<Uint8Array | null> {
    const abort = AbortSignal.timeout(TRANSFER_TIMEOUT_MS);
    let response: Response;
    try {
      response = await this.#client.fetch(this.objectUrl(name), { signal: abort });
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new StorageError(`S3 GET ${name}: HTTP ${response.status}`);
      }
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(`S3 GET ${name}: ${(error as Error).message}`);
    }
  }

  async stat(name: string): Promise<{ size: number; etag: string | null } | null> {
    const response = await this.#request("HEAD", name, {}, ANSWER_TIMEOUT_MS);
    if (response.status === 404) return null;
    if (!response.ok) throw new StorageError(`S3 HEAD ${name}: HTTP ${response.status}`);
    const etag = response.headers.get("etag");
    return {
      size: Number(response.headers.get("content-length") ?? Number.NaN),
      etag: etag ? etag.replace(/^(W\/)?"|"$/g, "") : null,
    };
  }

  async delete(name: string): Promise<void> {
    const response = await this.#request("DELETE", name, {}, ANSWER_TIMEOUT_MS);
    await response.body?.cancel();
    if (!response.ok && response.status !== 404)
      throw new StorageError(`S3 DELETE ${name}: HTTP ${response.status}`);
  }

  publicUrl(name: string): string | null {
    return this.#public ? `${this.#public}/${name}` : null;
  }

  /**
   * The service's answer to a GET or HEAD of the file, passing the Range header on, its body unread so that
   * it can be streamed on to the client. The timeout covers only the wait for the answer.
   */
  async open(name: string, method: "GET" | "HEAD", range: string | undefined): Promise<Response> {
    return this.#request(method, name, range ? { headers: { Range: range } } : {}, ANSWER_TIMEOUT_MS);
  }
}
