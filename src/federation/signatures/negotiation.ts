import type { SignatureStandard } from "./types.js";

// Which signature standard a remote host accepted last. The delivery layer signs with
// `firstChoice(host)`, and on a 400/401 retries with `otherStandard(…)` and remembers the one that worked.

export const DEFAULT_STANDARD: SignatureStandard = "draft-cavage";

export function otherStandard(standard: SignatureStandard): SignatureStandard {
  return standard === "draft-cavage" ? "rfc9421" : "draft-cavage";
}

/** A bounded, least-recently-used memory of host → standard. Hosts are compared case-insensitively. */
export class SignatureStandardMemory {
  readonly #hosts = new Map<string, SignatureStandard>();

  constructor(readonly maxHosts = 10_000) {}

  get(host: string): SignatureStandard | undefined {
    const key = host.toLowerCase();
    const standard = this.#hosts.get(key);
    if (standard !== undefined) {
      this.#hosts.delete(key);
      this.#hosts.set(key, standard);
    }
    return standard;
  }

  set(host: string, standard: SignatureStandard): void {
    const key = host.toLowerCase();
    this.#hosts.delete(key);
    this.#hosts.set(key, standard);
    for (const oldest of this.#hosts.keys()) {
      if (this.#hosts.size <= this.maxHosts) break;
      this.#hosts.delete(oldest);
    }
  }

  delete(host: string): void {
    this.#hosts.delete(host.toLowerCase());
  }

  get size(): number {
    return this.#hosts.size;
  }

  /** The standard to try first with this host. */
  firstChoice(host: string): SignatureStandard {
    return this.get(host) ?? DEFAULT_STANDARD;
  }

  /** Least recently used first, so that `load(entries())` restores the same order. */
  entries(): [string, SignatureStandard][] {
    return [...this.#hosts];
  }

  load(entries: Iterable<readonly [string, SignatureStandard]>): void {
    for (const [host, standard] of entries) this.set(host, standard);
  }
}
