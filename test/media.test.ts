import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeUnattachedMedia } from "../src/media/store.js";
import { api, issueToken } from "./helpers/api.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Fixtures are made here with sharp at run time: no binary files in the repository.

interface MediaJson {
  id: string;
  type: string;
  url: string | null;
  preview_url: string | null;
  remote_url: string | null;
  description: string | null;
  blurhash: string | null;
  meta: {
    original?: { width: number; height: number; size: string; aspect: number };
    small?: { width: number; height: number };
    focus?: { x: number; y: number };
  };
}

/** A multipart upload the way apps send it: FormData with a Blob, over real HTTP. */
async function upload(
  server: TestServer,
  token: string | null,
  file: { bytes: Uint8Array; name: string; type: string } | null,
  fields: Record<string, string> = {},
  path = "/api/v2/media",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const form = new FormData();
  if (file) form.append("file", new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    body: form,
  });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: response.status, json };
}

async function fetchFile(url: string): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const response = await fetch(url);
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

function mediaRowCount(server: TestServer): number {
  const row = server.context.store.sqlite.prepare("SELECT count(*) AS n FROM media_attachments").get() as {
    n: number;
  };
  return row.n;
}

function mediaFiles(server: TestServer): string[] {
  const dir = server.context.config.media.path;
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** The local file behind a /media/NAME URL. */
function fileOf(server: TestServer, url: string): string {
  const name = new URL(url).pathname.replace(/^\/media\//, "");
  return join(server.context.config.media.path, name);
}

const solid = (width: number, height: number, background: string) =>
  sharp({ create: { width, height, channels: 3, background } });

/** The smallest thing that sniffs as MP4: an `ftyp` box (brand isom), then an empty `free` box and some `mdat`. */
function mp4Bytes(): Uint8Array {
  const ftyp = Buffer.concat([
    Buffer.from([0, 0, 0, 0x1c]),
    Buffer.from("ftypisom", "latin1"),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from("isomiso2mp41", "latin1"),
  ]);
  const free = Buffer.concat([Buffer.from([0, 0, 0, 8]), Buffer.from("free", "latin1")]);
  const mdat = Buffer.concat([
    Buffer.from([0, 0, 0, 24]),
    Buffer.from("mdat", "latin1"),
    Buffer.alloc(16, 0x42),
  ]);
  return new Uint8Array(Buffer.concat([ftyp, free, mdat]));
}

/** A three-frame animated GIF, 100x50 per frame. */
async function animatedGif(): Promise<Buffer> {
  const [width, height, pages] = [100, 50, 3];
  const raw = Buffer.alloc(width * height * pages * 4);
  for (let page = 0; page < pages; page++) {
    for (let i = 0; i < width * height; i++)
      raw.set([page * 100, 50, 200, 255], (page * width * height + i) * 4);
  }
  return sharp(raw, { raw: { width, height: height * pages, channels: 4, pageHeight: height } })
    .gif({ delay: [100, 100, 100], loop: 0 })
    .toBuffer();
}

describe("media API over HTTP", () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    // 10,000 pixels (the lowest allowed) makes the cap easy to exceed; every other fixture stays below it.
    server = await startTestServer({ account: "alice", env: { WREN_MEDIA_MAX_IMAGE_PIXELS: "10000" } });
    token = issueToken(server, "read write");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("takes a JPEG: applies its EXIF orientation, strips metadata, serves a WebP preview and a blurhash", async () => {
    const jpeg = await solid(40, 20, "red")
      .withMetadata({ orientation: 6, exif: { IFD0: { Copyright: "secret-gps-marker" } } })
      .jpeg()
      .toBuffer();
    // The fixture really carries what the server must remove.
    expect(jpeg.includes("secret-gps-marker")).toBe(true);
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);

    const { status, json } = await upload(
      server,
      token,
      { bytes: jpeg, name: "photo.jpg", type: "image/jpeg" },
      { description: "  A red square, turned  ", focus: "0.5,-0.25" },
    );
    expect(status).toBe(200);
    const media = json as unknown as MediaJson;
    expect(media.type).toBe("image");
    expect(media.id).toMatch(/^\d+$/);
    expect(media.description).toBe("A red square, turned");
    expect(media.meta.original).toMatchObject({ width: 20, height: 40, size: "20x40", aspect: 0.5 });
    expect(media.meta.small).toMatchObject({ width: 20, height: 40 });
    expect(media.meta.focus).toEqual({ x: 0.5, y: -0.25 });
    expect(typeof media.blurhash).toBe("string");
    expect(media.blurhash?.length).toBeGreaterThan(0);
    expect(media.remote_url).toBeNull();
    expect(media.url).toMatch(new RegExp(`^${server.origin}/media/${media.id}-[0-9a-f]{12}\\.jpg$`));
    expect(media.preview_url).toMatch(
      new RegExp(`^${server.origin}/media/${media.id}-[0-9a-f]{12}-small\\.webp$`),
    );

    const original = await fetchFile(media.url as string);
    expect(original.status).toBe(200);
    expect(original.headers.get("content-type")).toBe("image/jpeg");
    expect(original.headers.get("cache-control")).toContain("immutable");
    expect(original.headers.get("content-length")).toBe(String(original.bytes.length));
    expect(original.bytes.includes("secret-gps-marker")).toBe(false);
    const served = await sharp(original.bytes).metadata();
    expect(served.format).toBe("jpeg");
    expect(served.exif).toBeUndefined();
    expect(served.orientation).toBeUndefined();
    // Turned for real, not merely re-tagged.
    expect([served.width, served.height]).toEqual([20, 40]);

    const preview = await fetchFile(media.preview_url as string);
    expect(preview.status).toBe(200);
    expect(preview.headers.get("content-type")).toBe("image/webp");
    expect(preview.headers.get("cache-control")).toContain("immutable");
    expect(preview.bytes.includes("secret-gps-marker")).toBe(false);
    const previewMeta = await sharp(preview.bytes).metadata();
    expect(previewMeta.format).toBe("webp");
    expect(previewMeta.exif).toBeUndefined();
    expect([previewMeta.width, previewMeta.height]).toEqual([20, 40]);
  });

  it.each([
    ["PNG", "image/png", "png", () => solid(30, 30, "green").png().toBuffer()],
    ["WebP", "image/webp", "webp", () => solid(30, 30, "blue").webp().toBuffer()],
    ["GIF", "image/gif", "gif", () => solid(30, 30, "yellow").gif().toBuffer()],
  ])("takes a %s and serves it as %s, immutable", async (_label, mime, ext, make) => {
    const bytes = await make();
    const { status, json } = await upload(
      server,
      token,
      { bytes, name: `picture.${ext}`, type: mime },
      {},
      "/api/v1/media",
    );
    expect(status).toBe(200);
    const media = json as unknown as MediaJson;
    expect(media.type).toBe("image");
    expect(media.meta.original).toMatchObject({ width: 30, height: 30 });
    expect(media.url).toMatch(new RegExp(`\\.${ext}$`));
    const served = await fetchFile(media.url as string);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe(mime);
    expect(served.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await sharp(served.bytes).metadata()).format).toBe(ext === "jpg" ? "jpeg" : ext);
    const preview = await fetchFile(media.preview_url as string);
    expect(preview.headers.get("content-type")).toBe("image/webp");
    expect(preview.headers.get("cache-control")).toContain("immutable");
  });

  it("keeps a GIF's animation and applies the pixel cap to one frame, not to all of them stacked", async () => {
    // 100x50 per frame is 5,000 pixels, under the 10,000 cap; the three frames together are 15,000.
    const { status, json } = await upload(server, token, {
      bytes: await animatedGif(),
      name: "a.gif",
      type: "image/gif",
    });
    expect(status).toBe(200);
    const media = json as unknown as MediaJson;
    expect(media.meta.original).toMatchObject({ width: 100, height: 50 });
    const served = await fetchFile(media.url as string);
    const meta = await sharp(served.bytes, { animated: true }).metadata();
    expect(meta.pages).toBe(3);
    expect([meta.width, meta.pageHeight]).toEqual([100, 50]);
  });

  it("refuses a text file named .png with 422, writing no row and no file", async () => {
    const rowsBefore = mediaRowCount(server);
    const filesBefore = mediaFiles(server);
    const text = new TextEncoder().encode(
      "this is not a picture, only words pretending to be one\n".repeat(4),
    );
    const { status, json } = await upload(server, token, {
      bytes: text,
      name: "evil.png",
      type: "image/png",
    });
    expect(status).toBe(422);
    expect(json.error).toMatch(/file type is not supported/);
    expect(mediaRowCount(server)).toBe(rowsBefore);
    expect(mediaFiles(server)).toEqual(filesBefore);
  });

  it("refuses a truncated image with 422 (not 500), writing nothing", async () => {
    const rowsBefore = mediaRowCount(server);
    const filesBefore = mediaFiles(server);
    const png = await solid(80, 80, "purple").png().toBuffer();
    const { status, json } = await upload(server, token, {
      bytes: png.subarray(0, png.length - 20),
      name: "cut.png",
      type: "image/png",
    });
    expect(status).toBe(422);
    expect(json.error).toMatch(/could not be read/);
    expect(mediaRowCount(server)).toBe(rowsBefore);
    expect(mediaFiles(server)).toEqual(filesBefore);
  });

  it("refuses an upload without a file with 422", async () => {
    const { status, json } = await upload(server, token, null, { description: "nothing" });
    expect(status).toBe(422);
    expect(json.error).toMatch(/file is required/);
  });

  it("stores a video as video, decided by its bytes even when named x.jpg and sent as image/jpeg", async () => {
    const bytes = mp4Bytes();
    const { status, json } = await upload(server, token, { bytes, name: "x.jpg", type: "image/jpeg" });
    expect(status).toBe(200);
    const media = json as unknown as MediaJson;
    expect(media.type).toBe("video");
    expect(media.url).toMatch(/\.mp4$/);
    expect(media.blurhash).toBeNull();
    const served = await fetchFile(media.url as string);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("video/mp4");
    expect(served.headers.get("cache-control")).toContain("immutable");
    // Kept as sent.
    expect(new Uint8Array(served.bytes)).toEqual(bytes);
    expect(served.headers.get("accept-ranges")).toBe("bytes");
  });

  it("serves byte ranges (video players need them) and HEAD", async () => {
    const bytes = mp4Bytes();
    const size = bytes.length;
    const url = (
      (await upload(server, token, { bytes, name: "v.mp4", type: "video/mp4" })).json as unknown as MediaJson
    ).url as string;
    const get = async (range: string) => {
      const response = await fetch(url, { headers: { Range: range } });
      return {
        status: response.status,
        headers: response.headers,
        bytes: new Uint8Array(await response.arrayBuffer()),
      };
    };

    const head = await get("bytes=4-11");
    expect(head.status).toBe(206);
    expect(head.headers.get("content-range")).toBe(`bytes 4-11/${size}`);
    expect(head.headers.get("content-length")).toBe("8");
    expect(new TextDecoder().decode(head.bytes)).toBe("ftypisom");

    const open = await get(`bytes=${size - 5}-`);
    expect(open.status).toBe(206);
    expect(open.bytes).toEqual(bytes.subarray(size - 5));

    const suffix = await get("bytes=-3");
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${size - 3}-${size - 1}/${size}`);
    expect(suffix.bytes).toEqual(bytes.subarray(size - 3));

    const clamped = await get(`bytes=0-${size * 10}`);
    expect(clamped.status).toBe(206);
    expect(clamped.bytes).toEqual(bytes);

    const beyond = await get(`bytes=${size}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${size}`);

    // Several ranges, or nonsense, get the whole file.
    for (const range of ["bytes=0-1,4-5", "lines=1-2", "bytes=5-2"]) {
      const whole = await get(range);
      expect(whole.status, range).toBe(200);
      expect(whole.bytes).toEqual(bytes);
    }

    const headResponse = await fetch(url, { method: "HEAD" });
    expect(headResponse.status).toBe(200);
    expect(headResponse.headers.get("content-length")).toBe(String(size));
    expect(headResponse.headers.get("content-type")).toBe("video/mp4");
    expect((await headResponse.arrayBuffer()).byteLength).toBe(0);
  });

  it("scales an image over the pixel cap down within it", async () => {
    const png = await solid(400, 200, "orange").png().toBuffer();
    const { status, json } = await upload(server, token, { bytes: png, name: "big.png", type: "image/png" });
    expect(status).toBe(200);
    const { original } = (json as unknown as MediaJson).meta;
    if (!original) throw new Error("no meta.original");
    expect(original.width * original.height).toBeLessThanOrEqual(10_000);
    expect(original.width * original.height).toBeGreaterThan(9_000);
    expect(original.aspect).toBeCloseTo(2, 1);
    const served = await sharp(
      (await fetchFile((json as unknown as MediaJson).url as string)).bytes,
    ).metadata();
    expect([served.width, served.height]).toEqual([original.width, original.height]);
  });

  it("GET /api/v1/media/:id: 200 for one's own upload, 404 for an unknown id", async () => {
    const { json } = await upload(server, token, {
      bytes: await solid(20, 20, "white").png().toBuffer(),
      name: "a.png",
      type: "image/png",
    });
    const uploaded = json as unknown as MediaJson;
    const found = await api(server, token, "GET", `/api/v1/media/${uploaded.id}`);
    expect(found.status).toBe(200);
    expect(found.json).toEqual(uploaded);
    const unknown = await api(server, token, "GET", "/api/v1/media/123456789012345678");
    expect(unknown.status).toBe(404);
    expect((unknown.json as { error: string }).error).toMatch(/not found/);
    const garbage = await api(server, token, "GET", "/api/v1/media/nope");
    expect(garbage.status).toBe(404);
    // The file route answers only for names it stored.
    expect((await fetchFile(`${server.url}/media/123456789012345678-000000000000.png`)).status).toBe(404);
    expect((await fetchFile(`${server.url}/media/..%2Fwren.db`)).status).toBe(404);
  });

  it("PUT /api/v1/media/:id updates description and focus, and refuses bad ones with 422", async () => {
    const { json } = await upload(server, token, {
      bytes: await solid(20, 20, "black").png().toBuffer(),
      name: "b.png",
      type: "image/png",
    });
    const id = (json as unknown as MediaJson).id;

    const updated = await api(server, token, "PUT", `/api/v1/media/${id}`, {
      description: "Black square",
      focus: "-1,1",
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ id, description: "Black square", meta: { focus: { x: -1, y: 1 } } });

    // Form-encoded, as some apps send it; one field at a time leaves the other alone.
    const form = await fetch(`${server.url}/api/v1/media/${id}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ focus: "0.1,0.2" }).toString(),
    });
    expect(form.status).toBe(200);
    expect(await form.json()).toMatchObject({
      description: "Black square",
      meta: { focus: { x: 0.1, y: 0.2 } },
    });

    for (const focus of ["2,0", "0,-1.5", "0.5", "a,b", ",", "0.5,", "0,0,0"]) {
      const bad = await api(server, token, "PUT", `/api/v1/media/${id}`, { focus });
      expect(bad.status, `focus ${JSON.stringify(focus)}`).toBe(422);
      expect((bad.json as { error: string }).error).toMatch(/focus/);
    }
    const long = await api(server, token, "PUT", `/api/v1/media/${id}`, { description: "x".repeat(1501) });
    expect(long.status).toBe(422);
    expect((long.json as { error: string }).error).toMatch(/1500/);
    // Characters, not UTF-16 units or bytes: 1,500 emoji fit.
    const emoji = await api(server, token, "PUT", `/api/v1/media/${id}`, { description: "🦉".repeat(1500) });
    expect(emoji.status).toBe(200);

    const after = await api(server, token, "GET", `/api/v1/media/${id}`);
    expect(after.json).toMatchObject({ description: "🦉".repeat(1500), meta: { focus: { x: 0.1, y: 0.2 } } });

    // An empty focus clears it.
    const cleared = await api(server, token, "PUT", `/api/v1/media/${id}`, { focus: "" });
    expect(cleared.status).toBe(200);
    expect((cleared.json as MediaJson).meta.focus).toBeUndefined();

    expect(
      (await api(server, token, "PUT", "/api/v1/media/123456789012345678", { description: "x" })).status,
    ).toBe(404);
  });

  it("refuses a description over 1500 characters or a bad focus at upload, writing nothing", async () => {
    const rowsBefore = mediaRowCount(server);
    const filesBefore = mediaFiles(server);
    const bytes = await solid(20, 20, "gray").png().toBuffer();
    const long = await upload(
      server,
      token,
      { bytes, name: "c.png", type: "image/png" },
      { description: "y".repeat(1501) },
    );
    expect(long.status).toBe(422);
    const focus = await upload(server, token, { bytes, name: "c.png", type: "image/png" }, { focus: "2,0" });
    expect(focus.status).toBe(422);
    expect(mediaRowCount(server)).toBe(rowsBefore);
    expect(mediaFiles(server)).toEqual(filesBefore);
  });

  it("needs a token with write:media: 401 without one, 403 with only read", async () => {
    const rowsBefore = mediaRowCount(server);
    const file = { bytes: await solid(20, 20, "pink").png().toBuffer(), name: "d.png", type: "image/png" };
    const anonymous = await upload(server, null, file);
    expect(anonymous.status).toBe(401);
    const readOnly = issueToken(server, "read");
    const forbidden = await upload(server, readOnly, file);
    expect(forbidden.status).toBe(403);
    expect(mediaRowCount(server)).toBe(rowsBefore);

    const { json } = await upload(server, token, file);
    const id = (json as unknown as MediaJson).id;
    expect((await api(server, readOnly, "GET", `/api/v1/media/${id}`)).status).toBe(403);
    expect((await api(server, null, "GET", `/api/v1/media/${id}`)).status).toBe(401);
    expect((await api(server, readOnly, "PUT", `/api/v1/media/${id}`, { description: "no" })).status).toBe(
      403,
    );
    expect((await api(server, null, "PUT", `/api/v1/media/${id}`, { description: "no" })).status).toBe(401);

    // The narrow scope is enough.
    const narrow = issueToken(server, "write:media");
    expect((await upload(server, narrow, file)).status).toBe(200);
  });

  it("attaches uploads to a status with media_ids[]", async () => {
    const first = (
      await upload(server, token, {
        bytes: await solid(20, 20, "red").png().toBuffer(),
        name: "1.png",
        type: "image/png",
      })
    ).json as unknown as MediaJson;
    const second = (await upload(server, token, { bytes: mp4Bytes(), name: "2.mp4", type: "video/mp4" }))
      .json as unknown as MediaJson;
    const form = new FormData();
    form.append("status", "with pictures");
    form.append("media_ids[]", second.id);
    form.append("media_ids[]", first.id);
    const response = await fetch(`${server.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    expect(response.status).toBe(200);
    const status = (await response.json()) as { id: string; media_attachments: MediaJson[] };
    expect(status.media_attachments.map((m) => [m.id, m.type])).toEqual([
      [second.id, "video"],
      [first.id, "image"],
    ]);
    expect(status.media_attachments[1]).toMatchObject({
      url: first.url,
      preview_url: first.preview_url,
      blurhash: first.blurhash,
    });
    const row = server.context.store.sqlite
      .prepare("SELECT status_id FROM media_attachments WHERE id = ?")
      .get(first.id) as {
      status_id: string;
    };
    expect(row.status_id).toBe(status.id);
  });

  it("purgeUnattachedMedia removes old unattached uploads with their files, and keeps attached ones and avatars", async () => {
    const png = (color: string) => solid(20, 20, color).png().toBuffer();
    const post = async (color: string) =>
      (await upload(server, token, { bytes: await png(color), name: `${color}.png`, type: "image/png" }))
        .json as unknown as MediaJson;
    const orphan = await post("red");
    const attached = await post("green");
    const avatar = await post("blue");
    const header = await post("yellow");
    const fresh = await post("white");

    const attach = await api(server, token, "POST", "/api/v1/statuses", {
      status: "kept",
      media_ids: [attached.id],
    });
    expect(attach.status).toBe(200);
    const { sqlite } = server.context.store;
    sqlite
      .prepare("UPDATE accounts SET avatar_media_id = ?, header_media_id = ? WHERE domain IS NULL")
      .run(avatar.id, header.id);
    const twoDaysAgo = Date.now() - 2 * 24 * 3600 * 1000;
    for (const m of [orphan, attached, avatar, header]) {
      sqlite.prepare("UPDATE media_attachments SET created_at = ? WHERE id = ?").run(twoDaysAgo, m.id);
    }
    const files = (m: MediaJson) => [
      fileOf(server, m.url as string),
      fileOf(server, m.preview_url as string),
    ];
    for (const m of [orphan, attached, avatar, header, fresh])
      for (const f of files(m)) expect(existsSync(f)).toBe(true);

    expect(await purgeUnattachedMedia(server.context)).toBe(1);

    for (const f of files(orphan)) expect(existsSync(f)).toBe(false);
    expect((await api(server, token, "GET", `/api/v1/media/${orphan.id}`)).status).toBe(404);
    expect((await fetchFile(orphan.url as string)).status).toBe(404);
    for (const m of [attached, avatar, header, fresh]) {
      for (const f of files(m)) expect(existsSync(f)).toBe(true);
      expect((await api(server, token, "GET", `/api/v1/media/${m.id}`)).status).toBe(200);
      expect((await fetchFile(m.url as string)).status).toBe(200);
    }
    // Nothing left to do the second time.
    expect(await purgeUnattachedMedia(server.context)).toBe(0);
  });
});

describe("media size limits", () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    // The upload body limit is the larger of the two plus 64 KiB for the multipart envelope: 67,584 bytes.
    server = await startTestServer({
      account: "alice",
      env: { WREN_MEDIA_MAX_IMAGE_BYTES: "2048", WREN_MEDIA_MAX_VIDEO_BYTES: "2048" },
    });
    token = issueToken(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Noise compresses badly, so the PNG is as large as its pixels. */
  const noisePng = (width: number, height: number) => {
    const raw = Buffer.alloc(width * height * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919 + ((i * i) % 251)) % 256;
    return sharp(raw, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
  };

  it("takes an image under the limit", async () => {
    const small = await solid(10, 10, "red").png().toBuffer();
    expect(small.length).toBeLessThan(2048);
    const { status } = await upload(server, token, { bytes: small, name: "s.png", type: "image/png" });
    expect(status).toBe(200);
  });

  it("refuses an image over max_image_bytes with 422 and writes nothing", async () => {
    const rowsBefore = mediaRowCount(server);
    const filesBefore = mediaFiles(server);
    const big = await noisePng(40, 40);
    expect(big.length).toBeGreaterThan(2048);
    expect(big.length).toBeLessThan(60_000);
    const { status, json } = await upload(server, token, { bytes: big, name: "big.png", type: "image/png" });
    expect(status).toBe(422);
    expect(json.error).toMatch(/larger than 2048 bytes/);
    expect(mediaRowCount(server)).toBe(rowsBefore);
    expect(mediaFiles(server)).toEqual(filesBefore);
  });

  it("refuses a video over max_video_bytes with 422", async () => {
    const video = new Uint8Array(Buffer.concat([Buffer.from(mp4Bytes()), Buffer.alloc(4000)]));
    const { status, json } = await upload(server, token, { bytes: video, name: "v.mp4", type: "video/mp4" });
    expect(status).toBe(422);
    expect(json.error).toMatch(/larger than 2048 bytes/);
  });

  it("answers 413 when the whole body exceeds the upload limit, and writes nothing", async () => {
    const rowsBefore = mediaRowCount(server);
    const filesBefore = mediaFiles(server);
    const huge = await noisePng(200, 200);
    expect(huge.length).toBeGreaterThan(70_000);
    const { status, json } = await upload(server, token, {
      bytes: huge,
      name: "huge.png",
      type: "image/png",
    });
    expect(status).toBe(413);
    expect(json.error).toMatch(/larger than/);
    expect(mediaRowCount(server)).toBe(rowsBefore);
    expect(mediaFiles(server)).toEqual(filesBefore);
    // The server is still fine afterwards.
    expect((await api(server, token, "GET", "/api/v1/media/123456789012345678")).status).toBe(404);
  });
});
