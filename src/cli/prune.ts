import type { Context } from "../context.js";
import { enableIncrementalVacuum, type PruneCounts, prune, pruneDryRun } from "../jobs/prune.js";

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function describe(counts: PruneCounts): string[] {
  return [
    `  remote statuses: ${counts.statuses}`,
    `  media attachments: ${counts.media}`,
    `  polls: ${counts.polls}`,
    `  notifications: ${counts.notifications}`,
    `  remote accounts: ${counts.accounts}`,
    `  hashtags: ${counts.tags}`,
  ];
}

/** `wren prune [--dry-run] [--vacuum]`: the lines it prints. */
export async function pruneCommand(ctx: Context, options: { dryRun: boolean; vacuum: boolean }) {
  const days = `older than ${ctx.config.prune.remote_statuses_days} days (notifications: ${ctx.config.prune.notifications_days} days)`;
  if (options.dryRun) {
    const counts = await pruneDryRun(ctx);
    return [`A prune would remove, ${days}:`, ...describe(counts), "Nothing was changed (dry run)."];
  }
  const lines: string[] = [];
  if (options.vacuum) {
    lines.push(
      enableIncrementalVacuum(ctx)
        ? "The database was rewritten (VACUUM) and now shrinks after each prune."
        : "The database already shrinks after each prune; no VACUUM needed.",
    );
  }
  const report = await prune(ctx);
  lines.push(`Removed, ${days}:`, ...describe(report));
  lines.push(`Database: ${mb(report.bytesBefore)} before, ${mb(report.bytesAfter)} after.`);
  if (!report.incrementalVacuum) {
    lines.push(
      "This database was created before Wren shrank its file: freed space is reused but the file keeps its size. Stop the server and run `wren prune --vacuum` once to switch.",
    );
  }
  return lines;
}
