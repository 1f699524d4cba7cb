// Copyright 2026 the framewire authors. MIT license.
// `framewire demo`. Private.

import type { CliIo } from "./_io.ts";

/** `framewire demo --help`. */
export const DEMO_HELP: string = "framewire demo\n";

/** Runs `framewire demo`; returns the exit code. */
export function demo(_args: readonly string[], io: CliIo): Promise<number> {
  io.err("framewire demo: not written yet\n");
  return Promise.resolve(1);
}
