// Copyright 2026 the framewire authors. MIT license.
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * The connection shapes every runtime adapter returns.
 *
 * @module
 */

/** A TCP address. */
export interface TcpAddr {
  /** Always `"tcp"`. */
  readonly transport: "tcp";
  /** The host (an IP address for a connected or bound socket). */
  readonly hostname: string;
  /** The port. */
  readonly port: number;
}

/** A Unix socket address. */
export interface UnixAddr {
  /** Always `"unix"`. */
  readonly transport: "unix";
  /** The socket path. */
  readonly path: string;
}

/** A network address: TCP host and port, or a Unix socket path. */
export type NetAddr = TcpAddr | UnixAddr;

/**
 * A byte-stream connection, shaped like `Deno.Conn`; what every adapter
 * (`@framewire/framewire/deno`, `/bun`, `/node`) returns.
 *
 * - `readable` yields fresh buffers (never a buffer the runtime reuses), and a
 *   slow reader pauses the socket. It closes at the peer's FIN and errors with
 *   a `ConnectionError` when the connection is reset (after the bytes it
 *   already held).
 * - A `writable` write resolves once the bytes are handed to the OS (Bun's
 *   partial writes are retried on `drain`).
 * - `closeWrite()` sends FIN and keeps reading; `close()` closes both
 *   directions at once, is idempotent, and errors neither side's pending reads
 *   with anything but a clean end.
 * - `closed` resolves exactly once, when the socket is fully closed (it never
 *   rejects; failures surface on `readable` and `writable`).
 *
 * `B` is the type of the buffers under `readable`'s chunks (and `allocate`'s
 * results): framewire's adapters return a `Conn<ArrayBuffer>`, as they read
 * into `ArrayBuffer`s; a plain `Conn` may yield views of any buffer, shared
 * memory too. It carries over to what `framed()` and the streams read from
 * it, so frames of an adapter's connection are `Uint8Array<ArrayBuffer>`.
 */
export interface Conn<B extends ArrayBufferLike = ArrayBufferLike> {
  /**
   * Bytes from the peer, as `Uint8Array` chunks (`framed()` skips an empty
   * one, and fails reading with a `TypeError` at anything else, `null`
   * too). A Conn of one's own must not change a chunk once it yielded it (no
   * read buffer used again for the next chunk, unlike `Deno.Conn.read`'s
   * callers): `framed()`'s frames, and `ByteReader`'s results, are views of
   * the chunks, kept as long as the application keeps them, and would change
   * with it, without an error; so are the first bytes of a frame until its
   * rest arrives, also with `reuseBuffers` (which is about framewire's own
   * buffers). Copy what a source reuses into a fresh buffer per chunk.
   */
  readonly readable: ReadableStream<Uint8Array<B>>;
  /**
   * Bytes to the peer; a write resolves once the bytes are handed to the OS
   * (it waits while the peer reads nothing and the OS buffers are full, until
   * `close()`, which rejects it with `CONNECTION_CLOSED`).
   */
  readonly writable: WritableStream<Uint8Array>;
  /** This side's address. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /**
   * Half-close: flushes queued writes, sends FIN and keeps reading. The flush
   * waits while the peer reads nothing; `close()` ends the wait, rejecting
   * with `CONNECTION_CLOSED`.
   */
  closeWrite(): Promise<void>;
  /** Closes both directions; idempotent. */
  close(): void;
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  /**
   * Optional: how to allocate buffers that frames of this connection are
   * copied into. The Node and Bun adapters provide `Buffer.allocUnsafeSlow`
   * (memory that is not zero-filled first, since framewire overwrites every
   * byte, and not pooled, since `frame.buffer` reaches all of it); `framed()`
   * uses it when present.
   */
  readonly allocate?: ((length: number) => Uint8Array<B>) | undefined;
  /**
   * Optional: `true` when a write to `writable` no longer reads its chunk
   * once it resolves (the bytes were copied to the OS), so the writer may
   * overwrite the chunk then. framewire's adapters set it, and `framed()` then
   * encodes frames into send buffers it reuses (a frame that fits in
   * `coalesce` bytes is copied in whole: a copy into reused memory costs less
   * than a second socket write). Leave it unset for a connection that hands
   * chunks on by reference, such as a `TransformStream` pair. The adapters
   * define it on the prototype, so `{ ...conn, writable }` (a wrapper with a
   * writable of its own) does not carry it over; a wrapper made with
   * `Object.create(conn)` or a subclass does, and must set it to `false` if
   * its writable holds chunks. (The adapters' `close` and `closeWrite` are
   * own properties bound to their conn: both kinds of wrapper have them.)
   */
  readonly releasesChunkOnWrite?: boolean | undefined;
  /**
   * Optional: reads into `buffer` (a "bring your own buffer" read, like
   * `Deno.Conn.read`), resolving with the number of bytes read, or `null` at
   * the peer's FIN. It waits for at least one byte: `framed()` fails reading
   * with a `TypeError` after 100 reads in a row that resolved 0, and at once
   * with a `RangeError` (a `TypeError` for no number) for a count that is
   * negative, no integer, or more than `buffer.length`. Rejects with a
   * `ConnectionError` when the connection is reset; resolves `null` once
   * closed. A framewire adapter's rejects with a `TypeError`, and reads on
   * after it, for a `buffer` that is no `Uint8Array` or whose buffer was
   * detached (transferred). Use it instead of `readable`: one
   * read at a time. An adapter offers it only while `readable` has not been
   * used (a `read` kept from before rejects with a `TypeError` after);
   * `readable` may take over after it. `close()` ends a read in progress
   * with `null` at once; over TLS the runtime may still write into its
   * buffer until the socket is released (up to a second): do not reuse it.
   * The Deno adapter provides it; `framed()` uses it to read large frames
   * straight into their own buffers and small ones into buffers it reuses.
   * `framed()` uses it instead of `readable` whenever it is there: a wrapper
   * with a `readable` of its own (a transform of the conn's) made with
   * `Object.create(conn)` or a subclass inherits it, so `framed()` would
   * read the socket past the wrapper's readable (unless the wrapper used
   * `conn.readable` first, which withdraws the adapter's `read`): such a
   * wrapper sets `read` to `undefined`.
   */
  readonly read?: ((buffer: Uint8Array) => Promise<number | null>) | undefined;
}

/**
 * Accepted connections; `close()` (or `await using`) stops listening. `A` is
 * the address type: `listen({ port })` gives a `Listener<TcpAddr, ArrayBuffer>`, so
 * `listener.addr.port` is the bound port. `B` is the connections' buffer type
 * (see {@linkcode Conn}): `ArrayBuffer` for framewire's adapters.
 */
export interface Listener<A extends NetAddr = NetAddr, B extends ArrayBufferLike = ArrayBufferLike>
  extends AsyncIterable<Conn<B>>, AsyncDisposable {
  /** The bound address; `port` is the real port when 0 was asked for. */
  readonly addr: A;
  /** Stops listening (idempotent); open connections stay open. */
  close(): void;
}

/** Options to connect over TCP. */
export interface TcpConnectOptions {
  /**
   * The host to connect to.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string | undefined;
  /** The port to connect to. */
  port: number;
  /**
   * Aborts the connection attempt (rejects with the signal's reason).
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
  /**
   * Disable Nagle's algorithm (framewire coalesces small frames itself).
   *
   * @default {true}
   */
  noDelay?: boolean | undefined;
}

/** Options to connect to a Unix socket. */
export interface UnixConnectOptions {
  /** The socket path. */
  path: string;
  /**
   * Aborts the connection attempt.
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
}

/** Options for `connect`. */
export type ConnectOptions = TcpConnectOptions | UnixConnectOptions;

/** Options to listen on TCP. */
export interface TcpListenOptions {
  /**
   * The address to bind.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string | undefined;
  /** The port to bind; 0 picks a free port. */
  port: number;
}

/** Options to listen on a Unix socket. */
export interface UnixListenOptions {
  /** The socket path. */
  path: string;
}

/** Options for `listen`. */
export type ListenOptions = TcpListenOptions | UnixListenOptions;

/** Options for `connectTls`. */
export interface TlsConnectOptions extends TcpConnectOptions {
  /**
   * Certificate authorities to trust, as PEM strings: instead of the system's
   * on Node and Bun, added to them on the Deno adapter. A self-signed server
   * certificate can be its own CA here, except on Deno when it is marked as a
   * CA, as `openssl req -x509` marks it by default (the handshake then fails
   * with "could not be verified against the trusted CAs"): make it with
   * `-addext basicConstraints=critical,CA:FALSE`, or sign it with a CA.
   *
   * @default {undefined}
   */
  caCerts?: readonly string[] | undefined;
  /**
   * The name to verify the server certificate against (and send as SNI; an
   * IP address is not sent, unless on the bun adapter it is another address
   * than `hostname`: Bun verifies against the name it sends).
   *
   * @default {hostname}
   */
  serverName?: string | undefined;
}

/** Options for `listenTls`. */
export interface TlsListenOptions extends TcpListenOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}
