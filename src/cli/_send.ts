// Copyright 2026 the framewire authors. MIT license.
// `framewire send`. Private.

import type { CliIo } from "./_io.ts";

/** `framewire send --help`. */
export const SEND_HELP: string = "framewire send\n";

/** Runs `framewire send`; returns the exit code. */
export function send(_args: readonly string[], io: CliIo): Promise<number> {
  io.err("framewire send: not written yet\n");
  return Promise.resolve(1);
}
