import type { Config } from "../config/spec.js";
import { mediaStorage } from "../media/storage/index.js";

/** Every public URL Wren hands out, in one place: they cannot change once federated. */
/** The host (with its port, if any; lower case) of a URL, or null when it is not one. */
export function hostOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

export class Urls {
  readonly origin: string;
  readonly #config: Config;

  constructor(config: Config) {
    this.#config = config;
    this.origin = `${config.server.protocol}://${config.server.domain}`;
  }

  get domain(): string {
    return new URL(this.origin).host;
  }

  actor(username: string): string {
    return `${this.origin}/users/${username}`;
  }
  profile(username: string): string {
    return `${this.origin}/@${username}`;
  }
  inbox(username: string): string {
    return `${this.actor(username)}/inbox`;
  }
  outbox(username: string): string {
    return `${this.actor(username)}/outbox`;
  }
  followers(username: string): string {
    return `${this.actor(username)}/followers`;
  }
  following(username: string): string {
    return `${this.actor(username)}/following`;
  }
  featured(username: string): string {
    return `${this.actor(username)}/collections/featured`;
  }
  mainKey(username: string): string {
    return `${this.actor(username)}#main-key`;
  }
  ed25519Key(username: string): string {
    return `${this.actor(username)}#ed25519-key`;
  }
  status(username: string, id: string): string {
    return `${this.actor(username)}/statuses/${id}`;
  }
  statusPage(username: string, id: string): string {
    return `${this.profile(username)}/${id}`;
  }
  get sharedInbox(): string {
    return `${this.origin}/inbox`;
  }
  get instanceActor(): string {
    return `${this.origin}/actor`;
  }
  get instanceMainKey(): string {
    return `${this.origin}/actor#main-key`;
  }
  get instanceEd25519Key(): string {
    return `${this.origin}/actor#ed25519-key`;
  }
  /** A media file: at `media.s3.public_url` when the bucket is served from there, else Wren's /media/. */
  media(path: string): string {
    return mediaStorage(this.#config).publicUrl(path) ?? `${this.origin}/media/${path}`;
  }
}
