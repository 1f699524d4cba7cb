// Copyright 2026 the framewire authors. MIT license.

import { CR, DelimitedDecoder } from "./_delimited_decoder.ts";
import { prefixTable, scan } from "./_search.ts";
import {
  booleanOption,
  bytesHint,
  checkEncodeLength,
  checkFramingOptions,
  checkOptions,
  checkPayload,
  checkRoom,
  copyBytes,
  DEFAULT_MAX_DELIMITED,
  isDetached,
  maxFrameLengthOption,
  ownFraming,
  withFixedOverhead,
} from "./_options.ts";
import type { DecoderOptions, FrameDecoder, Framing } from "./types.ts";

/** Options for {@linkcode delimited}. */
export interface DelimitedOptions {
  /**
   * The bytes that end each frame; a string is encoded as UTF-8.
   *
   * @default {"\n"}
   */
  delimiter?: string | Uint8Array | undefined;
  /**
   * The largest payload in bytes (without the delimiter). The decoder fails
   * with {@linkcode FrameTooLargeError} as soon as no delimiter can end the
   * frame within it (more bytes than this arrived, and the last ones cannot
   * begin a delimiter), and at the end of the input when the unterminated
   * rest is longer. Pass `Infinity` for no limit.
   *
   * @default {65536} (64 KiB)
   */
  maxFrameLength?: number | undefined;
  /**
   * Remove one `"\r"` before the delimiter from each decoded frame (for
   * `"\r\n"` line endings). The `"\r"` does not count against the limit.
   *
   * @default {false}
   */
  stripCR?: boolean | undefined;
}

/** The options delimited() takes. */
const OPTION_NAMES = ["delimiter", "maxFrameLength", "stripCR"] as const;

/**
 * Frames each payload by appending a delimiter (`"\n"` by default), like
 * Netty's `DelimiterBasedFrameDecoder` and tokio-util's `LinesCodec`.
 *
 * The decoder reads each byte once, however the input is chunked and however
 * long the delimiter, so a long frame arriving one byte at a time still
 * costs linear time. Frames
 * exclude the delimiter. A stream that ends after bytes with no delimiter
 * fails with {@linkcode TruncatedFrameError} at `end()`.
 *
 * @param options The delimiter, the limit and `stripCR`.
 * @returns The framing, named `line` for `"\n"` with `stripCR`, otherwise `delimited`.
 * @throws {TypeError} The delimiter is neither a string nor a `Uint8Array`,
 * or its buffer was detached (transferred), or `options` is not an object or names an option this framing does not take
 * (an inherited key too).
 * @throws {RangeError} An option is out of range (a `TypeError` if no
 * number at all), or `encode` is given a payload that contains the delimiter
 * (or, with `stripCR`, ends with `"\r"`).
 *
 * @example NUL-terminated messages
 * ```ts
 * import { delimited } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const framing = delimited({ delimiter: new Uint8Array([0]) });
 * const decoder = framing.decoder();
 * decoder.push(new Uint8Array([104, 105, 0, 0, 120]));
 * assert.deepEqual(decoder.next(), new Uint8Array([104, 105]));
 * assert.deepEqual(decoder.next(), new Uint8Array([]));
 * assert.equal(decoder.next(), undefined);
 * ```
 */
export function delimited(options: DelimitedOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "delimited", OPTION_NAMES);
  const raw = options.delimiter ?? "\n";
  if (typeof raw !== "string" && !(raw instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot create framing as the delimiter must be a string or a Uint8Array: received ${
        bytesHint(raw)
      }`,
    );
  }
  // Detached, it reads as empty; copying it would be the engine's own TypeError.
  if (typeof raw !== "string" && raw.length === 0 && isDetached(raw)) {
    throw new TypeError(
      "Cannot create framing as the delimiter's buffer was detached (transferred) or shrunk below it",
    );
  }
  // A copy (a Buffer's slice() would be a view).
  const delimiter = typeof raw === "string" ? new TextEncoder().encode(raw) : new Uint8Array(raw);
  if (delimiter.length === 0) {
    throw new RangeError(
      "Cannot create framing as the delimiter must not be empty: received an empty delimiter",
    );
  }
  const maxFrameLength = maxFrameLengthOption(options.maxFrameLength, DEFAULT_MAX_DELIMITED);
  const stripCR = booleanOption(options.stripCR, false, "stripCR", "create framing");
  const single = delimiter.length === 1 ? delimiter[0]! : -1;
  const table = prefixTable(delimiter);

  function check(payload: Uint8Array): number {
    checkPayload(payload);
    checkEncodeLength(payload.length, maxFrameLength);
    if (
      single >= 0 ? payload.indexOf(single) !== -1 : containsDelimiter(payload, delimiter, table)
    ) {
      throw new RangeError("Cannot encode frame as the payload contains the delimiter");
    }
    // The decoder would strip it: the payload would not arrive as sent.
    if (stripCR && payload.length > 0 && payload[payload.length - 1] === CR) {
      throw new RangeError(
        'Cannot encode frame as the payload ends with "\\r", which stripCR removes',
      );
    }
    return payload.length + delimiter.length;
  }

  return ownFraming(withFixedOverhead({
    name: single === 0x0a && stripCR ? "line" : "delimited",
    maxFrameLength,
    encodedLength: check,
    encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
      const total = check(payload);
      checkRoom(target, offset, total);
      copyBytes(payload, 0, target, offset);
      copyBytes(delimiter, 0, target, offset + payload.length);
      return total;
    },
    encode(payload: Uint8Array): Uint8Array<ArrayBuffer> {
      const out = new Uint8Array(check(payload));
      out.set(payload, 0);
      out.set(delimiter, payload.length);
      return out;
    },
    encodeParts(payload: Uint8Array): Uint8Array[] {
      check(payload);
      return [payload, delimiter.slice()];
    },
    decoder(options?: DecoderOptions): FrameDecoder {
      return new DelimitedDecoder(
        delimiter,
        table,
        Math.min(maxFrameLength, Number.MAX_SAFE_INTEGER),
        stripCR,
        options,
      );
    },
  }, delimiter.length));
}

/**
 * Whether a decoder would find `delimiter` before the end of `payload` in
 * `payload + delimiter`: inside the payload, or starting in its last bytes
 * and running into the appended delimiter (`"hdr\r\n"` + `"\r\n\r\n"`).
 */
function containsDelimiter(
  payload: Uint8Array,
  delimiter: Uint8Array,
  table: Int32Array,
): boolean {
  const inside = scan(payload, 0, payload.length, delimiter, table, 0);
  if (inside >= 0) return true;
  // Go on into the appended delimiter: the first match must be that delimiter itself (ending at
  // its end), not one that starts in the payload's last bytes.
  return scan(delimiter, 0, delimiter.length, delimiter, table, -1 - inside) < delimiter.length;
}
