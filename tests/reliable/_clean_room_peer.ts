// Copyright 2026 the framewire authors. MIT license.
// Test helper: a peer of the reliable-session protocol written from docs/protocol.md alone, as a
// third party would (nothing here comes from src/reliable/). It keeps no session state: the test
// says which frames to send, byte for byte, and reads what framewire sends back, so that every
// promise of the document can be checked from the wire.

import type { Conn } from "../../src/connection/types.ts";
import { concat } from "../framing/_formats.ts";

/** Frame type bytes (docs/protocol.md, "Framing and frame types"). */
export const DATA = 0x01;
export const ACK = 0x02;
export const HELLO = 0x03;
export const WELCOME = 0x04;
export const GOODBYE = 0x05;
export const REJECT = 0x06;

/** HELLO flags. */
export const RESUME = 0b01;
export const CLOSING = 0b10;
/** WELCOME flag. */
export const LOST = 0b01;

/** The fields HELLO and WELCOME share. */
export interface HandshakeFields {
  version: number;
  flags: number;
  /** The session id, as 32 hex digits. */
  id: string;
  lastReceived: number;
  raw: Uint8Array;
}

/** A frame as the document lays it out; `raw` is the frame without its length prefix. */
export type Frame =
  | { type: "DATA"; seq: number; ack: number; payload: Uint8Array; raw: Uint8Array }
  | { type: "ACK"; ack: number; raw: Uint8Array }
  | { type: "GOODBYE"; ack: number; raw: Uint8Array }
  | ({ type: "HELLO" } & HandshakeFields)
  | ({ type: "WELCOME" } & HandshakeFields)
  | { type: "REJECT"; reason: number; text: string; raw: Uint8Array }
  | { type: "malformed"; raw: Uint8Array };

/** What {@linkcode Peer.next} reports once the connection is over. */
export interface End {
  type: "end";
  /** "eof" for a FIN, else the error the read failed with (a reset). */
  how: "eof" | unknown;
}

function u64(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** 32 hex digits as the 16 bytes they spell. */
export function idBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new TypeError(`Cannot use ${hex} as a session id`);
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/** 16 bytes as 32 hex digits. */
export function idHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh random session id, as the document says a client picks one. */
export function randomId(): string {
  return idHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The fields of a HELLO or WELCOME to send; the defaults are an honest first one's. */
export interface HandshakeOptions {
  flags?: number;
  lastReceived?: number | bigint;
  version?: number;
}

function handshake(type: number, id: string, options: HandshakeOptions): Uint8Array {
  const { flags = 0, lastReceived = 0, version = 1 } = options;
  return concat([Uint8Array.of(type, version, flags), idBytes(id), u64(lastReceived)]);
}

/** Frame bodies (without the length prefix); u64 fields take a bigint to go past 2^53. */
export const frame = {
  data(seq: number | bigint, ack: number | bigint, payload: Uint8Array | string = ""): Uint8Array {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    return concat([Uint8Array.of(DATA), u64(seq), u64(ack), bytes]);
  },
  ack(ack: number | bigint): Uint8Array {
    return concat([Uint8Array.of(ACK), u64(ack)]);
  },
  goodbye(ack: number | bigint): Uint8Array {
    return concat([Uint8Array.of(GOODBYE), u64(ack)]);
  },
  hello(id: string, options: HandshakeOptions = {}): Uint8Array {
    return handshake(HELLO, id, options);
  },
  welcome(id: string, options: HandshakeOptions = {}): Uint8Array {
    return handshake(WELCOME, id, options);
  },
  reject(reason: number, text: string): Uint8Array {
    return concat([Uint8Array.of(REJECT, reason), new TextEncoder().encode(text)]);
  },
};

/** `body` behind its 4-byte big-endian length, as one `lengthPrefixed()` frame. */
export function withLength(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function readU64(view: DataView, at: number): number {
  const value = view.getBigUint64(at);
  if (value >= 2n ** 53n) throw new RangeError(`u64 ${value} at or above 2^53`);
  return Number(value);
}

/** Parses a frame body strictly by the document's table; anything off is `malformed`. */
export function parse(raw: Uint8Array): Frame {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    switch (raw[0]) {
      case DATA:
        if (raw.length < 17) break;
        return {
          type: "DATA",
          seq: readU64(view, 1),
          ack: readU64(view, 9),
          payload: raw.slice(17),
          raw,
        };
      case ACK:
        if (raw.length !== 9) break;
        return { type: "ACK", ack: readU64(view, 1), raw };
      case GOODBYE:
        if (raw.length !== 9) break;
        return { type: "GOODBYE", ack: readU64(view, 1), raw };
      case HELLO:
      case WELCOME: {
        if (raw.length !== 27) break;
        const fields: HandshakeFields = {
          version: raw[1]!,
          flags: raw[2]!,
          id: idHex(raw.subarray(3, 19)),
          lastReceived: readU64(view, 19),
          raw,
        };
        return raw[0] === HELLO ? { type: "HELLO", ...fields } : { type: "WELCOME", ...fields };
      }
      case REJECT:
        if (raw.length < 2) break;
        return {
          type: "REJECT",
          reason: raw[1]!,
          text: new TextDecoder("utf-8", { fatal: true }).decode(raw.subarray(2)),
          raw,
        };
    }
  } catch {
    // a u64 out of range, or text that is not UTF-8
  }
  return { type: "malformed", raw };
}

/**
 * One connection's end, driven by the test: it writes exactly what it is
 * given and queues every frame it reads, until the connection ends.
 */
export class Peer {
  readonly conn: Conn;
  /** Every frame read so far, in order. */
  readonly received: Frame[] = [];
  #queue: (Frame | End)[] = [];
  #waiters: (() => void)[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #ended: End | undefined;
  /** Settles once the connection has ended (read side). */
  readonly done: Promise<End>;

  constructor(conn: Conn) {
    this.conn = conn;
    this.#writer = conn.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.done = this.#read();
  }

  async #read(): Promise<End> {
    let buffered: Uint8Array = new Uint8Array(0);
    let how: "eof" | unknown = "eof";
    try {
      for await (const chunk of this.conn.readable) {
        buffered = concat([buffered, chunk]);
        for (;;) {
          if (buffered.length < 4) break;
          const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0);
          if (buffered.length < 4 + length) break;
          const f = parse(buffered.slice(4, 4 + length));
          buffered = buffered.slice(4 + length);
          this.received.push(f);
          this.#push(f);
        }
      }
    } catch (error) {
      how = error;
    }
    const end: End = { type: "end", how };
    this.#ended = end;
    this.#push(end);
    return end;
  }

  #push(item: Frame | End): void {
    this.#queue.push(item);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Writes the frames (each given a length prefix) in one write. */
  send(...bodies: Uint8Array[]): Promise<void> {
    return this.sendRaw(concat(bodies.map(withLength)));
  }

  /** Writes `bytes` as they are. */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /**
   * The next frame read, or the end of the connection. Rejects after
   * `timeoutMs` (a bound on a test gone wrong, not a pause).
   */
  async next(timeoutMs = 10_000): Promise<Frame | End> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#queue.length === 0) {
        if (this.#ended !== undefined) return this.#ended;
        await new Promise<void>((resolve, reject) => {
          this.#waiters.push(resolve);
          timer ??= setTimeout(
            () => reject(new Error(`No frame within ${timeoutMs} ms; read: ${this.describe()}`)),
            timeoutMs,
          );
        });
      }
      return this.#queue.shift()!;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next frame, which must be of `type` (the test fails with what came instead). */
  async expect<T extends Frame["type"] | "end">(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<Frame | End, { type: T }>> {
    const got = await this.next(timeoutMs);
    if (got.type !== type) {
      throw new Error(`Expected ${type}, got ${describe(got)}; read so far: ${this.describe()}`);
    }
    return got as Extract<Frame | End, { type: T }>;
  }

  /** As {@linkcode Peer.expect}, skipping ACK frames (acks and heartbeats may come at any time). */
  async expectPastAcks<T extends Exclude<Frame["type"], "ACK"> | "end">(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<Frame | End, { type: T }>> {
    for (;;) {
      const got = await this.next(timeoutMs);
      if (got.type === "ACK") continue;
      if (got.type !== type) {
        throw new Error(`Expected ${type}, got ${describe(got)}; read so far: ${this.describe()}`);
      }
      return got as Extract<Frame | End, { type: T }>;
    }
  }

  /** Reads and returns every frame until the connection ends. */
  async rest(timeoutMs = 10_000): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const got = await this.next(timeoutMs);
      if (got.type === "end") return frames;
      frames.push(got);
    }
  }

  /** The frames read so far, for failure messages. */
  describe(): string {
    return this.received.map(describe).join(", ") || "nothing";
  }

  /** Half-closes (FIN), keeps reading. */
  async closeWrite(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // the connection is already gone
    }
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    this.conn.close();
    await this.done;
  }
}

function describe(f: Frame | End): string {
  switch (f.type) {
    case "DATA":
      return `DATA(${f.seq}, ack ${f.ack}, ${f.payload.length} B)`;
    case "ACK":
    case "GOODBYE":
      return `${f.type}(${f.ack})`;
    case "HELLO":
    case "WELCOME":
      return `${f.type}(v${f.version}, flags ${f.flags}, ${f.id.slice(0, 8)}…, ${f.lastReceived})`;
    case "REJECT":
      return `REJECT(${f.reason}, ${JSON.stringify(f.text)})`;
    case "malformed":
      return `malformed(${idHex(f.raw.subarray(0, 32))})`;
    case "end":
      return f.how === "eof" ? "end" : `end (${String(f.how)})`;
  }
}
