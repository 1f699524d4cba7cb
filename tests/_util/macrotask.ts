// Copyright 2026 the framewire authors. MIT license.
// Test helper: an ordering barrier between the microtasks of in-memory streams and a test's
// assertions. Not a sleep: nothing in it depends on how long anything takes.

const later = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;

/**
 * Resolves in a later macrotask (`setImmediate`, where the runtime has it, else
 * `setTimeout(0)`). Every microtask queued before it, and every one those queue in turn, has run
 * by then, however many turns that takes on this runtime; so has a `setImmediate` callback queued
 * before it. A count of `await null` turns can fall short where a runtime's streams take more of
 * them: a test that asserts that something did not happen then passes without testing it.
 */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    if (later !== undefined) later(resolve);
    else setTimeout(resolve, 0);
  });
}
