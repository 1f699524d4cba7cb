// Copyright 2026 the framewire authors. MIT license.
/**
 * Deno adapter: `Deno.connect`, `Deno.listen` and `Deno.listenTls` as
 * framewire `Conn`s (`connectTls` is `Deno.connect` then `Deno.startTls`).
 * Reads use a `conn.read()` loop into fresh buffers of 16 to 256 KiB (not
 * `conn.readable`, which closes the resource at EOF and breaks half-close),
 * and `noDelay` is on by default (not on connections `listenTls` accepts:
 * Deno has no `setNoDelay` for them).
 *
 * @example Echo over loopback
 * ```ts
 * import { connect, listen } from "@framewire/framewire/deno";
 * import assert from "node:assert/strict";
 *
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * const serving = (async () => {
 *   for await (const server of listener) {
 *     await server.readable.pipeTo(server.writable); // echo until the client's FIN
 *     return;
 *   }
 * })();
 * const client = await connect({ port });
 * const writer = client.writable.getWriter();
 * await writer.write(new TextEncoder().encode("hi"));
 * await writer.close(); // FIN; the client can still read
 * assert.equal(await new Response(client.readable).text(), "hi");
 * await serving;
 * client.close();
 * ```
 *
 * @module
 */

import type {
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  NetAddr,
  TcpAddr,
  TcpListenOptions,
  TlsConnectOptions,
  TlsListenOptions,
  UnixAddr,
  UnixListenOptions,
} from "../connection/types.ts";
import {
  checkTarget,
  connectionError,
  formatAddr,
  requireRuntime,
  throwIfAborted,
  unixBindPath,
} from "./_errors.ts";
import { FAILED_WRITE_LIMIT, READ_HIGH_WATER_MARK, SocketConn } from "./_socket_conn.ts";
import { detachedPayload, isDetachedError } from "../framing/_options.ts";
import { ConnectionError } from "../errors.ts";

export type * from "../connection/types.ts";

// Read buffers adapt between 16 KiB and 256 KiB (x4 after a read that fills one, back to 16 KiB
// after a read that uses less than 1/16). Large reads mean a quarter of the reads of 64 KiB and
// 64 KiB frames that mostly lie inside one read (zero-copy views) instead of spanning two (copied
// by the decoder). Fresh memory is what costs on Deno (a new buffer is zeroed, page-faulted and
// cache-cold), so the fewer fresh bytes per byte received the better; an idle connection keeps
// a small buffer.
const MIN_READ = 16 * 1024;
const MAX_READ = 256 * 1024;

function toAddr(addr: Deno.Addr, unixPath?: string): NetAddr {
  if (addr.transport === "tcp") {
    return { transport: "tcp", hostname: addr.hostname, port: addr.port };
  }
  // The path as given (a listener binds a relative one by its absolute form).
  if (addr.transport === "unix") return { transport: "unix", path: unixPath ?? addr.path };
  throw new TypeError(`Cannot use address as transport ${addr.transport} is not supported`);
}

const EMPTY = new Uint8Array(0);

/**
 * A TLS peer that closed without close_notify, as many that just close do: an end, as Node and
 * Bun (and Deno's own node:tls) report it. Only after the handshake: before, it is a client that
 * gave up, an error as it always was (a server connection's handshake runs on its first read).
 */
function tlsEof(error: unknown, handshaken: boolean): boolean {
  return handshaken && (error as Error | undefined)?.name === "UnexpectedEof";
}

/**
 * A read's failure as reported: a TLS client that gave up during the handshake (which a server
 * connection runs on its first read) is a reset, as the client side reports a server that
 * closed then (it read as "it failed: unexpected end of file").
 */
function readFailure(error: unknown, handshaken: boolean): unknown {
  if (handshaken || (error as Error | undefined)?.name !== "UnexpectedEof") return error;
  return Object.assign(new Error("the peer closed during the TLS handshake", { cause: error }), {
    code: "ECONNRESET",
  });
}

/**
 * Writes the rest of `chunk`, of `length` bytes when its write began, after a partial write of
 * `off` bytes. A chunk whose buffer was detached or shrunk meanwhile fails the write (it ended
 * the loop early: the write resolved with bytes never sent); a length-tracking view of a
 * resizable buffer grown meanwhile goes out at that length, as on Node (before, it failed too,
 * in words that said the buffer had shrunk).
 */
async function writeRest(
  raw: Deno.Conn,
  chunk: Uint8Array,
  off: number,
  length: number,
): Promise<void> {
  while (off < length) {
    if (chunk.byteLength < length) throw detachedPayload("write", "chunk");
    off += await raw.write(chunk.subarray(off, length));
  }
}

function wrap(
  raw: Deno.Conn,
  unixPath?: string,
  addrs: Deno.Conn = raw,
  handshaken = false,
): Conn<ArrayBuffer> {
  let paused = true;
  let reading = false;
  let closed = false;
  let shut = false;
  // The read loop and the socket operation in progress: a pending op keeps the resource (and
  // the OS socket) alive after raw.close(), so `closed` waits for them to settle.
  let reads: Promise<void> = Promise.resolve();
  // The last read() into a caller's buffer (the readable's loop waits for it).
  let direct: Promise<unknown> = Promise.resolve();
  let op: Promise<unknown> = Promise.resolve();
  const track = <T>(p: Promise<T>): Promise<T> => {
    op = p.catch(() => {});
    return p;
  };
  const closeRaw = (): void => {
    try {
      raw.close();
    } catch {
      // already closed
    }
  };
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    closeRaw();
    Promise.all([reads, direct, op, drained]).then(() => conn.terminated());
  };
  // A write or FIN failed on the socket (a reset, say): Node and Bun release it then, by
  // themselves, and so does this adapter, so that a conn nobody reads or closes does not keep it
  // (it did, until reading saw the end). Reads still get what the kernel held of the peer's bytes
  // (kept: after the read in progress, up to READ_HIGH_WATER_MARK more, as the other adapters'
  // queue, read for FAILED_WRITE_LIMIT at most), then the failure; `closed` resolves once the
  // socket is closed, read or not.
  let kept: Uint8Array[] | undefined;
  let failure: unknown;
  let keptEnd = false;
  let drained: Promise<void> = Promise.resolve();
  // The last raw.read(): the drain waits for it (Deno would run them in turn anyway). Kept as is
  // (its caller handles its failure), so that a read makes no second promise to track it.
  let inflight: Promise<unknown> = Promise.resolve();
  const fail = (cause: unknown): never => {
    if (closed || kept !== undefined || isDetachedError(cause)) throw cause;
    kept = [];
    failure = cause;
    const drain = async (): Promise<void> => {
      await inflight.catch(() => {});
      const buffer = new Uint8Array(MIN_READ);
      for (let size = 0; size < READ_HIGH_WATER_MARK && !closed;) {
        const n = await raw.read(buffer);
        if (n === null) {
          // An end, not the reset, on a Unix socket (whose read reports a reset; see afterRead).
          keptEnd = !probe;
          break;
        }
        kept!.push(buffer.slice(0, n));
        size += n;
      }
    };
    // Cutting the socket ends the read in progress (it rejects).
    const cut = setTimeout(closeRaw, FAILED_WRITE_LIMIT);
    drained = drain().catch(() => {}).finally(() => {
      clearTimeout(cut);
      closeRaw();
      conn.released();
    });
    throw cause;
  };
  /** raw.read(), or, after a failed write or FIN, what was kept of it, then the failure. */
  const rawRead = (buffer: Uint8Array): Promise<number | null> => {
    if (kept === undefined) {
      const n = raw.read(buffer);
      inflight = n;
      return n;
    }
    return drained.then(() => {
      const chunk = kept!.shift();
      if (chunk === undefined) {
        if (keptEnd) return null;
        throw failure;
      }
      const n = Math.min(chunk.length, buffer.length);
      buffer.set(chunk.subarray(0, n));
      if (n < chunk.length) kept!.unshift(chunk.subarray(n));
      return n;
    });
  };
  const destroy = (): void => {
    closed = true;
    release();
  };
  // TLS: bytes of writes that resolved can still wait in rustls or the kernel, and closing the
  // socket with the peer's bytes (a TLS 1.3 server's session tickets) unread makes the kernel
  // send RST, which drops them. So close_notify and FIN first, read to the peer's end
  // (discarding), then close.
  const finish = (): void => {
    closed = true;
    const ending = shut ? Promise.resolve() : track(raw.closeWrite());
    shut = true;
    ending.then(() => {
      resume();
      return reads;
    }).catch(() => {}).finally(release);
  };
  // Deno reports a TCP reset as EOF; an empty write tells them apart (it fails after RST,
  // succeeds after FIN). Not possible once this side sent FIN itself, and not on a Unix socket,
  // where the empty write fails once the peer has closed, however cleanly.
  const probe = raw.remoteAddr.transport !== "unix";
  /** A read's failure is the end: see readFailed. */
  const endsReading = (error: unknown): boolean =>
    closed || (kept === undefined && ((shut && probe) || tlsEof(error, handshaken)));
  /**
   * How a read fails: the end, once closing or at a TLS EOF, or once this side sent FIN over TCP.
   * A Unix socket's read fails only on the peer's close with bytes unread: a reset, reported
   * (closeWrite() no longer probes there, so the reader is where it shows).
   */
  const readFailed = (error: unknown): null => {
    if (endsReading(error)) return null;
    throw readFailure(error, handshaken);
  };
  /** A read's count, once the end is told from a reset (the probe). */
  const afterRead = (n: number | null): number | null | Promise<null> => {
    if (n !== null) {
      handshaken = true; // bytes came through: a TLS handshake is over
      return n;
    }
    // A write or FIN failed meanwhile: the end of what was read before it, not a FIN.
    // (On a Unix socket a read reports a reset itself: this is the peer's clean end.)
    if (kept !== undefined && probe) throw failure;
    return probe && !shut ? raw.write(EMPTY).then(() => null, readFailed) : null;
  };
  // Kept across pauses: a read buffer is replaced only once handed to the reader. Made on the
  // readable's first read: framed() reads through read() and never needs one.
  let buf = EMPTY;
  const loop = async (): Promise<void> => {
    reading = true;
    try {
      await direct;
      if (buf.length === 0) buf = new Uint8Array(MIN_READ);
      while (!paused) {
        const n = await rawRead(buf).then(afterRead);
        if (n === null) return conn.end();
        const size = buf.length;
        if (n * 4 < size) {
          // Less than a quarter full: copy it out and read into the same buffer again.
          conn.data(buf.slice(0, n));
          if (n * 16 < size && size > MIN_READ) buf = new Uint8Array(MIN_READ);
        } else {
          // Hand the buffer over (never reused) and read into a fresh one.
          conn.data(buf.subarray(0, n));
          buf = new Uint8Array(n === size ? Math.min(size * 4, MAX_READ) : size);
        }
      }
    } catch (error) {
      if (endsReading(error)) conn.end();
      else conn.error(readFailure(error, handshaken));
    } finally {
      reading = false;
    }
  };
  const resume = (): void => {
    paused = false;
    if (!reading) reads = loop();
  };
  const conn: SocketConn = new SocketConn(
    {
      pause: () => paused = true,
      resume,
      // The common case (one complete write) settles with the op itself, no extra async frame.
      write: (chunk) => {
        const length = chunk.byteLength;
        return track(
          raw.write(chunk).then(
            (n) => n < length ? writeRest(raw, chunk, n, length).catch(fail) : undefined,
            fail,
          ),
        );
      },
      // TCP: the empty write fails if the peer reset the connection meanwhile (FIN cannot be
      // sent). Not on a Unix socket, where it fails once the peer has closed, however cleanly.
      shutdown: () =>
        track(
          (probe ? raw.write(EMPTY) : Promise.resolve(0)).then(() => {
            shut = true;
            return raw.closeWrite();
          }).catch(fail),
        ),
      // The read and its failure in one reaction (no async call): what framed() reads through.
      read: (buffer) => {
        const n = rawRead(buffer).then(afterRead, readFailed);
        direct = n.catch(() => {});
        return n;
      },
      destroy,
      finish: "handshake" in raw ? finish : undefined,
    },
    toAddr(addrs.localAddr, unixPath),
    toAddr(addrs.remoteAddr, unixPath),
  );
  return conn;
}

async function dial<T extends Deno.Conn>(
  target: string,
  signal: AbortSignal | undefined,
  open: () => Promise<T>,
): Promise<T> {
  requireRuntime("Deno", "connect");
  throwIfAborted(signal);
  let raw: T;
  try {
    raw = await open();
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw connectionError(`connect to ${target}`, error);
  }
  if (signal?.aborted) {
    raw.close();
    throw signal.reason;
  }
  return raw;
}

/**
 * Runs `use` with a native signal for `Deno.connect` that follows `signal`
 * (an `AbortSignal` or a look-alike, a polyfill's) while `use` runs (none
 * for none). Its `throwIfAborted()` does nothing: `Deno.connect` calls it
 * once more after the connect completed, and an abort that came meanwhile
 * (once the kernel had made the connection, before Deno's event loop took
 * it) made it throw with the new connection open and out of reach. The
 * connection is returned instead, and {@linkcode dial}'s check after it
 * closes it.
 */
async function withNativeSignal<T>(
  signal: AbortSignal | undefined,
  use: (native: { signal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  if (signal === undefined) return await use({});
  if (signal.aborted) throw signal.reason;
  const follower = new AbortController();
  follower.signal.throwIfAborted = (): void => {};
  const follow = (): void => follower.abort(signal.reason);
  signal.addEventListener("abort", follow, { once: true });
  try {
    return await use({ signal: follower.signal });
  } finally {
    signal.removeEventListener("abort", follow);
  }
}

function tcpTarget(options: { hostname?: string | undefined; port: number }): string {
  return formatAddr({
    transport: "tcp",
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
  });
}

/**
 * Connects over TCP (`hostname`, `port`) or to a Unix socket (`path`).
 *
 * @param options Where to connect, `signal`, `noDelay`.
 * @returns The connection, once established.
 * @throws {ConnectionError} Refused (`CONNECTION_REFUSED`), timed out, or failed.
 * @throws {RangeError} `port` is a number but not an integer from 1 to 65535, or `path`
 * is longer than 107 bytes.
 * @throws {TypeError} `port` is not a number, `options` is not an object,
 * `hostname` or `path` is empty (`hostname` also `"[]"`, with a NUL character, or with
 * brackets other than one pair around an IPv6 address),
 * a `path` comes with a `hostname` or `port`, `signal` is no `AbortSignal`, or
 * `noDelay` is no boolean.
 */
export async function connect(options: ConnectOptions): Promise<Conn<ArrayBuffer>> {
  options = checkTarget(options, "connect");
  if ("path" in options) {
    const raw = await dial(
      options.path,
      options.signal,
      () => Deno.connect({ transport: "unix", path: options.path }),
    );
    return wrap(raw, options.path);
  }
  const { hostname = "127.0.0.1", port, signal } = options;
  const raw = await dial(
    tcpTarget(options),
    signal,
    () => withNativeSignal(signal, (native) => Deno.connect({ hostname, port, ...native })),
  );
  raw.setNoDelay(options.noDelay ?? true);
  return wrap(raw);
}

/**
 * Connects over TLS, verifying the server against `caCerts` (added to the
 * default roots) and `serverName` (default: `hostname`).
 *
 * @param options Where to connect, trust anchors, server name, `signal`, `noDelay`.
 * @returns The connection, once the handshake completed.
 * @throws {ConnectionError} Refused, timed out, or the handshake failed.
 * @throws {RangeError} `port` is a number but not an integer from 1 to 65535.
 * @throws {TypeError} `port` is not a number (a `path` is refused: TLS is over
 * TCP), `options` is not an object,
 * `hostname` or `serverName` is an empty string (`hostname` also `"[]"`, with a
 * NUL character, or with brackets other than one pair around an IPv6 address), `caCerts` is not an array of
 * strings that each hold a PEM certificate, `signal` is no `AbortSignal`, or
 * `noDelay` is no boolean.
 */
export async function connectTls(options: TlsConnectOptions): Promise<Conn<ArrayBuffer>> {
  options = checkTarget(options, "connect", "client");
  const { hostname = "127.0.0.1", port, signal } = options;
  const target = tcpTarget(options);
  const tcp = await dial(
    target,
    signal,
    () => withNativeSignal(signal, (native) => Deno.connect({ hostname, port, ...native })),
  );
  tcp.setNoDelay(options.noDelay ?? true);
  // Aborted in the turns since dial() checked (by a microtask): the TLS step's dial() would
  // throw before it starts, leaving the TCP connection open where nothing can reach it.
  if (signal?.aborted) {
    tcp.close();
    throw signal.reason;
  }
  const raw = await dial(target, signal, async () => {
    let tlsConn: Deno.TlsConn | undefined;
    // startTls() and handshake() take no signal (and closing the conn does not cancel them):
    // race them against the abort, and close whatever is open on either failure.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const starting = Deno.startTls(tcp, {
        hostname: options.serverName ?? hostname,
        ...(options.caCerts === undefined ? {} : { caCerts: options.caCerts.slice() }),
      });
      starting.then((conn) => tlsConn = conn, () => {});
      tlsConn = await Promise.race([starting, aborted]);
      await Promise.race([tlsConn.handshake(), aborted]);
      return tlsConn;
    } catch (error) {
      try {
        // Deno keeps the socket while handshake() is pending (it only interrupts it), until the
        // server answers or closes.
        (tlsConn ?? tcp).close();
      } catch {
        // already closed
      }
      // The server closed during the handshake: a reset, as Node and Bun report it.
      if ((error as Error | undefined)?.name === "UnexpectedEof" && !signal?.aborted) {
        throw new ConnectionError(
          `Cannot connect to ${target} as the connection was reset`,
          { code: "CONNECTION_RESET", cause: error },
        );
      }
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort!);
    }
  });
  return wrap(raw, undefined, tcp, true);
}

/**
 * Errors of `accept()` that say nothing about the listener: out of file
 * descriptors or memory (which a flood of connections causes, and which
 * passes once some close). Node (libuv) and Bun go on accepting after them;
 * so does this adapter, after a wait.
 */
const EXHAUSTED_ACCEPT = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
/**
 * Errors of `accept()` about one connection that failed before it was taken
 * (`ENOTCONN`: its peer reset it before Deno read its address). The next one
 * is taken at once: a wait would let a client that connects and resets over
 * and over hold every other one back (after twelve, the next waited 5 s).
 */
const FAILED_ACCEPT = new Set(["ECONNABORTED", "ECONNRESET", "ENOTCONN", "EPROTO"]);
/** The first wait after an accept() failure for want of a resource, doubled up to {@linkcode ACCEPT_RETRY_MAX}. */
const ACCEPT_RETRY_MIN = 5;
const ACCEPT_RETRY_MAX = 1000;

function listener(raw: Deno.Listener, unixPath?: string): Listener<NetAddr, ArrayBuffer> {
  let closed = false;
  /** Ends the wait before an accept() is tried again (close() calls it). */
  let stopWaiting: (() => void) | undefined;
  const close = (): void => {
    if (closed) return;
    closed = true;
    stopWaiting?.();
    try {
      raw.close();
    } catch {
      // already closed
    }
  };
  const accept = async (): Promise<IteratorResult<Conn<ArrayBuffer>>> => {
    for (let wait = ACCEPT_RETRY_MIN;;) {
      if (closed) return { value: undefined, done: true };
      try {
        const socket = await raw.accept();
        if ("setNoDelay" in socket) (socket as Deno.TcpConn).setNoDelay(true);
        return { value: wrap(socket, unixPath), done: false };
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) {
          return { value: undefined, done: true };
        }
        const code = (error as { code?: unknown } | undefined)?.code as string;
        if (FAILED_ACCEPT.has(code)) continue;
        if (!EXHAUSTED_ACCEPT.has(code)) {
          throw connectionError(`accept on ${formatAddr(toAddr(raw.addr, unixPath))}`, error);
        }
      }
      // Out of descriptors, say: the connection waits in the backlog until some close.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        stopWaiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      stopWaiting = undefined;
      wait = Math.min(wait * 2, ACCEPT_RETRY_MAX);
    }
  };
  // Deno refuses a second accept() while one is pending: calls of next() (of any iterator)
  // take turns, as on Node and Bun.
  let turn: Promise<unknown> = Promise.resolve();
  return {
    addr: toAddr(raw.addr, unixPath),
    close,
    [Symbol.asyncIterator]: () => ({
      // No return(): leaving a for-await loop keeps the listener open.
      next: (): Promise<IteratorResult<Conn<ArrayBuffer>>> => {
        const next = turn.then(accept);
        turn = next.catch(() => {});
        return next;
      },
    }),
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}

function bind(
  target: string,
  unixPath: string | undefined,
  open: () => Deno.Listener,
): Listener<NetAddr, ArrayBuffer> {
  requireRuntime("Deno", "listen");
  try {
    return listener(open(), unixPath);
  } catch (error) {
    throw connectionError(`listen on ${target}`, error);
  }
}

/**
 * Listens on TCP (`hostname`, `port`; port 0 picks a free port) or a Unix socket (`path`).
 *
 * @param options Where to listen.
 * @returns The listener, once bound.
 * @throws {ConnectionError} The address cannot be bound.
 * @throws {RangeError} `port` is a number but not an integer from 0 to 65535.
 * @throws {TypeError} `port` is not a number, `options` is not an object, or
 * `hostname` is empty (also `"[]"`), has a NUL character, or has brackets other than
 * one pair around an IPv6 address.
 */
export function listen(options: TcpListenOptions): Promise<Listener<TcpAddr, ArrayBuffer>>;
/**
 * Listens on TCP (`hostname`, `port`; port 0 picks a free port) or a Unix socket (`path`).
 *
 * @param options Where to listen.
 * @returns The listener, once bound.
 * @throws {ConnectionError} The address cannot be bound.
 * @throws {RangeError} `path` is longer than 107 bytes.
 * @throws {TypeError} `options` is not an object, `path` is an empty string, or
 * comes with a `hostname` or `port`.
 */
export function listen(options: UnixListenOptions): Promise<Listener<UnixAddr, ArrayBuffer>>;
/**
 * Listens on TCP (`hostname`, `port`; port 0 picks a free port) or a Unix socket (`path`).
 *
 * @param options Where to listen.
 * @returns The listener, once bound.
 * @throws {ConnectionError} The address cannot be bound.
 * @throws {RangeError} `port` is a number but not an integer from 0 to 65535, or `path`
 * is longer than 107 bytes.
 * @throws {TypeError} `port` is not a number, `options` is not an object,
 * `hostname` or `path` is empty (`hostname` also `"[]"`, with a NUL character, or with
 * brackets other than one pair around an IPv6 address),
 * or a `path` comes with a `hostname` or `port`.
 */
export function listen(options: ListenOptions): Promise<Listener<NetAddr, ArrayBuffer>>;
export function listen(options: ListenOptions): Promise<Listener<NetAddr, ArrayBuffer>> {
  return Promise.resolve().then(() => {
    const target = checkTarget(options, "listen");
    if ("path" in target) {
      const { path } = target;
      return bind(
        path,
        path,
        () => Deno.listen({ transport: "unix", path: unixBindPath(path, Deno.cwd) }),
      );
    }
    const { hostname = "0.0.0.0", port } = target;
    return bind(tcpTarget({ hostname, port }), undefined, () => Deno.listen({ hostname, port }));
  });
}

/**
 * Listens for TLS connections with `cert` and `key` (PEM). The handshake runs
 * on first use, so a failed handshake surfaces as a `ConnectionError` on the
 * accepted connection's streams. Accepted connections keep Nagle's algorithm
 * on (Deno has no `setNoDelay` for them): the first small reply after the
 * handshake can wait about 40 ms; the node adapter's `listenTls` does not
 * (docs/adapters.md, "TLS").
 *
 * @param options Where to listen, certificate chain and key.
 * @returns The listener, once bound.
 * @throws {ConnectionError} The address cannot be bound.
 * @throws {RangeError} `port` is a number but not an integer from 0 to 65535.
 * @throws {TypeError} `port` is not a number (a `path` is refused: TLS is over TCP), `options`
 * is not an object, `hostname` is empty (also `"[]"`), has a NUL character or brackets other than one
 * pair around an IPv6 address, `cert` is no
 * PEM certificate, or `key` no unencrypted PEM private key (`RSA`, `EC` or PKCS #8).
 */
export function listenTls(options: TlsListenOptions): Promise<Listener<TcpAddr, ArrayBuffer>> {
  // TLS listens on TCP only, so the address is a TcpAddr.
  return listenTlsAny(options) as Promise<Listener<TcpAddr, ArrayBuffer>>;
}

function listenTlsAny(options: TlsListenOptions): Promise<Listener<NetAddr, ArrayBuffer>> {
  return Promise.resolve().then(() => {
    const { hostname = "0.0.0.0", port, cert, key } = checkTarget(
      options,
      "listen",
      "server",
    );
    return bind(
      tcpTarget({ hostname, port }),
      undefined,
      () => Deno.listenTls({ hostname, port, cert, key }),
    );
  });
}
