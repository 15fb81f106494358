// Federation with an independent implementation: a Fedify 1.10 server (test/helpers/fedify-peer.ts) and a
// real Wren talk over HTTP on 127.0.0.1. The whole exchange runs once with each signature standard the peer
// tries first; Wren's delivery worker (started by startServer) carries everything Wren sends.
import {
  Accept,
  type Object as APObject,
  Create,
  Follow,
  Hashtag,
  Mention,
  Note,
  OrderedCollection,
  PUBLIC_COLLECTION,
  traverseCollection,
  Undo,
} from "@fedify/fedify";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow, unfollow } from "../src/core/follows.js";
import { block, favourite, pin, reblog, unblock, unfavourite, unreblog } from "../src/core/interactions.js";
import { createStatus, deleteStatus, editStatus } from "../src/core/statuses.js";
import { resolveHandle } from "../src/federation/resolve.js";
import { accounts } from "../src/store/schema.js";
import {
  deliveriesSettled,
  type FedifyPeer,
  type PeerSignatureSpec,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

interface StatusRow {
  id: string;
  uri: string;
  account_id: string;
  local: number;
  content: string;
  visibility: string;
  in_reply_to_id: string | null;
  in_reply_to_uri: string | null;
  in_reply_to_account_id: string | null;
  reblog_of_id: string | null;
  replies_count: number;
  reblogs_count: number;
  favourites_count: number;
  edited_at: number | null;
  deleted_at: number | null;
}

describe.each<PeerSignatureSpec>(["draft-cavage-http-signatures-12", "rfc9421"])(
  "Wren and a Fedify peer that signs with %s first",
  (spec) => {
    let server: TestServer;
    let peer: FedifyPeer;
    let stranger: FedifyPeer;
    let aliceUri: string;
    let aliceId: string;
    let peerId: string;
    /** alice's first public post, which the peer mentions, likes, boosts and answers. */
    let post: StatusRow;

    const sql = () => server.context.store.sqlite;
    const statusByUri = (uri: string) =>
      sql().prepare("SELECT * FROM statuses WHERE uri = ?").get(uri) as StatusRow | undefined;
    const statusById = (id: string) =>
      sql().prepare("SELECT * FROM statuses WHERE id = ?").get(id) as StatusRow;
    const accountIdOf = (uri: string) =>
      (sql().prepare("SELECT id FROM accounts WHERE uri = ?").get(uri) as { id: string } | undefined)?.id;
    const followRow = (followerId: string, followingId: string) =>
      sql()
        .prepare("SELECT * FROM follows WHERE follower_id = ? AND following_id = ?")
        .get(followerId, followingId) as { state: string; uri: string } | undefined;
    const notification = (type: string, fromId: string, statusId: string | null = null) =>
      sql()
        .prepare(
          "SELECT * FROM notifications WHERE type = ? AND from_account_id = ? AND (? IS NULL OR status_id = ?)",
        )
        .get(type, fromId, statusId, statusId);
    const loaders = () => {
      const c = peer.context();
      return { documentLoader: c.documentLoader, contextLoader: c.contextLoader };
    };
    const objectOf = async (activity: { getObject(o: object): Promise<APObject | null> }) =>
      activity.getObject(loaders());

    beforeAll(async () => {
      [server, peer, stranger] = await Promise.all([
        startTestServer({ account: "alice" }),
        startFedifyPeer({ spec }),
        startFedifyPeer({ spec }),
      ]);
      aliceUri = `${server.origin}/users/alice`;
      aliceId = accountIdOf(aliceUri) as string;
    });

    afterAll(async () => {
      await server?.close();
      await peer?.close();
      await stranger?.close();
    });

    it("the peer follows alice: Wren stores the follower, notifies alice and sends a signed Accept", async () => {
      const followId = await peer.follow(aliceUri);
      await inboxSettled(server);
      // Wren accepted the peer's first signature standard: Fedify remembers it only then.
      expect(await peer.rememberedSpec(server.origin)).toBe(spec);

      const accept = await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
      expect(accept.activity).toBeInstanceOf(Accept);
      expect(accept.actor).toBe(aliceUri);
      expect(accept.keyId).toBe(`${aliceUri}#main-key`);
      // The Follow is embedded as sent (Fedify would refetch it from its origin rather than trust the copy).
      expect(accept.json.object).toMatchObject({
        id: followId,
        type: "Follow",
        actor: peer.actorUri,
        object: aliceUri,
      });

      const account = sql().prepare("SELECT * FROM accounts WHERE uri = ?").get(peer.actorUri) as Record<
        string,
        unknown
      >;
      expect(account).toMatchObject({
        username: "peer",
        domain: peer.domain,
        inbox_url: peer.inboxUri,
        shared_inbox_url: peer.sharedInboxUri,
        followers_url: peer.followersUri,
      });
      peerId = account.id as string;
      expect(followRow(peerId, aliceId)).toMatchObject({ state: "accepted", uri: followId });
      expect(notification("follow", peerId)).toBeDefined();
    });

    it("alice's post reaches the peer once, verified, with its content, Mention, Hashtag and addressing", async () => {
      const id = await createStatus(server.context, { text: `hello @${peer.handle} #wren` });
      post = statusById(id);
      const create = await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === post.uri);
      expect(create.activity).toBeInstanceOf(Create);
      expect(create.actor).toBe(aliceUri);
      expect(create.keyId).toBe(`${aliceUri}#main-key`);
      expect(create.signature).toBe("draft-cavage"); // Wren signs draft-cavage first (INTEROP.md)
      // No LD signature; an FEP-8b32 proof by alice's Ed25519 key, which Fedify checks before the HTTP
      // signature (Fedify's verifyRequest checks Wren's HTTP signatures on their own in signatures-fedify.test.ts).
      expect(create.json.signature).toBeUndefined();
      expect(create.json.proof).toMatchObject({
        cryptosuite: "eddsa-jcs-2022",
        verificationMethod: `${aliceUri}#ed25519-key`,
      });

      const note = await objectOf(create.activity);
      expect(note).toBeInstanceOf(Note);
      expect(note?.attributionId?.href).toBe(aliceUri);
      expect(note?.content?.toString()).toContain("hello");
      expect(note?.content?.toString()).toContain(`href="${peer.actorUri}"`);
      const tags: APObject[] = [];
      for await (const tag of (note as Note).getTags(loaders())) tags.push(tag as APObject);
      const mention = tags.find((t) => t instanceof Mention) as Mention | undefined;
      expect(mention?.href?.href).toBe(peer.actorUri);
      expect(mention?.name?.toString()).toBe(`@peer@${peer.domain}`);
      const hashtag = tags.find((t) => t instanceof Hashtag) as Hashtag | undefined;
      expect(hashtag?.name?.toString()).toBe("#wren");
      expect(note?.toIds.map((u) => u.href)).toEqual([PUBLIC_COLLECTION.href]);
      expect(note?.ccIds.map((u) => u.href)).toEqual(
        expect.arrayContaining([`${aliceUri}/followers`, peer.actorUri]),
      );
      // The wire format: the Public IRI written in full, as Mastodon expects.
      expect(create.json.to).toEqual([PUBLIC]);
      expect((create.json.object as { to: unknown }).to).toEqual([PUBLIC]);

      // The peer is both a follower and mentioned: one POST to its shared inbox carries both.
      await deliveriesSettled(sql());
      expect(
        peer.received.filter((r) => r.type === "Create" && r.activity.objectId?.href === post.uri),
      ).toHaveLength(1);
      expect(create.recipient).toBeNull();
    });

    it("alice follows the peer: resolved by WebFinger, pending, then accepted by the peer's Accept", async () => {
      const target = await resolveHandle(server.context, peer.handle);
      expect(target.uri).toBe(peer.actorUri);
      expect(target.id).toBe(peerId);
      const row = follow(server.context, target);
      expect(row.state).toBe("pending");

      const received = await peer.waitFor((r) => r.type === "Follow" && r.id === row.uri);
      expect(received.actor).toBe(aliceUri);
      expect(received.activity.objectId?.href).toBe(peer.actorUri);
      await waitUntil(
        () => followRow(aliceId, peerId)?.state === "accepted",
        "alice's follow to be accepted",
      );
      expect(peer.followers.has(aliceUri)).toBe(true);
    });

    it("the peer's post reaches alice's home timeline", async () => {
      const noteUri = await peer.post({ content: "<p>First post from the peer</p>", hashtags: ["fedify"] });
      await inboxSettled(server);
      const status = statusByUri(noteUri);
      expect(status).toMatchObject({ account_id: peerId, local: 0, visibility: "public", deleted_at: null });
      expect(status?.content).toContain("First post from the peer");
      expect(sql().prepare("SELECT * FROM home_feed WHERE status_id = ?").get(status?.id)).toBeDefined();
      const tag = sql()
        .prepare("SELECT t.name FROM status_tags st JOIN tags t ON t.id = st.tag_id WHERE st.status_id = ?")
        .all(status?.id);
      expect(tag).toEqual([{ name: "fedify" }]);
    });

    it("the peer likes and boosts alice's post, then undoes both", async () => {
      const likeId = await peer.like(post.uri);
      await inboxSettled(server);
      expect(sql().prepare("SELECT * FROM favourites WHERE uri = ?").get(likeId)).toMatchObject({
        account_id: peerId,
        status_id: post.id,
      });
      expect(statusById(post.id).favourites_count).toBe(1);
      expect(notification("favourite", peerId, post.id)).toBeDefined();

      const announceId = await peer.announce(post.uri);
      await inboxSettled(server);
      expect(statusByUri(announceId)).toMatchObject({ account_id: peerId, reblog_of_id: post.id, local: 0 });
      expect(statusById(post.id).reblogs_count).toBe(1);
      expect(notification("reblog", peerId, post.id)).toBeDefined();

      await peer.undo(likeId);
      await inboxSettled(server);
      expect(sql().prepare("SELECT * FROM favourites WHERE uri = ?").get(likeId)).toBeUndefined();
      expect(statusById(post.id).favourites_count).toBe(0);

      await peer.undo(announceId);
      await inboxSettled(server);
      expect(statusByUri(announceId)).toBeUndefined();
      expect(statusById(post.id).reblogs_count).toBe(0);
    });

    it("the peer edits (Update with `updated`) and deletes a post: history kept, then tombstoned", async () => {
      const noteUri = await peer.post({ content: "<p>Before the edit</p>" });
      await inboxSettled(server);
      const before = statusByUri(noteUri) as StatusRow;
      expect(before.edited_at).toBeNull();

      await peer.update(noteUri, "<p>After the edit</p>");
      await inboxSettled(server);
      const after = statusByUri(noteUri) as StatusRow;
      expect(after.content).toContain("After the edit");
      expect(after.edited_at).not.toBeNull();
      const edits = sql().prepare("SELECT * FROM status_edits WHERE status_id = ?").all(before.id) as {
        content: string;
      }[];
      expect(edits).toHaveLength(1);
      expect(edits[0]?.content).toContain("Before the edit");

      await peer.delete(noteUri);
      await inboxSettled(server);
      expect(statusByUri(noteUri)?.deleted_at).not.toBeNull();
      expect(sql().prepare("SELECT * FROM home_feed WHERE status_id = ?").get(before.id)).toBeUndefined();
    });

    it("a reply thread: the peer answers alice (counted, linked, served in replies) and alice answers back", async () => {
      const replyUri = await peer.post({
        content: `<p><a href="${aliceUri}" class="mention">@alice</a> a reply</p>`,
        inReplyTo: post.uri,
        mentions: [aliceUri],
      });
      await inboxSettled(server);
      const reply = statusByUri(replyUri) as StatusRow;
      expect(reply).toMatchObject({
        in_reply_to_id: post.id,
        in_reply_to_uri: post.uri,
        in_reply_to_account_id: aliceId,
      });
      expect(statusById(post.id).replies_count).toBe(1);
      const replies = await peer.fetchUnsigned(`${post.uri}/replies`);
      expect(replies.status).toBe(200);
      expect(((await replies.json()) as { items: string[] }).items).toContain(replyUri);

      const answerId = await createStatus(server.context, {
        text: `@${peer.handle} thanks!`,
        inReplyToId: reply.id,
      });
      const answer = statusById(answerId);
      expect(answer.in_reply_to_uri).toBe(replyUri);
      expect(statusById(reply.id).replies_count).toBe(1);
      const create = await peer.waitFor(
        (r) => r.type === "Create" && r.activity.objectId?.href === answer.uri,
      );
      const note = (await objectOf(create.activity)) as Note;
      expect(note.replyTargetId?.href).toBe(replyUri);
      expect(note.content?.toString()).toContain("thanks!");
    });

    it("a mention of alice by the peer creates a mention notification", async () => {
      const noteUri = await peer.post({
        content: `<p><a href="${aliceUri}" class="mention">@alice</a> just for you</p>`,
        visibility: "direct",
        mentions: [aliceUri],
      });
      await inboxSettled(server);
      const status = statusByUri(noteUri) as StatusRow;
      expect(status).toMatchObject({ account_id: peerId, visibility: "direct" });
      expect(notification("mention", peerId, status.id)).toBeDefined();
      expect(
        sql()
          .prepare("SELECT * FROM mentions WHERE status_id = ? AND account_id = ?")
          .get(status.id, aliceId),
      ).toBeDefined();
    });

    it("a followers-only post: delivered to the follower, fetchable signed by it, 401 unsigned, 404 to others", async () => {
      const id = await createStatus(server.context, { text: "only for my followers", visibility: "private" });
      const { uri } = statusById(id);
      const create = await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === uri);
      expect(create.json.to).toEqual([`${aliceUri}/followers`]);
      expect(JSON.stringify(create.json)).not.toContain(PUBLIC);

      const unsigned = await peer.fetchUnsigned(uri);
      expect(unsigned.status).toBe(401);
      expect(((await unsigned.json()) as { error: string }).error).toEqual(expect.any(String));

      for (const standard of ["draft-cavage-http-signatures-12", "rfc9421"] as const) {
        const signed = await peer.fetchSigned(uri, { spec: standard });
        expect(signed.status, standard).toBe(200);
        expect(signed.headers.get("cache-control")).toContain("private");
        const body = (await signed.json()) as { id: string; content: string; to: string[] };
        expect(body.id).toBe(uri);
        expect(body.content).toContain("only for my followers");
        expect(body.to).toEqual([`${aliceUri}/followers`]);
      }

      // Fedify's own signed fetch of it, as an accepted follower.
      const c = peer.context();
      const loaded = await c.lookupObject(uri, {
        documentLoader: await c.getDocumentLoader({ identifier: "peer" }),
      });
      expect(loaded).toBeInstanceOf(Note);

      const other = await stranger.fetchSigned(uri);
      expect(other.status).toBe(404);
    });

    it("alice's unlisted and direct posts are addressed as Mastodon does; the direct one is for the peer only", async () => {
      const unlistedId = await createStatus(server.context, {
        text: "not on the public timelines",
        visibility: "unlisted",
      });
      const unlisted = statusById(unlistedId);
      const u = await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === unlisted.uri);
      expect(u.json.to).toEqual([`${aliceUri}/followers`]);
      expect(u.json.cc).toEqual([PUBLIC]);
      expect((await peer.fetchUnsigned(unlisted.uri)).status).toBe(200);

      const directId = await createStatus(server.context, {
        text: `@${peer.handle} between us`,
        visibility: "direct",
      });
      const direct = statusById(directId);
      const d = await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === direct.uri);
      expect(d.json.to).toEqual([peer.actorUri]);
      expect(d.json.cc).toEqual([]);
      expect((await peer.fetchUnsigned(direct.uri)).status).toBe(401);
      expect((await peer.fetchSigned(direct.uri)).status).toBe(200);
      expect((await stranger.fetchSigned(direct.uri)).status).toBe(404);
    });

    it("the peer boosts a note Wren has never seen: Wren fetches it from the peer, then stores the boost", async () => {
      const noteUri = await peer.post({ content: "<p>never delivered</p>", silent: true });
      await inboxSettled(server);
      expect(statusByUri(noteUri)).toBeUndefined();
      const announceId = await peer.announce(noteUri);
      await inboxSettled(server);
      const original = statusByUri(noteUri) as StatusRow;
      expect(original).toMatchObject({ account_id: peerId, visibility: "public", reblogs_count: 1 });
      expect(original.content).toContain("never delivered");
      expect(statusByUri(announceId)).toMatchObject({ account_id: peerId, reblog_of_id: original.id });
    });

    it("Fedify reads alice's outbox, followers and featured collections", async () => {
      const c = peer.context();
      const options = { documentLoader: c.documentLoader, contextLoader: c.contextLoader };
      const outbox = await c.lookupObject(`${aliceUri}/outbox`);
      expect(outbox).toBeInstanceOf(OrderedCollection);
      const items: APObject[] = [];
      for await (const item of traverseCollection(outbox as OrderedCollection, options))
        items.push(item as APObject);
      const created = items.filter((i): i is Create => i instanceof Create).map((i) => i.objectId?.href);
      expect(created).toContain(post.uri);
      expect((outbox as OrderedCollection).totalItems).toBe(items.length);

      const followersCollection = await c.lookupObject(`${aliceUri}/followers`);
      expect(followersCollection).toBeInstanceOf(OrderedCollection);
      const followerIds: string[] = [];
      for await (const item of traverseCollection(followersCollection as OrderedCollection, options)) {
        followerIds.push((item as APObject).id?.href ?? (item as unknown as URL).href);
      }
      expect(followerIds).toEqual([peer.actorUri]);

      pin(server.context, post.id, true);
      const featured = await c.lookupObject(`${aliceUri}/collections/featured`);
      expect(featured).toBeInstanceOf(OrderedCollection);
      const pinned: APObject[] = [];
      for await (const item of traverseCollection(featured as OrderedCollection, options))
        pinned.push(item as APObject);
      expect(pinned.map((p) => p.id?.href)).toEqual([post.uri]);
      expect(pinned[0]).toBeInstanceOf(Note);
      pin(server.context, post.id, false);
    });

    it("the peer's unlisted and followers-only posts keep their visibility", async () => {
      const unlisted = await peer.post({ content: "<p>quietly public</p>", visibility: "unlisted" });
      await inboxSettled(server);
      expect(statusByUri(unlisted)?.visibility).toBe("unlisted");
      const followersOnly = await peer.post({ content: "<p>for my followers</p>", visibility: "followers" });
      await inboxSettled(server);
      expect(statusByUri(followersOnly)?.visibility).toBe("private");
    });

    it("alice's likes, boosts, edits, deletes and their undos reach the peer", async () => {
      const noteUri = await peer.post({ content: "<p>something to like</p>" });
      await inboxSettled(server);
      const target = statusByUri(noteUri) as StatusRow;

      favourite(server.context, target.id);
      const like = await peer.waitFor((r) => r.type === "Like" && r.activity.objectId?.href === noteUri);
      expect(like.actor).toBe(aliceUri);
      const boostId = reblog(server.context, target.id);
      const announce = await peer.waitFor(
        (r) => r.type === "Announce" && r.activity.objectId?.href === noteUri,
      );
      expect(announce.actor).toBe(aliceUri);
      expect(announce.id).toBe(`${statusById(boostId).uri}/activity`);

      unfavourite(server.context, target.id);
      const undoLike = await peer.waitFor((r) => r.type === "Undo" && r.activity.objectId?.href === like.id);
      expect(undoLike.json.object).toMatchObject({ type: "Like", actor: aliceUri, object: noteUri });
      unreblog(server.context, target.id);
      const undoAnnounce = await peer.waitFor(
        (r) => r.type === "Undo" && r.activity.objectId?.href === announce.id,
      );
      expect(undoAnnounce.json.object).toMatchObject({ type: "Announce", actor: aliceUri, object: noteUri });

      const id = await createStatus(server.context, { text: "first version" });
      const { uri } = statusById(id);
      await peer.waitFor((r) => r.type === "Create" && r.activity.objectId?.href === uri);
      await editStatus(server.context, id, { text: "second version" });
      const update = await peer.waitFor((r) => r.type === "Update" && r.activity.objectId?.href === uri);
      const edited = (await objectOf(update.activity)) as Note;
      expect(edited).toBeInstanceOf(Note);
      expect(edited.content?.toString()).toContain("second version");
      expect(edited.updated).not.toBeNull(); // what makes it an edit for Mastodon

      deleteStatus(server.context, id);
      const del = await peer.waitFor((r) => r.type === "Delete" && r.activity.objectId?.href === uri);
      expect(del.json.object).toMatchObject({ id: uri, type: "Tombstone" });
      expect((await peer.fetchUnsigned(uri)).status).toBe(404);
    });

    it("Undo(Follow) both ways ends the follows", async () => {
      await peer.unfollow(aliceUri);
      await inboxSettled(server);
      expect(followRow(peerId, aliceId)).toBeUndefined();

      unfollow(server.context, accountRow(peerId));
      expect(followRow(aliceId, peerId)).toBeUndefined();
      const undo = await peer.waitFor(
        (r) =>
          r.type === "Undo" &&
          r.actor === aliceUri &&
          (r.json.object as { type?: unknown }).type === "Follow",
      );
      expect(undo.activity).toBeInstanceOf(Undo);
      const inner = await objectOf(undo.activity);
      expect(inner).toBeInstanceOf(Follow);
      await waitUntil(() => !peer.followers.has(aliceUri), "the peer to drop alice from its followers");
      expect(peer.errors).toEqual([]);
    });

    it("blocks both ways: alice's Block reaches the peer and silences it; the peer's Block ends the follow", async () => {
      block(server.context, accountRow(peerId));
      const blocked = await peer.waitFor((r) => r.type === "Block" && r.actor === aliceUri);
      expect(blocked.activity.objectId?.href).toBe(peer.actorUri);
      const ignored = await peer.post({
        content: `<p><a href="${aliceUri}" class="mention">@alice</a> can you hear me?</p>`,
        mentions: [aliceUri],
      });
      await inboxSettled(server);
      expect(statusByUri(ignored)).toBeUndefined();

      unblock(server.context, accountRow(peerId));
      const undo = await peer.waitFor(
        (r) =>
          r.type === "Undo" && r.actor === aliceUri && (r.json.object as { type?: unknown }).type === "Block",
      );
      expect((undo.json.object as { id: unknown }).id).toBe(blocked.id);

      const followId = await peer.follow(aliceUri);
      await inboxSettled(server);
      await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
      expect(followRow(peerId, aliceId)?.state).toBe("accepted");
      await peer.block(aliceUri);
      await inboxSettled(server);
      expect(followRow(peerId, aliceId)).toBeUndefined();
    });

    it("the peer reports alice's post: a report and an admin.report notification", async () => {
      const flagId = await peer.flag(aliceUri, [post.uri], "this is a test report");
      await inboxSettled(server);
      const report = sql().prepare("SELECT * FROM reports WHERE uri = ?").get(flagId) as
        | {
            id: string;
            from_account_id: string;
            target_account_id: string;
            comment: string;
            status_ids: string;
          }
        | undefined;
      expect(report).toMatchObject({
        from_account_id: peerId,
        target_account_id: aliceId,
        comment: "this is a test report",
      });
      expect(JSON.parse(report?.status_ids ?? "[]")).toEqual([post.id]);
      expect(
        sql()
          .prepare("SELECT * FROM notifications WHERE type = 'admin.report' AND report_id = ?")
          .get(report?.id),
      ).toBeDefined();
    });

    function accountRow(id: string) {
      const row = server.context.store.db.select().from(accounts).where(eq(accounts.id, id)).get();
      if (!row) throw new Error(`no account ${id}`);
      return row;
    }
  },
);
