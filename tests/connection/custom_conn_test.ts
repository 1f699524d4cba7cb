// Copyright 2026 the framewire authors. MIT license.
// framed() over Conns of one's own, written from the docs alone: odd ones that are legal, and
// plain mistakes, through each receive front end. A legal Conn loses no frame; a wrong one gets
// a clear error (no hang, no frame made of bytes that were never read).

import { test } from "node:test";
import assert from "node:assert/strict";
import { type Conn, framed, type FramedConnection, lengthPrefixed } from "../../mod.ts";

const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;
const framing = lengthPrefixed();
const text = new TextDecoder();
const wire = (...payloads: string[]): Uint8Array[] =>
  payloads.map((payload) => framing.encode(new TextEncoder().encode(payload)));

/** A Conn whose readable yields `chunks` (anything, one per pull), then ends. */
function chunksConn(chunks: unknown[]): Conn {
  let next = 0;
  const readable = new ReadableStream<unknown>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
  return conn({ readable });
}

function conn(parts: Partial<Conn>): Conn {
  return {
    readable: new ReadableStream(),
    writable: new WritableStream(),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => Promise.resolve(),
    close() {},
    closed: Promise.resolve(),
    ...parts,
  };
}

/** The three receive front ends, each reading every frame as text (or rejecting). */
const frontEnds: [string, (fc: FramedConnection, out: string[]) => Promise<void>][] = [
  ["for await", async (fc, out) => {
    for await (const frame of fc) out.push(text.decode(frame));
  }],
  ["batches()", async (fc, out) => {
    for await (const batch of fc.batches()) for (const frame of batch) out.push(text.decode(frame));
  }],
  ["readable", async (fc, out) => {
    for await (const frame of fc.readable) out.push(text.decode(frame));
  }],
];

for (const [name, receive] of frontEnds) {
  test(`framed() over a Conn whose readable yields null or undefined fails with a TypeError after the frames before it (${name})`, async () => {
    for (const value of [null, undefined]) {
      const fc = framed(chunksConn([...wire("one"), value, ...wire("two")]), framing);
      const out: string[] = [];
      // Before: null was taken for the end (reading ended cleanly, "two" was lost), and
      // undefined failed with "Cannot read properties of undefined".
      await assert.rejects(receive(fc, out), (error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.equal(
          error.message,
          `Cannot decode frames as the chunk must be a Uint8Array: received ${value}`,
        );
        return true;
      });
      assert.deepEqual(out, ["one"]);
      await fc.close();
    }
  });
}
