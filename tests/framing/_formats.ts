// Shared fixtures for the framing tests: every format, with a way to make
// payloads it can carry.
import fc from "fast-check";
import {
  decimalHeader,
  type DecoderOptions,
  delimited,
  fixedSize,
  type FrameDecoder,
  type Framing,
  lengthPrefixed,
  lines,
  netstring,
  varint,
} from "../../mod.ts";
import assert from "node:assert/strict";

export interface FormatCase {
  framing: Framing;
  /** Payloads this format can carry. */
  payload: fc.Arbitrary<Uint8Array>;
}

// size "max": without it fast-check keeps arrays to about 10 bytes whatever maxLength says, and
// no random payload reached a second varint byte, a 2-digit decimal length or a 256-byte length.
const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max, size: "max" });
const without = (max: number, banned: number[]) =>
  fc.uint8Array({ minLength: 0, maxLength: max, size: "max" }).map((b) =>
    b.map((x) => (banned.includes(x) ? 0x41 : x))
  );

export const formats: FormatCase[] = [
  { framing: lengthPrefixed(), payload: bytes(300) },
  { framing: lengthPrefixed({ width: 1 }), payload: bytes(255) },
  { framing: lengthPrefixed({ width: 2, endian: "little" }), payload: bytes(300) },
  { framing: lengthPrefixed({ width: 3, counts: "frame" }), payload: bytes(300) },
  { framing: lengthPrefixed({ width: 8, endian: "little" }), payload: bytes(300) },
  {
    framing: lengthPrefixed({ width: 4, offset: 1 }),
    payload: fc.uint8Array({ minLength: 1, maxLength: 300, size: "max" }),
  },
  {
    framing: lengthPrefixed({ width: 2, offset: 3, counts: "frame", endian: "little" }),
    payload: fc.uint8Array({ minLength: 3, maxLength: 300, size: "max" }),
  },
  {
    // PostgreSQL: a type byte, then a length that counts itself.
    framing: lengthPrefixed({ offset: 1, lengthAdjustment: -4 }),
    payload: fc.uint8Array({ minLength: 1, maxLength: 300, size: "max" }),
  },
  {
    // HTTP/2: a length that does not count the 6 header bytes after it.
    framing: lengthPrefixed({ width: 3, lengthAdjustment: 6 }),
    payload: fc.uint8Array({ minLength: 6, maxLength: 300, size: "max" }),
  },
  { framing: varint(), payload: bytes(400) },
  {
    // MQTT: a type-and-flags byte, then the remaining length.
    framing: varint({ offset: 1 }),
    payload: fc.uint8Array({ minLength: 1, maxLength: 400, size: "max" }),
  },
  { framing: decimalHeader(), payload: bytes(300) },
  { framing: decimalHeader({ width: 3 }), payload: bytes(300) },
  { framing: netstring(), payload: bytes(300) },
  { framing: lines(), payload: without(200, [0x0a, 0x0d]) },
  { framing: delimited({ delimiter: "\r\n" }), payload: without(200, [0x0a, 0x0d]) },
  { framing: delimited({ delimiter: "ab|ab" }), payload: without(200, [0x7c]) },
  { framing: delimited({ delimiter: new Uint8Array([0]) }), payload: without(200, [0]) },
  { framing: fixedSize(5), payload: fc.uint8Array({ minLength: 5, maxLength: 5 }) },
];

/** A label for test names. */
export function label(framing: Framing, i: number): string {
  return `${framing.name}#${i}`;
}

/** A payload of `n` bytes, each depending on its position and `seed`. */
export function payloadOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Joins byte arrays into one fresh buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes payloads back to back into one fresh buffer. */
export function encodeAll(framing: Framing, payloads: Uint8Array[]): Uint8Array {
  return concat(payloads.map((p) => framing.encode(p)));
}

/**
 * Feeds `wire` to a fresh decoder in chunks ending at `cuts` (each chunk a
 * fresh copy, as the decoder owns what it is given), collects every frame
 * after each push (a copy of it, unless `copy` is false), then ends the
 * input.
 */
export function decodeChunks(
  framing: Framing,
  wire: Uint8Array,
  cuts: number[],
  options?: DecoderOptions,
  copy = true,
): Uint8Array[] {
  const decoder = framing.decoder(options);
  const out: Uint8Array[] = [];
  const keep = (f: Uint8Array) => out.push(copy ? f.slice() : f);
  let start = 0;
  for (const cut of [...cuts, wire.length]) {
    decoder.push(wire.slice(start, cut));
    start = cut;
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) keep(f);
  }
  decoder.end();
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) keep(f);
  return out;
}

/** What {@linkcode decodeWays} records and how it makes its decoder and chunks. */
export interface DecodeWaysOptions {
  /** The chunk pushed for bytes of the wire (default: a copy of them). */
  chunkOf?: (bytes: Uint8Array) => Uint8Array;
  /** The decoder's options. */
  decoder?: DecoderOptions;
  /** Records `bufferedBytes` after each take too. */
  buffered?: boolean;
  /** Takes once more after an error, and records what that gives. */
  again?: boolean;
}

/**
 * What decoding `wire` cut at `cuts` gives, with next() or the takeAll() of
 * framewire's decoders (what framed() calls) after each push: each frame as
 * its length and a digest of its bytes (made at once: reused buffers are
 * written again by later pushes), then the error's name and message, if any.
 */
export function decodeWays(
  framing: Framing,
  wire: Uint8Array,
  cuts: number[],
  way: "next" | "takeAll",
  options: DecodeWaysOptions = {},
): string[] {
  const { chunkOf = (bytes) => bytes.slice(), buffered = false, again = false } = options;
  const decoder = framing.decoder(options.decoder) as FrameDecoder & {
    takeAll(out: Uint8Array[]): void;
  };
  const got: string[] = [];
  const keep = (f: Uint8Array): void => {
    let digest = 0;
    for (const byte of f) digest = (digest * 31 + byte) >>> 0;
    got.push(`${f.length}:${digest}`);
  };
  const take = (): void => {
    const out: Uint8Array[] = [];
    try {
      if (way === "takeAll") decoder.takeAll(out);
      else for (let f = decoder.next(); f !== undefined; f = decoder.next()) keep(f);
    } finally {
      out.forEach(keep);
      if (buffered) got.push(`buffered ${decoder.bufferedBytes}`);
    }
  };
  try {
    let start = 0;
    for (const cut of [...cuts, wire.length]) {
      if (cut > start) decoder.push(chunkOf(wire.subarray(start, cut)));
      start = cut;
      take();
    }
    decoder.end();
    take();
  } catch (error) {
    got.push(`${(error as Error).name}: ${(error as Error).message}`);
    if (again) {
      try {
        take();
        got.push("again: none");
      } catch (second) {
        got.push(`again: ${(second as Error).message}`);
      }
    }
  }
  return got;
}

/**
 * Asserts that `lengths` payloads (made by {@linkcode payloadOf}) and then
 * each tail's bytes decode alike with next() and takeAll(), whole and cut at
 * every offset, as they do a byte per chunk: every frame, then the tail's
 * error (its name; "" for none).
 */
export function assertSplitsAlike(
  framing: Framing,
  lengths: number[],
  tails: [what: string, bytes: number[], error: string][],
): void {
  const frames = concat(lengths.map((n, i) => framing.encode(payloadOf(n, i))));
  for (const [what, tail, error] of tails) {
    const where = `${framing.name}, ${what}`;
    const wire = concat([frames, new Uint8Array(tail)]);
    // The reference: a byte per chunk leaves the header of every frame with a payload to parse().
    const reference = decodeWays(framing, wire, [...wire.keys()], "next");
    assert.deepEqual(
      reference.slice(0, lengths.length).map((f) => Number(f.split(":")[0])),
      lengths,
      where,
    );
    assert.equal(reference.length, lengths.length + (error === "" ? 0 : 1), where);
    if (error !== "") assert.ok(reference.at(-1)!.startsWith(`${error}: `), reference.at(-1));
    for (const way of ["next", "takeAll"] as const) {
      assert.deepEqual(decodeWays(framing, wire, [], way), reference, `${where}, ${way}, whole`);
      for (let cut = 0; cut <= wire.length; cut++) {
        assert.deepEqual(
          decodeWays(framing, wire, [cut], way),
          reference,
          `${where}, ${way}, cut at ${cut}`,
        );
      }
    }
  }
}

/** Sorted, de-duplicated cut points inside `length`. */
export function cutsArbitrary(length: number): fc.Arbitrary<number[]> {
  return fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12, size: "max" }).map((
    a,
  ) => a.sort((x, y) => x - y));
}

/**
 * A framing of a custom protocol whose whole input is one frame, complete once the input ends
 * (its decoder's `end()` makes the frame that `next()` then returns).
 */
export function wholeInput(): Framing {
  return {
    ...lengthPrefixed(),
    name: "whole",
    decoder(): FrameDecoder {
      const chunks: Uint8Array[] = [];
      let ended = false;
      let taken = false;
      return {
        push: (chunk) => void chunks.push(chunk),
        next: () => {
          if (!ended || taken) return undefined;
          taken = true;
          return concat(chunks);
        },
        end: () => void (ended = true),
        get bufferedBytes() {
          return taken ? 0 : chunks.reduce((n, c) => n + c.length, 0);
        },
      };
    },
  };
}

/** A stream of `chunks`, pulled one at a time (Bun has no `ReadableStream.from`). */
export function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

/** A source that gives `chunks`, then stays open; `cancelled` holds the reason it was cancelled with. */
export function openSource(chunks: Uint8Array[]): {
  source: ReadableStream<Uint8Array>;
  cancelled: { reason?: unknown } | undefined;
} {
  const out: { source: ReadableStream<Uint8Array>; cancelled: { reason?: unknown } | undefined } = {
    source: new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
      },
      cancel(reason) {
        out.cancelled = { reason };
      },
    }),
    cancelled: undefined,
  };
  return out;
}

/**
 * A byte stream (type "bytes") of `wire` whose source writes into the reads' own buffers
 * (through `byobRequest`; `autoAllocateChunkSize` for default readers), at most `step` bytes per
 * read.
 */
export function byteStreamOf(
  wire: Uint8Array,
  step: number,
  autoAllocateChunkSize: number,
): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize,
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      const n = Math.min(step, view.byteLength, wire.length - at);
      if (n === 0) {
        controller.close();
        request.respond(0);
        return;
      }
      new Uint8Array(view.buffer, view.byteOffset, n).set(wire.subarray(at, at + n));
      at += n;
      request.respond(n);
    },
  });
}

/**
 * Pipes a source that gives `chunks` and stays open into `stream`'s writable, reads `reads`
 * chunks from its readable (returned), then cancels the readable with a reason while a read
 * waits: that read ends, the pipe rejects with the reason, and the source was cancelled with it.
 */
export async function cancelWhilePiped(
  stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  chunks: Uint8Array[],
  reads: number,
): Promise<Uint8Array[]> {
  const piped = openSource(chunks);
  const pipe = piped.source.pipeTo(stream.writable).then(() => "closed", (error) => error);
  const reader = stream.readable.getReader();
  const got: Uint8Array[] = [];
  for (let i = 0; i < reads; i++) got.push((await reader.read()).value!);
  const read = reader.read();
  const reason = new Error("stop");
  await reader.cancel(reason);
  assert.equal((await read).done, true);
  assert.equal(await pipe, reason);
  assert.equal(piped.cancelled?.reason, reason);
  return got;
}
