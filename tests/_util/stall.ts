// Copyright 2026 the framewire authors. MIT license.
// Test helper: blocks the event loop, as a long synchronous computation or a GC pause does. Not a
// sleep to wait for something: nothing runs meanwhile, and the test asserts on what happens
// after it, never on how long anything took.

/**
 * Blocks this thread (timers, I/O, everything) until `performance.now()`
 * reaches `until`. Timers that fall due meanwhile fire after it, late.
 */
export function stallUntil(until: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let left = until - performance.now(); left > 0; left = until - performance.now()) {
    Atomics.wait(cell, 0, 0, left);
  }
}
