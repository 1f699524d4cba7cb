// Copyright 2026 the framewire authors. MIT license.

import { checkFraming, checkOptions, numberError, receivedValue } from "../framing/_options.ts";
import type { FramingLike } from "../framing/types.ts";
import { Coalescer } from "./_coalescer.ts";
import { WaitingWrite } from "./_waiting_write.ts";

/** Options for {@linkcode FrameEncoderStream}. */
export interface FrameEncoderStreamOptions {
  /**
   * Small frames written in the same tick are gathered into one output chunk
   * of up to this many bytes (it may exceed them by its last frame); 0 emits
   * every frame as its own chunk. Chunks start at 16 KiB and grow ×4 up to
   * this size while one tick keeps filling them.
   *
   * @default {65536} (64 KiB)
   */
  coalesce?: number | undefined;
}

/**
 * Payloads in, wire bytes out: frames each payload with `framing`.
 *
 * Small frames written in the same tick (a loop of unawaited `write` calls,
 * or a `pipeTo` from a stream with queued chunks) come out as one chunk once
 * they fill it or the tick ends (chunks of 16 KiB, then ×4 up to `coalesce`
 * bytes while the tick goes on), so the socket behind sees few
 * large writes. A payload of 16 KiB or more (or of `coalesce` bytes, if
 * fewer and not 0) is not copied: its header and the payload itself
 * come out as two chunks. A payload must not change until its `write()`
 * resolves (the writable queues writes, and frames each when its turn
 * comes: a buffer reused by a loop of unawaited writes goes out with its
 * last contents; one transferred before then is refused with a `TypeError`,
 * not framed as empty), and one that is not copied not until the consumer
 * is done with the output chunk. Output chunks are never reused. A `write()` waits
 * while `coalesce` bytes (with 0, any) are queued unread, until the
 * consumer reads below that.
 *
 * Closing the writable flushes and closes the readable; aborting it errors
 * the readable; cancelling the readable errors the writable. A payload the
 * framing rejects (too long, contains the delimiter) errors both sides with
 * the framing's `RangeError`: the readable once the frames written before it
 * have been read. Piped into a connection's writable whose peer reads
 * nothing, the readable's `pipeTo()` waits for its pending write even after
 * the writable side here is aborted (the Web Streams rule): close the
 * connection to end it.
 *
 * @example Framing lines for a socket
 * ```ts
 * import { FrameEncoderStream, lines } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const encoder = new FrameEncoderStream(lines());
 * const writer = encoder.writable.getWriter();
 * writer.write(new TextEncoder().encode("hello"));
 * writer.write(new TextEncoder().encode("world"));
 * writer.close();
 * const chunks: Uint8Array[] = [];
 * for await (const chunk of encoder.readable) chunks.push(chunk);
 * assert.equal(chunks.length, 1); // both frames coalesced into one write
 * assert.equal(new TextDecoder().decode(chunks[0]), "hello\nworld\n");
 * ```
 */
export class FrameEncoderStream {
  /** Wire bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Payloads to frame. */
  readonly writable: WritableStream<Uint8Array>;

  /**
   * Constructs a new instance.
   *
   * @param framing The wire format.
   * @param options The coalescing limit.
   * @throws {RangeError} `coalesce` is negative or not an integer (a
   * `TypeError` if no number at all).
   * @throws {TypeError} `framing` has no `encode()` and `decoder()`, or
   * `options` is not an object.
   */
  constructor(framing: FramingLike, options: FrameEncoderStreamOptions = {}) {
    checkFraming(framing, "create FrameEncoderStream");
    checkOptions(options, "create FrameEncoderStream");
    const coalesce = options.coalesce ?? 65536;
    if (!Number.isSafeInteger(coalesce) || coalesce < 0) {
      throw numberError(
        coalesce,
        `Cannot create FrameEncoderStream as coalesce must be a non-negative integer: received ${
          receivedValue(coalesce)
        }`,
      );
    }
    // The readable's highWaterMark, in bytes (see its strategy below).
    const room = Math.max(coalesce, 1);
    let readableController!: ReadableStreamDefaultController<Uint8Array>;
    let writableController!: WritableStreamDefaultController;
    let waiting!: WaitingWrite;
    // Set once the readable is closed, cancelled or errored: a flush that was
    // scheduled before then has nowhere to go.
    let done = false;
    // A refused payload's error, held until the consumer has read the frames accepted before it.
    let failure: { error: unknown } | undefined;
    const coalescer = new Coalescer(framing, coalesce, (chunk) => {
      if (!done) readableController.enqueue(chunk);
    });
    this.readable = new ReadableStream<Uint8Array>({
      start(controller) {
        readableController = controller;
      },
      pull(controller) {
        // Once every frame queued before it has been read (the queue is empty).
        if (failure !== undefined) {
          if ((controller.desiredSize ?? 0) >= room) controller.error(failure.error);
          return;
        }
        // The consumer caught up: release a waiting writer.
        waiting.release();
      },
      cancel(reason) {
        done = true;
        writableController.error(reason);
        // What the waiting write framed will never be read: it fails, as in a TransformStream.
        waiting.fail(reason);
      },
      // At least 1: with coalesce 0, pull() then runs once the consumer has read every chunk
      // queued, which releases the write that queued them (with 0 it ran only when the consumer
      // asked for one more, so a consumer that read just the chunks it expected and then awaited
      // the write waited for ever).
    }, new ByteLengthQueuingStrategy({ highWaterMark: room }));
    this.writable = new WritableStream<Uint8Array>({
      start(controller) {
        writableController = controller;
        waiting = new WaitingWrite(controller);
      },
      write(payload) {
        try {
          coalescer.add(payload, true);
        } catch (error) {
          coalescer.flush(); // the frames accepted before it come out first
          done = true;
          if ((readableController.desiredSize ?? 0) < room) failure = { error };
          else readableController.error(error);
          throw error;
        }
        // Backpressure: wait while `coalesce` bytes (with 0: any) are queued for the consumer.
        if ((readableController.desiredSize ?? 1) <= 0) return waiting.wait();
        return undefined;
      },
      close() {
        coalescer.flush();
        done = true;
        readableController.close();
      },
      abort(reason) {
        done = true;
        readableController.error(reason);
      },
    });
  }
}
