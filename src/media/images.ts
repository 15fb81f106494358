/**
 * Image processing for uploads and the remote media cache. The work runs in a short-lived child process
 * (image-process.ts, image-worker.ts), so the server itself never loads sharp (docs/decisions.md, "Image
 * processing in a child process").
 */
import { runImageJob } from "./image-process.js";
import type { ProcessedImage } from "./image-types.js";

export { ImageError, type ProcessedImage } from "./image-types.js";

function meta(width: number, height: number) {
  return { width, height, size: `${width}x${height}`, aspect: height > 0 ? width / height : 1 };
}

export { meta as imageMeta };

/**
 * Applies the EXIF orientation, strips every metadata block (location!), caps the pixel count, and makes a
 * small preview and a blurhash. GIFs keep their animation; others are re-encoded in their own format.
 * Rejects with an ImageError when the image cannot be read or processed (the uploader's 422).
 */
export function processImage(input: Uint8Array, mime: string, maxPixels: number): Promise<ProcessedImage> {
  return runImageJob(input, mime, maxPixels);
}
