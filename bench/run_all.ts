// Copyright 2026 the framewire authors. MIT license.
/**
 * Runs every bench on every runtime (Deno, Bun, Node, one after the other,
 * each as its own process; the loopback bench also with framewire's node:net
 * adapter on Deno and Bun), then the cross-runtime pairs, then prints one
 * summary table against issue 5's targets and regenerates the chart and the
 * results section of `bench/README.md` (`scripts/bench_chart.ts`).
 *
 *     npm run bench                 (node bench/run_all.ts)
 *     node bench/run_all.ts --quick (fewer, shorter rounds: a smoke test)
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  markdownTable,
  summarize,
  svgChart,
  textTable,
  UNSETTLED_NOTE,
} from "../scripts/bench_chart.ts";
import { args, type RuntimeName } from "./_common.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const argv = args();
const flags = argv.filter((a) => a === "--quick");
const only = argv.filter((a) => !a.startsWith("--"));

function run(rt: RuntimeName, script: string, extra: string[] = []): boolean {
  const exe = path.join(BIN, rt);
  const file = path.join(HERE, script);
  const cmd = rt === "deno" ? ["run", "-A", file, ...flags, ...extra] : [file, ...flags, ...extra];
  console.log(`\n=== ${rt} ${script} ${[...flags, ...extra].join(" ")}`);
  const r = spawnSync(exe, cmd, { stdio: "inherit", cwd: ROOT, timeout: 600_000 });
  if (r.status !== 0) {
    console.log(
      `!!! ${rt} ${script} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ""})`,
    );
  }
  return r.status === 0;
}

const started = performance.now();
const runtimes: RuntimeName[] = ["deno", "bun", "node"];
const benches = ["decode_bench.ts", "encode_bench.ts", "loopback_bench.ts"].filter((b) =>
  only.length === 0 || only.some((o) => b.startsWith(o))
);
for (const bench of benches) {
  for (const rt of runtimes) run(rt, bench);
  // framewire's node:net adapter on the other two runtimes (peers at 64 KiB only, no memory cases).
  if (bench === "loopback_bench.ts") {
    for (const rt of ["deno", "bun"] as const) run(rt, bench, ["--adapter", "node", "--no-memory"]);
  }
}
if (only.length === 0 || only.some((o) => "cross".startsWith(o))) run("node", "cross_bench.ts");

// Regenerate the chart and README section, then print the summary.
const chart = spawnSync(path.join(BIN, "node"), [path.join(ROOT, "scripts", "bench_chart.ts")], {
  stdio: ["ignore", "ignore", "inherit"],
  cwd: ROOT,
});
if (chart.status !== 0) console.log("!!! scripts/bench_chart.ts failed");
const { rows, versions, machine } = summarize();
console.log(
  `\n=== summary (ratios measured in the same run on each runtime; ✓ meets issue 5's target)`,
);
console.log(`machine: ${machine}`);
for (const [rt, v] of Object.entries(versions)) console.log(`${rt}: ${v}`);
console.log(textTable(rows));
console.log(UNSETTLED_NOTE);
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
void markdownTable;
void svgChart;
