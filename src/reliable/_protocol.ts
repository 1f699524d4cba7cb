// Copyright 2026 the framewire authors. MIT license.
// The reliable-session wire protocol: frame types, layouts, encoders and
// decoders. Private; the layouts are documented in docs/protocol.md.
//
// Every frame travels as the payload of one `lengthPrefixed()` frame (u32be
// length). The first byte is the frame type; integers are big-endian; sequence
// numbers and acks are u64 on the wire (JavaScript keeps them below 2^53).

/** The protocol version carried by HELLO and WELCOME. */
export const PROTOCOL_VERSION = 1;

/** DATA: type, seq u64, ack u64, payload. */
export const DATA = 0x01;
/** ACK (also the heartbeat): type, ack u64. */
export const ACK = 0x02;
/** HELLO (client, first frame of every connection): type, version, flags, id[16], lastReceived u64. */
export const HELLO = 0x03;
/** WELCOME (server's answer to HELLO): type, version, flags, id[16], lastReceived u64. */
export const WELCOME = 0x04;
/** GOODBYE (graceful end of the session): type, ack u64. */
export const GOODBYE = 0x05;
/** REJECT (server refuses a HELLO): type, reason u8, UTF-8 message. */
export const REJECT = 0x06;

/** HELLO flag: the client completed a handshake in this session before. */
export const FLAG_RESUME = 0x01;
/** HELLO flag: the client is closing; it reconnects only to finish the goodbye. */
export const FLAG_CLOSING = 0x02;
/** WELCOME flag: the server had no state for the session and started it afresh. */
export const FLAG_LOST = 0x01;

/** REJECT reasons. */
export const REJECT_VERSION = 1;
/** The server is shutting down. */
export const REJECT_CLOSING = 2;
/** The frame broke the protocol. */
export const REJECT_PROTOCOL = 3;

/** Bytes before the payload in a DATA frame. */
export const DATA_HEADER = 17;
/** Length of ACK and GOODBYE frames. */
export const ACK_LENGTH = 9;
/** Length of HELLO and WELCOME frames. */
export const HELLO_LENGTH = 27;
/** Length of a session id in bytes. */
export const SESSION_ID_LENGTH = 16;

const TWO_32 = 0x1_0000_0000;

/** Writes a non-negative safe integer as u64 big-endian. */
export function writeU64(target: Uint8Array, at: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  const lo = value >>> 0;
  target[at] = hi >>> 24;
  target[at + 1] = (hi >>> 16) & 0xff;
  target[at + 2] = (hi >>> 8) & 0xff;
  target[at + 3] = hi & 0xff;
  target[at + 4] = lo >>> 24;
  target[at + 5] = (lo >>> 16) & 0xff;
  target[at + 6] = (lo >>> 8) & 0xff;
  target[at + 7] = lo & 0xff;
}

/** Reads a u64 big-endian; returns -1 when it exceeds 2^53-1. */
export function readU64(source: Uint8Array, at: number): number {
  const hi =
    ((source[at]! << 24) | (source[at + 1]! << 16) | (source[at + 2]! << 8) | source[at + 3]!) >>>
    0;
  const lo = ((source[at + 4]! << 24) | (source[at + 5]! << 16) | (source[at + 6]! << 8) |
    source[at + 7]!) >>>
    0;
  if (hi > 0x1f_ffff) return -1;
  return hi * TWO_32 + lo;
}

/**
 * Allocates DATA frames. Small frames are carved out of shared slabs:
 * `new Uint8Array(n)` above 64 bytes gets its own off-heap backing store in
 * V8, which costs microseconds of allocation and GC per message, while a view
 * into a slab costs a small object. A slab stays alive while any frame in it
 * does; a session frees its frames in order, so this pins at most one slab
 * beyond the frames still buffered.
 */
export class FrameAllocator {
  #slab: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #used = 0;
  #next = MIN_SLAB;
  #max: number;

  /**
   * Slabs start at 4 KiB and double up to `maxSlab` (at most 256 KiB), so that
   * a session that sends little pins little.
   *
   * @param maxSlab The largest slab: a session passes its `sendBufferSize`.
   */
  constructor(maxSlab: number = SLAB_SIZE) {
    this.#max = Math.max(MIN_SLAB, Math.min(SLAB_SIZE, maxSlab));
  }

  /** Returns a DATA frame holding a copy of `payload`, seq and ack still 0. */
  dataFrame(payload: Uint8Array): Uint8Array<ArrayBuffer> {
    const n = DATA_HEADER + payload.length;
    let frame: Uint8Array<ArrayBuffer>;
    if (n > SLAB_MAX_FRAME) {
      frame = new Uint8Array(n);
    } else {
      if (this.#used + n > this.#slab.length) this.#newSlab(n);
      // A fresh slab is never written twice: the header's seq and ack are still 0.
      frame = new Uint8Array(this.#slab.buffer, this.#used, n);
      this.#used += n;
    }
    frame[0] = DATA;
    frame.set(payload, DATA_HEADER);
    return frame;
  }

  /** Starts a slab of at least `size` bytes (the next size up to the largest). */
  #newSlab(size: number): void {
    this.#slab = new Uint8Array(Math.max(size, this.#next));
    this.#used = 0;
    this.#next = Math.min(this.#next * 2, this.#max);
  }

  /**
   * {@linkcode dataFrame} of `text` as UTF-8, encoded straight into a slab
   * (V8): `TextEncoder.encode()` would first allocate an array of its own,
   * which costs V8 0.3–0.7 µs whatever the length. When the UTF-8 is longer
   * than `limit` bytes, returns that length instead, having taken nothing
   * from the slab (and copied nothing into a frame).
   */
  textFrame(text: string, limit: number): Uint8Array<ArrayBuffer> | number {
    const most = text.length * 3; // UTF-8 bytes per UTF-16 code unit, at most
    if (!IN_PLACE || DATA_HEADER + most > SLAB_MAX_FRAME) {
      const bytes = encoder.encode(text);
      return bytes.length > limit ? bytes.length : this.dataFrame(bytes);
    }
    const room = this.#slab.length - this.#used - DATA_HEADER;
    let n = -1;
    if (room >= text.length) {
      // Into the rest of this slab, if it fits (what did not is never written again).
      const rest = new Uint8Array(this.#slab.buffer, this.#used + DATA_HEADER, room);
      const done = encoder.encodeInto(text, rest);
      if (done.read === text.length) n = done.written;
    }
    if (n < 0) {
      this.#newSlab(DATA_HEADER + most);
      n = encoder.encodeInto(text, new Uint8Array(this.#slab.buffer, DATA_HEADER, most)).written;
    }
    if (n > limit) {
      // Not taken: zeroed again, as the frames made there next expect (seq and ack 0).
      this.#slab.fill(0, this.#used + DATA_HEADER, this.#used + DATA_HEADER + n);
      return n;
    }
    const frame = new Uint8Array(this.#slab.buffer, this.#used, DATA_HEADER + n);
    this.#used += DATA_HEADER + n;
    frame[0] = DATA;
    return frame;
  }
}

const encoder = new TextEncoder();
/**
 * Whether {@linkcode FrameAllocator.textFrame} encodes in place: not on
 * JavaScriptCore (Bun), where `encode()` costs 35–60 ns and each view about 40.
 */
const IN_PLACE = !("Bun" in globalThis);

/** Bytes per slab: the first, and at most. */
const MIN_SLAB = 4 * 1024;
const SLAB_SIZE = 256 * 1024;
/** Larger frames get their own buffer. */
const SLAB_MAX_FRAME = 16 * 1024;

/**
 * Returns a DATA frame holding a copy of `payload`, in its own buffer, with
 * seq and ack still 0 (they are written with {@linkcode setDataSeq} and
 * {@linkcode setDataAck}).
 */
export function newDataFrame(payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(DATA_HEADER + payload.length);
  frame[0] = DATA;
  frame.set(payload, DATA_HEADER);
  return frame;
}

/** Writes the sequence number of a DATA frame. */
export function setDataSeq(frame: Uint8Array, seq: number): void {
  writeU64(frame, 1, seq);
}

/** Writes the piggybacked ack of a DATA frame. */
export function setDataAck(frame: Uint8Array, ack: number): void {
  writeU64(frame, 9, ack);
}

/** Encodes an ACK (`type` ACK) or GOODBYE (`type` GOODBYE) frame. */
export function encodeAck(type: number, ack: number): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(ACK_LENGTH);
  frame[0] = type;
  writeU64(frame, 1, ack);
  return frame;
}

/** A decoded HELLO or WELCOME. */
export interface Handshake {
  /** HELLO or WELCOME. */
  type: number;
  /** The sender's protocol version. */
  version: number;
  /** FLAG_RESUME (HELLO) or FLAG_LOST (WELCOME). */
  flags: number;
  /** The session id. */
  id: Uint8Array;
  /** The highest sequence number the sender received in order. */
  lastReceived: number;
}

/** Encodes a HELLO or WELCOME frame. */
export function encodeHandshake(
  type: number,
  flags: number,
  id: Uint8Array,
  lastReceived: number,
): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(HELLO_LENGTH);
  frame[0] = type;
  frame[1] = PROTOCOL_VERSION;
  frame[2] = flags;
  frame.set(id, 3);
  writeU64(frame, 19, lastReceived);
  return frame;
}

/** Decodes a HELLO or WELCOME frame; `undefined` when it is malformed. */
export function decodeHandshake(frame: Uint8Array): Handshake | undefined {
  if (frame.length < 2) return undefined;
  const version = frame[1]!;
  // A newer version may lay out the rest differently, flags included: report only the version
  // (docs/protocol.md: a receiver must not read past the version byte).
  if (version !== PROTOCOL_VERSION) {
    return { type: frame[0]!, version, flags: 0, id: new Uint8Array(0), lastReceived: 0 };
  }
  if (frame.length !== HELLO_LENGTH) return undefined;
  const lastReceived = readU64(frame, 19);
  if (lastReceived < 0) return undefined;
  return {
    type: frame[0]!,
    version,
    flags: frame[2]!,
    id: frame.slice(3, 3 + SESSION_ID_LENGTH),
    lastReceived,
  };
}

/** Encodes a REJECT frame. */
export function encodeReject(reason: number, message: string): Uint8Array<ArrayBuffer> {
  const text = new TextEncoder().encode(message);
  const frame = new Uint8Array(2 + text.length);
  frame[0] = REJECT;
  frame[1] = reason;
  frame.set(text, 2);
  return frame;
}

/** Two lowercase hex digits of each byte value. */
const HEX_BYTES: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/**
 * Formats a session id as 32 lowercase hex digits. Joined, not appended with `+=`: Node's V8
 * keeps an appended one as a tree of its pieces, and a server holds one per session and per
 * tombstone (for `resumeTimeout`): a tombstone took about 700 bytes on Node 24, 135 joined.
 */
export function idToHex(id: Uint8Array): string {
  const digits = new Array<string>(id.length);
  for (let i = 0; i < id.length; i++) digits[i] = HEX_BYTES[id[i]!]!;
  return digits.join("");
}

/** Returns 16 random bytes from `crypto.getRandomValues`. */
export function randomSessionId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SESSION_ID_LENGTH));
}
