// Scheduled statuses end to end: masto schedules posts with media and with a poll, lists, moves and cancels
// them; the publisher posts them when due (the tests move the due time in the store, as the 5-minute rule
// forbids waiting for real), after a restart too, exactly once, with the usual federation.
import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createRestAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishDue } from "../src/jobs/scheduled.js";
import { purgeUnattachedMedia } from "../src/media/store.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { deliveriesSettled, type FedifyPeer, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, type TestServer, tempDir } from "./helpers/server.js";

type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

const MINUTE = 60_000;
const inMinutes = (minutes: number) => new Date(Date.now() + minutes * MINUTE).toISOString();

let dir: string;
let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let png: Buffer;

/** Makes a scheduled status due in `ms` from now, as if its time had come, and tells the publisher. */
function dueIn(target: TestServer, id: string, ms: number): void {
  target.context.store.sqlite
    .prepare("UPDATE scheduled_statuses SET scheduled_at = ? WHERE id = ?")
    .run(Date.now() + ms, id);
  target.context.events.emit("scheduled.changed");
}

function scheduledCount(target: TestServer): number {
  return (
    target.context.store.sqlite.prepare("SELECT count(*) AS n FROM scheduled_statuses").get() as { n: number }
  ).n;
}

function statusesWithText(target: TestServer, text: string): { id: string; uri: string }[] {
  return target.context.store.sqlite
    .prepare("SELECT id, uri FROM statuses WHERE text = ? AND deleted_at IS NULL")
    .all(text) as { id: string; uri: string }[];
}

async function upload(): Promise<mastodon.v1.MediaAttachment> {
  return client.v2.media.create({ file: new Blob([png], { type: "image/png" }), description: "a square" });
}

beforeAll(async () => {
  dir = tempDir("wren-scheduled-");
  [server, peer, png] = await Promise.all([
    startTestServer({ account: "alice", dir }),
    startFedifyPeer(),
    makePng(32, 24),
  ]);
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("scheduling", () => {
  it("masto schedules a post with media and one with a poll, lists, reads, moves and cancels them", async () => {
    const media = await upload();
    const at = inMinutes(60);
    const withMedia = await client.v1.statuses.create({
      status: "later, with a picture",
      mediaIds: [media.id],
      visibility: "unlisted",
      spoilerText: "cw",
      language: "en",
      scheduledAt: at,
    });
    expect(withMedia).toMatchObject({
      scheduledAt: new Date(at).toISOString(),
      params: {
        text: "later, with a picture",
        mediaIds: [media.id],
        visibility: "unlisted",
        spoilerText: "cw",
        sensitive: true,
        language: "en",
        poll: null,
        inReplyToId: null,
      },
    });
    expect(withMedia.mediaAttachments.map((m) => [m.id, m.description])).toEqual([[media.id, "a square"]]);

    const withPoll = await client.v1.statuses.create({
      status: "later, a question",
      poll: { options: ["yes", "no"], expiresIn: 3600, multiple: true },
      scheduledAt: inMinutes(90),
    });
    // masto's types leave `params.poll` out, though Mastodon sends it (and masto camel-cases it).
    expect((withPoll.params as { poll?: unknown }).poll).toMatchObject({
      options: ["yes", "no"],
      expiresIn: 3600,
      multiple: true,
    });
    expect(withPoll.mediaAttachments).toEqual([]);
    expect(statusesWithText(server, "later, with a picture")).toEqual([]);

    const listed = await client.v1.scheduledStatuses.list();
    expect(listed.map((s) => s.id)).toEqual([withPoll.id, withMedia.id]);
    expect(await client.v1.scheduledStatuses.$select(withMedia.id).fetch()).toEqual(withMedia);

    // The upload belongs to the scheduled status: the purge of unattached uploads spares it.
    await purgeUnattachedMedia(server.context, 0);
    expect((await api(server, token, "GET", `/api/v1/media/${media.id}`)).status).toBe(200);

    const moved = await client.v1.scheduledStatuses
      .$select(withMedia.id)
      .update({ scheduledAt: inMinutes(120) });
    expect(Date.parse(moved.scheduledAt)).toBeGreaterThan(Date.parse(at));
    await expect(
      client.v1.scheduledStatuses.$select(withMedia.id).update({ scheduledAt: inMinutes(2) }),
    ).rejects.toMatchObject({ statusCode: 422 });

    await client.v1.scheduledStatuses.$select(withMedia.id).remove();
    await client.v1.scheduledStatuses.$select(withPoll.id).remove();
    expect(await client.v1.scheduledStatuses.list()).toEqual([]);
    expect((await api(server, token, "GET", `/api/v1/scheduled_statuses/${withMedia.id}`)).status).toBe(404);
    // Cancelled, its upload is an ordinary unattached one again.
    await purgeUnattachedMedia(server.context, 0);
    expect((await api(server, token, "GET", `/api/v1/media/${media.id}`)).status).toBe(404);
  });

  it("refuses a time less than 5 minutes ahead (422) and posts a time already past at once", async () => {
    const soon = await api(server, token, "POST", "/api/v1/statuses", {
      status: "too soon",
      scheduled_at: inMinutes(4),
    });
    expect(soon.status).toBe(422);
    expect(soon.json).toEqual({
      error: "Validation failed: Scheduled at must be at least 5 minutes in the future",
    });
    const garbled = await api(server, token, "POST", "/api/v1/statuses", {
      status: "when?",
      scheduled_at: "tomorrow",
    });
    expect(garbled.status).toBe(422);
    const invalid = await api(server, token, "POST", "/api/v1/statuses", {
      status: "",
      scheduled_at: inMinutes(30),
    });
    expect(invalid.status).toBe(422);
    expect(scheduledCount(server)).toBe(0);

    const past = await api(server, token, "POST", "/api/v1/statuses", {
      status: "already due",
      scheduled_at: inMinutes(-1),
    });
    expect(past.status).toBe(200);
    expect(past.json).toMatchObject({ content: "<p>already due</p>" });
    expect(scheduledCount(server)).toBe(0);
  });

  it("honours Idempotency-Key: a retry answers the status scheduled the first time", async () => {
    const send = () =>
      fetch(`${server.url}/api/v1/statuses`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "Idempotency-Key": "k-1",
        },
        body: JSON.stringify({ status: "once only", scheduled_at: inMinutes(30) }),
      }).then((r) => r.json() as Promise<{ id: string; scheduled_at: string }>);
    const first = await send();
    const again = await send();
    expect(again).toEqual(first);
    expect(scheduledCount(server)).toBe(1);
    await client.v1.scheduledStatuses.$select(first.id).remove();
  });

  it("pages the list with Link headers; megalodon reads it", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api(server, token, "POST", "/api/v1/statuses", {
        status: `page ${i}`,
        scheduled_at: inMinutes(10 + i),
      });
      ids.push((res.json as { id: string }).id);
    }
    const first = await api(server, token, "GET", "/api/v1/scheduled_statuses?limit=2");
    expect((first.json as { id: string }[]).map((s) => s.id)).toEqual([ids[2], ids[1]]);
    expect(first.headers.get("link")).toContain(`max_id=${ids[1]}>; rel="next"`);
    const rest = await api(server, token, "GET", `/api/v1/scheduled_statuses?limit=2&max_id=${ids[1]}`);
    expect((rest.json as { id: string }[]).map((s) => s.id)).toEqual([ids[0]]);

    const mega = generator("mastodon", server.origin, token);
    const listed = await mega.getScheduledStatuses();
    expect(listed.data.map((s) => [s.id, s.params.text])).toEqual([
      [ids[2], "page 2"],
      [ids[1], "page 1"],
      [ids[0], "page 0"],
    ]);
    const one = await mega.getScheduledStatus(ids[0] as string);
    expect(one.data.params.text).toBe("page 0");
    await mega.cancelScheduledStatus(ids[0] as string);
    for (const id of ids.slice(1)) await client.v1.scheduledStatuses.$select(id).remove();
    expect(scheduledCount(server)).toBe(0);
  });

  it("applies Mastodon's limits: 25 a day, 300 in all", async () => {
    const day = new Date(Date.now() + 3 * 24 * 60 * MINUTE);
    day.setUTCHours(12, 0, 0, 0);
    for (let i = 0; i < 25; i++) {
      const res = await api(server, token, "POST", "/api/v1/statuses", {
        status: `busy day ${i}`,
        scheduled_at: new Date(day.getTime() + i * MINUTE).toISOString(),
      });
      expect(res.status).toBe(200);
    }
    const over = await api(server, token, "POST", "/api/v1/statuses", {
      status: "one too many",
      scheduled_at: new Date(day.getTime() + 30 * MINUTE).toISOString(),
    });
    expect(over.status).toBe(422);
    expect((over.json as { error: string }).error).toMatch(/limit of 25 scheduled posts/);
    const nextDay = await api(server, token, "POST", "/api/v1/statuses", {
      status: "the day after",
      scheduled_at: new Date(day.getTime() + 24 * 60 * MINUTE).toISOString(),
    });
    expect(nextDay.status).toBe(200);

    // 300 in all, spread over days so that no day is full.
    const insert = server.context.store.sqlite.prepare(
      "INSERT INTO scheduled_statuses (id, scheduled_at, params, media_ids, created_at) VALUES (?, ?, ?, '[]', ?)",
    );
    const template = server.context.store.sqlite
      .prepare("SELECT params FROM scheduled_statuses LIMIT 1")
      .get() as { params: string };
    for (let i = scheduledCount(server); i < 300; i++)
      insert.run(
        `1${String(i).padStart(17, "0")}`,
        day.getTime() + (10 + i) * 24 * 60 * MINUTE,
        template.params,
        Date.now(),
      );
    const full = await api(server, token, "POST", "/api/v1/statuses", {
      status: "no room",
      scheduled_at: new Date(day.getTime() + 5 * 24 * 60 * MINUTE).toISOString(),
    });
    expect(full.status).toBe(422);
    expect(full.json).toEqual({
      error: "Validation failed: You have exceeded the limit of 300 scheduled posts",
    });
    server.context.store.sqlite.prepare("DELETE FROM scheduled_statuses").run();
  });
});

describe("publishing", () => {
  it("posts a due status through the normal post, with its media and its poll's own expiry", async () => {
    const media = await upload();
    const pictured = await client.v1.statuses.create({
      status: "on time, with a picture",
      mediaIds: [media.id],
      scheduledAt: inMinutes(30),
    });
    const polled = await client.v1.statuses.create({
      status: "on time, a question",
      poll: { options: ["a", "b"], expiresIn: 600 },
      scheduledAt: inMinutes(31),
    });
    dueIn(server, pictured.id, 100);
    dueIn(server, polled.id, 200);
    await waitUntil(() => scheduledCount(server) === 0, "the scheduled statuses to be posted");

    const [posted] = statusesWithText(server, "on time, with a picture");
    const status = await client.v1.statuses.$select(posted?.id as string).fetch();
    expect(status.mediaAttachments.map((m) => m.id)).toEqual([media.id]);
    expect(status.application?.name).toBe("test app");
    const [question] = statusesWithText(server, "on time, a question");
    const poll = (await client.v1.statuses.$select(question?.id as string).fetch()).poll;
    expect(poll?.options.map((o) => o.title)).toEqual(["a", "b"]);
    // The poll runs from the time it was posted.
    expect(Date.parse(poll?.expiresAt as string)).toBeGreaterThan(Date.now() + 9 * MINUTE);
    const home = await client.v1.timelines.home.list();
    expect(home.map((s) => s.id)).toEqual(expect.arrayContaining([posted?.id, question?.id]));
  });

  it("survives a restart and posts exactly once: one status, one delivery to the mentioned peer", async () => {
    const text = `@${peer.handle} from the past`;
    const scheduled = await client.v1.statuses.create({ status: text, scheduledAt: inMinutes(45) });
    const { domain, port } = server;
    await server.stop();

    // While the server is down, its time comes.
    const db = new Database(join(dir, "wren.db"));
    db.prepare("UPDATE scheduled_statuses SET scheduled_at = ? WHERE id = ?").run(
      Date.now() - 1000,
      scheduled.id,
    );
    db.close();

    server = await startTestServer({
      dir,
      env: { WREN_SERVER_DOMAIN: domain, WREN_SERVER_LISTEN_PORT: String(port) },
    });
    // Two more passes racing the one the start armed: the row is claimed once.
    const passes = await Promise.all([publishDue(server.context), publishDue(server.context)]);
    await waitUntil(
      () => statusesWithText(server, text).length > 0,
      "the status to be posted after the restart",
    );
    expect(passes.every((p) => p.failed === 0)).toBe(true);
    expect(scheduledCount(server)).toBe(0);
    expect((await publishDue(server.context)).posted).toBe(0);

    const posted = statusesWithText(server, text);
    expect(posted).toHaveLength(1);
    const uri = posted[0]?.uri as string;
    await peer.waitFor((r) => r.type === "Create" && (r.json.object as { id?: string }).id === uri);
    await deliveriesSettled(server.context.store.sqlite);
    const creates = peer.received.filter(
      (r) => r.type === "Create" && (r.json.object as { id?: string }).id === uri,
    );
    expect(creates).toHaveLength(1);
    // The mention was resolved before posting: the peer got a Mention tag and is addressed.
    const note = creates[0]?.json.object as { tag?: { type: string; href: string }[]; to?: string[] };
    expect(note.tag).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: "Mention", href: peer.actorUri })]),
    );
  });
});
