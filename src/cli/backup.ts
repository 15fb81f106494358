import { resolve } from "node:path";
import { createBackup } from "../backup/backup.js";
import { createProgress } from "../backup/progress.js";
import { loadConfig } from "../config/load.js";
import { VERSION } from "../version.js";
import { formatBytes } from "./format.js";
import type { Command } from "./main.js";

export const backupCommand: Command = {
  usage: "wren backup [--to DIR] [--config PATH]",
  summary: "write a verified archive of the database and media (safe while the server runs)",
  options: {
    config: { type: "string", description: "configuration file (else $WREN_CONFIG, else ./config.toml)" },
    to: { type: "string", description: "folder for the archive (default: backup.path)" },
  },
  async run(values) {
    const { config } = loadConfig({
      configPath: typeof values.config === "string" ? values.config : undefined,
    });
    const result = await createBackup({
      databasePath: config.database.path,
      mediaPath: config.media.path,
      to: typeof values.to === "string" ? resolve(values.to) : config.backup.path,
      keep: config.backup.keep,
      busyTimeoutMs: config.database.busy_timeout_ms,
      wrenVersion: VERSION,
      progress: createProgress(),
    });
    const rows = (table: string) => result.tables[table] ?? 0;
    console.log(
      `Wrote ${result.archive} (${formatBytes(result.bytes)}): ${rows("statuses")} statuses, ${rows("accounts")} accounts, ${result.mediaFiles} media files.`,
    );
    if (result.missingMedia.length > 0)
      console.log(
        `Note: ${result.missingMedia.length} media files the database refers to were not in ${config.media.path} (first: ${result.missingMedia[0]}).`,
      );
    for (const name of result.pruned)
      console.log(`Deleted the old archive ${name} (backup.keep = ${config.backup.keep}).`);
    return 0;
  },
};
