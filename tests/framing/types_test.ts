// A wire format of one's own with only DESIGN.md's four members (FramingLike) works everywhere a
// framing goes: FrameEncoderStream, FrameDecoderStream, ByteReader.readFrame and framed().
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ByteReader,
  type Conn,
  framed,
  type FrameDecoder,
  FrameDecoderStream,
  FrameEncoderStream,
  type FramingLike,
} from "../../mod.ts";
import { MemoryLink } from "../_util/memory_conn.ts";
import { streamOf } from "./_formats.ts";

/** A one-byte length prefix, decoded naively (it joins what it holds on every push). */
class U8Decoder implements FrameDecoder {
  #bytes = new Uint8Array(0);
  get bufferedBytes(): number {
    return this.#bytes.length;
  }
  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#bytes.length + chunk.length);
    joined.set(this.#bytes);
    joined.set(chunk, this.#bytes.length);
    this.#bytes = joined;
  }
  /** The first byte held (a frame's length), if any. */
  peek(): number | undefined {
    return this.#bytes[0];
  }
  next(): Uint8Array | undefined {
    const n = this.#bytes[0];
    if (n === undefined || this.#bytes.length < 1 + n) return undefined;
    const frame = this.#bytes.slice(1, 1 + n);
    this.#bytes = this.#bytes.subarray(1 + n);
    return frame;
  }
  end(): void {
    if (this.#bytes.length > 0) throw new Error("truncated");
  }
}

const u8: FramingLike = {
  name: "my-u8",
  maxFrameLength: 255,
  encode(payload) {
    if (payload.length > 255) throw new RangeError("too long");
    return Uint8Array.of(payload.length, ...payload);
  },
  decoder: () => new U8Decoder(),
};

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

test("FrameEncoderStream: a format with only encode() coalesces and sends large payloads", async () => {
  for (const coalesce of [undefined, 0, 8]) {
    const encoder = new FrameEncoderStream(u8, { coalesce });
    const writer = encoder.writable.getWriter();
    // Before, it threw "framing.encodedLength is not a function".
    const payloads = [bytes(1), bytes(), bytes(2, 3), new Uint8Array(200).fill(9)];
    for (const p of payloads) void writer.write(p);
    void writer.close();
    const wire = new Uint8Array(await new Response(encoder.readable).arrayBuffer());
    assert.deepEqual(wire, bytes(1, 1, 0, 2, 2, 3, 200, ...new Uint8Array(200).fill(9)));
  }
  // A payload it refuses errors the stream with its own error.
  const encoder = new FrameEncoderStream(u8);
  const writer = encoder.writable.getWriter();
  await assert.rejects(writer.write(new Uint8Array(256)), {
    name: "RangeError",
    message: "too long",
  });
});

test("FrameDecoderStream decodes a format of one's own", async () => {
  const frames: number[][] = [];
  await streamOf([bytes(2, 7), bytes(8, 0, 1), bytes(5)])
    .pipeThrough(new FrameDecoderStream(u8))
    .pipeTo(new WritableStream({ write: (f) => void frames.push([...f]) }));
  assert.deepEqual(frames, [[7, 8], [], [5]]);
});

test("ByteReader.readFrame keeps what a decoder of one's own holds after its frame", async () => {
  // Before, it refused any decoder without framewire's private takeBuffered().
  for (const split of [1, 2, 3, 5, 9]) {
    const all = bytes(2, 7, 8, 0, 1, 5, 0xaa, 0xbb, 0xcc);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += split) chunks.push(all.slice(i, i + split));
    const reader = new ByteReader(streamOf(chunks));
    assert.deepEqual(await reader.readFrame(u8), bytes(7, 8));
    assert.deepEqual(await reader.readFrame(u8), bytes());
    assert.deepEqual(await reader.readFrame(u8), bytes(5));
    assert.deepEqual(await reader.readExactly(3), bytes(0xaa, 0xbb, 0xcc), `split ${split}`);
    assert.equal(await reader.readFrame(u8), null);
  }
});

test("ByteReader.readFrame keeps what a decoder of one's own holds after its frame, when it held the frame back over several chunks", async () => {
  // A decoder that gives a frame only once two more bytes have come (a look-ahead): with
  // one-byte chunks, what it holds after the frame spans two chunks.
  class LookAhead extends U8Decoder {
    override next(): Uint8Array | undefined {
      return this.bufferedBytes >= 3 + (this.peek() ?? Infinity) ? super.next() : undefined;
    }
  }
  const lookAhead: FramingLike = { ...u8, decoder: () => new LookAhead() };
  const all = bytes(2, 7, 8, 1, 5, 0xaa, 0xbb);
  const reader = new ByteReader(streamOf([...all].map((b) => bytes(b))));
  assert.deepEqual(await reader.readFrame(lookAhead), bytes(7, 8));
  assert.equal(reader.bufferedBytes, 2);
  assert.deepEqual(await reader.readFrame(lookAhead), bytes(5));
  assert.deepEqual(await reader.readExactly(2), bytes(0xaa, 0xbb));
  assert.equal(await reader.readFrame(lookAhead), null);
});

test("framed() sends and receives a format of one's own", async () => {
  const link = new MemoryLink();
  const client = framed(link.client, u8);
  const server = framed(link.server, u8);
  await Promise.all([client.send(bytes(1, 2)), client.send("hi"), client.send(bytes())]);
  await client.closeWrite();
  const got: number[][] = [];
  for await (const frame of server) got.push([...frame]);
  assert.deepEqual(got, [[1, 2], [104, 105], []]);
  await client.close();
  await server.close();
});

test("framed() and FrameEncoderStream take optional members given as undefined (a wrapper passing them on) as left out", async () => {
  // The types allow it (exactOptionalPropertyTypes: tests/connection/types_test.ts).
  const wrapped: FramingLike = {
    ...u8,
    encodedLength: undefined,
    encodeInto: undefined,
    encodeParts: undefined,
  };
  const encoder = new FrameEncoderStream(wrapped);
  const writer = encoder.writable.getWriter();
  void writer.write(bytes(1, 2));
  void writer.write(new Uint8Array(200).fill(9));
  void writer.close();
  const wire = new Uint8Array(await new Response(encoder.readable).arrayBuffer());
  assert.deepEqual(wire, bytes(2, 1, 2, 200, ...new Uint8Array(200).fill(9)));

  const link = new MemoryLink();
  const inner = link.client;
  const conn: Conn = {
    readable: inner.readable,
    writable: inner.writable,
    localAddr: inner.localAddr,
    remoteAddr: inner.remoteAddr,
    closeWrite: () => inner.closeWrite(),
    close: () => inner.close(),
    closed: inner.closed,
    allocate: undefined,
    read: undefined,
    releasesChunkOnWrite: undefined,
  };
  const client = framed(conn, wrapped);
  const server = framed(link.server, wrapped);
  await Promise.all([client.send(bytes(1, 2)), client.send("hi"), client.send(bytes())]);
  await client.closeWrite();
  const got: number[][] = [];
  for await (const frame of server) got.push([...frame]);
  assert.deepEqual(got, [[1, 2], [104, 105], []]);
  await server.send(bytes(7));
  await server.close();
  const replies: number[][] = [];
  for await (const frame of client) replies.push([...frame]);
  assert.deepEqual(replies, [[7]]);
  await client.close();
});
