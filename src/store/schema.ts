/**
 * The whole database schema. IDs are decimal snowflake strings (see ids.ts): they sort by time as text, so
 * Mastodon pagination by max_id/min_id is an index range scan. Times are Unix milliseconds.
 *
 * Local and remote actors share the `accounts` table so that follows, statuses and notifications reference
 * one kind of row; the one local user's credentials live in `users`.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const id = () => text("id").primaryKey();
const createdAt = () => integer("created_at").notNull();
const flag = (name: string) => integer(name, { mode: "boolean" }).notNull().default(false);

/** Profile fields as Mastodon and ActivityPub (PropertyValue) know them. */
export interface ProfileField {
  name: string;
  value: string;
  verifiedAt?: number | null;
}

export interface CustomEmoji {
  shortcode: string;
  url: string;
  staticUrl?: string;
}

export const accounts = sqliteTable(
  "accounts",
  {
    id: id(),
    /** ActivityPub id of the actor. */
    uri: text("uri").notNull(),
    username: text("username").notNull(),
    /** null for the local account. */
    domain: text("domain"),
    actorType: text("actor_type").notNull().default("Person"),
    displayName: text("display_name").notNull().default(""),
    /** HTML; sanitised on the way in for remote actors. */
    note: text("note").notNull().default(""),
    url: text("url"),
    inboxUrl: text("inbox_url"),
    sharedInboxUrl: text("shared_inbox_url"),
    outboxUrl: text("outbox_url"),
    followersUrl: text("followers_url"),
    followingUrl: text("following_url"),
    featuredUrl: text("featured_url"),
    avatarUrl: text("avatar_url"),
    headerUrl: text("header_url"),
    avatarMediaId: text("avatar_media_id"),
    headerMediaId: text("header_media_id"),
    fields: text("fields", { mode: "json" }).$type<ProfileField[]>().notNull().default(sql`'[]'`),
    emojis: text("emojis", { mode: "json" }).$type<CustomEmoji[]>().notNull().default(sql`'[]'`),
    locked: flag("locked"),
    bot: flag("bot"),
    discoverable: flag("discoverable"),
    indexable: flag("indexable"),
    movedToUri: text("moved_to_uri"),
    alsoKnownAs: text("also_known_as", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /**
     * Counts as the remote server reports them; for the local account, kept up to date by triggers
     * (drizzle/0001_local_counters.sql) so rendering it never counts rows.
     */
    followersCount: integer("followers_count").notNull().default(0),
    followingCount: integer("following_count").notNull().default(0),
    statusesCount: integer("statuses_count").notNull().default(0),
    lastStatusAt: integer("last_status_at"),
    publishedAt: integer("published_at"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
    /** When the remote actor document was last fetched. */
    fetchedAt: integer("fetched_at"),
    /** Set when the actor was deleted (Delete of itself, or 410 Gone). */
    goneAt: integer("gone_at"),
  },
  (t) => [
    uniqueIndex("accounts_uri").on(t.uri),
    uniqueIndex("accounts_acct").on(t.username, t.domain),
    index("accounts_shared_inbox").on(t.sharedInboxUrl),
  ],
);

/** The one local user: the credentials and preferences behind the local account row. */
export const users = sqliteTable("users", {
  id: id(),
  accountId: text("account_id")
    .notNull()
    .unique()
    .references(() => accounts.id, { onDelete: "cascade" }),
  passwordHash: text("password_hash").notNull(),
  email: text("email"),
  /** Mastodon preferences (posting:default:visibility, reading:expand:media, ...). */
  preferences: text("preferences", { mode: "json" })
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'`),
  createdAt: createdAt(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Signing keys. `owner` is "instance" for the instance actor, or the local account id. Remote actors' public
 * keys are cached in `remote_keys`.
 */
export const keyPairs = sqliteTable(
  "key_pairs",
  {
    id: id(),
    owner: text("owner").notNull(),
    /** "rsa" (RSA-2048, PEM) or "ed25519" (raw keys, base64url). */
    algorithm: text("algorithm", { enum: ["rsa", "ed25519"] }).notNull(),
    publicKey: text("public_key").notNull(),
    privateKey: text("private_key").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("key_pairs_owner_algorithm").on(t.owner, t.algorithm)],
);

export const remoteKeys = sqliteTable(
  "remote_keys",
  {
    /** The key id as given in signatures (with its fragment). */
    keyId: text("key_id").primaryKey(),
    ownerUri: text("owner_uri").notNull(),
    algorithm: text("algorithm", { enum: ["rsa", "ed25519"] }).notNull(),
    /** PEM for RSA, base64url raw key for Ed25519. */
    publicKey: text("public_key").notNull(),
    fetchedAt: integer("fetched_at").notNull(),
  },
  (t) => [index("remote_keys_owner").on(t.ownerUri)],
);

export const follows = sqliteTable(
  "follows",
  {
    id: id(),
    followerId: text("follower_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    followingId: text("following_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    /** pending: a request waiting for Accept (ours) or for the owner's approval (theirs). */
    state: text("state", { enum: ["pending", "accepted"] }).notNull(),
    /** Id of the Follow activity. */
    uri: text("uri"),
    showReblogs: integer("show_reblogs", { mode: "boolean" }).notNull().default(true),
    notify: flag("notify"),
    languages: text("languages", { mode: "json" }).$type<string[] | null>(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("follows_pair").on(t.followerId, t.followingId),
    index("follows_following").on(t.followingId, t.state),
    index("follows_uri").on(t.uri),
  ],
);

export const blocks = sqliteTable(
  "blocks",
  {
    id: id(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    targetId: text("target_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    uri: text("uri"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("blocks_pair").on(t.accountId, t.targetId), index("blocks_target").on(t.targetId)],
);

export const mutes = sqliteTable(
  "mutes",
  {
    id: id(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    targetId: text("target_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    hideNotifications: integer("hide_notifications", { mode: "boolean" }).notNull().default(true),
    expiresAt: integer("expires_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("mutes_pair").on(t.accountId, t.targetId)],
);

export const statuses = sqliteTable(
  "statuses",
  {
    id: id(),
    uri: text("uri").notNull(),
    url: text("url"),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    local: flag("local"),
    /** Set for boosts: the boosted status. A boost has no content of its own. */
    reblogOfId: text("reblog_of_id"),
    inReplyToId: text("in_reply_to_id"),
    inReplyToUri: text("in_reply_to_uri"),
    inReplyToAccountId: text("in_reply_to_account_id"),
    /** Root of the thread, for context queries. */
    conversationUri: text("conversation_uri"),
    /** Rendered HTML (sanitised for remote statuses). */
    content: text("content").notNull().default(""),
    /** The author's plain-text source, local statuses only (for redraft and edit). */
    text: text("text"),
    spoilerText: text("spoiler_text").notNull().default(""),
    sensitive: flag("sensitive"),
    visibility: text("visibility", { enum: ["public", "unlisted", "private", "direct"] }).notNull(),
    language: text("language"),
    /** ActivityStreams type it arrived as: Note, Article, Page, Question. */
    objectType: text("object_type").notNull().default("Note"),
    emojis: text("emojis", { mode: "json" }).$type<CustomEmoji[]>().notNull().default(sql`'[]'`),
    applicationId: text("application_id"),
    repliesCount: integer("replies_count").notNull().default(0),
    reblogsCount: integer("reblogs_count").notNull().default(0),
    favouritesCount: integer("favourites_count").notNull().default(0),
    pinnedAt: integer("pinned_at"),
    /** Who may quote a local status (Mastodon's quote_approval_policy); null for remote ones and older posts. */
    quotePolicy: text("quote_policy", { enum: ["public", "followers", "nobody"] }),
    createdAt: createdAt(),
    editedAt: integer("edited_at"),
    /** Tombstone time: a deleted status keeps its row so late activities about it are recognised. */
    deletedAt: integer("deleted_at"),
  },
  (t) => [
    uniqueIndex("statuses_uri").on(t.uri),
    index("statuses_account").on(t.accountId, t.id),
    // Partial: most statuses are neither boosts nor replies, and every lookup is by a value (= or IN).
    index("statuses_reblog_of").on(t.reblogOfId, t.id).where(sql`${t.reblogOfId} IS NOT NULL`),
    index("statuses_in_reply_to").on(t.inReplyToId).where(sql`${t.inReplyToId} IS NOT NULL`),
    index("statuses_in_reply_to_uri").on(t.inReplyToUri).where(sql`${t.inReplyToUri} IS NOT NULL`),
    index("statuses_conversation").on(t.conversationUri).where(sql`${t.conversationUri} IS NOT NULL`),
    index("statuses_public").on(t.visibility, t.id),
  ],
);

/** Earlier versions of an edited status (Mastodon's status edits / history). */
export const statusEdits = sqliteTable(
  "status_edits",
  {
    id: id(),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    content: text("content").notNull(),
    spoilerText: text("spoiler_text").notNull(),
    sensitive: flag("sensitive"),
    mediaIds: text("media_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    poll: text("poll", { mode: "json" }).$type<{ options: string[] } | null>(),
    createdAt: createdAt(),
  },
  (t) => [index("status_edits_status").on(t.statusId, t.id)],
);

export const mentions = sqliteTable(
  "mentions",
  {
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.statusId, t.accountId] }), index("mentions_account").on(t.accountId)],
);

export const tags = sqliteTable("tags", {
  id: id(),
  /** Lower-cased, without '#'. */
  name: text("name").notNull().unique(),
  displayName: text("display_name").notNull(),
  followed: flag("followed"),
  createdAt: createdAt(),
});

export const statusTags = sqliteTable(
  "status_tags",
  {
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    tagId: text("tag_id")
      .notNull()
      .references(() => tags.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.statusId, t.tagId] }), index("status_tags_tag").on(t.tagId, t.statusId)],
);

export const mediaAttachments = sqliteTable(
  "media_attachments",
  {
    id: id(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    statusId: text("status_id").references(() => statuses.id, { onDelete: "set null" }),
    /** Position within the status. */
    position: integer("position").notNull().default(0),
    type: text("type", { enum: ["image", "gifv", "video", "audio", "unknown"] }).notNull(),
    contentType: text("content_type"),
    /** Local file name under media.path, for uploads and cached remote files. */
    fileName: text("file_name"),
    previewFileName: text("preview_file_name"),
    fileSize: integer("file_size"),
    /** For remote media: where the original lives. */
    remoteUrl: text("remote_url"),
    description: text("description"),
    blurhash: text("blurhash"),
    focusX: integer("focus_x_millis"),
    focusY: integer("focus_y_millis"),
    /** Mastodon's `meta` (original/small sizes, duration, ...). */
    meta: text("meta", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    processing: text("processing", { enum: ["pending", "done", "failed"] })
      .notNull()
      .default("done"),
    createdAt: createdAt(),
  },
  (t) => [
    index("media_status").on(t.statusId, t.position),
    index("media_unattached").on(t.statusId, t.createdAt),
    // The prune asks whether a remote account still has media, and deleting an account cascades by this.
    index("media_account").on(t.accountId),
  ],
);

export const polls = sqliteTable(
  "polls",
  {
    id: id(),
    statusId: text("status_id")
      .notNull()
      .unique()
      .references(() => statuses.id, { onDelete: "cascade" }),
    /** [{title, votes}] */
    options: text("options", { mode: "json" }).$type<{ title: string; votes: number }[]>().notNull(),
    multiple: flag("multiple"),
    hideTotals: flag("hide_totals"),
    votersCount: integer("voters_count"),
    expiresAt: integer("expires_at"),
    /** When the "poll" notification for its end was made (own polls and polls the local account voted in). */
    endNotifiedAt: integer("end_notified_at"),
    /** A local poll got votes: its new counts go to other servers at this time (debounced, see core/polls.ts). */
    refreshDueAt: integer("refresh_due_at"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("polls_expires").on(t.endNotifiedAt, t.expiresAt),
    index("polls_refresh_due").on(t.refreshDueAt),
  ],
);

export const pollVotes = sqliteTable(
  "poll_votes",
  {
    id: id(),
    pollId: text("poll_id")
      .notNull()
      .references(() => polls.id, { onDelete: "cascade" }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    choice: integer("choice").notNull(),
    uri: text("uri"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("poll_votes_choice").on(t.pollId, t.accountId, t.choice)],
);

export const favourites = sqliteTable(
  "favourites",
  {
    id: id(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    uri: text("uri"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("favourites_pair").on(t.accountId, t.statusId),
    index("favourites_account").on(t.accountId, t.id),
    index("favourites_status").on(t.statusId, t.id),
    index("favourites_uri").on(t.uri),
  ],
);

export const bookmarks = sqliteTable("bookmarks", {
  id: id(),
  statusId: text("status_id")
    .notNull()
    .unique()
    .references(() => statuses.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
});

/** The local account's home timeline, materialised so reading it is one index scan. */
export const homeFeed = sqliteTable(
  "home_feed",
  {
    statusId: text("status_id")
      .primaryKey()
      .references(() => statuses.id, { onDelete: "cascade" }),
    /** Author of the entry (the booster for a boost), to drop entries on unfollow. */
    accountId: text("account_id").notNull(),
  },
  (t) => [index("home_feed_account").on(t.accountId)],
);

export const notifications = sqliteTable(
  "notifications",
  {
    id: id(),
    type: text("type").notNull(),
    fromAccountId: text("from_account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    statusId: text("status_id").references(() => statuses.id, { onDelete: "cascade" }),
    reportId: text("report_id"),
    /** Groups notifications for API v2 grouped notifications. */
    groupKey: text("group_key"),
    createdAt: createdAt(),
    dismissedAt: integer("dismissed_at"),
    /** Held back by the notification policy: shown only in its request, or when asked for. */
    filtered: flag("filtered"),
  },
  (t) => [
    index("notifications_type").on(t.type, t.id),
    index("notifications_from").on(t.fromAccountId),
    index("notifications_group").on(t.groupKey, t.id),
    // The prune deletes statuses: the cascade finds their notifications by this.
    index("notifications_status").on(t.statusId),
  ],
);

/** Flags received from other servers, kept for the owner to read. */
export const reports = sqliteTable("reports", {
  id: id(),
  uri: text("uri").unique(),
  fromAccountId: text("from_account_id").references(() => accounts.id, { onDelete: "set null" }),
  targetAccountId: text("target_account_id").references(() => accounts.id, { onDelete: "cascade" }),
  comment: text("comment").notNull().default(""),
  statusIds: text("status_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
  createdAt: createdAt(),
  resolvedAt: integer("resolved_at"),
});

export const oauthApps = sqliteTable("oauth_apps", {
  id: id(),
  name: text("name").notNull(),
  website: text("website"),
  redirectUris: text("redirect_uris", { mode: "json" }).$type<string[]>().notNull(),
  scopes: text("scopes").notNull(),
  clientId: text("client_id").notNull().unique(),
  /** Shown once at registration; only its hash is kept. */
  clientSecretHash: text("client_secret_hash").notNull(),
  createdAt: createdAt(),
});

export const oauthCodes = sqliteTable("oauth_codes", {
  codeHash: text("code_hash").primaryKey(),
  appId: text("app_id")
    .notNull()
    .references(() => oauthApps.id, { onDelete: "cascade" }),
  scopes: text("scopes").notNull(),
  redirectUri: text("redirect_uri").notNull(),
  codeChallenge: text("code_challenge"),
  codeChallengeMethod: text("code_challenge_method"),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
  createdAt: createdAt(),
});

export const oauthTokens = sqliteTable(
  "oauth_tokens",
  {
    id: id(),
    tokenHash: text("token_hash").notNull().unique(),
    refreshTokenHash: text("refresh_token_hash").unique(),
    appId: text("app_id")
      .notNull()
      .references(() => oauthApps.id, { onDelete: "cascade" }),
    /** null for client_credentials tokens, which act for the app, not the user. */
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    scopes: text("scopes").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
  },
  (t) => [index("oauth_tokens_app").on(t.appId)],
);

/** Browser login sessions for the OAuth authorize page. */
export const webSessions = sqliteTable("web_sessions", {
  idHash: text("id_hash").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
  expiresAt: integer("expires_at").notNull(),
});

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    key: text("key").notNull(),
    tokenId: text("token_id").notNull(),
    statusId: text("status_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] })],
);

/** Web Push subscriptions, one per access token (as Mastodon). Keys are kept as base64url. */
export const pushSubscriptions = sqliteTable("push_subscriptions", {
  id: id(),
  tokenId: text("token_id")
    .notNull()
    .unique()
    .references(() => oauthTokens.id, { onDelete: "cascade" }),
  /**
   * The bearer token itself (every other table keeps only hashes): Mastodon's push payload carries it, and
   * apps use it to tell which of their accounts a push is for. It goes when the subscription goes. (Nullable
   * only because SQLite cannot add a NOT NULL column without a default to an existing table.)
   */
  accessToken: text("access_token"),
  endpoint: text("endpoint").notNull(),
  p256dh: text("p256dh").notNull(),
  auth: text("auth").notNull(),
  /** RFC 8291 `aes128gcm` when true, the legacy `aesgcm` draft otherwise (Mastodon's `standard`). */
  standard: flag("standard"),
  alerts: text("alerts", { mode: "json" }).$type<Record<string, boolean>>().notNull(),
  /** Whose notifications are pushed: all, followed (accounts followed), follower (followers) or none. */
  policy: text("policy").notNull().default("all"),
  createdAt: createdAt(),
});

export const markers = sqliteTable("markers", {
  timeline: text("timeline").primaryKey(),
  lastReadId: text("last_read_id").notNull(),
  version: integer("version").notNull().default(1),
  updatedAt: integer("updated_at").notNull(),
});

/** Instance settings kept in the database (e.g. rules), as opposed to the config file. */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
});

/** An outbound activity, stored once whatever the number of recipients. */
export const outboundActivities = sqliteTable("outbound_activities", {
  id: id(),
  /** The activity JSON exactly as it will be sent. */
  body: text("body").notNull(),
  /** The local actor that signs it: "instance" or the local account id. */
  signer: text("signer").notNull(),
  createdAt: createdAt(),
});

/** One row per target inbox of an outbound activity (a shared inbox stands for all followers on that host). */
export const deliveryJobs = sqliteTable(
  "delivery_jobs",
  {
    id: id(),
    activityId: text("activity_id")
      .notNull()
      .references(() => outboundActivities.id, { onDelete: "cascade" }),
    inboxUrl: text("inbox_url").notNull(),
    host: text("host").notNull(),
    state: text("state", { enum: ["queued", "running", "done", "failed"] })
      .notNull()
      .default("queued"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lockedAt: integer("locked_at"),
    lastError: text("last_error"),
    createdAt: createdAt(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    index("delivery_jobs_due").on(t.state, t.nextAttemptAt),
    index("delivery_jobs_host").on(t.host, t.state),
    uniqueIndex("delivery_jobs_target").on(t.activityId, t.inboxUrl),
  ],
);

/** What we know about other servers: delivery health and which signature standard they accept. */
export const hosts = sqliteTable("hosts", {
  host: text("host").primaryKey(),
  signatureStandard: text("signature_standard", { enum: ["draft-cavage", "rfc9421"] }),
  /** Distinct days (YYYY-MM-DD) with failures since the last success, as a JSON array. */
  failureDays: text("failure_days", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
  lastSuccessAt: integer("last_success_at"),
  lastFailureAt: integer("last_failure_at"),
  /** Parked: deliveries wait for a probe to succeed instead of being tried one by one. */
  unavailableSince: integer("unavailable_since"),
  software: text("software"),
});

/**
 * Activities received in an inbox, verified and waiting to be applied (or applied, kept a while so a
 * re-delivery is still recognised). `dedupe_key` is the activity id, or "sha256:" and the body's digest when
 * it has none: the unique index makes recording a duplicate a no-op.
 */
export const inboundActivities = sqliteTable(
  "inbound_activities",
  {
    /** Arrival order. */
    id: integer("id").primaryKey(),
    dedupeKey: text("dedupe_key").notNull(),
    actorUri: text("actor_uri").notNull(),
    state: text("state", { enum: ["pending", "running", "done", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    receivedAt: integer("received_at").notNull(),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    uniqueIndex("inbound_activities_dedupe").on(t.dedupeKey),
    index("inbound_activities_state").on(t.state, t.id),
    // No index on finished_at: the hourly purge scans a week of these narrow rows, which costs less than
    // indexing every one of them.
  ],
);

/**
 * The request body of an inbound activity, as received, until it is applied (kept for one that failed). A
 * table of its own: a body cleared in place would leave its pages of the queue mostly empty for the week the
 * de-duplication row is kept, while deleted rows free whole pages for the next ones.
 */
export const inboundBodies = sqliteTable("inbound_bodies", {
  activityId: integer("activity_id")
    .primaryKey()
    .references(() => inboundActivities.id, { onDelete: "cascade" }),
  body: text("body").notNull(),
});

// --- filters ---

/**
 * The local account's filters (Mastodon's custom filters, v2 shape): what to do (`action`) with statuses that
 * match one of its keywords or statuses, in which contexts, until when.
 */
export const filters = sqliteTable("filters", {
  id: id(),
  title: text("title").notNull(),
  /** Where it applies: home, notifications, public, thread, account. */
  context: text("context", { mode: "json" }).$type<string[]>().notNull(),
  action: text("action", { enum: ["warn", "hide", "blur"] })
    .notNull()
    .default("warn"),
  expiresAt: integer("expires_at"),
  createdAt: createdAt(),
  updatedAt: integer("updated_at").notNull(),
});

export const filterKeywords = sqliteTable(
  "filter_keywords",
  {
    id: id(),
    filterId: text("filter_id")
      .notNull()
      .references(() => filters.id, { onDelete: "cascade" }),
    keyword: text("keyword").notNull(),
    wholeWord: integer("whole_word", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [index("filter_keywords_filter").on(t.filterId, t.id)],
);

export const filterStatuses = sqliteTable(
  "filter_statuses",
  {
    id: id(),
    filterId: text("filter_id")
      .notNull()
      .references(() => filters.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("filter_statuses_filter_status").on(t.filterId, t.statusId)],
);

// --- conversations ---

/**
 * The owner's direct-message conversations (Mastodon's account conversations), one per thread: `thread_uri`
 * is the statuses' conversation_uri, or the root's own uri. Deleting one (the API's DELETE) removes the row;
 * the next message of the thread starts a new one, as on Mastodon.
 */
export const conversations = sqliteTable(
  "conversations",
  {
    id: id(),
    threadUri: text("thread_uri").notNull(),
    lastStatusId: text("last_status_id").notNull(),
    unread: flag("unread"),
    /** Everyone in its statuses (authors and mentioned accounts) except the owner. */
    participantIds: text("participant_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("conversations_thread").on(t.threadUri),
    index("conversations_last").on(t.lastStatusId),
  ],
);

export const conversationStatuses = sqliteTable(
  "conversation_statuses",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.statusId] }),
    index("conversation_statuses_status").on(t.statusId),
  ],
);

// --- scheduled statuses ---

/** What a scheduled status will be posted with (createStatus's input, without the resolved mentions). */
export interface ScheduledParams {
  text: string;
  visibility: "public" | "unlisted" | "private" | "direct";
  spoilerText: string;
  sensitive: boolean;
  inReplyToId: string | null;
  language: string | null;
  poll: { options: string[]; expiresIn: number; multiple: boolean; hideTotals: boolean } | null;
  applicationId: string | null;
}

/**
 * Statuses to post later. Publishing deletes the row in the transaction that creates the status, so a
 * status is posted exactly once. The uploads it holds are listed in `media_ids` (the media purge spares them).
 */
export const scheduledStatuses = sqliteTable(
  "scheduled_statuses",
  {
    id: id(),
    scheduledAt: integer("scheduled_at").notNull(),
    params: text("params", { mode: "json" }).$type<ScheduledParams>().notNull(),
    mediaIds: text("media_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    createdAt: createdAt(),
  },
  (t) => [index("scheduled_statuses_due").on(t.scheduledAt)],
);

// --- lists ---

/** The local account's lists of followed accounts (Mastodon's lists). */
export const lists = sqliteTable("lists", {
  id: id(),
  title: text("title").notNull(),
  /** Which replies by members the list shows: to anyone followed, to list members, or none. */
  repliesPolicy: text("replies_policy", { enum: ["followed", "list", "none"] })
    .notNull()
    .default("list"),
  /** The members' posts leave the home feed. */
  exclusive: flag("exclusive"),
  createdAt: createdAt(),
});

/**
 * Members of a list. A member is an account the local account follows (or asked to follow): the row goes
 * with the follow (as on Mastodon), so ending a follow leaves the lists by itself.
 */
export const listAccounts = sqliteTable(
  "list_accounts",
  {
    /** Pagination key of GET /api/v1/lists/:id/accounts. */
    id: id(),
    listId: text("list_id")
      .notNull()
      .references(() => lists.id, { onDelete: "cascade" }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    followId: text("follow_id")
      .notNull()
      .references(() => follows.id, { onDelete: "cascade" }),
  },
  (t) => [
    uniqueIndex("list_accounts_pair").on(t.listId, t.accountId),
    index("list_accounts_account").on(t.accountId),
    index("list_accounts_follow").on(t.followId),
  ],
);

/** A list's timeline, materialised like home_feed. */
export const listFeed = sqliteTable(
  "list_feed",
  {
    listId: text("list_id")
      .notNull()
      .references(() => lists.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    /** Author of the entry (the booster for a boost), to drop a member's entries. */
    accountId: text("account_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.listId, t.statusId] }),
    index("list_feed_account").on(t.accountId, t.listId),
    index("list_feed_status").on(t.statusId),
  ],
);

// --- notification policy ---

export const POLICY_ACTIONS = ["accept", "filter", "drop"] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];
const policyAction = (name: string) => text(name, { enum: POLICY_ACTIONS }).notNull().default("accept");

/** What the owner's notification policy does with notifications from each kind of sender (one row). */
export const notificationPolicy = sqliteTable("notification_policy", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id, { onDelete: "cascade" }),
  forNotFollowing: policyAction("for_not_following"),
  forNotFollowers: policyAction("for_not_followers"),
  forNewAccounts: policyAction("for_new_accounts"),
  forPrivateMentions: policyAction("for_private_mentions"),
  forLimitedAccounts: policyAction("for_limited_accounts"),
  updatedAt: integer("updated_at").notNull(),
});

/** One per sender whose mentions the policy filtered, until accepted or dismissed. */
export const notificationRequests = sqliteTable("notification_requests", {
  id: id(),
  fromAccountId: text("from_account_id")
    .notNull()
    .unique()
    .references(() => accounts.id, { onDelete: "cascade" }),
  lastStatusId: text("last_status_id").references(() => statuses.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  updatedAt: integer("updated_at").notNull(),
});

/** Senders whose request was accepted: the policy lets them through from then on. */
export const notificationPermissions = sqliteTable("notification_permissions", {
  fromAccountId: text("from_account_id")
    .primaryKey()
    .references(() => accounts.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
});

// --- misc: domain blocks, conversation mutes, account notes, endorsements, featured tags ---

/**
 * Domains the local account blocks (Mastodon's user domain blocks): lower case, as `accounts.domain` holds
 * hosts (with a port when not the default one). A block covers the domain's subdomains, and without a port
 * every port (core/visibility.ts, `domainMatches`).
 */
export const domainBlocks = sqliteTable("domain_blocks", {
  id: id(),
  domain: text("domain").notNull().unique(),
  createdAt: createdAt(),
});

/**
 * The accounts on a domain the local account blocks, one row each, kept by the triggers of
 * drizzle/0019_domain_blocked_accounts.sql on accounts and domain_blocks. Timelines and notifications test
 * each row's authors against it by primary key instead of matching their domains with every block.
 */
export const accountsOnBlockedDomains = sqliteTable("domain_blocked_accounts", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id, { onDelete: "cascade" }),
});

/** Threads whose notifications the local account muted, by the thread's key (the root's URI). */
export const conversationMutes = sqliteTable("conversation_mutes", {
  conversationUri: text("conversation_uri").primaryKey(),
  createdAt: createdAt(),
});

/** The local account's private notes on other accounts. */
export const accountNotes = sqliteTable("account_notes", {
  targetId: text("target_id")
    .primaryKey()
    .references(() => accounts.id, { onDelete: "cascade" }),
  comment: text("comment").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Accounts the local account features on its profile (Mastodon's endorsements, "account pins"). */
export const endorsements = sqliteTable("endorsements", {
  id: id(),
  targetId: text("target_id")
    .notNull()
    .unique()
    .references(() => accounts.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
});

/** Hashtags the local account features on its profile. */
export const featuredTags = sqliteTable("featured_tags", {
  id: id(),
  tagId: text("tag_id")
    .notNull()
    .unique()
    .references(() => tags.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
});

// --- account deletion ---

/**
 * Local accounts deleted with `wren account delete`: their actor URI answers 410 Gone (as on Mastodon) and
 * their username is not given out again (other servers keep that actor as deleted).
 */
export const deletedActors = sqliteTable("deleted_actors", {
  uri: text("uri").primaryKey(),
  username: text("username").notNull(),
  deletedAt: integer("deleted_at").notNull(),
});

// --- quotes ---

/**
 * A status that quotes another (FEP-044f, Mastodon 4.5): one row per quoting status. `quotedStatusId` is null
 * while the quoted post is unknown (or gone). `authorizationUri` is the QuoteAuthorization that makes it
 * accepted: the quoted author's server's, or ours when the owner's status is the one quoted. `activityUri` is
 * the QuoteRequest that asked for it (ours, or the peer's we answered).
 */
export const quotes = sqliteTable(
  "quotes",
  {
    id: id(),
    statusId: text("status_id")
      .notNull()
      .unique()
      .references(() => statuses.id, { onDelete: "cascade" }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    quotedUri: text("quoted_uri").notNull(),
    quotedStatusId: text("quoted_status_id").references(() => statuses.id, { onDelete: "set null" }),
    quotedAccountId: text("quoted_account_id").references(() => accounts.id, { onDelete: "set null" }),
    state: text("state", { enum: ["pending", "accepted", "rejected", "revoked", "deleted"] }).notNull(),
    /** A quote written Misskey's way (`_misskey_quote`, `quoteUrl`, `quoteUri` without FEP-044f `quote`). */
    legacy: flag("legacy"),
    authorizationUri: text("authorization_uri"),
    activityUri: text("activity_uri"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("quotes_quoted_status").on(t.quotedStatusId, t.id),
    index("quotes_activity_uri").on(t.activityUri),
    index("quotes_authorization_uri").on(t.authorizationUri),
  ],
);

// --- relays ---

/**
 * Relays the instance actor subscribed to (`wren relay add`). `mode` says how it was followed: "mastodon"
 * (Follow of the Public collection, sent to the relay's inbox) or "litepub" (Follow of the relay actor).
 */
export const relays = sqliteTable("relays", {
  id: id(),
  inboxUrl: text("inbox_url").notNull().unique(),
  /** The relay's actor, when known (always for LitePub; for Mastodon-style once it answers). */
  actorUri: text("actor_uri"),
  mode: text("mode", { enum: ["mastodon", "litepub"] }).notNull(),
  /** The id of the Follow sent; its Accept or Reject names it. */
  followUri: text("follow_uri").notNull().unique(),
  state: text("state", { enum: ["pending", "accepted", "rejected"] })
    .notNull()
    .default("pending"),
  createdAt: createdAt(),
  updatedAt: integer("updated_at").notNull(),
});

// --- settings: two-factor login, scheduled job runs ---

/**
 * The owner's TOTP secret (RFC 6238). `confirmedAt` is null while enrolment waits for a first code; `lastStep`
 * is the time step of the last code accepted, so that a code cannot be used twice.
 */
export const totpSecrets = sqliteTable("totp_secrets", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  /** The raw secret, base32 as in the otpauth:// URI. */
  secret: text("secret").notNull(),
  confirmedAt: integer("confirmed_at"),
  lastStep: integer("last_step"),
  createdAt: createdAt(),
});

/** Single-use recovery codes for the second factor, stored as their SHA-256 hash. */
export const recoveryCodes = sqliteTable("recovery_codes", {
  codeHash: text("code_hash").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  usedAt: integer("used_at"),
  createdAt: createdAt(),
});

/** The last run of each scheduled job (upkeep tasks, scheduled backups), for `wren status`. */
export const jobRuns = sqliteTable("job_runs", {
  name: text("name").primaryKey(),
  startedAt: integer("started_at").notNull(),
  finishedAt: integer("finished_at").notNull(),
  ok: integer("ok", { mode: "boolean" }).notNull(),
  /** What the run did or why it failed, one line. */
  detail: text("detail").notNull().default(""),
});

// --- remote media cache ---

/**
 * Remote files (attachments, avatars, headers) copied to media.path, one row per remote URL: statuses and
 * accounts refer to a file by its URL, so an edit that re-sends the same attachment, or two accounts sharing
 * an image, use one copy. `id` is also the prefix of the file names (as for uploads), which the file route
 * reads. `bytes` counts the file and its preview, for the cache budget; `last_accessed_at` moves at most once
 * an hour, when a file is served, for least-recently-used eviction.
 */
export const remoteMedia = sqliteTable(
  "remote_media",
  {
    id: id(),
    url: text("url").notNull().unique(),
    state: text("state", { enum: ["pending", "done", "failed", "evicted"] })
      .notNull()
      .default("pending"),
    type: text("type", { enum: ["image", "gifv", "video", "audio", "unknown"] }),
    contentType: text("content_type"),
    fileName: text("file_name"),
    previewFileName: text("preview_file_name"),
    bytes: integer("bytes").notNull().default(0),
    blurhash: text("blurhash"),
    meta: text("meta", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    error: text("error"),
    createdAt: createdAt(),
    fetchedAt: integer("fetched_at"),
    lastAccessedAt: integer("last_accessed_at").notNull().default(0),
  },
  (t) => [index("remote_media_lru").on(t.state, t.lastAccessedAt)],
);

// --- reactions and interaction policies ---

/**
 * Emoji reactions to the local account's statuses (Pleroma/Akkoma `EmojiReact`, Misskey `Like` with
 * `_misskey_reaction`). `name` is the emoji itself (a Unicode emoji) or a custom emoji's shortcode without
 * colons, then `url` is its image. An account may react with several different emoji, once each.
 */
export const reactions = sqliteTable(
  "reactions",
  {
    id: id(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    url: text("url"),
    /** The activity's id (EmojiReact or Like), for its Undo. */
    uri: text("uri").notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("reactions_triple").on(t.accountId, t.statusId, t.name),
    index("reactions_status").on(t.statusId, t.id),
  ],
);

/** A remote status's GoToSocial `interactionPolicy` as it was received (absent: the implicit default). */
export const interactionPolicies = sqliteTable("interaction_policies", {
  statusId: text("status_id")
    .primaryKey()
    .references(() => statuses.id, { onDelete: "cascade" }),
  policy: text("policy", { mode: "json" }).$type<InteractionPolicy>().notNull(),
});

/** Who may do one kind of interaction: actor and collection URIs, and the Public IRI. */
export interface SubPolicy {
  automatic: string[];
  manual: string[];
}

export interface InteractionPolicy {
  canLike: SubPolicy | null;
  canReply: SubPolicy | null;
  canAnnounce: SubPolicy | null;
}

/**
 * Authorizations the local account gave in answer to GoToSocial interaction requests (LikeRequest,
 * ReplyRequest, AnnounceRequest): served at their id so third servers can verify them.
 */
export const interactionAuthorizations = sqliteTable(
  "interaction_authorizations",
  {
    id: id(),
    kind: text("kind", { enum: ["like", "reply", "announce"] }).notNull(),
    /** The request activity's id; a repeated request gets the same authorization. */
    requestUri: text("request_uri").notNull().unique(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    statusId: text("status_id")
      .notNull()
      .references(() => statuses.id, { onDelete: "cascade" }),
    /** The interaction itself: the reply Note, the Like or the Announce. */
    interactingObject: text("interacting_object").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("interaction_authorizations_status").on(t.statusId)],
);
