import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createRestAPIClient, type mastodon } from "masto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prune } from "../src/jobs/prune.js";
import { mediaCacheUpkeep } from "../src/media/cache.js";
import { mediaFilePath } from "../src/media/store.js";
import { issueToken } from "./helpers/api.js";
import { idByUri, waitUntil } from "./helpers/fedify-peer.js";
import { remoteAccount, remoteNote } from "./helpers/fixtures.js";
import { type ActorServer, inboxSettled, startActorServer } from "./helpers/inbound.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;
const HOUR = 60 * 60 * 1000;

interface CacheRow {
  id: string;
  url: string;
  state: string;
  file_name: string | null;
  preview_file_name: string | null;
  bytes: number;
  error: string | null;
  last_accessed_at: number;
}

const cacheRow = (server: TestServer, url: string) =>
  server.context.store.sqlite.prepare("SELECT * FROM remote_media WHERE url = ?").get(url) as
    | CacheRow
    | undefined;

/** Waits until the cache has settled on `url` (fetched, failed or evicted). */
const settled = (server: TestServer, url: string) =>
  waitUntil(() => {
    const row = cacheRow(server, url);
    return row && row.state !== "pending" ? row : null;
  }, `the cache to settle on ${url}`);

/** A PNG of random pixels: it does not compress, so its size is known in advance (about 3 bytes a pixel). */
function noisePng(side: number): Promise<Buffer> {
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

let noteCounter = 0;

/**
 * Sends a public Note by `name` with these attachments (URLs) from the actor server; returns its status id.
 * It mentions the owner (Wren keeps only the remote posts that concern its owner), or with `hashtag` carries
 * a hashtag the owner follows instead (a post the prune may remove).
 */
async function sendNote(
  server: TestServer,
  remote: ActorServer,
  name: string,
  urls: string[],
  hashtag?: string,
): Promise<string> {
  const actor = remote.actorUri(name);
  const uri = `${actor}/notes/${++noteCounter}`;
  const alice = `${server.origin}/users/alice`;
  const note = {
    id: uri,
    type: "Note",
    attributedTo: actor,
    content: `<p>${hashtag ? `#${hashtag}` : "@alice"} pictures ${noteCounter}</p>`,
    to: [PUBLIC],
    cc: hashtag ? [`${actor}/followers`] : [`${actor}/followers`, alice],
    tag: hashtag
      ? [{ type: "Hashtag", name: `#${hashtag}`, href: `${remote.origin}/tags/${hashtag}` }]
      : [{ type: "Mention", href: alice, name: `@alice@${server.domain}` }],
    published: new Date().toISOString(),
    attachment: urls.map((url) => ({ type: "Document", mediaType: "image/png", url, name: "a picture" })),
  };
  const answer = await remote.post(`${server.origin}/inbox`, name, {
    "@context": AS,
    id: `${uri}/activity`,
    type: "Create",
    actor,
    object: note,
    to: note.to,
    cc: note.cc,
  });
  expect(answer.status).toBe(202);
  await inboxSettled(server);
  return waitUntil(() => idByUri(server.context.store.sqlite, "statuses", uri), "the status");
}

async function pixels(bytes: Uint8Array) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: Buffer.from(data) };
}

describe("remote media cache", () => {
  let server: TestServer;
  let remote: ActorServer;
  let client: mastodon.rest.Client;

  beforeAll(async () => {
    [server, remote] = await Promise.all([
      startTestServer({ account: "alice" }),
      startActorServer(["erin", "olga"]),
    ]);
    client = createRestAPIClient({ url: server.url, accessToken: issueToken(server) });
  });

  afterAll(async () => {
    await server?.close();
    await remote?.close();
  });

  it("copies a Note's attachment and its author's avatar, and the API points at the copies", async () => {
    const icon = `${remote.origin}/files/erin.png`;
    const photo = `${remote.origin}/files/photo.png`;
    const iconBytes = await makePng(48, 48, { r: 20, g: 120, b: 220 });
    const photoBytes = await makePng(320, 200);
    remote.files.set("/files/erin.png", { type: "image/png", body: iconBytes });
    remote.files.set("/files/photo.png", { type: "image/png", body: photoBytes });
    remote.profiles.set("erin", { icon: { type: "Image", mediaType: "image/png", url: icon } });

    const statusId = await sendNote(server, remote, "erin", [photo]);
    expect((await settled(server, photo)).state).toBe("done");
    expect((await settled(server, icon)).state).toBe("done");

    const status = await client.v1.statuses.$select(statusId).fetch();
    const [media] = status.mediaAttachments;
    expect(media?.type).toBe("image");
    expect(media?.url).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(media?.previewUrl).toMatch(new RegExp(`^${server.origin}/media/.*-small\\.webp$`));
    expect(media?.remoteUrl).toBe(photo);
    expect(media?.blurhash).toBeTruthy();
    expect(media?.meta?.original?.width).toBe(320);

    const account = status.account;
    expect(account.avatar).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(account.avatarStatic).toBe(account.avatar);

    const get = async (url: string, type: string) => {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(type);
      return new Uint8Array(await response.arrayBuffer());
    };
    const copy = await get(media?.url as string, "image/png");
    await get(media?.previewUrl as string, "image/webp");
    const avatar = await get(account.avatar, "image/png");
    // The same pixels as the origin's files (metadata stripped, re-encoded).
    expect(await pixels(copy)).toEqual(await pixels(photoBytes));
    expect(await pixels(avatar)).toEqual(await pixels(iconBytes));

    // Fetched once each, whatever the apps do afterwards.
    expect(remote.fileRequests.get("/files/photo.png")).toBe(1);
    expect(remote.fileRequests.get("/files/erin.png")).toBe(1);
  });

  it("the hourly upkeep copies the avatar of an account that has not posted", async () => {
    const url = `${remote.origin}/files/pat.png`;
    remote.files.set("/files/pat.png", { type: "image/png", body: await makePng(32, 32) });
    const pat = remoteAccount(server, "pat", "pat.example", { avatarUrl: url });
    expect((await client.v1.accounts.$select(pat.id).fetch()).avatar).toBe(url);
    await mediaCacheUpkeep(server.context);
    expect((await settled(server, url)).state).toBe("done");
    const account = await client.v1.accounts.$select(pat.id).fetch();
    expect(account.avatar).toMatch(new RegExp(`^${server.origin}/media/`));
    expect((await fetch(account.avatar)).status).toBe(200);
  });

  it("a prune that removes the status removes its cached files", async () => {
    const photo = `${remote.origin}/files/old.png`;
    remote.files.set("/files/old.png", { type: "image/png", body: await makePng(64, 64) });
    await client.v1.tags.$select("cats").follow();
    const statusId = await sendNote(server, remote, "olga", [photo], "cats");
    const row = await settled(server, photo);
    expect(row.state).toBe("done");
    const files = [row.file_name, row.preview_file_name].map((name) =>
      mediaFilePath(server.context, String(name)),
    );
    expect(files.every((file) => existsSync(file))).toBe(true);

    const sqlite = server.context.store.sqlite;
    sqlite
      .prepare("UPDATE statuses SET created_at = ? WHERE id = ?")
      .run(Date.now() - 400 * 24 * HOUR, statusId);
    const report = await prune(server.context);
    expect(report.statuses).toBeGreaterThanOrEqual(1);
    expect(report.cachedFilesSwept).toBeGreaterThanOrEqual(1);
    expect(cacheRow(server, photo)).toBeUndefined();
    expect(files.some((file) => existsSync(file))).toBe(false);
    expect((await fetch(`${server.origin}/media/${row.file_name}`)).status).toBe(404);
  });
});

describe("cache limits", () => {
  let server: TestServer;
  let remote: ActorServer;
  let client: mastodon.rest.Client;

  beforeAll(async () => {
    [server, remote] = await Promise.all([
      startTestServer({
        account: "alice",
        env: { WREN_MEDIA_CACHE_BUDGET_MB: "1", WREN_MEDIA_REMOTE_MAX_BYTES: "600000" },
      }),
      startActorServer(["frank"]),
    ]);
    client = createRestAPIClient({ url: server.url, accessToken: issueToken(server) });
  });

  afterAll(async () => {
    await server?.close();
    await remote?.close();
  });

  it("does not store a file over media.remote_max_bytes; apps get the origin", async () => {
    const big = `${remote.origin}/files/big.png`;
    const bytes = await noisePng(460);
    expect(bytes.length).toBeGreaterThan(600_000);
    remote.files.set("/files/big.png", { type: "image/png", body: bytes });
    const statusId = await sendNote(server, remote, "frank", [big]);
    const row = await settled(server, big);
    expect(row.state).toBe("failed");
    expect(row.error).toMatch(/too_large|larger/);
    expect(row.file_name).toBeNull();
    const [media] = (await client.v1.statuses.$select(statusId).fetch()).mediaAttachments;
    // The test servers allow loopback addresses (and http), so the origin may be handed out here.
    expect(media?.url).toBe(big);
    expect(media?.remoteUrl).toBe(big);
  });

  it("evicts the least recently viewed files past media.cache_budget_mb", async () => {
    // About 430 KB each with its preview: two fit in 1 MB, three do not.
    const urls = ["a", "b", "c"].map((name) => `${remote.origin}/files/${name}.png`);
    for (const name of ["a", "b", "c"])
      remote.files.set(`/files/${name}.png`, { type: "image/png", body: await noisePng(340) });
    const [a, b, c] = urls as [string, string, string];
    const sqlite = server.context.store.sqlite;

    await sendNote(server, remote, "frank", [a]);
    await sendNote(server, remote, "frank", [b]);
    const rowA = await settled(server, a);
    expect(rowA.state).toBe("done");
    expect((await settled(server, b)).state).toBe("done");
    expect(rowA.bytes + (cacheRow(server, b)?.bytes ?? 0)).toBeLessThan(1024 * 1024);

    // a was viewed long ago, b a bit later; a is viewed again now, which moves it on (at most once an hour).
    const setAccess = sqlite.prepare("UPDATE remote_media SET last_accessed_at = ? WHERE url = ?");
    setAccess.run(Date.now() - 3 * HOUR, a);
    setAccess.run(Date.now() - 2 * HOUR, b);
    expect((await fetch(`${server.origin}/media/${rowA.file_name}`)).status).toBe(200);
    expect(cacheRow(server, a)?.last_accessed_at).toBeGreaterThan(Date.now() - HOUR);
    const viewedAt = cacheRow(server, a)?.last_accessed_at;
    expect((await fetch(`${server.origin}/media/${rowA.preview_file_name}`)).status).toBe(200);
    expect(cacheRow(server, a)?.last_accessed_at).toBe(viewedAt);

    const statusC = await sendNote(server, remote, "frank", [c]);
    expect((await settled(server, c)).state).toBe("done");
    const evicted = await waitUntil(
      () => cacheRow(server, b)?.state === "evicted" && cacheRow(server, b),
      "b evicted",
    );
    expect(evicted.file_name).toBeNull();
    expect(cacheRow(server, a)?.state).toBe("done");
    const total = sqlite
      .prepare("SELECT sum(bytes) FROM remote_media WHERE state = 'done'")
      .pluck()
      .get() as number;
    expect(total).toBeLessThanOrEqual(1024 * 1024);

    const [media] = (await client.v1.statuses.$select(statusC).fetch()).mediaAttachments;
    expect(media?.url).toMatch(new RegExp(`^${server.origin}/media/`));
  });
});

describe("private addresses", () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    // The test-only loosening is off here: the guard refuses private, loopback and link-local addresses.
    server = await startTestServer({
      account: "alice",
      env: { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "false" },
    });
    token = issueToken(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it("never fetches an attachment or avatar on 169.254.169.254 and never hands it to apps", async () => {
    const metadata = "http://169.254.169.254/latest/meta-data/iam.png";
    const avatar = "https://169.254.169.254/avatar.png";
    const loopback = "https://127.0.0.1/secret.png";
    const author = remoteAccount(server, "mallory", "remote.example", {
      avatarUrl: avatar,
      headerUrl: loopback,
    });
    const attachment = (url: string) => ({
      url,
      mediaType: "image/png",
      kind: "image" as const,
      description: null,
      blurhash: null,
      focalPoint: null,
      width: null,
      height: null,
    });
    const statusId = remoteNote(server, author, {
      attachments: [attachment(metadata), attachment(loopback)],
    });
    server.context.events.emit("delivery.queued");

    for (const url of [metadata, avatar, loopback]) {
      const row = await settled(server, url);
      expect(row.state).toBe("failed");
      expect(row.error).toMatch(/not allowed/);
      expect(row.file_name).toBeNull();
    }
    const jobs = server.context.store.sqlite
      .prepare(
        "SELECT host, state, last_error FROM delivery_jobs WHERE host IN ('169.254.169.254', '127.0.0.1')",
      )
      .all() as { state: string; last_error: string }[];
    expect(jobs.length).toBe(3);
    for (const job of jobs) {
      expect(job.state).toBe("failed");
      expect(job.last_error).toMatch(/^private_address/);
    }

    const response = await fetch(`${server.url}/api/v1/statuses/${statusId}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const text = await response.text();
    expect(text).not.toContain("169.254");
    expect(text).not.toContain("127.0.0.1/secret");
    const status = JSON.parse(text) as {
      media_attachments: Record<string, unknown>[];
      account: Record<string, unknown>;
    };
    for (const media of status.media_attachments) {
      expect(media).toMatchObject({ type: "unknown", url: null, preview_url: null, remote_url: null });
    }
    expect(status.account.avatar).toBe(`${server.origin}/static/avatar.png`);
    expect(status.account.header).toBe(`${server.origin}/static/header.png`);
  });

  it("hands out a public https origin while it is not cached", async () => {
    const author = remoteAccount(server, "pat", "files.example", {
      avatarUrl: "https://files.example/pat.png",
    });
    const url = "https://files.example/photo.jpg";
    const statusId = remoteNote(server, author, {
      attachments: [
        {
          url,
          mediaType: "image/jpeg",
          kind: "image",
          description: null,
          blurhash: null,
          focalPoint: null,
          width: 10,
          height: 10,
        },
      ],
    });
    // Not fetched yet (files.example does not resolve): the origin is public https, so apps may load it.
    const status = (await (
      await fetch(`${server.url}/api/v1/statuses/${statusId}`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json()) as { media_attachments: Record<string, unknown>[]; account: Record<string, unknown> };
    expect(status.media_attachments[0]).toMatchObject({
      type: "image",
      url,
      preview_url: url,
      remote_url: url,
    });
    expect(status.account.avatar).toBe("https://files.example/pat.png");
  });
});

describe("disk budget", () => {
  let server: TestServer;
  let remote: ActorServer;

  beforeAll(async () => {
    [server, remote] = await Promise.all([
      startTestServer({ account: "alice", env: { WREN_PRUNE_DISK_BUDGET_MB: "1" } }),
      startActorServer(["gail"]),
    ]);
  });

  afterAll(async () => {
    await server?.close();
    await remote?.close();
  });

  it("counts the media folder and evicts the cache first when the disk budget is exceeded", async () => {
    const url = `${remote.origin}/files/huge.png`;
    remote.files.set("/files/huge.png", { type: "image/png", body: await noisePng(700) });
    await sendNote(server, remote, "gail", [url]);
    const row = await settled(server, url);
    expect(row.state).toBe("done");
    expect(row.bytes).toBeGreaterThan(1024 * 1024);

    const report = await prune(server.context);
    expect(report.cachedFilesEvicted).toBe(1);
    expect(cacheRow(server, url)?.state).toBe("evicted");
    expect(existsSync(mediaFilePath(server.context, String(row.file_name)))).toBe(false);
  });
});
