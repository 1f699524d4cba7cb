// Copyright 2026 the framewire authors. MIT license.
// Model-based fuzz of framed() connections' lifecycle (see _framed_model.ts): a fixed range of
// seeds, each two framed() ends over a memory link with a random framing, options and schedule
// of sends, writes, reads, half-closes, closes, cancels, aborts and faults, then the documented
// invariants. Deterministic per runtime and bounded: no sockets, no real timers.
// FRAMED_FUZZ_SEED=n runs one seed with its trace; FRAMED_FUZZ_SEEDS=a..b a range.

import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runFramedFuzz } from "./_framed_model.ts";

function seeds(): number[] {
  const one = process.env.FRAMED_FUZZ_SEED;
  if (one !== undefined && one !== "") return [Number(one)];
  const range = process.env.FRAMED_FUZZ_SEEDS ?? "1..500";
  const [a, b = a] = range.split("..").map(Number) as [number, number?];
  // A range that runs no seed would pass without testing anything.
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) {
    throw new RangeError(
      `FRAMED_FUZZ_SEEDS must be "a..b" with a <= b, or one seed: received ${range}`,
    );
  }
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

test("framed() lifecycle fuzz: seeded schedules keep every documented invariant", {
  timeout: 600_000,
}, async () => {
  const list = seeds();
  const verbose = list.length === 1;
  const failures: string[] = [];
  for (const seed of list) {
    const result = await runFramedFuzz(seed, { log: verbose });
    if (result.violations.length > 0) {
      failures.push(
        `seed ${seed} (FRAMED_FUZZ_SEED=${seed} for its trace):\n  ` +
          result.violations.slice(0, 8).join("\n  "),
      );
    }
  }
  assert.deepEqual(failures, [], failures.join("\n"));
});
