// Fixtures shared by the API tests: remote accounts and notes written straight into the store, the queued
// activities they cause, and the shape checks of Mastodon entities.
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import type { RemoteNote } from "../../src/core/remote.js";
import { receiveNote } from "../../src/core/statuses.js";
import { toRemoteNote } from "../../src/federation/vocab/parse.js";
import type { ParsedNote } from "../../src/federation/vocab/types.js";
import type { AccountRow } from "../../src/store/accounts.js";
import { newId } from "../../src/store/ids.js";
import { accounts, deliveryJobs, follows, outboundActivities } from "../../src/store/schema.js";
import type { TestServer } from "./server.js";

type Json = Record<string, unknown>;

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

/**
 * A remote account row, with a profile URL, a personal and a shared inbox and a followers collection under
 * `https://{domain}/`. `overrides` replaces any column (e.g. `{ sharedInboxUrl: null }`).
 */
export function remoteAccount(
  server: TestServer,
  username: string,
  domain = "remote.example",
  overrides: Partial<typeof accounts.$inferInsert> = {},
): AccountRow {
  const now = Date.now();
  const uri = `https://${domain}/users/${username}`;
  const id = newId(now);
  const { db } = server.context.store;
  db.insert(accounts)
    .values({
      id,
      uri,
      username,
      domain,
      url: `https://${domain}/@${username}`,
      inboxUrl: `${uri}/inbox`,
      sharedInboxUrl: `https://${domain}/inbox`,
      followersUrl: `${uri}/followers`,
      createdAt: now,
      updatedAt: now,
      ...overrides,
    })
    .run();
  const stored = db.select().from(accounts).where(eq(accounts.id, id)).get();
  if (!stored) throw new Error("fixture account not stored");
  return stored;
}

let noteSeq = 0;

/**
 * A public Note by `author` as the federation layer hands it to the core, each with its own URI. Overrides may
 * give the addressing (`to`, `cc`), which is read into a visibility as the inbox does.
 */
export function parsedNote(author: AccountRow, overrides: Partial<ParsedNote> = {}): RemoteNote {
  noteSeq += 1;
  return toRemoteNote(
    {
      uri: `${author.uri}/statuses/${Date.now()}${noteSeq}`,
      type: "Note",
      url: null,
      attributedTo: author.uri,
      content: `<p>remote note ${noteSeq}</p>`,
      summary: "",
      sensitive: false,
      language: "en",
      published: Date.now(),
      updated: null,
      inReplyTo: null,
      to: [PUBLIC],
      cc: [author.followersUrl ?? ""],
      mentions: [],
      hashtags: [],
      emojis: [],
      attachments: [],
      poll: null,
      ...overrides,
    },
    author,
  );
}

/** Receives a parsedNote by `author` through the core; returns the new status id. */
export function remoteNote(
  server: TestServer,
  author: AccountRow,
  overrides: Partial<ParsedNote> = {},
): string {
  return receiveNote(server.context, author, parsedNote(author, overrides));
}

/** A follow written straight into the store (accepted unless said otherwise); returns its id. */
export function followRow(
  server: TestServer,
  followerId: string,
  followingId: string,
  state: "accepted" | "pending" = "accepted",
): string {
  const id = newId();
  server.context.store.db
    .insert(follows)
    .values({ id, followerId, followingId, state, createdAt: Date.now() })
    .run();
  return id;
}

/** Activities queued for delivery to an inbox, parsed. */
export function queuedFor(server: TestServer, inbox: string): Json[] {
  return server.context.store.db
    .select({ body: outboundActivities.body })
    .from(deliveryJobs)
    .innerJoin(outboundActivities, eq(deliveryJobs.activityId, outboundActivities.id))
    .where(eq(deliveryJobs.inboxUrl, inbox))
    .all()
    .map((r) => JSON.parse(r.body) as Json);
}

export const ACCOUNT_KEYS = [
  "id",
  "username",
  "acct",
  "url",
  "display_name",
  "note",
  "avatar",
  "avatar_static",
  "header",
  "header_static",
  "locked",
  "bot",
  "created_at",
  "fields",
  "emojis",
  "followers_count",
  "following_count",
  "statuses_count",
];

export const RELATIONSHIP_KEYS = [
  "id",
  "following",
  "showing_reblogs",
  "notifying",
  "languages",
  "followed_by",
  "blocking",
  "blocked_by",
  "muting",
  "muting_notifications",
  "requested",
  "requested_by",
  "domain_blocking",
  "endorsed",
  "note",
];

/** Asserts a Mastodon Account entity: every key, absolute URLs, an ISO created_at. Returns it. */
export function expectAccount(value: unknown): Json {
  const account = value as Json;
  for (const key of ACCOUNT_KEYS) expect(account, key).toHaveProperty(key);
  for (const key of ["url", "avatar", "avatar_static", "header", "header_static"]) {
    expect(account[key], key).toMatch(/^https?:\/\/\S+$/);
  }
  expect(account.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return account;
}

/** Asserts a Mastodon Relationship entity has every key. Returns it. */
export function expectRelationship(value: unknown): Json {
  const relationship = value as Json;
  for (const key of RELATIONSHIP_KEYS) expect(relationship, key).toHaveProperty(key);
  return relationship;
}
