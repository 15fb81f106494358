import { listRelays } from "../core/relays.js";
import { subscribeRelay, unsubscribeRelay } from "../federation/relays.js";
import { CONFIG_OPTION, withCliContext } from "./context.js";
import type { Command } from "./main.js";

const QUEUED = "The running server sends it within 30 seconds.";

/** `wren relay add|remove|list`. */
export const relayCommands: Record<string, Command> = {
  "relay add": {
    usage: "wren relay add URL [--litepub] [--config PATH]",
    summary: "subscribe to a relay: URL is its inbox (Mastodon style) or its actor (LitePub)",
    options: {
      ...CONFIG_OPTION,
      litepub: {
        type: "boolean",
        description: "follow the relay actor itself, as Pleroma does (implied by a URL ending in /actor)",
      },
    },
    positionals: { names: "URL", min: 1, max: 1 },
    async run(values, [url]) {
      return withCliContext(values, async (ctx) => {
        const relay = await subscribeRelay(ctx, url as string, { litepub: values.litepub === true });
        console.log(`Relay ${relay.inboxUrl} added (${relay.mode} style), pending its Accept. ${QUEUED}`);
        return 0;
      });
    },
  },
  "relay remove": {
    usage: "wren relay remove URL [--config PATH]",
    summary: "unsubscribe from a relay (sends Undo of the Follow)",
    options: CONFIG_OPTION,
    positionals: { names: "URL", min: 1, max: 1 },
    async run(values, [url]) {
      return withCliContext(values, async (ctx) => {
        const relay = unsubscribeRelay(ctx, url as string);
        console.log(`Relay ${relay.inboxUrl} removed. ${QUEUED}`);
        return 0;
      });
    },
  },
  "relay list": {
    usage: "wren relay list [--config PATH]",
    summary: "list the relays and their state (pending, accepted, rejected)",
    options: CONFIG_OPTION,
    async run(values) {
      return withCliContext(values, async (ctx) => {
        const relays = listRelays(ctx);
        if (relays.length === 0) console.log("No relays.");
        for (const relay of relays)
          console.log(`${relay.state.padEnd(9)} ${relay.mode.padEnd(9)} ${relay.inboxUrl}`);
        return 0;
      });
    },
  },
};
