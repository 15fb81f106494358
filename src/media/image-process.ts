/**
 * The server's side of the image worker (image-worker.ts): started on the first job, one job at a time in it
 * and the others waiting here in order, stopped after `[media] image_worker_idle_s` without work. A worker
 * that dies mid-job (killed, crashed, out of memory) fails that job as an unreadable image; the next job
 * starts a new one. So does a job still running after `[media] image_job_timeout_s`: its worker is killed
 * (SIGKILL, which also ends a stopped or wedged process).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.js";
import { PACKAGE_ROOT } from "../version.js";
import { type ImageAnswer, ImageError, type ImageJob, type ProcessedImage } from "./image-types.js";

interface Pending {
  job: ImageJob;
  resolve(image: ProcessedImage): void;
  reject(error: Error): void;
}

interface Worker {
  child: ChildProcess;
  current: Pending | null;
  idle: NodeJS.Timeout | null;
  /** Kills the worker if the current job is not answered in time. */
  deadline: NodeJS.Timeout | null;
}

let idleMs = 5_000;
let jobTimeoutMs = 60_000;
let log: Logger | null = null;
let worker: Worker | null = null;
const waiting: Pending[] = [];
let nextId = 1;

export function configureImageWorker(options: {
  idleSeconds: number;
  jobTimeoutSeconds?: number;
  log?: Logger;
}): void {
  idleMs = options.idleSeconds * 1000;
  jobTimeoutMs = (options.jobTimeoutSeconds ?? jobTimeoutMs / 1000) * 1000;
  log = options.log ?? log;
}

/** The worker's process id while one runs (tests, status). */
export function imageWorkerPid(): number | null {
  return worker?.child.pid ?? null;
}

/** Beside this module when built (dist/media/, or dist/bundle/ for the bundle); the built tree under vitest. */
function workerFile(): string {
  const beside = fileURLToPath(new URL("./image-worker.js", import.meta.url));
  if (existsSync(beside)) return beside;
  const built = join(PACKAGE_ROOT, "dist/media/image-worker.js");
  if (existsSync(built)) return built;
  throw new Error(`the image worker is not built (no ${beside} nor ${built}): run npm run build first`);
}

export function runImageJob(input: Uint8Array, mime: string, maxPixels: number): Promise<ProcessedImage> {
  return new Promise((resolve, reject) => {
    waiting.push({ job: { id: nextId++, input, mime, maxPixels }, resolve, reject });
    next();
  });
}

/** Stops the worker now (a job it was running fails); a later job starts a new one. */
export function stopImageWorker(): Promise<void> {
  const w = worker;
  if (!w) return Promise.resolve();
  return new Promise((resolve) => {
    w.child.once("exit", () => resolve());
    w.child.once("error", () => resolve());
    // An idle worker is unref'd: without this, a stopping server's loop could end before the exit arrives.
    w.child.ref();
    retire(w);
  });
}

function next(): void {
  if (waiting.length === 0 || worker?.current) return;
  let w: Worker;
  try {
    w = worker ?? start();
  } catch (error) {
    for (const pending of waiting.splice(0)) pending.reject(error as Error);
    return;
  }
  const pending = waiting.shift() as Pending;
  w.current = pending;
  if (w.idle) clearTimeout(w.idle);
  w.idle = null;
  w.child.ref();
  w.child.channel?.ref();
  w.child.send(pending.job, (error) => {
    if (error) gone(w, error.message);
  });
  w.deadline = setTimeout(() => {
    if (w.current !== pending) return;
    log?.warn(
      { pid: w.child.pid, seconds: jobTimeoutMs / 1000 },
      "an image took too long to process: its worker is killed",
    );
    // Its exit fails the job (gone) and lets the queue go on with a new worker.
    w.child.kill("SIGKILL");
  }, jobTimeoutMs);
  w.deadline.unref();
}

function clearDeadline(w: Worker): void {
  if (w.deadline) clearTimeout(w.deadline);
  w.deadline = null;
}

function start(): Worker {
  const child = spawn(process.execPath, ["--max-semi-space-size=1", workerFile()], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const w: Worker = { child, current: null, idle: null, deadline: null };
  child.on("message", (answer: ImageAnswer) => answered(w, answer));
  child.on("exit", (code, signal) => gone(w, `exited with ${signal ?? `code ${code}`}`));
  child.on("error", (error) => gone(w, error.message));
  worker = w;
  return w;
}

function answered(w: Worker, answer: ImageAnswer): void {
  const pending = w.current;
  if (!pending || pending.job.id !== answer.id) return;
  clearDeadline(w);
  w.current = null;
  if ("result" in answer) pending.resolve(asBuffers(answer.result));
  else pending.reject(answer.imageError ? new ImageError(answer.error) : new Error(answer.error));
  if (waiting.length > 0) {
    next();
    return;
  }
  // Idle: it must not keep a finishing process (a CLI command, a test) alive, and it goes after a while.
  w.child.unref();
  w.child.channel?.unref();
  w.idle = setTimeout(() => retire(w), idleMs);
  w.idle.unref();
}

function retire(w: Worker): void {
  if (worker === w) worker = null;
  if (w.idle) clearTimeout(w.idle);
  w.idle = null;
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill();
}

/** The worker exited or its channel broke: the job it had fails as an unreadable image, the queue goes on. */
function gone(w: Worker, reason: string): void {
  clearDeadline(w);
  retire(w);
  const pending = w.current;
  w.current = null;
  if (pending) {
    log?.warn({ pid: w.child.pid, reason }, "the image worker stopped during a job");
    pending.reject(new ImageError("the image could not be processed"));
  }
  next();
}

/** The advanced serialization gives Buffers back as Buffers; this keeps the type honest if it ever did not. */
function asBuffers(image: ProcessedImage): ProcessedImage {
  const buffer = (bytes: Uint8Array) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    ...image,
    original: { ...image.original, bytes: buffer(image.original.bytes) },
    small: { ...image.small, bytes: buffer(image.small.bytes) },
  };
}
