#!/usr/bin/env node
// Mastodon API latency and throughput on a realistically sized database.
//
//   npm run build && node bench/api.mjs
//
// 1. Seeds a temporary database: the local account (created as `wren account create` does) with 2,000 statuses
//    of its own, 500 remote accounts on 60 servers (it follows 200 of them, 300 follow it), 100,000 remote
//    statuses spread over the past 180 days (boosts, replies, hashtags, mentions, media, polls, a few
//    tombstones), the home_feed rows the inbox would have written for them, the local account's favourites and
//    bookmarks, and 5,000 notifications (mention, favourite, reblog, follow); plus an OAuth app and token.
// 2. Starts the BUILT server as a user runs it (`node --max-semi-space-size=2 bin/wren.js serve`) on that
//    database, and beside it bench/bare-hono.mjs served the same way (@hono/node-server, same flags), answering
//    GET /body with the very bytes Wren answers for the first home page (fetched once from Wren).
// 3. From this process, over CONCURRENCY keep-alive connections, sends WARMUP then REQUESTS requests to each of:
//    the baseline's /body, GET /api/v1/timelines/home?limit=40 and GET /api/v1/notifications (default limit 40);
//    then the home timeline again over one connection (the server's time per request, as one app sees it);
//    then walks the whole home timeline once through its Link rel="next" URLs and checks that every entry
//    comes once, newest first.
// Printed: p50/p90/p99/max latency and requests/s per endpoint, Wren's throughput as a fraction of the bare
// Hono's, Wren's RSS (VmRSS, VmHWM) after start-up and at the end, and the machine's load average (the machine
// may be shared: compare runs only with similar load). With C connections and one server thread every request
// waits for the others in flight, so the mean latency is C / throughput.
// Targets (issue 10): the home timeline at least 0.30x the baseline's requests/s over CONCURRENCY connections,
// and its p99 over one connection at most 5 ms; the exit code is 1 when one is missed or a check fails.
//
// Options (environment): STATUSES (100000), REQUESTS (2000), WARMUP (200), CONCURRENCY (16);
// SEEDED=DIR keeps the seeded database in DIR and reuses it on the next run with the same DIR (profiling);
// WREN_BENCH_CPU_PROF=DIR (bench/lib.mjs) writes a V8 CPU profile of both servers into DIR.
// Linux only (reads /proc/PID/status). Stops by itself within 10 minutes; the temporary directory and the
// children are removed and stopped on every exit path.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BIN,
  freePort,
  loadDist,
  percentile,
  processMemory,
  ROOT,
  reportResults,
  SERVE_FLAGS,
  stopChild,
  waitForHttp,
  wrenEnv,
} from "./lib.mjs";

const REMOTE_STATUSES = Number(process.env.STATUSES ?? 100_000);
const LOCAL_STATUSES = 2_000;
const REMOTE_ACCOUNTS = 500;
const REMOTE_HOSTS = 60;
const FOLLOWED = 200;
const FOLLOWERS = 300;
const NOTIFICATIONS = 5_000;
const TAGS = 60;
const DAYS = 180;
const REQUESTS = Number(process.env.REQUESTS ?? 2_000);
const WARMUP = Number(process.env.WARMUP ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const MAX_PAGES = 5_000;
/** Targets (issue 10): home throughput against a bare server sending the same body, and one app's p99. */
const TARGET_HOME_RATIO = 0.3;
const TARGET_ALONE_P99_MS = 5;
const BARE_SERVER = fileURLToPath(new URL("./bare-hono.mjs", import.meta.url));
const DEADLINE_MS = 10 * 60_000;
const USERNAME = "bench";

// ---- Seeding ----

/** A small deterministic PRNG (mulberry32), so every run seeds the same shapes. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a of to and in is it that for on with as this was at by from be have not are but or an they " +
  "fediverse server instance federation timeline post boost reply thread mastodon sqlite node garden " +
  "coffee morning weather train photo cat dog music book release bug fix today tomorrow week weekend " +
  "really quite very pretty nice good great small large new old first last open source community"
).split(" ");

/**
 * Creates the database with everything described at the top of this file. Returns the bearer token, the
 * number of entries the home timeline must show, and counts for the report.
 */
async function seed(dir, port) {
  const started = performance.now();
  const [
    { loadConfig },
    { createContext },
    { createAccount },
    { newId },
    { openStore },
    { createLogger },
    { hashSecret, newSecret },
    { createStatus, receiveNote, receiveNoteDelete },
    { bookmark, favourite, reblog, receiveAnnounce, receiveLike },
    { follow, receiveFollow, receiveFollowAccepted },
    { findAccountByUri },
    { findStatusById },
  ] = await Promise.all([
    loadDist("config/load.js"),
    loadDist("context.js"),
    loadDist("core/account.js"),
    loadDist("store/ids.js"),
    loadDist("store/open.js"),
    loadDist("log.js"),
    loadDist("core/secrets.js"),
    loadDist("core/statuses.js"),
    loadDist("core/interactions.js"),
    loadDist("core/follows.js"),
    loadDist("store/account-lookups.js"),
    loadDist("store/statuses.js"),
  ]);
  const { config } = loadConfig({ env: wrenEnv(dir, port), cwd: dir });
  const store = openStore(config.database.path);
  const ctx = createContext(config, store, createLogger("warn"), "bench");
  const now = Date.now();
  const start = now - DAYS * 86_400_000;
  // The core stamps rows with Date.now(): during the seeding it reads the seeding's clock, so every status,
  // favourite and notification gets the time it has in the plan, not the time the bench ran (restored below).
  const realNow = Date.now;
  let clock = start - 3 * 86_400_000;
  Date.now = () => clock;
  const local = await createAccount(ctx, { username: USERNAME, password: "benchmark password" });
  const db = store.sqlite;
  const userId = db.prepare("SELECT id FROM users WHERE account_id = ?").pluck().get(local.id);
  const random = prng(20_240_601);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const chance = (p) => random() < p;

  // Every id gets a millisecond of its own, so ids are unique by construction and sort by time.
  const usedMs = new Set();
  const idAt = (ms) => {
    let t = Math.floor(ms);
    while (usedMs.has(t)) t++;
    usedMs.add(t);
    return newId(t);
  };
  const sentence = (min, max) => {
    const n = min + Math.floor(random() * (max - min));
    return Array.from({ length: n }, () => pick(WORDS)).join(" ");
  };

  // Remote accounts: FOLLOWED of them are followed, spread evenly over the activity ranks below.
  const hosts = Array.from({ length: REMOTE_HOSTS }, (_, i) => `social${i}.example`);
  const remote = Array.from({ length: REMOTE_ACCOUNTS }, (_, i) => {
    const host = hosts[i % REMOTE_HOSTS];
    const username = `user${i}`;
    const uri = `https://${host}/users/${username}`;
    return {
      index: i,
      id: idAt(start - 86_400_000 * (30 + (i % 300))),
      host,
      username,
      uri,
      followed: (i * FOLLOWED) % REMOTE_ACCOUNTS < FOLLOWED,
      follower: i >= 100 && i < 100 + FOLLOWERS,
      statuses: 0,
      lastStatusAt: null,
    };
  });
  const tags = Array.from({ length: TAGS }, (_, i) => ({
    id: idAt(start - 86_400_000 + i),
    name: `${pick(WORDS)}${i}`,
  }));

  const insertAccount = db.prepare(`INSERT INTO accounts (id, uri, username, domain, actor_type, display_name,
      note, url, inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, featured_url, avatar_url,
      header_url, fields, emojis, locked, bot, discoverable, indexable, followers_count, following_count,
      statuses_count, last_status_at, published_at, created_at, updated_at, fetched_at)
    VALUES (@id, @uri, @username, @domain, @actorType, @displayName, @note, @url, @uri || '/inbox',
      'https://' || @domain || '/inbox', @uri || '/outbox', @uri || '/followers', @uri || '/following',
      @uri || '/collections/featured', @avatarUrl, @headerUrl, @fields, @emojis, @locked, @bot, 1, 1,
      @followersCount, @followingCount, @statusesCount, @lastStatusAt, @publishedAt, @createdAt, @createdAt,
      @fetchedAt)`);
  const insertMedia = db.prepare(`INSERT INTO media_attachments (id, account_id, status_id, position, type,
      content_type, file_name, preview_file_name, file_size, remote_url, description, blurhash, meta, created_at)
    VALUES (@id, @accountId, @statusId, @position, 'image', 'image/jpeg', @fileName, @previewFileName, @fileSize,
      @remoteUrl, @description, 'LEHV6nWB2yk8pyo0adR*.7kCMdnj', @meta, @createdAt)`);

  // The statuses, oldest first: every 51st is the local account's (2,000 of 102,000).
  const total = REMOTE_STATUSES + LOCAL_STATUSES;
  const localEvery = Math.max(1, Math.round(total / LOCAL_STATUSES));
  const step = (now - 120_000 - start) / total;
  const statuses = [];
  // Indices of the statuses that can be replied to or boosted; picks come from the newest few thousand.
  const recent = [];
  const recentLocal = [];
  const fromRecent = (list, window, skew = 1) =>
    list[list.length - 1 - Math.floor(Math.min(window, list.length) * random() ** skew)];
  for (let i = 0; i < total; i++) {
    const createdAt = Math.floor(start + i * step + random() * (step / 2));
    const isLocal = i % localEvery === 0;
    // Activity is skewed: low account indices post much more than high ones.
    const author = isLocal ? null : remote[Math.floor(REMOTE_ACCOUNTS * random() ** 1.6)];
    // Only a name for its URI: the store gives the status its id when it is received or posted.
    const id = String(i);
    const s = {
      index: i,
      id,
      author,
      createdAt,
      local: isLocal,
      uri: isLocal ? ctx.urls.status(USERNAME, id) : `${author.uri}/statuses/${id}`,
      url: isLocal ? ctx.urls.statusPage(USERNAME, id) : `https://${author.host}/@${author.username}/${id}`,
      reblogOf: null,
      inReplyTo: null,
      visibility: "public",
      mentionsLocal: false,
      mentioned: [],
      tags: [],
      media: 0,
      poll: false,
      deleted: false,
      replies: 0,
      reblogs: 0,
      favourites: Math.floor(random() ** 4 * 40),
    };
    statuses.push(s);
    if (author) {
      author.statuses++;
      author.lastStatusAt = createdAt;
    }
    const kind = random();
    if (kind < (isLocal ? 0.05 : 0.08) && recent.length > 0) {
      // A boost: a public status shortly before; remote accounts sometimes boost the local account's.
      const target =
        !isLocal && recentLocal.length > 0 && chance(0.1)
          ? statuses[fromRecent(recentLocal, 200)]
          : statuses[fromRecent(recent, 5_000, 2)];
      if (target.reblogOf === null && target.visibility === "public" && !target.deleted) {
        s.reblogOf = target;
        target.reblogs++;
        // A remote boost is an Announce (no page of its own); the local account's has its own status URLs.
        if (!isLocal) {
          s.uri = `${author.uri}/statuses/${id}/activity`;
          s.url = null;
        }
        continue;
      }
    }
    if (kind < 0.28 && recent.length > 0) {
      const parent = statuses[fromRecent(recent, 5_000, 2)];
      if (parent.reblogOf === null) {
        s.inReplyTo = parent;
        parent.replies++;
      }
    }
    const v = random();
    s.visibility = v < 0.75 ? "public" : v < 0.9 ? "unlisted" : v < 0.99 ? "private" : "direct";
    if (!isLocal && chance(0.015)) s.mentionsLocal = true;
    if (s.visibility === "direct" && !isLocal) s.mentionsLocal = true;
    if (s.inReplyTo?.author && s.inReplyTo.author !== author) s.mentioned.push(s.inReplyTo.author);
    if (chance(0.1)) s.mentioned.push(pick(remote));
    s.mentioned = [...new Set(s.mentioned)].filter((a) => a !== author);
    if (chance(0.15)) {
      const n = 1 + Math.floor(random() * 3);
      s.tags = [...new Set(Array.from({ length: n }, () => pick(tags)))];
    }
    if (chance(isLocal ? 0.1 : 0.04)) s.media = 1 + Math.floor(random() ** 2 * 4);
    if (chance(0.005)) s.poll = true;
    if (!isLocal && chance(0.002)) s.deleted = true;
    if (!s.deleted && s.visibility === "public") {
      recent.push(i);
      if (isLocal) recentLocal.push(i);
    }
  }

  const html = (s) => {
    const parts = [];
    if (s.mentionsLocal) parts.push(mentionHtml(ctx.urls.actor(USERNAME), USERNAME));
    for (const a of s.mentioned) parts.push(mentionHtml(a.uri, a.username));
    parts.push(sentence(8, 60));
    if (chance(0.1))
      parts.push(`<a href="https://news.example/${s.id}" rel="nofollow noopener">news.example/${s.id}</a>`);
    const tagLinks = s.tags.map(
      (t) =>
        `<a href="${s.author ? `https://${s.author.host}` : ctx.urls.origin}/tags/${t.name}" class="mention hashtag" rel="tag">#<span>${t.name}</span></a>`,
    );
    return `<p>${parts.join(" ")}</p>${tagLinks.length ? `<p>${tagLinks.join(" ")}</p>` : ""}`;
  };

  let mediaRows = 0;
  let replies = 0;
  let boosts = 0;
  let ownFavourites = 0;
  let ownBookmarks = 0;
  let token = null;
  // The clock only moves forward, as a real one does: ids made "now" stay in order and unique.
  const at = (ms, fn) => {
    clock = Math.max(clock, Math.floor(ms));
    return fn();
  };
  // Re-read each time: the core updates counters on the row (statuses_count, last_status_at).
  const accountRow = (a) => findAccountByUri(store.db, a.uri);
  try {
    db.transaction(() => {
      // The app and token the benchmark reads with (as test/helpers/api.ts issueToken writes them).
      const appId = idAt(start - 2 * 86_400_000);
      db.prepare(`INSERT INTO oauth_apps (id, name, website, redirect_uris, scopes, client_id, client_secret_hash,
          created_at) VALUES (?, 'bench', NULL, '["urn:ietf:wg:oauth:2.0:oob"]', 'read write follow push', ?, ?, ?)`).run(
        appId,
        newSecret(),
        hashSecret(newSecret()),
        now,
      );
      token = newSecret();
      db.prepare(`INSERT INTO oauth_tokens (id, token_hash, app_id, user_id, scopes, created_at)
          VALUES (?, ?, ?, ?, 'read write follow push', ?)`).run(
        idAt(start - 2 * 86_400_000 + 1),
        hashSecret(token),
        appId,
        userId,
        now,
      );

      // Remote accounts as the resolver stores them (resolving needs their servers, which do not exist).
      for (const a of remote) {
        const createdAt = Number(BigInt(a.id) >> 16n);
        insertAccount.run({
          id: a.id,
          uri: a.uri,
          username: a.username,
          domain: a.host,
          actorType: a.index % 37 === 0 ? "Service" : "Person",
          displayName: a.index % 20 === 0 ? `${a.username} :blobcat:` : `User ${a.index}`,
          note: `<p>${sentence(5, 30)}</p>`,
          url: `https://${a.host}/@${a.username}`,
          avatarUrl: `https://${a.host}/system/accounts/avatars/${a.index}.png`,
          headerUrl: a.index % 3 === 0 ? null : `https://${a.host}/system/accounts/headers/${a.index}.png`,
          fields: JSON.stringify(
            a.index % 2 === 0
              ? [
                  {
                    name: "Website",
                    value: `<a href="https://${a.username}.example">${a.username}.example</a>`,
                  },
                  { name: "Pronouns", value: "they/them" },
                ]
              : [],
          ),
          emojis: JSON.stringify(
            a.index % 20 === 0
              ? [{ shortcode: "blobcat", url: `https://${a.host}/emoji/blobcat.png`, staticUrl: null }]
              : [],
          ),
          locked: a.index % 25 === 0 ? 1 : 0,
          bot: a.index % 37 === 0 ? 1 : 0,
          followersCount: 10 + ((a.index * 7919) % 5000),
          followingCount: 10 + ((a.index * 104729) % 800),
          statusesCount: (a.index * 31) % 3000,
          lastStatusAt: null,
          publishedAt: createdAt,
          createdAt,
          fetchedAt: now - (a.index % 7) * 86_400_000,
        });
      }
      // Follows both ways through the core: the owner's are accepted by the remote side, theirs arrive.
      for (const a of remote) {
        // Before every status, so the clock never has to go back.
        const followAt = start - 86_400_000 + a.index * 1_000;
        if (a.followed) {
          const row = at(followAt, () => follow(ctx, accountRow(a), {}));
          at(followAt + 1_000, () => receiveFollowAccepted(ctx, accountRow(a), row.uri));
        }
        if (a.follower)
          at(followAt + 3_600_000, () => receiveFollow(ctx, accountRow(a), `${a.uri}#follows/1`));
      }

      // The statuses, oldest first, as the inbox (remote) and the API (local) store them.
      for (const s of statuses) {
        const target = s.reblogOf;
        const parent = s.inReplyTo;
        if (target) {
          if (!target.stored) continue;
          s.stored = s.local
            ? at(s.createdAt, () => reblog(ctx, target.stored))
            : at(s.createdAt, () =>
                receiveAnnounce(ctx, accountRow(s.author), findStatusById(store.db, target.stored), {
                  uri: s.uri,
                  published: s.createdAt,
                  visibility: "public",
                }),
              );
          if (s.stored) boosts++;
          continue;
        }
        const inReplyTo = parent?.stored ? findStatusById(store.db, parent.stored) : null;
        if (inReplyTo) replies++;
        if (s.local) {
          const tagsText = s.tags.map((t) => `#${t.name}`).join(" ");
          s.stored = at(s.createdAt, () =>
            createStatus(ctx, {
              text: `${sentence(8, 60)} ${tagsText}`.trim(),
              visibility: s.visibility,
              inReplyToId: inReplyTo?.id ?? null,
              spoilerText: s.index % 97 === 0 ? "long post" : "",
              sensitive: s.index % 97 === 0,
              language: s.index % 10 === 0 ? "de" : "en",
              applicationId: appId,
              poll: s.poll ? { options: ["yes", "no", "maybe"], expiresIn: 86_400 } : null,
            }),
          );
          // Uploads are files of this server: the rows the media endpoint would have written.
          for (let position = 0; position < s.media; position++) {
            const id = idAt(s.createdAt - 1_000 + position);
            insertMedia.run({
              id,
              accountId: local.id,
              statusId: s.stored,
              position,
              fileName: `${id}.jpg`,
              previewFileName: `${id}-small.jpg`,
              fileSize: 180_000,
              remoteUrl: null,
              description: "a photo",
              meta: JSON.stringify({
                original: { width: 1024, height: 768, size: "1024x768", aspect: 1024 / 768 },
                small: { width: 640, height: 480, size: "640x480", aspect: 640 / 480 },
              }),
              createdAt: s.createdAt,
            });
            mediaRows++;
          }
          continue;
        }
        const mentions = s.mentioned.map((a) => a.uri);
        if (s.mentionsLocal) mentions.unshift(ctx.urls.actor(USERNAME));
        s.stored = at(s.createdAt, () =>
          receiveNote(ctx, accountRow(s.author), {
            uri: s.uri,
            type: s.poll ? "Question" : "Note",
            url: s.url,
            attributedTo: s.author.uri,
            content: html(s),
            summary: s.index % 97 === 0 ? "long post" : "",
            sensitive: s.index % 97 === 0,
            language: s.index % 10 === 0 ? "de" : "en",
            published: s.createdAt,
            updated: null,
            inReplyTo: parent?.uri ?? null,
            visibility: s.visibility,
            mentions,
            hashtags: s.tags.map((t) => t.name),
            emojis: [],
            attachments: Array.from({ length: s.media }, (_, position) => {
              const width = 1024 + (position % 2) * 256;
              return {
                url: `https://${s.author.host}/system/media_attachments/${s.index}-${position}.jpg`,
                mediaType: "image/jpeg",
                kind: "image",
                description: chance(0.6) ? "a photo" : null,
                blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
                focalPoint: null,
                width,
                height: 768,
              };
            }),
            poll: s.poll
              ? {
                  multiple: false,
                  options: ["yes", "no", "maybe"].map((title) => ({
                    title,
                    votes: Math.floor(random() * 50),
                  })),
                  endTime: s.createdAt + 86_400_000,
                  votersCount: 60,
                }
              : null,
          }),
        );
        mediaRows += s.media;
        if (s.deleted) at(s.createdAt + 1_000, () => receiveNoteDelete(ctx, accountRow(s.author), s.uri));
      }

      // Remote favourites of local statuses, until the notifications reach NOTIFICATIONS.
      const localOwn = statuses.filter(
        (s) => s.local && !s.reblogOf && s.stored && s.visibility !== "direct",
      );
      const notifications = db.prepare("SELECT count(*) FROM notifications").pluck();
      const favourites = new Set();
      let count = notifications.get();
      while (count < NOTIFICATIONS) {
        const s = pick(localOwn);
        const a = remote[Math.floor(REMOTE_ACCOUNTS * random() ** 1.3)];
        if (favourites.has(`${a.id}/${s.stored}`)) continue;
        favourites.add(`${a.id}/${s.stored}`);
        const likeAt = s.createdAt + 60_000 + Math.floor(random() * 3_600_000);
        const uri = findStatusById(store.db, s.stored).uri;
        if (at(likeAt, () => receiveLike(ctx, accountRow(a), uri, `${a.uri}#likes/${favourites.size}`)))
          count++;
      }
      // The owner's own favourites and bookmarks of what it read.
      let favourited = 0;
      let bookmarked = 0;
      for (const s of statuses) {
        if (s.local || s.reblogOf || s.deleted || !s.stored || !s.author.followed) continue;
        if (chance(0.03)) {
          at(s.createdAt + 600_000, () => favourite(ctx, s.stored));
          favourited++;
        }
        if (chance(0.004)) {
          at(s.createdAt + 700_000, () => bookmark(ctx, s.stored));
          bookmarked++;
        }
      }
      ownFavourites = favourited;
      ownBookmarks = bookmarked;
      // The owner's posts, boosts and likes queued deliveries to hosts that do not exist: none may run.
      db.prepare("DELETE FROM delivery_jobs").run();
      db.prepare("DELETE FROM outbound_activities").run();
    })();
  } finally {
    Date.now = realNow;
  }

  // What GET /api/v1/timelines/home must list, by the same rules as the query (no mutes or blocks here).
  const expectedHome = db
    .prepare(`SELECT count(*) FROM home_feed h JOIN statuses s ON s.id = h.status_id
      LEFT JOIN statuses r ON r.id = s.reblog_of_id
      WHERE s.deleted_at IS NULL AND (s.reblog_of_id IS NULL OR (r.id IS NOT NULL AND r.deleted_at IS NULL))`)
    .pluck()
    .get();
  const localRow = db
    .prepare("SELECT statuses_count, followers_count, following_count FROM accounts WHERE id = ?")
    .get(local.id);
  const countOf = (sqlText) => db.prepare(sqlText).pluck().get();
  const byType = Object.fromEntries(
    db
      .prepare("SELECT type, count(*) AS n FROM notifications GROUP BY type")
      .all()
      .map((r) => [r.type, r.n]),
  );
  const homeEntries = countOf("SELECT count(*) FROM home_feed");
  const notificationCount = countOf("SELECT count(*) FROM notifications");
  store.close();
  return {
    token,
    expectedHome,
    seedMs: performance.now() - started,
    stats: {
      statuses: total,
      boosts,
      replies,
      mediaRows,
      homeEntries,
      notifications: notificationCount,
      counts: { ...byType, localFavourites: ownFavourites, bookmarks: ownBookmarks },
      local: localRow,
    },
  };
}

function mentionHtml(uri, username) {
  return `<span class="h-card" translate="no"><a href="${uri}" class="u-url mention">@<span>${username}</span></a></span>`;
}

// ---- Load ----

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** One GET over the shared keep-alive agent; resolves when the whole body has arrived. */
function get(url, headers = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolvePromise({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * `count` requests to `url` over `connections` connections, each sending its next request when the previous
 * answer is complete. Every answer must be 200 and pass `check` (given the first body only).
 */
async function measure(url, headers, count, connections, check = () => {}) {
  const latencies = new Float64Array(count);
  let next = 0;
  let bytes = 0;
  let checked = false;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const response = await get(url, headers);
        latencies[i] = performance.now() - t0;
        if (response.status !== 200)
          throw new Error(`${url} answered ${response.status}: ${response.body.toString().slice(0, 200)}`);
        bytes += response.body.length;
        if (!checked) {
          checked = true;
          check(JSON.parse(response.body.toString()));
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return {
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies[count - 1],
    rps: count / seconds,
    bytes: bytes / count,
  };
}

/** Warm-up (not measured), then the measured run. */
async function bench(url, headers, check, connections = CONCURRENCY) {
  if (WARMUP > 0) await measure(url, headers, WARMUP, connections);
  return measure(url, headers, REQUESTS, connections, check);
}

/** The URL of a Link header's rel="next", or null. */
function nextLink(header) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(header ?? "");
  return match ? match[1] : null;
}

/**
 * Walks the whole home timeline through Link rel="next" (one connection, one request at a time) and checks
 * every page: 40 entries except the last, ids strictly decreasing across pages, no id twice.
 */
async function walkHome(origin, headers) {
  let url = `${origin}/api/v1/timelines/home?limit=40`;
  let pages = 0;
  let entries = 0;
  let previous = null;
  let short = 0;
  const latencies = [];
  while (url && pages < MAX_PAGES) {
    const t0 = performance.now();
    const response = await get(url, headers);
    latencies.push(performance.now() - t0);
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    const page = JSON.parse(response.body.toString());
    if (page.length === 0) break;
    pages++;
    if (page.length < 40) short++;
    for (const status of page) {
      const id = BigInt(status.id);
      if (previous !== null && id >= previous)
        throw new Error(`home page ${pages}: id ${status.id} is not older than the one before it`);
      previous = id;
      entries++;
    }
    url = nextLink(response.headers.link);
  }
  latencies.sort((a, b) => a - b);
  return {
    pages,
    entries,
    short,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    hitCap: pages >= MAX_PAGES,
  };
}

const expectStatuses = (body) => {
  if (!Array.isArray(body) || body.length !== 40)
    throw new Error(`expected 40 statuses, got ${JSON.stringify(body).slice(0, 200)}`);
  for (const key of ["id", "account", "content", "media_attachments", "mentions", "tags", "favourited"])
    if (!(key in body[0])) throw new Error(`a status has no ${key}`);
};
const expectNotifications = (body) => {
  if (!Array.isArray(body) || body.length !== 40)
    throw new Error(`expected 40 notifications, got ${JSON.stringify(body).slice(0, 200)}`);
  if (!body.every((n) => n.account && "status" in n))
    throw new Error("a notification has no account or status key");
};

// ---- Processes ----

const children = new Set();
let tempDir = null;

/** Spawns node with the production flags; stdout is dropped, stderr shown. */
function spawnNode(args, options) {
  const child = spawn(process.execPath, [...SERVE_FLAGS, ...args], {
    stdio: ["ignore", "ignore", "inherit"],
    ...options,
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Last resort on every exit path: no child left running, no temporary files left behind. */
function cleanUp() {
  for (const child of children) child.kill("SIGKILL");
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  tempDir = null;
}

const ms = (n) => `${n.toFixed(n < 10 ? 2 : 1)} ms`.padStart(10);
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
const int = (n) => n.toLocaleString("en-US");

async function main() {
  if (!existsSync(join(ROOT, "dist/cli/main.js")))
    throw new Error("dist/ is missing; run `npm run build` first");
  if (!existsSync("/proc/self/status"))
    throw new Error("/proc is not available; this benchmark runs on Linux only");
  console.log(
    `Wren API benchmark (node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} CPUs)`,
  );
  console.log(`  load average at start: ${load()}`);

  const kept = process.env.SEEDED ? resolve(process.env.SEEDED) : null;
  const keptFile = kept && join(kept, "seeded.json");
  let seeded = keptFile && existsSync(keptFile) ? JSON.parse(readFileSync(keptFile, "utf8")) : null;
  const dir = kept ?? mkdtempSync(join(tmpdir(), "wren-bench-api-"));
  if (!kept) tempDir = dir;
  // A kept database names its server by the port it was seeded for, so it is served there again.
  const port = seeded?.port ?? (await freePort());
  let barePort = await freePort();
  while (barePort === port) barePort = await freePort();
  const origin = `http://127.0.0.1:${port}`;

  if (!seeded) {
    mkdirSync(dir, { recursive: true });
    seeded = { ...(await seed(dir, port)), port };
    if (keptFile) writeFileSync(keptFile, JSON.stringify(seeded));
  }
  const { stats } = seeded;
  const dbBytes = ["wren.db", "wren.db-wal"].reduce((sum, name) => {
    const path = join(dir, name);
    return sum + (existsSync(path) ? statSync(path).size : 0);
  }, 0);
  console.log(
    `  seeded in ${(seeded.seedMs / 1000).toFixed(1)} s (database ${(dbBytes / 1024 / 1024).toFixed(0)} MB): ` +
      `${int(stats.statuses)} statuses (${int(REMOTE_STATUSES)} by ${REMOTE_ACCOUNTS} remote accounts, ${int(LOCAL_STATUSES)} local; ` +
      `${int(stats.boosts)} boosts, ${int(stats.replies)} replies, ${int(stats.mediaRows)} media)`,
  );
  console.log(
    `  home_feed ${int(stats.homeEntries)} rows; notifications ${int(stats.notifications)} ` +
      `(mention ${stats.counts.mention}, favourite ${stats.counts.favourite}, reblog ${stats.counts.reblog}, follow ${stats.counts.follow}); ` +
      `local account: ${int(stats.local.statuses_count)} statuses, ${stats.local.followers_count} followers, ${stats.local.following_count} following, ` +
      `${int(stats.counts.localFavourites)} favourites, ${stats.counts.bookmarks} bookmarks`,
  );

  const server = spawnNode([BIN, "serve"], {
    cwd: dir,
    env: wrenEnv(dir, port),
  });
  const startupMs = await waitForHttp(`${origin}/.well-known/nodeinfo`, server);
  const auth = { authorization: `Bearer ${seeded.token}` };
  const homeUrl = `${origin}/api/v1/timelines/home?limit=40`;
  // The baseline serves the very body Wren answers for the home timeline, so both send the same bytes.
  const homeBody = await (await fetch(homeUrl, { headers: auth })).arrayBuffer();
  const bodyFile = join(dir, "home.json");
  writeFileSync(bodyFile, Buffer.from(homeBody));
  const bareServer = spawnNode([BARE_SERVER, String(barePort), bodyFile], { cwd: ROOT });
  await waitForHttp(`http://127.0.0.1:${barePort}/`, bareServer);
  const idle = processMemory(server.pid);
  console.log(`  wren serve answered after ${startupMs} ms; RSS then ${idle.rss.toFixed(1)} MB`);
  console.log(
    `  ${int(REQUESTS)} requests per row after ${WARMUP} warm-up, over ${CONCURRENCY} keep-alive connections ` +
      "unless said otherwise; latency to the last byte of the body",
  );

  const bare = await bench(`http://127.0.0.1:${barePort}/body`, {}, expectStatuses);
  const home = await bench(homeUrl, auth, expectStatuses);
  const notifications = await bench(`${origin}/api/v1/notifications`, auth, expectNotifications);
  // One request at a time: the latency of one app's request, and the server's time per request.
  const homeAlone = await bench(homeUrl, auth, expectStatuses, 1);
  const walk = await walkHome(origin, auth);
  const memory = processMemory(server.pid);

  const rows = [
    ["bare Hono, the same body (GET /body)", bare],
    ["GET /api/v1/timelines/home?limit=40", home],
    ["GET /api/v1/notifications", notifications],
    ["  home, 1 connection", homeAlone],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const columns = ["p50", "p90", "p99", "max"].map((h) => h.padStart(10)).join("");
  console.log();
  console.log(`  ${"".padEnd(width)}  ${columns}${"req/s".padStart(10)}${"bytes".padStart(9)}`);
  for (const [label, r] of rows) {
    const figures = `${ms(r.p50)}${ms(r.p90)}${ms(r.p99)}${ms(r.max)}`;
    console.log(
      `  ${label.padEnd(width)}  ${figures}${r.rps.toFixed(0).padStart(10)}${r.bytes.toFixed(0).padStart(9)}`,
    );
  }
  console.log();
  const ratio = (r) => `${(r.rps / bare.rps).toFixed(3)} (1/${(bare.rps / r.rps).toFixed(0)})`;
  console.log(
    `  throughput relative to bare Hono: home ${ratio(home)}, notifications ${ratio(notifications)}`,
  );
  const walkOk = walk.entries === seeded.expectedHome && walk.short <= 1 && !walk.hitCap;
  console.log(
    `  home via Link rel="next": ${int(walk.pages)} pages, ${int(walk.entries)} statuses (expected ${int(seeded.expectedHome)}), ` +
      `newest first, none twice: ${walkOk ? "ok" : "MISMATCH"}; per page p50 ${walk.p50.toFixed(2)} ms, p99 ${walk.p99.toFixed(2)} ms`,
  );
  console.log(
    `  wren serve RSS at the end ${memory.rss.toFixed(1)} MB (private ${memory.anon.toFixed(1)} MB), peak (VmHWM) ${memory.peak.toFixed(1)} MB`,
  );
  console.log(`  load average at the end: ${load()}`);

  const stopped = await stopChild(server);
  await stopChild(bareServer);
  if (stopped !== 0) throw new Error(`wren serve exited with ${stopped ?? "SIGKILL"} on SIGTERM`);

  const homeRatio = home.rps / bare.rps;
  reportResults("api", [
    {
      metric: `home timeline (40) req/s, ${CONCURRENCY} connections`,
      wren: home.rps,
      baseline: bare.rps,
      unit: "/s",
      ratio: homeRatio,
      target: `>= ${TARGET_HOME_RATIO}x`,
      ok: homeRatio >= TARGET_HOME_RATIO,
    },
    {
      metric: "home timeline p99, 1 connection",
      wren: homeAlone.p99,
      baseline: null,
      unit: "ms",
      ratio: null,
      target: `<= ${TARGET_ALONE_P99_MS} ms`,
      ok: homeAlone.p99 <= TARGET_ALONE_P99_MS,
    },
  ]);
  const ok = homeRatio >= TARGET_HOME_RATIO && homeAlone.p99 <= TARGET_ALONE_P99_MS;
  console.log(
    `  home ${homeRatio.toFixed(2)}x the baseline (target >= ${TARGET_HOME_RATIO}x), p99 over one connection ` +
      `${homeAlone.p99.toFixed(2)} ms (target <= ${TARGET_ALONE_P99_MS} ms): ${ok ? "within target" : "OUTSIDE TARGET"}`,
  );
  return ok && walkOk ? 0 : 1;
}

{
  process.once("exit", cleanUp);
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${DEADLINE_MS / 60_000} minutes; giving up`);
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  }
  agent.destroy();
  process.exit(code);
}
