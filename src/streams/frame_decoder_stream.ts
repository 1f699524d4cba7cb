// Copyright 2026 the framewire authors. MIT license.

import type { DecoderOptions, FrameDecoder, Framing } from "../framing/types.ts";

/**
 * Bytes in, frames out: decodes a byte stream with `framing`, whatever the
 * chunking. Named like `TextDecoderStream`.
 *
 * Every complete frame of an input chunk is emitted, not just the first.
 * Output frames that lie inside one input chunk are views into it (the
 * stream takes ownership of its input chunks: do not change them after
 * writing); frames that span chunks are fresh buffers of their exact size.
 *
 * An input that ends inside a frame errors the stream with
 * `TruncatedFrameError`; an oversized or malformed header errors it with
 * `FrameTooLargeError` or `MalformedHeaderError`. Cancelling the readable
 * errors the writable, and aborting the writable errors the readable, as for
 * any `TransformStream`.
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
export class FrameDecoderStream extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * Constructs a new instance.
   *
   * @param framing The wire format.
   * @param options Decoder options: `allocate` for frames that span chunks
   * (e.g. `Buffer.allocUnsafe` on Node and Bun). `reuseBuffers` is not
   * offered: a stream's consumer may hold many frames at once.
   */
  constructor(framing: Framing, options: Pick<DecoderOptions, "allocate"> = {}) {
    const decoder: FrameDecoder = framing.decoder({ allocate: options.allocate });
    super({
      transform(chunk, controller) {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          controller.enqueue(frame);
        }
      },
      flush(controller) {
        decoder.end();
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          controller.enqueue(frame);
        }
      },
    });
  }
}
