// Copyright 2026 the framewire authors. MIT license.
// Shared helpers of the reliable-session tests.

import type { ReliableSession } from "../../src/reliable/types.ts";

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

/** Lets every pending promise job run (the memory network works by promise jobs only). */
export async function drainJobs(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Strings "p1".."pn". */
export function labels(prefix: string, n: number, from = 1): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + from}`);
}
