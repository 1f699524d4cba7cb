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

/**
 * Protocols whose frames start with bytes of their own (a type byte): for
 * `inspect` only, since `send` and `listen` frame lines of text.
 */
const PROTOCOLS: ReadonlyArray<readonly [string, string, (max: number | undefined) => Framing]> = [
  [
    "mqtt",
    "MQTT: a type byte, then the remaining length (varint)",
    (m) => varint({ offset: 1, maxFrameLength: m }),
  ],
  [
    "postgres",
    "PostgreSQL: a type byte, then a u32be length counting itself",
    (m) => lengthPrefixed({ offset: 1, lengthAdjustment: -4, maxFrameLength: m }),
  ],
  [
    "http2",
    "HTTP/2: a u24be length, then 6 header bytes it does not count",
    (m) => lengthPrefixed({ width: 3, lengthAdjustment: 6, maxFrameLength: m }),
  ],
];

/** Every format name `send`, `listen` and `demo` accept. */
export const FORMAT_NAMES: readonly string[] = FORMATS.map((f) => f[0]);

/** The names `inspect` accepts besides {@linkcode FORMAT_NAMES}. */
export const PROTOCOL_NAMES: readonly string[] = PROTOCOLS.map((f) => f[0]);

/** The default format. */
export const DEFAULT_FORMAT = "u32be";

/** The `--format` help text: one line per format (`protocols`: inspect's too). */
export function formatHelp(protocols = false): string {
  const all = protocols ? [...FORMATS, ...PROTOCOLS] : FORMATS;
  const width = Math.max(...all.map((f) => f[0].length));
  return all.map(([name, text]) => `    ${name.padEnd(width)}  ${text}`).join("\n");
}

/**
 * Returns the framing for a format name, or throws a {@linkcode UsageError}
 * listing the accepted names, or saying that the format's length field cannot
 * carry `maxFrameLength`. Without `maxFrameLength` the format's default limit
 * applies, lowered to what its field can carry (255 bytes for `u8`).
 * `protocols`: the protocol formats are accepted too (`inspect`).
 */
export function framingFor(
  name: string | undefined,
  maxFrameLength?: number,
  protocols = false,
): Framing {
  const wanted = name ?? DEFAULT_FORMAT;
  const entry = FORMATS.find((f) => f[0] === wanted) ??
    (protocols ? PROTOCOLS.find((f) => f[0] === wanted) : undefined);
  if (entry === undefined) {
    const names = protocols ? [...FORMAT_NAMES, ...PROTOCOL_NAMES] : FORMAT_NAMES;
    const only = !protocols && PROTOCOL_NAMES.includes(wanted)
      ? ` (${wanted} is for inspect only: its frames start with a type byte, not a line of text)`
      : "";
    throw new UsageError(`unknown format "${wanted}": expected one of ${names.join(", ")}${only}`);
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
