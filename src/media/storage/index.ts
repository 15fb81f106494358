import type { Config } from "../../config/spec.js";
import { LocalStorage } from "./local.js";
import { S3Storage } from "./s3.js";
import type { MediaStorage } from "./types.js";

export { contentTypeOf } from "./content-type.js";
export { LocalStorage } from "./local.js";
export { S3Storage } from "./s3.js";
export { type MediaStorage, StorageError } from "./types.js";

const chosen = new WeakMap<Config, LocalStorage | S3Storage>();

/** The storage `media.storage` names, one per configuration. */
export function mediaStorage(config: Config): LocalStorage | S3Storage {
  let storage = chosen.get(config);
  if (!storage) {
    storage = storageOf(config, config.media.storage);
    chosen.set(config, storage);
  }
  return storage;
}

export function storageOf(config: Config, kind: MediaStorage["kind"]): LocalStorage | S3Storage {
  return kind === "s3" ? new S3Storage(config["media.s3"]) : new LocalStorage(config.media.path);
}
