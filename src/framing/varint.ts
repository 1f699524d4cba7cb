// Copyright 2026 the framewire authors. MIT license.

import { FrameTooLargeError, MalformedHeaderError } from "../errors.ts";
import { HeaderDecoder, type HeaderParser, PLAIN_VARINT } from "./_header_decoder.ts";
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
  offsetOption,
  ownFraming,
  plural,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode varint}. */
export interface VarintOptions {
  /**
   * Bytes of the frame that travel before the varint (MQTT's fixed-header
   * byte, the packet type and flags). They are part of the frame, as with
   * `lengthPrefixed()`'s `offset`: `encode` takes them as the first
   * `offset` bytes of its argument and `decoder()` returns them as the first
   * `offset` bytes of each frame, with the varint removed in between. At
   * most 65535.
   *
   * @default {0}
   */
  offset?: number | undefined;
  /**
   * The largest payload in bytes (not counting `offset` bytes), checked on decode as soon as the varint is
   * complete and on encode. Pass `Infinity` for no limit (lengths are still
   * capped at 2^53-1).
   *
   * @default {4194304} (4 MiB)
   */
  maxFrameLength?: number | undefined;
}

// A canonical varint of a length up to 2^53-1 has at most 8 bytes.
const MAX_VARINT_BYTES = 8;

/** The options varint() takes. */
const OPTION_NAMES = ["offset", "maxFrameLength"] as const;

/**
 * Frames each payload with an unsigned LEB128 varint length: protobuf's
 * `writeDelimitedTo`, libp2p's and it-length-prefixed's framing.
 *
 * Only canonical varints are accepted: a non-minimal encoding (a final
 * `0x00` byte) or one longer than a 2^53-1 length needs is rejected with
 * {@linkcode MalformedHeaderError} as soon as its bytes are seen.
 *
 * @param options The limit, and `offset`.
 * @returns The framing, named `varint`.
 * @throws {RangeError} `maxFrameLength` is not a positive integer or
 * `Infinity`, or `offset` not an integer from 0 to 65535 (a `TypeError` if
 * no number at all).
 * @throws {TypeError} `options` is not an object, or names an option this
 * framing does not take (an inherited key too).
 *
 * @example Protobuf-style delimiting
 * ```ts
 * import { varint } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const wire = varint().encode(new Uint8Array(300));
 * assert.deepEqual(wire.subarray(0, 2), new Uint8Array([0xac, 0x02]));
 * assert.equal(wire.length, 302);
 * ```
 *
 * @example MQTT packets: a type-and-flags byte, then the remaining length
 * ```ts
 * import { varint } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const mqtt = varint({ offset: 1 });
 * const decoder = mqtt.decoder();
 * decoder.push(new Uint8Array([0xc0, 0x00, 0x20, 0x02, 0x00, 0x00])); // PINGREQ, CONNACK
 * assert.deepEqual(decoder.next(), new Uint8Array([0xc0]));
 * assert.deepEqual(decoder.next(), new Uint8Array([0x20, 0x00, 0x00]));
 * assert.deepEqual(mqtt.encode(new Uint8Array([0xd0])), new Uint8Array([0xd0, 0x00])); // PINGRESP
 * ```
 */
export function varint(options: VarintOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "varint", OPTION_NAMES);
  const offset = offsetOption(options.offset);
  const maxFrameLength = maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_LENGTH_PREFIXED);

  /** Checks `payload`; returns the bytes after its offset bytes. */
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
    checkEncodeLength(length, maxFrameLength);
    return length;
  }

  /** Writes the offset bytes and the varint of `length`; returns where the rest goes. */
  function writeHeader(
    payload: Uint8Array,
    length: number,
    target: Uint8Array,
    at: number,
  ): number {
    for (let i = 0; i < offset; i++) target[at + i] = payload[i]!;
    return writeVarint(length, target, at + offset);
  }

  return ownFraming({
    name: "varint",
    maxFrameLength,
    encodedLength(payload: Uint8Array): number {
      return payload.length + varintLength(check(payload));
    },
    encodeInto(payload: Uint8Array, target: Uint8Array, at: number): number {
      const length = check(payload);
      const total = payload.length + varintLength(length);
      checkRoom(target, at, total);
      copyBytes(payload, offset, target, writeHeader(payload, length, target, at));
      return total;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const length = check(payload);
      const out = new Uint8Array(payload.length + varintLength(length));
      const at = writeHeader(payload, length, out, 0);
      out.set(offset === 0 ? payload : bytesFrom(payload, offset), at);
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      const length = check(payload);
      const head = new Uint8Array(offset + varintLength(length));
      writeHeader(payload, length, head, 0);
      return [head, offset === 0 ? payload : bytesFrom(payload, offset)];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(
        new VarintParser(Math.min(maxFrameLength, Number.MAX_SAFE_INTEGER), offset),
        options,
      );
    },
  });
}

function varintLength(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

function writeVarint(n: number, target: Uint8Array, at: number): number {
  while (n >= 128) {
    target[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  target[at++] = n;
  return at;
}

class VarintParser implements HeaderParser {
  readonly maxHeaderLength: number;
  readonly fixedHeaderLength = undefined;
  readonly trailerLength = 0;
  readonly prefix: number;
  readonly plainKind: number | undefined;
  length = 0;
  #limit: number;

  /** The maxFrameLength in force. */
  get limit(): number {
    return this.#limit;
  }

  constructor(limit: number, offset: number) {
    this.#limit = limit;
    this.prefix = offset;
    this.plainKind = offset === 0 ? PLAIN_VARINT : undefined;
    this.maxHeaderLength = offset + MAX_VARINT_BYTES;
  }

  parse(buf: Uint8Array, start: number, end: number): number {
    const offset = this.prefix;
    const pos = start + offset;
    if (pos >= end) return -1;
    const first = buf[pos]!;
    if (first < 0x80) {
      // One-byte varint: the common case for small frames.
      if (first > this.#limit) this.#tooLarge(first, buf, start, offset + 1);
      this.length = first;
      return offset + 1;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos + i >= end) return -1;
      const byte = buf[pos + i]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0) {
          throw new MalformedHeaderError(
            "non-minimal varint (ends in a 0x00 byte)",
            buf.subarray(start, pos + i + 1),
          );
        }
        if (value > Number.MAX_SAFE_INTEGER) {
          throw new MalformedHeaderError(
            "varint length exceeds 2^53-1",
            buf.subarray(start, pos + i + 1),
          );
        }
        if (value > this.#limit) this.#tooLarge(value, buf, start, offset + i + 1);
        this.length = value;
        return offset + i + 1;
      }
      scale *= 128;
    }
    throw new MalformedHeaderError(
      `varint longer than ${MAX_VARINT_BYTES} bytes (no length up to 2^53-1 needs more)`,
      buf.subarray(start, pos + MAX_VARINT_BYTES),
    );
  }

  #tooLarge(value: number, buf: Uint8Array, pos: number, n: number): never {
    throw new FrameTooLargeError(value, this.#limit, {
      header: buf.subarray(pos, pos + Math.max(n, 4)),
    });
  }

  checkTrailer(): void {}
}
