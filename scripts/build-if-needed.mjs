// Run before `npm start`: compiles src/ to dist/ when dist/ is missing or older than any source file,
// so a fresh clone starts with `npm ci && npm start` and an up-to-date tree starts without a rebuild.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
// The bundle is written last, so it is the marker of a whole build.
const marker = join(root, "dist", "bundle", "main.js");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const stale = !existsSync(marker) || newestSource(join(root, "src")) > statSync(marker).mtimeMs;
if (stale) {
  console.log("Building Wren (src/ -> dist/)...");
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  execFileSync(process.execPath, [join(root, "scripts", "bundle.mjs")], { stdio: "inherit" });
}
