import { createRequire } from "node:module";
import type NodeCron from "node-cron";

const load = createRequire(import.meta.url);

/**
 * node-cron, for the owner's `backup.schedule` only (the fixed maintenance times run on wall-clock.ts): loaded
 * the first time a cron expression is checked or scheduled, so that a server without one never compiles it.
 * Required rather than imported so that the bundle leaves it out (it is read from node_modules).
 */
export function nodeCron(): typeof NodeCron {
  return load("node-cron") as typeof NodeCron;
}
