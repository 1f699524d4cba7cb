import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  ByteReader,
  decimalHeader,
  delimited,
  fixedSize,
  type FrameDecoder,
  FrameTooLargeError,
  type Framing,
  type FramingLike,
  lengthPrefixed,
  lines,
  netstring,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import {
  byteStreamOf,
  concat,
  streamOf as streamOfChunks,
  wholeInput,
} from "../framing/_formats.ts";
import { Packet } from "../_util/packet.ts";
import { macrotask } from "../_util/macrotask.ts";
import { shiftMoves } from "../_util/shift_moves.ts";

/** A stream of the given byte arrays. */
function streamOf(chunks: number[][]): ReadableStream<Uint8Array> {
  return streamOfChunks(chunks.map((c) => new Uint8Array(c)));
}

test("ByteReader.readExactly() keeps leftovers between calls across every split", async () => {
  const bytes = Array.from({ length: 12 }, (_, i) => i);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const reader = new ByteReader(streamOf([bytes.slice(0, cut), bytes.slice(cut)]));
    assert.deepEqual(await reader.readExactly(5), new Uint8Array(bytes.slice(0, 5)));
    assert.deepEqual(await reader.readExactly(0), new Uint8Array(0));
    assert.deepEqual(await reader.readExactly(7), new Uint8Array(bytes.slice(5)));
    // Zero bytes at the end are an empty array, as documented (the end shows to a read of 1 or more).
    assert.deepEqual(await reader.readExactly(0), new Uint8Array(0));
    assert.equal(await reader.readExactly(1), null);
    assert.deepEqual(await reader.readExactly(0), new Uint8Array(0), "and once the end was seen");
  }
});

test("ByteReader: bytes and frames read from Node Buffer chunks are plain Uint8Arrays (a Buffer's slice() would not copy)", async () => {
  const wire = concat([
    new Uint8Array([1, 2, 3, 4, 5, 6]),
    lengthPrefixed().encode(new Uint8Array(40).fill(7)),
    lines().encode(new Uint8Array(40).fill(8)),
  ]);
  const reader = new ByteReader(streamOfChunks([Buffer.from(wire)]));
  const got = [
    await reader.readExactly(2),
    await reader.readExactly(4),
    await reader.readFrame(lengthPrefixed()),
    await reader.readFrame(lines()),
  ];
  assert.deepEqual(
    got.map((bytes) => Object.getPrototypeOf(bytes)),
    got.map(() => Uint8Array.prototype),
  );
  assert.deepEqual(got[3], new Uint8Array(40).fill(8));
});

test("ByteReader.readFrame() mixes formats and raw reads on one stream", async () => {
  const wire = [
    ...lengthPrefixed({ width: 1 }).encode(new Uint8Array([7, 8])),
    ...new TextEncoder().encode("hello\nrest"),
  ];
  for (let cut = 0; cut <= wire.length; cut++) {
    const reader = new ByteReader(streamOf([wire.slice(0, cut), wire.slice(cut)]));
    assert.deepEqual(await reader.readFrame(lengthPrefixed({ width: 1 })), new Uint8Array([7, 8]));
    assert.equal(new TextDecoder().decode((await reader.readFrame(lines()))!), "hello");
    assert.deepEqual(await reader.readExactly(4), new TextEncoder().encode("rest"));
    assert.equal(await reader.readFrame(lines()), null);
  }
});

test("ByteReader reports a stream that ends mid-read as TruncatedFrameError", async () => {
  const short = new ByteReader(streamOf([[1, 2]]));
  await assert.rejects(short.readExactly(3), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.expected, error.received], [3, 2]);
    return true;
  });
  const frame = new ByteReader(streamOf([[0, 0, 0, 4, 1]]));
  await assert.rejects(frame.readFrame(lengthPrefixed()), TruncatedFrameError);
  // Down to one byte of a header: not taken for a clean end (null).
  for (const [framing, bytes] of [[lengthPrefixed(), [0]], [lines(), [104]]] as const) {
    const reader = new ByteReader(streamOf([[...bytes]]));
    await assert.rejects(reader.readFrame(framing), TruncatedFrameError, framing.name);
  }
  await assert.rejects(new ByteReader(streamOf([])).readExactly(-1), RangeError);
});

test("ByteReader.releaseLock() hands the stream back", () => {
  const stream = streamOf([[1]]);
  const reader = new ByteReader(stream);
  assert.equal(stream.locked, true);
  reader.releaseLock();
  assert.equal(stream.locked, false);
});

test("ByteReader.releaseLock() returns the bytes read ahead, and the stream goes on after them", async () => {
  const bytes = Array.from({ length: 12 }, (_, i) => i);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const mid = Math.max(cut, 9);
    const stream = streamOf([bytes.slice(0, cut), bytes.slice(cut, mid), bytes.slice(mid)]);
    const reader = new ByteReader(stream);
    assert.deepEqual(await reader.readExactly(2), new Uint8Array([0, 1]));
    const ahead = reader.releaseLock();
    assert.equal(reader.bufferedBytes, 0);
    const rest: number[] = [...ahead];
    for await (const chunk of stream) rest.push(...chunk);
    assert.deepEqual(rest, bytes.slice(2), `cut at ${cut}`);
  }
  assert.deepEqual(new ByteReader(streamOf([])).releaseLock(), new Uint8Array(0));
});

test("ByteReader.releaseLock() while a readFrame() waits returns the bytes that read already took", async () => {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  controller.enqueue(new TextEncoder().encode("HEL"));
  const reader = new ByteReader(stream);
  const pending = reader.readFrame(lines());
  // Once the current task is over, the read has taken "HEL" and waits for more.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(new TextDecoder().decode(reader.releaseLock()), "HEL");
  // In framewire's words on every runtime ("The reader was released." on Deno, "Invalid state:
  // Releasing reader" on Bun and Node before), and so is any later read.
  const released = { name: "TypeError", message: "Cannot read bytes as the reader was released" };
  await assert.rejects(pending, released);
  await assert.rejects(reader.readExactly(1), released);
});

test("ByteReader: a call with none pending whose bytes are buffered is done when it returns, before a releaseLock() right after", async () => {
  // As documented (468df41): its promise is settled, so the release returns only the bytes after
  // it. A call that went through a turn of its own instead failed as released, and the release
  // returned its bytes too.
  for (const read of ["readExactly", "readFrame"] as const) {
    const reader = new ByteReader(streamOf([[9, 2, 7, 8, 5, 6]]));
    assert.deepEqual(await reader.readExactly(1), new Uint8Array([9])); // the rest is buffered
    const call = read === "readExactly"
      ? reader.readExactly(3)
      : reader.readFrame(lengthPrefixed({ width: 1 }));
    assert.deepEqual(reader.releaseLock(), new Uint8Array([5, 6]), read);
    assert.deepEqual(
      await call,
      new Uint8Array(read === "readExactly" ? [2, 7, 8] : [7, 8]),
      read,
    );
  }
});

test("ByteReader: no read succeeds after releaseLock(), even from bytes that came in late", async () => {
  // A chunk the read in progress had taken as the lock was released: kept, and served to the
  // next reads before (a review's reproducer: readExactly(3) resolved after release).
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const reader = new ByteReader(stream);
  const pending = reader.readExactly(10);
  const released = { name: "TypeError", message: "Cannot read bytes as the reader was released" };
  controller.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
  // The stream hands the chunk to the read now; release (on Node, Bun and Deno) before the read's
  // continuation has taken it.
  let first: Uint8Array | undefined;
  queueMicrotask(() => first = reader.releaseLock());
  await assert.rejects(pending, released);
  await assert.rejects(reader.readExactly(3), released);
  await assert.rejects(reader.readExactly(0), released);
  await assert.rejects(reader.readFrame(lines()), released);
  // Nor a frame those bytes hold (as a one-byte length, [1, 2, 3, 4, 5] starts with one: [2]).
  await assert.rejects(reader.readFrame(lengthPrefixed({ width: 1 })), released);
  // Nothing lost: what the first releaseLock() could not return, a second one does.
  assert.deepEqual([...first!, ...reader.releaseLock()], [1, 2, 3, 4, 5]);
});

test("ByteReader refuses what is not a ReadableStream, or one that is locked, in its own words", () => {
  // deno-lint-ignore no-explicit-any
  const make = (value: any) => () => new ByteReader(value);
  assert.throws(make(null), {
    name: "TypeError",
    message: "Cannot create ByteReader as readable must be a ReadableStream: received null",
  });
  assert.throws(make(new Uint8Array(1)), /must be a ReadableStream: received Uint8Array$/);
  const stream = new ReadableStream<Uint8Array>();
  stream.getReader();
  assert.throws(make(stream), {
    name: "TypeError",
    message: "Cannot create ByteReader as the stream is locked to another reader",
  });
  // deno-lint-ignore no-explicit-any
  const n = "2" as any;
  return assert.rejects(new ByteReader(new ReadableStream()).readExactly(n), {
    name: "TypeError", // not a number at all: no RangeError
    message: 'Cannot read bytes as n must be a non-negative integer: received the string "2"',
  });
});

test("ByteReader: a transferred frame that shares its chunk with bytes kept for later is a TypeError", async () => {
  // One chunk holds two frames: after the first is returned, the second's bytes are kept as a view
  // of the same chunk. Transferring the first frame's buffer detaches them.
  const framing = lengthPrefixed();
  // 40 bytes: on Bun frames under 33 B inside one chunk are copies of their own.
  const body = Array.from({ length: 40 }, (_, i) => i);
  const wire = [0, 0, 0, 40, ...body, 0, 0, 0, 4, 4, 5, 6, 7];
  // The decoder that read the first frame keeps the second's bytes for the next frame of its
  // framing: another framing's call makes it hand them back first, which fails on detached bytes.
  // "readExactly (more)" asks for more bytes than are buffered: it reads on, but checks them first
  // (the mutation review: without that check it failed with an engine error, not this one).
  const nexts = [
    "readFrame",
    "readFrame (another)",
    "readExactly",
    "readExactly (more)",
    "releaseLock",
  ] as const;
  for (const next of nexts) {
    const reader = new ByteReader(streamOf([wire, [0, 0, 0, 2, 9, 9]]));
    const first = (await reader.readFrame(framing))!;
    assert.deepEqual(first, new Uint8Array(body));
    structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    const call = next === "readFrame"
      ? reader.readFrame(framing)
      : next === "readFrame (another)"
      ? reader.readFrame(lengthPrefixed({ width: 2 }))
      : next === "readExactly"
      ? reader.readExactly(8)
      : next === "readExactly (more)"
      ? reader.readExactly(9)
      : Promise.resolve().then(() => reader.releaseLock());
    // Before: readFrame skipped the second frame (or returned null at the end), readExactly threw
    // an engine error.
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof TypeError, `${next}: ${error}`);
      assert.match(error.message, /detached.*frame\.slice\(\)/);
      return true;
    });
    // The release took place all the same: a read after it says so (the kept decoder's read said
    // the bytes were detached).
    if (next === "releaseLock") {
      await assert.rejects(reader.readFrame(framing), {
        name: "TypeError",
        message: "Cannot read bytes as the reader was released",
      });
    }
  }
});

test("ByteReader: a transferred frame that shares its chunk with a few offset bytes kept for later is a TypeError, at the end of the stream too", async () => {
  // lengthPrefixed's offset bytes alone complete no header, so the decoder kept with them waits
  // for more bytes without reading them: the reader checks its chunks before it goes on.
  const framing = lengthPrefixed({ offset: 4 });
  const body = Array.from({ length: 44 }, (_, i) => i);
  for (const more of [[], [[9, 9, 0, 0, 0, 1, 5]]]) {
    const wire = [...framing.encode(new Uint8Array(body)), 9, 9];
    const reader = new ByteReader(streamOf([wire, ...more]));
    const first = (await reader.readFrame(framing))!;
    assert.deepEqual(first, new Uint8Array(body));
    assert.equal(reader.bufferedBytes, 2);
    structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    await assert.rejects(reader.readFrame(framing), (error) => {
      assert.ok(error instanceof TypeError, `${more.length} more: ${error}`);
      assert.match(error.message, /detached/);
      return true;
    });
  }
});

test("ByteReader: a transferred frame that was a view of the block a decoder copied small chunks into leaves the reader's bytes as they are", async () => {
  // The delimited decoder copies small chunks that come while it holds bytes into a block of its
  // own; a frame inside it is a view of the block. The reader keeps its own chunks: the bytes after
  // the frame are still there once the block is detached, and the framing's next decoder is one
  // that holds no byte of the block.
  const framing = lines();
  const line = new Uint8Array(40).fill(0x78); // on Bun, frames under 33 B are copies
  const encoder = new TextEncoder();
  const reader = new ByteReader(streamOfChunks([
    encoder.encode("ab"),
    concat([encoder.encode("cd\n"), line, encoder.encode("\nyz")]),
    encoder.encode("w\n"),
  ]));
  assert.deepEqual(await reader.readFrame(framing), encoder.encode("abcd"));
  const second = (await reader.readFrame(framing))!;
  assert.deepEqual(second, line);
  assert.ok(second.buffer.byteLength > 46, "a view of the decoder's block");
  structuredClone(second, { transfer: [second.buffer as ArrayBuffer] });
  assert.deepEqual(await reader.readExactly(2), encoder.encode("yz"));
  // Before: the kept decoder, whose block was detached, was used again, and said so.
  assert.deepEqual(await reader.readFrame(framing), encoder.encode("w"));
  assert.equal(await reader.readFrame(framing), null);
});

test("ByteReader: calls made while one is pending run after it, in call order", async () => {
  const framing = lengthPrefixed({ width: 1 });
  const wire = [1, 2, 3, 4, 5, 6, ...framing.encode(new Uint8Array([7, 8])), 9, 10];
  for (let cut = 0; cut <= wire.length; cut++) {
    // Chunks come one per pull: every call but the last has to wait for a read.
    const chunks = [wire.slice(0, cut), wire.slice(cut)].filter((c) => c.length > 0);
    const reader = new ByteReader(streamOf(chunks));
    // Before: the second call could take the first call's bytes, and the first then failed with
    // a TruncatedFrameError that counted more bytes than it expected.
    const results = await Promise.all([
      reader.readExactly(3),
      reader.readExactly(3),
      reader.readFrame(framing),
      reader.readExactly(2),
      reader.readExactly(1),
    ]);
    assert.deepEqual(results, [
      new Uint8Array([1, 2, 3]),
      new Uint8Array([4, 5, 6]),
      new Uint8Array([7, 8]),
      new Uint8Array([9, 10]),
      null,
    ], `cut at ${cut}`);
  }
});

test("ByteReader: a call that fails hands the turn on to the next", async () => {
  const reader = new ByteReader(streamOf([[0, 0, 0, 9, 1], [2]]));
  const tooLarge = reader.readFrame(lengthPrefixed({ maxFrameLength: 4 }));
  const next = reader.readExactly(6);
  await assert.rejects(tooLarge, FrameTooLargeError);
  assert.deepEqual(await next, new Uint8Array([0, 0, 0, 9, 1, 2]));
});

test("ByteReader: after a chunk that is not a Uint8Array, later reads fail too", async () => {
  let i = 0;
  const chunks = [new Uint8Array([1, 2]), new Uint8Array([3, 4]).buffer, new Uint8Array([5, 6])];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++] as Uint8Array);
      else controller.close();
    },
  });
  const reader = new ByteReader(stream);
  await assert.rejects(reader.readExactly(4), TypeError);
  // The bytes before the bad chunk are still there; after them, the reader stays failed. Before,
  // the next read went on past the lost bytes: [1, 2, 5, 6].
  assert.deepEqual(await reader.readExactly(2), new Uint8Array([1, 2]));
  await assert.rejects(reader.readExactly(2), TypeError);
});

test("ByteReader rejects a chunk that is not a Uint8Array with a TypeError", async () => {
  for (const call of ["readExactly", "readFrame"] as const) {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([0, 0, 0, 2, 1, 2]).buffer as unknown as Uint8Array);
        controller.close();
      },
    });
    const reader = new ByteReader(stream);
    // Before: the chunk read as no bytes, and both calls resolved null (a clean end).
    const result = call === "readExactly"
      ? reader.readExactly(2)
      : reader.readFrame(lengthPrefixed());
    await assert.rejects(result, (error) => {
      assert.ok(error instanceof TypeError, `${call}: ${error}`);
      assert.match(error.message, /must be a Uint8Array: received ArrayBuffer/);
      return true;
    });
  }
});

test("ByteReader rejects a chunk whose buffer was transferred before it was read, and later reads fail too", async () => {
  const transferred = new Uint8Array([3, 4]);
  const stream = streamOfChunks([new Uint8Array([1, 2]), transferred, new Uint8Array([5, 6])]);
  // Posted to a worker (transferred) as well as read here: it reads as no bytes.
  transferred.buffer.transfer();
  const reader = new ByteReader(stream);
  // Before: skipped as an empty chunk, and the read went on past its lost bytes: [1, 2, 5, 6].
  await assert.rejects(reader.readExactly(4), {
    name: "TypeError",
    message: /^Cannot read bytes as the chunk's buffer was detached \(transferred\)/,
  });
  assert.deepEqual(await reader.readExactly(2), new Uint8Array([1, 2]));
  await assert.rejects(reader.readExactly(2), TypeError);
});

test("ByteReader reads a length-tracking view of a resizable buffer at the length it had when read", async () => {
  const framing = lengthPrefixed();
  const wire = concat([
    framing.encode(new Uint8Array([1, 2, 3])),
    framing.encode(new Uint8Array([4])),
  ]);
  const reads: [string, (reader: ByteReader) => Promise<unknown>][] = [
    ["readExactly", (reader) => reader.readExactly(5)],
    ["readFrame", (reader) => reader.readFrame(framing)],
  ];
  for (const [call, read] of reads) {
    // Grown after it was read (misuse): the bytes it gained were never in the stream. Before:
    // read as the stream's (readFrame: a FrameTooLargeError of the 0x63 bytes).
    const grows = new ArrayBuffer(wire.length, { maxByteLength: 2 * wire.length });
    new Uint8Array(grows).set(wire);
    const reader = new ByteReader(streamOfChunks([new Uint8Array(grows)]));
    assert.deepEqual(await reader.readExactly(2), new Uint8Array([0, 0]), call);
    grows.resize(2 * wire.length);
    new Uint8Array(grows).fill(0x63, wire.length);
    assert.deepEqual(await reader.readExactly(5), new Uint8Array([0, 3, 1, 2, 3]), call);
    assert.deepEqual(await reader.readFrame(framing), new Uint8Array([4]), call);
    assert.equal(await read(reader), null, call);

    // Shrunk after it was read: the bytes kept are gone, which the reader says. Before: "Cannot
    // read properties of undefined" from inside it.
    const shrinks = new ArrayBuffer(wire.length, { maxByteLength: wire.length });
    new Uint8Array(shrinks).set(wire);
    const shrunk = new ByteReader(streamOfChunks([new Uint8Array(shrinks)]));
    assert.deepEqual(await shrunk.readExactly(2), new Uint8Array([0, 0]), call);
    shrinks.resize(4);
    await assert.rejects(read(shrunk), {
      name: "TypeError",
      message: /^Cannot decode frames as bytes held for decoding were detached or shrunk/,
    }, call);
  }
});

test("ByteReader reads chunks of a Uint8Array subclass of one's own as plain ones", async () => {
  const framing = lengthPrefixed();
  const wire = concat([
    framing.encode(new Uint8Array([1, 2, 3])),
    framing.encode(new Uint8Array([4])),
  ]);
  for (let cut = 1; cut < wire.length; cut++) {
    // A Packet's subarray() is an empty Packet. Before: the rest of a chunk read in part was such
    // an empty Packet, and the next read failed ("bytes held for decoding were detached").
    const chunks = [new Packet(wire.subarray(0, cut)), new Packet(wire.subarray(cut))];
    const reader = new ByteReader(streamOfChunks(chunks));
    assert.deepEqual(await reader.readExactly(2), new Uint8Array([0, 0]), `cut ${cut}`);
    assert.deepEqual(await reader.readExactly(5), new Uint8Array([0, 3, 1, 2, 3]), `cut ${cut}`);
    assert.deepEqual(await reader.readFrame(framing), new Uint8Array([4]), `cut ${cut}`);
    assert.equal(await reader.readExactly(1), null, `cut ${cut}`);
  }
});

test("ByteReader.readExactly() refuses a negative count with bytes buffered too", async () => {
  const reader = new ByteReader(streamOf([[1, 2, 3, 4]]));
  assert.deepEqual(await reader.readExactly(1), new Uint8Array([1]));
  await assert.rejects(reader.readExactly(-1), RangeError);
  assert.deepEqual(await reader.readExactly(3), new Uint8Array([2, 3, 4]));
});

test("ByteReader skips empty chunks: the bytes before one are kept after a truncation", async () => {
  const reader = new ByteReader(streamOf([[1, 2], []]));
  await assert.rejects(reader.readExactly(3), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.expected, error.received], [3, 2]);
    return true;
  });
  assert.equal(reader.bufferedBytes, 2);
  // Not a TypeError: an empty chunk kept would look like one whose buffer was transferred.
  assert.deepEqual(reader.releaseLock(), new Uint8Array([1, 2]));
});

test("ByteReader.readExactly() returns a view of the chunk that holds the bytes, a whole chunk too", async () => {
  const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7])];
  let i = 0;
  const reader = new ByteReader(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    }),
  );
  const whole = (await reader.readExactly(3))!;
  assert.deepEqual(whole, new Uint8Array([1, 2, 3]));
  assert.equal(whole.buffer, chunks[0]!.buffer);
  const part = (await reader.readExactly(2))!;
  assert.deepEqual(part, new Uint8Array([4, 5]));
  assert.equal(part.buffer, chunks[1]!.buffer);
});

test("ByteReader.readExactly() returns a view of the chunk that holds the bytes after a frame that ended a chunk before it", async () => {
  // A readFrame() that failed left two chunks buffered; the next frame is the whole first chunk,
  // and the bytes after it the whole second one: the reader drops the first (it counts the bytes
  // not yet returned from the end of its chunks), and returns the second's bytes as a view of it.
  const first = new TextEncoder().encode("abcd");
  const second = new TextEncoder().encode("efgh\nxy");
  const reader = new ByteReader(streamOfChunks([first, second]));
  await assert.rejects(reader.readFrame(lines({ maxFrameLength: 6 })), FrameTooLargeError);
  assert.deepEqual(await reader.readFrame(fixedSize(4)), first);
  assert.equal(reader.bufferedBytes, 7);
  const bytes = (await reader.readExactly(3))!;
  assert.deepEqual(bytes, second.subarray(0, 3));
  assert.equal(bytes.buffer, second.buffer, "a view of the second chunk");
  assert.deepEqual(await reader.readFrame(lines()), new TextEncoder().encode("h"));
});

/** The bytes of `wire` cut at `a` and `b` (`a <= b`) into three chunks, empty ones dropped. */
function threeChunks(wire: Uint8Array, a: number, b: number): ReadableStream<Uint8Array> {
  const parts = [wire.slice(0, a), wire.slice(a, b), wire.slice(b)];
  return streamOfChunks(parts.filter((part) => part.length > 0));
}

test("ByteReader: one framing read again and again, between raw reads and another framing, across every two cuts", async () => {
  // readFrame() keeps its decoder for the next call with the same framing: each call must still
  // take exactly the bytes after the last one, whatever was read in between.
  const lp = lengthPrefixed({ width: 2 });
  const line = lines();
  const text = (bytes: Uint8Array | null): string | null =>
    bytes === null ? null : new TextDecoder().decode(bytes);
  const wire = concat([
    lp.encode(new TextEncoder().encode("one")),
    lp.encode(new TextEncoder().encode("two, a little longer")),
    new TextEncoder().encode("RAW"),
    lp.encode(new TextEncoder().encode("three")),
    line.encode(new TextEncoder().encode("a line")),
    lp.encode(new TextEncoder().encode("four")),
    lp.encode(new Uint8Array(0)),
  ]);
  const expected = ["one", "two, a little longer", "RAW", "three", "a line", "four", "", null];
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b++) {
      for (const together of [false, true]) {
        const reader = new ByteReader(threeChunks(wire, a, b));
        const calls = [
          () => reader.readFrame(lp),
          () => reader.readFrame(lp),
          () => reader.readExactly(3),
          () => reader.readFrame(lp),
          () => reader.readFrame(line),
          () => reader.readFrame(lp),
          () => reader.readFrame(lp),
          () => reader.readFrame(lp),
        ];
        // One at a time, or all made at once (each waits for the one before).
        const got = together
          ? await Promise.all(calls.map((call) => call()))
          : await calls.reduce<Promise<(Uint8Array | null)[]>>(
            async (done, call) => [...await done, await call()],
            Promise.resolve([]),
          );
        assert.deepEqual(got.map(text), expected, `cuts at ${a} and ${b}, together: ${together}`);
      }
    }
  }
});

test("ByteReader: a readFrame() that fails leaves its bytes for the next read, also with the framing's decoder kept", async () => {
  // The decoder kept with the bytes after a frame is taken out while a call uses it: one that
  // failed is not used again (kept, it still held the bad frame's bytes, and the next readFrame()
  // of the framing gave it the bytes after them too, to fail on the bad frame again). Without the
  // second failing call too: that call, made with a new decoder, hid such a kept one.
  const framing = lengthPrefixed({ width: 1, maxFrameLength: 3 });
  const wire = new Uint8Array([2, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 6]);
  for (const again of [true, false]) {
    for (let a = 0; a <= wire.length; a++) {
      for (let b = a; b <= wire.length; b++) {
        const reader = new ByteReader(threeChunks(wire, a, b));
        assert.deepEqual(await reader.readFrame(framing), new Uint8Array([7, 8]));
        await assert.rejects(reader.readFrame(framing), FrameTooLargeError);
        if (again) {
          await assert.rejects(reader.readFrame(framing), FrameTooLargeError, "the same bytes");
        }
        // The application skips the bad frame by hand, and goes on with the framing.
        assert.deepEqual(await reader.readExactly(10), wire.subarray(3, 13));
        const cuts = `cuts ${a}, ${b}${again ? ", failed twice" : ""}`;
        assert.deepEqual(await reader.readFrame(framing), new Uint8Array([6]), cuts);
        assert.equal(await reader.readFrame(framing), null);
      }
    }
  }
});

test("ByteReader: frames that span chunks are buffers of their own, also one after another with one framing", async () => {
  // readFrame() keeps its decoder for the next frame of the framing; frames that span chunks are
  // still copied into memory no other frame shares (the kept decoder once carved them out of one
  // slab): transferring one leaves the others as they are.
  const a = new Uint8Array(40).fill(1);
  const b = new Uint8Array(40).fill(2);
  // Every factory's framing: the reader keeps only framewire's own decoders (ownFraming()), and a
  // framing left unmarked would get a fresh decoder per frame, its slab 4 KiB.
  for (
    const framing of [
      lengthPrefixed({ width: 1 }),
      lengthPrefixed(),
      varint(),
      decimalHeader(),
      netstring(),
      fixedSize(40),
      delimited({ delimiter: "\r\n" }),
      lines(),
    ]
  ) {
    const one = framing.encode(a);
    const two = framing.encode(b);
    // Each frame spans two chunks.
    const reader = new ByteReader(streamOfChunks([
      one.slice(0, 10),
      concat([one.slice(10), two.slice(0, 10)]),
      two.slice(10),
    ]));
    const first = (await reader.readFrame(framing))!;
    const second = (await reader.readFrame(framing))!;
    assert.notEqual(first.buffer, second.buffer, framing.name);
    // Each of its own size: no slab 16 times as large held for nothing. (The delimited formats'
    // decoder, kept with the bytes after the first frame, gathers the small chunk that completes
    // the second into the block its start was copied into, 256 bytes: it lies in that block.)
    const gathers = framing.name === "line" || framing.name === "delimited";
    assert.deepEqual(
      [first.buffer.byteLength, second.buffer.byteLength],
      [40, gathers ? 256 : 40],
      framing.name,
    );
    structuredClone(second, { transfer: [second.buffer as ArrayBuffer] });
    assert.deepEqual(first, a, framing.name);
    assert.equal(await reader.readFrame(framing), null);
    // Chunks of 4 KiB and more (not gathered into a block): 110 frames between the two.
    const filler = concat(Array.from({ length: 110 }, () => framing.encode(b)));
    const large = new ByteReader(streamOfChunks([
      one.slice(0, 10),
      concat([one.slice(10), filler, two.slice(0, 10)]),
      concat([two.slice(10), filler]),
    ]));
    const spanning: Uint8Array[] = [];
    for (let frame; (frame = await large.readFrame(framing)) !== null;) {
      if (frame.buffer.byteLength < 4096) spanning.push(frame);
    }
    assert.deepEqual(spanning, [a, b], framing.name);
    assert.deepEqual(spanning.map((frame) => frame.buffer.byteLength), [40, 40], framing.name);
  }
});

test("ByteReader: a readExactly() made while a readFrame() waits for bytes waits for it, even with its own bytes buffered", async () => {
  // A call with nothing pending takes buffered bytes at once; one made while another is pending
  // must not, or it takes that call's bytes.
  const framing = lengthPrefixed({ width: 1 });
  for (let cut = 3; cut <= 6; cut++) {
    const wire = [0, 3, 7, 8, 9, 1, 2];
    const reader = new ByteReader(streamOf([wire.slice(0, cut), wire.slice(cut)]));
    assert.deepEqual(await reader.readExactly(1), new Uint8Array([0]));
    // Buffered now: the frame's header and some of its payload, not all of it.
    const frame = reader.readFrame(framing);
    const after = reader.readExactly(2);
    assert.deepEqual(await frame, new Uint8Array([7, 8, 9]), `cut at ${cut}`);
    assert.deepEqual(await after, new Uint8Array([1, 2]), `cut at ${cut}`);
  }
});

test("ByteReader: a call made once the first of two pending calls resolved waits for the second", async () => {
  // The turn goes from the first call to the second: the reader stays busy in between, so a call
  // made meanwhile (here, after awaiting the first) takes the bytes after the second call's.
  const wire = Array.from({ length: 12 }, (_, i) => i);
  for (let cut = 1; cut < wire.length; cut++) {
    // One chunk per pull: the second call needs both.
    const reader = new ByteReader(streamOf([wire.slice(0, cut), wire.slice(cut)]));
    const first = reader.readExactly(1);
    const second = reader.readExactly(10);
    assert.deepEqual(await first, new Uint8Array([0]), `cut at ${cut}`);
    const third = reader.readExactly(1);
    assert.deepEqual(await second, new Uint8Array(wire.slice(1, 11)), `cut at ${cut}`);
    assert.deepEqual(await third, new Uint8Array([11]), `cut at ${cut}`);
  }
});

test("ByteReader: a readFrame() made at any turn of the microtask queue while another one ends takes the frame after it", async () => {
  // Between a pending readFrame() finding its frame and the end of its turn, the reader is busy
  // and its decoder, kept, holds the bytes after the frame: a call made then (by code that runs
  // meanwhile, e.g. another task that reads too) waits for the turn, and must not go on with them
  // as they are in the decoder and be given them again.
  const framing = lengthPrefixed({ width: 1 });
  const frames = [[1, 1, 1], [2, 2], [3]].map((p) => new Uint8Array(p));
  const wire = concat(frames.map((frame) => framing.encode(frame)));
  for (let turns = 0; turns < 30; turns++) {
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const reader = new ByteReader(new ReadableStream({ start: (c) => void (controller = c) }));
    const first = reader.readFrame(framing);
    controller!.enqueue(wire.slice());
    controller!.close();
    let later = Promise.resolve();
    for (let i = 0; i < turns; i++) later = later.then();
    const second = later.then(() => reader.readFrame(framing));
    assert.deepEqual(await first, frames[0], `${turns} turns`);
    assert.deepEqual(await second, frames[1], `${turns} turns`);
    assert.equal(reader.bufferedBytes, 2, `${turns} turns`);
    assert.deepEqual(await reader.readFrame(framing), frames[2], `${turns} turns`);
    assert.equal(await reader.readFrame(framing), null, `${turns} turns`);
  }
});

test("ByteReader: calls a decoder makes into its reader while decoding run after its frame", async () => {
  // A format of one's own (a one-byte length) whose decoder, given its first bytes, calls the
  // reader again: those calls wait for the readFrame() that decodes, and take the bytes after it.
  const made: Promise<Uint8Array | null>[] = [];
  let reader: ByteReader;
  const framing: FramingLike = {
    name: "calls-back",
    maxFrameLength: 255,
    encode: (payload) => Uint8Array.of(payload.length, ...payload),
    decoder: () => {
      let bytes: Uint8Array = new Uint8Array(0);
      return {
        get bufferedBytes() {
          return bytes.length;
        },
        push(chunk: Uint8Array) {
          if (made.length === 0) made.push(reader.readExactly(1), reader.readFrame(framing));
          bytes = concat([bytes, chunk]);
        },
        next() {
          const n = bytes[0];
          if (n === undefined || bytes.length < 1 + n) return undefined;
          const frame = bytes.slice(1, 1 + n);
          bytes = bytes.subarray(1 + n);
          return frame;
        },
        end() {
          if (bytes.length > 0) throw new Error("truncated");
        },
      };
    },
  };
  const wire = [0, 2, 7, 8, 9, 1, 6];
  for (let cut = 1; cut <= wire.length; cut++) {
    made.length = 0;
    reader = new ByteReader(streamOf([wire.slice(0, cut), wire.slice(cut)]));
    // Reads the first chunk: from a cut at 4 on, the frame is buffered when readFrame() is called.
    assert.deepEqual(await reader.readExactly(1), new Uint8Array([0]));
    assert.deepEqual(await reader.readFrame(framing), new Uint8Array([7, 8]), `cut at ${cut}`);
    assert.equal(made.length, 2);
    assert.deepEqual(await made[0], new Uint8Array([9]), `cut at ${cut}`);
    assert.deepEqual(await made[1], new Uint8Array([6]), `cut at ${cut}`);
  }
});

test("ByteReader: a framing of one's own gets a decoder of its own per readFrame(), as it may change them", async () => {
  // A protocol that raises its limit after a handshake, through a framing whose decoder() reads
  // the limit in force: the reader must not go on with the decoder of the call before.
  let limit = 4;
  const growing = {
    name: "growing",
    maxFrameLength: 255,
    encode: (payload: Uint8Array) => lengthPrefixed({ width: 1 }).encode(payload),
    decoder: () => lengthPrefixed({ width: 1, maxFrameLength: limit }).decoder(),
  };
  const wire = new Uint8Array([2, 1, 2, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
  const reader = new ByteReader(streamOfChunks([wire]));
  assert.deepEqual(await reader.readFrame(growing), new Uint8Array([1, 2]));
  limit = 8;
  assert.deepEqual(await reader.readFrame(growing), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.equal(await reader.readFrame(growing), null);
});

test("ByteReader: a framewire framing whose decoder() was replaced in place is read as a framing of one's own", async () => {
  // The reader keeps framewire's own decoders from frame to frame; a framing object of framewire's
  // whose decoder() an application wrapped (here, to count them) gives decoders without the
  // reader's hooks. Before: the frame each call found was lost to a TypeError
  // (keepAsFresh is not a function).
  const framing = lengthPrefixed({ width: 1 });
  const make = framing.decoder.bind(framing);
  let made = 0;
  (framing as { decoder: () => FrameDecoder }).decoder = () => {
    made++;
    const inner = make();
    return {
      get bufferedBytes() {
        return inner.bufferedBytes;
      },
      push: (chunk: Uint8Array) => inner.push(chunk),
      next: () => inner.next(),
      end: () => inner.end(),
    };
  };
  const reader = new ByteReader(streamOf([[1, 7, 2, 8, 9, 1], [6]]));
  assert.deepEqual(await reader.readFrame(framing), new Uint8Array([7]));
  assert.deepEqual(await reader.readFrame(framing), new Uint8Array([8, 9]));
  assert.deepEqual(await reader.readFrame(framing), new Uint8Array([6]));
  assert.equal(await reader.readFrame(framing), null);
  assert.equal(made, 4, "a decoder per call");
});

test("ByteReader.releaseLock() fails a read in progress at the end of the stream too", async () => {
  const released = { name: "TypeError", message: "Cannot read bytes as the reader was released" };
  for (const seenEnd of [false, true]) {
    for (const read of ["readExactly", "readFrame"] as const) {
      const reader = new ByteReader(streamOf([[1, 2]]));
      assert.deepEqual(await reader.readExactly(2), new Uint8Array([1, 2]));
      if (seenEnd) assert.equal(await reader.readExactly(1), null);
      // The stream has ended: the read learns it at once, but not before the release.
      const pending = read === "readExactly" ? reader.readExactly(1) : reader.readFrame(lines());
      assert.deepEqual(reader.releaseLock(), new Uint8Array(0));
      await assert.rejects(pending, released, `${read}, end seen before: ${seenEnd}`);
    }
  }
});

test("ByteReader: random reads of raw bytes and four formats, one at a time or in bursts, over random chunkings (fast-check)", async () => {
  // What each call returns is known from how the wire was built; the framings are shared (kept
  // decoders) or made per call, and calls are made in bursts of unawaited ones or one by one.
  const formats = {
    u32be: () => lengthPrefixed(),
    u8: () => lengthPrefixed({ width: 1 }),
    varint: () => varint(),
    line: () => lines(),
  };
  type Name = keyof typeof formats;
  const names = Object.keys(formats) as Name[];
  const shared = Object.fromEntries(names.map((n) => [n, formats[n]()])) as Record<Name, Framing>;
  // Lowercase letters: no delimiter and no final "\r" in a line.
  const bytes = fc.uint8Array({ minLength: 0, maxLength: 70 }).map((b) =>
    b.map((x) => 0x61 + (x % 26))
  );
  const op = fc.oneof(
    fc.record({ kind: fc.constant("exact" as const), payload: bytes }),
    fc.record({
      kind: fc.constant("frame" as const),
      format: fc.constantFrom(...names),
      fresh: fc.boolean(),
      payload: bytes,
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 12 }),
      async (ops, cutSeeds, bursts) => {
        const wire = concat(
          ops.map((o) => o.kind === "exact" ? o.payload : shared[o.format].encode(o.payload)),
        );
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const cut of [...cuts, wire.length]) {
          if (cut > at) chunks.push(wire.slice(at, cut));
          at = cut;
        }
        const reader = new ByteReader(streamOfChunks(chunks));
        const call = (o: (typeof ops)[number]): Promise<Uint8Array | null> =>
          o.kind === "exact"
            ? reader.readExactly(o.payload.length)
            : reader.readFrame(o.fresh ? formats[o.format]() : shared[o.format]);
        const got: (Uint8Array | null)[] = [];
        for (let i = 0, b = 0; i < ops.length; b++) {
          const size = bursts[b % bursts.length]!;
          got.push(...await Promise.all(ops.slice(i, i + size).map(call)));
          i += size;
        }
        assert.deepEqual(got, ops.map((o) => o.payload));
        assert.equal(reader.bufferedBytes, 0);
        assert.equal(await reader.readFrame(shared.u32be), null);
      },
    ),
    { numRuns: 200 },
  );
});

test("ByteReader: a stream that errors inside a frame rejects every call with its own error object, and the bytes before it stay buffered", async () => {
  const boom = new Error("reset");
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const reader = new ByteReader(
    new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) }),
  );
  controller.enqueue(new Uint8Array([0, 0, 0, 5, 1]));
  const first = reader.readFrame(lengthPrefixed());
  await macrotask(); // it took the chunk and waits for more (an ordering barrier)
  controller.error(boom);
  // Not a TruncatedFrameError (the stream did not end), and not wrapped.
  await assert.rejects(first, (error) => error === boom);
  await assert.rejects(reader.readFrame(lengthPrefixed()), (error) => error === boom);
  await assert.rejects(reader.readExactly(6), (error) => error === boom);
  assert.equal(reader.bufferedBytes, 5);
  assert.deepEqual(await reader.readExactly(4), new Uint8Array([0, 0, 0, 5])); // buffered: no read
  assert.deepEqual(reader.releaseLock(), new Uint8Array([1]));
});

test('ByteReader reads a byte stream (type "bytes") whose source fills the reads\' own buffers', async () => {
  const wire = new Uint8Array([0, 0, 0, 3, 1, 2, 3, 9, 8, 7]);
  const reader = new ByteReader(byteStreamOf(wire, 2, 4)); // 2 bytes at a time
  assert.deepEqual(await reader.readFrame(lengthPrefixed()), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await reader.readExactly(3), new Uint8Array([9, 8, 7]));
  assert.equal(await reader.readExactly(1), null);
});

test("ByteReader: 20,000 calls made at once are answered in call order in linear time (no shift() of a long array)", async () => {
  // Calls made while one runs wait their turn in a queue. Taken with shift(), each turn moved
  // every call behind it: quadratic on V8 past about 16,000 calls made without awaiting.
  const n = 20_000;
  const bytes = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
  const reader = new ByteReader(streamOfChunks([bytes]));
  let got: (Uint8Array | null)[] = [];
  const moved = await shiftMoves(async () => {
    got = await Promise.all(Array.from({ length: n }, () => reader.readExactly(1)));
  });
  assert.equal(got.length, n);
  got.forEach((b, i) => {
    if (b === null || b.length !== 1 || b[0] !== (i & 0xff)) assert.fail(`call ${i} got ${b}`);
  });
  assert.ok(moved <= n, `shift() moved ${moved} elements for ${n} calls`);
});

test("ByteReader: a readFrame() that fails after a raw read does not keep the framing's decoder", async () => {
  // The mutation review (#decoderOf() left #kept set when it handed the kept decoder out): a
  // readExactly() between two frames makes the kept decoder hand its bytes back; the next
  // readFrame() takes it again, and once that call failed it was still kept, so the framing's
  // later readFrame() gave the bad frame's decoder the bytes after it and failed again.
  const framing = lengthPrefixed({ width: 1, maxFrameLength: 3 });
  const wire = new Uint8Array([2, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 6]);
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b++) {
      const cuts = `cuts ${a}, ${b}`;
      const reader = new ByteReader(threeChunks(wire, a, b));
      assert.deepEqual(await reader.readFrame(framing), new Uint8Array([7, 8]), cuts);
      assert.deepEqual(await reader.readExactly(0), new Uint8Array(0), cuts);
      await assert.rejects(reader.readFrame(framing), FrameTooLargeError, cuts);
      // The application skips the bad frame by hand, and goes on with the framing.
      assert.deepEqual(await reader.readExactly(10), wire.subarray(3, 13), cuts);
      assert.deepEqual(await reader.readFrame(framing), new Uint8Array([6]), cuts);
      assert.equal(await reader.readFrame(framing), null, cuts);
    }
  }
});

test("ByteReader.readFrame() returns a frame that the framing completes at the end of the stream, then null", async () => {
  // The mutation review: with `decoder.next() ?? null` -> `null` after end() the frame was lost;
  // without the `bufferedBytes === 0` check the reader asked end() for a frame at a clean end too,
  // and this framing made an empty one of the no bytes left.
  const whole = wholeInput();
  const reader = new ByteReader(streamOf([[1, 2], [3]]));
  assert.deepEqual(await reader.readFrame(whole), new Uint8Array([1, 2, 3]));
  assert.equal(await reader.readFrame(whole), null);
  assert.equal(await new ByteReader(streamOf([])).readFrame(whole), null);
});

test("ByteReader: transferring a result whose chunk a frame then read to its end leaves the reader's bytes as they are", async () => {
  // The mutation review (#keepRest() without #dropReturned()): the chunk of a readExactly() result
  // stayed buffered once a frame that spans it into the next chunk was read, and transferring the
  // result's buffer then made the next read fail as if bytes kept for it were detached.
  const framing = lengthPrefixed();
  const reader = new ByteReader(streamOf([[0xaa, 0, 0, 0, 3, 1], [2, 3, 0, 0, 0, 1, 5]]));
  const first = (await reader.readExactly(1))!;
  assert.deepEqual(first, new Uint8Array([0xaa]));
  assert.deepEqual(await reader.readFrame(framing), new Uint8Array([1, 2, 3]));
  structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
  assert.equal(first.length, 0); // it was a view of the first chunk, now detached
  assert.deepEqual(await reader.readFrame(framing), new Uint8Array([5]));
  assert.equal(await reader.readFrame(framing), null);
});
