import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dedupeKey } from "../../src/federation/inbox/queue.js";
import { generateRsaKeyPair } from "../../src/federation/keys.js";
import { signRequest } from "../../src/federation/signatures/index.js";
import type { SqliteLike } from "./fedify-peer.js";
import { waitUntil } from "./fedify-peer.js";

/** A running Wren (its store) or a database opened on the side (a spawned server's). */
type Target = { context: { store: { sqlite: SqliteLike } } } | SqliteLike;

function sqliteOf(target: Target): SqliteLike {
  return "context" in target ? target.context.store.sqlite : target;
}

export interface InboundRow {
  id: number;
  dedupe_key: string;
  actor_uri: string;
  state: "pending" | "running" | "done" | "failed";
  attempts: number;
  last_error: string | null;
}

/** The de-duplication key of the activity with this id (see dedupeKey). */
export const inboundKey = (activityId: string): string => dedupeKey(activityId, new Uint8Array());

/** Every row of the inbound queue, oldest first. */
export function inboundRows(target: Target): InboundRow[] {
  return sqliteOf(target)
    .prepare(
      "SELECT id, dedupe_key, actor_uri, state, attempts, last_error FROM inbound_activities ORDER BY id",
    )
    .all() as InboundRow[];
}

/**
 * Waits until the inbox worker has applied (or failed) every activity the inbox accepted: no row of the
 * inbound queue is pending or running.
 */
export async function inboxSettled(target: Target, timeoutMs = 10_000): Promise<void> {
  const sqlite = sqliteOf(target);
  const waiting = () =>
    sqlite
      .prepare("SELECT count(*) AS n FROM inbound_activities WHERE state IN ('pending', 'running')")
      .get() as { n: number };
  try {
    await waitUntil(() => waiting().n === 0, "the inbound queue to settle", timeoutMs);
  } catch (error) {
    const left = inboundRows(sqlite).filter((r) => r.state === "pending" || r.state === "running");
    throw new Error(`${(error as Error).message}: ${JSON.stringify(left)}`);
  }
}

/** The last inbound row, once it is settled (for tests that check how an activity ended). */
export async function lastInbound(target: Target): Promise<InboundRow> {
  await inboxSettled(target);
  const rows = inboundRows(target);
  const last = rows.at(-1);
  if (!last) throw new Error("no inbound activity was recorded");
  return last;
}

/**
 * A remote server in a few lines, for inbox tests that need what the Fedify peer cannot do: an actor that
 * answers 410 once it is deleted, or objects whose fetch never answers. It publishes one RSA-keyed actor per
 * name, serves the notes put in `notes`, and signs POSTs with Wren's own signer as its actors.
 */
export interface ActorServer {
  origin: string;
  actorUri(name: string): string;
  /** Notes served at their id (a path on this server), as JSON. */
  notes: Map<string, Record<string, unknown>>;
  /** Actors that now answer 410 Gone. */
  gone: Set<string>;
  /** More properties of an actor's document (an `icon`...), by name. */
  profiles: Map<string, Record<string, unknown>>;
  /** Other files served at their path (images...), with the requests made for each path. */
  files: Map<string, { type: string; body: Uint8Array }>;
  fileRequests: Map<string, number>;
  /** While true, note fetches are held without an answer. */
  hangObjects: boolean;
  /** Requests for notes received so far (answered or held). */
  objectRequests: number;
  /** Activities POSTed to its actors' inboxes (answered 202, signatures not checked), oldest first. */
  inbox: { path: string; json: Record<string, unknown> }[];
  /** POSTs `activity` to `url`, signed (draft-cavage) as `name`. */
  post(
    url: string,
    name: string,
    activity: unknown,
  ): Promise<{ status: number; body: string; headers: Headers }>;
  close(): Promise<void>;
}

export async function startActorServer(names: string[]): Promise<ActorServer> {
  const keys = new Map(names.map((name) => [name, generateRsaKeyPair()]));
  const held: ServerResponse[] = [];
  let origin = "";
  const state: ActorServer = {
    origin: "",
    actorUri: (name) => `${origin}/users/${name}`,
    notes: new Map(),
    gone: new Set(),
    profiles: new Map(),
    files: new Map(),
    fileRequests: new Map(),
    hangObjects: false,
    objectRequests: 0,
    inbox: [],
    async post(url, name, activity) {
      const key = keys.get(name);
      if (!key) throw new Error(`no actor ${name}`);
      const bytes = new TextEncoder().encode(JSON.stringify(activity));
      const signed = await signRequest(
        new Request(url, { method: "POST", headers: { "content-type": "application/activity+json" } }),
        bytes,
        { keyId: `${state.actorUri(name)}#main-key`, type: "rsa", privatePem: key.privatePem },
        "draft-cavage",
      );
      const res = await fetch(url, { method: "POST", headers: signed.headers, body: bytes });
      return { status: res.status, body: await res.text(), headers: res.headers };
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    if (req.method === "POST" && /^\/users\/[^/]+\/inbox$/.test(req.url ?? "")) {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        state.inbox.push({ path: req.url ?? "", json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        res.writeHead(202).end();
      });
      return;
    }
    const url = `${origin}${req.url ?? "/"}`;
    const name = /^\/users\/([^/#?]+)$/.exec(req.url ?? "")?.[1];
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, { "content-type": "application/activity+json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (name && keys.has(name)) {
      if (state.gone.has(name)) return send(410, { error: "gone" });
      const uri = state.actorUri(name);
      return send(200, {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        id: uri,
        type: "Person",
        preferredUsername: name,
        inbox: `${uri}/inbox`,
        outbox: `${uri}/outbox`,
        followers: `${uri}/followers`,
        publicKey: { id: `${uri}#main-key`, owner: uri, publicKeyPem: keys.get(name)?.publicPem },
        ...state.profiles.get(name),
      });
    }
    const path = req.url ?? "/";
    const file = state.files.get(path);
    if (file) {
      state.fileRequests.set(path, (state.fileRequests.get(path) ?? 0) + 1);
      res.writeHead(200, { "content-type": file.type, "content-length": String(file.body.length) });
      return res.end(file.body);
    }
    const note = state.notes.get(url);
    if (note) {
      state.objectRequests++;
      if (state.hangObjects) {
        held.push(res);
        return;
      }
      return send(200, note);
    }
    send(404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.origin = origin;
  return state;
}
