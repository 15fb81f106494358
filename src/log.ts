/**
 * One JSON object per line on standard output, pino-style, so journald and log tools read it as they would
 * pino's. Hand-written rather than pino itself: pino and its workers cost about 9 MB of resident memory,
 * an eighth of the idle budget, for features (transports, redaction) Wren does not use.
 */
const LEVELS = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
} as const;
export type Level = keyof typeof LEVELS;

type LogFn = (objOrMessage: object | string, message?: string) => void;

export interface Logger {
  readonly level: Level;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  isLevelEnabled(level: Level): boolean;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { type: value.name, message: value.message, ...(code ? { code } : {}), stack: value.stack };
  }
  return value;
}

export function createLogger(
  level: string,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const threshold = LEVELS[level as Level] ?? LEVELS.info;
  const make =
    (name: Exclude<Level, "silent">): LogFn =>
    (objOrMessage, message) => {
      if (LEVELS[name] < threshold) return;
      const fields = typeof objOrMessage === "string" ? {} : objOrMessage;
      const msg = typeof objOrMessage === "string" ? objOrMessage : message;
      const entry: Record<string, unknown> = { level: LEVELS[name], time: new Date().toISOString() };
      for (const [key, value] of Object.entries(fields)) entry[key] = serialise(value);
      if (msg !== undefined) entry.msg = msg;
      try {
        write(`${JSON.stringify(entry)}\n`);
      } catch {
        write(`${JSON.stringify({ level: LEVELS[name], time: entry.time, msg })}\n`);
      }
    };
  return {
    level: (level in LEVELS ? level : "info") as Level,
    trace: make("trace"),
    debug: make("debug"),
    info: make("info"),
    warn: make("warn"),
    error: make("error"),
    fatal: make("fatal"),
    isLevelEnabled: (name) => LEVELS[name] >= threshold,
  };
}
