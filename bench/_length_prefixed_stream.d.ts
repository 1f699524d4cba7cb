// Copyright 2026 the framewire authors. MIT license.
// Types for length-prefixed-stream 2.0.0 (it ships none): its decoder and
// encoder are readable-stream v3 Transforms carrying varint-prefixed frames.

import type { Transform } from "node:stream";

declare const lps: {
  decode(options?: { limit?: number; allowEmpty?: boolean }): Transform;
  encode(): Transform;
};
export default lps;
