import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { type CliResult, ensureBuilt, ROOT, runWren } from "./helpers/cli.js";
import { followRow, remoteAccount } from "./helpers/fixtures.js";
import { makePng } from "./helpers/png.js";
import { childEnv, freePort, startTestServer, type TestServer, tempDir } from "./helpers/server.js";

beforeAll(ensureBuilt, 120_000);

type Result = CliResult;

const dirs: string[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = tempDir("wren-backup-");
  dirs.push(dir);
  return dir;
}

/** Runs `wren ...args` as a child process with the instance in `dir` and backups in `dir`/backups. */
async function wren(args: string[], dir: string, env: Record<string, string> = {}): Promise<Result> {
  const port = await freePort();
  return runWren(args, {
    cwd: dir,
    env: { ...childEnv(dir, port), WREN_BACKUP_PATH: join(dir, "backups"), ...env },
  });
}

function archivesIn(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

function rows(dbPath: string, query: string): unknown[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(query).all();
  } finally {
    db.close();
  }
}

function count(dbPath: string, table: string): number {
  return (rows(dbPath, `SELECT count(*) AS n FROM ${table}`)[0] as { n: number }).n;
}

/** Every file under a folder with its SHA-256: the whole state of an instance directory, for "untouched". */
function fingerprint(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const visit = (folder: string, prefix: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path, `${prefix}${entry.name}/`);
      else result[`${prefix}${entry.name}`] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  visit(dir, "");
  return result;
}

async function uploadPng(server: TestServer, token: string, seed: number): Promise<string> {
  const form = new FormData();
  const png = await makePng(16 + seed, 12, { r: (seed * 40) % 256, g: 90, b: 20 });
  form.append("file", new Blob([new Uint8Array(png)], { type: "image/png" }), `p${seed}.png`);
  const res = await fetch(`${server.url}/api/v2/media`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  expect([200, 202]).toContain(res.status);
  return String(((await res.json()) as { id: string }).id);
}

async function post(server: TestServer, token: string, text: string, mediaIds: string[] = []) {
  const res = await api(server, token, "POST", "/api/v1/statuses", { status: text, media_ids: mediaIds });
  expect(res.status).toBe(200);
  return res.json as { id: string };
}

/** A stopped instance in its own folder with statuses, media, two followers and one followed account. */
async function preparedInstance(): Promise<{ dir: string; statuses: number }> {
  const dir = newDir();
  const server = await startTestServer({ account: "alice", dir });
  const token = issueToken(server);
  const alice = (await api(server, token, "GET", "/api/v1/accounts/verify_credentials")).json as {
    id: string;
  };
  const bob = remoteAccount(server, "bob");
  const carol = remoteAccount(server, "carol");
  followRow(server, bob.id, alice.id);
  followRow(server, carol.id, alice.id);
  followRow(server, alice.id, bob.id);
  for (let i = 0; i < 3; i++) await post(server, token, `post ${i}`, [await uploadPng(server, token, i)]);
  await server.close();
  return { dir, statuses: 3 };
}

describe("wren backup and restore", () => {
  it("backs up a server while it handles writes, and the archive restores with the same rows and media", async () => {
    const dir = newDir();
    const server = await startTestServer({ account: "alice", dir });
    servers.push(server);
    const token = issueToken(server);
    for (let i = 0; i < 4; i++)
      await post(server, token, `with media ${i}`, [await uploadPng(server, token, i)]);

    let running = true;
    let postedDuringBackup = 0;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        await post(server, token, `written during the backup ${i}`);
        if (running) postedDuringBackup++;
      }
    })();
    const backup = await wren(["backup"], dir);
    running = false;
    await writer;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(postedDuringBackup).toBeGreaterThan(0);
    expect(backup.stdout).toContain("verifying the archive");
    const [archive, ...others] = archivesIn(join(dir, "backups"));
    expect(others).toEqual([]);
    expect(archive).toMatch(/^wren-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.tar\.gz$/);
    const archivePath = join(dir, "backups", archive as string);
    expect(statSync(archivePath).mode & 0o077).toBe(0);
    await server.close();
    servers.splice(0);

    const target = newDir();
    const restore = await wren(["restore", archivePath], target);
    expect(restore.stderr).toBe("");
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain("Restored the backup of");

    const live = join(dir, "wren.db");
    const restored = join(target, "wren.db");
    // One consistent snapshot: the statuses restored are exactly the oldest ones of the live database.
    const restoredStatuses = rows(restored, "SELECT id, text FROM statuses ORDER BY id");
    const liveStatuses = rows(live, "SELECT id, text FROM statuses ORDER BY id");
    expect(restoredStatuses.length).toBeGreaterThanOrEqual(4);
    expect(restoredStatuses).toEqual(liveStatuses.slice(0, restoredStatuses.length));
    for (const table of ["accounts", "users", "key_pairs", "media_attachments", "oauth_tokens"])
      expect(count(restored, table), table).toBe(count(live, table));
    expect(rows(restored, "PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);

    // The same media files, byte for byte, and a server started on the restored folder serves them.
    const media = fingerprint(join(dir, "media"));
    expect(Object.keys(media).length).toBeGreaterThanOrEqual(4);
    expect(fingerprint(join(target, "media"))).toEqual(media);
    const second = await startTestServer({ dir: target });
    servers.push(second);
    const withMedia = rows(restored, "SELECT status_id AS id FROM media_attachments LIMIT 1")[0] as {
      id: string;
    };
    const status = await api(second, null, "GET", `/api/v1/statuses/${withMedia.id}`);
    expect(status.status).toBe(200);
    const url = (status.json as { media_attachments: { url: string }[] }).media_attachments[0]?.url ?? "";
    const file = await fetch(`${second.url}${new URL(url).pathname}`);
    expect(file.status).toBe(200);
  }, 60_000);

  it("refuses a truncated or damaged archive and leaves the target untouched", async () => {
    const { dir } = await preparedInstance();
    const made = await wren(["backup"], dir);
    expect(made.code).toBe(0);
    const archive = join(dir, "backups", archivesIn(join(dir, "backups"))[0] as string);
    const bytes = readFileSync(archive);

    const target = (await preparedInstance()).dir;
    const before = fingerprint(target);
    const damaged: Record<string, Buffer> = {
      truncated: bytes.subarray(0, Math.floor(bytes.length / 2)),
      "cut at the end": bytes.subarray(0, bytes.length - 20),
      "flipped bytes": Buffer.from(bytes),
      "not an archive": Buffer.from("hello, this is not gzip\n"),
    };
    const flipped = damaged["flipped bytes"] as Buffer;
    for (let i = 0; i < 8; i++) {
      const at = Math.floor(flipped.length / 3) + i * 97;
      flipped[at] = (flipped[at] as number) ^ 0xff;
    }
    for (const [name, content] of Object.entries(damaged)) {
      const path = join(dir, `${name.replaceAll(" ", "-")}.tar.gz`);
      writeFileSync(path, content);
      const result = await wren(["restore", path, "--force"], target);
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain("refusing");
      expect(result.stderr, name).toContain("Nothing was changed");
      expect(fingerprint(target), name).toEqual(before);
    }
  }, 60_000);

  it("refuses to restore over existing data without --force, and into a running instance at all", async () => {
    const { dir } = await preparedInstance();
    expect((await wren(["backup"], dir)).code).toBe(0);
    const archive = join(dir, "backups", archivesIn(join(dir, "backups"))[0] as string);

    const target = newDir();
    const other = await startTestServer({ account: "zed", dir: target });
    const token = issueToken(other);
    await post(other, token, "the target's own post");
    const running = await wren(["restore", archive, "--force"], target);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain("is in use: stop Wren before restoring");
    await other.close();

    const before = fingerprint(target);
    const refused = await wren(["restore", archive], target);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("already holds data; run again with --force");
    expect(fingerprint(target)).toEqual(before);

    const forced = await wren(["restore", archive, "--force"], target);
    expect(forced.stderr).toBe("");
    expect(forced.code).toBe(0);
    const texts = rows(join(target, "wren.db"), "SELECT text FROM statuses ORDER BY id").map(
      (row) => (row as { text: string }).text,
    );
    expect(texts).toEqual(["post 0", "post 1", "post 2"]);
    expect(readdirSync(target).filter((name) => name.startsWith("."))).toEqual([]);

    // A database that was only migrated (a fresh install) holds nothing to protect.
    const fresh = newDir();
    expect((await wren(["migrate"], fresh)).code).toBe(0);
    const intoFresh = await wren(["restore", archive], fresh);
    expect(intoFresh.stderr).toBe("");
    expect(intoFresh.code).toBe(0);
    expect(count(join(fresh, "wren.db"), "statuses")).toBe(3);

    const usage = await wren(["restore"], target);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("wren restore ARCHIVE");
  }, 60_000);

  it("keeps the newest backup.keep archives and leaves other files alone", async () => {
    const { dir } = await preparedInstance();
    const folder = join(dir, "elsewhere");
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await wren(["backup", "--to", "elsewhere"], dir, { WREN_BACKUP_KEEP: "2" });
      expect(result.code).toBe(0);
      made.push(...archivesIn(folder).filter((name) => name.endsWith(".tar.gz") && !made.includes(name)));
      if (i === 0) writeFileSync(join(folder, "notes.txt"), "mine");
    }
    expect(made).toHaveLength(4);
    expect(archivesIn(folder)).toEqual([...made.slice(2), "notes.txt"].sort());
    expect(archivesIn(join(dir, "backups"))).toEqual([]);
  }, 60_000);

  it("fails with a clear message when the folder cannot be made", async () => {
    const { dir } = await preparedInstance();
    writeFileSync(join(dir, "a-file"), "");
    const result = await wren(["backup", "--to", join(dir, "a-file", "sub")], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^wren backup: cannot write the backup folder .*a-file\/sub/);
  }, 60_000);
});

describe("wren status", () => {
  it("prints the version, counts, queues and the last backup", async () => {
    const { dir } = await preparedInstance();
    const none = await wren(["status"], dir);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^last backup +none in /m);
    expect((await wren(["backup"], dir)).code).toBe(0);
    const { code, stdout, stderr } = await wren(["status"], dir);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string })
      .version;
    expect(stdout).toMatch(new RegExp(`^version +${version.replaceAll(".", "\\.")}$`, "m"));
    expect(stdout).toMatch(/^database +.*wren\.db \(\d+(\.\d)? (bytes|KiB|MiB)\)$/m);
    expect(stdout).toMatch(/^statuses +3 \(3 yours\)$/m);
    expect(stdout).toMatch(/^accounts +3$/m);
    expect(stdout).toMatch(/^followers +2$/m);
    expect(stdout).toMatch(/^following +1$/m);
    expect(stdout).toMatch(/^delivery queue +\d+ jobs$/m);
    expect(stdout).toMatch(/^parked hosts +none$/m);
    expect(stdout).toMatch(/^inbound backlog +0 activities$/m);
    expect(stdout).toMatch(/^last backup +.*wren-backup-.*\.tar\.gz \(.*; 1 kept\)$/m);
  }, 60_000);
});
