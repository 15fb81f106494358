// Activities sent as the Fedify peer's other actors (`extraActors`): the peer serves their actor documents and
// keys, and these helpers sign what they send with those keys. The Fedify peer's own methods act as `peer`
// only; a test that needs several remote accounts (likes from many, mentions from strangers) uses these.
import type { SigningKey } from "../../src/federation/signatures/index.js";
import type { PeerActor } from "./fedify-peer.js";
import { inboxSettled } from "./inbound.js";
import { signedPost } from "./inbox-post.js";
import type { TestServer } from "./server.js";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;
let counter = 0;

/** The RSA key a peer actor (or the peer itself) signs with, for requests the tests craft. */
export function keyOf(actor: Pick<PeerActor, "keyId" | "rsaPrivatePem">): SigningKey {
  return { keyId: actor.keyId, type: "rsa", privatePem: actor.rsaPrivatePem };
}

/** POSTs `activity` to the server's shared inbox, signed as `actor`; fails unless it is accepted (202). */
export async function sendAs(server: TestServer, actor: PeerActor, activity: Record<string, unknown>) {
  const res = await signedPost(`${server.origin}/inbox`, { "@context": AS, ...activity }, keyOf(actor));
  if (res.status !== 202) throw new Error(`the inbox answered ${res.status}: ${res.body}`);
}

/**
 * Sends `activity` as `actor` (its id made up when it has none) and waits until the inbox applied it.
 * Returns the activity's id.
 */
export async function sendSettled(
  server: TestServer,
  actor: PeerActor,
  activity: Record<string, unknown>,
): Promise<string> {
  const id = (activity.id as string | undefined) ?? nextId(actor, "activities");
  await sendAs(server, actor, { ...activity, id, actor: actor.actorUri });
  await inboxSettled(server);
  return id;
}

function nextId(actor: PeerActor, kind: string): string {
  return `${actor.actorUri}/${kind}/${++counter}`;
}

export async function likeAs(server: TestServer, actor: PeerActor, objectUri: string): Promise<string> {
  const id = nextId(actor, "likes");
  await sendAs(server, actor, { id, type: "Like", actor: actor.actorUri, object: objectUri });
  return id;
}

export async function announceAs(server: TestServer, actor: PeerActor, objectUri: string): Promise<string> {
  const id = nextId(actor, "announces");
  await sendAs(server, actor, {
    id,
    type: "Announce",
    actor: actor.actorUri,
    object: objectUri,
    to: [PUBLIC],
    cc: [`${actor.actorUri}/followers`],
    published: new Date().toISOString(),
  });
  return id;
}

export async function followAs(server: TestServer, actor: PeerActor, targetUri: string): Promise<string> {
  const id = nextId(actor, "follows");
  await sendAs(server, actor, { id, type: "Follow", actor: actor.actorUri, object: targetUri });
  return id;
}

/**
 * A note by `actor` that mentions `target` (an actor URI whose username is `username` on `domain`), public
 * or direct, in a Create with the note embedded (on the actor's host, so Wren takes it as it is). Returns
 * the note's URI.
 */
export async function mentionAs(
  server: TestServer,
  actor: PeerActor,
  target: { uri: string; handle: string },
  options: { visibility?: "public" | "direct"; inReplyTo?: string; content?: string } = {},
): Promise<string> {
  const uri = nextId(actor, "notes");
  const direct = options.visibility === "direct";
  const note = {
    id: uri,
    type: "Note",
    attributedTo: actor.actorUri,
    content: `<p><span class="h-card"><a href="${target.uri}" class="u-url mention">@${target.handle}</a></span> ${options.content ?? "hello"}</p>`,
    to: direct ? [target.uri] : [PUBLIC],
    cc: direct ? [] : [target.uri],
    tag: [{ type: "Mention", href: target.uri, name: `@${target.handle}` }],
    inReplyTo: options.inReplyTo ?? null,
    published: new Date().toISOString(),
  };
  await sendAs(server, actor, {
    id: `${uri}/activity`,
    type: "Create",
    actor: actor.actorUri,
    object: note,
    to: note.to,
    cc: note.cc,
  });
  return uri;
}
