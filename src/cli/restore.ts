import { resolve } from "node:path";
import { createProgress } from "../backup/progress.js";
import { restoreBackup } from "../backup/restore.js";
import { loadConfig } from "../config/load.js";
import type { Command } from "./main.js";

export const restoreCommand: Command = {
  usage: "wren restore ARCHIVE [--force] [--config PATH]",
  summary: "restore a backup archive into a stopped instance, then migrate",
  positionals: { names: "ARCHIVE", min: 1, max: 1 },
  options: {
    config: { type: "string", description: "configuration file (else $WREN_CONFIG, else ./config.toml)" },
    force: { type: "boolean", description: "replace the database and media that are there now" },
  },
  async run(values, positionals) {
    const { config } = loadConfig({
      configPath: typeof values.config === "string" ? values.config : undefined,
    });
    const manifest = await restoreBackup({
      archive: resolve(positionals[0] as string),
      databasePath: config.database.path,
      mediaPath: config.media.path,
      force: values.force === true,
      busyTimeoutMs: config.database.busy_timeout_ms,
      progress: createProgress(),
    });
    const rows = (table: string) => manifest.tables[table] ?? 0;
    const media = manifest.files.filter((file) => file.path.startsWith("media/")).length;
    console.log(
      `Restored the backup of ${manifest.createdAt}: ${rows("statuses")} statuses, ${rows("accounts")} accounts, ${media} media files. Start Wren with \`wren serve\`.`,
    );
    return 0;
  },
};
