// Fan-out benchmark: one post to 10,000 followers spread over 1,000 servers.
//
//   npm run build && node bench/fanout.mjs
//   npm run build && taskset -c 0 node bench/fanout.mjs      # everything on one core
//
// Options (environment): FOLLOWERS (10000), HOSTS (1000); any WREN_* key, e.g.
// WREN_FEDERATION_DELIVERY_CONCURRENCY=16. Needs about HOSTS + 100 open files (ulimit -n).
//
// Three processes:
// - peers: a child listening on HOSTS ports of 127.0.0.1, each port a separate host with a shared inbox; it
//   verifies every request's HTTP signature with alice's public key and answers 202 (401 if it fails);
// - setup: a short-lived child that creates the temporary database, the account "alice" (its scrypt hash
//   and key generation would otherwise weigh on the measured memory) and the followers, inserted directly;
// - Wren: this process, from the compiled dist/ — a real server (HTTP listener, delivery worker, upkeep)
//   started on that database. The post goes through createStatus, as an app's POST /api/v1/statuses would.
// Printed: the time from the post until every host holds the activity (verified) and until every job is
// marked done, and Wren's peak RSS (VmHWM of this process). Target: under 10 s and under 150 MB on one core.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, processMemory } from "./lib.mjs";

const FOLLOWERS = Number(process.env.FOLLOWERS ?? 10_000);
const HOSTS = Number(process.env.HOSTS ?? 1_000);

const mb = (n) => `${n.toFixed(1)} MB`;

const dist = new URL("../dist/", import.meta.url);
const load = (path) => import(new URL(path, dist).href);

/** Starts this file as a child in the given role; `next(type)` waits for its next message of that type. */
function child(role, args) {
  const proc = fork(new URL(import.meta.url).pathname, [role, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      const onMessage = (message) => {
        if (message.type !== type) return;
        proc.off("message", onMessage);
        proc.off("exit", onExit);
        resolve(message);
      };
      const onExit = (code) => reject(new Error(`${role} exited (${code}) before sending ${type}`));
      proc.on("message", onMessage);
      proc.once("exit", onExit);
    });
  return { proc, next };
}

function wrenEnv(dir, port) {
  return {
    ...process.env,
    WREN_SERVER_DOMAIN: `127.0.0.1:${port}`,
    WREN_SERVER_PROTOCOL: "http",
    WREN_SERVER_LISTEN_HOST: "127.0.0.1",
    WREN_SERVER_LISTEN_PORT: String(port),
    WREN_DATABASE_PATH: join(dir, "wren.db"),
    WREN_MEDIA_PATH: join(dir, "media"),
    WREN_LOG_LEVEL: process.env.WREN_LOG_LEVEL ?? "warn",
    WREN_FEDERATION_ALLOW_PRIVATE_ADDRESSES: "true",
  };
}

async function main() {
  const [{ startServer }, { createStatus }, schema, { findKeyPairs, findLocalUser }] = await Promise.all([
    load("main.js"),
    load("core/statuses.js"),
    load("store/schema.js"),
    load("store/accounts.js"),
  ]);

  // The peers first, so their ports are known; then the database, from another process.
  const peers = child("--receiver", [String(HOSTS)]);
  const { ports } = await peers.next("listening");
  const dir = mkdtempSync(join(tmpdir(), "wren-bench-fanout-"));
  const port = await freePort();
  const setup = child("--setup", [dir, String(port), JSON.stringify(ports)]);
  const { setupMs } = await setup.next("ready");

  const server = await startServer({ env: wrenEnv(dir, port) });
  const ctx = server.context;
  const account = findLocalUser(ctx.store.db).account;
  const { deliveryJobs } = schema;

  peers.proc.send({
    type: "key",
    keyId: ctx.urls.mainKey("alice"),
    ownerId: account.uri,
    publicPem: findKeyPairs(ctx.store.db, account.id).rsa.publicKey,
  });
  await peers.next("ready");

  const before = processMemory();
  const allReceived = peers.next("done");
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await createStatus(ctx, { text: "Hello, fediverse! #bench" });
  const posted = performance.now() - t0;
  const done = await allReceived;
  const receivedMs = performance.now() - t0;
  const pending = () =>
    ctx.store.sqlite
      .prepare("SELECT count(*) AS n FROM delivery_jobs WHERE state IN ('queued', 'running')")
      .get().n;
  while (pending() > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const allDoneMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const jobs = ctx.store.db.select().from(deliveryJobs).all();
  const after = processMemory();

  console.log(`followers ${FOLLOWERS} on ${HOSTS} hosts (setup ${Math.round(setupMs)} ms)`);
  console.log(
    `delivery concurrency ${ctx.config.federation.delivery_concurrency}, per host ${ctx.config.federation.delivery_per_host}`,
  );
  console.log(`createStatus returned after ${posted.toFixed(0)} ms`);
  console.log(`every host has the activity (signature verified) after ${(receivedMs / 1000).toFixed(2)} s`);
  console.log(`every job marked done after ${(allDoneMs / 1000).toFixed(2)} s`);
  console.log(
    `POSTs received ${done.requests} (verified ${done.verified}, failed verification ${done.failures}); jobs ${jobs.length}, done ${jobs.filter((j) => j.state === "done").length}`,
  );
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(
    `CPU time from the post to the last job: Wren ${(cpuMs / 1000).toFixed(2)} s, peers ${(done.cpuMs / 1000).toFixed(2)} s (machine load ${loadavg()[0].toFixed(1)})`,
  );
  console.log(
    `Wren RSS before the post ${mb(before.rss)}, after ${mb(after.rss)}, peak (VmHWM) ${mb(after.peak)}`,
  );

  peers.proc.kill();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  const ok = receivedMs < 10_000 && after.peak < 150 && done.failures === 0;
  console.log(ok ? "within target (< 10 s, < 150 MB)" : "OUTSIDE target (< 10 s, < 150 MB)");
  process.exit(0);
}

/** Creates the database with the account and FOLLOWERS followers spread over the peers' ports. */
async function prepare(dir, port, ports) {
  const started = performance.now();
  const [
    { loadConfig },
    { createContext },
    { createAccount },
    schema,
    { newId },
    { openStore, transaction },
    { createLogger },
  ] = await Promise.all([
    load("config/load.js"),
    load("context.js"),
    load("core/account.js"),
    load("store/schema.js"),
    load("store/ids.js"),
    load("store/open.js"),
    load("log.js"),
  ]);
  const { config } = loadConfig({ env: wrenEnv(dir, port) });
  const store = openStore(config.database.path);
  const ctx = createContext(config, store, createLogger("warn"), "bench");
  const account = await createAccount(ctx, { username: "alice", password: "correct horse battery" });
  const { accounts, follows } = schema;
  const now = Date.now();
  const BATCH = 500;
  transaction(store, () => {
    for (let start = 0; start < FOLLOWERS; start += BATCH) {
      const rows = [];
      const followRows = [];
      for (let i = start; i < Math.min(start + BATCH, FOLLOWERS); i++) {
        const host = `127.0.0.1:${ports[i % ports.length]}`;
        const id = newId(now);
        rows.push({
          id,
          uri: `http://${host}/users/u${i}`,
          username: `u${i}`,
          domain: host,
          inboxUrl: `http://${host}/users/u${i}/inbox`,
          sharedInboxUrl: `http://${host}/inbox`,
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
  store.close();
  process.send({ type: "ready", setupMs: performance.now() - started });
  process.disconnect();
}

/** The peers: `count` HTTP servers, each a host of its own, verifying and counting deliveries. */
async function receiver(count) {
  const { verifyRequest } = await import(
    new URL("../dist/federation/signatures/index.js", import.meta.url).href
  );
  let key = null;
  let cpu0 = process.cpuUsage();
  const hostsDone = new Set();
  let requests = 0;
  let verified = 0;
  let failures = 0;
  const servers = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((req, res) => {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", async () => {
        requests++;
        const headers = new Headers();
        for (let h = 0; h < req.rawHeaders.length; h += 2)
          headers.append(req.rawHeaders[h], req.rawHeaders[h + 1]);
        const { port } = server.address();
        const result = await verifyRequest(req.method, headers, {
          body: new Uint8Array(Buffer.concat(chunks)),
          url: `http://127.0.0.1:${port}${req.url}`,
          lookupKey: async (keyId) =>
            key && keyId === key.keyId
              ? { keyId, ownerId: key.ownerId, type: "rsa", publicPem: key.publicPem }
              : null,
        });
        if (!result.ok) {
          failures++;
          res
            .writeHead(401, { "content-type": "application/json" })
            .end(JSON.stringify({ error: result.error }));
          return;
        }
        verified++;
        hostsDone.add(port);
        res.writeHead(202).end();
        if (hostsDone.size === count) {
          const cpu = process.cpuUsage(cpu0);
          process.send({ type: "done", requests, verified, failures, cpuMs: (cpu.user + cpu.system) / 1000 });
        }
      });
    });
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    servers.push(server);
  }
  process.on("message", (message) => {
    if (message.type !== "key") return;
    key = message;
    cpu0 = process.cpuUsage();
    process.send({ type: "ready" });
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "listening", ports: servers.map((s) => s.address().port) });
}

if (process.argv[2] === "--receiver") await receiver(Number(process.argv[3]));
else if (process.argv[2] === "--setup")
  await prepare(process.argv[3], Number(process.argv[4]), JSON.parse(process.argv[5]));
else await main();
