// Copyright 2026 the framewire authors. MIT license.
// Test helper: records the timers code under test sets and clears through the global
// setTimeout/clearTimeout (real timers, which still fire), until restore().

import { fileURLToPath } from "node:url";

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

/** Options for {@linkcode spyTimers}. */
export interface SpyTimersOptions {
  /**
   * Records only the timers set by code of this module (one of the frames of the stack at the
   * `setTimeout` call is in it): the code under test, not whatever else in the process sets a
   * timer meanwhile (a helper, or work an earlier test left running). Timers it does not record
   * are not cleared by `restore()` either. Default: every timer.
   */
  from?: URL;
}

/** The files of the frames of `stack` (V8's and JavaScriptCore's formats), as paths. */
function stackFiles(stack: string | undefined): string[] {
  const files: string[] = [];
  for (const line of (stack ?? "").split("\n")) {
    const m = line.match(/((?:file:\/\/)?\/[^\s()]*?):\d+:\d+\)?\s*$/);
    if (m !== null) files.push(m[1]!.startsWith("file:") ? fileURLToPath(m[1]!) : m[1]!);
  }
  return files;
}

/** Replaces the global `setTimeout`/`clearTimeout` with recording wrappers. */
export function spyTimers(options: SpyTimersOptions = {}): TimerSpy {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const made: unknown[] = [];
  const cleared: unknown[] = [];
  const pending = new Set<unknown>();
  const from = options.from === undefined ? undefined : fileURLToPath(options.from);
  // A filter that could not read this runtime's stacks would record nothing, and a test that
  // expects no timer would pass whatever the code did: this file's own frame must be found.
  if (
    from !== undefined && !stackFiles(new Error().stack).includes(fileURLToPath(import.meta.url))
  ) {
    throw new Error(`spyTimers cannot read this runtime's stack traces:\n${new Error().stack}`);
  }
  globalThis.setTimeout = ((...args: Parameters<typeof realSet>) => {
    const handle = realSet(...args);
    if (from !== undefined && !stackFiles(new Error().stack).includes(from)) return handle;
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
