// Copyright 2026 the framewire authors. MIT license.
// Private: a way for framed() to skip a framewire Conn's web streams when nothing else is in them.

/**
 * A framewire adapter's Conn (SocketConn) writes `chunk` as a write to its
 * writable would, without the stream's machinery, when no write to the
 * writable is queued or in progress: same counting, same errors (the writable
 * errors with a failed write's error). Returns `undefined` when it cannot
 * (use the writable then), also when `writable`, the stream the caller's
 * writer locks, is not the conn's own (a wrapper's layer, a Proxy's stream:
 * its bytes must go through it). The caller makes no other write, and does
 * not close the writable, until the returned promise settles.
 */
export const writeDirect: unique symbol = Symbol("framewire.writeDirect");

/** A Conn that may take writes directly (see {@linkcode writeDirect}). */
export interface DirectWriter {
  [writeDirect](
    chunk: Uint8Array,
    writable: WritableStream<Uint8Array> | undefined,
  ): Promise<void> | undefined;
}

/**
 * A framewire adapter's Conn (SocketConn) takes writing for the caller as a
 * writer of its writable would, without building the writable (about 2 KB per
 * connection on V8): `true` once claimed; `false` when the writable is built
 * (the caller locks it then) or the conn is not a SocketConn itself, nor the
 * object the caller writes through (`conn`: a Proxy whose methods are bound
 * to the SocketConn may have a writable of its own). While
 * claimed, the writable, if anyone builds it, starts locked by the claim's
 * writer, which {@linkcode claimedWriter} hands the caller for what
 * `writeDirect` refuses; `writeDirect` takes `undefined` for the writable.
 * {@linkcode releaseWriting} ends the claim (releasing that writer).
 */
export const claimWriting: unique symbol = Symbol("framewire.claimWriting");
/** The claim's writer, the writable built for it if it was not (see {@linkcode claimWriting}). */
export const claimedWriter: unique symbol = Symbol("framewire.claimedWriter");
/** Ends the claim (see {@linkcode claimWriting}). */
export const releaseWriting: unique symbol = Symbol("framewire.releaseWriting");

/** A Conn that may be written to without its writable (see {@linkcode claimWriting}). */
export interface WritingClaimer extends DirectWriter {
  [claimWriting](conn: object): boolean;
  [claimedWriter](): WritableStreamDefaultWriter<Uint8Array>;
  [releaseWriting](): void;
}

/**
 * A framewire adapter's Conn (SocketConn) hands its next chunk of data
 * straight to the caller, as a read of its readable would, when nothing is
 * queued in the readable: `null` where that read would be done, a rejection
 * where it would reject. Returns `undefined` when it cannot (read the
 * readable then), also when `readable`, the stream the caller's reader locks,
 * is not the conn's own. The caller makes no other read and keeps the lock
 * until the returned promise settles.
 */
export const readDirect: unique symbol = Symbol("framewire.readDirect");

/** A Conn that may hand over data directly (see {@linkcode readDirect}). */
export interface DirectReader {
  [readDirect](
    readable: ReadableStream<Uint8Array> | undefined,
  ): Promise<Uint8Array | null> | undefined;
}

/**
 * A framewire adapter's Conn (SocketConn) without `read()` takes reading for
 * the caller as a reader of its readable would, without building the readable
 * until it must hold data (data comes while no `readDirect` read waits; about
 * 1.4 KB per connection on Node): `true` once claimed; `false` when the readable
 * is built (the caller locks it then) or the conn is not a SocketConn itself,
 * nor the object the caller reads through (`conn`, as for `claimWriting`).
 * While claimed, the readable, once built, is locked by the claim's reader,
 * which {@linkcode claimedReader} hands the caller for what `readDirect`
 * refuses (queued data, the end, a failure) and to cancel; `readDirect` takes
 * `undefined` for the readable. The claim holds for the conn's life.
 */
export const claimReading: unique symbol = Symbol("framewire.claimReading");
/** The claim's reader, the readable built for it if it was not (see {@linkcode claimReading}). */
export const claimedReader: unique symbol = Symbol("framewire.claimedReader");

/** A Conn that may be read without its readable (see {@linkcode claimReading}). */
export interface ReadingClaimer extends DirectReader {
  [claimReading](conn: object): boolean;
  [claimedReader](): ReadableStreamDefaultReader<Uint8Array>;
}

/**
 * A framewire adapter's Conn (SocketConn) with `read()` cancels its readable
 * now, even while a `read()` is in progress, which then ends with `null`; the
 * socket goes on being drained, as after any cancel of the readable. Returns
 * `undefined` when it cannot (wait for the read, then cancel the readable),
 * also when `readable` is not the conn's own.
 */
export const cancelReading: unique symbol = Symbol("framewire.cancelReading");

/** A Conn whose reading can be cancelled during a `read()` (see {@linkcode cancelReading}). */
export interface ReadingCanceller {
  [cancelReading](readable: ReadableStream<Uint8Array>, reason: unknown): Promise<void> | undefined;
}
