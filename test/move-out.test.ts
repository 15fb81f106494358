// The owner's side of account migration, through the `wren` command and real servers: aliases, moving from
// one Wren (alice) to a second Wren (bob) with the independent Fedify peer as a follower that follows the move
// as Mastodon does, a refused move, cancelling a move, and deleting the account.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { updateProfile } from "../src/core/profile.js";
import { resolveHandle } from "../src/federation/resolve.js";
import { startServer } from "../src/main.js";
import { api, issueToken } from "./helpers/api.js";
import { type CliResult, ensureBuilt, runWren } from "./helpers/cli.js";
import {
  AP_ACCEPT,
  deliveriesSettled,
  type FedifyPeer,
  followAccepted,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboundKey, inboundRows, inboxSettled } from "./helpers/inbound.js";
import { makePng } from "./helpers/png.js";
import {
  childEnv,
  startTestServer,
  TEST_PASSWORD,
  type TestServer,
  tempDir,
  testEnv,
} from "./helpers/server.js";

type Json = Record<string, unknown>;

beforeAll(ensureBuilt, 120_000);

/** Each `wren` run starts a Node process (about 2 s on a busy machine); several run per test. */
const CLI_TIMEOUT = 90_000;

/** `wren ...` against a test server's database and configuration (the server may be running or stopped). */
function wren(server: TestServer, args: string[], input?: string): Promise<CliResult> {
  return runWren(args, { cwd: server.dir, env: childEnv(server.dir, server.port), input });
}

function expectOk(result: CliResult): CliResult {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function actorDocument(peer: FedifyPeer, uri: string): Promise<Json> {
  const res = await peer.fetchSigned(uri, { accept: AP_ACCEPT });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

/** Wakes a running server's delivery worker at once (it looks at the queue by itself within 30 s). */
function wake(server: TestServer): void {
  server.context.events.emit("delivery.queued");
}

function follows(server: TestServer, followerUri: string, followingUri: string): string | null {
  const row = server.context.store.sqlite
    .prepare(
      `SELECT f.state FROM follows f JOIN accounts a ON a.id = f.follower_id JOIN accounts b ON b.id = f.following_id
       WHERE a.uri = ? AND b.uri = ?`,
    )
    .get(followerUri, followingUri) as { state: string } | undefined;
  return row?.state ?? null;
}

describe("moving from one Wren to another", () => {
  let a: TestServer;
  let b: TestServer;
  let peer: FedifyPeer;
  let aliceUri: string;
  let bobUri: string;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    [a, b, peer] = await Promise.all([
      startTestServer({ account: "alice" }),
      startTestServer({ account: "bob" }),
      startFedifyPeer(),
    ]);
    aliceUri = `${a.origin}/users/alice`;
    bobUri = `${b.origin}/users/bob`;
    aliceToken = issueToken(a);
    bobToken = issueToken(b);
    // The peer follows alice (Wren accepts at once).
    await peer.follow(aliceUri);
    await peer.waitFor((r) => r.type === "Accept" && r.actor === aliceUri);
    // bob follows alice too: when alice moves to bob, bob's server receives a Move whose target is bob.
    const alice = await resolveHandle(b.context, `alice@${a.domain}`);
    const row = follow(b.context, alice, {});
    await followAccepted(b.context.store.sqlite, row.id, "bob's follow of alice");
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), peer?.close()]);
  });

  it(
    "refuses a move to an account that does not list the mover as an alias",
    async () => {
      const result = await wren(a, ["move", `bob@${b.domain}`]);
      expect(result.code, result.stdout).toBe(1);
      expect(result.stderr).toMatch(/does not list .*alias/);
      const row = a.context.store.sqlite
        .prepare("SELECT moved_to_uri FROM accounts WHERE uri = ?")
        .get(aliceUri) as { moved_to_uri: string | null };
      expect(row.moved_to_uri).toBeNull();
      const moves = a.context.store.sqlite
        .prepare("SELECT count(*) AS n FROM outbound_activities WHERE json_extract(body, '$.type') = 'Move'")
        .get() as { n: number };
      expect(moves.n).toBe(0);
    },
    CLI_TIMEOUT,
  );

  it(
    "adds, lists and removes aliases; the actor document publishes them in alsoKnownAs",
    async () => {
      expectOk(await wren(b, ["alias", "add", peer.handle]));
      const added = expectOk(await wren(b, ["alias", "add", `@alice@${a.domain}`]));
      expect(added.stdout).toContain(`Added the alias ${aliceUri}`);
      expect(expectOk(await wren(b, ["alias", "add", aliceUri])).stdout).toContain("already an alias");
      expect(
        expectOk(await wren(b, ["alias", "list"]))
          .stdout.trim()
          .split("\n"),
      ).toEqual([peer.actorUri, aliceUri]);
      expect((await actorDocument(peer, bobUri)).alsoKnownAs).toEqual([peer.actorUri, aliceUri]);

      expectOk(await wren(b, ["alias", "remove", peer.actorUri]));
      expect(expectOk(await wren(b, ["alias", "list"])).stdout.trim()).toBe(aliceUri);
      expect((await actorDocument(peer, bobUri)).alsoKnownAs).toEqual([aliceUri]);

      const missing = await wren(b, ["alias", "remove", peer.actorUri]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("is not an alias");
      const own = await wren(b, ["alias", "add", bobUri]);
      expect(own.code).toBe(1);
      expect(own.stderr).toContain("its own alias");
    },
    CLI_TIMEOUT,
  );

  it(
    "moves: followers get the Update and the Move, the peer follows bob instead, bob's server copes",
    async () => {
      const moved = expectOk(await wren(a, ["move", `bob@${b.domain}`]));
      expect(moved.stdout).toContain(`Moved to ${bobUri}`);
      wake(a);

      // The peer receives the Update (movedTo) and the Move, signed by alice.
      const update = await peer.waitFor((r) => r.type === "Update" && r.actor === aliceUri);
      expect(update.json.object).toMatchObject({ id: aliceUri, movedTo: bobUri });
      const move = await peer.waitFor((r) => r.type === "Move" && r.actor === aliceUri);
      expect(move.json).toMatchObject({ actor: aliceUri, object: aliceUri, target: bobUri });
      expect(move.keyId).toBe(`${aliceUri}#main-key`);

      // As Mastodon would: the peer checked bob's alsoKnownAs, followed bob and unfollowed alice.
      await waitUntil(() => follows(b, peer.actorUri, bobUri) === "accepted", "the peer to follow bob");
      await waitUntil(() => follows(a, peer.actorUri, aliceUri) === null, "the peer to leave alice");
      expect(peer.errors).toEqual([]);

      // bob's server took the Move whose target is bob itself without error, and bob does not follow himself.
      await inboxSettled(b);
      const inbound = inboundRows(b).find((r) => r.dedupe_key === inboundKey(String(move.id)));
      expect(inbound, JSON.stringify(inboundRows(b))).toMatchObject({ state: "done", last_error: null });
      expect(follows(b, bobUri, bobUri)).toBeNull();
      const aliceAtB = idByUri(b.context.store.sqlite, "accounts", aliceUri) as string;
      const seen = await api(b, bobToken, "GET", `/api/v1/accounts/${aliceAtB}`);
      expect(seen.json).toMatchObject({ moved: { username: "bob", url: `${b.origin}/@bob` } });

      // The API reports `moved` on the owner's account: the new account's entity.
      const me = await api(a, aliceToken, "GET", "/api/v1/accounts/verify_credentials");
      expect(me.status).toBe(200);
      expect((me.json as Json).moved).toMatchObject({ acct: `bob@${b.domain}`, uri: bobUri });
      // The actor document and the web profile say so too.
      expect((await actorDocument(peer, aliceUri)).movedTo).toBe(bobUri);
      const page = await (await fetch(`${a.origin}/@alice`)).text();
      expect(page).toContain("has moved to");
      expect(page).toContain(`@bob@${b.domain}`);

      // Following and unfollowing keep working after the move.
      const peerAtA = await resolveHandle(a.context, peer.handle);
      const followed = await api(a, aliceToken, "POST", `/api/v1/accounts/${peerAtA.id}/follow`);
      expect(followed.status).toBe(200);
      await peer.waitFor((r) => r.type === "Follow" && r.actor === aliceUri);
      const unfollowed = await api(a, aliceToken, "POST", `/api/v1/accounts/${peerAtA.id}/unfollow`);
      expect(unfollowed.status).toBe(200);
      await deliveriesSettled(a.context.store.sqlite);
    },
    CLI_TIMEOUT,
  );

  it(
    "cancels the move: movedTo is cleared and followers get an Update",
    async () => {
      expect(expectOk(await wren(a, ["move", "--cancel"])).stdout).toContain("cancelled");
      wake(a);
      const me = await api(a, aliceToken, "GET", "/api/v1/accounts/verify_credentials");
      expect((me.json as Json).moved).toBeNull();
      expect((await actorDocument(peer, aliceUri)).movedTo).toBeUndefined();
      await waitUntil(() => {
        const row = b.context.store.sqlite
          .prepare("SELECT moved_to_uri FROM accounts WHERE uri = ?")
          .get(aliceUri) as { moved_to_uri: string | null };
        return row.moved_to_uri === null;
      }, "bob's server to learn that alice no longer moved");
      expect((await wren(a, ["move", "--cancel"])).stdout).toContain("has not moved");
      const both = await wren(a, ["move", "--cancel", `bob@${b.domain}`]);
      expect(both.code).toBe(1);
    },
    CLI_TIMEOUT,
  );
});

describe("wren account delete", () => {
  let server: TestServer;
  let peer: FedifyPeer;
  let dir: string;
  let aliceUri: string;
  let dbPath: string;

  beforeAll(async () => {
    dir = tempDir();
    [server, peer] = await Promise.all([
      startTestServer({ account: "alice", dir }),
      startFedifyPeer({ extraActors: ["other"] }),
    ]);
    aliceUri = `${server.origin}/users/alice`;
    dbPath = join(dir, "wren.db");
    const token = issueToken(server);
    await peer.follow(aliceUri);
    await peer.waitFor((r) => r.type === "Accept" && r.actor === aliceUri);
    const posted = await api(server, token, "POST", "/api/v1/statuses", { status: "last words" });
    expect(posted.status).toBe(200);
    await peer.post({ content: "hello alice", mentions: [aliceUri] });
    await updateProfile(server.context, {
      avatar: new File([await makePng()], "avatar.png", { type: "image/png" }),
    });
    await deliveriesSettled(server.context.store.sqlite);
    await inboxSettled(server);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await peer?.close();
  });

  it(
    "refuses while the server runs, and without the right username",
    async () => {
      const running = await wren(server, ["account", "delete", "--yes"]);
      expect(running.code).toBe(1);
      expect(running.stderr).toContain("stop the server");

      await server.stop();
      const wrong = await wren(server, ["account", "delete"], "bob\n");
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("does not match");
      const db = new Database(dbPath, { readonly: true });
      try {
        expect(db.prepare("SELECT count(*) AS n FROM accounts WHERE domain IS NULL").get()).toEqual({ n: 1 });
      } finally {
        db.close();
      }
    },
    CLI_TIMEOUT,
  );

  it(
    "sends Delete to the servers that know the account, then wipes everything",
    async () => {
      const result = expectOk(await wren(server, ["account", "delete", "--wait", "20"], "alice\n"));
      expect(result.stdout).toContain("Delete delivered to 1 of 1 inboxes");

      const received = await peer.waitFor((r) => r.type === "Delete" && r.actor === aliceUri);
      expect(received.json).toMatchObject({
        type: "Delete",
        actor: aliceUri,
        object: aliceUri,
        to: ["https://www.w3.org/ns/activitystreams#Public"],
      });
      expect(received.keyId).toBe(`${aliceUri}#main-key`);

      const db = new Database(dbPath, { readonly: true });
      try {
        for (const table of [
          "accounts",
          "users",
          "statuses",
          "follows",
          "notifications",
          "media_attachments",
        ]) {
          expect(db.prepare(`SELECT count(*) AS n FROM ${table}`).get(), table).toEqual({ n: 0 });
        }
        expect(db.prepare("SELECT DISTINCT owner FROM key_pairs").all()).toEqual([{ owner: "instance" }]);
      } finally {
        db.close();
      }
      const media = join(dir, "media");
      expect(existsSync(media) ? readdirSync(media) : []).toEqual([]);

      // The old actor answers 410 Gone to anyone who refetches it to confirm the Delete; its username stays taken.
      const gone = await wren(server, ["account", "create", "--username", "alice"], `${TEST_PASSWORD}\n`);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain("was deleted");
      const restarted = await startServer({ env: testEnv(dir, server.port) });
      try {
        expect((await peer.fetchUnsigned(aliceUri)).status).toBe(410);
        expect((await peer.fetchUnsigned(`${server.origin}/users/nobody`)).status).toBe(404);
      } finally {
        await restarted.stop();
      }

      // A fresh start: an account can be created again.
      const created = await wren(server, ["account", "create", "--username", "carol"], `${TEST_PASSWORD}\n`);
      expect(created.code, created.stderr).toBe(0);
    },
    CLI_TIMEOUT,
  );
});
