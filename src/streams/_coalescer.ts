// Copyright 2026 the framewire authors. MIT license.
// Encodes payloads into shared slabs and hands out large writes. Private.

import { checkPayload, checkRoom, fixedOverhead } from "../framing/_options.ts";
import type { Framing, FramingLike } from "../framing/types.ts";
import { Fifo } from "../_fifo.ts";

/**
 * Payloads at least this large are emitted as header + payload view, not
 * copied (without `recycle`; with it, payloads below the capacity are copied).
 */
export const COPY_LIMIT: number = 16 * 1024;

// Microtask turns with no new frame before a scheduled flush runs. A loop of
// unawaited writes to a WritableStream delivers one write per turn, so a few
// idle turns mean the current task is done adding frames.
const IDLE_TURNS = 4;

// Turns that added a frame (with fewer than IDLE_TURNS idle turns between them) before the flush
// waits for the task to end instead: one `setImmediate` rather than one microtask per turn. A
// stream of writes takes several turns per write, and following it turn by turn cost up to a
// third of its time. Frames added over this many turns and then held while the same task goes on
// with other microtask-only work are sent when that work ends, not after IDLE_TURNS: kept high so
// that only long runs of writes (which such work would hold up anyway) are affected.
const BUSY_TURNS = 64;

/** Runs a callback once the current task and its microtasks are done (not in browsers). */
const afterTask = (globalThis as { setImmediate?: (callback: () => void) => unknown })
  .setImmediate;

/** The first slab's size (slabs grow ×4 up to the capacity as they fill up). */
const FIRST_SLAB = 16 * 1024;

/**
 * Room beyond the slab size for headers: frames of a power-of-two payload
 * size then fill a slab exactly (four 64 KiB frames in a 256 KiB slab, not
 * three), so writes stay as large as `capacity`.
 */
const HEADER_ROOM = 1024;

/**
 * Where a slab's bytes start in its buffer (from {@linkcode OFFSET_FROM} bytes):
 * half a page in. On AMD Zen CPUs,
 * glibc's `memcpy` (`rep movsb`, glibc bug 30994) copies 10–20× slower when
 * the destination lies 1–15 bytes after the source modulo 4 KiB (and up to
 * 1.4× slower at 16–63 bytes), which is
 * where a payload that starts a page lands behind its header in a slab that
 * starts a page. Bun's `Uint8Array.prototype.set` calls that `memcpy` (V8's
 * does not). Measured on the bench machine (AMD EPYC, glibc 2.36, Bun 1.4):
 * framed()'s send buffers took 64 KiB payloads at 3.3 GB/s from a slab at
 * the start of its buffer, 45 GB/s from one 2 KiB in.
 */
export const SLAB_OFFSET = 2048;

/**
 * Slabs shorter than this start at their buffer's start: they take only
 * copies shorter than those glibc's `memcpy` does with `rep movsb` on AMD
 * Zen by default (from 2112 bytes with FSRM, 8 KiB without), and a slab of
 * one small frame (`coalesce: 0`) would otherwise keep 2 KiB more alive per
 * frame.
 */
const OFFSET_FROM = 2048;

const EMPTY = new Uint8Array(0);

/**
 * Free slabs of recycling coalescers, by size, shared by every connection
 * (memory kept for reuse is bounded per process, not per connection).
 */
const pool = new Map<number, Uint8Array[]>();
let pooledBytes = 0;
/** Bytes of free slabs the pool keeps at most. */
const POOL_BYTES = 4 * 1024 * 1024;

function takeSlab(size: number): Uint8Array | undefined {
  const slab = pool.get(size)?.pop();
  if (slab !== undefined) pooledBytes -= slab.byteOffset + size;
  return slab;
}

function giveSlab(slab: Uint8Array): void {
  const bytes = slab.byteOffset + slab.length;
  if (pooledBytes + bytes > POOL_BYTES) return;
  let free = pool.get(slab.length);
  if (free === undefined) pool.set(slab.length, free = []);
  free.push(slab);
  pooledBytes += bytes;
}

/** What the coalescer calls of a framing. */
type Encoding = Pick<Framing, "encodedLength" | "encodeInto" | "encodeParts">;

/**
 * `framing`'s `encodedLength`, `encodeInto` and `encodeParts`, made from
 * `encode()` when it lacks them (a format of one's own). `encodedLength()`
 * then `encodeInto()` or `encodeParts()` of the same payload, as `add()`
 * calls them, encode it once.
 */
function complete(framing: FramingLike): Encoding {
  if (
    typeof framing.encodedLength === "function" && typeof framing.encodeInto === "function" &&
    typeof framing.encodeParts === "function"
  ) return framing as Encoding;
  let last: Uint8Array | undefined;
  let frame: Uint8Array | undefined;
  const encode = (payload: Uint8Array): Uint8Array => {
    if (payload !== last || frame === undefined) {
      frame = framing.encode(payload);
      last = payload;
    }
    return frame;
  };
  const take = (payload: Uint8Array): Uint8Array => {
    const out = encode(payload);
    last = frame = undefined;
    return out;
  };
  return {
    encodedLength: (payload) => {
      last = frame = undefined; // a payload changed since its last encode() is encoded again
      return encode(payload).length;
    },
    encodeInto(payload, target, offset) {
      const bytes = take(payload);
      checkRoom(target, offset, bytes.length);
      target.set(bytes, offset);
      return bytes.length;
    },
    encodeParts: (payload) => [take(payload)],
  };
}

/**
 * Encodes small frames back to back into a slab and emits the slab as one
 * chunk when flushed; a large payload is emitted as its header and a view of
 * the payload. Without `recycle`, slabs are never reused once emitted, so
 * emitted chunks stay valid while the consumer holds them. With `recycle`
 * (the consumer is done with a chunk once it is written, and says so through
 * {@linkcode Coalescer.written}), slabs are reused and payloads below the
 * capacity are copied too: a copy into a reused slab costs less than a
 * second socket write.
 */
export class Coalescer {
  #framing: Encoding;
  /** What the framing adds to every payload, when fixed; else -1 (see `fixedOverhead`). */
  #overhead: number;
  #capacity: number;
  #copyLimit: number;
  #emit: (chunk: Uint8Array, view: boolean) => void;
  #slab: Uint8Array = EMPTY;
  #slabSize: number;
  /** The first slab size: slabs shrink back to it. */
  #minSlab: number;
  /** The largest chunk flushed from the current slab (what one tick needed). */
  #largest = 0;
  #start = 0;
  #end = 0;
  #scheduled = false;
  #dirty = false;
  #idle = 0;
  /** Turns in a row that added a frame. */
  #busy = 0;
  #recycle: boolean;
  #emitted = 0;
  #written = 0;
  // Slabs replaced while some of their bytes were not written yet, with the
  // emitted-byte count that makes them free.
  #retired = new Fifo<{ slab: Uint8Array; until: number }>();

  /**
   * @param framing The wire format.
   * @param capacity Bytes of small frames gathered into one chunk; 0 emits each frame on its own.
   * @param emit Receives each chunk, in order, and whether it is a view of a
   * payload (not copied: the caller's, which may change it against the rules).
   * @param recycle The consumer is done with each chunk once {@linkcode written} counts it.
   */
  constructor(
    framing: FramingLike,
    capacity: number,
    emit: (chunk: Uint8Array, view: boolean) => void,
    recycle = false,
  ) {
    this.#framing = complete(framing);
    this.#overhead = fixedOverhead(framing);
    this.#capacity = capacity;
    this.#recycle = recycle && capacity > 0;
    this.#copyLimit = capacity === 0 ? COPY_LIMIT : Math.min(capacity, COPY_LIMIT);
    this.#slabSize = this.#minSlab = Math.min(capacity, FIRST_SLAB);
    this.#emit = emit;
  }

  /** Bytes encoded but not yet emitted. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /** Slabs given up while some of their bytes were not written yet (kept until they are). */
  get retiredSlabs(): number {
    return this.#retired.length;
  }

  /**
   * Whether {@linkcode add} may copy a payload of `length` bytes (false: it
   * certainly keeps the payload). With recycle it copies a frame that fits in
   * the capacity: a payload of exactly the capacity does with no header
   * (`fixedSize`).
   */
  copies(length: number): boolean {
    return this.#recycle ? length <= this.#capacity : length < this.#copyLimit;
  }

  /**
   * Encodes `payload`. Small frames are held until {@linkcode flush} (or until
   * the slab is full); with `schedule`, a flush runs once the current task
   * stops adding frames.
   *
   * @param transient The payload is reused once this returns: a frame not
   * copied into a slab is emitted as a view of a copy of it.
   * @returns Whether the payload was copied (false: it was emitted as a view,
   * and must not change until the consumer is done with it).
   * @throws {RangeError} The framing rejects the payload (nothing is emitted).
   */
  add(payload: Uint8Array, schedule: boolean, transient = false): boolean {
    const framing = this.#framing;
    const overhead = this.#overhead;
    // With recycle, a frame that fits in the capacity is copied; without, a payload below the
    // copy limit is. A fixed overhead gives the size without checking the payload twice
    // (encodeInto checks it, before it writes anything).
    // Not a Uint8Array: the framings' own TypeError, before `payload.length` is read.
    checkPayload(payload);
    const size = this.#recycle || payload.length < this.#copyLimit
      ? (overhead >= 0 ? payload.length + overhead : framing.encodedLength(payload))
      : Infinity;
    if (this.#recycle ? size > this.#capacity : size === Infinity) {
      const kept = transient ? payload.slice() : payload;
      const parts = framing.encodeParts(kept);
      this.flush();
      for (const part of parts) {
        this.#emitted += part.length;
        this.#emit(part, part.buffer === kept.buffer);
      }
      return false;
    }
    if (this.#end + size > this.#slab.length) {
      // A payload the framing refuses must not flush what is held: check it first.
      if (overhead >= 0) framing.encodedLength(payload);
      // Filled within one tick (nothing flushed from it before): the next slab is larger.
      const filled = this.#start === 0;
      // Until nothing is held: a frame the consumer added from within emit (a conn's sink that
      // sends) is in this slab too, and must not be dropped with it.
      do this.flush(); while (this.#end !== this.#start);
      this.#replaceSlab(size, filled);
    }
    this.#end += framing.encodeInto(payload, this.#slab, this.#end);
    if (this.#end - this.#start >= this.#capacity) {
      this.flush();
    } else if (schedule) {
      this.#dirty = true;
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#turn);
      }
    }
    return true;
  }

  /**
   * With `recycle`: the consumer is done with the first `total` bytes emitted
   * (chunks are written in order), so the slabs they lie in can be reused.
   */
  written(total: number): void {
    // Without recycle the consumer may hold chunks for ever: no slab is ever given up.
    if (!this.#recycle) return;
    this.#written = total;
    const retired = this.#retired;
    while ((retired.peek()?.until ?? Infinity) <= total) this.#release(retired.shift()!.slab);
    if (total >= this.#emitted && this.#end === this.#start && this.#slab.length > 0) {
      // Everything is written and nothing waits: an idle connection holds no send buffer.
      this.#release(this.#slab);
      this.#slab = EMPTY;
      this.#start = this.#end = 0;
    }
  }

  #release(slab: Uint8Array): void {
    // Only slabs of the size this coalescer now takes: a smaller one from before it grew, or
    // one made for a single large frame, would sit in the pool unused.
    if (slab.length === this.#slabSize + HEADER_ROOM) giveSlab(slab);
  }

  /**
   * Starts a new slab with room for `size` bytes (all emitted bytes are
   * flushed); `filled`: the old one filled up within one tick.
   */
  #replaceSlab(size: number, filled: boolean): void {
    const old = this.#slab;
    this.#start = this.#end = 0;
    const room = this.#capacity > 0 ? HEADER_ROOM : 0;
    const largest = this.#largest;
    let grow = old.length > 0 && filled && this.#slabSize < this.#capacity;
    // The tick that filled the old slab goes on in the new one and needed at least the old
    // slab: it still counts (else a steady tick a little larger than a slab would shrink the
    // next slab again, and every tick would grow it and write twice).
    this.#largest = grow ? largest : 0;
    // No tick since the last new slab needed more than a sixteenth of it (a burst is over):
    // the next slab is the size before the last growth, so a trickle after a burst holds a
    // small send buffer again.
    const shrink = !grow && largest > 0 && largest * 16 <= this.#slabSize &&
      this.#slabSize > this.#minSlab;
    if (old.length > 0 && this.#recycle) {
      // All of it written: fill it again from the start.
      if (!grow && !shrink && this.#written >= this.#emitted && old.length >= size) return;
      this.#retired.push({ slab: old, until: this.#emitted });
    }
    if (shrink) {
      let smaller = this.#minSlab;
      while (smaller * 4 < this.#slabSize) smaller *= 4;
      this.#slabSize = smaller;
    }
    // A slab that one tick filled up, or one too small for this frame, is followed by a larger
    // one, up to the capacity (slab sizes stay few, so free ones can be taken again).
    while ((grow || this.#slabSize + room < size) && this.#slabSize < this.#capacity) {
      this.#slabSize = Math.min(this.#capacity, this.#slabSize * 4);
      grow = false;
    }
    const length = Math.max(this.#slabSize + room, size);
    const offset = length >= OFFSET_FROM ? SLAB_OFFSET : 0;
    this.#slab = (this.#recycle ? takeSlab(length) : undefined) ??
      new Uint8Array(new ArrayBuffer(offset + length), offset, length);
  }

  /** Emits the frames held, as one chunk. */
  flush(): void {
    if (this.#end === this.#start) return;
    const chunk = this.#slab.subarray(this.#start, this.#end);
    if (chunk.length > this.#largest) this.#largest = chunk.length;
    this.#emitted += chunk.length;
    this.#start = this.#end;
    this.#emit(chunk, false);
  }

  #turn = (): void => {
    if (this.#dirty) {
      this.#dirty = false;
      this.#idle = 0;
      if (++this.#busy >= BUSY_TURNS && afterTask !== undefined) afterTask(this.#taskEnd);
      else queueMicrotask(this.#turn);
    } else if (++this.#idle < IDLE_TURNS) {
      queueMicrotask(this.#turn);
    } else {
      this.#taskEnd();
    }
  };

  #taskEnd = (): void => {
    this.#scheduled = this.#dirty = false;
    this.#idle = this.#busy = 0;
    this.flush();
  };
}
