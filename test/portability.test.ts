// Import and export in Mastodon's formats, end to end: alice's Wren follows two Fedify peers, blocks, mutes,
// bookmarks and keeps lists; her CSV exports are imported into a fresh Wren (bob's), whose Follows the peers
// receive and accept. Headerless files, bad rows, overwrite mode, the account archive, and the CLI.
import { createReadStream, createWriteStream, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTar } from "../src/backup/tar.js";
import { UserError } from "../src/core/account.js";
import { follow } from "../src/core/follows.js";
import { resolveHandle } from "../src/federation/resolve.js";
import { startServer } from "../src/main.js";
import { mediaFilePath } from "../src/media/store.js";
import { writeAccountArchive } from "../src/portability/archive.js";
import { exportText } from "../src/portability/export.js";
import { type ImportProgress, importCsv } from "../src/portability/import.js";
import { api, issueToken } from "./helpers/api.js";
import { ensureBuilt, runWren } from "./helpers/cli.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  followAccepted,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { makePng } from "./helpers/png.js";
import { childEnv, freePort, startTestServer, type TestServer, tempDir, testEnv } from "./helpers/server.js";

type Json = Record<string, unknown>;

let alice: TestServer;
let bob: TestServer;
let peer1: FedifyPeer;
let peer2: FedifyPeer;
let aliceClient: mastodon.rest.Client;
let bobClient: mastodon.rest.Client;
let aliceToken: string;
/** URIs of what alice bookmarked: a note of peer1 and her own post. */
let bookmarked: string[];
let peerNote: string;
const dirs: string[] = [];

const client = (server: TestServer, token: string) =>
  createRestAPIClient({ url: server.url, accessToken: token });

async function lookup(c: mastodon.rest.Client, handle: string): Promise<mastodon.v1.Account> {
  const found = await c.v2.search.list({ q: `@${handle}`, type: "accounts", resolve: true });
  const account = found.accounts[0];
  if (!account) throw new Error(`${handle} was not found`);
  return account;
}

const handleOf = (peer: FedifyPeer, identifier: string) => `${identifier}@${peer.domain}`;

beforeAll(async () => {
  ensureBuilt();
  [alice, bob, peer1, peer2] = await Promise.all([
    startTestServer({ account: "alice" }),
    startTestServer({ account: "bob" }),
    startFedifyPeer({ extraActors: ["muted", "blocked"] }),
    startFedifyPeer(),
  ]);
  restoreNativeResponse();
  aliceToken = issueToken(alice);
  aliceClient = client(alice, aliceToken);
  bobClient = client(bob, issueToken(bob));

  // alice follows both peers: peer1 without boosts, with notifications and two languages (the API has no
  // languages parameter, so that follow is made with the use case).
  const ctx = alice.context;
  const one = follow(ctx, await resolveHandle(ctx, peer1.handle), {
    reblogs: false,
    notify: true,
    languages: ["en", "de"],
  });
  const two = await lookup(aliceClient, peer2.handle);
  await aliceClient.v1.accounts.$select(two.id).follow();
  await followAccepted(ctx.store.sqlite, one.id, "alice's follow of peer1");
  await waitUntil(
    () => ctx.store.sqlite.prepare("SELECT 1 FROM follows WHERE state = 'accepted'").all().length === 2,
    "both follows to be accepted",
  );

  const blocked = await lookup(aliceClient, handleOf(peer1, "blocked"));
  await aliceClient.v1.accounts.$select(blocked.id).block();
  const muted = await lookup(aliceClient, handleOf(peer1, "muted"));
  await aliceClient.v1.accounts.$select(muted.id).mute({ notifications: false });
  await aliceClient.v1.domainBlocks.create({ domain: "spam.example" });
  await aliceClient.v1.domainBlocks.create({ domain: "bad.example" });

  peerNote = await peer1.post({ content: "<p>worth keeping</p>", silent: true });
  const found = await aliceClient.v2.search.list({ q: peerNote, type: "statuses", resolve: true });
  const remote = found.statuses[0];
  if (!remote) throw new Error("peer1's note was not resolved");
  const own = await aliceClient.v1.statuses.create({ status: "my own, kept", visibility: "public" });
  await aliceClient.v1.statuses.$select(remote.id).bookmark();
  await aliceClient.v1.statuses.$select(own.id).bookmark();
  bookmarked = [remote.uri, own.uri];

  const friends = await aliceClient.v1.lists.create({ title: "Friends, close" });
  await aliceClient.v1.lists.$select(friends.id).accounts.create({ accountIds: [one.followingId] });
  const work = await aliceClient.v1.lists.create({ title: "Work" });
  await aliceClient.v1.lists.$select(work.id).accounts.create({ accountIds: [two.id] });
  await deliveriesSettled(ctx.store.sqlite);
}, 60_000);

afterAll(async () => {
  await Promise.all([alice?.close(), bob?.close(), peer1?.close(), peer2?.close()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("export", () => {
  it("writes Mastodon's columns and headers", () => {
    const ctx = alice.context;
    expect(exportText(ctx, "following").split("\n")).toEqual([
      "Account address,Show boosts,Notify on new posts,Languages",
      `${peer2.handle},true,false,`,
      `${peer1.handle},false,true,"en, de"`,
      "",
    ]);
    expect(exportText(ctx, "followers")).toBe("Account address\n");
    expect(exportText(ctx, "blocks")).toBe(`${handleOf(peer1, "blocked")}\n`);
    expect(exportText(ctx, "mutes")).toBe(
      `Account address,Hide notifications\n${handleOf(peer1, "muted")},false\n`,
    );
    expect(exportText(ctx, "domain_blocks")).toBe("bad.example\nspam.example\n");
    expect(exportText(ctx, "bookmarks")).toBe(`${[...bookmarked].reverse().join("\n")}\n`);
    expect(exportText(ctx, "lists")).toBe(`"Friends, close",${peer1.handle}\nWork,${peer2.handle}\n`);
  });
});

describe("import into a fresh Wren", () => {
  it("reproduces the follows (the peers accept them), blocks, mutes, domain blocks, bookmarks and lists", async () => {
    const from = alice.context;
    const to = bob.context;
    const bobUri = `${bob.origin}/users/bob`;
    const progress: ImportProgress[] = [];
    const following = await importCsv(to, "following", exportText(from, "following"), {
      onProgress: (p) => progress.push(p),
    });
    expect(following).toMatchObject({ rows: 2, done: 2, failed: [], mode: "merge" });
    expect(progress.map((p) => p.finished).sort()).toEqual([1, 2]);
    for (const peer of [peer1, peer2])
      await peer.waitFor((a) => a.type === "Follow" && a.actor === bobUri, 10_000);
    const sqlite = to.store.sqlite;
    await waitUntil(
      () => sqlite.prepare("SELECT 1 FROM follows WHERE state = 'accepted'").all().length === 2,
      "bob's follows to be accepted",
    );
    const p1 = await lookup(bobClient, peer1.handle);
    const p2 = await lookup(bobClient, peer2.handle);
    const [r1, r2] = await bobClient.v1.accounts.relationships.fetch({ id: [p1.id, p2.id] });
    expect(r1).toMatchObject({
      following: true,
      showingReblogs: false,
      notifying: true,
      languages: ["en", "de"],
    });
    expect(r2).toMatchObject({ following: true, showingReblogs: true, notifying: false });

    for (const kind of ["blocks", "mutes", "domain_blocks", "bookmarks", "lists"] as const) {
      const summary = await importCsv(to, kind, exportText(from, kind), { delayMs: 5 });
      expect(summary.failed, kind).toEqual([]);
    }
    await peer1.waitFor((a) => a.type === "Block" && a.actor === bobUri, 10_000);
    const blocked = await lookup(bobClient, handleOf(peer1, "blocked"));
    const muted = await lookup(bobClient, handleOf(peer1, "muted"));
    const [rb, rm] = await bobClient.v1.accounts.relationships.fetch({ id: [blocked.id, muted.id] });
    expect(rb).toMatchObject({ blocking: true });
    expect(rm).toMatchObject({ muting: true, mutingNotifications: false });
    expect((await bobClient.v1.domainBlocks.list()).sort()).toEqual(["bad.example", "spam.example"]);
    const bookmarks = await bobClient.v1.bookmarks.list();
    expect(bookmarks.map((s) => s.uri).sort()).toEqual([...bookmarked].sort());
    const lists = await bobClient.v1.lists.list();
    expect(lists.map((l) => l.title).sort()).toEqual(["Friends, close", "Work"]);
    for (const list of lists) {
      const members = await bobClient.v1.lists.$select(list.id).accounts.list();
      expect(members.map((m) => m.acct)).toEqual([list.title === "Work" ? peer2.handle : peer1.handle]);
    }
    // The same files again change nothing and fail nowhere (merge).
    const again = await importCsv(to, "lists", exportText(from, "lists"));
    expect(again).toMatchObject({ done: 2, failed: [] });
  }, 60_000);

  it("reads files without a header, reports bad rows with their line and reason, and goes on", async () => {
    const to = bob.context;
    const text = [
      `@${peer2.handle}`,
      "ghost@127.0.0.1:1",
      "",
      "not-an-address",
      `nobody@${peer1.domain}`,
      `"${peer1.handle}"`,
    ].join("\r\n");
    const progress: ImportProgress[] = [];
    const summary = await importCsv(to, "following", text, { onProgress: (p) => progress.push(p) });
    expect(summary.rows).toBe(5);
    expect(summary.done).toBe(2);
    expect(summary.failed.map((f) => [f.line, f.item])).toEqual([
      [2, "ghost@127.0.0.1:1"],
      [4, "not-an-address"],
      [5, `nobody@${peer1.domain}`],
    ]);
    for (const failure of summary.failed) expect(failure.reason).not.toBe("");
    expect(progress.filter((p) => p.error).length).toBe(3);
    expect(progress.length).toBe(5);

    // A quoted header, a handle written with its leading @, a boolean in capitals, and a row without address.
    const mutes = await importCsv(
      to,
      "mutes",
      `"Account address","Hide notifications"\n@${handleOf(peer1, "muted")},FALSE\n,true\n`,
    );
    expect(mutes.failed.map((f) => [f.line, f.reason])).toEqual([[3, "no account address"]]);
    const muted = await lookup(bobClient, handleOf(peer1, "muted"));
    const [rel] = await bobClient.v1.accounts.relationships.fetch({ id: [muted.id] });
    expect(rel).toMatchObject({ muting: true, mutingNotifications: false });
    await importCsv(to, "mutes", `Account address,Hide notifications\n${handleOf(peer1, "muted")},True\n`);
    const [again] = await bobClient.v1.accounts.relationships.fetch({ id: [muted.id] });
    expect(again).toMatchObject({ muting: true, mutingNotifications: true });
  }, 30_000);

  it("refuses a malformed file or another kind's file whole, before changing anything", async () => {
    const to = bob.context;
    const before = to.store.sqlite.prepare("SELECT count(*) AS n FROM domain_blocks").get();
    await expect(importCsv(to, "domain_blocks", 'ok.example\n"unclosed.example\n')).rejects.toThrow(
      UserError,
    );
    await expect(importCsv(to, "blocks", "#domain\nspam.example\n")).rejects.toThrow(/not a blocks file/);
    await expect(importCsv(to, "blocks", "\n\n")).rejects.toThrow(/empty/);
    expect(to.store.sqlite.prepare("SELECT count(*) AS n FROM domain_blocks").get()).toEqual(before);
  });

  it("overwrite mode undoes what the file does not list", async () => {
    const to = bob.context;
    const bobUri = `${bob.origin}/users/bob`;
    const following = await importCsv(to, "following", `Account address\n${peer2.handle}\n`, {
      mode: "overwrite",
    });
    expect(following).toMatchObject({ done: 1, removed: 1, failed: [] });
    await peer1.waitFor((a) => a.type === "Undo" && a.actor === bobUri, 10_000);
    const p1 = await lookup(bobClient, peer1.handle);
    const p2 = await lookup(bobClient, peer2.handle);
    const [r1, r2] = await bobClient.v1.accounts.relationships.fetch({ id: [p1.id, p2.id] });
    expect(r1).toMatchObject({ following: false, requested: false });
    expect(r2).toMatchObject({ following: true });
    // peer1 left the lists with the follow; overwrite deletes the list the file does not name.
    const lists = await importCsv(to, "lists", `Work,${peer2.handle}\n`, { mode: "overwrite" });
    expect(lists.failed).toEqual([]);
    expect((await bobClient.v1.lists.list()).map((l) => l.title)).toEqual(["Work"]);

    const domains = await importCsv(to, "domain_blocks", "#domain\nBAD.example\nnew.example\n", {
      mode: "overwrite",
    });
    expect(domains).toMatchObject({ done: 2, removed: 1 });
    expect((await bobClient.v1.domainBlocks.list()).sort()).toEqual(["bad.example", "new.example"]);

    const bookmarks = await importCsv(to, "bookmarks", `${peerNote}\n`, { mode: "overwrite" });
    expect(bookmarks).toMatchObject({ done: 1, removed: 1 });
    expect((await bobClient.v1.bookmarks.list()).map((s) => s.uri)).toEqual([peerNote]);
  }, 30_000);
});

async function readArchive(path: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await readTar(createReadStream(path).pipe(createGunzip()), (name) => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => chunks.push(Buffer.from(chunk)),
      end: () => files.set(name, Buffer.concat(chunks)),
    };
  });
  return files;
}

describe("account archive", () => {
  it("holds the actor, the owner's posts and boosts, likes, bookmarks and media files", async () => {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(await makePng(20, 10))], { type: "image/png" }), "a.png");
    const upload = await fetch(`${alice.url}/api/v2/media`, {
      method: "POST",
      headers: { Authorization: `Bearer ${aliceToken}` },
      body: form,
    });
    const mediaId = ((await upload.json()) as { id: string }).id;
    const withMedia = await api(alice, aliceToken, "POST", "/api/v1/statuses", {
      status: "a picture",
      media_ids: [mediaId],
    });
    expect(withMedia.status).toBe(200);
    const privatePost = await aliceClient.v1.statuses.create({
      status: "for followers",
      visibility: "private",
    });
    const [remote] = (await aliceClient.v2.search.list({ q: peerNote, type: "statuses", resolve: true }))
      .statuses;
    if (!remote) throw new Error("peer1's note is gone");
    await aliceClient.v1.statuses.$select(remote.id).favourite();
    await aliceClient.v1.statuses.$select(remote.id).reblog();
    await inboxSettled(alice);

    const dir = tempDir("wren-archive-");
    dirs.push(dir);
    const path = join(dir, "archive.tar.gz");
    const summary = await writeAccountArchive(alice.context, createWriteStream(path));
    expect(summary).toMatchObject({ statuses: 4, likes: 1, bookmarks: 2, mediaFiles: 1, missingMedia: [] });

    const files = await readArchive(path);
    const json = (name: string) => JSON.parse(files.get(name)?.toString("utf8") ?? "null") as Json;
    const actor = json("actor.json");
    expect(actor).toMatchObject({
      id: `${alice.origin}/users/alice`,
      type: "Person",
      outbox: "outbox.json",
      likes: "likes.json",
      bookmarks: "bookmarks.json",
    });
    const outbox = json("outbox.json");
    expect(outbox).toMatchObject({ type: "OrderedCollection", id: "outbox.json", totalItems: 4 });
    const items = outbox.orderedItems as Json[];
    expect(items).toHaveLength(4);
    for (const item of items) expect(item["@context"]).toBeUndefined();
    expect(items.filter((i) => i.type === "Create")).toHaveLength(3);
    const announce = items.find((i) => i.type === "Announce");
    expect(announce?.object).toBe(peerNote);
    const picture = items.find((i) => (i.object as Json | undefined)?.content === "<p>a picture</p>");
    if (!picture) throw new Error("the post with a picture is not in the outbox");
    const attachment = ((picture.object as Json).attachment as Json[])[0] as Json;
    const archived = String(attachment.url);
    expect(archived).toMatch(/^media_attachments\/files\//);
    const fileName = archived.slice("media_attachments/files/".length);
    expect(files.get(archived)).toEqual(readFileSync(mediaFilePath(alice.context, fileName)));
    expect(items.some((i) => (i.object as Json | undefined)?.id === privatePost.uri)).toBe(true);
    expect(json("likes.json")).toMatchObject({
      type: "OrderedCollection",
      totalItems: 1,
      orderedItems: [peerNote],
    });
    expect((json("bookmarks.json").orderedItems as string[]).sort()).toEqual([...bookmarked].sort());
  }, 30_000);
});

describe("the wren command", () => {
  it("exports to standard output and imports into a stopped instance, whose server then sends the Follows", async () => {
    const port = Number(new URL(alice.origin).port);
    const exported = await runWren(["export", "following"], {
      cwd: alice.dir,
      env: childEnv(alice.dir, port),
    });
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe(exportText(alice.context, "following"));

    const dir = tempDir("wren-import-");
    dirs.push(dir);
    const carolPort = await freePort();
    const env = childEnv(dir, carolPort);
    const created = await runWren(["account", "create", "--username", "carol"], {
      cwd: dir,
      env,
      input: "correct horse battery\n",
    });
    expect(created.code, created.stderr).toBe(0);
    const file = join(dir, "following.csv");
    writeFileSync(file, `${exported.stdout}nobody@${peer1.domain},true,false,\n`);
    const imported = await runWren(["import", "following", file, "--delay", "0"], { cwd: dir, env });
    expect(imported.code).toBe(1);
    expect(imported.stdout).toContain("Imported following: 2 of 3 rows done, 1 failed.");
    expect(imported.stdout).toMatch(new RegExp(`line 4: nobody@${peer1.domain.replace(".", "\\.")}: `));
    expect(imported.stdout).toContain("wait until `wren serve` starts");
    const usage = await runWren(["import", "followers", file], { cwd: dir, env });
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('cannot import "followers"');

    // The Follows waited in the queue; the server sends them when it starts.
    const carolUri = `http://127.0.0.1:${carolPort}/users/carol`;
    const server = await startServer({ env: testEnv(dir, carolPort) });
    try {
      for (const peer of [peer1, peer2])
        await peer.waitFor((a) => a.type === "Follow" && a.actor === carolUri, 15_000);
      const sqlite = server.context.store.sqlite;
      await waitUntil(
        () => sqlite.prepare("SELECT 1 FROM follows WHERE state = 'accepted'").all().length === 2,
        "carol's follows to be accepted",
      );
    } finally {
      await server.stop();
    }

    const archive = join(dir, "carol.tar.gz");
    const exportedArchive = await runWren(["export", "archive", "--out", archive], { cwd: dir, env });
    expect(exportedArchive.code, exportedArchive.stderr).toBe(0);
    expect(exportedArchive.stdout).toContain(`Wrote ${archive}`);
    expect(JSON.parse((await readArchive(archive)).get("actor.json")?.toString() ?? "{}").id).toBe(carolUri);
  }, 60_000);
});
