// Copyright 2026 the framewire authors. MIT license.
/**
 * Bun adapter: Bun's native sockets (`Bun.connect`, `Bun.listen`) as framewire
 * `Conn`s. Sockets are half-open capable (`allowHalfOpen`), partial writes are
 * retried on `drain` so that a write resolves only once all its bytes are
 * handed to the OS, the readable pauses the socket when its queue is full, and
 * `noDelay` is on by default.
 *
 * @example Echo over loopback
 * ```ts ignore
 * import { connect, listen } from "@framewire/framewire/bun";
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

import { Buffer } from "node:buffer";
import process from "node:process";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
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
import { dialAddresses } from "./_dial_addresses.ts";
import { QueueListener, tlsHandshake } from "./_queue_listener.ts";
import { allocUnsafeWith, FAILED_WRITE_LIMIT, socketAddr, SocketConn } from "./_socket_conn.ts";
import { detachedPayload } from "../framing/_options.ts";

/** Frames are copied into unpooled memory that is not zero-filled first (see allocUnsafeWith). */
const allocate = allocUnsafeWith((length) => Buffer.allocUnsafeSlow(length));

export type * from "../connection/types.ts";

// The few parts of Bun's socket API used here (bun-types is not a dependency).
interface BunSocket {
  data: Link | undefined;
  write(data: Uint8Array): number;
  shutdown(): void;
  end(): void;
  close(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
  getPeerCertificate(): PeerCertificate;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}
interface BunHandlers {
  open(socket: BunSocket): void;
  handshake(socket: BunSocket, success: boolean, error: Error | null): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  close(socket: BunSocket, error?: Error): void;
  connectError(socket: BunSocket, error: Error): void;
}
interface BunTarget {
  hostname?: string | undefined;
  port?: number | undefined;
  unix?: string | undefined;
  tls?: {
    ca?: readonly string[] | undefined;
    serverName?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
  } | undefined;
  allowHalfOpen: boolean;
  socket: BunHandlers;
}
interface BunApi {
  connect(options: BunTarget): Promise<BunSocket>;
  listen(
    options: BunTarget,
  ): { readonly port: number; readonly hostname: string; stop(closeActive?: boolean): void };
}
const bun = (): BunApi => (globalThis as unknown as { Bun: BunApi }).Bun;

/**
 * What a write to a socket Bun has closed fails with. A local close() reports
 * its own `CONNECTION_CLOSED` instead (SocketConn), so this is the peer's reset.
 */
function socketGone(): Error {
  return Object.assign(new Error("socket closed"), { code: "ECONNRESET" });
}

/** One socket's SocketConn plus the write in progress. */
class Link {
  readonly conn: SocketConn;
  #socket: BunSocket;
  #rest: Uint8Array | undefined;
  /** The length #rest had when set: a buffer detached or shrunk meanwhile changes it. */
  #restLength = 0;
  #settle: ((error?: unknown) => void) | undefined;
  /** A write found the socket gone (reset): Bun then reports a plain end, which is not one. */
  #gone = false;
  /** Cuts the socket FAILED_WRITE_LIMIT after a failed write, unless it closed by then. */
  #cut: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: BunSocket, unixPath: string | undefined, tls: boolean, target?: TcpAddr) {
    this.#socket = socket;
    this.conn = new SocketConn(
      {
        pause: () => socket.pause(),
        resume: () => socket.resume(),
        write: (chunk) => this.#write(chunk),
        shutdown: () => Promise.resolve(socket.shutdown()),
        destroy: () => socket.close(),
        // A TLS write counts as done once Bun has taken the bytes, but Bun may still hold some
        // (up to megabytes when the peer reads slowly), and close() drops those: shutdown()
        // flushes them and sends close_notify and FIN. Not end(): it keeps the socket open until
        // the peer closes, forever if the socket is paused (oven-sh/bun#42352); resume() lets
        // the peer's close in.
        finish: tls
          ? () => {
            socket.shutdown();
            socket.resume();
          }
          : undefined,
      },
      socketAddr(socket, true, unixPath),
      socketAddr(socket, false, unixPath, target),
      allocate,
    );
  }

  #write(chunk: Uint8Array): Promise<void> {
    const n = this.#socket.write(chunk);
    if (n === chunk.byteLength) return Promise.resolve();
    if (n < 0) {
      // Over TCP the peer's kernel answered with RST; a Unix socket has none, its peer closed.
      this.#gone = this.conn.remoteAddr.transport === "tcp";
      // Bun then closes the socket itself, at the reset or the peer's close. Not for a Unix peer
      // that shut down only its reading (writes fail, it may never send or close): the socket
      // stayed open, and kept the process alive, until it did. Reading gets what came before,
      // then the failure, as on Deno (see FAILED_WRITE_LIMIT).
      this.#cut ??= setTimeout(() => this.conn.error(socketGone()), FAILED_WRITE_LIMIT);
      return Promise.reject(socketGone());
    }
    // Bun wrote part of it and keeps nothing: the rest goes out on drain. A view of fixed length:
    // a length-tracking view of a resizable buffer grown meanwhile goes out at the length it had,
    // as on Node (before, the write failed, in words that said the buffer had shrunk).
    this.#rest = chunk.subarray(n, chunk.byteLength);
    this.#restLength = this.#rest.byteLength;
    return new Promise((resolve, reject) => {
      this.#settle = (error) => error === undefined ? resolve() : reject(error);
    });
  }

  /** The socket can take more bytes. */
  drain(): void {
    const rest = this.#rest;
    if (rest === undefined) return;
    // Detached or shrunk since: writing what is left would resolve with bytes never sent.
    if (rest.byteLength !== this.#restLength) {
      this.#rest = undefined;
      this.#settle?.(detachedPayload("write", "chunk"));
      this.#settle = undefined;
      return;
    }
    const n = this.#socket.write(rest);
    if (n < 0) return this.close(socketGone());
    if (n < rest.byteLength) {
      this.#rest = rest.subarray(n);
      this.#restLength = this.#rest.byteLength;
      return;
    }
    this.#rest = undefined;
    this.#settle?.();
  }

  /** The peer's FIN, or (after a write found the socket gone) its reset. */
  end(): void {
    if (this.#gone) this.conn.error(socketGone());
    else this.conn.end();
  }

  /** The socket closed: fail the write in progress, then end the conn. */
  close(error?: Error): void {
    clearTimeout(this.#cut);
    const failure = error ?? (this.#gone ? socketGone() : undefined);
    if (failure !== undefined) this.conn.error(failure);
    this.#rest = undefined;
    this.#settle?.(error ?? socketGone());
    this.#settle = undefined;
    this.conn.terminated();
  }
}

function handlers(
  tls: boolean,
  unixPath: string | undefined,
  ready: (socket: BunSocket, success: boolean, error?: Error) => void,
  target?: TcpAddr,
): BunHandlers {
  return {
    open: (socket) => {
      socket.data = new Link(socket, unixPath, tls, target);
      if (unixPath === undefined) socket.setNoDelay(true);
      if (!tls) ready(socket, true);
    },
    handshake: (socket, success, error) => ready(socket, success, error ?? undefined),
    // Bun reads into ArrayBuffers, never shared memory (tests/adapters/_suite.ts checks it).
    data: (socket, data) =>
      socket.data?.conn.data(
        new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength),
      ),
    drain: (socket) => socket.data?.drain(),
    end: (socket) => socket.data?.end(),
    error: (socket, error) => socket.data?.conn.error(error),
    close: (socket, error) => socket.data?.close(error),
    connectError: () => {}, // Bun.connect rejects too
  };
}

/** Connects with `open`; over TLS when a `serverName` to verify the server against is given. */
function dial(
  to: NetAddr,
  options: ConnectOptions,
  open: (socket: BunHandlers) => Promise<BunSocket>,
  serverName?: string,
): Promise<Conn<ArrayBuffer>> {
  const target = formatAddr(to);
  const tls = serverName !== undefined;
  return new Promise((resolve, reject) => {
    requireRuntime("Bun", "connect");
    throwIfAborted(options.signal);
    let done = false;
    let connected = false;
    // The socket once Bun has opened it: an abort during a TLS handshake closes it.
    let opened: BunSocket | undefined;
    const signal = options.signal;
    const settle = (socket: BunSocket | undefined, error?: unknown): void => {
      signal?.removeEventListener("abort", onAbort);
      if (done) return void (connected ? undefined : socket?.close());
      done = true;
      if (error !== undefined || socket === undefined) {
        (socket ?? opened)?.close();
        return reject(
          signal?.aborted ? signal.reason : connectionError(`connect to ${target}`, error),
        );
      }
      connected = true;
      if (!("path" in options) && options.noDelay === false) socket.setNoDelay(false);
      resolve(socket.data!.conn);
    };
    const onAbort = (): void => settle(undefined, signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const gotSocket = (socket: BunSocket): void => {
      opened = socket;
      if (done && !connected) socket.close(); // given up meanwhile
    };
    // A TLS client is ready once the handshake succeeded and the server was verified: its
    // certificate against the name too (Bun before 1.4 verified the chain only).
    const ready = (socket: BunSocket, success: boolean, error?: Error): void =>
      settle(
        socket,
        success && error === undefined
          ? serverName === undefined ? undefined : identityError(socket, serverName)
          : error ?? new Error("TLS handshake failed"),
      );
    const socketHandlers = to.transport === "unix"
      ? handlers(tls, to.path, ready)
      : handlers(tls, undefined, ready, to);
    const onOpen = socketHandlers.open;
    socketHandlers.open = (socket) => {
      gotSocket(socket);
      onOpen(socket);
    };
    let opening: Promise<BunSocket>;
    try {
      opening = open(socketHandlers);
    } catch (error) {
      // Bun throws at once on some options (a CA it cannot parse).
      return settle(undefined, error);
    }
    opening.then(gotSocket, (error) => settle(undefined, error));
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
    const unix = options.path;
    return await dial(
      { transport: "unix", path: unix },
      options,
      (socket) => bun().connect({ unix, socket, allowHalfOpen: true }),
    );
  }
  const { hostname = "127.0.0.1", port } = options;
  return await dialHost(
    { transport: "tcp", hostname, port },
    options,
    (address, socket) => bun().connect({ hostname: address, port, socket, allowHalfOpen: true }),
  );
}

/**
 * Connects over TLS, verifying the server against `caCerts` (instead of the
 * system roots when given) and `serverName` (default: `hostname`).
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
  const { hostname = "127.0.0.1", port, caCerts: ca, serverName = hostname } = options;
  return await dialHost(
    { transport: "tcp", hostname, port },
    options,
    (address, socket) =>
      bun().connect({
        hostname: address,
        port,
        socket,
        allowHalfOpen: true,
        // Bun sends an IP address as SNI, which RFC 6066 forbids (Deno and Node send none). An
        // empty serverName sends none and verifies against hostname, the same address here.
        tls: { ca, serverName: sameAddress(serverName, address) ? "" : serverName },
      }),
    serverName,
  );
}

/**
 * Dials the addresses `to.hostname` names, one after the other in the system resolver's order,
 * each but the last given up after a while (see dialAddresses()), as Node and Deno do. Bun,
 * given a name, would connect to every address it finds at once and reset the connections that
 * lose the race, which a listener on both families has already accepted (an extra connection
 * that fails at once), and would find `::1` for `localhost` whatever /etc/hosts says.
 */
async function dialHost(
  to: TcpAddr,
  options: ConnectOptions,
  open: (address: string, socket: BunHandlers) => Promise<BunSocket>,
  serverName?: string,
): Promise<Conn<ArrayBuffer>> {
  requireRuntime("Bun", "connect");
  throwIfAborted(options.signal);
  let addresses = [to.hostname];
  if (isIP(to.hostname) === 0) {
    try {
      addresses = (await abortable(lookup(to.hostname, { all: true }), options.signal))
        .map(({ address }) => address);
    } catch (error) {
      // Aborted also when the lookup's failure came first, in the same turn: the reason, as
      // everywhere else.
      throw options.signal?.aborted
        ? options.signal.reason
        : connectionError(`connect to ${formatAddr(to)}`, error);
    }
  }
  if (addresses.length === 0) {
    // (getaddrinfo() fails instead; a resolver that answers with no address is not found either.)
    const notFound = Object.assign(new Error(`no address for ${to.hostname}`), {
      code: "ENOTFOUND",
    });
    throw connectionError(`connect to ${formatAddr(to)}`, notFound);
  }
  return await dialAddresses(
    addresses,
    options.signal,
    (address, signal, opened) =>
      dial(to, { ...options, signal }, (socket) => {
        const onOpen = socket.open;
        socket.open = (s) => {
          opened();
          onOpen(s);
        };
        return open(address, socket);
      }, serverName),
  );
}

/** `promise`, or the signal's reason once it aborts first (a lookup cannot be cancelled). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Whether `name` is an IP address, the same as `hostname` however either is written. */
function sameAddress(name: string, hostname: string): boolean {
  return isIP(name) !== 0 && canonicalIp(name) === canonicalIp(hostname);
}

/** Why the server's certificate is not valid for `name`, if it is not. */
function identityError(socket: BunSocket, name: string): Error | undefined {
  try {
    return checkServerIdentity(name, socket.getPeerCertificate());
  } catch (error) {
    return error as Error;
  }
}

/**
 * An IPv6 address as Node and Deno report it: in its shortest form and lower case (`::1`), an
 * IPv4-mapped one with its IPv4 part dotted (`::ffff:127.0.0.1`), without a zone (`%1`), which
 * neither reports. Others as given.
 */
function canonicalIp(hostname: string): string {
  if (isIP(hostname) !== 6) return hostname;
  let short: string;
  try {
    short = new URL(`http://[${hostname.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  } catch {
    return hostname;
  }
  // URL writes the IPv4 part of a mapped address in hex (::ffff:7f00:1).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(short);
  if (mapped === null) return short;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `::ffff:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

async function serve(
  options: ListenOptions,
  secure = false,
): Promise<Listener<NetAddr, ArrayBuffer>> {
  options = checkTarget(options, "listen", secure ? "server" : undefined);
  // From the checked options: PEM given as bytes is text there.
  const tls = secure
    ? { cert: (options as TlsListenOptions).cert, key: (options as TlsListenOptions).key }
    : undefined;
  const unixPath = "path" in options ? options.path : undefined;
  const hostname = "path" in options ? undefined : options.hostname ?? "0.0.0.0";
  const target = unixPath ??
    formatAddr({ transport: "tcp", hostname: hostname!, port: (options as { port: number }).port });
  let listener: QueueListener<ArrayBuffer> | undefined;
  requireRuntime("Bun", "listen");
  // Bun would bind a host name's address but report the name as the listener's address, and fail
  // to resolve it without a reason: resolve it first, as Node and Deno do.
  let address = hostname;
  if (hostname !== undefined && isIP(hostname) === 0) {
    try {
      address = (await lookup(hostname)).address;
    } catch (error) {
      throw connectionError(`listen on ${target}`, error);
    }
  }
  // TLS connections still in their handshake belong to no one: closing the listener closes them,
  // and so does their deadline (Bun has none: a client that sends nothing would stay).
  const handshaking = new Map<BunSocket, ReturnType<typeof setTimeout>>();
  const timeout = tlsHandshake.timeout;
  const handshaken = (s: BunSocket): void => {
    clearTimeout(handshaking.get(s));
    handshaking.delete(s);
  };
  try {
    const socket = handlers(tls !== undefined, unixPath, (socket, success) => {
      handshaken(socket);
      // Server side: the handshake's authorization error only says that no client cert was sent.
      if (!success || listener === undefined) socket.close();
      else listener.push(socket.data!.conn);
    });
    if (tls !== undefined) {
      const { open, close } = socket;
      socket.open = (s) => {
        const deadline = setTimeout(() => handshaking.has(s) && s.close(), timeout);
        (deadline as { unref?: () => void }).unref?.();
        handshaking.set(s, deadline);
        open(s);
      };
      socket.close = (s, error) => {
        handshaken(s);
        close(s, error);
      };
    }
    const base = { socket, allowHalfOpen: true, tls };
    const server = unixPath !== undefined
      ? bun().listen({ ...base, unix: unixBindPath(unixPath, process.cwd) })
      : bun().listen({ ...base, hostname: address, port: (options as { port: number }).port });
    const addr: NetAddr = unixPath !== undefined
      ? { transport: "unix", path: unixPath }
      : { transport: "tcp", hostname: canonicalIp(server.hostname), port: server.port };
    listener = new QueueListener<ArrayBuffer>(addr, () => {
      server.stop(false);
      for (const [s, deadline] of handshaking) {
        clearTimeout(deadline);
        s.close();
      }
      handshaking.clear();
    });
    return listener;
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
  return serve(options);
}

/**
 * Listens for TLS connections with `cert` and `key` (PEM); connections are
 * yielded once their handshake completed (one still in it after 120 s is
 * closed).
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
  return serve(options, true);
}
