import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { listArchives } from "../backup/archive.js";
import { loadConfig } from "../config/load.js";
import { UserError } from "../core/account.js";
import { SCHEDULED_BACKUP_JOB } from "../jobs/backup-schedule.js";
import { instanceCounts } from "../store/instance-status.js";
import { lastJobRuns } from "../store/job-runs.js";
import { VERSION } from "../version.js";
import { formatBytes } from "./format.js";
import type { Command } from "./main.js";

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function row(label: string, value: string | number): string {
  return `${label.padEnd(17)}${value}`;
}

const at = (ms: number) => new Date(ms).toISOString();

/** The scheduled backup's last run and the upkeep's, as recorded by the server (jobs/runs.ts). */
function jobLines(db: Parameters<typeof lastJobRuns>[0], schedule: string): string[] {
  let runs: ReturnType<typeof lastJobRuns>;
  try {
    runs = lastJobRuns(db);
  } catch {
    return [row("last upkeep", "unknown (run `wren migrate`)")];
  }
  const backup = runs.find((r) => r.name === SCHEDULED_BACKUP_JOB);
  const upkeep = runs.filter((r) => r.name !== SCHEDULED_BACKUP_JOB);
  const lines: string[] = [];
  const when = schedule.trim() === "" ? "off" : `"${schedule}"`;
  lines.push(
    row(
      "scheduled backup",
      backup
        ? `${when}; last run ${at(backup.finishedAt)} ${backup.ok ? `ok: ${backup.detail}` : `FAILED: ${backup.detail}`}`
        : `${when}; no run yet`,
    ),
  );
  if (upkeep.length === 0) lines.push(row("last upkeep", "no run yet"));
  else {
    const latest = Math.max(...upkeep.map((r) => r.finishedAt));
    const failed = upkeep
      .filter((r) => !r.ok)
      .map((r) => `${r.name} failed ${at(r.finishedAt)}: ${r.detail}`);
    lines.push(
      row("last upkeep", `${at(latest)} (${failed.length === 0 ? "all tasks ok" : failed.join("; ")})`),
    );
  }
  return lines;
}

export const statusCommand: Command = {
  usage: "wren status [--config PATH]",
  summary: "print the version, database size, counts, queues, the last backup and the last upkeep run",
  options: {
    config: { type: "string", description: "configuration file (else $WREN_CONFIG, else ./config.toml)" },
  },
  async run(values) {
    const { config } = loadConfig({
      configPath: typeof values.config === "string" ? values.config : undefined,
    });
    const path = config.database.path;
    const lines = [row("version", VERSION)];
    const archives = listArchives(config.backup.path);
    const last = archives.at(-1);
    const lastBackup = last
      ? `${join(config.backup.path, last)} (${statSync(join(config.backup.path, last)).mtime.toISOString()}, ${formatBytes(fileSize(join(config.backup.path, last)))}; ${archives.length} kept)`
      : `none in ${config.backup.path}`;
    if (!existsSync(path)) {
      lines.push(row("database", `none yet at ${path}`), row("last backup", lastBackup));
      console.log(lines.join("\n"));
      return 0;
    }
    const sqlite = new Database(path, { readonly: true, fileMustExist: true });
    try {
      sqlite.pragma(`busy_timeout = ${Math.floor(config.database.busy_timeout_ms)}`);
      let counts: ReturnType<typeof instanceCounts>;
      try {
        counts = instanceCounts(drizzle(sqlite));
      } catch (error) {
        throw new UserError(
          `cannot read ${path}: ${(error as Error).message} (if Wren was just upgraded, run \`wren migrate\`)`,
        );
      }
      const size = fileSize(path) + fileSize(`${path}-wal`);
      const parked = counts.parkedHosts.map((h) => `${h.host} (since ${new Date(h.since).toISOString()})`);
      lines.push(
        row("database", `${path} (${formatBytes(size)})`),
        row("statuses", `${counts.statuses} (${counts.localStatuses} yours)`),
        row("accounts", counts.accounts),
        row("followers", counts.followers),
        row("following", counts.following),
        row("delivery queue", `${counts.deliveryQueue} jobs`),
        row("parked hosts", parked.length === 0 ? "none" : `${parked.length}: ${parked.join(", ")}`),
        row("inbound backlog", `${counts.inboundBacklog} activities`),
        row("last backup", lastBackup),
        ...jobLines(drizzle(sqlite), config.backup.schedule),
      );
    } finally {
      sqlite.close();
    }
    console.log(lines.join("\n"));
    return 0;
  },
};
