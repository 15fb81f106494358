import type { Config } from "./config/spec.js";
import { registerConversations } from "./core/conversations.js";
import { registerEndorsements } from "./core/endorsements.js";
import { Events } from "./core/events.js";
import { registerFeeds } from "./core/feeds.js";
import { registerQuotes } from "./core/quotes.js";

import { registerBackfill } from "./federation/backfill.js";

import { registerInteractionRequests } from "./federation/interaction-requests.js";
import { registerOutbox } from "./federation/outbox.js";
import { registerQuoteFederation } from "./federation/quotes.js";
import { Transport } from "./federation/transport.js";
import { Urls } from "./federation/urls.js";
import { registerLinkVerification } from "./federation/verify-links.js";
import type { Logger } from "./log.js";
import { registerMediaCache } from "./media/cache.js";
import { registerPush } from "./push/subscriber.js";
import type { Store } from "./store/open.js";

/** What every part of a running Wren shares: configuration, the store, public URLs and the logger. */
export interface Context {
  config: Config;
  store: Store;
  urls: Urls;
  log: Logger;
  version: string;
  /** Domain events: the outbox inside each transaction, streaming after the commit. */
  events: Events;
  /** Every request to another server goes through this. */
  federation: Transport;
}

export function createContext(config: Config, store: Store, log: Logger, version: string): Context {
  const urls = new Urls(config);
  const ctx: Context = {
    config,
    store,
    urls,
    log,
    version,
    events: new Events(),
    federation: new Transport(config, store, urls, version),
  };
  // The transactional outbox: every domain event that other servers should hear of becomes delivery jobs.
  registerOutbox(ctx);
  // Answers to GoToSocial's interaction requests (LikeRequest, ReplyRequest, AnnounceRequest).
  registerInteractionRequests(ctx);
  // Web Push: notifications become push jobs in the same queue, in the same transaction.
  registerPush(ctx);
  // Direct-message conversations follow the statuses of their threads.
  registerConversations(ctx);
  // Home and list feeds, filled in the transaction that stores a status.
  registerFeeds(ctx);
  // Quotes follow their quoted posts; their requests and answers go out with the change.
  registerQuotes(ctx);
  registerQuoteFederation(ctx);
  // Endorsements end with the follow they need.
  registerEndorsements(ctx);
  // Profile links are verified after the profile changes (network, so after the commit).
  registerLinkVerification(ctx);
  // Outboxes of followed accounts and missing ancestors of replies, fetched as queued jobs.
  registerBackfill(ctx);

  // Remote media is copied in the background: fetch jobs in the delivery queue, in the same transaction.
  registerMediaCache(ctx);
  return ctx;
}
