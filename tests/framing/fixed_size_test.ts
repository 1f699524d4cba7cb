import { test } from "node:test";
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { fixedSize, TruncatedFrameError } from "../../mod.ts";

test("fixedSize() splits records and reports a cut record", () => {
  const decoder = fixedSize(3).decoder();
  decoder.push(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  assert.deepEqual(decoder.next(), new Uint8Array([1, 2, 3]));
  assert.deepEqual(decoder.next(), new Uint8Array([4, 5, 6]));
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.end(), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.part, error.expected, error.received], ["payload", 3, 1]);
    return true;
  });
});

test("fixedSize() rejects bad sizes and payloads of the wrong length", () => {
  assert.throws(() => fixedSize(0), RangeError);
  assert.throws(() => fixedSize(1.5), RangeError);
  assert.throws(() => fixedSize(3).encode(new Uint8Array(2)), RangeError);
  assert.equal(fixedSize(3).name, "fixed3");
});

test("fixedSize() encode returns a new buffer, not the payload, also for a Buffer", () => {
  // A Buffer's slice() is a view: encode() made one of it.
  for (const payload of [new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3])]) {
    const wire = fixedSize(3).encode(payload);
    assert.deepEqual([...wire], [1, 2, 3]);
    assert.notEqual(wire.buffer, payload.buffer);
    payload[0] = 9;
    assert.deepEqual([...wire], [1, 2, 3]);
  }
});

test("fixedSize(1) is the smallest size: one-byte records, each its own frame", () => {
  // The mutation review: no test made a fixedSize(1), the boundary of the size check.
  const framing = fixedSize(1);
  assert.deepEqual(framing.encode(new Uint8Array([7])), new Uint8Array([7]));
  const decoder = framing.decoder();
  decoder.push(new Uint8Array([1, 2]));
  decoder.push(new Uint8Array([3]));
  assert.deepEqual(
    [decoder.next(), decoder.next(), decoder.next()],
    [1, 2, 3].map((b) => new Uint8Array([b])),
  );
  assert.equal(decoder.next(), undefined);
  decoder.end();
  assert.throws(() => fixedSize(0), {
    name: "RangeError",
    message: "Cannot create framing as size must be a positive integer: received 0",
  });
});
