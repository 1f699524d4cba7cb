// Frames above 64 KiB: a decoder allocates one only once an eighth of it has
// arrived, on every format whose header declares the length.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  decimalHeader,
  fixedSize,
  type Framing,
  lengthPrefixed,
  netstring,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import { ByteQueue } from "../../src/framing/_byte_queue.ts";
import { EAGER_FRAME } from "../../src/framing/_frame_buffers.ts";
import type { HeaderDecoder } from "../../src/framing/_header_decoder.ts";
import { isBun } from "../_util/runtime.ts";
import { assertSplitsAlike, cutsArbitrary, decodeWays, label, payloadOf } from "./_formats.ts";

/** Formats, with the smallest payload each can carry and its trailer length. */
const cases: { framing: Framing; min: number; trailer: number }[] = [
  { framing: lengthPrefixed(), min: 0, trailer: 0 },
  { framing: lengthPrefixed({ width: 3, counts: "frame" }), min: 0, trailer: 0 },
  { framing: lengthPrefixed({ width: 4, offset: 2, endian: "little" }), min: 2, trailer: 0 },
  { framing: lengthPrefixed({ width: 8 }), min: 0, trailer: 0 },
  { framing: varint(), min: 0, trailer: 0 },
  { framing: decimalHeader(), min: 0, trailer: 0 },
  { framing: netstring(), min: 0, trailer: 1 },
];

/**
 * Asserts that `actual` holds the same frames as `expected`, naming the first
 * difference (a diff of arrays this size takes assert minutes to print).
 */
function assertFrames(actual: (Uint8Array | undefined)[], expected: Uint8Array[]): void {
  assert.equal(actual.length, expected.length, "frame count");
  for (const [k, frame] of expected.entries()) {
    const got = actual[k];
    assert.ok(got !== undefined, `frame ${k} missing`);
    assert.equal(got.length, frame.length, `frame ${k} length`);
    const at = frame.findIndex((byte, i) => got[i] !== byte);
    assert.equal(at, -1, `frame ${k} differs at byte ${at}`);
  }
}

/** Small and large payload sizes (around the eager limit too). */
const sizeArbitrary = (min: number) =>
  fc.oneof(
    fc.integer({ min, max: 300 }),
    fc.integer({ min: EAGER_FRAME - 8, max: EAGER_FRAME + 8 }),
    fc.integer({ min: EAGER_FRAME + 1, max: 400_000 }),
  );

for (const [i, { framing, min, trailer }] of cases.entries()) {
  const name = label(framing, i);

  test(`${name}: a frame above 64 KiB is allocated once an eighth of it has arrived, and decodes as before`, () => {
    fc.assert(
      fc.property(
        // Sizes, not payloads: a counterexample of large arrays would take minutes to print.
        fc.array(sizeArbitrary(min), { minLength: 1, maxLength: 5 }).chain((sizes) => {
          const wireLength = sizes.reduce(
            (n, size) => n + framing.encodedLength(new Uint8Array(size)),
            0,
          );
          return fc.tuple(fc.constant(sizes), cutsArbitrary(wireLength));
        }),
        ([sizes, cuts]) => {
          const payloads = sizes.map((n, k) => payloadOf(n, k));
          const frames = payloads.map((p) => framing.encode(p));
          const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          const starts: number[] = [];
          let at = 0;
          for (const f of frames) {
            starts.push(at);
            wire.set(f, at);
            at += f.length;
          }
          let pushed = 0;
          let returned = 0;
          let consumed = 0;
          const asked: number[] = [];
          const decoder = framing.decoder({
            allocate: (n) => {
              // The frame being started is the next one to be returned.
              const k = returned;
              const header = frames[k]!.length - payloads[k]!.length - trailer;
              const arrived = pushed - starts[k]! - header;
              assert.ok(
                n <= EAGER_FRAME || arrived * 8 >= n,
                `frame ${k} of ${n} bytes allocated when ${arrived} had arrived`,
              );
              asked.push(k);
              return new Uint8Array(n);
            },
          });
          const out: Uint8Array[] = [];
          let start = 0;
          for (const cut of [...cuts, wire.length]) {
            decoder.push(wire.slice(start, cut));
            pushed = cut;
            start = cut;
            for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
              out.push(f.slice());
              consumed = starts[returned]! + frames[returned]!.length;
              returned++;
            }
            assert.equal(decoder.bufferedBytes, pushed - consumed);
          }
          decoder.end();
          assertFrames(out, payloads);
          // One allocation per frame at most, in order.
          assert.deepEqual(asked, [...new Set(asked)].sort((a, b) => a - b));
          // The same frames with buffers reused.
          const reused = framing.decoder({ reuseBuffers: true });
          const again: Uint8Array[] = [];
          start = 0;
          for (const cut of [...cuts, wire.length]) {
            reused.push(wire.slice(start, cut));
            start = cut;
            for (let f = reused.next(); f !== undefined; f = reused.next()) again.push(f.slice());
          }
          reused.end();
          assertFrames(again, payloads);
        },
      ),
      { numRuns: 40 },
    );
  });

  test(`${name}: input that ends inside a large frame is a truncated payload, whether or not it was allocated`, () => {
    const size = 200_000;
    const wire = framing.encode(payloadOf(size, 1));
    const header = wire.length - size - trailer;
    // An eighth of the payload is the point where the buffer is allocated.
    // Counted from the frame's first byte: `offset` bytes travel before the length field.
    for (
      const received of [min, min + 1, size / 8 - 1, size / 8, size - 1, size, size + trailer - 1]
    ) {
      if (received >= size + trailer) continue;
      let asked = 0;
      const decoder = framing.decoder({
        allocate: (n) => {
          asked++;
          return new Uint8Array(n);
        },
      });
      decoder.push(wire.slice(0, header + received));
      assert.equal(decoder.next(), undefined);
      assert.equal(asked, received * 8 >= size ? 1 : 0, `after ${received} bytes`);
      assert.equal(decoder.bufferedBytes, header + received);
      assert.throws(() => decoder.end(), (error) => {
        assert.ok(error instanceof TruncatedFrameError);
        assert.equal(error.part, "payload");
        assert.equal(error.received, received);
        assert.equal(error.expected, size + trailer);
        return true;
      });
    }
  });
}

test("fixedSize() above 64 KiB allocates a frame once an eighth of it has arrived", () => {
  const size = 100_000;
  const sizes: number[] = [];
  const decoder = fixedSize(size).decoder({
    allocate: (n) => {
      sizes.push(n);
      return new Uint8Array(n);
    },
  });
  const wire = payloadOf(2 * size, 3);
  decoder.push(wire.slice(0, size / 8 - 1));
  assert.equal(decoder.next(), undefined);
  assert.deepEqual(sizes, []);
  decoder.push(wire.slice(size / 8 - 1, size / 8));
  assert.equal(decoder.next(), undefined);
  assert.deepEqual(sizes, [size]);
  decoder.push(wire.slice(size / 8, size + 10));
  assertFrames([decoder.next()], [wire.subarray(0, size)]);
  // The second frame has 10 bytes: it waits.
  assert.equal(decoder.next(), undefined);
  assert.deepEqual(sizes, [size]);
  decoder.push(wire.slice(size + 10));
  assertFrames([decoder.next()], [wire.subarray(size)]);
  assert.deepEqual(sizes, [size, size]);
});

test("allocate() returning a length-tracking view of a resizable buffer: the frame keeps its length when that buffer grows while it fills", () => {
  const size = 100_000;
  const buffer = new ArrayBuffer(size, { maxByteLength: 2 * size });
  const decoder = fixedSize(size).decoder({ allocate: () => new Uint8Array(buffer) });
  const wire = payloadOf(size, 5);
  decoder.push(wire.slice(0, size / 4)); // past an eighth: the frame's buffer is allocated
  assert.equal(decoder.next(), undefined);
  buffer.resize(2 * size); // the application's memory, grown while the frame fills
  decoder.push(wire.slice(size / 4));
  // Before: a TypeError that said bytes held for decoding "were detached or shrunk".
  const frame = decoder.next();
  assert.ok(frame !== undefined);
  assert.equal(frame.buffer, buffer); // in the memory allocate() returned
  assert.equal(frame.length, size);
  assertFrames([frame], [wire]);
  buffer.resize(size / 2);
  assert.equal(frame.length, 0); // a view of fixed length (no length-tracking one: it would be 50,000)
});

test("a header alone makes a decoder hold nothing more, up to the default maxFrameLength", () => {
  let asked = 0;
  const decoder = lengthPrefixed().decoder({
    allocate: (n) => {
      asked++;
      return new Uint8Array(n);
    },
  });
  // 4 MiB declared, the default limit; then the payload a byte at a time up to an eighth.
  decoder.push(new Uint8Array([0, 0x40, 0, 0]));
  for (let i = 0; i < 512 * 1024 - 1; i++) {
    if (i % 4096 === 0) assert.equal(decoder.next(), undefined);
    decoder.push(new Uint8Array([i & 0xff]));
  }
  assert.equal(decoder.next(), undefined);
  assert.equal(asked, 0);
  decoder.push(new Uint8Array([0xff]));
  assert.equal(decoder.next(), undefined);
  assert.equal(asked, 1);
  assert.equal(decoder.bufferedBytes, 4 + 512 * 1024);
});

test("with reuseBuffers, a large frame that fits a reused buffer is read into it at once", () => {
  const size = 100_000;
  const framing = lengthPrefixed();
  const decoder = framing.decoder({ reuseBuffers: true }) as HeaderDecoder;
  const wire = framing.encode(payloadOf(size, 5));
  // Two frames fill both reused buffers (each one had to wait for an eighth of it).
  for (let k = 0; k < 2; k++) {
    decoder.push(wire.slice(0, 100));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.readTarget()?.length, undefined);
    decoder.push(wire.slice(100));
    assertFrames([decoder.next()], [wire.subarray(4)]);
  }
  // The third goes into the first buffer again, which is large enough: no wait.
  decoder.push(wire.slice(0, 100));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.readTarget()?.length, size - 96);
  // A larger frame does not fit: it waits.
  decoder.push(wire.slice(100));
  assertFrames([decoder.next()], [wire.subarray(4)]);
  const larger = framing.encode(payloadOf(size + 1, 6));
  decoder.push(larger.slice(0, 100));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.readTarget()?.length, undefined);
  decoder.push(larger.slice(100));
  assertFrames([decoder.next()], [larger.subarray(4)]);
});

test("a large frame that trickles in a byte at a time decodes, and the frames after it too", () => {
  for (const framing of [lengthPrefixed(), netstring(), lengthPrefixed({ offset: 2 })]) {
    const payloads = [payloadOf(100_000, 7), payloadOf(3, 8), payloadOf(70_000, 9)];
    const wire = new Uint8Array(payloads.reduce((n, p) => n + framing.encodedLength(p), 0));
    let at = 0;
    for (const p of payloads) at += framing.encodeInto(p, wire, at);
    const decoder = framing.decoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) {
      decoder.push(wire.slice(i, i + 1));
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f.slice());
      if (i % 10_007 === 0) {
        assert.equal(
          decoder.bufferedBytes,
          i + 1 - out.reduce((n, f) => n + framing.encodedLength(f), 0),
        );
      }
    }
    decoder.end();
    assertFrames(out, payloads);
  }
});

test("a decoder hands back no bytes while a large frame waits for its buffer, as while one is filled", () => {
  // fixedSize: a header of 0 bytes.
  for (const framing of [lengthPrefixed(), fixedSize(100_000)]) {
    const decoder = framing.decoder() as HeaderDecoder;
    const wire = framing.encode(payloadOf(100_000, 1));
    decoder.push(wire.slice(0, 14));
    assert.equal(decoder.next(), undefined);
    assert.deepEqual(decoder.takeBuffered(), [], framing.name);
    assert.equal(decoder.bufferedBytes, 14);
    decoder.push(wire.slice(14));
    assertFrames([decoder.next()], [payloadOf(100_000, 1)]);
  }
});

test("while a large frame waits, a decoder copies the small chunks it is given (it holds no object per chunk)", () => {
  // Observable from outside: detaching a small chunk's memory after push() does not reach the
  // decoder (the memory held per chunk object is what the copy is for; see ByteQueue.gather).
  // fixedSize: a header of 0 bytes.
  for (const framing of [lengthPrefixed(), fixedSize(100_000)]) {
    const payload = payloadOf(100_000, 4);
    const wire = framing.encode(payload);
    const decoder = framing.decoder();
    decoder.push(wire.slice(0, 1000)); // the header and the start: the frame waits
    assert.equal(decoder.next(), undefined);
    for (let at = 1000; at < 20_000; at += 100) {
      const chunk = wire.slice(at, at + 100);
      decoder.push(chunk);
      structuredClone(chunk.buffer, { transfer: [chunk.buffer] }); // detaches `chunk`
      assert.equal(chunk.length, 0);
    }
    decoder.push(wire.slice(20_000));
    assertFrames([decoder.next()], [payload]);
  }
});

test("a frame of exactly 64 KiB gets its buffer with its header; one byte more waits for an eighth", () => {
  for (const [size, asked] of [[EAGER_FRAME, 1], [EAGER_FRAME + 1, 0]] as const) {
    const framing = lengthPrefixed();
    let count = 0;
    const decoder = framing.decoder({
      allocate: (n) => {
        count++;
        return new Uint8Array(n);
      },
    });
    const wire = framing.encode(payloadOf(size, 2));
    decoder.push(wire.slice(0, 5));
    assert.equal(decoder.next(), undefined);
    assert.equal(count, asked, `${size} bytes`);
    decoder.push(wire.slice(5));
    assertFrames([decoder.next()], [payloadOf(size, 2)]);
    assert.equal(count, 1);
  }
});

test("fixedSize() input that ends inside a large frame is a truncated payload, whether or not it was allocated", () => {
  const size = 200_000;
  // fixedSize has no header: a frame waiting for its buffer has a header length of 0.
  for (const received of [1, size / 8 - 1, size / 8, size - 1]) {
    const decoder = fixedSize(size).decoder();
    decoder.push(payloadOf(received, 1));
    assert.equal(decoder.next(), undefined);
    assert.throws(() => decoder.end(), (error) => {
      assert.ok(error instanceof TruncatedFrameError, String(error));
      assert.equal(error.part, "payload", `after ${received} bytes`);
      assert.equal(error.received, received);
      assert.equal(error.expected, size);
      return true;
    });
  }
});

test("readTarget() of a frame whose memory was transferred with an earlier frame's says so", () => {
  // Frames that span chunks share a slab: transferring one detaches the one being filled.
  const framing = lengthPrefixed();
  const decoder = framing.decoder() as HeaderDecoder;
  const first = framing.encode(payloadOf(100, 1));
  decoder.push(first.slice(0, 50));
  assert.equal(decoder.next(), undefined);
  decoder.push(first.slice(50));
  const frame = decoder.next()!;
  decoder.push(framing.encode(payloadOf(100, 2)).slice(0, 50));
  assert.equal(decoder.next(), undefined);
  structuredClone(frame.buffer, { transfer: [frame.buffer] });
  assert.throws(() => decoder.readTarget(), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /bytes held for decoding were detached/);
    return true;
  });
});

test("a header with a large offset that arrives a byte per chunk is gathered a bounded number of times, also while its large frame waits for its buffer", () => {
  // Gathered again per chunk, the offset bytes were copied quadratically often: with offset 65535,
  // one 64 KiB frame pushed a byte at a time took 80 s of CPU, one of 1 MiB 190 s (the header was
  // gathered again on every next() while the frame waited for an eighth of itself).
  const offset = 4096;
  const peekInto = ByteQueue.prototype.peekInto;
  let peeked = 0;
  ByteQueue.prototype.peekInto = function (target, targetOffset, max) {
    const n = peekInto.call(this, target, targetOffset, max);
    peeked += n;
    return n;
  };
  try {
    for (const framing of [lengthPrefixed({ offset }), varint({ offset })]) {
      // A small frame, and one above EAGER_FRAME that waits for an eighth of itself.
      for (const size of [100, EAGER_FRAME * 3]) {
        const payload = payloadOf(offset + size, size);
        const wire = framing.encode(payload);
        const decoder = framing.decoder();
        const frames: Uint8Array[] = [];
        peeked = 0;
        for (let i = 0; i < wire.length; i++) {
          decoder.push(wire.slice(i, i + 1));
          for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
        }
        decoder.end();
        assert.deepEqual(frames, [payload], `${framing.name}, ${size} B`);
        // A few gathers of the offset bytes and the length (at most 8 bytes of it).
        assert.ok(
          peeked <= 16 * (offset + 8),
          `${framing.name}, ${size} B: ${peeked} bytes gathered`,
        );
      }
    }
  } finally {
    ByteQueue.prototype.peekInto = peekInto;
  }
});

test("frames of 32 bytes inside one chunk are copies of their own on Bun, 33 bytes views (V8: both views), from every return path", () => {
  // COPY_BELOW: 33 on Bun, 0 on V8.
  const te = new TextEncoder();
  // A frame is its payload, offset bytes (a type byte) included: 32 bytes, then 33.
  const formats: Framing[] = [
    lengthPrefixed(), // the inline u32be path of next(), and takeAll()'s loop
    lengthPrefixed({ width: 2, endian: "little" }), // the inline path of other plain headers
    lengthPrefixed({ offset: 1 }), // parse(); the offset byte moved next to the payload
    lengthPrefixed({ offset: 1, lengthAdjustment: -4 }), // postgres
    lengthPrefixed({ width: 3, lengthAdjustment: 6 }), // http2
    varint(), // the inline varint path of next(), and takeAll()'s loop
    varint({ offset: 1 }), // mqtt
    decimalHeader(),
    netstring(), // a trailer
    fixedSize(32),
    fixedSize(33),
  ];
  for (const framing of formats) {
    const fixed = framing.name.startsWith("fixed");
    for (const n of fixed ? [framing.maxFrameLength] : [32, 33]) {
      const payload = te.encode("abcdefghijklmnopqrstuvwxyz0123456789".slice(0, n));
      // A frame after it: the first does not end its chunk (8 bytes: http2's header needs 6).
      const next = te.encode("z".repeat(fixed ? n : 8));
      for (const batch of [false, true]) {
        const wire = new Uint8Array([...framing.encode(payload), ...framing.encode(next)]);
        const expected = [...payload];
        const decoder = framing.decoder() as HeaderDecoder;
        decoder.push(wire);
        const frames: Uint8Array[] = [];
        if (batch) decoder.takeAll(frames);
        else for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
        const where = `${framing.name} ${payload.length} B payload, ${
          batch ? "takeAll()" : "next()"
        }`;
        assert.equal(frames.length, 2, where);
        const frame = frames[0]!;
        // The whole frame, offset bytes included, and nothing else.
        assert.deepEqual([...frame], expected, where);
        if (isBun && n < 33) {
          assert.notEqual(frame.buffer, wire.buffer, `${where}: a copy`);
          assert.equal(frame.buffer.byteLength, frame.length, `${where}: a buffer of its own`);
          wire.fill(0x21); // the chunk changes: a copy does not
          assert.deepEqual([...frame], expected, where);
        } else {
          assert.equal(frame.buffer, wire.buffer, `${where}: a view into the chunk`);
        }
      }
    }
  }
});

test("plain headers (parsed inline by next() and takeAll()) decode as parse() does, with the same errors, at every split", () => {
  const limit = 300;
  // Each format, the lengths it carries (the limit among them), and headers over the limit
  // (none where every header is within it), with the top bit set too.
  const formats: [Framing, number[], number[][]][] = [
    [lengthPrefixed({ width: 1, maxFrameLength: 200 }), [0, 1, 5, 200, 199, 0, 2], [[201], [255]]],
    [lengthPrefixed({ width: 2, maxFrameLength: limit }), [0, 1, 5, 255, 256, 300, 3], [[1, 45], [
      255,
      255,
    ]]],
    [
      lengthPrefixed({ width: 2, endian: "little", maxFrameLength: limit }),
      [0, 1, 5, 255, 256, 300, 3],
      [[45, 1], [255, 255]],
    ],
    [
      lengthPrefixed({ width: 4, endian: "little", maxFrameLength: limit }),
      [0, 1, 5, 255, 256, 300, 3],
      [[45, 1, 0, 0], [1, 0, 0, 0x80], [255, 255, 255, 255]],
    ],
    [lengthPrefixed({ maxFrameLength: limit }), [0, 1, 5, 255, 256, 300, 3], [[0, 0, 1, 45], [
      0x80,
      0,
      0,
      1,
    ]]],
    [varint({ maxFrameLength: limit }), [0, 1, 5, 127, 128, 300, 3], [[0xad, 0x02], [0xff, 0x7f]]],
    [fixedSize(5), [5, 5, 5], []],
  ];
  for (const [framing, lengths, over] of formats) {
    const tails: [string, number[], string][] = [
      ["the end", [], ""],
      [
        "a payload cut short",
        [...framing.encode(payloadOf(5, 9)).subarray(0, -1)],
        "TruncatedFrameError",
      ],
    ];
    // fixedSize(): any tail is a payload cut short.
    if (!framing.name.startsWith("fixed")) {
      tails.push(["a header cut short", [0x81], "TruncatedFrameError"]);
    }
    for (const header of over) {
      tails.push([
        `a length over the limit (${header})`,
        [...header, 7, 7, 7],
        "FrameTooLargeError",
      ]);
    }
    assertSplitsAlike(framing, lengths, tails);
  }
});

test("offset bytes longer than the length field (moved next to the payload over the field's bytes, by a loop up to 8, copyWithin() above) decode as a byte per chunk does, at every split", () => {
  // The review of 95f67c1: the backward byte loop for offsets up to 8 overlaps its source when
  // the field is shorter than the offset; 9 and 10 take copyWithin().
  for (let offset = 1; offset <= 10; offset++) {
    // Frames of the offset bytes alone, then with payloads: each one moved inside the chunk.
    const lengths = [offset, offset + 1, offset + 40, offset, offset + 2];
    for (const framing of [lengthPrefixed({ width: 1, offset }), varint({ offset })]) {
      assertSplitsAlike(framing, lengths, [
        ["the end", [], ""],
        ["a payload cut short", [...new Array(offset).fill(9), 3, 1], "TruncatedFrameError"],
      ]);
    }
  }
});

test("u32le with no limit: lengths of 2^31 and more (the inline path's length * 8 and >>> 0) wait for their payload as a byte per chunk does", () => {
  const framing = lengthPrefixed({ width: 4, endian: "little", maxFrameLength: Infinity });
  assert.equal(framing.maxFrameLength, 2 ** 32 - 1);
  assertSplitsAlike(framing, [0, 3, 40], [
    ["2^31", [0, 0, 0, 0x80, 7, 7], "TruncatedFrameError"],
    ["2^31 + 1", [1, 0, 0, 0x80, 7], "TruncatedFrameError"],
    ["2^32 - 1", [0xff, 0xff, 0xff, 0xff, 7, 7, 7], "TruncatedFrameError"],
  ]);
});

test("headers that are not plain (taken by takeAll()'s parse() loop) decode as next() does a byte at a time, with the same errors, at every split", () => {
  const limit = 300;
  const te = new TextEncoder();
  // Each format with a limit of 300, and a way to make it with a larger one (for a header over
  // the limit); the lengths count the frame's offset bytes.
  const formats: [(maxFrameLength: number) => Framing, number[]][] = [
    [(m) => lengthPrefixed({ offset: 1, lengthAdjustment: -4, maxFrameLength: m }), [
      1,
      2,
      5,
      301,
      1,
    ]],
    [(m) => varint({ offset: 1, maxFrameLength: m }), [1, 2, 129, 301, 1]],
    [(m) => lengthPrefixed({ width: 4, offset: 2, endian: "little", maxFrameLength: m }), [
      2,
      3,
      302,
      2,
    ]],
    [(m) => lengthPrefixed({ width: 3, counts: "frame", maxFrameLength: m }), [0, 1, 300, 0]],
    [(m) => lengthPrefixed({ width: 8, maxFrameLength: m }), [0, 1, 300, 0]],
    [(m) => decimalHeader({ maxFrameLength: m }), [0, 1, 300, 0]],
    [(m) => netstring({ maxFrameLength: m }), [0, 1, 300, 0]],
  ];
  for (const [make, lengths] of formats) {
    const framing = make(limit);
    const over = make(10 * limit).encode(payloadOf(limit + 3, 1)).subarray(0, 14);
    const tails: [string, number[], string][] = [
      ["the end", [], ""],
      [
        "a payload cut short",
        [...framing.encode(payloadOf(5, 9)).subarray(0, -1)],
        "TruncatedFrameError",
      ],
      ["a length over the limit", [...over], "FrameTooLargeError"],
    ];
    if (framing.name === "netstring") {
      tails.push(["a frame without its comma", [...te.encode("3:abc;")], "MalformedHeaderError"]);
    }
    if (framing.name.startsWith("decimal")) {
      tails.push([
        "a header that is no number",
        [...te.encode("12x       abc")],
        "MalformedHeaderError",
      ]);
    }
    assertSplitsAlike(framing, lengths, tails);
  }
});

test("takeAll() that throws at a header has consumed the frames before it, as next() has: called again, it gives no frame twice", () => {
  for (
    const framing of [
      lengthPrefixed({ offset: 1, lengthAdjustment: -4, maxFrameLength: 300 }),
      netstring({ maxFrameLength: 300 }),
      lengthPrefixed({ width: 2, maxFrameLength: 300 }),
      lengthPrefixed({ maxFrameLength: 300 }),
    ]
  ) {
    const good = [payloadOf(5, 1), payloadOf(6, 2)].map((p) => framing.encode(p));
    const bad = lengthPrefixed({ width: 8 }).encode(new Uint8Array(0)).fill(0xff); // over any limit
    const wire = Uint8Array.from([...good[0]!, ...good[1]!, ...bad]);
    const byNext = framing.decoder();
    byNext.push(wire.slice());
    assert.ok(byNext.next() !== undefined && byNext.next() !== undefined, framing.name);
    assert.throws(() => byNext.next(), framing.name);
    const batch = framing.decoder() as HeaderDecoder;
    batch.push(wire.slice());
    const out: Uint8Array[] = [];
    assert.throws(() => batch.takeAll(out), framing.name);
    assert.equal(out.length, 2, framing.name);
    assert.equal(batch.bufferedBytes, byNext.bufferedBytes, framing.name);
    const again: Uint8Array[] = [];
    assert.throws(() => batch.takeAll(again), framing.name);
    assert.deepEqual(again, [], framing.name);
  }
});

test("takeAll() after every push gives what a next() loop gives, with the same bufferedBytes after each push, for chunks that are views at an offset (Node Buffers from the pool too), with reuseBuffers, frames over 64 KiB and a bad header (taken again after it throws)", () => {
  const limit = 200_000;
  // Offsets longer than the length field (a backward copy of up to 8 bytes, or copyWithin()), and
  // headers of every kind parse() reads; u32be and a plain varint for their loops' hand-over.
  // The smallest and largest payload each can carry.
  const framings: [Framing, min: number, max: number][] = [
    [lengthPrefixed({ offset: 1, lengthAdjustment: -4, maxFrameLength: limit }), 1, limit],
    [varint({ offset: 3, maxFrameLength: limit }), 3, limit],
    [lengthPrefixed({ width: 2, offset: 12, maxFrameLength: 60_000 }), 12, 60_000],
    [lengthPrefixed({ width: 3, lengthAdjustment: 6, maxFrameLength: limit }), 6, limit],
    [lengthPrefixed({ width: 8, endian: "little", maxFrameLength: limit }), 0, limit],
    [decimalHeader({ width: 7, maxFrameLength: limit }), 0, limit],
    [netstring({ maxFrameLength: limit }), 0, limit],
    [lengthPrefixed({ maxFrameLength: limit }), 0, limit],
    [varint({ maxFrameLength: limit }), 0, limit],
  ];
  const chunkers: ((bytes: Uint8Array) => Uint8Array)[] = [
    (bytes) => bytes.slice(),
    (bytes) => Buffer.from(bytes), // small ones from Node's pool, at a nonzero byteOffset
    (bytes) => {
      const room = new Uint8Array(bytes.length + 11);
      room.set(bytes, 5);
      return room.subarray(5, 5 + bytes.length);
    },
  ];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: framings.length - 1 }),
      fc.array(
        fc.oneof(
          { weight: 20, arbitrary: fc.integer({ min: 0, max: 300 }) },
          { weight: 1, arbitrary: fc.integer({ min: 65_000, max: 140_000 }) },
        ),
        { minLength: 1, maxLength: 6 },
      ),
      fc.uint8Array({ maxLength: 10 }),
      fc.integer({ min: 0, max: chunkers.length - 1 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 1 << 20 }),
      (which, lengths, tail, chunker, reuseBuffers, cutSeed) => {
        const [framing, min, max] = framings[which]!;
        const frames = lengths.map((n, i) =>
          framing.encode(payloadOf(min + Math.min(n, max - min), i))
        );
        const wire = Uint8Array.from([...frames.flatMap((f) => [...f]), ...tail]);
        // Cuts from a seed: a few anywhere, and some right around the frames' edges.
        const cuts = new Set<number>();
        let s = cutSeed;
        let edge = 0;
        for (const f of frames) {
          edge += f.length;
          s = (s * 1103515245 + 12345) & 0x7fffffff;
          cuts.add(Math.max(0, Math.min(wire.length, edge + (s % 7) - 3)));
          cuts.add(s % (wire.length + 1));
        }
        const sorted = [...cuts].sort((a, b) => a - b);
        const options = {
          chunkOf: chunkers[chunker]!,
          decoder: { reuseBuffers },
          buffered: true,
          again: true,
        };
        assert.deepEqual(
          decodeWays(framing, wire, sorted, "takeAll", options),
          decodeWays(framing, wire, sorted, "next", options),
        );
      },
    ),
    { numRuns: 150 },
  );
});
