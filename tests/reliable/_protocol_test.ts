// Copyright 2026 the framewire authors. MIT license.
// The DATA frame allocator of reliable sessions.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DATA,
  DATA_HEADER,
  FrameAllocator,
  readU64,
  writeU64,
} from "../../src/reliable/_protocol.ts";

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

test("writeU64/readU64: big-endian round trip up to 2^53 - 1, at any offset; -1 from 2^53 on", () => {
  const values = [
    0,
    1,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0x100_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0000 * 0x1234 + 0x5678_9abc,
    2 ** 48 + 1,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const value of values) {
    for (const at of [0, 5]) {
      const buf = new Uint8Array(at + 8);
      writeU64(buf, at, value);
      const expected = new Uint8Array(8);
      new DataView(expected.buffer).setBigUint64(0, BigInt(value));
      assert.deepEqual(buf.subarray(at), expected, `${value} at ${at}`);
      assert.equal(readU64(buf, at), value, `${value} at ${at}`);
    }
  }
  for (const big of [2n ** 53n, 2n ** 54n, 2n ** 64n - 1n]) {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, big);
    assert.equal(readU64(buf, 0), -1, String(big));
  }
});
