// Copyright 2026 the framewire authors. MIT license.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Fifo } from "../src/_fifo.ts";
import { shiftMoves } from "./_util/shift_moves.ts";

test("Fifo: behaves as an array taken from with shift(), for any mix of pushes, shifts, peeks and drains", () => {
  // Runs long enough to cross the compaction (more than 1,024 taken, over half the array).
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ shift: fc.integer({ min: 1, max: 3000 }) }),
    fc.constant({ peek: true }),
    fc.constant({ drain: true }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const fifo = new Fifo<number>();
      const model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if ("push" in o) {
          for (let i = 0; i < o.push; i++) {
            model.push(next);
            assert.equal(fifo.push(next++), model.length);
          }
        } else if ("shift" in o) {
          for (let i = 0; i < o.shift; i++) assert.equal(fifo.shift(), model.shift());
        } else if ("peek" in o) assert.equal(fifo.peek(), model[0]);
        else assert.deepEqual(fifo.drain(), model.splice(0));
        assert.equal(fifo.length, model.length);
      }
    }),
    { numRuns: 200 },
  );
});

test("Fifo: an empty queue gives undefined, and works again after", () => {
  const fifo = new Fifo<string>();
  assert.equal(fifo.shift(), undefined);
  assert.equal(fifo.peek(), undefined);
  assert.deepEqual(fifo.drain(), []);
  fifo.push("a");
  assert.equal(fifo.shift(), "a");
  assert.equal(fifo.shift(), undefined);
  assert.equal(fifo.length, 0);
});

test("Fifo: 100,000 items pushed and taken in linear time, never empty for long (no shift() of a long array)", async () => {
  // A queue that stays long while it is taken from (the case shift() is quadratic in on V8) and
  // one that is filled and emptied at once.
  const n = 100_000;
  const fifo = new Fifo<number>();
  let out = 0;
  // Dropping the taken slots moves the rest of the array: counted too.
  const splice = Array.prototype.splice;
  let kept = 0;
  const moved = await shiftMoves(() => {
    Array.prototype.splice = function <T>(this: T[], ...args: [number, number]): T[] {
      kept += this.length - (args[1] ?? 0);
      return splice.apply(this, args) as T[];
    };
    try {
      for (let i = 0; i < n; i++) fifo.push(i);
      for (let i = n; i < 3 * n; i++) {
        fifo.push(i);
        if (fifo.shift() !== out++) assert.fail(`item ${out - 1}`);
      }
      while (fifo.length > 0) if (fifo.shift() !== out++) assert.fail(`item ${out - 1}`);
    } finally {
      Array.prototype.splice = splice;
    }
  });
  assert.equal(out, 3 * n);
  assert.equal(moved, 0);
  assert.ok(kept <= 3 * n, `compaction moved ${kept} elements for ${3 * n} items`);
});
