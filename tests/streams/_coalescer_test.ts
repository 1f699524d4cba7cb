import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { lengthPrefixed } from "../../mod.ts";
import { Coalescer } from "../../src/streams/_coalescer.ts";
import { concat } from "../framing/_formats.ts";

const framing = lengthPrefixed({ maxFrameLength: 1 << 20 });

/** Decodes a whole wire image into its payloads. */
function decodeAll(wire: Uint8Array): Uint8Array[] {
  const decoder = framing.decoder();
  decoder.push(wire);
  const out: Uint8Array[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  decoder.end();
  return out;
}

type Op =
  | { kind: "add"; size: number; fill: number }
  | { kind: "flush" }
  | { kind: "write"; chunks: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      // Mostly small frames, sometimes one near or above the capacity.
      size: fc.oneof(
        { weight: 4, arbitrary: fc.nat(300) },
        { weight: 2, arbitrary: fc.nat(3000) },
        { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 70_000 }) },
      ),
      fill: fc.nat(255),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("write" as const), chunks: fc.nat(4) }),
  },
);

for (const recycle of [false, true]) {
  test(
    `Coalescer${
      recycle ? " with recycle" : ""
    }: an emitted chunk is never overwritten before written() covers it, and the wire decodes to the payloads`,
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(0, 1000, 4096, 16 * 1024, 65536, 262144),
          fc.array(op, { minLength: 10, maxLength: 300, size: "max" }),
          (capacity, ops) => {
            // Emitted chunks, each with a copy of its bytes when emitted.
            const emitted: { chunk: Uint8Array; copy: Uint8Array }[] = [];
            const coalescer = new Coalescer(
              framing,
              capacity,
              (chunk) => emitted.push({ chunk, copy: chunk.slice() }),
              recycle,
            );
            const payloads: Uint8Array[] = [];
            let done = 0; // chunks reported written
            let total = 0; // their bytes
            const check = (): void => {
              // Without recycle, no chunk may ever change; with it, none that is not written yet.
              for (let i = recycle ? done : 0; i < emitted.length; i++) {
                assert.deepEqual(emitted[i]!.chunk, emitted[i]!.copy, `chunk ${i} was overwritten`);
              }
            };
            for (const o of ops) {
              if (o.kind === "add") {
                const payload = new Uint8Array(o.size).fill(o.fill);
                payloads.push(payload);
                coalescer.add(payload, false);
              } else if (o.kind === "flush") {
                coalescer.flush();
              } else {
                const upTo = Math.min(emitted.length, done + o.chunks);
                for (; done < upTo; done++) total += emitted[done]!.chunk.length;
                coalescer.written(total);
              }
              check();
            }
            coalescer.flush();
            check();
            assert.deepEqual(
              decodeAll(concat(emitted.map((e) => e.copy))),
              payloads,
            );
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
