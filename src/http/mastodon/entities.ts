/**
 * Mastodon API entities. Every key is always sent (null where there is no value) and URLs are never empty:
 * apps such as Tusky crash on a missing field (INTEROP.md). Lists render with one query per relation.
 */
import { and, count, eq, inArray, sql } from "drizzle-orm";
import type { Context } from "../../context.js";
import { NOTE_SOURCE_KEY } from "../../core/profile.js";
import { htmlToText } from "../../core/text.js";
import type { AccountRow } from "../../store/accounts.js";
import type { Db } from "../../store/open.js";
import { inList, preparedPerDb } from "../../store/prepared.js";
import {
  accounts,
  blocks,
  bookmarks,
  favourites,
  follows,
  mutes,
  type notifications,
  oauthApps,
  pollVotes,
  statuses,
} from "../../store/schema.js";
import {
  loadStatusViews,
  type MediaRow,
  type PollRow,
  type StatusRow,
  type StatusView,
} from "../../store/statuses.js";
import { statusesByIds } from "../../store/timelines.js";

export const iso = (ms: number) => new Date(ms).toISOString();

/** Served by the web routes; apps need a real image URL even when the user set none. */
export const DEFAULT_AVATAR_PATH = "/static/avatar.png";
export const DEFAULT_HEADER_PATH = "/static/header.png";

export function renderAccount(ctx: Context, account: AccountRow, depth = 0): Record<string, unknown> {
  const isLocal = account.domain === null;
  const avatar = account.avatarUrl ?? `${ctx.urls.origin}${DEFAULT_AVATAR_PATH}`;
  const header = account.headerUrl ?? `${ctx.urls.origin}${DEFAULT_HEADER_PATH}`;
  let moved: Record<string, unknown> | null = null;
  if (account.movedToUri && depth === 0) {
    const target = ctx.store.db.select().from(accounts).where(eq(accounts.uri, account.movedToUri)).get();
    if (target) moved = renderAccount(ctx, target, 1);
  }
  return {
    id: account.id,
    username: account.username,
    acct: isLocal ? account.username : `${account.username}@${account.domain}`,
    url: account.url ?? account.uri,
    uri: account.uri,
    display_name: account.displayName,
    note: account.note,
    avatar,
    avatar_static: avatar,
    header,
    header_static: header,
    locked: account.locked,
    bot: account.bot || account.actorType === "Service" || account.actorType === "Application",
    group: account.actorType === "Group",
    discoverable: account.discoverable,
    indexable: account.indexable,
    noindex: !account.indexable,
    hide_collections: false,
    memorial: false,
    created_at: iso(account.publishedAt ?? account.createdAt),
    last_status_at: account.lastStatusAt ? iso(account.lastStatusAt).slice(0, 10) : null,
    // Kept current for the local account by triggers (drizzle/0001_local_counters.sql).
    statuses_count: account.statusesCount,
    followers_count: account.followersCount,
    following_count: account.followingCount,
    fields: account.fields.map((f) => ({
      name: f.name,
      value: f.value,
      verified_at: f.verifiedAt ? iso(f.verifiedAt) : null,
    })),
    emojis: account.emojis.map((e) => ({
      shortcode: e.shortcode,
      url: e.url,
      static_url: e.staticUrl ?? e.url,
      visible_in_picker: false,
    })),
    roles: [],
    moved,
  };
}

/** The account with `source`, for verify_credentials and update_credentials. */
export function renderCredentialAccount(
  ctx: Context,
  account: AccountRow,
  preferences: Record<string, unknown>,
) {
  const pending =
    ctx.store.db
      .select({ n: count() })
      .from(follows)
      .where(and(eq(follows.followingId, account.id), eq(follows.state, "pending")))
      .get()?.n ?? 0;
  return {
    ...renderAccount(ctx, account),
    source: {
      privacy: preferences["posting:default:visibility"] ?? "public",
      sensitive: preferences["posting:default:sensitive"] ?? false,
      language: preferences["posting:default:language"] ?? null,
      // The plain text as typed (kept by update_credentials), else recovered from the HTML.
      note:
        typeof preferences[NOTE_SOURCE_KEY] === "string"
          ? preferences[NOTE_SOURCE_KEY]
          : htmlToText(account.note),
      fields: account.fields.map((f) => ({ name: f.name, value: htmlToText(f.value), verified_at: null })),
      follow_requests_count: pending,
      hide_collections: false,
      discoverable: account.discoverable,
      indexable: account.indexable,
      attribution_domains: [],
    },
    role: { id: "-99", name: "", permissions: "0", color: "", highlighted: false },
  };
}

const MEDIA_FALLBACK_TYPE = "unknown";

export function renderMedia(ctx: Context, media: MediaRow) {
  const url = media.fileName ? ctx.urls.media(media.fileName) : media.remoteUrl;
  const preview = media.previewFileName ? ctx.urls.media(media.previewFileName) : url;
  const focus =
    media.focusX !== null && media.focusY !== null
      ? { focus: { x: media.focusX / 1000, y: media.focusY / 1000 } }
      : {};
  return {
    id: media.id,
    type: media.type ?? MEDIA_FALLBACK_TYPE,
    url: media.processing === "pending" ? null : url,
    preview_url: preview,
    remote_url: media.fileName ? null : media.remoteUrl,
    preview_remote_url: null,
    text_url: null,
    meta: { ...media.meta, ...focus },
    description: media.description,
    blurhash: media.blurhash,
  };
}

function renderPoll(poll: PollRow, ownVotes: number[] | null) {
  const expired = poll.expiresAt !== null && poll.expiresAt <= Date.now();
  const votes = poll.options.reduce((sum, o) => sum + o.votes, 0);
  return {
    id: poll.id,
    expires_at: poll.expiresAt ? iso(poll.expiresAt) : null,
    expired,
    multiple: poll.multiple,
    votes_count: votes,
    voters_count: poll.multiple ? (poll.votersCount ?? null) : (poll.votersCount ?? votes),
    options: poll.options.map((o) => ({
      title: o.title,
      votes_count: poll.hideTotals && !expired ? null : o.votes,
    })),
    emojis: [],
    voted: ownVotes ? ownVotes.length > 0 : false,
    own_votes: ownVotes ?? [],
  };
}

/** What the viewer did to each status: favourited, boosted, bookmarked, voted. One query each. */
interface ViewerState {
  favourited: Set<string>;
  reblogged: Set<string>;
  bookmarked: Set<string>;
  votes: Map<string, number[]>;
  muted: Set<string>;
}

/**
 * The queries behind every rendered list, prepared once per database (see preparedPerDb): building them anew
 * for each page cost more than running them.
 */
const listQueries = preparedPerDb((db) => ({
  favourited: db
    .select({ id: favourites.statusId })
    .from(favourites)
    .where(and(eq(favourites.accountId, sql.placeholder("viewer")), inList(favourites.statusId, "ids")))
    .prepare(),
  // From the boosts of each target (a few rows), never from the viewer's statuses: left to itself SQLite picks
  // (account_id, id) and reads every status of the local account, thousands of rows, for each page.
  reblogged: db
    .select({ id: sql<string>`reblog_of_id` })
    .from(sql`${statuses} INDEXED BY statuses_reblog_of`)
    .where(and(inList(statuses.reblogOfId, "ids"), eq(statuses.accountId, sql.placeholder("viewer"))))
    .prepare(),
  bookmarked: db
    .select({ id: bookmarks.statusId })
    .from(bookmarks)
    .where(inList(bookmarks.statusId, "ids"))
    .prepare(),
  votes: db
    .select({ pollId: pollVotes.pollId, choice: pollVotes.choice })
    .from(pollVotes)
    .where(and(eq(pollVotes.accountId, sql.placeholder("viewer")), inList(pollVotes.pollId, "ids")))
    .prepare(),
  muted: db
    .select({ id: mutes.targetId })
    .from(mutes)
    .where(and(eq(mutes.accountId, sql.placeholder("viewer")), inList(mutes.targetId, "ids")))
    .prepare(),
  apps: db
    .select({ id: oauthApps.id, name: oauthApps.name, website: oauthApps.website })
    .from(oauthApps)
    .where(inList(oauthApps.id, "ids"))
    .prepare(),
  accounts: db.select().from(accounts).where(inList(accounts.id, "ids")).prepare(),
}));

function viewerState(db: Db, viewerId: string | null, views: StatusView[]): ViewerState {
  const state: ViewerState = {
    favourited: new Set(),
    reblogged: new Set(),
    bookmarked: new Set(),
    votes: new Map(),
    muted: new Set(),
  };
  if (!viewerId) return state;
  const targets = views.map((v) => (v.reblog ?? v).status.id);
  if (targets.length === 0) return state;
  const queries = listQueries(db);
  const ids = JSON.stringify(targets);
  for (const r of queries.favourited.all({ viewer: viewerId, ids })) state.favourited.add(r.id);
  for (const r of queries.reblogged.all({ viewer: viewerId, ids })) state.reblogged.add(r.id);
  for (const r of queries.bookmarked.all({ ids })) state.bookmarked.add(r.id);
  const pollIds = views.map((v) => (v.reblog ?? v).poll?.id).filter((id): id is string => id !== undefined);
  if (pollIds.length > 0) {
    for (const r of queries.votes.all({ viewer: viewerId, ids: JSON.stringify(pollIds) })) {
      state.votes.set(r.pollId, [...(state.votes.get(r.pollId) ?? []), r.choice]);
    }
  }
  const authorIds = [...new Set(views.map((v) => (v.reblog ?? v).account.id))];
  for (const r of queries.muted.all({ viewer: viewerId, ids: JSON.stringify(authorIds) }))
    state.muted.add(r.id);
  return state;
}

function appsById(db: Db, views: StatusView[]) {
  const ids = [
    ...new Set(views.map((v) => v.status.applicationId).filter((id): id is string => id !== null)),
  ];
  if (ids.length === 0) return new Map<string, { name: string; website: string | null }>();
  return new Map(
    listQueries(db)
      .apps.all({ ids: JSON.stringify(ids) })
      .map((a) => [a.id, { name: a.name, website: a.website }]),
  );
}

function renderView(
  ctx: Context,
  view: StatusView,
  state: ViewerState,
  apps: Map<string, { name: string; website: string | null }>,
  accountCache: Map<string, Record<string, unknown>>,
): Record<string, unknown> {
  const { status, account } = view;
  const accountEntity = () => {
    let rendered = accountCache.get(account.id);
    if (!rendered) {
      rendered = renderAccount(ctx, account);
      accountCache.set(account.id, rendered);
    }
    return rendered;
  };
  const inner = view.reblog ? renderView(ctx, view.reblog, state, apps, accountCache) : null;
  const targetId = (view.reblog ?? view).status.id;
  const app = status.applicationId ? apps.get(status.applicationId) : undefined;
  return {
    id: status.id,
    uri: status.uri,
    url: view.reblog ? null : (status.url ?? status.uri),
    account: accountEntity(),
    in_reply_to_id: view.reblog ? null : status.inReplyToId,
    in_reply_to_account_id: view.reblog ? null : status.inReplyToAccountId,
    reblog: inner,
    content: view.reblog ? "" : status.content,
    created_at: iso(status.createdAt),
    edited_at: status.editedAt ? iso(status.editedAt) : null,
    emojis: status.emojis.map((e) => ({
      shortcode: e.shortcode,
      url: e.url,
      static_url: e.staticUrl ?? e.url,
      visible_in_picker: false,
    })),
    replies_count: status.repliesCount,
    reblogs_count: status.reblogsCount,
    favourites_count: status.favouritesCount,
    reblogged: state.reblogged.has(targetId),
    favourited: state.favourited.has(targetId),
    bookmarked: state.bookmarked.has(targetId),
    muted: state.muted.has((view.reblog ?? view).account.id),
    pinned: status.pinnedAt !== null,
    sensitive: status.sensitive,
    spoiler_text: status.spoilerText,
    visibility: status.visibility,
    media_attachments: view.media.map((m) => renderMedia(ctx, m)),
    mentions: view.mentions.map((m) => ({
      id: m.id,
      username: m.username,
      acct: m.domain === null ? m.username : `${m.username}@${m.domain}`,
      url: m.url ?? m.uri,
    })),
    tags: view.tags.map((t) => ({
      name: t.displayName,
      url: `${ctx.urls.origin}/tags/${encodeURIComponent(t.name)}`,
    })),
    card: null,
    poll: view.poll ? renderPoll(view.poll, state.votes.get(view.poll.id) ?? null) : null,
    application: app ? { name: app.name, website: app.website } : null,
    language: status.language,
    text: null,
    filtered: [],
  };
}

/** Renders statuses for a viewer (the local account id, or null for anonymous requests), keeping their order. */
export function renderStatuses(
  ctx: Context,
  rows: StatusRow[],
  viewerId: string | null,
): Record<string, unknown>[] {
  const views = loadStatusViews(ctx.store.db, rows);
  const state = viewerState(ctx.store.db, viewerId, views);
  const apps = appsById(ctx.store.db, [
    ...views,
    ...views.map((v) => v.reblog).filter((v): v is StatusView => v !== null),
  ]);
  const cache = new Map<string, Record<string, unknown>>();
  return views.map((view) => renderView(ctx, view, state, apps, cache));
}

export function renderStatus(ctx: Context, row: StatusRow, viewerId: string | null): Record<string, unknown> {
  const [rendered] = renderStatuses(ctx, [row], viewerId);
  if (!rendered) throw new Error(`status ${row.id} could not be rendered`);
  return rendered;
}

export type NotificationRow = typeof notifications.$inferSelect;

export function renderNotifications(
  ctx: Context,
  rows: NotificationRow[],
  viewerId: string,
): Record<string, unknown>[] {
  const accountIds = [...new Set(rows.map((n) => n.fromAccountId))];
  const accountRows =
    accountIds.length > 0 ? listQueries(ctx.store.db).accounts.all({ ids: JSON.stringify(accountIds) }) : [];
  const accountById = new Map(accountRows.map((a) => [a.id, renderAccount(ctx, a)]));
  const statusIds = [...new Set(rows.map((n) => n.statusId).filter((id): id is string => id !== null))];
  const rendered = renderStatuses(ctx, statusesByIds(ctx.store.db, statusIds), viewerId);
  const statusById = new Map(rendered.map((s) => [s.id as string, s]));
  return rows.flatMap((n) => {
    const account = accountById.get(n.fromAccountId);
    if (!account) return [];
    return [
      {
        id: n.id,
        type: n.type,
        group_key: n.groupKey ?? `ungrouped-${n.id}`,
        created_at: iso(n.createdAt),
        account,
        status: n.statusId ? (statusById.get(n.statusId) ?? null) : null,
        report: null,
      },
    ];
  });
}

/** Relationship of the local account to each of `targets`. */
export function renderRelationships(ctx: Context, localId: string, targets: AccountRow[]) {
  const ids = targets.map((t) => t.id);
  if (ids.length === 0) return [];
  const db = ctx.store.db;
  const outgoing = new Map(
    db
      .select()
      .from(follows)
      .where(and(eq(follows.followerId, localId), inArray(follows.followingId, ids)))
      .all()
      .map((f) => [f.followingId, f]),
  );
  const incoming = new Map(
    db
      .select()
      .from(follows)
      .where(and(eq(follows.followingId, localId), inArray(follows.followerId, ids)))
      .all()
      .map((f) => [f.followerId, f]),
  );
  const blocked = new Set(
    db
      .select({ id: blocks.targetId })
      .from(blocks)
      .where(and(eq(blocks.accountId, localId), inArray(blocks.targetId, ids)))
      .all()
      .map((b) => b.id),
  );
  const muted = new Map(
    db
      .select()
      .from(mutes)
      .where(and(eq(mutes.accountId, localId), inArray(mutes.targetId, ids)))
      .all()
      .filter((m) => m.expiresAt === null || m.expiresAt > Date.now())
      .map((m) => [m.targetId, m]),
  );
  return targets.map((t) => {
    const out = outgoing.get(t.id);
    const inc = incoming.get(t.id);
    const mute = muted.get(t.id);
    return {
      id: t.id,
      following: out?.state === "accepted",
      showing_reblogs: out?.state === "accepted" ? out.showReblogs : false,
      notifying: out?.state === "accepted" ? out.notify : false,
      languages: out?.languages ?? null,
      followed_by: inc?.state === "accepted",
      blocking: blocked.has(t.id),
      blocked_by: false,
      muting: mute !== undefined,
      muting_notifications: mute?.hideNotifications ?? false,
      requested: out?.state === "pending",
      requested_by: inc?.state === "pending",
      domain_blocking: false,
      endorsed: false,
      note: "",
    };
  });
}
