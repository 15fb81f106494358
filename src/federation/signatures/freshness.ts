import { fail } from "./types.js";

export function checkDateHeader(value: string | null, now: Date, windowSeconds: number): void {
  if (value === null) fail(401, "signature covers date but there is no Date header");
  const date = Date.parse(value);
  if (Number.isNaN(date)) fail(400, `Date header is not a valid date: ${value}`);
  const age = (now.getTime() - date) / 1000;
  if (age > windowSeconds) fail(401, `Date is ${describeSeconds(age)} old`);
  if (-age > windowSeconds) fail(401, `Date is ${describeSeconds(-age)} in the future`);
}

/** `created` and `expires` are Unix times in seconds. */
export function checkCreated(created: number, now: Date, windowSeconds: number): void {
  const age = now.getTime() / 1000 - created;
  if (age > windowSeconds) fail(401, `signature was created ${describeSeconds(age)} ago`);
  if (-age > windowSeconds) fail(401, `signature creation time is ${describeSeconds(-age)} in the future`);
}

export function checkExpires(expires: number, now: Date): void {
  const overdue = now.getTime() / 1000 - expires;
  if (overdue > 0) fail(401, `signature expired ${describeSeconds(overdue)} ago`);
}

export function describeSeconds(seconds: number): string {
  const units: [string, number][] = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [name, size] of units) {
    if (seconds >= 2 * size) return `${Math.floor(seconds / size)} ${name}s`;
  }
  const whole = Math.max(1, Math.floor(seconds));
  return whole === 1 ? "1 second" : `${whole} seconds`;
}
