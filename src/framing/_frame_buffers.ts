// Copyright 2026 the framewire authors. MIT license.
// Where the decoders put frames that span chunks. Private.

import type { DecoderOptions } from "./types.ts";

/**
 * Buffers for frames that span chunks: a fresh one per frame (from the
 * decoder's `allocate`), or with `reuseBuffers` two that are used in turn, as
 * the frame completed last may still be in use by the caller.
 */
export class FrameBuffers {
  #allocate: ((length: number) => Uint8Array) | undefined;
  #spare: (Uint8Array | undefined)[] | undefined;
  #turn = 0;

  constructor(options?: DecoderOptions) {
    this.#allocate = options?.allocate;
    if (options?.reuseBuffers) this.#spare = [undefined, undefined];
  }

  /** A buffer of exactly `size` bytes for the next frame that spans chunks. */
  take = (size: number): Uint8Array => {
    const spare = this.#spare;
    if (spare === undefined) {
      return this.#allocate === undefined ? new Uint8Array(size) : this.#allocate(size);
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
   * it. `keep` gets the frames, those before an error too.
   */
  decodeAhead(next: () => Uint8Array | undefined, keep: (frames: Uint8Array[]) => void): void {
    const frames: Uint8Array[] = [];
    const spare = this.#spare;
    this.#spare = undefined;
    try {
      for (let frame = next(); frame !== undefined; frame = next()) frames.push(frame);
    } finally {
      this.#spare = spare;
      keep(frames);
    }
  }
}
