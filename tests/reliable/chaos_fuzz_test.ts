// Copyright 2026 the framewire authors. MIT license.
// Model-based chaos fuzz of reliable sessions (see _chaos.ts): a fixed range of seeds, each a
// pseudo-random schedule of sends, faults, clock advances, closes and server restarts on the
// memory network and a fake clock, then the documented invariants. Deterministic and bounded:
// no sockets, no real timers. CHAOS_SEED=n runs one seed with its trace; CHAOS_SEEDS=a..b a range.

import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runChaos } from "./_chaos.ts";

function seeds(): number[] {
  const one = process.env.CHAOS_SEED;
  if (one !== undefined && one !== "") return [Number(one)];
  const range = process.env.CHAOS_SEEDS ?? "1..200";
  const [a, b = a] = range.split("..").map(Number) as [number, number?];
  // A range that runs no seed would pass without testing anything.
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) {
    throw new RangeError(`CHAOS_SEEDS must be "a..b" with a <= b, or one seed: received ${range}`);
  }
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

test("reliable chaos fuzz: seeded schedules keep every documented invariant", {
  timeout: 60_000,
}, async () => {
  const list = seeds();
  const verbose = list.length === 1;
  const failures: string[] = [];
  for (const seed of list) {
    const result = await runChaos(seed, { log: verbose });
    if (result.violations.length > 0) {
      failures.push(
        `seed ${seed} (CHAOS_SEED=${seed} for its trace):\n  ` +
          result.violations.slice(0, 8).join("\n  "),
      );
    }
  }
  assert.deepEqual(failures, [], failures.join("\n"));
});
