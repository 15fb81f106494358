// Fan-out benchmark: one post delivered to every follower's server, against a bare signer-poster in the same run.
//
//   npm run bench:fanout          (builds dist/ first)
//
// Options (environment): FOLLOWERS (10000), HOSTS (1000), RUNS (3), TIMEOUT_S (120 per run), SCENARIOS
// ("personal,shared"; a run of only some of them is for profiling and always exits non-zero); any WREN_* key,
// e.g. WREN_FEDERATION_DELIVERY_CONCURRENCY=16 (the baseline gets the same limits).
// Needs about HOSTS + 100 open files (ulimit -n).
//
// Two scenarios, each on its own database made by a short-lived setup child (account alice, an app token,
// FOLLOWERS remote followers spread over HOSTS hosts):
// - personal: every follower has only a personal inbox, so one POST per follower (FOLLOWERS POSTs);
// - shared: the followers of a host share its inbox, so one POST per host (HOSTS POSTs).
// Processes: the peers (a child listening on HOSTS ports of 127.0.0.1, each port a host) check every request
// with node:crypto alone (the Digest, then the draft-cavage rsa-sha256 signature over the headers it names,
// with the public key they were given) and answer 202, or 401 when a check fails; Wren runs as production
// runs it (`node --max-semi-space-size=2 bin/wren.js serve`, a child) and is sent the post through
// POST /api/v1/statuses; the baseline (bench/bare-poster.mjs, same flags) signs and POSTs the same number of
// requests to the same inboxes with Wren's concurrency limits and nothing else.
// Each scenario runs RUNS times, baseline and Wren interleaved; the medians are compared. Time: from sending
// the post (or the go) until the peers hold every request, verified. Also printed: Wren's CPU time over that
// span and its peak RSS.
// Targets: personal <= 1.5x the baseline, shared <= 1.3x, no failed verification, every run within TIMEOUT_S.
// Exits non-zero when outside.
import { fork, spawn } from "node:child_process";
import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BIN,
  cpuMs,
  freePort,
  loadDist,
  processMemory,
  reportResults,
  SERVE_FLAGS,
  stopChild,
  waitForHttp,
  wrenEnv,
} from "./lib.mjs";

const FOLLOWERS = Number(process.env.FOLLOWERS ?? 10_000);
const HOSTS = Number(process.env.HOSTS ?? 1_000);
const RUNS = Number(process.env.RUNS ?? 3);
const TIMEOUT_MS = Number(process.env.TIMEOUT_S ?? 120) * 1000;
const SCENARIOS = (process.env.SCENARIOS ?? "personal,shared").split(",");
const TARGETS = { personal: 1.5, shared: 1.3 };
const SELF = fileURLToPath(import.meta.url);
const BARE_POSTER = fileURLToPath(new URL("./bare-poster.mjs", import.meta.url));
const AS = "https://www.w3.org/ns/activitystreams";

/** Starts a child; `next(type)` waits for its next message of that type (failing if it exits first). */
function child(proc, name) {
  const next = (type, timeoutMs = TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name}: no ${type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const onMessage = (message) => {
        if (message.type !== type) return;
        cleanup();
        resolve(message);
      };
      const onExit = (code) => {
        cleanup();
        reject(new Error(`${name} exited (${code}) before sending ${type}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        proc.off("message", onMessage);
        proc.off("exit", onExit);
      };
      proc.on("message", onMessage);
      proc.once("exit", onExit);
    });
  return { proc, next };
}

const forkSelf = (role, args, name) =>
  child(fork(SELF, [role, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] }), name);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const [{ loadConfig }, { generateRsaKeyPair }] = await Promise.all([
    loadDist("config/load.js"),
    loadDist("federation/keys.js"),
  ]);
  const peers = forkSelf("--peers", [String(HOSTS)], "peers");
  const { ports } = await peers.next("listening");
  const baselineKey = generateRsaKeyPair();
  const results = [];
  let failed = false;
  try {
    for (const scenario of SCENARIOS) {
      if (!(scenario in TARGETS)) throw new Error(`unknown scenario ${scenario}`);
      const dir = mkdtempSync(join(tmpdir(), `wren-bench-fanout-${scenario}-`));
      const port = await freePort();
      const env = wrenEnv(dir, port, { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "true" });
      const { config } = loadConfig({ env });
      const limits = {
        concurrency: config.federation.delivery_concurrency,
        perHost: config.federation.delivery_per_host,
      };
      let wren = null;
      try {
        const setup = forkSelf("--setup", [dir, String(port), scenario, JSON.stringify(ports)], "setup");
        const seeded = await setup.next("ready");
        const expected = seeded.inboxes.length;
        wren = spawn(process.execPath, [...SERVE_FLAGS, BIN, "serve"], {
          env,
          stdio: ["ignore", "inherit", "inherit"],
        });
        const origin = `http://127.0.0.1:${port}`;
        await waitForHttp(`${origin}/.well-known/nodeinfo`, wren);
        const bare = child(
          spawn(process.execPath, [...SERVE_FLAGS, BARE_POSTER], {
            stdio: ["ignore", "inherit", "inherit", "ipc"],
          }),
          "bare poster",
        );
        await bare.next("ready");
        const body = JSON.stringify(sampleActivity(origin));
        const times = { bare: [], wren: [] };
        const wrenCpu = [];
        for (let run = 1; run <= RUNS; run++) {
          // The baseline.
          peers.proc.send({
            type: "expect",
            count: expected,
            keyId: "bare#key",
            publicPem: baselineKey.publicPem,
          });
          await peers.next("armed");
          let t0 = performance.now();
          bare.proc.send({
            type: "go",
            inboxes: seeded.inboxes,
            body,
            privatePem: baselineKey.privatePem,
            keyId: "bare#key",
            ...limits,
          });
          let done = await peers.next("done");
          times.bare.push(performance.now() - t0);
          await bare.next("sent");
          if (done.failures > 0)
            throw new Error(`the baseline's requests failed verification: ${done.lastError}`);

          // Wren.
          peers.proc.send({
            type: "expect",
            count: expected,
            keyId: seeded.keyId,
            publicPem: seeded.publicPem,
          });
          await peers.next("armed");
          const cpu0 = cpuMs(wren.pid);
          t0 = performance.now();
          const posted = await fetch(`${origin}/api/v1/statuses`, {
            method: "POST",
            headers: { authorization: `Bearer ${seeded.token}`, "content-type": "application/json" },
            body: JSON.stringify({ status: `Hello, fediverse! Run ${run} #bench` }),
          });
          if (posted.status !== 200)
            throw new Error(`posting answered ${posted.status}: ${await posted.text()}`);
          done = await peers.next("done");
          times.wren.push(performance.now() - t0);
          wrenCpu.push(cpuMs(wren.pid) - cpu0);
          if (done.failures > 0) throw new Error(`Wren's requests failed verification: ${done.lastError}`);
          if (done.requests !== expected)
            throw new Error(`the peers got ${done.requests} requests for ${expected} inboxes`);
        }
        const peak = processMemory(wren.pid).peak;
        const ratio = median(times.wren) / median(times.bare);
        results.push({
          scenario,
          requests: expected,
          bare: median(times.bare),
          wren: median(times.wren),
          ratio,
          target: TARGETS[scenario],
          cpuPerRequest: median(wrenCpu) / expected,
          peak,
        });
        bare.proc.kill();
      } finally {
        if (wren) await stopChild(wren);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } catch (error) {
    console.error(`FAIL: ${error.message}`);
    failed = true;
  } finally {
    peers.proc.kill();
  }

  console.log(`fan-out of one post: ${FOLLOWERS} followers on ${HOSTS} hosts, median of ${RUNS} runs`);
  console.log("scenario  POSTs   bare poster  Wren      ratio  target  Wren CPU/POST  Wren peak RSS");
  for (const r of results) {
    const ok = r.ratio <= r.target;
    if (!ok) failed = true;
    console.log(
      `${r.scenario.padEnd(9)} ${String(r.requests).padEnd(7)} ${(r.bare / 1000).toFixed(2).padStart(6)} s    ` +
        `${(r.wren / 1000).toFixed(2).padStart(6)} s  ${r.ratio.toFixed(2).padStart(5)}  <= ${r.target}  ` +
        `${r.cpuPerRequest.toFixed(2).padStart(6)} ms      ${r.peak.toFixed(1)} MB  ${ok ? "ok" : "OUTSIDE"}`,
    );
  }
  reportResults(
    "fanout",
    results.map((r) => ({
      metric: `one post to ${r.requests} ${r.scenario} inboxes`,
      wren: r.wren / 1000,
      baseline: r.bare / 1000,
      unit: "s",
      ratio: r.ratio,
      target: `<= ${r.target}x`,
      ok: r.ratio <= r.target,
    })),
  );
  if (failed || results.length < SCENARIOS.length) {
    console.error("FAIL: outside the fan-out targets");
    process.exit(1);
  }
  console.log("OK");
  process.exit(0);
}

/** A Create(Note) of the size Wren sends, for the baseline. */
function sampleActivity(origin) {
  const actor = `${origin}/users/alice`;
  const note = `${actor}/statuses/1`;
  return {
    "@context": [AS, { Hashtag: "as:Hashtag", sensitive: "as:sensitive" }],
    id: `${note}/activity`,
    type: "Create",
    actor,
    published: new Date().toISOString(),
    to: [`${AS}#Public`],
    cc: [`${actor}/followers`],
    object: {
      id: note,
      type: "Note",
      attributedTo: actor,
      content:
        '<p>Hello, fediverse! <a href="#" class="mention hashtag" rel="tag">#<span>bench</span></a></p>',
      url: `${origin}/@alice/1`,
      published: new Date().toISOString(),
      to: [`${AS}#Public`],
      cc: [`${actor}/followers`],
      sensitive: false,
      tag: [{ type: "Hashtag", href: `${origin}/tags/bench`, name: "#bench" }],
      attachment: [],
      replies: { id: `${note}/replies`, type: "Collection", totalItems: 0 },
    },
  };
}

/**
 * The setup child: the database with alice, an app token and FOLLOWERS followers on the peers' ports, with
 * personal inboxes only or a shared inbox per host. Sends the token, alice's key and the inbox list.
 */
async function setup(dir, port, scenario, ports) {
  const [
    { loadConfig },
    { createContext },
    { createAccount },
    { registerApp, passwordGrant },
    schema,
    { newId },
    { openStore, transaction },
    { createLogger },
    { findKeyPairs, findLocalUser },
  ] = await Promise.all([
    loadDist("config/load.js"),
    loadDist("context.js"),
    loadDist("core/account.js"),
    loadDist("core/oauth.js"),
    loadDist("store/schema.js"),
    loadDist("store/ids.js"),
    loadDist("store/open.js"),
    loadDist("log.js"),
    loadDist("store/accounts.js"),
  ]);
  const { config } = loadConfig({
    env: wrenEnv(dir, port, { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "true" }),
  });
  const store = openStore(config.database.path);
  const ctx = createContext(config, store, createLogger("warn"), "bench");
  const account = await createAccount(ctx, { username: "alice", password: "correct horse battery" });
  const { app } = registerApp(ctx, {
    name: "bench",
    redirectUris: ["urn:ietf:wg:oauth:2.0:oob"],
    scopes: ["read", "write"],
    website: undefined,
  });
  const { user } = findLocalUser(store.db);
  const { accessToken } = passwordGrant(ctx, app, user, "read write");
  const { accounts, follows } = schema;
  const now = Date.now();
  const inboxes = new Set();
  transaction(store, () => {
    const BATCH = 500;
    for (let start = 0; start < FOLLOWERS; start += BATCH) {
      const rows = [];
      const followRows = [];
      for (let i = start; i < Math.min(start + BATCH, FOLLOWERS); i++) {
        const host = `127.0.0.1:${ports[i % ports.length]}`;
        const id = newId(now);
        const inboxUrl = `http://${host}/users/u${i}/inbox`;
        const sharedInboxUrl = scenario === "shared" ? `http://${host}/inbox` : null;
        inboxes.add(sharedInboxUrl ?? inboxUrl);
        rows.push({
          id,
          uri: `http://${host}/users/u${i}`,
          username: `u${i}`,
          domain: host,
          inboxUrl,
          sharedInboxUrl,
          createdAt: now,
          updatedAt: now,
        });
        followRows.push({
          id: newId(now),
          followerId: id,
          followingId: account.id,
          state: "accepted",
          createdAt: now,
        });
      }
      store.db.insert(accounts).values(rows).run();
      store.db.insert(follows).values(followRows).run();
    }
  });
  const publicPem = findKeyPairs(store.db, account.id).rsa.publicKey;
  const keyId = ctx.urls.mainKey("alice");
  store.close();
  // Disconnect only once the message is out: a large inbox list may still be in the pipe otherwise, and the
  // parent would see the exit first.
  process.send({ type: "ready", token: accessToken, keyId, publicPem, inboxes: [...inboxes] }, () =>
    process.disconnect(),
  );
}

/**
 * The peers: `count` HTTP servers on 127.0.0.1, each a host. Every POST is checked with node:crypto only:
 * the Digest header against the body, then the draft-cavage signature over the headers it lists, with the
 * key of the current round ("expect"). "done" when the round's count of requests has arrived.
 */
async function peersRole(count) {
  let round = null;
  const servers = [];
  const check = (req, body) => {
    const digest = req.headers.digest ?? "";
    if (digest !== `SHA-256=${createHash("sha256").update(body).digest("base64")}`) return "digest mismatch";
    const params = Object.fromEntries(
      [...(req.headers.signature ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (params.keyId !== round.keyId) return `unknown keyId ${params.keyId}`;
    const names = (params.headers ?? "date").split(" ");
    if (!["(request-target)", "host", "date", "digest"].every((n) => names.includes(n)))
      return `signed headers ${params.headers} miss one of (request-target) host date digest`;
    const lines = names.map((name) =>
      name === "(request-target)"
        ? `(request-target): ${req.method.toLowerCase()} ${req.url}`
        : `${name}: ${req.headers[name] ?? ""}`,
    );
    const ok = verify(
      "sha256",
      Buffer.from(lines.join("\n")),
      round.key,
      Buffer.from(params.signature ?? "", "base64"),
    );
    return ok ? null : "bad signature";
  };
  for (let i = 0; i < count; i++) {
    const server = createServer((req, res) => {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => {
        if (!round) {
          res.writeHead(503).end();
          return;
        }
        round.requests++;
        const error = check(req, Buffer.concat(chunks));
        if (error) {
          round.failures++;
          round.lastError = error;
        }
        res.writeHead(error ? 401 : 202).end();
        if (round.requests === round.count) {
          const { requests, failures, lastError } = round;
          process.send({ type: "done", requests, failures, lastError });
        }
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    servers.push(server);
  }
  process.on("message", (message) => {
    if (message.type !== "expect") return;
    round = {
      count: message.count,
      keyId: message.keyId,
      key: createPublicKey(message.publicPem),
      requests: 0,
      failures: 0,
      lastError: null,
    };
    process.send({ type: "armed" });
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "listening", ports: servers.map((s) => s.address().port) });
}

if (process.argv[2] === "--peers") await peersRole(Number(process.argv[3]));
else if (process.argv[2] === "--setup")
  await setup(process.argv[3], Number(process.argv[4]), process.argv[5], JSON.parse(process.argv[6]));
else await main();
