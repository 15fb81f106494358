/**
 * The image pipelines: EXIF orientation applied, metadata stripped, pixel count capped, a small preview and a
 * blurhash. Only the image worker (image-worker.ts) imports this module: sharp and libvips cost about 30 MB
 * resident for the rest of a process's life, which the server does not carry for an upload a day.
 */
import { encode as encodeBlurhash } from "blurhash";
import sharp, { type Sharp } from "sharp";
import { ImageError, type ProcessedImage } from "./image-types.js";

const SMALL_SIDE = 640;

/**
 * Applies the EXIF orientation, strips every metadata block (location!), caps the pixel count, and makes a
 * small preview and a blurhash. GIFs keep their animation; others are re-encoded in their own format.
 */
export async function transformImage(
  input: Uint8Array,
  mime: string,
  maxPixels: number,
): Promise<ProcessedImage> {
  try {
    return await transform(input, mime, maxPixels);
  } catch (error) {
    // A header that reads but a body that does not (a truncated or corrupt file) fails only while encoding:
    // that is the uploader's problem too, not a server error.
    if (error instanceof ImageError) throw error;
    throw new ImageError(`the image could not be read: ${(error as Error).message}`);
  }
}

async function transform(input: Uint8Array, mime: string, maxPixels: number): Promise<ProcessedImage> {
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
