// Media in an S3-compatible bucket: s3rver (a real S3 implementation, files in a temp folder) on 127.0.0.1,
// Wren with media.storage = "s3" against it, masto.js as the app.
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import { createRestAPIClient, type mastodon } from "masto";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config/load.js";
import { purgeUnattachedMedia } from "../src/media/store.js";
import { issueToken } from "./helpers/api.js";
import { ensureBuilt, runWren } from "./helpers/cli.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { makePng } from "./helpers/png.js";
import { childEnv, freePort, startTestServer, type TestServer, tempDir } from "./helpers/server.js";

const BUCKET = "wren-media";
let s3dir: string;
let s3: S3rver;
let endpoint: string;
let png: Buffer;
// s3rver accepts this pair by default.
const bucketClient = new AwsClient({
  accessKeyId: "S3RVER",
  secretAccessKey: "S3RVER",
  region: "us-east-1",
  service: "s3",
});

function s3Env(publicUrl = ""): Record<string, string> {
  return {
    WREN_MEDIA_STORAGE: "s3",
    WREN_MEDIA_S3_ENDPOINT: endpoint,
    WREN_MEDIA_S3_BUCKET: BUCKET,
    WREN_MEDIA_S3_REGION: "us-east-1",
    WREN_MEDIA_S3_ACCESS_KEY_ID: "S3RVER",
    WREN_MEDIA_S3_SECRET_ACCESS_KEY: "S3RVER",
    WREN_MEDIA_S3_PATH_STYLE: "true",
    WREN_MEDIA_S3_PUBLIC_URL: publicUrl,
  };
}

/** The keys in the bucket, listed through the S3 API. */
async function bucketKeys(): Promise<string[]> {
  const response = await bucketClient.fetch(`${endpoint}/${BUCKET}?list-type=2`);
  expect(response.status).toBe(200);
  const xml = await response.text();
  return [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1] as string).sort();
}

async function bucketObject(key: string): Promise<Buffer | null> {
  const response = await bucketClient.fetch(`${endpoint}/${BUCKET}/${key}`);
  if (response.status === 404) return null;
  return Buffer.from(await response.arrayBuffer());
}

async function emptyBucket(): Promise<void> {
  for (const key of await bucketKeys())
    await bucketClient.fetch(`${endpoint}/${BUCKET}/${key}`, { method: "DELETE" });
}

const fileOf = (url: string | null | undefined) => (url ?? "").split("/").pop() as string;

async function clientFor(server: TestServer): Promise<mastodon.rest.Client> {
  restoreNativeResponse();
  return createRestAPIClient({ url: server.origin, accessToken: issueToken(server) });
}

/** DELETE /api/v1/media/:id, which masto.js has no method for. */
async function deleteMedia(server: TestServer, id: string): Promise<void> {
  const response = await fetch(`${server.origin}/api/v1/media/${id}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${issueToken(server)}` },
  });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

async function uploadPng(client: mastodon.rest.Client): Promise<mastodon.v1.MediaAttachment> {
  return client.v2.media.create({ file: new Blob([png], { type: "image/png" }), description: "a square" });
}

beforeAll(async () => {
  ensureBuilt();
  png = await makePng(64, 48);
  s3dir = tempDir("wren-s3rver-");
  s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: s3dir,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const { port } = await s3.run();
  endpoint = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  await s3?.close();
  rmSync(s3dir, { recursive: true, force: true });
});

describe("media.storage = s3, served through Wren (no public_url)", () => {
  let server: TestServer;
  let client: mastodon.rest.Client;
  beforeAll(async () => {
    await emptyBucket();
    server = await startTestServer({ account: "alice", env: s3Env() });
    client = await clientFor(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("puts an upload and its preview in the bucket, not in media.path", async () => {
    const media = await uploadPng(client);
    expect(media.url).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(media.previewUrl).toMatch(new RegExp(`^${server.origin}/media/`));
    const keys = await bucketKeys();
    expect(keys).toEqual([fileOf(media.url), fileOf(media.previewUrl)].sort());
    expect(existsSync(join(server.dir, "media"))).toBe(false);
    await deleteMedia(server, media.id);
    expect(await bucketKeys()).toEqual([]);
  });

  it("streams /media/NAME from the bucket with the type, caching headers and byte ranges", async () => {
    const media = await uploadPng(client);
    const stored = await bucketObject(fileOf(media.url));
    expect(stored).not.toBeNull();
    const whole = await fetch(media.url as string);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("image/png");
    expect(whole.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(whole.headers.get("content-security-policy")).toContain("sandbox");
    expect(Buffer.from(await whole.arrayBuffer()).equals(stored as Buffer)).toBe(true);

    const part = await fetch(media.url as string, { headers: { Range: "bytes=0-9" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-9/${(stored as Buffer).length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals((stored as Buffer).subarray(0, 10))).toBe(true);

    const head = await fetch(media.url as string, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String((stored as Buffer).length));

    const preview = await fetch(media.previewUrl as string);
    expect(preview.status).toBe(200);
    expect(preview.headers.get("content-type")).toBe("image/webp");
    await preview.arrayBuffer();

    const unknown = await fetch(`${server.origin}/media/${media.id}-000000000000.png`);
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    await deleteMedia(server, media.id);
  });

  it("deletes the objects of a deleted status once the redraft day is over", async () => {
    const media = await uploadPng(client);
    const status = await client.v1.statuses.create({ status: "with a picture", mediaIds: [media.id] });
    expect(await bucketKeys()).toHaveLength(2);
    await client.v1.statuses.$select(status.id).remove();
    // Kept for "delete and redraft" within the day, as Mastodon does.
    expect(await purgeUnattachedMedia(server.context)).toBe(0);
    expect(await bucketKeys()).toHaveLength(2);
    expect(await purgeUnattachedMedia(server.context, 0)).toBe(1);
    expect(await bucketKeys()).toEqual([]);
  });

  it("deletes them at once with delete_media=true (Mastodon's parameter)", async () => {
    const media = await uploadPng(client);
    const status = await client.v1.statuses.create({ status: "gone with its picture", mediaIds: [media.id] });
    expect(await bucketKeys()).toHaveLength(2);
    const response = await fetch(`${server.origin}/api/v1/statuses/${status.id}?delete_media=true`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${issueToken(server)}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { text: string; media_attachments: { id: string }[] };
    expect(body.text).toBe("gone with its picture");
    expect(body.media_attachments.map((m) => m.id)).toEqual([media.id]);
    expect(await bucketKeys()).toEqual([]);
    const proxied = await fetch(media.url as string);
    expect(proxied.status).toBe(404);
    await proxied.arrayBuffer();
  });
});

describe("media.storage = s3 with public_url", () => {
  let server: TestServer;
  let client: mastodon.rest.Client;
  beforeAll(async () => {
    await emptyBucket();
    server = await startTestServer({ account: "alice", env: s3Env(`${endpoint}/${BUCKET}/`) });
    client = await clientFor(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("hands out URLs under public_url, where the bucket serves the files with their type", async () => {
    const media = await uploadPng(client);
    expect(media.url).toBe(`${endpoint}/${BUCKET}/${fileOf(media.url)}`);
    expect(media.previewUrl).toBe(`${endpoint}/${BUCKET}/${fileOf(media.previewUrl)}`);
    const direct = await fetch(media.url as string);
    expect(direct.status).toBe(200);
    expect(direct.headers.get("content-type")).toBe("image/png");
    const bytes = Buffer.from(await direct.arrayBuffer());
    expect(bytes.subarray(0, 8).equals(png.subarray(0, 8))).toBe(true);
    // Wren's own /media/ address keeps working (posts federated before a migration carry it).
    const viaWren = await fetch(`${server.origin}/media/${fileOf(media.url)}`);
    expect(viaWren.status).toBe(200);
    expect(Buffer.from(await viaWren.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe("wren media migrate", () => {
  it("moves local files into the bucket and back, and the API's URLs follow media.storage", async () => {
    await emptyBucket();
    const dir = tempDir("wren-s3-migrate-");
    try {
      const local = await startTestServer({ account: "alice", dir });
      let client = await clientFor(local);
      const first = await uploadPng(client);
      const second = await uploadPng(client);
      await local.close();
      const names = [first, second].flatMap((m) => [fileOf(m.url), fileOf(m.previewUrl)]).sort();
      expect(readdirSync(join(dir, "media")).sort()).toEqual(names);

      const port = await freePort();
      const env = { ...childEnv(dir, port), ...s3Env(`${endpoint}/${BUCKET}`) };
      delete (env as Record<string, string>).WREN_MEDIA_STORAGE;
      const moved = await runWren(["media", "migrate", "--to", "s3"], { cwd: dir, env });
      expect(moved.stderr).toBe("");
      expect(moved.code).toBe(0);
      expect(moved.stdout).toContain(`[1/4] ${names[0]}: copied`);
      expect(moved.stdout).toContain(
        "Done: 4 files, 4 copied, 0 already there, 0 missing, 4 source copies deleted.",
      );
      expect(moved.stdout).toContain('Now set media.storage = "s3"');
      expect(await bucketKeys()).toEqual(names);
      expect(readdirSync(join(dir, "media"))).toEqual([]);

      // Run again (as after an interruption): nothing to copy.
      const again = await runWren(["media", "migrate", "--to", "s3"], { cwd: dir, env });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("0 copied, 4 already there");

      const inBucket = await startTestServer({
        account: undefined,
        dir,
        env: s3Env(`${endpoint}/${BUCKET}`),
      });
      try {
        client = await clientFor(inBucket);
        const shown = await client.v1.media.$select(first.id).fetch();
        expect(shown.url).toBe(`${endpoint}/${BUCKET}/${fileOf(first.url)}`);
        const served = await fetch(shown.url as string);
        expect(served.status).toBe(200);
        await served.arrayBuffer();
      } finally {
        await inBucket.close();
      }

      const back = await runWren(["media", "migrate", "--to", "local"], {
        cwd: dir,
        env: { ...env, WREN_MEDIA_STORAGE: "s3" },
      });
      expect(back.code).toBe(0);
      expect(back.stdout).toContain("4 copied");
      expect(back.stdout).toContain('Now set media.storage = "local"');
      expect(readdirSync(join(dir, "media")).sort()).toEqual(names);
      expect(await bucketKeys()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses without a bucket, and says which option is wrong", async () => {
    const dir = tempDir("wren-s3-migrate-");
    try {
      const port = await freePort();
      const result = await runWren(["media", "migrate", "--to", "s3"], {
        cwd: dir,
        env: childEnv(dir, port),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("[media.s3] needs endpoint and bucket");
      const wrong = await runWren(["media", "migrate", "--to", "ftp"], {
        cwd: dir,
        env: childEnv(dir, port),
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("--to must be s3 or local");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("[media.s3] configuration", () => {
  it("reads the [media.s3] table and WREN_MEDIA_S3_* variables, and needs endpoint and bucket for s3", () => {
    const dir = tempDir("wren-s3-config-");
    try {
      const file = join(dir, "config.toml");
      writeFileSync(
        file,
        '[media]\nstorage = "s3"\n\n[media.s3]\nendpoint = "https://s3.example"\nbucket = "media"\npath_style = true\n',
      );
      const { config, sources } = loadConfig({
        configPath: file,
        cwd: dir,
        env: { WREN_MEDIA_S3_SECRET_ACCESS_KEY: "from-env" },
      });
      expect(config.media.storage).toBe("s3");
      expect(config["media.s3"]).toMatchObject({
        endpoint: "https://s3.example",
        bucket: "media",
        path_style: true,
        secret_access_key: "from-env",
        public_url: "",
      });
      expect(sources["media.s3.secret_access_key"]).toBe("WREN_MEDIA_S3_SECRET_ACCESS_KEY");
      expect(sources["media.s3.bucket"]).toBe(file);

      writeFileSync(file, '[media]\nstorage = "s3"\n[media.s3]\nendpoint = "ftp://s3.example"\n');
      let error: unknown;
      try {
        loadConfig({ configPath: file, cwd: dir, env: {} });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        `${file}: media.s3.endpoint must be empty or an http(s) URL without query or fragment`,
        'media.storage = "s3" needs media.s3.endpoint and media.s3.bucket',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
