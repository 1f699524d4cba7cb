// Copyright 2026 the framewire authors. MIT license.
// Private: a Listener for runtimes that push accepted sockets through a callback (Node, Bun).
// Runtime-agnostic.

import type { Conn, Listener, NetAddr } from "../connection/types.ts";
import { Fifo } from "../_fifo.ts";

export type { Conn, Listener, NetAddr };

/**
 * How long a TLS server connection may spend in its handshake before the
 * listener closes it (ms): 120 s, Node's own `handshakeTimeout`, on Node and
 * Bun (where such a connection belongs to no one yet). Tests shorten it.
 */
export const tlsHandshake = { timeout: 120_000 };

/**
 * Queues accepted connections until someone iterates. Breaking out of a
 * `for await` does not close it; `close()` does, and closes the connections
 * that were accepted but never handed out.
 */
export class QueueListener<B extends ArrayBufferLike = ArrayBufferLike>
  implements Listener<NetAddr, B> {
  /** The bound address. */
  readonly addr: NetAddr;
  #stop: () => void;
  #queue = new Fifo<Conn<B>>();
  #waiting = new Fifo<(result: IteratorResult<Conn<B>>) => void>();
  #closed = false;

  /**
   * Creates an empty queue.
   *
   * @param addr The bound address.
   * @param stop Stops the runtime's server (called once, by `close()`).
   */
  constructor(addr: NetAddr, stop: () => void) {
    this.addr = addr;
    this.#stop = stop;
  }

  /** A connection was accepted. */
  push(conn: Conn<B>): void {
    if (this.#closed) return conn.close();
    const waiter = this.#waiting.shift();
    if (waiter === undefined) this.#queue.push(conn);
    else waiter({ value: conn, done: false });
  }

  /** Stops listening and closes the queued connections; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    for (const conn of this.#queue.drain()) conn.close();
    for (const waiter of this.#waiting.drain()) waiter({ value: undefined, done: true });
  }

  /** Yields accepted connections until `close()`. */
  [Symbol.asyncIterator](): AsyncIterator<Conn<B>> {
    return {
      next: (): Promise<IteratorResult<Conn<B>>> => {
        const conn = this.#queue.shift();
        if (conn !== undefined) return Promise.resolve({ value: conn, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiting.push(resolve));
      },
      // No return(): leaving a for-await loop keeps the listener open.
    };
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
