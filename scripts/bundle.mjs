// The second half of `npm run build`: joins the compiled tree (dist/, from tsc) into a few files in
// dist/bundle/, which `bin/wren.js` runs. Node then reads a handful of files at start instead of ~300 modules
// and their packages, which halves the time to the first answer and trims resident memory (docs/decisions.md,
// "One bundle for production"). Modules loaded on first use (ws, feed, qrcode...) stay separate chunks,
// and the native addons stay outside: better-sqlite3 and sharp load their .node files from node_modules.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const outdir = join(root, "dist", "bundle");
rmSync(outdir, { recursive: true, force: true });
await build({
  // The image worker is a second entry: the child process that alone loads sharp (src/media/image-process.ts
  // finds it beside the chunk that spawns it). "[name]" puts both at the top of dist/bundle/.
  entryPoints: [join(root, "dist", "cli", "main.js"), join(root, "dist", "media", "image-worker.js")],
  entryNames: "[name]",
  outdir,
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Minified: V8 parses every byte of a module at start, so shorter names are a shorter start. The source
  // maps beside the files turn a stack trace back into src/ names and lines: run with --enable-source-maps.
  // READABLE=1 keeps the names (for CPU profiles).
  minify: !process.env.READABLE,
  sourcemap: "linked",
  external: ["better-sqlite3", "sharp"],
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __wrenRequire } from "node:module"; const require = __wrenRequire(import.meta.url);',
  },
  logLevel: "warning",
});
