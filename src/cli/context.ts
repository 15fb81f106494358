/** What every command that works on the database shares: the `--config` option and an open context. */
import { loadConfig } from "../config/load.js";
import { type Context, createContext } from "../context.js";
import { countRefreshesSettled } from "../federation/resolve.js";
import { createLogger } from "../log.js";
import { openStore } from "../store/open.js";
import { VERSION } from "../version.js";

export const CONFIG_OPTION = {
  config: {
    type: "string",
    description: "configuration file (else $WREN_CONFIG, else ./config.toml, else defaults)",
  },
} as const;

/**
 * Opens the store for a one-off command and closes it afterwards, once the background work the command
 * started (account count refreshes after a resolve) is done.
 */
export async function withCliContext<T>(
  values: Record<string, unknown>,
  fn: (ctx: Context) => Promise<T>,
): Promise<T> {
  const { config } = loadConfig({
    configPath: typeof values.config === "string" ? values.config : undefined,
  });
  const store = openStore(config.database.path, { busyTimeoutMs: config.database.busy_timeout_ms });
  const ctx = createContext(config, store, createLogger("warn"), VERSION);
  try {
    return await fn(ctx);
  } finally {
    await countRefreshesSettled(ctx);
    store.close();
  }
}
