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
  ownFraming,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode netstring}. */
export interface NetstringOptions {
  /**
   * The largest payload in bytes. The decoder rejects a digit run as soon as
   * it is longer than this limit needs, before parsing the rest. Pass
   * `Infinity` for no limit.
   *
   * @default {4194304} (4 MiB)
   */
  maxFrameLength?: number | undefined;
}

const COLON = 0x3a;
const COMMA = 0x2c;

/** The options netstring() takes. */
const OPTION_NAMES = ["maxFrameLength"] as const;

/**
 * Frames each payload as a netstring (D. J. Bernstein): `5:hello,`.
 *
 * The decoder rejects leading zeros (`05:`), empty or non-digit lengths and
 * a missing `,` with {@linkcode MalformedHeaderError}, and a digit run longer
 * than `maxFrameLength` needs with {@linkcode FrameTooLargeError}, each as
 * soon as the offending byte arrives.
 *
 * @param options The limit.
 * @returns The framing, named `netstring`.
 * @throws {RangeError} `maxFrameLength` is not a positive integer or
 * `Infinity` (a `TypeError` if no number at all).
 * @throws {TypeError} `options` is not an object, or names an option this
 * framing does not take (an inherited key too).
 *
 * @example Encoding and decoding
 * ```ts
 * import { netstring } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const framing = netstring();
 * const wire = framing.encode(new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(wire), "5:hello,");
 * const decoder = framing.decoder();
 * decoder.push(new TextEncoder().encode("0:,3:abc,"));
 * assert.equal(decoder.next()?.length, 0);
 * assert.equal(new TextDecoder().decode(decoder.next()), "abc");
 * ```
 */
export function netstring(options: NetstringOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "netstring", OPTION_NAMES);
  const maxFrameLength = maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_LENGTH_PREFIXED);
  const limit = Math.min(maxFrameLength, Number.MAX_SAFE_INTEGER);

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    checkEncodeLength(payload.length, maxFrameLength);
    return decimalDigits(payload.length) + payload.length + 2;
  }

  function writeHeader(length: number, target: Uint8Array, at: number): number {
    const digits = String(length);
    for (let i = 0; i < digits.length; i++) target[at + i] = digits.charCodeAt(i);
    target[at + digits.length] = COLON;
    return at + digits.length + 1;
  }

  return ownFraming({
    name: "netstring",
    maxFrameLength,
    encodedLength: check,
    encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
      const total = check(payload);
      checkRoom(target, offset, total);
      const at = writeHeader(payload.length, target, offset);
      copyBytes(payload, 0, target, at);
      target[at + payload.length] = COMMA;
      return total;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const out = new Uint8Array(check(payload));
      const at = writeHeader(payload.length, out, 0);
      out.set(payload, at);
      out[at + payload.length] = COMMA;
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      check(payload);
      const head = new Uint8Array(decimalDigits(payload.length) + 1);
      writeHeader(payload.length, head, 0);
      return [head, payload, new Uint8Array([COMMA])];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(new NetstringParser(limit), options);
    },
  });
}

class NetstringParser implements HeaderParser {
  readonly maxHeaderLength: number;
  readonly fixedHeaderLength = undefined;
  readonly trailerLength = 1;
  readonly prefix = 0;
  length = 0;
  #limit: number;

  /** The maxFrameLength in force. */
  get limit(): number {
    return this.#limit;
  }
  #maxDigits: number;

  constructor(limit: number) {
    this.#limit = limit;
    this.#maxDigits = decimalDigits(limit);
    this.maxHeaderLength = this.#maxDigits + 1;
  }

  parse(buf: Uint8Array, pos: number, end: number): number {
    let value = 0;
    const stop = Math.min(end, pos + this.maxHeaderLength);
    for (let i = pos; i < stop; i++) {
      const byte = buf[i]!;
      if (byte === COLON) {
        if (i === pos) {
          throw new MalformedHeaderError(
            "netstring has no length digits",
            buf.subarray(pos, i + 1),
          );
        }
        this.length = value;
        return i + 1 - pos;
      }
      if (byte < 0x30 || byte > 0x39) {
        throw new MalformedHeaderError(
          `netstring length has byte 0x${byte.toString(16).padStart(2, "0")}`,
          buf.subarray(pos, i + 1), // up to it: the same for any chunking
          { header: buf.subarray(pos, stop) }, // all that arrived: the likely cause (HTTP)
        );
      }
      if (i === pos + 1 && buf[pos] === 0x30) {
        throw new MalformedHeaderError(
          "netstring length has a leading zero",
          buf.subarray(pos, i + 1),
        );
      }
      value = value * 10 + (byte - 0x30);
      if (value > this.#limit) {
        // Refused as soon as the digits say so, whether more follow or not (that depends on
        // the chunking): "at least".
        throw new FrameTooLargeError(value, this.#limit, {
          header: buf.subarray(pos, i + 1),
          atLeast: true,
        });
      }
    }
    // More bytes needed: maxHeaderLength bytes always end in ':' or exceed the limit (above).
    return -1;
  }

  checkTrailer(buf: Uint8Array, pos: number): void {
    if (buf[pos] !== COMMA) {
      throw new MalformedHeaderError("netstring does not end with ','", buf.subarray(pos, pos + 1));
    }
  }
}
