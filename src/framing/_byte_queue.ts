// Copyright 2026 the framewire authors. MIT license.
// A queue of pushed chunks read from the front without copying. Private.

import { frameIn } from "./_frame_buffers.ts";
import { bytesFrom, isResizable } from "./_options.ts";
import { scan } from "./_search.ts";

/**
 * Chunks below this size that arrive while a decoder holds bytes of a frame
 * not yet complete are copied together ({@linkcode ByteQueue.gather}); larger
 * ones are held as they are (their object is small next to their bytes).
 */
export const GATHER_BELOW = 4096;

/** The first block {@linkcode ByteQueue.gather} copies small chunks into. */
const GATHER_MIN = 256;
/** The largest such block. */
const GATHER_MAX = 64 * 1024;

/**
 * Holds pushed chunks and reads from the front. Reads that lie inside the
 * head chunk are views; reads that span chunks are copied once into a buffer
 * of their exact size. All operations are linear in the bytes they touch, and
 * the scan cursor of {@linkcode ByteQueue.find} keeps delimiter searches
 * linear in the input even when it arrives one byte at a time.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  // The queue's own block that gather() copies into, and the chunk that is its used part (the
  // last chunk, while gather() can append to it).
  #block: Uint8Array | undefined;
  #gathered: Uint8Array | undefined;
  #head = 0;
  #offset = 0;
  #length = 0;
  // Scan cursor for find(): chunk index, position in it, and its distance
  // from the front of the queue. Reset whenever bytes are consumed.
  #scanIndex = 0;
  #scanPos = 0;
  #scanRel = 0;
  // Delimiter bytes matched right before the cursor, and the match found (-1: none yet).
  #matched = 0;
  #found = -1;

  /** Unread bytes. */
  get length(): number {
    return this.#length;
  }

  /** The chunk holding the next unread byte, or `undefined` when empty. */
  get headChunk(): Uint8Array | undefined {
    return this.#chunks[this.#head];
  }

  /** The position of the next unread byte inside {@linkcode headChunk}. */
  get headOffset(): number {
    return this.#offset;
  }

  /**
   * Appends a chunk (empty chunks are ignored), as a view of the length it
   * has now: see {@linkcode fixedLength}.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(fixedLength(chunk));
    this.#length += chunk.length;
  }

  /**
   * Appends a copy of `chunk`, in one chunk with the bytes gathered right
   * before it: into a block of the queue's own, of 256 B to 64 KiB (twice the
   * bytes gathered before, when they filled the last one). For small chunks
   * held for long: a chunk object costs hundreds of bytes, more than a
   * trickle's chunk holds. Bytes of a block are written once, so a view of
   * them handed out stays as it is.
   */
  gather(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    const chunks = this.#chunks;
    const last = chunks.length - 1;
    const gathered = this.#gathered;
    const tail = gathered !== undefined && last >= this.#head && chunks[last] === gathered;
    const block = this.#block!;
    if (tail && gathered.length + n <= block.length) {
      const grown = new Uint8Array(block.buffer, 0, gathered.length + n);
      grown.set(chunk, gathered.length);
      chunks[last] = this.#gathered = grown;
      // A find() that searched to the end goes on with the bytes appended to the last chunk.
      if (this.#scanIndex === chunks.length) {
        this.#scanIndex = last;
        this.#scanPos = gathered.length;
      }
    } else {
      const size = Math.min(
        GATHER_MAX,
        Math.max(GATHER_MIN, 2 * n, tail ? 2 * gathered.length : 0),
      );
      const fresh = this.#block = new Uint8Array(Math.max(size, n));
      fresh.set(chunk);
      chunks.push(this.#gathered = fresh.subarray(0, n));
    }
    this.#length += n;
  }

  /** Returns the byte `index` positions from the front (no bounds check beyond `length`). */
  byteAt(index: number): number {
    let i = this.#head;
    let pos = this.#offset + index;
    let chunk = this.#chunks[i]!;
    while (pos >= chunk.length) {
      if (chunk.length === 0) throw detachedBytes();
      pos -= chunk.length;
      chunk = this.#chunks[++i]!;
    }
    return chunk[pos]!;
  }

  /** Copies up to `target.length - targetOffset` front bytes into `target` without consuming them; returns the count. */
  peekInto(target: Uint8Array, targetOffset: number, max: number): number {
    let want = Math.min(max, this.#length);
    let written = 0;
    let i = this.#head;
    let pos = this.#offset;
    while (want > 0) {
      const chunk = this.#chunks[i++]!;
      if (chunk.length <= pos) throw detachedBytes();
      const n = Math.min(want, chunk.length - pos);
      target.set(chunk.subarray(pos, pos + n), targetOffset + written);
      written += n;
      want -= n;
      pos = 0;
    }
    return written;
  }

  /** Consumes `n` bytes that lie inside the head chunk. */
  advanceHead(n: number): void {
    this.#length -= n;
    this.#offset += n;
    if (this.#offset === this.#chunks[this.#head]!.length) this.#dropHead();
    // The scan cursor is not reset: find() is not used by the decoders that call this.
  }

  /** Consumes `n` bytes (`n <= length`). */
  skip(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const chunk = this.#chunks[this.#head]!;
      const left = chunk.length - this.#offset;
      if (left <= 0) throw detachedBytes();
      if (n < left) {
        this.#offset += n;
        break;
      }
      n -= left;
      this.#dropHead();
    }
    this.#resetScan();
  }

  /** Consumes `n` bytes into `target` at `targetOffset` (`n <= length`). */
  readInto(target: Uint8Array, targetOffset: number, n: number): void {
    this.#length -= n;
    while (n > 0) {
      const chunk = this.#chunks[this.#head]!;
      const left = chunk.length - this.#offset;
      if (left <= 0) throw detachedBytes();
      if (n < left) {
        if (n <= 32) {
          for (let i = 0; i < n; i++) target[targetOffset + i] = chunk[this.#offset + i]!;
        } else {
          target.set(chunk.subarray(this.#offset, this.#offset + n), targetOffset);
        }
        this.#offset += n;
        break;
      }
      target.set(this.#offset === 0 ? chunk : chunk.subarray(this.#offset), targetOffset);
      targetOffset += left;
      n -= left;
      this.#dropHead();
    }
    this.#resetScan();
  }

  /**
   * Consumes `n` bytes: when they lie in the head chunk, {@linkcode frameIn}
   * (a view, or a copy of its own below `COPY_BELOW`), else one
   * exact-size copy.
   */
  take(n: number, allocate?: (length: number) => Uint8Array): Uint8Array {
    const chunk = this.#chunks[this.#head];
    if (chunk === undefined) return new Uint8Array(0);
    const start = this.#offset;
    if (start + n <= chunk.length) {
      const view = frameIn(chunk, start, n);
      this.skip(n);
      return view;
    }
    const out = allocate === undefined ? new Uint8Array(n) : allocate(n);
    this.readInto(out, 0, n);
    return out;
  }

  /**
   * Finds `delimiter` (`table`: its {@linkcode prefixTable}) and returns its
   * distance from the front, or -1. Bytes already searched are not searched
   * again until bytes are consumed, and each byte is read once, however long
   * the delimiter: linear time.
   */
  find(delimiter: Uint8Array, table: Int32Array): number {
    if (this.#found >= 0) return this.#found;
    const chunks = this.#chunks;
    const single = delimiter.length === 1;
    let m = this.#matched;
    while (this.#scanIndex < chunks.length) {
      const chunk = chunks[this.#scanIndex]!;
      const pos = this.#scanPos;
      if (chunk.length <= pos) throw detachedBytes();
      const end = single
        ? chunk.indexOf(delimiter[0]!, pos) + 1 || -1
        : scan(chunk, pos, chunk.length, delimiter, table, m);
      if (end >= 0) return this.#found = this.#scanRel + (end - pos) - delimiter.length;
      m = -1 - end;
      this.#scanRel += chunk.length - pos;
      this.#scanIndex++;
      this.#scanPos = 0;
    }
    this.#matched = m;
    return -1;
  }

  /**
   * Whether {@linkcode find} has searched no byte since bytes were last
   * consumed: a caller may search the head chunk itself (and say so with
   * {@linkcode searchedHead} if it finds nothing there).
   */
  get unsearched(): boolean {
    return this.#found < 0 && this.#scanRel === 0 && this.#scanIndex === this.#head &&
      this.#scanPos === this.#offset;
  }

  /**
   * The rest of the head chunk was searched for a one-byte delimiter, which
   * it does not hold (only when {@linkcode unsearched}): {@linkcode find}
   * goes on after it.
   */
  searchedHead(): void {
    this.#scanRel = this.#chunks[this.#head]!.length - this.#offset;
    this.#scanIndex = this.#head + 1;
    this.#scanPos = 0;
  }

  /**
   * After a {@linkcode find} that found nothing: how many of the last bytes
   * are the delimiter's first bytes (where one could still start).
   */
  get matchedAtEnd(): number {
    return this.#matched;
  }

  /** Removes and returns every unread byte as a list of views. */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      out.push(i === this.#head && this.#offset > 0 ? chunk.subarray(this.#offset) : chunk);
    }
    this.#chunks = [];
    this.#gathered = this.#block = undefined;
    this.#head = 0;
    this.#offset = 0;
    this.#length = 0;
    this.#resetScan();
    return out;
  }

  #dropHead(): void {
    const chunks = this.#chunks;
    // A block whose used part is read is never appended to again: it is not kept either.
    if (chunks[this.#head] === this.#gathered) this.#gathered = this.#block = undefined;
    chunks[this.#head] = undefined as unknown as Uint8Array;
    this.#head++;
    this.#offset = 0;
    if (this.#head === chunks.length) {
      chunks.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= chunks.length) {
      this.#chunks = chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  #resetScan(): void {
    this.#scanIndex = this.#head;
    this.#scanPos = this.#offset;
    this.#scanRel = 0;
    this.#matched = 0;
    this.#found = -1;
  }
}

/**
 * `chunk`, or a fixed-length view of its bytes when it is a view of a
 * resizable `ArrayBuffer` or a growable `SharedArrayBuffer`: a
 * length-tracking one (`new Uint8Array(buffer)`) changes length with its
 * buffer, so a decoder holding it would read bytes never pushed when the
 * buffer grew, and lose its place (counts, positions) when it shrank. A
 * fixed-length view shrunk below reads as empty, which every read checks
 * ({@linkcode detachedBytes}). Once per chunk kept, not per frame (the
 * decoders read `buffer` of the chunks they cut frames from anyway).
 */
export function fixedLength(chunk: Uint8Array): Uint8Array {
  return isResizable(chunk) ? bytesFrom(chunk, 0) : chunk;
}

/**
 * Bytes held for decoding (a queued chunk, or the frame being filled) have
 * no memory left: the application transferred the `buffer` of a frame that
 * shares it, or transferred or shrunk (resizable) that of a chunk it pushed
 * (misuse: a decoder owns what it is pushed). Empty chunks are never queued
 * (here or in `ByteReader`), and a chunk is dropped once read to its end, so
 * no live chunk looks like this.
 */
export function detachedBytes(): TypeError {
  return new TypeError(
    "Cannot decode frames as bytes held for decoding were detached or shrunk (a frame's buffer was transferred, and the frame shares it with bytes not yet decoded, or a pushed chunk's buffer was transferred or resized; transfer a copy, frame.slice(), and leave pushed chunks as they are)",
  );
}
