// GoToSocial interaction policies against a real Fedify peer: the owner's Notes publish a policy that lets
// anyone interact; a remote note's `interactionPolicy` (GoToSocial 0.20+ names and the older ones) is kept and
// the owner's reply, favourite and boost are refused with a clear 422 when it leaves the owner out or asks for
// approval; GoToSocial interaction requests (ReplyRequest, LikeRequest, AnnounceRequest) from the peer's
// actors are answered with an Accept whose `result` is a dereferenceable authorization, or a Reject.
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { AP_ACCEPT, type FedifyPeer, idByUri, type PeerActor, startFedifyPeer } from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { sendAs } from "./helpers/peer-actors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let bob: PeerActor;
let carol: PeerActor;
let counter = 0;

async function send(actor: PeerActor, activity: Json): Promise<string> {
  const id = (activity.id as string | undefined) ?? `${actor.actorUri}/activities/${++counter}`;
  await sendAs(server, actor, { ...activity, id, actor: actor.actorUri });
  await inboxSettled(server);
  return id;
}

/** A public note by bob tagged #gardening (which alice follows, so Wren keeps it), with `extra` properties. */
async function remoteNote(extra: Json, type: "Create" | "Update" = "Create", uri?: string): Promise<string> {
  const id = uri ?? `${bob.actorUri}/notes/${++counter}`;
  const note = {
    id,
    type: "Note",
    attributedTo: bob.actorUri,
    content: "<p>about #gardening</p>",
    to: [PUBLIC],
    cc: [`${bob.actorUri}/followers`],
    tag: [{ type: "Hashtag", name: "#gardening", href: `${peer.origin}/tags/gardening` }],
    published: new Date(Date.now() - 60_000).toISOString(),
    ...(type === "Update" ? { updated: new Date().toISOString() } : {}),
    ...extra,
  };
  await send(bob, { type, object: note, to: note.to, cc: note.cc });
  return id;
}

function statusId(uri: string): string {
  const id = idByUri(server.context.store.sqlite, "statuses", uri);
  if (!id) throw new Error(`no status ${uri}`);
  return id;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["bob", "carol"] }),
  ]);
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  aliceUri = `${server.origin}/users/alice`;
  bob = peer.extra.get("bob") as PeerActor;
  carol = peer.extra.get("carol") as PeerActor;
  expect((await api(server, token, "POST", "/api/v1/tags/gardening/follow")).status).toBe(200);
});

afterAll(async () => {
  await Promise.all([server?.close(), peer?.close()]);
});

describe("the owner's policy on its posts", () => {
  it("publishes interactionPolicy on the owner's Note, with the terms in its context", async () => {
    const post = await client.v1.statuses.create({ status: "open to all", visibility: "public" });
    const res = await peer.fetchSigned(post.uri);
    expect(res.status).toBe(200);
    const note = (await res.json()) as Json;
    expect(note.interactionPolicy).toEqual({
      canLike: { automaticApproval: [PUBLIC], always: [PUBLIC] },
      canReply: { automaticApproval: [PUBLIC], always: [PUBLIC] },
      canAnnounce: { automaticApproval: [PUBLIC], always: [PUBLIC] },
    });
    const terms = (note["@context"] as unknown[]).find(
      (entry): entry is Json => typeof entry === "object" && entry !== null && "interactionPolicy" in entry,
    );
    expect(terms).toMatchObject({
      gts: "https://gotosocial.org/ns#",
      interactionPolicy: { "@id": "gts:interactionPolicy", "@type": "@id" },
      automaticApproval: { "@id": "gts:automaticApproval", "@type": "@id" },
    });
  });

  it("lets only the author boost a followers-only post, in what followers receive", async () => {
    await peer.follow(aliceUri);
    await inboxSettled(server);
    const post = await client.v1.statuses.create({ status: "friends only", visibility: "private" });
    const create = await peer.waitFor(
      (r) => r.type === "Create" && (r.json.object as Json | undefined)?.id === post.uri,
    );
    const policy = (create.json.object as Json).interactionPolicy as Record<string, Json>;
    expect(policy.canAnnounce).toEqual({ automaticApproval: [aliceUri], always: [aliceUri] });
    expect(policy.canReply).toEqual({ automaticApproval: [PUBLIC], always: [PUBLIC] });
  });
});

describe("a remote post's policy", () => {
  it("refuses a reply the policy does not allow, with a message", async () => {
    const uri = await remoteNote({
      interactionPolicy: {
        canReply: { automaticApproval: [bob.actorUri] },
        canLike: { automaticApproval: [PUBLIC] },
      },
    });
    const id = statusId(uri);
    const reply = await api(server, token, "POST", "/api/v1/statuses", {
      status: "may I?",
      in_reply_to_id: id,
    });
    expect(reply.status).toBe(422);
    expect((reply.json as Json).error).toBe("the author of this status does not allow you to reply to it");
    // What the policy allows still works, and the boost (no canAnnounce: the default, anyone) too.
    expect((await api(server, token, "POST", `/api/v1/statuses/${id}/favourite`)).status).toBe(200);
    expect((await api(server, token, "POST", `/api/v1/statuses/${id}/reblog`)).status).toBe(200);
  });

  it("refuses what needs the author's approval, which Wren does not ask for", async () => {
    const uri = await remoteNote({
      interactionPolicy: {
        canLike: { automaticApproval: [bob.actorUri], manualApproval: [PUBLIC] },
        canAnnounce: { automaticApproval: [bob.actorUri, `${bob.actorUri}/followers`] },
      },
    });
    const id = statusId(uri);
    await expect(client.v1.statuses.$select(id).favourite()).rejects.toMatchObject({
      statusCode: 422,
      message:
        "the author of this status must approve whoever wants to favourite it, and Wren cannot ask for that approval yet",
    });
    const boost = await api(server, token, "POST", `/api/v1/statuses/${id}/reblog`);
    expect(boost.status).toBe(422);
    expect((boost.json as Json).error).toBe("the author of this status does not allow you to boost it");
    const reply = await client.v1.statuses.create({ status: "replies are open", inReplyToId: id });
    expect(reply.inReplyToId).toBe(id);
  });

  it("reads GoToSocial's older always/approvalRequired, and an Update that drops the policy", async () => {
    const uri = await remoteNote({
      interactionPolicy: { canReply: { always: [bob.actorUri], approvalRequired: [] } },
    });
    const id = statusId(uri);
    const refused = await api(server, token, "POST", "/api/v1/statuses", { status: "no", in_reply_to_id: id });
    expect(refused.status).toBe(422);
    await remoteNote({}, "Update", uri);
    const allowed = await api(server, token, "POST", "/api/v1/statuses", { status: "now", in_reply_to_id: id });
    expect(allowed.status).toBe(200);
  });

  it("always lets the owner reply to a post that mentions it", async () => {
    const uri = await remoteNote({
      content: `<p><a href="${aliceUri}">@alice</a> closed thread</p>`,
      cc: [aliceUri],
      tag: [{ type: "Mention", href: aliceUri, name: "@alice" }],
      interactionPolicy: { canReply: { automaticApproval: [bob.actorUri] } },
    });
    const reply = await api(server, token, "POST", "/api/v1/statuses", {
      status: "answering",
      in_reply_to_id: statusId(uri),
    });
    expect(reply.status).toBe(200);
  });
});

describe("interaction requests from GoToSocial", () => {
  it("accepts a ReplyRequest with a dereferenceable ReplyAuthorization", async () => {
    const post = await client.v1.statuses.create({ status: "reply if you like", visibility: "public" });
    const replyUri = `${bob.actorUri}/notes/${++counter}`;
    const requestId = await send(bob, {
      type: "ReplyRequest",
      to: aliceUri,
      object: post.uri,
      instrument: {
        id: replyUri,
        type: "Note",
        attributedTo: bob.actorUri,
        inReplyTo: post.uri,
        to: [PUBLIC],
        cc: [aliceUri],
        content: "<p>hey</p>",
      },
    });
    const accept = await peer.waitFor(
      (r) => r.type === "Accept" && (r.json.object as Json | undefined)?.id === requestId,
    );
    expect(accept.actor).toBe(aliceUri);
    expect(accept.recipient).toBe("bob");
    expect(accept.json.object).toMatchObject({
      type: "ReplyRequest",
      actor: bob.actorUri,
      object: post.uri,
      instrument: replyUri,
    });
    const result = accept.json.result as string;
    expect(result.startsWith(`${aliceUri}/authorizations/`)).toBe(true);
    const res = await peer.fetchSigned(result);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/activity+json");
    expect(await res.json()).toMatchObject({
      id: result,
      type: "ReplyAuthorization",
      attributedTo: aliceUri,
      interactingObject: replyUri,
      interactionTarget: post.uri,
    });
    // A repeated request gets the same authorization.
    await send(bob, {
      id: requestId,
      type: "ReplyRequest",
      object: post.uri,
      instrument: replyUri,
    });
    const again = await peer.waitFor(
      (r) => r.type === "Accept" && r !== accept && (r.json.object as Json | undefined)?.id === requestId,
    );
    expect(again.json.result).toBe(result);
  });

  it("accepts LikeRequest and AnnounceRequest of a public post", async () => {
    const post = await client.v1.statuses.create({ status: "like and boost", visibility: "public" });
    for (const [type, kind] of [
      ["LikeRequest", "LikeAuthorization"],
      ["AnnounceRequest", "AnnounceAuthorization"],
    ] as const) {
      const interaction = `${carol.actorUri}/interactions/${++counter}`;
      const requestId = await send(carol, {
        type,
        object: post.uri,
        instrument: {
          id: interaction,
          type: type === "LikeRequest" ? "Like" : "Announce",
          actor: carol.actorUri,
          object: post.uri,
        },
      });
      const accept = await peer.waitFor(
        (r) => r.type === "Accept" && (r.json.object as Json | undefined)?.id === requestId,
      );
      const res = await peer.fetchUnsigned(accept.json.result as string);
      expect(await res.json()).toMatchObject({ type: kind, interactingObject: interaction });
    }
  });

  it("rejects a request about a post the requester may not see, or a boost of a followers-only post", async () => {
    const post = await client.v1.statuses.create({ status: "followers only", visibility: "private" });
    const likeId = await send(carol, {
      type: "LikeRequest",
      object: post.uri,
      instrument: `${carol.actorUri}/likes/${++counter}`,
    });
    const reject = await peer.waitFor(
      (r) => r.type === "Reject" && (r.json.object as Json | undefined)?.id === likeId,
    );
    expect(reject.json.result).toBeUndefined();
    expect(reject.json.object).toMatchObject({ type: "LikeRequest", object: post.uri });
    // The authorization of a private post is not served to an unsigned request.
    const count = server.context.store.sqlite
      .prepare("SELECT count(*) AS n FROM interaction_authorizations")
      .get() as { n: number };
    expect(count.n).toBe(3);
    const denied = await fetch(`${aliceUri}/authorizations/1`, { headers: { accept: AP_ACCEPT } });
    expect(denied.status).toBe(404);
  });

  it("refuses an instrument that is not the requester's", async () => {
    const post = await client.v1.statuses.create({ status: "mine", visibility: "public" });
    const before = peer.received.length;
    await send(carol, {
      type: "LikeRequest",
      object: post.uri,
      instrument: { id: `${carol.actorUri}/likes/x`, type: "Like", actor: bob.actorUri, object: post.uri },
    });
    const count = server.context.store.sqlite
      .prepare("SELECT count(*) AS n FROM interaction_authorizations WHERE interacting_object = ?")
      .get(`${carol.actorUri}/likes/x`) as { n: number };
    expect(count.n).toBe(0);
    expect(peer.received.slice(before).filter((r) => r.type === "Accept")).toEqual([]);
  });
});
