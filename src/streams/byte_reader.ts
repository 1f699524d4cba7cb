// Copyright 2026 the framewire authors. MIT license.

import { TruncatedFrameError } from "../errors.ts";
import { Fifo } from "../_fifo.ts";
import { detachedBytes, fixedLength } from "../framing/_byte_queue.ts";
import {
  checkFraming,
  describeValue,
  inputChunk,
  isOwnFraming,
  numberError,
  receivedValue,
} from "../framing/_options.ts";
import type { FrameDecoder, FramingLike } from "../framing/types.ts";

/** What framewire's own decoders do for a reader that keeps them from frame to frame. */
interface HandsBack {
  takeBuffered(): Uint8Array[];
  keepAsFresh(): void;
}

/**
 * Pull-style reading from a byte stream: the classic `readExactly` and
 * `readFrame` loops, keeping leftover bytes between calls.
 *
 * Both methods resolve `null` on a clean end at a boundary and reject with
 * `TruncatedFrameError` when the stream ends inside the bytes asked for.
 * Calls run one at a time, in call order: one made while another is
 * pending (unawaited) waits for it, and takes the bytes after its bytes.
 * A call made with none pending whose bytes are buffered already is done
 * when it returns (its promise is settled): a `releaseLock()` after it
 * does not return those bytes.
 * Results are views into the stream's chunks when they lie inside one chunk
 * (frames under 33 bytes are copies on Bun, as from every decoder),
 * otherwise fresh buffers: the reader takes ownership of the chunks (do not
 * change them, or share them with another reader such as a `tee()` branch:
 * `readFrame` with `lengthPrefixed`'s `offset` moves bytes within them; a
 * length-tracking view of a resizable buffer is read at the length it has
 * when read from the stream).
 * The reader locks the stream until
 * {@linkcode ByteReader.releaseLock}.
 *
 * `B` is the type of the buffers under the stream's chunks, inferred from
 * the stream: results are views of them or copies into `ArrayBuffer`s,
 * typed `Uint8Array<B | ArrayBuffer>` (so `Uint8Array<ArrayBuffer>` when
 * reading a framewire adapter's `conn.readable`).
 *
 * @example Reading a fixed header, then a frame
 * ```ts
 * import { ByteReader, lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const framing = lengthPrefixed({ width: 2 });
 * const input = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(new Uint8Array([0xca, 0xfe, 0, 2]));
 *     controller.enqueue(new Uint8Array([104, 105]));
 *     controller.close();
 *   },
 * });
 * const reader = new ByteReader(input);
 * assert.deepEqual(await reader.readExactly(2), new Uint8Array([0xca, 0xfe]));
 * assert.deepEqual(await reader.readFrame(framing), new Uint8Array([104, 105]));
 * assert.equal(await reader.readFrame(framing), null);
 * ```
 */
export class ByteReader<B extends ArrayBufferLike = ArrayBufferLike> {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  /**
   * The chunks read that still hold bytes buffered: those are the last
   * `#length` bytes of them (the first may start with bytes returned).
   */
  #chunks: Uint8Array[] = [];
  #length = 0;
  #ended = false;
  /** A call is running; those made meanwhile wait in `#waiting`, in call order. */
  #busy = false;
  /** The stream gave something other than bytes. */
  #failure: { error: unknown } | undefined;
  #waiting = new Fifo<() => void>();
  #released = false;
  /**
   * The decoder of the last `readFrame()` that found a frame, and its
   * framing: a framewire decoder that handed its bytes back at a frame
   * boundary is in a fresh one's state, and is used again for the same
   * framing, when that is framewire's own (a framing of one's own may make
   * its decoders differently as a protocol goes on). Taken out while a call
   * uses it, so one that failed or saw the end is never used again.
   */
  #kept: FrameDecoder | undefined;
  #keptFraming: FramingLike | undefined;
  /**
   * `#kept` holds the bytes buffered (those after the frame it found), as
   * given to it: the next `readFrame()` of its framing goes on with them, and
   * anything else makes it hand them back first ({@linkcode ByteReader.#own}).
   */
  #holding = false;

  /**
   * Constructs a new instance and locks `readable`.
   *
   * @param readable The byte stream.
   * @throws {TypeError} `readable` is not a `ReadableStream`, or is locked.
   */
  constructor(readable: ReadableStream<Uint8Array<B>>) {
    // The engines' own words differ ("Cannot read properties of null", "ReadableStream is
    // locked", "Invalid state: ReadableStream is locked").
    const stream = readable as Partial<ReadableStream<Uint8Array>> | null | undefined;
    if (typeof stream?.getReader !== "function") {
      throw new TypeError(
        `Cannot create ByteReader as readable must be a ReadableStream: received ${
          describeValue(readable)
        }`,
      );
    }
    if (stream.locked === true) {
      throw new TypeError("Cannot create ByteReader as the stream is locked to another reader");
    }
    this.#reader = readable.getReader();
  }

  /** Bytes read from the stream but not yet returned. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @param n The number of bytes.
   * @returns The bytes, or `null` if the stream ended cleanly before any of
   * them (`readExactly(0)` resolves an empty array without reading, at the
   * end too).
   * @throws {RangeError} `n` is not a non-negative integer (a `TypeError` if
   * no number at all).
   * @throws {TruncatedFrameError} The stream ended after some but not all of them.
   * @throws {TypeError} The stream gave a chunk that is not a `Uint8Array`,
   * or one whose buffer was detached (transferred) or shrunk below it.
   */
  readExactly(n: number): Promise<Uint8Array<B | ArrayBuffer> | null> {
    if (!Number.isSafeInteger(n) || n < 0) {
      return Promise.reject(numberError(
        n,
        `Cannot read bytes as n must be a non-negative integer: received ${receivedValue(n)}`,
      ));
    }
    // Nothing pending and the bytes buffered: taken at once, without a call's turn (an async
    // call or two per read cost more than the rest of it).
    if (!this.#busy && this.#length >= n && !this.#released) {
      try {
        this.#checkKept();
        this.#own();
        return Promise.resolve(this.#take(n) as Uint8Array<B | ArrayBuffer>);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // Views of the stream's chunks, or copies into fresh ArrayBuffers (see #take).
    return this.#oneAtATime(() => this.#readExactly(n)) as Promise<
      Uint8Array<B | ArrayBuffer> | null
    >;
  }

  async #readExactly(n: number): Promise<Uint8Array | null> {
    if (this.#released) throw releasedError(); // also one that waited for a call released meanwhile
    this.#checkKept();
    this.#own();
    while (this.#length < n) {
      if (!(await this.#fill())) {
        if (this.#length === 0) return null;
        throw new TruncatedFrameError("payload", this.#length, { expected: n });
      }
    }
    return this.#take(n);
  }

  /**
   * Reads one frame of `framing`.
   *
   * @param framing The wire format.
   * @returns The frame, or `null` on a clean end at a frame boundary.
   * @throws {TruncatedFrameError} The stream ended inside a frame.
   * @throws {FrameTooLargeError | MalformedHeaderError} As the decoder does.
   * @throws {TypeError} The stream gave a chunk that is not a `Uint8Array`,
   * or one whose buffer was detached (transferred) or shrunk below it, or
   * `framing` has no `encode()` and `decoder()`.
   */
  readFrame(framing: FramingLike): Promise<Uint8Array<B | ArrayBuffer> | null> {
    // The kept decoder, with the bytes after the last frame still in it: nothing to give it.
    const holding = this.#holding && !this.#busy && framing === this.#keptFraming;
    let decoder: FrameDecoder;
    if (holding) {
      decoder = this.#kept!;
      this.#kept = undefined;
      this.#holding = false;
    } else {
      try {
        decoder = this.#decoderOf(framing);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // A decoder's frames are views of the chunks given to it, or copies into fresh ArrayBuffers.
    if (this.#busy) {
      return this.#oneAtATime(() => this.#readFrame(framing, decoder, false)) as Promise<
        Uint8Array<B | ArrayBuffer> | null
      >;
    }
    // Nothing pending: the call takes its turn at once, and a frame the buffered bytes hold is
    // returned without an async call (they cost more than decoding it).
    this.#busy = true;
    let frame: Uint8Array | undefined;
    try {
      if (!holding) this.#startFrame(decoder);
      else if (this.#released) throw releasedError(); // a releaseLock() that failed (#checkKept())
      else this.#checkKept();
      frame = decoder.next();
      if (frame !== undefined) this.#keepRest(framing, decoder, frame);
    } catch (error) {
      this.#endTurn();
      return Promise.reject(error);
    }
    if (frame !== undefined) {
      this.#endTurn();
      return Promise.resolve(frame as Uint8Array<B | ArrayBuffer>);
    }
    return this.#inTurn(() => this.#readFrame(framing, decoder, true)) as Promise<
      Uint8Array<B | ArrayBuffer> | null
    >;
  }

  /** A decoder of `framing`, given no bytes: the one kept from the last frame found, or a new one. */
  #decoderOf(framing: FramingLike): FrameDecoder {
    this.#unhold();
    const kept = this.#kept;
    if (kept !== undefined && framing === this.#keptFraming) {
      this.#kept = undefined;
      return kept;
    }
    checkFraming(framing, "read frame");
    const decoder = framing.decoder();
    // Handing back the (no) bytes of a fresh framewire decoder makes it copy frames that span
    // chunks into buffers of their own size, not slabs, as it does after each frame (#keepRest).
    if (isOwnFraming(framing)) (decoder as Partial<HandsBack>).takeBuffered?.call(decoder);
    return decoder;
  }

  /** Gives `decoder` the bytes buffered. */
  #startFrame(decoder: FrameDecoder): void {
    if (this.#released) throw releasedError(); // as in #readExactly
    // The chunks stay buffered here until a frame is found (releaseLock() meanwhile returns them).
    this.#checkKept();
    this.#own();
    for (const chunk of this.#chunks) decoder.push(chunk);
  }

  /**
   * Takes the bytes buffered back from the kept decoder that holds them (it
   * stays kept, as a fresh one), and drops the chunks' bytes returned
   * before: `#chunks` are then exactly the bytes buffered.
   */
  #own(): void {
    this.#unhold();
    const extra = this.#dropReturned();
    if (extra > 0) this.#chunks[0] = this.#chunks[0]!.subarray(extra);
  }

  /** The kept decoder forgets the bytes buffered, and stays kept as a fresh one. */
  #unhold(): void {
    if (this.#holding) {
      this.#holding = false;
      try {
        (this.#kept as unknown as HandsBack).takeBuffered();
      } catch {
        // A chunk it holds was detached (see #checkKept(), which reports it): it is let go.
        this.#kept = undefined;
      }
    }
  }

  /**
   * Drops the chunks whose bytes were all returned, and returns how many
   * bytes of the first chunk left were returned.
   */
  #dropReturned(): number {
    const chunks = this.#chunks;
    let rest = this.#length;
    let i = chunks.length;
    while (rest > 0 && i > 0) rest -= chunks[--i]!.length;
    if (i > 0) chunks.splice(0, i);
    return -rest;
  }

  /** `started`: the bytes buffered were given to `decoder` already, and found no frame. */
  async #readFrame(
    framing: FramingLike,
    decoder: FrameDecoder,
    started: boolean,
  ): Promise<Uint8Array | null> {
    if (!started) this.#startFrame(decoder);
    let frame = started ? undefined : decoder.next();
    while (frame === undefined) {
      if (!(await this.#fill())) {
        if (decoder.bufferedBytes === 0) return null;
        decoder.end(); // throws, unless the framing ends a frame at the end of the input
        return this.#keepRest(undefined, decoder, decoder.next() ?? null);
      }
      decoder.push(this.#chunks[this.#chunks.length - 1]!);
      frame = decoder.next();
    }
    return this.#keepRest(framing, decoder, frame);
  }

  /**
   * Releases the stream, and returns the bytes read from it but not yet
   * returned (empty if none): the stream no longer has them, so hand them on
   * with it, e.g. as `framed()`'s `buffered` option. Reads after it fail,
   * and so does one in progress. Release between reads: a chunk that a read
   * in progress had already taken from the stream when it was released is
   * kept here, for a second `releaseLock()` to return.
   *
   * @returns The bytes read ahead.
   */
  releaseLock(): Uint8Array<B | ArrayBuffer> {
    this.#released = true;
    this.#reader.releaseLock();
    this.#checkKept();
    this.#own();
    return this.#take(this.#length) as Uint8Array<B | ArrayBuffer>;
  }

  /** Runs `read` once the calls made before this one are done. */
  async #oneAtATime<T>(read: () => Promise<T>): Promise<T> {
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy = true;
    return await this.#inTurn(read);
  }

  /** Runs `read`, whose turn it is, and then ends the turn. */
  async #inTurn<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } finally {
      this.#endTurn();
    }
  }

  /** Hands the turn to the next call waiting (still busy), or ends it. */
  #endTurn(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#busy = false;
  }

  /**
   * The bytes kept between calls are in the chunks read, as the frames
   * returned may be: a chunk that became empty was detached (the application
   * transferred such a frame's buffer), and its bytes are gone.
   */
  #checkKept(): void {
    // (#chunks hold no chunk whose bytes were all returned: #keepRest() drops them.)
    for (const chunk of this.#chunks) if (chunk.length === 0) throw detachedBytes();
  }

  /**
   * Buffers what `decoder` has left after `frame`, and returns `frame`;
   * keeps `decoder`, with those bytes, for the next frame of `framing` when
   * that is framewire's own (`framing` undefined: it saw the end).
   */
  #keepRest<T>(framing: FramingLike | undefined, decoder: FrameDecoder, frame: T): T {
    // The bytes a decoder still holds are the last ones it was given (those of this.#chunks).
    const rest = decoder.bufferedBytes;
    this.#length = rest;
    if (rest === 0) this.#chunks.length = 0; // nothing of them is kept
    else this.#dropReturned(); // nor the chunks of the frame (an idle reader would hold them)
    // (Not one whose decoder() an application replaced on framewire's framing object.)
    const hooks = decoder as Partial<HandsBack>;
    if (framing !== undefined && isOwnFraming(framing) && typeof hooks.keepAsFresh === "function") {
      hooks.keepAsFresh();
      this.#kept = decoder;
      this.#keptFraming = framing;
      this.#holding = true;
    }
    return frame;
  }

  async #read(): Promise<Uint8Array | undefined> {
    if (this.#ended) return undefined;
    if (this.#failure !== undefined) throw this.#failure.error;
    if (this.#released) throw releasedError();
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#reader.read();
      } catch (error) {
        // A read that releaseLock() cut short, in the same words on every runtime.
        throw this.#released ? releasedError() : error;
      }
      if (result.done) {
        this.#ended = true;
        return undefined;
      }
      let value: Uint8Array;
      try {
        value = inputChunk(result.value, "read bytes");
      } catch (error) {
        // Its bytes are lost: every later read fails too, rather than go on without them.
        this.#failure = { error };
        throw error;
      }
      // Kept at the length it has now (a length-tracking view of a resizable buffer follows it).
      if (value.length > 0) return fixedLength(value);
    }
  }

  async #fill(): Promise<boolean> {
    const chunk = await this.#read();
    if (chunk !== undefined) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    // Released while the read was under way (also at the end of the stream, where the read
    // returns at once): the read in progress fails, its chunk kept for releaseLock().
    if (this.#released) throw releasedError();
    return chunk !== undefined;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      this.#length -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      // A plain view, as frames are (a Node Buffer's subarray() is a Buffer, whose slice() does
      // not copy).
      return new Uint8Array(first.buffer, first.byteOffset, n);
    }
    const out = new Uint8Array(n);
    const chunks = this.#chunks;
    let filled = 0;
    let used = 0; // whole chunks taken: removed at once (shift() per chunk is quadratic on V8)
    while (filled < n) {
      const chunk = chunks[used]!;
      const count = Math.min(chunk.length, n - filled);
      out.set(count === chunk.length ? chunk : chunk.subarray(0, count), filled);
      filled += count;
      if (count === chunk.length) used++;
      else chunks[used] = chunk.subarray(count);
    }
    chunks.splice(0, used);
    this.#length -= n;
    return out;
  }
}

function releasedError(): TypeError {
  return new TypeError("Cannot read bytes as the reader was released");
}
