// Copyright 2026 the framewire authors. MIT license.

import { FrameTooLargeError, MalformedHeaderError } from "../errors.ts";
import { HeaderDecoder, type HeaderParser } from "./_header_decoder.ts";
import {
  checkEncodeLength,
  checkFramingOptions,
  checkOptions,
  checkPayload,
  checkRoom,
  copyBytes,
  decimalDigits,
  DEFAULT_MAX_LENGTH_PREFIXED,
  maxFrameLengthOption,
  numberError,
  ownFraming,
  receivedValue,
  withFixedOverhead,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode decimalHeader}. */
export interface DecimalHeaderOptions {
  /**
   * Width of the header in bytes: the ASCII decimal length, left-aligned and
   * padded with spaces.
   *
   * @default {10}
   */
  width?: number | undefined;
  /**
   * The largest payload in bytes, checked on decode as soon as the header is
   * complete and on encode. Pass `Infinity` for no limit. A limit above what
   * `width` digits can hold is lowered to that (`maxFrameLength` reports it).
   *
   * @default {4194304} (4 MiB)
   */
  maxFrameLength?: number | undefined;
}

const SPACE = 0x20;

/** The options decimalHeader() takes. */
const OPTION_NAMES = ["width", "maxFrameLength"] as const;

/**
 * Frames each payload with a fixed-width ASCII decimal length, left-aligned
 * and padded with spaces: the header of Python's `f"{len(msg):<10}"` socket
 * tutorials.
 *
 * The decoder accepts space padding on either side of the digits, and
 * leading zeros (`f"{n:010}"`, C's `%010d`: zeros are digits), and rejects
 * every other byte (including a space between digits) with
 * {@linkcode MalformedHeaderError} as soon as it arrives. The encoder pads
 * with spaces.
 *
 * @param options The header width and the limit.
 * @returns The framing, named like `decimal10`.
 * @throws {RangeError} A numeric option is out of range (one that is no
 * number at all is a `TypeError`).
 * @throws {TypeError} `options` is not an object, or names an option this
 * framing does not take (an inherited key too).
 *
 * @example Python's `f"{len(msg):<10}" + msg`
 * ```ts
 * import { decimalHeader } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const wire = decimalHeader().encode(new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(wire), "5         hello");
 * ```
 */
export function decimalHeader(options: DecimalHeaderOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "decimalHeader", OPTION_NAMES);
  const width = options.width ?? 10;
  if (!Number.isInteger(width) || width < 1 || width > 16) {
    throw numberError(
      width,
      `Cannot create framing as width must be an integer from 1 to 16: received ${
        receivedValue(width)
      }`,
    );
  }
  const fieldMax = width >= 16 ? Number.MAX_SAFE_INTEGER : 10 ** width - 1;
  // A limit above what the header can hold is lowered to that, as lengthPrefixed() does.
  const maxFrameLength = Math.min(
    maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_LENGTH_PREFIXED),
    fieldMax,
  );

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    // Before the limit (which is at most what fits): the more telling message.
    if (decimalDigits(payload.length) > width) {
      throw new RangeError(
        `Cannot encode frame as length ${payload.length} does not fit a ${width}-digit header`,
      );
    }
    checkEncodeLength(payload.length, maxFrameLength);
    return width + payload.length;
  }

  function writeHeader(length: number, target: Uint8Array, at: number): void {
    const digits = String(length);
    for (let i = 0; i < width; i++) {
      target[at + i] = i < digits.length ? digits.charCodeAt(i) : SPACE;
    }
  }

  return ownFraming(withFixedOverhead({
    name: `decimal${width}`,
    maxFrameLength,
    encodedLength: check,
    encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
      const total = check(payload);
      checkRoom(target, offset, total);
      writeHeader(payload.length, target, offset);
      copyBytes(payload, 0, target, offset + width);
      return total;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const out = new Uint8Array(check(payload));
      writeHeader(payload.length, out, 0);
      out.set(payload, width);
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      check(payload);
      const head = new Uint8Array(width);
      writeHeader(payload.length, head, 0);
      return [head, payload];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(new DecimalParser(width, maxFrameLength), options);
    },
  }, width));
}

class DecimalParser implements HeaderParser {
  readonly maxHeaderLength: number;
  readonly fixedHeaderLength: number;
  readonly trailerLength = 0;
  readonly prefix = 0;
  length = 0;
  #limit: number;

  /** The maxFrameLength in force. */
  get limit(): number {
    return this.#limit;
  }

  constructor(width: number, limit: number) {
    this.maxHeaderLength = this.fixedHeaderLength = width;
    this.#limit = limit;
  }

  parse(buf: Uint8Array, pos: number, end: number): number {
    const width = this.maxHeaderLength;
    const stop = Math.min(end, pos + width);
    // States: 0 leading spaces, 1 digits, 2 trailing spaces.
    let state = 0;
    let value = 0;
    for (let i = pos; i < stop; i++) {
      const byte = buf[i]!;
      if (byte >= 0x30 && byte <= 0x39) {
        if (state === 2) this.#malformed("space between digits", buf, pos, i + 1, stop);
        state = 1;
        value = value * 10 + (byte - 0x30);
      } else if (byte === SPACE) {
        if (state === 1) state = 2;
      } else {
        this.#malformed(
          `byte 0x${byte.toString(16).padStart(2, "0")} is not a digit or a space`,
          buf,
          pos,
          i + 1,
          stop,
        );
      }
    }
    if (stop - pos < width) return -1;
    if (state === 0) this.#malformed("no digits", buf, pos, stop, stop);
    if (value > this.#limit) {
      throw new FrameTooLargeError(value, this.#limit, { header: buf.subarray(pos, stop) });
    }
    this.length = value;
    return width;
  }

  /**
   * The bytes reported end at `end`, the one that showed the header malformed (the same for any
   * chunking); those up to `stop` (all that arrived of it) show the likely cause.
   */
  #malformed(reason: string, buf: Uint8Array, pos: number, end: number, stop: number): never {
    throw new MalformedHeaderError(`${reason} in decimal header`, buf.subarray(pos, end), {
      header: buf.subarray(pos, stop),
    });
  }

  checkTrailer(): void {}
}
