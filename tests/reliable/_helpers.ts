// Copyright 2026 the framewire authors. MIT license.
// Shared helpers of the reliable-session tests.

import assert from "node:assert/strict";
import type {
  ReliableServer,
  ReliableServerOptions,
  ReliableSession,
} from "../../src/reliable/types.ts";
import { reliableServer } from "../../src/reliable/reliable_server.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import type { Conn } from "../../src/connection/types.ts";
import { encodeHandshake, HELLO, WELCOME } from "../../src/reliable/_protocol.ts";
import { type MemoryListener, MemoryNetwork } from "../_util/memory_conn.ts";
import { macrotask } from "../_util/macrotask.ts";

/** Resolves with the next `type` event of `target`. */
export function once<T = unknown>(target: EventTarget, type: string): Promise<CustomEvent<T>> {
  return new Promise((resolve) => {
    target.addEventListener(type, (event) => resolve(event as CustomEvent<T>), { once: true });
  });
}

/** Queues every `type` event of `target`; `next()` takes the oldest, waiting if none. */
export function events<T = unknown>(
  target: EventTarget,
  type: string,
): { next(): Promise<CustomEvent<T>> } {
  const queue: CustomEvent<T>[] = [];
  const waiters: ((event: CustomEvent<T>) => void)[] = [];
  target.addEventListener(type, (event) => {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(event as CustomEvent<T>);
    else queue.push(event as CustomEvent<T>);
  });
  return {
    next(): Promise<CustomEvent<T>> {
      const event = queue.shift();
      if (event !== undefined) return Promise.resolve(event);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** Reads `n` messages from a session as strings. */
export async function read(session: AsyncIterable<Uint8Array>, n: number): Promise<string[]> {
  const out: string[] = [];
  if (n === 0) return out;
  const decoder = new TextDecoder();
  const iterator = session[Symbol.asyncIterator]();
  while (out.length < n) {
    const { value, done } = await iterator.next();
    if (done) break;
    out.push(decoder.decode(value));
  }
  return out;
}

/** Reads every message until the session ends, as strings. */
export async function readAll(session: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  const decoder = new TextDecoder();
  for await (const message of session) out.push(decoder.decode(message));
  return out;
}

/** The next session the server yields. */
export async function nextSession(
  server: AsyncIterable<ReliableSession>,
): Promise<ReliableSession> {
  const { value, done } = await server[Symbol.asyncIterator]().next();
  if (done) throw new Error("server ended");
  return value;
}

/** Settles with the outcome of `promise` without throwing: "ok" or the error's code. */
export function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "ok",
    (error) => String((error as { code?: string }).code ?? (error as Error).name),
  );
}

/** A promise plus a flag telling whether it settled yet. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  return { promise, settled: () => done };
}

/**
 * Lets every pending promise job run (the memory network works by promise jobs only): `rounds`
 * turns, then a macrotask barrier (see macrotask()), so that a "not yet" read after it cannot pass
 * because the jobs needed more turns than counted.
 */
export async function drainJobs(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await macrotask();
}

/** Strings "p1".."pn". */
export function labels(prefix: string, n: number, from = 1): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + from}`);
}

/** A raw peer: sends and reads session frames (u32be), nothing more. */
export interface RawPeer {
  send(frame: Uint8Array): Promise<void>;
  next(): Promise<Uint8Array | undefined>;
  /** Half-closes: the peer sees the end; reading goes on. */
  closeWrite(): Promise<void>;
  close(): void;
}

/** A raw peer on `network`: sends and reads session frames (u32be), nothing more. */
export async function rawPeer(network: MemoryNetwork): Promise<RawPeer> {
  return rawEnd(await network.dial());
}

/** A raw peer on one end of a connection (see {@linkcode rawPeer}). */
export function rawEnd(conn: Conn): RawPeer {
  const framing = lengthPrefixed();
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  const decoder = framing.decoder();
  return {
    send: (frame) => writer.write(framing.encode(frame)),
    async next() {
      for (;;) {
        const frame = decoder.next();
        if (frame !== undefined) return frame;
        const { value, done } = await reader.read();
        if (done) return undefined;
        decoder.push(value);
      }
    },
    closeWrite: () => writer.close(),
    close: () => conn.close(),
  };
}

/**
 * Runs `body` with a reliable server on a new memory network and a `dial()`
 * for raw peers; then closes the peers, the server and the listener.
 */
export async function withRawServer(
  options: ReliableServerOptions | undefined,
  body: (env: {
    net: MemoryNetwork;
    listener: MemoryListener;
    server: ReliableServer;
    dial: () => ReturnType<typeof rawPeer>;
  }) => Promise<void>,
): Promise<void> {
  const net = new MemoryNetwork();
  const listener = net.listen();
  const server = reliableServer(listener, options);
  const peers: Awaited<ReturnType<typeof rawPeer>>[] = [];
  const dial = async (): ReturnType<typeof rawPeer> => {
    const peer = await rawPeer(net);
    peers.push(peer);
    return peer;
  };
  try {
    await body({ net, listener, server, dial });
  } finally {
    for (const peer of peers) peer.close();
    await server.close();
    listener.close();
  }
}

/**
 * Says HELLO for a new session (its id 16 bytes of `fill`) as `peer`, and
 * checks that the server answers WELCOME.
 */
export async function sayHello(
  peer: Awaited<ReturnType<typeof rawPeer>>,
  fill: number,
): Promise<void> {
  await peer.send(encodeHandshake(HELLO, 0, new Uint8Array(16).fill(fill), 0));
  assert.equal((await peer.next())?.[0], WELCOME);
}

/** Connects a raw peer, sends `hello`, returns the first frame of the answer and closes. */
export async function answerTo(network: MemoryNetwork, hello: Uint8Array): Promise<Uint8Array> {
  const peer = await rawPeer(network);
  try {
    await peer.send(hello);
    return (await peer.next())!;
  } finally {
    peer.close();
  }
}
