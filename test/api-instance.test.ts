// The instance endpoints apps read first (v1/v2 instance, peers, activity), preferences, markers, and the
// endpoints of features Wren does not have, which must answer honest empty lists rather than 404.
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStatus } from "../src/core/statuses.js";
import { newId } from "../src/store/ids.js";
import { accounts, markers, users } from "../src/store/schema.js";
import { api, issueToken } from "./helpers/api.js";
import { expectAccount } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

let server: TestServer;
let token: string;
let readOnly: string;

function insertRemote(username: string, domain: string) {
  const now = Date.now();
  const uri = `https://${domain}/users/${username}`;
  server.context.store.db
    .insert(accounts)
    .values({
      id: newId(now),
      uri,
      username,
      domain,
      inboxUrl: `${uri}/inbox`,
      createdAt: now,
      updatedAt: now,
    })
    .run();
}

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  await server.delivery.stop(1000);
  token = issueToken(server, "read write follow");
  readOnly = issueToken(server, "read");
  insertRemote("bob", "remote.example");
  insertRemote("carol", "remote.example");
  insertRemote("dave", "other.example");
  await createStatus(server.context, { text: "hello from alice" });
});
afterAll(async () => {
  await server?.close();
});

describe("GET /api/v2/instance", () => {
  it("describes the server completely, without a token", async () => {
    const res = await api(server, null, "GET", "/api/v2/instance");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = res.json as Json;
    expect(body.domain).toBe(server.domain);
    expect(body.title).toBe("Wren");
    expect(body.version).toBe(`4.5.0 (compatible; Wren ${server.context.version})`);
    expect(body.source_url).toMatch(/^https?:\/\//);
    expect(typeof body.description).toBe("string");
    expect(body.usage).toEqual({ users: { active_month: 1 } });
    const thumbnail = body.thumbnail as Json;
    expect(thumbnail.url).toMatch(/^http:\/\/.+\.png$/);
    const image = await fetch(thumbnail.url as string);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect(body.icon).toEqual([]);
    expect(body.languages).toEqual(["en"]);

    const configuration = body.configuration as Record<string, Json>;
    expect(configuration.urls?.streaming).toBe(`ws://${server.domain}`);
    expect(configuration.vapid).toEqual({ public_key: expect.stringMatching(/^B[A-Za-z0-9_-]{86}$/) });
    expect(configuration.accounts).toEqual({ max_featured_tags: 10, max_pinned_statuses: 5 });
    expect(configuration.statuses).toEqual({
      max_characters: 5000,
      max_media_attachments: 4,
      characters_reserved_per_url: 23,
    });
    const media = configuration.media_attachments as Json;
    expect(media.supported_mime_types).toContain("image/png");
    expect(media.image_size_limit).toBe(server.context.config.media.max_image_bytes);
    expect(media.image_matrix_limit).toBe(33_177_600);
    expect(media.video_size_limit).toBe(server.context.config.media.max_video_bytes);
    expect(media.video_frame_rate_limit).toBe(120);
    expect(media.video_matrix_limit).toBe(8_294_400);
    expect(configuration.polls).toEqual({
      max_options: 4,
      max_characters_per_option: 50,
      min_expiration: 300,
      max_expiration: 2_629_746,
    });
    expect(configuration.translation).toEqual({ enabled: false });

    expect(body.registrations).toMatchObject({
      enabled: false,
      approval_required: false,
      message: null,
      url: null,
    });
    expect(body.api_versions).toEqual({ mastodon: 2 });
    const contact = body.contact as Json;
    expect(typeof contact.email).toBe("string");
    expectAccount(contact.account);
    expect((contact.account as Json).username).toBe("alice");
    expect(body.rules).toEqual([]);
  });

  it("advertises one VAPID key, here and in app registration", async () => {
    const app = (
      await api(server, null, "POST", "/api/v1/apps", {
        client_name: "x",
        redirect_uris: "urn:ietf:wg:oauth:2.0:oob",
      })
    ).json as Json;
    const body = (await api(server, null, "GET", "/api/v2/instance")).json as {
      configuration: { vapid: Json };
    };
    expect(body.configuration.vapid.public_key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect(app.vapid_key).toBe(body.configuration.vapid.public_key);
  });
});

describe("GET /api/v1/instance", () => {
  it("has the v1 shape", async () => {
    const res = await api(server, null, "GET", "/api/v1/instance");
    expect(res.status).toBe(200);
    const body = res.json as Json;
    expect(body.uri).toBe(server.domain);
    expect(body.title).toBe("Wren");
    expect(typeof body.short_description).toBe("string");
    expect(typeof body.description).toBe("string");
    expect(typeof body.email).toBe("string");
    expect(body.version).toMatch(/^4\.5\.0 \(compatible; Wren /);
    expect(body.urls).toEqual({ streaming_api: `ws://${server.domain}` });
    expect(body.stats).toEqual({ user_count: 1, status_count: 1, domain_count: 2 });
    expect(body.thumbnail).toMatch(/^http:\/\/.+\.png$/);
    expect(body.languages).toEqual(["en"]);
    expect(body.registrations).toBe(false);
    expect(body.approval_required).toBe(false);
    expect(body.invites_enabled).toBe(false);
    const configuration = body.configuration as Record<string, Json>;
    expect(configuration.statuses?.max_characters).toBe(5000);
    expect(configuration.media_attachments?.image_size_limit).toBe(
      server.context.config.media.max_image_bytes,
    );
    expect(configuration.polls?.max_options).toBe(4);
    expect(configuration.accounts?.max_pinned_statuses).toBe(5);
    expectAccount(body.contact_account);
    expect(body.rules).toEqual([]);
  });
});

describe("instance side endpoints", () => {
  it("lists peers: the distinct domains of known accounts", async () => {
    const res = await api(server, null, "GET", "/api/v1/instance/peers");
    expect(res.status).toBe(200);
    expect(res.json).toEqual(["other.example", "remote.example"]);
  });

  it("gives twelve weeks of activity, newest first, as strings", async () => {
    const res = await api(server, null, "GET", "/api/v1/instance/activity");
    expect(res.status).toBe(200);
    const weeks = res.json as Json[];
    expect(weeks).toHaveLength(12);
    for (const week of weeks) {
      for (const key of ["week", "statuses", "logins", "registrations"]) expect(week[key]).toMatch(/^\d+$/);
    }
    expect(Number(weeks[0]?.week)).toBeGreaterThan(Number(weeks[1]?.week));
    expect(Number(weeks[0]?.week) * 1000).toBeLessThanOrEqual(Date.now());
    expect(weeks[0]).toMatchObject({ statuses: "1", registrations: "1" });
  });

  it("answers empty lists for rules, emojis, announcements and trends without a token", async () => {
    for (const path of [
      "/api/v1/instance/rules",
      "/api/v1/instance/domain_blocks",
      "/api/v1/custom_emojis",
      "/api/v1/announcements",
      "/api/v1/trends",
      "/api/v1/trends/tags",
      "/api/v1/trends/statuses",
      "/api/v1/trends/links",
    ]) {
      const res = await api(server, null, "GET", path);
      expect(res.status, path).toBe(200);
      expect(res.json, path).toEqual([]);
    }
  });

  it("answers empty lists with a token only: suggestions (Wren has none) and what a new account has not filled", async () => {
    for (const path of [
      "/api/v1/suggestions",
      "/api/v2/suggestions",
      "/api/v1/filters",
      "/api/v2/filters",
      "/api/v1/followed_tags",
      "/api/v1/lists",
      "/api/v1/endorsements",
      "/api/v1/featured_tags",
      "/api/v1/domain_blocks",
    ]) {
      const res = await api(server, token, "GET", path);
      expect(res.status, path).toBe(200);
      expect(res.json, path).toEqual([]);
      expect(res.headers.get("link"), path).toBeNull();
      expect((await api(server, null, "GET", path)).status, path).toBe(401);
    }
  });

  it("refuses a token without the needed scope", async () => {
    const pushOnly = issueToken(server, "push");
    expect((await api(server, pushOnly, "GET", "/api/v1/lists")).status).toBe(403);
    expect((await api(server, pushOnly, "GET", "/api/v1/preferences")).status).toBe(403);
  });
});

describe("preferences", () => {
  it("has Mastodon's keys with defaults", async () => {
    const res = await api(server, readOnly, "GET", "/api/v1/preferences");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      "posting:default:visibility": "public",
      "posting:default:sensitive": false,
      "posting:default:language": null,
      "posting:default:quote_policy": "public",
      "reading:expand:media": "default",
      "reading:expand:spoilers": false,
      "reading:autoplay:gifs": false,
    });
    expect((await api(server, null, "GET", "/api/v1/preferences")).status).toBe(401);
  });

  it("reflects what update_credentials stored in source", async () => {
    const update = await api(server, token, "PATCH", "/api/v1/accounts/update_credentials", {
      source: { privacy: "unlisted", sensitive: true, language: "de" },
    });
    expect(update.status).toBe(200);
    const prefs = (await api(server, token, "GET", "/api/v1/preferences")).json as Json;
    expect(prefs["posting:default:visibility"]).toBe("unlisted");
    expect(prefs["posting:default:sensitive"]).toBe(true);
    expect(prefs["posting:default:language"]).toBe("de");
    // Stored values of the wrong type fall back to the default.
    const db = server.context.store.db;
    const user = db.select().from(users).get()!;
    db.update(users)
      .set({ preferences: { ...user.preferences, "reading:expand:spoilers": "yes" } })
      .where(eq(users.id, user.id))
      .run();
    expect(
      ((await api(server, token, "GET", "/api/v1/preferences")).json as Json)["reading:expand:spoilers"],
    ).toBe(false);
  });
});

describe("markers", () => {
  it("starts empty, saves by JSON and by form, and counts versions", async () => {
    expect(
      (await api(server, token, "GET", "/api/v1/markers?timeline[]=home&timeline[]=notifications")).json,
    ).toEqual({});

    const first = await api(server, token, "POST", "/api/v1/markers", {
      home: { last_read_id: "111111111111111111" },
    });
    expect(first.status).toBe(200);
    const home = (first.json as Record<string, Json>).home!;
    expect(home).toMatchObject({ last_read_id: "111111111111111111", version: 1 });
    expect(home.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const form = await fetch(`${server.url}/api/v1/markers`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: "home[last_read_id]=222222222222222222&notifications[last_read_id]=333333333333333333",
    });
    expect(form.status).toBe(200);
    const saved = (await form.json()) as Record<string, Json>;
    expect(saved.home).toMatchObject({ last_read_id: "222222222222222222", version: 2 });
    expect(saved.notifications).toMatchObject({ last_read_id: "333333333333333333", version: 1 });

    const only = await api(server, readOnly, "GET", "/api/v1/markers?timeline[]=notifications");
    expect(Object.keys(only.json as Json)).toEqual(["notifications"]);
  });

  it("refuses bad input and read-only tokens without writing", async () => {
    const before = server.context.store.db.select().from(markers).all();
    expect(
      (await api(server, token, "POST", "/api/v1/markers", { home: { last_read_id: "abc" } })).status,
    ).toBe(422);
    expect((await api(server, token, "POST", "/api/v1/markers", { home: "x" })).status).toBe(422);
    expect((await api(server, token, "POST", "/api/v1/markers", {})).status).toBe(422);
    expect(
      (
        await api(server, readOnly, "POST", "/api/v1/markers", {
          home: { last_read_id: "444444444444444444" },
        })
      ).status,
    ).toBe(403);
    expect(server.context.store.db.select().from(markers).all()).toEqual(before);
  });
});
