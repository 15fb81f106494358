// Quote posts (FEP-044f, as Mastodon 4.5 does them) with the Fedify peer. Fedify 1.10 has no QuoteRequest
// or QuoteAuthorization vocabulary, so the peer's side of those is raw JSON-LD signed with the peer's key,
// and what Wren sends that Fedify cannot parse is read from `peer.unparsed`.
import { createRestAPIClient, type mastodon } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { follow } from "../src/core/follows.js";
import { resolveActor } from "../src/federation/resolve.js";
import { api, issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import {
  AP_ACCEPT,
  type FedifyPeer,
  followAccepted,
  idByUri,
  startFedifyPeer,
  waitUntil,
} from "./helpers/fedify-peer.js";
import { inboxSettled } from "./helpers/inbound.js";
import { signedPost } from "./helpers/inbox-post.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;
const QUOTE_CONTEXT = [
  AS,
  {
    quote: "https://w3id.org/fep/044f#quote",
    QuoteRequest: "https://w3id.org/fep/044f#QuoteRequest",
    quoteAuthorization: { "@id": "https://w3id.org/fep/044f#quoteAuthorization", "@type": "@id" },
    _misskey_quote: "https://misskey-hub.net/ns#_misskey_quote",
  },
];

type Json = Record<string, unknown>;
interface QuoteEntity {
  state: string;
  quoted_status: { id: string; uri: string; quote?: unknown } | null;
}
interface StatusEntity {
  id: string;
  uri: string;
  content: string;
  visibility: string;
  quote: QuoteEntity | null;
  quotes_count: number;
  quote_approval: { automatic: string[]; manual: string[]; current_user: string };
}

let server: TestServer;
let peer: FedifyPeer;
let token: string;
let client: mastodon.rest.Client;
let aliceUri: string;
let counter = 0;

beforeAll(async () => {
  [server, peer] = await Promise.all([startTestServer({ account: "alice" }), startFedifyPeer()]);
  restoreNativeResponse();
  aliceUri = `${server.origin}/users/alice`;
  token = issueToken(server);
  client = createRestAPIClient({ url: server.origin, accessToken: token });
  // The peer follows alice (her posts reach it) and alice follows the peer (its posts reach her).
  const followId = await peer.follow(aliceUri);
  await peer.waitFor((r) => r.type === "Accept" && r.activity.objectId?.href === followId);
  const peerAccount = await resolveActor(server.context, peer.actorUri);
  const { id } = follow(server.context, peerAccount);
  await followAccepted(server.context.store.sqlite, id, "alice's follow of the peer");
});

afterAll(async () => {
  await peer?.close();
  await server?.close();
});

/** A note by the peer, on the peer's host (Wren takes an embedded one as it is). */
function peerNote(content: string, extra: Json = {}): Json {
  return {
    id: `${peer.actorUri}/quoting/${Date.now()}-${++counter}`,
    type: "Note",
    attributedTo: peer.actorUri,
    content: `<p>${content}</p>`,
    to: [PUBLIC],
    cc: [peer.followersUri],
    published: new Date().toISOString(),
    ...extra,
  };
}

async function sendAsPeer(activity: Json): Promise<void> {
  const res = await signedPost(
    `${server.origin}/inbox`,
    { "@context": QUOTE_CONTEXT, ...activity },
    { keyId: peer.keyId, type: "rsa", privatePem: peer.rsaPrivatePem },
  );
  expect(res.status, res.body).toBe(202);
  await inboxSettled(server);
}

async function createAsPeer(note: Json): Promise<void> {
  await sendAsPeer({ id: `${note.id}/activity`, type: "Create", actor: peer.actorUri, object: note });
}

/** Sends a QuoteRequest with the quoting note embedded, as Mastodon does; returns the request's id. */
async function quoteRequest(quotedUri: string, note: Json): Promise<string> {
  const id = `${note.id}#quote_requests/${++counter}`;
  await sendAsPeer({ id, type: "QuoteRequest", actor: peer.actorUri, object: quotedUri, instrument: note });
  return id;
}

/** What the peer got, parsed by Fedify or not, with the headers it came with. */
function peerGot(predicate: (json: Json) => boolean, what: string) {
  return waitUntil(
    () =>
      [...peer.received.map((r) => ({ json: r.json, headers: r.headers })), ...peer.unparsed].find((r) =>
        predicate(r.json),
      ),
    what,
  );
}

const keyIdOf = (headers: Record<string, string>) =>
  /keyid="([^"]*)"/i.exec(headers["signature-input"] ?? headers.signature ?? "")?.[1];

async function status(id: string): Promise<StatusEntity> {
  const res = await api(server, token, "GET", `/api/v1/statuses/${id}`);
  expect(res.status).toBe(200);
  return res.json as StatusEntity;
}

async function post(body: Json): Promise<StatusEntity> {
  const res = await api(server, token, "POST", "/api/v1/statuses", body);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as StatusEntity;
}

async function quoteNotifications(type = "quote") {
  const res = await api(server, token, "GET", `/api/v1/notifications?types[]=${type}`);
  return res.json as { type: string; account: { acct: string }; status: StatusEntity | null }[];
}

describe("a peer asks to quote alice's posts", () => {
  it("a public post: pending on Create, then Accept with a QuoteAuthorization Wren serves; alice is notified", async () => {
    const quoted = await client.v1.statuses.create({ status: "quote me", quoteApprovalPolicy: "public" });
    expect(quoted.quoteApproval).toEqual({ automatic: ["public"], manual: [], currentUser: "automatic" });

    const note = peerNote("look at this", { quote: quoted.uri });
    await createAsPeer(note);
    const quotingId = idByUri(server.context.store.sqlite, "statuses", note.id as string) as string;
    expect(quotingId).not.toBeNull();
    expect((await status(quotingId)).quote).toEqual({ state: "pending", quoted_status: null });

    const requestId = await quoteRequest(quoted.uri, note);
    const accept = await peerGot(
      (j) => j.type === "Accept" && (j.object as Json | undefined)?.id === requestId,
      "the Accept of the QuoteRequest",
    );
    expect(keyIdOf(accept.headers)).toBe(`${aliceUri}#main-key`);
    expect(accept.json).toMatchObject({
      type: "Accept",
      actor: aliceUri,
      object: {
        id: requestId,
        type: "QuoteRequest",
        actor: peer.actorUri,
        object: quoted.uri,
        instrument: note.id,
      },
    });
    const authorization = accept.json.result as string;
    expect(authorization.startsWith(`${aliceUri}/quote_authorizations/`)).toBe(true);

    // Dereferenceable, as Mastodon's VerifyQuoteService fetches it.
    const res = await peer.fetchUnsigned(authorization, { accept: AP_ACCEPT });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: authorization,
      type: "QuoteAuthorization",
      attributedTo: aliceUri,
      interactingObject: note.id,
      interactionTarget: quoted.uri,
    });

    const shown = await status(quotingId);
    expect(shown.quote?.state).toBe("accepted");
    expect(shown.quote?.quoted_status?.id).toBe(quoted.id);
    expect((await status(quoted.id)).quotes_count).toBe(1);
    const notes = await quoteNotifications();
    expect(notes.map((n) => [n.account.acct, n.status?.id])).toEqual([[peer.handle, quotingId]]);

    const quotes = await client.v1.statuses.$select(quoted.id).quotes.list();
    expect(quotes.map((s) => s.id)).toEqual([quotingId]);

    // alice withdraws her consent: the peer hears of it and the authorization is gone.
    const revoked = await api(
      server,
      token,
      "POST",
      `/api/v1/statuses/${quoted.id}/quotes/${quotingId}/revoke`,
    );
    expect(revoked.status).toBe(200);
    expect((revoked.json as StatusEntity).quote).toEqual({ state: "revoked", quoted_status: null });
    const deleted = await peerGot((j) => j.type === "Delete" && j.object === authorization, "the Delete");
    expect(deleted.json.actor).toBe(aliceUri);
    expect((await peer.fetchUnsigned(authorization, { accept: AP_ACCEPT })).status).toBe(404);
    expect(await client.v1.statuses.$select(quoted.id).quotes.list()).toEqual([]);
  });

  it("a post nobody may quote: the QuoteRequest is rejected", async () => {
    const quoted = await post({ status: "mine only", quote_approval_policy: "nobody" });
    expect(quoted.quote_approval).toEqual({ automatic: [], manual: [], current_user: "automatic" });
    const anonymous = await api(server, null, "GET", `/api/v1/statuses/${quoted.id}`);
    expect((anonymous.json as StatusEntity).quote_approval.current_user).toBe("denied");

    const note = peerNote("quoting anyway", { quote: quoted.uri });
    const requestId = await quoteRequest(quoted.uri, note);
    const reject = await peerGot(
      (j) => j.type === "Reject" && (j.object as Json | undefined)?.id === requestId,
      "the Reject",
    );
    expect(reject.json).toMatchObject({
      actor: aliceUri,
      object: { type: "QuoteRequest", object: quoted.uri },
    });
    expect(reject.json.result).toBeUndefined();
    const quotingId = idByUri(server.context.store.sqlite, "statuses", note.id as string) as string;
    expect((await status(quotingId)).quote).toEqual({ state: "rejected", quoted_status: null });
  });

  it("a followers-only policy accepts a follower; followers-only posts are nobody's to quote", async () => {
    const quoted = await post({ status: "for my followers", quote_approval_policy: "followers" });
    expect(quoted.quote_approval.automatic).toEqual(["followers"]);
    const note = peerNote("a follower quotes", { quote: quoted.uri });
    const requestId = await quoteRequest(quoted.uri, note);
    await peerGot((j) => j.type === "Accept" && (j.object as Json | undefined)?.id === requestId, "Accept");

    const privatePost = await post({
      status: "secret",
      visibility: "private",
      quote_approval_policy: "public",
    });
    expect(privatePost.quote_approval.automatic).toEqual([]);
    const other = peerNote("quoting a private post", { quote: privatePost.uri });
    const otherRequest = await quoteRequest(privatePost.uri, other);
    await peerGot(
      (j) => j.type === "Reject" && (j.object as Json | undefined)?.id === otherRequest,
      "Reject",
    );
  });
});

describe("quotes that reach alice", () => {
  it("a Misskey-style quote of alice's public post is shown at once, and notifies her", async () => {
    const quoted = await post({ status: "misskey will quote this" });
    const before = (await quoteNotifications()).length;
    const note = peerNote("RE: that", { _misskey_quote: quoted.uri });
    await createAsPeer(note);
    const quotingId = idByUri(server.context.store.sqlite, "statuses", note.id as string) as string;
    const shown = await status(quotingId);
    expect(shown.quote?.state).toBe("accepted");
    expect(shown.quote?.quoted_status?.uri).toBe(quoted.uri);
    expect((await quoteNotifications()).length).toBe(before + 1);
  });

  it("a note quoting the peer's own post fetches that post and shows it", async () => {
    const original = await peer.post({ content: "<p>the original</p>", silent: true });
    expect(idByUri(server.context.store.sqlite, "statuses", original)).toBeNull();
    const note = peerNote("quoting myself", { quote: original });
    await createAsPeer(note);
    const quotingId = idByUri(server.context.store.sqlite, "statuses", note.id as string) as string;
    const shown = await status(quotingId);
    expect(shown.quote?.state).toBe("accepted");
    expect(shown.quote?.quoted_status?.uri).toBe(original);
    // Inside a quoted status, a quote is shallow.
    expect(shown.quote?.quoted_status?.quote).toBeNull();
  });

  it("an authorization that is not the quoted author's own does not make a quote accepted", async () => {
    const quoted = await post({ status: "consent is mine to give" });
    const note = peerNote("quoting with a forged consent", {
      quote: quoted.uri,
      quoteAuthorization: `${peer.origin}/users/peer/quote_authorizations/forged`,
    });
    await createAsPeer(note);
    const quotingId = idByUri(server.context.store.sqlite, "statuses", note.id as string) as string;
    expect((await status(quotingId)).quote).toEqual({ state: "pending", quoted_status: null });
  });
});

describe("alice quotes the peer", () => {
  it("sends a QuoteRequest, the Note carries the quote, and the peer's Accept makes it accepted", async () => {
    const noteUri = await peer.post({ content: "<p>worth quoting</p>" });
    const quotedId = await waitUntil(
      () => idByUri(server.context.store.sqlite, "statuses", noteUri),
      "the peer's note to arrive",
    );
    const quoting = await client.v1.statuses.create({ status: "so true", quotedStatusId: quotedId });
    expect(quoting.quote).toEqual({ state: "pending", quotedStatus: null });
    expect(quoting.content).toContain('class="quote-inline"');

    const create = await peerGot(
      (j) => j.type === "Create" && (j.object as Json | undefined)?.id === quoting.uri,
      "the Create of alice's quote",
    );
    expect(create.json.object).toMatchObject({
      quote: noteUri,
      quoteUri: noteUri,
      _misskey_quote: noteUri,
      interactionPolicy: { canQuote: { automaticApproval: [PUBLIC] } },
    });
    expect((create.json.object as Json).quoteAuthorization).toBeUndefined();

    const request = await peerGot((j) => j.type === "QuoteRequest", "the QuoteRequest");
    expect(keyIdOf(request.headers)).toBe(`${aliceUri}#main-key`);
    expect(request.json).toMatchObject({ actor: aliceUri, object: noteUri, instrument: { id: quoting.uri } });

    const authorization = `${peer.origin}/users/peer/quote_authorizations/${++counter}`;
    await sendAsPeer({
      id: `${peer.actorUri}#accepts/quote_requests/${counter}`,
      type: "Accept",
      actor: peer.actorUri,
      object: {
        id: request.json.id,
        type: "QuoteRequest",
        actor: aliceUri,
        object: noteUri,
        instrument: quoting.uri,
      },
      result: authorization,
    });
    const shown = await status(quoting.id);
    expect(shown.quote?.state).toBe("accepted");
    expect(shown.quote?.quoted_status?.id).toBe(quotedId);
    // Followers are sent the Note again, now with its authorization.
    await peerGot(
      (j) =>
        j.type === "Update" &&
        (j.object as Json | undefined)?.id === quoting.uri &&
        (j.object as Json).quoteAuthorization === authorization,
      "the Update carrying the authorization",
    );

    // The peer edits the quoted post: alice is told (quoted_update).
    await peer.update(noteUri, "<p>worth quoting, edited</p>");
    await inboxSettled(server);
    const updates = await quoteNotifications("quoted_update");
    expect(updates.map((n) => [n.account.acct, n.status?.id])).toEqual([[peer.handle, quoting.id]]);

    // The peer withdraws its consent.
    await sendAsPeer({
      id: `${authorization}#delete`,
      type: "Delete",
      actor: peer.actorUri,
      to: [PUBLIC],
      object: authorization,
    });
    expect((await status(quoting.id)).quote).toEqual({ state: "revoked", quoted_status: null });
  });

  it("refuses to quote a private mention, and a quote of a followers-only post is followers-only", async () => {
    const dm = await post({ status: "@alice secret", visibility: "direct" });
    const res = await api(server, token, "POST", "/api/v1/statuses", {
      status: "x",
      quoted_status_id: dm.id,
    });
    expect(res.status).toBe(422);
    const own = await post({ status: "followers only", visibility: "private" });
    const quoting = await post({ status: "quoting it", quoted_status_id: own.id, visibility: "public" });
    expect(quoting.visibility).toBe("private");
    expect(quoting.quote?.state).toBe("accepted");
    expect(
      (await api(server, token, "POST", "/api/v1/statuses", { status: "x", quote_approval_policy: "all" }))
        .status,
    ).toBe(422);
  });
});
