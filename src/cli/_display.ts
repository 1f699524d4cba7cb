// Copyright 2026 the framewire authors. MIT license.
// How the framewire command shows bytes: text when printable, hex otherwise. Private.

// ignoreBOM: a payload that starts with U+FEFF keeps it (its text is the payload's bytes).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Characters that change how a line looks without showing (bidi overrides
 * such as U+202E, zero-width ones, tag characters, U+2028 and U+2029): a peer
 * could use them to make a printed line look other than it is.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * `JSON.stringify(value)` with every invisible format character or separator
 * written as a `\u` escape: the same JSON, and the same text once parsed, but
 * nothing a terminal would act on or hide.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(INVISIBLE, (c) => {
    let out = "";
    for (let i = 0; i < c.length; i++) out += "\\u" + c.charCodeAt(i).toString(16).padStart(4, "0");
    return out;
  });
}

/**
 * Returns the payload as text when it is valid UTF-8 without control
 * characters (tab, CR and LF allowed), otherwise `undefined`.
 */
export function printableText(bytes: Uint8Array): string | undefined {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return undefined;
  }
  try {
    const text = utf8.decode(bytes);
    // C1 controls and the replacement character are not "printable" either. (Invisible format
    // characters are: shown escaped, see jsonLine.)
    return /[\u0080-\u009f\ufffd]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => b.toString(16).padStart(2, "0"),
);
const ASCII: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".",
);

/** Space-separated lowercase hex of the first `max` bytes, with `…` when cut. */
export function hex(bytes: Uint8Array, max: number = Infinity): string {
  const n = Math.min(bytes.length, max);
  let out = n > 0 ? HEX[bytes[0]!]! : "";
  for (let i = 1; i < n; i++) out += " " + HEX[bytes[i]!]!;
  return bytes.length > n ? out + " …" : out;
}

/** Hex without separators (for JSON output). */
export function hexCompact(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}

/** The first `max` bytes as ASCII, `.` for anything not printable. */
export function ascii(bytes: Uint8Array, max: number = Infinity): string {
  const n = Math.min(bytes.length, max);
  let out = "";
  for (let i = 0; i < n; i++) out += ASCII[bytes[i]!]!;
  return out;
}

/** `hex |ascii|` of the first `max` bytes, as hexdump -C shows them. */
export function hexAscii(bytes: Uint8Array, max: number): string {
  return `${hex(bytes, max)}  |${ascii(bytes, max)}${bytes.length > max ? "…" : ""}|`;
}

/**
 * One payload for a human: `"quoted text"` when printable, `hex 00 01 …`
 * otherwise; at most `max` bytes (or characters) shown.
 */
export function showPayload(bytes: Uint8Array, max: number): string {
  const text = printableText(bytes);
  if (text !== undefined) {
    // `max` characters: code points, so that a cut never splits a surrogate pair.
    let end = 0;
    for (let n = 0; n < max && end < text.length; n++) {
      end += text.codePointAt(end)! > 0xffff ? 2 : 1;
    }
    if (end >= text.length) return jsonLine(text);
    return `${jsonLine(text.slice(0, end))}…`;
  }
  return `hex ${hex(bytes, max)}`;
}

/** The JSON fields describing one payload: `text` when printable, else `hex`. */
export function payloadJson(
  bytes: Uint8Array,
): { length: number; text: string } | { length: number; hex: string } {
  const text = printableText(bytes);
  return text !== undefined
    ? { length: bytes.length, text }
    : { length: bytes.length, hex: hexCompact(bytes) };
}

/** `1 byte`, `5 bytes`. */
export function bytesWord(n: number): string {
  return n === 1 ? "1 byte" : `${n} bytes`;
}

/** `1 frame`, `3 frames`, and the like. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
