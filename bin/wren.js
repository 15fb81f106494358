#!/usr/bin/env node
// The `wren` command: runs the compiled CLI (production runs JavaScript, never a TypeScript loader). The bundle
// in dist/bundle/ is what `npm run build` makes for running; dist/cli/ is the same code one module per file.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/bundle/main.js", import.meta.url);
const entry = existsSync(bundle) ? bundle : new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("wren: not built yet. Run `npm run build` (or `npm start`, which builds when needed).");
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// `serve` returns only after a graceful shutdown; exit even if a timer or socket still lingers.
process.exit(code);
