/**
 * A minimal ustar writer and reader: regular files only, which is all a Wren archive holds. Written by hand
 * because the format is small and the project takes no new dependency for it.
 */

const BLOCK = 512;
/** An octal size field of 11 digits holds up to 8 GiB - 1. */
export const MAX_ENTRY_BYTES = 8 ** 11 - 1;

export class ArchiveError extends Error {}

function writeString(header: Buffer, text: string, offset: number, length: number): void {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > length) throw new ArchiveError(`tar field too long: ${text}`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  writeString(header, `${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes) at a slash. */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ["", path];
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new ArchiveError(`path too long for the archive: ${path}`);
}

export function fileHeader(path: string, size: number, mtimeMs: number): Buffer {
  if (size > MAX_ENTRY_BYTES) throw new ArchiveError(`${path} is larger than 8 GiB`);
  const header = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(path);
  writeString(header, name, 0, 100);
  writeOctal(header, 0o600, 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, size, 124, 12);
  writeOctal(header, Math.floor(mtimeMs / 1000), 136, 12);
  header.write("        ", 148, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\u000000", 257, "latin1");
  writeString(header, prefix, 345, 155);
  writeOctal(header, checksum(header), 148, 7);
  header[155] = 0x20;
  return header;
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
  return sum;
}

/** Zero bytes that bring an entry of `size` bytes to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

function readString(header: Buffer, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function readOctal(header: Buffer, offset: number, length: number): number {
  const text = readString(header, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError("damaged tar header");
  return Number.parseInt(text, 8);
}

export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

/**
 * Reads a tar stream, handing each regular file's bytes to the sink `onEntry` returns. Throws ArchiveError on
 * a damaged header, a type other than a regular file, or a stream that ends before the end-of-archive blocks.
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  onEntry: (path: string, size: number) => EntrySink,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let sink: EntrySink | null = null;
  let remaining = 0;
  let skip = 0;
  let ended = false;
  for await (const chunk of source) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (!ended) {
      if (sink) {
        const take = Math.min(remaining, pending.length);
        if (take > 0) sink.write(pending.subarray(0, take));
        pending = pending.subarray(take);
        remaining -= take;
        if (remaining > 0) break;
        sink.end();
        sink = null;
      }
      if (skip > 0) {
        const take = Math.min(skip, pending.length);
        pending = pending.subarray(take);
        skip -= take;
        if (skip > 0) break;
      }
      if (pending.length < BLOCK) break;
      const header = pending.subarray(0, BLOCK);
      pending = pending.subarray(BLOCK);
      if (header.every((byte) => byte === 0)) {
        ended = true;
        break;
      }
      if (readOctal(header, 148, 8) !== checksum(header))
        throw new ArchiveError("damaged tar header checksum");
      if (readString(header, 257, 5) !== "ustar") throw new ArchiveError("not a ustar archive");
      const type = String.fromCharCode(header[156] as number);
      if (type !== "0" && type !== "\0") throw new ArchiveError(`unexpected tar entry type "${type}"`);
      const prefix = readString(header, 345, 155);
      const name = readString(header, 0, 100);
      const size = readOctal(header, 124, 12);
      sink = onEntry(prefix ? `${prefix}/${name}` : name, size);
      remaining = size;
      skip = padding(size).length;
    }
  }
  if (!ended || sink) throw new ArchiveError("the archive is truncated");
}
