// GoToSocial interaction policies against a real Fedify peer: the owner's Notes publish a policy that lets
// anyone interact; a remote note's `interactionPolicy` (GoToSocial 0.20+ names and the older ones) is kept and
// the owner's reply, favourite and boost are refused with a clear 422 when it leaves the owner out or asks for
// approval; GoToSocial interaction requests (ReplyRequest, LikeRequest, AnnounceRequest) from the peer's
// actors are answered with an Accept whose `result` is a dereferenceable authorization, or a Reject.
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import {
  AP_ACCEPT,
  type FedifyPeer,
  idByUri,
  type PeerActor,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { type ActorServer, inboxSettled, startActorServer } from "./helpers/inbound.js";
import { sendAs, sendSettled } from "./helpers/peer-actors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let bob: PeerActor;
let counter = 0;

const send = (actor: PeerActor, activity: Json) => sendSettled(server, actor, activity);

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

/** The peer's own actor, to sign raw activities as it. */
function peerActor(): PeerActor {
  return {
    identifier: "peer",
    actorUri: peer.actorUri,
    inboxUri: peer.inboxUri,
    keyId: peer.keyId,
    rsaPrivatePem: peer.rsaPrivatePem,
  };
}

function statusId(uri: string): string {
  const id = idByUri(server.context.store.sqlite, "statuses", uri);
  if (!id) throw new Error(`no status ${uri}`);
  return id;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["bob"] }),
  ]);
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  aliceUri = `${server.origin}/users/alice`;
  bob = peer.extra.get("bob") as PeerActor;
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
      // Who may quote it, as Mastodon 4.5 publishes it (quote posts: its default policy is public).
      canQuote: { automaticApproval: [PUBLIC] },
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

  it("lets only the author boost a followers-only post, and its followers like and reply", async () => {
    await peer.follow(aliceUri);
    await inboxSettled(server);
    const post = await client.v1.statuses.create({ status: "friends only", visibility: "private" });
    const create = await peer.waitFor(
      (r) => r.type === "Create" && (r.json.object as Json | undefined)?.id === post.uri,
    );
    const policy = (create.json.object as Json).interactionPolicy as Record<string, Json>;
    expect(policy.canAnnounce).toEqual({ automaticApproval: [aliceUri], always: [aliceUri] });
    // Who can see it, written out: Public appears nowhere in a followers-only post.
    const audience = [aliceUri, `${aliceUri}/followers`];
    expect(policy.canReply).toEqual({ automaticApproval: audience, always: audience });
    expect(policy.canLike).toEqual({ automaticApproval: audience, always: audience });
    expect(JSON.stringify(create.json)).not.toContain(PUBLIC);
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
    const refused = await api(server, token, "POST", "/api/v1/statuses", {
      status: "no",
      in_reply_to_id: id,
    });
    expect(refused.status).toBe(422);
    await remoteNote({}, "Update", uri);
    const allowed = await api(server, token, "POST", "/api/v1/statuses", {
      status: "now",
      in_reply_to_id: id,
    });
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
  // A GoToSocial-like server: the Fedify peer cannot parse an Accept whose object is a gts:ReplyRequest,
  // so the requester is a raw server that records what reaches its inbox.
  let gts: ActorServer;
  let gtsUri: string;
  let requests = 0;

  beforeAll(async () => {
    gts = await startActorServer(["gina"]);
    gtsUri = gts.actorUri("gina");
  });

  afterAll(async () => {
    await gts?.close();
  });

  async function request(type: string, object: string, instrument: unknown, id?: string): Promise<string> {
    const requestId = id ?? `${gtsUri}/interaction_requests/${++requests}`;
    const res = await gts.post(`${server.origin}/inbox`, "gina", {
      "@context": ["https://www.w3.org/ns/activitystreams", "https://gotosocial.org/ns"],
      id: requestId,
      type,
      actor: gtsUri,
      to: aliceUri,
      object,
      instrument,
    });
    expect(res.status).toBe(202);
    await inboxSettled(server);
    return requestId;
  }

  /** The answer to a request that reached gina's inbox, once delivered. */
  function answerTo(requestId: string, skip = 0): Promise<Json> {
    return waitUntil(
      () => gts.inbox.filter((r) => (r.json.object as Json | undefined)?.id === requestId)[skip]?.json,
      `the answer to ${requestId}`,
    );
  }

  it("accepts a ReplyRequest with a dereferenceable ReplyAuthorization", async () => {
    const post = await client.v1.statuses.create({ status: "reply if you like", visibility: "public" });
    const replyUri = `${gtsUri}/statuses/${++counter}`;
    const requestId = await request("ReplyRequest", post.uri, {
      id: replyUri,
      type: "Note",
      attributedTo: gtsUri,
      inReplyTo: post.uri,
      to: [PUBLIC],
      cc: [aliceUri],
      content: "<p>hey</p>",
    });
    const accept = await answerTo(requestId);
    expect(accept).toMatchObject({
      type: "Accept",
      actor: aliceUri,
      to: [gtsUri],
      object: { id: requestId, type: "ReplyRequest", actor: gtsUri, object: post.uri, instrument: replyUri },
    });
    expect(gts.inbox.find((r) => r.json === accept)?.path).toBe("/users/gina/inbox");
    const result = accept.result as string;
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
    // A delivery of the same request again is the same activity: one authorization, one answer.
    await request("ReplyRequest", post.uri, replyUri, requestId);
    const rows = server.context.store.sqlite
      .prepare("SELECT id FROM interaction_authorizations WHERE request_uri = ?")
      .all(requestId);
    expect(rows).toHaveLength(1);
  });

  it("accepts LikeRequest and AnnounceRequest of a public post", async () => {
    const post = await client.v1.statuses.create({ status: "like and boost", visibility: "public" });
    for (const [type, kind] of [
      ["LikeRequest", "LikeAuthorization"],
      ["AnnounceRequest", "AnnounceAuthorization"],
    ] as const) {
      const interaction = `${gtsUri}/interactions/${++counter}`;
      const requestId = await request(type, post.uri, {
        id: interaction,
        type: type === "LikeRequest" ? "Like" : "Announce",
        actor: gtsUri,
        object: post.uri,
      });
      const accept = await answerTo(requestId);
      expect(accept.type).toBe("Accept");
      const res = await fetch(accept.result as string, { headers: { accept: AP_ACCEPT } });
      expect(await res.json()).toMatchObject({ type: kind, interactingObject: interaction });
    }
  });

  it("rejects a request about a post the requester may not see, or a boost of a followers-only post", async () => {
    const post = await client.v1.statuses.create({ status: "followers only", visibility: "private" });
    const likeId = await request("LikeRequest", post.uri, `${gtsUri}/likes/${++counter}`);
    const reject = await answerTo(likeId);
    expect(reject.type).toBe("Reject");
    expect(reject.result).toBeUndefined();
    expect(reject.object).toMatchObject({ type: "LikeRequest", object: post.uri });
    // The peer follows alice (above): it may see the post and like it, but not boost it.
    const announceId = `${peer.actorUri}/requests/${++counter}`;
    await sendAs(server, peerActor(), {
      id: announceId,
      type: "AnnounceRequest",
      actor: peer.actorUri,
      object: post.uri,
      instrument: `${peer.actorUri}/announces/${counter}`,
    });
    await inboxSettled(server);
    const rows = server.context.store.sqlite
      .prepare("SELECT request_uri FROM interaction_authorizations WHERE request_uri IN (?, ?)")
      .all(likeId, announceId);
    expect(rows).toEqual([]);
    const denied = await fetch(`${aliceUri}/authorizations/1`, { headers: { accept: AP_ACCEPT } });
    expect(denied.status).toBe(404);
  });

  it("refuses an instrument that is not the requester's", async () => {
    const post = await client.v1.statuses.create({ status: "mine", visibility: "public" });
    const requestId = await request("LikeRequest", post.uri, {
      id: `${gtsUri}/likes/x`,
      type: "Like",
      actor: bob.actorUri,
      object: post.uri,
    });
    const rows = server.context.store.sqlite
      .prepare("SELECT id FROM interaction_authorizations WHERE request_uri = ?")
      .all(requestId);
    expect(rows).toEqual([]);
    expect(gts.inbox.filter((r) => (r.json.object as Json | undefined)?.id === requestId)).toEqual([]);
  });
});
