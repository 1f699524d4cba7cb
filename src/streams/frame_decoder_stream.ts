// Copyright 2026 the framewire authors. MIT license.

import { checkFraming, checkOptions } from "../framing/_options.ts";
import type { FrameDecoder, FramingLike } from "../framing/types.ts";
import { WaitingWrite } from "./_waiting_write.ts";

/**
 * Bytes in, frames out: decodes a byte stream with `framing`, whatever the
 * chunking. Named like `TextDecoderStream`.
 *
 * Every complete frame of an input chunk is emitted, not just the first.
 * Output frames that lie inside one input chunk are views into it, and the
 * start of a frame that the chunk does not complete is held as a view of it
 * too: the stream takes ownership of its input chunks, so do not change one
 * after writing it, even once its `write()` resolved (write a fresh buffer
 * per socket read, or a copy); with an `offset` (`lengthPrefixed`'s or
 * `varint`'s) the stream moves bytes within them. Frames that span chunks
 * are copied once into fresh memory, and on Bun frames under 33 bytes are
 * copies (see {@linkcode FrameDecoder}). A view keeps its whole chunk
 * alive: copy a small frame you keep (`frame.slice()`). `tee()` hands both
 * branches the same frame objects, as any stream's does: a branch that
 * changes its frames changes the other's (copy them first). One chunk full of
 * small frames (a 64 KiB chunk of empty lines) queues all of them at once:
 * backpressure counts chunks in, not frames out. A `write()` resolves once
 * its chunk is decoded; the next one waits until the frames queued are
 * read, as a `TransformStream`'s writes do.
 *
 * An input that ends inside a frame errors the stream with
 * `TruncatedFrameError`; an oversized or malformed header errors it with
 * `FrameTooLargeError` or `MalformedHeaderError`, and a chunk that is not a
 * `Uint8Array` (an `ArrayBuffer`, say) with a `TypeError`. Every frame decoded before
 * the error is read first, whichever chunk it came in; the writable errors
 * at once. Cancelling the readable errors the writable, and aborting the
 * writable errors the readable, as for any `TransformStream` (whose type it
 * has: `readable` and `writable`, for `pipeThrough`). A pipe into it
 * (a `pipeThrough()`) whose signal aborts waits for its write in progress,
 * which waits while frames are queued unread, as a `TransformStream`'s
 * does: the pipe cancels its source once they are read or the readable is
 * cancelled (after such a cancel, Node 24 leaves the source of any pipe
 * uncancelled, and the pipe rejects with the cancel's reason: cancel the
 * source yourself).
 *
 * `B` is the type of the buffers under the input chunks, and `A` that of
 * `allocate`'s: frames are views of the input or copies into `A`s or
 * `ArrayBuffer`s. Both are inferred: `conn.readable.pipeThrough(new
 * FrameDecoderStream(framing))` over a framewire adapter's connection (a
 * `Conn<ArrayBuffer>`) gives a `ReadableStream<Uint8Array<ArrayBuffer>>`,
 * which pipes on into `TextDecoderStream` without a cast.
 *
 * @typeParam B The type of the buffers under the input chunks.
 * @typeParam A The type of the buffers `allocate` returns; without an
 * `allocate`, `B` (a plain `FrameDecoderStream` is one of any buffer, as an
 * `allocate` typed to return a plain `Uint8Array` makes it).
 *
 * @example Decoding lines from a byte stream
 * ```ts
 * import { FrameDecoderStream, lines } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("one\ntwo\nthree\n");
 * const input = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(bytes.subarray(0, 5)); // "one\nt"
 *     controller.enqueue(bytes.subarray(5));
 *     controller.close();
 *   },
 * });
 * const frames: string[] = [];
 * for await (const frame of input.pipeThrough(new FrameDecoderStream(lines()))) {
 *   frames.push(new TextDecoder().decode(frame));
 * }
 * assert.deepEqual(frames, ["one", "two", "three"]);
 * ```
 */
export class FrameDecoderStream<
  B extends ArrayBufferLike = ArrayBufferLike,
  A extends ArrayBufferLike = B,
> implements TransformStream<Uint8Array<B>, Uint8Array<B | A | ArrayBuffer>> {
  /** Frames: views of the input chunks, or copies. */
  readonly readable: ReadableStream<Uint8Array<B | A | ArrayBuffer>>;
  /** Bytes to decode. */
  readonly writable: WritableStream<Uint8Array<B>>;

  /**
   * Constructs a new instance.
   *
   * @param framing The wire format.
   * @param options Decoder options: `allocate` for frames that span chunks
   * (e.g. `Buffer.allocUnsafeSlow` on Node and Bun). `reuseBuffers` is not
   * offered: a stream's consumer may hold many frames at once.
   * @throws {TypeError} `framing` has no `encode()` and `decoder()`, or
   * `options` is not an object.
   */
  constructor(
    framing: FramingLike,
    options: { allocate?: ((length: number) => Uint8Array<A>) | undefined } = {},
  ) {
    checkFraming(framing, "create FrameDecoderStream");
    checkOptions(options, "create FrameDecoderStream");
    const decoder: FrameDecoder = framing.decoder({ allocate: options.allocate });
    let frames!: ReadableStreamDefaultController<Uint8Array>;
    let bytes!: WritableStreamDefaultController;
    // A write waiting for the consumer to take the frames the writes before it queued.
    let waiting!: WaitingWrite;
    // A decoding error, held until the consumer has read the frames decoded before it.
    let failure: { error: unknown } | undefined;
    // Why the readable was cancelled: a write waiting for room then decodes nothing.
    let cancelled: { reason: unknown } | undefined;
    const take = (): void => {
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
        frames.enqueue(frame);
      }
    };
    const decode = (chunk: Uint8Array): void => {
      try {
        decoder.push(chunk);
        take();
      } catch (error) {
        fail(error);
        throw error;
      }
    };
    const fail = (error: unknown): void => {
      // With highWaterMark 0, a negative desiredSize means frames are still queued.
      if ((frames.desiredSize ?? 0) < 0) failure = { error };
      else frames.error(error);
    };
    // highWaterMark 0 on the readable, as a TransformStream's: frames are decoded when asked for.
    // The decoder's frames are views of the chunks pushed, or copies into allocate()'s buffers
    // or fresh ArrayBuffers.
    this.readable = new ReadableStream<Uint8Array<B | A | ArrayBuffer>>({
      start(controller) {
        frames = controller;
      },
      pull(controller) {
        if (failure !== undefined) return controller.error(failure.error);
        waiting.release();
      },
      cancel(reason) {
        cancelled = { reason };
        bytes.error(reason);
        // A write waiting for room fails, as in a TransformStream: nothing will read its frames.
        waiting.fail(reason);
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array<B>>({
      start(controller) {
        bytes = controller;
        waiting = new WaitingWrite(controller);
      },
      write(chunk) {
        // Backpressure, as in a TransformStream: the next write waits while frames are queued
        // unread, not the write that queued them (a consumer that reads just the frames it
        // expects and then awaits that write would wait for ever).
        if ((frames.desiredSize ?? 0) < 0) {
          return waiting.wait().then(() => {
            // Released by a read, then cancelled in the same turn: the readable is closed.
            if (cancelled !== undefined) throw cancelled.reason;
            decode(chunk);
          });
        }
        decode(chunk);
        return undefined;
      },
      close() {
        let error: { error: unknown } | undefined;
        try {
          decoder.end();
        } catch (e) {
          error = { error: e };
        }
        try {
          take(); // frames completed before a truncation are still delivered
        } catch (e) {
          error ??= { error: e };
        }
        if (error === undefined) return frames.close();
        fail(error.error);
        throw error.error;
      },
      abort(reason) {
        frames.error(reason);
      },
    });
  }
}
