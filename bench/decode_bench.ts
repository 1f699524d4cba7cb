// Copyright 2026 the framewire authors. MIT license.
/**
 * Decode throughput: framewire against its peers, measured in the same run.
 *
 *     deno run -A bench/decode_bench.ts      bun bench/decode_bench.ts      node bench/decode_bench.ts
 *
 * For payloads of 16 B, 256 B, 4 KiB, 64 KiB and 1 MiB, the wire bytes of a
 * few MiB of frames are cut into 64 KiB chunks (cut without regard to frame
 * boundaries, as a socket would) and decoded by:
 *
 * - framewire: `lengthPrefixed()` (u32be) decoder, `push` + `next` loop;
 *   also with `reuseBuffers: true` (spanning frames copied into two reused
 *   buffers: the decoder's own cost against memcpy, without fresh memory; one
 *   decoder serves every round, as it would a long-lived connection)
 *   and, on Node and Bun, with `allocate: Buffer.allocUnsafeSlow` (the row is
 *   named "framewire allocUnsafe");
 * - it-length-prefixed: `decode()` over a synchronous iterable of the chunks,
 *   with a 4-byte big-endian `lengthDecoder` (it accepts one; it reads the
 *   four bytes with `get()`, the fastest way found). It yields
 *   `Uint8ArrayList`s, which do not copy frames that span chunks, so it is
 *   measured twice: as yielded, and with `.subarray()` giving the contiguous
 *   `Uint8Array` every other contender returns;
 * - length-prefixed-stream: its decoder as a Node stream, fed the same chunk
 *   sizes with `write()` as Buffers (as a socket hands them over; a plain
 *   `Uint8Array` it would copy first); it only knows varint headers, so its
 *   input is the same payloads with varint headers;
 * - concat-and-slice: the classic `buf = concat(buf, chunk); while (buf.length
 *   >= 4) {...}` decoder written here;
 * - copy once: for every frame, `new Uint8Array(length)` and `Uint8Array.set`
 *   of its bytes: the least a decoder that copies each frame once must do
 *   (the reference for frames that span chunks; a limit, not a peer);
 * - one view per frame (16 B only): a fresh array per chunk and one
 *   `new Uint8Array(buffer, offset, length)` per frame, nothing else (frames
 *   that span chunks skipped): the limit of any API that hands out a
 *   `Uint8Array` view per frame;
 * - one small copy per frame (16 B only): the same, with each frame a
 *   `new Uint8Array(length)` filled by a loop: what framewire's decoders do
 *   on Bun for frames under 33 B, where it costs less than a view (the limit
 *   there);
 * - memcpy: as copy once, but every frame into the same buffer of the frame
 *   size, allocated once before timing: the copy without allocation (a limit;
 *   the reference for `reuseBuffers`).
 *
 * Then the streaming front ends, over the same chunks:
 *
 * - FrameDecoderStream: a `ReadableStream` of the chunks piped through it,
 *   frames read with a reader (`allocate: Buffer.allocUnsafeSlow` on Node and Bun);
 * - framed() for await: `framed(conn, lengthPrefixed())` over an in-memory
 *   `Conn` whose readable yields the chunks, frames taken with `for await`
 *   (the Conn offers `allocate` on Node and Bun, as the adapters do);
 * - framed() batches(): the same, all frames of one read at a time;
 * - ByteReader readFrame(): a `ByteReader` over a `ReadableStream` of the
 *   chunks, `await readFrame()` per frame (the pull reader);
 * - it-length-prefixed async: `decode()` over an async generator of the
 *   chunks, `for await` (u32be `lengthDecoder`, `.subarray()` per frame);
 * - length-prefixed-stream: as above (it is a Node stream either way);
 * - Web Streams limit (16 B only): a `TransformStream` that enqueues one view
 *   per frame at offsets known in advance, read with a reader: what any
 *   `TransformStream` of frames pays per frame (a limit, not a peer).
 *
 * - lines 80-100 B: log lines in 64 KiB chunks through `lines()` with
 *   `next()` and with the batch `framed()` takes per read, against a bare
 *   splitter (`indexOf` and a view per line: a limit, not a peer).
 *
 * - varint 16 B: the same 16 B payloads behind one-byte varint headers
 *   (protobuf's delimited messages, libp2p's), each decoder with its own
 *   varint parser: framewire's `varint()` with `next()` and with the batch
 *   `framed()` takes per read, it-length-prefixed with its default length
 *   decoder, length-prefixed-stream.
 *
 * - formats 16 B: the same 16 B payloads (letters) in each format, through
 *   framewire's batch `framed()` takes per read: what a choice of format
 *   costs in decoding alone (framewire only, no peers).
 *
 * MB/s counts payload bytes, so that MB/s ratios equal frames/s ratios. Then
 * it feeds one 256 KiB frame and one 4 MiB frame one byte at a time to the
 * framewire decoder and prints the cost per byte, which must be the same for
 * both (linear decoding; both sizes take the path of frames above 64 KiB,
 * which wait for an eighth of themselves before they get a buffer, at a
 * higher cost per byte than smaller frames, which get theirs at the
 * header), and the same for a `delimited()` decoder whose
 * delimiter is 16 B and 4 KiB long, given its worst input (1 MiB of the
 * delimiter's first byte, `"a"`, the delimiter `"a…ab"`, in 64 KiB chunks).
 * Results go to `bench/results/decode-<runtime>.json`.
 *
 * `--quick` runs fewer, shorter rounds (a smoke test). `--only <text>` runs
 * the groups whose name contains `text` (`"stream 4 KiB"`; `"a|b"`: `a` or
 * `b`), with more rounds, and writes no results (for looking into one case).
 *
 * @module
 */

import { decode as itDecode, type LengthDecoderFunction } from "it-length-prefixed";
import type { Uint8ArrayList } from "uint8arraylist";
// @ts-types="./_length_prefixed_stream.d.ts"
import lps from "length-prefixed-stream";
import {
  ByteReader,
  type Conn,
  decimalHeader,
  type DecoderOptions,
  delimited,
  fixedSize,
  framed,
  type FrameDecoder,
  FrameDecoderStream,
  type Framing,
  lengthPrefixed,
  lines,
  netstring,
  varint as varintFraming,
} from "../mod.ts";
import type { DelimitedDecoder } from "../src/framing/_delimited_decoder.ts";
import type { HeaderDecoder } from "../src/framing/_header_decoder.ts";
import {
  args,
  asBuffer,
  type Case,
  chunk,
  DEFAULT_MEASURE,
  frameViews,
  measureGroup,
  type MeasureOptions,
  onlyGroups,
  payload,
  printGroup,
  type Result,
  resultHeader,
  runtimeName,
  runtimeVersion,
  sizeLabel,
  viewsSeen,
  writeResults,
} from "./_common.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [16, 256, 4 * KiB, 64 * KiB, 1 * MiB];
const CHUNK = 64 * KiB;
// Bytes of input per size (at least 8 frames for the large sizes).
const TOTAL = 4 * MiB;

const argv = args();
const quick = argv.includes("--quick");
const { only, chosen } = onlyGroups(argv, "stream 4 KiB");
const measure: MeasureOptions = quick
  ? { warmupMs: 40, rounds: 3, roundMs: 30 }
  : only !== undefined
  ? { ...DEFAULT_MEASURE, rounds: 15 }
  : DEFAULT_MEASURE;

// Frame lengths are added here so no engine can drop a decoded frame unread.
let sink = 0;

/** The wire bytes of `count` copies of `body`, each behind a u32be or varint header. */
function wire(body: Uint8Array, count: number, header: "u32be" | "varint"): Uint8Array {
  const head = header === "u32be" ? u32be(body.length) : varint(body.length);
  const frame = head.length + body.length;
  const out = new Uint8Array(frame * count);
  for (let i = 0; i < count; i++) {
    out.set(head, i * frame);
    out.set(body, i * frame + head.length);
  }
  return out;
}

function u32be(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return new Uint8Array(out);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// it-length-prefixed's length decoder for a 4-byte big-endian field; it
// signals "need more bytes" with a RangeError, as its varint default does.
// Byte by byte with get(): getUint32() makes a sublist and a DataView per
// frame, which made it-length-prefixed 1.5-1.9x slower at 16 B.
const u32beLength: LengthDecoderFunction = Object.assign(
  (data: Uint8ArrayList): number => {
    if (data.byteLength < 4) throw new RangeError("need 4 bytes");
    return ((data.get(0) << 24) | (data.get(1) << 16) | (data.get(2) << 8) | data.get(3)) >>> 0;
  },
  { bytes: 4 },
);

/** length-prefixed-stream's decoder (a Node stream; the same in the sync and stream groups). */
function lpsCase(varintChunks: Uint8Array[], count: number, bytes: number): Case {
  return {
    name: "length-prefixed-stream",
    note: "Node stream (readable-stream Transform), write() per chunk, varint headers",
    frames: count,
    bytes,
    run(): Promise<number> {
      return new Promise((resolve, reject) => {
        const decoder = lps.decode();
        let n = 0;
        decoder.on("data", (f: Uint8Array) => {
          n++;
          sink += f.length;
        });
        decoder.on("end", () => resolve(n));
        decoder.on("error", reject);
        for (const c of varintChunks) decoder.write(c);
        decoder.end();
      });
    },
  };
}

/** Copies the `out.length` bytes at wire offset `start` out of the CHUNK-sized `chunks`. */
function copyOut(chunks: Uint8Array[], start: number, out: Uint8Array): void {
  const end = start + out.length;
  for (let p = start; p < end;) {
    const k = Math.floor(p / CHUNK);
    const at = p - k * CHUNK;
    const take = Math.min(end - p, CHUNK - at);
    out.set(take === CHUNK ? chunks[k]! : chunks[k]!.subarray(at, at + take), p - start);
    p += take;
  }
}

/** The synchronous decoders over one payload size. */
function syncCases(size: number): Case[] {
  const count = Math.max(8, Math.ceil(TOTAL / (size + 4)));
  const body = payload(size);
  const chunks = chunk(wire(body, count, "u32be"), CHUNK);
  const varintChunks = chunk(wire(body, count, "varint"), CHUNK).map(asBuffer);
  const wireLength = (size + 4) * count;
  const bytes = size * count;
  const framing = lengthPrefixed({ maxFrameLength: 2 * MiB });
  const itOptions = { lengthDecoder: u32beLength, maxDataLength: 2 * MiB };
  const copyTarget = new Uint8Array(size);

  // With reuseBuffers, one decoder serves every round, as one serves a long-lived connection:
  // its two reused buffers are allocated once, not once per round (the memcpy limit's target
  // is allocated before timing too). Each round's input ends at a frame boundary.
  let kept: FrameDecoder | undefined;
  const framewire = (name: string, note: string | undefined, options?: DecoderOptions): Case => ({
    name,
    note,
    frames: count,
    bytes,
    run(): number {
      const reuse = options?.reuseBuffers === true;
      const decoder = reuse ? (kept ??= framing.decoder(options)) : framing.decoder(options);
      let n = 0;
      for (const c of chunks) {
        decoder.push(c);
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
          n++;
          sink += f.length;
        }
      }
      if (!reuse) decoder.end();
      else if (decoder.bufferedBytes !== 0) throw new Error("a round ended inside a frame");
      return n;
    },
  });
  // On Node and Bun, framewire's `allocate` option with Buffer.allocUnsafeSlow (what framed()
  // uses over those runtimes' adapters) skips zero-filling spanning frames; the ones that reach
  // `allocate` here are 64 KiB and 1 MiB, where Buffer.allocUnsafe does the same. With
  // reuseBuffers, spanning frames are copied into two reused buffers: what is left is the
  // decoder's own work plus the copy (against memcpy, without fresh memory).
  const allocUnsafeSlow = bufferAllocUnsafeSlow();
  const cases: Case[] = [
    framewire("framewire", undefined),
    ...(allocUnsafeSlow === undefined ? [] : [
      framewire(
        "framewire allocUnsafe",
        "decoder({ allocate: (n) => Buffer.allocUnsafeSlow(n) }), as framed() does over the Node and Bun adapters",
        { allocate: allocUnsafeSlow },
      ),
    ]),
    framewire(
      "framewire reuseBuffers",
      "decoder({ reuseBuffers: true }): spanning frames copied into two reused buffers",
      { reuseBuffers: true },
    ),
    {
      name: "it-length-prefixed",
      note:
        "decode() over a sync iterable, u32be lengthDecoder; yields Uint8ArrayList (no copy of spanning frames)",
      frames: count,
      bytes,
      run(): number {
        let n = 0;
        for (const f of itDecode(chunks, itOptions)) {
          n++;
          sink += f.byteLength;
        }
        return n;
      },
    },
    {
      name: "it-length-prefixed+subarray",
      note:
        "as it-length-prefixed, plus .subarray() for a contiguous Uint8Array (what the others return)",
      frames: count,
      bytes,
      run(): number {
        let n = 0;
        for (const f of itDecode(chunks, itOptions)) {
          n++;
          sink += f.subarray().length;
        }
        return n;
      },
    },
    lpsCase(varintChunks, count, bytes),
    {
      name: "concat-and-slice",
      note: "buf = concat(buf, chunk); while (buf.length >= 4) { ... subarray ... }",
      frames: count,
      bytes,
      run(): number {
        let buf: Uint8Array = new Uint8Array(0);
        let n = 0;
        for (const c of chunks) {
          buf = concat(buf, c);
          while (buf.length >= 4) {
            const length = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
            if (buf.length < 4 + length) break;
            const f = buf.subarray(4, 4 + length);
            n++;
            sink += f.length;
            buf = buf.subarray(4 + length);
          }
        }
        return n;
      },
    },
    {
      name: "copy once",
      note:
        "per frame: new Uint8Array(length) and Uint8Array.set of its bytes (what a copy-once decoder must at least do)",
      frames: count,
      bytes,
      run(): number {
        let n = 0;
        for (let start = 4; start < wireLength; start += size + 4) {
          const f = new Uint8Array(size);
          copyOut(chunks, start, f);
          n++;
          sink += f.length;
        }
        return n;
      },
    },
    ...(size > 16 ? [] : [{
      name: "one view per frame",
      note:
        "per chunk: a fresh array and one new Uint8Array(buffer, offset, length) per frame, nothing else; frames that span chunks counted, not viewed (the limit of any API that hands out a Uint8Array per frame; not a peer)",
      frames: count,
      bytes,
      run(): number {
        const views = frameViews(size);
        let n = 0;
        for (const c of chunks) n += views(c);
        return n;
      },
    }, {
      name: "one small copy per frame",
      note:
        "per chunk: a fresh array and per frame one new Uint8Array(length) filled by a byte loop, nothing else; frames that span chunks counted, not copied (what framewire does on Bun below 33 B; a limit, not a peer)",
      frames: count,
      bytes,
      run(): number {
        const copies = frameViews(size, true);
        let n = 0;
        for (const c of chunks) n += copies(c);
        return n;
      },
    }]),
    {
      name: "memcpy",
      note:
        "as copy once, into one preallocated buffer of the frame size used for every frame (a limit, not a peer)",
      frames: count,
      bytes,
      run(): number {
        const f = copyTarget;
        let n = 0;
        for (let start = 4; start < wireLength; start += size + 4) {
          copyOut(chunks, start, f);
          n++;
          sink += f[size - 1]!;
        }
        return n;
      },
    },
  ];
  return cases;
}

/** `Buffer.allocUnsafeSlow` on Node and Bun (where it beats a zero-filled Uint8Array), else undefined. */
function bufferAllocUnsafeSlow(): ((length: number) => Uint8Array) | undefined {
  if ("Deno" in globalThis) return undefined;
  const buffer = (globalThis as { Buffer?: { allocUnsafeSlow(length: number): Uint8Array } })
    .Buffer;
  return buffer === undefined ? undefined : (length) => buffer.allocUnsafeSlow(length);
}

/** A `ReadableStream` of `chunks`, one chunk per pull. */
function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * An in-memory `Conn` whose readable yields `chunks` and whose writable
 * discards; on Node and Bun it offers `Buffer.allocUnsafeSlow` as `allocate`, as
 * the Node and Bun adapters do.
 */
function memoryConn(chunks: Uint8Array[]): Conn {
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: 0 } as const;
  return {
    allocate: bufferAllocUnsafeSlow(),
    readable: streamOf(chunks),
    writable: new WritableStream<Uint8Array>(),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: (): Promise<void> => Promise.resolve(),
    close(): void {},
    closed: Promise.resolve(),
  };
}

async function* asyncChunks(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/** The streaming front ends over one payload size. */
function streamCases(size: number): Case[] {
  const count = Math.max(8, Math.ceil(TOTAL / (size + 4)));
  const body = payload(size);
  const chunks = chunk(wire(body, count, "u32be"), CHUNK);
  const varintChunks = chunk(wire(body, count, "varint"), CHUNK).map(asBuffer);
  const bytes = size * count;
  const framing = lengthPrefixed({ maxFrameLength: 2 * MiB });
  const itOptions = { lengthDecoder: u32beLength, maxDataLength: 2 * MiB };
  return [
    {
      name: "FrameDecoderStream",
      note:
        "ReadableStream of the chunks .pipeThrough(new FrameDecoderStream(u32be, { allocate })), reader.read() loop; allocate is Buffer.allocUnsafeSlow on Node and Bun",
      frames: count,
      bytes,
      async run(): Promise<number> {
        const reader = streamOf(chunks).pipeThrough(
          new FrameDecoderStream(framing, { allocate: bufferAllocUnsafeSlow() }),
        ).getReader();
        let n = 0;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          n++;
          sink += r.value.length;
        }
        return n;
      },
    },
    {
      name: "framed() for await",
      note: "framed(in-memory Conn, u32be), for await over the connection",
      frames: count,
      bytes,
      async run(): Promise<number> {
        const fc = framed(memoryConn(chunks), framing);
        let n = 0;
        for await (const f of fc) {
          n++;
          sink += f.length;
        }
        return n;
      },
    },
    {
      name: "framed() batches()",
      note: "framed(in-memory Conn, u32be), for await over batches()",
      frames: count,
      bytes,
      async run(): Promise<number> {
        const fc = framed(memoryConn(chunks), framing);
        let n = 0;
        for await (const batch of fc.batches()) {
          for (const f of batch) {
            n++;
            sink += f.length;
          }
        }
        return n;
      },
    },
    {
      name: "ByteReader readFrame()",
      note: "new ByteReader(ReadableStream of the chunks), await readFrame(u32be) until null",
      frames: count,
      bytes,
      async run(): Promise<number> {
        const reader = new ByteReader(streamOf(chunks));
        let n = 0;
        for (
          let f = await reader.readFrame(framing);
          f !== null;
          f = await reader.readFrame(framing)
        ) {
          n++;
          sink += f.length;
        }
        return n;
      },
    },
    {
      name: "it-length-prefixed async",
      note:
        "decode() over an async generator of the chunks, u32be lengthDecoder, .subarray() per frame",
      frames: count,
      bytes,
      async run(): Promise<number> {
        let n = 0;
        for await (const f of itDecode(asyncChunks(chunks), itOptions)) {
          n++;
          sink += f.subarray().length;
        }
        return n;
      },
    },
    lpsCase(varintChunks, count, bytes),
    ...(size > 16 ? [] : [{
      name: "Web Streams limit",
      note:
        "the chunks piped through a TransformStream that enqueues one new Uint8Array view per frame at offsets known in advance (no header parsing; frames that span chunks counted, not enqueued), reader.read() loop: the least any TransformStream of frames pays (a limit, not a peer)",
      frames: count,
      bytes,
      async run(): Promise<number> {
        let pos = 0; // the next frame's start, relative to the current chunk
        let spanning = 0;
        const views = new TransformStream<Uint8Array, Uint8Array>({
          transform(c, controller): void {
            for (; pos + 4 + size <= c.length; pos += 4 + size) {
              controller.enqueue(new Uint8Array(c.buffer, c.byteOffset + pos + 4, size));
            }
            if (pos < c.length) {
              spanning++;
              pos += 4 + size;
            }
            pos -= c.length;
          },
        });
        const reader = streamOf(chunks).pipeThrough(views).getReader();
        let n = 0;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          n++;
          sink += r.value.length;
        }
        return n + spanning;
      },
    }]),
  ];
}

/** One frame of `size` bytes pushed one byte at a time into the framewire decoder. */
function byteAtATimeCase(size: number): Case {
  const bytes = wire(payload(size), 1, "u32be");
  const framing = lengthPrefixed({ maxFrameLength: 8 * MiB });
  return {
    name: `framewire ${sizeLabel(size)} frame`,
    frames: 1,
    bytes: bytes.length,
    run(): number {
      const decoder = framing.decoder();
      let n = 0;
      for (let i = 0; i < bytes.length; i++) {
        decoder.push(bytes.subarray(i, i + 1));
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
          n++;
          sink += f.length;
        }
      }
      decoder.end();
      return n;
    },
  };
}

/**
 * 1 MiB of "a" then the delimiter "a…ab" of `length` bytes, in 64 KiB chunks: every byte may
 * begin the delimiter, the worst input for a delimiter search.
 */
function longDelimiterCase(length: number): Case {
  const delimiter = new Uint8Array(length).fill(0x61);
  delimiter[length - 1] = 0x62;
  const bytes = concat(new Uint8Array(MiB).fill(0x61), delimiter);
  const framing = delimited({ delimiter, maxFrameLength: 2 * MiB });
  return {
    name: `delimiter ${sizeLabel(length)}`,
    frames: 1,
    bytes: MiB,
    run(): number {
      const decoder = framing.decoder();
      let n = 0;
      for (let i = 0; i < bytes.length; i += CHUNK) {
        decoder.push(bytes.subarray(i, i + CHUNK));
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
          n++;
          sink += f.length;
        }
      }
      decoder.end();
      return n;
    },
  };
}

/** Prints each result's cost per payload byte. */
function printPerByte(title: string, results: Result[]): void {
  console.log(`\n${title}: cost per byte, median (min–max)`);
  const ns = (x: number): string => (1e3 / x).toFixed(1);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(26)} ${ns(r.mbPerSec.median)} ns/byte (${ns(r.mbPerSec.max)}–${
        ns(r.mbPerSec.min)
      })`,
    );
  }
}

/**
 * Log lines of 80-100 bytes (a timestamp, a level, fields), "\n" after each, in 64 KiB chunks:
 * `lines()` taking them with `next()`, with the batch `framed()` takes after each read, and the
 * bare limit of a line splitter that hands out views (`indexOf` and one view per line).
 */
function lineCases(): Case[] {
  const text: string[] = [];
  let length = 0;
  for (let i = 0; length < TOTAL; i++) {
    // 80 to 100 bytes: the fields, padded.
    const time = `2026-12-06T21:24:${String(i % 60).padStart(2, "0")}Z`;
    const line = `${time} INFO id=${i} path=/api/v1/items/${i % 997} status=200 ms=${i % 97} `
      .padEnd(80 + i % 21, "x");
    text.push(line);
    length += line.length + 1;
  }
  const wire = new TextEncoder().encode(text.join("\n") + "\n");
  const chunks = chunk(wire, CHUNK);
  const count = text.length;
  const bytes = wire.length - count;
  const framing = lines();
  // Not a helper shared with varintCases(): one function for both decoders' loops shares their
  // type feedback, which made the group measured second 20-30 % slower.
  return [{
    name: "framewire lines() next()",
    note: "push() each chunk, next() until undefined",
    frames: count,
    bytes,
    run(): number {
      const decoder = framing.decoder();
      let n = 0;
      for (const c of chunks) {
        decoder.push(c);
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
          n++;
          sink += f.length;
        }
      }
      decoder.end();
      return n;
    },
  }, {
    name: "framewire lines(), framed()'s batch",
    note:
      "push() each chunk, then the frames of all complete lines at once (what framed() takes per read)",
    frames: count,
    bytes,
    run(): number {
      const decoder = framing.decoder() as DelimitedDecoder;
      let n = 0;
      const out: Uint8Array[] = [];
      for (const c of chunks) {
        decoder.push(c);
        out.length = 0;
        decoder.takeAll(out);
        n += out.length;
        for (const f of out) sink += f.length;
      }
      decoder.end();
      return n;
    },
  }, {
    name: "indexOf and a view per line",
    note:
      "chunk.indexOf(10) from line to line, one new Uint8Array(buffer, offset, length) per line, a line that spans chunks copied once; no limit, no \\r (the limit of a line splitter that hands out views; not a peer)",
    frames: count,
    bytes,
    run(): number {
      let n = 0;
      let rest: Uint8Array | undefined;
      for (const c of chunks) {
        let start = 0;
        let at = c.indexOf(10);
        if (rest !== undefined && at >= 0) {
          const line = new Uint8Array(rest.length + at);
          line.set(rest);
          line.set(c.subarray(0, at), rest.length);
          n++;
          sink += line.length;
          rest = undefined;
          start = at + 1;
          at = c.indexOf(10, start);
        }
        for (; at >= 0; at = c.indexOf(10, start)) {
          const line = new Uint8Array(c.buffer, c.byteOffset + start, at - start);
          n++;
          sink += line.length;
          start = at + 1;
        }
        if (start < c.length) {
          const tail = c.subarray(start);
          if (rest === undefined) rest = tail.slice();
          else {
            const joined = new Uint8Array(rest.length + tail.length);
            joined.set(rest);
            joined.set(tail, rest.length);
            rest = joined;
          }
        }
      }
      return n;
    },
  }];
}

/** 16 B payloads behind varint headers, each decoder with its own varint parser. */
function varintCases(): Case[] {
  const size = 16;
  const count = Math.ceil(TOTAL / (size + 1));
  const body = payload(size);
  const chunks = chunk(wire(body, count, "varint"), CHUNK);
  const buffers = chunks.map(asBuffer);
  const bytes = size * count;
  const framing = varintFraming({ maxFrameLength: 2 * MiB });
  return [{
    name: "framewire varint() next()",
    note: "push() each chunk, next() until undefined",
    frames: count,
    bytes,
    run(): number {
      const decoder = framing.decoder();
      let n = 0;
      for (const c of chunks) {
        decoder.push(c);
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
          n++;
          sink += f.length;
        }
      }
      decoder.end();
      return n;
    },
  }, {
    name: "framewire varint(), framed()'s batch",
    note: "push() each chunk, then all its complete frames at once (what framed() takes per read)",
    frames: count,
    bytes,
    run(): number {
      const decoder = framing.decoder() as HeaderDecoder;
      let n = 0;
      const out: Uint8Array[] = [];
      for (const c of chunks) {
        decoder.push(c);
        out.length = 0;
        decoder.takeAll(out);
        n += out.length;
        for (const f of out) sink += f.length;
      }
      decoder.end();
      return n;
    },
  }, {
    name: "it-length-prefixed+subarray",
    note:
      "decode() over a sync iterable with its default (varint) length decoder, .subarray() per frame",
    frames: count,
    bytes,
    run(): number {
      let n = 0;
      for (const f of itDecode(chunks, { maxDataLength: 2 * MiB })) {
        n++;
        sink += f.subarray().length;
      }
      return n;
    },
  }, lpsCase(buffers, count, bytes)];
}

/**
 * 16 B payloads in each format, decoded with the batch framed() takes per
 * read. One loop for every format (not lineCases()'s own): each case runs
 * with the type feedback of the others, as in a process that uses several,
 * which costs the fastest formats 10-30 %.
 */
function formatCases(): Case[] {
  const body = new Uint8Array(16).fill(0x61);
  const formats: [string, Framing][] = [
    ["u32be", lengthPrefixed()],
    ["u16le", lengthPrefixed({ width: 2, endian: "little" })],
    ["varint", varintFraming()],
    ["fixedSize(16)", fixedSize(16)],
    ["u32be counting the frame", lengthPrefixed({ counts: "frame" })],
    ["postgres", lengthPrefixed({ offset: 1, lengthAdjustment: -4 })],
    ["decimalHeader", decimalHeader()],
    ["netstring", netstring()],
    ["lines", lines()],
  ];
  return formats.map(([name, framing]): Case => {
    // PostgreSQL's type byte goes before the length and is moved next to the payload in the
    // chunk (the decoder owns its chunks), over the length's last byte: the same byte (19, the
    // length of the 15 bytes after it plus its own 4), so every round decodes the same input.
    const frame = framing.encode(
      name === "postgres" ? Uint8Array.of(19, ...body.subarray(1)) : body,
    );
    const count = Math.ceil(TOTAL / frame.length);
    const all = new Uint8Array(frame.length * count);
    for (let i = 0; i < count; i++) all.set(frame, i * frame.length);
    const chunks = chunk(all, CHUNK);
    return {
      name,
      note: `${framing.name}: push() each chunk, then all its complete frames at once`,
      frames: count,
      bytes: body.length * count,
      run(): number {
        const decoder = framing.decoder() as FrameDecoder & { takeAll(out: Uint8Array[]): void };
        let n = 0;
        const out: Uint8Array[] = [];
        for (const c of chunks) {
          decoder.push(c);
          out.length = 0;
          decoder.takeAll(out);
          n += out.length;
          for (const f of out) sink += f.length;
        }
        decoder.end();
        return n;
      },
    };
  });
}

async function main(): Promise<void> {
  console.log(`decode bench on ${runtimeVersion()}${quick ? " (quick)" : ""}`);
  const results: Result[] = [];
  for (const size of SIZES) {
    const group = `sync ${sizeLabel(size)}`;
    if (!chosen(group)) continue;
    const r = await measureGroup(group, syncCases(size), measure);
    printGroup(`synchronous decode, ${sizeLabel(size)} payloads in 64 KiB chunks`, r);
    results.push(...r);
  }

  for (const size of SIZES) {
    const group = `stream ${sizeLabel(size)}`;
    if (!chosen(group)) continue;
    const r = await measureGroup(group, streamCases(size), measure);
    printGroup(
      `streaming decode, ${sizeLabel(size)} payloads in 64 KiB chunks`,
      r,
      "FrameDecoderStream",
    );
    results.push(...r);
  }

  if (chosen("lines 80-100 B")) {
    const r = await measureGroup("lines 80-100 B", lineCases(), measure);
    printGroup(
      "lines() decode, 80-100 B log lines in 64 KiB chunks",
      r,
      "indexOf and a view per line",
    );
    results.push(...r);
  }

  if (chosen("varint 16 B")) {
    const r = await measureGroup("varint 16 B", varintCases(), measure);
    printGroup("varint decode, 16 B payloads in 64 KiB chunks", r, "framewire varint() next()");
    results.push(...r);
  }

  if (chosen("formats 16 B")) {
    const r = await measureGroup("formats 16 B", formatCases(), measure);
    printGroup("decode by format, 16 B payloads in 64 KiB chunks, framed()'s batch", r, "u32be");
    results.push(...r);
  }

  if (only !== undefined) {
    if (results.length === 0) {
      const groups = ["sync", "stream"].flatMap((kind) =>
        SIZES.map((n) => `${kind} ${sizeLabel(n)}`)
      ).concat("lines 80-100 B", "varint 16 B", "formats 16 B");
      console.log(
        `--only "${only}": no group's name contains it; the groups are: ${groups.join(", ")}`,
      );
    }
    return;
  }
  const linear = await measureGroup("byte-at-a-time", [
    byteAtATimeCase(256 * KiB),
    byteAtATimeCase(4 * MiB),
  ], {
    ...measure,
    rounds: Math.min(measure.rounds, 5),
  });
  results.push(...linear);
  printPerByte("one frame fed one byte at a time (framewire)", linear);
  const ratio = linear[0]!.mbPerSec.median / linear[1]!.mbPerSec.median;
  console.log(`  per-byte cost 4 MiB / 256 KiB: ${ratio.toFixed(2)} (1.00 = linear)`);

  const delimiters = await measureGroup("long delimiter", [
    longDelimiterCase(16),
    longDelimiterCase(4 * KiB),
  ], { ...measure, rounds: Math.min(measure.rounds, 5) });
  results.push(...delimiters);
  printPerByte("delimited(), worst input (1 MiB of the delimiter's first byte)", delimiters);
  const longer = delimiters[0]!.mbPerSec.median / delimiters[1]!.mbPerSec.median;
  console.log(`  per-byte cost 4 KiB / 16 B delimiter: ${longer.toFixed(2)} (1.00 = independent)`);

  const file = writeResults(`decode-${runtimeName()}.json`, {
    ...resultHeader("decode"),
    config: {
      sizes: SIZES,
      chunk: CHUNK,
      totalBytesPerSize: TOTAL,
      measure,
      mbPerSec: "payload bytes",
    },
    results,
  });
  console.log(`\nwrote ${file}${sink + viewsSeen() < 0 ? "" : ""}`);
}

await main();
