import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { Hono } from "hono";
import type { Context } from "../../context.js";
import { servedCachedFile } from "../../media/cache.js";
import { deleteUpload } from "../../media/delete.js";
import { mediaStorage, S3Storage } from "../../media/storage/index.js";
import { proxyFromBucket } from "../../media/storage/proxy.js";
import { findOwnMedia, mediaFilePath, saveUpload, updateMedia } from "../../media/store.js";
import { findLocalUser } from "../../store/accounts.js";
import { findMediaById } from "../../store/media.js";
import { HttpError } from "../errors.js";
import { type ApiEnv, requireUser } from "./auth.js";
import { renderMedia } from "./entities.js";
import { type Params, read, readParams } from "./params.js";

function localAccountId(ctx: Context): string {
  const local = findLocalUser(ctx.store.db);
  if (!local) throw new HttpError(404, "there is no account yet");
  return local.account.id;
}

const MEDIA_FILE = /^[0-9]{1,19}-[0-9a-f]{12}(-small)?\.[a-z0-9]{2,5}$/;

/**
 * One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) within a file of `size` bytes. null means send the
 * whole file: no Range header, another unit, several ranges or a malformed one (RFC 9110 lets a server ignore
 * those); "unsatisfiable" when it starts past the end.
 */
function byteRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    return suffix === 0 || size === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) return "unsatisfiable";
  return [start, last === "" ? size - 1 : Math.min(Number(last), size - 1)];
}

export function mediaRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();

  const upload = async (c: import("hono").Context<ApiEnv>) => {
    requireUser(c, "write:media");
    const params: Params = await readParams(c);
    const file = params.file;
    if (!(file instanceof File)) throw new HttpError(422, "file is required (multipart/form-data)");
    const row = await saveUpload(ctx, localAccountId(ctx), file, {
      description: read.string(params, "description"),
      focus: read.string(params, "focus"),
    });
    return c.json(renderMedia(ctx, row), row.processing === "pending" ? 202 : 200);
  };
  app.post("/api/v1/media", upload);
  app.post("/api/v2/media", upload);

  app.get("/api/v1/media/:id", (c) => {
    requireUser(c, "write:media");
    const row = findOwnMedia(ctx, localAccountId(ctx), c.req.param("id"));
    return c.json(renderMedia(ctx, row), row.processing === "pending" ? 206 : 200);
  });

  app.put("/api/v1/media/:id", async (c) => {
    requireUser(c, "write:media");
    const params = await readParams(c);
    const row = updateMedia(ctx, localAccountId(ctx), c.req.param("id"), {
      description: read.string(params, "description"),
      focus: read.string(params, "focus"),
    });
    return c.json(renderMedia(ctx, row));
  });

  app.delete("/api/v1/media/:id", async (c) => {
    requireUser(c, "write:media");
    await deleteUpload(ctx, localAccountId(ctx), c.req.param("id"));
    return c.json({});
  });

  // The files themselves: streamed from disk or the bucket, never buffered; names are random and immutable.
  app.get("/media/:name", async (c) => {
    const name = c.req.param("name");
    if (!MEDIA_FILE.test(name)) throw new HttpError(404, "not found");
    const id = name.split("-")[0] as string;
    const upload = findMediaById(ctx.store.db, id);
    const row =
      upload && (upload.fileName === name || upload.previewFileName === name)
        ? upload
        : servedCachedFile(ctx, name);
    if (!row) throw new HttpError(404, "not found");
    const type =
      name === row.previewFileName ? "image/webp" : (row.contentType ?? "application/octet-stream");
    const headers: Record<string, string> = {
      "Content-Type": type,
      "Cache-Control": "public, max-age=31536000, immutable",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Access-Control-Allow-Origin": "*",
      // Video players (Safari's and iOS's AVPlayer) ask for byte ranges and play nothing without them.
      "Accept-Ranges": "bytes",
    };
    const storage = mediaStorage(ctx.config);
    if (storage instanceof S3Storage) {
      const request = { method: c.req.method, range: c.req.header("range") };
      const proxied = await proxyFromBucket(storage, name, request, headers);
      if (!proxied) throw new HttpError(404, "not found");
      return proxied;
    }
    const path = mediaFilePath(ctx, name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new HttpError(404, "not found");
    }
    const range = byteRange(c.req.header("range"), size);
    if (range === "unsatisfiable") {
      return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
    }
    const [start, end] = range ?? [0, size - 1];
    headers["Content-Length"] = String(size === 0 ? 0 : end - start + 1);
    if (range) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    const status = range ? 206 : 200;
    // HEAD gets the headers only: a stream opened and never read would hold its file descriptor.
    if (c.req.method === "HEAD" || size === 0) return new Response(null, { status, headers });
    return new Response(Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream, {
      status,
      headers,
    });
  });
  return app;
}
