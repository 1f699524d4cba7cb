// Copyright 2026 the framewire authors. MIT license.
// The DATA frame allocator of reliable sessions.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ACK,
  DATA,
  DATA_HEADER,
  decodeHandshake,
  encodeAck,
  encodeHandshake,
  FLAG_CLOSING,
  FLAG_LOST,
  FLAG_RESUME,
  FrameAllocator,
  GOODBYE,
  HELLO,
  idToHex,
  newDataFrame,
  readU64,
  setDataAck,
  setDataSeq,
  WELCOME,
  writeU64,
} from "../../src/reliable/_protocol.ts";
import { SessionMachine } from "../../src/reliable/_session_machine.ts";

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
  // Above 16 KiB a frame gets a buffer of its own, of its size.
  const huge = new FrameAllocator().dataFrame(new Uint8Array(20_000).fill(5));
  assert.equal(huge.buffer.byteLength, DATA_HEADER + 20_000);
  assert.equal(huge[0], DATA);
  assert.equal(huge[DATA_HEADER + 19_999], 5);
  // A slab is used up to its last byte: 32 frames of 128 bytes fill the first 4 KiB slab.
  const exact = new FrameAllocator();
  const frames = Array.from(
    { length: 33 },
    () => exact.dataFrame(new Uint8Array(128 - DATA_HEADER)),
  );
  assert.equal(new Set(frames.slice(0, 32).map((f) => f.buffer)).size, 1);
  assert.notEqual(frames[32]!.buffer, frames[0]!.buffer);
  // One byte more than the rest of a slab: the frame goes into the next slab, whole.
  const over = new FrameAllocator();
  const full = Array.from({ length: 31 }, () => over.dataFrame(new Uint8Array(128 - DATA_HEADER)));
  const spill = over.dataFrame(new Uint8Array(129 - DATA_HEADER).fill(1));
  assert.notEqual(spill.buffer, full[0]!.buffer);
  assert.equal(spill.length, 129);
  assert.equal(spill[128], 1);
});

/** `allocator.textFrame(text)` with no limit: a frame. */
function textFrame(allocator: FrameAllocator, text: string): Uint8Array {
  const frame = allocator.textFrame(text, Infinity);
  assert.ok(frame instanceof Uint8Array);
  return frame;
}

test("FrameAllocator.textFrame: a DATA frame of the string's UTF-8, seq and ack 0, next to byte frames; one that does not fit the rest of a slab goes into the next", () => {
  const utf8 = new TextEncoder();
  const allocator = new FrameAllocator();
  const texts = [
    "",
    "a",
    "h\u00e9llo \u20ac \u{1F600}",
    "\uD800 lone surrogate",
    "x".repeat(300),
    "\u00e9".repeat(5000), // 10,000 bytes: a slab of its own size
    "\u00fc".repeat(6000), // 12,000 bytes, but up to 18,000 for its length: a buffer of its own
    "\u20ac".repeat(700), // 3 bytes a character, as many as its length allows: 2,100 bytes
  ];
  const made: [Uint8Array, Uint8Array][] = [];
  for (let round = 0; round < 40; round++) {
    for (const text of texts) made.push([textFrame(allocator, text), utf8.encode(text)]);
    const bytes = new Uint8Array(round * 37).fill(round);
    made.push([allocator.dataFrame(bytes), bytes]);
  }
  // A string of 3-byte characters first in a fresh allocator (no room yet: a new slab).
  for (const text of ["\u20ac", "\u20ac".repeat(1000), "\uD800".repeat(100)]) {
    made.push([textFrame(new FrameAllocator(), text), utf8.encode(text)]);
  }
  // The room left in a 4 KiB slab is exactly 100 bytes: 60 characters of 2 bytes do not fit
  // (though 60 of 1 byte would), so they go into the next slab.
  const exact = new FrameAllocator();
  const first = textFrame(exact, "a");
  const filler = exact.dataFrame(
    new Uint8Array(4096 - first.length - DATA_HEADER - 100 - DATA_HEADER),
  );
  assert.equal(filler.buffer, first.buffer);
  const next = textFrame(exact, "\u00e9".repeat(60));
  assert.notEqual(next.buffer, first.buffer);
  const fits = textFrame(exact, "b".repeat(60));
  assert.equal(fits.buffer, next.buffer);
  made.push([first, utf8.encode("a")], [next, utf8.encode("\u00e9".repeat(60))], [
    fits,
    utf8.encode("b".repeat(60)),
  ]);
  // Checked once all are made: none was written over by a later one.
  for (const [frame, payload] of made) {
    assert.equal(frame[0], DATA);
    assert.deepEqual(frame.subarray(1, DATA_HEADER), new Uint8Array(DATA_HEADER - 1));
    assert.deepEqual(frame.subarray(DATA_HEADER), payload);
  }
});

test("FrameAllocator.textFrame: a string whose UTF-8 exceeds the limit gives its length and takes nothing from the slab", () => {
  // Before: it was encoded into the slab and its frame made (a large one copied into a buffer of
  // its own) before maxMessageSize refused it, and those slab bytes were never used again.
  const utf8 = new TextEncoder();
  const allocator = new FrameAllocator();
  const made: [Uint8Array, Uint8Array][] = [];
  const check = (frame: Uint8Array, payload: Uint8Array): Uint8Array => {
    made.push([frame, payload]);
    return frame;
  };
  const first = check(textFrame(allocator, "a"), utf8.encode("a"));
  // 2 bytes a character, 120 in all: encoded into the rest of this slab, and not taken there.
  assert.equal(allocator.textFrame("\u00e9".repeat(60), 100), 120);
  const next = check(textFrame(allocator, "b".repeat(50)), utf8.encode("b".repeat(50)));
  assert.ok(next.buffer === first.buffer && next.byteOffset === first.byteOffset + first.length);
  // Its header lies where the refused string's bytes were written.
  const later = check(allocator.dataFrame(new Uint8Array([4, 5])), new Uint8Array([4, 5]));
  // One that may need more than the rest: encoded into a new slab (V8: Bun encodes apart), where
  // the next frame starts at 0.
  assert.equal(allocator.textFrame("\u00e9".repeat(3000), 100), 6000);
  const fresh = check(allocator.dataFrame(new Uint8Array([1, 2, 3])), new Uint8Array([1, 2, 3]));
  assert.equal(fresh.byteOffset, "Bun" in globalThis ? later.byteOffset + later.length : 0);
  const after = check(textFrame(allocator, "c".repeat(40)), utf8.encode("c".repeat(40)));
  assert.ok(after.buffer === fresh.buffer && after.byteOffset === fresh.byteOffset + fresh.length);
  // One whose length could take more than a slab's frame: encoded on its own, no frame made.
  assert.equal(allocator.textFrame("\u00e9".repeat(9000), 100), 18000);
  // At the limit exactly: a frame.
  check(textFrame(allocator, "\u00e9".repeat(50)), utf8.encode("\u00e9".repeat(50)));
  assert.equal(allocator.textFrame("\u00e9".repeat(50), 100) instanceof Uint8Array, true);
  // The frames made where a refused one was encoded read as made: seq and ack 0, their payload.
  for (const [frame, payload] of made) {
    assert.equal(frame[0], DATA);
    assert.ok(frame.subarray(1, DATA_HEADER).every((byte) => byte === 0));
    assert.ok(frame.subarray(DATA_HEADER).every((byte, i) => byte === payload[i]));
    assert.equal(frame.length - DATA_HEADER, payload.length);
  }
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
  for (const big of [2n ** 53n, 2n ** 54n, 2n ** 56n, 2n ** 63n, 2n ** 64n - 1n]) {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, big);
    assert.equal(readU64(buf, 0), -1, String(big));
  }
});

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(text.replace(/ /g, "").match(/../g)!, (pair) => parseInt(pair, 16));

test("wire bytes: every frame type is laid out byte by byte as docs/protocol.md says", () => {
  // Literal bytes, not the module's constants: a changed type, flag, version or reason code
  // would otherwise encode and decode consistently on both sides and pass.
  const payload = new TextEncoder().encode("hi");
  for (const frame of [newDataFrame(payload), new FrameAllocator().dataFrame(payload)]) {
    setDataSeq(frame, 0x0102_0304_0506);
    setDataAck(frame, Number.MAX_SAFE_INTEGER);
    assert.equal(hex(frame), "01 0000010203040506 001fffffffffffff 6869".replace(/ /g, ""));
  }
  assert.equal(hex(encodeAck(ACK, 0x8000_0000)), "020000000080000000");
  assert.equal(hex(encodeAck(GOODBYE, 5)), "050000000000000005");
  const id = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  const idHex = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
  assert.equal(
    hex(encodeHandshake(HELLO, FLAG_RESUME | FLAG_CLOSING, id, 7)),
    `03 01 03 ${idHex} 0000000000000007`.replace(/ /g, ""),
  );
  assert.equal(hex(encodeHandshake(HELLO, FLAG_RESUME, id, 0)).slice(0, 6), "030101");
  assert.equal(hex(encodeHandshake(HELLO, FLAG_CLOSING, id, 0)).slice(0, 6), "030102");
  assert.equal(
    hex(encodeHandshake(WELCOME, FLAG_LOST, id, 2 ** 32)),
    `04 01 01 ${idHex} 0000000100000000`.replace(/ /g, ""),
  );
  assert.equal(hex(SessionMachine.reject("version", "v")), "060176");
  assert.equal(hex(SessionMachine.reject("closing", "")), "0602");
  assert.equal(hex(SessionMachine.reject("protocol", "é")), "0603c3a9");
  // And the other way: literal bytes decode to what they say.
  assert.deepEqual(decodeHandshake(fromHex(`03 01 03 ${idHex} 0000000000000007`)), {
    type: 3,
    version: 1,
    flags: 3,
    id,
    lastReceived: 7,
  });
  assert.equal(idToHex(id), idHex);
  assert.equal(idToHex(Uint8Array.of(0, 1, 0xab)), "0001ab");
  // Every byte value, as two lowercase digits (idToHex joins them from a table).
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(idToHex(all), [...all].map((b) => (b < 16 ? "0" : "") + b.toString(16)).join(""));
});

test("decodeHandshake: another version is reported from 2 bytes on, whatever its length", () => {
  // Too short to hold a version: malformed.
  assert.equal(decodeHandshake(Uint8Array.of(3)), undefined);
  // Nothing past the version byte is read, flags included (docs/protocol.md, "version").
  assert.equal(decodeHandshake(Uint8Array.of(3, 2))?.version, 2);
  assert.equal(decodeHandshake(Uint8Array.of(3, 1)), undefined);
  // Version 1 must be exactly 27 bytes.
  assert.equal(decodeHandshake(new Uint8Array(26).fill(1, 1, 2)), undefined);
  assert.equal(decodeHandshake(new Uint8Array(28).fill(1, 1, 2)), undefined);
  // Another version: only the version is read (its layout may differ), at any length.
  for (const length of [3, 4, 27, 40]) {
    const frame = new Uint8Array(length);
    frame[0] = 3;
    frame[1] = 2;
    assert.equal(decodeHandshake(frame)?.version, 2, `${length} bytes`);
  }
});
