import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  fixedSize,
  type Framing,
  type FramingLike,
  lengthPrefixed,
  lines,
  netstring,
  varint,
} from "../../mod.ts";
import { Coalescer, SLAB_OFFSET } from "../../src/streams/_coalescer.ts";
import { concat } from "../framing/_formats.ts";

const framing = lengthPrefixed({ maxFrameLength: 1 << 20 });
/** The formats the property runs over: fixed, variable and trailer-carrying headers. */
const framings: Framing[] = [
  framing,
  varint({ maxFrameLength: 1 << 20 }),
  netstring({ maxFrameLength: 1 << 20 }),
];

/** Decodes a whole wire image into its payloads. */
function decodeAll(wire: Uint8Array, format: Framing = framing): Uint8Array[] {
  const decoder = format.decoder();
  decoder.push(wire);
  const out: Uint8Array[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  decoder.end();
  return out;
}

type Op =
  | { kind: "add"; who: number; size: number; seed: number; schedule: boolean }
  | { kind: "flush"; who: number }
  | { kind: "write"; who: number; chunks: number }
  | { kind: "tick"; turns: number };

const who = fc.nat(2);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      who,
      // Mostly small frames, sometimes one near or above the capacity.
      size: fc.oneof(
        { weight: 4, arbitrary: fc.nat(300) },
        { weight: 2, arbitrary: fc.nat(3000) },
        { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 70_000 }) },
      ),
      seed: fc.nat(255),
      // A scheduled flush runs once the microtask queue has been idle for a few turns.
      schedule: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("flush" as const), who }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("write" as const), who, chunks: fc.nat(4) }),
  },
  // Lets scheduled flushes run (or not yet: fewer turns than the idle count).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("tick" as const), turns: fc.nat(8) }) },
);

/** A payload whose every byte depends on its position and `seed`. */
function payloadOf(size: number, seed: number): Uint8Array {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (seed + i * 131 + (i >> 8)) & 255;
  return payload;
}

/** One coalescer under test and what its consumer saw. */
class Sink {
  readonly coalescer: Coalescer;
  // Emitted chunks, each with a copy of its bytes when emitted.
  readonly emitted: { chunk: Uint8Array; copy: Uint8Array }[] = [];
  readonly payloads: Uint8Array[] = [];
  done = 0; // chunks reported written
  total = 0; // their bytes

  readonly recycle: boolean;
  readonly framing: Framing;

  constructor(capacity: number, recycle: boolean, format: Framing) {
    this.recycle = recycle;
    this.framing = format;
    this.coalescer = new Coalescer(
      format,
      capacity,
      (chunk) => this.emitted.push({ chunk, copy: chunk.slice() }),
      recycle,
    );
  }

  apply(o: Op): void {
    if (o.kind === "add") {
      const payload = payloadOf(o.size, o.seed);
      this.payloads.push(payload);
      this.coalescer.add(payload, o.schedule);
    } else if (o.kind === "flush") {
      this.coalescer.flush();
    } else if (o.kind === "write") {
      const upTo = Math.min(this.emitted.length, this.done + o.chunks);
      for (; this.done < upTo; this.done++) this.total += this.emitted[this.done]!.chunk.length;
      this.coalescer.written(this.total);
    }
  }

  /** Without recycle no chunk may ever change; with it, none that is not written yet. */
  check(): void {
    for (let i = this.recycle ? this.done : 0; i < this.emitted.length; i++) {
      const { chunk, copy } = this.emitted[i]!;
      assert.deepEqual(chunk, copy, `chunk ${i} was overwritten`);
    }
  }
}

const capacities = [0, 1, 17, 1000, 1023, 4096, 16 * 1024, 16385, 65536, 65537, 262144];

for (const recycle of [false, true]) {
  test(
    `Coalescer${
      recycle ? " with recycle" : ""
    } next to two others: an emitted chunk is never overwritten before written() covers it (without recycle, never), and each wire decodes to its payloads`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.tuple(
            fc.constantFrom(...capacities),
            fc.constantFrom(...capacities),
            fc.constantFrom(...capacities),
          ),
          fc.tuple(fc.boolean(), fc.boolean()),
          fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2)),
          fc.array(op, { minLength: 10, maxLength: 300, size: "max" }),
          async (caps, [recycleB, recycleC], formats, ops) => {
            // The others recycle or not, on the shared pool: none may get another's slabs wrong.
            const sinks = [
              new Sink(caps[0], recycle, framings[formats[0]]!),
              new Sink(caps[1], recycleB, framings[formats[1]]!),
              new Sink(caps[2], recycleC, framings[formats[2]]!),
            ];
            for (const o of ops) {
              if (o.kind === "tick") {
                for (let i = 0; i < o.turns; i++) await null;
              } else {
                sinks[o.who]!.apply(o);
              }
              for (const sink of sinks) sink.check();
            }
            for (const sink of sinks) {
              sink.coalescer.flush();
              sink.check();
              assert.deepEqual(
                decodeAll(concat(sink.emitted.map((e) => e.copy)), sink.framing),
                sink.payloads,
              );
            }
            // Let scheduled flushes that are still queued run before the next case.
            for (let i = 0; i < 8; i++) await null;
          },
        ),
        { numRuns: 100 },
      );
    },
  );
}

test("Coalescer with recycle writes into the same few slabs again once they are written", () => {
  const slabs = new Set<ArrayBufferLike>();
  let emitted = 0;
  const coalescer = new Coalescer(framing, 65536, (chunk) => {
    slabs.add(chunk.buffer);
    emitted += chunk.length;
    coalescer.written(emitted); // a consumer that is done with each chunk at once
  }, true);
  const payload = new Uint8Array(100);
  for (let i = 0; i < 100_000; i++) coalescer.add(payload, false); // ~10 MB
  coalescer.flush();
  // Slabs grow 16 KiB -> 64 KiB, then the 64 KiB one is written into again.
  assert.ok(slabs.size <= 3, `${slabs.size} slabs for 100,000 frames`);
});

test("Coalescer without recycle never writes into an emitted slab again", () => {
  const slabs = new Set<ArrayBufferLike>();
  const coalescer = new Coalescer(framing, 65536, (chunk) => slabs.add(chunk.buffer));
  const payload = new Uint8Array(100);
  for (let i = 0; i < 100_000; i++) coalescer.add(payload, false);
  coalescer.flush();
  assert.ok(slabs.size > 150, `${slabs.size} slabs for 100,000 frames`);
  // Nor keeps one: without recycle, a slab given up is the consumer's alone.
  assert.equal(coalescer.retiredSlabs, 0);
});

test("Coalescer with recycle copies a payload below the capacity (one chunk), not a larger one", () => {
  const chunks: Uint8Array[] = [];
  const coalescer = new Coalescer(framing, 262144, (chunk) => chunks.push(chunk), true);
  coalescer.add(new Uint8Array(65536).fill(1), false);
  coalescer.flush();
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.length, 65540);
  chunks.length = 0;
  const big = new Uint8Array(300_000).fill(2);
  coalescer.add(big, false);
  assert.equal(chunks.length, 2); // header, then the payload itself
  assert.equal(chunks[1], big);
});

test("Coalescer with recycle copies a frame that fits in the capacity, and only that", () => {
  for (const capacity of [1000, 65536, 262144]) {
    for (const delta of [-64, -5, -4, -3, 0]) {
      const length = capacity + delta; // the frame is length + 4 bytes
      const chunks: Uint8Array[] = [];
      const coalescer = new Coalescer(framing, capacity, (chunk) => chunks.push(chunk), true);
      const payload = new Uint8Array(length).fill(7);
      coalescer.add(payload, false);
      coalescer.flush();
      const copied = length + 4 <= capacity;
      assert.equal(chunks.length, copied ? 1 : 2, `capacity ${capacity}, payload ${length}`);
      assert.equal(chunks.some((c) => c === payload), !copied);
    }
  }
});

test("Coalescer: a trickle of one frame per tick keeps a small send buffer; a burst grows it, and a trickle after it shrinks it again", () => {
  for (const recycle of [false, true]) {
    const sizes = new Set<number>();
    let emitted = 0;
    let last = 0;
    const coalescer = new Coalescer(framing, 262144, (chunk) => {
      sizes.add(chunk.buffer.byteLength - SLAB_OFFSET);
      last = chunk.buffer.byteLength - SLAB_OFFSET;
      emitted += chunk.length;
    }, recycle);
    for (let i = 0; i < 5000; i++) { // 520 KB, one frame per tick
      coalescer.add(new Uint8Array(100), false);
      coalescer.flush();
      coalescer.written(emitted);
    }
    assert.deepEqual([...sizes], [16 * 1024 + 1024]);
    for (let i = 0; i < 5000; i++) coalescer.add(new Uint8Array(100), false); // one burst
    coalescer.flush();
    assert.ok(sizes.has(256 * 1024 + 1024), [...sizes].join());
    coalescer.written(emitted);
    // A trickle again: the send buffer shrinks back to its first size.
    const after: number[] = [];
    for (let i = 0; i < 5000; i++) {
      coalescer.add(new Uint8Array(100), false);
      coalescer.flush();
      coalescer.written(emitted);
      after.push(last);
    }
    assert.deepEqual(
      after.slice(-100),
      new Array(100).fill(16 * 1024 + 1024),
      `recycle ${recycle}`,
    );
  }
});

test("Coalescer with recycle: a steady load a little above a send buffer's size settles on one write per tick and two send buffers", () => {
  // One tick filling a slab grows the next one; that tick must still count when the next
  // slab is replaced, or the send buffer shrinks and grows again on every tick. (Without
  // recycle a slab is never given up when idle, so a tick can straddle two slabs.)
  for (const perTick of [10, 20, 40, 70, 120].map((k) => k * 1024)) {
    let emitted = 0;
    let chunks = 0;
    const buffers = new Set<ArrayBufferLike>();
    const coalescer = new Coalescer(framing, 262144, (chunk) => {
      emitted += chunk.length;
      chunks++;
      buffers.add(chunk.buffer);
    }, true);
    const frames = Math.round(perTick / 100);
    for (let tick = 0; tick < 200; tick++) {
      if (tick === 100) {
        chunks = 0;
        buffers.clear();
      }
      for (let i = 0; i < frames; i++) coalescer.add(new Uint8Array(96), false);
      coalescer.flush();
      coalescer.written(emitted);
    }
    const label = `${perTick} B per tick`;
    assert.equal(chunks, 100, label);
    assert.ok(buffers.size <= 2, `${label}: ${buffers.size} send buffers`);
  }
});

test("Coalescer: a payload that is not a Uint8Array gets the framing's TypeError and emits nothing", () => {
  for (const recycle of [false, true]) {
    const emitted: Uint8Array[] = [];
    const coalescer = new Coalescer(framing, 65536, (chunk) => emitted.push(chunk), recycle);
    coalescer.add(new Uint8Array(3), false);
    for (const bad of [null, undefined, "abc", 5, [1, 2, 3]]) {
      assert.throws(
        () => coalescer.add(bad as unknown as Uint8Array, false),
        (error: unknown) =>
          error instanceof TypeError && /payload must be a Uint8Array/.test(error.message),
      );
    }
    assert.equal(emitted.length, 0);
  }
});

test("Coalescer: a payload the framing refuses throws and emits nothing, even when the send buffer is full", () => {
  for (const recycle of [false, true]) {
    for (const capacity of [0, 100, 4096, 262144]) {
      const format = lines({ maxFrameLength: 3000 });
      const emitted: Uint8Array[] = [];
      const coalescer = new Coalescer(format, capacity, (chunk) => emitted.push(chunk), recycle);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 400; i++) {
        const payload = payloadOf(i % 7 === 0 ? 2500 : i % 50, i).map((b) =>
          b === 10 || b === 13 ? 11 : b
        );
        coalescer.add(payload, false);
        sent.push(payload);
        const before = emitted.length;
        // Contains the delimiter; longer than maxFrameLength.
        assert.throws(
          () => coalescer.add(new Uint8Array(1 + (i % 40)).fill(10), false),
          RangeError,
        );
        assert.throws(() => coalescer.add(new Uint8Array(3001 + i), false), RangeError);
        assert.equal(
          emitted.length,
          before,
          `recycle ${recycle}, capacity ${capacity}, frame ${i}`,
        );
      }
      coalescer.flush();
      assert.deepEqual(decodeAll(concat(emitted.map((c) => c.slice())), format), sent);
    }
  }
});

test("Coalescer: a lone frame is flushed after a few idle turns; frames added turn after turn are held until the task ends, then flushed as one chunk", async () => {
  const chunks: Uint8Array[] = [];
  const coalescer = new Coalescer(framing, 65536, (chunk) => chunks.push(chunk.slice()));
  /** Adds `count` frames, one per microtask turn, then lets 8 turns pass. */
  const turnByTurn = async (count: number): Promise<Uint8Array[]> => {
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      payloads.push(payloadOf(10, i));
      coalescer.add(payloads[i]!, true);
      await null;
    }
    for (let i = 0; i < 8; i++) await null;
    return payloads;
  };
  const lone = await turnByTurn(1);
  assert.deepEqual(chunks.map((c) => decodeAll(c)), [lone]);

  // As a stream of writes: one frame per turn, then a pause within the same task.
  const stream = await turnByTurn(100);
  assert.equal(chunks.length, 1, "held while the task goes on");
  // Immediates run in order: this one comes after the coalescer's.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(chunks.map((c) => decodeAll(c)), [lone, stream]);

  // A short run of writes (ten requests, say) is not held: flushed after a few idle turns.
  const few = await turnByTurn(10);
  assert.deepEqual(chunks.map((c) => decodeAll(c)), [lone, stream, few]);
});

/** Length-prefixed by hand: a format that only has encode() (`onEncode` runs per call). */
function ownFormat(onEncode: () => void = () => {}): FramingLike {
  return {
    name: "own",
    maxFrameLength: Infinity,
    encode(payload: Uint8Array): Uint8Array {
      onEncode();
      const frame = new Uint8Array(payload.length + 4);
      new DataView(frame.buffer).setUint32(0, payload.length);
      frame.set(payload, 4);
      return frame;
    },
    decoder: () => framing.decoder(),
  };
}

test("Coalescer with a format of one's own (encode() and decoder() only): each frame is what encode() returns, encoded once", () => {
  for (const recycle of [false, true]) {
    for (const capacity of [0, 100, 65536]) {
      let calls = 0;
      const own = ownFormat(() => calls++);
      const chunks: Uint8Array[] = [];
      const coalescer = new Coalescer(
        own,
        capacity,
        (chunk) => chunks.push(chunk.slice()),
        recycle,
      );
      const payloads = [0, 1, 7, 50, 99, 300, 20_000, 3].map((size, i) => payloadOf(size, i));
      for (const payload of payloads) coalescer.add(payload, false);
      coalescer.flush();
      const label = `recycle ${recycle}, capacity ${capacity}`;
      assert.deepEqual(decodeAll(concat(chunks)), payloads, label);
      assert.equal(calls, payloads.length, label);
    }
  }
});

test("Coalescer with recycle never reuses a slab holding a chunk not yet written, even a first chunk of one byte", () => {
  // varint's empty frame is one byte; the next frame (17,408 bytes) fills the first slab
  // (16 KiB + 1 KiB) exactly, so it needs a new one: the old one still holds the unwritten byte.
  const format = varint({ maxFrameLength: 1 << 20 });
  const chunks: { chunk: Uint8Array; copy: Uint8Array }[] = [];
  const coalescer = new Coalescer(
    format,
    65536,
    (chunk) => chunks.push({ chunk, copy: chunk.slice() }),
    true,
  );
  coalescer.add(new Uint8Array(0), false);
  coalescer.flush();
  const big = payloadOf(17_405, 1);
  assert.equal(format.encodedLength(big), 16 * 1024 + 1024);
  coalescer.add(big, false);
  coalescer.flush();
  for (const { chunk, copy } of chunks) assert.deepEqual(chunk, copy);
  assert.deepEqual(decodeAll(concat(chunks.map((c) => c.copy)), format), [new Uint8Array(0), big]);
});

test("Coalescer with recycle: the free send buffers kept for reuse, shared by all connections, are bounded (4 MiB)", () => {
  // Capacity 16 KiB: every slab is 16 KiB + 1 KiB of header room, 2 KiB into its buffer. 4 MiB
  // hold 215 of them.
  const slabBytes = SLAB_OFFSET + 16 * 1024 + 1024;
  const count = 300;
  /** A coalescer that takes a slab (from the pool, if it has one), and the slab's buffer. */
  const open = () => {
    const buffers: ArrayBufferLike[] = [];
    let emitted = 0;
    const coalescer = new Coalescer(framing, 16 * 1024, (chunk) => {
      buffers.push(chunk.buffer);
      emitted += chunk.length;
    }, true);
    coalescer.add(new Uint8Array(10), false);
    coalescer.flush();
    assert.equal(buffers[0]!.byteLength, slabBytes);
    return { buffer: buffers[0]!, done: () => coalescer.written(emitted) };
  };
  // Take every free slab of this size there may be from earlier tests, and keep them.
  const held = Array.from({ length: count }, open);
  // Idle connections give their slabs to the pool: it keeps at most 4 MiB of them.
  const given = Array.from({ length: count }, open);
  for (const c of given) c.done();
  const ours = new Set(given.map((c) => c.buffer));
  const reused = Array.from({ length: count }, open).filter((c) => ours.has(c.buffer)).length;
  // (Slabs of other sizes that earlier tests left in the pool count too: it may keep fewer.)
  assert.ok(reused <= Math.floor((4 * 1024 * 1024) / slabBytes), `${reused} slabs kept`);
  assert.equal(held.length, count);
});

test("Coalescer with recycle: slabs given up before they were written are let go once written() covers them", () => {
  // A consumer one chunk behind: every new slab starts while the old one's last chunk is unwritten.
  const chunks: Uint8Array[] = [];
  let total = 0;
  const coalescer = new Coalescer(framing, 65536, (chunk) => chunks.push(chunk), true);
  let most = 0;
  for (let tick = 0; tick < 500; tick++) {
    for (let i = 0; i < 100; i++) coalescer.add(new Uint8Array(96), false); // 10 KB per tick
    coalescer.flush();
    while (chunks.length > 1) total += chunks.shift()!.length;
    coalescer.written(total);
    most = Math.max(most, coalescer.retiredSlabs);
  }
  assert.ok(most <= 2, `${most} slabs retired at once`);
  total += chunks.shift()!.length;
  coalescer.written(total);
  assert.equal(coalescer.retiredSlabs, 0);
  // Written up to exactly where a slab was given up (its frames all out, the next slab's held):
  // let go at once.
  for (let i = 0; i < 100_000 && coalescer.retiredSlabs === 0; i++) {
    coalescer.add(new Uint8Array(96), false);
  }
  assert.equal(coalescer.retiredSlabs, 1);
  assert.ok(coalescer.pendingBytes > 0);
  for (const chunk of chunks.splice(0)) total += chunk.length;
  coalescer.written(total);
  assert.equal(coalescer.retiredSlabs, 0);
});

test("Coalescer: a payload fixedSize refuses throws and emits nothing, even when the send buffer is full", () => {
  // fixedSize adds nothing to a payload (a fixed overhead of 0): the size check must still run
  // before a full slab is flushed.
  for (const recycle of [false, true]) {
    const emitted: Uint8Array[] = [];
    const coalescer = new Coalescer(fixedSize(4), 262144, (chunk) => emitted.push(chunk), recycle);
    for (let i = 0; i < 10_000; i++) {
      coalescer.add(payloadOf(4, i), false);
      const before = emitted.length;
      for (const bad of [3, 5]) {
        assert.throws(() => coalescer.add(new Uint8Array(bad), false), RangeError);
        assert.equal(emitted.length, before, `recycle ${recycle}, frame ${i}, payload of ${bad}`);
      }
    }
    coalescer.flush();
    assert.deepEqual(
      decodeAll(concat(emitted.map((c) => c.slice())), fixedSize(4)),
      Array.from({ length: 10_000 }, (_, i) => payloadOf(4, i)),
    );
  }
});

test("Coalescer: copies() tells what add() does, a payload emitted as it is is flagged a view, and frames added without schedule wait for flush()", async () => {
  for (const recycle of [false, true]) {
    for (const capacity of [0, 1000, 16 * 1024, 65536]) {
      const label = `recycle ${recycle}, capacity ${capacity}`;
      const emitted: { chunk: Uint8Array; view: boolean }[] = [];
      const coalescer = new Coalescer(
        framing,
        capacity,
        (chunk, view) => emitted.push({ chunk, view }),
        recycle,
      );
      for (const base of [1000, 16 * 1024, 65536]) {
        for (const length of [base - 5, base - 4, base - 1, base, base + 1]) {
          const payload = payloadOf(length, length);
          const copies = coalescer.copies(length);
          emitted.length = 0;
          const copied = coalescer.add(payload, false);
          // With recycle, a frame that fits in the capacity; without, a payload below the copy
          // limit. copies() may say true for a payload whose header then does not fit.
          const limit = capacity === 0 ? 16 * 1024 : Math.min(capacity, 16 * 1024);
          const recycling = recycle && capacity > 0; // capacity 0 keeps nothing to reuse
          assert.equal(copied, recycling ? length + 4 <= capacity : length < limit, label);
          assert.ok(copies || !copied, `${label}, payload ${length}`);
          if (!recycling) assert.equal(copies, copied, `${label}, payload ${length}`);
          coalescer.flush();
          assert.deepEqual(
            emitted.map((e) => e.view),
            emitted.map((e) => e.chunk === payload),
            `${label}, payload ${length}`,
          );
          assert.equal(emitted.some((e) => e.chunk === payload), !copied, `${label}, ${length}`);
          assert.equal(coalescer.pendingBytes, 0);
        }
      }
      if (capacity === 0) continue;
      if (recycle) {
        // A payload of exactly the capacity, with no header: copied, and copies() says so.
        const fixed = new Coalescer(fixedSize(capacity), capacity, () => {}, true);
        assert.equal(fixed.copies(capacity), true, label);
        assert.equal(fixed.add(new Uint8Array(capacity), false), true, label);
      }
      emitted.length = 0;
      coalescer.add(payloadOf(10, 1), false);
      assert.equal(coalescer.pendingBytes, 14);
      for (let i = 0; i < 10; i++) await null;
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(emitted.length, 0, `${label}: flushed unasked`);
      coalescer.flush();
      assert.equal(emitted.length, 1);
    }
  }
});

test("Coalescer: a payload that starts a page is copied to at least 64 bytes after it modulo 4 KiB (glibc bug 30994)", () => {
  // On AMD Zen, glibc's memcpy (which Bun's Uint8Array#set calls) is 10-20x slower when the
  // destination lies 1-63 bytes after the source modulo 4 KiB: where a payload at the start of
  // a buffer lands behind a 4-byte header at the start of a slab that starts its own buffer.
  for (const recycle of [false, true]) {
    // Without recycle a payload of 16 KiB or more is not copied (written as a view).
    for (const size of recycle ? [4096, 65536, 65532] : [4096, 8192]) {
      const distances: number[] = [];
      let emitted = 0;
      const coalescer = new Coalescer(framing, 262144, (chunk) => {
        // Frames in this chunk: each a 4-byte header, then its payload.
        assert.equal(chunk.length % (4 + size), 0);
        for (let at = 0; at < chunk.length; at += 4 + size) {
          distances.push((chunk.byteOffset + at + 4) % 4096);
        }
        emitted += chunk.length;
      }, recycle);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 12; i++) coalescer.add(new Uint8Array(size), false);
        coalescer.flush();
        coalescer.written(emitted);
      }
      assert.ok(distances.length >= 36, `${distances.length} frames`);
      const near = distances.filter((d) => d > 0 && d < 64);
      assert.deepEqual(near, [], `recycle ${recycle}, ${size} B payloads`);
    }
  }
});

test("Coalescer with capacity 0: a small frame's chunk holds no more memory than the frame; a large one is still copied clear of glibc bug 30994", () => {
  // coalesce: 0 gives each frame a send buffer of its own: one half a page into its memory
  // would hold 2 KiB more per frame (a 9-byte frame kept 2,057 bytes alive, and framed()'s
  // highWaterMark, which counts frame bytes, bounded 228 times less memory than it says).
  const chunks: Uint8Array[] = [];
  const coalescer = new Coalescer(framing, 0, (chunk) => chunks.push(chunk));
  for (const size of [5, 100, 2000]) {
    coalescer.add(new Uint8Array(size), false);
    const chunk = chunks.pop()!;
    assert.equal(chunk.length, 4 + size);
    assert.equal(chunk.buffer.byteLength, chunk.length, `${size} B payload`);
  }
  // A copy this long can take glibc's rep movsb path: its slab still starts half a page in.
  for (const size of [4096, 8192]) {
    coalescer.add(new Uint8Array(size), false);
    const chunk = chunks.pop()!;
    assert.equal(chunk.length, 4 + size);
    const distance = (chunk.byteOffset + 4) % 4096;
    assert.ok(distance === 0 || distance >= 64, `${size} B payload copied ${distance} B after`);
  }
});

test("Coalescer: a frame added from within emit, while a full send buffer is flushed for the next frame, is emitted, not dropped with that buffer", () => {
  // A conn's sink runs on framed()'s flush, and may send on the same connection.
  for (const recycle of [false, true]) {
    const chunks: Uint8Array[] = [];
    let inner = 0;
    const c = new Coalescer(framing, 64 * 1024, (chunk) => {
      chunks.push(chunk.slice());
      if (inner++ === 0) c.add(new Uint8Array(10).fill(0x7a), false);
    }, recycle);
    const sent = Array.from({ length: 12 }, (_, i) => new Uint8Array(3000).fill(0x41 + i));
    // The first send buffer holds 16 KiB: the sixth frame flushes the five before it.
    for (const payload of sent) c.add(payload, false);
    c.flush();
    const got = decodeAll(concat(chunks));
    assert.equal(inner, 3, `recycle ${recycle}`);
    assert.deepEqual(
      got.map((f) => `${f.length}:${String.fromCharCode(f[0]!)}`),
      ["A", "B", "C", "D", "E", "z", "F", "G", "H", "I", "J", "K", "L"].map((l) =>
        `${l === "z" ? 10 : 3000}:${l}`
      ),
      `recycle ${recycle}`,
    );
  }
});

test("Coalescer: frames that fill a send buffer to its last byte go out in it, as one chunk", () => {
  // The first send buffer holds 16 KiB + 1 KiB of room for headers (17,408 bytes). Frames that
  // end exactly at its end fit in it: flushing before the last of them would cost a write.
  const slab = 16 * 1024 + 1024;
  for (const recycle of [false, true]) {
    for (const count of [2, 4, 17]) {
      const chunks: Uint8Array[] = [];
      const coalescer = new Coalescer(framing, 65536, (chunk) => chunks.push(chunk), recycle);
      // 17,408 = 2 × 8,704 = 4 × 4,352 = 17 × 1,024 (each frame a 4-byte header and its payload).
      const sizes = Array.from({ length: count }, () => slab / count - 4);
      const payloads = sizes.map((size, i) => payloadOf(size, i));
      for (const payload of payloads) assert.equal(coalescer.add(payload, false), true);
      coalescer.flush();
      const label = `recycle ${recycle}, ${count} frames`;
      assert.deepEqual(chunks.map((c) => c.length), [slab], label);
      assert.deepEqual(decodeAll(chunks[0]!), payloads, label);
    }
  }
});

test("Coalescer: a send buffer that no tick used more than a sixteenth of (exactly) is followed by a smaller one", () => {
  // capacity 64 KiB: send buffers of 16 KiB, then 64 KiB. After a burst grew them, ticks of
  // exactly 4 KiB (a sixteenth of 64 KiB) fill one; the next is 16 KiB again. Ticks of 4 KiB and
  // one frame more do not shrink it.
  for (const recycle of [false, true]) {
    for (const perTick of [4, 5]) {
      const buffers: number[] = [];
      const coalescer = new Coalescer(framing, 65536, (chunk) => {
        buffers.push(chunk.buffer.byteLength - SLAB_OFFSET);
      }, recycle);
      const frame = new Uint8Array(1020); // 1 KiB on the wire
      // A burst of one frame more than the first send buffer holds: the next one is 64 KiB.
      for (let i = 0; i < 18; i++) coalescer.add(frame, false);
      coalescer.flush();
      assert.deepEqual(buffers, [16 * 1024 + 1024, 64 * 1024 + 1024]);
      // Fills the rest of that buffer (tick by tick), and the next one.
      for (let tick = 0; tick < 40; tick++) {
        for (let i = 0; i < perTick; i++) coalescer.add(frame, false);
        coalescer.flush();
      }
      const label = `recycle ${recycle}, ${perTick} KiB per tick`;
      assert.equal(buffers.at(-1), (perTick === 4 ? 16 : 64) * 1024 + 1024, label);
    }
  }
});

test("Coalescer with a format of one's own: a payload changed after an add() whose flush threw is encoded again, not sent as it was", () => {
  for (const recycle of [false, true]) {
    const own = ownFormat();
    const chunks: Uint8Array[] = [];
    let refuse = true;
    const coalescer = new Coalescer(own, 65536, (chunk) => {
      if (refuse) {
        refuse = false;
        throw new Error("consumer failed");
      }
      chunks.push(chunk.slice());
    }, recycle);
    // 16 KiB held; the next frame does not fit in the first send buffer (17 KiB): add() flushes
    // the held frames first, after it measured (encoded) the payload, and the consumer throws.
    for (let i = 0; i < 16; i++) coalescer.add(new Uint8Array(1020), false);
    const payload = new Uint8Array(2000).fill(1);
    assert.throws(() => coalescer.add(payload, false), /consumer failed/);
    payload.fill(2); // the application may reuse it: add() did not take it
    coalescer.add(payload, false);
    coalescer.flush();
    assert.deepEqual(decodeAll(concat(chunks)).at(-1), payload, `recycle ${recycle}`);
  }
});

test("Coalescer with recycle: a frame too large for the send buffer grows it, and the frames after it join it in one chunk", () => {
  // capacity 256 KiB: the first send buffer holds 16 KiB; a 40 KB frame (copied: it fits in the
  // capacity) takes a 64 KiB one, with room left for the small frames sent in the same tick.
  for (const size of [17 * 1024, 40_000, 200_000]) {
    const chunks: Uint8Array[] = [];
    const coalescer = new Coalescer(framing, 262144, (chunk) => chunks.push(chunk), true);
    const payloads = [payloadOf(size, 1), payloadOf(100, 2), payloadOf(100, 3)];
    for (const payload of payloads) assert.equal(coalescer.add(payload, false), true);
    coalescer.flush();
    assert.deepEqual(chunks.map((c) => c.length), [size + 4 + 2 * 104], `${size} B`);
    assert.deepEqual(decodeAll(chunks[0]!), payloads);
  }
});

test("Coalescer: a burst grows the send buffer ×4 per slab it fills, not straight to the capacity", () => {
  // The mutation review (grow = false dropped from #replaceSlab()'s loop): a slab filled within one
  // tick was followed by one of the whole capacity, skipping the sizes between.
  for (const recycle of [false, true]) {
    const buffers: number[] = [];
    const coalescer = new Coalescer(framing, 262144, (chunk) => {
      buffers.push(chunk.buffer.byteLength - SLAB_OFFSET);
    }, recycle);
    const frame = new Uint8Array(1020); // 1 KiB on the wire
    for (let i = 0; i < 17 + 65 + 1; i++) coalescer.add(frame, false); // one tick
    coalescer.flush();
    assert.deepEqual(
      buffers,
      [16 * 1024 + 1024, 64 * 1024 + 1024, 256 * 1024 + 1024],
      `recycle ${recycle}`,
    );
  }
});

test("Coalescer with recycle: a frame that fills a whole send buffer goes in one of that size, not a larger one", () => {
  // The mutation review (slabSize + room < size -> <=): a frame of exactly 16 KiB + 1 KiB grew
  // the next send buffer to 64 KiB + 1 KiB.
  const buffers: number[] = [];
  const coalescer = new Coalescer(framing, 65536, (chunk) => {
    buffers.push(chunk.buffer.byteLength - SLAB_OFFSET);
  }, true);
  coalescer.add(new Uint8Array(10), false);
  coalescer.flush();
  coalescer.add(new Uint8Array(16 * 1024 + 1024 - 4), false); // 17,408 bytes on the wire
  coalescer.flush();
  assert.deepEqual(buffers, [16 * 1024 + 1024, 16 * 1024 + 1024]);
});

test("Coalescer with capacity 0: a frame of 2048 bytes or more is copied half a page in, a shorter one at its buffer's start", () => {
  // The mutation review (length >= OFFSET_FROM -> >): a frame of exactly 2048 bytes started its
  // buffer. SLAB_OFFSET is 2048.
  const chunks: Uint8Array[] = [];
  const coalescer = new Coalescer(framing, 0, (chunk) => chunks.push(chunk));
  for (const [frame, offset] of [[2047, 0], [2048, SLAB_OFFSET], [2049, SLAB_OFFSET]]) {
    coalescer.add(new Uint8Array(frame! - 4), false);
    const chunk = chunks.pop()!;
    assert.equal(chunk.length, frame, `${frame} B frame`);
    assert.equal(chunk.byteOffset, offset, `${frame} B frame`);
    assert.equal(chunk.buffer.byteLength, offset! + frame!, `${frame} B frame`);
  }
});

test("Coalescer: a trickle after a burst shrinks the send buffer one size at a time (×4), not straight to the first", () => {
  // The mutation review (#replaceSlab() shrinking to the first size): after a burst grew the send
  // buffer to 256 KiB, a trickle went back to 16 KiB in one step; the size before the last growth
  // (64 KiB) comes first.
  for (const recycle of [false, true]) {
    const sizes: number[] = [];
    let emitted = 0;
    const coalescer = new Coalescer(framing, 262144, (chunk) => {
      const size = chunk.buffer.byteLength - SLAB_OFFSET;
      if (sizes.at(-1) !== size) sizes.push(size);
      emitted += chunk.length;
    }, recycle);
    const frame = new Uint8Array(1020); // 1 KiB on the wire
    for (let i = 0; i < 17 + 65 + 1; i++) coalescer.add(frame, false); // one tick
    coalescer.flush();
    for (let tick = 0; tick < 8000; tick++) {
      coalescer.add(new Uint8Array(100), false);
      coalescer.flush();
      if (!recycle) continue;
      // A consumer one tick behind: the send buffer is not given up between ticks.
      coalescer.written(emitted - 104);
    }
    const label = `recycle ${recycle}`;
    const kib = sizes.map((size) => (size - 1024) / 1024);
    assert.deepEqual(kib, [16, 64, 256, 64, 16], label);
  }
});
