/** Small real images for upload tests, made with sharp. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

/** A PNG of `width`×`height` filled with one colour, with a contrasting square so it is not a flat image. */
export async function makePng(
  width = 64,
  height = 48,
  color: { r: number; g: number; b: number } = { r: 200, g: 60, b: 30 },
): Promise<Buffer> {
  const side = Math.max(1, Math.floor(Math.min(width, height) / 2));
  const square = await sharp({
    create: {
      width: side,
      height: side,
      channels: 3,
      background: { r: 255 - color.r, g: 255 - color.g, b: 255 - color.b },
    },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: color } })
    .composite([{ input: square, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

/** Writes a PNG into `dir` and returns its path (for clients that upload from a file). */
export async function writePng(dir: string, name = "image.png", width = 64, height = 48): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await makePng(width, height));
  return path;
}
