// Copyright 2026 the framewire authors. MIT license.
// The decoder of `delimited()` and `lines()`. Private.

import { FrameTooLargeError, TruncatedFrameError } from "../errors.ts";
import { ByteQueue, detachedBytes, GATHER_BELOW } from "./_byte_queue.ts";
import { COPY_BELOW, copySmall, FrameBuffers, frameIn } from "./_frame_buffers.ts";
import { inputChunk, pushAfterEnd } from "./_options.ts";
import type { DecoderOptions, FrameDecoder } from "./types.ts";

/** `"\r"`, which `stripCR` removes before the delimiter. */
export const CR = 0x0d;

/** Decodes frames that end with a delimiter (see `delimited()`). */
export class DelimitedDecoder implements FrameDecoder {
  #queue = new ByteQueue();
  /** end() was called: the input is over. */
  #ended = false;
  #delimiter: Uint8Array;
  #table: Int32Array;
  #limit: number;
  #stripCR: boolean;
  /** The delimiter's byte when it has one byte, else -1. */
  #one: number;
  /** Frames found by end() before it checked for a clean boundary, last first (see decodeAhead). */
  #done: Uint8Array[] = [];

  // Where lines that span chunks are copied to (fresh or reused buffers).
  #buffers: FrameBuffers;

  constructor(
    delimiter: Uint8Array,
    table: Int32Array,
    limit: number,
    stripCR: boolean,
    options: DecoderOptions | undefined,
  ) {
    this.#buffers = new FrameBuffers(options);
    this.#delimiter = delimiter;
    this.#table = table;
    this.#limit = limit;
    this.#stripCR = stripCR;
    this.#one = delimiter.length === 1 ? delimiter[0]! : -1;
  }

  get bufferedBytes(): number {
    return this.#queue.length;
  }

  push(chunk: Uint8Array): void {
    chunk = inputChunk(chunk, "decode frames");
    if (this.#ended) throw pushAfterEnd();
    // Small chunks after bytes held for a frame not yet complete (a trickle) are copied
    // together: held one by one, each would cost more than the bytes it holds.
    if (this.#queue.length > 0 && chunk.length < GATHER_BELOW) this.#queue.gather(chunk);
    else this.#queue.push(chunk);
  }

  next(): Uint8Array | undefined {
    if (this.#done.length > 0) return this.#done.pop();
    const queue = this.#queue;
    if (queue.length === 0) return undefined;
    // A one-byte delimiter in the head chunk, not searched yet: the frame is found with no
    // bookkeeping (a chunk without one is not searched again; one too large is, by find()).
    const one = this.#one;
    if (one >= 0 && queue.unsearched) {
      const chunk = queue.headChunk!;
      const pos = queue.headOffset;
      // Unread bytes past the end: the chunk's buffer was transferred (as find() says).
      if (chunk.length <= pos) throw detachedBytes();
      const at = chunk.indexOf(one, pos);
      if (at < 0) queue.searchedHead();
      else {
        const end = this.#stripCR && at > pos && chunk[at - 1] === CR ? at - 1 : at;
        const length = end - pos;
        if (length <= this.#limit) {
          const frame = frameIn(chunk, pos, length);
          queue.skip(at + 1 - pos);
          return frame;
        }
      }
    }
    const at = queue.find(this.#delimiter, this.#table);
    if (at === -1) {
      // The frame is at least as long as the bytes before the first place a delimiter could
      // still start; checked exactly only near the limit (the last bytes may begin one).
      if (queue.length > this.#limit) {
        // A "\r" that stripCR removes does not count against the limit.
        const length = this.#lengthBefore(queue.length - queue.matchedAtEnd);
        if (length > this.#limit) this.#tooLarge(length);
      }
      return undefined;
    }
    // A "\r" that stripCR removes is skipped with the delimiter, not copied with the frame.
    const length = this.#lengthBefore(at);
    if (length > this.#limit) this.#tooLarge(length);
    const frame = queue.take(length, this.#buffers.take);
    queue.skip(at - length + this.#delimiter.length);
    return frame;
  }

  /**
   * Appends every complete frame to `out`, as a loop over `next()` would,
   * with the frames of a one-byte delimiter that lie in the head chunk found
   * in one tight loop (`indexOf`, no bookkeeping per frame), for bytes not
   * searched before.
   *
   * @throws {FrameTooLargeError} As `next()`; the frames before are in `out`.
   */
  takeAll(out: Uint8Array[]): void {
    const queue = this.#queue;
    const one = this.#one;
    if (one >= 0 && this.#done.length === 0) {
      const limit = this.#limit;
      const stripCR = this.#stripCR;
      for (;;) {
        const chunk = queue.headChunk;
        if (chunk === undefined) return;
        if (queue.unsearched) {
          const start = queue.headOffset;
          if (chunk.length <= start) throw detachedBytes();
          const buffer = chunk.buffer;
          const base = chunk.byteOffset;
          let pos = start;
          let at = chunk.indexOf(one, pos);
          for (; at >= 0; at = chunk.indexOf(one, pos)) {
            const end = stripCR && at > pos && chunk[at - 1] === CR ? at - 1 : at;
            const length = end - pos;
            if (length > limit) break; // next() says so
            // frameIn() inline, with the chunk's buffer read once: calling it here cost 10 %.
            out.push(
              length < COPY_BELOW
                ? copySmall(chunk, pos, length)
                : new Uint8Array(buffer, base + pos, length),
            );
            pos = at + 1;
          }
          if (pos > start) queue.skip(pos - start);
          // The rest of the chunk holds no delimiter: not searched again.
          if (at < 0 && pos < chunk.length) queue.searchedHead();
        }
        // A frame that spans chunks (or one too large): the general way.
        const frame = this.next();
        if (frame === undefined) return;
        out.push(frame);
      }
    }
    for (let frame = this.next(); frame !== undefined; frame = this.next()) out.push(frame);
  }

  end(): void {
    this.#ended = true;
    // The frames before a bad one are still read first.
    this.#buffers.decodeAhead(() => this.next(), (frames) => this.#done = frames);
    const queue = this.#queue;
    const left = queue.length;
    if (left > 0) {
      // No delimiter can come now: every byte left belongs to the frame (but a final "\r").
      const length = this.#lengthBefore(left);
      if (length > this.#limit) this.#tooLarge(length);
      throw new TruncatedFrameError("payload", left);
    }
  }

  /** The length of a frame whose bytes end at `end`: without a final "\r" that stripCR removes. */
  #lengthBefore(end: number): number {
    return this.#stripCR && end > 0 && this.#queue.byteAt(end - 1) === CR ? end - 1 : end;
  }

  /** See `HeaderDecoder.keepAsFresh()` (this decoder has no view cache). */
  keepAsFresh(): void {
    this.#buffers.forgetSlab();
  }

  /** The unread bytes, handed back (used by `ByteReader`). */
  takeBuffered(): Uint8Array[] {
    this.#buffers.forgetSlab();
    return this.#queue.drain();
  }

  #tooLarge(length: number): never {
    const queue = this.#queue;
    const header = new Uint8Array(Math.min(8, queue.length));
    queue.peekInto(header, 0, header.length);
    throw new FrameTooLargeError(length, this.#limit, { header, noDelimiter: true });
  }
}
