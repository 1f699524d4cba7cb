// Copyright 2026 the framewire authors. MIT license.
/**
 * The interfaces every wire format implements.
 *
 * @module
 */

/**
 * An incremental, synchronous frame decoder: bytes in, frames out.
 *
 * Push chunks as they arrive and call {@linkcode FrameDecoder.next} until it
 * returns `undefined`; every complete frame is returned, whatever the
 * chunking. A frame that lies inside one pushed chunk is a `subarray` view of
 * that chunk (zero-copy; on Bun a frame under 33 bytes is a copy of its own
 * instead, which costs half a view there); a frame that spans chunks is
 * copied once into memory of its own: a buffer of its exact size above 8
 * KiB, or a view of the frame's exact length into a zero-filled slab of 4-64
 * KiB that the decoder carves smaller frames out of one after another (no
 * byte of a slab is handed out twice). Either way a frame's `buffer` may hold other frames
 * of the same stream, and a frame kept for long keeps its chunk or slab
 * alive: transfer or keep a copy (`frame.slice()`). Transferring a frame's
 * buffer can detach a frame still being received, or bytes of its chunk not
 * yet decoded: `next()` (or `end()`) then fails with a `TypeError`.
 *
 * A frame above 64 KiB that spans chunks gets its buffer once an eighth of
 * it has arrived, not as soon as its header has: until then its bytes wait
 * in the chunks they came in (chunks under 4 KiB gathered into blocks of the
 * decoder's own), and go into the frame when it gets its buffer. So a peer
 * that sends a header alone makes the decoder hold at most 64 KiB, not
 * `maxFrameLength`; in general, about eight times what it has sent of the
 * frame. With `maxFrameLength: Infinity` a
 * decoder waits for any length a header declares.
 */
export interface FrameDecoder {
  /**
   * Adds bytes. The decoder takes ownership of `chunk`: the caller must not
   * change it afterwards, since returned frames may be views into it (and
   * with an `offset` (`lengthPrefixed`'s or `varint`'s), the decoder moves the
   * offset bytes next to the payload inside it). Nor resize or transfer its
   * buffer: the built-in framings read a length-tracking view of a
   * resizable buffer (`new Uint8Array(buffer)`) at the length it has at the
   * push, and bytes they hold whose buffer was transferred or shrunk below
   * them make `next()` (or `end()`) throw a `TypeError`.
   *
   * @throws {TypeError} `chunk` is not a `Uint8Array` (wrap an `ArrayBuffer`:
   * `new Uint8Array(buffer)`), its buffer was detached (transferred) or
   * shrunk below it (it would read as no bytes), or `end()` was called (the
   * built-in framings).
   */
  push(chunk: Uint8Array): void;
  /**
   * Returns the next complete frame, or `undefined` until more bytes arrive.
   * A decoder of one's own returns, as the built-in ones do, views of the
   * chunks pushed or copies into `ArrayBuffer`s (or into `allocate`'s
   * buffers): `framed()`, `FrameDecoderStream` and `ByteReader` type their
   * frames so (`Uint8Array<ArrayBuffer>` over framewire's adapters).
   *
   * @throws {FrameTooLargeError} A header declares a length over `maxFrameLength`.
   * @throws {MalformedHeaderError} A header no valid sender would produce.
   */
  next(): Uint8Array | undefined;
  /**
   * Declares the input over. Frames decoded before it can still be taken
   * with `next()`; a later `push()` throws a `TypeError` (the built-in
   * framings).
   *
   * @throws {TruncatedFrameError} The input ended inside a frame.
   */
  end(): void;
  /** Bytes held that are not yet part of a returned frame. */
  readonly bufferedBytes: number;
}

/** Options for {@linkcode Framing.decoder}. */
export interface DecoderOptions {
  /**
   * Copy frames that span chunks into two buffers the decoder reuses (in
   * turn) instead of a fresh buffer each. A frame is then valid only until
   * the frame after next is requested: it saves an allocation per spanning
   * frame for callers that are done with each frame before asking for more.
   * Frames inside one chunk are views into it either way (on Bun, those
   * under 33 bytes copies of their own).
   *
   * @default {false}
   */
  reuseBuffers?: boolean | undefined;
  /**
   * Allocates the buffer a frame above 8 KiB that spans chunks is copied
   * into, when its header has arrived (above 64 KiB: when an eighth of the
   * frame has); every byte of it is written before the frame is returned (a
   * longer buffer is trimmed to `length`, a shorter one is a `TypeError`).
   * Smaller frames are carved out of zero-filled slabs that the decoder
   * allocates itself, since on V8 a fresh small `Uint8Array` costs
   * microseconds. On Node and Bun, `(n) => Buffer.allocUnsafeSlow(n)` skips
   * zero-filling memory that is overwritten anyway, which is 25-30% faster
   * for large frames; `framed()` uses the connection's `allocate` when its
   * adapter provides one. The frame is a plain `Uint8Array` view (not a
   * `Buffer`, nor a length-tracking view) of the memory `allocate` returned, and its `buffer` is that
   * memory's, so return memory that holds the frame alone: not
   * `Buffer.allocUnsafe`, which hands out slices of a shared pool for sizes
   * under half `Buffer.poolSize` (32 KiB on Node 24).
   *
   * @default {(length) => new Uint8Array(length)}
   */
  allocate?: ((length: number) => Uint8Array) | undefined;
}

/**
 * What `framed()`, `FrameEncoderStream`, `FrameDecoderStream` and
 * `ByteReader.readFrame` need of a wire format: every {@linkcode Framing},
 * or a format of your own with only `name`, `maxFrameLength`, `encode` and
 * `decoder` (whose decoders need `push`, `next`, `end` and an exact
 * `bufferedBytes`). Without `encodedLength`, `encodeInto` and `encodeParts`,
 * the frame `encode()` returns is copied once more, into the batch it is
 * sent in.
 *
 * @example A format of your own: a one-byte length
 * ```ts
 * import { type FrameDecoder, FrameEncoderStream, type FramingLike } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * class U8Decoder implements FrameDecoder {
 *   #bytes = new Uint8Array(0);
 *   get bufferedBytes(): number {
 *     return this.#bytes.length;
 *   }
 *   push(chunk: Uint8Array): void {
 *     const joined = new Uint8Array(this.#bytes.length + chunk.length);
 *     joined.set(this.#bytes);
 *     joined.set(chunk, this.#bytes.length);
 *     this.#bytes = joined;
 *   }
 *   next(): Uint8Array | undefined {
 *     const n = this.#bytes[0];
 *     if (n === undefined || this.#bytes.length < 1 + n) return undefined;
 *     const frame = this.#bytes.subarray(1, 1 + n);
 *     this.#bytes = this.#bytes.subarray(1 + n);
 *     return frame;
 *   }
 *   end(): void {
 *     if (this.#bytes.length > 0) throw new Error("truncated");
 *   }
 * }
 * const u8: FramingLike = {
 *   name: "my-u8",
 *   maxFrameLength: 255,
 *   encode: (payload) => Uint8Array.of(payload.length, ...payload),
 *   decoder: () => new U8Decoder(),
 * };
 * const encoder = new FrameEncoderStream(u8);
 * const writer = encoder.writable.getWriter();
 * void writer.write(Uint8Array.of(7, 8));
 * void writer.close();
 * const wire = new Uint8Array(await new Response(encoder.readable).arrayBuffer());
 * assert.deepEqual(wire, Uint8Array.of(2, 7, 8));
 * ```
 */
export interface FramingLike {
  /** A short name, e.g. `"u32be"`, `"varint"`, `"decimal10"`, `"line"`. */
  readonly name: string;
  /** The largest payload in bytes; enforced on decode and on encode. */
  readonly maxFrameLength: number;
  /**
   * Frames `payload`: header, payload and trailer in one new buffer.
   *
   * @throws {RangeError} The payload is longer than `maxFrameLength` or the
   * format cannot carry it.
   * @throws {TypeError} The payload is not a `Uint8Array`, or its buffer
   * was detached (transferred) or shrunk below it, which would read as an
   * empty payload (the built-in framings).
   */
  encode(payload: Uint8Array): Uint8Array;
  /**
   * Returns a fresh incremental decoder.
   *
   * @throws {TypeError} `options` is not an object, `reuseBuffers` not a
   * boolean, or `allocate` not a function (the built-in framings).
   */
  decoder(options?: DecoderOptions): FrameDecoder;
  /** See {@linkcode Framing.encodedLength}. */
  encodedLength?: Framing["encodedLength"] | undefined;
  /** See {@linkcode Framing.encodeInto}. */
  encodeInto?: Framing["encodeInto"] | undefined;
  /** See {@linkcode Framing.encodeParts}. */
  encodeParts?: Framing["encodeParts"] | undefined;
}

/**
 * A wire format: how a payload is framed on the wire and how frames are read
 * back. Every built-in format is one.
 */
export interface Framing extends FramingLike {
  /**
   * As {@linkcode FramingLike.encode}: one new buffer, backed by an `ArrayBuffer`.
   *
   * @throws {RangeError} As for {@linkcode FramingLike.encode}.
   * @throws {TypeError} As for {@linkcode FramingLike.encode}.
   */
  encode(payload: Uint8Array): Uint8Array<ArrayBuffer>;
  /**
   * The number of bytes {@linkcode Framing.encode} produces for `payload`.
   *
   * @throws {RangeError} As for {@linkcode Framing.encode}.
   * @throws {TypeError} As for {@linkcode Framing.encode}.
   */
  encodedLength(payload: Uint8Array): number;
  /**
   * Writes the framed payload into `target` at `offset` (no allocation) and
   * returns the number of bytes written; `target` must have
   * {@linkcode Framing.encodedLength} bytes of room. `payload` must not
   * share memory with the bytes written (be a view of `target` there): the
   * header is written first, over the payload's first bytes.
   *
   * @throws {RangeError} As for {@linkcode Framing.encode}, `target` is too
   * small, or `offset` is negative or not an integer.
   * @throws {TypeError} As for {@linkcode Framing.encode}, `offset` is no
   * number, or `target` is no `Uint8Array`: an `ArrayBuffer` or a
   * `DataView` (wrap it: `new Uint8Array(buffer)`), another typed array (a
   * `Uint16Array` would take each byte as an element), or an array.
   */
  encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number;
  /**
   * Frames `payload` without copying it: returns the wire bytes as a list of
   * buffers in which the payload appears as a view (for large payloads).
   *
   * @throws {RangeError} As for {@linkcode Framing.encode}.
   * @throws {TypeError} As for {@linkcode Framing.encode}.
   */
  encodeParts(payload: Uint8Array): Uint8Array[];
}
