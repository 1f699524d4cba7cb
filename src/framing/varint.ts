// Copyright 2026 the framewire authors. MIT license.

import { FrameTooLargeError, MalformedHeaderError } from "../errors.ts";
import { HeaderDecoder, type HeaderParser } from "./_header_decoder.ts";
import {
  checkEncodeLength,
  checkOptions,
  checkPayload,
  checkRoom,
  copyBytes,
  DEFAULT_MAX_LENGTH_PREFIXED,
  maxFrameLengthOption,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode varint}. */
export interface VarintOptions {
  /**
   * The largest payload in bytes, checked on decode as soon as the varint is
   * complete and on encode. Pass `Infinity` for no limit (lengths are still
   * capped at 2^53-1).
   *
   * @default {4194304} (4 MiB)
   */
  maxFrameLength?: number | undefined;
}

// A canonical varint of a length up to 2^53-1 has at most 8 bytes.
const MAX_VARINT_BYTES = 8;

/**
 * Frames each payload with an unsigned LEB128 varint length: protobuf's
 * `writeDelimitedTo`, libp2p's and it-length-prefixed's framing.
 *
 * Only canonical varints are accepted: a non-minimal encoding (a final
 * `0x00` byte) or one longer than a 2^53-1 length needs is rejected with
 * {@linkcode MalformedHeaderError} as soon as its bytes are seen.
 *
 * @param options The limit.
 * @returns The framing, named `varint`.
 * @throws {RangeError} `maxFrameLength` is not a positive integer or
 * `Infinity` (a `TypeError` if no number at all).
 * @throws {TypeError} `options` is not an object.
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
 */
export function varint(options: VarintOptions = {}): Framing {
  checkOptions(options, "create framing");
  const maxFrameLength = maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_LENGTH_PREFIXED);

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    checkEncodeLength(payload.length, maxFrameLength);
    return varintLength(payload.length) + payload.length;
  }

  return {
    name: "varint",
    maxFrameLength,
    encodedLength: check,
    encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
      const total = check(payload);
      checkRoom(target, offset, total);
      const at = writeVarint(payload.length, target, offset);
      copyBytes(payload, 0, target, at);
      return total;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const out = new Uint8Array(check(payload));
      out.set(payload, writeVarint(payload.length, out, 0));
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      check(payload);
      const head = new Uint8Array(varintLength(payload.length));
      writeVarint(payload.length, head, 0);
      return [head, payload];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new HeaderDecoder(
        new VarintParser(Math.min(maxFrameLength, Number.MAX_SAFE_INTEGER)),
        options,
      );
    },
  };
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
  readonly maxHeaderLength = MAX_VARINT_BYTES;
  readonly fixedHeaderLength = undefined;
  readonly trailerLength = 0;
  readonly prefix = 0;
  length = 0;
  #limit: number;

  /** The maxFrameLength in force. */
  get limit(): number {
    return this.#limit;
  }

  constructor(limit: number) {
    this.#limit = limit;
  }

  parse(buf: Uint8Array, pos: number, end: number): number {
    const first = buf[pos]!;
    if (first < 0x80) {
      // One-byte varint: the common case for small frames.
      if (first > this.#limit) this.#tooLarge(first, buf, pos, 1);
      this.length = first;
      return 1;
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
            buf.subarray(pos, pos + i + 1),
          );
        }
        if (value > Number.MAX_SAFE_INTEGER) {
          throw new MalformedHeaderError(
            "varint length exceeds 2^53-1",
            buf.subarray(pos, pos + i + 1),
          );
        }
        if (value > this.#limit) this.#tooLarge(value, buf, pos, i + 1);
        this.length = value;
        return i + 1;
      }
      scale *= 128;
    }
    throw new MalformedHeaderError(
      `varint longer than ${MAX_VARINT_BYTES} bytes (no length up to 2^53-1 needs more)`,
      buf.subarray(pos, pos + MAX_VARINT_BYTES),
    );
  }

  #tooLarge(value: number, buf: Uint8Array, pos: number, n: number): never {
    throw new FrameTooLargeError(value, this.#limit, {
      header: buf.subarray(pos, pos + Math.max(n, 4)),
    });
  }

  checkTrailer(): void {}
}
