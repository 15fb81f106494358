/**
 * Mastodon API entities. Every key is always sent (null where there is no value) and URLs are never empty:
 * apps such as Tusky crash on a missing field (INTEROP.md). Lists render with one query per relation.
 */
import type { Context } from "../../context.js";
import { applyFilters, type FilterResult } from "../../core/filters.js";
import { NOTE_SOURCE_KEY } from "../../core/profile.js";
import { quotePolicyOf } from "../../core/quotes.js";
import { htmlToText } from "../../core/text.js";
import {
  blockedDomains,
  domainMatches,
  filterNotHidden,
  filterVisible,
  isActiveMute,
  threadKey,
} from "../../core/visibility.js";
import { profileImageUrls, remoteMediaView } from "../../media/cache.js";
import { endorsedAmong, notesOn } from "../../store/account-extras.js";
import { accountsByIds, countFollowRequests, findAccountByUri } from "../../store/account-lookups.js";
import { loadRelationRows } from "../../store/account-relations.js";
import type { AccountRow } from "../../store/accounts.js";
import { type AppSummary, appSummaries } from "../../store/oauth-apps.js";
import { acceptedQuoteCounts } from "../../store/quotes.js";
import { type ReactionCount, reactionCounts } from "../../store/reactions.js";
import {
  loadStatusViews,
  type MediaRow,
  type PollRow,
  type StatusRow,
  type StatusView,
} from "../../store/statuses.js";
import { type NotificationRow, statusesByIds } from "../../store/timelines.js";
import { loadViewerState, type ViewerState } from "../../store/viewer-state.js";
import { renderFilterResults } from "./filters.js";
import { reactionFields, shownType } from "./reaction-notifications.js";

export const iso = (ms: number) => new Date(ms).toISOString();

/** Served by the web routes; apps need a real image URL even when the user set none. */
export const DEFAULT_AVATAR_PATH = "/static/avatar.png";
export const DEFAULT_HEADER_PATH = "/static/header.png";

export function renderAccount(ctx: Context, account: AccountRow, depth = 0): Record<string, unknown> {
  const isLocal = account.domain === null;
  // Remote images: the cached copy, else the origin when it is safe to hand out, else the default.
  const image = (url: string | null, fallback: string) =>
    (isLocal ? (url ? { url, static: url } : null) : profileImageUrls(ctx, url)) ?? {
      url: `${ctx.urls.origin}${fallback}`,
      static: `${ctx.urls.origin}${fallback}`,
    };
  const avatar = image(account.avatarUrl, DEFAULT_AVATAR_PATH);
  const header = image(account.headerUrl, DEFAULT_HEADER_PATH);
  let moved: Record<string, unknown> | null = null;
  if (account.movedToUri && depth === 0) {
    const target = findAccountByUri(ctx.store.db, account.movedToUri);
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
    avatar: avatar.url,
    avatar_static: avatar.static,
    header: header.url,
    header_static: header.static,
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
  const pending = countFollowRequests(ctx.store.db, account.id);
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
  const focus =
    media.focusX !== null && media.focusY !== null
      ? { focus: { x: media.focusX / 1000, y: media.focusY / 1000 } }
      : {};
  const common = { id: media.id, preview_remote_url: null, text_url: null, description: media.description };
  if (media.remoteUrl !== null && media.fileName === null) {
    const view = remoteMediaView(ctx, { ...media, remoteUrl: media.remoteUrl });
    return {
      ...common,
      type: view.type,
      url: view.url,
      preview_url: view.previewUrl,
      remote_url: view.remoteUrl,
      meta: { ...view.meta, ...focus },
      blurhash: view.blurhash,
    };
  }
  const url = media.fileName ? ctx.urls.media(media.fileName) : null;
  const preview = media.previewFileName ? ctx.urls.media(media.previewFileName) : url;
  return {
    ...common,
    type: media.type ?? MEDIA_FALLBACK_TYPE,
    url: media.processing === "pending" ? null : url,
    preview_url: preview,
    remote_url: null,
    meta: { ...media.meta, ...focus },
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

/** What the viewer did to the statuses shown (the boosted one for a boost) and to their authors. */
function viewerState(ctx: Context, viewerId: string | null, views: StatusView[]): ViewerState {
  const shown = views.map((v) => v.reblog ?? v);
  return loadViewerState(ctx.store.db, viewerId, {
    statusIds: shown.map((v) => v.status.id),
    pollIds: shown.map((v) => v.poll?.id).filter((id): id is string => id !== undefined),
    threadKeys: shown.map((v) => threadKey(v.status)),
  });
}

function appsById(ctx: Context, views: StatusView[]): Map<string, AppSummary> {
  return appSummaries(ctx.store.db, [
    ...new Set(views.map((v) => v.status.applicationId).filter((id): id is string => id !== null)),
  ]);
}

function renderView(
  ctx: Context,
  view: StatusView,
  state: ViewerState,
  apps: Map<string, AppSummary>,
  accountCache: Map<string, Record<string, unknown>>,
  filtered: Map<string, FilterResult[]>,
  quotes: QuoteContext,
  reactions: Map<string, ReactionCount[]>,
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
  const inner = view.reblog
    ? renderView(ctx, view.reblog, state, apps, accountCache, filtered, quotes, reactions)
    : null;
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
    muted: state.mutedThreads.has(threadKey((view.reblog ?? view).status)),
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
    filtered: renderFilterResults(filtered.get(status.id) ?? []),
    quote: view.reblog ? null : renderQuote(view, quotes.quoted),
    quotes_count: quotes.counts.get((view.reblog ?? view).status.id) ?? 0,
    quote_approval: renderQuoteApproval((view.reblog ?? view).status, quotes.viewerId),
    // Pleroma/Akkoma's emoji reactions, which their apps read (core/reactions.ts).
    pleroma: {
      emoji_reactions: (reactions.get(status.id) ?? []).map((r) => ({
        name: r.name,
        count: r.count,
        me: r.me,
        url: r.url,
        account_ids: r.accountIds,
      })),
    },
  };
}

/** The viewer, and the quoted statuses rendered for it (null inside a quoted status: quotes are shallow there). */
interface QuoteContext {
  viewerId: string | null;
  quoted: Map<string, Record<string, unknown>> | null;
  /** Accepted quotes of each status shown. */
  counts: Map<string, number>;
}

/**
 * Mastodon 4.5's Quote: the quoted status only while the quote is accepted and the viewer may see it
 * ("unauthorized" otherwise, "deleted" once it is gone). Inside a quoted status, the ShallowQuote.
 */
function renderQuote(view: StatusView, quoted: Map<string, Record<string, unknown>> | null) {
  const quote = view.quote;
  if (!quote) return null;
  const accepted = quote.state === "accepted";
  if (quoted === null)
    return { state: quote.state, quoted_status_id: accepted ? quote.quotedStatusId : null };
  if (!accepted) return { state: quote.state, quoted_status: null };
  const entity = quote.quotedStatusId ? quoted.get(quote.quotedStatusId) : undefined;
  if (entity) return { state: "accepted", quoted_status: entity };
  return { state: quote.quotedStatusId ? "unauthorized" : "deleted", quoted_status: null };
}

/** Who may quote a status: known for the owner's statuses; remote policies are not read ("unknown"). */
function renderQuoteApproval(status: StatusRow, viewerId: string | null) {
  if (!status.local) return { automatic: [], manual: [], current_user: "unknown" };
  const policy = quotePolicyOf(status);
  const own = viewerId !== null && viewerId === status.accountId;
  return {
    automatic: policy === "nobody" ? [] : [policy],
    manual: [],
    current_user: own || policy === "public" ? "automatic" : "denied",
  };
}

/** The statuses the accepted quotes among `views` show, rendered for the viewer (their own quotes shallow). */
function quotedStatuses(ctx: Context, views: StatusView[], viewerId: string | null) {
  const ids = new Set<string>();
  for (const view of views) {
    const quote = (view.reblog ?? view).quote;
    if (quote?.state === "accepted" && quote.quotedStatusId) ids.add(quote.quotedStatusId);
  }
  if (ids.size === 0) return new Map<string, Record<string, unknown>>();
  const db = ctx.store.db;
  const rows = filterNotHidden(db, viewerId, filterVisible(db, viewerId, statusesByIds(db, [...ids])));
  return new Map(renderStatuses(ctx, rows, viewerId, undefined, true).map((s) => [s.id as string, s]));
}

/**
 * Renders statuses for a viewer (the local account id, or null for anonymous requests), keeping their order.
 * `filtered` is what `applyFilters` found for the surface's filter context; without it, the statuses are
 * shown as asked for by themselves (every context's filter results, nothing hidden).
 */
export function renderStatuses(
  ctx: Context,
  rows: StatusRow[],
  viewerId: string | null,
  filtered: Map<string, FilterResult[]> = applyFilters(ctx, null, rows, viewerId).filteredById,
  asQuoted = false,
): Record<string, unknown>[] {
  const views = loadStatusViews(ctx.store.db, rows);
  const state = viewerState(ctx, viewerId, views);
  const apps = appsById(ctx, [
    ...views,
    ...views.map((v) => v.reblog).filter((v): v is StatusView => v !== null),
  ]);
  const cache = new Map<string, Record<string, unknown>>();
  const shown = views.map((v) => (v.reblog ?? v).status.id);
  const quotes = {
    viewerId,
    quoted: asQuoted ? null : quotedStatuses(ctx, views, viewerId),
    counts: acceptedQuoteCounts(ctx.store.db, shown),
  };
  const reactions = reactionCounts(ctx.store.db, shown, viewerId);
  return views.map((view) => renderView(ctx, view, state, apps, cache, filtered, quotes, reactions));
}

export function renderStatus(ctx: Context, row: StatusRow, viewerId: string | null): Record<string, unknown> {
  const [rendered] = renderStatuses(ctx, [row], viewerId);
  if (!rendered) throw new Error(`status ${row.id} could not be rendered`);
  return rendered;
}

/** Notifications; their statuses with the filter results of the `notifications` context unless `filtered` is given. */
export function renderNotifications(
  ctx: Context,
  rows: NotificationRow[],
  viewerId: string,
  filtered?: Map<string, FilterResult[]>,
  /** Whether the app asked for `pleroma:emoji_reaction` by name (http/mastodon/reaction-notifications.ts). */
  reactionsAsked = false,
): Record<string, unknown>[] {
  const accountIds = [...new Set(rows.map((n) => n.fromAccountId))];
  const accountRows = accountsByIds(ctx.store.db, accountIds);
  const accountById = new Map(accountRows.map((a) => [a.id, renderAccount(ctx, a)]));
  const statusIds = [...new Set(rows.map((n) => n.statusId).filter((id): id is string => id !== null))];
  const statusRows = statusesByIds(ctx.store.db, statusIds);
  const rendered = renderStatuses(
    ctx,
    statusRows,
    viewerId,
    filtered ?? applyFilters(ctx, "notifications", statusRows, viewerId).filteredById,
  );
  const statusById = new Map(rendered.map((s) => [s.id as string, s]));
  return rows.flatMap((n) => {
    const account = accountById.get(n.fromAccountId);
    if (!account) return [];
    return [
      {
        id: n.id,
        type: shownType(n.type, reactionsAsked),
        ...(reactionsAsked ? reactionFields(ctx.store.db, n) : {}),
        group_key: n.groupKey ?? `ungrouped-${n.id}`,
        ...(n.filtered ? { filtered: true } : {}),
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
  const rows = loadRelationRows(ctx.store.db, localId, ids);
  const outgoing = new Map(rows.outgoing.map((f) => [f.followingId, f]));
  const incoming = new Map(rows.incoming.map((f) => [f.followerId, f]));
  const blocked = new Set(rows.blockedIds);
  const muted = new Map(rows.mutes.filter((m) => isActiveMute(m)).map((m) => [m.targetId, m]));
  const domains = blockedDomains(ctx.store.db);
  const endorsed = endorsedAmong(ctx.store.db, localId, ids);
  const notes = notesOn(ctx.store.db, ids);
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
      domain_blocking: t.domain !== null && domains.some((d) => domainMatches(t.domain as string, d)),
      endorsed: endorsed.has(t.id),
      note: notes.get(t.id) ?? "",
    };
  });
}
