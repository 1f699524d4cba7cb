// Copyright 2026 the framewire authors. MIT license.
// Encodes payloads into shared slabs and hands out large writes. Private.

import type { Framing } from "../framing/types.ts";

/** Payloads at least this large are written as header + payload view, never copied. */
export const COPY_LIMIT = 16 * 1024;

// Microtask turns with no new frame before a scheduled flush runs. A loop of
// unawaited writes to a WritableStream delivers one write per turn, so a few
// idle turns mean the current task is done adding frames.
const IDLE_TURNS = 4;

/**
 * Encodes small frames back to back into a slab and emits the slab as one
 * chunk when flushed; a large payload is emitted as its header and a view of
 * the payload. Slabs are never reused once emitted, so emitted chunks stay
 * valid while the consumer writes them.
 */
export class Coalescer {
  #framing: Framing;
  #capacity: number;
  #copyLimit: number;
  #emit: (chunk: Uint8Array) => void;
  #slab: Uint8Array;
  #start = 0;
  #end = 0;
  #scheduled = false;
  #dirty = false;
  #idle = 0;

  /**
   * @param framing The wire format.
   * @param capacity Bytes of small frames gathered into one chunk; 0 emits each frame on its own.
   * @param emit Receives each chunk, in order.
   */
  constructor(framing: Framing, capacity: number, emit: (chunk: Uint8Array) => void) {
    this.#framing = framing;
    this.#capacity = capacity;
    this.#copyLimit = capacity === 0 ? COPY_LIMIT : Math.min(capacity, COPY_LIMIT);
    this.#emit = emit;
    this.#slab = new Uint8Array(capacity);
  }

  /** Bytes encoded but not yet emitted. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Encodes `payload`. Small frames are held until {@linkcode flush} (or until
   * the slab is full); with `schedule`, a flush runs once the current task
   * stops adding frames.
   *
   * @throws {RangeError} The framing rejects the payload (nothing is emitted).
   */
  add(payload: Uint8Array, schedule: boolean): void {
    const framing = this.#framing;
    if (payload.length >= this.#copyLimit) {
      const parts = framing.encodeParts(payload);
      this.flush();
      for (const part of parts) this.#emit(part);
      return;
    }
    const size = framing.encodedLength(payload);
    if (this.#end + size > this.#slab.length) {
      this.flush();
      this.#slab = new Uint8Array(Math.max(this.#capacity, size));
      this.#start = this.#end = 0;
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
  }

  /** Emits the frames held, as one chunk. */
  flush(): void {
    if (this.#end === this.#start) return;
    const chunk = this.#slab.subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#emit(chunk);
  }

  #turn = (): void => {
    if (this.#dirty) {
      this.#dirty = false;
      this.#idle = 0;
      queueMicrotask(this.#turn);
    } else if (++this.#idle < IDLE_TURNS) {
      queueMicrotask(this.#turn);
    } else {
      this.#scheduled = false;
      this.#idle = 0;
      this.flush();
    }
  };
}
