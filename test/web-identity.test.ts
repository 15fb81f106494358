/**
 * Identity and interaction on the public pages: profile link verification against local pages, remote follow
 * through the visitor's WebFinger subscribe template (the Fedify peer's), /authorize_interaction for the
 * logged-in owner, and hiding posts from visitors.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linkVerificationSettled } from "../src/federation/verify-links.js";
import { findLocalUser } from "../src/store/accounts.js";
import { issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, startFedifyPeer } from "./helpers/fedify-peer.js";
import {
  attr,
  byId,
  byTag,
  type Element,
  findAll,
  formOf,
  hasClass,
  parseHtml,
  textOf,
} from "./helpers/html.js";
import { Browser } from "./helpers/oauth-flow.js";
import { startTestServer, TEST_PASSWORD, type TestServer } from "./helpers/server.js";

let server: TestServer;
let client: mastodon.rest.Client;
let peer: FedifyPeer;
let pages: Server;
let pagesOrigin: string;
let pagesDown = false;

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  restoreNativeResponse();
  client = createRestAPIClient({ url: server.origin, accessToken: issueToken(server) });
  // Two personal pages on this machine: one links back to Alice with rel="me", the other links without it.
  pages = createServer((req, res) => {
    if (pagesDown) {
      res.writeHead(503).end();
      return;
    }
    const profile = `${server.origin}/@alice`;
    const body =
      req.url === "/links-back"
        ? `<!doctype html><html><head><title>Me</title><link rel="me" href="${profile}"></head><body><p>Hi</p></body></html>`
        : req.url === "/anchor-back"
          ? `<!doctype html><html><body><a rel="noopener me" href="${profile}">Mastodon</a></body></html>`
          : `<!doctype html><html><body><a href="${profile}">Mastodon</a><script>var a = '<a rel="me" href="${profile}">';</script></body></html>`;
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(body);
  });
  await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
  pagesOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all([server?.close(), peer?.close(), new Promise((resolve) => pages?.close(resolve))]);
});

describe("profile link verification", () => {
  it("marks a field verified when its page links back with rel=me, and not otherwise", async () => {
    await client.v1.accounts.updateCredentials({
      fieldsAttributes: [
        { name: "Site", value: `${pagesOrigin}/links-back` },
        { name: "Blog", value: `${pagesOrigin}/anchor-back` },
        { name: "Other", value: `${pagesOrigin}/no-link-back` },
        { name: "Plain", value: "not a link" },
      ],
    });
    await linkVerificationSettled(server.context);
    const me = await client.v1.accounts.verifyCredentials();
    const verified = Object.fromEntries(me.fields.map((f) => [f.name, f.verifiedAt]));
    expect(verified.Site).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(verified.Blog).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(verified.Other).toBeNull();
    expect(verified.Plain).toBeNull();

    // The profile page marks the verified fields and links every field URL with rel="me".
    const doc = parseHtml(await (await fetch(`${server.origin}/@alice`)).text());
    const values = findAll(doc, (el) => el.tagName === "dd");
    const verifiedTexts = values.filter((dd) => hasClass(dd, "verified")).map(textOf);
    expect(verifiedTexts).toHaveLength(2);
    expect(verifiedTexts.join(" ")).toContain("links-back");
    const links = values.flatMap((dd) => byTag(dd, "a"));
    expect(links.map((a) => attr(a, "rel")?.split(" ").includes("me"))).toEqual([true, true, true]);
  });

  it("keeps a verified link verified when the profile is saved again and its page cannot be read", async () => {
    const before = (await client.v1.accounts.verifyCredentials()).fields.find((f) => f.name === "Site");
    expect(before?.verifiedAt).toEqual(expect.any(String));
    pagesDown = true;
    try {
      await client.v1.accounts.updateCredentials({
        displayName: "Alice, saved again",
        fieldsAttributes: [
          { name: "Site", value: `${pagesOrigin}/links-back` },
          { name: "Other", value: `${pagesOrigin}/no-link-back` },
        ],
      });
      await linkVerificationSettled(server.context);
    } finally {
      pagesDown = false;
    }
    const fields = (await client.v1.accounts.verifyCredentials()).fields;
    expect(fields.map((f) => [f.name, f.verifiedAt])).toEqual([
      ["Site", before?.verifiedAt],
      ["Other", null],
    ]);
  });

  it("checks again when the fields change", async () => {
    await client.v1.accounts.updateCredentials({
      fieldsAttributes: [{ name: "Site", value: `${pagesOrigin}/no-link-back` }],
    });
    await linkVerificationSettled(server.context);
    const fields = findLocalUser(server.context.store.db)?.account.fields ?? [];
    expect(fields.map((f) => [f.name, f.verifiedAt ?? null])).toEqual([["Site", null]]);
  });
});

describe("remote follow", () => {
  it("WebFinger advertises authorize_interaction as the subscribe template", async () => {
    const jrd = (await (
      await fetch(`${server.origin}/.well-known/webfinger?resource=acct:alice@${server.domain}`)
    ).json()) as { links: { rel: string; template?: string }[] };
    expect(jrd.links).toContainEqual({
      rel: "http://ostatus.org/schema/1.0/subscribe",
      template: `${server.origin}/authorize_interaction?uri={uri}`,
    });
  });

  it("the profile's form sends the visitor to their own server's subscribe template", async () => {
    const doc = parseHtml(await (await fetch(`${server.origin}/@alice`)).text());
    const form = formOf(byId(doc, "remote-follow") as Element);
    expect(form.method).toBe("post");
    expect(form.fields.uri).toBe(`${server.origin}/users/alice`);
    const response = await fetch(new URL(form.action, server.origin), {
      method: "POST",
      body: new URLSearchParams({ ...form.fields, acct: `@${peer.handle}` }),
      redirect: "manual",
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(
      `${peer.origin}/authorize_interaction?uri=${encodeURIComponent(`${server.origin}/users/alice`)}`,
    );
  });

  it("a status's Reply link asks for the handle the same way", async () => {
    const post = await client.v1.statuses.create({ status: "Reply to me" });
    const doc = parseHtml(await (await fetch(`${server.origin}/@alice/${post.id}`)).text());
    const reply = byTag(doc, "a").find((a) => textOf(a) === "Reply") as Element;
    const interact = parseHtml(
      await (await fetch(new URL(attr(reply, "href") as string, server.origin))).text(),
    );
    const form = formOf(byTag(interact, "form")[0] as Element);
    expect(form.fields).toMatchObject({ uri: post.uri, action: "reply" });
    const response = await fetch(new URL(form.action, server.origin), {
      method: "POST",
      body: new URLSearchParams({ ...form.fields, acct: peer.handle }),
      redirect: "manual",
    });
    expect(response.headers.get("location")).toBe(
      `${peer.origin}/authorize_interaction?uri=${encodeURIComponent(post.uri)}`,
    );
  });

  it("says so when the visitor's server cannot be asked", async () => {
    const response = await fetch(`${server.origin}/interact`, {
      method: "POST",
      body: new URLSearchParams({ uri: `${server.origin}/users/alice`, action: "follow", acct: "nobody" }),
      redirect: "manual",
    });
    expect(response.status).toBe(422);
    const doc = parseHtml(await response.text());
    expect(findAll(doc, (el) => hasClass(el, "error")).length).toBe(1);
    // Only this server's accounts and posts are offered.
    const elsewhere = await fetch(
      `${server.origin}/interact?${new URLSearchParams({ uri: `${peer.origin}/x` })}`,
    );
    expect(elsewhere.status).toBe(400);
    expect(byTag(parseHtml(await elsewhere.text()), "form")).toHaveLength(0);
  });
});

describe("authorize_interaction", () => {
  it("asks the owner to log in, resolves the remote account and follows it", async () => {
    const browser = new Browser(server.origin);
    const target = `/authorize_interaction?uri=${encodeURIComponent(peer.actorUri)}`;
    const login = await browser.get(target);
    expect(login.status).toBe(200);
    const form = formOf(byId(parseHtml(login.html), "login") as Element);
    const found = await browser.request(
      "POST",
      form.action,
      Object.entries({ ...form.fields, username: "alice", password: TEST_PASSWORD }),
    );
    expect(found.status).toBe(200);
    const doc = parseHtml(found.html);
    expect(textOf(doc)).toContain("Fedify peer");
    const follow = byTag(doc, "form")
      .map(formOf)
      .find((f) => f.fields.step === "follow") as ReturnType<typeof formOf>;
    const done = await browser.request("POST", follow.action, Object.entries(follow.fields));
    expect(done.status).toBe(200);
    expect(textOf(parseHtml(done.html))).toContain("Follow requested");
    await peer.waitFor((a) => a.type === "Follow" && a.actor === `${server.origin}/users/alice`);
    // Once logged in, the page opens directly.
    const again = await browser.get(target);
    expect(byId(parseHtml(again.html), "login")).toBeNull();
  });
});

describe("hiding posts from visitors", () => {
  it("with web.show_posts = false the profile shows no posts and the feeds and post pages answer 404", async () => {
    const hidden = await startTestServer({ account: "bob", env: { WREN_WEB_SHOW_POSTS: "false" } });
    try {
      restoreNativeResponse();
      const bob = createRestAPIClient({ url: hidden.origin, accessToken: issueToken(hidden) });
      const post = await bob.v1.statuses.create({ status: "Marker-hidden-post #hidden" });
      const profile = await fetch(`${hidden.origin}/@bob`);
      expect(profile.status).toBe(200);
      const doc = parseHtml(await profile.text());
      expect(textOf(doc)).not.toContain("Marker-hidden-post");
      expect(byTag(doc, "article")).toHaveLength(0);
      expect(byTag(doc, "link").filter((l) => attr(l, "type") === "application/rss+xml")).toHaveLength(0);
      for (const path of [
        `/@bob/${post.id}`,
        "/@bob.rss",
        "/@bob.atom",
        "/tags/hidden",
        "/tags/hidden.rss",
      ]) {
        const response = await fetch(`${hidden.origin}${path}`, { headers: { Accept: "text/html" } });
        expect(response.status, path).toBe(404);
        expect(await response.text()).not.toContain("Marker-hidden-post");
      }
      // Apps and servers still get it.
      expect((await bob.v1.statuses.$select(post.id).fetch()).content).toContain("Marker-hidden-post");
    } finally {
      await hidden.close();
    }
  });
});
