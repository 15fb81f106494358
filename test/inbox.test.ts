// The inbox answers fast: a verified activity is recorded once (keyed by its id, or by its body's digest) and
// answered 202; the inbox worker applies it afterwards, one actor's activities in order of arrival. Past the
// backlog bound the inbox answers 503. Also the bugs fixed on the way: duplicates sent at once (bug 6), the
// Fedify peer's Undo(Follow) without a Follow id (bug 7), and a Delete of an actor that is already gone (bug 2).
import { type Actor, Follow, Undo } from "@fedify/fedify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dedupeKey } from "../src/federation/inbox/queue.js";
import { type FedifyPeer, startFedifyPeer } from "./helpers/fedify-peer.js";
import {
  type ActorServer,
  inboundKey,
  inboundRows,
  inboxSettled,
  startActorServer,
} from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

let server: TestServer;
let remote: ActorServer;
let aliceUri: string;

const sql = () => server.context.store.sqlite;
const count = (query: string, ...params: unknown[]) =>
  (
    sql()
      .prepare(query)
      .get(...params) as { n: number }
  ).n;

beforeAll(async () => {
  [server, remote] = await Promise.all([
    startTestServer({ account: "alice" }),
    startActorServer(["erin", "frank", "dana", "olga"]),
  ]);
  aliceUri = `${server.origin}/users/alice`;
});

afterAll(async () => {
  await server?.close();
  await remote?.close();
});

describe("de-duplication (bug 6)", () => {
  it("ten identical copies of a new activity sent at once are applied once: one report, one notification", async () => {
    const erin = remote.actorUri("erin");
    const flag = { "@context": AS, id: `${erin}/flags/1`, type: "Flag", actor: erin, object: [aliceUri] };
    // erin is unknown to Wren: every copy waits for the same key fetch, then all are verified together.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => remote.post(`${server.origin}/users/alice/inbox`, "erin", flag)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    await inboxSettled(server);
    expect(count("SELECT count(*) AS n FROM reports WHERE uri = ?", flag.id)).toBe(1);
    expect(
      count(
        "SELECT count(*) AS n FROM notifications n JOIN accounts a ON a.id = n.from_account_id WHERE a.uri = ? AND n.type = 'admin.report'",
        erin,
      ),
    ).toBe(1);
    expect(inboundRows(server).filter((r) => r.dedupe_key === inboundKey(flag.id))).toHaveLength(1);
  });

  it("a replayed Flag without an id is recognised by its body: one report", async () => {
    const frank = remote.actorUri("frank");
    const flag = { "@context": AS, type: "Flag", actor: frank, object: [aliceUri], content: "spam" };
    const first = await remote.post(`${server.origin}/inbox`, "frank", flag);
    expect(first.status, first.body).toBe(202);
    await inboxSettled(server);
    const replay = await remote.post(`${server.origin}/inbox`, "frank", flag);
    expect(replay.status, replay.body).toBe(202);
    await inboxSettled(server);
    expect(
      count(
        "SELECT count(*) AS n FROM reports r JOIN accounts a ON a.id = r.from_account_id WHERE a.uri = ?",
        frank,
      ),
    ).toBe(1);
    const rows = inboundRows(server).filter((r) => r.actor_uri === frank);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.dedupe_key).toBe(dedupeKey(null, new TextEncoder().encode(JSON.stringify(flag))));
  });
});

describe("the inbox worker", () => {
  it("applies one actor's Create, Update and Delete of a note in the order they arrived", async () => {
    const olga = remote.actorUri("olga");
    const noteId = `${olga}/notes/1`;
    const note = (content: string, extra: Record<string, unknown> = {}) => ({
      id: noteId,
      type: "Note",
      attributedTo: olga,
      content,
      to: [PUBLIC],
      cc: [aliceUri],
      tag: [{ type: "Mention", href: aliceUri, name: `@alice@${server.domain}` }],
      published: new Date(Date.now() - 1000).toISOString(),
      ...extra,
    });
    const activities = [
      { id: `${olga}/create/1`, type: "Create", object: note("<p>first</p>") },
      {
        id: `${olga}/update/1`,
        type: "Update",
        object: note("<p>second</p>", { updated: new Date().toISOString() }),
      },
      { id: `${olga}/delete/1`, type: "Delete", object: { id: noteId, type: "Tombstone" } },
    ];
    for (const activity of activities) {
      const res = await remote.post(`${server.origin}/inbox`, "olga", {
        "@context": AS,
        actor: olga,
        ...activity,
      });
      expect(res.status, res.body).toBe(202);
    }
    await inboxSettled(server);
    const status = sql().prepare("SELECT deleted_at FROM statuses WHERE uri = ?").get(noteId) as
      | { deleted_at: number | null }
      | undefined;
    expect(status?.deleted_at).not.toBeNull();
    expect(
      inboundRows(server)
        .filter((r) => r.actor_uri === olga)
        .map((r) => r.state),
    ).toEqual(["done", "done", "done"]);
    // An applied activity's body is gone; its de-duplication row stays.
    expect(
      count(
        "SELECT count(*) AS n FROM inbound_bodies b JOIN inbound_activities a ON a.id = b.activity_id WHERE a.state = 'done'",
      ),
    ).toBe(0);
  });

  it("keeps the body of a recorded activity until it is applied", async () => {
    const paused = await startTestServer({ account: "alice" });
    try {
      await paused.inbox.stop(0);
      const dana = remote.actorUri("dana");
      const follow = {
        "@context": AS,
        id: `${dana}/follows/paused`,
        type: "Follow",
        actor: dana,
        object: `${paused.origin}/users/alice`,
      };
      const res = await remote.post(`${paused.origin}/inbox`, "dana", follow);
      expect(res.status, res.body).toBe(202);
      const row = paused.context.store.sqlite
        .prepare(
          "SELECT a.state, b.body FROM inbound_activities a LEFT JOIN inbound_bodies b ON b.activity_id = a.id WHERE a.dedupe_key = ?",
        )
        .get(inboundKey(follow.id)) as { state: string; body: string | null };
      expect(row.state).toBe("pending");
      expect(JSON.parse(row.body ?? "null")).toMatchObject({ id: follow.id, type: "Follow" });
    } finally {
      await paused.close();
    }
  });
});

describe("a Delete of an actor whose refetch answers 410 (bug 2)", () => {
  it("removes its follow and its posts with the stored copy", async () => {
    const dana = remote.actorUri("dana");
    const follow = { "@context": AS, id: `${dana}/follows/1`, type: "Follow", actor: dana, object: aliceUri };
    expect((await remote.post(`${server.origin}/users/alice/inbox`, "dana", follow)).status).toBe(202);
    const noteId = `${dana}/notes/1`;
    const create = {
      "@context": AS,
      id: `${dana}/create/1`,
      type: "Create",
      actor: dana,
      object: {
        id: noteId,
        type: "Note",
        attributedTo: dana,
        content: "<p>hello alice</p>",
        to: [PUBLIC],
        cc: [aliceUri],
        tag: [{ type: "Mention", href: aliceUri, name: `@alice@${server.domain}` }],
        published: new Date().toISOString(),
      },
    };
    expect((await remote.post(`${server.origin}/inbox`, "dana", create)).status).toBe(202);
    await inboxSettled(server);
    const danaId = (sql().prepare("SELECT id FROM accounts WHERE uri = ?").get(dana) as { id: string }).id;
    expect(count("SELECT count(*) AS n FROM follows WHERE follower_id = ?", danaId)).toBe(1);
    expect(sql().prepare("SELECT deleted_at FROM statuses WHERE uri = ?").get(noteId)).toEqual({
      deleted_at: null,
    });

    // Two days later dana deletes itself: its server answers 410 from then on, and Wren's copy is stale.
    sql()
      .prepare("UPDATE accounts SET fetched_at = ? WHERE id = ?")
      .run(Date.now() - 2 * 24 * 60 * 60 * 1000, danaId);
    remote.gone.add("dana");
    const del = {
      "@context": AS,
      id: `${dana}#delete`,
      type: "Delete",
      actor: dana,
      object: dana,
      to: [PUBLIC],
    };
    const res = await remote.post(`${server.origin}/inbox`, "dana", del);
    expect(res.status, res.body).toBe(202);
    await inboxSettled(server);

    expect(inboundRows(server).at(-1)).toMatchObject({ dedupe_key: inboundKey(del.id), state: "done" });
    expect(
      count("SELECT count(*) AS n FROM follows WHERE follower_id = ? OR following_id = ?", danaId, danaId),
    ).toBe(0);
    expect(
      (
        sql().prepare("SELECT deleted_at FROM statuses WHERE uri = ?").get(noteId) as {
          deleted_at: number | null;
        }
      ).deleted_at,
    ).not.toBeNull();
  });
});

describe("the Fedify peer's Undo(Follow) whose Follow has no id (bug 7)", () => {
  let peer: FedifyPeer;
  beforeAll(async () => {
    peer = await startFedifyPeer();
  });
  afterAll(async () => {
    await peer?.close();
  });

  it("ends the follow, matched by actor and object", async () => {
    const followId = await peer.follow(aliceUri);
    await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
    await inboxSettled(server);
    const followRows = () =>
      count(
        "SELECT count(*) AS n FROM follows f JOIN accounts a ON a.id = f.follower_id WHERE a.uri = ?",
        peer.actorUri,
      );
    expect(followRows()).toBe(1);

    const c = peer.context();
    const alice = (await c.lookupObject(aliceUri)) as Actor;
    const undo = new Undo({
      id: new URL(`${peer.actorUri}/undo/${Date.now()}`),
      actor: new URL(peer.actorUri),
      object: new Follow({ actor: new URL(peer.actorUri), object: new URL(aliceUri) }),
    });
    await c.sendActivity({ identifier: "peer" }, alice, undo, { immediate: true });
    await inboxSettled(server);
    expect(followRows()).toBe(0);
    expect(inboundRows(server).at(-1)).toMatchObject({ state: "done" });
  });
});

describe("overload", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ account: "alice", env: { WREN_FEDERATION_INBOX_BACKLOG_MAX: "2" } });
  });
  afterAll(async () => {
    await small?.close();
  });

  it("answers 503 with Retry-After and records nothing once the backlog reaches its bound", async () => {
    await small.inbox.stop(0); // nothing is applied: the backlog only grows
    const erin = remote.actorUri("erin");
    const target = `${small.origin}/users/alice`;
    const like = (n: number) => ({
      "@context": AS,
      id: `${erin}/likes/small-${n}`,
      type: "Like",
      actor: erin,
      object: target,
    });
    for (const n of [1, 2])
      expect((await remote.post(`${small.origin}/inbox`, "erin", like(n))).status).toBe(202);
    const refused = await remote.post(`${small.origin}/inbox`, "erin", like(3));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(JSON.parse(refused.body)).toEqual({ error: expect.any(String) });
    expect(inboundRows(small).map((r) => r.dedupe_key)).toEqual([
      inboundKey(like(1).id),
      inboundKey(like(2).id),
    ]);
  });
});
