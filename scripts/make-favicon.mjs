// Draws Wren's favicon (a small brown bird on a cream disc) and prints it as a 32x32 PNG inside an ICO file,
// base64-encoded, for src/http/web/favicon.ts. Run: node scripts/make-favicon.mjs
import { deflateSync } from "node:zlib";

const SIZE = 32;
const SAMPLES = 4; // per axis, for anti-aliased edges

const CREAM = [250, 240, 222];
const BROWN = [122, 75, 42];
const DARK = [60, 36, 20];
const BEAK = [214, 150, 60];

const inEllipse = (x, y, cx, cy, rx, ry, turn = 0) => {
  const c = Math.cos(turn);
  const s = Math.sin(turn);
  const dx = x - cx;
  const dy = y - cy;
  const u = (dx * c + dy * s) / rx;
  const v = (-dx * s + dy * c) / ry;
  return u * u + v * v <= 1;
};
const inTriangle = (x, y, [ax, ay], [bx, by], [cx, cy]) => {
  const d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by);
  const d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy);
  const d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay);
  const negative = d1 < 0 || d2 < 0 || d3 < 0;
  const positive = d1 > 0 || d2 > 0 || d3 > 0;
  return !(negative && positive);
};

/** The colour at a point of the 32x32 canvas, or null outside the disc. */
function colourAt(x, y) {
  if (!inEllipse(x, y, 16, 16, 15.5, 15.5)) return null;
  if (inEllipse(x, y, 20.5, 12.5, 1.3, 1.3)) return DARK; // eye
  if (inTriangle(x, y, [23.5, 12], [28.5, 14.2], [23.5, 15.5])) return BEAK;
  if (inEllipse(x, y, 20, 14, 4.8, 4.6)) return BROWN; // head
  if (inEllipse(x, y, 14.5, 19.5, 8.5, 6, 0.25)) return BROWN; // body
  if (inTriangle(x, y, [9, 18], [4.5, 7], [8, 6.5])) return BROWN; // tail, cocked up as wrens hold it
  if (inTriangle(x, y, [10, 19], [7.5, 7.2], [11.5, 8])) return BROWN;
  if (inTriangle(x, y, [13, 24.5], [12.5, 28.5], [14, 24.5])) return DARK; // legs
  if (inTriangle(x, y, [17, 24.5], [17.5, 28.5], [18.5, 24.5])) return DARK;
  return CREAM;
}

const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let py = 0; py < SIZE; py++) {
  for (let px = 0; px < SIZE; px++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let covered = 0;
    for (let sy = 0; sy < SAMPLES; sy++) {
      for (let sx = 0; sx < SAMPLES; sx++) {
        const colour = colourAt(px + (sx + 0.5) / SAMPLES, py + (sy + 0.5) / SAMPLES);
        if (!colour) continue;
        r += colour[0];
        g += colour[1];
        b += colour[2];
        covered++;
      }
    }
    const at = (py * SIZE + px) * 4;
    if (covered > 0) {
      rgba[at] = Math.round(r / covered);
      rgba[at + 1] = Math.round(g / covered);
      rgba[at + 2] = Math.round(b / covered);
    }
    rgba[at + 3] = Math.round((255 * covered) / (SAMPLES * SAMPLES));
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (bytes) => {
  let c = 0xffffffff;
  for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
};

const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0);
header.writeUInt32BE(SIZE, 4);
header[8] = 8; // bit depth
header[9] = 6; // RGBA
const rows = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) rgba.copy(rows, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk("IHDR", header),
  chunk("IDAT", deflateSync(rows, { level: 9 })),
  chunk("IEND", Buffer.alloc(0)),
]);

// An ICO with one PNG image (supported by every browser since Windows Vista's format change).
const dir = Buffer.alloc(6 + 16);
dir.writeUInt16LE(0, 0);
dir.writeUInt16LE(1, 2); // icon
dir.writeUInt16LE(1, 4); // one image
dir[6] = SIZE;
dir[7] = SIZE;
dir.writeUInt16LE(1, 10); // colour planes
dir.writeUInt16LE(32, 12); // bits per pixel
dir.writeUInt32LE(png.length, 14);
dir.writeUInt32LE(dir.length, 18);
const ico = Buffer.concat([dir, png]);

if (process.argv[2] === "--png") process.stdout.write(png);
else process.stdout.write(`${ico.toString("base64")}\n`);
