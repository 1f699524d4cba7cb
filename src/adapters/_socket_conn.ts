// Copyright 2026 the framewire authors. MIT license.
// Private: the runtime-agnostic half of every adapter. An adapter wraps its runtime socket in a
// small SocketHandle and feeds socket events into a SocketConn, which builds the Conn's web
// streams, backpressure and close semantics once for all three runtimes.

import type { Conn, NetAddr, TcpAddr } from "../connection/types.ts";
import { ConnectionError } from "../errors.ts";
import { Fifo } from "../_fifo.ts";
import {
  checkChunk,
  detachedPayload,
  isDetached,
  isDetachedError,
  ofAnotherRealm,
  plainBytes,
} from "../framing/_options.ts";
import { closedError, connectionError, formatAddr } from "./_errors.ts";
import {
  cancelReading,
  claimedReader,
  claimedWriter,
  claimReading,
  claimWriting,
  readDirect,
  releaseWriting,
  writeDirect,
} from "../connection/_direct.ts";

export type { Conn, NetAddr, TcpAddr };

/** Bytes the readable queues before the socket is paused. */
export const READ_HIGH_WATER_MARK: number = 128 * 1024;

/**
 * What each queued chunk counts for beyond its bytes: about what its objects
 * cost, so that a peer sending one byte per segment pauses the socket after a
 * few hundred chunks, not 128 K of them (some hundred bytes each).
 */
const CHUNK_COST = 512;

/** A conn itself, as its own (not enumerable) property: see `SocketConn`'s accessors. */
const SELF: unique symbol = Symbol("framewire.SocketConn");

/**
 * One end of a socket as a `NetAddr`: `unixPath` for a Unix socket, else the
 * socket's own address. A socket the peer reset as it opened has no remote
 * address (Bun): a client's is then `dialled`, the one it connected to.
 */
export function socketAddr(
  socket: {
    localAddress?: string | undefined;
    localPort?: number | undefined;
    remoteAddress?: string | undefined;
    remotePort?: number | undefined;
  },
  local: boolean,
  unixPath: string | undefined,
  dialled?: TcpAddr,
): NetAddr {
  if (unixPath !== undefined) return { transport: "unix", path: unixPath };
  return local
    ? { transport: "tcp", hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 }
    : {
      transport: "tcp",
      hostname: socket.remoteAddress ?? dialled?.hostname ?? "",
      port: socket.remotePort ?? dialled?.port ?? 0,
    };
}

/**
 * How long (ms) closing a TLS connection may wait, after close_notify and FIN,
 * for the last bytes to go out and the peer's end, before the socket is cut.
 * An object so that tests can lengthen it (a graceful close must not need the cut).
 */
export const tlsClose = { limit: 1000 };

/**
 * How long (ms) a socket whose write failed may stay open for the peer's last bytes or its end
 * before it is cut (Deno, Bun). After a reset they come at once; a peer that is still there and
 * silent (a Unix peer that shut down only its reading, which fails writes) would otherwise keep
 * the socket, and the process alive, until it sends or closes. Node closes it at the failure.
 */
export const FAILED_WRITE_LIMIT = 1000;

/** The runtime operations a SocketConn drives. */
export interface SocketHandle {
  /** Stop delivering data (backpressure); idempotent. */
  pause(): void;
  /** Deliver data again; idempotent. Called first by the readable's first pull. */
  resume(): void;
  /** Resolves once all of `chunk` is handed to the OS; rejects with the runtime error. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional: reads into `buffer` (only while the readable is not reading);
   * `null` at the peer's FIN or once closed; rejects with the runtime error.
   */
  read?(buffer: Uint8Array): Promise<number | null>;
  /** Sends FIN (called once, after the last write resolved). */
  shutdown(): Promise<void>;
  /** Closes the socket now; must end in `SocketConn.terminated()`. Idempotent. */
  destroy(): void;
  /**
   * Optional (TLS): closes gracefully instead of `destroy()`. Sends close_notify and FIN after
   * what the TLS layer still holds of resolved writes, reads (discarding) to the peer's end, then
   * closes (ending in `terminated()`). Called once; `destroy()` follows after tlsClose.limit if
   * the socket is still open then.
   */
  finish?: (() => void) | undefined;
}

/**
 * Errors a conn makes only once something shows them (a write after close() rejects with it, a
 * writable built or errored then): an Error takes a stack trace, microseconds each, and closing
 * made up to three nobody saw.
 */
const CLOSED: unique symbol = Symbol("closed");
const RESET: unique symbol = Symbol("reset");
type LazyError = typeof CLOSED | typeof RESET;

/**
 * A Conn over a SocketHandle. The adapter calls `data`, `end`, `error` and
 * `terminated` from its socket events.
 */
export class SocketConn implements Conn<ArrayBuffer> {
  /**
   * A write resolves once its bytes are in the OS (see
   * `Conn.releasesChunkOnWrite`). A getter on the prototype, so that `{
   * ...conn, writable }` (a wrapped writable that may keep chunks) does not
   * copy it.
   */
  get releasesChunkOnWrite(): boolean {
    return true;
  }
  /**
   * Bytes from the peer; pauses the socket when its queue is full. The
   * chunks are those given to `data`, so `ArrayBuffer`-backed.
   */
  declare readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  /**
   * Reads into a caller's buffer (see `Conn.read`): present when the runtime
   * can, and only while `readable` has not been used.
   */
  declare readonly read: ((buffer: Uint8Array) => Promise<number | null>) | undefined;
  /** Bytes to the peer; a write resolves once handed to the OS. Built on first use. */
  declare readonly writable: WritableStream<Uint8Array>;
  /** This side's address. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /** Resolves once the socket is fully closed; never rejects. */
  readonly closed: Promise<void>;
  /** How frames of this connection are best allocated (see `Conn.allocate`). */
  readonly allocate: ((length: number) => Uint8Array<ArrayBuffer>) | undefined;
  /** Ends the read() in progress with null (close() calls it). */
  #endRead: (() => void) | undefined;
  /** The handle's read() with the conn's error handling; see `read`. */
  #byob: ((buffer: Uint8Array) => Promise<number | null>) | undefined;
  #handle: SocketHandle;
  // Built on first use. With handle.read, a connection read with `read()` never starts the
  // readable's reads (as `Deno.Conn.readable`); without, data flows from the start, and builds
  // the readable when it comes with no direct read waiting (see data()).
  #readable: ReadableStream<Uint8Array> | undefined;
  #reader: ReadableStreamDefaultController<Uint8Array> | undefined;
  /**
   * A claim on reading (see `claimReading`): `null` while the readable is not
   * built, then the reader that locks it.
   */
  #readClaim: ReadableStreamDefaultReader<Uint8Array> | null | undefined;
  #readFailure: Error | undefined;
  /** A failed readable's error is on its way (see pull). */
  #errorScheduled = false;
  /** Why the socket failed (reset, ...), once it did: writes it cut short report it too. */
  #failed = false;
  #failureCause: unknown;
  #writer: WritableStreamDefaultController | undefined;
  /** What the writable is errored with (or starts with, if built later); made when shown. */
  #writableError: Error | LazyError | undefined;
  /** open: deliver; cancelled: discard; done: ended, errored or closed. */
  #read: "open" | "cancelled" | "done" = "open";
  /**
   * The handle starts paused: resumed by the readable's first pull, a direct
   * read, or (without read()) a microtask after the conn is made.
   */
  #paused = true;
  /** `writable` as made, once it is (see `writeDirect`). */
  #writable: WritableStream<Uint8Array> | undefined;
  /**
   * A claim on writing (see `claimWriting`): `null` while the writable is not
   * built, then the writer that locks it.
   */
  #claim: WritableStreamDefaultWriter<Uint8Array> | null | undefined;
  /** Chunks the writable accepted (its size() hook runs once per write()). */
  #accepted = 0;
  /**
   * The lengths chunks had at their write() (read by the size() hook), in order, until the sink
   * takes them: a length-tracking view of a resizable buffer is written at that length.
   */
  #lengths = new Fifo<number>();
  /** A read through `readDirect` waiting for data (the readable's queue is empty meanwhile). */
  #direct:
    | { resolve: (chunk: Uint8Array | null) => void; reject: (error: Error) => void }
    | undefined;
  /**
   * Chunks the sink wrote. The writable hands the sink one chunk at a time,
   * and the first failure ends writing, so this is also the next chunk's index.
   */
  #written = 0;
  /** closeWrite(): chunks accepted before it are written, later ones refused. */
  #fence = Infinity;
  #wake: (() => void) | undefined;
  #sinkError: Error | undefined;
  #shutdown: Promise<void> | undefined;
  #closeRequest: Promise<void> | undefined;
  /** Why writing is over, once it is; made when shown. */
  #writeError: Error | LazyError | undefined;
  #closedMade: ConnectionError | undefined;
  #resetMade: ConnectionError | undefined;
  #writeDone = false;
  #closing = false;
  /** close() was called (not only both directions over). */
  #userClosed = false;
  #terminated = false;
  /** A graceful close (handle.finish) is under way; destroy() when it fires. */
  #finishTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: () => void;

  /**
   * Builds the streams over `handle`.
   *
   * @param handle The runtime socket operations.
   * @param localAddr This side's address.
   * @param remoteAddr The peer's address.
   * @param allocate How frames of this connection are best allocated.
   */
  constructor(
    handle: SocketHandle,
    localAddr: NetAddr,
    remoteAddr: NetAddr,
    allocate?: (length: number) => Uint8Array<ArrayBuffer>,
  ) {
    this.allocate = allocate;
    this.#handle = handle;
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const read = handle.read?.bind(handle);
    this.#byob = read && ((buffer) => this.#readInto(read, buffer));
    // Own enumerable accessors, readable first: `{ ...conn }` builds the readable and then
    // copies no read(), as with an own `readable` field; then the writable, built on first use
    // too. The same getters for every conn (a closure per conn gave each its own hidden class:
    // 1.5 KB more per connection on V8).
    Object.defineProperty(this, SELF, { value: this });
    Object.defineProperties(this, SocketConn.#accessors);
    // Without read(), data flows from the start, into the readable once built (on first use, or
    // when data comes that no direct read waits for): resumed a microtask later, as a readable
    // built here would have been by its first pull.
    if (read === undefined) {
      queueMicrotask(() => {
        if (!this.#paused || this.#read !== "open") return;
        // Unless data filled the readable meanwhile: then paused (as a pull would have left it),
        // also a handle that was delivering from the start (Bun's), which data() took for paused.
        if ((this.#reader?.desiredSize ?? 1) <= 0) return handle.pause();
        this.#paused = false;
        handle.resume();
      });
    }
  }

  /**
   * A write without the writable's machinery (see `writeDirect`): only while
   * no write to the writable is queued or in progress and writing is open;
   * else `undefined`. What the sink's write() does, in the same order.
   */
  [writeDirect](
    chunk: Uint8Array,
    writable: WritableStream<Uint8Array> | undefined,
  ): Promise<void> | undefined {
    // Not a SocketConn itself (Object.create() of one), or the caller writes to a stream that is
    // not this conn's own (replaced in place, or a wrapper's, as a Proxy's), or (`undefined`)
    // holds no claim: no. A write queued or in progress, a direct one too, leaves #accepted above
    // #written.
    if (
      !(#accepted in this) ||
      (writable === undefined ? this.#claim === undefined : writable !== this.#writable) ||
      this.#accepted !== this.#written ||
      this.#closing ||
      this.#shutdown !== undefined || this.#written >= this.#fence || this.#writeDone ||
      this.#failed || !(chunk instanceof Uint8Array) || chunk.length === 0
    ) return undefined;
    this.#accepted++; // as the writable's size() does
    let writing: Promise<void>;
    try {
      writing = this.#handle.write(plainBytes(chunk));
    } catch (error) {
      writing = Promise.reject(error);
    }
    return writing.then(() => this.#settle(true), (cause) => {
      const error = this.#writeFailed(undefined, cause);
      // As after a sink write that rejected: the writable is errored with it.
      this.#errorWritable(error);
      throw error;
    });
  }

  /**
   * Takes writing without building the writable (see `claimWriting`): only
   * for this SocketConn itself, as the caller holds it (not through a Proxy
   * that binds this method), with its own `writable` accessor, before the
   * writable is built.
   */
  [claimWriting](conn: object): boolean {
    if (
      conn !== this || !(#accepted in this) || this.#writable !== undefined ||
      this.#claim !== undefined || !this.#ownAccessor("writable")
    ) return false;
    this.#claim = null;
    return true;
  }

  /** The claim's writer, building the writable (see `claimWriting`). */
  [claimedWriter](): WritableStreamDefaultWriter<Uint8Array> {
    if (this.#claim === undefined) {
      throw new TypeError("Cannot take a writer as writing is not claimed");
    }
    this.#getWritable();
    return this.#claim!;
  }

  /**
   * Takes reading without building the readable (see `claimReading`): only
   * for this SocketConn itself, as the caller holds it (not through a Proxy
   * that binds this method), without `read()`, with its own `readable`
   * accessor, before the readable is built.
   */
  [claimReading](conn: object): boolean {
    if (
      conn !== this || !(#accepted in this) || this.#byob !== undefined ||
      this.#readable !== undefined || this.#readClaim !== undefined ||
      !this.#ownAccessor("readable")
    ) return false;
    this.#readClaim = null;
    return true;
  }

  /** `key` is still this conn's shared accessor (not a stream set in its place). */
  #ownAccessor(key: "readable" | "writable"): boolean {
    return Object.getOwnPropertyDescriptor(this, key)?.get === SocketConn.#accessors[key]!.get;
  }

  /** The claim's reader, building the readable (see `claimReading`). */
  [claimedReader](): ReadableStreamDefaultReader<Uint8Array> {
    if (this.#readClaim === undefined) {
      throw new TypeError("Cannot take a reader as reading is not claimed");
    }
    this.#getReadable();
    return this.#readClaim!;
  }

  /** Ends the claim on writing (see `claimWriting`). */
  [releaseWriting](): void {
    const writer = this.#claim;
    this.#claim = undefined;
    writer?.releaseLock();
  }

  /**
   * A write failed: what it rejects with (`refused`, or else the reason in
   * a write's words); writing is over.
   */
  #writeFailed(refused: TypeError | undefined, cause: unknown): Error {
    // A chunk detached or shrunk before or while the handle wrote it (in parts): refused, in
    // this conn's words.
    const detached = isDetachedError(refused ?? cause);
    if (refused === undefined && detached) {
      refused = detachedPayload(`write to ${formatAddr(this.remoteAddr)}`, "chunk");
    }
    // A write that the socket's failure cancelled (Node: ECANCELED) reports that failure.
    this.#sinkError = refused ?? (this.#closing ? this.#made(CLOSED) : connectionError(
      `write to ${formatAddr(this.remoteAddr)}`,
      this.#failed ? this.#failureCause : cause,
    ));
    this.#settle(false);
    this.#writesFailed(this.#sinkError);
    // What went out before it (a frame's header, part of the chunk) must not leave the peer
    // waiting for the rest: the end of writing shows it a truncated frame.
    if (detached && !this.#closing && this.#shutdown === undefined) {
      this.#handle.shutdown().catch(() => {});
    }
    return this.#sinkError;
  }

  /**
   * The next chunk without the readable's machinery (see `readDirect`): only
   * while the readable is open, holds nothing queued and no such read waits;
   * else `undefined`.
   */
  [readDirect](
    readable: ReadableStream<Uint8Array> | undefined,
  ): Promise<Uint8Array | null> | undefined {
    // As for writeDirect: for this SocketConn's own readable only, or (`undefined`) its claim
    // on reading, with the readable not built yet or empty. (Not a SocketConn itself: its private
    // fields cannot be read.)
    if (!(#accepted in this)) return undefined;
    const reader = this.#reader;
    if (
      this.#direct !== undefined ||
      (readable === undefined
        ? this.#readClaim === undefined
        : reader === undefined || readable !== this.#readable) ||
      this.#read !== "open" || this.#readFailure !== undefined ||
      (reader !== undefined && reader.desiredSize !== READ_HIGH_WATER_MARK)
    ) return undefined;
    // Waiting before the socket resumes (as the readable's pull does), in case a handle
    // delivered data at once.
    const waiting = new Promise<Uint8Array | null>((resolve, reject) =>
      this.#direct = { resolve, reject }
    );
    if (this.#paused) {
      this.#paused = false;
      this.#handle.resume();
    }
    return waiting;
  }

  /** Ends a direct read in progress: with a chunk, done (`null`), or an error. */
  #endDirect(chunk: Uint8Array | null, error?: Error): void {
    const direct = this.#direct;
    if (direct === undefined) return;
    this.#direct = undefined;
    if (error !== undefined) direct.reject(error);
    else direct.resolve(chunk);
  }

  /**
   * `readable`, `read` and `writable`, shared by every conn. They find
   * theirs through `SELF`, which an `Object.create(conn)` or a `Proxy` of the
   * conn (the getter's `this`) reaches too.
   */
  static #accessors: PropertyDescriptorMap = {
    readable: {
      get(this: { [SELF]: SocketConn }): ReadableStream<Uint8Array> {
        return this[SELF].#getReadable();
      },
      enumerable: true,
      configurable: true,
    },
    read: {
      get(this: { [SELF]: SocketConn }): SocketConn["read"] {
        const conn = this[SELF];
        return conn.#readable === undefined ? conn.#byob : undefined;
      },
      enumerable: true,
      configurable: true,
    },
    writable: {
      get(this: { [SELF]: SocketConn }): WritableStream<Uint8Array> {
        return this[SELF].#getWritable();
      },
      enumerable: true,
      configurable: true,
    },
  };

  /**
   * Builds the writable on first use (a connection that never writes holds
   * none: about 2 KB less on V8), locked by the claim's writer if writing is
   * claimed. Errored from the start if writing has already failed or the
   * socket is gone.
   */
  #getWritable(): WritableStream<Uint8Array> {
    if (this.#writable !== undefined) return this.#writable;
    const writable = this.#newWritable();
    this.#writable = writable;
    if (this.#claim === null) this.#claim = writable.getWriter();
    return writable;
  }

  #newWritable(): WritableStream<Uint8Array> {
    const handle = this.#handle;
    const remoteAddr = this.remoteAddr;
    return new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writer = controller;
        if (this.#writableError !== undefined) controller.error(this.#shownWritableError());
        // abort() waits for the write in progress, which a peer that reads nothing never lets
        // finish: close at once instead (the write then rejects). After abort() has begun
        // erroring the stream with its reason, which would otherwise be the close's error. Not
        // if the conn had errored it already (abort() of an errored stream does nothing), as a
        // writable built after writing ended is until its start() completes: a close() would
        // make a reset moot (closeWrite() would resolve).
        controller.signal?.addEventListener("abort", () => {
          if (this.#writableError === undefined) queueMicrotask(() => this.close());
        });
      },
      write: (chunk) => {
        // The length it had at its write() (each write() ran the size() hook, in this order).
        const length = this.#lengths.shift();
        if (this.#closing || this.#shutdown !== undefined || this.#written >= this.#fence) {
          this.#settle(false);
          throw closedError(remoteAddr);
        }
        // Not bytes: refused in the same words everywhere (each runtime's socket takes other
        // types, or fails at once; Bun sent a string and failed its write).
        // A chunk whose buffer was detached (transferred) since its write() reads as empty: its
        // bytes would be lost without a word; one shrunk since (a length-tracking view of a
        // resizable buffer, while it waited behind other writes) would go out short, and the
        // write resolve (before, on every runtime).
        const refused = !(chunk instanceof Uint8Array) ||
          (chunk.length === 0 && isDetached(chunk)) ||
          (length !== undefined && chunk.length < length);
        let writing: Promise<void>;
        try {
          if (refused) {
            checkChunk(chunk, `write to ${formatAddr(remoteAddr)}`);
            throw detachedPayload(`write to ${formatAddr(remoteAddr)}`, "chunk");
          }
          // Nothing to hand over. (Deno's node:tls fails an empty write with EPERM and destroys
          // the socket.) A socket that failed still reports it.
          if (chunk.length === 0 && !this.#failed) return void this.#settle(true);
          // A subclass's instance as a plain view: Bun and Deno write the rest of a partial write
          // through subarray(), which a class of one's own can answer with fewer bytes (Bun then
          // resolved with bytes never sent; Deno wrote 0 bytes for ever). One grown since its
          // write() (length-tracking) goes out at the length it had then.
          const bytes = plainBytes(chunk);
          writing = handle.write(
            length !== undefined && bytes.length > length ? bytes.subarray(0, length) : bytes,
          );
        } catch (error) {
          writing = Promise.reject(error);
        }
        // The writable errors and drops its queue: closeWrite() stops waiting for it.
        return writing.then(() => this.#settle(true), (cause) => {
          throw this.#writeFailed(refused ? cause as TypeError : undefined, cause);
        });
      },
      close: () => this.#closeWrite(),
      abort: () => this.close(),
    }, {
      highWaterMark: 1,
      size: (chunk) => {
        this.#accepted++;
        // (No Uint8Array: refused by its kind when the sink takes it.)
        this.#lengths.push(chunk instanceof Uint8Array ? chunk.length : 0);
        return 1;
      },
    });
  }

  /**
   * Errors the writable (at once, or as it is built): the first error holds, as in the stream
   * (a writable errored, or built, since is errored with it already).
   */
  #errorWritable(error: Error | LazyError): void {
    if (this.#writableError !== undefined) return;
    this.#writableError = error;
    if (this.#writer === undefined) return;
    try {
      this.#writer.error(this.#shownWritableError());
    } catch {
      // already closed or errored
    }
  }

  #shownWritableError(): Error {
    return this.#writableError = this.#made(this.#writableError!);
  }

  #shownWriteError(): Error {
    return this.#writeError = this.#made(this.#writeError!);
  }

  /** The error `error` stands for, made once (writes and the writable report the same one). */
  #made(error: Error | LazyError): Error {
    if (error === CLOSED) return this.#closedMade ??= closedError(this.remoteAddr);
    if (error === RESET) {
      return this.#resetMade ??= new ConnectionError(
        `Cannot write to ${formatAddr(this.remoteAddr)} as the connection was reset`,
        { code: "CONNECTION_RESET" },
      );
    }
    return error;
  }

  /**
   * Builds the readable on first use (or when data comes that no direct read
   * waits for), locked by the claim's reader if reading is claimed.
   */
  #getReadable(): ReadableStream<Uint8Array> {
    if (this.#readable !== undefined) return this.#readable;
    const readable = this.#newReadable();
    this.#readable = readable;
    if (this.#readClaim === null) this.#readClaim = readable.getReader();
    return readable;
  }

  #newReadable(): ReadableStream<Uint8Array> {
    const handle = this.#handle;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#reader = controller;
        // Ended or failed before the readable was first used.
        if (this.#readFailure !== undefined) controller.error(this.#readFailure);
        else if (this.#read === "done") controller.close();
      },
      pull: (controller) => {
        // Failed with bytes queued (else errored at once, and never pulled again).
        if (this.#readFailure !== undefined) {
          // Called after each read; the queue is empty once it is at the high-water mark. Error
          // after this task, not now: the last chunk is still on its way to the read that took
          // it (a tee() hands it to its branches a microtask later, and would drop it).
          if ((controller.desiredSize ?? 0) >= READ_HIGH_WATER_MARK && !this.#errorScheduled) {
            this.#errorScheduled = true;
            setTimeout(() => controller.error(this.#readFailure), 0);
          }
          return;
        }
        if (this.#paused) {
          this.#paused = false;
          handle.resume();
        }
      },
      cancel: () => {
        // Stop delivering but keep draining the socket, so the peer is not blocked and the
        // write direction stays usable. (Ended, failed or closed: nothing to drain.)
        if (this.#read !== "open") return;
        this.#read = "cancelled";
        this.#endDirect(null);
        if (this.#paused) {
          this.#paused = false;
          handle.resume();
        }
      },
    }, {
      highWaterMark: READ_HIGH_WATER_MARK,
      size: (chunk) => (chunk as Uint8Array).byteLength + CHUNK_COST,
    });
  }

  async #readInto(
    read: (buffer: Uint8Array) => Promise<number | null>,
    buffer: Uint8Array,
  ): Promise<number | null> {
    // The caller's mistake, refused before the socket sees it: the runtime's own refusal
    // (Deno: "expected typed ArrayBufferView") failed the connection's reading for good, and a
    // detached buffer resolved 0 at once instead of waiting for bytes. Once per read. A
    // Uint8Array of another realm is read into, as before (a copy would take the bytes).
    if (!(buffer instanceof Uint8Array) && !ofAnotherRealm(buffer)) {
      checkChunk(buffer, "read into a buffer", "buffer");
    }
    if (buffer.length === 0 && isDetached(buffer)) {
      throw new TypeError(
        "Cannot read into a buffer as its buffer was detached (transferred) or shrunk below it",
      );
    }
    if (this.#readable !== undefined) {
      throw new TypeError("Cannot read into a buffer as the connection's readable is in use");
    }
    if (this.#readFailure !== undefined) throw this.#readFailure;
    if (this.#read !== "open" || this.#closing) return null;
    let n: number | null;
    try {
      // close() ends a read in progress at once (the socket may stay open a while to finish a
      // TLS close; what it reads then is dropped). Not Promise.race() with one promise of the
      // conn's: each race would leave a reaction on it until close().
      const reading = read(buffer);
      n = await new Promise<number | null>((resolve, reject) => {
        this.#endRead = () => resolve(null);
        reading.then(resolve, reject);
      });
    } catch (cause) {
      if (this.#readFailure !== undefined) throw this.#readFailure;
      if (this.#closing || this.#terminated) return null;
      throw this.#failRead(cause);
    }
    // The connection failed meanwhile, which cut this read short.
    if (this.#readFailure !== undefined) throw this.#readFailure;
    // The end, unless close() or a cancel (see cancelReading) ended this read: reading goes on
    // draining the socket after a cancel, until its own end.
    if (n === null && this.#read === "open") this.end();
    return n;
  }

  /** Data arrived (a fresh buffer the conn now owns). */
  data(chunk: Uint8Array<ArrayBuffer>): void {
    if (this.#read !== "open") return;
    if (this.#direct !== undefined) return this.#endDirect(chunk);
    // Not built yet (a claim's direct reads had no need of it, or data flows from the start, as
    // on Bun): built now to queue the data.
    const reader = this.#reader ?? (this.#getReadable(), this.#reader!);
    reader.enqueue(chunk);
    if ((reader.desiredSize ?? 0) <= 0 && !this.#paused) {
      this.#paused = true;
      this.#handle.pause();
    }
  }

  /** The peer sent FIN. */
  end(): void {
    if (this.#read === "open") this.#reader?.close();
    this.#endDirect(null);
    this.#read = "done";
    this.#maybeFinish();
  }

  /** The socket failed (reset, timeout, ...). */
  error(cause: unknown): void {
    if (this.#closing || this.#terminated) return;
    this.#failRead(cause);
  }

  /** Fails reading (the readable too, if built meanwhile) and writing; closes the socket. */
  #failRead(cause: unknown): Error {
    const error = connectionError(`read from ${formatAddr(this.remoteAddr)}`, cause);
    if (!this.#failed) {
      this.#failed = true;
      this.#failureCause = cause;
    }
    if (this.#read === "open") {
      this.#readFailure = error;
      // Bytes that came before the failure are read first (as the kernel, too, returns what it
      // holds before the reset): the readable errors once its queue is empty (see pull).
      const reader = this.#reader;
      if ((reader?.desiredSize ?? 0) >= READ_HIGH_WATER_MARK) reader!.error(error);
      this.#endDirect(null, error);
    }
    this.#read = "done";
    // In a write's words: "Cannot write to … as the connection was reset".
    this.#failWrites(connectionError(`write to ${formatAddr(this.remoteAddr)}`, cause));
    this.#release();
    return error;
  }

  /** Closes the socket: gracefully within tlsClose.limit with handle.finish, else now. */
  #release(): void {
    const handle = this.#handle;
    if (handle.finish === undefined) return handle.destroy();
    if (this.#finishTimer !== undefined || this.#terminated) return;
    this.#finishTimer = setTimeout(() => handle.destroy(), tlsClose.limit);
    // Node, Bun: the socket keeps the process alive meanwhile, not the timer.
    (this.#finishTimer as { unref?: () => void }).unref?.();
    handle.finish();
  }

  /**
   * The adapter closed the socket itself while reading still has bytes it
   * kept to hand out, then the failure (Deno, after a failed write):
   * `closed` resolves now, read or not; `terminated()` still follows once
   * reading is over or at `close()`.
   */
  released(): void {
    this.#resolveClosed();
  }

  /** The socket is fully closed (the adapter's last event). */
  terminated(): void {
    clearTimeout(this.#finishTimer);
    if (this.#terminated) return;
    this.#terminated = true;
    if (this.#read === "open") this.#reader?.close();
    this.#endDirect(null);
    this.#read = "done";
    // Gone without a local close() (Bun closes a Unix socket when its peer does): later writes
    // fail as they do when the peer has gone elsewhere, not as after close().
    this.#failWrites(this.#closing ? CLOSED : RESET);
    // A writable that FIN ended but left open (closeWrite() fences it) ends now, so that a
    // writer's `closed` settles (a no-op if it is errored or closed already).
    this.#errorWritable(CLOSED);
    this.#resolveClosed();
  }

  /**
   * Flushes, then sends FIN; reading goes on. Idempotent. An own property,
   * as `close`, so that a wrapper made with `{ ...conn }` or
   * `Object.create(conn)` has it and closes this conn.
   */
  readonly closeWrite: () => Promise<void> = () => this.#requestCloseWrite();
  /** Closes both directions now; the readable ends cleanly, writes reject. Idempotent. */
  readonly close: () => void = () => this.#close();
  /**
   * Cancels the readable now (see `cancelReading`); a `read()` in progress
   * ends with `null`. Only for this conn's own readable, and with `read()`. An
   * own property, as `close`, so that `Object.create(conn)` (which keeps
   * `read()`) has it too.
   */
  readonly [cancelReading]: (
    readable: ReadableStream<Uint8Array>,
    reason: unknown,
  ) => Promise<void> | undefined = (readable, reason) => {
    if (this.#byob === undefined || readable !== this.#readable) return undefined;
    const cancelled = readable.cancel(reason);
    this.#endRead?.();
    return cancelled;
  };

  #requestCloseWrite(): Promise<void> {
    if (this.#closing) {
      // After close(), or both directions over: nothing to do, unless a write had failed.
      return this.#userClosed || this.#writeError === undefined
        ? Promise.resolve()
        : Promise.reject(this.#shownWriteError());
    }
    // Write every chunk the writable accepted so far, refuse later ones, then send FIN. The
    // writable stays open (a writer may hold it): later writes reject with CONNECTION_CLOSED, on
    // every runtime (a closed WritableStream would refuse them with each runtime's own error).
    this.#closeRequest ??= this.#flushAccepted();
    return this.#closeRequest;
  }

  async #flushAccepted(): Promise<void> {
    this.#fence = this.#accepted;
    // Wait for the chunks before the fence, unless the writable closes or fails first.
    while (
      this.#written < this.#fence && this.#sinkError === undefined &&
      this.#shutdown === undefined && !this.#closing && this.#writeError === undefined
    ) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#shutdown === undefined) {
      // A write failed (or the connection did) before FIN could go out: say so, unless close()
      // came, which makes it moot. (Both directions over through failure is not close().)
      const failure = this.#sinkError ?? this.#writeError;
      if (failure !== undefined && !this.#userClosed) {
        throw this.#sinkError ?? this.#shownWriteError();
      }
      // close() came before the accepted chunks were written: they were not, and no FIN went out.
      if (this.#userClosed && this.#written < this.#fence) throw this.#made(CLOSED);
    }
    return await this.#closeWrite();
  }

  /** A sink write finished (either way). */
  #settle(written: boolean): void {
    if (written) this.#written++;
    this.#wake?.();
  }

  #close(): void {
    this.#userClosed = true;
    if (this.#closing) return;
    this.#closing = true;
    this.#endRead?.();
    if (this.#read === "open" || this.#read === "cancelled") {
      if (this.#read === "open") this.#reader?.close();
      this.#endDirect(null);
      this.#read = "done";
    }
    this.#failWrites(CLOSED);
    this.#release();
    this.#wake?.();
  }

  #closeWrite(): Promise<void> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    if (this.#userClosed) return Promise.resolve();
    if (this.#writeError !== undefined) return Promise.reject(this.#shownWriteError());
    if (this.#closing) return Promise.resolve();
    this.#shutdown = this.#handle.shutdown().then(
      () => {
        this.#writeDone = true;
        this.#maybeFinish();
      },
      (cause) => {
        // close() came meanwhile: it closed the socket, which ends this direction too (the
        // runtime then fails the FIN it was about to send).
        if (this.#userClosed) return;
        const error = connectionError(`close ${formatAddr(this.remoteAddr)} for writing`, cause);
        this.#writesFailed(error);
        throw error;
      },
    );
    this.#wake?.();
    return this.#shutdown;
  }

  #failWrites(error: Error | LazyError): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#writeError = error;
    this.#wake?.();
    this.#errorWritable(error);
  }

  /**
   * A write or the FIN failed: the write direction is over. Once reading is too, the socket is
   * released and `closed` resolves (Deno's socket has no event of its own to get there).
   */
  #writesFailed(error: Error): void {
    this.#writeDone = true;
    this.#writeError ??= error;
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    // Both directions are over: release the socket (Node would do so itself).
    if (this.#read === "done" && this.#writeDone && !this.#closing) {
      this.#closing = true;
      this.#release();
    }
  }
}

/**
 * Allocates with `Buffer.allocUnsafeSlow` (Node, Bun): memory that is not
 * zero-filled, for buffers framewire overwrites completely, and that holds
 * the frame alone. Not `Buffer.allocUnsafe`: Node carves buffers under half
 * `Buffer.poolSize` (32 KiB since Node 24) out of a shared pool, which
 * `frame.buffer` would expose (Bun 1.4 does not pool). Returns a plain
 * `Uint8Array` view.
 */
export function allocUnsafeWith(
  allocUnsafe: (length: number) => Uint8Array<ArrayBuffer>,
): (length: number) => Uint8Array<ArrayBuffer> {
  return (length) => {
    const buffer = allocUnsafe(length);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  };
}
