/**
 * The streaming hub: the open streaming connections (WebSocket or Server-Sent Events) and their
 * subscriptions, fed by the domain events. Each event is examined once, rendered at most once per viewer
 * and sent to every matching subscription. Nothing here imports `ws`: the WebSocket transport loads it on
 * the first upgrade (websocket.ts), so an idle server never pays for it.
 */
import type { Context } from "../../../context.js";
import type { DomainEvent } from "../../../core/events.js";
import { applyFilters, type FilterContext } from "../../../core/filters.js";
import { hasScope } from "../../../core/scopes.js";
import { isHidden, isVisible } from "../../../core/visibility.js";
import { findLocalUser } from "../../../store/accounts.js";
import { findConversation, isConversationShown } from "../../../store/conversations.js";
import { isId } from "../../../store/ids.js";
import { findList, listFeedHas } from "../../../store/lists.js";
import { liveTokenIds } from "../../../store/oauth-tokens.js";
import {
  findStatusById,
  hasMedia,
  isInHomeFeed,
  type StatusRow,
  tagNamesOf,
} from "../../../store/statuses.js";
import { findNotification, statusesByIds } from "../../../store/timelines.js";
import type { Auth } from "../auth.js";
import { renderConversations } from "../conversations.js";
import { renderNotifications, renderStatuses } from "../entities.js";
import {
  notificationMatches,
  type StatusFacts,
  type StreamError,
  type Subscription,
  statusMatches,
} from "./streams.js";

export interface StreamingLimits {
  /** Open connections at most (both transports together). */
  maxConnections: number;
  /** Subscriptions per connection at most. */
  maxSubscriptions: number;
  /** A connection whose unsent output exceeds this many bytes is dropped: the client does not keep up. */
  maxBufferedBytes: number;
  /** Interval of the liveness probes; a connection silent for a whole interval is dropped. */
  heartbeatMs: number;
  /** How long a shutdown waits for the close handshakes before cutting the connections. */
  closeGraceMs: number;
}

export const DEFAULT_LIMITS: StreamingLimits = {
  maxConnections: 32,
  maxSubscriptions: 16,
  maxBufferedBytes: 1024 * 1024,
  heartbeatMs: 30_000,
  closeGraceMs: 1_000,
};

/** Close codes used by the hub (RFC 6455 and the registered ones). */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** How a connection reaches its client. */
export interface Transport {
  /** Sends one event of one subscription. */
  send(label: string[], event: string, payload: string): void;
  /** Bytes written but not yet sent. */
  bufferedAmount(): number;
  /** A liveness probe: the transport calls `client.alive = true` when the client answers. */
  ping(client: StreamClient): void;
  /** An orderly close (WebSocket close frame; the end of an event stream). */
  close(code: number, reason: string): void;
  /** Drops the connection at once. */
  terminate(): void;
}

/** Who is streaming: the token and the local account it acts for. */
export interface Access {
  tokenId: string;
  scopes: string[];
  /** The local account id (the viewer for rendering). */
  viewerId: string;
}

export class StreamClient {
  readonly subscriptions = new Map<string, Subscription>();
  alive = true;
  closed = false;

  constructor(
    readonly transport: Transport,
    readonly access: Access,
  ) {}
}

type EventName = "update" | "status.update" | "delete" | "notification" | "conversation";

export class StreamingHub {
  readonly limits: StreamingLimits;
  readonly #ctx: Context;
  readonly #clients = new Set<StreamClient>();
  /** Connections being opened (an upgrade waiting for `ws` to load): they count against the limit. */
  #reserved = 0;
  #closed = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #queue: (() => void)[] = [];
  #scheduled = false;

  constructor(ctx: Context, limits: Partial<StreamingLimits> = {}) {
    this.#ctx = ctx;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get size(): number {
    return this.#clients.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Checks a token for streaming: it must belong to the local user and allow reading statuses or
   * notifications. Answers the access or the HTTP error to refuse the connection with.
   */
  authorize(auth: Auth | null): Access | StreamError {
    if (!auth) return { error: "Missing access token", status: 401 };
    const local = auth.userId ? findLocalUser(this.#ctx.store.db) : null;
    if (!local || local.user.id !== auth.userId) return { error: "The access token is invalid", status: 401 };
    if (!hasScope(auth.scopes, "read:statuses") && !hasScope(auth.scopes, "read:notifications")) {
      return { error: "Access token does not have the required scopes", status: 403 };
    }
    return { tokenId: auth.tokenId, scopes: auth.scopes, viewerId: local.account.id };
  }

  /** Holds a place for a connection about to open; false when the server is full or stopping. */
  reserve(): boolean {
    if (this.#closed || this.#clients.size + this.#reserved >= this.limits.maxConnections) return false;
    this.#reserved += 1;
    return true;
  }

  /** Gives back a place reserved for a connection that did not open. */
  release(): void {
    if (this.#reserved > 0) this.#reserved -= 1;
  }

  /** Adds an opened connection, in the place reserve() held for it. */
  add(transport: Transport, access: Access): StreamClient {
    this.release();
    const client = new StreamClient(transport, access);
    if (this.#closed) {
      client.closed = true;
      transport.close(CLOSE_GOING_AWAY, "Server shutting down");
      return client;
    }
    this.#clients.add(client);
    this.#start();
    return client;
  }

  /** Forgets a connection (it closed, or is being dropped). */
  remove(client: StreamClient): void {
    client.closed = true;
    client.subscriptions.clear();
    if (this.#clients.delete(client) && this.#clients.size === 0) this.#stop();
  }

  /** Subscribes a connection to a stream: null when done, or the error to report. */
  subscribe(client: StreamClient, sub: Subscription): StreamError | null {
    if (!hasScope(client.access.scopes, sub.scope)) {
      return { error: "Access token does not have the required scopes", status: 403 };
    }
    if (sub.kind === "list" && (!isId(sub.list ?? "") || !findList(this.#ctx.store.db, sub.list as string))) {
      return { error: "Not authorized to stream this list", status: 404 };
    }
    if (client.subscriptions.has(sub.key)) return null;
    if (client.subscriptions.size >= this.limits.maxSubscriptions) {
      return { error: "Too many subscriptions", status: 429 };
    }
    client.subscriptions.set(sub.key, sub);
    return null;
  }

  unsubscribe(client: StreamClient, key: string): void {
    client.subscriptions.delete(key);
  }

  /**
   * One heartbeat round: drops connections that did not answer the previous probe or whose token was revoked
   * or expired since, and probes the others. Runs every `heartbeatMs` while a connection is open.
   */
  heartbeat(): void {
    const revoked = this.#revokedTokens();
    for (const client of [...this.#clients]) {
      if (revoked.has(client.access.tokenId)) {
        this.#drop(client, CLOSE_POLICY, "The access token is no longer valid");
        continue;
      }
      if (!client.alive) {
        this.#terminate(client);
        continue;
      }
      client.alive = false;
      try {
        client.transport.ping(client);
      } catch {
        this.#terminate(client);
      }
    }
  }

  /**
   * Closes every connection with 1001 (going away) and refuses new ones. Resolves once they are all gone;
   * those that did not finish their close handshake within `closeGraceMs` are cut.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#queue = [];
    const open = [...this.#clients];
    for (const client of open) {
      try {
        client.transport.close(CLOSE_GOING_AWAY, "Server shutting down");
      } catch {
        // Cut below.
      }
    }
    if (this.#clients.size === 0) {
      this.#stop();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const started = Date.now();
      const check = setInterval(() => {
        if (this.#clients.size > 0 && Date.now() - started < this.limits.closeGraceMs) return;
        clearInterval(check);
        for (const client of [...this.#clients]) this.#terminate(client);
        this.#stop();
        resolve();
      }, 20);
      check.unref();
    });
  }

  // ---- Connections ----

  #start(): void {
    this.#unsubscribe ??= this.#ctx.events.onCommit(this.#onEvent);
    if (!this.#heartbeat) {
      this.#heartbeat = setInterval(() => this.heartbeat(), this.limits.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** No connection left: stop listening and probing, so an idle server does no streaming work at all. */
  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = null;
    }
  }

  #drop(client: StreamClient, code: number, reason: string): void {
    this.remove(client);
    try {
      client.transport.close(code, reason);
    } catch {
      client.transport.terminate();
    }
  }

  #terminate(client: StreamClient): void {
    this.remove(client);
    try {
      client.transport.terminate();
    } catch {
      // Already gone.
    }
  }

  #revokedTokens(): Set<string> {
    const ids = [...new Set([...this.#clients].map((c) => c.access.tokenId))];
    try {
      const live = liveTokenIds(this.#ctx.store.db, ids);
      return new Set(ids.filter((id) => !live.has(id)));
    } catch (error) {
      this.#ctx.log.warn({ err: error }, "streaming: could not check the tokens");
      return new Set();
    }
  }

  /** Sends one event to one subscription; a client that lets its output pile up is dropped. */
  #send(client: StreamClient, sub: Subscription, event: EventName, payload: string): void {
    if (client.closed) return;
    if (client.transport.bufferedAmount() > this.limits.maxBufferedBytes) {
      this.#ctx.log.info("streaming: dropping a client that does not keep up");
      this.#terminate(client);
      return;
    }
    try {
      client.transport.send(sub.label, event, payload);
    } catch {
      this.#terminate(client);
    }
  }

  // ---- Events ----

  /** The domain events that streams show, after their commit. */
  readonly #onEvent = (event: DomainEvent) => {
    switch (event.type) {
      case "StatusCreated":
        return this.#defer(() => this.#statusEvent(event.status.id, "update"));
      case "Reblogged":
        return this.#defer(() => this.#statusEvent(event.boost.id, "update"));
      case "StatusEdited":
        return this.#defer(() => this.#statusEvent(event.status.id, "status.update"));
      case "StatusDeleted":
        return this.#defer(() => this.#deleteEvent(event.status.id));
      case "Unreblogged":
        return this.#defer(() => this.#deleteEvent(event.boost.id));
      case "NotificationCreated":
        return this.#defer(() => this.#notificationEvent(event.notificationId));
      case "ConversationChanged":
        return this.#defer(() => this.#conversationEvent(event.conversationId));
    }
  };

  /**
   * Events arrive synchronously from the request (or inbox job) that committed the change: the work is done
   * after it, in order, and a failure here never reaches the emitter.
   */
  #defer(job: () => void): void {
    if (this.#closed) return;
    this.#queue.push(job);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const jobs = this.#queue;
      this.#queue = [];
      for (const run of jobs) {
        if (this.#closed || this.#clients.size === 0) return;
        try {
          run();
        } catch (error) {
          this.#ctx.log.warn({ err: error }, "streaming: an event could not be sent");
        }
      }
    });
  }

  #statusEvent(id: string, event: "update" | "status.update"): void {
    const db = this.#ctx.store.db;
    const row = findStatusById(db, id);
    if (!row || row.deletedAt !== null) return;
    const target = row.reblogOfId ? findStatusById(db, row.reblogOfId) : null;
    if (row.reblogOfId && (!target || target.deletedAt !== null)) return;
    const facts = this.#facts(row, false);
    const authors = [row.accountId, ...(target ? [target.accountId] : [])];
    const payloads = new Map<string, string | null>();
    for (const client of [...this.#clients]) {
      const matching = [...client.subscriptions.values()].filter((sub) => statusMatches(sub, facts));
      if (matching.length === 0) continue;
      const viewerId = client.access.viewerId;
      for (const sub of matching) {
        // Each stream shows the status with the filters of its context, and not at all when one hides it.
        const context = filterContextOf(sub);
        const key = `${viewerId}\u0000${context}`;
        let payload = payloads.get(key);
        if (payload === undefined) {
          const filtered =
            isHidden(db, viewerId, authors) || !isVisible(db, viewerId, row)
              ? null
              : applyFilters(this.#ctx, context, [row], viewerId);
          payload =
            filtered === null || filtered.hidden.has(row.id)
              ? null
              : JSON.stringify(renderStatuses(this.#ctx, [row], viewerId, filtered.filteredById)[0]);
          payloads.set(key, payload);
        }
        if (payload !== null) this.#send(client, sub, event, payload);
      }
    }
  }

  /**
   * A deleted status: its id goes to every home stream (the feed entry is already gone, and an id the client
   * never saw is ignored) and to the public and hashtag streams that showed it. A deleted boost has no row
   * left: it only ever was in the home feed.
   */
  #deleteEvent(id: string): void {
    const row = findStatusById(this.#ctx.store.db, id);
    const facts: StatusFacts = row
      ? this.#facts(row, true)
      : {
          inHome: () => true,
          inList: () => true,
          isPublic: false,
          local: false,
          hasMedia: () => false,
          tags: () => new Set(),
        };
    // A direct message's deletion also goes to the direct streams (Mastodon's RemoveStatusService does so).
    const direct = row?.visibility === "direct";
    for (const client of [...this.#clients]) {
      for (const sub of [...client.subscriptions.values()]) {
        if (statusMatches(sub, facts) || (direct && sub.kind === "direct"))
          this.#send(client, sub, "delete", id);
      }
    }
  }

  #notificationEvent(id: string): void {
    const db = this.#ctx.store.db;
    const row = findNotification(db, id);
    if (!row || row.dismissedAt !== null) return;
    const payloads = new Map<string, string | null>();
    for (const client of [...this.#clients]) {
      const canRead = hasScope(client.access.scopes, "read:notifications");
      const matching = [...client.subscriptions.values()].filter((sub) => notificationMatches(sub, canRead));
      if (matching.length === 0) continue;
      const viewerId = client.access.viewerId;
      let payload = payloads.get(viewerId);
      if (payload === undefined) {
        // Not sent when a `hide` filter of the notifications context matches its status.
        const statuses = row.statusId ? statusesByIds(db, [row.statusId]) : [];
        const { hidden, filteredById } = applyFilters(this.#ctx, "notifications", statuses, viewerId);
        const [rendered] =
          hidden.size > 0 ? [] : renderNotifications(this.#ctx, [row], viewerId, filteredById);
        payload = rendered ? JSON.stringify(rendered) : null;
        payloads.set(viewerId, payload);
      }
      if (payload === null) continue;
      for (const sub of matching) this.#send(client, sub, "notification", payload);
    }
  }

  /** A changed direct-message conversation goes to the `direct` streams, as Mastodon's Conversation entity. */
  #conversationEvent(id: string): void {
    const db = this.#ctx.store.db;
    const row = findConversation(db, id);
    if (!row) return;
    const payloads = new Map<string, string | null>();
    for (const client of [...this.#clients]) {
      const matching = [...client.subscriptions.values()].filter((sub) => sub.kind === "direct");
      if (matching.length === 0) continue;
      const viewerId = client.access.viewerId;
      let payload = payloads.get(viewerId);
      if (payload === undefined) {
        const [rendered] = isConversationShown(db, viewerId, id)
          ? renderConversations(this.#ctx, [row], viewerId)
          : [];
        payload = rendered ? JSON.stringify(rendered) : null;
        payloads.set(viewerId, payload);
      }
      if (payload === null) continue;
      for (const sub of matching) this.#send(client, sub, "conversation", payload);
    }
  }

  /** The facts about a status the subscriptions ask for; the queries run only when asked, at most once. */
  #facts(row: StatusRow, deleted: boolean): StatusFacts {
    const db = this.#ctx.store.db;
    return {
      inHome: deleted ? () => true : once(() => isInHomeFeed(db, row.id)),
      isPublic: row.visibility === "public" && row.reblogOfId === null,
      local: row.local,
      hasMedia: once(() => hasMedia(db, row.id)),
      tags: once(() => tagNamesOf(db, row.id)),
      inList: deleted ? () => true : (listId) => listFeedHas(db, listId, row.id),
    };
  }
}

/** The filter context of a stream: home for the home (and list) streams, public for public and hashtag ones. */
function filterContextOf(sub: Subscription): FilterContext {
  return sub.kind === "public" || sub.kind === "hashtag" ? "public" : "home";
}

function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value as T;
  };
}

const hubs = new WeakMap<Context, StreamingHub>();

/** The hub of a running Wren (one per context), shared by the WebSocket endpoint and the SSE routes. */
export function hubFor(ctx: Context): StreamingHub {
  let hub = hubs.get(ctx);
  if (!hub) {
    hub = new StreamingHub(ctx);
    hubs.set(ctx, hub);
  }
  return hub;
}
