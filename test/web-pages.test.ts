/**
 * The owner's public face: profile, status and tag pages and their feeds, read as a visitor would (pages parsed
 * with parse5, feeds with fast-xml-parser), with posts made through the client API (masto).
 */
import { eq } from "drizzle-orm";
import { XMLParser } from "fast-xml-parser";
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statuses } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { remoteAccount, remoteNote } from "./helpers/fixtures.js";
import {
  attr,
  byId,
  byTag,
  type Element,
  findAll,
  hasClass,
  meta,
  parseHtml,
  textOf,
} from "./helpers/html.js";
import { makePng } from "./helpers/png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let client: mastodon.rest.Client;
let token: string;
const posts: Record<string, mastodon.v1.Status> = {};
const ALT = "A red rectangle with a blue corner";
const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" });

async function page(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.origin}${path}`, { headers: { Accept: "text/html", ...headers } });
  const body = await response.text();
  return { response, body, doc: parseHtml(body) };
}

const articles = (doc: Element) => findAll(doc, (el) => el.tagName === "article" && hasClass(el, "status"));
const articleWith = (doc: Element, text: string) => articles(doc).find((a) => textOf(a).includes(text));

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  restoreNativeResponse();
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  // masto's types lack `indexable`: sent as Mastodon's web app does.
  const profile = await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", {
    display_name: "Alice Example",
    note: "Writes about #gardening.",
    discoverable: true,
    indexable: true,
  });
  expect(profile.status).toBe(200);
  const media = await client.v2.media.create({
    file: new Blob([await makePng(64, 48)], { type: "image/png" }),
    description: ALT,
  });
  posts.picture = await client.v1.statuses.create({
    status: "Marker-public with a picture #Gardening",
    spoilerText: "Spoiler-about-plants",
    mediaIds: [media.id],
    visibility: "public",
  });
  posts.unlisted = await client.v1.statuses.create({
    status: "Marker-unlisted #gardening",
    visibility: "unlisted",
  });
  posts.private = await client.v1.statuses.create({
    status: "Marker-private #gardening",
    visibility: "private",
  });
  posts.direct = await client.v1.statuses.create({
    status: "Marker-direct #gardening",
    visibility: "direct",
  });
  posts.poll = await client.v1.statuses.create({
    status: "Marker-poll which one?",
    poll: { options: ["Roses", "Tulips"], expiresIn: 3600 },
  });
});

afterAll(async () => {
  await server?.close();
});

describe("the profile page", () => {
  it("shows the public post with its alt text and a collapsed content warning, and never the others", async () => {
    const { response, doc } = await page("/@alice");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(attr(byTag(doc, "html")[0] as Element, "lang")).toBe("en");
    expect(textOf(byTag(doc, "h1")[0] as Element)).toBe("Alice Example");

    const article = articleWith(doc, "Marker-public");
    expect(article).toBeDefined();
    const details = findAll(article as Element, (el) => el.tagName === "details" && hasClass(el, "cw"))[0];
    expect(details).toBeDefined();
    expect(attr(details as Element, "open")).toBeNull();
    expect(textOf(byTag(details as Element, "summary")[0] as Element)).toBe("Spoiler-about-plants");
    const image = byTag(details as Element, "img")[0];
    expect(attr(image as Element, "alt")).toBe(ALT);
    expect(attr(image as Element, "src")).toMatch(new RegExp(`^${server.origin}/media/`));
    // The post's time is a <time> with the ISO date, and links to the post's page.
    const time = byTag(article as Element, "time")[0] as Element;
    expect(attr(time, "datetime")).toBe(posts.picture?.createdAt);

    const text = textOf(doc);
    expect(text).toContain("Marker-poll");
    for (const hidden of ["Marker-unlisted", "Marker-private", "Marker-direct"])
      expect(text).not.toContain(hidden);
  });

  it("never shows followers-only or direct posts on any list or feed", async () => {
    const paths = [
      "/@alice/with_replies",
      "/@alice/media",
      "/users/alice",
      "/tags/gardening",
      "/@alice.rss",
      "/@alice.atom",
      "/tags/gardening.rss",
      "/tags/gardening.atom",
    ];
    for (const path of paths) {
      const { response, body } = await page(path);
      expect(response.status, path).toBe(200);
      for (const hidden of ["Marker-private", "Marker-direct"]) expect(body, path).not.toContain(hidden);
    }
  });

  it("has OpenGraph and Twitter tags, feed links, a copyable handle and counts", async () => {
    const { doc } = await page("/@alice");
    expect(meta(doc, "og:title")).toBe(`Alice Example (@alice@${server.domain})`);
    expect(meta(doc, "og:description")).toBe("Writes about #gardening.");
    expect(meta(doc, "og:image")).toMatch(/^http/);
    expect(meta(doc, "og:url")).toBe(`${server.origin}/@alice`);
    expect(meta(doc, "twitter:card")).toBe("summary");
    expect(meta(doc, "robots")).toBeNull();
    const alternates = byTag(doc, "link").filter((l) => attr(l, "rel") === "alternate");
    expect(alternates.map((l) => [attr(l, "type"), attr(l, "href")])).toEqual(
      expect.arrayContaining([
        ["application/rss+xml", `${server.origin}/@alice.rss`],
        ["application/atom+xml", `${server.origin}/@alice.atom`],
        ["application/activity+json", `${server.origin}/users/alice`],
      ]),
    );
    expect(attr(byId(doc, "handle") as Element, "value")).toBe(`@alice@${server.domain}`);
    expect(textOf(doc)).toMatch(/5\s*posts/);
    // No scripts, one stylesheet on this server.
    expect(byTag(doc, "script")).toHaveLength(0);
    const sheets = byTag(doc, "link").filter((l) => attr(l, "rel") === "stylesheet");
    expect(sheets.map((l) => attr(l, "href"))).toEqual(["/static/wren.css"]);
    const css = await fetch(`${server.origin}/static/wren.css`);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(await css.text()).toContain("prefers-color-scheme:dark");
  });

  it("is sent under a strict policy: no scripts, media only from this server", async () => {
    const { response } = await page("/@alice");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("media-src 'self'");
    expect(csp).not.toContain("script-src");
    expect(csp).not.toContain("unsafe-inline");
  });

  it("answers an unknown account with an HTML page for browsers and the usual error for scripts", async () => {
    const browser = await page("/@nobody");
    expect(browser.response.status).toBe(404);
    expect(browser.response.headers.get("content-type")).toContain("text/html");
    expect(textOf(byTag(browser.doc, "h1")[0] as Element)).toBe("Not found");
    const script = await fetch(`${server.origin}/@nobody`, { headers: { Accept: "application/json" } });
    expect(script.status).toBe(404);
    expect(script.headers.get("content-type")).not.toContain("text/html");
    expect(await script.text()).toBe("no such account");
  });

  it("shows pinned posts first, and boosts as boosts (never of a non-public post)", async () => {
    const dave = remoteAccount(server, "dave", "remote.example", { displayName: "Dave Remote" });
    const open = remoteNote(server, dave, { content: "<p>Marker-boosted-public</p>" });
    const closed = remoteNote(server, dave, {
      content: "<p>Marker-boosted-followers-only</p>",
      to: [dave.followersUrl ?? ""],
      cc: [],
    });
    await client.v1.statuses.$select(open).reblog();
    // The API lets the owner boost only what may be boosted; the pages' rule is checked on a stored row.
    const { db } = server.context.store;
    const hiddenBoost = { id: "999999999999999999", uri: `${server.origin}/users/alice/statuses/9/activity` };
    db.insert(statuses)
      .values({
        ...hiddenBoost,
        accountId: posts.poll?.account.id as string,
        local: true,
        reblogOfId: closed,
        visibility: "public",
        createdAt: Date.now(),
      })
      .run();
    await client.v1.statuses.$select(posts.poll?.id as string).pin();
    try {
      const { doc } = await page("/@alice");
      const pinned = byId(doc, "pinned");
      expect(pinned).not.toBeNull();
      const firstArticle = articles(doc)[0] as Element;
      expect(textOf(firstArticle)).toContain("Marker-poll");
      const boost = articleWith(doc, "Marker-boosted-public") as Element;
      expect(textOf(findAll(boost, (el) => hasClass(el, "boosted"))[0] as Element)).toBe(
        "Alice Example boosted",
      );
      expect(textOf(boost)).toContain("Dave Remote");
      expect(textOf(doc)).not.toContain("Marker-boosted-followers-only");
      const rss = await (await fetch(`${server.origin}/@alice.rss`)).text();
      expect(rss).toContain("Marker-boosted-public");
      expect(rss).not.toContain("Marker-boosted-followers-only");
    } finally {
      await client.v1.statuses.$select(posts.poll?.id as string).unpin();
      await client.v1.statuses.$select(open).unreblog();
      db.delete(statuses).where(eq(statuses.id, hiddenBoost.id)).run();
    }
  });

  it("is also what a browser gets at the actor URL", async () => {
    const { response, doc } = await page("/users/alice");
    expect(response.status).toBe(200);
    expect(articleWith(doc, "Marker-public")).toBeDefined();
  });

  it("says noindex when the owner is not indexable", async () => {
    const indexable = (value: boolean) =>
      api(server, token, "PATCH", "/api/v1/accounts/update_credentials", { indexable: value });
    expect((await indexable(false)).status).toBe(200);
    try {
      const { doc } = await page("/@alice");
      expect(meta(doc, "robots")).toContain("noindex");
    } finally {
      await indexable(true);
    }
  });

  it("answers 304 to a matching If-None-Match or a recent enough If-Modified-Since", async () => {
    const first = await fetch(`${server.origin}/@alice`);
    await first.text();
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"/);
    const again = await fetch(`${server.origin}/@alice`, { headers: { "If-None-Match": etag as string } });
    expect(again.status).toBe(304);
    const lastModified = first.headers.get("last-modified");
    if (lastModified) {
      const since = await fetch(`${server.origin}/@alice`, {
        headers: { "If-Modified-Since": lastModified },
      });
      expect(since.status).toBe(304);
    }
    const old = await fetch(`${server.origin}/@alice`, {
      headers: { "If-Modified-Since": new Date(Date.now() - 86_400_000).toUTCString() },
    });
    expect(old.status).toBe(200);
    // A new post changes the page.
    const post = await client.v1.statuses.create({ status: "Marker-changes-the-etag" });
    const changed = await fetch(`${server.origin}/@alice`, { headers: { "If-None-Match": etag as string } });
    expect(changed.status).toBe(200);
    await client.v1.statuses.$select(post.id).remove();
  });
});

describe("a status page", () => {
  it("shows the post with its media, CW, time and link previews", async () => {
    const { response, doc } = await page(`/@alice/${posts.picture?.id}`);
    expect(response.status).toBe(200);
    const focus = findAll(doc, (el) => el.tagName === "article" && hasClass(el, "focus"))[0] as Element;
    expect(textOf(focus)).toContain("Marker-public");
    expect(attr(byTag(focus, "img").find((i) => attr(i, "alt") === ALT) as Element, "alt")).toBe(ALT);
    expect(attr(byTag(focus, "details")[0] as Element, "open")).toBeNull();
    expect(attr(byTag(focus, "time")[0] as Element, "datetime")).toBe(posts.picture?.createdAt);
    expect(meta(doc, "og:type")).toBe("article");
    expect(meta(doc, "og:description")).toBe("Content warning: Spoiler-about-plants");
    expect(meta(doc, "og:title")).toBe(`Alice Example (@alice@${server.domain})`);
    // Reply, boost and favourite ask the visitor for their handle.
    const actions = byTag(doc, "a").filter((a) => (attr(a, "href") ?? "").startsWith("/interact?"));
    expect(actions.map(textOf)).toEqual(["Reply", "Boost", "Favourite"]);
  });

  it("writes dates in the reader's language", async () => {
    const { doc } = await page(`/@alice/${posts.picture?.id}`, {
      "Accept-Language": "de-DE,de;q=0.9,en;q=0.5",
    });
    const time = byTag(doc, "time")[0] as Element;
    const expected = new Intl.DateTimeFormat("de-DE", {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "UTC",
    });
    expect(textOf(time)).toBe(`${expected.format(new Date(attr(time, "datetime") as string))} UTC`);
  });

  it("is what a browser gets at the ActivityPub URL", async () => {
    const { response, doc } = await page(`/users/alice/statuses/${posts.picture?.id}`);
    expect(response.status).toBe(200);
    expect(textOf(doc)).toContain("Marker-public");
  });

  it("exists for an unlisted post, marked noindex; never for followers-only or direct posts", async () => {
    const unlisted = await page(`/@alice/${posts.unlisted?.id}`);
    expect(unlisted.response.status).toBe(200);
    expect(textOf(unlisted.doc)).toContain("Marker-unlisted");
    expect(meta(unlisted.doc, "robots")).toContain("noindex");
    for (const key of ["private", "direct"]) {
      const hidden = await page(`/@alice/${posts[key]?.id}`);
      expect(hidden.response.status).toBe(404);
      expect(hidden.body).not.toContain(`Marker-${key}`);
      const viaActor = await page(`/users/alice/statuses/${posts[key]?.id}`);
      expect(viaActor.body).not.toContain(`Marker-${key}`);
    }
  });

  it("shows poll results and the edited marker", async () => {
    await client.v1.statuses.$select(posts.poll?.id as string).update({
      status: "Marker-poll which one? (edited)",
      poll: { options: ["Roses", "Tulips"], expiresIn: 3600 },
    });
    const { doc } = await page(`/@alice/${posts.poll?.id}`);
    const focus = findAll(doc, (el) => el.tagName === "article" && hasClass(el, "focus"))[0] as Element;
    const options = findAll(focus, (el) => el.tagName === "ul" && hasClass(el, "poll")).flatMap((ul) =>
      byTag(ul, "li"),
    );
    expect(options.map((li) => textOf(li))).toEqual([
      expect.stringContaining("Roses"),
      expect.stringContaining("Tulips"),
    ]);
    expect(byTag(focus, "meter")).toHaveLength(2);
    const edited = findAll(focus, (el) => hasClass(el, "edited"))[0] as Element;
    expect(textOf(edited)).toContain("edited");
    expect(attr(byTag(edited, "time")[0] as Element, "datetime")).toMatch(/^\d{4}-/);
  });

  it("shows the public thread around the post, local and remote, without the non-public replies", async () => {
    const bob = remoteAccount(server, "bob", "remote.example", { displayName: "Bob Remote" });
    const root = posts.picture as mastodon.v1.Status;
    const reply = await client.v1.statuses.create({ status: "Marker-own-reply", inReplyToId: root.id });
    remoteNote(server, bob, { inReplyTo: root.uri, content: "<p>Marker-remote-reply</p>" });
    remoteNote(server, bob, {
      inReplyTo: root.uri,
      content: "<p>Marker-remote-followers-only</p>",
      to: [bob.followersUrl ?? ""],
      cc: [],
    });
    const { doc } = await page(`/@alice/${reply.id}`);
    expect(textOf(articleWith(doc, "Marker-public") as Element)).toContain("Spoiler-about-plants");
    const rootPage = await page(`/@alice/${root.id}`);
    const text = textOf(rootPage.doc);
    expect(text).toContain("Marker-own-reply");
    expect(text).toContain("Marker-remote-reply");
    expect(text).not.toContain("Marker-remote-followers-only");
    // A remote author's avatar is never loaded from their server.
    for (const img of byTag(rootPage.doc, "img"))
      expect(attr(img, "src")).toMatch(new RegExp(`^${server.origin}/`));
  });
});

describe("the tag page", () => {
  it("lists the owner's public posts with the tag and links its feed", async () => {
    const { response, doc } = await page("/tags/gardening");
    expect(response.status).toBe(200);
    const text = textOf(doc);
    expect(text).toContain("Marker-public");
    for (const hidden of ["Marker-unlisted", "Marker-private", "Marker-direct"])
      expect(text).not.toContain(hidden);
    const rss = byTag(doc, "link").find((l) => attr(l, "type") === "application/rss+xml");
    expect(attr(rss as Element, "href")).toBe(`${server.origin}/tags/gardening.rss`);
    expect((await fetch(`${server.origin}/tags/no-such-tag`)).status).toBe(404);
  });

  it("is where the hashtag links of posts point", async () => {
    const { doc } = await page(`/@alice/${posts.picture?.id}`);
    const link = byTag(doc, "a").find((a) => hasClass(a, "hashtag"));
    // As typed in the post, as Mastodon links it; the tag page answers any case.
    expect(attr(link as Element, "href")).toBe(`${server.origin}/tags/Gardening`);
    expect((await fetch(`${server.origin}/tags/Gardening`)).status).toBe(200);
  });
});

describe("feeds", () => {
  it("the profile's RSS 2.0 feed has the public posts with full HTML and the image as enclosure", async () => {
    const response = await fetch(`${server.origin}/@alice.rss`);
    expect(response.headers.get("content-type")).toContain("application/rss+xml");
    const body = await response.text();
    const feed = xml.parse(body);
    expect(feed.rss["@version"]).toBe("2.0");
    const items = [feed.rss.channel.item].flat();
    const links = items.map((i: { link: string }) => i.link);
    expect(links).toContain(`${server.origin}/@alice/${posts.picture?.id}`);
    expect(links).toContain(`${server.origin}/@alice/${posts.poll?.id}`);
    const picture = items.find((i: { link: string }) => i.link.endsWith(posts.picture?.id as string));
    expect(picture["content:encoded"]).toContain("Spoiler-about-plants");
    expect(picture["content:encoded"]).toContain(`alt="${ALT}"`);
    expect(picture.enclosure["@url"]).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(picture.enclosure["@type"]).toMatch(/^image\//);
    for (const hidden of ["Marker-unlisted", "Marker-private", "Marker-direct"])
      expect(body).not.toContain(hidden);
  });

  it("the profile's Atom feed and the tag's feed", async () => {
    const atomBody = await (await fetch(`${server.origin}/@alice.atom`)).text();
    const atom = xml.parse(atomBody);
    expect(atom.feed["@xmlns"]).toBe("http://www.w3.org/2005/Atom");
    const entries = [atom.feed.entry].flat();
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(
      entries.every((e: { id: string }) => e.id.startsWith(`${server.origin}/users/alice/statuses/`)),
    ).toBe(true);
    for (const hidden of ["Marker-unlisted", "Marker-private", "Marker-direct"])
      expect(atomBody).not.toContain(hidden);

    const tagBody = await (await fetch(`${server.origin}/tags/gardening.rss`)).text();
    const tag = xml.parse(tagBody);
    const items = [tag.rss.channel.item].flat();
    expect(items.map((i: { link: string }) => i.link)).toEqual([
      `${server.origin}/@alice/${posts.picture?.id}`,
    ]);
    expect((await fetch(`${server.origin}/tags/gardening.atom`)).status).toBe(200);
  });
});

describe("paging", () => {
  it("walks older and newer pages without JavaScript", async () => {
    const made: string[] = [];
    for (let i = 0; i < 22; i++)
      made.push((await client.v1.statuses.create({ status: `Marker-page-${i}` })).id);
    const first = await page("/@alice");
    const firstIds = articles(first.doc).map((a) => attr(a, "id"));
    expect(firstIds).toHaveLength(20);
    expect(textOf(first.doc)).toContain("Marker-page-21");
    const older = byTag(first.doc, "a").find((a) => attr(a, "rel") === "next") as Element;
    expect(byTag(first.doc, "a").find((a) => attr(a, "rel") === "prev")).toBeUndefined();
    const second = await page(
      new URL(attr(older, "href") as string).pathname + new URL(attr(older, "href") as string).search,
    );
    const secondIds = articles(second.doc).map((a) => attr(a, "id"));
    expect(secondIds.length).toBeGreaterThan(0);
    expect(secondIds.filter((id) => firstIds.includes(id))).toEqual([]);
    expect(textOf(second.doc)).toContain("Marker-public");
    expect(textOf(second.doc)).not.toContain("Marker-page-21");
    const newer = byTag(second.doc, "a").find((a) => attr(a, "rel") === "prev") as Element;
    const back = await page(
      new URL(attr(newer, "href") as string).pathname + new URL(attr(newer, "href") as string).search,
    );
    expect(articles(back.doc).map((a) => attr(a, "id"))).toEqual(firstIds);
    for (const id of made) await client.v1.statuses.$select(id).remove();
  });

  it("has a media tab and a tab with replies", async () => {
    const media = await page("/@alice/media");
    expect(articles(media.doc).map((a) => textOf(a).includes("Marker-public"))).toEqual([true]);
    const carol = remoteAccount(server, "carol", "remote.example");
    const theirs = remoteNote(server, carol, { content: "<p>carol's post</p>" });
    await client.v1.statuses.create({ status: "Marker-reply-to-carol", inReplyToId: theirs });
    expect(textOf((await page("/@alice")).doc)).not.toContain("Marker-reply-to-carol");
    expect(textOf((await page("/@alice/with_replies")).doc)).toContain("Marker-reply-to-carol");
  });
});
