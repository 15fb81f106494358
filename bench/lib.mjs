// Helpers shared by the bench/ scripts: free ports, a child's memory from /proc, the environment a Wren
// server runs with, waiting for a child to answer and stopping it, and latency statistics.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout (the directory holding bin/, dist/ and bench/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(ROOT, "bin/wren.js");

/**
 * The flags `npm start` and the systemd unit in the README run the server with: a 2 MB young generation (V8's
 * default grows to 16 MB) keeps the heap, and so RSS, small; docs/decisions.md says why 2 and not 1.
 */
/**
 * The production flags; WREN_BENCH_CPU_PROF=DIR adds a CPU profile of the server, written to DIR on exit, and
 * WREN_BENCH_NODE_FLAGS adds flags of your own (e.g. "--trace-gc") to the servers of both sides.
 */
export const SERVE_FLAGS = [
  "--max-semi-space-size=2",
  ...(process.env.WREN_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
  ...(process.env.WREN_BENCH_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.WREN_BENCH_CPU_PROF}`]
    : []),
];

/** A module of the compiled tree, e.g. `loadDist("store/open.js")`. */
export const loadDist = (path) => import(new URL(`../dist/${path}`, import.meta.url).href);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port of 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * VmRSS (resident now) and VmHWM (resident peak) of a process (default: this one) and every process it started
 * (Wren runs image processing in a child: its memory is Wren's too), in MB, with RSS split into private memory
 * (RssAnon) and pages mapped from files (RssFile: mostly the node binary's code and ICU data, shared with every
 * other node process and reclaimable under memory pressure), and how many processes were counted. Linux only.
 */
export function processMemory(pid = "self") {
  const total = { rss: 0, peak: 0, anon: 0, file: 0, processes: 0 };
  for (const one of processTree(pid === "self" ? String(process.pid) : String(pid))) {
    let status;
    try {
      status = readFileSync(`/proc/${one}/status`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const kb = (field) => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      if (!match) throw new Error(`no ${field} in /proc/${one}/status`);
      return Number(match[1]) / 1024;
    };
    total.rss += kb("VmRSS");
    total.peak += kb("VmHWM");
    total.anon += kb("RssAnon");
    total.file += kb("RssFile");
    total.processes++;
  }
  return total;
}

/** The pid and its descendants, from /proc/PID/task/TID/children. */
function processTree(pid) {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${found[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${found[i]}/task/${task}/children`, "utf8").trim();
        if (children) found.push(...children.split(/\s+/));
      } catch {}
    }
  }
  return found;
}

/**
 * The environment of a Wren server on 127.0.0.1:`port` with its database and media under `dir`: this
 * process's environment without any WREN_* variable (a developer's own settings must not leak in), then
 * `extra`.
 */
export function wrenEnv(dir, port, extra = {}) {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("WREN_"))),
    WREN_DATABASE_PATH: join(dir, "wren.db"),
    WREN_MEDIA_PATH: join(dir, "media"),
    WREN_SERVER_LISTEN_HOST: "127.0.0.1",
    WREN_SERVER_LISTEN_PORT: String(port),
    WREN_SERVER_DOMAIN: `127.0.0.1:${port}`,
    WREN_SERVER_PROTOCOL: "http",
    WREN_LOG_LEVEL: "warn",
    ...extra,
  };
}

/**
 * Polls `url` every `pollMs` until it answers 2xx; fails when `child` exits first or after `timeoutMs`.
 * Returns the milliseconds it took.
 */
export async function waitForHttp(url, child, timeoutMs = 30_000, pollMs = 50) {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${url}: the process exited early (${child.exitCode ?? child.signalCode})`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/**
 * Stops a child as an init system does: SIGTERM, then SIGKILL after `graceMs`. Resolves with its exit code
 * (or signal name), or null when it had to be killed.
 */
export async function stopChild(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  child.kill("SIGTERM");
  const result = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
  if (result !== undefined) return result;
  child.kill("SIGKILL");
  await exited;
  return null;
}

/** The p-th percentile (0..100) of ascending `sorted` values, nearest-rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/**
 * CPU time (user + system, in ms) a process has used so far, from /proc: it tells the cost of the work apart
 * from what other load on the machine does to the latencies. NaN where there is no /proc.
 */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

const AS = "https://www.w3.org/ns/activitystreams";

/**
 * `count` remote actors on one port of 127.0.0.1 (`/users/s0`, `/users/s1`...), serving their documents with
 * RSA public keys, so Wren fetches each key once. Returns { origin, keys, close }.
 */
export async function startActors(count) {
  const { generateRsaKeyPair } = await loadDist("federation/keys.js");
  const keys = Array.from({ length: count }, () => generateRsaKeyPair());
  const server = createHttpServer((req, res) => {
    const n = Number(/^\/users\/s(\d+)$/.exec(req.url ?? "")?.[1] ?? -1);
    if (!(n >= 0 && n < count)) {
      res.writeHead(404).end();
      return;
    }
    const uri = `${origin}/users/s${n}`;
    res.writeHead(200, { "content-type": "application/activity+json" });
    res.end(
      JSON.stringify({
        "@context": [AS, "https://w3id.org/security/v1"],
        id: uri,
        type: "Person",
        preferredUsername: `s${n}`,
        inbox: `${uri}/inbox`,
        publicKey: { id: `${uri}#main-key`, owner: uri, publicKeyPem: keys[n].publicPem },
      }),
    );
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, keys, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * A signed POST to `inbox`: actor `n` of `actors` Creates note number `seq`, public and mentioning the
 * local account `accountUri` (Wren stores it with its mention and notification). Returns { headers, body }.
 */
export async function signedMention(actors, n, seq, inbox, accountUri) {
  const { signRequest } = await loadDist("federation/signatures/index.js");
  const actor = `${actors.origin}/users/s${n}`;
  const noteId = `${actor}/notes/${seq}`;
  const { host } = new URL(accountUri);
  const activity = {
    "@context": AS,
    id: `${noteId}/activity`,
    type: "Create",
    actor,
    to: [`${AS}#Public`],
    cc: [accountUri],
    object: {
      id: noteId,
      type: "Note",
      attributedTo: actor,
      content: `<p>@alice note ${seq}</p>`,
      to: [`${AS}#Public`],
      cc: [accountUri],
      tag: [{ type: "Mention", href: accountUri, name: `@alice@${host}` }],
      published: new Date().toISOString(),
    },
  };
  const body = new TextEncoder().encode(JSON.stringify(activity));
  const signed = await signRequest(
    new Request(inbox, { method: "POST", headers: { "content-type": "application/activity+json" } }),
    body,
    { keyId: `${actor}#main-key`, type: "rsa", privatePem: actors.keys[n].privatePem },
    "draft-cavage",
  );
  const headers = Object.fromEntries(signed.headers);
  headers["content-length"] = String(body.byteLength);
  return { headers, body };
}

/**
 * Prints a bench's results as one machine-readable line, which `npm run bench` (bench/run.mjs) gathers into
 * one table. Each row: { metric, wren, baseline, unit, ratio, target, ok } (ratio and baseline may be null for
 * an absolute target).
 */
export function reportResults(bench, rows) {
  console.log(`BENCH-RESULT ${JSON.stringify({ bench, rows })}`);
}
