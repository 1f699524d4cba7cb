// Copyright 2026 the framewire authors. MIT license.
// `framewire demo --reliable`: the hook for the reliable-sessions demo. Private.
//
// The plan: the same client, proxy and server as the plain demo, but over
// `reliableClient` / `reliableServer` (src/reliable/), with a proxy that kills
// the link mid-stream; the story shows the reconnect, the replay of what was
// not confirmed, the duplicates dropped, and ends with every message
// delivered exactly once and in order.

import type { DemoOptions } from "./_demo.ts";
import type { CliIo } from "./_io.ts";

/** Runs `framewire demo --reliable`; returns the exit code. */
export function demoReliable(_options: DemoOptions, io: CliIo): Promise<number> {
  io.err("framewire demo: --reliable is not available yet (reliable sessions are being built)\n");
  return Promise.resolve(1);
}
