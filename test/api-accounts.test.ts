// Accounts, relationships, the lists around them, the local profile and search, over real HTTP. Remote
// accounts are fixture rows; for lookups over the network a small fake server on 127.0.0.1 plays the remote.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStatus } from "../src/core/statuses.js";
import { type AccountRow, findLocalUser } from "../src/store/accounts.js";
import { newId } from "../src/store/ids.js";
import {
  accounts,
  blocks,
  deliveryJobs,
  follows,
  mutes,
  outboundActivities,
  statuses,
  tags,
  users,
} from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import {
  expectAccount,
  expectRelationship,
  remoteAccount as fixtureAccount,
  remoteNote,
} from "./helpers/fixtures.js";
import { gradientPng } from "./helpers/raw-png.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;
const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let server: TestServer;
let token: string;
let readOnly: string;
let local: AccountRow;
let bob: AccountRow;

/** A remote account with a display name and no shared inbox (deliveries go to its own inbox). */
function remoteAccount(
  username: string,
  domain = "remote.example",
  extra: Partial<AccountRow> = {},
): AccountRow {
  return fixtureAccount(server, username, domain, {
    displayName: `${username} remote`,
    sharedInboxUrl: null,
    ...extra,
  });
}

function addFollow(followerId: string, followingId: string, state: "accepted" | "pending" = "accepted") {
  server.context.store.db
    .insert(follows)
    .values({ id: newId(), followerId, followingId, state, createdAt: Date.now() })
    .run();
}

/** Queued activities of a type, newest last. */
function queued(type: string): Json[] {
  return server.context.store.db
    .select({ body: outboundActivities.body, inbox: deliveryJobs.inboxUrl })
    .from(deliveryJobs)
    .innerJoin(outboundActivities, eq(deliveryJobs.activityId, outboundActivities.id))
    .all()
    .map((r): Json => ({ ...(JSON.parse(r.body) as Json), inbox: r.inbox }))
    .filter((a) => a.type === type);
}

function localRow(): AccountRow {
  return server.context.store.db.select().from(accounts).where(eq(accounts.id, local.id)).get()!;
}

async function multipart(path: string, form: FormData, bearer = token, method = "PATCH") {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}` },
    body: form,
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function form(path: string, body: string, bearer = token, method = "PATCH") {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  return { status: res.status, json: (await res.json()) as Json };
}

/** The URLs of a Link header by rel. */
function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(",")) {
    const match = part.match(/<([^>]+)>;\s*rel="(\w+)"/);
    if (match?.[1] && match[2]) out[match[2]] = match[1];
  }
  return out;
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  // Deliveries stay queued, so tests can read what would have been sent.
  await server.delivery.stop(1000);
  token = issueToken(server, "read write follow");
  readOnly = issueToken(server, "read");
  local = findLocalUser(server.context.store.db)!.account;
  bob = remoteAccount("bob");
});
afterAll(async () => {
  await server?.close();
});

describe("verify_credentials", () => {
  it("returns the local account with its source", async () => {
    const res = await api(server, token, "GET", "/api/v1/accounts/verify_credentials");
    expect(res.status).toBe(200);
    const account = expectAccount(res.json);
    expect(account).toMatchObject({ id: local.id, username: "alice", acct: "alice" });
    expect(account.source).toMatchObject({
      privacy: "public",
      sensitive: false,
      note: "",
      fields: [],
      follow_requests_count: 0,
    });
  });

  it("takes the profile scope, refuses others and anonymous requests", async () => {
    expect(
      (await api(server, issueToken(server, "profile"), "GET", "/api/v1/accounts/verify_credentials")).status,
    ).toBe(200);
    expect(
      (await api(server, issueToken(server, "read:statuses"), "GET", "/api/v1/accounts/verify_credentials"))
        .status,
    ).toBe(403);
    expect((await api(server, null, "GET", "/api/v1/accounts/verify_credentials")).status).toBe(401);
    expect((await api(server, "not-a-token", "GET", "/api/v1/accounts/verify_credentials")).status).toBe(401);
  });
});

describe("update_credentials", () => {
  it("updates the profile from JSON, formats the note and fields, and sends an Update to followers", async () => {
    const follower = remoteAccount("fan", "fans.example", { sharedInboxUrl: "https://fans.example/inbox" });
    addFollow(follower.id, local.id);
    const res = await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", {
      display_name: "Alice A.",
      note: "Hi! See https://example.com/about and #wren\n\nsecond paragraph @bob@remote.example",
      fields_attributes: [
        { name: "Site", value: "https://alice.example" },
        { name: "", value: "" },
        { name: "Pronouns", value: "she/her" },
      ],
      locked: true,
      bot: "false",
      discoverable: false,
      indexable: "0",
      source: { privacy: "private", sensitive: "true", language: "en" },
    });
    expect(res.status).toBe(200);
    const account = expectAccount(res.json);
    expect(account.display_name).toBe("Alice A.");
    expect(account.locked).toBe(true);
    expect(account.discoverable).toBe(false);
    expect(account.indexable).toBe(false);
    expect(account.note).toContain('<a href="https://example.com/about"');
    expect(account.note).toContain(`href="${server.origin}/tags/wren"`);
    expect(account.note).toContain('href="https://remote.example/@bob" class="u-url mention"');
    expect(account.note).toMatch(/^<p>.*<\/p><p>.*<\/p>$/);
    const fields = account.fields as Json[];
    expect(fields).toHaveLength(2);
    expect(fields[0]).toMatchObject({ name: "Site", verified_at: null });
    expect(fields[0]?.value).toContain('<a href="https://alice.example"');
    expect(fields[0]?.value).not.toContain("<p>");
    expect(fields[1]).toMatchObject({ name: "Pronouns", value: "she/her" });
    const source = account.source as Json;
    expect(source).toMatchObject({ privacy: "private", sensitive: true, language: "en" });
    // The source keeps the text as typed, remote mention and all.
    expect(source.note).toBe(
      "Hi! See https://example.com/about and #wren\n\nsecond paragraph @bob@remote.example",
    );
    expect(source.fields).toEqual([
      { name: "Site", value: "https://alice.example", verified_at: null },
      { name: "Pronouns", value: "she/her", verified_at: null },
    ]);

    const updates = queued("Update");
    expect(updates).toHaveLength(1);
    const update = updates[0]!;
    expect(update.inbox).toBe("https://fans.example/inbox");
    expect(update.actor).toBe(local.uri);
    expect(update.to).toEqual([PUBLIC]);
    const person = update.object as Json;
    expect(person).toMatchObject({
      id: local.uri,
      type: "Person",
      name: "Alice A.",
      manuallyApprovesFollowers: true,
    });
    expect(person.attachment).toEqual([
      { type: "PropertyValue", name: "Site", value: fields[0]?.value },
      { type: "PropertyValue", name: "Pronouns", value: "she/her" },
    ]);
    expect(person.updated).toBeDefined();
    expect((update["@context"] as unknown[])[0]).toBe("https://www.w3.org/ns/activitystreams");
  });

  it("marks the account as a bot: the actor becomes a Service, which Mastodon shows as a bot", async () => {
    const res = await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", { bot: true });
    expect(res.status).toBe(200);
    expect(expectAccount(res.json).bot).toBe(true);
    const actor = await fetch(local.uri, { headers: { Accept: "application/activity+json" } });
    expect(((await actor.json()) as Json).type).toBe("Service");
    const latest = queued("Update").at(-1);
    expect(latest).toBeDefined();
    expect((latest as Json).object).toMatchObject({ type: "Service" });
    await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", { bot: false });
  });

  it("reads form-encoded fields_attributes[0][name] and PUT", async () => {
    const res = await form(
      "/api/v1/accounts/update_credentials",
      "fields_attributes[0][name]=Blog&fields_attributes[0][value]=words&fields_attributes[1][name]=&fields_attributes[1][value]=&locked=false",
      token,
      "PUT",
    );
    expect(res.status).toBe(200);
    expect(res.json.fields).toEqual([{ name: "Blog", value: "words", verified_at: null }]);
    expect(res.json.locked).toBe(false);
    expect(localRow().fields).toEqual([{ name: "Blog", value: "words", verifiedAt: null }]);
  });

  it("refuses bad input with 422 and changes nothing", async () => {
    const before = localRow();
    const usersBefore = server.context.store.db.select().from(users).all();
    const jobsBefore = server.context.store.db.select().from(deliveryJobs).all().length;
    const bad: Json[] = [
      { display_name: "x".repeat(31) },
      { display_name: "ok", note: "n".repeat(501) },
      {
        display_name: "five fields",
        fields_attributes: [1, 2, 3, 4, 5].map((n) => ({ name: `f${n}`, value: `v${n}` })),
      },
      { display_name: "bad bool", locked: "maybe" },
      { display_name: "bad privacy", source: { privacy: "direct" } },
      { display_name: "bad language", source: { language: "english!" } },
      { display_name: "bad fields", fields_attributes: "nope" },
      { display_name: "bad field", fields_attributes: [{ name: { x: 1 }, value: "v" }] },
      { display_name: "bad avatar", avatar: "https://example.com/a.png" },
      { display_name: 42, note: ["a"] },
    ];
    for (const body of bad) {
      const res = await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(typeof (res.json as Json).error).toBe("string");
    }
    const fiveForm = await form(
      "/api/v1/accounts/update_credentials",
      [0, 1, 2, 3, 4]
        .map((i) => `fields_attributes[${i}][name]=n${i}&fields_attributes[${i}][value]=v${i}`)
        .join("&"),
    );
    expect(fiveForm.status).toBe(422);
    const broken = await fetch(`${server.url}/api/v1/accounts/update_credentials`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    expect(localRow()).toEqual(before);
    expect(server.context.store.db.select().from(users).all()).toEqual(usersBefore);
    expect(server.context.store.db.select().from(deliveryJobs).all()).toHaveLength(jobsBefore);
  });

  it("is refused to a read-only token", async () => {
    const res = await api(server, readOnly, "PATCH", "/api/v1/accounts/update_credentials", {
      display_name: "nope",
    });
    expect(res.status).toBe(403);
    expect(localRow().displayName).not.toBe("nope");
  });

  it("takes an avatar and a header as multipart, serves them, and removes them", async () => {
    const body = new FormData();
    body.append("avatar", new Blob([new Uint8Array(gradientPng(8, 8))], { type: "image/png" }), "avatar.png");
    body.append(
      "header",
      new Blob([new Uint8Array(gradientPng(30, 10))], { type: "image/png" }),
      "header.png",
    );
    body.append("display_name", "Alice with a face");
    const res = await multipart("/api/v1/accounts/update_credentials", body);
    expect(res.status).toBe(200);
    const account = expectAccount(res.json);
    expect(account.display_name).toBe("Alice with a face");
    expect(account.avatar).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(account.header).toMatch(new RegExp(`^${server.origin}/media/`));
    expect(account.avatar).not.toBe(account.header);
    for (const url of [account.avatar, account.header] as string[]) {
      const image = await fetch(url);
      expect(image.status).toBe(200);
      expect(image.headers.get("content-type")).toBe("image/png");
      expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const row = localRow();
    expect(row.avatarMediaId).not.toBeNull();
    expect(row.avatarUrl).toBe(account.avatar);
    const person = queued("Update").at(-1)?.object as Json;
    expect((person.icon as Json).url).toBe(account.avatar);

    const removed = await api(server, token, "DELETE", "/api/v1/profile/avatar");
    expect(removed.status).toBe(200);
    expect((removed.json as Json).avatar).toBe(`${server.origin}/static/avatar.png`);
    expect(localRow().avatarUrl).toBeNull();
    expect(localRow().headerUrl).toBe(account.header);
  });

  it("refuses a file that is not an image, keeping the profile", async () => {
    const before = localRow();
    const body = new FormData();
    body.append("avatar", new Blob(["this is not an image at all"], { type: "image/png" }), "fake.png");
    body.append("display_name", "Should not stick");
    const res = await multipart("/api/v1/accounts/update_credentials", body);
    expect(res.status).toBe(422);
    expect(localRow()).toEqual(before);
  });
});

describe("one account", () => {
  it("shows the local and known remote accounts, 404 otherwise", async () => {
    const mine = await api(server, null, "GET", `/api/v1/accounts/${local.id}`);
    expect(mine.status).toBe(200);
    expect(expectAccount(mine.json).acct).toBe("alice");
    const remote = await api(server, readOnly, "GET", `/api/v1/accounts/${bob.id}`);
    expect(remote.status).toBe(200);
    expect(expectAccount(remote.json)).toMatchObject({
      acct: "bob@remote.example",
      url: "https://remote.example/@bob",
    });
    expect((await api(server, token, "GET", "/api/v1/accounts/123456789012345678")).status).toBe(404);
    const bad = await api(server, token, "GET", "/api/v1/accounts/not-an-id");
    expect(bad.status).toBe(404);
    expect(typeof (bad.json as Json).error).toBe("string");
    const gone = remoteAccount("ghost", "remote.example", { goneAt: Date.now() });
    expect((await api(server, token, "GET", `/api/v1/accounts/${gone.id}`)).status).toBe(404);
  });

  it("looks accounts up by handle", async () => {
    for (const acct of ["alice", "@alice", `alice@${server.domain}`]) {
      const res = await api(server, null, "GET", `/api/v1/accounts/lookup?acct=${encodeURIComponent(acct)}`);
      expect(res.status, acct).toBe(200);
      expect((res.json as Json).id).toBe(local.id);
    }
    const remote = await api(server, null, "GET", "/api/v1/accounts/lookup?acct=BOB@remote.example");
    expect((remote.json as Json).id).toBe(bob.id);
    expect(
      (await api(server, null, "GET", "/api/v1/accounts/lookup?acct=nobody@remote.example")).status,
    ).toBe(404);
    expect((await api(server, null, "GET", "/api/v1/accounts/lookup")).status).toBe(422);
  });

  it("gives several accounts by id[]", async () => {
    const res = await api(server, null, "GET", `/api/v1/accounts?id[]=${bob.id}&id[]=${local.id}&id[]=junk`);
    expect(res.status).toBe(200);
    expect((res.json as Json[]).map((a) => a.id)).toEqual([bob.id, local.id]);
  });

  it("answers empty lists for featured tags, lists and identity proofs", async () => {
    for (const path of ["featured_tags", "lists", "identity_proofs"]) {
      const res = await api(server, token, "GET", `/api/v1/accounts/${bob.id}/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.json, path).toEqual([]);
    }
    expect(
      (await api(server, token, "GET", "/api/v1/accounts/999999999999999999/featured_tags")).status,
    ).toBe(404);
  });
});

describe("account statuses", () => {
  let ids: string[];

  beforeAll(async () => {
    const ctx = server.context;
    const first = await createStatus(ctx, { text: "first post" });
    const reply = await createStatus(ctx, { text: "a reply to myself", inReplyToId: first });
    const tagged = await createStatus(ctx, { text: "about #Gardening today" });
    const secret = await createStatus(ctx, { text: "followers only", visibility: "private" });
    const last = await createStatus(ctx, { text: "last post" });
    ids = [last, secret, tagged, reply, first];
    ctx.store.db.update(statuses).set({ pinnedAt: Date.now() }).where(eq(statuses.id, tagged)).run();
    // A reply to someone else.
    const theirs = remoteNote(server, bob);
    const answer = await createStatus(ctx, { text: "reply to bob", inReplyToId: theirs });
    ids.unshift(answer);
  });

  it("lists own statuses newest first, paginated with a Link header", async () => {
    const page1 = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?limit=2`);
    expect(page1.status).toBe(200);
    const got1 = page1.json as Json[];
    expect(got1.map((s) => s.id)).toEqual(ids.slice(0, 2));
    expect((got1[0]!.account as Json).id).toBe(local.id);
    const link = links(page1.headers.get("link"));
    expect(link.next).toBe(`${server.origin}/api/v1/accounts/${local.id}/statuses?limit=2&max_id=${ids[1]}`);
    expect(link.prev).toBe(`${server.origin}/api/v1/accounts/${local.id}/statuses?limit=2&min_id=${ids[0]}`);

    const page2 = await api(server, token, "GET", pathOf(link.next!));
    expect((page2.json as Json[]).map((s) => s.id)).toEqual(ids.slice(2, 4));
    const back = await api(server, token, "GET", pathOf(links(page2.headers.get("link")).prev!));
    expect((back.json as Json[]).map((s) => s.id)).toEqual(ids.slice(0, 2));
    const since = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?since_id=${ids[2]}`);
    expect((since.json as Json[]).map((s) => s.id)).toEqual(ids.slice(0, 2));
  });

  it("filters replies, reblogs, media, tags and pins", async () => {
    const noReplies = await api(
      server,
      token,
      "GET",
      `/api/v1/accounts/${local.id}/statuses?exclude_replies=true`,
    );
    const withoutReplies = (noReplies.json as Json[]).map((s) => s.id);
    expect(withoutReplies).not.toContain(ids[0]);
    // A reply to oneself (a thread) stays, as on Mastodon.
    expect(withoutReplies).toContain(ids[4]);
    const tagged = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?tagged=gardening`);
    expect((tagged.json as Json[]).map((s) => s.id)).toEqual([ids[3]]);
    const pinned = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?pinned=true`);
    expect((pinned.json as Json[]).map((s) => s.id)).toEqual([ids[3]]);
    expect((pinned.json as Json[])[0]?.pinned).toBe(true);
    const media = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?only_media=1`);
    expect(media.json).toEqual([]);
    const noBoosts = await api(
      server,
      token,
      "GET",
      `/api/v1/accounts/${local.id}/statuses?exclude_reblogs=true&limit=40`,
    );
    expect((noBoosts.json as Json[]).length).toBe(ids.length);
  });

  it("shows others only what they may see", async () => {
    const anonymous = await api(server, null, "GET", `/api/v1/accounts/${local.id}/statuses?limit=40`);
    const visible = (anonymous.json as Json[]).map((s) => s.visibility);
    expect(visible).not.toContain("private");
    expect(visible.length).toBe(ids.length - 1);

    const carol = remoteAccount("carol");
    const open = remoteNote(server, carol);
    const forFollowers = remoteNote(server, carol, { to: [carol.followersUrl!], cc: [] });
    const toMe = remoteNote(server, carol, { to: [local.uri], cc: [], mentions: [local.uri] });
    remoteNote(server, carol, { to: ["https://remote.example/users/someone"], cc: [] });
    const seen = async (bearer: string | null) =>
      ((await api(server, bearer, "GET", `/api/v1/accounts/${carol.id}/statuses`)).json as Json[]).map(
        (s) => s.id,
      );
    expect(await seen(null)).toEqual([open]);
    expect(await seen(token)).toEqual([toMe, open]);
    addFollow(local.id, carol.id);
    expect(await seen(token)).toEqual([toMe, forFollowers, open]);
  });

  it("refuses malformed input", async () => {
    for (const query of ["limit=abc", "max_id=abc", "pinned=maybe", "exclude_replies=2"]) {
      const res = await api(server, token, "GET", `/api/v1/accounts/${local.id}/statuses?${query}`);
      expect(res.status, query).toBe(422);
    }
    expect((await api(server, token, "GET", "/api/v1/accounts/111111111111111111/statuses")).status).toBe(
      404,
    );
    expect(
      (await api(server, issueToken(server, "read:accounts"), "GET", `/api/v1/accounts/${local.id}/statuses`))
        .status,
    ).toBe(403);
  });
});

describe("followers and following", () => {
  let fans: AccountRow[];

  beforeAll(() => {
    fans = [1, 2, 3].map((n) => remoteAccount(`follower${n}`, "crowd.example"));
    for (const fan of fans) addFollow(fan.id, local.id);
  });

  it("pages followers by follow id with a Link header", async () => {
    const all = await api(server, null, "GET", `/api/v1/accounts/${local.id}/followers`);
    const allIds = (all.json as Json[]).map((a) => a.id);
    expect(allIds.slice(0, 3)).toEqual([fans[2]!.id, fans[1]!.id, fans[0]!.id]);
    for (const account of all.json as Json[]) expectAccount(account);

    const page1 = await api(server, token, "GET", `/api/v1/accounts/${local.id}/followers?limit=2`);
    expect((page1.json as Json[]).map((a) => a.id)).toEqual(allIds.slice(0, 2));
    const next = links(page1.headers.get("link")).next!;
    expect(next).toMatch(
      new RegExp(`^${server.origin}/api/v1/accounts/${local.id}/followers\\?limit=2&max_id=\\d+$`),
    );
    const page2 = await api(server, token, "GET", pathOf(next));
    expect((page2.json as Json[]).map((a) => a.id)).toEqual(allIds.slice(2, 4));
    expect((await api(server, token, "GET", `/api/v1/accounts/${local.id}/followers?limit=abc`)).status).toBe(
      422,
    );
  });

  it("lists who an account follows", async () => {
    addFollow(local.id, bob.id);
    const res = await api(server, token, "GET", `/api/v1/accounts/${local.id}/following`);
    expect(res.status).toBe(200);
    expect((res.json as Json[]).map((a) => a.id)).toContain(bob.id);
    // A page shorter than the limit is the last one: Mastodon offers only `prev` then.
    expect(res.headers.get("link")).toContain('rel="prev"');
    expect(res.headers.get("link")).not.toContain('rel="next"');
    server.context.store.db
      .delete(follows)
      .where(and(eq(follows.followerId, local.id), eq(follows.followingId, bob.id)))
      .run();
  });

  it("removes a follower", async () => {
    const fan = fans[0]!;
    const res = await api(server, token, "POST", `/api/v1/accounts/${fan.id}/remove_from_followers`);
    expect(res.status).toBe(200);
    expect(expectRelationship(res.json).followed_by).toBe(false);
    // Its server is told, as Mastodon does: a Reject of the Follow.
    expect(queued("Reject").some((r) => (r.object as Json).actor === fan.uri)).toBe(true);
    expect(
      (await api(server, readOnly, "POST", `/api/v1/accounts/${fans[1]!.id}/remove_from_followers`)).status,
    ).toBe(403);
  });
});

describe("follow, block, mute", () => {
  it("follows a remote account: a pending request and a queued Follow", async () => {
    const dora = remoteAccount("dora", "dora.example");
    const res = await api(server, token, "POST", `/api/v1/accounts/${dora.id}/follow`, {
      reblogs: false,
      notify: true,
    });
    expect(res.status).toBe(200);
    expect(expectRelationship(res.json)).toMatchObject({ id: dora.id, following: false, requested: true });
    const row = server.context.store.db
      .select()
      .from(follows)
      .where(and(eq(follows.followerId, local.id), eq(follows.followingId, dora.id)))
      .get();
    expect(row).toMatchObject({ state: "pending", showReblogs: false, notify: true });
    const sent = queued("Follow").filter((a) => a.object === dora.uri);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ actor: local.uri, inbox: dora.inboxUrl });

    const undone = await api(server, token, "POST", `/api/v1/accounts/${dora.id}/unfollow`);
    expect(expectRelationship(undone.json).requested).toBe(false);
    expect(queued("Undo").some((a) => (a.object as Json).object === dora.uri)).toBe(true);
  });

  it("refuses following with a read-only token, oneself, or an unknown account", async () => {
    const erin = remoteAccount("erin", "erin.example");
    expect((await api(server, readOnly, "POST", `/api/v1/accounts/${erin.id}/follow`)).status).toBe(403);
    expect((await api(server, null, "POST", `/api/v1/accounts/${erin.id}/follow`)).status).toBe(401);
    expect(
      server.context.store.db.select().from(follows).where(eq(follows.followingId, erin.id)).all(),
    ).toEqual([]);
    const self = await api(server, token, "POST", `/api/v1/accounts/${local.id}/follow`);
    expect(self.status).toBeGreaterThanOrEqual(400);
    expect(self.status).toBeLessThan(500);
    expect((await api(server, token, "POST", "/api/v1/accounts/123/follow")).status).toBe(404);
    expect(
      (await api(server, token, "POST", `/api/v1/accounts/${erin.id}/follow`, { reblogs: "sometimes" }))
        .status,
    ).toBe(422);
    expect(
      server.context.store.db.select().from(follows).where(eq(follows.followingId, erin.id)).all(),
    ).toEqual([]);
  });

  it("blocks and unblocks, listing blocks", async () => {
    const troll = remoteAccount("troll", "trolls.example");
    addFollow(troll.id, local.id);
    expect((await api(server, readOnly, "POST", `/api/v1/accounts/${troll.id}/block`)).status).toBe(403);
    expect(server.context.store.db.select().from(blocks).all()).toEqual([]);

    const res = await api(server, token, "POST", `/api/v1/accounts/${troll.id}/block`);
    expect(res.status).toBe(200);
    expect(expectRelationship(res.json)).toMatchObject({ blocking: true, followed_by: false });
    expect(queued("Block").some((a) => a.object === troll.uri)).toBe(true);
    const list = await api(server, token, "GET", "/api/v1/blocks");
    expect((list.json as Json[]).map((a) => a.id)).toEqual([troll.id]);
    expect(list.headers.get("link")).toContain('rel="prev"');
    expect(list.headers.get("link")).not.toContain('rel="next"');
    expect((await api(server, issueToken(server, "read:mutes"), "GET", "/api/v1/blocks")).status).toBe(403);

    const unblocked = await api(server, token, "POST", `/api/v1/accounts/${troll.id}/unblock`);
    expect(expectRelationship(unblocked.json).blocking).toBe(false);
    expect((await api(server, token, "GET", "/api/v1/blocks")).json).toEqual([]);
  });

  it("mutes with options, lists mutes with their expiry, and unmutes", async () => {
    const loud = remoteAccount("loud", "loud.example");
    const res = await api(server, token, "POST", `/api/v1/accounts/${loud.id}/mute`, {
      notifications: false,
      duration: 3600,
    });
    expect(res.status).toBe(200);
    expect(expectRelationship(res.json)).toMatchObject({ muting: true, muting_notifications: false });
    const list = await api(server, token, "GET", "/api/v1/mutes");
    const muted = (list.json as Json[])[0]!;
    expectAccount(muted);
    expect(muted.id).toBe(loud.id);
    const expires = Date.parse(muted.mute_expires_at as string);
    expect(expires).toBeGreaterThan(Date.now() + 3500_000);
    expect(expires).toBeLessThan(Date.now() + 3700_000);

    const again = await form(`/api/v1/accounts/${loud.id}/mute`, "notifications=true", token, "POST");
    expect(again.json).toMatchObject({ muting: true, muting_notifications: true });
    expect(
      ((await api(server, token, "GET", "/api/v1/mutes")).json as Json[])[0]?.mute_expires_at,
    ).toBeNull();

    for (const body of [{ duration: -1 }, { duration: "soon" }, { notifications: "perhaps" }]) {
      expect(
        (await api(server, token, "POST", `/api/v1/accounts/${loud.id}/mute`, body)).status,
        JSON.stringify(body),
      ).toBe(422);
    }
    expect((await api(server, readOnly, "POST", `/api/v1/accounts/${loud.id}/unmute`)).status).toBe(403);
    const unmuted = await api(server, token, "POST", `/api/v1/accounts/${loud.id}/unmute`);
    expect(expectRelationship(unmuted.json).muting).toBe(false);
    expect(server.context.store.db.select().from(mutes).all()).toEqual([]);
  });

  it("treats an expired mute as no mute", async () => {
    const brief = remoteAccount("brief", "loud.example");
    server.context.store.db
      .insert(mutes)
      .values({
        id: newId(),
        accountId: local.id,
        targetId: brief.id,
        expiresAt: Date.now() - 1000,
        createdAt: Date.now() - 5000,
      })
      .run();
    const rel = await api(server, token, "GET", `/api/v1/accounts/relationships?id[]=${brief.id}`);
    expect((rel.json as Json[])[0]?.muting).toBe(false);
    expect((await api(server, token, "GET", "/api/v1/mutes")).json).toEqual([]);
  });
});

describe("relationships and follow requests", () => {
  it("answers one relationship per known id", async () => {
    addFollow(bob.id, local.id);
    const res = await api(
      server,
      readOnly,
      "GET",
      `/api/v1/accounts/relationships?id[]=${bob.id}&id[]=${local.id}&id[]=x&id[]=1`,
    );
    expect(res.status).toBe(200);
    const list = res.json as Json[];
    expect(list.map((r) => r.id)).toEqual([bob.id, local.id]);
    for (const r of list) expectRelationship(r);
    expect(list[0]).toMatchObject({ followed_by: true, following: false });
    const single = await api(server, readOnly, "GET", `/api/v1/accounts/relationships?id=${bob.id}`);
    expect((single.json as Json[]).map((r) => r.id)).toEqual([bob.id]);
    expect((await api(server, readOnly, "GET", "/api/v1/accounts/relationships")).json).toEqual([]);
    expect((await api(server, null, "GET", `/api/v1/accounts/relationships?id[]=${bob.id}`)).status).toBe(
      401,
    );
  });

  it("answers familiar followers per id", async () => {
    const res = await api(server, readOnly, "GET", `/api/v1/accounts/familiar_followers?id[]=${bob.id}`);
    expect(res.json).toEqual([{ id: bob.id, accounts: [] }]);
  });

  it("lists, authorizes and rejects follow requests", async () => {
    const asker = remoteAccount("asker", "ask.example");
    const other = remoteAccount("other", "ask.example");
    addFollow(asker.id, local.id, "pending");
    addFollow(other.id, local.id, "pending");
    const list = await api(server, readOnly, "GET", "/api/v1/follow_requests?limit=1");
    expect(list.status).toBe(200);
    expect((list.json as Json[]).map((a) => a.id)).toEqual([other.id]);
    const next = links(list.headers.get("link")).next!;
    expect(((await api(server, readOnly, "GET", pathOf(next))).json as Json[]).map((a) => a.id)).toEqual([
      asker.id,
    ]);
    expect(
      ((await api(server, token, "GET", "/api/v1/accounts/verify_credentials")).json as { source: Json })
        .source.follow_requests_count,
    ).toBe(2);

    expect(
      (await api(server, readOnly, "POST", `/api/v1/follow_requests/${asker.id}/authorize`)).status,
    ).toBe(403);
    const ok = await api(server, token, "POST", `/api/v1/follow_requests/${asker.id}/authorize`);
    expect(ok.status).toBe(200);
    expect(expectRelationship(ok.json)).toMatchObject({ followed_by: true, requested_by: false });
    expect(queued("Accept").some((a) => a.inbox === asker.inboxUrl)).toBe(true);

    const no = await api(server, token, "POST", `/api/v1/follow_requests/${other.id}/reject`);
    expect(expectRelationship(no.json)).toMatchObject({ followed_by: false, requested_by: false });
    expect(queued("Reject").some((a) => a.inbox === other.inboxUrl)).toBe(true);
    // No request any more: 404.
    expect((await api(server, token, "POST", `/api/v1/follow_requests/${other.id}/reject`)).status).toBe(404);
    expect((await api(server, token, "GET", "/api/v1/follow_requests")).json).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Search, with a fake remote server for resolve=true

interface FakeRemote {
  origin: string;
  host: string;
  docs: Map<string, unknown>;
  close(): Promise<void>;
}

async function startRemote(): Promise<FakeRemote> {
  const docs = new Map<string, unknown>();
  const http: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/.well-known/webfinger") {
      const resource = url.searchParams.get("resource") ?? "";
      const user = resource.match(/^acct:([^@]+)@/)?.[1];
      if (user && docs.has(`/users/${user}`)) {
        res.writeHead(200, { "content-type": "application/jrd+json" });
        res.end(
          JSON.stringify({
            subject: resource,
            links: [
              { rel: "self", type: "application/activity+json", href: `${remote.origin}/users/${user}` },
            ],
          }),
        );
        return;
      }
    }
    const doc = docs.get(url.pathname);
    if (doc === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "application/activity+json" }).end(JSON.stringify(doc));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const remote: FakeRemote = {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    docs,
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
  return remote;
}

function actorDoc(remote: FakeRemote, username: string) {
  const id = `${remote.origin}/users/${username}`;
  return {
    "@context": "https://www.w3.org/ns/activitystreams",
    id,
    type: "Person",
    preferredUsername: username,
    name: `${username} far away`,
    inbox: `${id}/inbox`,
    followers: `${id}/followers`,
    url: `${remote.origin}/@${username}`,
  };
}

describe("search", () => {
  let remote: FakeRemote;

  beforeAll(async () => {
    remote = await startRemote();
    remote.docs.set("/users/zed", actorDoc(remote, "zed"));
    remote.docs.set("/users/yan", actorDoc(remote, "yan"));
    remote.docs.set("/users/zed/statuses/1", {
      "@context": "https://www.w3.org/ns/activitystreams",
      id: `${remote.origin}/users/zed/statuses/1`,
      type: "Note",
      attributedTo: `${remote.origin}/users/zed`,
      content: "<p>a note found by URL</p>",
      published: new Date().toISOString(),
      to: [PUBLIC],
      cc: [`${remote.origin}/users/zed/followers`],
    });
    // A note claiming an author on another host.
    remote.docs.set("/notes/forged", {
      id: `${remote.origin}/notes/forged`,
      type: "Note",
      attributedTo: "https://remote.example/users/bob",
      content: "<p>forged</p>",
      to: [PUBLIC],
    });
    server.context.store.db
      .insert(tags)
      .values({ id: newId(), name: "gardenparty", displayName: "GardenParty", createdAt: Date.now() })
      .run();
  });
  afterAll(async () => {
    await remote?.close();
  });

  it("finds accounts by username and display name (accounts/search)", async () => {
    const res = await api(server, readOnly, "GET", "/api/v1/accounts/search?q=bo&limit=5");
    expect(res.status).toBe(200);
    const found = res.json as Json[];
    expect(found[0]?.id).toBe(bob.id);
    for (const account of found) expectAccount(account);
    const byName = await api(server, readOnly, "GET", "/api/v1/accounts/search?q=REMOTE&limit=80");
    expect((byName.json as Json[]).length).toBeGreaterThan(3);
    const exact = await api(server, readOnly, "GET", "/api/v1/accounts/search?q=@bob@remote.example");
    expect((exact.json as Json[])[0]?.id).toBe(bob.id);
    const wildcard = await api(server, readOnly, "GET", "/api/v1/accounts/search?q=%25");
    expect(wildcard.json).toEqual([]);
    for (const query of ["q=bo&limit=abc", "q=bo&resolve=perhaps", "q="]) {
      const bad = await api(server, readOnly, "GET", `/api/v1/accounts/search?${query}`);
      expect(bad.status, query).toBeGreaterThanOrEqual(400);
      expect(bad.status, query).toBeLessThan(500);
    }
    expect((await api(server, null, "GET", "/api/v1/accounts/search?q=bo")).status).toBe(401);
  });

  it("resolves an unknown handle with resolve=true", async () => {
    const handle = `zed@${remote.host}`;
    const without = await api(
      server,
      readOnly,
      "GET",
      `/api/v1/accounts/search?q=${encodeURIComponent(handle)}`,
    );
    expect(without.json).toEqual([]);
    const res = await api(
      server,
      readOnly,
      "GET",
      `/api/v1/accounts/search?q=${encodeURIComponent(handle)}&resolve=true`,
    );
    expect(res.status).toBe(200);
    const found = res.json as Json[];
    expect(found[0]).toMatchObject({ acct: handle, username: "zed", display_name: "zed far away" });
    // An unreachable handle gives no result, not an error.
    const none = await api(
      server,
      readOnly,
      "GET",
      "/api/v1/accounts/search?q=nobody@127.0.0.1:9&resolve=true",
    );
    expect(none.status).toBe(200);
    expect(none.json).toEqual([]);
  });

  it("searches accounts, statuses and hashtags in v2", async () => {
    const res = await api(server, readOnly, "GET", "/api/v2/search?q=garden");
    expect(res.status).toBe(200);
    const body = res.json as { accounts: Json[]; statuses: Json[]; hashtags: Json[] };
    expect(Object.keys(body).sort()).toEqual(["accounts", "hashtags", "statuses"]);
    expect(body.statuses.map((s) => s.content)).toEqual([expect.stringContaining("Gardening")]);
    expect(body.hashtags.map((t) => t.name)).toEqual(["Gardening", "GardenParty"]);
    expect(body.hashtags[0]).toMatchObject({
      url: `${server.origin}/tags/gardening`,
      history: [],
      following: false,
    });

    const typed = await api(server, readOnly, "GET", "/api/v2/search?q=bob&type=accounts");
    const typedBody = typed.json as { accounts: Json[]; statuses: Json[]; hashtags: Json[] };
    expect(typedBody.accounts[0]?.id).toBe(bob.id);
    expect(typedBody.statuses).toEqual([]);
    expect(typedBody.hashtags).toEqual([]);

    // Followers-only posts of others stay hidden; own posts of any visibility are found.
    const own = await api(server, readOnly, "GET", "/api/v2/search?q=followers%20only&type=statuses");
    expect((own.json as { statuses: Json[] }).statuses).toHaveLength(1);
    const byAccount = await api(
      server,
      readOnly,
      "GET",
      `/api/v2/search?q=remote%20note&type=statuses&account_id=${bob.id}`,
    );
    const statusesOfBob = (byAccount.json as { statuses: Json[] }).statuses;
    expect(statusesOfBob.length).toBeGreaterThan(0);
    for (const s of statusesOfBob) expect((s.account as Json).id).toBe(bob.id);

    const anonymous = await api(server, null, "GET", "/api/v2/search?q=garden");
    expect(anonymous.status).toBe(200);
    expect((anonymous.json as { statuses: Json[] }).statuses).toEqual([]);
    const v1 = await api(server, readOnly, "GET", "/api/v1/search?q=garden");
    expect(v1.json).toEqual(res.json);
  });

  it("resolves URLs of actors and notes with resolve=true", async () => {
    const actorUrl = `${remote.origin}/users/yan`;
    const actor = await api(
      server,
      readOnly,
      "GET",
      `/api/v2/search?q=${encodeURIComponent(actorUrl)}&resolve=true`,
    );
    expect(((actor.json as { accounts: Json[] }).accounts[0] as Json)?.acct).toBe(`yan@${remote.host}`);

    const noteUrl = `${remote.origin}/users/zed/statuses/1`;
    const before = await api(server, readOnly, "GET", `/api/v2/search?q=${encodeURIComponent(noteUrl)}`);
    expect((before.json as { statuses: Json[] }).statuses).toEqual([]);
    const res = await api(
      server,
      readOnly,
      "GET",
      `/api/v2/search?q=${encodeURIComponent(noteUrl)}&resolve=true`,
    );
    const found = (res.json as { statuses: Json[] }).statuses;
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ uri: noteUrl, content: "<p>a note found by URL</p>" });
    expect((found[0]!.account as Json).acct).toBe(`zed@${remote.host}`);
    // Now known: found without resolving.
    const known = await api(server, readOnly, "GET", `/api/v2/search?q=${encodeURIComponent(noteUrl)}`);
    expect((known.json as { statuses: Json[] }).statuses[0]?.id).toBe(found[0]?.id);

    const forged = await api(
      server,
      readOnly,
      "GET",
      `/api/v2/search?q=${encodeURIComponent(`${remote.origin}/notes/forged`)}&resolve=true`,
    );
    expect(forged.status).toBe(200);
    expect((forged.json as { statuses: Json[] }).statuses).toEqual([]);
    expect(
      server.context.store.db
        .select()
        .from(statuses)
        .where(eq(statuses.uri, `${remote.origin}/notes/forged`))
        .get(),
    ).toBeUndefined();
    const missing = await api(
      server,
      readOnly,
      "GET",
      `/api/v2/search?q=${encodeURIComponent(`${remote.origin}/nothing`)}&resolve=true`,
    );
    expect(missing.json).toEqual({ accounts: [], statuses: [], hashtags: [] });
  });

  it("refuses malformed queries and anonymous resolving", async () => {
    for (const query of [
      "",
      "q=",
      "q=a&type=people",
      "q=a&limit=abc",
      "q=a&resolve=kinda",
      "q=a&account_id=zz",
      "q=a&offset=-1",
    ]) {
      const res = await api(server, readOnly, "GET", `/api/v2/search?${query}`);
      expect(res.status, query).toBeGreaterThanOrEqual(400);
      expect(res.status, query).toBeLessThan(500);
    }
    expect((await api(server, null, "GET", "/api/v2/search?q=zed&resolve=true")).status).toBe(401);
    expect(
      (await api(server, issueToken(server, "read:accounts"), "GET", "/api/v2/search?q=zed")).status,
    ).toBe(403);
  });
});
