// Copyright 2026 the framewire authors. MIT license.

import { checkFraming, checkOptions } from "../framing/_options.ts";
import type { DecoderOptions, FrameDecoder, FramingLike } from "../framing/types.ts";
import { WaitingWrite } from "./_waiting_write.ts";

/**
 * Bytes in, frames out: decodes a byte stream with `framing`, whatever the
 * chunking. Named like `TextDecoderStream`.
 *
 * Every complete frame of an input chunk is emitted, not just the first.
 * Output frames that lie inside one input chunk are views into it (with
 * `lengthPrefixed`'s `offset` the stream moves bytes within it); frames that
 * span chunks are copied once into fresh memory (see
 * {@linkcode FrameDecoder}). A view keeps its whole chunk alive: copy a small
 * frame you keep (`frame.slice()`). One chunk full of small frames (a 64 KiB
 * chunk of empty lines) queues all of them at once: backpressure counts
 * chunks in, not frames out.
 *
 * A `write()` resolves once the consumer has asked for a frame after that
 * chunk's frames: a consumer reading one frame at a time is done with them
 * then, so the chunk may change (a buffer read into again). So, unlike a
 * `TransformStream`'s, a write (and a `pipeTo` into the writable, and
 * `close()`) waits for ever if the consumer stops asking before the end:
 * read on until `done`, or cancel the readable. The writable queues writes,
 * so a buffer reused for unawaited writes is decoded with its last
 * contents.
 *
 * An input that ends inside a frame errors the stream with
 * `TruncatedFrameError`; an oversized or malformed header errors it with
 * `FrameTooLargeError` or `MalformedHeaderError`, and a chunk that is not a
 * `Uint8Array` (an `ArrayBuffer`, say) with a `TypeError`. Every frame decoded before
 * the error is read first, whichever chunk it came in; the writable errors
 * at once. Cancelling the readable errors the writable, and aborting the
 * writable errors the readable, as for any `TransformStream` (whose type it
 * has: `readable` and `writable`, for `pipeThrough`).
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
export class FrameDecoderStream implements TransformStream<Uint8Array, Uint8Array> {
  /** Frames. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to decode. */
  readonly writable: WritableStream<Uint8Array>;

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
  constructor(framing: FramingLike, options: Pick<DecoderOptions, "allocate"> = {}) {
    checkFraming(framing, "create FrameDecoderStream");
    checkOptions(options, "create FrameDecoderStream");
    const decoder: FrameDecoder = framing.decoder({ allocate: options.allocate });
    let frames!: ReadableStreamDefaultController<Uint8Array>;
    let bytes!: WritableStreamDefaultController;
    // A write waiting for the consumer to take the frames queued before it.
    let waiting!: WaitingWrite;
    // A decoding error, held until the consumer has read the frames decoded before it.
    let failure: { error: unknown } | undefined;
    const take = (): void => {
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
        frames.enqueue(frame);
      }
    };
    const fail = (error: unknown): void => {
      // With highWaterMark 0, a negative desiredSize means frames are still queued.
      if ((frames.desiredSize ?? 0) < 0) failure = { error };
      else frames.error(error);
    };
    // highWaterMark 0 on the readable, as a TransformStream's: frames are decoded when asked for.
    this.readable = new ReadableStream<Uint8Array>({
      start(controller) {
        frames = controller;
      },
      pull(controller) {
        if (failure !== undefined) return controller.error(failure.error);
        waiting.release();
      },
      cancel(reason) {
        bytes.error(reason);
        // The frames it waited to hand over will never be read: it fails, as in a TransformStream.
        waiting.fail(reason);
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start(controller) {
        bytes = controller;
        waiting = new WaitingWrite(controller);
      },
      write(chunk) {
        try {
          decoder.push(chunk);
          take();
        } catch (error) {
          fail(error);
          throw error;
        }
        // Backpressure: wait while frames are queued unread.
        if ((frames.desiredSize ?? 0) < 0) return waiting.wait();
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
