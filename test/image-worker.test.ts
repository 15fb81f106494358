// Images are processed in a short-lived child process: the server (here, this test process) never loads
// sharp. This file makes its images without sharp too, so /proc/self/maps tells whether anything loaded it.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createRestAPIClient } from "masto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { imageWorkerPid, stopImageWorker } from "../src/media/image-process.js";
import { issueToken } from "./helpers/api.js";
import { BIN } from "./helpers/cli.js";
import { waitUntil } from "./helpers/fedify-peer.js";
import { gradientPng } from "./helpers/raw-png.js";
import { childEnv, freePort, startTestServer, type TestServer, tempDir } from "./helpers/server.js";

/** A PNG (8-bit RGB) of a diagonal colour gradient, encoded by hand. */
async function upload(
  origin: string,
  token: string,
  bytes: Uint8Array,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(bytes)], { type: "image/png" }), "image.png");
  const response = await fetch(`${origin}/api/v2/media`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const mapsLibvips = (pid: number | "self") =>
  readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .some((line) => line.includes("libvips"));

/** Running: an exited process not yet reaped (a zombie, state Z) does not count. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const small = gradientPng(320, 200);
let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ account: "alice", env: { WREN_MEDIA_IMAGE_WORKER_IDLE_S: "1" } });
  token = issueToken(server);
});

afterAll(async () => {
  await server?.close();
});

describe("image processing in a child process", () => {
  it("processes an upload from a client: sizes, blurhash and a small WebP preview", async () => {
    const client = createRestAPIClient({ url: server.origin, accessToken: token });
    const media = await client.v2.media.create({
      file: new Blob([gradientPng(1280, 800)], { type: "image/png" }),
    });
    expect(media.type).toBe("image");
    expect(media.meta?.original).toMatchObject({ width: 1280, height: 800 });
    expect(media.meta?.small).toMatchObject({ width: 640, height: 400 });
    expect(media.blurhash).toMatch(/^[0-9A-Za-z#$%*+,.:;=?@[\]^_{|}~-]{20,}$/);
    const preview = Buffer.from(await (await fetch(media.previewUrl as string)).arrayBuffer());
    expect(preview.subarray(0, 4).toString("latin1")).toBe("RIFF");
    expect(preview.subarray(8, 12).toString("latin1")).toBe("WEBP");
    const original = Buffer.from(await (await fetch(media.url as string)).arrayBuffer());
    expect(original.subarray(1, 4).toString("latin1")).toBe("PNG");
  });

  it("never maps libvips into the server's process; the worker does", async () => {
    const { status } = await upload(server.url, token, small);
    expect(status).toBe(200);
    const pid = imageWorkerPid();
    expect(pid).toEqual(expect.any(Number));
    expect(mapsLibvips(pid as number)).toBe(true);
    expect(mapsLibvips("self")).toBe(false);
  });

  it("lets the worker exit after image_worker_idle_s, and starts a new one for the next image", async () => {
    expect((await upload(server.url, token, small)).status).toBe(200);
    const first = imageWorkerPid() as number;
    expect(first).toEqual(expect.any(Number));
    await waitUntil(() => imageWorkerPid() === null && !alive(first), "the idle worker to exit", 5_000);

    const { status, json } = await upload(server.url, token, small);
    expect(status).toBe(200);
    expect(json.blurhash).toEqual(expect.any(String));
    const second = imageWorkerPid();
    expect(second).toEqual(expect.any(Number));
    expect(second).not.toBe(first);
  });

  it("answers 422 when the worker is killed during the job, and the next upload works", async () => {
    await stopImageWorker();
    const pending = upload(server.url, token, gradientPng(2000, 1500));
    // The worker is spawned for this job: it is that job's worker from the moment it has a pid.
    const pid = await waitUntil(() => imageWorkerPid(), "the worker to start", 5_000);
    process.kill(pid, "SIGKILL");
    const { status, json } = await pending;
    expect(status).toBe(422);
    expect(json.error).toBe("the image could not be processed");
    await waitUntil(() => !alive(pid), "the killed worker to be gone");

    const next = await upload(server.url, token, small);
    expect(next.status).toBe(200);
    expect(imageWorkerPid()).not.toBe(pid);
  });

  it("still refuses a corrupt image with the ImageError's 422", async () => {
    const png = gradientPng(80, 80);
    const { status, json } = await upload(server.url, token, png.subarray(0, png.length - 20));
    expect(status).toBe(422);
    expect(json.error).toMatch(/^the image could not be read/);
    // The worker answered (a dead one is "could not be processed") and takes the next image.
    expect((await upload(server.url, token, small)).status).toBe(200);
  });
});

describe("an image that takes too long", () => {
  let slow: TestServer;
  let slowToken: string;

  beforeAll(async () => {
    await stopImageWorker();
    slow = await startTestServer({ account: "alice", env: { WREN_MEDIA_IMAGE_JOB_TIMEOUT_S: "3" } });
    slowToken = issueToken(slow);
  });
  afterAll(async () => {
    await slow?.close();
  });

  it("is refused with a 422 once image_job_timeout_s is over, its wedged worker killed, and the next image works", async () => {
    const started = Date.now();
    const pending = upload(slow.url, slowToken, gradientPng(2000, 1500));
    const pid = await waitUntil(() => imageWorkerPid(), "the worker to start", 5_000);
    // A stopped process answers nothing and ignores SIGTERM: only the deadline's SIGKILL ends it.
    process.kill(pid, "SIGSTOP");
    const { status, json } = await pending;
    expect(status).toBe(422);
    expect(json.error).toBe("the image could not be processed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    await waitUntil(() => !alive(pid), "the wedged worker to be gone");

    const next = await upload(slow.url, slowToken, small);
    expect(next.status).toBe(200);
    expect(imageWorkerPid()).not.toBe(pid);
  });
});

/** The processes `pid` started (any of its threads). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );
}

describe("the built `wren serve` (the bundle)", () => {
  let dir: string;
  let bearer: string;
  let served: ChildProcess | null = null;

  beforeAll(async () => {
    // The account and a token are written by an in-process server on the same database, which then stops.
    dir = tempDir("wren-imgchild-");
    const setup = await startTestServer({ account: "alice", dir });
    bearer = issueToken(setup);
    await setup.close();
  });
  afterEach(() => {
    if (served && served.exitCode === null && served.signalCode === null) served.kill("SIGKILL");
    served = null;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `wren serve` on the test database with an idle time long enough not to matter; answers once it listens. */
  async function serve() {
    const port = await freePort();
    const env = { ...childEnv(dir, port), WREN_MEDIA_IMAGE_WORKER_IDLE_S: "600" };
    const proc = spawn(process.execPath, [BIN, "serve"], { cwd: dir, env, stdio: "pipe" });
    served = proc;
    let output = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    const origin = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`wren serve exited early:\n${output}`);
      const up = await fetch(`${origin}/.well-known/nodeinfo`).then(
        (response) => response.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`wren serve did not answer within 20 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { proc, origin, exited, output: () => output };
  }

  it("finds its image worker beside the bundle, processes an upload, and stops the worker when it stops", async () => {
    const { proc, origin, exited, output } = await serve();
    const { status, json } = await upload(origin, bearer, small);
    expect(status, output()).toBe(200);
    expect(json.meta).toMatchObject({
      original: { width: 320, height: 200 },
      small: { width: 320, height: 200 },
    });
    expect(json.blurhash).toEqual(expect.any(String));
    expect(mapsLibvips(proc.pid as number)).toBe(false);
    const [worker] = childrenOf(proc.pid as number);
    expect(mapsLibvips(worker as number)).toBe(true);

    proc.kill("SIGTERM");
    expect(await exited, output()).toBe(0);
    expect(alive(worker as number)).toBe(false);
  });

  it("loses its worker when the server dies: the worker exits when its channel closes", async () => {
    const { proc, origin } = await serve();
    expect((await upload(origin, bearer, small)).status).toBe(200);
    const [worker] = childrenOf(proc.pid as number);
    expect(worker).toEqual(expect.any(Number));
    proc.kill("SIGKILL");
    await waitUntil(() => !alive(worker as number), "the orphaned worker to exit");
  });
});
