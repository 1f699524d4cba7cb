// Copyright 2026 the framewire authors. MIT license.
// Child of collectable_test.ts, run with a forced GC available (Node `--expose-gc`, Deno
// `--v8-flags=--expose-gc`, Bun's own `Bun.gc`): `<case> <count>` opens and closes `count`
// connections or sessions with the runtime's own adapter, holding only WeakRefs to them, then
// forces a GC and prints one JSON line: how many were made and how many are still reachable.
// The `framed` cases: `framed` (TCP), `framed-unix`, `framed-tls`, and `framed-receive` (TCP, the
// server's end only reads). `decoder-chunks`: decoders kept alive (as idle connections keep
// theirs) after every frame of the chunk they were given was taken and dropped; `decoder-waiting`
// likewise, with a large frame after them that waits for its buffer; `decoder-header` likewise,
// with the start of a header after them; `queue-blocks`: decoders and
// byte queues kept alive after the frames in a block they copied small chunks into were dropped;
// `byte-reader-chunks`: ByteReaders kept alive after every frame of the chunk they read was taken
// with readFrame() and dropped.
// `byte-reader-spanning`: a ByteReader kept alive after reading frames that each span two chunks.
// `byte-reader-large`: a ByteReader kept alive after reading one frame that spans `count` chunks.
// `concurrent-batches`: framed() connections over an in-memory Conn kept alive with a second
// batches() call waiting after the first one's frames were dropped.
// `cancelled-inside-frame`: framed() connections over an in-memory Conn kept alive (to send) after
// their readable was cancelled with part of a large frame received.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import assert from "node:assert/strict";
import { framed } from "../src/connection/framed.ts";
import type { Conn } from "../src/connection/types.ts";
import { ByteQueue } from "../src/framing/_byte_queue.ts";
import { ByteReader } from "../src/streams/byte_reader.ts";
import { lengthPrefixed } from "../src/framing/length_prefixed.ts";
import { lines } from "../src/framing/lines.ts";
import type { FrameDecoder, Framing } from "../src/framing/types.ts";
import { varint } from "../src/framing/varint.ts";
import { reliableClient } from "../src/reliable/reliable_client.ts";
import { reliableServer } from "../src/reliable/reliable_server.ts";
import { adapter, portOf } from "./_util/runtime.ts";

const [name = "", countArg = "100"] = process.argv.slice(2);
const count = Number(countArg);
const net = await adapter();
const refs: WeakRef<object>[] = [];
const LOOPBACK = "127.0.0.1";
const tlsDir = new URL("./fixtures/tls/", import.meta.url);
const cert = readFileSync(new URL("localhost.crt", tlsDir), "utf8");
const key = readFileSync(new URL("localhost.key", tlsDir), "utf8");
const ca = readFileSync(new URL("ca.crt", tlsDir), "utf8");
const dir = mkdtempSync(join(tmpdir(), "framewire-collectable-"));
const path = join(dir, "s.sock");

function collect(): void {
  const g = globalThis as { Bun?: { gc(full: boolean): void }; gc?: () => void };
  if (g.Bun !== undefined) g.Bun.gc(true);
  else if (g.gc !== undefined) g.gc();
  else throw new Error("no forced GC: run with --expose-gc");
}

/** A macrotask turn: V8 keeps a WeakRef's target alive until the job that made or read it ends. */
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Forces a GC twice, each between turns; returns how many of `refs` are still reachable. */
async function reachable(): Promise<number> {
  await turn();
  collect();
  await turn();
  collect();
  await turn();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

/**
 * Gives each of `count` decoders (of `formats` in turn) one chunk of four frames of `size` bytes
 * and then, if `after` gives them, more bytes; takes the frames (with takeAll() where `batch(i)`,
 * else next()) and drops them, keeps the decoders reachable, and prints how many of the chunks
 * still are.
 */
async function decodersKeepNoChunk(
  formats: Framing[],
  size: number,
  after: ((format: Framing) => Uint8Array) | undefined,
  batch: (i: number) => boolean,
): Promise<void> {
  const decoders: FrameDecoder[] = [];
  const payload = new Uint8Array(size).fill(0x61);
  for (let i = 0; i < count; i++) {
    const format = formats[i % formats.length]!;
    const decoder = format.decoder() as FrameDecoder & { takeAll(out: Uint8Array[]): void };
    const frame = format.encode(payload);
    const chunk = new Uint8Array(frame.length * 4);
    for (let k = 0; k < 4; k++) chunk.set(frame, k * frame.length);
    decoder.push(chunk);
    if (after !== undefined) decoder.push(after(format));
    if (batch(i)) decoder.takeAll([]);
    else while (decoder.next() !== undefined);
    refs.push(new WeakRef(chunk.buffer));
    decoders.push(decoder);
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: decoders.length }));
}

/** A stream that gives `chunk` and stays open (no function of its source refers to `chunk`). */
function openStreamOf(chunk: Uint8Array): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  controller!.enqueue(chunk);
  return stream;
}

/**
 * An in-memory Conn whose peer stays idle (its input is `controller`'s, its writes go nowhere, it
 * never closes), with `allocate` for its frames.
 */
function memoryConn(
  allocate?: (length: number) => Uint8Array,
): { conn: Conn; controller: ReadableStreamDefaultController<Uint8Array> } {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const addr = { transport: "tcp", hostname: LOOPBACK, port: 0 } as const;
  const conn: Conn = {
    readable,
    writable: new WritableStream(),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => Promise.resolve(),
    close: () => {},
    closed: new Promise<void>(() => {}),
    allocate,
  };
  return { conn, controller: controller! };
}

/**
 * Listens, connects, sends one frame each way through `framed()`, closes both ends. With
 * `receiveOnly`, the server's end only reads its frame, then closes: its conn builds no writable.
 */
async function framedCycle(transport: string, receiveOnly = false): Promise<void> {
  const format = lengthPrefixed();
  const listener = transport === "tls"
    ? await net.listenTls({ hostname: LOOPBACK, port: 0, cert, key })
    : transport === "unix"
    ? await net.listen({ path })
    : await net.listen({ hostname: LOOPBACK, port: 0 });
  const server = (async () => {
    for await (const conn of listener) {
      const fc = framed(conn, format);
      refs.push(new WeakRef(conn), new WeakRef(fc));
      for await (const message of fc) {
        if (receiveOnly) break;
        await fc.send(message);
      }
      await fc.close();
      return;
    }
  })();
  const conn = transport === "tls"
    ? await net.connectTls({
      hostname: LOOPBACK,
      port: portOf(listener),
      caCerts: [ca],
      serverName: "localhost",
    })
    : transport === "unix"
    ? await net.connect({ path })
    : await net.connect({ hostname: LOOPBACK, port: portOf(listener) });
  const fc = framed(conn, format);
  refs.push(new WeakRef(conn), new WeakRef(fc));
  await fc.send("ping");
  for await (const _ of fc) break;
  await fc.close();
  await server;
  listener.close();
  await conn.closed;
}

if (name === "framed-receive") {
  for (let i = 0; i < count; i++) await framedCycle("tcp", true);
} else if (name.startsWith("framed")) {
  const transport = name.slice("framed-".length) || "tcp";
  for (let i = 0; i < count; i++) await framedCycle(transport);
} else if (name === "reliable-sessions") {
  // One server that stays open while sessions come and go: it must let go of those that ended.
  const listener = await net.listen({ hostname: LOOPBACK, port: 0 });
  const server = reliableServer(listener);
  const serving = (async () => {
    for await (const session of server) {
      refs.push(new WeakRef(session));
      void (async () => {
        for await (const message of session) await session.send(message);
      })();
    }
  })();
  for (let i = 0; i < count; i++) {
    const client = reliableClient((signal) =>
      net.connect({ hostname: LOOPBACK, port: portOf(listener), signal })
    );
    refs.push(new WeakRef(client));
    await client.send("ping");
    for await (const _ of client) break;
    await client.close();
  }
  // Every server-side session has ended (it says so before the client's close() resolves).
  for (let i = 0; i < 100 && server.size > 0; i++) await turn();
  const alive = await reachable();
  const open = server.size;
  await server.close();
  listener.close();
  await serving;
  console.log(JSON.stringify({ made: refs.length, alive, open }));
} else if (name === "idle-after-burst") {
  // Connections that each received a burst of 200 frames of 1,000 B, read them all, dropped them,
  // and wait for more (an idle server's loop): the read buffers those frames were views of (the
  // ones larger than 65 KiB: framed()'s own, on Deno) must not stay reachable.
  const listener = await net.listen({ hostname: LOOPBACK, port: 0 });
  const accepted = listener[Symbol.asyncIterator]();
  const held: unknown[] = [];
  const seen = new WeakSet<ArrayBufferLike>();
  for (let i = 0; i < count; i++) {
    const next = accepted.next();
    const tx = framed(
      await net.connect({ hostname: LOOPBACK, port: portOf(listener) }),
      lengthPrefixed(),
    );
    const rx = framed((await next).value, lengthPrefixed());
    for (let k = 0; k < 200; k++) void tx.send(new Uint8Array(1000).fill(k));
    const batches = rx.batches()[Symbol.asyncIterator]();
    for (let got = 0; got < 200;) {
      const { value } = await batches.next();
      for (const frame of value!) {
        got++;
        const buffer = frame.buffer;
        if (buffer.byteLength > 65 * 1024 && !seen.has(buffer)) {
          seen.add(buffer);
          refs.push(new WeakRef(buffer));
        }
      }
    }
    held.push(tx, rx, batches, batches.next());
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: held.length / 4 }));
  for (let i = 0; i < held.length; i += 4) {
    await (held[i] as { close(): Promise<void> }).close();
    await (held[i + 1] as { close(): Promise<void> }).close();
  }
  listener.close();
} else if (name === "concurrent-batches") {
  // Connections over an in-memory Conn whose application asks batches() for two batches at once
  // (a prefetch), drops the first one's frames and keeps the second waiting (the peer idle): the
  // chunk those frames were views of must not stay reachable through the waiting batch.
  const frame = lengthPrefixed().encode(new Uint8Array(100).fill(0x61));
  const held: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const { conn, controller } = memoryConn();
    const rx = framed(conn, lengthPrefixed());
    const batches = rx.batches()[Symbol.asyncIterator]();
    const first = batches.next();
    const second = batches.next();
    const chunk = new Uint8Array(frame.length * 4);
    for (let k = 0; k < 4; k++) chunk.set(frame, k * frame.length);
    controller.enqueue(chunk);
    const { value } = await first;
    assert.equal(value?.length, 4);
    // The frames' own buffer (Bun's stream hands over a copy of the chunk).
    refs.push(new WeakRef(value![0]!.buffer));
    held.push(rx, batches, second, controller);
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: held.length / 4 }));
} else if (name === "cancelled-inside-frame") {
  // The start of a 64 KiB frame, whose buffer (from conn.allocate) the decoder fills as bytes
  // come; then the readable is cancelled: while a read waits for the rest (even i), or with no
  // read on its way, after a frame that came in the same chunk was read (odd i).
  const framing = lengthPrefixed();
  const held: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const made = refs.length;
    const allocated = Promise.withResolvers<void>();
    const { conn, controller } = memoryConn((n) => {
      const buffer = new Uint8Array(n);
      refs.push(new WeakRef(buffer.buffer));
      allocated.resolve();
      return buffer;
    });
    const fc = framed(conn, framing);
    const start = new Uint8Array(1000);
    start.set([0, 1, 0, 0]); // 65,536 bytes to come
    const reader = fc.readable.getReader();
    if (i % 2 === 0) {
      const read = reader.read();
      setTimeout(() => controller.enqueue(start), 0);
      // The decoder took the start of the frame into its buffer (a wait on the allocation itself:
      // a loop of microtask turns would spin for ever on a runtime that needed a macrotask here).
      await allocated.promise;
      assert.equal(refs.length, made + 1);
      await reader.cancel("done reading");
      assert.equal((await read).done, true);
    } else {
      const first = framing.encode(new Uint8Array([1]));
      const chunk = new Uint8Array(first.length + start.length);
      chunk.set(first);
      chunk.set(start, first.length);
      controller.enqueue(chunk);
      assert.deepEqual((await reader.read()).value, new Uint8Array([1]));
      assert.equal(refs.length, made + 1);
      await reader.cancel("done reading");
    }
    held.push(fc);
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: held.length }));
} else if (name === "decoder-chunks") {
  // Views of the chunk on every runtime, taken with next(). (takeAll() ends with a next() that
  // finds every byte taken: decoder-waiting has takeAll() cases.)
  const formats = [
    lengthPrefixed(),
    lengthPrefixed({ width: 2 }),
    varint(),
    lengthPrefixed({ offset: 1 }),
  ];
  await decodersKeepNoChunk(formats, 100, undefined, () => false);
} else if (name === "decoder-waiting") {
  // Before the frames are taken, the start of a 200 KB frame, which waits for more of its bytes
  // before it gets its buffer.
  const formats = [lengthPrefixed({ maxFrameLength: 1 << 20 }), varint({ offset: 1 })];
  await decodersKeepNoChunk(
    formats,
    100,
    (format) => format.encode(new Uint8Array(200_000)).slice(0, 100),
    (i) => i % 4 >= 2,
  );
} else if (name === "decoder-header") {
  // Before the frames are taken, a chunk with the first bytes of the next header (a peer that
  // stopped mid-header).
  const formats = [lengthPrefixed(), varint({ offset: 1 }), lengthPrefixed({ width: 2 })];
  const payload = new Uint8Array(200).fill(0x61);
  await decodersKeepNoChunk(
    formats,
    200,
    (format) => format.encode(payload).slice(0, format === formats[2] ? 1 : 2),
    (i) => i % 2 === 1,
  );
} else if (name === "queue-blocks") {
  // Small chunks that arrive while bytes are held are copied into a block of the queue's own: a
  // frame inside one is a view of it. Each lines() decoder is given a line in two chunks (the
  // second copied) and a line inside the second, each ByteQueue a gathered chunk read whole;
  // the frames are dropped, the decoders and queues stay reachable.
  const decoders: object[] = [];
  const text = new TextEncoder();
  for (let i = 0; i < count; i++) {
    let view: Uint8Array;
    if (i % 2 === 0) {
      const decoder = lines().decoder();
      decoder.push(text.encode("0123456789"));
      decoder.push(text.encode(`0123\n${"a".repeat(100)}\n`));
      assert.equal(decoder.next()?.length, 14);
      view = decoder.next()!;
      assert.equal(view.length, 100);
      assert.equal(decoder.next(), undefined);
      decoders.push(decoder);
    } else {
      const queue = new ByteQueue();
      queue.gather(new Uint8Array(100));
      view = queue.take(100);
      assert.equal(queue.length, 0);
      decoders.push(queue);
    }
    assert.ok(view.buffer.byteLength > view.length, "a view of a block");
    refs.push(new WeakRef(view.buffer));
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: decoders.length }));
} else if (name === "byte-reader-chunks") {
  // Each reader is given one chunk of four frames (views of it on every runtime) by a stream that
  // stays open, and reads them with one framing object; the frames are dropped, the readers (idle,
  // as one between reads) stay reachable.
  const formats = [lengthPrefixed(), varint({ offset: 1 }), lines()];
  const payload = new Uint8Array(100).fill(0x61);
  const readers: ByteReader[] = [];
  for (let i = 0; i < count; i++) {
    const format = formats[i % formats.length]!;
    const frame = format.encode(payload);
    const chunk = new Uint8Array(frame.length * 4);
    for (let k = 0; k < 4; k++) chunk.set(frame, k * frame.length);
    const reader = new ByteReader(openStreamOf(chunk));
    for (let k = 0; k < 4; k++) assert.equal((await reader.readFrame(format))?.length, 100);
    assert.equal(reader.bufferedBytes, 0);
    refs.push(new WeakRef(chunk.buffer));
    readers.push(reader);
  }
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: readers.length }));
} else if (name === "byte-reader-spanning") {
  // One reader, kept reachable, reads frames that each span two chunks from a stream that stays
  // open, up to the last frame, which never completes: the chunks of the frames it returned go.
  const format = lengthPrefixed();
  const frame = format.encode(new Uint8Array(100).fill(0x61));
  const wire = new Uint8Array(frame.length * count);
  for (let k = 0; k < count; k++) wire.set(frame, k * frame.length);
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const reader = new ByteReader(new ReadableStream({ start: (c) => void (controller = c) }));
  // Cut in the middle of each frame; each chunk a buffer of its own.
  for (let k = 0; k < count; k++) {
    const chunk = wire.slice(k === 0 ? 0 : (k - 1) * frame.length + 50, k * frame.length + 50);
    controller!.enqueue(chunk);
    refs.push(new WeakRef(chunk.buffer));
  }
  for (let k = 0; k < count - 1; k++) assert.equal((await reader.readFrame(format))?.length, 100);
  assert.equal(reader.bufferedBytes, 50);
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: reader.bufferedBytes > 0 ? 1 : 0 }));
} else if (name === "byte-reader-large") {
  // One reader, kept reachable, reads one frame that spans `count` chunks from a stream that
  // stays open; the last chunk holds the start of the next frame too, which never completes.
  const format = lengthPrefixed();
  const frame = format.encode(new Uint8Array(count * 600).fill(0x61));
  const wire = new Uint8Array(frame.length + 2);
  wire.set(frame);
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const reader = new ByteReader(new ReadableStream({ start: (c) => void (controller = c) }));
  // Each chunk a buffer of its own.
  const size = Math.ceil(wire.length / count);
  for (let at = 0; at < wire.length; at += size) {
    const chunk = wire.slice(at, at + size);
    controller!.enqueue(chunk);
    refs.push(new WeakRef(chunk.buffer));
  }
  assert.equal((await reader.readFrame(format))?.length, count * 600);
  assert.equal(reader.bufferedBytes, 2);
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive, open: reader.bufferedBytes > 0 ? 1 : 0 }));
} else {
  throw new Error(`unknown case ${name}`);
}

rmSync(dir, { recursive: true, force: true });

if (name.startsWith("framed")) {
  const alive = await reachable();
  console.log(JSON.stringify({ made: refs.length, alive }));
}
