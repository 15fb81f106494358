// Relays through the real `wren relay` command: a Fedify peer plays a LitePub relay (it accepts the Follow of
// its actor, takes alice's public posts and announces a third server's post), another peer's inbox stands for
// a Mastodon-style relay (Follow of the Public collection). `remove` sends Undo(Follow).
import { isActor, Reject } from "@fedify/fedify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { ensureBuilt, runWren } from "./helpers/cli.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { childEnv, startTestServer, type TestServer } from "./helpers/server.js";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let server: TestServer;
let relay: FedifyPeer;
let author: FedifyPeer;
let token: string;

beforeAll(async () => {
  ensureBuilt();
  [server, relay, author] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer(),
    startFedifyPeer(),
  ]);
  token = issueToken(server);
}, 120_000);

afterAll(async () => {
  await relay?.close();
  await author?.close();
  await server?.close();
});

const sqlite = () => server.context.store.sqlite;

/** Runs `wren relay ...` against the test server's database, then wakes its delivery worker. */
async function wren(...args: string[]) {
  const port = Number(new URL(server.origin).port);
  const result = await runWren(["relay", ...args], { cwd: server.dir, env: childEnv(server.dir, port) });
  // The command only writes the queue; the running server would look at it within 30 s.
  server.context.events.emit("delivery.queued");
  return result;
}

function relayState(inbox: string): string | undefined {
  return (
    sqlite().prepare("SELECT state FROM relays WHERE inbox_url = ?").get(inbox) as
      | { state: string }
      | undefined
  )?.state;
}

describe("a LitePub relay", () => {
  it("is followed by the instance actor and accepts; `relay list` shows it accepted", async () => {
    const added = await wren("add", relay.actorUri, "--litepub");
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain("litepub");
    const follow = await relay.waitFor((r) => r.type === "Follow");
    expect(follow.json).toMatchObject({
      type: "Follow",
      actor: `${server.origin}/actor`,
      object: relay.actorUri,
    });
    expect(follow.keyId).toBe(`${server.origin}/actor#main-key`);
    await waitUntil(() => relayState(relay.inboxUri) === "accepted", "the relay's Accept");

    // Like a LitePub relay, it follows back; the instance actor accepts.
    const back = await relay.follow(`${server.origin}/actor`);
    const accept = await relay.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === back);
    expect(accept.actor).toBe(`${server.origin}/actor`);

    const list = await wren("list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`accepted\\s+litepub\\s+${relay.inboxUri}`));
  });

  it("receives alice's public posts, not her unlisted ones", async () => {
    const unlisted = await api(server, token, "POST", "/api/v1/statuses", {
      status: "quiet",
      visibility: "unlisted",
    });
    const loud = await api(server, token, "POST", "/api/v1/statuses", {
      status: "hello relay",
      visibility: "public",
    });
    expect(unlisted.status).toBe(200);
    const uri = (loud.json as { uri: string }).uri;
    const create = await relay.waitFor((r) => r.type === "Create");
    expect((create.json.object as { id: string }).id).toBe(uri);
    await deliveriesSettled(sqlite());
    expect(relay.received.filter((r) => r.type === "Create")).toHaveLength(1);
  });

  it("stores what it announces and shows it in the public timeline, not at home, as no boost", async () => {
    const note = await author.post({ content: "<p>from a third server</p>", silent: true });
    await relay.announce(note);
    await inboxSettled(server);
    const id = await waitUntil(() => idByUri(sqlite(), "statuses", note), "the relayed post");
    const pub = (await api(server, token, "GET", "/api/v1/timelines/public")).json as {
      id: string;
      uri: string;
    }[];
    expect(pub.map((s) => s.uri)).toContain(note);
    const home = (await api(server, token, "GET", "/api/v1/timelines/home")).json as { id: string }[];
    expect(home.map((s) => s.id)).not.toContain(id);
    const boosts = sqlite().prepare("SELECT count(*) AS n FROM statuses WHERE reblog_of_id = ?").get(id) as {
      n: number;
    };
    expect(boosts.n).toBe(0);
  });

  it("is removed with Undo(Follow)", async () => {
    const followId = relay.received.find((r) => r.type === "Follow")?.id;
    const removed = await wren("remove", relay.actorUri);
    expect(removed.code).toBe(0);
    const undo = await relay.waitFor((r) => r.type === "Undo");
    expect(undo.json).toMatchObject({
      type: "Undo",
      actor: `${server.origin}/actor`,
      object: { id: followId, type: "Follow", object: relay.actorUri },
    });
    expect((await wren("list")).stdout).toContain("No relays.");
    await deliveriesSettled(sqlite());
  });
});

describe("a Mastodon-style relay", () => {
  it("gets a Follow of the Public collection at the inbox given, and stays pending until it answers", async () => {
    const inbox = author.sharedInboxUri;
    const added = await wren("add", inbox);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain("mastodon");
    const follow = await author.waitFor((r) => r.type === "Follow");
    expect(follow.recipient).toBeNull();
    expect(follow.json).toMatchObject({ type: "Follow", actor: `${server.origin}/actor`, object: PUBLIC });
    await deliveriesSettled(sqlite());
    expect((await wren("list")).stdout).toMatch(new RegExp(`pending\\s+mastodon\\s+${inbox}`));
    // Adding it twice is refused.
    const again = await wren("add", inbox);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already added");

    // The relay refuses: a Reject naming the Follow, from the actor whose inbox it is.
    const ctx = author.context();
    const documentLoader = await ctx.getDocumentLoader({ identifier: "peer" });
    const instance = await ctx.lookupObject(`${server.origin}/actor`, { documentLoader });
    if (!instance || !isActor(instance)) throw new Error("the instance actor did not resolve");
    const reject = new Reject({
      id: new URL(`${author.actorUri}#rejects/1`),
      actor: new URL(author.actorUri),
      object: new URL(follow.id as string),
    });
    await ctx.sendActivity({ identifier: "peer" }, instance, reject, { immediate: true });
    await inboxSettled(server);
    expect((await wren("list")).stdout).toMatch(new RegExp(`rejected\\s+mastodon\\s+${inbox}`));
  });
});
