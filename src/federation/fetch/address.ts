import { isIPv4, isIPv6 } from "node:net";

/**
 * What an IP address is, for the outbound client's SSRF guard. Everything but "public" is refused
 * unless the client allows private addresses. Addresses that carry an IPv4 address inside an IPv6
 * one (IPv4-mapped, NAT64, 6to4) are classified by the IPv4 address they carry.
 */
export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "cgnat"
  | "unique-local"
  | "site-local"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "documentation"
  | "benchmarking"
  | "teredo"
  | "reserved"
  | "invalid";

/** Kinds that are never a unicast destination: refused even when private addresses are allowed. */
export const NEVER_ALLOWED_KINDS: ReadonlySet<AddressKind> = new Set([
  "unspecified",
  "multicast",
  "broadcast",
  "invalid",
]);

type V4Range = readonly [base: number, prefix: number, kind: AddressKind];

// Most specific first: the first match wins.
const V4_RANGES: readonly V4Range[] = [
  [v4("255.255.255.255"), 32, "broadcast"],
  [v4("0.0.0.0"), 8, "unspecified"],
  [v4("10.0.0.0"), 8, "private"],
  [v4("100.64.0.0"), 10, "cgnat"],
  [v4("127.0.0.0"), 8, "loopback"],
  [v4("169.254.0.0"), 16, "link-local"],
  [v4("172.16.0.0"), 12, "private"],
  [v4("192.0.0.0"), 24, "reserved"], // IETF protocol assignments
  [v4("192.0.2.0"), 24, "documentation"],
  [v4("192.88.99.0"), 24, "reserved"], // deprecated 6to4 relay anycast
  [v4("192.168.0.0"), 16, "private"],
  [v4("198.18.0.0"), 15, "benchmarking"],
  [v4("198.51.100.0"), 24, "documentation"],
  [v4("203.0.113.0"), 24, "documentation"],
  [v4("224.0.0.0"), 4, "multicast"],
  [v4("240.0.0.0"), 4, "reserved"],
];

function v4(text: string): number {
  const bytes = parseIPv4(text);
  if (!bytes) throw new Error(`bad IPv4 constant ${text}`);
  return v4ToInt(bytes);
}

function v4ToInt(b: ArrayLike<number>): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** Dotted-quad IPv4 to 4 bytes; null unless `text` is one (no shorthand forms). */
export function parseIPv4(text: string): Uint8Array | null {
  if (!isIPv4(text)) return null;
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(parts[i]);
    if (!Number.isInteger(n) || n < 0 || n > 255) return null;
    out[i] = n;
  }
  return out;
}

/**
 * IPv6 text to 16 bytes; null unless it is one. Accepts brackets ("[::1]", as in URLs), a zone
 * ("fe80::1%eth0", dropped) and a trailing dotted quad ("::ffff:1.2.3.4").
 */
export function parseIPv6(input: string): Uint8Array | null {
  let text = input;
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (!isIPv6(text)) return null;

  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) >= 0) {
    tail = parseIPv4(text.slice(lastColon + 1));
    if (!tail) return null;
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }

  const wanted = tail ? 6 : 8;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string | undefined): string[] => (s ? s.split(":") : []);
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const missing = wanted - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const hextets = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];

  const out = new Uint8Array(16);
  for (let i = 0; i < hextets.length; i++) {
    const h = hextets[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(h)) return null;
    const n = Number.parseInt(h, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

function classifyV4Bytes(b: ArrayLike<number>): AddressKind {
  const n = v4ToInt(b);
  for (const [base, prefix, kind] of V4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((n & mask) >>> 0 === base) return kind;
  }
  return "public";
}

function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

function startsWith(b: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((v, i) => b[i] === v);
}

function classifyV6Bytes(b: Uint8Array): AddressKind {
  if (allZero(b, 0, 15)) {
    if (b[15] === 0) return "unspecified"; // ::
    if (b[15] === 1) return "loopback"; // ::1
  }
  // ::ffff:0:0/96, IPv4-mapped: a socket connects to the embedded IPv4 address.
  if (allZero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return classifyV4Bytes(b.subarray(12));
  // ::/96 (deprecated IPv4-compatible), ::ffff:0:0:0/96 (IPv4-translated) and the rest of ::/64.
  if (allZero(b, 0, 8)) return "reserved";
  // 64:ff9b::/96, NAT64 well-known prefix: the embedded IPv4 address is where the packets go.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b]) && allZero(b, 4, 12)) return classifyV4Bytes(b.subarray(12));
  // 64:ff9b:1::/48, NAT64 local-use prefix (RFC 8215): read as a /96 prefix, its most common layout.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) return classifyV4Bytes(b.subarray(12));
  // 2002::/16, 6to4: the relay forwards to the embedded IPv4 address.
  if (b[0] === 0x20 && b[1] === 0x02) return classifyV4Bytes(b.subarray(2, 6));
  if (b[0] === 0x20 && b[1] === 0x01) {
    if (b[2] === 0x00 && b[3] === 0x00) return "teredo"; // 2001::/32
    if (b[2] === 0x0d && b[3] === 0xb8) return "documentation"; // 2001:db8::/32
    if ((b[2]! & 0xfe) === 0x00) return "reserved"; // rest of 2001::/23 (benchmarking, ORCHID…)
  }
  if (b[0] === 0x3f && b[1] === 0xff && (b[2]! & 0xf0) === 0x00) return "documentation"; // 3fff::/20
  if (b[0] === 0xff) return "multicast"; // ff00::/8
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return "link-local"; // fe80::/10
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return "site-local"; // fec0::/10
  if ((b[0]! & 0xfe) === 0xfc) return "unique-local"; // fc00::/7
  // Only 2000::/3 is global unicast; anything else (100::/64, 5f00::/16, unassigned) is not a peer.
  if ((b[0]! & 0xe0) !== 0x20) return "reserved";
  return "public";
}

/** Classifies an IPv4 or IPv6 address given as text (IPv6 may be bracketed or carry a zone). */
export function classifyAddress(ip: string): AddressKind {
  const b4 = parseIPv4(ip);
  if (b4) return classifyV4Bytes(b4);
  const b6 = parseIPv6(ip);
  if (b6) return classifyV6Bytes(b6);
  return "invalid";
}

/** True when `ip` is a globally routable unicast address, the only kind a remote server may have. */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip) === "public";
}
