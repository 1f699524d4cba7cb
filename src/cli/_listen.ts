// Copyright 2026 the framewire authors. MIT license.
// `framewire listen`. Private.

import type { CliIo } from "./_io.ts";

/** `framewire listen --help`. */
export const LISTEN_HELP: string = "framewire listen\n";

/** Runs `framewire listen`; returns the exit code. */
export function listen(_args: readonly string[], io: CliIo): Promise<number> {
  io.err("framewire listen: not written yet\n");
  return Promise.resolve(1);
}
