/**
 * The image worker: a short-lived child process (started by image-process.ts) that alone loads sharp and
 * blurhash. It takes one job at a time from the IPC channel and answers `{ id, result }` or
 * `{ id, error, imageError }`; it exits when the channel closes (the server stopped it, or died).
 */
import { transformImage } from "./image-transform.js";
import { type ImageAnswer, ImageError, type ImageJob } from "./image-types.js";

if (!process.send) throw new Error("image-worker.js runs as a child process with an IPC channel");

let queue = Promise.resolve();
process.on("message", (job: ImageJob) => {
  queue = queue.then(async () => {
    let answer: ImageAnswer;
    try {
      answer = { id: job.id, result: await transformImage(job.input, job.mime, job.maxPixels) };
    } catch (error) {
      answer = { id: job.id, error: (error as Error).message, imageError: error instanceof ImageError };
    }
    process.send?.(answer);
  });
});
process.on("disconnect", () => process.exit(0));
