// Copyright 2026 the framewire authors. MIT license.
// SocketConn over a scripted SocketHandle: the orderings a real socket makes hard to hit (a write
// cancelled by the socket's failure, a readable first used after the end or a reset, read() at
// EOF) without sockets, timers or sleeps.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError } from "../../src/errors.ts";
import { SocketConn, type SocketHandle } from "../../src/adapters/_socket_conn.ts";
import { cancelReading, readDirect, writeDirect } from "../../src/connection/_direct.ts";
import { framed, type FramedConnection } from "../../src/connection/framed.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import { lines } from "../../src/framing/lines.ts";
import type { NetAddr } from "../../src/connection/types.ts";
import { watchSockets } from "../_util/leaks.ts";
import { spyTimers } from "../_util/timer_spy.ts";
import { macrotask } from "../_util/macrotask.ts";

const sockets = watchSockets();

/** A test that hangs fails instead of blocking the run. */
const BOUNDED = { timeout: 10_000 };

const ADDR: NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 7 };

interface PendingWrite {
  chunk: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
  /** The promise the conn got from write(). */
  promise: Promise<void>;
}

interface PendingRead {
  buffer: Uint8Array;
  resolve: (n: number | null) => void;
  reject: (error: unknown) => void;
}

/** A SocketHandle whose writes and reads settle when the test says so. */
class ScriptedHandle implements SocketHandle {
  conn!: SocketConn;
  paused = true;
  shutdowns = 0;
  destroyed = 0;
  written: Uint8Array[] = [];
  #writes: PendingWrite[] = [];
  #writeWaiters: ((write: PendingWrite) => void)[] = [];
  #reads: PendingRead[] = [];
  #readWaiters: ((read: PendingRead) => void)[] = [];
  read?: (buffer: Uint8Array) => Promise<number | null>;
  /** Set by a test: a graceful (TLS) close, whose socket ends in `terminated()` later. */
  finish?: () => void;

  constructor(withRead: boolean) {
    if (withRead) {
      this.read = (buffer) =>
        new Promise((resolve, reject) =>
          this.#hand(this.#reads, this.#readWaiters, {
            buffer,
            resolve,
            reject,
          })
        );
    }
  }

  #hand<T>(queue: T[], waiters: ((item: T) => void)[], item: T): void {
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(item);
    else waiter(item);
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  write(chunk: Uint8Array): Promise<void> {
    let write!: PendingWrite;
    const promise = new Promise<void>((resolve, reject) => {
      write = {
        chunk,
        resolve: () => {
          this.written.push(chunk.slice());
          resolve();
        },
        reject,
        promise: undefined as unknown as Promise<void>,
      };
    });
    write.promise = promise;
    this.#hand(this.#writes, this.#writeWaiters, write);
    return promise;
  }
  shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }
  destroy(): void {
    this.destroyed++;
    if (this.destroyed === 1) queueMicrotask(() => this.conn.terminated());
  }

  /** The next write the conn hands to the socket. */
  nextWrite(): Promise<PendingWrite> {
    const write = this.#writes.shift();
    return write !== undefined
      ? Promise.resolve(write)
      : new Promise((resolve) => this.#writeWaiters.push(resolve));
  }

  /** The next read() into a buffer the conn asks of the socket. */
  nextRead(): Promise<PendingRead> {
    const read = this.#reads.shift();
    return read !== undefined
      ? Promise.resolve(read)
      : new Promise((resolve) => this.#readWaiters.push(resolve));
  }
}

function scripted(withRead = false): { conn: SocketConn; handle: ScriptedHandle } {
  const handle = new ScriptedHandle(withRead);
  const conn = new SocketConn(handle, ADDR, ADDR);
  handle.conn = conn;
  return { conn, handle };
}

/** A scripted conn whose readable has a reader that took one byte: the socket was resumed. */
async function reading(): Promise<
  { conn: SocketConn; handle: ScriptedHandle; reader: ReadableStreamDefaultReader<Uint8Array> }
> {
  const { conn, handle } = scripted();
  const reader = conn.readable.getReader();
  const pulled = reader.read(); // the first pull resumes the socket
  conn.data(new Uint8Array(1));
  await pulled;
  return { conn, handle, reader };
}

const reset = (): Error => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

function hasCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** A way reading ends, named, and the check of what a read waiting then gets. */
type Ending = [string, (conn: SocketConn) => void, (next: Promise<unknown>) => Promise<void>];

/** A read waiting got the clean end. */
async function ended(next: Promise<unknown>): Promise<void> {
  assert.deepEqual(await next, { value: undefined, done: true });
}

/** The peer's end and a reset, as a framed() reading the conn sees them. */
const ENDINGS: Ending[] = [
  ["the end", (conn) => conn.end(), ended],
  ["a reset", (conn) => conn.error(reset()), async (next) => {
    await assert.rejects(next, hasCode("CONNECTION_RESET"));
  }],
];

test(
  "SocketConn: a write the socket's failure cancelled reports that failure",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const writing = writer.write(new Uint8Array([1, 2, 3]));
    const pending = await handle.nextWrite();
    // The socket fails (a reset), and then cancels the write in progress with an error of its
    // own (Node: ECANCELED, Deno: Interrupted): the write reports the reset.
    conn.error(reset());
    pending.reject(Object.assign(new Error("write ECANCELED"), { code: "ECANCELED" }));
    await assert.rejects(writing, hasCode("CONNECTION_RESET"));
    await conn.closed;
  },
);

test(
  "SocketConn: a readable first used after the socket failed errors with the failure",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted(true);
    const reading = conn.read!(new Uint8Array(4));
    (await handle.nextRead()).reject(reset());
    await assert.rejects(reading, hasCode("CONNECTION_RESET"));
    await assert.rejects(conn.readable.getReader().read(), hasCode("CONNECTION_RESET"));
    await conn.closed;
  },
);

test(
  "SocketConn: read() at EOF ends reading: a readable built then is done, FIN releases",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted(true);
    const reading = conn.read!(new Uint8Array(4));
    (await handle.nextRead()).resolve(null);
    assert.equal(await reading, null);
    assert.equal(await conn.read!(new Uint8Array(4)), null); // no second read of the socket
    await conn.closeWrite();
    assert.equal(handle.shutdowns, 1);
    await conn.closed; // both directions over: released without close()
    assert.equal(handle.destroyed, 1);
  },
);

test(
  "SocketConn: read() refuses a buffer that is no Uint8Array, or detached, with a TypeError, before the socket sees it; reading goes on",
  BOUNDED,
  async () => {
    const handle = new ScriptedHandle(true);
    const scriptedRead = handle.read!;
    // As Deno's conn.read(): it refuses what is no Uint8Array, and reads 0 into no room at once.
    handle.read = (buffer) =>
      !(buffer instanceof Uint8Array)
        ? Promise.reject(new TypeError("expected typed ArrayBufferView"))
        : buffer.length === 0
        ? Promise.resolve(0)
        : scriptedRead(buffer);
    const conn = new SocketConn(handle, ADDR, ADDR);
    handle.conn = conn;
    const detached = new Uint8Array(4);
    detached.buffer.transfer();
    const refused: [unknown, string][] = [
      [
        new ArrayBuffer(4),
        "Cannot read into a buffer as the buffer must be a Uint8Array: received ArrayBuffer (wrap it: new Uint8Array(buffer))",
      ],
      [
        new DataView(new ArrayBuffer(4)),
        "Cannot read into a buffer as the buffer must be a Uint8Array: received DataView",
      ],
      [
        new Uint16Array(2),
        "Cannot read into a buffer as the buffer must be a Uint8Array: received Uint16Array",
      ],
      // Before: resolved 0 at once (a caller reading until it gets bytes spins).
      [
        detached,
        "Cannot read into a buffer as its buffer was detached (transferred) or shrunk below it",
      ],
    ];
    for (const [buffer, message] of refused) {
      // Before: the socket's refusal failed reading for good ("Cannot read from 127.0.0.1:7 as
      // it failed: expected typed ArrayBufferView"), a ConnectionError for the caller's mistake.
      await assert.rejects(conn.read!(buffer as Uint8Array), { name: "TypeError", message });
    }
    const reading = conn.read!(new Uint8Array(4));
    const read = await handle.nextRead();
    read.buffer.set([1, 2]);
    read.resolve(2);
    assert.equal(await reading, 2);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: a readable first used after the peer's FIN is done at once",
  BOUNDED,
  async () => {
    const { conn } = scripted(true);
    conn.end();
    assert.deepEqual(await conn.readable.getReader().read(), { value: undefined, done: true });
    conn.close();
  },
);

test(
  "SocketConn: a cancelled readable drops what arrives and resumes the socket",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    assert.equal(handle.paused, true);
    await conn.readable.cancel();
    assert.equal(handle.paused, false, "the socket is drained, so the peer is not blocked");
    conn.data(new Uint8Array([1, 2, 3])); // discarded, never enqueued on the cancelled stream
    // The write direction still works.
    const writer = conn.writable.getWriter();
    const writing = writer.write(new Uint8Array([4]));
    (await handle.nextWrite()).resolve();
    await writing;
    conn.close();
  },
);

test(
  "SocketConn: closeWrite() while a writer holds writes refuses a later write, then FIN",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const first = writer.write(new Uint8Array([1]));
    const queued = writer.write(new Uint8Array([2]));
    const closing = conn.closeWrite();
    const late = writer.write(new Uint8Array([3]));
    (await handle.nextWrite()).resolve();
    (await handle.nextWrite()).resolve();
    await Promise.all([first, queued, closing]);
    await assert.rejects(late, hasCode("CONNECTION_CLOSED"));
    assert.deepEqual(handle.written, [new Uint8Array([1]), new Uint8Array([2])]);
    assert.equal(handle.shutdowns, 1);
    conn.close();
  },
);

test("SocketConn: closeWrite() after the writable was closed resolves", BOUNDED, async () => {
  const { conn, handle } = scripted();
  const writer = conn.writable.getWriter();
  await writer.close();
  writer.releaseLock();
  await conn.closeWrite();
  await conn.closeWrite();
  assert.equal(handle.shutdowns, 1);
  conn.close();
});

test(
  "SocketConn: closeWrite() with a writer held after a reset rejects, and sends no FIN",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    conn.error(reset());
    await assert.rejects(conn.closeWrite(), hasCode("CONNECTION_RESET"));
    assert.equal(handle.shutdowns, 0);
    writer.releaseLock();
    await conn.closed;
  },
);

test(
  "SocketConn: closeWrite() waiting for a write that fails rejects, however the socket ends",
  BOUNDED,
  async () => {
    for (const then of ["error", "end", "error first"] as const) {
      const { conn, handle } = scripted();
      conn.readable.getReader().read().catch(() => {});
      const writer = conn.writable.getWriter();
      writer.write(new Uint8Array(10)).catch(() => {});
      const pending = await handle.nextWrite();
      const closing = conn.closeWrite();
      // Before, once the write had failed and reading had ended too (both directions over),
      // closeWrite() resolved as if close() had been called: no FIN went out, nothing said so.
      if (then === "error first") conn.error(reset());
      pending.reject(Object.assign(new Error("write ECONNRESET"), { code: "ECONNRESET" }));
      if (then === "error") conn.error(reset());
      if (then === "end") conn.end();
      await assert.rejects(closing, hasCode("CONNECTION_RESET"), then);
      assert.equal(handle.shutdowns, 0);
      await conn.closed;
    }
  },
);

test(
  "SocketConn: after closeWrite() without a writer, later writes reject with CONNECTION_CLOSED",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    await conn.closeWrite();
    assert.equal(handle.shutdowns, 1);
    // Before, closeWrite() closed the writable, and a write then failed with each runtime's own
    // error for a closed WritableStream (Node 24: ERR_INTERNAL_ASSERTION while it was closing).
    const writer = conn.writable.getWriter();
    await assert.rejects(writer.write(new Uint8Array(1)), hasCode("CONNECTION_CLOSED"));
    // writable.close() after closeWrite() is the same FIN: it does not fail.
    conn.close();
  },
);

test(
  "SocketConn: closeWrite() that close() cuts short rejects even once the cut write settles",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const writing = writer.write(new Uint8Array(1));
    const pending = await handle.nextWrite(); // in the socket, not written yet
    const closing = conn.closeWrite();
    // close() comes after the sink has seen the write fail, before closeWrite() wakes up (a
    // handler on the socket's write promise runs right after the sink's). The write settled,
    // but it never went out, and neither did FIN: before, closeWrite() counted it and resolved.
    pending.promise.catch(() => conn.close());
    pending.reject(Object.assign(new Error("socket closed"), { code: "ECONNRESET" }));
    await assert.rejects(closing, hasCode("CONNECTION_CLOSED"));
    await assert.rejects(writing, hasCode("CONNECTION_RESET"));
    assert.equal(handle.shutdowns, 0);
    await conn.closed;
  },
);

test(
  "SocketConn: bytes that came before a reset are read before the readable errors",
  BOUNDED,
  async () => {
    const { conn } = scripted();
    const reader = conn.readable.getReader();
    conn.data(new Uint8Array([1, 2]));
    conn.data(new Uint8Array([3]));
    // Before, the readable errored at once and dropped what it held (up to 128 KiB).
    conn.error(reset());
    assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
    assert.deepEqual((await reader.read()).value, new Uint8Array([3]));
    await assert.rejects(reader.read(), hasCode("CONNECTION_RESET"));
    await conn.closed;
  },
);

test(
  "SocketConn: a writer's closed settles once the conn is closed after closeWrite()",
  BOUNDED,
  async () => {
    for (const locked of [false, true]) {
      const { conn } = scripted();
      const held = locked ? conn.writable.getWriter() : undefined;
      await conn.closeWrite();
      conn.close();
      await conn.closed;
      // Before, FIN left the writable open and nothing ever ended it: `closed` never settled.
      const writer = held ?? conn.writable.getWriter();
      await assert.rejects(writer.closed, hasCode("CONNECTION_CLOSED"));
    }
  },
);

test(
  "SocketConn: a tee() of a readable that fails gets every byte it held, then the error",
  BOUNDED,
  async () => {
    const { conn } = scripted();
    const [a, b] = conn.readable.tee();
    for (let i = 0; i < 3; i++) conn.data(new Uint8Array(1000).fill(i));
    conn.error(reset());
    // Before, erroring as the last chunk was dequeued dropped it on its way to the branches.
    const count = async (stream: ReadableStream<Uint8Array>): Promise<number> => {
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of stream) n += chunk.length;
        })(),
        hasCode("CONNECTION_RESET"),
      );
      return n;
    };
    assert.deepEqual(await Promise.all([count(a), count(b)]), [3000, 3000]);
    await conn.closed;
  },
);

test(
  "SocketConn: cancelling a readable that failed does not resume the closed socket",
  BOUNDED,
  async () => {
    const { conn, handle, reader } = await reading();
    conn.data(new Uint8Array(256 * 1024)); // a full queue pauses it
    assert.equal(handle.paused, true);
    conn.error(reset());
    await reader.cancel();
    assert.equal(handle.paused, true, "resume() after destroy()");
    await conn.closed;
  },
);

test(
  "SocketConn: a peer sending one byte per segment pauses the socket after a few hundred chunks",
  BOUNDED,
  async () => {
    // The queue counted bytes only: 128 K one-byte chunks (some hundred bytes of objects each)
    // before the socket paused. Each chunk now counts for what it costs.
    const { conn, handle, reader } = await reading();
    let chunks = 0;
    while (!handle.paused) {
      conn.data(new Uint8Array(1));
      chunks++;
      assert.ok(chunks <= 1024, "still not paused after 1024 one-byte chunks");
    }
    reader.releaseLock();
    conn.close();
    await conn.closed;
  },
);

// ---- the direct paths framed() takes past the web streams (src/connection/_direct.ts) ----

test(
  "SocketConn: a direct write counts as the writable's: closeWrite() waits for it, then FIN",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const writing = conn[writeDirect](new Uint8Array([1]), conn.writable)!;
    assert.ok(writing !== undefined, "nothing queued: the write goes straight to the socket");
    const pending = await handle.nextWrite();
    // A second one while it is in progress, or one through the writable meanwhile, would race it
    // in the socket: refused.
    assert.equal(conn[writeDirect](new Uint8Array([2]), conn.writable), undefined);
    const closing = conn.closeWrite();
    await settle(); // not one turn: a FIN that came a few turns later would pass unseen
    assert.equal(handle.shutdowns, 0, "FIN before the write was done");
    pending.resolve();
    await writing;
    await closing;
    assert.equal(handle.shutdowns, 1);
    // After closeWrite() a direct write is refused; the writable says why, as before.
    assert.equal(conn[writeDirect](new Uint8Array([3]), conn.writable), undefined);
    await assert.rejects(writer.write(new Uint8Array([3])), hasCode("CONNECTION_CLOSED"));
    assert.deepEqual(handle.written, [new Uint8Array([1])]);
    conn.close();
  },
);

test(
  "SocketConn: no direct write while the writable holds one, nor on a conn made from it",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const first = writer.write(new Uint8Array([1]));
    const queued = writer.write(new Uint8Array([2]));
    assert.equal(
      conn[writeDirect](new Uint8Array([3]), conn.writable),
      undefined,
      "ahead of queued writes",
    );
    (await handle.nextWrite()).resolve();
    (await handle.nextWrite()).resolve();
    await Promise.all([first, queued]);
    // Object.create(conn) with a writable of its own: writes go there, not to this socket.
    assert.equal(
      conn[writeDirect].call(Object.create(conn), new Uint8Array([3]), conn.writable),
      undefined,
    );
    assert.equal(
      conn[writeDirect](new Uint8Array(0), conn.writable),
      undefined,
      "empty: the writable's rules",
    );
    const direct = conn[writeDirect](new Uint8Array([3]), conn.writable)!;
    (await handle.nextWrite()).resolve();
    await direct;
    assert.deepEqual(handle.written, [1, 2, 3].map((b) => new Uint8Array([b])));
    conn.close();
  },
);

test(
  "SocketConn: no direct write or read once the application replaced its writable or readable",
  BOUNDED,
  async () => {
    // A layer of the application's in place of the conn's own streams (an XOR, say): the bytes
    // must go through it.
    const { conn, reader } = await reading();
    const layer = new TransformStream<Uint8Array, Uint8Array>();
    // A Proxy that binds methods to the conn (as one must, for its private fields): the direct
    // paths see the conn, the streams framed() holds are the layer's.
    const proxy = new Proxy(conn, {
      get(target, key) {
        if (key === "writable") return layer.writable;
        if (key === "readable") return layer.readable;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    assert.equal(proxy[writeDirect](new Uint8Array([1]), proxy.writable), undefined);
    assert.equal(proxy[readDirect](proxy.readable), undefined);
    Object.defineProperty(conn, "writable", { value: layer.writable, configurable: true });
    assert.equal(conn[writeDirect](new Uint8Array([1]), conn.writable), undefined);
    Object.defineProperty(conn, "readable", { value: layer.readable, configurable: true });
    assert.equal(conn[readDirect](conn.readable), undefined);
    reader.releaseLock();
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over a Proxy of it with a layer of its own writes through the layer",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const xor = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => controller.enqueue(chunk.map((b) => b ^ 1)),
    });
    const piping = xor.readable.pipeTo(conn.writable).catch(() => {});
    const proxy = new Proxy(conn, {
      get(target, key) {
        if (key === "writable") return xor.writable;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const fc = framed(proxy, lengthPrefixed({ width: 1 }));
    const sending = fc.send(new Uint8Array([6, 6]));
    (await handle.nextWrite()).resolve();
    await sending;
    // Before, the bound [writeDirect] wrote the frame to the socket past the layer: [2, 6, 6].
    assert.deepEqual(handle.written, [new Uint8Array([3, 7, 7])]);
    conn.close();
    await piping;
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over a Proxy of it with a layer that takes the conn's writable at its first write writes through the layer",
  BOUNDED,
  async () => {
    // The conn's own writable is not built yet when framed() first sends: the bound
    // [claimWriting] must not hand framed() the conn's writing past the layer.
    const { conn, handle } = scripted();
    let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
    const layer = new WritableStream<Uint8Array>({
      write: (chunk) => (writer ??= conn.writable.getWriter()).write(chunk.map((b) => b ^ 1)),
    });
    const proxy = new Proxy(conn, {
      get(target, key) {
        if (key === "writable") return layer;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const fc = framed(proxy, lengthPrefixed({ width: 1 }));
    const sending = fc.send(new Uint8Array([6, 6]));
    (await handle.nextWrite()).resolve();
    await sending;
    // Before, the frame went straight to the socket past the layer: [2, 6, 6].
    assert.deepEqual(handle.written, [new Uint8Array([3, 7, 7])]);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: a direct write that fails errors the writable with its error, as a sink write",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const writing = conn[writeDirect](new Uint8Array([1]), conn.writable)!;
    (await handle.nextWrite()).reject(
      Object.assign(new Error("write EPIPE"), { code: "EPIPE" }),
    );
    const error = await writing.then(() => assert.fail("resolved"), (e: unknown) => e);
    assert.ok(error instanceof ConnectionError);
    await assert.rejects(writer.write(new Uint8Array([2])), (e) => e === error);
    await assert.rejects(writer.closed, (e) => e === error);
    await assert.rejects(conn.closeWrite(), (e) => e === error);
    assert.equal(handle.shutdowns, 0);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: no direct write where the writable's own write would be refused",
  BOUNDED,
  async () => {
    // Mutation review: each of these four guards of [writeDirect] could go and no test noticed.
    // The writable closed (not closeWrite(), so no fence): its sink's close() asked for FIN,
    // which is under way. (Only #shutdown says so: writing is done once FIN went out.)
    {
      const { conn, handle } = scripted();
      const writer = conn.writable.getWriter();
      await writer.ready; // the writable has started: its close() reaches the sink at once
      const closing = writer.close();
      assert.equal(handle.shutdowns, 1, "FIN asked for");
      assert.equal(conn[writeDirect](new Uint8Array([1]), conn.writable), undefined, "FIN");
      await closing;
      conn.close();
      await conn.closed;
      assert.deepEqual(handle.written, []);
    }
    // closeWrite() with a write in progress: in the turn that write is done, before FIN goes
    // out, a direct write is past the fence (only #fence says so then).
    {
      const { conn, handle } = scripted();
      const writer = conn.writable.getWriter();
      const first = writer.write(new Uint8Array([1]));
      const pending = await handle.nextWrite();
      const closing = conn.closeWrite();
      let direct: Promise<void> | undefined | null = null;
      // A reaction after the conn's own to the socket's write: it saw [1] written.
      void pending.promise.then(() => {
        direct = conn[writeDirect](new Uint8Array([2]), conn.writable);
      });
      pending.resolve();
      await first;
      await closing;
      assert.equal(direct, undefined, "past the fence");
      assert.equal(handle.shutdowns, 1);
      assert.deepEqual(handle.written, [new Uint8Array([1])]);
      conn.close();
      await conn.closed;
    }
    // The socket went without close() (Bun closes a Unix socket when its peer does): writes fail
    // as the connection was reset (only #writeDone says so).
    {
      const { conn, handle } = scripted();
      const writer = conn.writable.getWriter();
      conn.terminated();
      assert.equal(conn[writeDirect](new Uint8Array([1]), conn.writable), undefined, "gone");
      await assert.rejects(writer.write(new Uint8Array([1])), hasCode("CONNECTION_RESET"));
      await conn.closed;
      assert.deepEqual(handle.written, []);
    }
    // Not bytes: the writable refuses it with a TypeError; the socket never sees it.
    {
      const { conn, handle } = scripted();
      const writer = conn.writable.getWriter();
      const notBytes = new ArrayBuffer(1) as unknown as Uint8Array;
      assert.equal(conn[writeDirect](notBytes, conn.writable), undefined, "not a Uint8Array");
      await assert.rejects(writer.write(notBytes), TypeError);
      conn.close();
      await conn.closed;
      assert.deepEqual(handle.written, []);
    }
  },
);

test(
  "SocketConn: terminated() clears the timer of a graceful close that ended in time",
  BOUNDED,
  async () => {
    // Mutation review: without the clearTimeout() in terminated(), the timer stayed, to call
    // destroy() on the closed socket tlsClose.limit later (and, where a timer has no unref(), as
    // under Deno, to keep the process alive until then), and no test noticed.
    const { conn, handle } = scripted();
    handle.finish = () => {};
    const timers = spyTimers();
    let clearedBefore: boolean;
    try {
      conn.close(); // a graceful close: handle.finish(), and the timer that cuts it short
      assert.equal(timers.made.length, 1, "the cut's timer");
      assert.equal(handle.destroyed, 0);
      clearedBefore = timers.cleared.includes(timers.made[0]);
      conn.terminated(); // the socket closed gracefully, in time
    } finally {
      timers.restore();
    }
    assert.ok(!clearedBefore, "the timer was cleared before terminated()");
    assert.ok(timers.cleared.includes(timers.made[0]), "the timer is cleared");
    await conn.closed;
  },
);

test(
  "SocketConn: a direct read takes data only while the readable holds none, in order",
  BOUNDED,
  async () => {
    const { conn, handle, reader } = await reading(); // took [0]
    conn.data(new Uint8Array([1])); // queued: no direct read waits
    assert.equal(conn[readDirect](conn.readable), undefined, "the queued chunk comes first");
    assert.deepEqual((await reader.read()).value, new Uint8Array([1]));
    const direct = conn[readDirect](conn.readable)!;
    assert.ok(direct !== undefined);
    assert.equal(conn[readDirect](conn.readable), undefined, "one at a time");
    assert.equal(handle.paused, false);
    conn.data(new Uint8Array([2]));
    assert.deepEqual(await direct, new Uint8Array([2]));
    conn.data(new Uint8Array([3])); // no direct read waits: queued again
    assert.deepEqual((await reader.read()).value, new Uint8Array([3]));
    const last = conn[readDirect](conn.readable)!;
    conn.end();
    assert.equal(await last, null);
    assert.equal(conn[readDirect](conn.readable), undefined, "ended");
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
    conn.close();
  },
);

test(
  "SocketConn: a direct read waiting ends as a read of the readable would",
  BOUNDED,
  async () => {
    for (const how of ["close", "cancel", "reset", "terminated"] as const) {
      const { conn, reader } = await reading();
      const direct = conn[readDirect](conn.readable)!;
      if (how === "close") conn.close();
      if (how === "cancel") await reader.cancel();
      if (how === "terminated") conn.terminated();
      if (how === "reset") {
        conn.error(reset());
        await assert.rejects(direct, hasCode("CONNECTION_RESET"), how);
        await assert.rejects(reader.read(), hasCode("CONNECTION_RESET"), how);
      } else {
        // A waiting direct read that nothing ends would hang here.
        assert.equal(await direct, null, how);
        if (how !== "cancel") assert.equal((await reader.read()).done, true, how);
      }
      conn.close();
      await conn.closed;
    }
  },
);

test(
  "SocketConn: a direct read waiting ends at close() while a TLS close keeps the socket a while",
  BOUNDED,
  async () => {
    const { conn, handle } = await reading();
    let finishing = 0;
    handle.finish = () => finishing++;
    const direct = conn[readDirect](conn.readable)!;
    conn.close();
    assert.equal(finishing, 1, "closing gracefully: terminated() comes later");
    // As a read of the readable, which close() ends at once: before any timer (the socket's
    // destroy() comes after tlsClose.limit, which would end it too, a second later).
    const turn = new Promise((resolve) => setTimeout(() => resolve("still waiting"), 0));
    assert.equal(await Promise.race([direct, turn]), null);
    conn.terminated();
    await conn.closed;
  },
);

test(
  "SocketConn: cancelReading ends a read() in progress and goes on draining the socket",
  BOUNDED,
  async () => {
    const plain = scripted().conn;
    assert.equal(plain[cancelReading](plain.readable, "x"), undefined, "no read()");
    plain.close();
    const { conn, handle } = scripted(true);
    const reading = conn.read!(new Uint8Array(4));
    const pending = await handle.nextRead();
    assert.equal(conn[cancelReading](new ReadableStream(), "x"), undefined, "not its readable");
    await conn[cancelReading](conn.readable, "stop");
    assert.equal(await reading, null);
    assert.equal(handle.paused, false, "drained, so the peer is not blocked");
    pending.resolve(2); // the socket's read completes later: dropped
    // Reading was cancelled, not ended: FIN alone does not release the socket (both directions
    // over), and the write direction still works.
    const writer = conn.writable.getWriter();
    const writing = writer.write(new Uint8Array([1]));
    (await handle.nextWrite()).resolve();
    await writing;
    writer.releaseLock();
    await conn.closeWrite();
    assert.equal(handle.destroyed, 0);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it with read(): a cancel() ends a next() waiting on a quiet peer",
  BOUNDED,
  async () => {
    for (
      const [front, wrap] of [
        ["iterator", false],
        ["batches", false],
        ["iterator", true], // Object.create(conn), which keeps read()
      ] as const
    ) {
      const { conn, handle } = scripted(true);
      const fc = framed(wrap ? Object.create(conn) as SocketConn : conn, lengthPrefixed());
      const next = front === "iterator"
        ? fc[Symbol.asyncIterator]().next()
        : fc.batches()[Symbol.asyncIterator]().next();
      await handle.nextRead(); // framed() reads into its buffer; the peer sends nothing
      // Before, the cancel waited for that read, which nothing ended: next() hung.
      await fc.readable.cancel("stop");
      assert.deepEqual(await next, { value: undefined, done: true }, `${front} ${wrap}`);
      await fc.close();
      await conn.closed;
    }
  },
);

test(
  "SocketConn: framed() over it sends and receives through the direct paths",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    // Counts the direct reads and writes that went ahead.
    const taken = { reads: 0, writes: 0 };
    const write = conn[writeDirect];
    const read = conn[readDirect];
    Object.assign(conn, {
      [writeDirect](this: SocketConn, chunk: Uint8Array, writable: WritableStream<Uint8Array>) {
        const writing = write.call(this, chunk, writable);
        if (writing !== undefined) taken.writes++;
        return writing;
      },
      [readDirect](this: SocketConn, readable: ReadableStream<Uint8Array>) {
        const reading = read.call(this, readable);
        if (reading !== undefined) taken.reads++;
        return reading;
      },
    });
    const fc = framed(conn, lengthPrefixed({ width: 1 }));
    const frames = fc[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) {
      const next = frames.next();
      // Data comes in a later task than the read that waits for it (every microtask has run).
      await new Promise((resolve) => setTimeout(resolve, 0));
      conn.data(new Uint8Array([1, i]));
      assert.deepEqual((await next).value, new Uint8Array([i]));
      const sending = fc.send(new Uint8Array([i, i]));
      (await handle.nextWrite()).resolve();
      await sending;
    }
    const closing = fc.close();
    await closing;
    assert.deepEqual(handle.written, [0, 1, 2].map((i) => new Uint8Array([2, i, i])));
    assert.equal((await frames.next()).done, true);
    assert.deepEqual(taken, { reads: 3, writes: 3 }, "each read and send went direct");
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it, close() waits for a direct write in progress",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed({ width: 1 }));
    void fc.send(new Uint8Array([1]));
    const write = await handle.nextWrite(); // the send's direct write, in progress
    let closed = false;
    const closing = fc.close().then(() => closed = true);
    await settle();
    assert.equal(closed, false, "close() flushes: it waits for the write");
    assert.equal(handle.destroyed, 0);
    write.resolve();
    await closing;
    assert.deepEqual(handle.written, [new Uint8Array([1, 1])]);
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it, close() after a direct write failed ends with the failure",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed({ width: 1 }), { highWaterMark: 0 });
    const sending = fc.send(new Uint8Array([1]));
    (await handle.nextWrite()).reject(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    await assert.rejects(sending, ConnectionError);
    // The application saw the failure: close() has no loss to report, and does not hang.
    await fc.close();
    await assert.rejects(fc.closeWrite(), ConnectionError);
    await conn.closed;
  },
);

test(
  "SocketConn: a chunk detached while its write waits is refused, not written as nothing",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const first = writer.write(new Uint8Array([1]));
    const chunk = new Uint8Array([2, 3, 4]);
    const second = writer.write(chunk);
    chunk.buffer.transfer(); // while the first write is in progress: the second waits in the queue
    (await handle.nextWrite()).resolve();
    await first;
    await assert.rejects(second, (error) => {
      assert.ok(error instanceof TypeError, `expected TypeError, got ${error}`);
      assert.match(
        error.message,
        /^Cannot write to 127\.0\.0\.1:7 as the chunk's buffer was detached/,
      );
      return true;
    });
    // Writing is over: the bytes after it would read as part of the lost chunk.
    await assert.rejects(writer.write(new Uint8Array([5])), TypeError);
    assert.deepEqual(handle.written, [new Uint8Array([1])]);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it, a payload detached while queued in the writable fails the connection as one changed in framed()",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed());
    void fc.send("a");
    const a = await handle.nextWrite(); // in progress: what is sent next waits in framed()
    void fc.send("b");
    const big = new Uint8Array(2_000_000).fill(7); // above the send buffers: written as a view
    const sending = fc.send(big);
    a.resolve();
    // framed() checked the batch ("b", the header, the payload) and wrote it: "b" is being
    // written, the header and the payload wait behind it in the conn's writable.
    const b = await handle.nextWrite();
    big.buffer.transfer();
    b.resolve();
    (await handle.nextWrite()).resolve(); // the header
    // Before: "Cannot send as it failed: Cannot write to … as the chunk's buffer was detached …".
    await assert.rejects(sending, {
      name: "ConnectionError",
      code: "CONNECTION_FAILED",
      message: /^Cannot send as a payload's buffer was detached \(transferred\) or resized/,
    });
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: every conn shares its readable and read getters, which find the conn from an Object.create() or a Proxy of it",
  BOUNDED,
  async () => {
    const a = scripted(true).conn;
    const b = scripted(true).conn;
    // One getter for every conn: a closure per conn gave each conn a hidden class of its own on
    // V8 (1.5 KB more per connection, measured on Node and Deno).
    for (const key of ["readable", "read"]) {
      const getterOf = (conn: SocketConn) => Object.getOwnPropertyDescriptor(conn, key)?.get;
      assert.equal(typeof getterOf(a), "function", key);
      assert.equal(getterOf(a), getterOf(b), key);
    }
    // Still own and enumerable: a spread copy takes the readable, built, and no read().
    const keys = Object.keys(a);
    assert.ok(keys.includes("read") && keys.indexOf("readable") < keys.indexOf("read"));
    // The getter's `this` is the wrapper: it finds the conn behind it.
    const derived = Object.create(a) as SocketConn;
    const proxy = new Proxy(b, {});
    assert.equal(typeof derived.read, "function");
    assert.equal(typeof proxy.read, "function");
    assert.equal(derived.readable, a.readable);
    assert.equal(proxy.readable, b.readable);
    assert.equal(a.read, undefined, "no read() once the readable is built");
    assert.equal(proxy.read, undefined);
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
  },
);

test(
  "SocketConn: the shared getters reach the conn through a Proxy whose get trap forwards its receiver, and leave no trace in keys, a spread copy or JSON",
  BOUNDED,
  async () => {
    const { conn } = scripted(true);
    const seen: PropertyKey[] = [];
    const proxy = new Proxy(conn, {
      get(target, key, receiver) {
        seen.push(key);
        return Reflect.get(target, key, receiver);
      },
    });
    // The getter runs with the proxy as `this`: it finds the conn through the trap, once.
    assert.equal(typeof proxy.read, "function");
    assert.equal(seen.filter((key) => typeof key === "symbol").length, 1);
    assert.equal(proxy.readable, conn.readable);
    assert.equal(proxy.read, undefined, "no read() once the readable is built");
    // The conn's link to itself is a symbol, not enumerable: keys, a copy and JSON do not show
    // it (as a string key it would make JSON.stringify() throw on the cycle).
    assert.deepEqual(Object.keys(conn).filter((key) => key.startsWith("read")), [
      "readable",
      "read",
    ]);
    const hidden = Object.getOwnPropertySymbols(conn).filter((key) =>
      !Object.getOwnPropertyDescriptor(conn, key)!.enumerable
    );
    assert.equal(hidden.length, 1, "the link to itself");
    const copy = { ...conn };
    assert.equal(hidden[0]! in copy, false, "not copied");
    assert.equal(copy.readable, conn.readable);
    assert.equal(copy.read, undefined);
    assert.doesNotThrow(() => JSON.stringify(conn));
    // After close(), as before: the same readable, and still no read().
    conn.close();
    await conn.closed;
    assert.equal(proxy.readable, conn.readable);
    assert.equal(conn.read, undefined);
  },
);

test(
  "SocketConn: the writable is built on first use, and one built after the end of writing is in the state an early one would be",
  BOUNDED,
  async () => {
    // Built on first use: a conn that never writes holds no WritableStream (about 2 KB on V8).
    let lazy!: SocketConn;
    let writable!: WritableStream<Uint8Array>;
    const atMaking = await countBuilt("WritableStream", () => {
      lazy = scripted().conn;
    });
    assert.equal(atMaking, 0, "built with the conn");
    const atFirstUse = await countBuilt("WritableStream", () => {
      writable = lazy.writable;
      assert.equal(lazy.writable, writable, "one writable");
      assert.equal({ ...lazy }.writable, writable, "a spread copies it");
    });
    assert.equal(atFirstUse, 1);
    lazy.close();
    await lazy.closed;
    // The end of writing, with the writable built before it and after it: the same outcome.
    const ends: [string, (conn: SocketConn, handle: ScriptedHandle) => Promise<void> | void][] = [
      ["close()", (conn) => conn.close()],
      ["a reset", (conn) => {
        conn.error(reset());
        conn.terminated();
      }],
      ["closeWrite()", (conn) => conn.closeWrite()],
      ["the peer gone", (conn) => conn.terminated()],
    ];
    const outcome = async (conn: SocketConn): Promise<string[]> => {
      const writer = conn.writable.getWriter();
      // What each promise says once the microtasks queued so far have run ("pending": not yet).
      const said = async (p: Promise<unknown>): Promise<string> => {
        let result = "pending";
        p.then(() => result = "resolved", (e: Error & { code?: string }) => {
          result = `${e.code}: ${e.message}`;
        });
        await settle();
        return result;
      };
      return [await said(writer.write(new Uint8Array(1))), await said(writer.closed)];
    };
    for (const [name, end] of ends) {
      const seen: string[][] = [];
      for (const early of [true, false]) {
        const { conn, handle } = scripted();
        if (early) {
          void conn.writable;
          await settle(); // its start() has run
        }
        await end(conn, handle);
        if (name === "closeWrite()") conn.terminated(); // the socket then goes
        seen.push(await outcome(conn));
        conn.close();
        await conn.closed;
      }
      assert.deepEqual(seen[1], seen[0], name);
    }
  },
);

test(
  "SocketConn: aborting a writable first read after a reset or the peer's going does not close() the conn, as with one built early: closeWrite() still reports it",
  BOUNDED,
  async () => {
    // A writable built after writing ended is erroring until its start() completes: abort() then
    // still signals its controller, whose listener closes the conn. One built early is errored
    // already, and abort() does nothing. A close() would turn the failed closeWrite() into a
    // success (close() makes a write failure moot).
    const ends: [string, (conn: SocketConn) => void][] = [
      ["a reset", (conn) => conn.error(reset())],
      ["the peer gone", (conn) => conn.terminated()],
    ];
    for (const [name, end] of ends) {
      for (const early of [true, false]) {
        const { conn } = scripted();
        if (early) {
          void conn.writable;
          await settle(); // its start() completes
        }
        end(conn);
        await conn.writable.abort(new Error("the application's")).catch(() => {});
        await assert.rejects(
          conn.closeWrite(),
          hasCode("CONNECTION_RESET"),
          `${name}, built ${early ? "early" : "late"}`,
        );
        conn.close();
        await conn.closed;
      }
    }
  },
);

/**
 * Counts the streams of the kind `name` made while `body` runs (the global replaced meanwhile).
 */
async function countBuilt(
  name: "ReadableStream" | "WritableStream",
  body: () => Promise<void> | void,
): Promise<number> {
  const globals = globalThis as unknown as Record<string, new (...args: never[]) => object>;
  const Original = globals[name]!;
  let built = 0;
  globals[name] = class extends Original {
    constructor(...args: never[]) {
      super(...args);
      built++;
    }
  };
  try {
    await body();
  } finally {
    globals[name] = Original;
  }
  return built;
}

/**
 * Sends one-byte payloads `bytes` in one tick over `fc` (made with `coalesce: 0`: a frame a
 * chunk, the first written straight, the rest queued behind it) and lets the socket take each.
 */
async function queuedSends(
  fc: FramedConnection,
  handle: ScriptedHandle,
  bytes: number[],
): Promise<void> {
  const sends = bytes.map((b) => fc.send(new Uint8Array([b])));
  for (let i = 0; i < bytes.length; i++) (await handle.nextWrite()).resolve();
  await Promise.all(sends);
}

/** The frames of one-byte payloads `bytes` through `lengthPrefixed()`. */
const framesOf = (bytes: number[]): Uint8Array[] =>
  bytes.map((b) => new Uint8Array([0, 0, 0, 1, b]));

test(
  "SocketConn: framed() sends without building the conn's writable; once looked at, it is locked by framed() until closeWrite()",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0 });
    // A lone frame goes straight to the socket: no WritableStream (about 2 KB per connection).
    assert.equal(await countBuilt("WritableStream", () => queuedSends(fc, handle, [1])), 0);
    assert.equal(await countBuilt("WritableStream", () => queuedSends(fc, handle, [2])), 0);
    // Looked at now, the writable is framed()'s, as if framed() had locked it at its first send.
    const writable = conn.writable;
    assert.equal(writable.locked, true);
    assert.throws(() => writable.getWriter(), TypeError);
    const other = framed(conn, lengthPrefixed());
    await assert.rejects(
      other.send(new Uint8Array([9])),
      (e: unknown) => e instanceof TypeError && /writable is locked/.test(e.message),
    );
    // Sends go on: a lone one straight, writes queued behind another through the writable.
    await queuedSends(fc, handle, [3]);
    await queuedSends(fc, handle, [4, 5, 6]);
    assert.deepEqual(handle.written, framesOf([1, 2, 3, 4, 5, 6]));
    // closeWrite() gives the writable back, as a framed() that locked it does.
    await fc.closeWrite();
    assert.equal(writable.locked, false);
    assert.equal(handle.shutdowns, 1);
    await other.close();
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: writes queued behind another build the writable, locked by framed(), though nothing looked at it",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0 });
    assert.equal(await countBuilt("WritableStream", () => queuedSends(fc, handle, [1, 2, 3])), 1);
    assert.equal(conn.writable.locked, true);
    assert.deepEqual(handle.written, framesOf([1, 2, 3]));
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: a first send framed() refuses gives writing back: the writable is free for another writer",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const refused = framed(conn, lines());
    await assert.rejects(refused.send("two\nlines"), RangeError);
    // Not claimed any more: looked at, the writable is free.
    const writable = conn.writable;
    assert.equal(writable.locked, false);
    const writer = writable.getWriter();
    const writing = writer.write(new Uint8Array([7]));
    (await handle.nextWrite()).resolve();
    await writing;
    writer.releaseLock();
    // So is the socket, for another framed().
    const fc = framed(conn, lines());
    const sending = fc.send("ok");
    (await handle.nextWrite()).resolve();
    await sending;
    assert.deepEqual(handle.written, [new Uint8Array([7]), new TextEncoder().encode("ok\n")]);
    await refused.close();
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it with a writable set in its place writes through that writable",
  BOUNDED,
  async () => {
    // A layer of the application's set on the conn itself (not through a Proxy), before the
    // conn's own writable was ever built: the bytes must go through it, not straight to the
    // socket.
    const { conn, handle } = scripted();
    const layered: Uint8Array[] = [];
    const layer = new WritableStream<Uint8Array>({ write: (chunk) => void layered.push(chunk) });
    Object.defineProperty(conn, "writable", { value: layer, configurable: true });
    // Sends resolve once written.
    const fc = framed(conn, lengthPrefixed({ width: 1 }), { highWaterMark: 0 });
    const sending = fc.send(new Uint8Array([6, 6]));
    const first = await Promise.race([
      sending.then(() => "the layer"),
      handle.nextWrite().then(() => "the socket"),
    ]);
    assert.equal(first, "the layer");
    assert.deepEqual(layered, [new Uint8Array([2, 6, 6])]);
    assert.deepEqual(handle.written, []);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: after framed()'s closeWrite(), a write to its writable leaves the conn's writable free",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0 });
    await queuedSends(fc, handle, [1]);
    await fc.closeWrite();
    const writer = fc.writable.getWriter();
    await assert.rejects(writer.write(new Uint8Array([2])));
    await assert.rejects(fc.send(new Uint8Array([3])));
    assert.equal(conn.writable.locked, false);
    assert.deepEqual(handle.written, framesOf([1]));
    await fc.close();
    await conn.closed;
  },
);

/**
 * Lets every microtask queued so far run, and those they queue: a macrotask barrier (see
 * macrotask()), not a count of turns that a runtime's streams might need more of.
 */
function settle(): Promise<void> {
  return macrotask();
}

test(
  "SocketConn: a conn without read() takes data from the start, into a readable built for it",
  BOUNDED,
  async () => {
    // Resumed a microtask after it is made (as the first pull of a readable built with it did):
    // the peer is not blocked, and its end or reset is seen, though nobody reads yet.
    let conn!: SocketConn;
    let handle!: ScriptedHandle;
    const built = await countBuilt("ReadableStream", async () => {
      ({ conn, handle } = scripted());
      assert.equal(handle.paused, true);
      await settle();
      assert.equal(handle.paused, false);
    });
    assert.equal(built, 0, "no readable until data comes or it is used");
    conn.data(new Uint8Array([1, 2]));
    conn.end();
    const reader = conn.readable.getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
    assert.equal((await reader.read()).done, true);
    conn.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() receives without building the conn's readable while a read waits for each chunk",
  BOUNDED,
  async () => {
    let conn!: SocketConn;
    let frames!: AsyncIterator<Uint8Array>;
    let fc!: FramedConnection;
    const built = await countBuilt("ReadableStream", async () => {
      conn = scripted().conn;
      await settle();
      fc = framed(conn, lengthPrefixed({ width: 1 }));
      frames = fc[Symbol.asyncIterator]();
      for (let i = 0; i < 3; i++) {
        const next = frames.next();
        await settle(); // the read waits
        conn.data(new Uint8Array([1, i]));
        assert.deepEqual((await next).value, new Uint8Array([i]));
      }
    });
    assert.equal(built, 0);
    // Looked at now, the readable is framed()'s: locked, as if framed() had taken a reader.
    const readable = conn.readable;
    assert.equal(readable.locked, true);
    assert.throws(() => readable.getReader(), TypeError);
    await assert.rejects(
      framed(conn, lengthPrefixed())[Symbol.asyncIterator]().next(),
      (e: unknown) => e instanceof TypeError && /readable is locked/.test(e.message),
    );
    // Reading goes on, through the readable's reader or straight.
    const next = frames.next();
    await settle();
    conn.data(new Uint8Array([1, 7]));
    assert.deepEqual((await next).value, new Uint8Array([7]));
    conn.end();
    assert.equal((await frames.next()).done, true);
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: under framed(), data that comes while no read waits is queued in a readable framed() holds, in order",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    await settle();
    const fc = framed(conn, lengthPrefixed({ width: 1 }));
    const frames = fc[Symbol.asyncIterator]();
    const first = frames.next();
    await settle();
    conn.data(new Uint8Array([1, 0]));
    assert.deepEqual((await first).value, new Uint8Array([0]));
    // Nobody reads: the chunks are queued (and the socket paused once the queue is full).
    let sent = 0;
    while (!handle.paused) {
      conn.data(new Uint8Array([1, ++sent & 255]));
      assert.ok(sent <= 4096, "never paused");
    }
    assert.equal(conn.readable.locked, true);
    for (let i = 1; i <= sent; i++) {
      assert.deepEqual((await frames.next()).value, new Uint8Array([i & 255]));
    }
    assert.equal(handle.paused, false, "resumed once read");
    // The queue is empty again: the next chunk goes straight to the read waiting for it.
    const next = frames.next();
    await settle();
    conn.data(new Uint8Array([1, 99]));
    assert.deepEqual((await next).value, new Uint8Array([99]));
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: under framed() with no readable built, the end, a reset and a cancel are as with one",
  BOUNDED,
  async () => {
    const cases: Ending[] = [...ENDINGS, ["close()", (conn) => conn.close(), ended]];
    for (const [name, end, check] of cases) {
      const { conn } = scripted();
      await settle();
      const fc = framed(conn, lengthPrefixed({ width: 1 }));
      const next = fc[Symbol.asyncIterator]().next();
      await settle(); // a direct read waits
      end(conn);
      await check(next);
      assert.equal(conn.readable.locked, true, name);
      await fc.close();
      conn.close();
      await conn.closed;
    }
    // Cancelling framed()'s readable cancels the conn's (which keeps draining the socket), and
    // writing goes on.
    const { conn, handle } = scripted();
    await settle();
    const fc = framed(conn, lengthPrefixed({ width: 1 }));
    const reader = fc.readable.getReader();
    const read = reader.read();
    await settle();
    conn.data(new Uint8Array([1, 5]));
    assert.deepEqual((await read).value, new Uint8Array([5]));
    await reader.cancel();
    assert.equal(handle.paused, false);
    conn.data(new Uint8Array([1, 6])); // dropped
    const sending = fc.send(new Uint8Array([8]));
    (await handle.nextWrite()).resolve();
    await sending;
    assert.deepEqual(handle.written, [new Uint8Array([1, 8])]);
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it with a readable set in its place, or over a Proxy of it that binds its methods and has a readable of its own, reads from that readable",
  BOUNDED,
  async () => {
    // A layer of the application's, set before the conn's own readable was built: frames come
    // from it, not straight from the socket. Through the Proxy, [claimReading] runs with the conn
    // as `this`, and must not claim the conn's reading for a caller that reads the Proxy's.
    for (const how of ["in place", "Proxy"]) {
      const { conn } = scripted();
      await settle();
      const layer = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new Uint8Array([1, 42])),
      });
      let target: SocketConn = conn;
      if (how === "in place") {
        Object.defineProperty(conn, "readable", { value: layer, configurable: true });
      } else {
        target = new Proxy(conn, {
          get(target, key) {
            if (key === "readable") return layer;
            const value = Reflect.get(target, key);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      }
      const fc = framed(target, lengthPrefixed({ width: 1 }));
      const next = fc[Symbol.asyncIterator]().next();
      await settle(); // framed() reads: from the layer, not with a read of the socket's waiting
      conn.data(new Uint8Array([1, 13])); // the socket's, past the layer
      assert.deepEqual((await next).value, new Uint8Array([42]), how);
      conn.close();
      await conn.closed;
    }
  },
);

test(
  "SocketConn: framed()'s writable first looked at after a reset is framed()'s still, and the reset is reported as with one locked at the first send",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
    const sending = fc.send(new Uint8Array([1]));
    (await handle.nextWrite()).resolve();
    await sending;
    conn.error(reset());
    // Built only now, errored: locked by framed()'s claim, so the application cannot abort it
    // (which would close() the conn and turn the failed closeWrite() below into a success).
    const writable = conn.writable;
    assert.equal(writable.locked, true);
    await assert.rejects(writable.abort(new Error("the application's")), TypeError);
    await assert.rejects(conn.closeWrite(), hasCode("CONNECTION_RESET"));
    // framed() writes through the writable built errored: its send fails with the reset.
    await assert.rejects(fc.send(new Uint8Array([2])), hasCode("CONNECTION_RESET"));
    assert.deepEqual(handle.written, framesOf([1]));
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it, a payload changed before its write ends writing with FIN though writing was claimed and no writable built",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    // Resolves once FIN goes out (the test times out if it never does).
    const fin = new Promise<void>((resolve) => {
      const shutdown = handle.shutdown.bind(handle);
      handle.shutdown = () => {
        resolve();
        return shutdown();
      };
    });
    const fc = framed(conn, lengthPrefixed());
    void fc.send("a");
    const a = await handle.nextWrite(); // a direct write in progress: the next send waits
    const big = new Uint8Array(2_000_000).fill(7); // above the send buffers: queued as a view
    const sending = fc.send(big);
    big.buffer.transfer();
    // FIN goes out before the send's rejection is seen (as when framed() had taken a writer at
    // its first send): a conn.close() in its handler must not cut it.
    let finSeen: number | undefined;
    sending.catch(() => finSeen = handle.shutdowns);
    a.resolve();
    (await handle.nextWrite()).resolve(); // the header, written before the change was seen
    await assert.rejects(sending, {
      name: "ConnectionError",
      code: "CONNECTION_FAILED",
      message: /^Cannot send as a payload's buffer was detached \(transferred\) or resized/,
    });
    // The peer sees a truncated frame and the end of writing, not a wait for the rest.
    await fin;
    assert.equal(handle.shutdowns, 1);
    assert.equal(finSeen, 1, "FIN had gone out when the rejection was seen");
    assert.deepEqual(handle.written, [
      new Uint8Array([0, 0, 0, 1, 97]),
      new Uint8Array([0, 0x1e, 0x84, 0x80]),
    ]);
    assert.equal(conn.writable.locked, true);
    await fc.close();
    await conn.closed;
  },
);

test(
  "SocketConn: framed() over it, a payload changed before its write under a writing claim, FIN failing: the conn keeps the reset, close() succeeds, no unhandled rejection",
  BOUNDED,
  async () => {
    // The FIN that ends writing there (the conn's own closeWrite()) fails as the peer had reset:
    // framewire handles it, and the conn reports it to a later closeWrite() of its own.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const { conn, handle } = scripted();
      handle.shutdown = () => {
        handle.shutdowns++;
        return Promise.reject(reset());
      };
      const fc = framed(conn, lengthPrefixed());
      void fc.send("a");
      const a = await handle.nextWrite();
      const big = new Uint8Array(2_000_000).fill(7); // queued as a view
      const sending = fc.send(big);
      big.buffer.transfer();
      a.resolve();
      (await handle.nextWrite()).resolve(); // the header
      await assert.rejects(sending, hasCode("CONNECTION_FAILED"));
      assert.equal(handle.shutdowns, 1);
      // Unhandled rejections are reported once the microtasks drain: two turns of the loop,
      // before anything here waits on the conn's closeWrite().
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
      await assert.rejects(conn.closeWrite(), hasCode("CONNECTION_RESET"));
      await assert.rejects(fc.closeWrite(), hasCode("CONNECTION_FAILED"));
      assert.equal(handle.shutdowns, 1, "no second FIN");
      await fc.close(); // the failure was seen (the send's rejection): no loss to report
      await conn.closed;
      assert.equal(handle.destroyed, 1);
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  },
);

test(
  "SocketConn: data that fills the readable before the conn's first microtask leaves the socket paused, also one that was delivering from the start",
  BOUNDED,
  async () => {
    // As when the readable was built with the conn and its first pull never came (its queue was
    // full): the microtask that resumes the socket must not resume it then. A handle delivering
    // from the start (Bun's) looked paused to data(), which therefore never paused it.
    for (const delivering of [false, true]) {
      const { conn, handle } = scripted();
      if (delivering) handle.paused = false;
      conn.data(new Uint8Array(200 * 1024));
      await settle();
      assert.equal(handle.paused, true, `delivering from the start: ${delivering}`);
      // Read: resumed (by the readable's pull), and paused again once full.
      const reader = conn.readable.getReader();
      assert.equal((await reader.read()).value?.length, 200 * 1024);
      await settle();
      assert.equal(handle.paused, false);
      conn.data(new Uint8Array(200 * 1024));
      assert.equal(handle.paused, true);
      conn.close();
      await conn.closed;
    }
  },
);

test(
  "SocketConn: under framed(), data queued in the readable built for it comes before the end or a reset that follows it",
  BOUNDED,
  async () => {
    for (const [name, end, check] of ENDINGS) {
      const { conn } = scripted();
      await settle();
      const fc = framed(conn, lengthPrefixed({ width: 1 }));
      const frames = fc[Symbol.asyncIterator]();
      const first = frames.next();
      await settle(); // a direct read waits, no readable built
      conn.data(new Uint8Array([1, 0]));
      assert.deepEqual((await first).value, new Uint8Array([0]), name);
      // Nobody reads now: queued in the readable that data() builds, locked by framed()'s claim.
      conn.data(new Uint8Array([1, 1, 1]));
      conn.data(new Uint8Array([2]));
      end(conn);
      assert.equal(conn.readable.locked, true, name);
      assert.deepEqual((await frames.next()).value, new Uint8Array([1]), name);
      assert.deepEqual((await frames.next()).value, new Uint8Array([2]), name);
      await check(frames.next());
      await fc.close().catch(() => {});
      await conn.closed;
    }
  },
);

test(
  "SocketConn: framed() over an Object.create() of it, a Proxy of it and one that forwards the receiver reads through its readable",
  BOUNDED,
  async () => {
    // [readDirect] runs with the wrapper as `this`: it must refuse (the wrapper is no SocketConn),
    // not throw reading a private field (which failed the read with CONNECTION_FAILED).
    const wraps: [string, (conn: SocketConn) => SocketConn][] = [
      ["Object.create()", (conn) => Object.create(conn)],
      ["Proxy", (conn) => new Proxy(conn, {})],
      ["receiver Proxy", (conn) => new Proxy(conn, { get: (t, k, r) => Reflect.get(t, k, r) })],
    ];
    for (const [name, wrap] of wraps) {
      const { conn, handle } = scripted();
      await settle();
      const fc = framed(wrap(conn), lengthPrefixed({ width: 1 }));
      const frames = fc[Symbol.asyncIterator]();
      const first = frames.next();
      await settle();
      conn.data(new Uint8Array([1, 4, 1]));
      conn.data(new Uint8Array([5]));
      assert.deepEqual((await first).value, new Uint8Array([4]), name);
      assert.deepEqual((await frames.next()).value, new Uint8Array([5]), name);
      conn.end();
      assert.equal((await frames.next()).done, true, name);
      assert.equal(conn.readable.locked, true, name);
      const sending = fc.send(new Uint8Array([6]));
      (await handle.nextWrite()).resolve();
      await sending;
      assert.deepEqual(handle.written, [new Uint8Array([1, 6])], name);
      await fc.close();
      await conn.closed;
    }
  },
);

sockets.check();

// Named, so that a stack trace shows which of them made an error.
function closeItHere(conn: SocketConn): void {
  conn.close();
}
function lookAtTheWritableHere(conn: SocketConn): WritableStreamDefaultWriter<Uint8Array> {
  return conn.writable.getWriter();
}

test(
  "SocketConn: close() makes no error until something shows one: the writable built later rejects with one made then, a write and the writable the same",
  BOUNDED,
  async () => {
    // An Error takes a stack trace (microseconds): closing made up to three that nobody saw. The
    // stack says where it was made: where the writable was looked at, not close().
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 50;
    try {
      const { conn } = scripted();
      closeItHere(conn);
      await conn.closed;
      const writer = lookAtTheWritableHere(conn);
      const error = await writer.write(new Uint8Array(1)).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.code, "CONNECTION_CLOSED");
      assert.match(error.stack ?? "", /lookAtTheWritableHere/);
      assert.doesNotMatch(error.stack ?? "", /closeItHere/);
      assert.equal(await writer.closed.then(() => undefined, (e: unknown) => e), error);
    } finally {
      Error.stackTraceLimit = limit;
    }
  },
);

test(
  "SocketConn: after the peer's going, closeWrite() and the writable report one CONNECTION_RESET, whichever shows it first, the writable built before or after",
  BOUNDED,
  async () => {
    // The write error is made when first shown, once per conn: closeWrite()'s rejection, a
    // write's and the writer's closed are the same object, as when it was made at the end.
    const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e) => e);
    for (const order of ["writer first", "closeWrite() first", "writer built early"] as const) {
      const { conn } = scripted();
      let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
      if (order === "writer built early") writer = conn.writable.getWriter();
      conn.terminated(); // gone without a local close() (Bun's Unix socket, its peer closing)
      await conn.closed;
      let fromCloseWrite: unknown;
      if (order === "closeWrite() first") fromCloseWrite = await caught(conn.closeWrite());
      writer ??= conn.writable.getWriter();
      const fromWrite = await caught(writer.write(new Uint8Array(1)));
      fromCloseWrite ??= await caught(conn.closeWrite());
      const fromClosed = await caught(writer.closed);
      assert.ok(fromWrite instanceof ConnectionError, order);
      assert.equal(fromWrite.code, "CONNECTION_RESET", order);
      assert.equal(fromWrite.message, "Cannot write to 127.0.0.1:7 as the connection was reset");
      assert.equal(fromCloseWrite, fromWrite, `${order}: closeWrite()`);
      assert.equal(fromClosed, fromWrite, `${order}: the writer's closed`);
      assert.equal(await caught(conn.closeWrite()), fromWrite, `${order}: closeWrite() again`);
    }
  },
);

test(
  "SocketConn: a write in progress when close() comes rejects with the conn's one CONNECTION_CLOSED error, the writer's closed too",
  BOUNDED,
  async () => {
    const { conn, handle } = scripted();
    const writer = conn.writable.getWriter();
    const writing = writer.write(new Uint8Array([1, 2, 3])).then(
      () => undefined,
      (e: unknown) => e,
    );
    const pending = await handle.nextWrite();
    conn.close();
    // The socket's close cancels the write in progress (Node: ECANCELED).
    pending.reject(Object.assign(new Error("write ECANCELED"), { code: "ECANCELED" }));
    const error = await writing;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.code, "CONNECTION_CLOSED");
    assert.equal(await writer.closed.then(() => undefined, (e: unknown) => e), error);
    await conn.closed;
  },
);
