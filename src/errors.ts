// Copyright 2026 the framewire authors. MIT license.
/// <reference lib="es2022.error" preserve="true" />
/**
 * Errors raised by framewire for peer and stream conditions.
 *
 * Bad arguments throw the built-in `TypeError` and `RangeError`; everything a
 * peer or a stream can cause throws a subclass of {@linkcode FramingError},
 * each with a stable {@linkcode FramingError.code}.
 *
 * @module
 */

import { toHex } from "./framing/_options.ts";
import { FIELD_START, type FieldStartOptions } from "./_field_start.ts";

/** The stable codes carried by {@linkcode FramingError.code}. */
export type FramingErrorCode =
  | "FRAME_TOO_LARGE"
  | "TRUNCATED_FRAME"
  | "MALFORMED_HEADER"
  | "CONNECTION_FAILED"
  | "CONNECTION_REFUSED"
  | "CONNECTION_RESET"
  | "CONNECTION_TIMEOUT"
  | "CONNECTION_CLOSED"
  | "SESSION_LOST"
  | "PROTOCOL_ERROR";

/**
 * What {@linkcode FramingError.toJSON} returns: plain data, which
 * `JSON.stringify` and `structuredClone` keep as it is.
 */
export interface FramingErrorJSON {
  /** The class's name, such as `"FrameTooLargeError"`. */
  name: string;
  /** The stable code. */
  code: FramingErrorCode;
  /** The message. */
  message: string;
  /**
   * The `cause`, when the error has one: a framewire error as its own
   * `toJSON()` gives it, another `Error` as `{ name, code, message, cause }`
   * (`code` when it has one), bytes as hex, anything else as JSON holds it.
   * A cause the error is inside of is `"[Circular]"`, and a chain of causes
   * (or values) deeper than 8 is cut there (`"[more left out]"`).
   */
  cause?: unknown;
  /**
   * The error's own fields (`length`, `limit`, `hint`; `part`, `expected`,
   * `received`; `bytes`; and those of an application's subclass), bytes as hex.
   */
  [field: string]: unknown;
}

/**
 * The base class of every error a peer or a stream can cause. Where two
 * copies of framewire meet (an npm and a JSR copy, or two versions, one
 * making the `Conn` and the other framing it), `instanceof` is false for the
 * other copy's errors: check `code` (and `name`), which framewire itself
 * does, passing such errors on unchanged.
 *
 * @example Telling framing errors apart by code
 * ```ts
 * import { FramingError, lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = lengthPrefixed({ maxFrameLength: 16 }).decoder();
 * decoder.push(new Uint8Array([0, 0, 1, 0]));
 * let code: string | undefined;
 * try {
 *   decoder.next();
 * } catch (error) {
 *   if (error instanceof FramingError) code = error.code;
 * }
 * assert.equal(code, "FRAME_TOO_LARGE");
 * ```
 */
export class FramingError extends Error {
  /** A stable, machine-readable code. */
  readonly code: FramingErrorCode;

  /**
   * Constructs a new instance.
   *
   * @param message The error message.
   * @param code The stable error code.
   * @param options The standard error options (`cause`).
   */
  constructor(message: string, code: FramingErrorCode, options?: ErrorOptions) {
    super(message, options);
    // Literal names: minifiers rename classes (esbuild --minify, bun build --minify), and each
    // subclass names itself the same way. An application's own subclass keeps its class name.
    this.name = new.target === FramingError ? "FramingError" : new.target.name;
    this.code = code;
  }

  /**
   * The error as plain data for a log line or a message to another thread
   * (`JSON.stringify` calls it): `{ name, code, message, ...fields, cause }`.
   * An `Error`'s own `message` and `cause` are not enumerable, so without it
   * `JSON.stringify` would keep neither, and `structuredClone` (`postMessage`)
   * keeps only `message` and `stack` of an error: send `error.toJSON()`.
   *
   * The stack is left out: it is the runtime's (each words it its own way),
   * it names the files of the machine that ran the code, and it is most of a
   * log line's size; the message names what failed. A logger that wants it
   * reads `error.stack` (pino's `err` serializer does): `{ ...error.toJSON(),
   * stack: error.stack }`.
   *
   * Getters are read inside `try` (one that throws is left out), and no value
   * makes it throw.
   *
   * @returns The error's name, code, message, fields and cause.
   *
   * @example Logging an error as one line of JSON
   * ```ts
   * import { ConnectionError, FrameTooLargeError } from "@framewire/framewire";
   * import assert from "node:assert/strict";
   *
   * const error = new ConnectionError("Cannot read from 127.0.0.1:4000 as the peer broke the protocol", {
   *   code: "PROTOCOL_ERROR",
   *   cause: new FrameTooLargeError(70000, 65536),
   * });
   * assert.deepEqual(JSON.parse(JSON.stringify(error)), {
   *   name: "ConnectionError",
   *   code: "PROTOCOL_ERROR",
   *   message: "Cannot read from 127.0.0.1:4000 as the peer broke the protocol",
   *   cause: {
   *     name: "FrameTooLargeError",
   *     code: "FRAME_TOO_LARGE",
   *     message: "Cannot decode frame as length 70000 exceeds maxFrameLength 65536",
   *     length: 70000,
   *     limit: 65536,
   *   },
   * });
   * // To another thread: structuredClone() and postMessage() keep the same data.
   * assert.deepEqual(structuredClone(error.toJSON()), error.toJSON());
   * ```
   */
  toJSON(): FramingErrorJSON {
    return errorJSON(this, new Set(), 0) as FramingErrorJSON;
  }
}

/** Options for {@linkcode FrameTooLargeError}. */
export interface FrameTooLargeErrorOptions extends ErrorOptions {
  /**
   * The header bytes that declared the length (used to name a likely cause).
   *
   * @default {undefined}
   */
  header?: Uint8Array | undefined;
  /**
   * Bytes that arrived after the header, if any (the first few are read):
   * with a header of fewer than 4 bytes, they let the message name a cause
   * that a 1–3-byte field alone cannot show, such as an HTTP request.
   *
   * @default {undefined}
   */
  following?: Uint8Array | undefined;
  /**
   * The length the header would declare read in the opposite byte order, for
   * binary length fields (used to spot an endianness mix-up).
   *
   * @default {undefined}
   */
  swappedLength?: number | undefined;
  /**
   * A delimiter format's: `length` bytes arrived without a delimiter (how
   * many depends on how the input was chunked), which the message says.
   *
   * @default {false}
   */
  noDelimiter?: boolean | undefined;
  /**
   * The length is what the digits read so far make, and more digits may
   * follow (a netstring's, refused before its `:` arrives): at least `length`.
   *
   * @default {false}
   */
  atLeast?: boolean | undefined;
}

/**
 * A frame declared (or reached) a length over the decoder's `maxFrameLength`,
 * or, under a huge (or `Infinity`) limit, a length the runtime cannot
 * allocate (then `length` is at most `limit` and `cause` is the engine's
 * `RangeError`).
 *
 * The message names a likely cause when the header bytes look like a TLS
 * record, an HTTP request or response, gzip data, a byte-swapped length, or
 * text where a binary length field of 4 bytes or more was expected (in a
 * shorter field, real lengths are often printable).
 *
 * @example Reading the length and the limit
 * ```ts
 * import { FrameTooLargeError } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const error = new FrameTooLargeError(70000, 65536);
 * assert.equal(error.code, "FRAME_TOO_LARGE");
 * assert.equal(error.length, 70000);
 * assert.equal(error.limit, 65536);
 * ```
 */
export class FrameTooLargeError extends FramingError {
  /**
   * Always `"FRAME_TOO_LARGE"`: a `switch` on the `code` of a union of these classes
   * narrows to this one.
   */
  declare readonly code: "FRAME_TOO_LARGE";
  /**
   * The declared (or, for delimiter formats, the reached) frame length; with
   * `atLeast` (a netstring's), what its digits read so far declare.
   */
  readonly length: number;
  /** The `maxFrameLength` in force. */
  readonly limit: number;
  /**
   * A likely cause named from the header bytes, if any (the message ends
   * with it). When there is none, the property is `undefined` and not
   * enumerable, so that inspecting or logging the error does not show it.
   */
  readonly hint: string | undefined;

  /**
   * Constructs a new instance.
   *
   * @param length The declared length.
   * @param limit The limit in force.
   * @param options The header bytes, and the standard error options.
   */
  constructor(length: number, limit: number, options?: FrameTooLargeErrorOptions) {
    const hint = options?.header === undefined ? undefined : likelyCause(
      options.header,
      limit,
      options.swappedLength,
      options.following,
      (options as FieldStartOptions)[FIELD_START],
    );
    super(
      (options?.noDelimiter === true
        ? `Cannot decode frame as no delimiter came within maxFrameLength ${limit} byte${
          limit === 1 ? "" : "s"
        } (${length} read)`
        : length > limit
        ? `Cannot decode frame as ${
          options?.atLeast === true ? `a length of at least ${length}` : `length ${length}`
        } exceeds maxFrameLength ${limit}`
        : `Cannot decode frame as length ${length} cannot be allocated (maxFrameLength ${limit})`) +
        (hint === undefined ? "" : `: ${hint}`),
      "FRAME_TOO_LARGE",
      options,
    );
    this.length = length;
    this.limit = limit;
    this.hint = hint;
    if (hint === undefined) hideAbsent(this, "hint");
    if (new.target === FrameTooLargeError) this.name = "FrameTooLargeError";
  }
}

/** Options for {@linkcode TruncatedFrameError}. */
export interface TruncatedFrameErrorOptions extends ErrorOptions {
  /**
   * The number of bytes the cut part needed, when known.
   *
   * @default {undefined}
   */
  expected?: number | undefined;
}

/**
 * The input ended in the middle of a frame.
 *
 * {@linkcode TruncatedFrameError.part} tells whether the header or the
 * payload was cut; `expected` and `received` count the bytes of that part.
 *
 * @example Telling a cut header from a cut payload
 * ```ts
 * import { lengthPrefixed, TruncatedFrameError } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = lengthPrefixed().decoder();
 * decoder.push(new Uint8Array([0, 0, 0, 5, 104, 105]));
 * assert.equal(decoder.next(), undefined);
 * assert.throws(() => decoder.end(), (error) => {
 *   assert.ok(error instanceof TruncatedFrameError);
 *   assert.equal(error.part, "payload");
 *   assert.equal(error.expected, 5);
 *   assert.equal(error.received, 2);
 *   return true;
 * });
 * ```
 */
export class TruncatedFrameError extends FramingError {
  /**
   * Always `"TRUNCATED_FRAME"`: a `switch` on the `code` of a union of these classes
   * narrows to this one.
   */
  declare readonly code: "TRUNCATED_FRAME";
  /** Which part of the frame was cut. */
  readonly part: "header" | "payload";
  /**
   * Bytes the cut part needed, when known. When not, the property is
   * `undefined` and not enumerable, so that inspecting or logging the error
   * does not show it.
   */
  readonly expected: number | undefined;
  /** Bytes of the cut part that did arrive. */
  readonly received: number;

  /**
   * Constructs a new instance.
   *
   * @param part Which part was cut.
   * @param received Bytes of that part that arrived.
   * @param options `expected`, and the standard error options.
   */
  constructor(
    part: "header" | "payload",
    received: number,
    options?: TruncatedFrameErrorOptions,
  ) {
    const expected = options?.expected;
    super(
      part === "payload" && expected === undefined
        // A delimiter format's frame: its length is known only once its delimiter arrives.
        ? `Cannot decode frame as the input ended with ${
          received === 1
            ? "1 byte and no delimiter after it"
            : `${received} bytes and no delimiter after them`
        }`
        : `Cannot decode frame as the input ended inside its ${part}: received ${received} of ` +
          (expected === undefined
            ? "an unknown number of bytes"
            : `${expected} byte${expected === 1 ? "" : "s"}`),
      "TRUNCATED_FRAME",
      options,
    );
    this.part = part;
    this.expected = expected;
    if (expected === undefined) hideAbsent(this, "expected");
    this.received = received;
    if (new.target === TruncatedFrameError) this.name = "TruncatedFrameError";
  }
}

/**
 * A frame header (or trailer) that no valid sender would produce.
 *
 * @example Reading the offending bytes
 * ```ts
 * import { decimalHeader, MalformedHeaderError } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = decimalHeader({ width: 4 }).decoder();
 * decoder.push(new TextEncoder().encode("1x  "));
 * assert.throws(() => decoder.next(), (error) => {
 *   assert.ok(error instanceof MalformedHeaderError);
 *   assert.equal(error.bytes, "31 78"); // up to the byte that is wrong
 *   return true;
 * });
 * ```
 */
export class MalformedHeaderError extends FramingError {
  /**
   * Always `"MALFORMED_HEADER"`: a `switch` on the `code` of a union of these classes
   * narrows to this one.
   */
  declare readonly code: "MALFORMED_HEADER";
  /** The offending bytes, in hex, separated by spaces. */
  readonly bytes: string;

  /**
   * Constructs a new instance.
   *
   * @param reason What is wrong, e.g. "non-digit in decimal header".
   * @param bytes The offending bytes.
   * @param options The standard error options, and `header`: the header
   * bytes that arrived, which may go on past the offending ones (the likely
   * cause is read from them; default `bytes`).
   */
  constructor(
    reason: string,
    bytes: Uint8Array,
    options?: ErrorOptions & { header?: Uint8Array | undefined },
  ) {
    const hex = toHex(bytes);
    const hint = likelyCause(options?.header ?? bytes, 0, undefined);
    super(
      `Cannot decode frame as its header is malformed: ${reason} (bytes ${hex})` +
        (hint === undefined ? "" : `: ${hint}`),
      "MALFORMED_HEADER",
      options,
    );
    this.bytes = hex;
    if (new.target === MalformedHeaderError) this.name = "MalformedHeaderError";
  }
}

/**
 * A connection could not be made, or failed; `cause` holds the runtime's
 * own error.
 *
 * @example Wrapping a runtime error
 * ```ts
 * import { ConnectionError } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const error = new ConnectionError("Cannot connect to 127.0.0.1:1", {
 *   code: "CONNECTION_REFUSED",
 *   cause: new Error("ECONNREFUSED"),
 * });
 * assert.equal(error.code, "CONNECTION_REFUSED");
 * assert.ok(error.cause instanceof Error);
 * ```
 */
export class ConnectionError extends FramingError {
  /**
   * Constructs a new instance.
   *
   * @param message The error message.
   * @param options The code (default `CONNECTION_FAILED`) and the `cause`.
   */
  constructor(message: string, options?: ErrorOptions & { code?: FramingErrorCode | undefined }) {
    super(message, options?.code ?? "CONNECTION_FAILED", options);
    if (new.target === ConnectionError) this.name = "ConnectionError";
  }
}

/**
 * Makes a field that is `undefined` (an absent hint, an unknown count) not
 * enumerable: `util.inspect`, `Deno.inspect`, `Bun.inspect`, `Object.keys`
 * and JSON then leave it out, while it stays an own property (`"hint" in
 * error`, and `assert.throws(f, { hint: undefined })`, still hold).
 */
function hideAbsent(error: Error, key: string): void {
  Object.defineProperty(error, key, { enumerable: false });
}

/** How deep toJSON() goes into causes and values (the error itself is at depth 0). */
const MAX_DEPTH = 8;

/** The fields toJSON() places itself (`stack` it leaves out). */
const PLACED: ReadonlySet<string> = new Set(["name", "code", "message", "stack", "cause"]);

/** `object[key]`, or `undefined` if reading it throws (a getter's, or a Proxy trap's). */
function read(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Whether `value` is an `Error`, also one of another realm (a worker's, a `vm` context's). */
function isError(value: object): boolean {
  try {
    return value instanceof Error || Object.prototype.toString.call(value) === "[object Error]";
  } catch {
    return false;
  }
}

/**
 * `error` as toJSON() gives it: a `FramingError` with its own fields, another
 * `Error` with its name, code and message; each with its cause. `ancestors`
 * holds the errors and objects it is inside of (a cause cycle meets one).
 */
function errorJSON(error: object, ancestors: Set<object>, depth: number): Record<string, unknown> {
  ancestors.add(error);
  const out: Record<string, unknown> = {};
  const name = read(error, "name");
  if (typeof name === "string") out["name"] = name;
  const code = read(error, "code");
  if (typeof code === "string" || typeof code === "number") out["code"] = code;
  const message = read(error, "message");
  if (typeof message === "string") out["message"] = message;
  try {
    if (error instanceof FramingError) {
      for (const key of Object.keys(error)) {
        if (!PLACED.has(key)) put(out, key, jsonValue(read(error, key), ancestors, depth + 1));
      }
    }
    if (Object.hasOwn(error, "cause")) {
      put(out, "cause", jsonValue(read(error, "cause"), ancestors, depth + 1));
    }
  } catch {
    // A Proxy's trap threw: the fields read so far.
  }
  ancestors.delete(error);
  return out;
}

/**
 * `value` as JSON holds it, for toJSON(): an error by errorJSON(), bytes as
 * hex, a bigint as its digits, an object or an array as a copy (what `toJSON()`
 * gives for one that has it); one it is inside of as `"[Circular]"`, and
 * anything deeper than MAX_DEPTH as `"[more left out]"`.
 */
function jsonValue(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.has(value)) return "[Circular]";
  if (depth > MAX_DEPTH) return "[more left out]";
  try {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return hexOf(value);
    if (isError(value)) return errorJSON(value, ancestors, depth);
    ancestors.add(value);
    const toJSON = read(value, "toJSON");
    if (typeof toJSON === "function") {
      return jsonValue(toJSON.call(value), ancestors, depth + 1); // a Date's string, a URL's
    }
    if (Array.isArray(value)) {
      return Array.from(value, (item) => jsonValue(item, ancestors, depth + 1) ?? null);
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      put(copy, key, jsonValue(read(value, key), ancestors, depth + 1));
    }
    return copy;
  } catch {
    return "[a value that JSON cannot hold]"; // a throwing toJSON(), a revoked Proxy
  } finally {
    ancestors.delete(value);
  }
}

/** Sets `key` unless `value` is `undefined` (which JSON leaves out): toJSON() is its JSON. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

/** An `ArrayBuffer` or a view of one as toHex() shows bytes; a detached one has none. */
function hexOf(value: ArrayBufferView | ArrayBuffer): string {
  try {
    return toHex(
      ArrayBuffer.isView(value)
        ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
        : new Uint8Array(value),
    );
  } catch {
    return "";
  }
}

function startsWithAscii(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

const HTTP_METHODS = [
  "GET ",
  "POST",
  "PUT ",
  "HEAD",
  "PRI ",
  "DELE",
  "OPTI",
  "PATC",
  "CONN",
];

/** Printable ASCII, tab, CR and LF. */
function isText(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if ((b < 0x20 || b > 0x7e) && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  return true;
}

function quoted(bytes: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...bytes));
}

function likelyCause(
  header: Uint8Array,
  limit: number,
  swapped: number | undefined,
  following?: Uint8Array,
  fieldStart = 0,
): string | undefined {
  // The signatures below need up to 4 bytes: a shorter field is read on into what followed it
  // (the endianness and text checks stay with the field's own bytes).
  let start = header;
  if (header.length < 4 && following !== undefined && following.length > 0) {
    start = new Uint8Array(Math.min(header.length + following.length, 4));
    start.set(header);
    start.set(following.subarray(0, start.length - header.length), header.length);
  }
  if (start.length >= 2 && start[0] === 0x16 && start[1] === 0x03) {
    return "the bytes look like a TLS handshake record (16 03 ...); is the peer speaking TLS to a plain-TCP port?";
  }
  // What a TLS server answers a plain-TCP client with (Deno's and Bun's; Node's sends nothing).
  if (start.length >= 2 && start[0] === 0x15 && start[1] === 0x03) {
    return "the bytes look like a TLS alert record (15 03 ...); is the peer a TLS server refusing plain TCP?";
  }
  for (const method of HTTP_METHODS) {
    if (startsWithAscii(start, method)) {
      return `the bytes look like HTTP ("${method.trim()}"); is an HTTP client talking to this port?`;
    }
  }
  if (startsWithAscii(start, "HTTP")) {
    return 'the bytes look like an HTTP response ("HTTP"); is the other side an HTTP server?';
  }
  if (start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b) {
    return "the bytes look like gzip data (1f 8b); is the stream compressed?";
  }
  if (swapped !== undefined && swapped >= 0 && swapped <= limit) {
    return `read in the opposite byte order the length would be ${swapped}; do both sides agree on the endianness?`;
  }
  // A binary length field (its swapped reading is known) of 4 bytes or more made of text: in a
  // 2- or 3-byte field, printable bytes are common in real lengths over a small limit. The field's
  // own bytes count, not the offset bytes before it (before, a u16 after 2 of them got the hint and
  // a u16 alone did not); all the header's bytes must be text.
  if (
    swapped !== undefined && header.length - fieldStart >= 4 && isText(header.subarray(0, 32))
  ) {
    return `the bytes look like text (${
      quoted(header.subarray(0, 32))
    }); is the peer sending lines or other text, not length-prefixed frames?`;
  }
  return undefined;
}
