// masto.js (the client library of Elk and many bots) drives a real Wren over HTTP: app registration, the
// authorization-code flow with PKCE through the login and consent pages, then the everyday work of an app.
// Notifications come from a remote account fixture acting through the core (receiveLike, receiveNote); the
// federation with a real peer is in clients-peer.test.ts.
import { eq } from "drizzle-orm";
import { createOAuthAPIClient, createRestAPIClient, MastoHttpError, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receiveLike } from "../src/core/interactions.js";
import type { AccountRow } from "../src/store/accounts.js";
import { accounts, mediaAttachments, notifications, oauthTokens, statuses } from "../src/store/schema.js";
import { byIdDescending, freshRemoteAccount, REMOTE, restoreNativeResponse } from "./helpers/clients.js";
import { queuedFor, remoteNote } from "./helpers/fixtures.js";
import { authorizeWithPkce } from "./helpers/oauth-flow.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const REDIRECT_URI = "https://masto-client.example/callback";

let server: TestServer;
let client: mastodon.rest.Client;
let me: mastodon.v1.AccountCredentials;
let bob: AccountRow;
let png: Buffer;

/** The story's statuses, shared between the steps. */
const posts: Record<string, mastodon.v1.Status> = {};
let media: mastodon.v1.MediaAttachment;

/** Every item of a masto paginator, page by page: what an app's infinite scroll does. */
async function allPages<T>(paginator: AsyncIterable<T[]>): Promise<T[][]> {
  const pages: T[][] = [];
  for await (const page of paginator) {
    pages.push(page);
    if (pages.length > 50) throw new Error("the paginator does not end");
  }
  return pages;
}

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  restoreNativeResponse();
  bob = freshRemoteAccount(server, "bob");
  png = await makePng(64, 48);
});

afterAll(async () => {
  await server?.close();
});

describe("masto.js against Wren", () => {
  it("reads the instance, registers an app and logs in with the authorization code and PKCE", async () => {
    const anonymous = createRestAPIClient({ url: server.origin });
    const instance = await anonymous.v2.instance.fetch();
    expect(instance.domain).toBe(server.domain);
    expect(instance.version).toMatch(/^4\.5\.0 \(compatible; Wren /);
    expect(instance.configuration.urls.streaming).toBe(`ws://${server.domain}`);
    // The VAPID key, the same in the instance and in the app.
    expect(instance.configuration.vapid.publicKey).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    const v1 = await anonymous.v1.instance.fetch();
    expect(v1.uri).toBe(server.domain);

    const app = await anonymous.v1.apps.create({
      clientName: "masto.js test",
      redirectUris: REDIRECT_URI,
      scopes: "read write follow push",
      website: "https://masto-client.example",
    });
    expect(app.name).toBe("masto.js test");
    expect(app.vapidKey).toBe(instance.configuration.vapid.publicKey);
    expect(app.clientId).toEqual(expect.any(String));
    expect(app.clientSecret).toEqual(expect.any(String));
    const clientId = app.clientId as string;
    const clientSecret = app.clientSecret as string;

    const { code, verifier } = await authorizeWithPkce(server.origin, {
      clientId,
      redirectUri: REDIRECT_URI,
      scope: "read write follow",
    });

    // masto's OAuth client posts the token request; the verifier travels as one more parameter
    // (masto snake-cases codeVerifier into code_verifier).
    const oauth = createOAuthAPIClient({ url: server.origin });
    const withoutVerifier: mastodon.oauth.CreateTokenParams = {
      grantType: "authorization_code",
      clientId,
      clientSecret,
      redirectUri: REDIRECT_URI,
      code,
    };
    // The code was issued for a challenge: a request without the verifier is refused, and does not burn it.
    const refused = await oauth.token.create(withoutVerifier).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(MastoHttpError);
    expect((refused as MastoHttpError).statusCode).toBe(400);
    expect((refused as MastoHttpError).message).toBe("invalid_grant");

    const token = await oauth.token.create({
      ...withoutVerifier,
      codeVerifier: verifier,
    } as typeof withoutVerifier);
    expect(token.tokenType).toBe("Bearer");
    expect(token.scope).toBe("read write follow");
    expect(token.accessToken).toEqual(expect.any(String));
    expect(server.context.store.db.select().from(oauthTokens).all()).toHaveLength(1);

    client = createRestAPIClient({ url: server.origin, accessToken: token.accessToken });
    me = await client.v1.accounts.verifyCredentials();
    expect(me.username).toBe("alice");
    expect(me.acct).toBe("alice");
    expect(me.source.privacy).toBe("public");
    const verifiedApp = await client.v1.apps.verifyCredentials();
    expect(verifiedApp.name).toBe("masto.js test");
  });

  it("updates the profile with an avatar (multipart PATCH)", async () => {
    const updated = await client.v1.accounts.updateCredentials({
      displayName: "Alice (masto.js)",
      note: "Posting from masto.js",
      avatar: new Blob([png], { type: "image/png" }),
      fieldsAttributes: [{ name: "Client", value: "masto.js" }],
    });
    expect(updated.displayName).toBe("Alice (masto.js)");
    expect(updated.source.note).toBe("Posting from masto.js");
    expect(updated.fields.map((f) => [f.name, f.value])).toEqual([["Client", "masto.js"]]);
    expect(updated.avatar).not.toContain("/static/");
    expect(updated.avatar.startsWith(server.origin)).toBe(true);
    const image = await fetch(updated.avatar);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);

    const account = server.context.store.db.select().from(accounts).where(eq(accounts.id, me.id)).get();
    expect(account?.avatarUrl).toBe(updated.avatar);
    expect(account?.displayName).toBe("Alice (masto.js)");
    expect((await client.v1.accounts.verifyCredentials()).avatar).toBe(updated.avatar);
  });

  it("posts with a mention, a hashtag and a link; the mentioned account gets the Create", async () => {
    const status = await client.v1.statuses.create({
      status: `Hello @bob@${REMOTE}! Read https://example.com/articles/wren-and-masto #MastoStory`,
      visibility: "public",
      language: "en",
    });
    posts.first = status;
    expect(status.account.id).toBe(me.id);
    expect(status.visibility).toBe("public");
    expect(status.language).toBe("en");
    expect(status.application?.name).toBe("masto.js test");
    expect(status.mentions).toEqual([
      { id: bob.id, username: "bob", acct: `bob@${REMOTE}`, url: `https://${REMOTE}/@bob` },
    ]);
    expect(status.tags.map((t) => t.name)).toEqual(["MastoStory"]);
    expect(status.tags[0]?.url).toBe(`${server.origin}/tags/mastostory`);
    expect(status.content).toContain(`href="https://${REMOTE}/@bob"`);
    expect(status.content).toContain('href="https://example.com/articles/wren-and-masto"');
    expect(status.content).toContain(`href="${server.origin}/tags/MastoStory"`);

    // Addressed to bob's shared inbox, with the Mention tag that makes his server notify him.
    const [create] = queuedFor(server, `https://${REMOTE}/inbox`).filter(
      (a) => a.type === "Create" && (a.object as { id?: string }).id === status.uri,
    );
    expect(create).toBeDefined();
    const note = create?.object as { cc: string[]; tag: { type: string; href?: string; name?: string }[] };
    expect(note.cc).toContain(bob.uri);
    expect(note.tag).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "Mention", href: bob.uri }),
        expect.objectContaining({ type: "Hashtag", name: "#MastoStory" }),
      ]),
    );
  });

  it("uploads an image with a description and focus (v2, polled until processed) and posts it", async () => {
    media = await client.v2.media.create({
      file: new Blob([png], { type: "image/png" }),
      description: "A red rectangle with a blue corner",
      focus: "0.5,-0.25",
    });
    expect(media.type).toBe("image");
    expect(media.url).toEqual(expect.stringContaining(`${server.origin}/media/`));
    expect(media.previewUrl).toEqual(expect.any(String));
    expect(media.description).toBe("A red rectangle with a blue corner");
    expect(media.meta?.focus).toEqual({ x: 0.5, y: -0.25 });
    expect(media.meta?.original).toMatchObject({ width: 64, height: 48 });
    expect(media.blurhash).toEqual(expect.any(String));
    const file = await fetch(media.url as string);
    expect(file.status).toBe(200);

    const status = await client.v1.statuses.create({
      status: "A picture from masto.js",
      mediaIds: [media.id],
    });
    posts.picture = status;
    expect(status.mediaAttachments.map((m) => m.id)).toEqual([media.id]);
    expect(status.mediaAttachments[0]?.description).toBe("A red rectangle with a blue corner");
    const row = server.context.store.db
      .select()
      .from(mediaAttachments)
      .where(eq(mediaAttachments.id, media.id))
      .get();
    expect(row?.statusId).toBe(status.id);
  });

  it("replies, favourites, boosts, bookmarks and pins", async () => {
    const first = posts.first as mastodon.v1.Status;
    const reply = await client.v1.statuses.create({ status: "And a follow-up", inReplyToId: first.id });
    posts.reply = reply;
    expect(reply.inReplyToId).toBe(first.id);
    expect(reply.inReplyToAccountId).toBe(me.id);
    const context = await client.v1.statuses.$select(first.id).context.fetch();
    expect(context.descendants.map((s) => s.id)).toEqual([reply.id]);
    expect((await client.v1.statuses.$select(reply.id).context.fetch()).ancestors.map((s) => s.id)).toEqual([
      first.id,
    ]);

    const favourited = await client.v1.statuses.$select(first.id).favourite();
    expect(favourited.favourited).toBe(true);
    expect(favourited.favouritesCount).toBe(1);

    const boost = await client.v1.statuses.$select(first.id).reblog();
    posts.boost = boost;
    expect(boost.reblog?.id).toBe(first.id);
    expect(boost.reblog?.reblogged).toBe(true);
    expect(boost.reblog?.reblogsCount).toBe(1);

    const bookmarked = await client.v1.statuses.$select(first.id).bookmark();
    expect(bookmarked.bookmarked).toBe(true);
    const pinned = await client.v1.statuses.$select(first.id).pin();
    expect(pinned.pinned).toBe(true);

    const fetched = await client.v1.statuses.$select(first.id).fetch();
    expect(fetched).toMatchObject({
      favourited: true,
      reblogged: true,
      bookmarked: true,
      pinned: true,
      repliesCount: 1,
      reblogsCount: 1,
      favouritesCount: 1,
    });
    expect((await client.v1.bookmarks.list()).map((s) => s.id)).toEqual([first.id]);
    // A short page offers no `next` (as on Mastodon): the paginator ends without asking for an empty page.
    expect(await allPages(client.v1.bookmarks.list({ limit: 10 }))).toEqual([
      [expect.objectContaining({ id: first.id })],
    ]);
    expect((await client.v1.favourites.list()).map((s) => s.id)).toEqual([first.id]);
    expect(
      (await client.v1.accounts.$select(me.id).statuses.list({ pinned: true })).map((s) => s.id),
    ).toEqual([first.id]);
    expect((await client.v1.statuses.$select(first.id).favouritedBy.list()).map((a) => a.id)).toEqual([
      me.id,
    ]);
    expect((await client.v1.statuses.$select(first.id).rebloggedBy.list()).map((a) => a.id)).toEqual([me.id]);
  });

  it("edits a status (text and media description) and reads its history and source", async () => {
    const picture = posts.picture as mastodon.v1.Status;
    const edited = await client.v1.statuses.$select(picture.id).update({
      status: "A picture from masto.js, edited",
      mediaIds: [media.id],
      mediaAttributes: [{ id: media.id, description: "A red rectangle, edited", focus: "0,0" }],
    });
    posts.picture = edited;
    expect(edited.id).toBe(picture.id);
    expect(edited.editedAt).toEqual(expect.any(String));
    expect(edited.content).toContain("edited");
    expect(edited.mediaAttachments[0]).toMatchObject({
      id: media.id,
      description: "A red rectangle, edited",
    });
    expect(edited.mediaAttachments[0]?.meta?.focus).toEqual({ x: 0, y: 0 });

    const history = await client.v1.statuses.$select(picture.id).history.list();
    expect(history).toHaveLength(2);
    expect(history[0]?.content).toContain("A picture from masto.js");
    expect(history[0]?.content).not.toContain("edited");
    expect(history[1]?.content).toContain("edited");
    expect(history[1]?.account.id).toBe(me.id);
    expect(history[1]?.mediaAttachments.map((m) => m.id)).toEqual([media.id]);

    const source = await client.v1.statuses.$select(picture.id).source.fetch();
    expect(source).toEqual({ id: picture.id, text: "A picture from masto.js, edited", spoilerText: "" });
  });

  it("deletes and redrafts: the deleted status's text and media go into a new one", async () => {
    const picture = posts.picture as mastodon.v1.Status;
    const deleted = await client.v1.statuses.$select(picture.id).remove();
    expect(deleted.id).toBe(picture.id);
    expect(deleted.text).toBe("A picture from masto.js, edited");
    expect(deleted.mediaAttachments.map((m) => m.id)).toEqual([media.id]);

    const gone = await client.v1.statuses
      .$select(picture.id)
      .fetch()
      .catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(MastoHttpError);
    expect((gone as MastoHttpError).statusCode).toBe(404);

    const redraft = await client.v1.statuses.create({
      status: deleted.text as string,
      mediaIds: deleted.mediaAttachments.map((m) => m.id),
      visibility: deleted.visibility,
    });
    posts.picture = redraft;
    expect(redraft.id).not.toBe(picture.id);
    expect(redraft.content).toContain("A picture from masto.js, edited");
    expect(redraft.mediaAttachments.map((m) => m.id)).toEqual([media.id]);
    expect(redraft.mediaAttachments[0]?.description).toBe("A red rectangle, edited");
    const row = server.context.store.db.select().from(statuses).where(eq(statuses.id, picture.id)).get();
    expect(row?.deletedAt).not.toBeNull();
  });

  it("pages the home, public and tag timelines through the Link headers until the end", async () => {
    const created: string[] = [];
    for (let i = 1; i <= 25; i++) {
      const status = await client.v1.statuses.create({ status: `Timeline post ${i} #MastoPaging` });
      created.push(status.id);
    }
    const newestFirst = [...created].reverse();
    // Everything alice sees in home: her posts and her boost, newest first (the same order as the ids).
    const live = server.context.store.db
      .select({ id: statuses.id, visibility: statuses.visibility, deletedAt: statuses.deletedAt })
      .from(statuses)
      .where(eq(statuses.accountId, me.id))
      .all()
      .filter((s) => s.deletedAt === null)
      .map((s) => s.id)
      .sort(byIdDescending);

    // The raw first page: the Link header as Mastodon writes it.
    const raw = await client.v1.timelines.home.list.$raw({ limit: 10 });
    const link = raw.headers.get("link") ?? "";
    const firstPage = raw.data;
    expect(firstPage).toHaveLength(10);
    expect(link).toBe(
      `<${server.origin}/api/v1/timelines/home?limit=10&max_id=${firstPage[9]?.id}>; rel="next", ` +
        `<${server.origin}/api/v1/timelines/home?limit=10&min_id=${firstPage[0]?.id}>; rel="prev"`,
    );

    const check = (pages: mastodon.v1.Status[][], expected: string[]) => {
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(10);
      // The paginator stops after the empty page that carries no Link header.
      expect(pages.at(-1)).toEqual([]);
      const ids = pages.flat().map((s) => s.id);
      expect(ids).toEqual(expected);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort(byIdDescending)).toEqual(ids);
    };

    const home = await allPages(client.v1.timelines.home.list({ limit: 10 }));
    check(home, live);
    expect(home.length).toBe(Math.ceil(live.length / 10) + 1);
    expect(
      home
        .flat()
        .slice(0, 25)
        .map((s) => s.id),
    ).toEqual(newestFirst);

    // Public: alice's public statuses, not the boost.
    const boostId = (posts.boost as mastodon.v1.Status).id;
    const publicPages = await allPages(client.v1.timelines.public.list({ limit: 10 }));
    check(
      publicPages,
      live.filter((id) => id !== boostId),
    );
    const localPages = await allPages(client.v1.timelines.public.list({ limit: 10, local: true }));
    check(
      localPages,
      live.filter((id) => id !== boostId),
    );

    const tagPages = await allPages(client.v1.timelines.tag.$select("MastoPaging").list({ limit: 10 }));
    check(tagPages, newestFirst);
    expect(tagPages.map((p) => p.length)).toEqual([10, 10, 5, 0]);

    // And back up: from the oldest tagged post, the "prev" links lead to the newest.
    const up = await allPages(
      client.v1.timelines.tag
        .$select("mastopaging")
        .list({ limit: 10, minId: created[0] })
        .setDirection("prev"),
    );
    const upIds = up.flat().map((s) => s.id);
    expect(new Set(upIds)).toEqual(new Set(created.slice(1)));
  });

  it("lists notifications by type and dismisses one", async () => {
    const first = posts.first as mastodon.v1.Status;
    expect(receiveLike(server.context, bob, first.uri, `https://${REMOTE}/likes/1`)).toBe(true);
    const mentionId = remoteNote(server, bob, {
      uri: `https://${REMOTE}/users/bob/statuses/1`,
      content: `<p><span class="h-card"><a href="${server.origin}/@alice" class="u-url mention">@alice</a></span> hi from bob</p>`,
      inReplyTo: first.uri,
      cc: [`${server.origin}/users/alice`, bob.followersUrl ?? ""],
      mentions: [`${server.origin}/users/alice`],
    });

    const all = await client.v1.notifications.list();
    expect(all.map((n) => n.type)).toEqual(["mention", "favourite"]);
    const [mention, favourite] = all;
    expect(mention?.account.id).toBe(bob.id);
    expect(mention?.account.acct).toBe(`bob@${REMOTE}`);
    expect(mention?.status?.id).toBe(mentionId);
    expect(mention?.status?.inReplyToId).toBe(first.id);
    expect(favourite?.status?.id).toBe(first.id);
    expect(favourite?.status?.favouritesCount).toBe(2);

    const mentions = await client.v1.notifications.list({ types: ["mention"] });
    expect(mentions.map((n) => n.id)).toEqual([mention?.id]);
    const favourites = await client.v1.notifications.list({ types: ["favourite", "reblog"] });
    expect(favourites.map((n) => n.id)).toEqual([favourite?.id]);
    const excluded = await client.v1.notifications.list({ excludeTypes: ["mention"] });
    expect(excluded.map((n) => n.id)).toEqual([favourite?.id]);
    expect((await client.v1.notifications.$select(mention?.id as string).fetch()).type).toBe("mention");

    await client.v1.notifications.$select(mention?.id as string).dismiss();
    expect((await client.v1.notifications.list()).map((n) => n.id)).toEqual([favourite?.id]);
    const row = server.context.store.db
      .select()
      .from(notifications)
      .where(eq(notifications.id, mention?.id as string))
      .get();
    expect(row?.dismissedAt).toEqual(expect.any(Number));

    // Apps that see 4.5.0 read the filtering policy from v2 (v1 is deprecated since 4.3): nothing is filtered.
    const policy = await client.v2.notifications.policy.fetch();
    expect(policy).toMatchObject({
      forNotFollowing: "accept",
      forNotFollowers: "accept",
      forNewAccounts: "accept",
      forPrivateMentions: "accept",
      forLimitedAccounts: "accept",
      summary: { pendingRequestsCount: 0, pendingNotificationsCount: 0 },
    });
    expect((await client.v1.notifications.unreadCount.fetch()).count).toBe(1);

    await client.v1.notifications.clear();
    expect(await client.v1.notifications.list()).toEqual([]);
  });
});
