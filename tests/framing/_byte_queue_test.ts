// ByteQueue.gather(): small chunks copied together into blocks of the queue's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteQueue } from "../../src/framing/_byte_queue.ts";
import { prefixTable } from "../../src/framing/_search.ts";

test("gather() copies a trickle of one-byte chunks into a few blocks, in order", () => {
  const queue = new ByteQueue();
  const n = 100_000;
  for (let i = 0; i < n; i++) queue.gather(new Uint8Array([i & 0xff]));
  assert.equal(queue.length, n);
  const chunks = queue.drain();
  // Blocks of 256 B doubling to 64 KiB: 256 + 512 + ... + 32768 = 65280, then 64 KiB blocks.
  assert.ok(chunks.length <= 10, `${chunks.length} chunks for ${n} one-byte pushes`);
  let at = 0;
  for (const chunk of chunks) for (const byte of chunk) assert.equal(byte, at++ & 0xff);
  assert.equal(at, n);
});

test("gather() keeps the order with pushed chunks, and starts a new block after one", () => {
  const queue = new ByteQueue();
  const pushed = new Uint8Array([10, 11, 12]);
  queue.gather(new Uint8Array([1]));
  queue.gather(new Uint8Array([2, 3]));
  queue.push(pushed);
  queue.gather(new Uint8Array([4]));
  const chunks = queue.drain();
  assert.deepEqual(chunks.map((c) => [...c]), [[1, 2, 3], [10, 11, 12], [4]]);
  assert.equal(chunks[1], pushed, "a pushed chunk is held as it is");
});

test("gather() never writes over bytes already read, or a view handed out of its block", () => {
  const queue = new ByteQueue();
  queue.gather(new Uint8Array([1, 2, 3]));
  // The head chunk, partly read: its view handed out, the rest still queued.
  const first = queue.take(2);
  assert.deepEqual([...first], [1, 2]);
  queue.gather(new Uint8Array([4, 5]));
  assert.deepEqual([...first], [1, 2]);
  assert.equal(queue.length, 3);
  const out = new Uint8Array(3);
  queue.readInto(out, 0, 3);
  assert.deepEqual([...out], [3, 4, 5]);
  // Everything read (the gathered chunk dropped): the next bytes start a chunk of their own.
  queue.gather(new Uint8Array([6]));
  assert.deepEqual(queue.drain().map((c) => [...c]), [[6]]);
  assert.deepEqual([...first], [1, 2]);
});

test("gather() of a chunk larger than the block left starts a block that holds it", () => {
  const queue = new ByteQueue();
  queue.gather(new Uint8Array(200).fill(1));
  queue.gather(new Uint8Array(3000).fill(2)); // 200 + 3000 > 256: a new block of 6000
  queue.gather(new Uint8Array(10).fill(3)); // fits in that block
  const chunks = queue.drain();
  assert.deepEqual(chunks.map((c) => c.length), [200, 3010]);
  assert.ok(chunks[1]!.subarray(0, 3000).every((b) => b === 2));
  assert.ok(chunks[1]!.subarray(3000).every((b) => b === 3));
});

test("find() searches the bytes gather() appends to a chunk it has searched to its end", () => {
  const delimiter = new Uint8Array([0x0a]);
  const queue = new ByteQueue();
  queue.gather(new Uint8Array([1, 2, 3]));
  assert.equal(queue.find(delimiter, prefixTable(delimiter)), -1); // searched to the end
  queue.gather(new Uint8Array([0x0a])); // appended to the same chunk
  assert.equal(queue.find(delimiter, prefixTable(delimiter)), 3);
  const two = new Uint8Array([0x0d, 0x0a]);
  const other = new ByteQueue();
  other.gather(new Uint8Array([1, 0x0d]));
  assert.equal(other.find(two, prefixTable(two)), -1); // a candidate at the end, waiting for more bytes
  other.gather(new Uint8Array([0x0a]));
  assert.equal(other.find(two, prefixTable(two)), 1);
});
