// Copyright 2026 the framewire authors. MIT license.
// The seeds a seeded fuzz test runs: one from `<name>_SEED` (run with its trace), a range
// "a..b" from `<name>_SEEDS`, or the default range.

import process from "node:process";

/** The seeds to run, from `${name}_SEED` or `${name}_SEEDS` ("a..b"), else `fallback`. */
export function seedsFromEnv(name: string, fallback: string): number[] {
  const one = process.env[`${name}_SEED`];
  if (one !== undefined && one !== "") return [Number(one)];
  const range = process.env[`${name}_SEEDS`] ?? fallback;
  const [a, b = a] = range.split("..").map(Number) as [number, number?];
  // A range that runs no seed would pass without testing anything.
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) {
    throw new RangeError(
      `${name}_SEEDS must be "a..b" with a <= b, or one seed: received ${range}`,
    );
  }
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/**
 * Runs `run` for every seed and returns one line per seed that broke an invariant (its first
 * eight violations, and how to replay it with `${name}_SEED`); a single seed runs with its trace.
 */
export async function seedFailures(
  name: string,
  seeds: number[],
  run: (seed: number, options: { log: boolean }) => Promise<{ violations: string[] }>,
): Promise<string[]> {
  const log = seeds.length === 1;
  const failures: string[] = [];
  for (const seed of seeds) {
    const { violations } = await run(seed, { log });
    if (violations.length > 0) {
      failures.push(
        `seed ${seed} (${name}_SEED=${seed} for its trace):\n  ` +
          violations.slice(0, 8).join("\n  "),
      );
    }
  }
  return failures;
}
