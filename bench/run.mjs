// `npm run bench`: runs every benchmark in turn (each starts its own baseline and Wren), then prints one
// table of their results. Exits non-zero when any bench failed or was outside its target.
// Run it on a quiet machine: the benches compare Wren with a baseline in the same run, but a loaded machine
// still widens the spread. BENCHES=inbox-burst,fanout runs a subset.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ALL = ["inbox-burst", "fanout", "api", "idle-memory"];
const chosen = process.env.BENCHES ? process.env.BENCHES.split(",") : ALL;

const results = [];
const failed = [];
for (const bench of chosen) {
  console.log(`\n=== ${bench} ===`);
  const script = fileURLToPath(new URL(`./${bench}.mjs`, import.meta.url));
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let pending = "";
    child.stdout.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (line.startsWith("BENCH-RESULT ")) results.push(JSON.parse(line.slice("BENCH-RESULT ".length)));
        else console.log(line);
      }
    });
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? signal));
  });
  if (code !== 0) failed.push(`${bench} (exit ${code})`);
}

const format = (value, unit) =>
  value === null || value === undefined ? "" : `${value.toFixed(value >= 100 ? 0 : 2)} ${unit}`;
console.log(
  "\nbench        metric                                          Wren         baseline     ratio  target",
);
for (const { bench, rows } of results) {
  for (const row of rows) {
    console.log(
      `${bench.padEnd(12)} ${row.metric.padEnd(46)} ${format(row.wren, row.unit).padStart(12)} ` +
        `${format(row.baseline, row.unit).padStart(12)} ${row.ratio === null ? "".padStart(6) : row.ratio.toFixed(2).padStart(6)}  ` +
        `${row.target}  ${row.ok ? "ok" : "OUTSIDE"}`,
    );
  }
}
if (failed.length > 0) {
  console.error(`\nFAIL: ${failed.join(", ")}`);
  process.exit(1);
}
console.log("\nOK: every bench within its target");
