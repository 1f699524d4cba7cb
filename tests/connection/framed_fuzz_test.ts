// Copyright 2026 the framewire authors. MIT license.
// Model-based fuzz of framed() connections' lifecycle (see _framed_model.ts): a fixed range of
// seeds, each two framed() ends over a memory link with a random framing, options and schedule
// of sends, writes, reads, half-closes, closes, cancels, aborts and faults, then the documented
// invariants. Deterministic per runtime and bounded: no sockets, no real timers.
// FRAMED_FUZZ_SEED=n runs one seed with its trace; FRAMED_FUZZ_SEEDS=a..b a range.

import { test } from "node:test";
import assert from "node:assert/strict";
import { runFramedFuzz } from "./_framed_model.ts";
import { seedFailures, seedsFromEnv } from "../_util/seeds.ts";

test("framed() lifecycle fuzz: seeded schedules keep every documented invariant", {
  timeout: 600_000,
}, async () => {
  const failures = await seedFailures(
    "FRAMED_FUZZ",
    seedsFromEnv("FRAMED_FUZZ", "1..500"),
    runFramedFuzz,
  );
  assert.deepEqual(failures, [], failures.join("\n"));
});
