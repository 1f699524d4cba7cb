// Copyright 2026 the framewire authors. MIT license.
// The DATA frame allocator of reliable sessions.

import { test } from "node:test";
import assert from "node:assert/strict";
import { DATA, DATA_HEADER, FrameAllocator } from "../../src/reliable/_protocol.ts";

test("FrameAllocator: slabs start at 4 KiB and double up to the session's send buffer size", () => {
  const payload = new Uint8Array(100).fill(9);
  const sizes = (allocator: FrameAllocator, frames: number): number[] => {
    const seen = new Set<ArrayBufferLike>();
    const out: number[] = [];
    for (let i = 0; i < frames; i++) {
      const frame = allocator.dataFrame(payload);
      assert.equal(frame[0], DATA);
      assert.deepEqual(frame.subarray(DATA_HEADER), payload);
      if (!seen.has(frame.buffer)) out.push(frame.buffer.byteLength);
      seen.add(frame.buffer);
    }
    return out;
  };
  // One small message pins 4 KiB, not 256 KiB.
  assert.deepEqual(sizes(new FrameAllocator(), 1), [4096]);
  // Busy: 4, 8, ... 256 KiB, then 256 KiB slabs.
  assert.deepEqual(sizes(new FrameAllocator(), 12_000).slice(0, 8), [
    4096,
    8192,
    16384,
    32768,
    65536,
    131072,
    262144,
    262144,
  ]);
  // A small send buffer caps the slabs.
  assert.ok(sizes(new FrameAllocator(8192), 1000).every((size) => size <= 8192));
  // A frame larger than the slab still fits in one of its own size (up to 16 KiB).
  const big = new FrameAllocator(4096).dataFrame(new Uint8Array(10_000));
  assert.equal(big.length, DATA_HEADER + 10_000);
});
