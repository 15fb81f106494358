// Pins over federation, with the Fedify peer: alice's pin and unpin reach her followers as Add and Remove
// of the status to her featured collection (Mastodon's shape), and the peer's Add/Remove to its own featured
// collection pins and unpins its status here, fetching a pinned status Wren did not have.
import { Add, Remove } from "@fedify/fedify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { createStatus } from "../src/core/statuses.js";
import { resolveActor } from "../src/federation/resolve.js";
import { api, issueToken } from "./helpers/api.js";
import {
  type FedifyPeer,
  followAccepted,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let aliceUri: string;

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
  const followId = await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
});

afterAll(async () => {
  await peer?.close();
  await server?.close();
});

describe("alice pins and unpins", () => {
  it("sends Add, then Remove, of the status to her featured collection", async () => {
    const id = createStatus(server.context, { text: "pin me" });
    const uri = `${aliceUri}/statuses/${id}`;
    expect((await api(server, token, "POST", `/api/v1/statuses/${id}/pin`)).status).toBe(200);
    const add = await peer.waitFor((r) => r.type === "Add");
    expect(add.actor).toBe(aliceUri);
    expect(add.json).toMatchObject({
      type: "Add",
      actor: aliceUri,
      object: uri,
      target: `${aliceUri}/collections/featured`,
    });
    expect(add.keyId).toBe(`${aliceUri}#main-key`);

    // Pinning again changes nothing and sends nothing.
    expect((await api(server, token, "POST", `/api/v1/statuses/${id}/pin`)).status).toBe(200);
    expect((await api(server, token, "POST", `/api/v1/statuses/${id}/unpin`)).status).toBe(200);
    const remove = await peer.waitFor((r) => r.type === "Remove");
    expect(remove.json).toMatchObject({
      type: "Remove",
      actor: aliceUri,
      object: uri,
      target: `${aliceUri}/collections/featured`,
    });
    expect(peer.received.filter((r) => r.type === "Add")).toHaveLength(1);
    expect(remove.id).not.toBe(add.id);
  });
});

describe("the peer pins and unpins", () => {
  async function sendToAlice(activity: Add | Remove) {
    const ctx = peer.context();
    const alice = await ctx.lookupObject(aliceUri, {
      documentLoader: await ctx.getDocumentLoader({ identifier: "peer" }),
    });
    if (!alice || !("inboxId" in alice)) throw new Error("alice did not resolve");
    await ctx.sendActivity({ identifier: "peer" }, alice as never, activity, { immediate: true });
    await inboxSettled(server);
  }

  it("an Add of a status Wren did not have fetches it and pins it; Remove unpins it", async () => {
    const peerAccount = await resolveActor(server.context, peer.actorUri);
    expect(peerAccount.featuredUrl).toBe(`${peer.actorUri}/collections/featured`);
    const { id: followId } = follow(server.context, peerAccount);
    await followAccepted(server.context.store.sqlite, followId, "alice's follow of the peer");
    const noteUri = await peer.post({ content: "<p>my best post</p>", silent: true });
    expect(idByUri(server.context.store.sqlite, "statuses", noteUri)).toBeNull();

    const featured = new URL(`${peer.actorUri}/collections/featured`);
    await sendToAlice(
      new Add({
        id: new URL(`${peer.actorUri}#adds/1`),
        actor: new URL(peer.actorUri),
        object: new URL(noteUri),
        target: featured,
      }),
    );
    const pinned = async () =>
      (
        (await api(server, token, "GET", `/api/v1/accounts/${peerAccount.id}/statuses?pinned=true`)).json as {
          uri: string;
          pinned?: boolean;
        }[]
      ).map((s) => s.uri);
    expect(await pinned()).toEqual([noteUri]);

    await sendToAlice(
      new Remove({
        id: new URL(`${peer.actorUri}#removes/1`),
        actor: new URL(peer.actorUri),
        object: new URL(noteUri),
        target: featured,
      }),
    );
    expect(await pinned()).toEqual([]);
  });

  it("an Add to another collection than the actor's featured one is ignored", async () => {
    const peerAccount = await resolveActor(server.context, peer.actorUri);
    const noteUri = await peer.post({ content: "<p>not featured</p>" });
    await waitUntil(() => idByUri(server.context.store.sqlite, "statuses", noteUri), "the note to arrive");
    await sendToAlice(
      new Add({
        id: new URL(`${peer.actorUri}#adds/2`),
        actor: new URL(peer.actorUri),
        object: new URL(noteUri),
        target: new URL(`${peer.actorUri}/collections/other`),
      }),
    );
    const list = (await api(server, token, "GET", `/api/v1/accounts/${peerAccount.id}/statuses?pinned=true`))
      .json as unknown[];
    expect(list).toEqual([]);
  });
});
