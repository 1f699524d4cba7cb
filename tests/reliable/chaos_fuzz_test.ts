// Copyright 2026 the framewire authors. MIT license.
// Model-based chaos fuzz of reliable sessions (see _chaos.ts): a fixed range of seeds, each a
// pseudo-random schedule of sends, faults, clock advances, closes and server restarts on the
// memory network and a fake clock, then the documented invariants. Deterministic and bounded:
// no sockets, no real timers. CHAOS_SEED=n runs one seed with its trace; CHAOS_SEEDS=a..b a range.

import { test } from "node:test";
import assert from "node:assert/strict";
import { runChaos } from "./_chaos.ts";
import { seedFailures, seedsFromEnv } from "../_util/seeds.ts";

test("reliable chaos fuzz: seeded schedules keep every documented invariant", {
  timeout: 60_000,
}, async () => {
  const failures = await seedFailures("CHAOS", seedsFromEnv("CHAOS", "1..200"), runChaos);
  assert.deepEqual(failures, [], failures.join("\n"));
});
