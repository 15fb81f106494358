/**
 * Image processing with sharp, loaded on first use: it costs tens of megabytes, which an idle server that
 * nobody uploads to should not carry.
 */
import type { Sharp } from "sharp";

type SharpFactory = (
  input?: Buffer | Uint8Array,
  options?: { animated?: boolean; limitInputPixels?: number },
) => Sharp;

let sharpModule: Promise<SharpFactory> | null = null;
function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import("sharp").then((m) => (m.default ?? m) as unknown as SharpFactory);
  return sharpModule;
}

export interface ProcessedImage {
  original: { bytes: Buffer; mime: string; ext: string; width: number; height: number };
  small: { bytes: Buffer; mime: string; ext: string; width: number; height: number };
  blurhash: string;
}

export class ImageError extends Error {}

const SMALL_SIDE = 640;

function meta(width: number, height: number) {
  return { width, height, size: `${width}x${height}`, aspect: height > 0 ? width / height : 1 };
}

export { meta as imageMeta };

/**
 * Applies the EXIF orientation, strips every metadata block (location!), caps the pixel count, and makes a
 * small preview and a blurhash. GIFs keep their animation; others are re-encoded in their own format.
 */
export async function processImage(
  input: Uint8Array,
  mime: string,
  maxPixels: number,
): Promise<ProcessedImage> {
  const sharp = await loadSharp();
  const { encode: encodeBlurhash } = await import("blurhash");
  try {
    return await transform(sharp, encodeBlurhash, input, mime, maxPixels);
  } catch (error) {
    // A header that reads but a body that does not (a truncated or corrupt file) fails only while encoding:
    // that is the uploader's problem too, not a server error.
    if (error instanceof ImageError) throw error;
    throw new ImageError(`the image could not be read: ${(error as Error).message}`);
  }
}

async function transform(
  sharp: SharpFactory,
  encodeBlurhash: typeof import("blurhash").encode,
  input: Uint8Array,
  mime: string,
  maxPixels: number,
): Promise<ProcessedImage> {
  const animated = mime === "image/gif" || mime === "image/webp";
  let source = sharp(input, { animated, limitInputPixels: 268_402_689 }).rotate();
  const info = await source.metadata();
  // An animated image is read as its frames stacked: `height` (and autoOrient's) is that of all of them, and
  // both the pixel cap and resize() are about one frame.
  const frameHeight = (info.pages ?? 1) > 1 && info.pageHeight ? info.pageHeight : (info.height ?? 0);
  const turned = (info.orientation ?? 1) >= 5;
  let width = turned ? frameHeight : (info.width ?? 0);
  let height = turned ? (info.width ?? 0) : frameHeight;
  if (!width || !height) throw new ImageError("the image has no size");

  if (width * height > maxPixels) {
    const scale = Math.sqrt(maxPixels / (width * height));
    width = Math.max(1, Math.floor(width * scale));
    height = Math.max(1, Math.floor(height * scale));
    source = source.resize(width, height, { fit: "inside" });
  }
  const encode = (pipeline: Sharp) => {
    switch (mime) {
      case "image/png":
        return { pipeline: pipeline.png({ compressionLevel: 9 }), mime: "image/png", ext: "png" };
      case "image/gif":
        return { pipeline: pipeline.gif(), mime: "image/gif", ext: "gif" };
      case "image/webp":
        return { pipeline: pipeline.webp({ quality: 85 }), mime: "image/webp", ext: "webp" };
      default:
        return { pipeline: pipeline.jpeg({ quality: 85, mozjpeg: true }), mime: "image/jpeg", ext: "jpg" };
    }
  };
  const original = encode(source.clone());
  const originalOut = await original.pipeline.toBuffer({ resolveWithObject: true });

  const smallPipeline = sharp(input, { limitInputPixels: 268_402_689 })
    .rotate()
    .resize(SMALL_SIDE, SMALL_SIDE, { fit: "inside", withoutEnlargement: true })
    .webp({ quality: 80 });
  const small = await smallPipeline.toBuffer({ resolveWithObject: true });

  const tiny = await sharp(input, { limitInputPixels: 268_402_689 })
    .rotate()
    .resize(32, 32, { fit: "inside" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const blurhash = encodeBlurhash(new Uint8ClampedArray(tiny.data), tiny.info.width, tiny.info.height, 4, 3);

  return {
    original: {
      bytes: originalOut.data,
      mime: original.mime,
      ext: original.ext,
      width: originalOut.info.width,
      height: originalOut.info.pageHeight ?? originalOut.info.height,
    },
    small: {
      bytes: small.data,
      mime: "image/webp",
      ext: "webp",
      width: small.info.width,
      height: small.info.height,
    },
    blurhash,
  };
}
