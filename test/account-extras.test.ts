// Notes on accounts, endorsements (featured accounts), featured hashtags with their ActivityPub collection,
// and deleting an unused upload, through real HTTP with masto, megalodon and raw fetch.
import { createRestAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../src/store/ids.js";
import { mediaAttachments } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { AP_ACCEPT } from "./helpers/fedify-peer.js";
import { followRow, queuedFor, remoteAccount } from "./helpers/fixtures.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

let server: TestServer;
let token: string;
let client: mastodon.rest.Client;
let mega: ReturnType<Generator>;
let me: mastodon.v1.AccountCredentials;

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  mega = generator("mastodon", server.origin, token);
  me = await client.v1.accounts.verifyCredentials();
});

afterAll(async () => {
  await server?.close();
});

const activityJson = async (url: string) => {
  const response = await fetch(url, { headers: { Accept: AP_ACCEPT } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("application/activity+json");
  return (await response.json()) as Json;
};

describe("account notes", () => {
  it("sets, shows and clears a private note", async () => {
    const bob = remoteAccount(server, "bob", "notes.example");
    const set = await client.v1.accounts.$select(bob.id).note.create({ comment: "met at the meetup" });
    expect(set).toMatchObject({ id: bob.id, note: "met at the meetup" });
    const [relationship] = await client.v1.accounts.relationships.fetch({ id: [bob.id] });
    expect(relationship?.note).toBe("met at the meetup");

    // megalodon 10 builds `comment` and then posts without it: no comment clears the note, as on Mastodon.
    expect((await mega.setAccountNote(bob.id, "changed")).data.note).toBe("");
    await client.v1.accounts.$select(bob.id).note.create({ comment: "changed" });
    expect((await client.v1.accounts.$select(bob.id).note.create({ comment: "" })).note).toBe("");
    const [cleared] = await client.v1.accounts.relationships.fetch({ id: [bob.id] });
    expect(cleared?.note).toBe("");

    const tooLong = await api(server, token, "POST", `/api/v1/accounts/${bob.id}/note`, {
      comment: "x".repeat(2001),
    });
    expect(tooLong.status).toBe(422);
    expect((await api(server, token, "POST", "/api/v1/accounts/123/note", { comment: "a" })).status).toBe(
      404,
    );
    expect(
      (await api(server, null, "POST", `/api/v1/accounts/${bob.id}/note`, { comment: "a" })).status,
    ).toBe(401);
  });
});

describe("endorsements", () => {
  it("endorses followed accounts only, lists them, and drops them when the follow ends", async () => {
    const [carol, dave, erin] = ["carol", "dave", "erin"].map((name) =>
      remoteAccount(server, name, "endorse.example"),
    ) as [
      ReturnType<typeof remoteAccount>,
      ReturnType<typeof remoteAccount>,
      ReturnType<typeof remoteAccount>,
    ];
    // Not followed: refused as Mastodon does.
    const refused = await api(server, token, "POST", `/api/v1/accounts/${carol.id}/pin`);
    expect(refused.status).toBe(422);
    expect((refused.json as Json).error).toMatch(/follow/);

    for (const account of [carol, dave, erin]) followRow(server, me.id, account.id);
    expect((await client.v1.accounts.$select(carol.id).pin()).endorsed).toBe(true);
    expect((await client.v1.accounts.$select(dave.id).endorse()).endorsed).toBe(true);
    expect((await mega.pinAccount(erin.id)).data.endorsed).toBe(true);
    // Twice is fine.
    expect((await client.v1.accounts.$select(carol.id).endorse()).endorsed).toBe(true);

    const listed = await client.v1.endorsements.list();
    expect(listed.map((a) => a.id)).toEqual([erin.id, dave.id, carol.id]);
    const [relationship] = await client.v1.accounts.relationships.fetch({ id: [dave.id] });
    expect(relationship?.endorsed).toBe(true);

    // Pages with Link headers.
    const first = await api(server, token, "GET", "/api/v1/endorsements?limit=2");
    expect((first.json as Json[]).map((a) => a.id)).toEqual([erin.id, dave.id]);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get("link") ?? "")?.[1] as string;
    const rest = (await (
      await fetch(next, { headers: { Authorization: `Bearer ${token}` } })
    ).json()) as Json[];
    expect(rest.map((a) => a.id)).toEqual([carol.id]);

    // The owner's featured accounts are public; a remote account's are not known here.
    const anonymous = await api(server, null, "GET", `/api/v1/accounts/${me.id}/endorsements`);
    expect((anonymous.json as Json[]).map((a) => a.id)).toEqual([erin.id, dave.id, carol.id]);
    expect((await client.v1.accounts.$select(me.id).endorsements.list()).map((a) => a.id)).toEqual([
      erin.id,
      dave.id,
      carol.id,
    ]);
    expect((await api(server, null, "GET", `/api/v1/accounts/${carol.id}/endorsements`)).json).toEqual([]);

    expect((await client.v1.accounts.$select(erin.id).unpin()).endorsed).toBe(false);
    expect((await client.v1.accounts.$select(dave.id).unendorse()).endorsed).toBe(false);
    // Unfollowing ends the endorsement too.
    await client.v1.accounts.$select(carol.id).unfollow();
    expect(await client.v1.endorsements.list()).toEqual([]);
    followRow(server, me.id, carol.id);
    const [again] = await client.v1.accounts.relationships.fetch({ id: [carol.id] });
    expect(again).toMatchObject({ following: true, endorsed: false });
  });
});

describe("featured tags", () => {
  it("features hashtags with their counts, suggests the most used, and keeps the limit of ten", async () => {
    for (const text of ["#Wren is small", "more #wren and #cats", "#cats again", "#cats", "#cats, always"])
      await client.v1.statuses.create({ status: text });
    await client.v1.statuses.create({ status: "private #wren", visibility: "private" });

    const suggestions = await client.v1.featuredTags.suggestions.list();
    expect(suggestions.map((t) => t.name.toLowerCase())).toEqual(["cats", "wren"]);
    expect((await mega.getSuggestedTags()).data.map((t) => t.name.toLowerCase())).toEqual(["cats", "wren"]);

    const wren = await client.v1.featuredTags.create({ name: "#Wren" });
    const today = new Date().toISOString().slice(0, 10);
    expect(wren).toEqual({
      id: expect.stringMatching(/^\d+$/),
      name: "Wren",
      url: `${server.origin}/@alice/tagged/wren`,
      // Public and unlisted statuses only; a string, as Mastodon sends it.
      statusesCount: "2",
      lastStatusAt: today,
    });
    const [raw] = (await api(server, token, "GET", "/api/v1/featured_tags")).json as Json[];
    expect(raw).toEqual({
      id: wren.id,
      name: "Wren",
      url: wren.url,
      statuses_count: "2",
      last_status_at: today,
    });
    const cats = (await mega.createFeaturedTag("cats")).data;
    expect(cats).toMatchObject({ name: "cats", statuses_count: "4" });
    // Featuring again gives the same one.
    expect((await client.v1.featuredTags.create({ name: "wren" })).id).toBe(wren.id);
    const fresh = await client.v1.featuredTags.create({ name: "unused" });
    expect(fresh).toMatchObject({ statusesCount: "0", lastStatusAt: null });

    expect((await client.v1.featuredTags.list()).map((t) => t.name)).toEqual(["Wren", "cats", "unused"]);
    expect((await client.v1.accounts.$select(me.id).featuredTags.list()).map((t) => t.name)).toEqual([
      "Wren",
      "cats",
      "unused",
    ]);
    expect((await api(server, null, "GET", `/api/v1/accounts/${me.id}/featured_tags`)).status).toBe(200);
    expect(await client.v1.featuredTags.suggestions.list()).toEqual([]);

    for (const name of ["", "#", "not a tag", "123"])
      expect((await api(server, token, "POST", "/api/v1/featured_tags", { name })).status, name).toBe(422);
    for (let i = 0; i < 7; i++) await client.v1.featuredTags.create({ name: `tag${i}` });
    const eleventh = await api(server, token, "POST", "/api/v1/featured_tags", { name: "onetoomany" });
    expect(eleventh.status).toBe(422);
    expect((await api(server, null, "GET", "/api/v2/instance")).json).toMatchObject({
      configuration: { accounts: { max_featured_tags: 10 } },
    });

    await client.v1.featuredTags.$select(fresh.id).remove();
    expect((await mega.deleteFeaturedTag(cats.id)).status).toBe(200);
    expect((await api(server, token, "DELETE", `/api/v1/featured_tags/${cats.id}`)).status).toBe(404);
    expect((await client.v1.featuredTags.list()).map((t) => t.name).slice(0, 2)).toEqual(["Wren", "tag0"]);
    for (let i = 0; i < 7; i++) {
      const tag = (await client.v1.featuredTags.list()).find((t) => t.name === `tag${i}`);
      if (tag) await client.v1.featuredTags.$select(tag.id).remove();
    }
  });

  it("publishes them as the actor's featuredTags collection of Hashtags and sends an Update of the actor", async () => {
    const follower = remoteAccount(server, "watcher", "followers.example");
    followRow(server, follower.id, me.id);
    const updatesBefore = queuedFor(server, "https://followers.example/inbox").length;
    const added = await client.v1.featuredTags.create({ name: "Birds" });

    const actor = await activityJson(`${server.origin}/users/alice`);
    const collectionUrl = `${server.origin}/users/alice/collections/tags`;
    expect(actor.featuredTags).toBe(collectionUrl);
    const collection = await activityJson(collectionUrl);
    expect(collection).toMatchObject({ id: collectionUrl, type: "Collection", totalItems: 2 });
    expect(collection.items).toEqual([
      { type: "Hashtag", href: `${server.origin}/tags/wren`, name: "#Wren" },
      { type: "Hashtag", href: `${server.origin}/tags/birds`, name: "#Birds" },
    ]);

    const updates = queuedFor(server, "https://followers.example/inbox").filter((a) => a.type === "Update");
    expect(updates.length - updatesBefore).toBe(1);
    const update = updates.at(-1) as Json;
    expect((update.object as Json).featuredTags).toBe(collectionUrl);

    await client.v1.featuredTags.$select(added.id).remove();
    const after = queuedFor(server, "https://followers.example/inbox").filter((a) => a.type === "Update");
    expect(after).toHaveLength(updates.length + 1);
    expect(new Set(after.map((a) => a.id)).size).toBe(after.length);
    expect((await activityJson(collectionUrl)).totalItems).toBe(1);
  });
});

describe("DELETE /api/v1/media/:id", () => {
  const upload = () =>
    client.v2.media.create({ file: new Blob([png], { type: "image/png" }), description: "a test image" });
  let png: Buffer;

  beforeAll(async () => {
    png = await makePng();
  });

  it("deletes an unattached upload with its files, and refuses attached or others' media", async () => {
    const media = await upload();
    const fileUrl = media.url as string;
    expect((await fetch(fileUrl)).status).toBe(200);
    const deleted = await api(server, token, "DELETE", `/api/v1/media/${media.id}`);
    expect(deleted).toMatchObject({ status: 200, json: {} });
    expect((await fetch(fileUrl)).status).toBe(404);
    expect((await api(server, token, "GET", `/api/v1/media/${media.id}`)).status).toBe(404);
    expect((await api(server, token, "DELETE", `/api/v1/media/${media.id}`)).status).toBe(404);

    const attached = await upload();
    await client.v1.statuses.create({ status: "with a picture", mediaIds: [attached.id] });
    const refused = await api(server, token, "DELETE", `/api/v1/media/${attached.id}`);
    expect(refused.status).toBe(422);
    expect((await fetch(attached.url as string)).status).toBe(200);

    // A remote account's attachment is not ours to delete.
    const remote = remoteAccount(server, "photographer", "media.example");
    const remoteId = newId();
    server.context.store.db
      .insert(mediaAttachments)
      .values({
        id: remoteId,
        accountId: remote.id,
        type: "image",
        remoteUrl: "https://media.example/a.png",
        createdAt: Date.now(),
      })
      .run();
    expect((await api(server, token, "DELETE", `/api/v1/media/${remoteId}`)).status).toBe(404);
    expect((await api(server, null, "DELETE", `/api/v1/media/${remoteId}`)).status).toBe(401);
  });
});
