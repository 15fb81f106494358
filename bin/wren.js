#!/usr/bin/env node
// The `wren` command: runs the compiled CLI in dist/ (production runs JavaScript, never a TypeScript loader).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("wren: not built yet. Run `npm run build` (or `npm start`, which builds when needed).");
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// `serve` returns only after a graceful shutdown; exit even if a timer or socket still lingers.
process.exit(code);
