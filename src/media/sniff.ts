/** What a file is, decided from its first bytes, never from its name or the client's Content-Type. */
export interface Sniffed {
  type: "image" | "video" | "audio";
  mime: string;
  ext: string;
}

const ascii = (bytes: Uint8Array, start: number, text: string) =>
  text.split("").every((ch, i) => bytes[start + i] === ch.charCodeAt(0));

export function sniff(bytes: Uint8Array): Sniffed | null {
  if (bytes.length < 12) return null;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff)
    return { type: "image", mime: "image/jpeg", ext: "jpg" };
  if (ascii(bytes, 0, "\x89PNG\r\n\x1a\n")) return { type: "image", mime: "image/png", ext: "png" };
  if (ascii(bytes, 0, "GIF87a") || ascii(bytes, 0, "GIF89a"))
    return { type: "image", mime: "image/gif", ext: "gif" };
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WEBP"))
    return { type: "image", mime: "image/webp", ext: "webp" };
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WAVE"))
    return { type: "audio", mime: "audio/wav", ext: "wav" };
  if (ascii(bytes, 4, "ftyp")) {
    const brand = String.fromCharCode(...bytes.slice(8, 12));
    if (brand === "avif" || brand === "avis") return { type: "image", mime: "image/avif", ext: "avif" };
    if (brand === "heic" || brand === "heix" || brand === "mif1")
      return { type: "image", mime: "image/heic", ext: "heic" };
    if (brand === "M4A " || brand === "M4B ") return { type: "audio", mime: "audio/mp4", ext: "m4a" };
    if (brand === "qt  ") return { type: "video", mime: "video/quicktime", ext: "mov" };
    return { type: "video", mime: "video/mp4", ext: "mp4" };
  }
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3)
    return { type: "video", mime: "video/webm", ext: "webm" };
  if (ascii(bytes, 0, "OggS")) return { type: "audio", mime: "audio/ogg", ext: "ogg" };
  if (ascii(bytes, 0, "fLaC")) return { type: "audio", mime: "audio/flac", ext: "flac" };
  if (ascii(bytes, 0, "ID3") || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0))
    return { type: "audio", mime: "audio/mpeg", ext: "mp3" };
  return null;
}

export const SUPPORTED_MIME_TYPES = [
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/heic",
  "video/mp4",
  "video/quicktime",
  "video/webm",
  "audio/mpeg",
  "audio/mp4",
  "audio/ogg",
  "audio/wav",
  "audio/flac",
];
