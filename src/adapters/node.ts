// Copyright 2026 the framewire authors. MIT license.
/**
 * Node adapter: `node:net` and `node:tls` sockets as framewire `Conn`s. The
 * web streams are built from the socket's `data`/`end`/`close` events with
 * `pause()`/`resume()` (not `Duplex.toWeb`), sockets are half-open capable and
 * `noDelay` is on by default.
 *
 * @example Echo over loopback
 * ```ts
 * import { connect, listen } from "@framewire/framewire/node";
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

import * as net from "node:net";
import * as tls from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import process from "node:process";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { lookup } from "node:dns/promises";
import { setImmediate } from "node:timers";
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
  throwIfAborted,
  unixBindPath,
  unixListenErrno,
} from "./_errors.ts";
import { QueueListener, tlsHandshake } from "./_queue_listener.ts";
import { allocUnsafeWith, socketAddr, SocketConn, type SocketHandle } from "./_socket_conn.ts";

/** Frames are copied into unpooled memory that is not zero-filled first (see allocUnsafeWith). */
const allocate = allocUnsafeWith((length) => Buffer.allocUnsafeSlow(length));

export type * from "../connection/types.ts";

const EMPTY = new Uint8Array(0);

/** Running on Deno's `node:net` and `node:tls`, whose gaps three places work around. */
const ON_DENO = "Deno" in globalThis;

/** What {@linkcode askDenoNet} uses of Deno's globals (typed here: the npm build has no Deno). */
interface DenoPermissions {
  permissions?: { requestSync?(descriptor: { name: "net"; host: string }): { state: string } };
  errors?: { NotCapable?: new (message: string) => Error };
}

/**
 * On Deno, asks for the permission to listen on `host` and `port` as
 * `Deno.listen()` would (a prompt, unless `--no-prompt`), and throws Deno's
 * `NotCapable` error, in its words, when it is not granted: Deno's
 * `node:net` throws a denied permission from a later tick of `listen()`,
 * where nothing can catch it (the process died, the promise never settled).
 */
function askDenoNet(host: string, port: number): void {
  if (!ON_DENO) return;
  const deno = (globalThis as unknown as { Deno: DenoPermissions }).Deno;
  const target = formatAddr({ transport: "tcp", hostname: host, port });
  const state = deno.permissions?.requestSync?.({ name: "net", host: target }).state;
  if (state === undefined || state === "granted") return;
  const NotCapable = deno.errors?.NotCapable ?? Error;
  throw new NotCapable(`Requires net access to "${target}", run again with the --allow-net flag`);
}

/**
 * Closes a TLS socket with close_notify and FIN first. A bare close would make the kernel send RST
 * instead of FIN if the server's TLS 1.3 session tickets (which the application never reads) are
 * still unread, or bytes from the peer arrive after it, and the peer would see a reset, which
 * drops what its kernel holds of writes that resolved. So also while a write is in progress (it
 * goes on, as on Deno, until the peer has read it or the cut after tlsClose.limit): before, the
 * socket was destroyed then, and a peer that read only after the close was reset (it got 163,840
 * of 400,000 bytes whose write had resolved). The bytes of writes that resolved can also still
 * wait below the TLS layer (the peer reads slowly), and destroy() drops them. The socket closes
 * by itself once the peer has ended too; resume() lets that end in.
 */
function finishTls(socket: tls.TLSSocket): void {
  if (socket.destroyed) return;
  if (!socket.writableEnded) socket.end();
  socket.resume();
}

/**
 * After `pause()` a Node socket goes on reading into a buffer of its own
 * until that holds `readableHighWaterMark` bytes (64 KiB), one `Buffer` per
 * read: from a peer that sends a byte at a time, about 20 MB per connection.
 * A high-water mark of 1 stops it after one more read (framewire's queue,
 * which counts what each chunk costs, does the buffering). Set on the
 * stream's state: a TLS server's sockets take no option for it, nor do those
 * of Deno's `node:net` server.
 */
function limitReadAhead(socket: net.Socket): void {
  const state = (socket as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (typeof state?.highWaterMark === "number") state.highWaterMark = 1;
}

/** A node:net socket's operations for its SocketConn (methods, not a closure each: less heap). */
class NodeHandle implements SocketHandle {
  readonly #socket: net.Socket;
  readonly #unixPath: string | undefined;
  readonly #isTls: boolean;
  // Deno's node:tls ignores pause() (data keeps coming), and a FIN that arrives while paused
  // never ends the socket: there, pausing would only lose the end.
  readonly #denoTls: boolean;
  readonly finish: (() => void) | undefined;

  constructor(socket: net.Socket, unixPath: string | undefined) {
    this.#socket = socket;
    this.#unixPath = unixPath;
    this.#isTls = socket instanceof tls.TLSSocket;
    this.#denoTls = ON_DENO && this.#isTls;
    this.finish = socket instanceof tls.TLSSocket ? () => finishTls(socket) : undefined;
  }

  pause(): void {
    if (!this.#denoTls) this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    return new Promise<void>((resolve, reject) => {
      // A write the socket's failure cancelled (ECANCELED) reports that failure: Deno's
      // node:net calls back before it emits the error.
      // A TLS write that destroy() cut short (the cut after tlsClose.limit, see finishTls) is
      // called back without an error, though the bytes not yet written are dropped: it failed.
      socket.write(chunk, (error) => {
        if (error) reject(socket.errored ?? error);
        else if (this.#isTls && socket.destroyed) reject(new Error("the socket was closed first"));
        else resolve();
      });
    });
  }

  // TCP: the empty write fails if the peer reset the connection meanwhile (FIN cannot be
  // sent; Node's end() ignores the ENOTCONN of shutdown(2)); end() reports a destroyed socket.
  // Not on a Unix socket: there the empty write fails with EPIPE once the peer has closed,
  // however cleanly, and Node then destroys the socket, dropping what was not read yet.
  // TLS needs no probe (writing close_notify fails then), and Deno's node:tls refuses every
  // empty write (EPERM).
  // TLS: end() a turn later. Node drops bytes still being read when end() comes during the
  // read that finished the handshake (a server's closeWrite() as soon as it accepts): later
  // bytes arrive, with a gap before them.
  shutdown(): Promise<void> {
    const socket = this.#socket;
    return new Promise<void>((resolve, reject) => {
      // A reset that destroyed the socket meanwhile is reported, not the refusal of end().
      const done = (error?: Error | null): void =>
        error ? reject(socket.errored ?? error) : resolve();
      // A close() meanwhile ended it already (finishTls).
      if (socket instanceof tls.TLSSocket) {
        setImmediate(() => socket.writableEnded ? done() : socket.end(done));
      } else if (this.#unixPath !== undefined) socket.end(done); // the probe fails after any close
      else socket.write(EMPTY, (error) => error ? done(error) : socket.end(done));
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

function wrap(socket: net.Socket, unixPath?: string, dialled?: TcpAddr): Conn<ArrayBuffer> {
  const handle = new NodeHandle(socket, unixPath);
  const conn = new SocketConn(
    handle,
    socketAddr(socket, true, unixPath),
    socketAddr(socket, false, unixPath, dialled),
    allocate,
  );
  handle.pause();
  limitReadAhead(socket);
  // A socket reads into ArrayBuffers (never shared memory), on Node and on Deno's and Bun's
  // node:net alike (tests/adapters/_suite.ts checks it), whatever Buffer's type says.
  socket.on(
    "data",
    (buf: Buffer) =>
      conn.data(new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength)),
  );
  socket.on("end", () => conn.end());
  socket.on("error", (error) => conn.error(error));
  socket.on("close", () => conn.terminated());
  return conn;
}

function dial(
  socket: net.Socket,
  ready: string,
  signal: AbortSignal | undefined,
  to: NetAddr,
): Promise<Conn<ArrayBuffer>> {
  const target = formatAddr(to);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy();
      reject(signal!.reason);
    };
    const onError = (error: Error): void => {
      signal?.removeEventListener("abort", onAbort);
      reject(connectionError(`connect to ${target}`, error));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(ready, () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      resolve(to.transport === "unix" ? wrap(socket, to.path) : wrap(socket, undefined, to));
    });
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
  throwIfAborted(options.signal);
  if ("path" in options) {
    let socket: net.Socket;
    try {
      socket = net.connect({ path: options.path, allowHalfOpen: true });
    } catch (error) {
      // Deno's node:net throws a denied permission here (the others report it as an error).
      throw connectionError(`connect to ${options.path}`, error);
    }
    return await dial(socket, "connect", options.signal, { transport: "unix", path: options.path });
  }
  const host = options.hostname ?? "127.0.0.1";
  const socket = net.connect({ host, port: options.port, allowHalfOpen: true });
  socket.setNoDelay(options.noDelay ?? true);
  return await dial(socket, "connect", options.signal, {
    transport: "tcp",
    hostname: host,
    port: options.port,
  });
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
  throwIfAborted(options.signal);
  const host = options.hostname ?? "127.0.0.1";
  const name = options.serverName ?? host;
  // A half-open TCP socket underneath: Node's TLSSocket takes its allowHalfOpen.
  const to: TcpAddr = { transport: "tcp", hostname: host, port: options.port };
  const target = formatAddr(to);
  const tcp = net.connect({ host, port: options.port, allowHalfOpen: true });
  tcp.setNoDelay(options.noDelay ?? true);
  let socket: tls.TLSSocket;
  try {
    socket = tls.connect({
      socket: tcp,
      ca: options.caCerts?.slice(),
      // Node refuses IP addresses as SNI; it still verifies them against the certificate.
      servername: net.isIP(name) === 0 ? name : undefined,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
    });
  } catch (error) {
    // Options it cannot use (a CA it cannot parse, on Bun): the TCP socket is no one's.
    tcp.on("error", () => {});
    tcp.destroy();
    throw connectionError(`connect to ${target}`, error);
  }
  socket.once("close", () => tcp.destroy());
  return await dial(socket, "secureConnect", options.signal, to);
}

function serve(
  createServer: (options: ListenOptions) => net.Server,
  options: ListenOptions,
  event: string,
): Promise<Listener<NetAddr, ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    options = checkTarget(options, "listen", event === "secureConnection" ? "server" : undefined);
    const unixPath = "path" in options ? options.path : undefined;
    const host = "path" in options ? undefined : options.hostname ?? "0.0.0.0";
    const target = "path" in options
      ? options.path
      : formatAddr({ transport: "tcp", hostname: host!, port: options.port });
    let server: net.Server;
    try {
      // TLS: a certificate or key it cannot use is a failure to listen, like any other.
      server = createServer(options);
    } catch (error) {
      return reject(connectionError(`listen on ${target}`, error));
    }
    let listener: QueueListener<ArrayBuffer>;
    // TLS connections still in their handshake belong to no one: closing the listener closes
    // them (a client that never finishes would keep the process alive for handshakeTimeout).
    const handshaking = new Map<string, net.Socket>();
    // By both ends' address and port: unique among live connections (the peer's alone is not: a
    // listener on 0.0.0.0 can take one peer port's connections on two local addresses).
    const key = (socket: net.Socket): string =>
      `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
    if (event === "secureConnection") {
      server.on("connection", (raw: net.Socket) => {
        const k = key(raw);
        handshaking.set(k, raw);
        raw.once("close", () => handshaking.get(k) === raw && handshaking.delete(k));
      });
      // A failed handshake, and the handshakeTimeout, only report: close the socket.
      server.on("tlsClientError", (_error: Error, socket: tls.TLSSocket) => socket.destroy());
    }
    server.on(event, (socket: net.Socket) => {
      handshaking.delete(key(socket));
      // Half-open only once the handshake is over: before, a client's FIN must end the socket
      // (one that closes mid-handshake, a port scanner, a health check), or it stays in
      // CLOSE_WAIT until the listener closes.
      socket.allowHalfOpen = true;
      socket.setNoDelay(true);
      listener.push(wrap(socket, unixPath));
    });
    // A relative path is bound by its absolute form when that fits (see unixBindPath()).
    const bound = unixPath === undefined ? undefined : unixBindPath(unixPath, process.cwd);
    server.on("error", (error: Error & { code?: unknown }) => {
      // libuv reports a Unix socket path in a missing directory as EACCES (as on Windows); Deno's
      // and Bun's node:net, and their adapters, as ENOENT: worded alike (the cause stays). One
      // that exists but cannot be searched keeps its EACCES (unixListenErrno()).
      const errno = bound === undefined
        ? undefined
        : unixListenErrno(error, dirname(bound), statSync);
      reject(connectionError(`listen on ${target}`, error, errno));
    });
    const onListening = (): void => {
      const info = server.address();
      const addr: NetAddr = info === null || typeof info === "string"
        ? { transport: "unix", path: unixPath ?? String(info) }
        : { transport: "tcp", hostname: info.address, port: info.port };
      listener = new QueueListener<ArrayBuffer>(addr, () => {
        server.close();
        for (const raw of handshaking.values()) raw.destroy();
        handshaking.clear();
      });
      resolve(listener);
    };
    // Deno's node:net throws a denied permission for a Unix socket here, and for TCP from a later
    // tick unless askDenoNet() refused it first.
    const bind = (to: { path: string } | { host: string; port: number }): void => {
      try {
        if ("host" in to) askDenoNet(to.host, to.port);
        server.listen(to, onListening);
      } catch (error) {
        reject(connectionError(`listen on ${target}`, error));
      }
    };
    if ("path" in options) return bind({ path: bound! });
    const port = options.port;
    if (net.isIP(host!) !== 0) return bind({ host: host!, port });
    // A host name is resolved first, as Node's listen() does itself: Bun's fails on some names
    // that do not resolve without saying why.
    lookup(host!).then(
      ({ address }) => bind({ host: address, port }),
      (error) => reject(connectionError(`listen on ${target}`, error)),
    );
  });
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
  return serve(
    () => net.createServer({ allowHalfOpen: true, pauseOnConnect: true }),
    options,
    "connection",
  );
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
  return serve(
    // The checked options: PEM given as bytes is text there.
    (checked) => {
      const { cert, key } = checked as TlsListenOptions;
      if (ON_DENO) {
        // Deno's node:tls takes a certificate or key it cannot parse, or a key that is not the
        // certificate's, and then fails every handshake; Node's and Bun's refuse them here, as a
        // failure to listen, in the same words.
        if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
          throw Object.assign(new Error("the certificate and the key do not match"), {
            code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
          });
        }
      }
      return tls.createServer({ cert, key, handshakeTimeout: tlsHandshake.timeout });
    },
    options,
    "secureConnection",
  );
}
