// Copyright 2026 the framewire authors. MIT license.
// Where the decoders put frames that span chunks. Private.

import {
  booleanOption,
  checkOptions,
  describeValue,
  isResizable,
  plainBytes,
  plural,
  receivedValue,
} from "./_options.ts";
import type { DecoderOptions } from "./types.ts";

/** The largest slab that small spanning frames are carved out of. */
export const SLAB_SIZE: number = 64 * 1024;
/** The smallest slab. */
export const SLAB_MIN_SIZE: number = 4 * 1024;
/** The largest spanning frame carved out of a slab; larger ones get their own buffer. */
export const SLAB_MAX_FRAME: number = 8 * 1024;
/**
 * The largest frame whose buffer is allocated as soon as its header is
 * complete. A larger one gets its buffer once an eighth of it has arrived
 * (its bytes wait in the chunks they came in, small ones gathered into
 * blocks of the decoder's own): a peer that sends a header alone makes a
 * decoder hold at most this much, not `maxFrameLength`.
 */
export const EAGER_FRAME: number = 64 * 1024;

/**
 * Frames shorter than this that lie inside one chunk are copied into a
 * `Uint8Array` of their own instead of returned as views into the chunk. On
 * JavaScriptCore (Bun) a small typed array filled by a loop costs half of a
 * view into a large buffer (the decode bench's 16 B limits: 43-51 M/s
 * against 22-24 M/s; through the decoder copies stay ahead up to about 40 B
 * and views from about 48 B, so 33 errs on the safe side), and such a frame
 * keeps no chunk alive. On V8 (Deno, Node) a small typed array costs more
 * than a view (on Deno about 0.5 µs: its memory lives outside the heap), so
 * there it is 0.
 */
export const COPY_BELOW: number = "Bun" in globalThis ? 33 : 0;

/**
 * A copy of `chunk[start, start + length)` in a `Uint8Array` of its own, for
 * frames shorter than {@linkcode COPY_BELOW} (a loop: `set()` costs more at
 * these sizes).
 */
export function copySmall(chunk: Uint8Array, start: number, length: number): Uint8Array {
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) frame[i] = chunk[start + i]!;
  return frame;
}

/**
 * The frame `chunk[start, start + length)`: a copy of its own below
 * {@linkcode COPY_BELOW}, else a view made with the constructor (cheaper than
 * `subarray` on V8, and a plain `Uint8Array` whatever the chunk: a Node
 * `Buffer`'s `subarray` is a `Buffer`, whose `slice()` does not copy).
 */
export function frameIn(chunk: Uint8Array, start: number, length: number): Uint8Array {
  return length < COPY_BELOW
    ? copySmall(chunk, start, length)
    : new Uint8Array(chunk.buffer, chunk.byteOffset + start, length);
}

/** No slab, after forgetSlab(): the next frame gets a buffer of its own size, the one after a slab. */
const NO_SLAB = new ArrayBuffer(0);

/**
 * Buffers for frames that span chunks: a fresh one per frame, or with
 * `reuseBuffers` two that are used in turn, as the frame completed last may
 * still be in use by the caller.
 *
 * Fresh frames of up to {@linkcode SLAB_MAX_FRAME} bytes are carved one after
 * another out of a zero-filled slab, as Node pools its small buffers: on V8 a fresh `Uint8Array` of 256 B to 4 KiB costs 1-4 µs
 * (its memory lives outside the heap), a view into a slab tens of
 * nanoseconds. A slab is 16 times the frame that starts it, from
 * {@linkcode SLAB_MIN_SIZE} to {@linkcode SLAB_SIZE}, so an idle decoder
 * keeps at most that much unused. No byte of a slab is handed out twice, so
 * an owned frame is never overwritten; like a view into a read chunk, it
 * keeps its whole slab alive. Each decoder has its own slabs: frames of one
 * stream share memory with frames of that stream only. Slabs do not come
 * from the decoder's `allocate` (which larger frames do): memory that an
 * `allocate` gives need not be zeroed, and the unused rest of a slab is
 * reachable through `frame.buffer`. Measured, zeroed slabs are as fast.
 */
export class FrameBuffers {
  #allocate: ((length: number) => Uint8Array) | undefined;
  #spare: (Uint8Array | undefined)[] | undefined;
  #turn = 0;
  #slab: ArrayBuffer = new ArrayBuffer(0);
  #slabPos = 0;

  constructor(options?: DecoderOptions) {
    checkOptions(options, "create decoder");
    const allocate = options?.allocate ?? undefined;
    if (allocate !== undefined && typeof allocate !== "function") {
      throw new TypeError(
        `Cannot create decoder as allocate must be a function: received ${receivedValue(allocate)}`,
      );
    }
    this.#allocate = allocate;
    if (booleanOption(options?.reuseBuffers, false, "reuseBuffers", "create decoder")) {
      this.#spare = [undefined, undefined];
    }
  }

  /**
   * The next frame that would be carved out of a slab gets a buffer of its
   * own instead, of its size: for the decoders' `takeBuffered()` and
   * `keepAsFresh()` (a `ByteReader` keeps a decoder from frame to frame, and
   * its frames that span chunks are fresh buffers, sharing memory with no
   * frame returned before and holding no unused slab).
   */
  forgetSlab(): void {
    this.#slab = NO_SLAB;
    this.#slabPos = 0;
  }

  /** Whether {@linkcode FrameBuffers.take} would allocate `size` bytes or more. */
  allocates(size: number): boolean {
    const spare = this.#spare;
    if (spare === undefined) return size > SLAB_MAX_FRAME;
    const buffer = spare[this.#turn ^ 1];
    return buffer === undefined || buffer.length < size;
  }

  /** A buffer of exactly `size` bytes for the next frame that spans chunks. */
  take = (size: number): Uint8Array => {
    // An empty frame shares no memory (a view of a slab or spare the caller detached would throw).
    if (size === 0) return new Uint8Array(0);
    const spare = this.#spare;
    if (spare === undefined) {
      if (size > SLAB_MAX_FRAME) {
        return this.#allocate === undefined
          ? new Uint8Array(size)
          : allocated(this.#allocate, size);
      }
      let pos = this.#slabPos;
      // A slab detached by a caller (its buffer transferred) has byteLength 0.
      if (this.#slab.byteLength - pos < size) {
        // After forgetSlab() (a ByteReader's decoder, between frames) a frame gets a buffer of
        // its own size: a slab would hold the rest of it for nothing.
        this.#slab = new ArrayBuffer(
          this.#slab === NO_SLAB ? size : Math.min(SLAB_SIZE, Math.max(SLAB_MIN_SIZE, size * 16)),
        );
        pos = 0;
      }
      this.#slabPos = pos + size;
      return new Uint8Array(this.#slab, pos, size);
    }
    const turn = this.#turn ^= 1;
    let buffer = spare[turn];
    if (buffer === undefined || buffer.length < size) buffer = spare[turn] = new Uint8Array(size);
    return buffer.subarray(0, size);
  };

  /**
   * Decodes every complete frame with `next` before the caller reads them
   * (as `end()` does, to look past them), into fresh buffers: the frame read
   * last is in one of the reused ones, and the next but one would overwrite
   * it. `keep` gets the frames, those before an error too, last first: the
   * caller takes them with `pop()` (`shift()` moves every element left on V8
   * once an array has more than about 16,000, which made reading 50,000
   * frames after `end()` take seconds).
   */
  decodeAhead(next: () => Uint8Array | undefined, keep: (frames: Uint8Array[]) => void): void {
    const frames: Uint8Array[] = [];
    const spare = this.#spare;
    this.#spare = undefined;
    try {
      for (let frame = next(); frame !== undefined; frame = next()) frames.push(frame);
    } finally {
      this.#spare = spare;
      keep(frames.reverse());
    }
  }
}

/**
 * `allocate(size)`, checked: a shorter buffer would cut the frame, a longer one is trimmed, and a
 * length-tracking view of a resizable buffer is made one of fixed length.
 */
function allocated(allocate: (length: number) => Uint8Array, size: number): Uint8Array {
  const buffer: unknown = allocate(size);
  // No Uint8Array (an ArrayBuffer, null: a Conn's allocate of one's own) is refused by its kind.
  const received = buffer instanceof Uint8Array ? buffer.length : describeValue(buffer);
  if (typeof received === "number" && received >= size) {
    // A plain view: a subclass's subarray() goes through its constructor (see plainBytes()), and
    // a frame that is a Buffer has a slice() that copies nothing. Of fixed length: a
    // length-tracking one grown while the frame filled was taken for bytes detached or shrunk.
    const frame = plainBytes(buffer as Uint8Array);
    return received === size && !isResizable(frame) ? frame : frame.subarray(0, size);
  }
  // A TypeError: the decoder reports a RangeError from allocate() as a frame too large to allocate.
  throw new TypeError(
    `Cannot copy frame into memory as allocate(${size}) must return a Uint8Array of at least ${
      plural(size, "byte")
    }: received ${
      typeof received === "number" ? `a Uint8Array of ${plural(received, "byte")}` : received
    }`,
  );
}
