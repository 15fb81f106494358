// Emoji reactions and custom emoji from a real Fedify peer: Pleroma/Akkoma-style `EmojiReact` and Misskey-style
// `Like` with `_misskey_reaction`, signed by the peer's actors, become reactions on alice's post (the Status
// entity's `pleroma.emoji_reactions`) and notifications: `pleroma:emoji_reaction` for an app that asks for the
// type, a `favourite` for every other app. Undo removes them. A remote note's custom emoji reach `emojis`.
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, type PeerActor, startFedifyPeer } from "./helpers/fedify-peer.js";
import { sendSettled } from "./helpers/peer-actors.js";
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

const send = (actor: PeerActor, activity: Json) => sendSettled(server, actor, activity);

const emojiTag = (actor: PeerActor, shortcode: string) => ({
  id: `${actor.actorUri}/emojis/${shortcode}`,
  type: "Emoji",
  name: `:${shortcode}:`,
  icon: { type: "Image", mediaType: "image/png", url: `${peer.origin}/emoji/${shortcode}.png` },
});

async function statusJson(id: string): Promise<Json> {
  const res = await api(server, token, "GET", `/api/v1/statuses/${id}`);
  expect(res.status).toBe(200);
  return res.json as Json;
}

const reactionsOf = async (id: string) =>
  ((await statusJson(id)).pleroma as { emoji_reactions: Json[] }).emoji_reactions;

async function notificationsJson(query: string): Promise<Json[]> {
  const res = await api(server, token, "GET", `/api/v1/notifications${query}`);
  expect(res.status).toBe(200);
  return res.json as Json[];
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
});

afterAll(async () => {
  await Promise.all([server?.close(), peer?.close()]);
});

describe("emoji reactions", () => {
  let post: mastodon.v1.Status;
  let reactId: string;
  let misskeyLikeId: string;

  beforeAll(async () => {
    post = await client.v1.statuses.create({ status: "react to this", visibility: "public" });
  });

  it("stores an EmojiReact as a reaction, not a favourite", async () => {
    reactId = await send(bob, { type: "EmojiReact", object: post.uri, content: "🔥", to: [aliceUri] });
    const status = await statusJson(post.id);
    expect(status.favourites_count).toBe(0);
    expect((status.pleroma as Json).emoji_reactions).toEqual([
      { name: "🔥", count: 1, me: false, url: null, account_ids: [expect.any(String)] },
    ]);
  });

  it("notifies a reaction as pleroma:emoji_reaction to an app that asks for it, with the emoji", async () => {
    const asked = await notificationsJson("?types[]=pleroma:emoji_reaction");
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ type: "pleroma:emoji_reaction", emoji: "🔥", emoji_url: null });
    expect(asked[0]).toMatchObject({ account: { acct: `bob@${peer.domain}` }, status: { id: post.id } });
    // Pleroma's own parameter name.
    const included = await notificationsJson(
      "?include_types[]=pleroma:emoji_reaction&include_types[]=mention",
    );
    expect(included.map((n) => n.type)).toEqual(["pleroma:emoji_reaction"]);
  });

  it("shows the reaction as a favourite to a Mastodon app", async () => {
    const list = await client.v1.notifications.list();
    expect(list.map((n) => n.type)).toEqual(["favourite"]);
    expect(list[0]?.account.acct).toBe(`bob@${peer.domain}`);
    expect(list[0]?.status?.id).toBe(post.id);
    expect((await notificationsJson("?types[]=favourite")).map((n) => n.type)).toEqual(["favourite"]);
    expect(await notificationsJson("?exclude_types[]=favourite")).toEqual([]);
    expect(await notificationsJson("?types[]=mention")).toEqual([]);
    // The grouped notifications of API v2 are Mastodon's: a favourite there too.
    const grouped = await api(server, token, "GET", "/api/v2/notifications");
    const groups = (grouped.json as { notification_groups: Json[] }).notification_groups;
    expect(groups.map((g) => [g.type, g.status_id])).toEqual([["favourite", post.id]]);
  });

  it("takes a Misskey Like with a custom emoji as a favourite and a reaction", async () => {
    misskeyLikeId = await send(carol, {
      type: "Like",
      object: post.uri,
      content: ":blobcat:",
      _misskey_reaction: ":blobcat:",
      tag: [emojiTag(carol, "blobcat")],
    });
    const status = await statusJson(post.id);
    expect(status.favourites_count).toBe(1);
    expect((status.pleroma as Json).emoji_reactions).toEqual([
      expect.objectContaining({ name: "🔥", count: 1 }),
      expect.objectContaining({ name: "blobcat", count: 1, url: `${peer.origin}/emoji/blobcat.png` }),
    ]);
    const asked = await notificationsJson("?types[]=pleroma:emoji_reaction");
    expect(asked.map((n) => [n.emoji, n.emoji_url])).toEqual([
      ["blobcat", `${peer.origin}/emoji/blobcat.png`],
      ["🔥", null],
    ]);
    // One notification per reaction, even though the Like is also a favourite.
    expect((await client.v1.notifications.list()).map((n) => n.type)).toEqual(["favourite", "favourite"]);
  });

  it("counts each emoji once per account, and several emoji of one account", async () => {
    await send(bob, { type: "EmojiReact", object: post.uri, content: "🔥" });
    await send(bob, { type: "EmojiReact", object: post.uri, content: "👍🏽" });
    const reactions = await reactionsOf(post.id);
    expect(reactions.map((r) => [r.name, r.count])).toEqual([
      ["🔥", 1],
      ["blobcat", 1],
      ["👍🏽", 1],
    ]);
  });

  it("ignores a reaction that is not one emoji, or a custom emoji without its image", async () => {
    await send(bob, { type: "EmojiReact", object: post.uri, content: "<b>not an emoji</b>" });
    await send(bob, { type: "EmojiReact", object: post.uri, content: ":nothere:" });
    expect((await reactionsOf(post.id)).map((r) => r.name)).toEqual(["🔥", "blobcat", "👍🏽"]);
  });

  it("removes a reaction on Undo(EmojiReact), by id or by its embedded content", async () => {
    await send(bob, {
      type: "Undo",
      object: { id: reactId, type: "EmojiReact", actor: bob.actorUri, object: post.uri, content: "🔥" },
    });
    expect((await reactionsOf(post.id)).map((r) => r.name)).toEqual(["blobcat", "👍🏽"]);
    // Akkoma-style: the undone activity embedded with an id Wren never saw; matched by its emoji.
    await send(bob, {
      type: "Undo",
      object: {
        id: `${bob.actorUri}/unknown-react`,
        type: "EmojiReact",
        actor: bob.actorUri,
        object: post.uri,
        content: "👍🏽",
      },
    });
    expect((await reactionsOf(post.id)).map((r) => r.name)).toEqual(["blobcat"]);
    expect((await statusJson(post.id)).favourites_count).toBe(1);
  });

  it("removes the favourite and the reaction on Undo(Like)", async () => {
    await send(carol, {
      type: "Undo",
      object: { id: misskeyLikeId, type: "Like", actor: carol.actorUri, object: post.uri },
    });
    const status = await statusJson(post.id);
    expect(status.favourites_count).toBe(0);
    expect((status.pleroma as Json).emoji_reactions).toEqual([]);
  });

  it("marks the viewer's own reaction with me, and renders pleroma on every status", async () => {
    const other = await client.v1.statuses.create({ status: "no reactions", visibility: "public" });
    expect((await statusJson(other.id)).pleroma).toEqual({ emoji_reactions: [] });
    await send(bob, { type: "EmojiReact", object: other.uri, content: "🎉" });
    const anonymous = await api(server, null, "GET", `/api/v1/statuses/${other.id}`);
    expect((anonymous.json as { pleroma: { emoji_reactions: Json[] } }).pleroma.emoji_reactions).toEqual([
      expect.objectContaining({ name: "🎉", count: 1, me: false }),
    ]);
  });
});

describe("custom emoji in remote posts", () => {
  it("puts a remote note's Emoji tags in the status's emojis", async () => {
    const noteUri = `${bob.actorUri}/notes/${++counter}`;
    const note = {
      id: noteUri,
      type: "Note",
      attributedTo: bob.actorUri,
      content: `<p><a href="${aliceUri}" class="u-url mention">@alice</a> hello :blobwave: :bad:</p>`,
      to: [PUBLIC],
      cc: [aliceUri],
      tag: [
        { type: "Mention", href: aliceUri, name: "@alice" },
        emojiTag(bob, "blobwave"),
        // No image: not an emoji Wren can show.
        { type: "Emoji", name: ":bad:", icon: { type: "Image", url: "javascript:alert(1)" } },
      ],
      published: new Date().toISOString(),
    };
    await send(bob, { type: "Create", object: note, to: note.to, cc: note.cc });
    const [mention] = await client.v1.notifications.list({ types: ["mention"] });
    expect(mention?.status?.uri).toBe(noteUri);
    expect(mention?.status?.emojis).toEqual([
      {
        shortcode: "blobwave",
        url: `${peer.origin}/emoji/blobwave.png`,
        staticUrl: `${peer.origin}/emoji/blobwave.png`,
        visibleInPicker: false,
      },
    ]);
  });
});
