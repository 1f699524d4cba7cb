// Copyright 2026 the framewire authors. MIT license.

import { checkFramingOptions, checkOptions } from "./_options.ts";
import { delimited } from "./delimited.ts";
import type { Framing } from "./types.ts";

/** Options for {@linkcode lines}. */
export interface LinesOptions {
  /**
   * The longest line in bytes (without `"\n"` and a stripped `"\r"`). Pass
   * `Infinity` for no limit.
   *
   * @default {65536} (64 KiB)
   */
  maxFrameLength?: number | undefined;
}

/** The options lines() takes. */
const OPTION_NAMES = ["maxFrameLength"] as const;

/**
 * Newline-delimited frames: `delimited` with `"\n"`, where a `"\r"` before
 * the `"\n"` is removed from decoded lines (so `"\r\n"` endings work too).
 * Encoding appends `"\n"`, and refuses a payload that contains `"\n"` or ends
 * with `"\r"` (which would not arrive as sent). A last line without its
 * `"\n"` is a `TruncatedFrameError` at `end()`, as with `delimited`:
 * a peer must end every line, the last one too.
 *
 * @param options The limit.
 * @returns The framing, named `line`.
 * @throws {RangeError} `maxFrameLength` is not a positive integer or
 * `Infinity` (a `TypeError` if no number at all);
 * `encode` is given a payload that contains `"\n"` or ends with `"\r"`.
 * @throws {TypeError} `options` is not an object, or names an option this
 * framing does not take (an inherited key too).
 *
 * @example Reading lines with either ending
 * ```ts
 * import { lines } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = lines().decoder();
 * decoder.push(new TextEncoder().encode("one\r\ntwo\n"));
 * const text = new TextDecoder();
 * assert.equal(text.decode(decoder.next()), "one");
 * assert.equal(text.decode(decoder.next()), "two");
 * ```
 */
export function lines(options: LinesOptions = {}): Framing {
  checkOptions(options, "create framing");
  checkFramingOptions(options, "lines", OPTION_NAMES);
  return delimited({ delimiter: "\n", maxFrameLength: options.maxFrameLength, stripCR: true });
}
