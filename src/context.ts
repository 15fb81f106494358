import type { Logger } from "pino";
import type { Config } from "./config/spec.js";
import { Urls } from "./federation/urls.js";
import type { Store } from "./store/open.js";

/** What every part of a running Wren shares: configuration, the store, public URLs and the logger. */
export interface Context {
  config: Config;
  store: Store;
  urls: Urls;
  log: Logger;
  version: string;
}

export function createContext(config: Config, store: Store, log: Logger, version: string): Context {
  return { config, store, urls: new Urls(config), log, version };
}
