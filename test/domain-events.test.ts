// Regression tests for what the redesign around domain events fixed (issue 7): a remote poll refresh is not an
// edit, an edit's new alt text is what federates, the owner's polls send their counts, a block tells the other
// side about the follows it ended, a remote block shows as blocked_by, and the pin limit is the one advertised.
// Everything goes through a real Wren and the independent Fedify peer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { notifyEndedPolls, POLL_REFRESH_DELAY_MS, refreshPollResults } from "../src/core/polls.js";
import { resolveHandle } from "../src/federation/resolve.js";
import type { SigningKey } from "../src/federation/signatures/index.js";
import { newId } from "../src/store/ids.js";
import { mediaAttachments } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import {
  type FedifyPeer,
  followAccepted,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { signedPost } from "./helpers/inbox-post.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

interface Pair {
  server: TestServer;
  peer: FedifyPeer;
  token: string;
  aliceUri: string;
  peerKey: SigningKey;
}

/** A Wren with alice and a Fedify peer that follow each other. */
async function connectedPair(): Promise<Pair> {
  const [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  const aliceUri = `${server.origin}/users/alice`;
  const followId = await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
  const row = follow(server.context, await resolveHandle(server.context, peer.handle));
  await followAccepted(server.context.store.sqlite, row.id, "alice's follow of the peer");
  return {
    server,
    peer,
    token: issueToken(server),
    aliceUri,
    peerKey: { keyId: peer.keyId, type: "rsa", privatePem: peer.rsaPrivatePem },
  };
}

async function close(pair: Pair | undefined) {
  await pair?.server.close();
  await pair?.peer.close();
}

let counter = 0;
function activity(pair: Pair, type: string, object: unknown, extra: Json = {}): Json {
  const actor = pair.peer.actorUri;
  return { "@context": AS, id: `${actor}/crafted/${++counter}`, type, actor, object, ...extra };
}

async function deliver(pair: Pair, body: Json): Promise<void> {
  const res = await signedPost(`${pair.server.origin}/inbox`, body, pair.peerKey);
  expect(res.status, res.body).toBe(202);
}

function statusIdByUri(pair: Pair, uri: string): string | null {
  return idByUri(pair.server.context.store.sqlite, "statuses", uri);
}

describe("a remote poll", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await connectedPair();
  });
  afterAll(() => close(pair));

  const questionUri = () => `${pair.peer.actorUri}/questions/1`;
  const question = (votes: [number, number], extra: Json = {}) => ({
    id: questionUri(),
    type: "Question",
    attributedTo: pair.peer.actorUri,
    content: "<p>tea or coffee?</p>",
    published: "2026-11-30T10:00:00.000Z",
    to: [PUBLIC],
    cc: [pair.peer.followersUri],
    oneOf: [
      { type: "Note", name: "tea", replies: { type: "Collection", totalItems: votes[0] } },
      { type: "Note", name: "coffee", replies: { type: "Collection", totalItems: votes[1] } },
    ],
    endTime: new Date(Date.now() + 86_400_000).toISOString(),
    votersCount: votes[0] + votes[1],
    ...extra,
  });

  it("keeps the local vote when Mastodon re-sends it for new counts, and is edited only when `updated` moves", async () => {
    const { server, token } = pair;
    await deliver(pair, activity(pair, "Create", question([0, 0]), { to: [PUBLIC] }));
    const statusId = await waitUntil(() => statusIdByUri(pair, questionUri()), "the question to be stored");
    const status = (await api(server, token, "GET", `/api/v1/statuses/${statusId}`)).json as Json;
    const pollId = (status.poll as Json).id as string;

    const voted = await api(server, token, "POST", `/api/v1/polls/${pollId}/votes`, { choices: [0] });
    expect(voted.status, JSON.stringify(voted.json)).toBe(200);
    await pair.peer.waitFor((r) => r.type === "Create" && (r.json.object as Json)?.name === "tea");

    // A count refresh: no `updated`, new totals.
    await deliver(pair, activity(pair, "Update", question([5, 3]), { to: [PUBLIC] }));
    const refreshed = await waitUntil(async () => {
      const poll = (await api(server, token, "GET", `/api/v1/polls/${pollId}`)).json as Json;
      return poll.votes_count === 8 ? poll : null;
    }, "the new counts");
    expect(refreshed as Json).toMatchObject({ id: pollId, voted: true, own_votes: [0], voters_count: 8 });
    expect(((refreshed as Json).options as Json[]).map((o) => o.votes_count)).toEqual([5, 3]);
    const after = (await api(server, token, "GET", `/api/v1/statuses/${statusId}`)).json as Json;
    expect(after.edited_at).toBeNull();
    const history = (await api(server, token, "GET", `/api/v1/statuses/${statusId}/history`)).json as Json[];
    expect(history).toHaveLength(1);
    const again = await api(server, token, "POST", `/api/v1/polls/${pollId}/votes`, { choices: [1] });
    expect(again.status).toBe(422);
    expect(
      pair.peer.received.filter((r) => r.type === "Create" && (r.json.object as Json)?.name),
    ).toHaveLength(1);

    // A real edit carries a newer `updated`: it is saved as a revision; the poll and the vote stay.
    const edited = question([6, 3], {
      content: "<p>tea or coffee, really?</p>",
      updated: new Date().toISOString(),
    });
    await deliver(pair, activity(pair, "Update", edited, { to: [PUBLIC] }));
    const afterEdit = await waitUntil(async () => {
      const s = (await api(server, token, "GET", `/api/v1/statuses/${statusId}`)).json as Json;
      return s.edited_at ? s : null;
    }, "the edit");
    expect((afterEdit as Json).content).toContain("really?");
    expect((afterEdit as Json).poll).toMatchObject({
      id: pollId,
      voted: true,
      own_votes: [0],
      votes_count: 9,
    });
    const edits = (await api(server, token, "GET", `/api/v1/statuses/${statusId}/history`)).json as Json[];
    expect(edits).toHaveLength(2);
  });
});

describe("the owner's statuses as other servers see them", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await connectedPair();
  });
  afterAll(() => close(pair));

  it("federates an edit with the new alt text of its media", async () => {
    const { server, token, peer } = pair;
    const local = server.context.store.sqlite
      .prepare("SELECT id FROM accounts WHERE domain IS NULL")
      .get() as {
      id: string;
    };
    const media = newId();
    server.context.store.db
      .insert(mediaAttachments)
      .values({
        id: media,
        accountId: local.id,
        type: "image",
        contentType: "image/png",
        fileName: `${media}.png`,
        description: "old alt text",
        createdAt: Date.now(),
      })
      .run();
    const created = await api(server, token, "POST", "/api/v1/statuses", {
      status: "a picture",
      media_ids: [media],
    });
    expect(created.status).toBe(200);
    const id = (created.json as Json).id as string;
    const edited = await api(server, token, "PUT", `/api/v1/statuses/${id}`, {
      status: "a described picture",
      media_ids: [media],
      media_attributes: [{ id: media, description: "a red bicycle against a wall" }],
    });
    expect(edited.status, JSON.stringify(edited.json)).toBe(200);
    const update = await peer.waitFor(
      (r) => r.type === "Update" && (r.json.object as Json)?.id === `${pair.aliceUri}/statuses/${id}`,
    );
    const object = update.json.object as Json;
    expect(object.content).toContain("a described picture");
    expect((object.attachment as Json[])[0]?.name).toBe("a red bicycle against a wall");
  });

  it("sends a poll's new counts after votes (debounced, without `updated`) and its final counts at close", async () => {
    const { server, token, peer } = pair;
    const created = await api(server, token, "POST", "/api/v1/statuses", {
      status: "cats or dogs?",
      poll: { options: ["cats", "dogs"], expires_in: 300 },
    });
    expect(created.status).toBe(200);
    const status = created.json as Json;
    const questionUri = status.uri as string;
    await peer.waitFor((r) => r.type === "Create" && (r.json.object as Json)?.id === questionUri);

    const voteId = `${peer.actorUri}/votes/1`;
    const vote = {
      id: voteId,
      type: "Note",
      name: "dogs",
      attributedTo: peer.actorUri,
      to: [pair.aliceUri],
      inReplyTo: questionUri,
    };
    await deliver(pair, activity(pair, "Create", vote, { to: [pair.aliceUri] }));
    const pollId = (status.poll as Json).id as string;
    await waitUntil(async () => {
      const poll = (await api(server, token, "GET", `/api/v1/polls/${pollId}`)).json as Json;
      return poll.votes_count === 1;
    }, "the peer's vote to be counted");

    expect(refreshPollResults(server.context)).toBe(0); // not yet: votes arriving meanwhile go out together
    expect(refreshPollResults(server.context, Date.now() + POLL_REFRESH_DELAY_MS + 1000)).toBe(1);
    const isRefresh = (r: { type: string; json: Json }) =>
      r.type === "Update" && (r.json.object as Json)?.id === questionUri;
    const refresh = await peer.waitFor(isRefresh);
    const object = refresh.json.object as Json;
    expect(object.type).toBe("Question");
    expect(object).not.toHaveProperty("updated");
    expect(object.votersCount).toBe(1);
    expect((object.oneOf as Json[]).map((o) => (o.replies as Json).totalItems)).toEqual([0, 1]);
    expect(refreshPollResults(server.context, Date.now() + POLL_REFRESH_DELAY_MS + 1000)).toBe(0);

    // The poll ends (its end moved to the past rather than waiting five minutes).
    server.context.store.sqlite
      .prepare("UPDATE polls SET expires_at = ? WHERE id = ?")
      .run(Date.now() - 1000, pollId);
    notifyEndedPolls(server.context);
    await waitUntil(() => peer.received.filter(isRefresh).length === 2, "the final counts");
    const final = peer.received.filter(isRefresh)[1]?.json.object as Json;
    expect(final.closed).toBeTruthy();
    expect(final).not.toHaveProperty("updated");
  });

  it("refuses a sixth pin, as the instance advertises five", async () => {
    const { server, token } = pair;
    for (let i = 0; i < 6; i++) {
      const created = await api(server, token, "POST", "/api/v1/statuses", { status: `pin me ${i}` });
      const pinned = await api(server, token, "POST", `/api/v1/statuses/${(created.json as Json).id}/pin`);
      if (i < 5) expect(pinned.status).toBe(200);
      else {
        expect(pinned.status).toBe(422);
        expect((pinned.json as Json).error).toMatch(/at most 5/);
      }
    }
    const instance = (await api(server, null, "GET", "/api/v2/instance")).json as Json;
    expect(JSON.stringify(instance)).toContain('"max_pinned_statuses":5');
  });
});

describe("blocks", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await connectedPair();
  });
  afterAll(() => close(pair));

  const relationship = async () => {
    const account = await resolveHandle(pair.server.context, pair.peer.handle);
    const res = await api(
      pair.server,
      pair.token,
      "GET",
      `/api/v1/accounts/relationships?id[]=${account.id}`,
    );
    return (res.json as Json[])[0] as Json;
  };

  it("shows a remote account's block of the owner as blocked_by, until it is undone", async () => {
    const blockId = await pair.peer.block(pair.aliceUri);
    await waitUntil(async () => (await relationship()).blocked_by === true, "blocked_by");
    expect(await relationship()).toMatchObject({ following: false, followed_by: false, blocking: false });
    await pair.peer.undo(blockId);
    await waitUntil(async () => (await relationship()).blocked_by === false, "the block to be undone");
  });

  it("sends Undo(Follow) and Reject(Follow) with a Block, so the other server's follows end too", async () => {
    const { server, peer, token, aliceUri } = pair;
    // The previous test's block ended both follows: make them again.
    const followId = await peer.follow(aliceUri);
    await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
    const account = await resolveHandle(server.context, peer.handle);
    follow(server.context, account);
    await waitUntil(async () => (await relationship()).following === true, "alice to follow the peer");

    const res = await api(server, token, "POST", `/api/v1/accounts/${account.id}/block`);
    expect(res.status).toBe(200);
    const block = await peer.waitFor((r) => r.type === "Block" && r.actor === aliceUri);
    const refollow = peer.received.filter((r) => r.type === "Follow" && r.actor === aliceUri).at(-1);
    const undo = peer.received.find((r) => r.type === "Undo" && (r.json.object as Json)?.type === "Follow");
    expect(undo?.json.object).toMatchObject({ id: refollow?.id });
    const reject = peer.received.find((r) => r.type === "Reject" && (r.json.object as Json)?.id === followId);
    expect(undo?.json.actor).toBe(aliceUri);
    expect(reject?.json.actor).toBe(aliceUri);
    // Sent before the Block, so a server that only notes the Block has already ended both follows.
    expect(peer.received.indexOf(block)).toBeGreaterThan(
      peer.received.indexOf(reject as (typeof peer.received)[0]),
    );
  });
});
