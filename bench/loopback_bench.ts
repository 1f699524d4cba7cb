// Copyright 2026 the framewire authors. MIT license.
/**
 * Loopback TCP end to end (127.0.0.1), sender and receiver in one process:
 *
 *     deno run -A bench/loopback_bench.ts      bun bench/loopback_bench.ts      node bench/loopback_bench.ts
 *     ... --adapter node     (use framewire's node:net adapter on Deno or Bun)
 *
 * - raw native: the runtime's own socket API, 256 KiB writes of one buffer,
 *   a receiver that only counts bytes into a reused buffer (the limit);
 *   measured in a group of its own and again in each group whose rows are
 *   compared with it (64 KiB owned, `reuseBuffers`, one side), round by
 *   round next to them;
 * - framed() batches(): framewire adapter + `framed(conn, lengthPrefixed())`
 *   on both ends, `send()` per message (awaited every 1 MiB), receiver
 *   `for await (const batch of fc.batches())`, for 16 B, 100 B, 4 KiB,
 *   64 KiB and 1 MiB messages;
 * - framed() batches() 16 B, sender in another process: a Node child writes
 *   pre-encoded frames in 256 KiB writes to the adapter + `batches()`; next
 *   to it, its limit: the runtime's own socket API receiving from the same
 *   child and making one view per frame, nothing else;
 * - framed() for await: the same receiver taking one frame per promise;
 * - framed() reuseBuffers: 64 KiB messages with `{ reuseBuffers: true }`;
 * - one side only, 64 KiB: framewire's sender into a raw counting receiver,
 *   and a raw sender (pre-encoded, four frames per write) into framewire's
 *   receiver, owned and with `reuseBuffers` (which side costs what);
 * - one write per message: a native client writing each 100 B message as
 *   its own `new Uint8Array(4 + n)` with one native write, received by
 *   `framed()` (the contrast for coalescing); and framewire's sender with
 *   each 100 B `send()` awaited (the loop an application writes first),
 *   and with 100-character strings as payloads (`send(string)`);
 * - ping-pong 16 B (latency): one 16 B message echoed at a time, round
 *   trips/s over the runtime's own socket API ("raw native" in that group)
 *   and over the adapter + `framed()` at both ends;
 * - churn 16 B: short connections, eight at a time, each connecting, sending
 *   one 16 B frame, reading its echo and closing; connections/s over the
 *   runtime's own socket API and over the adapter + `framed()`;
 * - length-prefixed-stream: its encoder piped into a node:net socket and the
 *   server socket piped into its decoder (node:net exists on all three);
 * - it-length-prefixed: its `encode()` over the messages, each chunk it
 *   yields written to a node:net socket (waiting for `drain`), and its
 *   `decode()` over the server socket (an async iterable), `.subarray()` per
 *   message;
 * - memory: 1 GiB of 64 KiB messages from a native sender, received by a raw
 *   byte-counting receiver and by `framed()` + `batches()`, owned and with
 *   `reuseBuffers`; peak RSS above the level before the transfer, each
 *   receiver in a fresh process
 *   (`--no-memory` skips it).
 *
 * MB/s counts payload bytes (raw: all bytes). Several rounds after one
 * warm-up transfer; medians with min–max. Results go to
 * `bench/results/loopback-<runtime>[-<adapter>].json`. `--only <text>` runs
 * the raw baseline and the groups whose name contains `text` (`"a|b"`: `a`
 * or `b`), without the memory cases, and writes no results (for looking into
 * one case). With another runtime's adapter (`--adapter node` on Deno or
 * Bun) the peers run at 64 KiB only (over node:net, as always).
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import * as net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
// @ts-types="./_length_prefixed_stream.d.ts"
import lps from "length-prefixed-stream";
import { decode as itDecode, encode as itEncode } from "it-length-prefixed";
import {
  type Conn,
  framed,
  type FramedConnection,
  type FramedOptions,
  lengthPrefixed,
  type Listener,
} from "../mod.ts";
import {
  args,
  asBuffer,
  type Case,
  collectGarbage,
  frameViews,
  measureGroup,
  type MeasureOptions,
  onlyGroups,
  payload,
  printGroup,
  type Result,
  resultHeader,
  runtimeName,
  runtimeVersion,
  sizeLabel,
  type Timed,
  viewsSeen,
  writeResults,
} from "./_common.ts";
import {
  nativeChurn,
  type NativeClient,
  nativeConnect,
  nativeCounter,
  nativePingPong,
} from "./_native.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [16, 100, 4 * KiB, 64 * KiB, 1 * MiB];

const argv = args();
const quick = argv.includes("--quick");
const { only, chosen } = onlyGroups(argv, "framed 100 B");
const adapterName = argv.includes("--adapter")
  ? argv[argv.indexOf("--adapter") + 1]!
  : runtimeName();
const measure: MeasureOptions = { warmupMs: 0, rounds: quick ? 2 : 3, roundMs: 0 };
// Bytes per transfer (payload), and a cap on messages per transfer.
const VOLUME = quick ? 16 * MiB : 96 * MiB;
const MAX_MESSAGES = quick ? 200_000 : 2_000_000;
// The peers run at about 0.1–0.16 M messages/s at 100 B: 100,000 messages
// make a round of about a second (with 500,000, the two peers' 100 B cases took
// 27–40 s of each runtime's run, about 100 s of npm run bench).
const PEER_MAX_MESSAGES = quick ? 20_000 : 100_000;

interface Adapter {
  connect(options: { hostname?: string; port: number }): Promise<Conn>;
  listen(options: { hostname?: string; port: number }): Promise<Listener>;
}
const adapter = await import(`../src/adapters/${adapterName}.ts`) as Adapter;
const framing = lengthPrefixed({ maxFrameLength: 2 * MiB });

function messages(size: number): number {
  return Math.max(16, Math.min(MAX_MESSAGES, Math.floor(VOLUME / size)));
}

/** Listens with the adapter on 127.0.0.1; `accepted` is the first connection. */
async function listenOnce(): Promise<
  { listener: Listener; port: number; accepted: Promise<Conn> }
> {
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as { port: number }).port;
  const accepted = listener[Symbol.asyncIterator]().next().then((r) => r.value as Conn);
  return { listener, port, accepted };
}

/** A connected pair of framewire Conns. */
async function pair(): Promise<{ client: Conn; server: Conn; listener: Listener }> {
  const { listener, port, accepted } = await listenOnce();
  const client = await adapter.connect({ hostname: "127.0.0.1", port });
  return { client, server: await accepted, listener };
}

/** A native client socket into a `framed()` receiver on the adapter; `close()` ends both. */
async function nativeIntoFramed(
  options?: FramedOptions,
): Promise<{ client: NativeClient; rx: FramedConnection; close(): Promise<void> }> {
  const { listener, port, accepted } = await listenOnce();
  const client = await nativeConnect(port);
  const rx = framed(await accepted, framing, options);
  return {
    client,
    rx,
    close: async () => {
      await rx.close();
      listener.close();
    },
  };
}

/** Four frames of `body`, encoded back to back: what a raw sender writes at once. */
function fourFrames(body: Uint8Array): Uint8Array {
  const frame = framing.encode(body);
  const block = new Uint8Array(frame.length * 4);
  for (let i = 0; i < 4; i++) block.set(frame, i * frame.length);
  return block;
}

/** Writes `block` `times` times with a native client, waiting whenever it asks to. */
async function writeTimes(client: NativeClient, block: Uint8Array, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const w = client.write(block);
    if (w !== undefined) await w;
  }
}

/** One `await send()` per message: the loop an application writes first. */
async function sendEachAwaited(
  tx: FramedConnection,
  body: Uint8Array,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await tx.send(body);
}

async function sendAll(
  tx: FramedConnection,
  body: Uint8Array | string,
  count: number,
): Promise<void> {
  let last: Promise<void> = Promise.resolve();
  let since = 0;
  for (let i = 0; i < count; i++) {
    last = tx.send(body);
    since += body.length;
    if (since >= MiB) {
      await last;
      since = 0;
    }
  }
  await last;
}

async function receiveBatches(rx: FramedConnection, count: number): Promise<number> {
  let n = 0;
  for await (const batch of rx.batches()) {
    n += batch.length;
    if (n >= count) break;
  }
  return n;
}

async function receiveEach(rx: FramedConnection, count: number): Promise<number> {
  let n = 0;
  for await (const _frame of rx) {
    if (++n >= count) break;
  }
  return n;
}

function rawCase(): Case {
  const total = quick ? 64 * MiB : 256 * MiB;
  const buf = payload(256 * KiB);
  return {
    name: "raw native",
    note: "runtime socket API, 256 KiB writes, receiver counts bytes (the limit)",
    frames: 1,
    bytes: total,
    async run(): Promise<number> {
      const counter = await nativeCounter();
      try {
        const received = counter.received(total);
        const client = await nativeConnect(counter.port);
        for (let sent = 0; sent < total; sent += buf.length) await client.write(buf);
        if (await received !== total) throw new Error("raw: short transfer");
        await client.end();
      } finally {
        counter.close();
      }
      return 1;
    },
  };
}

/**
 * `reuseBuffers` on the receiver; `awaitEach` send; `strings`: the payloads are strings of
 * `size` ASCII characters (sent as UTF-8), not bytes.
 */
interface FramedCaseOptions {
  reuseBuffers?: boolean;
  awaitEach?: boolean;
  strings?: boolean;
}

function framedCase(
  size: number,
  receiver: "batches" | "each",
  { reuseBuffers = false, awaitEach = false, strings = false }: FramedCaseOptions = {},
): Case {
  // Awaiting each send: as many messages as the one-write-per-message contrast.
  const count = awaitEach ? Math.min(messages(size), quick ? 20_000 : 200_000) : messages(size);
  const bytes = payload(size);
  const body = strings ? String.fromCharCode(...bytes.map((b) => 32 + b % 95)) : bytes;
  const name = awaitEach
    ? `framed() await each send() ${sizeLabel(size)}`
    : strings
    ? `framed() send(string) ${sizeLabel(size)}`
    : receiver === "batches"
    ? (reuseBuffers
      ? `framed() reuseBuffers ${sizeLabel(size)}`
      : `framed() batches() ${sizeLabel(size)}`)
    : `framed() for await ${sizeLabel(size)}`;
  return {
    name,
    note: `${adapterName} adapter both ends, send() per message${
      strings ? ` (a string of ${size} ASCII characters)` : ""
    }${awaitEach ? ", each awaited" : ""}, receiver ${
      receiver === "batches" ? "batches()" : "for await"
    }${reuseBuffers ? ", reuseBuffers: true" : ""}`,
    frames: count,
    bytes: count * size,
    async run(): Promise<number> {
      const { client, server, listener } = await pair();
      const tx = framed(client, framing);
      const rx = framed(server, framing, { reuseBuffers });
      try {
        const got = receiver === "batches" ? receiveBatches(rx, count) : receiveEach(rx, count);
        if (awaitEach) await sendEachAwaited(tx, bytes, count);
        else await sendAll(tx, body, count);
        return await got;
      } finally {
        await tx.close();
        await rx.close();
        listener.close();
      }
    },
  };
}

/**
 * The receiver alone: a Node child process blasts pre-encoded frames in 256
 * KiB writes, this process receives them through the adapter and `framed()`
 * `batches()` (in the other cases sender and receiver share one thread).
 */
/** Frames the separate sender writes per round. */
const BLAST_FRAMES = quick ? 2_000_000 : 20_000_000;

function separateSenderCase(size: number): Case {
  const count = BLAST_FRAMES;
  return {
    name: `framed() batches() ${sizeLabel(size)}, sender in another process`,
    note:
      `${adapterName} adapter receiving; a Node child writes pre-encoded frames in 256 KiB writes; timed from the go the connected child waits for (its start-up not counted)`,
    frames: count,
    bytes: count * size,
    async run(): Promise<Timed> {
      const { listener, port, accepted } = await listenOnce();
      const sender = blastSender(port, count, size);
      try {
        // A child that fails before it connects ends the case (not a wait for a connection).
        const conn = await Promise.race([accepted, sender.failed]);
        const rx = framed(conn, framing);
        const start = await sender.go();
        const n = await Promise.race([receiveBatches(rx, count), sender.failed]);
        const seconds = (performance.now() - start) / 1000;
        await rx.close();
        return { frames: n, seconds };
      } finally {
        sender.child.kill();
        listener.close();
      }
    },
  };
}

/**
 * The limit of the case above: the runtime's own socket API receiving from
 * the same sender, doing nothing per chunk but one view per frame.
 */
function separateSenderLimitCase(size: number): Case {
  const count = BLAST_FRAMES;
  return {
    name: `native receiver, one view per frame ${sizeLabel(size)}, sender in another process`,
    note:
      "the runtime's own socket API (Deno: a fresh 256 KiB buffer per read) and per chunk one new Uint8Array view per frame, kept in an array, nothing else; the same Node child sender (a limit, not a peer)",
    frames: count,
    bytes: count * size,
    async run(): Promise<Timed> {
      const views = frameViews(size);
      const counter = await nativeCounter((chunk) => void views(chunk));
      const received = counter.received(count * (size + 4));
      received.catch(() => {}); // awaited below, unless the child fails first
      const sender = blastSender(counter.port, count, size);
      try {
        const start = await sender.go();
        const got = await Promise.race([received, sender.failed]);
        if (got !== count * (size + 4)) throw new Error("native receiver: short");
        return { frames: count, seconds: (performance.now() - start) / 1000 };
      } finally {
        sender.child.kill();
        counter.close();
      }
    },
  };
}

/**
 * Starts bench/_blast_sender.ts on Node to send `count` frames of `size`
 * bytes to 127.0.0.1:`port`. It connects and waits: `go()` resolves once it
 * is connected, tells it to start, and returns the time it did. `failed`
 * rejects if the child exits with an error (or before it connected), and
 * never resolves.
 */
function blastSender(
  port: number,
  count: number,
  size: number,
): { child: ReturnType<typeof spawn>; go(): Promise<number>; failed: Promise<never> } {
  const child = spawn(
    fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url)),
    [
      fileURLToPath(new URL("./_blast_sender.ts", import.meta.url)),
      String(port),
      String(count),
      String(size),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let isConnected = false;
  const connected = new Promise<void>((resolve) => {
    child.stdout!.once("data", () => {
      isConnected = true;
      resolve();
    });
  });
  const failed = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGTERM" || !isConnected) {
        reject(new Error(`blast sender exited (${code ?? signal})`));
      }
    });
  });
  failed.catch(() => {}); // raced against by the cases; unobserved when the child succeeds
  child.stdin!.on("error", () => {}); // a child gone before "go": reported by `failed`
  return {
    child,
    failed,
    async go(): Promise<number> {
      await Promise.race([connected, failed]);
      const start = performance.now();
      child.stdin!.write("go\n");
      return start;
    },
  };
}

function perMessageWriteCase(size: number): Case {
  const count = Math.min(messages(size), quick ? 20_000 : 200_000);
  const body = payload(size);
  return {
    name: `one write per message ${sizeLabel(size)}`,
    note:
      "native client: new Uint8Array(4 + n) + one native write per message; framed() batches() receiver",
    frames: count,
    bytes: count * size,
    async run(): Promise<number> {
      const { client, rx, close } = await nativeIntoFramed();
      try {
        const got = receiveBatches(rx, count);
        const n = body.length;
        for (let i = 0; i < count; i++) {
          const frame = new Uint8Array(4 + n);
          frame[0] = n >>> 24;
          frame[1] = (n >>> 16) & 255;
          frame[2] = (n >>> 8) & 255;
          frame[3] = n & 255;
          frame.set(body, 4);
          const w = client.write(frame);
          if (w !== undefined) await w;
        }
        const result = await got;
        await client.end();
        return result;
      } finally {
        await close();
      }
    },
  };
}

/** Round trips per ping-pong case. */
const PING_PONGS = quick ? 2_000 : 20_000;

/**
 * Latency: 16 B messages echoed one at a time (the next is sent when the
 * last came back), over the runtime's own socket API (named "raw native", the
 * reference of its group) or framewire's adapter and `framed()` at both ends.
 * A frame is a round trip; both ends share one thread, so the time per round
 * trip is both ends' work for two messages plus the kernel's.
 */
function pingPongCase(kind: "native" | "framed"): Case {
  const size = 16;
  const count = PING_PONGS;
  return {
    name: kind === "native" ? "raw native" : `framed() ping-pong ${sizeLabel(size)}`,
    note: kind === "native"
      ? "runtime socket API at both ends, an echo server; one 16 B write, then wait for the 16 B echo"
      : `${adapterName} adapter + framed() at both ends; client: send() then the iterator's next(); server: for await, send() each frame back`,
    frames: count,
    bytes: count * size,
    async run(): Promise<Timed> {
      if (kind === "native") return { frames: count, seconds: await nativePingPong(count, size) };
      const { client, server, listener } = await pair();
      const tx = framed(client, framing);
      const echo = framed(server, framing);
      const echoing = (async () => {
        for await (const frame of echo) echo.send(frame);
      })();
      try {
        const replies = tx[Symbol.asyncIterator]();
        const message = payload(size);
        const start = performance.now();
        for (let i = 0; i < count; i++) {
          tx.send(message);
          if ((await replies.next()).done) throw new Error("ping-pong: the echo ended");
        }
        const seconds = (performance.now() - start) / 1000;
        return { frames: count, seconds };
      } finally {
        listener.close();
        await tx.close();
        await echoing;
        await echo.close();
      }
    },
  };
}

/** Connections a churn round makes, and how many at a time. */
const CHURN = quick ? 400 : 3000;
const CHURN_PARALLEL = 8;

/**
 * Connection churn: short connections, `CHURN_PARALLEL` at a time, each
 * connecting, sending one 16 B frame, reading its echo and closing, over the
 * runtime's own socket API or the adapter + `framed()` at both ends (what a
 * client that opens a connection per request pays). Connections per second.
 */
function churnCase(kind: "native" | "framed"): Case {
  const size = 16;
  return {
    name: kind === "native" ? "raw native" : `framed() churn ${sizeLabel(size)}`,
    note: kind === "native"
      ? `runtime socket API at both ends, ${CHURN_PARALLEL} clients at a time: connect, one 16 B frame, its echo, close`
      : `${adapterName} adapter + framed() at both ends, ${CHURN_PARALLEL} at a time: connect, send(), the echo through for await, close(); server: for await, send() it back, close()`,
    frames: CHURN,
    bytes: CHURN * size,
    async run(): Promise<Timed> {
      if (kind === "native") {
        return { frames: CHURN, seconds: await nativeChurn(CHURN, size, CHURN_PARALLEL) };
      }
      const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as { port: number }).port;
      const serving = (async () => {
        for await (const conn of listener) {
          (async () => {
            const fc = framed(conn, framing);
            for await (const frame of fc) {
              await fc.send(frame);
              break;
            }
            await fc.close();
          })().catch(() => {});
        }
      })();
      const message = payload(size);
      let started = 0;
      const start = performance.now();
      try {
        await Promise.all(Array.from({ length: CHURN_PARALLEL }, async () => {
          while (started < CHURN) {
            started++;
            const fc = framed(await adapter.connect({ hostname: "127.0.0.1", port }), framing);
            try {
              await fc.send(message);
              let echoed = false;
              for await (const _ of fc) {
                echoed = true;
                break;
              }
              if (!echoed) throw new Error("churn: no echo");
            } finally {
              await fc.close();
            }
          }
        }));
        return { frames: CHURN, seconds: (performance.now() - start) / 1000 };
      } finally {
        listener.close();
        await serving;
      }
    },
  };
}

/**
 * One side alone, against the runtime's raw socket on the other side (the
 * same thread): framewire's sender into a raw counting receiver, or a raw
 * sender of pre-encoded frames (four per write) into framewire's receiver.
 * Shows which side of the end-to-end case costs what.
 */
function oneSideCase(size: number, side: "sender" | "owned" | "reuseBuffers"): Case {
  const count = messages(size);
  const body = payload(size);
  const block = fourFrames(body);
  const wireBytes = count * (block.length / 4);
  return {
    name: side === "sender"
      ? `framed() sender only ${sizeLabel(size)}`
      : `framed() receiver only ${sizeLabel(size)}${side === "owned" ? "" : " reuseBuffers"}`,
    note: side === "sender"
      ? `${adapterName} adapter + framed() send() per message into a raw counting receiver`
      : `raw native sender (4 frames per write) into ${adapterName} adapter + framed() batches()${
        side === "owned" ? "" : " with reuseBuffers"
      }`,
    frames: count,
    bytes: count * size,
    async run(): Promise<number> {
      if (side === "sender") {
        const counter = await nativeCounter();
        try {
          const received = counter.received(wireBytes);
          const tx = framed(
            await adapter.connect({ hostname: "127.0.0.1", port: counter.port }),
            framing,
          );
          await sendAll(tx, body, count);
          if (await received !== wireBytes) throw new Error("sender only: short");
          await tx.close();
        } finally {
          counter.close();
        }
        return count;
      }
      const { client, rx, close } = await nativeIntoFramed({
        reuseBuffers: side === "reuseBuffers",
      });
      try {
        const blocks = Math.ceil(count / 4);
        const got = receiveBatches(rx, blocks * 4);
        await writeTimes(client, block, blocks);
        const n = await got;
        await client.end();
        return n;
      } finally {
        await close();
      }
    },
  };
}

function lpsCase(size: number): Case {
  const count = Math.min(messages(size), PEER_MAX_MESSAGES);
  // A Buffer (a view of the same bytes): given a plain Uint8Array, its readable-stream copies
  // every chunk with Buffer.from() first.
  const body = asBuffer(payload(size));
  return {
    name: `length-prefixed-stream ${sizeLabel(size)}`,
    note:
      "node:net sockets, lps.encode() piped to the client socket, server socket piped to lps.decode()",
    frames: count,
    bytes: count * size,
    run(): Promise<number> {
      return new Promise((resolve, reject) => {
        const server = net.createServer((socket) => {
          const decoder = lps.decode();
          let n = 0;
          decoder.on("data", () => {
            if (++n === count) {
              socket.destroy();
              server.close();
              resolve(n);
            }
          });
          socket.on("error", () => {});
          socket.pipe(decoder);
        });
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port;
          const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, async () => {
            const encoder = lps.encode();
            encoder.pipe(socket);
            for (let i = 0; i < count; i++) {
              if (!encoder.write(body)) await new Promise((r) => encoder.once("drain", r));
            }
            encoder.end();
          });
          socket.on("error", () => {});
        });
      });
    },
  };
}

function itlpCase(size: number): Case {
  const count = Math.min(messages(size), PEER_MAX_MESSAGES);
  const body = payload(size);
  return {
    name: `it-length-prefixed ${sizeLabel(size)}`,
    note:
      "node:net sockets, every chunk of encode() written to the client socket (awaiting drain), decode() over the server socket, .subarray() per message",
    frames: count,
    bytes: count * size,
    run(): Promise<number> {
      return new Promise((resolve, reject) => {
        const server = net.createServer(async (socket) => {
          socket.on("error", () => {});
          let n = 0;
          let bytes = 0;
          try {
            for await (const message of itDecode(socket)) {
              bytes += message.subarray().length;
              if (++n === count) break;
            }
            if (bytes !== count * size) throw new Error(`it-length-prefixed: ${bytes} bytes`);
            resolve(n);
          } catch (error) {
            reject(error);
          } finally {
            socket.destroy();
            server.close();
          }
        });
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port;
          const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, async () => {
            function* bodies(): Generator<Uint8Array> {
              for (let i = 0; i < count; i++) yield body;
            }
            for (const chunk of itEncode(bodies())) {
              if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
            }
            socket.end();
          });
          socket.on("error", () => {});
        });
      });
    },
  };
}

/** The receivers whose memory is measured: a raw counter, framed() with owned frames or with reuseBuffers. */
type MemoryReceiver = "raw" | "framed" | "reuseBuffers";

/** Peak RSS above the level before a 1 GiB transfer of 64 KiB messages. */
async function memoryCase(receiver: MemoryReceiver): Promise<number> {
  const total = quick ? 128 * MiB : 1024 * MiB;
  const size = 64 * KiB;
  const count = total / size;
  const block = fourFrames(payload(size));
  collectGarbage();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    if (receiver === "raw") {
      const counter = await nativeCounter();
      try {
        const received = counter.received((block.length / 4) * count);
        const client = await nativeConnect(counter.port);
        await writeTimes(client, block, count / 4);
        await received;
        await client.end();
      } finally {
        counter.close();
      }
    } else {
      const { client, rx, close } = await nativeIntoFramed({
        reuseBuffers: receiver === "reuseBuffers",
      });
      try {
        const got = receiveBatches(rx, count);
        await writeTimes(client, block, count / 4);
        if (await got !== count) throw new Error("memory: short transfer");
        await client.end();
      } finally {
        await close();
      }
    }
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return peak - base;
}

/** Runs `memoryCase(kind)` in a child process of the same runtime; MiB. */
function memoryChild(kind: MemoryReceiver): number {
  const script = fileURLToPath(import.meta.url);
  const extra = ["--memory-child", kind, "--adapter", adapterName, ...(quick ? ["--quick"] : [])];
  const cmd = runtimeName() === "deno" ? ["run", "-A", script, ...extra] : [script, ...extra];
  const r = spawnSync(process.execPath, cmd, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`memory child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!).peakMiB;
}

async function main(): Promise<void> {
  console.log(
    `loopback bench on ${runtimeVersion()}, ${adapterName} adapter${quick ? " (quick)" : ""}`,
  );
  // Memory: each receiver in a fresh process of this runtime, so the peak is its own.
  const memory: Record<string, number> = {};
  if (!argv.includes("--no-memory") && only === undefined) {
    memory.rawPeakMiB = memoryChild("raw");
    memory.framedPeakMiB = memoryChild("framed");
    memory.differenceMiB = memory.framedPeakMiB - memory.rawPeakMiB;
    memory.reusePeakMiB = memoryChild("reuseBuffers");
    memory.reuseDifferenceMiB = memory.reusePeakMiB - memory.rawPeakMiB;
    console.log(
      `memory, ${quick ? "128 MiB" : "1 GiB"} of 64 KiB messages: peak RSS above start: raw ${
        memory.rawPeakMiB.toFixed(1)
      } MiB, framed() ${memory.framedPeakMiB.toFixed(1)} MiB (difference ${
        memory.differenceMiB.toFixed(1)
      } MiB), reuseBuffers ${memory.reusePeakMiB.toFixed(1)} MiB (difference ${
        memory.reuseDifferenceMiB.toFixed(1)
      } MiB)`,
    );
  }
  const results: Result[] = [];
  const raw = await measureGroup("raw", [rawCase()], measure);
  results.push(...raw);
  const rawMBps = raw[0]!.mbPerSec.median;

  // Every ratio in the summary compares cases of one group, measured side by side, round by
  // round: the raw case is in each group compared with it by MB/s (64 KiB), and the contrasts
  // and peers are in the groups of the sizes they are compared at (100 B, 64 KiB).
  // The peers run over node:net whichever adapter framewire uses. With another runtime's adapter
  // they run at 64 KiB only (node:net at both ends, next to framewire over node:net); at 100 B
  // they take most of the bench's time and are measured in the runtime's own adapter's run.
  const ownAdapter = adapterName === runtimeName();
  const groups: [string, Case[]][] = [];
  for (const size of SIZES) {
    const cases = [framedCase(size, "batches")];
    if (size === 100) {
      cases.push(
        perMessageWriteCase(100),
        framedCase(100, "batches", { awaitEach: true }),
        framedCase(100, "batches", { strings: true }),
      );
    }
    if (size === 100 && ownAdapter) cases.push(lpsCase(100), itlpCase(100));
    if (size === 64 * KiB) {
      cases.unshift(rawCase());
      cases.push(lpsCase(size), itlpCase(size));
    }
    groups.push([`framed ${sizeLabel(size)}`, cases]);
  }
  groups.push(["framed 16 B, sender in another process", [
    separateSenderCase(16),
    separateSenderLimitCase(16),
  ]]);
  groups.push(["ping-pong 16 B", [pingPongCase("native"), pingPongCase("framed")]]);
  groups.push(["churn 16 B", [churnCase("native"), churnCase("framed")]]);
  groups.push(["framed for await", [framedCase(100, "each"), framedCase(64 * KiB, "each")]]);
  groups.push(["framed reuseBuffers", [
    rawCase(),
    framedCase(64 * KiB, "batches", { reuseBuffers: true }),
  ]]);
  groups.push(["one side 64 KiB", [
    rawCase(),
    oneSideCase(64 * KiB, "sender"),
    oneSideCase(64 * KiB, "owned"),
    oneSideCase(64 * KiB, "reuseBuffers"),
  ]]);
  if (only !== undefined && !groups.some(([group]) => chosen(group))) {
    console.log(`--only "${only}": no group's name contains it; the groups are:`);
    for (const [group, cases] of groups) {
      console.log(`  ${group}: ${cases.map((c) => c.name).join(", ")}`);
    }
  }
  for (const [group, cases] of groups) {
    if (!chosen(group)) continue;
    try {
      results.push(...await measureGroup(group, cases, measure));
    } catch (error) {
      console.log(`${group}: failed: ${error instanceof Error ? error.message : error}`);
    }
  }
  printGroup(
    `loopback, ${runtimeName()} with the ${adapterName} adapter (vs raw = MB/s ratio)`,
    results,
    "raw native",
    "bytes",
  );
  if (only !== undefined) return;

  const suffix = adapterName === runtimeName() ? "" : `-${adapterName}`;
  const file = writeResults(`loopback-${runtimeName()}${suffix}.json`, {
    ...resultHeader("loopback"),
    adapter: adapterName,
    config: {
      sizes: SIZES,
      volume: VOLUME,
      maxMessages: MAX_MESSAGES,
      measure,
      mbPerSec: "payload bytes",
    },
    rawMBps,
    results,
    memory,
  });
  console.log(`\nwrote ${file}${viewsSeen() < 0 ? "" : ""}`);
}

if (argv.includes("--memory-child")) {
  const kind = argv[argv.indexOf("--memory-child") + 1] as MemoryReceiver;
  console.log(JSON.stringify({ peakMiB: (await memoryCase(kind)) / MiB }));
} else {
  await main();
}
