// Copyright 2026 the framewire authors. MIT license.
// The decoder shared by every format whose header declares the frame length
// (length-prefixed, varint, decimal header, netstring, fixed size). Private.

import { FrameTooLargeError, TruncatedFrameError } from "../errors.ts";
import { ByteQueue, detachedBytes, GATHER_BELOW } from "./_byte_queue.ts";
import { COPY_BELOW, copySmall, EAGER_FRAME, FrameBuffers } from "./_frame_buffers.ts";
import { copyBytes, inputChunk, pushAfterEnd } from "./_options.ts";
import type { DecoderOptions, FrameDecoder } from "./types.ts";

/**
 * Reads one format's header. A parser is stateful only in `length` and
 * `prefix`, which {@linkcode HeaderParser.parse} sets.
 */
export interface HeaderParser {
  /** An upper bound on the header length, to gather a header that spans chunks. */
  readonly maxHeaderLength: number;
  /** The header length when it is fixed (for truncation errors). */
  readonly fixedHeaderLength: number | undefined;
  /** Bytes after the payload that belong to the frame (netstring: 1). */
  readonly trailerLength: number;
  /** The `maxFrameLength` in force (for errors). */
  readonly limit: number;
  /**
   * Set when headers are a plain 4-byte big-endian payload length (no
   * prefix, no adjustment, no trailer): the limit. The decoder then parses
   * them inline.
   */
  readonly u32Limit?: number | undefined;
  /**
   * Set when headers are plain (no prefix, no adjustment, no trailer) and of
   * a kind the decoder parses inline: a `PLAIN_*` constant. The decoder then
   * parses whole headers that lie in the head chunk itself, against
   * `limit`, and leaves the rest (and every error) to `parse()`.
   */
  readonly plainKind?: number | undefined;
  /** Payload length declared by the last complete header. */
  length: number;
  /**
   * Leading header bytes that belong to the returned frame (the
   * `lengthPrefixed` `offset` bytes); the rest of the header is dropped.
   */
  readonly prefix: number;
  /**
   * Parses a header at `buf[pos, end)`. Returns the header length and sets
   * `length`, or returns -1 when more bytes are needed.
   *
   * @throws {FrameTooLargeError | MalformedHeaderError} As soon as the bytes show it.
   */
  parse(buf: Uint8Array, pos: number, end: number): number;
  /** Checks the trailer at `buf[pos]`. @throws {MalformedHeaderError} */
  checkTrailer(buf: Uint8Array, pos: number): void;
  /** Optional: changes the limit (and `u32Limit` with it) for the headers parsed from now on. */
  setLimit?(limit: number): void;
}

/**
 * The tight u32be loop of {@linkcode HeaderDecoder.takeAll} where frames under
 * {@linkcode COPY_BELOW} bytes are copies: appends the frames that lie whole
 * in `chunk` from `pos` on to `out` and returns where it stopped.
 */
function takeCopying(chunk: Uint8Array, pos: number, limit: number, out: Uint8Array[]): number {
  const end = chunk.length;
  const buffer = chunk.buffer;
  const base = chunk.byteOffset;
  while (pos + 4 <= end) {
    const length = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) |
      chunk[pos + 3]!) >>> 0;
    if (length > limit || pos + 4 + length > end) break;
    out.push(
      length < COPY_BELOW
        ? copySmall(chunk, pos + 4, length)
        : new Uint8Array(buffer, base + pos + 4, length),
    );
    pos += 4 + length;
  }
  return pos;
}

/** {@linkcode HeaderParser.plainKind}: a varint of one or two bytes (longer ones are parse()'s). */
export const PLAIN_VARINT = 1;
/** {@linkcode HeaderParser.plainKind}: a one-byte length. */
export const PLAIN_U8 = 2;
/** {@linkcode HeaderParser.plainKind}: a two-byte big-endian length. */
export const PLAIN_U16BE = 3;
/** {@linkcode HeaderParser.plainKind}: a two-byte little-endian length. */
export const PLAIN_U16LE = 4;
/** {@linkcode HeaderParser.plainKind}: a four-byte little-endian length. */
export const PLAIN_U32LE = 5;
/** {@linkcode HeaderParser.plainKind}: no header; every frame is `limit` bytes. */
export const PLAIN_FIXED = 6;

/**
 * A plain header of `kind` at `chunk[pos]`, followed by its whole payload
 * of at most `limit` bytes: returns the payload's length times 8 plus the
 * header's length. Else -1: more bytes are needed, or the header is over
 * the limit, or a varint longer than two bytes or non-minimal (0x00 last),
 * all of which `parse()` then deals with.
 */
function plainHeader(chunk: Uint8Array, pos: number, kind: number, limit: number): number {
  const end = chunk.length;
  let length: number;
  let start = pos;
  switch (kind) {
    case PLAIN_VARINT:
      length = chunk[start++]!;
      if (length >= 0x80) {
        const high = start < end ? chunk[start++]! : 0;
        if (high >= 0x80 || high === 0) return -1;
        length = (length & 0x7f) | (high << 7);
      }
      break;
    case PLAIN_U8:
      length = chunk[start++]!;
      break;
    case PLAIN_U16BE:
      start += 2;
      if (start > end) return -1;
      length = (chunk[pos]! << 8) | chunk[pos + 1]!;
      break;
    case PLAIN_U16LE:
      start += 2;
      if (start > end) return -1;
      length = chunk[pos]! | (chunk[pos + 1]! << 8);
      break;
    case PLAIN_U32LE:
      start += 4;
      if (start > end) return -1;
      length = (chunk[pos]! | (chunk[pos + 1]! << 8) | (chunk[pos + 2]! << 16) |
        (chunk[pos + 3]! << 24)) >>> 0;
      break;
    default: // PLAIN_FIXED
      length = limit;
  }
  return length > limit || start + length > end ? -1 : length * 8 + start - pos;
}

/**
 * The tight loop of {@linkcode HeaderDecoder.takeAll} for plain headers:
 * appends the frames with a {@linkcode plainHeader} that lie whole in
 * `chunk` from `pos` on to `out` and returns where it stopped.
 */
function takePlain(
  chunk: Uint8Array,
  pos: number,
  kind: number,
  limit: number,
  out: Uint8Array[],
): number {
  const end = chunk.length;
  const buffer = chunk.buffer;
  const base = chunk.byteOffset;
  // Two loops: a branch per frame between copy and view slows V8 (as in takeAll()).
  if (COPY_BELOW > 0) {
    for (let v = 0; pos < end && (v = plainHeader(chunk, pos, kind, limit)) >= 0;) {
      const length = Math.floor(v / 8);
      const start = pos + (v & 7);
      out.push(
        length < COPY_BELOW
          ? copySmall(chunk, start, length)
          : new Uint8Array(buffer, base + start, length),
      );
      pos = start + length;
    }
    return pos;
  }
  for (let v = 0; pos < end && (v = plainHeader(chunk, pos, kind, limit)) >= 0;) {
    const length = Math.floor(v / 8);
    const start = pos + (v & 7);
    out.push(new Uint8Array(buffer, base + start, length));
    pos = start + length;
  }
  return pos;
}

/**
 * Moves `n` offset bytes at `chunk[from]` to `chunk[to]` (`to > from`, the
 * ranges may overlap), next to their payload: a backward loop for a few
 * bytes, which costs less than `copyWithin()`.
 */
function movePrefix(chunk: Uint8Array, from: number, to: number, n: number): void {
  if (n > 8) chunk.copyWithin(to, from, from + n);
  else for (let i = n - 1; i >= 0; i--) chunk[to + i] = chunk[from + i]!;
}

const NO_BUFFER = new ArrayBuffer(0);

/** The incremental decoder behind every length-declaring format. */
export class HeaderDecoder implements FrameDecoder {
  #parser: HeaderParser;
  // The parser's `u32Limit`, or -1.
  #u32Limit: number;
  // The parser's `plainKind`, or 0; and its limit.
  #plainKind: number;
  #plainLimit: number;
  // The chunk the last view was made of, with its buffer and offset (reading
  // them per frame is measurable).
  #viewOf: Uint8Array | undefined;
  #viewBuffer: ArrayBufferLike = NO_BUFFER;
  #viewBase = 0;
  #prefix: number;
  #trailerLength: number;
  #queue = new ByteQueue();
  /** end() was called: the input is over. */
  #ended = false;
  #scratch: Uint8Array;
  // A frame that spans chunks, filled as bytes arrive.
  #partial: Uint8Array | undefined;
  #partialLength = 0;
  #filled = 0;
  // Header bytes of the partial frame, consumed but not yet part of a returned frame.
  #headerHeld = 0;
  // The header length of a large frame that waits in the queue for its buffer, or -1.
  #waiting = -1;
  // Frames found by end() before it checked for a clean boundary, last first (see decodeAhead).
  #done: Uint8Array[] = [];

  // Where frames that span chunks are copied to (fresh or reused buffers).
  #buffers: FrameBuffers;

  constructor(parser: HeaderParser, options?: DecoderOptions) {
    this.#buffers = new FrameBuffers(options);
    this.#parser = parser;
    this.#u32Limit = parser.u32Limit ?? -1;
    this.#plainKind = parser.plainKind ?? 0;
    this.#plainLimit = parser.limit;
    this.#prefix = parser.prefix;
    this.#trailerLength = parser.trailerLength;
    this.#scratch = new Uint8Array(Math.max(parser.maxHeaderLength, parser.trailerLength, 1));
  }

  /**
   * Private to framewire (reliable sessions): the limit for headers parsed
   * from now on, when the parser can change it; a header already parsed
   * keeps its check.
   */
  setLimit(limit: number): void {
    const parser = this.#parser;
    if (parser.setLimit === undefined) throw new TypeError("Cannot change this framing's limit");
    parser.setLimit(limit);
    this.#u32Limit = parser.u32Limit ?? -1;
    this.#plainLimit = parser.limit;
  }

  get bufferedBytes(): number {
    return this.#queue.length + this.#filled + this.#headerHeld;
  }

  push(chunk: Uint8Array): void {
    chunk = inputChunk(chunk, "decode frames");
    if (this.#ended) throw pushAfterEnd();
    const partial = this.#partial;
    if (partial !== undefined && this.#queue.length === 0) {
      // A frame is being filled: copy straight into it, queue only the rest.
      const n = Math.min(partial.length - this.#filled, chunk.length);
      if (n > 0) {
        copyBytes(n === chunk.length ? chunk : chunk.subarray(0, n), 0, partial, this.#filled);
        this.#filled += n;
        if (n === chunk.length) return;
        chunk = chunk.subarray(n);
      }
    } else if (this.#waiting >= 0 && chunk.length < GATHER_BELOW) {
      // A large frame waits for its buffer: small chunks are copied together, not held one by one.
      this.#queue.gather(chunk);
      return;
    }
    this.#queue.push(chunk);
  }

  next(): Uint8Array | undefined {
    if (this.#partial !== undefined || this.#done.length > 0) return this.#slowNext();
    // A large frame waits for its buffer: its header is parsed already (parsing it again would
    // gather a large offset's bytes again per chunk).
    if (this.#waiting >= 0) return this.#startPartial(this.#waiting);
    const queue = this.#queue;
    const chunk = queue.headChunk;
    if (chunk === undefined) {
      // Every byte is taken: let the last chunk go (an idle connection holds no read buffer).
      if (this.#viewOf !== undefined) this.#forgetView();
      return undefined;
    }
    const parser = this.#parser;
    const pos = queue.headOffset;
    const u32Limit = this.#u32Limit;
    if (u32Limit >= 0 && pos + 4 <= chunk.length) {
      // The common u32be case, parsed inline (a call to parse() per frame costs ~30%).
      const length = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) |
        chunk[pos + 3]!) >>>
        0;
      const end = pos + 4 + length;
      if (length <= u32Limit && end <= chunk.length) {
        queue.advanceHead(end - pos);
        if (length < COPY_BELOW) return copySmall(chunk, pos + 4, length);
        return this.#view(chunk, pos + 4, length);
      }
    }
    const plainKind = this.#plainKind;
    if (plainKind !== 0) {
      // A plain header, parsed inline (as u32be above); anything else, errors included, is
      // parse()'s.
      const v = plainHeader(chunk, pos, plainKind, this.#plainLimit);
      if (v >= 0) {
        const length = Math.floor(v / 8);
        const start = pos + (v & 7);
        queue.advanceHead(start + length - pos);
        if (length < COPY_BELOW) return copySmall(chunk, start, length);
        return this.#view(chunk, start, length);
      }
    }
    const header = parser.parse(chunk, pos, chunk.length);
    if (header >= 0) {
      const length = parser.length;
      const end = pos + header + length + this.#trailerLength;
      if (end <= chunk.length) {
        // Fast path: the whole frame lies in the head chunk.
        if (this.#trailerLength > 0) parser.checkTrailer(chunk, end - this.#trailerLength);
        const prefix = this.#prefix;
        const start = pos + header - prefix;
        // Move the prefix bytes next to the payload (the decoder owns the chunk).
        if (prefix > 0) movePrefix(chunk, pos, start, prefix);
        queue.advanceHead(end - pos);
        if (prefix + length < COPY_BELOW) return copySmall(chunk, start, prefix + length);
        return this.#view(chunk, start, prefix + length);
      }
      return this.#startPartial(header);
    }
    // The header is not complete: a chunk of the last view before this one is done with.
    if (this.#viewOf !== chunk && this.#viewOf !== undefined) this.#forgetView();
    if (queue.length === chunk.length - pos) return undefined;
    // Offset bytes alone complete no header: gathered per chunk as they trickle in, a large
    // offset's would be copied again for every chunk (quadratic).
    if (queue.length <= this.#prefix) return undefined;
    // The header spans chunks: parse a gathered copy of its bytes.
    const n = queue.peekInto(this.#scratch, 0, parser.maxHeaderLength);
    const gathered = parser.parse(this.#scratch, 0, n);
    return gathered < 0 ? undefined : this.#startPartial(gathered);
  }

  /**
   * Appends every complete frame to `out`, as a loop over `next()` would,
   * with plain headers (u32be, and those of a `plainKind`) parsed in one
   * tight loop over the head chunk.
   * With reuseBuffers, call it after every push (as `framed()` does): one
   * push completes at most one frame that spans chunks, and three in one
   * batch would share the two reused buffers.
   *
   * @throws {FrameTooLargeError | MalformedHeaderError} As `next()`; the frames before are in `out`.
   */
  takeAll(out: Uint8Array[]): void {
    const limit = this.#u32Limit;
    const plainKind = this.#plainKind;
    const queue = this.#queue;
    for (;;) {
      const chunk = queue.headChunk;
      // Not while a frame fills or waits for its buffer (its bytes are the head chunk's), nor
      // while end() holds frames.
      const free = chunk !== undefined && this.#partial === undefined && this.#waiting < 0 &&
        this.#done.length === 0;
      if (plainKind !== 0 && free) {
        const start = queue.headOffset;
        const pos = takePlain(chunk, start, plainKind, this.#plainLimit, out);
        if (pos > start) queue.advanceHead(pos - start);
      } else if (limit >= 0 && free) {
        const start = queue.headOffset;
        const end = chunk.length;
        const buffer = chunk.buffer;
        const base = chunk.byteOffset;
        let pos = start;
        // A loop of its own where small frames are copies (Bun): a branch in this one slows V8.
        if (COPY_BELOW > 0) pos = takeCopying(chunk, start, limit, out);
        else {
          while (pos + 4 <= end) {
            const length = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) |
              chunk[pos + 3]!) >>> 0;
            if (length > limit || pos + 4 + length > end) break;
            out.push(new Uint8Array(buffer, base + pos + 4, length));
            pos += 4 + length;
          }
        }
        if (pos > start) queue.advanceHead(pos - start);
      } else if (free) this.#takeParsed(chunk, out);
      // A frame the tight loops cannot take (it spans chunks); after it, they
      // go on with the next chunk.
      const frame = this.next();
      if (frame === undefined) return;
      out.push(frame);
    }
  }

  /**
   * A view of `chunk[start, start + length)`, made with the constructor
   * (cheaper than `subarray` on V8) from the chunk's buffer and offset, read
   * once per chunk (reading them per frame is measurable).
   */
  #view(chunk: Uint8Array, start: number, length: number): Uint8Array {
    if (chunk !== this.#viewOf) {
      this.#viewOf = chunk;
      this.#viewBuffer = chunk.buffer;
      this.#viewBase = chunk.byteOffset;
    }
    return new Uint8Array(this.#viewBuffer, this.#viewBase + start, length);
  }

  /**
   * The tight loop of {@linkcode HeaderDecoder.takeAll} for headers that are
   * not plain: appends the frames that lie whole in the head `chunk` to
   * `out`, each header parsed by `parse()`, and consumes them (also when
   * `parse()` throws at a header after them).
   */
  #takeParsed(chunk: Uint8Array, out: Uint8Array[]): void {
    const queue = this.#queue;
    const parser = this.#parser;
    const trailer = this.#trailerLength;
    const prefix = this.#prefix;
    const end = chunk.length;
    const first = queue.headOffset;
    let pos = first;
    try {
      while (pos < end) {
        const header = parser.parse(chunk, pos, end);
        if (header < 0) break;
        const length = prefix + parser.length;
        const frameEnd = pos + header - prefix + length + trailer;
        if (frameEnd > end) break;
        if (trailer > 0) parser.checkTrailer(chunk, frameEnd - trailer);
        const start = pos + header - prefix;
        if (prefix > 0) movePrefix(chunk, pos, start, prefix);
        out.push(
          length < COPY_BELOW ? copySmall(chunk, start, length) : this.#view(chunk, start, length),
        );
        pos = frameEnd;
      }
    } finally {
      if (pos > first) queue.advanceHead(pos - first);
    }
  }

  #forgetView(): void {
    this.#viewOf = undefined;
    this.#viewBuffer = NO_BUFFER;
  }

  #slowNext(): Uint8Array | undefined {
    if (this.#done.length > 0) return this.#done.pop();
    return this.#fill();
  }

  /**
   * Starts a frame that spans chunks: it is copied once into memory of its
   * exact size. A frame above {@linkcode EAGER_FRAME} that needs fresh
   * memory waits in the queue, header included, until an eighth of it has
   * arrived (`next()` checks again each time, with the header parsed then).
   */
  #startPartial(header: number): Uint8Array | undefined {
    const queue = this.#queue;
    const prefix = this.#prefix;
    const size = prefix + this.#parser.length;
    // The chunk of the last view is done with: it is not kept while this frame waits or fills.
    if (this.#viewOf !== undefined) this.#forgetView();
    if (
      size > EAGER_FRAME && (queue.length - header + prefix) * 8 < size &&
      this.#buffers.allocates(size)
    ) {
      this.#waiting = header;
      return undefined;
    }
    this.#waiting = -1;
    let frame: Uint8Array;
    try {
      frame = this.#buffers.take(size);
    } catch (error) {
      // A length within a huge (or Infinity) maxFrameLength that cannot be allocated.
      if (error instanceof RangeError) {
        throw new FrameTooLargeError(size, this.#parser.limit, { cause: error });
      }
      throw error;
    }
    if (prefix > 0) queue.readInto(frame, 0, prefix);
    queue.skip(header - prefix);
    this.#headerHeld = header - prefix;
    this.#partial = frame;
    this.#partialLength = size;
    this.#filled = prefix;
    return this.#fill();
  }

  end(): void {
    this.#ended = true;
    // The frames before a bad header are still read first.
    this.#buffers.decodeAhead(() => this.next(), (frames) => this.#done = frames);
    const partial = this.#partial;
    const waiting = this.#waiting;
    if (partial !== undefined || waiting >= 0) {
      // A large frame that never got its buffer (waiting) gets the same error as if it had.
      const prefix = this.#prefix;
      const received = partial !== undefined
        ? this.#filled + this.#queue.length
        : prefix + this.#queue.length - waiting;
      const size = partial !== undefined ? partial.length : prefix + this.#parser.length;
      throw new TruncatedFrameError("payload", received, {
        expected: size + this.#parser.trailerLength,
      });
    }
    if (this.#queue.length > 0) {
      throw new TruncatedFrameError("header", this.#queue.length, {
        expected: this.#parser.fixedHeaderLength,
      });
    }
  }

  /**
   * The unfilled rest of the frame being filled, when no other bytes are
   * queued: a caller that can read into a buffer reads straight into it and
   * reports the count with {@linkcode HeaderDecoder.commitRead}. Else `undefined`.
   */
  readTarget(): Uint8Array | undefined {
    const partial = this.#partial;
    if (partial === undefined || this.#queue.length > 0 || this.#filled === partial.length) {
      return undefined;
    }
    if (partial.length !== this.#partialLength) throw detachedBytes();
    return partial.subarray(this.#filled);
  }

  /** Counts `n` bytes read into the {@linkcode HeaderDecoder.readTarget}. */
  commitRead(n: number): void {
    this.#filled += n;
  }

  /**
   * At a frame boundary, for a `ByteReader` that keeps this decoder and its
   * bytes for the next frame: its next frame that spans chunks gets a
   * buffer of its own size (as after {@linkcode takeBuffered}), and it keeps
   * no chunk it has no bytes of.
   */
  keepAsFresh(): void {
    this.#buffers.forgetSlab();
    if (this.#viewOf !== undefined && this.#viewOf !== this.#queue.headChunk) this.#forgetView();
  }

  /** The unread bytes, handed back (used by `ByteReader`); only at a frame boundary. */
  takeBuffered(): Uint8Array[] {
    if (this.#partial !== undefined || this.#waiting >= 0) return [];
    // As a fresh decoder: no memory of frames before (the reader may keep this one, idle).
    if (this.#viewOf !== undefined) this.#forgetView();
    this.#buffers.forgetSlab();
    return this.#queue.drain();
  }

  #fill(): Uint8Array | undefined {
    const frame = this.#partial!;
    if (frame.length !== this.#partialLength) throw detachedBytes();
    const queue = this.#queue;
    const n = Math.min(frame.length - this.#filled, queue.length);
    if (n > 0) {
      queue.readInto(frame, this.#filled, n);
      this.#filled += n;
    }
    if (this.#filled < frame.length) return undefined;
    const trailer = this.#parser.trailerLength;
    if (trailer > 0) {
      if (queue.length < trailer) return undefined;
      queue.peekInto(this.#scratch, 0, trailer);
      this.#parser.checkTrailer(this.#scratch, 0);
      queue.skip(trailer);
    }
    this.#partial = undefined;
    this.#filled = 0;
    this.#headerHeld = 0;
    return frame;
  }
}
