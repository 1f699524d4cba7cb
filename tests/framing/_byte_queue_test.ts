// ByteQueue: gather() (small chunks copied together into blocks of the queue's own), and more.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteQueue } from "../../src/framing/_byte_queue.ts";
import { prefixTable } from "../../src/framing/_search.ts";
import { delimited, lengthPrefixed } from "../../mod.ts";

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

// The mutation review of ByteQueue: the tests below pin what no test reached.

test("a queue that has held more than 1024 chunks at once hands out every byte in order", () => {
  // Past 1024 chunks read, the array of chunks is compacted: with its slice or its head reset
  // left out, bytes were lost or read from dropped chunks, and every test passed.
  const queue = new ByteQueue();
  const n = 3000;
  for (let i = 0; i < n; i++) queue.push(new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
  const out = new Uint8Array(2);
  for (let i = 0; i < n; i++) {
    assert.equal(queue.byteAt(1), (i >> 8) & 0xff, `chunk ${i}`);
    queue.readInto(out, 0, 2);
    assert.deepEqual([...out], [i & 0xff, (i >> 8) & 0xff], `chunk ${i}`);
    if (i % 7 === 0) queue.push(new Uint8Array(0)); // ignored
  }
  assert.equal(queue.length, 0);
  // So through a decoder: 3000 one-frame chunks pushed before any is read.
  const framing = lengthPrefixed({ width: 1 });
  const decoder = framing.decoder();
  for (let i = 0; i < n; i++) decoder.push(framing.encode(new Uint8Array([i & 0xff])));
  for (let i = 0; i < n; i++) assert.deepEqual(decoder.next(), new Uint8Array([i & 0xff]));
  assert.equal(decoder.next(), undefined);
});

test("drain() hands back the unread part of the head chunk and the chunks after it whole", () => {
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 2, 3]));
  queue.push(new Uint8Array([4, 5]));
  queue.push(new Uint8Array([6]));
  queue.push(new Uint8Array([7, 8]));
  queue.skip(4); // the first chunk read, and one byte of the second
  assert.deepEqual(queue.drain().map((c) => [...c]), [[5], [6], [7, 8]]);
  assert.equal(queue.length, 0);
  // Emptied: it starts over with the next bytes (a search too).
  const delimiter = new Uint8Array([0x0a]);
  queue.push(new Uint8Array([7, 0x0a]));
  assert.equal(queue.find(delimiter, prefixTable(delimiter)), 1);
  const out = new Uint8Array(2);
  queue.readInto(out, 0, 2);
  assert.deepEqual([...out], [7, 0x0a]);
});

test("every read of a held chunk whose memory was transferred away says so: no engine error, no skipped bytes", () => {
  const detachedHead = () => {
    const queue = new ByteQueue();
    const chunk = new Uint8Array([1, 2, 3, 0x0a]);
    queue.push(chunk);
    queue.push(new Uint8Array([4, 5, 6, 0x0a]));
    structuredClone(chunk.buffer, { transfer: [chunk.buffer] }); // detaches `chunk`
    return queue;
  };
  const delimiter = new Uint8Array([0x0a]);
  const twoBytes = new Uint8Array([0x0d, 0x0a]);
  const reads: [string, (queue: ByteQueue) => unknown][] = [
    ["byteAt", (q) => q.byteAt(0)],
    ["peekInto", (q) => q.peekInto(new Uint8Array(4), 0, 4)],
    ["skip", (q) => q.skip(2)],
    ["readInto", (q) => q.readInto(new Uint8Array(4), 0, 4)],
    ["find", (q) => q.find(delimiter, prefixTable(delimiter))],
    ["find (2 bytes)", (q) => q.find(twoBytes, prefixTable(twoBytes))],
  ];
  for (const [name, read] of reads) {
    assert.throws(() => read(detachedHead()), (error) => {
      assert.ok(error instanceof TypeError, `${name}: ${error}`);
      assert.match(
        error.message,
        /^Cannot decode frames as bytes held for decoding were detached or shrunk \(/,
        name,
      );
      return true;
    });
  }
});

// The second mutation review of ByteQueue (every mutant run, with a time limit for those that hang).

test("gather() fills each block to its end, then starts one twice as large, up to 64 KiB", () => {
  const queue = new ByteQueue();
  for (let i = 0; i < 256 + 512 + 1; i++) queue.gather(new Uint8Array([i & 0xff]));
  assert.deepEqual(queue.drain().map((c) => c.length), [256, 512, 1]);
  // Blocks of 256 B doubling to 32 KiB (65280 B in all), then 64 KiB ones.
  for (let i = 0; i < 200_000; i++) queue.gather(new Uint8Array([i & 0xff]));
  assert.deepEqual(
    queue.drain().map((c) => c.length),
    [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536, 3648],
  );
  // A first chunk larger than 128 B: a block of twice its size.
  queue.gather(new Uint8Array(200));
  queue.gather(new Uint8Array(200));
  queue.gather(new Uint8Array(1));
  assert.deepEqual(queue.drain().map((c) => c.length), [400, 1]);
});

test("readInto() writes the n bytes asked for and no more, also a few inside one chunk", () => {
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 2, 3, 4, 5, 6]));
  const out = new Uint8Array(6).fill(9);
  queue.readInto(out, 1, 2);
  assert.deepEqual([...out], [9, 1, 2, 9, 9, 9]);
  queue.readInto(out, 3, 2); // from inside the chunk
  assert.deepEqual([...out], [9, 1, 2, 3, 4, 9]);
  assert.equal(queue.length, 2);
});

test("drain() hands back a head chunk not read into as it is, not a view of it", () => {
  const queue = new ByteQueue();
  const pushed = new Uint8Array([1, 2, 3]);
  queue.push(pushed);
  assert.equal(queue.drain()[0], pushed);
});

test("find() after bytes were consumed starts with nothing matched: a frame may start with the delimiter's last byte", () => {
  const crlf = new Uint8Array([0x0d, 0x0a]);
  const queue = new ByteQueue();
  queue.push(new Uint8Array([65, 0x0d, 0x0a, 0x0a, 66, 0x0d, 0x0a])); // "A\r\n\nB\r\n"
  assert.equal(queue.find(crlf, prefixTable(crlf)), 1);
  assert.deepEqual([...queue.take(1)], [65]);
  queue.skip(2);
  assert.equal(queue.find(crlf, prefixTable(crlf)), 2); // "\nB", then the delimiter
  // So through a decoder.
  const decoder = delimited({ delimiter: "\r\n" }).decoder();
  decoder.push(new TextEncoder().encode("A\r\n\nB\r\n"));
  const frames = [decoder.next(), decoder.next()].map((f) => f && new TextDecoder().decode(f));
  assert.deepEqual(frames, ["A", "\nB"]);
});

test("take(0) of an empty queue is an empty array", () => {
  assert.equal(new ByteQueue().take(0).length, 0);
});

test("find() after readInto() or skip() counts from the new front", () => {
  const delimiter = new Uint8Array([0x0a]);
  const table = prefixTable(delimiter);
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 2, 3, 0x0a, 4, 0x0a]));
  assert.equal(queue.find(delimiter, table), 3);
  queue.readInto(new Uint8Array(2), 0, 2);
  assert.equal(queue.find(delimiter, table), 1);
  queue.skip(1);
  assert.equal(queue.find(delimiter, table), 0);
});

test("find() again before bytes are consumed finds the same delimiter, also one split across chunks", () => {
  const crlf = new Uint8Array([0x0d, 0x0a]);
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 0x0d]));
  queue.push(new Uint8Array([0x0a, 2]));
  assert.equal(queue.find(crlf, prefixTable(crlf)), 1);
  assert.equal(queue.find(crlf, prefixTable(crlf)), 1);
  // At the front.
  queue.skip(1);
  assert.equal(queue.find(crlf, prefixTable(crlf)), 0);
  assert.equal(queue.find(crlf, prefixTable(crlf)), 0);
});

test("find() after a search that ended inside a delimiter and a consume of those bytes starts with nothing matched", () => {
  const crlf = new Uint8Array([0x0d, 0x0a]);
  for (const consume of ["skip", "drain"] as const) {
    const queue = new ByteQueue();
    queue.push(new Uint8Array([65, 0x0d]));
    assert.equal(queue.find(crlf, prefixTable(crlf)), -1);
    assert.equal(queue.matchedAtEnd, 1, consume);
    if (consume === "skip") queue.skip(2);
    else queue.drain();
    queue.push(new Uint8Array([0x0a, 66, 0x0d, 0x0a])); // "\nB", then the delimiter
    assert.equal(queue.find(crlf, prefixTable(crlf)), 2, consume);
  }
});
