// megalodon (the client library of Whalebird and Fedistar) drives a real Wren over HTTP: app registration,
// the authorization-code flow through the login and consent pages (megalodon's own, and with PKCE), then the
// everyday work of an app. Notifications come from a remote account fixture acting through the core
// (receiveLike, receiveNote); the federation with a real peer is in clients-peer.test.ts.
import { createReadStream } from "node:fs";
import { eq } from "drizzle-orm";
import megalodon, { detector, type Entity, type MegalodonInterface } from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receiveLike } from "../src/core/interactions.js";
import type { AccountRow } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import {
  accounts,
  follows,
  mediaAttachments,
  notifications,
  oauthTokens,
  statuses,
} from "../src/store/schema.js";
import { byIdDescending, freshRemoteAccount, REMOTE } from "./helpers/clients.js";
import { queuedFor, remoteNote } from "./helpers/fixtures.js";
import { authorizeWithPkce, Browser, clickThrough, codeFrom } from "./helpers/oauth-flow.js";
import { writePng } from "./helpers/png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * megalodon is CommonJS with `exports.default = generator`: vitest's interop hands the generator itself to a
 * default import, plain Node ESM hands module.exports. Take whichever this runtime gave.
 */
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

const REDIRECT_URI = "https://megalodon-client.example/callback";

let server: TestServer;
let client: MegalodonInterface;
let me: Entity.Account;
let bob: AccountRow;
let pngPath: string;
let app: { clientId: string; clientSecret: string };

const posts: Record<string, Entity.Status> = {};
let media: Entity.Attachment | Entity.AsyncAttachment;

/** The HTTP error megalodon (axios) throws: status and body of Wren's answer. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ status: number; data: Record<string, unknown> }> {
  const error = (await promise.then(
    () => {
      throw new Error("the request was expected to fail");
    },
    (e: unknown) => e,
  )) as { response?: { status: number; data: Record<string, unknown> } };
  if (!error.response) throw error;
  return { status: error.response.status, data: error.response.data };
}

/** megalodon's own HTTP client (axios, with the token), for what its methods do not cover. */
interface MegalodonHttp {
  get<T>(
    path: string,
    params?: unknown,
  ): Promise<{ status: number; data: T; headers: Record<string, unknown> }>;
  patchForm<T>(path: string, params: unknown): Promise<{ status: number; data: T }>;
}

function http(): MegalodonHttp {
  return (client as MegalodonInterface & { client: MegalodonHttp }).client;
}

/** postStatus answers a Status, or a ScheduledStatus when scheduled_at is given (never here). */
async function post(
  text: string,
  options: Parameters<MegalodonInterface["postStatus"]>[1] = {},
): Promise<Entity.Status> {
  const { data } = await client.postStatus(text, options);
  if (!("uri" in data)) throw new Error(`expected a status, got ${JSON.stringify(data)}`);
  return data;
}

/** The URL of a relation in a Link header (RFC 8288), or null. */
function linkOf(header: unknown, rel: string): URL | null {
  if (typeof header !== "string") return null;
  for (const part of header.split(/,\s*(?=<)/)) {
    const match = part.match(/^<([^>]+)>\s*;\s*rel="([^"]+)"/);
    if (match?.[2] === rel && match[1]) return new URL(match[1]);
  }
  return null;
}

/**
 * Pages a timeline the way a megalodon app scrolls: each next page asked with the max_id of the response's
 * `next` link, until a page comes without one. Returns the pages.
 */
async function pageThrough(
  load: (maxId: string | undefined) => Promise<{ data: Entity.Status[]; headers: Record<string, unknown> }>,
): Promise<Entity.Status[][]> {
  const pages: Entity.Status[][] = [];
  let maxId: string | undefined;
  for (;;) {
    const res = await load(maxId);
    pages.push(res.data);
    const next = linkOf(res.headers.link, "next");
    if (!next) break;
    expect(next.searchParams.get("limit")).toBe("10");
    maxId = next.searchParams.get("max_id") ?? undefined;
    expect(maxId).toBe(res.data.at(-1)?.id);
    if (pages.length > 50) throw new Error("the timeline does not end");
  }
  return pages;
}

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  bob = freshRemoteAccount(server, "bob");
  pngPath = await writePng(server.dir, "picture.png", 64, 48);
});

afterAll(async () => {
  await server?.close();
});

describe("megalodon against Wren", () => {
  it("is detected as a Mastodon-compatible server from its NodeInfo, as apps like Whalebird do first", async () => {
    expect(await detector(server.origin)).toBe("mastodon");
  });

  it("registers an app and completes megalodon's own authorization-code flow", async () => {
    const anonymous = generator("mastodon", server.origin);
    const instance = await anonymous.getInstance();
    expect(instance.data.uri).toBe(server.domain);
    expect(instance.data.version).toMatch(/^4\.5\.0 \(compatible; Wren /);

    const registered = await anonymous.registerApp("megalodon test", {
      scopes: ["read", "write", "follow"],
      redirect_uris: REDIRECT_URI,
      website: "https://megalodon-client.example",
    });
    expect(registered.name).toBe("megalodon test");
    expect(registered.redirect_uri).toBe(REDIRECT_URI);
    app = { clientId: registered.client_id, clientSecret: registered.client_secret };
    // megalodon builds the authorize URL itself; a browser opens it.
    const url = new URL(registered.url ?? "");
    expect(`${url.origin}${url.pathname}`).toBe(`${server.origin}/oauth/authorize`);
    expect(url.searchParams.get("client_id")).toBe(app.clientId);

    const done = await clickThrough(new Browser(server.origin), url.href);
    expect(done.status).toBe(302);
    const { code } = codeFrom(done.headers.get("location"));
    const token = await anonymous.fetchAccessToken(app.clientId, app.clientSecret, code, REDIRECT_URI);
    expect(token.token_type).toBe("Bearer");
    expect(token.scope).toBe("read write follow");
    const withToken = generator("mastodon", server.origin, token.access_token);
    const verifiedApp = (await withToken.verifyAppCredentials()).data;
    expect(verifiedApp.name).toBe("megalodon test");
    expect(verifiedApp.vapid_key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect((await withToken.verifyAccountCredentials()).data.username).toBe("alice");

    // The token is revocable through megalodon, after which it is refused.
    await anonymous.revokeToken(app.clientId, app.clientSecret, token.access_token);
    expect((await failure(withToken.verifyAccountCredentials())).status).toBe(401);
  });

  it("logs in with PKCE: megalodon cannot send the verifier, so the code is exchanged with fetch", async () => {
    const { code, verifier } = await authorizeWithPkce(server.origin, {
      clientId: app.clientId,
      redirectUri: REDIRECT_URI,
      scope: "read write follow",
    });
    // megalodon's fetchAccessToken has no code_verifier parameter: Wren refuses a PKCE code without it...
    const anonymous = generator("mastodon", server.origin);
    const refused = await failure(
      anonymous.fetchAccessToken(app.clientId, app.clientSecret, code, REDIRECT_URI),
    );
    expect(refused.status).toBe(400);
    expect(refused.data.error).toBe("invalid_grant");

    // ...and the same, still unused, code works with the verifier.
    const response = await fetch(`${server.origin}/oauth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: app.clientId,
        client_secret: app.clientSecret,
        redirect_uri: REDIRECT_URI,
        code,
        code_verifier: verifier,
      }),
    });
    expect(response.status).toBe(200);
    const token = (await response.json()) as { access_token: string; token_type: string; scope: string };
    expect(token).toMatchObject({ token_type: "Bearer", scope: "read write follow" });
    const live = server.context.store.db
      .select()
      .from(oauthTokens)
      .all()
      .filter((t) => t.revokedAt === null && t.userId !== null);
    expect(live).toHaveLength(1);

    client = generator("mastodon", server.origin, token.access_token);
    me = (await client.verifyAccountCredentials()).data;
    expect(me.username).toBe("alice");
    expect(me.acct).toBe("alice");
    expect(me.source?.privacy).toBe("public");
  });

  it("updates the profile; the avatar goes as multipart through megalodon's HTTP client", async () => {
    const profile = await client.updateCredentials({
      display_name: "Alice (megalodon)",
      note: "Posting from megalodon",
      fields_attributes: [{ name: "Client", value: "megalodon" }],
    });
    expect(profile.data.display_name).toBe("Alice (megalodon)");
    expect(profile.data.source?.note).toBe("Posting from megalodon");
    expect(profile.data.fields.map((f) => [f.name, f.value])).toEqual([["Client", "megalodon"]]);

    // updateCredentials sends JSON, which cannot carry a file: the path string is refused with a JSON error.
    const asJson = await failure(client.updateCredentials({ avatar: pngPath }));
    expect(asJson.status).toBe(422);
    expect(asJson.data.error).toEqual(expect.stringContaining("multipart"));

    const updated = await http().patchForm<Entity.Account>("/api/v1/accounts/update_credentials", {
      avatar: createReadStream(pngPath),
    });
    expect(updated.status).toBe(200);
    expect(updated.data.display_name).toBe("Alice (megalodon)");
    expect(updated.data.avatar).not.toContain("/static/");
    const image = await fetch(updated.data.avatar);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    const account = server.context.store.db.select().from(accounts).where(eq(accounts.id, me.id)).get();
    expect(account?.avatarUrl).toBe(updated.data.avatar);
    expect((await client.verifyAccountCredentials()).data.avatar).toBe(updated.data.avatar);
  });

  it("posts with a mention, a hashtag and a link; the mentioned account gets the Create", async () => {
    const status = await post(
      `Hi @bob@${REMOTE}, look: https://example.org/megalodon/story #MegalodonStory`,
      {
        visibility: "public",
        language: "en",
      },
    );
    posts.first = status;
    expect(status.account.id).toBe(me.id);
    expect(status.visibility).toBe("public");
    expect(status.application?.name).toBe("megalodon test");
    expect(status.mentions).toEqual([
      { id: bob.id, username: "bob", acct: `bob@${REMOTE}`, url: `https://${REMOTE}/@bob` },
    ]);
    expect(status.tags.map((t) => t.name)).toEqual(["MegalodonStory"]);
    expect(status.content).toContain(`href="https://${REMOTE}/@bob"`);
    expect(status.content).toContain('href="https://example.org/megalodon/story"');
    expect(status.content).toContain(`href="${server.origin}/tags/MegalodonStory"`);

    const [create] = queuedFor(server, `https://${REMOTE}/inbox`).filter(
      (a) => a.type === "Create" && (a.object as { id?: string }).id === status.uri,
    );
    const note = create?.object as { cc: string[]; tag: { type: string; href?: string }[] };
    expect(note.cc).toContain(bob.uri);
    expect(note.tag).toContainEqual(expect.objectContaining({ type: "Mention", href: bob.uri }));
  });

  it("uploads an image (form-data stream) with a description and focus, and posts it", async () => {
    const uploaded = await client.uploadMedia(createReadStream(pngPath), {
      description: "A red rectangle, from megalodon",
      focus: "-0.5,0.75",
    });
    expect(uploaded.status).toBe(200);
    media = uploaded.data;
    expect(media.type).toBe("image");
    expect(media.url).toEqual(expect.stringContaining(`${server.origin}/media/`));
    expect(media.description).toBe("A red rectangle, from megalodon");
    expect(media.meta).toMatchObject({ focus: { x: -0.5, y: 0.75 }, original: { width: 64, height: 48 } });
    expect((await client.getMedia(media.id)).data.url).toBe(media.url);

    const status = await post("A picture from megalodon", { media_ids: [media.id] });
    posts.picture = status;
    expect(status.media_attachments.map((m) => m.id)).toEqual([media.id]);
    expect(status.media_attachments[0]?.description).toBe("A red rectangle, from megalodon");
  });

  it("replies, favourites, boosts, bookmarks and pins", async () => {
    const first = posts.first as Entity.Status;
    const reply = await post("A reply from megalodon", { in_reply_to_id: first.id });
    expect(reply.in_reply_to_id).toBe(first.id);
    const context = await client.getStatusContext(first.id);
    expect(context.data.descendants.map((s) => s.id)).toEqual([reply.id]);

    expect((await client.favouriteStatus(first.id)).data).toMatchObject({
      favourited: true,
      favourites_count: 1,
    });
    const { data: boost } = await client.reblogStatus(first.id);
    posts.boost = boost;
    expect(boost.reblog?.id).toBe(first.id);
    expect(boost.reblog?.reblogged).toBe(true);
    expect((await client.bookmarkStatus(first.id)).data.bookmarked).toBe(true);
    expect((await client.pinStatus(first.id)).data.pinned).toBe(true);

    const { data: fetched } = await client.getStatus(first.id);
    expect(fetched).toMatchObject({
      favourited: true,
      reblogged: true,
      bookmarked: true,
      pinned: true,
      replies_count: 1,
      reblogs_count: 1,
      favourites_count: 1,
    });
    expect((await client.getBookmarks()).data.map((s) => s.id)).toEqual([first.id]);
    expect((await client.getFavourites()).data.map((s) => s.id)).toEqual([first.id]);
    expect((await client.getAccountStatuses(me.id, { pinned: true })).data.map((s) => s.id)).toEqual([
      first.id,
    ]);
    expect((await client.getStatusRebloggedBy(first.id)).data.map((a) => a.id)).toEqual([me.id]);
    expect((await client.getStatusFavouritedBy(first.id)).data.map((a) => a.id)).toEqual([me.id]);
  });

  it("edits a status and reads its history", async () => {
    const picture = posts.picture as Entity.Status;
    const { data: edited } = await client.editStatus(picture.id, {
      status: "A picture from megalodon, edited",
      media_ids: [media.id],
    });
    posts.picture = edited;
    expect(edited.id).toBe(picture.id);
    expect(edited.edited_at).toEqual(expect.any(String));
    expect(edited.content).toContain("edited");
    expect(edited.media_attachments.map((m) => m.id)).toEqual([media.id]);

    // megalodon 10 has no method for the history: its HTTP client reads it.
    const history = await http().get<{ content: string; media_attachments: { id: string }[] }[]>(
      `/api/v1/statuses/${picture.id}/history`,
    );
    expect(history.data.map((v) => v.content.includes("edited"))).toEqual([false, true]);
    expect(history.data[0]?.media_attachments.map((m) => m.id)).toEqual([media.id]);
    expect((await client.getStatusSource(picture.id)).data).toEqual({
      id: picture.id,
      text: "A picture from megalodon, edited",
      spoiler_text: "",
    });
  });

  it("deletes and redrafts with the source text and the same media", async () => {
    const picture = posts.picture as Entity.Status;
    // megalodon's status converter drops `text` from the delete response: read the source first, as apps do.
    const { data: source } = await client.getStatusSource(picture.id);
    const deleted = (await client.deleteStatus(picture.id)).data as Entity.Status;
    expect(deleted.id).toBe(picture.id);
    expect(deleted.media_attachments.map((m) => m.id)).toEqual([media.id]);
    expect((await failure(client.getStatus(picture.id))).status).toBe(404);

    const redraft = await post(source.text, {
      media_ids: deleted.media_attachments.map((m) => m.id),
      visibility: deleted.visibility,
    });
    posts.picture = redraft;
    expect(redraft.id).not.toBe(picture.id);
    expect(redraft.content).toContain("A picture from megalodon, edited");
    expect(redraft.media_attachments.map((m) => m.id)).toEqual([media.id]);
    const row = server.context.store.db
      .select()
      .from(mediaAttachments)
      .where(eq(mediaAttachments.id, media.id))
      .get();
    expect(row?.statusId).toBe(redraft.id);
  });

  it("pages the home, public and tag timelines by the next links of the Link headers", async () => {
    const created: string[] = [];
    for (let i = 1; i <= 25; i++) {
      created.push((await post(`Megalodon timeline ${i} #MegalodonPaging`)).id);
    }
    const newestFirst = [...created].reverse();
    const live = server.context.store.db
      .select({ id: statuses.id, deletedAt: statuses.deletedAt })
      .from(statuses)
      .where(eq(statuses.accountId, me.id))
      .all()
      .filter((s) => s.deletedAt === null)
      .map((s) => s.id)
      .sort(byIdDescending);
    const boostId = (posts.boost as Entity.Status).id;

    const check = (pages: Entity.Status[][], expected: string[]) => {
      // Full pages, the rest, then the empty page that ends it (it carries no Link header).
      const sizes = [...Array<number>(Math.floor(expected.length / 10)).fill(10), expected.length % 10, 0];
      expect(pages.map((p) => p.length)).toEqual(sizes.filter((n, i) => n > 0 || i === sizes.length - 1));
      const ids = pages.flat().map((s) => s.id);
      expect(ids).toEqual(expected);
      expect(new Set(ids).size).toBe(ids.length);
    };

    const home = await pageThrough((max_id) => client.getHomeTimeline({ limit: 10, max_id }));
    check(home, live);
    expect(
      home
        .flat()
        .slice(0, 25)
        .map((s) => s.id),
    ).toEqual(newestFirst);

    // megalodon sends local=false on the public timeline: all of it, boosts excepted.
    const publicPages = await pageThrough((max_id) => client.getPublicTimeline({ limit: 10, max_id }));
    check(
      publicPages,
      live.filter((id) => id !== boostId),
    );
    const localPages = await pageThrough((max_id) => client.getLocalTimeline({ limit: 10, max_id }));
    check(
      localPages,
      live.filter((id) => id !== boostId),
    );

    const tagPages = await pageThrough((max_id) =>
      client.getTagTimeline("MegalodonPaging", { limit: 10, max_id }),
    );
    check(tagPages, newestFirst);
    expect(tagPages.map((p) => p.length)).toEqual([10, 10, 5, 0]);

    // The raw header once, as Mastodon writes it: absolute URLs, next (max_id) first, then prev (min_id).
    const raw = await fetch(`${server.origin}/api/v1/timelines/tag/MegalodonPaging?limit=10`);
    const page = (await raw.json()) as { id: string }[];
    expect(raw.headers.get("link")).toBe(
      `<${server.origin}/api/v1/timelines/tag/MegalodonPaging?limit=10&max_id=${page[9]?.id}>; rel="next", ` +
        `<${server.origin}/api/v1/timelines/tag/MegalodonPaging?limit=10&min_id=${page[0]?.id}>; rel="prev"`,
    );
    expect(raw.headers.get("access-control-expose-headers")).toContain("Link");
  });

  it("reads followers with get_all: megalodon's own Link parser walks the pages to the end", async () => {
    // Five remote followers (the fixture plus four more), newest follow first.
    const fans = [bob, ...["carol", "dave", "erin", "frank"].map((name) => freshRemoteAccount(server, name))];
    for (const fan of fans) {
      server.context.store.db
        .insert(follows)
        .values({
          id: newId(),
          followerId: fan.id,
          followingId: me.id,
          state: "accepted",
          createdAt: Date.now(),
        })
        .run();
    }
    const expected = [...fans].reverse().map((a) => a.id);
    // Pages of 2, 2 and 1: the short last page offers no `next`, so megalodon stops there (as with Mastodon).
    const all = await client.getAccountFollowers(me.id, { limit: 2, get_all: true });
    expect(all.data.map((a) => a.id)).toEqual(expected);
    const firstPage = await client.getAccountFollowers(me.id, { limit: 2 });
    expect(linkOf(firstPage.headers.link, "next")?.searchParams.get("limit")).toBe("2");
    const whole = await client.getAccountFollowers(me.id, { get_all: true });
    expect(whole.data.map((a) => a.id)).toEqual(expected);
    expect(linkOf(whole.headers.link, "next")).toBeNull();
    expect(linkOf(whole.headers.link, "prev")).not.toBeNull();
    expect((await client.verifyAccountCredentials()).data.followers_count).toBe(5);
  });

  it("searches, lists notifications and dismisses one", async () => {
    const first = posts.first as Entity.Status;
    const found = await client.search(`bob@${REMOTE}`, { type: "accounts" });
    expect(found.data.accounts.map((a) => a.id)).toEqual([bob.id]);
    const tags = await client.search("#megalodon", { type: "hashtags" });
    expect(tags.data.hashtags.map((t) => t.name)).toEqual(["MegalodonStory", "MegalodonPaging"]);
    expect((await client.lookupAccount(`bob@${REMOTE}`)).data.id).toBe(bob.id);

    expect(receiveLike(server.context, bob, first.uri, `https://${REMOTE}/likes/m1`)).toBe(true);
    const mentionId = remoteNote(server, bob, {
      uri: `https://${REMOTE}/users/bob/statuses/m1`,
      content: `<p><span class="h-card"><a href="${server.origin}/@alice" class="u-url mention">@alice</a></span> hello from bob</p>`,
      to: [`${server.origin}/users/alice`],
      cc: [],
      mentions: [`${server.origin}/users/alice`],
    });

    const all = (await client.getNotifications()).data;
    expect(all.map((n) => n.type)).toEqual(["mention", "favourite"]);
    const [mention, favourite] = all;
    expect(mention?.account?.acct).toBe(`bob@${REMOTE}`);
    expect(mention?.status?.id).toBe(mentionId);
    expect(mention?.status?.visibility).toBe("direct");
    expect(favourite?.status?.id).toBe(first.id);

    // megalodon filters with exclude_types[] (it has no types[] parameter).
    const onlyFavourites = await client.getNotifications({ exclude_types: ["mention", "reblog", "follow"] });
    expect(onlyFavourites.data.map((n) => n.id)).toEqual([favourite?.id]);
    expect((await client.getNotification(mention?.id as string)).data.type).toBe("mention");

    await client.dismissNotification(mention?.id as string);
    expect((await client.getNotifications()).data.map((n) => n.id)).toEqual([favourite?.id]);
    const row = server.context.store.db
      .select()
      .from(notifications)
      .where(eq(notifications.id, mention?.id as string))
      .get();
    expect(row?.dismissedAt).toEqual(expect.any(Number));
  });
});
