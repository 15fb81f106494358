// Filters end to end: masto drives the v2 API (filters, keywords, statuses), megalodon the v1 API, and a real
// Fedify peer's posts are what the filters act on: hidden from home, notifications, threads, the account's
// page and the user stream; returned with `filtered` for warn; only in the contexts a filter names.
import { createRestAPIClient, MastoHttpError, type mastodon } from "masto";
import megalodon from "megalodon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { keywordPattern } from "../src/core/filters.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { type FedifyPeer, idByUri, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** See clients-megalodon.test.ts: the generator under vitest's interop or under plain Node ESM. */
type Generator = typeof megalodon.default;
const generator: Generator =
  typeof megalodon === "function" ? (megalodon as Generator) : (megalodon as { default: Generator }).default;

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let peerAccountId: string;

interface StreamMessage {
  stream: string[];
  event: string;
  payload: string;
}

/** A user stream over a raw WebSocket that keeps what it receives. */
async function openStream(stream: string): Promise<{ messages: StreamMessage[]; close(): void }> {
  const url = `${server.url.replace(/^http/, "ws")}/api/v1/streaming?stream=${encodeURIComponent(stream)}`;
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
  const messages: StreamMessage[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as StreamMessage));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { messages, close: () => ws.close() };
}

/** Posts as the peer and waits until Wren has applied it; answers the status id in Wren. */
async function peerPost(content: string, options: { mentionAlice?: boolean; inReplyTo?: string } = {}) {
  const uri = await peer.post({
    content: `<p>${content}</p>`,
    mentions: options.mentionAlice ? [aliceUri] : undefined,
    inReplyTo: options.inReplyTo,
  });
  await inboxSettled(server);
  const id = await waitUntil(() => idByUri(server.context.store.sqlite, "statuses", uri), `status ${uri}`);
  return { uri, id };
}

type FilterResult = {
  filter: { id: string; title: string; filter_action: string; context: string[] };
  keyword_matches: string[] | null;
  status_matches: string[] | null;
};
type RawStatus = { id: string; filtered: FilterResult[]; reblog: RawStatus | null; content: string };

async function rawList(path: string): Promise<RawStatus[]> {
  const res = await api(server, token, "GET", path);
  expect(res.status).toBe(200);
  return res.json as RawStatus[];
}

async function createFilter(body: Record<string, unknown>): Promise<{ id: string }> {
  const res = await api(server, token, "POST", "/api/v2/filters", body);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as { id: string };
}

async function removeFilter(id: string): Promise<void> {
  expect((await api(server, token, "DELETE", `/api/v2/filters/${id}`)).status).toBe(200);
}

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  const found = await client.v2.search.list({ q: `@${peer.handle}`, type: "accounts", resolve: true });
  peerAccountId = (found.accounts[0] as mastodon.v1.Account).id;
  await client.v1.accounts.$select(peerAccountId).follow();
  await waitUntil(() => peer.followers.has(aliceUri), "the peer to accept alice's follow");
});

afterAll(async () => {
  await server?.close();
  await peer?.close();
});

describe("the filter engine's keyword patterns", () => {
  const matches = (keyword: string, wholeWord: boolean, text: string) =>
    new RegExp(keywordPattern(keyword, wholeWord), "iu").test(text);

  it("matches whole words only at word boundaries, and anywhere otherwise", () => {
    expect(matches("cat", true, "A Cat sleeps")).toBe(true);
    expect(matches("cat", true, "concatenate")).toBe(false);
    expect(matches("cat", true, "cats")).toBe(false);
    expect(matches("cat", false, "concatenate")).toBe(true);
    // Letters beyond ASCII are word characters, as Ruby's [[:word:]] has them.
    expect(matches("caf", true, "café")).toBe(false);
    expect(matches("café", true, "un café!")).toBe(true);
    // No boundary is asked on a side that does not begin or end with a word character.
    expect(matches("c++", true, "I like c++x")).toBe(true);
    expect(matches("#tag", true, "a#tag")).toBe(true);
    expect(matches("#tag", true, "#tags")).toBe(false);
    expect(matches("(a.b)", false, "x(a.b)y")).toBe(true);
    expect(matches("a.b", false, "axb")).toBe(false);
  });
});

describe("filters v2 with masto", () => {
  it("creates, reads, updates and deletes a filter with its keywords", async () => {
    const created = await client.v2.filters.create({
      title: "Politics",
      context: ["home", "public"],
      filterAction: "warn",
      keywordsAttributes: [{ keyword: "election" }, { keyword: "vote", wholeWord: false }],
    });
    expect(created).toMatchObject({
      title: "Politics",
      context: ["home", "public"],
      filterAction: "warn",
      expiresAt: null,
      statuses: [],
    });
    expect(created.keywords.map((k) => [k.keyword, k.wholeWord])).toEqual([
      ["election", true],
      ["vote", false],
    ]);
    expect((await client.v2.filters.list()).map((f) => f.id)).toContain(created.id);
    expect((await client.v2.filters.$select(created.id).fetch()).title).toBe("Politics");

    const [election, vote] = created.keywords as [mastodon.v1.FilterKeyword, mastodon.v1.FilterKeyword];
    const updated = await client.v2.filters.$select(created.id).update({
      title: "Politics and more",
      context: ["notifications"],
      filterAction: "blur",
      expiresIn: 3600,
      keywordsAttributes: [
        { id: election.id, wholeWord: false },
        { id: vote.id, _destroy: true },
        { keyword: "ballot" },
      ],
    });
    expect(updated).toMatchObject({
      title: "Politics and more",
      context: ["notifications"],
      filterAction: "blur",
    });
    const expiresAt = Date.parse(updated.expiresAt as string);
    expect(expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    expect(expiresAt).toBeLessThan(Date.now() + 3700_000);
    expect(updated.keywords.map((k) => [k.keyword, k.wholeWord])).toEqual([
      ["election", false],
      ["ballot", true],
    ]);
    // expires_in null clears the expiry.
    expect((await client.v2.filters.$select(created.id).update({ expiresIn: null })).expiresAt).toBeNull();

    // The keywords resource.
    const keyword = await client.v2.filters.$select(created.id).keywords.create({ keyword: "poll" });
    expect(keyword).toMatchObject({ keyword: "poll", wholeWord: true });
    expect((await client.v2.filters.$select(created.id).keywords.list()).map((k) => k.keyword)).toEqual([
      "election",
      "ballot",
      "poll",
    ]);
    expect(await client.v2.filters.keywords.$select(keyword.id).fetch()).toEqual(keyword);
    expect(
      await client.v2.filters.keywords.$select(keyword.id).update({ keyword: "polls", wholeWord: false }),
    ).toEqual({ id: keyword.id, keyword: "polls", wholeWord: false });
    await client.v2.filters.keywords.$select(keyword.id).remove();
    await expect(client.v2.filters.keywords.$select(keyword.id).fetch()).rejects.toMatchObject({
      statusCode: 404,
    });

    await client.v2.filters.$select(created.id).remove();
    await expect(client.v2.filters.$select(created.id).fetch()).rejects.toBeInstanceOf(MastoHttpError);
    expect((await client.v2.filters.list()).map((f) => f.id)).not.toContain(created.id);
  });

  it("holds statuses: added once, listed, read and removed", async () => {
    const { id: statusId } = await peerPost("A post to keep out of sight");
    const filter = await client.v2.filters.create({ title: "This post", context: ["home"] });
    const added = await client.v2.filters.$select(filter.id).statuses.create({ statusId });
    expect(added.statusId).toBe(statusId);
    expect((await client.v2.filters.$select(filter.id).statuses.list()).map((s) => s.id)).toEqual([added.id]);
    expect(await client.v2.filters.statuses.$select(added.id).fetch()).toEqual(added);
    expect((await client.v2.filters.$select(filter.id).fetch()).statuses).toEqual([added]);
    await expect(client.v2.filters.$select(filter.id).statuses.create({ statusId })).rejects.toMatchObject({
      statusCode: 422,
    });
    await expect(
      client.v2.filters.$select(filter.id).statuses.create({ statusId: "999999999999999999" }),
    ).rejects.toMatchObject({ statusCode: 404 });
    await client.v2.filters.statuses.$select(added.id).remove();
    expect(await client.v2.filters.$select(filter.id).statuses.list()).toEqual([]);
    await client.v2.filters.$select(filter.id).remove();
  });

  it("refuses bad input with 422 and a message, and needs the filters scopes", async () => {
    const refused = async (body: Record<string, unknown>, message: RegExp) => {
      const res = await api(server, token, "POST", "/api/v2/filters", body);
      expect(res.status, JSON.stringify(res.json)).toBe(422);
      expect((res.json as { error: string }).error).toMatch(message);
    };
    await refused({ title: "x", context: ["timeline"] }, /context timeline is not one of/);
    await refused({ title: "x", context: [] }, /context must list/);
    await refused({ title: "x" }, /context must list/);
    await refused({ title: "  ", context: ["home"] }, /title must not be empty/);
    await refused({ title: "x", context: ["home"], filter_action: "delete" }, /filter_action must be one of/);
    await refused({ title: "x", context: ["home"], expires_in: "soon" }, /expires_in/);
    await refused({ title: "x", context: ["home"], keywords_attributes: [{ keyword: " " }] }, /keyword/);
    // Nothing was stored by the refused requests.
    expect(await client.v2.filters.list()).toEqual([]);

    const filter = await createFilter({ title: "x", context: ["home"] });
    const empty = await api(server, token, "POST", `/api/v2/filters/${filter.id}/keywords`, { keyword: "" });
    expect(empty.status).toBe(422);
    expect((await api(server, token, "GET", "/api/v2/filters/123456789012345678")).status).toBe(404);
    await removeFilter(filter.id);

    const readOnly = issueToken(server, "read");
    expect((await api(server, readOnly, "GET", "/api/v2/filters")).status).toBe(200);
    const write = await api(server, readOnly, "POST", "/api/v2/filters", { title: "x", context: ["home"] });
    expect(write.status).toBe(403);
    expect((await api(server, issueToken(server, "read:statuses"), "GET", "/api/v1/filters")).status).toBe(
      403,
    );
  });

  it("reads keywords_attributes from a form body, as Rails nests them", async () => {
    const body = new URLSearchParams([
      ["title", "Form"],
      ["context[]", "home"],
      ["context[]", "thread"],
      ["filter_action", "hide"],
      ["keywords_attributes[][keyword]", "one"],
      ["keywords_attributes[][whole_word]", "false"],
      ["keywords_attributes[][keyword]", "two"],
    ]);
    const res = await fetch(`${server.url}/api/v2/filters`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(res.status).toBe(200);
    const filter = (await res.json()) as {
      id: string;
      context: string[];
      filter_action: string;
      keywords: { keyword: string; whole_word: boolean }[];
    };
    expect(filter.context).toEqual(["home", "thread"]);
    expect(filter.filter_action).toBe("hide");
    expect(filter.keywords.map((k) => [k.keyword, k.whole_word])).toEqual([
      ["one", false],
      ["two", true],
    ]);
    await removeFilter(filter.id);
  });
});

describe("filters v1 with megalodon", () => {
  it("maps one v1 filter to one keyword of a v2 filter", async () => {
    const mega = generator("mastodon", server.origin, token);
    const created = await mega.createFilter("spoiler", ["home", "notifications"], {
      irreversible: true,
      whole_word: false,
      expires_in: "86400",
    });
    expect(created.data).toMatchObject({
      phrase: "spoiler",
      context: ["home", "notifications"],
      irreversible: true,
      whole_word: false,
    });
    expect(Date.parse(created.data.expires_at as unknown as string)).toBeGreaterThan(Date.now() + 86000_000);
    const id = created.data.id;
    expect((await mega.getFilters()).data.map((f) => f.id)).toEqual([id]);
    expect((await mega.getFilter(id)).data.phrase).toBe("spoiler");

    // The v2 view: a filter titled by the phrase, action hide, holding the keyword whose id is the v1 id.
    const [v2] = await client.v2.filters.list();
    expect(v2).toMatchObject({ title: "spoiler", filterAction: "hide", context: ["home", "notifications"] });
    expect(v2?.keywords.map((k) => k.id)).toEqual([id]);

    const updated = await mega.updateFilter(id, "spoilers", ["public"], {
      irreversible: false,
      whole_word: true,
    });
    expect(updated.data).toMatchObject({
      id,
      phrase: "spoilers",
      context: ["public"],
      irreversible: false,
      whole_word: true,
    });
    expect((await client.v2.filters.$select(v2?.id as string).fetch()).filterAction).toBe("warn");

    // With a second keyword in the filter, its context can no longer change through v1 (as on Mastodon).
    await client.v2.filters.$select(v2?.id as string).keywords.create({ keyword: "leak" });
    expect((await mega.getFilters()).data.map((f) => f.phrase)).toEqual(["spoilers", "leak"]);
    const refused = await api(server, token, "PUT", `/api/v1/filters/${id}`, {
      phrase: "spoilers",
      context: ["home"],
    });
    expect(refused.status).toBe(422);

    await mega.deleteFilter(id);
    expect((await mega.getFilters()).data.map((f) => f.phrase)).toEqual(["leak"]);
    const leakId = (await mega.getFilters()).data[0]?.id as string;
    await mega.deleteFilter(leakId);
    // The last keyword gone, the filter goes too.
    expect(await client.v2.filters.list()).toEqual([]);
  });
});

describe("filters applied to what the peer sends", () => {
  it("a hide filter removes matches from home, notifications and the user stream", async () => {
    const filter = await createFilter({
      title: "Spoilers",
      context: ["home", "notifications"],
      filter_action: "hide",
      keywords_attributes: [{ keyword: "spoilers" }],
    });
    const stream = await openStream("user");
    let hiddenId = "";
    try {
      const hidden = await peerPost("Big SPOILERS about the finale");
      hiddenId = hidden.id;
      const hiddenMention = await peerPost(`@alice no spoilers for you`, { mentionAlice: true });
      const shown = await peerPost("Nothing to see here");
      const shownMention = await peerPost(`@alice hello there`, { mentionAlice: true });

      const home = (await client.v1.timelines.home.list({ limit: 40 })).map((s) => s.id);
      expect(home).toContain(shown.id);
      expect(home).toContain(shownMention.id);
      expect(home).not.toContain(hidden.id);
      expect(home).not.toContain(hiddenMention.id);

      const mentions = (await client.v1.notifications.list({ types: ["mention"] })).map((n) => n.status?.id);
      expect(mentions).toContain(shownMention.id);
      expect(mentions).not.toContain(hiddenMention.id);

      // The stream hears of what is shown; the events are sent in order, so once the last one arrived, the
      // hidden ones would have come before it.
      const updateOf = (id: string) =>
        stream.messages.find(
          (m) => m.event === "update" && (JSON.parse(m.payload) as { id: string }).id === id,
        );
      await waitUntil(() => updateOf(shownMention.id), "the update of the last post");
      await waitUntil(
        () =>
          stream.messages.find(
            (m) =>
              m.event === "notification" &&
              (JSON.parse(m.payload) as { status: { id: string } }).status.id === shownMention.id,
          ),
        "the notification of the last mention",
      );
      expect(updateOf(shown.id)).toBeDefined();
      expect(updateOf(hidden.id)).toBeUndefined();
      expect(updateOf(hiddenMention.id)).toBeUndefined();
      const notified = stream.messages
        .filter((m) => m.event === "notification")
        .map((m) => (JSON.parse(m.payload) as { status: { id: string } | null }).status?.id);
      expect(notified).not.toContain(hiddenMention.id);

      // Not a public-context filter: the public timeline still shows the post, without filter results.
      const publicTimeline = await rawList("/api/v1/timelines/public?limit=40");
      expect(publicTimeline.find((s) => s.id === hidden.id)?.filtered).toEqual([]);
      // Asked for by itself, the status is shown with the results of every context.
      const alone = (await api(server, token, "GET", `/api/v1/statuses/${hidden.id}`)).json as RawStatus;
      expect(alone.filtered).toMatchObject([
        {
          filter: { id: filter.id, filter_action: "hide" },
          keyword_matches: ["SPOILERS"],
          status_matches: null,
        },
      ]);
    } finally {
      stream.close();
      await removeFilter(filter.id);
    }
    // Without the filter, the post is back.
    expect((await client.v1.timelines.home.list({ limit: 40 })).map((s) => s.id)).toContain(hiddenId);
  });

  it("warn returns the status with `filtered`, in the timeline and in the stream", async () => {
    const filter = await createFilter({
      title: "Cats",
      context: ["home", "public"],
      keywords_attributes: [{ keyword: "cats" }],
    });
    const stream = await openStream("public");
    try {
      const post = await peerPost("I love cats so much");
      const home = await rawList("/api/v1/timelines/home?limit=40");
      const entry = home.find((s) => s.id === post.id);
      expect(entry?.filtered).toEqual([
        {
          filter: {
            id: filter.id,
            title: "Cats",
            context: ["home", "public"],
            expires_at: null,
            filter_action: "warn",
          },
          keyword_matches: ["cats"],
          status_matches: null,
        },
      ]);
      const update = await waitUntil(
        () =>
          stream.messages.find(
            (m) => m.event === "update" && (JSON.parse(m.payload) as { id: string }).id === post.id,
          ),
        "the public stream's update",
      );
      expect((JSON.parse(update.payload) as RawStatus).filtered).toMatchObject([
        { filter: { id: filter.id }, keyword_matches: ["cats"] },
      ]);
      // masto reads it too.
      const status = await client.v1.statuses.$select(post.id).fetch();
      expect(status.filtered?.[0]?.keywordMatches).toEqual(["cats"]);
    } finally {
      stream.close();
      await removeFilter(filter.id);
    }
  });

  it("whole_word keywords match words, the others any text; both are in the results", async () => {
    const whole = await createFilter({
      title: "cat, the word",
      context: ["home"],
      keywords_attributes: [{ keyword: "cat", whole_word: true }],
    });
    const part = await createFilter({
      title: "cat, anywhere",
      context: ["home"],
      filter_action: "blur",
      keywords_attributes: [{ keyword: "cat", whole_word: false }],
    });
    try {
      const word = await peerPost("My cat sleeps");
      const inside = await peerPost("Concatenate the strings");
      const home = await rawList("/api/v1/timelines/home?limit=40");
      const titles = (id: string) => home.find((s) => s.id === id)?.filtered.map((r) => r.filter.title);
      expect(titles(word.id)).toEqual(["cat, the word", "cat, anywhere"]);
      expect(titles(inside.id)).toEqual(["cat, anywhere"]);
      expect(home.find((s) => s.id === inside.id)?.filtered[0]?.keyword_matches).toEqual(["cat"]);
    } finally {
      await removeFilter(whole.id);
      await removeFilter(part.id);
    }
  });

  it("a status filter matches the status and the boosts of it", async () => {
    const post = await peerPost("Filtered by its id");
    const filter = await createFilter({ title: "That post", context: ["home", "account"] });
    await client.v2.filters.$select(filter.id).statuses.create({ statusId: post.id });
    try {
      await peer.announce(post.uri);
      await inboxSettled(server);
      const home = await rawList("/api/v1/timelines/home?limit=40");
      const boost = await waitUntil(
        () => home.find((s) => s.reblog?.id === post.id),
        "the boost in the home timeline",
      );
      expect(boost.filtered).toMatchObject([{ filter: { id: filter.id }, status_matches: [post.id] }]);
      expect(boost.reblog?.filtered).toMatchObject([
        { filter: { id: filter.id }, status_matches: [post.id] },
      ]);
      // Turned into hide, the filter takes the post and its boost off the account's page.
      await client.v2.filters.$select(filter.id).update({ filterAction: "hide" });
      const page = await rawList(`/api/v1/accounts/${peerAccountId}/statuses?limit=40`);
      expect(page.find((s) => s.id === post.id || s.reblog?.id === post.id)).toBeUndefined();
      expect(page.length).toBeGreaterThan(0);
    } finally {
      await removeFilter(filter.id);
    }
  });

  it("a thread filter hides matching replies in /context; the viewer's own posts are never filtered", async () => {
    const root = await client.v1.statuses.create({
      status: "Ask me about thread noise",
      visibility: "public",
    });
    const filter = await createFilter({
      title: "Noise",
      context: ["thread", "home"],
      filter_action: "hide",
      keywords_attributes: [{ keyword: "noise" }],
    });
    try {
      const noisy = await peerPost("@alice so much noise", { mentionAlice: true, inReplyTo: root.uri });
      const quiet = await peerPost("@alice a calm answer", { mentionAlice: true, inReplyTo: root.uri });
      const context = (await api(server, token, "GET", `/api/v1/statuses/${root.id}/context`)).json as {
        descendants: RawStatus[];
      };
      expect(context.descendants.map((s) => s.id)).toEqual([quiet.id]);
      // From the noisy reply, the root (alice's own, matching too) stays in the ancestors.
      const up = (await api(server, token, "GET", `/api/v1/statuses/${noisy.id}/context`)).json as {
        ancestors: RawStatus[];
      };
      expect(up.ancestors.map((s) => s.id)).toEqual([root.id]);
      expect(up.ancestors[0]?.filtered).toEqual([]);
      expect((await rawList("/api/v1/timelines/home?limit=40")).map((s) => s.id)).toContain(root.id);
    } finally {
      await removeFilter(filter.id);
    }
  });

  it("an expired filter no longer applies", async () => {
    const filter = await createFilter({
      title: "Briefly",
      context: ["home"],
      filter_action: "hide",
      expires_in: 2,
      keywords_attributes: [{ keyword: "ephemeral" }],
    });
    const post = await peerPost("An ephemeral thought");
    const inHome = async () =>
      (await client.v1.timelines.home.list({ limit: 40 })).some((s) => s.id === post.id);
    expect(await inHome()).toBe(false);
    // The filter expires two seconds after it was made: wait for it, asking as an app refreshing would.
    const deadline = Date.now() + 6000;
    while (!(await inHome())) {
      if (Date.now() > deadline) throw new Error("the expired filter still hides the post");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Still listed (as on Mastodon), with its expiry in the past.
    const listed = (await client.v2.filters.list()).find((f) => f.id === filter.id);
    expect(Date.parse(listed?.expiresAt as string)).toBeLessThanOrEqual(Date.now());
    await removeFilter(filter.id);
  });
});
