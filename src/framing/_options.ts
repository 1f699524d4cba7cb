// Copyright 2026 the framewire authors. MIT license.
// Argument checks shared by the format factories. Private.

import type { Framing, FramingLike } from "./types.ts";

/**
 * Formats whose encoded frame is always the payload plus a fixed number of
 * bytes (for a payload they accept): that number.
 */
const fixedOverheads = new WeakMap<FramingLike, number>();

/** Records that `framing` adds exactly `overhead` bytes to every payload it accepts. */
export function withFixedOverhead(framing: Framing, overhead: number): Framing {
  fixedOverheads.set(framing, overhead);
  return framing;
}

/** The framings framewire's factories made. */
const ownFramings = new WeakSet<FramingLike>();

/** Records that `framing` is one of framewire's own (each factory's result passes here). */
export function ownFraming(framing: Framing): Framing {
  ownFramings.add(framing);
  return framing;
}

/**
 * Whether `framing` is one of framewire's own: its `decoder()` makes a fresh
 * decoder of the same configuration every time (a framing of one's own may
 * not: it may make them differently as a protocol goes on).
 */
export function isOwnFraming(framing: FramingLike): boolean {
  return ownFramings.has(framing);
}

/**
 * The bytes `framing` adds to every payload it accepts, when that is fixed
 * (and the framing is framewire's own): a sender can then size a frame
 * without `encodedLength`, which checks the payload a second time. -1 otherwise.
 */
export function fixedOverhead(framing: FramingLike): number {
  return fixedOverheads.get(framing) ?? -1;
}

/** 4 MiB: the default `maxFrameLength` of length-declaring formats. */
export const DEFAULT_MAX_LENGTH_PREFIXED: number = 4 * 1024 * 1024;
/** 64 KiB: the default `maxFrameLength` of delimiter formats. */
export const DEFAULT_MAX_DELIMITED: number = 64 * 1024;

/** The most bytes an `offset` option puts before a length. */
export const MAX_OFFSET: number = 65535;

/**
 * Returns an `offset` option (0 for `undefined` or `null`) after checking it
 * is an integer from 0 to {@linkcode MAX_OFFSET}: bounded, since a decoder
 * holds the offset bytes of a frame before its length is known.
 */
export function offsetOption(value: number | undefined): number {
  const offset = value ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
    throw numberError(
      offset,
      `Cannot create framing as offset must be an integer from 0 to ${MAX_OFFSET}: received ${
        receivedValue(offset)
      }`,
    );
  }
  return offset;
}

/**
 * Returns `value` (or `fallback` for `undefined` or `null`, as every option
 * takes them) after checking it is a positive integer or `Infinity`.
 */
export function maxFrameLengthOption(value: number | undefined, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (
    typeof value !== "number" || !(value === Infinity || (Number.isSafeInteger(value) && value > 0))
  ) {
    throw numberError(
      value,
      `Cannot create framing as maxFrameLength must be a positive integer or Infinity: received ${
        receivedValue(value)
      }`,
    );
  }
  return value;
}

/**
 * The error for a numeric option or argument refused with `message`: a
 * `TypeError` when `value` is no number at all (a string, `true`), a
 * `RangeError` when it is one out of range.
 */
export function numberError(value: unknown, message: string): TypeError | RangeError {
  return typeof value === "number" ? new RangeError(message) : new TypeError(message);
}

/** Throws a `RangeError` when a payload of `length` bytes may not be encoded. */
export function checkEncodeLength(length: number, limit: number): void {
  if (length > limit) {
    throw new RangeError(`Cannot encode frame as length ${length} exceeds maxFrameLength ${limit}`);
  }
}

/**
 * Throws a `TypeError` when `target` is no `Uint8Array` (an `ArrayBuffer`, a
 * `DataView`: the frame would be written as properties of the object, or
 * fail in `set()`; another typed array, as a `Uint16Array`, or an array: each
 * byte would be written as an element, or fail in `set()`), and a
 * `RangeError` when it lacks room for `needed` bytes at `offset`. A
 * `Uint8Array` of another realm is one.
 */
export function checkRoom(target: Uint8Array, offset: number, needed: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw numberError(
      offset,
      `Cannot encode frame into target as offset must be a non-negative integer: received ${
        receivedValue(offset)
      }`,
    );
  }
  // A plain Uint8Array with room, in two comparisons: an instanceof per frame cost 1-3 ns of the
  // 16-20 of a 16 B encodeInto() on V8 (an A/B of the code before and after 26b3628). A Buffer,
  // another class's instance or one short of room takes the checks below.
  if (offset + needed <= target.length && target.constructor === Uint8Array) return;
  // A Uint8Array of another realm is taken (ofAnotherRealm() only runs for what is no Uint8Array here).
  if (!(target instanceof Uint8Array) && !ofAnotherRealm(target)) {
    throw new TypeError(
      `Cannot encode frame into target as the target must be a Uint8Array: received ${
        bytesHint(target)
      }`,
    );
  }
  if (offset + needed > target.length) {
    throw new RangeError(
      `Cannot encode frame into target as it needs ${
        plural(needed, "byte")
      } at offset ${offset}: received a buffer of ${plural(target.length, "byte")}`,
    );
  }
}

/** Throws a `TypeError` unless `payload` is a Uint8Array. */
export function checkPayload(payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot encode frame as the payload must be a Uint8Array: received ${bytesHint(payload)}`,
    );
  }
  // A detached payload reads as empty: it would go out as an empty frame, silently.
  if (payload.length === 0 && isDetached(payload)) throw detachedPayload("encode frame");
}

/**
 * Whether `bytes`, of length 0, is a view that cannot be read: its buffer
 * was detached (transferred), or shrunk (resizable) below a fixed-length
 * view. It then reads as empty. (A length-tracking view of a buffer shrunk
 * to 0 is empty, and readable.) Not `buffer.detached`: reading `buffer`
 * makes an engine create the `ArrayBuffer` of a small array.
 */
export function isDetached(bytes: Uint8Array): boolean {
  try {
    bytes.at(0);
    return false;
  } catch {
    return true;
  }
}

/** The errors made by {@linkcode detachedPayload}. */
const detachedErrors = new WeakSet<object>();

/** Whether `error` is one made by {@linkcode detachedPayload} (of any action). */
export function isDetachedError(error: unknown): boolean {
  return typeof error === "object" && error !== null && detachedErrors.has(error);
}

/** The `TypeError` for a payload whose buffer was transferred before framewire could read it. */
export function detachedPayload(action: string, what = "payload"): TypeError {
  const error = new TypeError(
    `Cannot ${action} as the ${what}'s buffer was detached (transferred) or shrunk below it: transfer it only once its send or write has resolved, or send a copy`,
  );
  detachedErrors.add(error);
  return error;
}

/**
 * The `TypeError` for bytes pushed into a decoder after its `end()`: the
 * input was declared over (a later push would have been decoded, or taken
 * for the rest of the frame `end()` reported truncated).
 */
export function pushAfterEnd(): TypeError {
  return new TypeError("Cannot decode frames as the input has ended: end() was called");
}

/**
 * Throws a `TypeError` unless `chunk` is a `Uint8Array` (an `ArrayBuffer`, a
 * `DataView` or an array would otherwise read as no bytes at all); `what`
 * names it in the message.
 */
export function checkChunk(chunk: Uint8Array, action: string, what = "chunk"): void {
  if (!(chunk instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot ${action} as the ${what} must be a Uint8Array: received ${bytesHint(chunk)}`,
    );
  }
}

/**
 * A chunk of input, checked and made plain: {@linkcode checkChunk}, a
 * `TypeError` for a chunk whose buffer was detached (transferred) or shrunk
 * below it (it reads as empty, and its bytes would be skipped without a
 * word: the stream then decoded out of step), and the chunk as
 * {@linkcode plainBytes} makes it. Once per chunk.
 */
export function inputChunk(
  chunk: Uint8Array,
  action: string,
  whose = "the chunk's buffer",
): Uint8Array {
  checkChunk(chunk, action);
  if (chunk.length === 0 && isDetached(chunk)) {
    throw new TypeError(
      `Cannot ${action} as ${whose} was detached (transferred) or shrunk below it: its bytes are gone (pass a copy where its buffer is transferred)`,
    );
  }
  return plainBytes(chunk);
}

/** Whether `bytes` views a resizable `ArrayBuffer` or a growable `SharedArrayBuffer`. */
export function isResizable(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer as ArrayBufferLike & { resizable?: boolean; growable?: boolean };
  return buffer.resizable === true || buffer.growable === true;
}

/**
 * `bytes` (not detached), or a plain `Uint8Array` view of the same memory
 * when it is an instance of a subclass (a Node `Buffer` too): `subarray()`
 * of one makes an instance of its species through its constructor, which in
 * a class of one's own may take other arguments (`new Packet(bytes)`) and
 * make an array of another length, so that bytes went missing without a
 * word. A prototype check, and for a subclass a view: once per chunk or
 * write, not per frame.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : bytesFrom(bytes, 0);
}

/**
 * The bytes of `bytes` from `start` on, as a plain view of fixed length (not
 * `subarray()`, which goes through a subclass's constructor: see
 * {@linkcode plainBytes}; a view of a resizable buffer made so keeps its
 * length when the buffer is resized).
 */
export function bytesFrom(bytes: Uint8Array, start: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, bytes.length - start);
}

/**
 * What `value` is, for "received …" in a message: `null`, its `typeof`, or
 * the class of an object ("Array", "ArrayBuffer", "Object").
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name || "object";
}

/**
 * {@linkcode describeValue}, with how to turn an `ArrayBuffer` into the `Uint8Array` wanted, or a
 * `Uint8Array` of another realm (`node:vm`, an iframe), which `instanceof` does not take.
 */
export function bytesHint(value: unknown): string {
  const kind = describeValue(value);
  if (kind === "ArrayBuffer") return `${kind} (wrap it: new Uint8Array(buffer))`;
  if (ofAnotherRealm(value)) {
    return `${kind} of another realm (copy it into this one: new Uint8Array(value))`;
  }
  return kind;
}

/**
 * Whether `value`, which failed `instanceof Uint8Array`, is one of another realm (`node:vm`, an
 * iframe) all the same: a view whose tag is `Uint8Array` (a `Buffer`'s too).
 */
export function ofAnotherRealm(value: unknown): boolean {
  return ArrayBuffer.isView(value) &&
    Object.prototype.toString.call(value) === "[object Uint8Array]";
}

/** `n` and `word`, plural unless `n` is 1, for a message: "1 byte", "6 bytes". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Number of decimal digits of a non-negative safe integer. */
export function decimalDigits(n: number): number {
  return String(n).length;
}

/** Copies `source[from..]` into `target` at `at`; a loop for small sources, where `set` costs more. */
export function copyBytes(source: Uint8Array, from: number, target: Uint8Array, at: number): void {
  const n = source.length - from;
  if (n <= 32) {
    for (let i = 0; i < n; i++) target[at + i] = source[from + i]!;
  } else {
    target.set(from === 0 ? source : bytesFrom(source, from), at);
  }
}

/**
 * A value as an error message names what it received: numbers as they are,
 * a string quoted (`"80"` would read as if 80 were out of range), other
 * values by their kind.
 */
export function receivedValue(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
    case "symbol":
      return "a symbol";
    default:
      return describeValue(value);
  }
}

/**
 * What a failure that framewire wraps says, for the wrapper's message: its
 * `message`, or the string it is, when not empty; else what it is, with
 * "(no message)" (an `Error` by its name, anything else as
 * {@linkcode receivedValue} shows it: `undefined`, `Object`, not
 * `[object Object]`, and no throw for an object without a prototype).
 */
export function causeText(cause: unknown): string {
  const message = (cause as { message?: unknown } | null | undefined)?.message;
  if (typeof message === "string" && message !== "") return message;
  if (typeof cause === "string" && cause !== "") return cause;
  const what = cause instanceof Error && cause.name !== "" ? cause.name : receivedValue(cause);
  return `${what} (no message)`;
}

/**
 * The words of an error worded "Cannot X as Y" (framewire's own, and some of
 * the runtimes'), for a message that wraps them: "could not X as Y", so that
 * the line says "Cannot" once; `undefined` for other words.
 */
export function couldNot(text: string): string | undefined {
  return text.startsWith("Cannot ") ? `could not ${text.slice("Cannot ".length)}` : undefined;
}

/**
 * `value`, or `fallback` when it is `undefined` or `null`; a `TypeError`
 * unless a boolean (`"false"` would read as true).
 */
export function booleanOption(
  value: unknown,
  fallback: boolean,
  name: string,
  action: string,
): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `Cannot ${action} as ${name} must be a boolean: received ${receivedValue(value)}`,
    );
  }
  return value;
}

/**
 * Whether `value` has an AbortSignal's shape (`aborted`, `addEventListener`,
 * `removeEventListener`): a polyfill's or another realm's counts too.
 */
export function isSignalLike(value: unknown): value is AbortSignal {
  const s = value as Partial<AbortSignal> | null;
  return typeof s === "object" && s !== null && typeof s.aborted === "boolean" &&
    typeof s.addEventListener === "function" && typeof s.removeEventListener === "function";
}

/**
 * A `TypeError` if `signal` is neither shaped like an `AbortSignal` (a
 * polyfill's or another realm's passes) nor `undefined` or `null` (none),
 * else `undefined`.
 */
export function signalError(signal: unknown, action: string): TypeError | undefined {
  if (signal === undefined || signal === null || isSignalLike(signal)) return undefined;
  return new TypeError(
    `Cannot ${action} as signal must be an AbortSignal: received ${receivedValue(signal)}`,
  );
}

/**
 * Throws a `TypeError` unless `options` is an object or `undefined` (no
 * options); `name`: what the message calls it.
 */
export function checkOptions(options: unknown, action: string, name = "options"): void {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(
      `Cannot ${action} as ${name} must be an object: received ${receivedValue(options)}`,
    );
  }
}

/**
 * Option names of other framing libraries (Netty's `LengthFieldBasedFrameDecoder`, tokio-util's
 * `LengthDelimitedCodec`, it-length-prefixed) and common guesses, with what framewire calls them
 * (keyed in lower case without underscores: `length_field_length` is `lengthFieldLength`).
 */
const OTHER_NAMES: Record<string, string> = {
  lengthfieldlength: "width",
  lengthfieldsize: "width",
  lengthsize: "width",
  headerlength: "width",
  headersize: "width",
  digits: "width",
  lengthfieldoffset: "offset",
  byteorder: "endian",
  endianness: "endian",
  littleendian: 'endian: "little"',
  bigendian: 'endian: "big"',
  maxlength: "maxFrameLength",
  maxsize: "maxFrameLength",
  maxframesize: "maxFrameLength",
  maxdatalength: "maxFrameLength",
  maxmessagesize: "maxFrameLength",
  delimiters: "delimiter",
  separator: "delimiter",
};

/** The number of single-character edits that turn `a` into `b` (both short). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * Throws a `TypeError` when `options` has a key with a value that is not one of
 * `known` (a framing factory's options), naming the option meant where it can
 * tell: {@linkcode checkOptionNames} for a framing factory. A framing's options
 * describe the wire format, and a misspelt one would silently give another
 * format (`lengthPrefixed({ lengthFieldLength: 2 })`, Netty's name, would read
 * 4-byte lengths).
 */
export function checkFramingOptions(
  options: object,
  factory: string,
  known: readonly string[],
): void {
  checkOptionNames(options, known, "create framing", `${factory}()`);
}

/**
 * Throws a `TypeError` when `options` has a key with a value that is not one of
 * `known`, naming the option meant where it can tell: "Cannot `action` as
 * `owner` has no option …: its options are …". The framing factories and the
 * reliable sessions' options (`reliableClient()`, `reconnect`, `send()`,
 * `close()`) check their keys so; other options objects (connections,
 * streams, adapters) ignore unknown keys, as Web IDL dictionaries do.
 *
 * The keys checked are those options are read from: the enumerable string keys,
 * own or inherited (`Object.create({ maxFrameLength: 5 })` sets the limit, so an
 * inherited misspelling is refused too), up to `Object.prototype`, whose keys
 * are no caller's. Symbol keys are never read, so never refused, nor are
 * inherited methods (enumerable in a class compiled to ES5). Allocates: a
 * caller on a hot path filters first (see the reliable session's `send()`).
 */
export function checkOptionNames(
  options: object,
  known: readonly string[],
  action: string,
  owner: string,
): void {
  for (const key of optionKeys(options)) {
    if (known.includes(key) || (options as Record<string, unknown>)[key] === undefined) continue;
    const plain = key.replace(/_/g, "").toLowerCase();
    // Own keys only: `constructor` (any case) would find Object's.
    let other = Object.hasOwn(OTHER_NAMES, plain) ? OTHER_NAMES[plain] : undefined;
    // `littleEndian: false` means big-endian (and `bigEndian: false` little).
    if (other?.startsWith("endian: ") && (options as Record<string, unknown>)[key] === false) {
      other = other.includes("little") ? 'endian: "big"' : 'endian: "little"';
    }
    // A misspelling, another case, or the start of a name ("maxFrameLen").
    const near = known.find((name) =>
      editDistance(name.toLowerCase(), plain) <= 2 ||
      (plain.length >= 3 && name.toLowerCase().startsWith(plain))
    );
    throw new TypeError(
      `Cannot ${action} as ${owner} has no option ${JSON.stringify(key)}` +
        (other !== undefined && known.includes(other.split(":")[0]!)
          ? ` (in framewire: ${other})`
          : near !== undefined
          ? ` (did you mean ${near}?)`
          : "") +
        `: its options are ${known.join(", ")}`,
    );
  }
}

/**
 * The enumerable string keys of `options` and its prototypes, up to `Object.prototype` (or a
 * prototype met before); an inherited key whose value is a function is a method (no option
 * takes a function): a class compiled to ES5, a constructor function's or an object literal's
 * methods are enumerable.
 */
function optionKeys(options: object): string[] {
  let keys = Object.keys(options);
  // Only a Proxy can make a chain that comes back on itself (its getPrototypeOf trap): stop
  // at the first prototype seen before, where `instanceof` would loop for ever.
  const seen = new Set<object>([options]);
  for (
    let proto: object | null = Object.getPrototypeOf(options);
    proto !== null && proto !== Object.prototype && !seen.has(proto);
    proto = Object.getPrototypeOf(proto)
  ) {
    seen.add(proto);
    keys = keys.concat(
      Object.keys(proto).filter((key) =>
        !keys.includes(key) && typeof (options as Record<string, unknown>)[key] !== "function"
      ),
    );
  }
  return keys;
}

/** Throws a `TypeError` unless `framing` has `encode()` and `decoder()` (a `FramingLike`). */
export function checkFraming(framing: unknown, action: string): void {
  const f = framing as Partial<FramingLike> | null | undefined;
  if (typeof f?.encode !== "function" || typeof f.decoder !== "function") {
    throw new TypeError(
      `Cannot ${action} as framing must be a Framing, with encode() and decoder(): received ${
        describeValue(framing)
      }`,
    );
  }
}

/**
 * Formats bytes as space-separated lowercase hex for a message: at most `max`
 * bytes shown, then "…".
 */
export function toHex(bytes: Uint8Array, max = 32): string {
  const shown = bytes.length > max ? bytes.subarray(0, max) : bytes;
  let out = "";
  for (let i = 0; i < shown.length; i++) {
    if (i > 0) out += " ";
    out += shown[i]!.toString(16).padStart(2, "0");
  }
  return bytes.length > max ? `${out} …` : out;
}
