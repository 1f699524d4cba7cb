// Copyright 2026 the framewire authors. MIT license.
// The summary's verdicts and their dagger (scripts/bench_chart.ts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ratioOf, unsettled } from "../../scripts/bench_chart.ts";

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

test("bench_chart: ratioOf compares two cases round by round", () => {
  const r = ratioOf(result([10, 20, 30]), result([10, 10, 40]));
  assert.equal(r.value, 2); // medians 20 / 10
  assert.deepEqual([r.low, r.high], [0.75, 2]); // rounds: 1, 2, 0.75
});

test("bench_chart: ratioOf of MB/s scales the rounds by each case's bytes per frame", () => {
  const r = ratioOf(result([10, 20, 30], 4), result([10, 10, 40], 2), "mbPerSec");
  assert.equal(r.value, 4);
  assert.deepEqual([r.low, r.high], [1.5, 4]);
});

test("bench_chart: without rounds (older results) the band is lowest over highest and the reverse", () => {
  const r = ratioOf(result([10, 20, 30], 1, false), result([10, 10, 40], 1, false));
  assert.equal(r.value, 2);
  assert.deepEqual([r.low, r.high], [0.25, 3]);
  // Rounds of different lengths cannot be paired either.
  const mixed = ratioOf(result([10, 20, 30]), result([10, 10]));
  assert.deepEqual([mixed.low, mixed.high], [1, 3]); // 10 / 10 and 30 / 10
});

test("bench_chart: a verdict is unsettled when some round falls on the other side of the target", () => {
  assert.equal(unsettled({ low: 0.9, high: 1.2 }, 1), true);
  assert.equal(unsettled({ low: 1, high: 1.3 }, 1), false, "every round meets it");
  assert.equal(unsettled({ low: 0.5, high: 0.99 }, 1), false, "every round misses it");
  assert.equal(unsettled({ low: 0.5, high: 1 }, 1), true, "one round meets it");
});
