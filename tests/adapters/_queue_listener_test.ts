// Copyright 2026 the framewire authors. MIT license.
// QueueListener (the Node and Bun adapters' Listener) with stand-in connections: what close()
// does to the connections accepted but never handed out, and to later accepts and iterations.

import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueListener } from "../../src/adapters/_queue_listener.ts";
import type { Conn } from "../../src/connection/types.ts";
import { watchSockets } from "../_util/leaks.ts";
import { shiftMoves } from "../_util/shift_moves.ts";

const sockets = watchSockets();

/** A test that hangs fails instead of blocking the run. */
const BOUNDED = { timeout: 10_000 };

/** A stand-in Conn that counts its close() calls. */
function fakeConn(): Conn & { closes: number } {
  const conn = {
    closes: 0,
    close(): void {
      conn.closes++;
    },
  };
  return conn as unknown as Conn & { closes: number };
}

const ADDR = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;

test(
  "QueueListener: close() closes the connections never handed out, not the others",
  BOUNDED,
  async () => {
    let stops = 0;
    const listener = new QueueListener(ADDR, () => stops++);
    const [taken, queued1, queued2] = [fakeConn(), fakeConn(), fakeConn()];
    listener.push(taken);
    listener.push(queued1);
    listener.push(queued2);
    assert.equal((await listener[Symbol.asyncIterator]().next()).value, taken);
    listener.close();
    listener.close();
    assert.equal(stops, 1, "the server is stopped once");
    assert.deepEqual([taken.closes, queued1.closes, queued2.closes], [0, 1, 1]);
    // Nothing queued is handed out any more.
    assert.deepEqual(await listener[Symbol.asyncIterator]().next(), {
      value: undefined,
      done: true,
    });
  },
);

test(
  "QueueListener: a connection accepted after close() is closed, never queued",
  BOUNDED,
  async () => {
    const listener = new QueueListener(ADDR, () => {});
    await listener[Symbol.asyncDispose]();
    const late = fakeConn();
    listener.push(late);
    assert.equal(late.closes, 1);
    // next() after close() ends at once (it waited forever before).
    const it = listener[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  },
);

test(
  "QueueListener: waiting next() calls get connections in order, then end on close()",
  BOUNDED,
  async () => {
    const listener = new QueueListener(ADDR, () => {});
    const a = listener[Symbol.asyncIterator]();
    const b = listener[Symbol.asyncIterator]();
    const waiting = [a.next(), b.next(), a.next()];
    const [one, two] = [fakeConn(), fakeConn()];
    listener.push(one);
    listener.push(two);
    listener.close();
    assert.deepEqual(await Promise.all(waiting), [
      { value: one, done: false },
      { value: two, done: false },
      { value: undefined, done: true },
    ]);
    assert.deepEqual([one.closes, two.closes], [0, 0]);
  },
);

sockets.check();

test(
  "QueueListener: 20,000 connections queued, and 20,000 next() calls waiting, are handed out in order in linear time (no shift() of a long array)",
  BOUNDED,
  async () => {
    // Taken with shift(), each accept or next() moved every entry behind it: quadratic on V8
    // past about 16,000 (an accept storm nobody iterates, or next() calls made without awaiting).
    const n = 20_000;
    const listener = new QueueListener(ADDR, () => {});
    const conns = Array.from({ length: n }, fakeConn);
    const iterator = listener[Symbol.asyncIterator]();
    const got: unknown[] = [];
    const moved = await shiftMoves(async () => {
      for (const conn of conns) listener.push(conn);
      for (let i = 0; i < n; i++) got.push((await iterator.next()).value);
      const waiting = Array.from({ length: n }, () => iterator.next());
      for (const conn of conns) listener.push(conn);
      for (const result of await Promise.all(waiting)) got.push(result.value);
    });
    assert.ok(got.every((conn, i) => conn === conns[i % n]), "in order");
    assert.equal(got.length, 2 * n);
    assert.ok(moved <= 2 * n, `shift() moved ${moved} elements for ${2 * n} connections`);
    listener.close();
  },
);
