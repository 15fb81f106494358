// The client libraries against Wren federating with a real, independent server: a Fedify peer on 127.0.0.1.
// masto.js (and megalodon where it says so) finds the peer by its handle, follows it, reads its posts in the
// home timeline, mentions it, and reads the follow, mention, favourite and reblog notifications that the
// peer's own activities cause. Nothing is faked: every notification comes from an activity the peer sent.
import { createOAuthAPIClient, createRestAPIClient, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreNativeResponse } from "./helpers/clients.js";
import { deliveriesSettled, type FedifyPeer, startFedifyPeer } from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { authorizeWithPkce } from "./helpers/oauth-flow.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** See clients-megalodon.test.ts: the generator under vitest's interop or under plain Node ESM. */
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

const REDIRECT_URI = "https://peer-client.example/callback";

let server: TestServer;
let peer: FedifyPeer;
let client: mastodon.rest.Client;
let accessToken: string;
let me: mastodon.v1.AccountCredentials;
let aliceUri: string;
let peerAccount: mastodon.v1.Account;
/** alice's post that mentions the peer, which the peer then likes, boosts and answers. */
let post: mastodon.v1.Status;

/** Registers an app and logs in through the authorize pages with PKCE, with masto's clients. */
async function logIn(): Promise<string> {
  const anonymous = createRestAPIClient({ url: server.origin });
  const app = await anonymous.v1.apps.create({
    clientName: "federation client",
    redirectUris: REDIRECT_URI,
    scopes: "read write follow",
  });
  const clientId = app.clientId as string;
  const clientSecret = app.clientSecret as string;
  const { code, verifier } = await authorizeWithPkce(server.origin, {
    clientId,
    redirectUri: REDIRECT_URI,
    scope: "read write follow",
  });
  const params: mastodon.oauth.CreateTokenParams = {
    grantType: "authorization_code",
    clientId,
    clientSecret,
    redirectUri: REDIRECT_URI,
    code,
  };
  const token = await createOAuthAPIClient({ url: server.origin }).token.create({
    ...params,
    codeVerifier: verifier,
  } as typeof params);
  return token.accessToken;
}

beforeAll(async () => {
  [server, peer] = await Promise.all([
    startTestServer({ account: "alice" }),
    startFedifyPeer({ extraActors: ["second"] }),
  ]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  accessToken = await logIn();
  client = createRestAPIClient({ url: server.origin, accessToken });
  me = await client.v1.accounts.verifyCredentials();
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

describe("client apps and a federating Fedify peer", () => {
  it("finds the peer by its handle with resolve=true (masto), and another actor with megalodon", async () => {
    const handle = `@${peer.handle}`;
    // Unknown until resolved: a plain search finds nothing.
    const before = await client.v2.search.list({ q: handle, type: "accounts" });
    expect(before.accounts).toEqual([]);

    const found = await client.v2.search.list({ q: handle, type: "accounts", resolve: true });
    expect(found.accounts).toHaveLength(1);
    peerAccount = found.accounts[0] as mastodon.v1.Account;
    expect(peerAccount).toMatchObject({
      username: "peer",
      acct: peer.handle,
      displayName: "Fedify peer",
      uri: peer.actorUri,
      url: peer.actorUri,
      locked: false,
    });
    expect(peerAccount.note).toContain("An independent server");
    expect(peerAccount.avatar).toMatch(/^http/);
    expect((await client.v1.accounts.lookup({ acct: peer.handle })).id).toBe(peerAccount.id);

    const mega = generator("mastodon", server.origin, accessToken);
    const second = await mega.search(`second@${peer.domain}`, { type: "accounts", resolve: true });
    expect(second.data.accounts.map((a) => [a.acct, a.display_name])).toEqual([
      [`second@${peer.domain}`, "Fedify second"],
    ]);
  });

  it("follows the peer from the API: pending, then accepted by the peer's Accept", async () => {
    const relationship = await client.v1.accounts.$select(peerAccount.id).follow();
    expect(relationship.id).toBe(peerAccount.id);
    expect(relationship.following || relationship.requested).toBe(true);
    const follow = await peer.waitFor((r) => r.type === "Follow" && r.actor === aliceUri);
    expect(follow.activity.objectId?.href).toBe(peer.actorUri);

    // The Accept comes back asynchronously: poll the relationship as an app refreshing its profile view does.
    let accepted: mastodon.v1.Relationship | undefined;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      [accepted] = await client.v1.accounts.relationships.fetch({ id: [peerAccount.id] });
      if (accepted?.following) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(accepted).toMatchObject({ following: true, requested: false, followedBy: false });
    expect(peer.followers.has(aliceUri)).toBe(true);
    expect((await client.v1.accounts.$select(me.id).following.list()).map((a) => a.id)).toEqual([
      peerAccount.id,
    ]);
  });

  it("shows the peer's posts in the home timeline and under their hashtag", async () => {
    const noteUri = await peer.post({ content: "<p>Hello from the Fedify peer</p>", hashtags: ["fedipeer"] });
    await inboxSettled(server);
    const home = await client.v1.timelines.home.list({ limit: 40 });
    const received = home.find((s) => s.uri === noteUri);
    expect(received).toBeDefined();
    expect(received?.account.id).toBe(peerAccount.id);
    expect(received?.account.acct).toBe(peer.handle);
    expect(received?.content).toContain("Hello from the Fedify peer");
    expect(received?.visibility).toBe("public");
    expect(received?.tags.map((t) => t.name)).toEqual(["fedipeer"]);
    const tagged = await client.v1.timelines.tag.$select("fedipeer").list();
    expect(tagged.map((s) => s.uri)).toEqual([noteUri]);
    expect((await client.v1.accounts.$select(peerAccount.id).statuses.list()).map((s) => s.uri)).toEqual([
      noteUri,
    ]);

    const mega = generator("mastodon", server.origin, accessToken);
    const megaHome = await mega.getHomeTimeline({ limit: 40 });
    expect(megaHome.data.find((s) => s.uri === noteUri)?.account.acct).toBe(peer.handle);
  });

  it("a post mentioning @peer@host reaches the peer with its Mention tag", async () => {
    post = await client.v1.statuses.create({
      status: `Hello @${peer.handle}, welcome! #wrenclients`,
      visibility: "public",
    });
    expect(post.mentions).toEqual([
      { id: peerAccount.id, username: "peer", acct: peer.handle, url: peer.actorUri },
    ]);
    const create = await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === post.uri);
    expect(create.actor).toBe(aliceUri);
    const note = create.json.object as { content: string; cc: string[]; tag: Record<string, unknown>[] };
    expect(note.content).toContain(`href="${peer.actorUri}"`);
    expect(note.cc).toContain(peer.actorUri);
    expect(note.tag).toContainEqual(
      expect.objectContaining({ type: "Mention", href: peer.actorUri, name: `@${peer.handle}` }),
    );
    await deliveriesSettled(server.context.store.sqlite);
    // Follower and mentioned at once: one delivery.
    expect(
      peer.received.filter((r) => r.type === "Create" && r.activity.objectId?.href === post.uri),
    ).toHaveLength(1);
  });

  it("the peer's follow, mention, like and boost become notifications", async () => {
    const followId = await peer.follow(aliceUri);
    await inboxSettled(server);
    await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
    const replyUri = await peer.post({
      content: `<p><a href="${aliceUri}" class="mention">@alice</a> thanks for the welcome</p>`,
      mentions: [aliceUri],
      inReplyTo: post.uri,
    });
    await inboxSettled(server);
    await peer.like(post.uri);
    await inboxSettled(server);
    await peer.announce(post.uri);
    await inboxSettled(server);

    const all = await client.v1.notifications.list();
    expect(all.map((n) => n.type)).toEqual(["reblog", "favourite", "mention", "follow"]);
    for (const n of all) expect(n.account.id).toBe(peerAccount.id);
    const [reblog, favourite, mention, follow] = all;
    expect(reblog?.status?.id).toBe(post.id);
    expect(favourite?.status?.id).toBe(post.id);
    expect(favourite?.status?.favouritesCount).toBe(1);
    expect(favourite?.status?.reblogsCount).toBe(1);
    expect(mention?.status?.uri).toBe(replyUri);
    expect(mention?.status?.inReplyToId).toBe(post.id);
    expect(mention?.status?.content).toContain("thanks for the welcome");
    expect(follow?.status).toBeNull();

    const [relationship] = await client.v1.accounts.relationships.fetch({ id: [peerAccount.id] });
    expect(relationship).toMatchObject({ following: true, followedBy: true });
    expect((await client.v1.statuses.$select(post.id).fetch()).repliesCount).toBe(1);
    expect((await client.v1.statuses.$select(post.id).favouritedBy.list()).map((a) => a.id)).toEqual([
      peerAccount.id,
    ]);
    expect((await client.v1.statuses.$select(post.id).rebloggedBy.list()).map((a) => a.id)).toEqual([
      peerAccount.id,
    ]);

    const byType = await client.v1.notifications.list({ types: ["follow", "mention"] });
    expect(byType.map((n) => n.id)).toEqual([mention?.id, follow?.id]);
    const mega = generator("mastodon", server.origin, accessToken);
    const noFollows = await mega.getNotifications({ exclude_types: ["follow"] });
    expect(noFollows.data.map((n) => n.type)).toEqual(["reblog", "favourite", "mention"]);

    await client.v1.notifications.$select(follow?.id as string).dismiss();
    await mega.dismissNotification(reblog?.id as string);
    expect((await client.v1.notifications.list()).map((n) => n.type)).toEqual(["favourite", "mention"]);
    expect(peer.errors).toEqual([]);
  });
});
