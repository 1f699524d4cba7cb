// Copyright 2026 the framewire authors. MIT license.
// A small seeded PRNG, so that the demo prints the same story for a seed (the tests and the bench
// use it too, for seeded chunkings and round orders). Private.

/** mulberry32: returns a function yielding floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
