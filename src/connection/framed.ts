// Copyright 2026 the framewire authors. MIT license.
/// <reference lib="esnext.disposable" preserve="true" />

import { ConnectionError, TruncatedFrameError } from "../errors.ts";
import {
  booleanOption,
  bytesHint,
  checkChunk,
  checkFraming,
  checkOptions,
  checkPayload,
  inputChunk,
  isDetached,
  isDetachedError,
  numberError,
  receivedValue,
} from "../framing/_options.ts";
import { fixedLength } from "../framing/_byte_queue.ts";
import { HeaderDecoder } from "../framing/_header_decoder.ts";
import { DelimitedDecoder } from "../framing/_delimited_decoder.ts";
import { connectionError, isFramewireError } from "../adapters/_errors.ts";
import type { FrameDecoder, FramingLike } from "../framing/types.ts";
import { Coalescer } from "../streams/_coalescer.ts";
import { compactable, Fifo } from "../_fifo.ts";
import type { Conn } from "./types.ts";
import {
  cancelReading,
  claimedReader,
  claimedWriter,
  claimReading,
  claimWriting,
  type DirectReader,
  type DirectWriter,
  readDirect,
  type ReadingCanceller,
  type ReadingClaimer,
  releaseWriting,
  writeDirect,
  type WritingClaimer,
} from "./_direct.ts";

/**
 * Options for {@linkcode framed}. `B` is the type of the buffer under
 * `buffered` (frames may be views of it); it defaults to any.
 */
export interface FramedOptions<B extends ArrayBufferLike = ArrayBufferLike> {
  /**
   * Frames sent in the same tick are gathered into one write until it holds
   * this many bytes (it may exceed them by its last frame); 0 writes every
   * frame on its own. Send buffers start at 16 KiB, grow ×4 up to this size
   * when one tick fills them, and shrink back when no tick needs more than a
   * sixteenth of them (a trickle after a burst). Over a `Conn` with `releasesChunkOnWrite`
   * (every framewire adapter) send buffers are reused once written, and every
   * frame that fits in this many bytes is copied into them; otherwise a
   * payload of 16 KiB or more (or of this many bytes, if fewer and not 0) is
   * written as it is, after its header.
   *
   * @default {262144} (256 KiB)
   */
  coalesce?: number | undefined;
  /**
   * Bytes queued for the socket before `send()` and `writable`'s writes (and
   * `writer.ready`) wait: a send resolves at once while its frame and those
   * before it leave at most this many bytes waiting for the socket, else
   * once enough of them are written. So a loop that awaits each `send()`
   * still has its frames coalesced into large writes, and bounds its memory
   * when the peer reads slowly. A payload written without a copy (larger
   * than `coalesce`) is waited for until written, whatever this says. `0`:
   * every send resolves once its frame is handed to the socket (one socket
   * write per awaited send), and rejects if that fails. Sends left unawaited
   * are not limited: watch `bufferedAmount`.
   *
   * @default {1048576} (1 MiB)
   */
  highWaterMark?: number | undefined;
  /**
   * Let frames be views into buffers framewire reuses: each frame (or batch)
   * is valid only until the next frame (or batch) is requested. Frames that
   * span socket reads then go into reused buffers instead of fresh ones, and
   * over a `Conn` with `read()` (the Deno adapter) the socket is read into
   * the same buffer again, saving fresh memory per byte received; the
   * application promises to be done with a frame before asking for the next.
   * So `readable` must then not be teed, collected, or piped through a stream
   * that queues frames: a frame held past the next read is overwritten,
   * without an error (copy what you keep: `frame.slice()`).
   *
   * @default {false}
   */
  reuseBuffers?: boolean | undefined;
  /**
   * Bytes already read from `conn` that belong to this framing: what
   * `ByteReader.releaseLock()` returns after a handshake in another
   * format. They are decoded before anything read from `conn`, and owned by
   * the connection from now on (frames may be views into them; a
   * length-tracking view of a resizable buffer is taken at the length it
   * has at the call).
   *
   * @default {undefined} (none)
   */
  buffered?: Uint8Array<B> | undefined;
}

/**
 * A duplex of messages over a byte-stream {@linkcode Conn}; see
 * {@linkcode framed}. `B` is the type of the buffers under its frames:
 * `framed()` over a `Conn<ArrayBuffer>` (any framewire adapter's) gives a
 * `FramedConnection<ArrayBuffer>`, whose frames go to APIs that take only
 * `ArrayBuffer`-backed views (`crypto.subtle.digest()`, `new Blob()`,
 * `TextDecoderStream`) without a cast; a plain `FramedConnection` has frames
 * of any buffer.
 */
export interface FramedConnection<B extends ArrayBufferLike = ArrayBufferLike>
  extends AsyncIterable<Uint8Array<B>>, AsyncDisposable {
  /**
   * Frames from the peer. Frames of one socket read may share its buffer:
   * to transfer a frame to a worker, transfer a copy (`frame.slice()`), as
   * transferring the shared buffer empties the other frames. Cancelling it
   * ends reading for good and cancels the conn's readable with the same
   * reason (framewire's adapters then keep draining the socket; a part of a
   * frame received is dropped); sending goes on, and the connection stays
   * open until `close()`. A `break` out of `for await` over it, or a pipe
   * from it aborted by its signal, cancels it, as for any stream (a `break`
   * out of `for await` over the connection itself only pauses; so does one
   * over `readable.values({ preventCancel: true })`).
   */
  readonly readable: ReadableStream<Uint8Array<B>>;
  /**
   * Payloads to the peer. Aborting it closes the connection at once, as a
   * timed-out `close()` does: frames not written yet are dropped, and
   * reading ends as at `close()`. A `pipeTo(fc.writable, { signal })`
   * aborted while a write waits for a peer that reads nothing does not get
   * that far (`pipeTo` waits for that write before it aborts): call
   * `fc.close({ timeout: 0 })` too. Closing it half-closes as `closeWrite()`
   * does, once the writes before it are taken: a `send()` made meanwhile
   * may go out before the end or reject with `CONNECTION_CLOSED`, so send
   * nothing after closing it.
   */
  readonly writable: WritableStream<Uint8Array>;
  /** The underlying connection. */
  readonly conn: Conn;
  /** All frames decoded from one read, handed over at once. */
  batches(): AsyncIterable<Uint8Array<B>[]>;
  /**
   * Bytes read from `conn` so far, including those of a frame still being
   * received (not the `buffered` option's): shows that a large frame is
   * arriving before it is complete.
   */
  readonly bytesRead: number;
  /**
   * Frames and sends `payload` (a string is sent as UTF-8). Resolves once at
   * most `highWaterMark` bytes of it and the frames before it wait for the
   * socket (at once, mostly); a payload written without a copy (larger than
   * `coalesce`; over a `Conn` without `releasesChunkOnWrite`, from 16 KiB),
   * once it is written. Sends resolve in call order, and their callbacks run
   * in that order. Rejects (never throws) with the framing's error for a
   * payload it refuses, and with a `TypeError` for one whose buffer is
   * detached (transferred) at the send. Changing a payload sent without a
   * copy before its send resolves is misuse, but it does not go out short:
   * detached (or, resizable, shrunk or grown) while framed() holds it, it fails the
   * connection with a `CONNECTION_FAILED` error (the frames before it go
   * out, then writing ends: the peer reads a truncated frame, never the
   * frames after it as its bytes; reading goes on). framed() hands such a
   * payload to the conn only once its writable holds nothing; detached or
   * shrunk while a framewire adapter's socket writes it, the write fails
   * (with the same error, or Node's and Deno's `EFAULT`), and the connection
   * must be closed (grown then, it goes out at the length it had). Transfer a payload once its send resolved, or send a copy.
   * Once a framing error ended reading and the application was given it
   * (the peer's bytes are not frames of this format), what was sent before
   * goes out, the connection then closes, and later sends reject with that
   * error.
   */
  send(payload: Uint8Array | string): Promise<void>;
  /**
   * Bytes sent, or taken from `writable`, but not yet handed to the socket
   * (about the frames' size): what a peer that reads slowly makes pile up.
   * Unawaited sends are not limited otherwise; a server sending to many
   * clients can skip or drop a client whose `bufferedAmount` is too large.
   */
  readonly bufferedAmount: number;
  /**
   * Flushes queued frames (those sent, and those written to `writable`
   * before the call), then half-closes (the peer sees the end; reading goes
   * on). Later sends and writes reject with `CONNECTION_CLOSED`. Rejects
   * if the connection has failed (not for a framing error that ended
   * reading and that the application was given: the connection ends once
   * what was sent before went out, and this resolves then, as `close()`
   * does), or if FIN could not be sent (left unawaited, a later `close()`
   * reports that). The flush waits while the peer reads
   * nothing, for ever: a `close({ timeout })` meanwhile bounds it (the
   * connection then closes, and this rejects).
   */
  closeWrite(): Promise<void>;
  /**
   * Flushes queued frames as `closeWrite()` does, then closes both
   * directions. Rejects if the connection failed before frames whose sends
   * (or `writable` writes) had resolved were written (they are lost) and
   * the application has not seen the failure: no send, `closeWrite()`
   * or earlier `close()` promise it waited on rejected with it, no
   * `writable` write did (nor `writable.close()`, even unawaited: the stream
   * itself waits on it), it did not abort `writable`, and no read failed after
   * those sends resolved (any handler on such a promise counts, even
   * `.catch(() => {})`; a read failed by a Conn of one's own breaking its
   * contract, such as a `read()` that resolves no byte count, shows no
   * connection failure and does not count); every `close()` in progress then rejects, and so
   * do those made later until the application waits on one that did. One
   * nobody waits on raises no unhandled rejection for the loss. The FIN of
   * a `closeWrite()` counts as such a frame: if `conn.closeWrite()` failed,
   * `close()` rejects with that failure, unless the application waited on a
   * `closeWrite()` promise or a read failed (as a reset that stopped FIN
   * shows it).
   * The flush waits while the peer reads nothing, for ever unless `timeout`
   * says how long: then the connection closes at once, and frames not
   * written yet are lost (reported as above, with a
   * `CONNECTION_CLOSED` error that says close() timed out; waiting sends
   * reject with it, and a `close()` or `closeWrite()` in progress ends).
   * Closing with unread bytes from the peer makes the OS reset the
   * connection, which may discard what the peer has not read yet: to end
   * cleanly, `closeWrite()` and read to the end first.
   * Reading ends: a read waiting meanwhile ends cleanly, even with part of
   * a frame received, and bytes the conn had read ahead are dropped, with
   * the frames of the last batch that `for await` had not handed over yet
   * (on every runtime alike; closing `conn` itself instead looks like the
   * peer's end: part of a frame is then a `TruncatedFrameError`). Frames
   * already in `readable`'s queue stay there.
   * A `timeout` out of range rejects with a `RangeError` (one that is no
   * number with a `TypeError`), and `options` that are no object
   * (`close(5000)` for `close({ timeout: 5000 })`) with a `TypeError`,
   * before anything closes.
   */
  close(options?: FramedCloseOptions): Promise<void>;
}

/** Options for {@linkcode FramedConnection.close}. */
export interface FramedCloseOptions {
  /**
   * Ms to wait for queued frames to be written; then the connection closes
   * at once (a peer that reads nothing, say one that sent garbage, cannot
   * hold it open). Writes that completed by then count, also when the event
   * loop was blocked until just past it: the I/O that is ready gets a turn
   * first (a 0 ms timer; not for 0). From 0 to 2^31 − 1 (timers take no
   * more), or `Infinity` to wait for ever.
   *
   * @default {Infinity}
   */
  timeout?: number | undefined;
}

interface Waiter {
  /** Bytes written (`#written`) that resolve it. */
  end: number;
  /** The wire position of the last frame it stands for. */
  wireEnd: number;
  promise: Watched<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A send made while writes wait in `writable`, held until they are taken. */
interface Deferred extends Waiter {
  /** It goes on once the sink took this many writable chunks. */
  after: number;
  bytes: Uint8Array;
}

/**
 * A promise that notes whether the application waits on it (`await`,
 * `then`, `catch`), so that a failure it rejects with counts as seen.
 * framewire's own handlers go through {@linkcode follow} and do not count.
 */
class Watched<T> extends Promise<T> {
  // Promises derived from it (by then) are plain ones.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }
  #seen = false;
  /** Set by {@linkcode Watched.carry}: called once the application waits on it. */
  #onSeen: (() => void) | undefined;
  override then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    if (!this.#seen) {
      this.#seen = true;
      this.#onSeen?.();
    }
    return super.then(onfulfilled, onrejected);
  }
  /** Whether the application waits on it. */
  get seen(): boolean {
    return this.#seen;
  }
  /** It rejects with the connection's failure: `seen` runs once the application waits on it. */
  carry(seen: () => void): void {
    if (this.#seen) seen();
    else this.#onSeen = seen;
  }
}

/** `promise.then(...)` that a {@linkcode Watched} promise does not count as the application's. */
function follow<T>(
  promise: Promise<T>,
  onfulfilled?: (value: T) => void,
  onrejected?: (reason: unknown) => void,
): void {
  Promise.prototype.then.call(promise, onfulfilled, onrejected);
}

/** A watched promise with its resolvers. */
function watched(): { promise: Watched<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Watched<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** {@linkcode watched}, raising no unhandled rejection when left unawaited. */
function quiet(): { promise: Watched<void>; resolve: () => void; reject: (e: unknown) => void } {
  const w = watched();
  follow(w.promise, undefined, noop);
  return w;
}

function waiter(end: number, wireEnd: number): Waiter {
  // Unawaited sends are normal: one that fails is no unhandled rejection (later sends fail too).
  return { end, wireEnd, ...quiet() };
}

const encoder = new TextEncoder();
/**
 * Strings of up to this many UTF-16 code units are encoded into a shared
 * scratch buffer (`encodeInto`) and copied from there into the send buffer:
 * `TextEncoder.encode()` allocates a fresh array per call, which costs V8
 * 0.3–0.7 µs whatever the length (Deno, Node), several times a small frame's
 * whole send (the scratch's way: 45–110 ns for 100 ASCII characters).
 */
const SCRATCH_UNITS = 16 * 1024;
/**
 * Not on JavaScriptCore (Bun): there `encode()` costs 35–60 ns, and the view
 * of the scratch a string needs about 95.
 */
const SCRATCH = !("Bun" in globalThis);
/** The scratch buffer (3 bytes per code unit at most) and the last view of it handed out. */
interface Scratch {
  bytes: Uint8Array;
  /** Taken again by a string of the same encoded length. */
  view: Uint8Array;
}
/** Taken out while in use; made on first use. */
let scratch: Scratch | undefined;
const EMPTY = new Uint8Array(0);
/** What a send that need not wait returns. */
const RESOLVED: Promise<void> = Promise.resolve();
/** Stands for the pump while it starts. */
const STARTING: Promise<void> = Promise.resolve();
/** The decoder once reading is over for good: it holds nothing (see `#letGoOfReading()`). */
const SPENT: FrameDecoder = {
  push(): void {
    throw new TypeError("Cannot decode frames as reading ended");
  },
  next: (): undefined => undefined,
  end(): void {},
  bufferedBytes: 0,
};

// Reading through `Conn.read`: read buffers of 4 to 256 KiB and READ_ROOM (x4 after a read that
// fills the room left, /4 when one was used by reads 16 times smaller), a new one once less than
// an eighth (at least 2 KiB) is left; the rest of a frame of 16 KiB or more is read straight into
// its buffer.
const MIN_READ = 4 * 1024;
const MAX_READ = 256 * 1024;
const MIN_ROOM = 2 * 1024;
const DIRECT_MIN = 16 * 1024;
// The largest read buffer a read that may wait long (the socket drained, every byte decoded) goes
// into: what an idle connection holds (Deno's own conn.readable reads 64 KiB at a time).
const IDLE_READ = 64 * 1024;
// Room beyond a read buffer's size for frame headers: frames of a power-of-two size then fit it
// whole (four 64 KiB frames in a 256 KiB buffer, not three and most of a fourth, to be copied).
const READ_ROOM = 1024;

function noop(): void {}

/** The longest timer delay (ms) the runtimes take. */
const MAX_TIMER = 2 ** 31 - 1;

function closingError(): ConnectionError {
  return new ConnectionError("Cannot send as the connection is closing or closed", {
    code: "CONNECTION_CLOSED",
  });
}

/** Codes of a read failure after which nothing can be sent. */
const GONE: ReadonlySet<string> = new Set([
  "CONNECTION_RESET",
  "CONNECTION_TIMEOUT",
  "CONNECTION_CLOSED",
]);

/** Errors that reach the application as they are: the caller's mistakes, not the connection's. */
const usageErrors = new WeakSet<object>();

/**
 * A payload sent without a copy changed its length before it was written: its buffer was
 * detached (transferred) or, resizable, shrunk (or grown, under a length-tracking view: its
 * header declares the length it had). The connection's sending failure.
 */
function payloadChanged(): ConnectionError {
  return new ConnectionError(
    "Cannot send as a payload's buffer was detached (transferred) or resized before it was written: writing ended, and the peer reads a truncated frame (transfer a payload once its send resolved, or send a copy)",
  );
}

/**
 * Reads in a row that a conn's `read()` resolved with 0 bytes (into a buffer of at least one): then
 * reading fails. A `read()` that resolves 0 at once instead of waiting for bytes would otherwise
 * be called again for ever, starving timers and I/O (Go's bufio gives up after as many).
 */
const MAX_EMPTY_READS = 100;

/**
 * What a conn's `read()` resolved with into a buffer of `length` bytes, when it is a byte count it
 * could have read or `null`; else a `TypeError` or `RangeError` (the Conn's mistake: it reaches the
 * application as it is). A count beyond the buffer was taken at its word before (frames of bytes
 * never read), and one that is negative or no integer left reading spinning for ever.
 */
function readCount(n: number | null, length: number, buffer: Uint8Array): number | null {
  if (n === null || (Number.isInteger(n) && n >= 0 && n <= length)) return n;
  // A read that transferred the buffer it was given (its bytes went with it): said so, not as a
  // count beyond a length of 0.
  const error = buffer.length === 0 && isDetached(buffer)
    ? new TypeError(
      "Cannot read from connection as conn.read() detached (transferred) the buffer it was given: it must read into it and leave it in place",
    )
    : numberError(
      n,
      `Cannot read from connection as conn.read() must resolve with the number of bytes it read into the buffer, from 0 to its length (${length}), or null at the end: received ${
        receivedValue(n)
      }`,
    );
  usageErrors.add(error);
  throw error;
}

/**
 * What a conn's method failed with, for the application: a framewire error (also from another
 * copy of the module) or a usage error as it is; another (a Conn of one's own may reject with
 * anything, or nothing) worded and coded as the adapters word a runtime's errors.
 */
function connFailure(action: string, error: unknown): unknown {
  return isFramewireError(error) || usageErrors.has(error as object)
    ? error
    : connectionError(action, error);
}

/** The conn's readable or writable is held by another reader or writer (a second framed()?). */
function locked(side: "readable" | "writable", cause: unknown): TypeError {
  const error = new TypeError(
    `Cannot ${
      side === "readable" ? "read from" : "send to"
    } connection as its ${side} is locked: one framed() per direction of a Conn`,
    { cause },
  );
  usageErrors.add(error);
  return error;
}

/**
 * Conns read through `read()` by a framed connection: `read()` has no lock, so
 * a second reader is refused here (it would take every other read).
 */
const directReaders = new WeakSet<Conn>();

/**
 * Takes a reader or writer of the conn's stream; a stream held elsewhere is a usage error, and so
 * is a conn without one (`stream`: what its `readable` or `writable` is).
 */
function lock<T>(
  side: "readable" | "writable",
  stream: unknown,
  get: (stream: ReadableStream<Uint8Array> & WritableStream<Uint8Array>) => T,
): T {
  const method = side === "readable" ? "getReader" : "getWriter";
  if (typeof (stream as Record<string, unknown> | null | undefined)?.[method] !== "function") {
    const error = new TypeError(
      `Cannot ${
        side === "readable" ? "read from" : "send to"
      } connection as its ${side} must be a ${
        side === "readable" ? "ReadableStream" : "WritableStream"
      }: received ${receivedValue(stream)}`,
    );
    usageErrors.add(error);
    throw error;
  }
  try {
    return get(stream as ReadableStream<Uint8Array> & WritableStream<Uint8Array>);
  } catch (error) {
    throw locked(side, error);
  }
}

/**
 * Turns a byte-stream connection into a duplex of messages framed with
 * `framing`.
 *
 * Receiving: iterate with `for await`, read `readable`, or take whole
 * batches with `batches()` (the fastest: one hand-over per socket read) —
 * one of them at a time. A `break` out of `for await` (or of
 * `batches()`) only pauses: reading stops, the next loop (of any of the
 * three kinds) goes on where it left off, and a peer that keeps sending
 * blocks once the buffers fill; cancel `readable` to stop delivery but keep
 * draining, or `close()`. Once read, `readable` stays the receiver: it takes
 * whole batches into its own queue, which the other two cannot reach.
 * Frames are owned (unless `reuseBuffers`):
 * they stay valid forever, as views of read buffers (up to 257 KiB on Deno,
 * 64 KiB on Node, 512 KiB on Bun: copy a small frame kept for long, so that
 * it does not pin its read buffer).
 * Over a `Conn` with `read()` (the Deno adapter), the rest of a large frame
 * is read straight into its own buffer. A peer that disconnects inside a
 * frame surfaces as `TruncatedFrameError`, an oversized or malformed header
 * as `FrameTooLargeError` or `MalformedHeaderError`: each after the frames
 * before it, and it ends reading. What was sent until the application got
 * the error (replies to those frames) still goes out, as at `close()` (so
 * it waits while the peer reads nothing: `close({ timeout })` bounds that);
 * then the connection closes, and sends fail with the error.
 *
 * Sending: `send()` and `writable` may both be used. Frames go out in call
 * order, across the two (a send waits for the writes before it); frames
 * sent in the same tick are coalesced into socket writes of about
 * `coalesce` bytes. Over framewire's adapters (`releasesChunkOnWrite`)
 * they are copied into send buffers that are reused once written, and only a
 * frame larger than `coalesce` is written as header + payload; over other
 * connections a payload of 16 KiB or more (or of `coalesce` bytes, if fewer
 * and not 0) is. Such a payload is written as
 * it is, so it must not change until its `send` resolves, which waits until
 * it is written (over a `Conn` without `releasesChunkOnWrite`, whose chunks
 * may be held further on: not at all); a `writable` write resolves once the
 * frame is queued, so a payload written there must not change until the
 * writable is closed. A copied frame's `send` resolves as soon as no more
 * than `highWaterMark` bytes (1 MiB) wait for the socket, its own and those
 * before it: at once, mostly, so that awaiting each send costs no socket
 * write of its own; with `highWaterMark: 0`, once its frame is handed to the
 * socket. When the connection fails, every pending `send` rejects with a
 * `ConnectionError`, and so does every later one; frames whose sends had
 * resolved and that were not written yet are lost, and `closeWrite()`
 * rejects, and so does `close()` unless the
 * application has already seen the failure (a send it awaited, a write, a
 * read). A `send` left
 * unawaited that fails because the connection failed raises no unhandled
 * rejection: await a later `send` (or read, or `close()`) to learn of the
 * failure. A payload the framing refuses rejects its own `send` only (the
 * connection goes on), so await it or handle it.
 *
 * One `framed()` per direction of a `Conn`: two may share one (say, lines
 * one way and length-prefixed the other, each only sending or only
 * receiving; `close()` on either closes the conn for both), but a second
 * that sends, or reads, while the first does fails with a `TypeError` (its
 * sends reject, its reads throw), as does one over a stream the application
 * holds a reader or writer of.
 *
 * Frames are views of `conn`'s chunks or of `buffered`, or copies into
 * `ArrayBuffer`s (or into `conn.allocate`'s buffers): the result's type
 * says so, as a `FramedConnection<B | O | ArrayBuffer>` for a `Conn<B>` and
 * a `buffered` view of an `O`. Over a framewire adapter's connection, a
 * `Conn<ArrayBuffer>`, frames are `Uint8Array<ArrayBuffer>`.
 *
 * @typeParam B The type of the buffers under `conn`'s chunks (and
 * `conn.allocate`'s).
 * @typeParam O The type of the buffer under `buffered`.
 * @param conn The connection (from an adapter's `connect`, `listen`, ...).
 * @param framing The wire format.
 * @param options Coalescing and buffering.
 * @returns The framed connection.
 * @throws {RangeError} A numeric option is out of range (one that is no
 * number at all is a `TypeError`).
 * @throws {TypeError} `conn` is not an object or has no `close()` or
 * `closeWrite()`, `buffered` is not a
 * `Uint8Array` or its buffer was detached (transferred), `framing` has no
 * `encode()` and `decoder()`, or `options` is not an object.
 *
 * @example Request and reply over a pair of in-memory streams
 * ```ts
 * import { framed, lengthPrefixed, type Conn } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * // A loopback Conn: what is written comes back.
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const addr = { transport: "tcp", hostname: "127.0.0.1", port: 0 } as const;
 * const conn: Conn = {
 *   readable, writable, localAddr: addr, remoteAddr: addr,
 *   closeWrite: () => writable.close(), close() {}, closed: Promise.resolve(),
 * };
 *
 * const fc = framed(conn, lengthPrefixed());
 * fc.send("ping"); // unawaited sends go out in call order, coalesced
 * fc.send("pong");
 * const closing = fc.closeWrite(); // flushes, then ends the stream
 * const frames: string[] = [];
 * for await (const frame of fc) frames.push(new TextDecoder().decode(frame));
 * await closing;
 * assert.deepEqual(frames, ["ping", "pong"]);
 * ```
 *
 * @example A line-based handshake, then length-prefixed frames
 * ```ts
 * import { ByteReader, framed, lengthPrefixed, lines, type Conn } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * // The peer's greeting and its first frames, in one chunk.
 * const wire = new Uint8Array([...new TextEncoder().encode("HELLO v1\n"), 0, 0, 0, 2, 104, 105]);
 * const readable = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(wire);
 *     controller.close();
 *   },
 * });
 * const addr = { transport: "tcp", hostname: "127.0.0.1", port: 0 } as const;
 * const conn: Conn = {
 *   readable, writable: new WritableStream(), localAddr: addr, remoteAddr: addr,
 *   closeWrite: () => Promise.resolve(), close() {}, closed: Promise.resolve(),
 * };
 *
 * const reader = new ByteReader(conn.readable);
 * const greeting = await reader.readFrame(lines());
 * assert.equal(new TextDecoder().decode(greeting!), "HELLO v1");
 * // The bytes read past the greeting go on to the next framing.
 * const fc = framed(conn, lengthPrefixed(), { buffered: reader.releaseLock() });
 * const frames: string[] = [];
 * for await (const frame of fc) frames.push(new TextDecoder().decode(frame));
 * assert.deepEqual(frames, ["hi"]);
 * ```
 */
export function framed<
  B extends ArrayBufferLike = ArrayBufferLike,
  O extends ArrayBufferLike = ArrayBuffer,
>(
  conn: Conn<B>,
  framing: FramingLike,
  options: FramedOptions<O> = {},
): FramedConnection<B | O | ArrayBuffer> {
  if ((typeof conn !== "object" && typeof conn !== "function") || conn === null) {
    throw new TypeError(
      `Cannot frame connection as conn must be a Conn: received ${receivedValue(conn)}`,
    );
  }
  // Called only once closing (or on a failure): a Conn of one's own without them would fail then,
  // as a ConnectionError, not as the mistake it is.
  for (const method of ["closeWrite", "close"] as const) {
    if (typeof conn[method] !== "function") {
      throw new TypeError(
        `Cannot frame connection as conn.${method} must be a function: received ${
          receivedValue(conn[method])
        }`,
      );
    }
  }
  checkFraming(framing, "frame connection");
  checkOptions(options, "frame connection");
  // Framed's frames are typed as views of any buffer; they are views of conn's chunks, of
  // `buffered`, of conn.allocate's buffers or of ArrayBuffers framewire made.
  return new Framed(conn, framing, options) as FramedConnection<B | O | ArrayBuffer>;
}

class Framed implements FramedConnection {
  readonly conn: Conn;
  #highWaterMark: number;
  // Read side.
  #decoder: FrameDecoder;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /**
   * Reading claimed from a framewire adapter's conn without its readable (see
   * `claimReading`): #reader is taken only for what the direct path refuses.
   */
  #readClaimed = false;
  /** The streams #reader and #writer lock (the direct paths apply only to a SocketConn's own). */
  #connReadable: ReadableStream<Uint8Array> | undefined;
  #connWritable: WritableStream<Uint8Array> | undefined;
  #readDone = false;
  #readCancelled = false;
  /** close() closed the conn: the end of reading is no truncation, whatever was buffered. */
  #closedHere = false;
  #readError: unknown;
  /** `options.buffered`, until the first read takes it. */
  #buffered: Uint8Array | undefined;
  /**
   * The latest batch asked for (the next one starts once it settled); back to
   * RESOLVED when it settles with none after it, so that no finished batch
   * stays reachable through it (its frames are views of a read buffer).
   */
  #batchChain: Promise<unknown> = RESOLVED;
  /** Counts the batches asked for: which is the latest. */
  #batchCount = 0;
  /** Calls to the async iterator's `next()` not answered yet, in call order. */
  #nextCalls = new Fifo<{
    resolve: (result: IteratorResult<Uint8Array>) => void;
    reject: (e: unknown) => void;
  }>();
  #frames: Uint8Array[] = [];
  #frameIndex = 0;
  #readable: ReadableStream<Uint8Array> | undefined;
  // Reading into own buffers (when the conn has `read`): the buffer and how far it is filled.
  #directRead: ((buffer: Uint8Array) => Promise<number | null>) | undefined;
  /** This connection has claimed the conn's `read()` (see `directReaders`). */
  #readsDirect = false;
  /** Reads in a row that `read()` resolved with 0 bytes (see MAX_EMPTY_READS). */
  #emptyReads = 0;
  #bytesRead = 0;
  #fill: HeaderDecoder | undefined;
  /** The decoder, when it takes a batch of frames faster than a loop over next() does. */
  #batcher: HeaderDecoder | DelimitedDecoder | undefined;
  #reuse: boolean;
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #size = MIN_READ;
  #largestRead = 0;
  // The last read left more than READ_ROOM of its room unfilled: the socket held no more then.
  #readDrained = false;
  // Write side.
  #coalescer: Coalescer;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /**
   * Writing claimed from a framewire adapter's conn without its writable (see
   * `claimWriting`): #writer is taken only for a write the direct path refuses.
   */
  #claimed = false;
  /** Chunks to write: those of #queue from #queueHead on (the ones before were taken). */
  #queue: Uint8Array[] = [];
  /** The length of each chunk of #queue when it was queued. */
  #queueLengths: number[] = [];
  #queueHead = 0;
  /**
   * A chunk's length changed between #enqueue and its write: a payload written without a copy
   * whose buffer was detached (transferred) or shrunk (resizable) before its send resolved.
   */
  #payloadChanged = false;
  /**
   * Queued chunks that are views of payloads (not copied): each is written only when the conn's
   * writable holds nothing, so that it is checked (#takeQueue) just before the socket takes it,
   * not left to wait in the writable's queue, where a change would go unseen. Made for the first
   * (a connection that sends only small frames holds none).
   */
  #views: WeakSet<Uint8Array> | undefined;
  #emitted = 0;
  #written = 0;
  /**
   * The wire position up to which sends and writes have resolved: frames
   * beyond `#written` up to it are lost if the connection fails, and close()
   * says so.
   */
  #promised = 0;
  /**
   * The application saw the failure: it waited on a send or `closeWrite()`
   * promise that rejected with it, a `close()` or a `writable` write
   * rejected with it, or it aborted `writable` itself.
   */
  #shown = false;
  /** Sets #shown (made on first use: only a failure needs it). */
  get #seeFailure(): () => void {
    return this.#seeFailureFn ??= () => {
      this.#shown = true;
    };
  }
  #seeFailureFn: (() => void) | undefined;
  /**
   * `#promised` when a read failure reached the application: frames promised up to there were
   * lost knowingly. Below 0 while none has.
   */
  #readFailedAt = -1;
  /**
   * A send or write rejected with the read's failure reached the application: as a read would
   * (made on first use).
   */
  get #seeReadFailure(): () => void {
    return this.#seeReadFailureFn ??= () => {
      this.#readFailedAt = this.#promised;
    };
  }
  #seeReadFailureFn: (() => void) | undefined;
  #waiters = new Fifo<Waiter>();
  #open: Waiter | undefined;
  #pumping: Promise<void> | undefined;
  #drained: Waiter | undefined;
  #failure: unknown;
  /** The error a read failed with when the connection is gone: new sends fail with it. */
  #readFailure: unknown;
  #writable: WritableStream<Uint8Array> | undefined;
  #closing: Promise<void> | undefined;
  /** The promises of `closeWrite()` calls in progress (made by the first). */
  #closeWrites: Set<Watched<void>> | undefined;
  /**
   * What `conn.closeWrite()` failed with: FIN did not go out. `close()` reports it as a loss when
   * the application has not seen it (an unawaited `closeWrite()`).
   */
  #finFailure: unknown;
  /** The loss `close()` reported (every `close()` in progress reports it). */
  #lossReported: { error: unknown } | undefined;
  /** Rejects once a `close({ timeout })` timed out: every `close()` stops waiting then. */
  #cut: { promise: Promise<void>; reject: (error: unknown) => void } | undefined;
  /**
   * The framing error that ended reading, once the application was given it:
   * the connection closes after what was sent before goes out, and sends fail
   * with it meanwhile (`#failure` once closed).
   */
  #endedBy: unknown;
  /**
   * The framing error that ended reading, thrown by #readBatch but not handed to the
   * application yet: the front end that hands it over calls #handOver. One that does not (a
   * `readable` cancelled meanwhile ends cleanly) leaves the connection as a cancel does.
   */
  #unseenEnd: unknown;
  /** Chunks written to `writable` (counted in write() itself), and taken by its sink. */
  #accepted = 0;
  #sunk = 0;
  #writableOpen = true;
  /** Chunks written before closing began: they still go out. */
  #fence = Infinity;
  #sinkWake: (() => void) | undefined;
  /** A flush completed: everything queued was written (a later failure loses nothing of it). */
  #flushed = false;
  /** Sends made while writes waited in `writable`, each after the `after`-th of them. */
  #deferred = new Fifo<Deferred>();
  /** The payload bytes of `#deferred`, kept up to date (`bufferedAmount` is read per send). */
  #deferredBytes = 0;

  constructor(conn: Conn, framing: FramingLike, options: FramedOptions) {
    const coalesce = options.coalesce ?? 262144;
    const highWaterMark = options.highWaterMark ?? 1024 * 1024;
    if (!Number.isSafeInteger(coalesce) || coalesce < 0) {
      throw numberError(
        coalesce,
        `Cannot frame connection as coalesce must be a non-negative integer: received ${
          receivedValue(coalesce)
        }`,
      );
    }
    if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 0) {
      throw numberError(
        highWaterMark,
        `Cannot frame connection as highWaterMark must be a non-negative integer: received ${
          receivedValue(highWaterMark)
        }`,
      );
    }
    const buffered = options.buffered;
    if (buffered !== undefined && !(buffered instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot frame connection as buffered must be a Uint8Array: received ${bytesHint(buffered)}`,
      );
    }
    const bytes = buffered === undefined
      ? undefined
      : inputChunk(buffered, "frame connection", "the buffer of buffered");
    // At the length it has now (a length-tracking view of a resizable buffer follows it).
    if (bytes !== undefined && bytes.length > 0) this.#buffered = fixedLength(bytes);
    this.conn = conn;
    this.#highWaterMark = highWaterMark;
    this.#reuse = booleanOption(options.reuseBuffers, false, "reuseBuffers", "frame connection");
    this.#decoder = framing.decoder({ reuseBuffers: this.#reuse, allocate: conn.allocate });
    this.#directRead = conn.read;
    if (this.#decoder instanceof HeaderDecoder) this.#batcher = this.#fill = this.#decoder;
    else if (this.#decoder instanceof DelimitedDecoder) this.#batcher = this.#decoder;
    this.#coalescer = new Coalescer(
      framing,
      coalesce,
      (chunk, view) => this.#enqueue(chunk, view),
      conn.releasesChunkOnWrite === true,
    );
  }

  // ---- receiving ----

  /**
   * Reads until at least one frame is decoded; `null` at a clean end. Calls
   * are serialised, so concurrent callers each get their own batch.
   */
  #nextBatch(): Promise<Uint8Array[] | null>;
  #nextBatch(asResult: true): Promise<IteratorResult<Uint8Array[]>>;
  #nextBatch(asResult = false): Promise<Uint8Array[] | null | IteratorResult<Uint8Array[]>> {
    // Not at once when no batch is on its way (a turn sooner): a read that ends reading with a
    // framing error held back from the last batch must not refuse the replies the caller makes in
    // the same turn to the frames before it; nor may it beat a cancel() made in that turn.
    // #readBatch waits for the chain itself: no promise adopting its result (two turns more).
    const next = this.#readBatch(this.#batchChain, asResult, ++this.#batchCount);
    this.#batchChain = next;
    return next;
  }

  /** Reads a batch once `after` (the batch before it) has settled. */
  async #readBatch(
    after: Promise<unknown>,
    asResult: boolean,
    count: number,
  ): Promise<Uint8Array[] | null | IteratorResult<Uint8Array[]>> {
    // Once the batch before settled (a failure is its caller's). Through a promise of nothing,
    // and `after` let go: a call suspended while it waits for the conn (perhaps for long) keeps
    // the value its await resumed with and its parameters, so the batch before, and the read
    // buffer its frames are views of, stayed reachable (concurrent batches().next() calls).
    await (after === RESOLVED ? after : after.then(noop, noop));
    after = RESOLVED;
    const decoder = this.#decoder;
    try {
      while (true) {
        if (this.#readError !== undefined) {
          // Frames decoded before the error were handed over first.
          const error = this.#readError;
          this.#readError = undefined;
          // Unless reading was cancelled or closed meanwhile: then it ends cleanly (below), as
          // when the error comes with a later read; whether it shared a read with those frames is
          // chance.
          if (!this.#readCancelled && !this.#closedHere) {
            this.#unseenEnd = error;
            throw error;
          }
        }
        // Closed by the application: what the conn had read ahead is dropped (the Node and Bun
        // adapters read ahead, the Deno adapter's read() ends at once), so reading ends alike.
        if (this.#readDone || this.#closedHere) {
          this.#readDone = true;
          return asResult ? { done: true, value: undefined } : null;
        }
        let chunk: Uint8Array | null;
        // A conn's readable yielded something that is no Uint8Array: refused below, as the
        // decoder refuses it (`null` and `undefined` too: they are no end, and have no length).
        let notBytes = false;
        try {
          // A framewire adapter's data, handed over without the readable's promises when it holds
          // nothing queued (see #readChunk): awaited here, one async call fewer per read.
          const direct = this.#readDirect();
          if (direct !== undefined) {
            chunk = await direct;
            if (chunk !== null) this.#bytesRead += chunk.length;
          } else if (this.#buffered === undefined && this.#directRead === undefined) {
            // The conn's readable, read here: one async call fewer per read than #readChunk.
            const result = await this.#lockReadable().read();
            if (result.done) chunk = null;
            else {
              chunk = result.value;
              if (chunk instanceof Uint8Array) this.#bytesRead += chunk.length;
              else notBytes = true;
            }
          } else chunk = await this.#readChunk();
        } catch (error) {
          this.#readDone = true;
          if (this.#closedHere) return asResult ? { done: true, value: undefined } : null;
          const failure = connFailure("read from connection", error);
          // The connection is gone (reset, timed out, closed): later sends fail with it at once.
          // Before, the first send after the application saw the reset resolved, and its frame was
          // lost. Sends already on their way settle as their writes do, and a Conn whose reading
          // failed otherwise (CONNECTION_FAILED: its own error) may still send.
          if (isFramewireError(failure) && GONE.has(failure.code)) this.#readFailure = failure;
          // The Conn's own mistake (a read() that resolved a wrong count) as it is.
          if (decoder.bufferedBytes > 0 && !usageErrors.has(error as object)) {
            // The connection failed inside a frame.
            try {
              decoder.end();
            } catch (truncated) {
              if (truncated instanceof TruncatedFrameError) {
                (truncated as { cause?: unknown }).cause = error;
              }
              throw truncated;
            }
          }
          throw failure;
        }
        // Cancelled or closed by the application: a clean end, whatever was buffered.
        if (this.#readCancelled || this.#closedHere) {
          this.#readDone = true;
          return asResult ? { done: true, value: undefined } : null;
        }
        const frames: Uint8Array[] = [];
        try {
          if (notBytes) checkChunk(chunk!, "decode frames");
          else if (chunk === null) {
            this.#readDone = true;
            decoder.end();
          } else if (chunk.length !== 0 || isDetached(chunk)) decoder.push(chunk);
          if (this.#batcher !== undefined) {
            this.#batcher.takeAll(frames);
          } else {
            for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
              frames.push(frame);
            }
          }
        } catch (error) {
          // Out of sync (or truncated): nothing more can be read from this stream. The frames
          // before the error come first, and the connection stays up for the replies to them:
          // whether they shared a read with the error is chance.
          this.#readDone = true;
          if (frames.length > 0) this.#readError = error;
          else {
            this.#unseenEnd = error;
            throw error;
          }
        }
        if (frames.length > 0) return asResult ? { done: false, value: frames } : frames;
      }
    } catch (error) {
      if (asResult) this.#handOver(error);
      throw error;
    } finally {
      if (count === this.#batchCount) {
        this.#batchChain = RESOLVED;
        if (this.#readDone) this.#letGoOfReading();
      }
    }
  }

  /**
   * Reading is over for good (cancelled, closed, ended) and no batch is on its way: the decoder,
   * with the part of a frame it holds (up to maxFrameLength), the read buffer and `buffered` are
   * let go, so that a connection kept to send does not keep them. Before, a readable cancelled
   * inside a large frame kept that frame's buffer for as long as the connection lived.
   */
  #letGoOfReading(): void {
    this.#decoder = SPENT;
    this.#fill = this.#batcher = undefined;
    this.#buf = EMPTY;
    this.#buffered = undefined;
  }

  /**
   * A framewire adapter's next chunk of data (see `readDirect`), when the
   * conn is read through its readable, nothing else is buffered, and the
   * adapter can hand it over directly; else `undefined` (use #readChunk).
   */
  #readDirect(): Promise<Uint8Array | null> | undefined {
    if (this.#buffered !== undefined || this.#directRead !== undefined) return undefined;
    if (this.#reader === undefined && !this.#readClaimed) {
      // A framewire adapter's conn is read without building its readable while it can be.
      const conn = this.conn as Partial<ReadingClaimer>;
      if (conn[claimReading]?.call(this.conn, this.conn) === true) this.#readClaimed = true;
      else this.#lockReadable();
    }
    return (this.conn as Partial<DirectReader>)[readDirect]?.call(
      this.conn,
      this.#readClaimed ? undefined : this.#connReadable!,
    );
  }

  /** The conn's readable's reader, taken on first use (the claim's, when reading is claimed). */
  #lockReadable(): ReadableStreamDefaultReader<Uint8Array> {
    return this.#reader ??= this.#readClaimed
      ? (this.conn as unknown as ReadingClaimer)[claimedReader]()
      : lock("readable", this.#connReadable = this.conn.readable, (r) => r.getReader());
  }

  /**
   * The next bytes: `options.buffered` first, then the conn's `read()` (a
   * readable is read by #readBatch); empty after a read straight into the
   * frame being filled; `null` at the end.
   */
  async #readChunk(): Promise<Uint8Array | null> {
    const buffered = this.#buffered;
    if (buffered !== undefined) {
      this.#buffered = undefined;
      return buffered;
    }
    // The readable is read by #readBatch itself (one async call fewer per read).
    const read = this.#directRead!;
    if (!this.#readsDirect) {
      if (directReaders.has(this.conn)) throw locked("readable", undefined);
      directReaders.add(this.conn);
      this.#readsDirect = true;
    }
    const target = this.#fill?.readTarget();
    if (target !== undefined && target.length >= DIRECT_MIN) {
      const n = this.#counted(await read(target), target.length, target);
      if (n === null) return null;
      this.#bytesRead += n;
      this.#fill!.commitRead(n);
      return EMPTY;
    }
    let buf = this.#buf;
    let pos = this.#pos;
    // With reuseBuffers, the frames handed out are done with once the next batch is asked for:
    // read from the start again unless the decoder still holds bytes of the buffer.
    if (this.#reuse && (target !== undefined || this.#decoder.bufferedBytes === 0)) pos = 0;
    const room = buf.length - pos;
    // The socket was drained and every byte decoded: the next read may wait long (an idle
    // connection), and the buffer it reads into stays reachable meanwhile. A large one is not
    // read into then (owned frames only: reused buffers are kept by design).
    const idle = this.#readDrained && buf.length > IDLE_READ + READ_ROOM && !this.#reuse &&
      this.#decoder.bufferedBytes === 0;
    if (
      room < MIN_ROOM || room < buf.length >> 3 || idle ||
      (pos === 0 && buf.length !== this.#size + READ_ROOM)
    ) {
      // Owned frames are views into the buffer, so a full one is never written again. A buffer
      // filled by a trickle is followed by a smaller one.
      if (this.#largestRead * 16 < this.#size) this.#size = Math.max(MIN_READ, this.#size >> 2);
      // Before a read that may wait long; reads grow again from IDLE_READ as they fill buffers.
      if (idle && this.#size > IDLE_READ) this.#size = IDLE_READ;
      // Zero-filled, never from conn.allocate: frames are views into it, and its unread rest is
      // reachable through frame.buffer.
      buf = this.#buf = new Uint8Array(this.#size + READ_ROOM);
      pos = 0;
      this.#largestRead = 0;
    }
    const into = pos === 0 ? buf : buf.subarray(pos);
    const n = this.#counted(await read(into), buf.length - pos, into);
    if (n === null) return null;
    this.#bytesRead += n;
    if (n > this.#largestRead) this.#largestRead = n;
    if (n === buf.length - pos) this.#size = Math.min(this.#size * 4, MAX_READ);
    // Not counting the room kept for headers: a read of the buffer's size did not drain it.
    this.#readDrained = n < buf.length - pos - READ_ROOM;
    this.#pos = pos + n;
    return buf.subarray(pos, pos + n);
  }

  /**
   * `n`, what the conn's `read()` resolved with into a buffer of `length` bytes, checked (see
   * readCount), and counted when 0 (see MAX_EMPTY_READS).
   */
  #counted(n: number | null, length: number, buffer: Uint8Array): number | null {
    if (readCount(n, length, buffer) !== 0) this.#emptyReads = 0;
    else if (++this.#emptyReads === MAX_EMPTY_READS) {
      const error = new TypeError(
        `Cannot read from connection as conn.read() resolved 0 bytes ${MAX_EMPTY_READS} times in a row: it must wait until it has read a byte, or resolve null at the end`,
      );
      usageErrors.add(error);
      throw error;
    }
    return n;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bufferedAmount(): number {
    return this.#emitted + this.#coalescer.pendingBytes - this.#written + this.#deferredBytes;
  }

  batches(): AsyncIterable<Uint8Array[]> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: (): Promise<IteratorResult<Uint8Array[]>> => {
          if (this.#frameIndex < this.#frames.length) {
            const rest = this.#frames.slice(this.#frameIndex);
            this.#frames = [];
            this.#frameIndex = 0;
            return Promise.resolve({ done: false, value: rest });
          }
          return this.#nextBatch(true);
        },
      }),
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: (): Promise<IteratorResult<Uint8Array>> => {
        if (this.#nextCalls.length === 0 && this.#frameIndex < this.#frames.length) {
          return Promise.resolve({ done: false, value: this.#frames[this.#frameIndex++]! });
        }
        // Calls made while a batch is on its way are answered in call order, once it is here.
        // The first call to wait starts #answer(), which runs until none is left.
        return new Promise((resolve, reject) => {
          if (this.#nextCalls.push({ resolve, reject }) === 1) this.#answer();
        });
      },
    };
  }

  /**
   * Answers the waiting `next()` calls in order, reading batches as needed.
   * Returns once none is left; while it waits for a batch, the call that
   * batch is for stays queued (so a later call does not start another).
   */
  #answer(): void {
    const calls = this.#nextCalls;
    while (calls.length > 0) {
      if (this.#frameIndex < this.#frames.length) {
        calls.shift()!.resolve({ done: false, value: this.#frames[this.#frameIndex++]! });
        continue;
      }
      // Not an async function: one reaction per batch, as an await would be, and no frame of its
      // own to resume.
      follow(this.#nextBatch(), (batch) => {
        if (batch === null) calls.shift()!.resolve({ done: true, value: undefined });
        else if (this.#closedHere) {
          // Read before close() and handed over after it ended reading: the waiting call gets
          // its frame, the rest goes as #endReading() drops a batch (three reads of one would
          // have left them unread).
          calls.shift()!.resolve({ done: false, value: batch[0]! });
        } else {
          this.#frames = batch;
          this.#frameIndex = 0;
        }
        this.#answer();
      }, (error) => {
        this.#handOver(error);
        calls.shift()!.reject(error);
        this.#answer();
      });
      return;
    }
  }

  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>({
      // A whole batch per pull, into the stream's own queue (one frame per pull made it 2.5×
      // slower at 16 B); frames a `for await` left in its batch come first.
      pull: async (controller) => {
        if (this.#frameIndex < this.#frames.length) {
          for (let i = this.#frameIndex; i < this.#frames.length; i++) {
            controller.enqueue(this.#frames[i]!);
          }
          this.#frames = [];
          this.#frameIndex = 0;
          return;
        }
        let batch: Uint8Array[] | null;
        try {
          batch = await this.#nextBatch();
        } catch (error) {
          // Cancelled meanwhile: the stream drops the error, and reading ended as a cancel ends it
          // (the write direction goes on). Else the stream errors now, not once the pull's
          // rejection reaches it: a cancel in between would end the read cleanly after the error
          // was taken as handed over.
          if (this.#readCancelled) return;
          this.#handOver(error);
          controller.error(error);
          return;
        }
        if (batch === null) controller.close();
        else for (const frame of batch) controller.enqueue(frame);
      },
      cancel: (reason) => {
        // Stop reading; the write direction is not affected.
        this.#readCancelled = true;
        this.#readDone = true;
        if (this.#batchChain === RESOLVED) this.#letGoOfReading(); // else once that batch ends
        if (this.#directRead !== undefined) {
          // Keep draining the connection (as cancelling its readable does). A framewire adapter
          // cancels at once and ends the read in progress (a call of another front end waiting
          // for it ends too); another Conn once that read is over.
          const conn = this.conn as Partial<ReadingCanceller>;
          const cancelled = conn[cancelReading]?.call(this.conn, this.conn.readable, reason);
          if (cancelled !== undefined) cancelled.catch(noop);
          else {
            const cancel = (): Promise<void> => this.conn.readable.cancel(reason);
            this.#batchChain.then(cancel, cancel).catch(noop);
          }
          return;
        }
        // Cancelled before its first read: the conn's readable is not locked yet. One that is no
        // stream goes through #lockReadable() too, for its TypeError in framewire's words.
        if (
          this.#readClaimed ||
          (this.#reader === undefined &&
            typeof (this.conn.readable as { cancel?: unknown } | null | undefined)?.cancel !==
              "function")
        ) return this.#lockReadable().cancel(reason);
        return (this.#reader ?? this.conn.readable).cancel(reason);
      },
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  // ---- sending ----

  send(payload: Uint8Array | string): Promise<void> {
    try {
      // Writes the writable has taken but not handed on yet go first (call order).
      if (this.#accepted !== this.#sunk) return this.#defer(payload);
      return this.#promiseFor(this.#add(payload, false));
    } catch (error) {
      // Quiet only when the connection failed (every later send says so too); a refused
      // payload, a send after close() or to a locked conn is the caller's mistake, and stays loud.
      const failed = error === this.#failure || error === this.#endedBy ||
        error === this.#readFailure;
      if (!failed || usageErrors.has(error as object)) return Promise.reject(error);
      const { promise, reject } = quiet();
      reject(error);
      // Only the connection's failure shows a loss: the framing error that ended reading says
      // nothing of frames whose sends resolve after it (#readFailedAt counts those before).
      if (error === this.#failure) promise.carry(this.#seeFailure);
      // The read's failure (a reset a cancelled `readable` dropped) reaches the application here.
      else if (error === this.#readFailure) promise.carry(this.#seeReadFailure);
      return promise;
    }
  }

  /**
   * Queues a frame; throws if it cannot be queued. `early`: the frame was
   * sent (or written) before closing began. Returns whether the coalescer
   * copied it.
   */
  #add(payload: Uint8Array | string, early: boolean): boolean {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#readFailure !== undefined) throw this.#readFailure;
    if (this.#closing !== undefined && !early) throw this.#endedBy ?? closingError();
    // The first send takes writing (the conn's writer, or a framewire adapter's claim), so that a
    // conn whose writable is held elsewhere (by a second framed() too) refuses it at once,
    // whatever its size, not later in the pump, where a small one would fail quietly. A payload
    // refused below gives writing back: the writable stays free for another framed().
    this.#claimWriter();
    if (this.#failure !== undefined) throw this.#failure;
    let bytes = payload as Uint8Array;
    // A short string goes through the scratch, taken out while in use (a send made from within
    // this one, by a conn's own sink, encodes into a buffer of its own); the coalescer copies it
    // before it returns.
    let borrowed: Scratch | undefined;
    if (typeof payload === "string") {
      if (SCRATCH && payload.length <= SCRATCH_UNITS) {
        borrowed = scratch ?? { bytes: new Uint8Array(SCRATCH_UNITS * 3), view: EMPTY };
        scratch = undefined;
        const n = encoder.encodeInto(payload, borrowed.bytes).written;
        // A view made by the constructor: subarray() costs V8 twice as much.
        bytes = borrowed.view.length === n
          ? borrowed.view
          : (borrowed.view = new Uint8Array(borrowed.bytes.buffer, 0, n));
      } else bytes = encoder.encode(payload);
    }
    let copied: boolean;
    try {
      copied = this.#coalescer.add(bytes, true, borrowed !== undefined);
    } catch (error) {
      // Nothing of this framed() was sent, is queued or waits: the writable stays free.
      if (
        this.#emitted === 0 && this.#coalescer.pendingBytes === 0 &&
        this.#accepted === this.#sunk && this.#deferred.length === 0
      ) this.#releaseWriter(true);
      throw error;
    } finally {
      if (borrowed !== undefined) scratch = borrowed;
    }
    // A full slab starts the pump, which can fail at once.
    if (this.#failure !== undefined) throw this.#failure;
    return copied;
  }

  /**
   * The promise of the frame just queued: resolves once at most
   * highWaterMark bytes of it and those before it wait for the socket; a
   * payload written as it is (not `copied`), once it is written. In call
   * order. `own`: the promise of a send made behind `writable` writes, which
   * waits here in its place among the others (its callbacks run in call
   * order with theirs).
   */
  #promiseFor(copied: boolean, own?: Waiter): Promise<void> {
    const wireEnd = this.#emitted + this.#coalescer.pendingBytes;
    const end = wireEnd - (copied ? this.#highWaterMark : 0);
    if (end <= this.#written && this.#waiters.length === 0) {
      this.#promised = wireEnd;
      return RESOLVED;
    }
    // Sends whose bytes wait in the same slab share one promise.
    const open = this.#open;
    if (open !== undefined && own === undefined) {
      if (end > open.end) open.end = end;
      open.wireEnd = wireEnd;
      return open.promise;
    }
    let w: Waiter;
    if (own === undefined) w = waiter(end, wireEnd);
    else {
      // Quiet, as a waiter is (see waiter()).
      follow(own.promise, undefined, noop);
      w = own;
      w.end = end;
      w.wireEnd = wireEnd;
    }
    this.#open = this.#coalescer.pendingBytes > 0 ? w : undefined;
    this.#waiters.push(w);
    return w.promise;
  }

  /**
   * Locks the conn's writable, keeping which stream it was (see `writeDirect`);
   * the claim's writer when writing is claimed.
   */
  #lockWritable(): WritableStreamDefaultWriter<Uint8Array> {
    if (this.#claimed) return (this.conn as unknown as WritingClaimer)[claimedWriter]();
    return lock("writable", this.#connWritable = this.conn.writable, (w) => w.getWriter());
  }

  /**
   * Takes writing unless taken: claimed from a framewire adapter's conn before
   * its writable is built (none is built for it), else the conn's writer; a
   * writable held elsewhere fails this connection.
   */
  #claimWriter(): void {
    if (this.#writer !== undefined || this.#claimed) return;
    if ((this.conn as Partial<WritingClaimer>)[claimWriting]?.call(this.conn, this.conn) === true) {
      this.#claimed = true;
      return;
    }
    try {
      this.#writer = this.#lockWritable();
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Gives writing back: the conn's writable is free for another writer.
   * `retake`: this connection may take it again (after a refused first send;
   * not after closeWrite()).
   */
  #releaseWriter(retake: boolean): void {
    if (this.#claimed) (this.conn as unknown as WritingClaimer)[releaseWriting]();
    else this.#writer?.releaseLock();
    if (retake) {
      this.#claimed = false;
      this.#writer = undefined;
    }
  }

  /** A send made while writes wait in the writable: queued after them. */
  #defer(payload: Uint8Array | string): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#readFailure !== undefined) throw this.#readFailure;
    if (this.#closing !== undefined) throw this.#endedBy ?? closingError();
    let bytes: Uint8Array;
    if (typeof payload === "string") bytes = encoder.encode(payload);
    else {
      checkPayload(payload);
      // A payload send() would copy may be reused once it returns: copied now. A larger one is
      // written as it is, unchanged until its send resolves, as on the direct path. (Not
      // slice(): a Buffer's is a view.)
      bytes = this.#coalescer.copies(payload.length) ? new Uint8Array(payload) : payload;
    }
    const { promise, resolve, reject } = watched();
    // end and wireEnd are set once it is queued.
    this.#deferred.push({
      after: this.#accepted,
      bytes,
      end: 0,
      wireEnd: 0,
      promise,
      resolve,
      reject,
    });
    this.#deferredBytes += bytes.length;
    return promise;
  }

  /**
   * The sink took writable chunk number `#sunk` (or takes no more: `upTo`
   * Infinity): the sends made after it was written go on. Each is taken off
   * the queue once done (a failure meanwhile rejected it with the rest), not
   * spliced off in a batch: one write at a time releasing one send each was
   * quadratic in the sends deferred.
   */
  #releaseDeferred(upTo = this.#sunk): void {
    const deferred = this.#deferred;
    for (let d = deferred.peek(); d !== undefined && d.after <= upTo; d = deferred.peek()) {
      const { bytes, promise, reject } = d;
      this.#deferredBytes -= bytes.length;
      try {
        // Resolved now, or waits as a direct send does, with its own promise.
        if (this.#promiseFor(this.#add(bytes, true), d) === RESOLVED) d.resolve();
      } catch (error) {
        // A payload the framing refuses stays loud, as on the direct path.
        if (error === this.#readFailure) {
          follow(promise, undefined, noop);
          promise.carry(this.#seeReadFailure); // as in send()
        }
        if (error === this.#failure && !usageErrors.has(error as object)) {
          follow(promise, undefined, noop);
          promise.carry(this.#seeFailure);
        }
        reject(error);
      }
      deferred.shift();
    }
    const wake = this.#sinkWake;
    this.#sinkWake = undefined;
    wake?.();
  }

  /** The writable takes no more chunks: whatever it counted, nothing more comes. */
  #writableOver(): void {
    this.#writableOpen = false;
    this.#accepted = this.#sunk;
    if (this.#fence > this.#sunk) this.#fence = this.#sunk;
    // Sends held for writes that will never reach the sink go now.
    this.#releaseDeferred(Infinity);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= this.#makeWritable();
  }

  #makeWritable(): WritableStream<Uint8Array> {
    let aborted = false;
    const abort = (reason: unknown): void => {
      // Once: the signal's listener runs at once, the sink's abort() after the write in progress.
      if (aborted) return;
      aborted = true;
      this.#shown = true; // the application gave up on what it wrote
      this.#writableOver();
      // The application's own reason, not a runtime's error: not worded as one (isFramewireError
      // keeps a framewire error the application aborted with).
      this.#fail(
        isFramewireError(reason)
          ? reason
          : new ConnectionError("Cannot send as the writable was aborted", { cause: reason }),
      );
      this.#closeNow();
    };
    return new WritableStream<Uint8Array>({
      // abort() waits for the write in progress, which may wait for a peer that reads nothing.
      start: (controller) =>
        controller.signal?.addEventListener("abort", () => abort(controller.signal.reason)),
      write: (payload) => {
        this.#sunk++;
        // A payload the framing refuses, or a closed connection, errors the writable. A chunk
        // written before closing began still goes out.
        try {
          // No promise: the writable waits on highWaterMark by itself.
          this.#add(payload, this.#sunk <= this.#fence);
        } catch (error) {
          if (error === this.#failure) this.#shown = true; // as in send()
          else if (error === this.#readFailure) this.#seeReadFailure();
          this.#writableOver();
          throw error;
        }
        // Its own frame's end: sends deferred behind it (released now) wait on their own.
        const wireEnd = this.#emitted + this.#coalescer.pendingBytes;
        this.#releaseDeferred();
        if (wireEnd - this.#written > this.#highWaterMark) {
          if (this.#drained === undefined) this.#drained = waiter(0, wireEnd);
          else this.#drained.wireEnd = wireEnd;
          return this.#drained.promise;
        }
        // Not lowered: a send released above may have resolved beyond this write's frame.
        if (wireEnd > this.#promised) this.#promised = wireEnd;
        return undefined;
      },
      // Closing the writable half-closes the connection, as closing a Conn's writable does.
      close: () => {
        this.#writableOver();
        return this.closeWrite();
      },
      abort,
    }, {
      highWaterMark: 1,
      // Runs in write() itself, in call order: counts the chunks the sink has yet to take.
      size: () => {
        // Once the sink failed or closed, the stream refuses the chunk: it never comes.
        if (this.#writableOpen) {
          this.#accepted++;
          // The writer is taken in write() itself, in call order with another framed()'s sends
          // (the sink runs later). Held elsewhere: this connection fails, and the sink refuses
          // the chunk with that error.
          if (this.#failure === undefined) this.#claimWriter();
        }
        return 1;
      },
    });
  }

  #enqueue(chunk: Uint8Array, view = false): void {
    // Sending failed (a failed write errors the writer too; a payload changed before its write
    // does not): what was framed after it is not written.
    if (this.#failure !== undefined) return;
    this.#queue.push(chunk);
    this.#queueLengths.push(chunk.length);
    if (view) (this.#views ??= new WeakSet()).add(chunk);
    this.#emitted += chunk.length;
    this.#open = undefined;
    if (this.#pumping === undefined) this.#startPump();
  }

  /** Writes what is queued, unless writes are in progress (they go on with it). */
  #startPump(): void {
    // One chunk (a lone flush, as in request and reply) and the writer taken: straight to a
    // framewire adapter's socket when its writable holds nothing, without the stream's promises,
    // and followed with one reaction instead of the async pump's (as the pump would, in order).
    const head = this.#queueHead;
    if (
      this.#queue.length - head === 1 && (this.#writer !== undefined || this.#claimed) &&
      this.#queue[head]!.length === this.#queueLengths[head]
    ) {
      const chunk = this.#queue[head]!;
      const direct = (this.conn as Partial<DirectWriter>)[writeDirect]?.call(
        this.conn,
        chunk,
        this.#connWritable,
      );
      if (direct !== undefined) {
        this.#dropQueue();
        const length = chunk.length;
        this.#pumping = direct.then(() => {
          this.#written += length;
          this.#coalescer.written(this.#written);
          this.#settle();
          this.#pumping = undefined;
          if (this.#queue.length > this.#queueHead) this.#startPump();
        }, (error) => {
          this.#settle(); // sends whose frames were written resolve
          this.#fail(error);
          this.#pumping = undefined;
        });
        return;
      }
    }
    this.#pumping = STARTING;
    const pumping = this.#pump();
    // A pump that failed before its first await has already cleared #pumping.
    if (this.#pumping === STARTING) this.#pumping = pumping;
  }

  async #pump(): Promise<void> {
    try {
      // Taken for the first write that does not go straight to the socket (when writing is
      // claimed, only then is the conn's writable built).
      if (!this.#claimed) this.#writer ??= this.#lockWritable();
      while (this.#queue.length > this.#queueHead) {
        const chunks = this.#takeQueue();
        if (chunks.length === 0) break; // its first chunk changed
        // One chunk (a lone flush, as in request and reply): straight to a framewire adapter's
        // socket when its writable holds nothing, without the stream's promises.
        const direct = chunks.length === 1
          ? (this.conn as Partial<DirectWriter>)[writeDirect]?.call(
            this.conn,
            chunks[0]!,
            this.#connWritable,
          )
          : undefined;
        const writes: Promise<void>[] = [];
        for (const chunk of chunks) {
          const write = direct ?? (this.#writer ??= this.#lockWritable()).write(chunk);
          // Counted as each write completes (in order), so that #written is current when a
          // close() times out mid-batch.
          const length = chunk.length;
          write.then(() => this.#written += length, noop);
          writes.push(write);
        }
        try {
          await writes[writes.length - 1];
        } catch (error) {
          // The chunks written before the one that failed were counted: their frames were not lost.
          await Promise.allSettled(writes);
          this.#settle(); // sends whose frames were written resolve
          throw error;
        }
        this.#coalescer.written(this.#written);
        this.#settle();
        if (this.#payloadChanged) break;
      }
      if (this.#payloadChanged) {
        // Its header may have gone out (in an earlier write, or with the frames before it): the
        // connection cannot go on, and the peer must not take the frames after it for its bytes.
        // The end of writing shows it a truncated frame; reading goes on.
        this.#fail(payloadChanged());
        // Writing claimed and no writer taken: the conn's own closeWrite(), at once (FIN before
        // the sends' rejections are seen), as the close() of a writable started long ago would.
        if (this.#claimed && this.#writer === undefined) this.conn.closeWrite().catch(noop);
        else (this.#writer ??= this.#lockWritable()).close().catch(noop);
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#pumping = undefined;
    }
  }

  /**
   * Takes the queued chunks to write as one batch: those before the first whose length changed
   * since it was queued (then sets #payloadChanged and drops the rest), and before the first view
   * of a payload that is not first (left queued, for the next batch: the chunks after it are
   * not copied, as copying them for each such batch was quadratic in the payload views queued).
   */
  #takeQueue(): Uint8Array[] {
    const chunks = this.#queue;
    const lengths = this.#queueLengths;
    const head = this.#queueHead;
    for (let i = head; i < chunks.length; i++) {
      if (chunks[i]!.length !== lengths[i]) {
        this.#payloadChanged = true;
        this.#dropQueue();
        return chunks.slice(head, i);
      }
      if (i > head && this.#views?.has(chunks[i]!)) {
        const batch = chunks.slice(head, i);
        chunks.fill(undefined as unknown as Uint8Array, head, i); // let them go with the batch
        if (compactable(i, chunks.length)) {
          // Drop the taken slots now and then (amortised linear).
          chunks.splice(0, i);
          lengths.splice(0, i);
          this.#queueHead = 0;
        } else {
          this.#queueHead = i;
        }
        return batch;
      }
    }
    this.#dropQueue();
    return head === 0 ? chunks : chunks.slice(head);
  }

  /** Empties #queue (payload views among its chunks are let go). */
  #dropQueue(): void {
    this.#queue = [];
    this.#queueLengths = [];
    this.#queueHead = 0;
  }

  /**
   * Resolves the sends (and the writable's write) that may resolve now. `final`: the connection
   * is about to close, so only those whose frames were written.
   */
  #settle(final = false): void {
    if (this.#readFailure !== undefined) final = true;
    // Taken one by one (slice() of those left, per settle, was quadratic in the sends waiting).
    const waiters = this.#waiters;
    for (
      let w = waiters.peek();
      w !== undefined && (final ? w.wireEnd : w.end) <= this.#written && w !== this.#open;
      w = waiters.peek()
    ) {
      waiters.shift();
      if (w.wireEnd > this.#promised) this.#promised = w.wireEnd;
      w.resolve();
    }
    const drained = this.#drained;
    if (
      drained !== undefined &&
      (final
        ? drained.wireEnd <= this.#written
        : Math.max(this.#emitted, drained.wireEnd) - this.#written <= this.#highWaterMark)
    ) {
      this.#drained = undefined;
      if (drained.wireEnd > this.#promised) this.#promised = drained.wireEnd;
      drained.resolve();
    }
  }

  /** A front end hands `error` from #nextBatch to the application. */
  #handOver(error: unknown): void {
    // The application saw a read fail: frames promised up to now are lost knowingly (close()).
    // Not when the read failed: a `readable` cancelled meanwhile drops the error unseen.
    if (!usageErrors.has(error as object)) this.#readFailedAt = this.#promised;
    if (error === undefined || error !== this.#unseenEnd) return;
    this.#unseenEnd = undefined;
    this.#endAfter(error);
  }

  /**
   * A framing error ended reading and the application has it: what it sent
   * before goes out (as at `close()`), then the connection closes.
   */
  #endAfter(error: unknown): void {
    this.#endedBy = error;
    (this.#closing ??= this.#flush())
      .then(() => this.#fail(error), noop)
      .finally(() => closeQuietly(this.conn));
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    // A chunk an adapter refused as detached or shrunk (before or while writing it): one error
    // for a payload changed before it was written, whoever saw it.
    this.#failure = isDetachedError(error)
      ? payloadChanged()
      : isFramewireError(error) || usageErrors.has(error as object)
      ? error
      : connectionError("send", error);
    // Nothing more is written: the chunks still queued (payload views among them) are let go.
    this.#dropQueue();
    // A writable write waiting for the queue to drain fails the writable's write with it.
    if (this.#drained !== undefined) this.#shown = true;
    for (const w of this.#waiters.drain()) {
      w.promise.carry(this.#seeFailure);
      w.reject(this.#failure);
    }
    this.#open = undefined;
    this.#drained?.reject(this.#failure);
    this.#drained = undefined;
    for (const d of this.#deferred.drain()) {
      // Quiet, as a queued send is: later sends and reads report the failure.
      follow(d.promise, undefined, noop);
      d.promise.carry(this.#seeFailure);
      d.reject(this.#failure);
    }
    this.#deferredBytes = 0;
    const wake = this.#sinkWake;
    this.#sinkWake = undefined;
    wake?.();
  }

  /** Writes everything queued (writes to `writable` before now too); rejects if the connection failed. */
  async #flush(): Promise<void> {
    this.#fence = this.#accepted;
    while (this.#sunk < this.#fence && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#sinkWake = resolve);
    }
    this.#coalescer.flush();
    while (this.#pumping !== undefined) await this.#pumping;
    if (this.#failure !== undefined) throw this.#failure;
    this.#flushed = true;
  }

  closeWrite(): Promise<void> {
    const closing = this.#closing ??= (async () => {
      await this.#flush();
      this.#releaseWriter(false);
      try {
        await this.conn.closeWrite();
      } catch (error) {
        throw this.#finFailure = connFailure("close connection for writing", error);
      }
    })();
    // The application's own promise, one per call: one it waits on shows it the failure. Not
    // an unhandled rejection when left unawaited: close() reports the loss then.
    const { promise, resolve, reject } = quiet();
    const closeWrites = this.#closeWrites ??= new Set();
    closeWrites.add(promise);
    // Also ends when a close({ timeout }) timed out (a Conn may leave its writes pending).
    follow(Promise.race([closing, (this.#cut ??= quiet()).promise]), () => {
      closeWrites.delete(promise);
      resolve();
    }, (error) => {
      closeWrites.delete(promise);
      if (error === this.#failure || error === this.#finFailure) promise.carry(this.#seeFailure);
      reject(error);
    });
    return promise;
  }

  close(options?: FramedCloseOptions): Promise<void> {
    // The loss is no unhandled rejection when nobody waits on this close() (an error handler's
    // `void fc.close()` must not end the process): later close() calls report it until the
    // application has seen it. Other errors (the caller's mistakes) stay loud.
    const { promise, resolve, reject } = watched();
    follow(this.#close(options), resolve, (error) => {
      if (this.#lossReported !== undefined && error === this.#lossReported.error) {
        follow(promise, undefined, noop);
        promise.carry(this.#seeFailure); // waiting on it shows the loss
      }
      reject(error);
    });
    return promise;
  }

  async #close(options?: FramedCloseOptions): Promise<void> {
    // A number is no timeout (it would be ignored): options must be an object.
    if (options !== null) checkOptions(options, "close connection");
    const timeout = options?.timeout ?? Infinity;
    // Timers take at most 2^31 - 1 ms: every runtime fires a longer one after 1 ms.
    if (
      typeof timeout !== "number" ||
      !(timeout >= 0 && (timeout <= MAX_TIMER || timeout === Infinity))
    ) {
      throw numberError(
        timeout,
        `Cannot close connection as timeout must be a number of ms from 0 to ${MAX_TIMER}, or Infinity: received ${
          receivedValue(timeout)
        }`,
      );
    }
    // All close() calls in progress when a loss is found report it; one made after reports it
    // only while the application has not seen it.
    const reportedBefore = this.#lossReported !== undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let closeFailed: { error: unknown } | undefined;
    try {
      // Sends from now on are refused; what was sent or written before goes out first.
      const closing = this.#closing ??= this.#flush();
      const cut = this.#cut ??= quiet();
      if (timeout !== Infinity) {
        const timedOut = (): void => this.#timedOut(timeout); // rejects cut
        // Past the timeout, the I/O that is ready gets a turn first (a 0 ms timer): an event
        // loop blocked until then fires this timer before it hands over the writes that
        // completed meanwhile (Deno reported a frame the peer got as lost). 0 gives up at once.
        timer = timeout === 0
          ? setTimeout(timedOut, 0)
          : setTimeout(() => timer = setTimeout(timedOut, 0), timeout);
      }
      await Promise.race([closing, cut.promise]);
    } catch (error) {
      // A closeWrite() in progress that the application waits on reports the failure, whether
      // its handler runs before this one or after (it follows the same promises).
      if (error === this.#failure || error === this.#finFailure) {
        for (const p of this.#closeWrites ?? []) if (p.seen) this.#shown = true;
      }
      // Already failed: closing is all that is left to do. Only frames whose sends (or writes)
      // had resolved and were lost make it fail, unless the application saw the failure: a
      // promise of its own rejected with it and it waited on that, or `#shown`, or a read
      // failed after they were promised. So does the FIN of a closeWrite() that failed, unless a
      // read failure reached the application (which a reset that stopped FIN shows).
      if (
        this.#lossReported === undefined && !this.#shown &&
        (this.#promised > Math.max(this.#written, this.#readFailedAt) ||
          (error === this.#finFailure && this.#readFailedAt < 0))
      ) {
        this.#lossReported = { error };
      }
      // Seen: a close() that rejected with it, or a send, write or closeWrite() that failed.
      if (this.#lossReported !== undefined && (!reportedBefore || !this.#shown)) {
        throw this.#lossReported.error;
      }
    } finally {
      clearTimeout(timer);
      this.#endReading();
      try {
        this.conn.close();
      } catch (error) {
        // Reported unless a loss is (above): frames lost say more than a conn that failed to close.
        closeFailed = { error: connFailure("close connection", error) };
      }
    }
    if (closeFailed !== undefined) throw closeFailed.error;
  }

  /**
   * A `close({ timeout })` timed out: the frames not written yet are lost, for this reason (a
   * failure before it stays the one reported), and the connection closes. Closing the conn
   * fails the writes in progress, but a Conn of one's own may leave them pending: no close()
   * waits for them.
   */
  #timedOut(timeout: number): void {
    this.#settle(true); // sends whose frames were written resolve first
    const unwritten = this.bufferedAmount > 0 ? " with frames not yet written" : "";
    this.#fail(
      new ConnectionError(`Cannot send as close() timed out after ${timeout} ms${unwritten}`, {
        code: "CONNECTION_CLOSED",
      }),
    );
    this.#closeNow();
  }

  /**
   * After a failure of the application's making (a timed-out `close()`, an aborted `writable`):
   * closes the conn, whose writes in progress a Conn of one's own may leave pending, so no
   * `close()` or `closeWrite()`, in progress or later, waits for them (they end with the failure,
   * a `close()` reporting a loss as it does after any failure).
   */
  #closeNow(): void {
    this.#endReading(); // a read waiting ends cleanly, as at close()
    closeQuietly(this.conn);
    // A close or half-close whose flush completed keeps its outcome (nothing of it was lost).
    if (!this.#flushed) {
      const failed = Promise.reject(this.#failure);
      failed.catch(noop);
      this.#closing = failed;
    }
    (this.#cut ??= quiet()).reject(this.#failure);
  }

  /**
   * Closed here: reading ends. The frames of a batch not handed over yet go
   * with the bytes the conn read ahead, so that what a `for await` or
   * `batches()` gets after close() does not depend on how the bytes were
   * read (one read of three frames, or three reads of one).
   */
  #endReading(): void {
    this.#closedHere = true;
    if (this.#batchChain === RESOLVED) this.#letGoOfReading(); // else once that batch ends
    this.#frames = [];
    this.#frameIndex = 0;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** `conn.close()` where nobody waits for the outcome (a Conn of one's own may throw). */
function closeQuietly(conn: Conn): void {
  try {
    conn.close();
  } catch {
    // close() reports it when it closes the conn itself
  }
}
