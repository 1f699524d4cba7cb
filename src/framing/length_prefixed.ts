// Copyright 2026 the framewire authors. MIT license.

import { FrameTooLargeError, MalformedHeaderError } from "../errors.ts";
import { FIELD_START, type FieldStartOptions } from "../_field_start.ts";
import {
  HeaderDecoder,
  type HeaderParser,
  PLAIN_U16BE,
  PLAIN_U16LE,
  PLAIN_U32LE,
  PLAIN_U8,
} from "./_header_decoder.ts";
import {
  bytesFrom,
  checkEncodeLength,
  checkFramingOptions,
  checkOptions,
  checkPayload,
  checkRoom,
  copyBytes,
  DEFAULT_MAX_LENGTH_PREFIXED,
  maxFrameLengthOption,
  numberError,
  offsetOption,
  ownFraming,
  plural,
  receivedValue,
  withFixedOverhead,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode lengthPrefixed}. */
export interface LengthPrefixedOptions {
  /**
   * Size of the unsigned length field in bytes, 1 to 8.
   *
   * @default {4}
   */
  width?: number | undefined;
  /**
   * Byte order of the length field: `"big"` (network order) or `"little"`.
   *
   * @default {"big"}
   */
  endian?: "big" | "little" | undefined;
  /**
   * What the length counts: `"payload"` (the bytes after the length field) or
   * `"frame"` (the whole frame, `offset` and length field included).
   *
   * @default {"payload"}
   */
  counts?: "payload" | "frame" | undefined;
  /**
   * Added to the length field's value to get the number of bytes after the
   * field, as Netty's `lengthAdjustment` is: for protocols whose length
   * counts something else. `-4` for a 4-byte length that counts itself too
   * (PostgreSQL, after a one-byte type as `offset`); `6` where header bytes
   * after the field are not counted (HTTP/2's type, flags and stream id
   * after its 3-byte length: they come first in each frame, and `encode`
   * takes them as the first 6 bytes after the `offset` bytes); `1` for
   * MySQL's sequence byte. With `counts: "frame"` it adds to that. A length
   * that leaves fewer than 0 bytes is a `MalformedHeaderError`; `encode`
   * refuses a payload whose length the field cannot then hold.
   * `maxFrameLength` counts every byte after the field, those the length
   * does not count too: for HTTP/2, the peer's `SETTINGS_MAX_FRAME_SIZE`
   * plus 6 (a limit below those bytes, which every frame has, is refused).
   *
   * @default {0}
   */
  lengthAdjustment?: number | undefined;
  /**
   * Bytes of the frame that travel before the length field (e.g. gRPC's
   * one-byte compressed flag). They are part of the frame: `encode` takes
   * them as the first `offset` bytes of its argument and `decoder()` returns
   * them as the first `offset` bytes of each frame, with the length field
   * removed in between (a frame inside one pushed chunk stays a view: the
   * offset bytes are moved up to the payload in that chunk). At most 65535.
   *
   * @default {0}
   */
  offset?: number | undefined;
  /**
   * The largest payload in bytes (the bytes after the length field, not
   * counting `offset` bytes), checked on
   * decode as soon as the length field is complete and on encode. Pass
   * `Infinity` for no limit.
   *
   * A limit above what the field can hold is lowered to that (`maxFrameLength`
   * reports the limit in force).
   *
   * @default {4194304} (4 MiB, or the largest length the field can hold if smaller)
   */
  maxFrameLength?: number | undefined;
}

/** The options lengthPrefixed() takes. */
const OPTION_NAMES = [
  "width",
  "endian",
  "counts",
  "lengthAdjustment",
  "offset",
  "maxFrameLength",
] as const;

/**
 * Frames each payload with an unsigned binary length field: `u32be` by
 * default, the framing of Python's `struct.pack(">I", len(msg)) + msg`,
 * Netty's `LengthFieldBasedFrameDecoder` and most binary protocols.
 *
 * Decoded frames that lie inside one pushed chunk are views into it (on Bun,
 * those under 33 bytes copies: cheaper there); when `offset` is not 0 the
 * decoder moves the `offset` bytes next to the payload inside the chunk it
 * owns, so that frames stay zero-copy.
 *
 * @param options Field size, byte order, what the length counts, `offset`, limit.
 * @returns The framing, named like `u32be`, `u16le`, `u8`.
 * @throws {RangeError} A number is out of range (one that is no number at
 * all is a `TypeError`).
 * @throws {TypeError} `options` is not an object or names an option this
 * framing does not take (an inherited key too), or `endian` or `counts` is
 * not one of its values.
 *
 * @example Round trip
 * ```ts
 * import { lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const framing = lengthPrefixed(); // 4-byte big-endian length
 * const wire = framing.encode(new TextEncoder().encode("hi"));
 * assert.deepEqual(wire, new Uint8Array([0, 0, 0, 2, 104, 105]));
 *
 * const decoder = framing.decoder();
 * decoder.push(wire.subarray(0, 3));
 * assert.equal(decoder.next(), undefined);
 * decoder.push(wire.subarray(3));
 * assert.equal(new TextDecoder().decode(decoder.next()), "hi");
 * ```
 *
 * @example A gRPC-style flag byte before a 4-byte length
 * ```ts
 * import { lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const grpc = lengthPrefixed({ offset: 1 });
 * const wire = grpc.encode(new Uint8Array([0, 7, 8])); // flag 0, message 07 08
 * assert.deepEqual(wire, new Uint8Array([0, 0, 0, 0, 2, 7, 8]));
 * const decoder = grpc.decoder();
 * decoder.push(wire);
 * assert.deepEqual(decoder.next(), new Uint8Array([0, 7, 8]));
 * ```
 *
 * @example PostgreSQL messages: a type byte, then a length that counts itself
 * ```ts
 * import { lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const postgres = lengthPrefixed({ offset: 1, lengthAdjustment: -4 });
 * const decoder = postgres.decoder();
 * decoder.push(new Uint8Array([0x5a, 0, 0, 0, 5, 0x49])); // ReadyForQuery, idle
 * assert.deepEqual(decoder.next(), new Uint8Array([0x5a, 0x49])); // type, then the body
 * assert.deepEqual(postgres.encode(new Uint8Array([0x5a, 0x49])), new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]));
 * ```
 */
export function lengthPrefixed(options: LengthPrefixedOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "lengthPrefixed", OPTION_NAMES);
  const width = options.width ?? 4;
  if (!Number.isInteger(width) || width < 1 || width > 8) {
    throw numberError(
      width,
      `Cannot create framing as width must be an integer from 1 to 8: received ${
        receivedValue(width)
      }`,
    );
  }
  const endian = options.endian ?? "big";
  if (endian !== "big" && endian !== "little") {
    throw new TypeError(
      `Cannot create framing as endian must be "big" or "little": received ${
        receivedValue(endian)
      }`,
    );
  }
  const counts = options.counts ?? "payload";
  if (counts !== "payload" && counts !== "frame") {
    throw new TypeError(
      `Cannot create framing as counts must be "payload" or "frame": received ${
        receivedValue(counts)
      }`,
    );
  }
  const offset = offsetOption(options.offset);
  const lengthAdjustment = options.lengthAdjustment ?? 0;
  if (!Number.isSafeInteger(lengthAdjustment)) {
    throw numberError(
      lengthAdjustment,
      `Cannot create framing as lengthAdjustment must be an integer: received ${
        receivedValue(lengthAdjustment)
      }`,
    );
  }
  const header = offset + width;
  const fieldMax = width >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * width) - 1;
  // What the field's value counts besides the bytes after it (negative: bytes after it that it
  // does not count, the least a payload can have).
  const adjust = (counts === "frame" ? header : 0) - lengthAdjustment;
  const payloadMax = Math.min(fieldMax - adjust, Number.MAX_SAFE_INTEGER);
  if (payloadMax < 0) {
    throw new RangeError(
      lengthAdjustment === 0
        ? `Cannot create framing as a ${width}-byte field counting the frame cannot hold its ${header}-byte header: received offset ${offset}`
        : `Cannot create framing as a ${width}-byte field cannot hold the ${adjust} bytes it counts besides the payload: received lengthAdjustment ${lengthAdjustment}`,
    );
  }
  const payloadMin = Math.max(0, -adjust);
  // The field bounds the length too: report the limit actually in force.
  const maxFrameLength = Math.min(
    maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_LENGTH_PREFIXED),
    payloadMax,
  );
  // Every frame has the bytes the length does not count: a smaller limit refuses them all.
  if (maxFrameLength < payloadMin) {
    throw new RangeError(
      `Cannot create framing as maxFrameLength must be at least the ${payloadMin} bytes after the length field that it does not count (lengthAdjustment ${lengthAdjustment}): received ${maxFrameLength}`,
    );
  }
  const little = endian === "little";
  const plainU32 = width === 4 && !little && offset === 0 && adjust === 0;
  // Other fields of 1, 2 or 4 bytes with nothing before them and no adjustment: written inline.
  const plain = offset === 0 && adjust === 0 && width !== 3 && width <= 4;
  const name = width === 1 ? "u8" : `u${width * 8}${little ? "le" : "be"}`;

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    if (payload.length < offset) {
      throw new RangeError(
        `Cannot encode frame as it must start with the ${plural(offset, "offset byte")}: received ${
          plural(payload.length, "byte")
        }`,
      );
    }
    const length = payload.length - offset;
    // Before the limit (which is at most what fits): the more telling message.
    if (length > payloadMax) {
      throw new RangeError(
        `Cannot encode frame as length ${length} does not fit a ${width}-byte length field`,
      );
    }
    checkEncodeLength(length, maxFrameLength);
    if (length < payloadMin) {
      const after = offset > 0 ? ` after its ${plural(offset, "offset byte")}` : "";
      throw new RangeError(
        `Cannot encode frame as it must have at least ${
          plural(payloadMin, "byte")
        }${after}, which the length field does not count (lengthAdjustment ${lengthAdjustment}): received ${
          plural(length, "byte")
        }${offset === 0 ? "" : offset === 1 ? " after it" : " after them"}`,
      );
    }
    return length;
  }

  function writeHeader(payload: Uint8Array, length: number, target: Uint8Array, at: number): void {
    for (let i = 0; i < offset; i++) target[at + i] = payload[i]!;
    let value = length + adjust;
    const field = at + offset;
    if (value <= 0xffffffff && width <= 4) {
      // Shifts instead of division for every length a 1-4 byte field holds.
      for (let i = 0; i < width; i++) {
        target[little ? field + i : field + width - 1 - i] = value & 0xff;
        value >>>= 8;
      }
      return;
    }
    if (little) {
      for (let i = 0; i < width; i++) {
        target[at + offset + i] = value % 256;
        value = Math.floor(value / 256);
      }
    } else {
      for (let i = width - 1; i >= 0; i--) {
        target[at + offset + i] = value % 256;
        value = Math.floor(value / 256);
      }
    }
  }

  // One encodeInto per kind of field: one with every branch is too large for JavaScriptCore
  // to inline in a sender's loop (u32be at 16 B: 90 M/s alone, 55 M/s with the others).
  const encodeInto = plainU32
    ? (payload: Uint8Array, target: Uint8Array, at: number): number => {
      const length = check(payload);
      checkRoom(target, at, length + 4);
      // The common u32be header, written inline (the general loop costs more per small frame).
      target[at] = length >>> 24;
      target[at + 1] = (length >>> 16) & 0xff;
      target[at + 2] = (length >>> 8) & 0xff;
      target[at + 3] = length & 0xff;
      copyBytes(payload, 0, target, at + 4);
      return length + 4;
    }
    : plain
    ? (payload: Uint8Array, target: Uint8Array, at: number): number => {
      const length = check(payload);
      checkRoom(target, at, length + width);
      if (width === 1) target[at] = length;
      else if (width === 2) {
        target[at + (little ? 1 : 0)] = length >>> 8;
        target[at + (little ? 0 : 1)] = length & 0xff;
      } else {
        target[at] = length & 0xff;
        target[at + 1] = (length >>> 8) & 0xff;
        target[at + 2] = (length >>> 16) & 0xff;
        target[at + 3] = length >>> 24;
      }
      copyBytes(payload, 0, target, at + width);
      return length + width;
    }
    : (payload: Uint8Array, target: Uint8Array, at: number): number => {
      const length = check(payload);
      checkRoom(target, at, length + header);
      writeHeader(payload, length, target, at);
      copyBytes(payload, offset, target, at + header);
      return length + header;
    };

  return ownFraming(withFixedOverhead({
    name,
    maxFrameLength,
    encodedLength(payload: Uint8Array): number {
      return check(payload) + header;
    },
    encodeInto,
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const length = check(payload);
      const out = new Uint8Array(length + header);
      writeHeader(payload, length, out, 0);
      out.set(offset === 0 ? payload : bytesFrom(payload, offset), header);
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      const length = check(payload);
      const head = new Uint8Array(header);
      writeHeader(payload, length, head, 0);
      return [head, offset === 0 ? payload : bytesFrom(payload, offset)];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(
        new LengthFieldParser(
          width,
          little,
          offset,
          adjust,
          maxFrameLength,
          counts === "frame" && lengthAdjustment === 0
            ? `counts the whole frame but is smaller than the ${adjust}-byte header`
            : `is smaller than the ${
              plural(adjust, "byte")
            } it counts besides the payload (lengthAdjustment ${lengthAdjustment})`,
        ),
        options,
      );
    },
  }, width));
}

class LengthFieldParser implements HeaderParser {
  readonly maxHeaderLength: number;
  readonly fixedHeaderLength: number;
  readonly trailerLength = 0;
  readonly prefix: number;
  length = 0;
  #width: number;
  #little: boolean;
  #adjust: number;
  #limit: number;
  /** What a length smaller than #adjust is, after "length N ". */
  #tooSmall: string;

  /** The maxFrameLength in force. */
  get limit(): number {
    return this.#limit;
  }
  #u32be: boolean;
  u32Limit: number | undefined;
  readonly plainKind: number | undefined;

  constructor(
    width: number,
    little: boolean,
    offset: number,
    adjust: number,
    limit: number,
    tooSmall: string,
  ) {
    this.#tooSmall = tooSmall;
    this.#width = width;
    this.#little = little;
    this.prefix = offset;
    this.#adjust = adjust;
    this.#limit = limit;
    this.maxHeaderLength = this.fixedHeaderLength = offset + width;
    this.#u32be = width === 4 && !little;
    if (offset === 0 && adjust === 0) {
      if (this.#u32be) this.u32Limit = limit;
      else if (width === 1) this.plainKind = PLAIN_U8;
      else if (width === 2) this.plainKind = little ? PLAIN_U16LE : PLAIN_U16BE;
      else if (width === 4) this.plainKind = PLAIN_U32LE;
    }
  }

  setLimit(limit: number): void {
    this.#limit = limit;
    if (this.u32Limit !== undefined) this.u32Limit = limit;
  }

  parse(buf: Uint8Array, pos: number, end: number): number {
    const header = this.maxHeaderLength;
    if (end - pos < header) return -1;
    const at = pos + this.prefix;
    let value: number;
    if (this.#u32be) {
      value = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
    } else {
      value = readUint(buf, at, this.#width, this.#little);
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new MalformedHeaderError("length exceeds 2^53-1", buf.subarray(pos, pos + header));
      }
    }
    let length = value;
    if (this.#adjust !== 0) {
      if (value < this.#adjust) {
        throw new MalformedHeaderError(
          `length ${value} ${this.#tooSmall}`,
          buf.subarray(pos, pos + header),
        );
      }
      length -= this.#adjust;
    }
    if (length > this.#limit) {
      const swapped = readUint(buf, at, this.#width, !this.#little) - this.#adjust;
      const options: FieldStartOptions = {
        header: buf.subarray(pos, pos + header),
        following: buf.subarray(pos + header, Math.min(end, pos + header + 4)),
        swappedLength: this.#width > 1 ? swapped : undefined,
        [FIELD_START]: this.prefix,
      };
      throw new FrameTooLargeError(length, this.#limit, options);
    }
    this.length = length;
    return header;
  }

  checkTrailer(): void {}
}

function readUint(buf: Uint8Array, at: number, width: number, little: boolean): number {
  let value = 0;
  if (little) {
    for (let i = width - 1; i >= 0; i--) value = value * 256 + buf[at + i]!;
  } else {
    for (let i = 0; i < width; i++) value = value * 256 + buf[at + i]!;
  }
  return value;
}
