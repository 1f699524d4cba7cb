// Copyright 2026 the framewire authors. MIT license.
// In-memory connections with fault injection, for tests: two linked Conns
// (a MemoryLink), and a MemoryNetwork that hands out links to a dialer and a
// listener. No sockets, no timers.

import type { Conn, NetAddr } from "../../src/connection/types.ts";
import { ConnectionError } from "../../src/errors.ts";

/** Direction of travel on a link. */
export type Direction = "c2s" | "s2c";

/** How a cut looks to both ends. */
export type CutMode = "eof" | "reset";

/** Options for {@linkcode MemoryLink}. */
export interface MemoryLinkOptions {
  /**
   * Bytes buffered per direction before writes wait (the "kernel buffers").
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * Splits each write into pieces the reader receives one by one: called
   * with the bytes left of a write, returns the next piece's size (clamped
   * to 1 .. left). Default: the whole write at once.
   */
  split?: ((left: number) => number) | undefined;
  /**
   * Cancelling an end's readable keeps draining (as framewire's adapters
   * do): the peer's writes go on and their bytes vanish. Default: the
   * peer's writes fail after a cancel.
   */
  drainOnCancel?: boolean | undefined;
  /**
   * Sets `releasesChunkOnWrite` on both ends (honestly: a write copies its
   * chunk before it waits for room).
   */
  releasesChunkOnWrite?: boolean | undefined;
  /**
   * Gives both ends a `read(buffer)` (a "bring your own buffer" read, as the
   * Deno adapter's), which `framed()` then uses instead of `readable`.
   */
  read?: boolean | undefined;
}

/** One direction of a link. */
class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes that went through (delivered or black-holed). */
  passed = 0;
  cutAt = Infinity;
  cutMode: CutMode = "eof";
  blackHoled = false;
  held: Uint8Array[] | undefined;
  /** The readable was cancelled with `drainOnCancel`: bytes vanish. */
  draining = false;
  #split: ((left: number) => number) | undefined;
  #drainOnCancel: boolean;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #state: "open" | "ended" | "broken" = "open";
  #pullWaiters: (() => void)[] = [];
  #link: MemoryLink;

  constructor(link: MemoryLink, highWaterMark: number, options: MemoryLinkOptions = {}) {
    this.#link = link;
    this.#split = options.split;
    this.#drainOnCancel = options.drainOnCancel === true;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        this.#wake();
      },
      cancel: () => {
        if (this.#drainOnCancel && this.#state === "open") {
          this.draining = true;
          this.held = undefined;
          this.#wake();
          return;
        }
        this.#state = "ended";
        this.#wake();
      },
    }, { highWaterMark, size: (chunk) => chunk.byteLength });
  }

  get open(): boolean {
    return this.#state === "open";
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== "open") {
      throw new ConnectionError("Cannot write to a closed memory connection", {
        code: "CONNECTION_RESET",
      });
    }
    if (chunk.byteLength === 0) return;
    // A copy (a Buffer's slice() would be a view of it).
    let data = new Uint8Array(chunk);
    let cutAfter = false;
    if (this.passed + data.length >= this.cutAt) {
      data = data.subarray(0, this.cutAt - this.passed);
      cutAfter = true;
    }
    this.passed += data.length;
    if (this.blackHoled || this.draining) {
      // vanish
    } else if (this.held !== undefined) {
      if (data.length > 0) this.held.push(data);
    } else if (data.length > 0) {
      this.#enqueue(data);
    }
    if (cutAfter) {
      this.#link.cut(this.cutMode);
      throw new ConnectionError("Memory connection cut", { code: "CONNECTION_RESET" });
    }
    while (this.#state === "open" && !this.draining && (this.#controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((resolve) => this.#pullWaiters.push(resolve));
    }
  }

  /** Enqueues `data`, in the pieces `split` says. */
  #enqueue(data: Uint8Array): void {
    const split = this.#split;
    if (split === undefined) {
      this.#controller.enqueue(data);
      return;
    }
    for (let at = 0; at < data.length;) {
      const left = data.length - at;
      const n = Math.min(left, Math.max(1, Math.floor(split(left))));
      this.#controller.enqueue(data.subarray(at, at + n));
      at += n;
    }
  }

  /** Delivers up to `n` held bytes, and keeps holding the rest. */
  releaseSome(n: number): void {
    const held = this.held;
    if (held === undefined || this.#state !== "open") return;
    while (n > 0 && held.length > 0) {
      const chunk = held[0]!;
      const part = chunk.subarray(0, n);
      if (part.length === chunk.length) held.shift();
      else held[0] = chunk.subarray(n);
      this.#enqueue(part);
      n -= part.length;
    }
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    if (held === undefined || this.#state !== "open") return;
    for (const chunk of held) this.#enqueue(chunk);
  }

  /** FIN: the reader sees the end after what is queued. */
  end(): void {
    if (this.#state !== "open") return;
    this.release();
    this.#state = "ended";
    try {
      this.#controller.close();
    } catch {
      // already closed or errored
    }
    this.#wake();
  }

  /** Reset: queued bytes are lost, the reader errors. */
  break(error: Error): void {
    if (this.#state === "broken") return;
    const wasOpen = this.#state === "open";
    this.#state = "broken";
    this.held = undefined;
    if (wasOpen) {
      try {
        this.#controller.error(error);
      } catch {
        // already closed
      }
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#pullWaiters;
    this.#pullWaiters = [];
    for (const wake of waiters) wake();
  }
}

let nextPort = 40000;

/** One end of a {@linkcode MemoryLink}. */
class MemoryConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  readonly closed: Promise<void>;
  readonly releasesChunkOnWrite: boolean;
  readonly read?: (buffer: Uint8Array) => Promise<number | null>;
  /** What a `read()` took from the readable beyond its buffer. */
  #leftover: Uint8Array | undefined;
  #in: Pipe;
  #out: Pipe;
  #closed = false;
  #resolveClosed!: () => void;
  #link: MemoryLink;

  constructor(
    link: MemoryLink,
    incoming: Pipe,
    outgoing: Pipe,
    local: NetAddr,
    remote: NetAddr,
    releasesChunkOnWrite: boolean,
    read: boolean,
  ) {
    this.#link = link;
    this.releasesChunkOnWrite = releasesChunkOnWrite;
    if (read) this.read = (buffer) => this.#readInto(buffer);
    this.#in = incoming;
    this.#out = outgoing;
    this.localAddr = local;
    this.remoteAddr = remote;
    this.readable = incoming.readable;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => outgoing.write(chunk),
      close: () => outgoing.end(),
      abort: () => outgoing.end(),
    });
  }

  /**
   * One read at a time, through a reader taken for it and let go after (so that `readable` may
   * take over, as the Deno adapter allows): `null` at the end and once closed, a rejection at a
   * reset.
   */
  async #readInto(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return null;
    let chunk = this.#leftover;
    this.#leftover = undefined;
    if (chunk === undefined) {
      const reader = this.readable.getReader();
      try {
        const result = await reader.read();
        if (result.done || this.#closed) return null;
        chunk = result.value;
      } finally {
        reader.releaseLock();
      }
    }
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#leftover = chunk.subarray(n);
    return n;
  }

  closeWrite(): Promise<void> {
    this.#out.end();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.end();
    // Our own reads end cleanly; the peer's writes to us fail from now on.
    this.#in.end();
    this.#link.endClosed(this);
    this.#resolveClosed();
  }

  /** Marks the end closed without touching the pipes (the link was cut). */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveClosed();
  }
}

/**
 * Two linked in-memory Conns with faults: `cut` (EOF or reset on both
 * ends), `cutAfter` (at a byte offset of one direction), `blackHole` (bytes
 * vanish, nothing closes), `hold`/`release` (delay).
 */
export class MemoryLink {
  /** The dialing end. */
  readonly client: Conn;
  /** The accepted end. */
  readonly server: Conn;
  #c2s: Pipe;
  #s2c: Pipe;
  #cut = false;
  #closedEnds = 0;

  /** Creates a linked pair. */
  constructor(options: MemoryLinkOptions = {}) {
    const hwm = options.highWaterMark ?? 65536;
    this.#c2s = new Pipe(this, hwm, options);
    this.#s2c = new Pipe(this, hwm, options);
    const releases = options.releasesChunkOnWrite === true;
    const read = options.read === true;
    const port = nextPort++;
    const clientAddr: NetAddr = { transport: "tcp", hostname: "127.0.0.1", port };
    const serverAddr: NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
    this.client = new MemoryConn(
      this,
      this.#s2c,
      this.#c2s,
      clientAddr,
      serverAddr,
      releases,
      read,
    );
    this.server = new MemoryConn(
      this,
      this.#c2s,
      this.#s2c,
      serverAddr,
      clientAddr,
      releases,
      read,
    );
  }

  /** Bytes that went through each direction so far. */
  get bytes(): { c2s: number; s2c: number } {
    return { c2s: this.#c2s.passed, s2c: this.#s2c.passed };
  }

  /** Whether the link was cut or both ends closed. */
  get down(): boolean {
    return this.#cut || this.#closedEnds >= 2;
  }

  /** Cuts both directions now. */
  cut(mode: CutMode = "eof"): void {
    if (this.#cut) return;
    this.#cut = true;
    const error = new ConnectionError("Connection reset (memory link cut)", {
      code: "CONNECTION_RESET",
    });
    for (const pipe of [this.#c2s, this.#s2c]) {
      if (mode === "reset") pipe.break(error);
      else {
        pipe.end();
        // Later writes fail like writes to a reset socket.
        pipe.break(error);
      }
    }
    (this.client as MemoryConn).markClosed();
    (this.server as MemoryConn).markClosed();
  }

  /** Cuts the link once `offset` bytes in total have passed in `direction`. */
  cutAfter(direction: Direction, offset: number, mode: CutMode = "eof"): void {
    const pipe = direction === "c2s" ? this.#c2s : this.#s2c;
    pipe.cutAt = offset;
    pipe.cutMode = mode;
    if (pipe.passed >= offset) this.cut(mode);
  }

  /** Makes bytes in `direction` (default both) vanish; nothing closes. */
  blackHole(direction?: Direction): void {
    if (direction !== "s2c") this.#c2s.blackHoled = true;
    if (direction !== "c2s") this.#s2c.blackHoled = true;
  }

  /** Holds bytes in `direction` (default both) until {@linkcode release}. */
  hold(direction?: Direction): void {
    if (direction !== "s2c") this.#c2s.held ??= [];
    if (direction !== "c2s") this.#s2c.held ??= [];
  }

  /** Delivers up to `n` held bytes in `direction`; the rest stays held. */
  releaseSome(direction: Direction, n: number): void {
    (direction === "c2s" ? this.#c2s : this.#s2c).releaseSome(n);
  }

  /** Delivers held bytes. */
  release(): void {
    this.#c2s.release();
    this.#s2c.release();
  }

  /** @internal */
  endClosed(conn: MemoryConn): void {
    this.#closedEnds++;
    // Writes towards a closed end fail, as on a real socket after close.
    const towards = conn === this.server ? this.#c2s : this.#s2c;
    towards.break(
      new ConnectionError("Connection reset by peer (memory)", { code: "CONNECTION_RESET" }),
    );
  }
}

/** Accepted memory connections. */
export class MemoryListener implements AsyncIterable<Conn> {
  readonly addr: NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  #queue: Conn[] = [];
  #waiters: ((result: IteratorResult<Conn>) => void)[] = [];
  #closed = false;

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  accept(conn: Conn): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ value: conn, done: false });
    else this.#queue.push(conn);
  }

  /** Stops listening; pending iterations end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of this.#queue) conn.close();
    this.#queue = [];
    for (const waiter of this.#waiters) waiter({ value: undefined, done: true });
    this.#waiters = [];
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<Conn> {
    return {
      next: (): Promise<IteratorResult<Conn>> => {
        const conn = this.#queue.shift();
        if (conn !== undefined) return Promise.resolve({ value: conn, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<Conn>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
  }
}

/**
 * A dialer and a listener joined in memory: `dial()` rejects with
 * `CONNECTION_REFUSED` while nothing listens, else returns the client end of
 * a new {@linkcode MemoryLink} whose server end the listener yields.
 */
export class MemoryNetwork {
  /** Every link made, in order. */
  readonly links: MemoryLink[] = [];
  /** Number of dial calls (refused ones included). */
  dials = 0;
  /** Called for each new link before either end sees it (to set faults). */
  onLink: ((link: MemoryLink, index: number) => void) | undefined;
  /** Called at each dial, before it resolves. */
  onDial: ((attempt: number) => void) | undefined;
  #listener: MemoryListener | undefined;
  #options: MemoryLinkOptions;

  /** Creates a network whose links use `options`. */
  constructor(options: MemoryLinkOptions = {}) {
    this.#options = options;
  }

  /** Starts listening (a previous listener must be closed). */
  listen(): MemoryListener {
    if (this.#listener !== undefined && !this.#listener.closed) {
      throw new Error("Already listening");
    }
    this.#listener = new MemoryListener();
    return this.#listener;
  }

  /** Dials the listener: bind with `network.dial.bind(network)` or use {@linkcode dialer}. */
  dial(): Promise<Conn> {
    this.dials++;
    this.onDial?.(this.dials);
    const listener = this.#listener;
    if (listener === undefined || listener.closed) {
      return Promise.reject(
        new ConnectionError("Cannot connect to memory listener: refused", {
          code: "CONNECTION_REFUSED",
          cause: new Error("ECONNREFUSED"),
        }),
      );
    }
    const link = new MemoryLink(this.#options);
    this.links.push(link);
    this.onLink?.(link, this.links.length - 1);
    listener.accept(link.server);
    return Promise.resolve(link.client);
  }

  /** A `dial` function bound to this network. */
  get dialer(): () => Promise<Conn> {
    return () => this.dial();
  }

  /** Cuts every link that is still up. */
  cutAll(mode: CutMode = "eof"): void {
    for (const link of this.links) link.cut(mode);
  }
}
