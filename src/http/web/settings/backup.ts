/**
 * Backup download: an online backup (the one `wren backup` makes) written into a folder of its own under the
 * backup folder, sent, and deleted once sent. The backup slot is held until then, so one runs at a time.
 */
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { html } from "hono/html";
import { UserError } from "../../../core/account.js";
import { acquireBackupSlot, BackupBusyError, writeBackup } from "../../../jobs/backup-schedule.js";
import { csrfField, messageOf, type SettingsSection } from "./section.js";

export const backupSection: SettingsSection = {
  id: "backup",
  title: "Backup",
  render: (view) => html`${messageOf(view)}
<p>A complete archive of this server: the database (with your keys: keep it private) and every media file. <code>wren restore</code> brings it back.</p>
<form method="post" action="/settings/backup/download" id="backup_download">
${csrfField(view)}
<p><button type="submit">Download a backup</button></p>
</form>`,
  actions: {
    async download({ ctx, show }) {
      let release: () => void;
      try {
        release = acquireBackupSlot(ctx);
      } catch (error) {
        if (!(error instanceof BackupBusyError)) throw error;
        return show({
          status: 409,
          message: { kind: "error", text: "A backup is being made already. Try again when it is done." },
        });
      }
      let dir: string | null = null;
      try {
        mkdirSync(ctx.config.backup.path, { recursive: true, mode: 0o700 });
        // Beside the backups, not in /tmp: that may be a RAM disk, and the archive is as large as the data.
        dir = mkdtempSync(join(ctx.config.backup.path, ".download-"));
        const result = await writeBackup(ctx, dir, 1);
        const cleanup = () => {
          if (dir) rmSync(dir, { recursive: true, force: true });
          release();
        };
        const file = createReadStream(result.archive);
        file.once("close", cleanup);
        return new Response(Readable.toWeb(file) as ReadableStream, {
          headers: {
            "Content-Type": "application/gzip",
            "Content-Length": String(statSync(result.archive).size),
            "Content-Disposition": `attachment; filename="${basename(result.archive)}"`,
            "Cache-Control": "no-store",
          },
        });
      } catch (error) {
        if (dir) rmSync(dir, { recursive: true, force: true });
        release();
        if (!(error instanceof UserError)) throw error;
        return show({ status: 500, message: { kind: "error", text: `The backup failed: ${error.message}` } });
      }
    },
  },
};
