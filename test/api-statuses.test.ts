import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receiveAnnounce, receiveLike } from "../src/core/interactions.js";
import { notifyEndedPolls, receivePollVote } from "../src/core/polls.js";
import { receiveNote } from "../src/core/statuses.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import {
  deliveryJobs,
  favourites,
  follows,
  mediaAttachments,
  outboundActivities,
  polls,
  pollVotes,
  statusEdits,
  statuses,
} from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { parsedNote, remoteAccount } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const _PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let server: TestServer;
let token: string;
let local: AccountRow;
let bob: AccountRow;
let carol: AccountRow;

type Json = Record<string, unknown> & { id: string };

function post(body: Record<string, unknown>, t: string | null = token, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/api/v1/statuses`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(t ? { Authorization: `Bearer ${t}` } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

async function create(body: Record<string, unknown>): Promise<Json> {
  const res = await api(server, token, "POST", "/api/v1/statuses", body);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as Json;
}

function upload(): string {
  const id = newId();
  server.context.store.db
    .insert(mediaAttachments)
    .values({
      id,
      accountId: local.id,
      type: "image",
      contentType: "image/png",
      fileName: `${id}.png`,
      createdAt: Date.now(),
    })
    .run();
  return id;
}

const TABLES = [
  "statuses",
  "mentions",
  "tags",
  "status_tags",
  "polls",
  "poll_votes",
  "home_feed",
  "idempotency_keys",
  "outbound_activities",
  "delivery_jobs",
  "status_edits",
  "favourites",
  "bookmarks",
  "notifications",
];

/** Row counts of every table a failed request could have touched, and where each upload is attached. */
function counts(): Record<string, unknown> {
  const { sqlite } = server.context.store;
  const result: Record<string, unknown> = {};
  for (const table of TABLES)
    result[table] = (sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  result.media = sqlite.prepare("SELECT id, status_id FROM media_attachments ORDER BY id").all();
  return result;
}

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  // Deliveries stay queued in the database, where the tests read them.
  await server.delivery.stop(1000);
  token = issueToken(server);
  const found = findLocalUser(server.context.store.db);
  if (!found) throw new Error("no local account");
  local = found.account;
  bob = remoteAccount(server, "bob", "remote.example", { displayName: "bob" });
  carol = remoteAccount(server, "carol", "other.example", { displayName: "carol" });
  // alice follows bob and bob follows alice.
  server.context.store.db
    .insert(follows)
    .values([
      { id: newId(), followerId: local.id, followingId: bob.id, state: "accepted", createdAt: Date.now() },
      { id: newId(), followerId: bob.id, followingId: local.id, state: "accepted", createdAt: Date.now() },
    ])
    .run();
});

afterAll(async () => {
  await server?.close();
});

describe("POST /api/v1/statuses", () => {
  it("formats mentions, hashtags and links and lists them", async () => {
    const status = await create({
      status: "Hello @bob, see https://example.com/some/long/path/that/goes/on #Wren #wren #Fediverse",
    });
    expect(status.content).toContain(
      '<a href="https://remote.example/@bob" class="u-url mention">@<span>bob</span></a>',
    );
    expect(status.content).toContain('class="mention hashtag" rel="tag">#<span>Wren</span></a>');
    expect(status.content).toContain('<a href="https://example.com/some/long/path/that/goes/on"');
    expect(status.mentions).toEqual([
      { id: bob.id, username: "bob", acct: "bob@remote.example", url: "https://remote.example/@bob" },
    ]);
    expect((status.tags as { name: string }[]).map((t) => t.name.toLowerCase()).sort()).toEqual([
      "fediverse",
      "wren",
    ]);
    expect(status.visibility).toBe("public");
    expect(status.application).toEqual({ name: "test app", website: null });
    expect((status.account as Json).id).toBe(local.id);
    for (const key of [
      "uri",
      "url",
      "created_at",
      "edited_at",
      "emojis",
      "replies_count",
      "reblogs_count",
      "favourites_count",
      "card",
      "poll",
      "language",
      "reblog",
    ]) {
      expect(status).toHaveProperty(key);
    }
    // The Create goes to bob's server (follower and mentioned): one job for the shared inbox.
    const jobs = server.context.store.db.select().from(deliveryJobs).all();
    expect(jobs.map((j) => j.inboxUrl)).toContain("https://remote.example/inbox");
  });

  it("accepts form bodies with foo[] arrays and poll[options][]", async () => {
    const body = new URLSearchParams();
    body.set("status", "form post");
    body.append("poll[options][]", "yes");
    body.append("poll[options][]", "no");
    body.set("poll[expires_in]", "600");
    body.set("poll[multiple]", "true");
    body.set("visibility", "unlisted");
    const res = await fetch(`${server.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(res.status).toBe(200);
    const status = (await res.json()) as Json;
    expect(status.visibility).toBe("unlisted");
    const poll = status.poll as Json;
    expect(poll.multiple).toBe(true);
    expect(poll.options).toEqual([
      { title: "yes", votes_count: 0 },
      { title: "no", votes_count: 0 },
    ]);
  });

  it("accepts multipart bodies and bodies without a Content-Type", async () => {
    const media = upload();
    const form = new FormData();
    form.set("status", "multipart post");
    form.append("media_ids[]", media);
    form.set("sensitive", "true");
    form.set("spoiler_text", "cw");
    const res = await fetch(`${server.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    expect(res.status).toBe(200);
    const status = (await res.json()) as Json;
    expect(status).toMatchObject({ sensitive: true, spoiler_text: "cw" });
    expect((status.media_attachments as Json[]).map((m) => m.id)).toEqual([media]);

    const bare = await fetch(`${server.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "" },
      body: JSON.stringify({ status: "no content type", visibility: "private", language: "fr" }),
    });
    expect(bare.status).toBe(200);
    expect(await bare.json()).toMatchObject({
      content: "<p>no content type</p>",
      visibility: "private",
      language: "fr",
    });
  });

  it("returns the same status for a repeated Idempotency-Key from the same token", async () => {
    const before = counts().statuses as number;
    const first = (await (
      await post({ status: "only once" }, token, { "Idempotency-Key": "abc-123" })
    ).json()) as Json;
    const again = await Promise.all([
      post({ status: "only once" }, token, { "Idempotency-Key": "abc-123" }),
      post({ status: "only once" }, token, { "Idempotency-Key": "abc-123" }),
    ]);
    for (const res of again) expect(((await res.json()) as Json).id).toBe(first.id);
    expect(counts().statuses).toBe(before + 1);
    // Concurrent first requests are joined too.
    const racing = await Promise.all(
      [1, 2, 3].map(() => post({ status: "racing" }, token, { "Idempotency-Key": "race" })),
    );
    const ids = new Set(await Promise.all(racing.map(async (r) => ((await r.json()) as Json).id)));
    expect(ids.size).toBe(1);
    // Another token with the same key posts anew.
    const other = issueToken(server);
    const third = (await (
      await post({ status: "only once" }, other, { "Idempotency-Key": "abc-123" })
    ).json()) as Json;
    expect(third.id).not.toBe(first.id);
    expect(counts().statuses).toBe(before + 3);
  });

  it("replies: in_reply_to_id, replies_count and the thread context", async () => {
    const root = await create({ status: "root" });
    const reply = await create({ status: "reply", in_reply_to_id: root.id });
    expect(reply.in_reply_to_id).toBe(root.id);
    expect(reply.in_reply_to_account_id).toBe(local.id);
    const remoteReplyId = receiveNote(
      server.context,
      bob,
      parsedNote(bob, { inReplyTo: reply.uri as string }),
    );
    const deeper = await create({ status: "deeper", in_reply_to_id: remoteReplyId });
    const sibling = await create({ status: "sibling", in_reply_to_id: root.id });
    // A followers-only reply by someone alice does not follow, not addressed to her: invisible.
    const hidden = receiveNote(
      server.context,
      carol,
      parsedNote(carol, { inReplyTo: root.uri as string, to: [carol.followersUrl ?? ""], cc: [] }),
    );

    const fetched = (await api(server, token, "GET", `/api/v1/statuses/${root.id}`)).json as Json;
    expect(fetched.replies_count).toBe(3);

    const context = (await api(server, token, "GET", `/api/v1/statuses/${root.id}/context`)).json as {
      ancestors: Json[];
      descendants: Json[];
    };
    expect(context.ancestors).toEqual([]);
    expect(context.descendants.map((s) => s.id)).toEqual([reply.id, remoteReplyId, deeper.id, sibling.id]);
    expect(context.descendants.map((s) => s.id)).not.toContain(hidden);

    const fromDeep = (await api(server, null, "GET", `/api/v1/statuses/${deeper.id}/context`)).json as {
      ancestors: Json[];
      descendants: Json[];
    };
    expect(fromDeep.ancestors.map((s) => s.id)).toEqual([root.id, reply.id, remoteReplyId]);
    expect(fromDeep.descendants).toEqual([]);
  });

  it("creates a poll, votes in it and shows the results", async () => {
    const status = await create({ status: "pick", poll: { options: ["a", "b", "c"], expires_in: 3600 } });
    const poll = status.poll as Json;
    const voted = await api(server, token, "POST", `/api/v1/polls/${poll.id}/votes`, { choices: ["1"] });
    expect(voted.status).toBe(200);
    expect(voted.json).toMatchObject({
      id: poll.id,
      voted: true,
      own_votes: [1],
      votes_count: 1,
      voters_count: 1,
      options: [
        { title: "a", votes_count: 0 },
        { title: "b", votes_count: 1 },
        { title: "c", votes_count: 0 },
      ],
    });
    const again = await api(server, token, "POST", `/api/v1/polls/${poll.id}/votes`, { choices: [0] });
    expect(again.status).toBe(422);
    // A remote vote on the local poll counts too.
    expect(
      receivePollVote(server.context, bob, status.uri as string, "c", "https://remote.example/votes/1"),
    ).toBe(true);
    expect(
      receivePollVote(server.context, bob, status.uri as string, "a", "https://remote.example/votes/2"),
    ).toBe(false);
    const read = await api(server, null, "GET", `/api/v1/polls/${poll.id}`);
    expect(read.json).toMatchObject({ votes_count: 2, voters_count: 2, voted: false, own_votes: [] });
    expect((await api(server, token, "GET", `/api/v1/polls/${poll.id}`)).json).toMatchObject({
      voted: true,
      own_votes: [1],
    });
  });

  it("votes in a remote poll by sending a Create of a Note with the option's name", async () => {
    const questionId = receiveNote(
      server.context,
      bob,
      parsedNote(bob, {
        type: "Question",
        poll: {
          multiple: true,
          options: [
            { title: "red", votes: 3 },
            { title: "blue", votes: 1 },
          ],
          endTime: Date.now() + 3_600_000,
          votersCount: 4,
        },
      }),
    );
    const status = (await api(server, token, "GET", `/api/v1/statuses/${questionId}`)).json as Json;
    const poll = status.poll as Json;
    const bad = await api(server, token, "POST", `/api/v1/polls/${poll.id}/votes`, { choices: [5] });
    expect(bad.status).toBe(422);
    const none = await api(server, token, "POST", `/api/v1/polls/${poll.id}/votes`, { choices: [] });
    expect(none.status).toBe(422);
    const res = await api(server, token, "POST", `/api/v1/polls/${poll.id}/votes`, { choices: [0, 1] });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      voters_count: 5,
      own_votes: [0, 1],
      options: [{ votes_count: 4 }, { votes_count: 2 }],
    });
    const bodies = server.context.store.db
      .select({ body: outboundActivities.body })
      .from(outboundActivities)
      .all()
      .map(
        (r) =>
          JSON.parse(r.body) as {
            type: string;
            object: { type?: string; name?: string; inReplyTo?: string };
          },
      );
    const votes = bodies.filter((b) => b.type === "Create" && b.object.name !== undefined);
    expect(votes.map((v) => v.object.name).sort()).toEqual(["blue", "red"]);
    for (const v of votes) expect(v.object).toMatchObject({ type: "Note", inReplyTo: status.uri });
  });

  it("refuses votes in an expired poll", async () => {
    const questionId = receiveNote(
      server.context,
      bob,
      parsedNote(bob, {
        type: "Question",
        poll: {
          multiple: false,
          options: [
            { title: "x", votes: 0 },
            { title: "y", votes: 0 },
          ],
          endTime: Date.now() - 1000,
          votersCount: 0,
        },
      }),
    );
    const poll = server.context.store.db.select().from(polls).where(eq(polls.statusId, questionId)).get();
    const res = await api(server, token, "POST", `/api/v1/polls/${poll?.id}/votes`, { choices: [0] });
    expect(res.status).toBe(422);
    expect(
      server.context.store.db
        .select()
        .from(pollVotes)
        .where(eq(pollVotes.pollId, poll?.id ?? ""))
        .all(),
    ).toEqual([]);
  });

  it("edits a status, keeps its history and gives its source", async () => {
    const status = await create({ status: "first #draft", spoiler_text: "cw", language: "en" });
    const edited = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "second version",
      spoiler_text: "",
    });
    expect(edited.status).toBe(200);
    const after = edited.json as Json;
    expect(after.content).toBe("<p>second version</p>");
    expect(after.edited_at).not.toBeNull();
    expect(after.tags).toEqual([]);
    expect(after.language).toBe("en");
    await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "third, now a poll",
      poll: { options: ["one", "two"], expires_in: 600 },
    });
    const history = (await api(server, null, "GET", `/api/v1/statuses/${status.id}/history`)).json as Json[];
    expect(history.map((h) => h.content)).toEqual([
      status.content,
      "<p>second version</p>",
      "<p>third, now a poll</p>",
    ]);
    expect(history[0]).toMatchObject({
      spoiler_text: "cw",
      sensitive: true,
      poll: null,
      media_attachments: [],
      emojis: [],
    });
    expect((history[0] as Json).account).toMatchObject({ id: local.id });
    expect(history[2]?.poll).toEqual({ options: [{ title: "one" }, { title: "two" }] });
    const source = await api(server, token, "GET", `/api/v1/statuses/${status.id}/source`);
    expect(source.json).toEqual({ id: status.id, text: "third, now a poll", spoiler_text: "" });
    // A never edited status has one version.
    const plain = await create({ status: "plain" });
    expect(
      ((await api(server, token, "GET", `/api/v1/statuses/${plain.id}/history`)).json as Json[]).length,
    ).toBe(1);
    // Nobody edits other people's statuses.
    const remoteId = receiveNote(server.context, bob, parsedNote(bob));
    expect(
      (await api(server, token, "PUT", `/api/v1/statuses/${remoteId}`, { status: "mine now" })).status,
    ).toBe(404);
    expect((await api(server, token, "GET", `/api/v1/statuses/${remoteId}/source`)).status).toBe(404);
  });

  it("edits polls as Mastodon does: same options keep the votes, new ones reset them, none removes the poll", async () => {
    const status = await create({ status: "poll to edit", poll: { options: ["a", "b"], expires_in: 600 } });
    const poll = status.poll as Json;
    expect(receivePollVote(server.context, bob, status.uri as string, "a", null)).toBe(true);
    const same = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "poll to edit, reworded",
      poll: { options: ["a", "b"], expires_in: 900 },
    });
    expect((same.json as Json).poll).toMatchObject({
      id: poll.id,
      votes_count: 1,
      options: [
        { title: "a", votes_count: 1 },
        { title: "b", votes_count: 0 },
      ],
    });
    const changed = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "poll to edit",
      poll: { options: ["a", "c", "d"], expires_in: 900 },
    });
    expect((changed.json as Json).poll).toMatchObject({
      votes_count: 0,
      voters_count: 0,
      options: [{ title: "a" }, { title: "c" }, { title: "d" }],
    });
    expect(
      server.context.store.db.select().from(pollVotes).where(eq(pollVotes.pollId, poll.id)).all(),
    ).toEqual([]);
    const removed = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "no poll any more",
    });
    expect((removed.json as Json).poll).toBeNull();
    const history = (await api(server, token, "GET", `/api/v1/statuses/${status.id}/history`)).json as Json[];
    expect(history.map((h) => (h.poll as { options: unknown[] } | null)?.options.length ?? 0)).toEqual([
      2, 2, 3, 0,
    ]);
  });

  it("updates media descriptions and focus with media_attributes on edit", async () => {
    const media = upload();
    const status = await create({ status: "with a picture", media_ids: [media] });
    const res = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "with a described picture",
      media_ids: [media],
      media_attributes: [{ id: media, description: "a red bicycle", focus: "0.5,-0.25" }],
    });
    expect(res.status).toBe(200);
    const attachment = ((res.json as Json).media_attachments as Json[])[0];
    expect(attachment).toMatchObject({
      id: media,
      description: "a red bicycle",
      meta: { focus: { x: 0.5, y: -0.25 } },
    });
    const bad = await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
      status: "x",
      media_ids: [media],
      media_attributes: [{ id: media, focus: "3,3" }],
    });
    expect(bad.status).toBe(422);
  });

  it("deletes a status and returns its source text and media for redraft", async () => {
    const media = upload();
    const status = await create({ status: "to be redrafted", media_ids: [media] });
    const res = await api(server, token, "DELETE", `/api/v1/statuses/${status.id}`);
    expect(res.status).toBe(200);
    const deleted = res.json as Json;
    expect(deleted.text).toBe("to be redrafted");
    expect((deleted.media_attachments as Json[]).map((m) => m.id)).toEqual([media]);
    expect((await api(server, token, "GET", `/api/v1/statuses/${status.id}`)).status).toBe(404);
    expect((await api(server, token, "DELETE", `/api/v1/statuses/${status.id}`)).status).toBe(404);
    // Redraft: the same media goes into the new status.
    const redraft = await create({ status: deleted.text, media_ids: [media] });
    expect((redraft.media_attachments as Json[]).map((m) => m.id)).toEqual([media]);
  });

  it("favourites, boosts, bookmarks and pins, and undoes them", async () => {
    const status = await create({ status: "interact with me" });
    const remoteId = receiveNote(server.context, bob, parsedNote(bob));
    const path = (id: string, action: string) => `/api/v1/statuses/${id}/${action}`;

    const fav = (await api(server, token, "POST", path(remoteId, "favourite"))).json as Json;
    expect(fav).toMatchObject({ id: remoteId, favourited: true, favourites_count: 1 });
    expect(
      ((await api(server, token, "POST", path(remoteId, "favourite"))).json as Json).favourites_count,
    ).toBe(1);
    const boost = (await api(server, token, "POST", path(remoteId, "reblog"))).json as Json;
    expect((boost.reblog as Json).id).toBe(remoteId);
    expect(boost.reblog).toMatchObject({ reblogged: true, reblogs_count: 1 });
    const bookmarked = (await api(server, token, "POST", path(remoteId, "bookmark"))).json as Json;
    expect(bookmarked.bookmarked).toBe(true);
    const pinned = (await api(server, token, "POST", path(status.id, "pin"))).json as Json;
    expect(pinned.pinned).toBe(true);
    expect((await api(server, token, "POST", path(remoteId, "pin"))).status).toBe(422);
    const muted = await api(server, token, "POST", path(remoteId, "mute"));
    expect(muted.status).toBe(200);
    expect(muted.json).toMatchObject({ id: remoteId, muted: true });
    expect((await api(server, token, "POST", path("123", "mute"))).status).toBe(404);

    const seen = (await api(server, token, "GET", `/api/v1/statuses/${remoteId}`)).json as Json;
    expect(seen).toMatchObject({
      favourited: true,
      reblogged: true,
      bookmarked: true,
      favourites_count: 1,
      reblogs_count: 1,
    });
    // Anonymous viewers see the counts, not alice's flags.
    expect((await api(server, null, "GET", `/api/v1/statuses/${remoteId}`)).json).toMatchObject({
      favourited: false,
      reblogged: false,
      bookmarked: false,
      favourites_count: 1,
    });

    expect((await api(server, token, "POST", path(remoteId, "unfavourite"))).json).toMatchObject({
      favourited: false,
      favourites_count: 0,
    });
    expect((await api(server, token, "POST", path(remoteId, "unreblog"))).json).toMatchObject({
      id: remoteId,
      reblogged: false,
      reblogs_count: 0,
    });
    expect((await api(server, token, "POST", path(remoteId, "unbookmark"))).json).toMatchObject({
      bookmarked: false,
    });
    expect((await api(server, token, "POST", path(status.id, "unpin"))).json).toMatchObject({
      pinned: false,
    });
    const unmuted = await api(server, token, "POST", path(remoteId, "unmute"));
    expect(unmuted.status).toBe(200);
    expect(unmuted.json).toMatchObject({ id: remoteId, muted: false });
    expect(((await api(server, token, "GET", `/api/v1/statuses/${remoteId}`)).json as Json).muted).toBe(
      false,
    );
    expect((await api(server, token, "POST", path("123", "favourite"))).status).toBe(404);
    expect((await api(server, token, "POST", path("nope", "favourite"))).status).toBe(404);
  });

  it("lists who favourited and boosted, paginated", async () => {
    const status = await create({ status: "popular" });
    const fans = ["dan", "erin", "frank"].map((name) =>
      remoteAccount(server, name, "fans.example", { displayName: name }),
    );
    for (const fan of fans) {
      expect(receiveLike(server.context, fan, status.uri as string, `${fan.uri}#like`)).toBe(true);
      receiveAnnounce(
        server.context,
        fan,
        server.context.store.db.select().from(statuses).where(eq(statuses.id, status.id)).get()!,
        {
          uri: `${fan.uri}/announces/1`,
          published: Date.now(),
          visibility: "public",
        },
      );
    }
    await api(server, token, "POST", `/api/v1/statuses/${status.id}/favourite`);
    const first = await api(server, null, "GET", `/api/v1/statuses/${status.id}/favourited_by?limit=2`);
    expect((first.json as Json[]).map((a) => a.username)).toEqual(["alice", "frank"]);
    const next = first.headers.get("link")?.match(/<([^>]+)>; rel="next"/)?.[1];
    expect(next).toBeDefined();
    const favIds = server.context.store.db
      .select()
      .from(favourites)
      .where(eq(favourites.statusId, status.id))
      .all();
    // The Link header carries favourite ids, not account or status ids.
    expect(favIds.map((f) => f.id)).toContain(new URL(next ?? "").searchParams.get("max_id"));
    const second = await fetch(next ?? "");
    expect(((await second.json()) as Json[]).map((a) => a.username)).toEqual(["erin", "dan"]);
    const boosters = (await api(server, null, "GET", `/api/v1/statuses/${status.id}/reblogged_by`))
      .json as Json[];
    expect(boosters.map((a) => a.username)).toEqual(["frank", "erin", "dan"]);
    const fetched = (await api(server, null, "GET", `/api/v1/statuses/${status.id}`)).json as Json;
    expect(fetched).toMatchObject({ favourites_count: 4, reblogs_count: 3 });
  });
});

describe("ended polls", () => {
  it("notifies the owner once when its poll ends", async () => {
    const created = await api(server, token, "POST", "/api/v1/statuses", {
      status: "which one?",
      poll: { options: ["this", "that"], expires_in: 300 },
    });
    expect(created.status).toBe(200);
    const status = created.json as Json;
    expect(notifyEndedPolls(server.context)).toBe(0);
    server.context.store.db
      .update(polls)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(polls.statusId, status.id))
      .run();
    expect(notifyEndedPolls(server.context)).toBe(1);
    expect(notifyEndedPolls(server.context)).toBe(0);
    const list = await api(server, token, "GET", "/api/v1/notifications?types[]=poll");
    const notifications = list.json as Json[];
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({
      type: "poll",
      status: { id: status.id, poll: { expired: true } },
    });
  });
});

describe("visibility", () => {
  it("hides private and direct statuses from anonymous viewers and from the wrong viewer", async () => {
    const priv = await create({ status: "followers only", visibility: "private" });
    const direct = await create({ status: "@bob psst", visibility: "direct" });
    const unlisted = await create({ status: "quiet", visibility: "unlisted" });
    expect((await api(server, null, "GET", `/api/v1/statuses/${priv.id}`)).status).toBe(404);
    expect((await api(server, null, "GET", `/api/v1/statuses/${direct.id}`)).status).toBe(404);
    expect((await api(server, null, "GET", `/api/v1/statuses/${unlisted.id}`)).status).toBe(200);
    expect((await api(server, token, "GET", `/api/v1/statuses/${priv.id}`)).status).toBe(200);
    expect((await api(server, token, "GET", `/api/v1/statuses/${direct.id}`)).status).toBe(200);
    // A direct note between remote accounts that reached the database: nobody here may read it.
    const elsewhere = receiveNote(server.context, carol, parsedNote(carol, { to: [bob.uri], cc: [] }));
    expect((await api(server, token, "GET", `/api/v1/statuses/${elsewhere}`)).status).toBe(404);
    // Followers-only from bob, whom alice follows: visible to her, not to anonymous.
    const bobPrivate = receiveNote(
      server.context,
      bob,
      parsedNote(bob, { to: [bob.followersUrl ?? ""], cc: [] }),
    );
    expect((await api(server, token, "GET", `/api/v1/statuses/${bobPrivate}`)).status).toBe(200);
    expect((await api(server, null, "GET", `/api/v1/statuses/${bobPrivate}`)).status).toBe(404);

    const many = await api(
      server,
      null,
      "GET",
      `/api/v1/statuses?id[]=${priv.id}&id[]=${unlisted.id}&id[]=junk&id[]=1`,
    );
    expect((many.json as Json[]).map((s) => s.id)).toEqual([unlisted.id]);
    const mine = await api(server, token, "GET", `/api/v1/statuses?id[]=${unlisted.id}&id[]=${priv.id}`);
    expect((mine.json as Json[]).map((s) => s.id)).toEqual([unlisted.id, priv.id]);
    expect((await api(server, null, "GET", `/api/v1/statuses/${priv.id}/context`)).status).toBe(404);
    expect((await api(server, null, "GET", `/api/v1/statuses/${priv.id}/favourited_by`)).status).toBe(404);
  });
});

describe("scopes and errors", () => {
  it("enforces scopes: 401 without a token, 403 outside the token's scopes", async () => {
    const readOnly = issueToken(server, "read");
    const status = await create({ status: "scoped" });
    expect((await post({ status: "nope" }, null)).status).toBe(401);
    expect((await post({ status: "nope" }, readOnly)).status).toBe(403);
    expect((await post({ status: "nope" }, "not-a-token")).status).toBe(401);
    for (const action of ["favourite", "reblog", "bookmark", "pin", "mute"]) {
      expect(
        (await api(server, readOnly, "POST", `/api/v1/statuses/${status.id}/${action}`)).status,
        action,
      ).toBe(403);
    }
    expect((await api(server, readOnly, "DELETE", `/api/v1/statuses/${status.id}`)).status).toBe(403);
    expect(
      (await api(server, readOnly, "PUT", `/api/v1/statuses/${status.id}`, { status: "x" })).status,
    ).toBe(403);
    expect((await api(server, readOnly, "GET", `/api/v1/statuses/${status.id}`)).status).toBe(200);
    const favOnly = issueToken(server, "write:favourites");
    expect((await api(server, favOnly, "POST", `/api/v1/statuses/${status.id}/favourite`)).status).toBe(200);
    expect((await api(server, favOnly, "POST", `/api/v1/statuses/${status.id}/bookmark`)).status).toBe(403);
    expect((await api(server, favOnly, "GET", `/api/v1/statuses/${status.id}`)).status).toBe(403);
    const writeStatuses = issueToken(server, "write:statuses");
    expect((await post({ status: "granular" }, writeStatuses)).status).toBe(200);
  });

  it("rejects malformed input with 4xx and writes nothing", async () => {
    const media = [upload(), upload(), upload(), upload(), upload()];
    const before = counts();
    const cases: [Record<string, unknown>, number][] = [
      [{ status: "" }, 422],
      [{ status: "   " }, 422],
      [{}, 422],
      [{ status: "x".repeat(5001) }, 422],
      [{ status: "ok", visibility: "everyone" }, 422],
      [{ status: "ok", media_ids: media }, 422],
      [{ status: "ok", media_ids: ["999999999999999999"] }, 422],
      [{ status: "ok", media_ids: ["abc"] }, 422],
      [{ status: "ok", media_ids: [media[0], "999999999999999999"] }, 422],
      [{ status: "ok", poll: { options: ["only one"], expires_in: 600 } }, 422],
      [{ status: "ok", poll: { options: ["a", "b"] } }, 422],
      [{ status: "ok", poll: { options: ["a", "b"], expires_in: 10 } }, 422],
      [{ status: "ok", poll: { options: ["a", "b", "c", "d", "e"], expires_in: 600 } }, 422],
      [{ status: "ok", poll: { options: ["a", "b"], expires_in: 600 }, media_ids: [media[0]] }, 422],
      [{ status: "ok", poll: "yes" }, 422],
      [{ status: "ok", in_reply_to_id: "999999999999999999" }, 404],
      [{ status: "ok", in_reply_to_id: "not-an-id" }, 404],
      // Less than 5 minutes ahead (a later time schedules it: test/scheduled.test.ts).
      [{ status: "ok", scheduled_at: new Date(Date.now() + 60_000).toISOString() }, 422],
      [{ status: "ok", sensitive: "maybe" }, 422],
      [{ status: { nested: true } }, 422],
    ];
    for (const [body, status] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      const json = (await res.json()) as { error?: unknown };
      expect(typeof json.error).toBe("string");
    }
    const bad = await fetch(`${server.url}/api/v1/statuses`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(counts()).toEqual(before);
  });

  it("answers 404 for unknown or malformed ids and 422 for bad edits", async () => {
    for (const path of [
      "/api/v1/statuses/abc",
      "/api/v1/statuses/999999999999999999",
      "/api/v1/statuses/1/context",
      "/api/v1/polls/xyz",
      "/api/v1/polls/999999999999999999",
    ]) {
      expect((await api(server, token, "GET", path)).status, path).toBe(404);
    }
    const status = await create({ status: "edit me" });
    const before = counts();
    expect((await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, { status: "" })).status).toBe(
      422,
    );
    expect(
      (await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, { status: "x".repeat(6000) })).status,
    ).toBe(422);
    expect(
      (
        await api(server, token, "PUT", `/api/v1/statuses/${status.id}`, {
          status: "ok",
          media_ids: ["999999999999999999"],
        })
      ).status,
    ).toBe(422);
    expect(counts()).toEqual(before);
    expect(
      server.context.store.db.select().from(statusEdits).where(eq(statusEdits.statusId, status.id)).all(),
    ).toEqual([]);
    expect(
      (await api(server, token, "POST", "/api/v1/polls/999999999999999999/votes", { choices: [0] })).status,
    ).toBe(404);
  });
});
