// Copyright 2026 the framewire authors. MIT license.
// Test helper: records the timers code under test sets and clears through the global
// setTimeout/clearTimeout (real timers, which still fire), until restore().

/** What {@linkcode spyTimers} saw, and how to stop. */
export interface TimerSpy {
  /** Handles returned by `setTimeout` while spying, in order. */
  readonly made: unknown[];
  /** Handles passed to `clearTimeout` while spying, in order. */
  readonly cleared: unknown[];
  /** Handles made and not cleared (nor known to have fired: a fired one still counts). */
  readonly pending: Set<unknown>;
  /** Puts the real functions back and clears every timer still pending. */
  restore(): void;
}

/** Replaces the global `setTimeout`/`clearTimeout` with recording wrappers. */
export function spyTimers(): TimerSpy {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const made: unknown[] = [];
  const cleared: unknown[] = [];
  const pending = new Set<unknown>();
  globalThis.setTimeout = ((...args: Parameters<typeof realSet>) => {
    const handle = realSet(...args);
    made.push(handle);
    pending.add(handle);
    return handle;
  }) as typeof realSet;
  globalThis.clearTimeout = ((handle: Parameters<typeof realClear>[0]) => {
    cleared.push(handle);
    pending.delete(handle);
    realClear(handle);
  }) as typeof realClear;
  return {
    made,
    cleared,
    pending,
    restore(): void {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
      for (const handle of pending) realClear(handle as Parameters<typeof realClear>[0]);
    },
  };
}
