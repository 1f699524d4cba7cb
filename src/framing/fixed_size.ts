// Copyright 2026 the framewire authors. MIT license.

import { HeaderDecoder, type HeaderParser, PLAIN_FIXED } from "./_header_decoder.ts";
import {
  checkPayload,
  checkRoom,
  copyBytes,
  numberError,
  ownFraming,
  receivedValue,
  withFixedOverhead,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/**
 * Frames of exactly `size` bytes with no header: fixed-size records such as
 * sensor samples or fixed-layout structs.
 *
 * @param size The frame size in bytes; also the `maxFrameLength`.
 * @returns The framing, named like `fixed16`.
 * @throws {RangeError} `size` is not a positive integer (a `TypeError` if no
 * number at all).
 *
 * @example Splitting a stream into 4-byte records
 * ```ts
 * import { fixedSize } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = fixedSize(4).decoder();
 * decoder.push(new Uint8Array([1, 2, 3, 4, 5, 6]));
 * assert.deepEqual(decoder.next(), new Uint8Array([1, 2, 3, 4]));
 * assert.equal(decoder.next(), undefined);
 * decoder.push(new Uint8Array([7, 8]));
 * assert.deepEqual(decoder.next(), new Uint8Array([5, 6, 7, 8]));
 * ```
 */
export function fixedSize(size: number): Framing {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw numberError(
      size,
      `Cannot create framing as size must be a positive integer: received ${receivedValue(size)}`,
    );
  }

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    if (payload.length !== size) {
      throw new RangeError(
        `Cannot encode frame as its length must be ${size}: received ${payload.length}`,
      );
    }
    return size;
  }

  return ownFraming(withFixedOverhead({
    name: `fixed${size}`,
    maxFrameLength: size,
    encodedLength: check,
    encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
      check(payload);
      checkRoom(target, offset, size);
      copyBytes(payload, 0, target, offset);
      return size;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      check(payload);
      return new Uint8Array(payload); // a copy (a Buffer's slice() is a view)
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      check(payload);
      return [payload];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(new FixedParser(size), options);
    },
  }, 0));
}

class FixedParser implements HeaderParser {
  readonly maxHeaderLength = 0;
  readonly fixedHeaderLength = 0;
  readonly trailerLength = 0;
  readonly prefix = 0;
  readonly plainKind = PLAIN_FIXED;
  length: number;
  readonly limit: number;

  constructor(size: number) {
    this.length = this.limit = size;
  }

  parse(): number {
    return 0;
  }

  checkTrailer(): void {}
}
