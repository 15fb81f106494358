import { loadConfig } from "../config/load.js";
import { type Context, createContext } from "../context.js";
import { listRelays } from "../core/relays.js";
import { subscribeRelay, unsubscribeRelay } from "../federation/relays.js";
import { createLogger } from "../log.js";
import { openStore } from "../store/open.js";
import { VERSION } from "../version.js";
import type { Command } from "./main.js";

const CONFIG = {
  config: { type: "string", description: "configuration file (else $WREN_CONFIG, else ./config.toml)" },
} as const;

async function withContext<T>(values: Record<string, unknown>, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const { config } = loadConfig({
    configPath: typeof values.config === "string" ? values.config : undefined,
  });
  const store = openStore(config.database.path, { busyTimeoutMs: config.database.busy_timeout_ms });
  try {
    return await fn(createContext(config, store, createLogger("warn"), VERSION));
  } finally {
    store.close();
  }
}

const QUEUED = "The running server sends it within 30 seconds.";

/** `wren relay add|remove|list`. */
export const relayCommands: Record<string, Command> = {
  "relay add": {
    usage: "wren relay add URL [--litepub] [--config PATH]",
    summary: "subscribe to a relay: URL is its inbox (Mastodon style) or its actor (LitePub)",
    options: {
      ...CONFIG,
      litepub: {
        type: "boolean",
        description: "follow the relay actor itself, as Pleroma does (implied by a URL ending in /actor)",
      },
    },
    positionals: { names: "URL", min: 1, max: 1 },
    async run(values, [url]) {
      return withContext(values, async (ctx) => {
        const relay = await subscribeRelay(ctx, url as string, { litepub: values.litepub === true });
        console.log(`Relay ${relay.inboxUrl} added (${relay.mode} style), pending its Accept. ${QUEUED}`);
        return 0;
      });
    },
  },
  "relay remove": {
    usage: "wren relay remove URL [--config PATH]",
    summary: "unsubscribe from a relay (sends Undo of the Follow)",
    options: CONFIG,
    positionals: { names: "URL", min: 1, max: 1 },
    async run(values, [url]) {
      return withContext(values, async (ctx) => {
        const relay = unsubscribeRelay(ctx, url as string);
        console.log(`Relay ${relay.inboxUrl} removed. ${QUEUED}`);
        return 0;
      });
    },
  },
  "relay list": {
    usage: "wren relay list [--config PATH]",
    summary: "list the relays and their state (pending, accepted, rejected)",
    options: CONFIG,
    async run(values) {
      return withContext(values, async (ctx) => {
        const relays = listRelays(ctx);
        if (relays.length === 0) console.log("No relays.");
        for (const relay of relays)
          console.log(`${relay.state.padEnd(9)} ${relay.mode.padEnd(9)} ${relay.inboxUrl}`);
        return 0;
      });
    },
  },
};
