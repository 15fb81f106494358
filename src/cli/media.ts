import { loadConfig } from "../config/load.js";
import { UserError } from "../core/account.js";
import { StorageError } from "../media/storage/index.js";
import { MigrateError, migrateMedia } from "../media/storage/migrate.js";
import { openStore } from "../store/open.js";
import type { Command } from "./main.js";

export const mediaMigrateCommand: Command = {
  usage: "wren media migrate --to s3|local [--keep-source] [--config PATH]",
  summary: "move the media files into the S3 bucket ([media.s3]) or back into media.path",
  options: {
    config: { type: "string", description: "configuration file (else $WREN_CONFIG, else ./config.toml)" },
    to: { type: "string", description: "s3 or local: where the files go" },
    "keep-source": {
      type: "boolean",
      description: "copy and check only, delete nothing (a first pass while the server still runs)",
    },
  },
  async run(values) {
    const to = values.to;
    if (to !== "s3" && to !== "local") throw new UserError("--to must be s3 or local");
    const { config } = loadConfig({
      configPath: typeof values.config === "string" ? values.config : undefined,
    });
    const store = openStore(config.database.path, { busyTimeoutMs: config.database.busy_timeout_ms });
    try {
      const report = await migrateMedia(store.sqlite, config, to, {
        keepSource: values["keep-source"] === true,
        progress: (line) => console.log(line),
      });
      console.log(
        `Done: ${report.files} files, ${report.copied} copied, ${report.present} already there, ${report.missing.length} missing, ${report.deleted} source copies deleted.`,
      );
      if (config.media.storage !== to)
        console.log(`Now set media.storage = "${to}" in the configuration and restart Wren.`);
      return report.missing.length > 0 ? 1 : 0;
    } catch (error) {
      // Nothing was deleted unless every file was copied: the command can simply be run again.
      if (error instanceof MigrateError || error instanceof StorageError) throw new UserError(error.message);
      throw error;
    } finally {
      store.close();
    }
  },
};
