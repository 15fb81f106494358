/**
 * Progress for long commands: on a terminal, one line per step rewritten with its percentage; otherwise
 * plain lines (a step's start and its end), so logs from cron or systemd stay readable.
 */
export interface Progress {
  step(label: string): void;
  percent(done: number, total: number): void;
  done(detail?: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stdout): Progress {
  const tty = stream.isTTY === true;
  let label = "";
  let shown = -1;
  return {
    step(next) {
      label = next;
      shown = -1;
      stream.write(tty ? `${label}...` : `${label}...\n`);
    },
    percent(done, total) {
      if (!tty || total <= 0) return;
      const value = Math.min(100, Math.floor((done / total) * 100));
      if (value === shown) return;
      shown = value;
      stream.write(`\r${label}... ${String(value).padStart(3)}%`);
    },
    done(detail) {
      const suffix = detail ? ` ${detail}` : "";
      stream.write(tty ? `\r${label}... done${suffix}\x1b[K\n` : `${label}: done${suffix}\n`);
    },
  };
}
