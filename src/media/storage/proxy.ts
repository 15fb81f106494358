import type { S3Storage } from "./s3.js";
import { StorageError } from "./types.js";

const unavailable = () => new Response(null, { status: 502, headers: { "Retry-After": "10" } });

const PASSED_ON = ["content-length", "content-range", "etag", "last-modified"];

/**
 * Wren's /media/NAME answered from the bucket: the service's body streamed through untouched (never
 * buffered), with Wren's own headers (type, caching, sandbox) and the service's length, range and validators.
 * A Range header is passed on, so video players can seek. null when the bucket has no such file.
 */
export async function proxyFromBucket(
  storage: S3Storage,
  name: string,
  request: { method: string; range: string | undefined },
  headers: Record<string, string>,
): Promise<Response | null> {
  const method = request.method === "HEAD" ? "HEAD" : "GET";
  let upstream: Response;
  try {
    upstream = await storage.open(name, method, request.range);
  } catch (error) {
    if (error instanceof StorageError) return unavailable();
    throw error;
  }
  if (upstream.status === 404) {
    await upstream.body?.cancel();
    return null;
  }
  if (upstream.status !== 200 && upstream.status !== 206 && upstream.status !== 416) {
    await upstream.body?.cancel();
    return unavailable();
  }
  const answer = new Headers(headers);
  for (const header of PASSED_ON) {
    const value = upstream.headers.get(header);
    if (value !== null) answer.set(header, value);
  }
  if (method === "HEAD" || upstream.status === 416) {
    await upstream.body?.cancel();
    return new Response(null, { status: upstream.status, headers: answer });
  }
  return new Response(upstream.body, { status: upstream.status, headers: answer });
}
