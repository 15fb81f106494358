// The compiled `wren` command run as a child process, as a user runs it.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "bin/wren.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `npm test` builds first; a bare `vitest run` after a fresh checkout builds here (call it in beforeAll;
 * startTestServer does, for the image worker).
 */
export function ensureBuilt(): void {
  // The bundle is the last step of a build and what bin/wren.js runs; a build older than the image worker
  // (which the tests' servers spawn from dist/) lacks its entry.
  if (existsSync(join(ROOT, "dist/bundle/main.js")) && existsSync(join(ROOT, "dist/bundle/image-worker.js")))
    return;
  const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}

/**
 * Runs `node bin/wren.js ...args` in `cwd` with exactly `env`. Standard input is `input`, always closed, so a
 * password prompt cannot hang.
 */
export function runWren(
  args: string[],
  options: { cwd: string; env: Record<string, string>; input?: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: "pipe",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}
