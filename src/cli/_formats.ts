// Copyright 2026 the framewire authors. MIT license.
// The wire format names the framewire command accepts. Private.

import { decimalHeader } from "../framing/decimal_header.ts";
import { lengthPrefixed } from "../framing/length_prefixed.ts";
import { lines } from "../framing/lines.ts";
import { netstring } from "../framing/netstring.ts";
import type { Framing } from "../framing/types.ts";
import { varint } from "../framing/varint.ts";
import { UsageError } from "./_args.ts";

/** Format name, one-line description, factory. */
const FORMATS: ReadonlyArray<readonly [string, string, (max: number | undefined) => Framing]> = [
  [
    "u32be",
    "4-byte big-endian length, then the payload (default)",
    (m) => lengthPrefixed({ maxFrameLength: m }),
  ],
  [
    "u32le",
    "4-byte little-endian length",
    (m) => lengthPrefixed({ endian: "little", maxFrameLength: m }),
  ],
  ["u16be", "2-byte big-endian length", (m) => lengthPrefixed({ width: 2, maxFrameLength: m })],
  [
    "u16le",
    "2-byte little-endian length",
    (m) => lengthPrefixed({ width: 2, endian: "little", maxFrameLength: m }),
  ],
  ["u8", "1-byte length", (m) => lengthPrefixed({ width: 1, maxFrameLength: m })],
  ["u64be", "8-byte big-endian length", (m) => lengthPrefixed({ width: 8, maxFrameLength: m })],
  [
    "varint",
    "unsigned LEB128 length (protobuf delimited, libp2p)",
    (m) => varint({ maxFrameLength: m }),
  ],
  [
    "decimal10",
    'ASCII decimal length padded to 10 bytes, as f"{len(msg):<10}"',
    (m) => decimalHeader({ maxFrameLength: m }),
  ],
  ["line", "newline-terminated, a trailing \\r is stripped", (m) => lines({ maxFrameLength: m })],
  ["netstring", "5:hello,", (m) => netstring({ maxFrameLength: m })],
];

/** Every accepted format name. */
export const FORMAT_NAMES: readonly string[] = FORMATS.map((f) => f[0]);

/** The default format. */
export const DEFAULT_FORMAT = "u32be";

/** The `--format` help text: one line per format. */
export function formatHelp(): string {
  const width = Math.max(...FORMAT_NAMES.map((n) => n.length));
  return FORMATS.map(([name, text]) => `    ${name.padEnd(width)}  ${text}`).join("\n");
}

/**
 * Returns the framing for a format name, or throws a {@linkcode UsageError}
 * listing the accepted names, or saying that the format's length field cannot
 * carry `maxFrameLength`. Without `maxFrameLength` the format's default limit
 * applies, lowered to what its field can carry (255 bytes for `u8`).
 */
export function framingFor(name: string | undefined, maxFrameLength?: number): Framing {
  const wanted = name ?? DEFAULT_FORMAT;
  const entry = FORMATS.find((f) => f[0] === wanted);
  if (entry === undefined) {
    throw new UsageError(`unknown format "${wanted}": expected one of ${FORMAT_NAMES.join(", ")}`);
  }
  let framing: Framing;
  try {
    framing = entry[2](maxFrameLength);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UsageError(`invalid --max-frame-length for ${wanted}: ${error.message}`);
    }
    throw error;
  }
  // The library lowers a limit its length field cannot reach; a limit asked
  // for on the command line is refused instead of silently lowered.
  if (maxFrameLength !== undefined && framing.maxFrameLength < maxFrameLength) {
    throw new UsageError(
      `--max-frame-length ${maxFrameLength} is more than ${wanted} can carry: at most ${framing.maxFrameLength} bytes`,
    );
  }
  return framing;
}
