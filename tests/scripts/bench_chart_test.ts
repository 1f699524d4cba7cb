// Copyright 2026 the framewire authors. MIT license.
// The summary's verdicts and their dagger (scripts/bench_chart.ts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { markdownTable, ratioOf, unsettled, worstOf } from "../../scripts/bench_chart.ts";

/** A result with these frames/s per round (in round order) and bytes per frame. */
function result(fps: number[], bytesPerFrame = 1, withRounds = true) {
  const sorted = [...fps].sort((a, b) => a - b);
  const stat = (k: number) => ({
    median: sorted[sorted.length >> 1]! * k,
    min: sorted[0]! * k,
    max: sorted.at(-1)! * k,
  });
  return {
    group: "g",
    name: "n",
    framesPerSec: stat(1),
    mbPerSec: stat(bytesPerFrame / 1e6),
    ...(withRounds ? { framesPerSecRounds: fps } : {}),
  };
}

test("bench_chart: ratioOf compares two cases round by round, not their sorted rounds", () => {
  const r = ratioOf(result([30, 10, 20]), result([40, 10, 10]));
  assert.equal(r.value, 2); // medians 20 / 10
  assert.deepEqual(r.rounds, [0.75, 1, 2]);
  assert.deepEqual([r.low, r.high], [0.75, 2]);
});

test("bench_chart: ratioOf of MB/s scales the rounds by each case's bytes per frame", () => {
  const r = ratioOf(result([30, 10, 20], 4), result([40, 10, 10], 2), "mbPerSec");
  assert.equal(r.value, 4);
  assert.deepEqual([r.low, r.high], [1.5, 4]);
});

test("bench_chart: ratioOf against several peers takes the best by median, and each round's best", () => {
  const a = result([12, 12, 12]);
  const steady = result([10, 10, 10]);
  const swinging = result([11, 20, 3]); // median 11: the best peer, but not in every round
  const r = ratioOf(a, [steady, swinging]);
  assert.equal(r.value, 12 / 11);
  assert.deepEqual(r.rounds, [12 / 11, 12 / 20, 12 / 10]);
  assert.equal(unsettled(r, 1), true, "the second round's best peer beat it");
});

test("bench_chart: without rounds (older results) the band is lowest over highest and the reverse", () => {
  const r = ratioOf(result([30, 10, 20], 1, false), result([40, 10, 10], 1, false));
  assert.equal(r.value, 2);
  assert.deepEqual([r.low, r.high], [0.25, 3]);
  assert.equal(r.rounds, undefined);
  // Rounds of different lengths cannot be paired either.
  const mixed = ratioOf(result([30, 10, 20]), result([10, 10]));
  assert.deepEqual([mixed.low, mixed.high], [1, 3]); // 10 / 10 and 30 / 10
});

test("bench_chart: worstOf meets a target in a round only if every size met it in that round", () => {
  const small = { value: 1.2, low: 0.9, high: 1.5, rounds: [1.5, 0.9, 1.2] };
  const large = { value: 0.95, low: 0.8, high: 1.1, rounds: [0.8, 1.1, 0.95] };
  const w = worstOf([small, large]);
  assert.equal(w.value, 0.95, "the lowest median ratio");
  assert.deepEqual(w.rounds, [0.8, 0.9, 0.95]);
  assert.equal(unsettled(w, 1), false, "no round met it at both sizes");
  // Without rounds: the band of the lowest ratio.
  assert.deepEqual(
    worstOf([{ value: 1.2, low: 0.9, high: 1.5 }, { value: 0.95, low: 0.8, high: 1.1 }]),
    {
      value: 0.95,
      low: 0.8,
      high: 1.1,
    },
  );
});

test("bench_chart: a verdict is unsettled when some round falls on the other side of the target", () => {
  assert.equal(unsettled({ low: 0.9, high: 1.2 }, 1), true);
  assert.equal(unsettled({ low: 1, high: 1.3 }, 1), false, "every round meets it");
  assert.equal(unsettled({ low: 0.5, high: 0.99 }, 1), false, "every round misses it");
  assert.equal(unsettled({ low: 0.5, high: 1 }, 1), true, "one round meets it");
});

test("bench_chart: the table marks unsettled verdicts with a dagger", () => {
  const table = markdownTable([{
    metric: "m",
    target: "≥ 1×",
    values: {
      deno: { text: "1.10×", ok: true, value: 1.1, unsettled: true },
      bun: { text: "0.50×", ok: false, value: 0.5, unsettled: false },
      node: { text: "2.00×", ok: undefined, value: 2 },
    },
  }]);
  const cells = table.split("\n")[2]!.split("|").map((c) => c.trim());
  assert.deepEqual(cells.slice(3, 6), ["1.10× ✓†", "0.50× ✗", "2.00×"]);
});
