#!/usr/bin/env node
// Idle memory of a running Wren: starts the BUILT server (`node bin/wren.js serve`) on a fresh temporary
// database, reads its resident memory after start-up and again after 200 WebFinger + actor requests, and
// compares with the target. Linux only (reads /proc/PID/status). Run with `npm run bench:idle-memory`, which
// builds first. Exits 1 when the resident memory after the requests is over the target.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, freePort, processMemory, ROOT, SERVE_FLAGS, sleep } from "./lib.mjs";

const TARGET_MB = 70;
const REQUESTS = 200;
const USERNAME = "bench";

if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
  console.error("bench: dist/ is missing; run `npm run build` first (or `npm run bench:idle-memory`).");
  process.exit(1);
}
if (!existsSync("/proc/self/status")) {
  console.error("bench: /proc is not available; this benchmark runs on Linux only.");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "wren-bench-"));
const port = await freePort();
const domain = `127.0.0.1:${port}`;
const origin = `http://${domain}`;
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("WREN_"))),
  WREN_DATABASE_PATH: join(dir, "wren.db"),
  WREN_MEDIA_PATH: join(dir, "media"),
  WREN_SERVER_LISTEN_HOST: "127.0.0.1",
  WREN_SERVER_LISTEN_PORT: String(port),
  WREN_SERVER_DOMAIN: domain,
  WREN_SERVER_PROTOCOL: "http",
  WREN_LOG_LEVEL: "warn",
};

let server = null;
let exitCode = 0;
// Ctrl-C: the child gets the signal too; still remove the temporary database.
process.once("SIGINT", () => {
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
});
try {
  // 1. The account, created the way a user does: password piped into `wren account create`.
  await new Promise((resolve, reject) => {
    const create = spawn(process.execPath, [BIN, "account", "create", "--username", USERNAME], {
      cwd: dir,
      env,
      stdio: ["pipe", "ignore", "inherit"],
    });
    create.once("error", reject);
    create.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`wren account create exited with ${code}`)),
    );
    create.stdin.end("benchmark password\n");
  });

  // 2. The server, as production runs it.
  server = spawn(process.execPath, [...SERVE_FLAGS, BIN, "serve"], {
    cwd: dir,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((resolve) => server.once("exit", (code, signal) => resolve({ code, signal })));
  const started = Date.now();
  for (;;) {
    if (server.exitCode !== null) throw new Error(`wren serve exited early with ${server.exitCode}`);
    try {
      if ((await fetch(`${origin}/.well-known/nodeinfo`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 30_000) throw new Error("wren serve did not answer within 30 s");
    await sleep(50);
  }
  const startupMs = Date.now() - started;
  await sleep(500); // let start-up garbage settle
  const afterStart = processMemory(server.pid);

  // 3. Sequential identity traffic: what a remote server does when it first meets the account.
  const resource = encodeURIComponent(`acct:${USERNAME}@${domain}`);
  const requestsStarted = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const finger = await fetch(`${origin}/.well-known/webfinger?resource=${resource}`);
    if (finger.status !== 200) throw new Error(`webfinger answered ${finger.status}`);
    await finger.arrayBuffer();
    const actor = await fetch(`${origin}/users/${USERNAME}`, {
      headers: { accept: "application/activity+json" },
    });
    if (actor.status !== 200) throw new Error(`actor answered ${actor.status}`);
    await actor.arrayBuffer();
  }
  const requestsMs = performance.now() - requestsStarted;
  const afterRequests = processMemory(server.pid);

  // 4. Report.
  const mb = (value) => `${value.toFixed(1)} MB`.padStart(10);
  const ok = afterRequests.rss < TARGET_MB;
  const rows = [
    ["RSS after start-up", mb(afterStart.rss)],
    [`RSS after ${REQUESTS} WebFinger + ${REQUESTS} actor`, mb(afterRequests.rss)],
    ["  of which private (RssAnon)", mb(afterRequests.anon)],
    ["  of which file-backed (RssFile)", mb(afterRequests.file)],
    ["peak RSS (VmHWM)", mb(afterRequests.peak)],
    ["target (RSS)", `< ${TARGET_MB} MB`.padStart(10)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`Wren idle memory (node ${process.version}, ${process.platform}/${process.arch})`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
  console.log(
    `  start-up to first answer ${startupMs} ms; ${REQUESTS * 2} requests in ${requestsMs.toFixed(0)} ms ` +
      `(${((requestsMs / (REQUESTS * 2)) * 1000).toFixed(0)} µs each)`,
  );
  console.log(
    ok ? `  within target` : `  OVER TARGET: ${afterRequests.rss.toFixed(1)} MB >= ${TARGET_MB} MB`,
  );
  if (!ok) exitCode = 1;

  // 5. Stop it the way an init system does.
  server.kill("SIGTERM");
  const result = await Promise.race([exited, sleep(10_000).then(() => null)]);
  if (result === null) throw new Error("wren serve did not stop within 10 s of SIGTERM");
  if (result.code !== 0) throw new Error(`wren serve exited with ${result.code ?? result.signal} on SIGTERM`);
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
} finally {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
