/**
 * An independent ActivityPub server for the federation tests, built with Fedify 1.10: one actor, `peer`, with
 * RSA and Ed25519 keys, a personal and a shared inbox, followers, following and outbox collections (with
 * totalItems) and its notes served by URI.
 * Fedify verifies the HTTP signature of everything it receives; the peer records each activity (Fedify's
 * parsed object and the raw JSON exactly as received) and auto-accepts Follows. On a Move of an account it
 * follows, it checks the target's alsoKnownAs and follows the target instead, as Mastodon does. The tests drive it through
 * `follow`, `post`, `like`, `announce`, `update`, `delete`, `undo`, and fetch from Wren with `fetchSigned`
 * (signed as `peer`) or `fetchUnsigned`.
 */
import { KeyObject, webcrypto } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Accept,
  Activity,
  type Actor,
  Announce,
  Block,
  Create,
  createFederation,
  Delete,
  Endpoints,
  type Federation,
  type Context as FedifyContext,
  Flag,
  Follow,
  signRequest as fedifySignRequest,
  generateCryptoKeyPair,
  Hashtag,
  isActor,
  Like,
  MemoryKvStore,
  Mention,
  Move,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Tombstone,
  Undo,
  Update,
} from "@fedify/fedify";
import { Temporal } from "@js-temporal/polyfill";

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The two HTTP signature standards, as Fedify names them. */
export type PeerSignatureSpec = "draft-cavage-http-signatures-12" | "rfc9421";

/** Per-request data handed to Fedify: the raw body and headers, so the inbox listener can record them. */
interface RequestData {
  raw: Uint8Array | null;
  headers: Headers | null;
}

/** An activity the peer's inbox accepted, after Fedify verified its object proof or HTTP signature, and its actor. */
export interface ReceivedActivity {
  /** The AS2 type, e.g. "Create". */
  type: string;
  id: string | null;
  actor: string | null;
  /** Fedify's parsed activity. */
  activity: Activity;
  /** The request body as received, parsed (never re-serialised by Fedify). */
  json: Record<string, unknown>;
  /** The request headers as received (lower-case names). */
  headers: Record<string, string>;
  /** Which signature the sender used. */
  signature: "draft-cavage" | "rfc9421";
  /** The key id named by the signature. */
  keyId: string | null;
  /** null for the shared inbox, "peer" for the personal one. */
  recipient: string | null;
}

export type PeerVisibility = "public" | "unlisted" | "followers" | "direct";

export interface PostOptions {
  content: string;
  /** Addressing as Mastodon writes it (INTEROP.md). Default "public". */
  visibility?: PeerVisibility;
  /** Actor URIs to mention: a Mention tag each, and the actor in to/cc. */
  mentions?: string[];
  /** The note replied to; its author receives the note too. */
  inReplyTo?: string;
  /** Hashtag names without '#'. */
  hashtags?: string[];
  /** More actors to deliver to (besides followers, mentioned accounts and the replied-to author). */
  deliverTo?: string[];
  /** Publish only (served at its URI), deliver to no one: for objects others must fetch. */
  silent?: boolean;
}

export interface SentRecord {
  activity: Activity;
  recipients: Actor[];
  /** Sent to shared inboxes (else to personal ones). */
  shared: boolean;
}

/** Another actor served by the peer, for tests that sign requests as someone else on the same host. */
export interface PeerActor {
  identifier: string;
  actorUri: string;
  inboxUri: string;
  keyId: string;
  rsaPrivatePem: string;
}

export interface FedifyPeer {
  readonly spec: PeerSignatureSpec;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** 127.0.0.1:PORT */
  readonly domain: string;
  /** peer@127.0.0.1:PORT */
  readonly handle: string;
  readonly actorUri: string;
  readonly inboxUri: string;
  readonly sharedInboxUri: string;
  readonly followersUri: string;
  /** The id of the RSA key the actor publishes (what the peer signs with). */
  readonly keyId: string;
  /** That key's private half, PKCS#8 PEM: for tests that craft and sign requests themselves. */
  readonly rsaPrivatePem: string;
  readonly rsaPublicPem: string;
  /** Everything the inboxes accepted, in order. */
  readonly received: ReceivedActivity[];
  /** Activities the peer sent, by id. */
  readonly sent: Map<string, SentRecord>;
  /** Actor URIs following the peer (their Follow was accepted). */
  readonly followers: ReadonlySet<string>;
  /** Errors raised while the peer worked in the background (auto-accepting Follows). */
  readonly errors: unknown[];
  /**
   * Deliveries Fedify 1.10 could not parse (types its vocabulary lacks, such as FEP-044f's QuoteRequest), as
   * received: Fedify refuses them before checking their signature, so a test checks `headers` itself.
   */
  readonly unparsed: { json: Record<string, unknown>; headers: Record<string, string> }[];
  /** The other actors (`extraActors`), by identifier. */
  readonly extra: ReadonlyMap<string, PeerActor>;

  /** Sends Follow; returns its id. The Accept arrives in `received`. */
  follow(target: string): Promise<string>;
  /** Sends Undo of the last Follow of `target`. */
  unfollow(target: string): Promise<string>;
  /** Publishes a note (served at its URI) and delivers its Create; returns the note's URI. */
  post(options: PostOptions): Promise<string>;
  /** The Create that carried a note. */
  createOf(noteUri: string): string;
  /** Likes an object; sent to its author. Returns the Like's id. */
  like(objectUri: string): Promise<string>;
  /** Boosts an object: to the peer's followers and the author. Returns the Announce's id. */
  announce(objectUri: string): Promise<string>;
  /** Edits a note (Update carrying `updated`) and delivers it where the note went. Returns the Update's id. */
  update(noteUri: string, content: string): Promise<string>;
  /** Deletes a note (Delete of a Tombstone); the URI then answers 404. Returns the Delete's id. */
  delete(noteUri: string): Promise<string>;
  /** Blocks an actor (Block sent to it). Returns the Block's id. */
  block(target: string): Promise<string>;
  /** Reports an actor and some of its objects to the actor's server (Flag). Returns the Flag's id. */
  flag(target: string, objects: string[], comment: string): Promise<string>;
  /** Undoes an activity the peer sent, delivered to the same recipients. Returns the Undo's id. */
  undo(activityId: string): Promise<string>;
  /** A GET signed as the peer's actor (its RSA key, with the peer's signature standard). */
  fetchSigned(url: string, init?: { accept?: string; spec?: PeerSignatureSpec }): Promise<Response>;
  fetchUnsigned(url: string, init?: { accept?: string }): Promise<Response>;
  /** The first received activity (already there or yet to come) matching `predicate`. */
  waitFor(predicate: (activity: ReceivedActivity) => boolean, timeoutMs?: number): Promise<ReceivedActivity>;
  /** The signature standard Fedify remembers as accepted by `origin` (null before any request to it). */
  rememberedSpec(origin: string): Promise<PeerSignatureSpec | null>;
  /** The peer's Fedify context, for anything else. */
  context(): FedifyContext<RequestData>;
  /** An actor's Ed25519 key pair and the id it is published under (for object integrity proofs). */
  ed25519Key(identifier: string): Promise<{ keyId: URL; privateKey: webcrypto.CryptoKey }>;
  close(): Promise<void>;
}

export const AP_ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"';
const IDENTIFIER = "peer";

function headerRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/** The keyId of a draft-cavage `Signature` or an RFC 9421 `Signature-Input` header. */
function signatureKeyId(headers: Headers): string | null {
  const input = headers.get("signature-input") ?? headers.get("signature") ?? "";
  return /keyid="([^"]*)"/i.exec(input)?.[1] ?? null;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function toPem(key: webcrypto.CryptoKey, type: "pkcs8" | "spki"): string {
  return KeyObject.from(key).export({ type, format: "pem" }) as string;
}

/**
 * Starts a peer on 127.0.0.1 (an ephemeral port). `spec` is the signature standard Fedify tries first on its
 * outbound requests (it falls back to the other one on 400/401, and remembers what worked per origin).
 */
export async function startFedifyPeer(
  options: {
    spec?: PeerSignatureSpec;
    extraActors?: string[];
    /**
     * The `alsoKnownAs` an actor publishes (Fedify's `aliases`), by identifier. The URIs are resolved against
     * the peer's origin, so `/users/peer` names the peer's own actor (its port is not known before it starts).
     */
    aliases?: Record<string, string[]>;
    /** Notes answer only signed GETs (Mastodon's secure mode): unsigned ones get 401. */
    authorizedFetch?: boolean;
    /** The outbox in pages of this many items (default: every item in the collection itself). */
    outboxPageSize?: number;
  } = {},
): Promise<FedifyPeer> {
  const spec = options.spec ?? "rfc9421";
  const kv = new MemoryKvStore();
  const federation: Federation<RequestData> = createFederation<RequestData>({
    kv,
    allowPrivateAddress: true,
    firstKnock: spec,
    userAgent: "FedifyPeer/1.10 (wren tests)",
  });

  const identifiers = [IDENTIFIER, ...(options.extraActors ?? [])];
  const keyPairs = new Map<string, CryptoKeyPair[]>();
  await Promise.all(
    identifiers.map(async (identifier) => {
      // RSA-2048 as Mastodon uses (Fedify's generateCryptoKeyPair makes 4096-bit keys, seconds each on a slow CI).
      const rsaPair = webcrypto.subtle.generateKey(
        {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        true,
        ["sign", "verify"],
      );
      const pairs = await Promise.all([rsaPair, generateCryptoKeyPair("Ed25519")]);
      keyPairs.set(identifier, pairs as CryptoKeyPair[]);
    }),
  );
  const [rsa] = keyPairs.get(IDENTIFIER) as [CryptoKeyPair, CryptoKeyPair];

  const received: ReceivedActivity[] = [];
  const waiters = new Set<() => void>();
  const sent = new Map<string, SentRecord>();
  const notes = new Map<string, Note>();
  const noteRecipients = new Map<string, Actor[]>();
  const createIds = new Map<string, string>();
  const followers = new Map<string, Actor>();
  const following = new Map<string, string>();
  const errors: unknown[] = [];
  const unparsed: FedifyPeer["unparsed"] = [];
  let counter = 0;

  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (!keyPairs.has(identifier)) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      const aliases = options.aliases?.[identifier];
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: `Fedify ${identifier}`,
        summary: "<p>An independent server for Wren's federation tests.</p>",
        url: ctx.getActorUri(identifier),
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        followers: ctx.getFollowersUri(identifier),
        following: ctx.getFollowingUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        // Named (for Add/Remove of pins) but not served.
        featured: new URL(`${ctx.getActorUri(identifier).href}/collections/featured`),
        publicKey: keys[0]?.cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
        manuallyApprovesFollowers: false,
        discoverable: true,
        ...(aliases ? { aliases: aliases.map((uri) => new URL(uri, ctx.origin)) } : {}),
      });
    })
    .setKeyPairsDispatcher((_ctx, identifier) => keyPairs.get(identifier) ?? []);
  // Remote interaction, as Mastodon advertises it (the page itself is not served: tests follow the redirect only).
  federation.setWebFingerLinksDispatcher((ctx) => [
    {
      rel: "http://ostatus.org/schema/1.0/subscribe",
      template: `${ctx.origin}/authorize_interaction?uri={uri}`,
    },
  ]);

  federation
    .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
      if (identifier !== IDENTIFIER) return null;
      return {
        items: [...followers.values()].map((actor) => ({
          id: actor.id,
          inboxId: actor.inboxId,
          endpoints: actor.endpoints ? { sharedInbox: actor.endpoints.sharedInbox } : null,
        })),
      };
    })
    // totalItems, which Fedify writes only with a counter.
    .setCounter((_ctx, identifier) => (identifier === IDENTIFIER ? followers.size : null));

  federation
    .setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) =>
      identifier === IDENTIFIER ? { items: [...following.keys()].map((uri) => new URL(uri)) } : null,
    )
    .setCounter((_ctx, identifier) => (identifier === IDENTIFIER ? following.size : null));

  /** The Creates of the notes the peer still has, newest first. */
  const outboxItems = () =>
    [...notes.keys()]
      .map((uri) => sent.get(createIds.get(uri) ?? "")?.activity)
      .filter((activity): activity is Activity => activity !== undefined)
      .reverse();
  const outbox = federation
    .setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier, cursor) => {
      if (identifier !== IDENTIFIER) return null;
      const items = outboxItems();
      const size = options.outboxPageSize;
      if (!size || cursor === null) return { items };
      const start = Number(cursor);
      const nextCursor = start + size < items.length ? String(start + size) : null;
      return { items: items.slice(start, start + size), nextCursor };
    })
    .setCounter((_ctx, identifier) => (identifier === IDENTIFIER ? outboxItems().length : null));
  // Paged like Mastodon's: the collection names its `first` page by URL.
  if (options.outboxPageSize) outbox.setFirstCursor(() => "0");

  const noteDispatcher = federation.setObjectDispatcher(
    Note,
    "/users/{identifier}/notes/{id}",
    (ctx, values) => {
      if (values.identifier !== IDENTIFIER) return null;
      return notes.get(ctx.getObjectUri(Note, values).href) ?? null;
    },
  );
  if (options.authorizedFetch) noteDispatcher.authorize((_ctx, _values, signedKey) => signedKey !== null);

  const record = (ctx: FedifyContext<RequestData> & { recipient: string | null }, activity: Activity) => {
    const headers = ctx.data.headers ?? new Headers();
    const raw = ctx.data.raw;
    const json = raw ? (JSON.parse(Buffer.from(raw).toString("utf8")) as Record<string, unknown>) : {};
    received.push({
      type: typeof json.type === "string" ? json.type : (activity.constructor as { name: string }).name,
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      activity,
      json,
      headers: headerRecord(headers),
      signature: headers.has("signature-input") ? "rfc9421" : "draft-cavage",
      keyId: signatureKeyId(headers),
      recipient: ctx.recipient,
    });
    for (const wake of [...waiters]) wake();
  };

  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Follow, async (ctx, follow) => {
      record(ctx, follow);
      if (follow.objectId?.href !== ctx.getActorUri(IDENTIFIER).href) return;
      const follower = await follow.getActor(ctx);
      if (!follower?.id || !isActor(follower)) return;
      followers.set(follower.id.href, follower);
      // Answered after the Follow's POST returns, as real servers do.
      setImmediate(() => {
        const accept = new Accept({
          id: new URL(`${ctx.getActorUri(IDENTIFIER).href}#accepts/${++counter}`),
          actor: ctx.getActorUri(IDENTIFIER),
          to: follower.id,
          object: follow,
        });
        ctx
          .sendActivity({ identifier: IDENTIFIER }, follower, accept)
          .catch((error: unknown) => errors.push(error));
      });
    })
    .on(Undo, async (ctx, undo) => {
      record(ctx, undo);
      const object = await undo.getObject(ctx).catch(() => null);
      if (object instanceof Follow && undo.actorId) followers.delete(undo.actorId.href);
    })
    // As Mastodon does with a Move of an account it follows: the target must list the mover in alsoKnownAs
    // (fetched afresh); then the peer follows the target and unfollows the mover.
    .on(Move, async (ctx, move) => {
      record(ctx, move);
      const origin = move.objectId?.href;
      const targetUri = move.targetId?.href;
      if (!origin || !targetUri || origin !== move.actorId?.href || !following.has(origin)) return;
      const target = await lookup(targetUri);
      if (!target || !isActor(target) || !target.aliasIds.some((alias) => alias.href === origin)) return;
      setImmediate(() => {
        peer
          .follow(targetUri)
          .then(() => peer.unfollow(origin))
          .catch((error: unknown) => errors.push(error));
      });
    })
    .on(Activity, (ctx, activity) => {
      record(ctx, activity);
    })
    .onError((ctx, error) => {
      errors.push(error);
      const raw = ctx.data.raw;
      if (raw && ctx.data.headers) {
        unparsed.push({
          json: JSON.parse(Buffer.from(raw).toString("utf8")) as Record<string, unknown>,
          headers: headerRecord(ctx.data.headers),
        });
      }
    });

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      errors.push(error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const hasBody = method !== "GET" && method !== "HEAD";
    const request = new Request(new URL(req.url ?? "/", origin), {
      method,
      headers,
      body: hasBody ? new Uint8Array(raw) : undefined,
    });
    const response = await federation.fetch(request, {
      contextData: { raw: hasBody ? new Uint8Array(raw) : null, headers },
    });
    const out: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      out[key] = value;
    });
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
  }

  const base = new URL(origin);
  const ctx = () => federation.createContext(base, { raw: null, headers: null });
  const actorUri = ctx().getActorUri(IDENTIFIER);
  const nextId = (kind: string) => new URL(`${actorUri.href}/${kind}/${Date.now()}-${++counter}`);
  const keyIdOf = async (identifier: string) => {
    const first = (await ctx().getActorKeyPairs(identifier))[0];
    if (!first) throw new Error(`no key for ${identifier}`);
    return first.keyId.href;
  };
  const keyId = await keyIdOf(IDENTIFIER);
  const extra = new Map<string, PeerActor>();
  for (const identifier of options.extraActors ?? []) {
    const [pair] = keyPairs.get(identifier) as [CryptoKeyPair];
    extra.set(identifier, {
      identifier,
      actorUri: ctx().getActorUri(identifier).href,
      inboxUri: ctx().getInboxUri(identifier).href,
      keyId: await keyIdOf(identifier),
      rsaPrivatePem: toPem(pair.privateKey, "pkcs8"),
    });
  }

  /** Looks an object up on the network, signed as the peer (so followers-only objects resolve too). */
  async function lookup(uri: string) {
    const c = ctx();
    const documentLoader = await c.getDocumentLoader({ identifier: IDENTIFIER });
    return c.lookupObject(uri, { documentLoader });
  }

  async function actorOf(uri: string): Promise<Actor> {
    const object = await lookup(uri);
    if (!object || !isActor(object)) throw new Error(`${uri} is not an actor`);
    return object;
  }

  /** The author of a remote object, or null when it is the peer's own. */
  async function authorOf(objectUri: string): Promise<Actor | null> {
    if (objectUri.startsWith(`${origin}/`)) return null;
    const object = await lookup(objectUri);
    const author = object && "attributionId" in object ? (object as Note).attributionId : null;
    return author ? actorOf(author.href) : null;
  }

  function unique(actors: (Actor | null)[]): Actor[] {
    const seen = new Map<string, Actor>();
    for (const a of actors) if (a?.id) seen.set(a.id.href, a);
    return [...seen.values()];
  }

  /**
   * Like Mastodon: what concerns one account (Follow, Like) goes to its own inbox, what has an audience
   * (posts, boosts) to shared inboxes.
   */
  async function send(activity: Activity, recipients: Actor[], shared: boolean): Promise<string> {
    if (!activity.id) throw new Error("activity without id");
    sent.set(activity.id.href, { activity, recipients, shared });
    if (recipients.length > 0) {
      await ctx().sendActivity({ identifier: IDENTIFIER }, recipients, activity, {
        preferSharedInbox: shared,
        immediate: true,
      });
    }
    return activity.id.href;
  }

  function addressing(visibility: PeerVisibility, mentioned: URL[]) {
    const followersUri = ctx().getFollowersUri(IDENTIFIER);
    switch (visibility) {
      case "public":
        return { tos: [PUBLIC_COLLECTION], ccs: [followersUri, ...mentioned] };
      case "unlisted":
        return { tos: [followersUri], ccs: [PUBLIC_COLLECTION, ...mentioned] };
      case "followers":
        return { tos: [followersUri], ccs: mentioned };
      default:
        return { tos: mentioned, ccs: [] };
    }
  }

  function handleOf(actor: Actor): string {
    return `@${actor.preferredUsername}@${actor.id?.host}`;
  }

  const peer: FedifyPeer = {
    spec,
    origin,
    domain: base.host,
    handle: `${IDENTIFIER}@${base.host}`,
    actorUri: actorUri.href,
    inboxUri: ctx().getInboxUri(IDENTIFIER).href,
    sharedInboxUri: ctx().getInboxUri().href,
    followersUri: ctx().getFollowersUri(IDENTIFIER).href,
    keyId,
    rsaPrivatePem: toPem(rsa.privateKey, "pkcs8"),
    rsaPublicPem: toPem(rsa.publicKey, "spki"),
    received,
    sent,
    get followers() {
      return new Set(followers.keys());
    },
    errors,
    unparsed,
    extra,

    async follow(target) {
      const actor = await actorOf(target);
      const follow = new Follow({
        id: nextId("follows"),
        actor: actorUri,
        object: new URL(target),
        to: new URL(target),
      });
      following.set(target, follow.id?.href ?? "");
      return send(follow, [actor], false);
    },

    async unfollow(target) {
      const followId = following.get(target);
      if (!followId) throw new Error(`the peer does not follow ${target}`);
      following.delete(target);
      return peer.undo(followId);
    },

    async post(opts) {
      const visibility = opts.visibility ?? "public";
      const mentioned = await Promise.all((opts.mentions ?? []).map(actorOf));
      const mentionUris = mentioned.map((a) => a.id as URL);
      const { tos, ccs } = addressing(visibility, mentionUris);
      const id = `${Date.now()}-${++counter}`;
      const uri = ctx().getObjectUri(Note, { identifier: IDENTIFIER, id });
      const published = Temporal.Now.instant();
      const note = new Note({
        id: uri,
        attribution: actorUri,
        content: opts.content,
        url: uri,
        published,
        tos,
        ccs,
        replyTarget: opts.inReplyTo ? new URL(opts.inReplyTo) : null,
        tags: [
          ...mentioned.map((a) => new Mention({ href: a.id, name: handleOf(a) })),
          ...(opts.hashtags ?? []).map(
            (name) =>
              new Hashtag({ href: new URL(`${origin}/tags/${encodeURIComponent(name)}`), name: `#${name}` }),
          ),
        ],
      });
      notes.set(uri.href, note);
      const parentAuthor = opts.inReplyTo ? await authorOf(opts.inReplyTo) : null;
      const extra = await Promise.all((opts.deliverTo ?? []).map(actorOf));
      const recipients = opts.silent
        ? []
        : unique([
            ...(visibility === "direct" ? [] : followers.values()),
            ...mentioned,
            parentAuthor,
            ...extra,
          ]);
      noteRecipients.set(uri.href, recipients);
      const create = new Create({
        id: new URL(`${uri.href}/activity`),
        actor: actorUri,
        published,
        tos,
        ccs,
        object: note,
      });
      createIds.set(uri.href, create.id?.href ?? "");
      await send(create, recipients, true);
      return uri.href;
    },

    createOf(noteUri) {
      const id = createIds.get(noteUri);
      if (!id) throw new Error(`the peer did not post ${noteUri}`);
      return id;
    },

    async like(objectUri) {
      const author = await authorOf(objectUri);
      const like = new Like({ id: nextId("likes"), actor: actorUri, object: new URL(objectUri) });
      return send(like, unique([author]), false);
    },

    async announce(objectUri) {
      const author = await authorOf(objectUri);
      const announce = new Announce({
        id: nextId("announces"),
        actor: actorUri,
        published: Temporal.Now.instant(),
        tos: [PUBLIC_COLLECTION],
        ccs: [ctx().getFollowersUri(IDENTIFIER), ...(author?.id ? [author.id] : [])],
        object: new URL(objectUri),
      });
      return send(announce, unique([...followers.values(), author]), true);
    },

    async update(noteUri, content) {
      const note = notes.get(noteUri);
      if (!note) throw new Error(`the peer has no note ${noteUri}`);
      const edited = note.clone({ content, updated: Temporal.Now.instant() });
      notes.set(noteUri, edited);
      const update = new Update({
        id: nextId("updates"),
        actor: actorUri,
        tos: note.toIds,
        ccs: note.ccIds,
        object: edited,
      });
      return send(update, noteRecipients.get(noteUri) ?? [], true);
    },

    async delete(noteUri) {
      const note = notes.get(noteUri);
      if (!note) throw new Error(`the peer has no note ${noteUri}`);
      notes.delete(noteUri);
      const del = new Delete({
        id: nextId("deletes"),
        actor: actorUri,
        tos: note.toIds,
        ccs: note.ccIds,
        object: new Tombstone({ id: new URL(noteUri) }),
      });
      return send(del, noteRecipients.get(noteUri) ?? [], true);
    },

    async block(target) {
      const actor = await actorOf(target);
      const block = new Block({ id: nextId("blocks"), actor: actorUri, object: new URL(target) });
      return send(block, [actor], false);
    },

    async flag(target, objects, comment) {
      const actor = await actorOf(target);
      const flag = new Flag({
        id: nextId("flags"),
        actor: actorUri,
        objects: [new URL(target), ...objects.map((o) => new URL(o))],
        content: comment,
      });
      return send(flag, [actor], false);
    },

    async undo(activityId) {
      const original = sent.get(activityId);
      if (!original) throw new Error(`the peer did not send ${activityId}`);
      const undo = new Undo({ id: nextId("undos"), actor: actorUri, object: original.activity });
      return send(undo, original.recipients, original.shared);
    },

    async fetchSigned(url, init = {}) {
      const request = new Request(url, { headers: { accept: init.accept ?? AP_ACCEPT } });
      const signed = await fedifySignRequest(request, rsa.privateKey, new URL(keyId), {
        spec: init.spec ?? spec,
      });
      return fetch(signed, { redirect: "manual" });
    },

    fetchUnsigned(url, init = {}) {
      return fetch(url, { headers: { accept: init.accept ?? AP_ACCEPT }, redirect: "manual" });
    },

    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = received.map((r) => `${r.type} ${r.id ?? ""}`).join(", ") || "nothing";
          const failures = errors.map(String).join("; ");
          reject(
            new Error(
              `the peer did not receive the expected activity within ${timeoutMs} ms (got: ${seen})${failures ? `; errors: ${failures}` : ""}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },

    async rememberedSpec(remoteOrigin) {
      const value = await kv.get<PeerSignatureSpec>([
        "_fedify",
        "httpMessageSignaturesSpec",
        new URL(remoteOrigin).origin,
      ]);
      return value ?? null;
    },

    context: ctx,
    async ed25519Key(identifier) {
      const index = (keyPairs.get(identifier) ?? []).findIndex(
        (p) => p.privateKey.algorithm.name === "Ed25519",
      );
      const published = (await ctx().getActorKeyPairs(identifier))[index];
      const pair = keyPairs.get(identifier)?.[index];
      if (!published || !pair) throw new Error(`${identifier} has no Ed25519 key`);
      return { keyId: published.multikey.id as URL, privateKey: pair.privateKey };
    },

    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return peer;
}

// ---------------------------------------------------------------------------------------------------------
// Wren-side helpers for the federation tests

/** Polls `probe` until it returns something other than null, undefined or false. */
export async function waitUntil<T>(
  probe: () => T | null | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The id of the row of `table` (statuses or accounts) with this URI, or null. */
export function idByUri(sqlite: SqliteLike, table: "statuses" | "accounts", uri: string): string | null {
  const row = sqlite.prepare(`SELECT id FROM ${table} WHERE uri = ?`).get(uri) as { id: string } | undefined;
  return row?.id ?? null;
}

/** Waits until the follow with this id (a row of Wren's `follows`) is accepted. */
export async function followAccepted(
  sqlite: SqliteLike,
  followId: string,
  what = "the follow",
): Promise<void> {
  await waitUntil(
    () =>
      (
        sqlite.prepare("SELECT state FROM follows WHERE id = ?").get(followId) as
          | { state: string }
          | undefined
      )?.state === "accepted",
    `${what} to be accepted`,
  );
}

/** Waits until Wren's delivery queue has nothing queued or running (fails with the jobs' last errors). */
export async function deliveriesSettled(sqlite: SqliteLike, timeoutMs = 10_000): Promise<void> {
  const pending = () =>
    sqlite
      .prepare(
        "SELECT inbox_url, state, attempts, last_error FROM delivery_jobs WHERE state IN ('queued', 'running')",
      )
      .all() as { inbox_url: string; state: string; attempts: number; last_error: string | null }[];
  try {
    await waitUntil(() => pending().length === 0, "the delivery queue to drain", timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${JSON.stringify(pending())}`);
  }
}

/** The part of better-sqlite3 the helpers use. */
export interface SqliteLike {
  prepare(sql: string): { all(...params: unknown[]): unknown[]; get(...params: unknown[]): unknown };
}

/** Tables whose rows are compared whole by `dbSnapshot` (the others by count only: they hold caches and health). */
const CONTENT_TABLES = [
  "follows",
  "statuses",
  "status_edits",
  "mentions",
  "status_tags",
  "favourites",
  "bookmarks",
  "home_feed",
  "notifications",
  "blocks",
  "reports",
  "media_attachments",
  "polls",
  "inbound_activities",
  "outbound_activities",
  "delivery_jobs",
];

/**
 * Tables left out of `dbSnapshot`: the upkeep records its every-minute tasks in job_runs whenever a minute
 * turns, whatever a test sends (it made comparisons across a minute boundary fail now and then).
 */
const BOOKKEEPING_TABLES = ["job_runs"];

/** Row counts of every table, and the full contents of the tables that hold what Wren's users see. */
export function dbSnapshot(sqlite: SqliteLike): {
  counts: Record<string, number>;
  rows: Record<string, unknown[]>;
} {
  const tables = (
    sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[]
  )
    .map((t) => t.name)
    .filter((name) => !BOOKKEEPING_TABLES.includes(name));
  const counts: Record<string, number> = {};
  const rows: Record<string, unknown[]> = {};
  for (const name of tables) {
    counts[name] = (sqlite.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    if (CONTENT_TABLES.includes(name))
      rows[name] = sqlite.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
  }
  return { counts, rows };
}
