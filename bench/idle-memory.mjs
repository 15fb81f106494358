// Memory and start-up of a running Wren against a bare Hono server, in one run.
//
//   npm run bench:idle-memory        (builds dist/ first)
//
// Options (environment): SETTLE_S (30), MIXED (1000 requests), STARTS (3). Linux only (reads /proc).
//
// Both run as production runs Wren (`node --max-semi-space-size=2`): Wren is `bin/wren.js serve` on a fresh
// database with the account alice and an app token; the baseline is bench/bare-hono.mjs.
// 1. Start-up: each is started STARTS times, interleaved, timed from spawn to its first 200; medians compared.
// 2. Idle: both are started together and left alone SETTLE_S seconds; then their resident memory (VmRSS).
// 3. After a mixed load: MIXED requests to Wren, as an owner and the fediverse use it: posts (10 %), image
//    uploads (5 %), home timelines (40 %), signed Creates to the inbox from 4 remote actors (25 %) and
//    WebFinger + actor lookups (20 %); the baseline gets as many requests (GETs and POSTs of the same bodies).
//    Both are left alone SETTLE_S / 3 seconds again, then their RSS.
// Wren's memory is that of its process and every process it started (image processing runs in a child).
// Targets: idle RSS <= 1.20x the baseline, after the load <= 1.30x, start-up <= 1.3x. Exits non-zero outside.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BIN,
  freePort,
  loadDist,
  processMemory,
  reportResults,
  SERVE_FLAGS,
  signedMention,
  sleep,
  startActors,
  stopChild,
  waitForHttp,
  wrenEnv,
} from "./lib.mjs";

const SETTLE_MS = Number(process.env.SETTLE_S ?? 30) * 1000;
const MIXED = Number(process.env.MIXED ?? 1000);
const STARTS = Number(process.env.STARTS ?? 3);
const TARGETS = { idle: 1.2, loaded: 1.3, startup: 1.3 };
const BARE_SERVER = fileURLToPath(new URL("./bare-hono.mjs", import.meta.url));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The database with alice and a token for an app, written before Wren starts. */
async function seed(env) {
  const [
    { loadConfig },
    { createContext },
    { createAccount },
    { registerApp, passwordGrant },
    { openStore },
    { createLogger },
    { findLocalUser },
  ] = await Promise.all([
    loadDist("config/load.js"),
    loadDist("context.js"),
    loadDist("core/account.js"),
    loadDist("core/oauth.js"),
    loadDist("store/open.js"),
    loadDist("log.js"),
    loadDist("store/accounts.js"),
  ]);
  const { config } = loadConfig({ env });
  const store = openStore(config.database.path);
  const ctx = createContext(config, store, createLogger("warn"), "bench");
  await createAccount(ctx, { username: "alice", password: "correct horse battery" });
  const { app } = registerApp(ctx, {
    name: "bench",
    redirectUris: ["urn:ietf:wg:oauth:2.0:oob"],
    scopes: ["read", "write"],
    website: undefined,
  });
  const { accessToken } = passwordGrant(ctx, app, findLocalUser(store.db).user, "read write");
  store.close();
  return accessToken;
}

function startWren(env) {
  return spawn(process.execPath, [...SERVE_FLAGS, BIN, "serve"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

function startBare(port) {
  return spawn(process.execPath, [...SERVE_FLAGS, BARE_SERVER, String(port)], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function expectStatus(response, status, what) {
  const text = await response.text();
  if (response.status !== status)
    throw new Error(`${what} answered ${response.status}: ${text.slice(0, 200)}`);
}

/** The mixed load on Wren: posts, uploads, home timelines, signed Creates and identity lookups. */
async function mixedLoad(origin, token, actors, png) {
  const auth = { authorization: `Bearer ${token}` };
  const aliceUri = `${origin}/users/alice`;
  const host = new URL(origin).host;
  for (let i = 0; i < MIXED; i++) {
    const slot = i % 20;
    if (slot < 2) {
      const res = await fetch(`${origin}/api/v1/statuses`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ status: `Mixed load post ${i} #bench` }),
      });
      await expectStatus(res, 200, "a post");
    } else if (slot < 3) {
      const form = new FormData();
      form.append("file", new Blob([png], { type: "image/png" }), "image.png");
      form.append("description", "a blue square");
      const res = await fetch(`${origin}/api/v2/media`, { method: "POST", headers: auth, body: form });
      const text = await res.text();
      if (res.status !== 200 && res.status !== 202)
        throw new Error(`an upload answered ${res.status}: ${text}`);
    } else if (slot < 11) {
      await expectStatus(
        await fetch(`${origin}/api/v1/timelines/home?limit=40`, { headers: auth }),
        200,
        "home",
      );
    } else if (slot < 16) {
      const { headers, body } = await signedMention(actors, i % 4, i, `${origin}/inbox`, aliceUri);
      await expectStatus(await fetch(`${origin}/inbox`, { method: "POST", headers, body }), 202, "the inbox");
    } else if (slot < 18) {
      const resource = encodeURIComponent(`acct:alice@${host}`);
      await expectStatus(
        await fetch(`${origin}/.well-known/webfinger?resource=${resource}`),
        200,
        "webfinger",
      );
    } else {
      const res = await fetch(aliceUri, { headers: { accept: "application/activity+json" } });
      await expectStatus(res, 200, "the actor");
    }
  }
}

/** As many requests to the baseline: GETs, and POSTs of a like size. */
async function bareLoad(origin, png) {
  for (let i = 0; i < MIXED; i++) {
    const slot = i % 20;
    if (slot < 3 || (slot >= 11 && slot < 16)) {
      const body = slot < 2 ? "x".repeat(100) : slot < 3 ? png : "y".repeat(700);
      await expectStatus(await fetch(`${origin}/inbox`, { method: "POST", body }), 202, "bare POST");
    } else await expectStatus(await fetch(`${origin}/`), 200, "bare GET");
  }
}

async function main() {
  const sharp = (await import("sharp")).default;
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#3399cc" } })
    .png()
    .toBuffer();
  const dir = mkdtempSync(join(tmpdir(), "wren-bench-memory-"));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env = wrenEnv(dir, port, { WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "true" });
  const children = [];
  let actors = null;
  let failed = false;
  try {
    const token = await seed(env);

    // 1. Start-up, interleaved.
    const startup = { wren: [], bare: [] };
    for (let i = 0; i < STARTS; i++) {
      const barePort = await freePort();
      const bare = startBare(barePort);
      startup.bare.push(await waitForHttp(`http://127.0.0.1:${barePort}/`, bare, 30_000, 5));
      await stopChild(bare);
      const wren = startWren(env);
      startup.wren.push(await waitForHttp(`${origin}/.well-known/nodeinfo`, wren, 30_000, 5));
      await stopChild(wren);
    }

    // 2. Idle.
    const barePort = await freePort();
    const bare = startBare(barePort);
    const wren = startWren(env);
    children.push(bare, wren);
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${barePort}/`, bare),
      waitForHttp(`${origin}/.well-known/nodeinfo`, wren),
    ]);
    await sleep(SETTLE_MS);
    const idle = { wren: processMemory(wren.pid), bare: processMemory(bare.pid) };

    // 3. After a mixed load.
    actors = await startActors(4);
    const loadStarted = performance.now();
    await mixedLoad(origin, token, actors, png);
    const loadMs = performance.now() - loadStarted;
    await bareLoad(`http://127.0.0.1:${barePort}`, png);
    await sleep(SETTLE_MS / 3);
    const loaded = { wren: processMemory(wren.pid), bare: processMemory(bare.pid) };

    const rows = [
      ["start to first answer (median)", median(startup.wren), median(startup.bare), TARGETS.startup, "ms"],
      [`RSS idle, ${SETTLE_MS / 1000} s after start`, idle.wren.rss, idle.bare.rss, TARGETS.idle, "MB"],
      [`RSS after ${MIXED} mixed requests`, loaded.wren.rss, loaded.bare.rss, TARGETS.loaded, "MB"],
    ];
    console.log(
      `Wren memory and start-up against bare Hono (node ${process.version}, ${process.platform}/${process.arch})`,
    );
    console.log(`${"".padEnd(36)} ${"Wren".padStart(9)} ${"bare".padStart(9)}  ratio  target`);
    for (const [label, w, b, target, unit] of rows) {
      const ratio = w / b;
      const ok = ratio <= target;
      if (!ok) failed = true;
      console.log(
        `${label.padEnd(36)} ${`${w.toFixed(1)} ${unit}`.padStart(9)} ${`${b.toFixed(1)} ${unit}`.padStart(9)}  ` +
          `${ratio.toFixed(2).padStart(5)}  <= ${target} ${ok ? "ok" : "OUTSIDE"}`,
      );
    }
    reportResults(
      "idle-memory",
      rows.map(([metric, w, b, target, unit]) => ({
        metric,
        wren: w,
        baseline: b,
        unit,
        ratio: w / b,
        target: `<= ${target}x`,
        ok: w / b <= target,
      })),
    );
    console.log(
      `  Wren after the load: private ${loaded.wren.anon.toFixed(1)} MB, file-backed ${loaded.wren.file.toFixed(1)} MB, ` +
        `peak ${loaded.wren.peak.toFixed(1)} MB, ${loaded.wren.processes} process(es); ` +
        `the mixed load took ${(loadMs / 1000).toFixed(1)} s`,
    );
    const code = await stopChild(wren);
    if (code !== 0) throw new Error(`wren serve exited with ${code} on SIGTERM`);
  } catch (error) {
    console.error("FAIL:", error);
    failed = true;
  } finally {
    for (const child of children) await stopChild(child);
    if (actors) await actors.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed) {
    console.error("FAIL: outside the memory or start-up targets");
    process.exit(1);
  }
  console.log("OK");
}

await main();
