import { test } from "node:test";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  type Conn,
  ConnectionError,
  fixedSize,
  framed,
  type FramedCloseOptions,
  type FramedConnection,
  type FramedOptions,
  FrameTooLargeError,
  lengthPrefixed,
  lines,
  TruncatedFrameError,
} from "../../mod.ts";
import { detachedPayload } from "../../src/framing/_options.ts";
import { writeDirect } from "../../src/connection/_direct.ts";
import { MemoryLink } from "../_util/memory_conn.ts";
import {
  concat,
  cutsArbitrary,
  encodeAll,
  formats,
  label,
  payloadOf,
} from "../framing/_formats.ts";
import { watchSockets } from "../_util/leaks.ts";
import { runCli } from "../cli/_spawn_cli.ts";
import { fileURLToPath } from "node:url";
import { spyTimers } from "../_util/timer_spy.ts";
import { macrotask } from "../_util/macrotask.ts";
import { shiftMoves, sliceCopies, spliceMoves } from "../_util/shift_moves.ts";

const sockets = watchSockets();

const text = new TextDecoder();
const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;

/** A Conn whose writes are recorded (not copied) and whose input the test feeds. */
function recordingConn(): {
  conn: Conn;
  writes: Uint8Array[];
  feed: WritableStreamDefaultWriter<Uint8Array>;
  fail: (error: Error) => void;
  closedCalls: () => number;
  writableClosed: () => boolean;
} {
  const writes: Uint8Array[] = [];
  const input = new TransformStream<Uint8Array, Uint8Array>();
  let failure: Error | undefined;
  let closes = 0;
  let writableClosed = false;
  const conn: Conn = {
    readable: input.readable,
    writable: new WritableStream({
      write(chunk) {
        if (failure) throw failure;
        writes.push(chunk);
      },
      close() {
        writableClosed = true;
      },
    }),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => Promise.resolve(),
    close() {
      closes++;
    },
    closed: Promise.resolve(),
  };
  return {
    conn,
    writes,
    feed: input.writable.getWriter(),
    fail: (error) => failure = error,
    closedCalls: () => closes,
    writableClosed: () => writableClosed,
  };
}

/**
 * A Conn whose sink calls `write` with each chunk as the writable hands it over (at once while no
 * write is in progress): it may send on a framed() from there.
 */
function sinkConn(write: (chunk: Uint8Array) => void): Conn {
  return {
    readable: new TransformStream<Uint8Array, Uint8Array>().readable,
    writable: new WritableStream({ write }),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => Promise.resolve(),
    close() {},
    closed: Promise.resolve(),
  };
}

/** Resolves when `conn.close()` is called. */
function closeCalled(conn: Conn): Promise<void> {
  return new Promise((resolve) => {
    const close = conn.close.bind(conn);
    conn.close = () => {
      close();
      resolve();
    };
  });
}

/** Sends resolve once their frames are written (by default, once queued under highWaterMark). */
const UNTIL_WRITTEN = { highWaterMark: 0 } as const;

test("framed() coalesces small frames sent in one tick into one write", async () => {
  const { conn, writes } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 1000; i++) sends.push(fc.send(`message ${i}`));
  await Promise.all(sends);
  assert.equal(writes.length, 1);
  const decoder = lengthPrefixed().decoder();
  decoder.push(writes[0]!);
  for (let i = 0; i < 1000; i++) assert.equal(text.decode(decoder.next()), `message ${i}`);
  assert.equal(decoder.next(), undefined);
});

test("framed() splits coalesced writes at the coalesce limit and coalesce 0 writes each frame", async () => {
  const small = recordingConn();
  const fc = framed(small.conn, lengthPrefixed(), { ...UNTIL_WRITTEN, coalesce: 1000 });
  await Promise.all(Array.from({ length: 100 }, () => fc.send(new Uint8Array(96))));
  assert.equal(small.writes.length, 10);
  assert.ok(small.writes.every((w) => w.length === 1000));
  const none = recordingConn();
  const each = framed(none.conn, lengthPrefixed(), { ...UNTIL_WRITTEN, coalesce: 0 });
  await Promise.all(Array.from({ length: 5 }, () => each.send(new Uint8Array(3))));
  assert.equal(none.writes.length, 5);
});

test("framed() sends strings as UTF-8, each intact, many in one tick, of every size", async () => {
  const strings = [
    "",
    "a",
    "hello",
    "h\u00e9llo",
    "\u20acuro",
    "\u{1F600} grin",
    "\uD800 lone surrogate",
    "x".repeat(100),
    "y".repeat(100), // the same encoded length as the one before
    "\u00fc".repeat(9000), // 18,000 bytes: over the 16 KiB that are copied
    "z".repeat(16 * 1024 + 1),
  ];
  const utf8 = new TextEncoder();
  // Default send buffers; 8 bytes (each frame here but the first two goes out as a view of its
  // payload); none. Over a Conn that keeps the chunks it is given, so a view of bytes reused
  // later would show.
  for (const coalesce of [undefined, 8, 0]) {
    const { conn, writes } = recordingConn();
    const fc = framed(conn, lengthPrefixed(), { ...UNTIL_WRITTEN, coalesce });
    const sent = [...strings, ...strings.slice().reverse()];
    await Promise.all(sent.map((s) => fc.send(s)));
    const decoder = lengthPrefixed({ maxFrameLength: 1 << 20 }).decoder();
    decoder.push(concat(writes));
    for (const s of sent) {
      assert.deepEqual(
        decoder.next(),
        utf8.encode(s),
        `${JSON.stringify(s.slice(0, 12))}, ${coalesce}`,
      );
    }
    assert.equal(decoder.next(), undefined);
    await fc.close();
  }
});

test("framed() sends strings at the scratch's bounds intact: 16 K code units of 3 bytes each, astral pairs, a lone surrogate last, one unit more", async () => {
  const k = 16 * 1024;
  const strings = [
    "\u20ac".repeat(k), // 49,152 bytes: 3 per code unit, the most
    "\u{1F600}".repeat(k / 2), // 4 bytes per pair
    "a".repeat(k - 1) + "\uD800", // a lone surrogate at the end: 3 bytes (U+FFFD)
    "\uDC00" + "b".repeat(k - 1),
    "\u20ac".repeat(k + 1), // one unit more: encoded on its own
    "\u20ac".repeat(k), // the same again, after one that did not use the scratch
  ];
  const utf8 = new TextEncoder();
  for (const coalesce of [undefined, 0]) {
    const { conn, writes } = recordingConn();
    const fc = framed(conn, lengthPrefixed(), { coalesce });
    await Promise.all(strings.map((s) => fc.send(s)));
    await fc.close();
    const decoder = lengthPrefixed().decoder();
    decoder.push(concat(writes));
    for (const [i, s] of strings.entries()) {
      assert.deepEqual(decoder.next(), utf8.encode(s), `string ${i}, coalesce ${coalesce}`);
    }
    assert.equal(decoder.next(), undefined);
  }
});

test("framed(): a string sent by another framed() from within a conn's sink leaves the string being sent intact", async () => {
  // A send that fills the send buffer flushes it before it copies its string in: the flush
  // writes to the conn, whose sink here sends a string of the same length on another framed().
  // That one must not encode into the memory the first string waits in (a shared scratch).
  const other = recordingConn();
  const fcOther = framed(other.conn, lengthPrefixed());
  const otherSends: Promise<void>[] = [];
  const writes: Uint8Array[] = [];
  let sending = false;
  let reentered = 0;
  const conn = sinkConn((chunk) => {
    writes.push(chunk);
    if (sending) reentered++;
    otherSends.push(fcOther.send("#".repeat(3000)));
  });
  const fc = framed(conn, lengthPrefixed());
  await fc.send("warm-up"); // the writable has started: a write reaches the sink at once
  const sent = Array.from({ length: 12 }, (_, i) => String.fromCharCode(0x41 + i).repeat(3000));
  sending = true;
  const sends = sent.map((s) => fc.send(s));
  sending = false;
  await Promise.all(sends);
  await fc.close(); // writes what is queued
  await Promise.all(otherSends);
  await fcOther.close();
  assert.ok(reentered > 0, "no write reached the sink during a send");
  const utf8 = new TextEncoder();
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(writes));
  for (const s of ["warm-up", ...sent]) assert.deepEqual(decoder.next(), utf8.encode(s));
  assert.equal(decoder.next(), undefined);
  const otherDecoder = lengthPrefixed().decoder();
  otherDecoder.push(concat(other.writes));
  for (let i = 0; i < otherSends.length; i++) {
    assert.deepEqual(otherDecoder.next(), utf8.encode("#".repeat(3000)));
  }
  assert.equal(otherDecoder.next(), undefined);
});

test("framed(): a send made by the conn's own sink, while a send flushes a full send buffer, is written (it resolved, and was dropped)", async () => {
  const writes: Uint8Array[] = [];
  let sending = false;
  let inner: Promise<void> | undefined;
  const conn = sinkConn((chunk) => {
    writes.push(chunk);
    if (sending && inner === undefined) inner = fc.send(new Uint8Array(10).fill(0x7a));
  });
  const fc = framed(conn, lengthPrefixed());
  await fc.send(new Uint8Array(1)); // the writable has started: a write reaches the sink at once
  // The first send buffer holds 16 KiB: the sixth frame flushes the five before it.
  const sent = Array.from({ length: 12 }, (_, i) => new Uint8Array(3000).fill(0x41 + i));
  sending = true;
  const sends = sent.map((payload) => fc.send(payload));
  sending = false;
  assert.ok(inner !== undefined, "no write reached the sink during a send");
  await Promise.all([...sends, inner]);
  await fc.close();
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(writes));
  const got: string[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
    got.push(`${f.length}:${String.fromCharCode(f[0]!)}`);
  }
  assert.deepEqual(got, [
    "1:\0",
    ...["A", "B", "C", "D", "E"].map((l) => `3000:${l}`),
    "10:z", // sent from within the flush before F's frame was encoded
    ...["F", "G", "H", "I", "J", "K", "L"].map((l) => `3000:${l}`),
  ]);
});

test(
  "framed(): a conn's sink that sends on every write it takes: each send buffer flush reaches the sink once, every frame is written once",
  {
    timeout: 10_000,
  },
  async () => {
    // add() flushes until nothing is held before it replaces a full send buffer: a sink that sends
    // from each write must not keep that loop going (the writable takes no write while one is in
    // progress, and framed() queues behind its pump), nor lose a frame.
    const writes: Uint8Array[] = [];
    let budget = 0;
    let inSend = 0;
    let maxInSend = 0;
    const inner: Promise<void>[] = [];
    let spent!: () => void;
    const allSent = new Promise<void>((resolve) => spent = resolve);
    const conn = sinkConn((chunk) => {
      writes.push(chunk);
      if (inSend > 0) maxInSend = Math.max(maxInSend, ++inSend - 1);
      if (budget === 0) return;
      inner.push(fc.send(new Uint8Array([0x30 + --budget % 10])));
      if (budget === 0) spent();
    });
    const fc = framed(conn, lengthPrefixed());
    await fc.send(new Uint8Array(1)); // the writable has started: a write reaches the sink at once
    budget = 40;
    const sent = Array.from({ length: 30 }, (_, i) => new Uint8Array(3000).fill(0x41 + i));
    const sends = sent.map((payload) => {
      inSend = 1;
      const sending = fc.send(payload);
      inSend = 0;
      return sending;
    });
    await Promise.all(sends);
    await allSent;
    await Promise.all(inner);
    await fc.close();
    assert.ok(maxInSend >= 1, "no write reached the sink during a send");
    assert.equal(maxInSend, 1, "writes the sink took within one send");
    const decoder = lengthPrefixed().decoder();
    decoder.push(concat(writes));
    let big = "";
    let small = "";
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
      if (f.length === 3000) big += String.fromCharCode(f[0]!);
      else if (f.length === 1 && f[0] !== 0) small += String.fromCharCode(f[0]!);
    }
    assert.equal(big, sent.map((p) => String.fromCharCode(p[0]!)).join(""));
    assert.equal(small, Array.from({ length: 40 }, (_, i) => String((39 - i) % 10)).join(""));
  },
);

test("framed() writes a large payload without copying it, in call order with small ones", async () => {
  const { conn, writes } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  const big = new Uint8Array(100_000).fill(9);
  const sends = [fc.send("a"), fc.send(big), fc.send("b")];
  await Promise.all(sends);
  assert.ok(writes.some((w) => w.buffer === big.buffer), "the payload itself was written");
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(writes));
  assert.equal(text.decode(decoder.next()), "a");
  assert.deepEqual(decoder.next(), big);
  assert.equal(text.decode(decoder.next()), "b");
});

/** 4,000 payloads of 1,000 bytes, sent in ticks of 100 awaited together. */
const FOUR_MB = Array.from({ length: 4000 }, (_, i) => new Uint8Array(1000).fill(i % 251));

/** Sends {@linkcode FOUR_MB} on `fc`, then checks that `wire` decodes to exactly those payloads. */
async function sendFourMegabytes(fc: FramedConnection, wire: Uint8Array[]): Promise<void> {
  for (let i = 0; i < FOUR_MB.length; i += 100) {
    await Promise.all(FOUR_MB.slice(i, i + 100).map((p) => fc.send(p)));
  }
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(wire));
  for (const p of FOUR_MB) assert.deepEqual(decoder.next(), p);
  assert.equal(decoder.next(), undefined);
}

test("framed() reuses its send buffers only over a Conn that releases chunks on write", async () => {
  for (const releases of [false, true]) {
    // Without the flag the chunks themselves are kept (a reference, as a TransformStream would);
    // with it their bytes are copied on write, as a socket does.
    const { conn } = recordingConn();
    const buffers = new Set<ArrayBufferLike>();
    const wire: Uint8Array[] = [];
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        buffers.add(chunk.buffer);
        wire.push(releases ? chunk.slice() : chunk);
      },
    });
    const fc = framed(
      { ...conn, writable, releasesChunkOnWrite: releases },
      lengthPrefixed(),
      UNTIL_WRITTEN,
    );
    await sendFourMegabytes(fc, wire);
    if (releases) assert.ok(buffers.size <= 8, `${buffers.size} send buffers for 4 MB`);
    else assert.ok(buffers.size >= 16, `${buffers.size} send buffers for 4 MB`);
  }
});

test("framed() reuses its send buffers over a Conn that takes writes directly (a framewire adapter's writeDirect), as over its writable", async () => {
  // The one-chunk flush of a tick goes to the conn's writeDirect; its completion must free the
  // send buffer as a completed writable write does.
  const { conn } = recordingConn();
  const buffers = new Set<ArrayBufferLike>();
  const wire: Uint8Array[] = [];
  let direct = 0;
  const own = {
    ...conn,
    releasesChunkOnWrite: true,
    [writeDirect](chunk: Uint8Array, writable: WritableStream<Uint8Array> | undefined) {
      if (writable !== own.writable) return undefined;
      direct++;
      buffers.add(chunk.buffer);
      wire.push(chunk.slice()); // copied on write, as a socket does
      return Promise.resolve();
    },
  };
  const fc = framed(own, lengthPrefixed(), UNTIL_WRITTEN);
  await sendFourMegabytes(fc, wire);
  assert.ok(direct >= 40, `${direct} direct writes`);
  assert.ok(buffers.size <= 8, `${buffers.size} send buffers for 4 MB`);
  await fc.close();
});

test("framed() closeWrite() over a Conn that takes writes directly waits for every write, also one started as the write before it completed", async () => {
  const { conn } = recordingConn();
  const events: string[] = [];
  const pending: { bytes: Uint8Array; done: () => void }[] = [];
  const own = {
    ...conn,
    releasesChunkOnWrite: true,
    [writeDirect](chunk: Uint8Array, writable: WritableStream<Uint8Array> | undefined) {
      if (writable !== own.writable) return undefined;
      const bytes = chunk.slice();
      events.push(`write ${bytes.length}`);
      return new Promise<void>((resolve) => {
        pending.push({
          bytes,
          done: () => {
            events.push(`written ${bytes.length}`);
            resolve();
          },
        });
      });
    },
    closeWrite(): Promise<void> {
      events.push("closeWrite");
      return Promise.resolve();
    },
  };
  const fc = framed(own, lengthPrefixed());
  await fc.send(new Uint8Array(1));
  for (let i = 0; pending.length < 1 && i < 100; i++) await macrotask(); // flushed after the tick
  // Queued behind the write in progress, then flushed by closeWrite().
  await fc.send(new Uint8Array(2));
  const closing = fc.closeWrite();
  await macrotask();
  pending[0]!.done();
  for (let i = 0; pending.length < 2 && i < 100; i++) await macrotask();
  await macrotask();
  assert.deepEqual(events, ["write 5", "written 5", "write 6"]);
  pending[1]!.done();
  await closing;
  assert.deepEqual(events, ["write 5", "written 5", "write 6", "written 6", "closeWrite"]);
  await fc.close();
});

test("framed() close({ timeout }) that fires while a write is in progress writes nothing queued behind it", async () => {
  // A Conn whose close() leaves its write in progress pending: completed after the timeout, the
  // frames framed() still held must not follow it.
  const { conn } = recordingConn();
  const written: number[] = [];
  const pending: (() => void)[] = [];
  const fc = framed({
    ...conn,
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        written.push(chunk.length);
        return new Promise<void>((resolve) => pending.push(resolve));
      },
    }),
  }, lengthPrefixed());
  void fc.send(new Uint8Array(1)).catch(() => {});
  for (let i = 0; i < 100 && pending.length < 1; i++) await macrotask();
  void fc.send(new Uint8Array(2)).catch(() => {});
  await assert.rejects(fc.close({ timeout: 0 }), { code: "CONNECTION_CLOSED" });
  pending[0]!();
  for (let i = 0; i < 5; i++) await macrotask();
  assert.deepEqual(written, [5]);
});

test("framed() over a Conn that releases chunks: a send buffer is not reused before its write completes", async () => {
  // The sink takes a chunk's bytes only when the test completes its write (as a socket may be
  // slow to), while sends keep coming: a buffer reused too early shows up as corrupt frames.
  const payloads = Array.from(
    { length: 3000 },
    (_, i) => new Uint8Array(1 + (i * 7919) % 3000).fill(i % 251),
  );
  const pending: { chunk: Uint8Array; done: () => void }[] = [];
  const wire: Uint8Array[] = [];
  const complete = (): void => {
    const write = pending.shift();
    if (write === undefined) return;
    wire.push(write.chunk.slice());
    write.done();
  };
  const { conn } = recordingConn();
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => new Promise<void>((done) => pending.push({ chunk, done })),
  });
  const fc = framed({ ...conn, writable, releasesChunkOnWrite: true }, lengthPrefixed());
  let settled = false;
  const sent: Promise<void>[] = [];
  for (let i = 0; i < payloads.length; i += 300) {
    sent.push(...payloads.slice(i, i + 300).map((p) => fc.send(p)));
    await turns();
    complete(); // one write completes while more frames are being encoded
  }
  const all = Promise.all(sent).then(() => settled = true);
  while (!settled) {
    complete();
    await turns();
  }
  await all;
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(wire));
  for (const p of payloads) assert.deepEqual(decoder.next(), p);
  assert.equal(decoder.next(), undefined);
});

test("framed() send() rejects with ConnectionError once the connection fails, and after", async () => {
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  const cause = new Error("EPIPE");
  fail(cause);
  await assert.rejects(fc.send("x"), (error) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.cause, cause);
    return true;
  });
  await assert.rejects(fc.send("y"), ConnectionError);
});

test("framed() sends left unawaited that fail raise no unhandled rejection", async () => {
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  fail(new Error("EPIPE"));
  fc.send("a"); // fire and forget: the write fails
  fc.send("b");
  // The write failed meanwhile; both sends had resolved (queued under highWaterMark), so close()
  // tells of the lost frames.
  await assert.rejects(fc.close(), ConnectionError);
  fc.send("after the failure");
  // An unhandled rejection would fail this test (all three test runners report them).
  await assert.rejects(fc.send("awaited"), ConnectionError);
});

test("framed() close() reports a lost frame of a single byte: an empty line whose send had resolved", async () => {
  // The loss is counted in wire bytes: the one-byte frame of "" is lost as any other is.
  const { conn, arrived, failNext } = heldConn();
  const fc = framed(conn, lines(), { coalesce: 0 });
  await fc.send(""); // "\n": under highWaterMark, resolved before it is written
  await arrived(1);
  failNext(new Error("reset"));
  await assert.rejects(fc.close(), { message: "Cannot send as it failed: reset" });
});

test("framed() a send made behind writable writes, left unawaited, fails quietly too", async () => {
  const { conn, arrived, failNext } = heldConn();
  const fc = framed(conn, lines(), UNTIL_WRITTEN);
  const writer = fc.writable.getWriter();
  writer.write(new TextEncoder().encode("w")).catch(() => {});
  fc.send("held"); // fire and forget: held behind the write, then waiting with its own promise
  await arrived(1);
  failNext(new Error("EPIPE"));
  await turns();
  // An unhandled rejection would fail this test; later sends report the failure.
  await assert.rejects(fc.send("awaited"), ConnectionError);
  await fc.close().catch(() => {});
});

test(
  "framed() a send made behind writable writes fails at once after a read's reset, not once they are written",
  {
    timeout: 5000,
  },
  async () => {
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const { conn, arrived } = heldConn();
    const fc = framed({ ...conn, readable: input.readable }, lines(), UNTIL_WRITTEN);
    const writer = fc.writable.getWriter();
    const enc = new TextEncoder();
    writer.write(enc.encode("1")).catch(() => {});
    writer.write(enc.encode("2")).catch(() => {}); // waits in writable: "1" is never written here
    await arrived(1);
    const reset = new ConnectionError("Connection reset (test)", { code: "CONNECTION_RESET" });
    input.writable.abort(reset).catch(() => {});
    await assert.rejects(fc[Symbol.asyncIterator]().next(), reset);
    // The connection is gone: a later send fails with the reset, however long "2" waits.
    await assert.rejects(fc.send("3"), reset);
  },
);

test("framed() bufferedAmount stops counting a send made behind writable writes once a failure rejects it", async () => {
  const { conn, arrived, failNext } = heldConn();
  const fc = framed(conn, lines(), UNTIL_WRITTEN);
  const writer = fc.writable.getWriter();
  const enc = new TextEncoder();
  writer.write(enc.encode("1")).catch(() => {});
  writer.write(enc.encode("2")).catch(() => {}); // waits in writable while "1" is held
  await arrived(1);
  const before = fc.bufferedAmount;
  const sent = fc.send("deferred"); // held behind "2"
  // About the frame's size (documented): its 8 payload bytes, with or without the "\n".
  assert.ok(
    fc.bufferedAmount >= before + 8 && fc.bufferedAmount <= before + 9,
    `${fc.bufferedAmount}`,
  );
  failNext(new Error("reset"));
  await assert.rejects(sent, ConnectionError);
  assert.equal(fc.bufferedAmount, before, "the rejected send's bytes are not waiting any more");
  await fc.close().catch(() => {});
});

test("framed() send() rejects a payload whose buffer was detached: not sent as an empty frame", async () => {
  const { conn, writes } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  const payload = new TextEncoder().encode("lost");
  payload.buffer.transfer();
  await assert.rejects(fc.send(payload), /as the payload's buffer was detached/);
  await fc.send("ok");
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(writes));
  assert.equal(text.decode(decoder.next()), "ok");
  assert.equal(decoder.next(), undefined);
});

/** The error of a connection whose payload changed before it was written. */
const changed = {
  name: "ConnectionError",
  code: "CONNECTION_FAILED",
  message:
    /^Cannot send as a payload's buffer was detached \(transferred\) or resized before it was written/,
};

test("framed() a write the conn refuses as detached (its adapter's check) fails the sends with the same error as framed()'s own", async () => {
  // An adapter that finds a chunk detached or shrunk as it writes it refuses it with this error
  // (before: reported as a connection failure of that cause, "Cannot send as the connection
  // failed").
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  fail(detachedPayload("write to 127.0.0.1:1", "chunk"));
  await assert.rejects(fc.send("x"), changed);
  await assert.rejects(fc.send("y"), changed);
  // Any other TypeError is a connection failure of that cause.
  const other = recordingConn();
  const fc2 = framed(other.conn, lengthPrefixed(), UNTIL_WRITTEN);
  other.fail(new TypeError("Cannot write to 127.0.0.1:1 as the chunk's buffer was detached"));
  await assert.rejects(fc2.send("x"), (error) => {
    assert.ok(error instanceof ConnectionError);
    assert.doesNotMatch(error.message, /payload's buffer was detached/);
    return true;
  });
});

test("framed() a large payload detached or shrunk before its send resolves ends writing: the peer reads a truncated frame, never the frames after it as its bytes", async () => {
  const changes: [string, (payload: Uint8Array) => void][] = [
    ["transferred", (payload) => (payload.buffer as ArrayBuffer).transfer()],
    ["shrunk", (payload) => (payload.buffer as ArrayBuffer).resize(10)],
  ];
  for (const [how, change] of changes) {
    // An idle connection: the header is written at once, the payload after it.
    const { conn, writes, writableClosed } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    const big = new Uint8Array(new ArrayBuffer(100_000, { maxByteLength: 100_000 })).fill(7);
    const sending = fc.send(big); // not copied: resolves once written
    change(big); // misuse
    const after = fc.send("after");
    for (const send of [sending, after, fc.send("later")]) await assert.rejects(send, changed, how);
    // Before: the header, then "after" and "later" (read as the payload's first bytes); or
    // nothing at all and an empty frame (shrunk to 0 bytes).
    const decoder = lengthPrefixed().decoder();
    decoder.push(concat(writes));
    assert.equal(decoder.next(), undefined, how);
    assert.throws(() => decoder.end(), TruncatedFrameError, how);
    assert.ok(writableClosed(), `${how}: the end of writing was sent`);
    await fc.close(); // the application has seen the failure
  }
});

test("framed() a payload is handed to the conn's writable only once it holds nothing: one shrunk while earlier writes wait is caught, not written short", async () => {
  const { conn, chunks, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.send("a");
  await arrived(1); // in progress: what is sent next waits in framed()'s queue
  await fc.send("b");
  const big = new Uint8Array(new ArrayBuffer(100_000, { maxByteLength: 100_000 })).fill(7);
  const sending = fc.send(big);
  complete();
  // The next batch is "b" and the big payload's header; the payload waits in framed() (before:
  // it went into the conn's writable behind them, where its change went unseen).
  await arrived(2);
  (big.buffer as ArrayBuffer).resize(10); // misuse, before its send resolved
  complete();
  await arrived(3);
  complete();
  await assert.rejects(sending, changed);
  assert.equal(chunks.length, 3); // before: the payload, written with 10 of its 100,000 bytes
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(chunks));
  assert.equal(text.decode(decoder.next()), "a");
  assert.equal(text.decode(decoder.next()), "b");
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.end(), TruncatedFrameError);
  await fc.close();
});

test(
  "framed() a large payload right behind its header waits in framed() while an earlier write does: one shrunk meanwhile is caught, not written short",
  {
    timeout: 5000,
  },
  async () => {
    const { conn, chunks, arrived, complete } = heldConn();
    const fc = framed(conn, lengthPrefixed());
    await fc.send("a");
    await arrived(1); // in progress: what is sent next waits in framed()'s queue
    const big = new Uint8Array(new ArrayBuffer(100_000, { maxByteLength: 100_000 })).fill(7);
    const sending = fc.send(big); // its header, then the payload itself, queued
    complete();
    await arrived(2); // the header alone: the payload is not in the conn's writable yet
    (big.buffer as ArrayBuffer).resize(10); // misuse, before its send resolved
    complete();
    await assert.rejects(sending, changed);
    assert.equal(chunks.length, 2);
    assertOnlyATruncated(chunks);
    await fc.close();
  },
);

/** `chunks` hold the frame "a", then a header whose payload never came (writing ended). */
function assertOnlyATruncated(chunks: Uint8Array[]): void {
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(chunks));
  assert.equal(text.decode(decoder.next()), "a");
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.end(), TruncatedFrameError);
}

test("framed() a large payload grown (a length-tracking view of a resizable buffer) while it waits in framed() is caught, not written longer than its header says", async () => {
  const { conn, chunks, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.send("a");
  await arrived(1); // in progress: what is sent next waits in framed()'s queue
  const buffer = new ArrayBuffer(100_000, { maxByteLength: 200_000 });
  const big = new Uint8Array(buffer).fill(7); // length-tracking
  const sending = fc.send(big); // its header, then the payload itself, queued
  complete();
  await arrived(2); // the header alone, declaring 100,000 bytes
  buffer.resize(150_000); // misuse, before its send resolved
  complete();
  // Written, its 150,000 bytes would have run 50,000 bytes into what the peer reads as the next
  // frame's header. Before, the error said the buffer was "detached (transferred) or shrunk".
  const written = arrived(3).then(() => "written");
  assert.equal(
    await Promise.race([sending.then(() => "sent", () => "refused"), written]),
    "refused",
  );
  await assert.rejects(sending, changed);
  assert.equal(chunks.length, 2);
  assertOnlyATruncated(chunks);
  await fc.close();
});

test("framed() a payload detached while the socket is busy: the frames before it go out, then writing ends", async () => {
  const { conn, chunks, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.send("a");
  await arrived(1); // its write is in progress: what is sent next waits in framed()'s queue
  await fc.send("important"); // copied: resolves at once, and must go out
  const big = new Uint8Array(100_000).fill(7);
  const sending = fc.send(big);
  big.buffer.transfer();
  const after = fc.send("b");
  complete();
  // The next batch: "important", then the big payload's header (written), then the payload
  // (changed: not written, nor anything after it).
  await arrived(2);
  complete();
  await arrived(3);
  complete();
  for (const send of [sending, after, fc.send("c")]) await assert.rejects(send, changed);
  assert.equal(chunks.length, 3);
  const decoder = lengthPrefixed().decoder();
  decoder.push(concat(chunks));
  assert.equal(text.decode(decoder.next()), "a");
  assert.equal(text.decode(decoder.next()), "important"); // before: dropped with the batch
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.end(), TruncatedFrameError); // its header, and no "b"
  await fc.close();
});

test("framed() send() rejects a payload the framing refuses, and the connection goes on", async () => {
  const { conn, writes } = recordingConn();
  const fc = framed(conn, lines(), UNTIL_WRITTEN);
  await assert.rejects(fc.send("a\nb"), RangeError);
  await fc.send("ok");
  assert.equal(text.decode(concat(writes)), "ok\n");
});

test("framed() delivers every frame through for-await, readable and batches()", async () => {
  for (const mode of ["iterate", "readable", "batches"] as const) {
    const link = new MemoryLink();
    const sender = framed(link.client, lengthPrefixed());
    const receiver = framed(link.server, lengthPrefixed());
    const expected = Array.from({ length: 500 }, (_, i) => `frame ${i}`);
    const sending = (async () => {
      for (const m of expected) sender.send(m);
      await sender.closeWrite();
    })();
    const got: string[] = [];
    if (mode === "iterate") { for await (const f of receiver) got.push(text.decode(f)); }
    if (mode === "readable") { for await (const f of receiver.readable) got.push(text.decode(f)); }
    if (mode === "batches") {
      for await (const batch of receiver.batches()) {
        for (const f of batch) got.push(text.decode(f));
      }
    }
    await sending;
    assert.deepEqual(got, expected, mode);
    await receiver.close();
    await sender.close();
  }
});

test("framed() batches() hands over every frame decoded from one read at once", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  feed.write(new Uint8Array([1, 65, 1, 66, 1, 67, 1]));
  const it = fc.batches()[Symbol.asyncIterator]();
  const first = await it.next();
  assert.deepEqual(first.value?.map((f: Uint8Array) => text.decode(f)), ["A", "B", "C"]);
  feed.write(new Uint8Array([68]));
  const second = await it.next();
  assert.deepEqual(second.value?.map((f: Uint8Array) => text.decode(f)), ["D"]);
  feed.close();
  assert.equal((await it.next()).done, true);
});

test("framed() reports a peer that disconnects mid-frame as TruncatedFrameError", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  feed.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 9, 1, 2]));
  feed.close();
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const f of fc) got.push(text.decode(f));
  }, (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.part, error.expected, error.received], ["payload", 9, 2]);
    return true;
  });
  assert.deepEqual(got, ["A"]);
});

test("framed() reports a reset mid-frame as TruncatedFrameError with the reset as cause", async () => {
  const reset = new ConnectionError("Connection reset", { code: "CONNECTION_RESET" });
  let pulls = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(new Uint8Array([0, 0, 0, 5, 1]));
      else controller.error(reset);
    },
  });
  const conn: Conn = { ...recordingConn().conn, readable };
  await assert.rejects(async () => {
    for await (const _ of framed(conn, lengthPrefixed())) { /* none */ }
  }, (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.equal(error.cause, reset);
    assert.deepEqual([error.expected, error.received], [5, 1]);
    return true;
  });
});

test("framed() reports a reset at a frame boundary as ConnectionError", async () => {
  const link = new MemoryLink();
  const fc = framed(link.server, lengthPrefixed());
  link.cut("reset");
  await assert.rejects(async () => {
    for await (const _ of fc) { /* none */ }
  }, ConnectionError);
});

test("framed() closes the connection on an oversized header and rejects later sends", async () => {
  const { conn, feed, closedCalls } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }));
  feed.write(new Uint8Array([0, 0, 1, 0]));
  await assert.rejects(async () => {
    for await (const _ of fc) { /* none */ }
  }, FrameTooLargeError);
  assert.equal(closedCalls(), 1);
  await assert.rejects(fc.send("x"), FrameTooLargeError);
  // The application has the error: ending the connection is not a failure of its own (as
  // closeWrite()'s and close()'s docs say).
  await fc.closeWrite();
  await fc.close();
});

test("framed() writable coalesces, applies backpressure at highWaterMark, and close flushes", async () => {
  const link = new MemoryLink({ highWaterMark: 1024 });
  const fc = framed(link.client, lengthPrefixed(), { highWaterMark: 4096 });
  const writer = fc.writable.getWriter();
  // Nobody reads: the memory link takes 1 KiB, framed() queues up to 4 KiB more.
  let accepted = 0;
  for (let i = 0; i < 100; i++) {
    const ready = await Promise.race([
      writer.ready.then(() => true),
      new Promise((r) => setTimeout(r, 50, false)),
    ]);
    if (!ready) break;
    writer.write(new Uint8Array(100));
    accepted++;
  }
  assert.ok(accepted < 100, `writer.ready waited (accepted ${accepted} frames)`);
  assert.ok(accepted * 104 <= 1024 + 4096 + 1024, `accepted ${accepted * 104} bytes`);
  // Now read everything: all accepted frames arrive, then the end.
  const closing = writer.close();
  let frames = 0;
  for await (const _ of framed(link.server, lengthPrefixed())) {
    frames++;
    if (frames === accepted) break;
  }
  await closing;
  assert.equal(frames, accepted);
  link.cut();
});

test("framed() closeWrite() flushes, sends the end, and reading goes on", async () => {
  const link = new MemoryLink();
  const client = framed(link.client, lines());
  const server = framed(link.server, lines());
  client.send("question");
  await client.closeWrite();
  const received: string[] = [];
  for await (const f of server) received.push(text.decode(f));
  assert.deepEqual(received, ["question"]);
  await server.send("answer");
  await server.close();
  const replies: string[] = [];
  for await (const f of client) replies.push(text.decode(f));
  assert.deepEqual(replies, ["answer"]);
  await assert.rejects(client.send("late"), ConnectionError);
  await client.close();
});

test("framed() writes to writable go out in call order with sends, also those left before close() or closeWrite()", async () => {
  const enc = new TextEncoder();
  for (const how of ["close", "closeWrite"] as const) {
    const link = new MemoryLink();
    const client = framed(link.client, lines());
    const writer = client.writable.getWriter();
    // Unawaited: the writable hands its chunks on later than send() queues its frames.
    const sent = [
      writer.write(enc.encode("1")),
      writer.write(enc.encode("2")),
      client.send("3"),
      writer.write(enc.encode("4")),
      client.send("5"),
    ];
    const closing = how === "close" ? client.close() : client.closeWrite();
    // After closing began: refused, never resolved and dropped.
    const lateSend = client.send("late");
    const lateWrite = writer.write(enc.encode("late"));
    const got: string[] = [];
    for await (const f of framed(link.server, lines())) got.push(text.decode(f));
    assert.deepEqual(got, ["1", "2", "3", "4", "5"], how);
    await Promise.all([...sent, closing]);
    // Before: "... is closing", also once closed.
    const refused = {
      name: "ConnectionError",
      code: "CONNECTION_CLOSED",
      message: "Cannot send as the connection is closing or closed",
    };
    await assert.rejects(lateSend, refused, how);
    await assert.rejects(lateWrite, refused, how);
    await client.close();
    await assert.rejects(client.send("after"), refused, how);
  }
});

test("framed() bufferedAmount shows what a peer that does not read makes pile up", async () => {
  const link = new MemoryLink({ highWaterMark: 1024 });
  const client = framed(link.client, lengthPrefixed());
  assert.equal(client.bufferedAmount, 0);
  const sends = Array.from({ length: 100 }, () => client.send(new Uint8Array(1000)));
  assert.equal(client.bufferedAmount, 100 * 1004, "all of it, before anything was written");
  await turns();
  // One coalesced write, which the link takes only as the peer reads: still waiting.
  assert.equal(client.bufferedAmount, 100 * 1004);
  let frames = 0;
  for await (const _ of framed(link.server, lengthPrefixed())) if (++frames === 100) break;
  await Promise.all(sends);
  assert.equal(client.bufferedAmount, 0);
  link.cut();
});

test("framed() sends made behind writable writes go out even when one of those writes is refused", async () => {
  const enc = new TextEncoder();
  const link = new MemoryLink();
  const client = framed(link.client, lines());
  const writer = client.writable.getWriter();
  writer.write(enc.encode("1")).catch(() => {});
  const refused = writer.write(enc.encode("bad\nline")); // contains the delimiter
  writer.write(enc.encode("3")).catch(() => {}); // never reaches the sink: the writable errored
  const x = client.send("x"); // held behind the three writes
  await assert.rejects(refused, RangeError);
  await client.send("y");
  await x; // settled, and before "y"
  await client.close();
  const got: string[] = [];
  for await (const f of framed(link.server, lines())) got.push(text.decode(f));
  assert.deepEqual(got, ["1", "x", "y"]);
});

test("framed() copies a small payload sent behind writable writes, also a Buffer", async () => {
  const enc = new TextEncoder();
  for (const payload of [enc.encode("hello"), Buffer.from("hello")]) {
    const link = new MemoryLink();
    const client = framed(link.client, lines());
    const writer = client.writable.getWriter();
    void writer.write(enc.encode("w"));
    const sent = client.send(payload); // held behind the write
    payload.fill(0x58); // the application reuses it once send() returned
    const reading = Array.fromAsync(framed(link.server, lines()), (f) => text.decode(f));
    await sent;
    await client.close();
    assert.deepEqual(await reading, ["w", "hello"], payload.constructor.name);
  }
});

test("framed() send() callbacks run in call order, also those of sends made behind writable writes", async () => {
  const enc = new TextEncoder();
  for (const options of [{}, UNTIL_WRITTEN]) {
    const link = new MemoryLink();
    const client = framed(link.client, lines(), options);
    const writer = client.writable.getWriter();
    void writer.write(enc.encode("w"));
    // The first sends wait behind the write; one made a turn later may find them just let go.
    const order: string[] = [];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      sends.push(client.send(`${i}`).then(() => order.push(`${i}`)));
      await null;
    }
    const reading = Array.fromAsync(framed(link.server, lines()));
    await Promise.all(sends);
    await client.close();
    assert.equal((await reading).length, 31);
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => `${i}`), JSON.stringify(options));
  }
});

test("framed() property: any mix of send() and writable writes goes out in call order, and every promise settles", async () => {
  const enc = new TextEncoder();
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          via: fc.constantFrom("send", "write"),
          // Sometimes a payload lines() refuses (it contains the delimiter).
          text: fc.oneof({ weight: 9, arbitrary: fc.stringMatching(/^[a-z]{0,3}$/) }, {
            weight: 1,
            arbitrary: fc.constant("x\ny"),
          }),
          // Then wait for it to settle, or for one microtask turn, or go on at once.
          then: fc.constantFrom("settled", "turn", "go on"),
        }),
        { maxLength: 25 },
      ),
      fc.constantFrom("close", "closeWrite", "abort", "cut"),
      async (ops, how) => {
        const link = new MemoryLink();
        const client = framed(link.client, lines());
        const writer = client.writable.getWriter();
        const expected: string[] = [];
        const outcomes: Promise<string>[] = [];
        const resolvedSends: number[] = []; // in the order their callbacks ran
        let writableBroken = false;
        for (const [i, op] of ops.entries()) {
          const label = `${i}:${op.text}`;
          const ok = !op.text.includes("\n");
          if (op.via === "write" && !ok) writableBroken = true;
          if (ok && (op.via === "send" || !writableBroken)) expected.push(op.text);
          const p = op.via === "send" ? client.send(op.text) : writer.write(enc.encode(op.text));
          const settled = p.then(() => {
            if (op.via === "send") resolvedSends.push(i);
            return `${label} ok`;
          }, () => `${label} rejected`);
          outcomes.push(settled);
          if (op.then === "settled") await settled;
          else if (op.then === "turn") await null;
        }
        const closing = how === "close"
          ? client.close()
          : how === "closeWrite"
          ? client.closeWrite()
          : how === "abort"
          ? writer.abort(new Error("give up"))
          : Promise.resolve(link.cut("reset"));
        await closing.catch(() => {});
        // An abort of a writable that a refused payload already errored does nothing. Cut short,
        // close() fails if frames whose sends or writes had resolved were lost.
        if (how === "abort") await client.close().catch(() => {});
        const got: string[] = [];
        try {
          for await (const f of framed(link.server, lines())) got.push(text.decode(f));
        } catch {
          // cut: the peer saw a reset
        }
        const results = await Promise.all(outcomes); // every one settles, whatever the end
        assert.deepEqual(resolvedSends, resolvedSends.toSorted((a, b) => a - b));
        if (how === "close" || how === "closeWrite") {
          assert.deepEqual(got, expected);
          const ok = results.filter((r) => r.endsWith(" ok")).length;
          assert.equal(ok, expected.length, `${results}`);
          await client.close(); // nothing was lost
        } else {
          // Cut short: what arrived is a prefix of what was sent, in order.
          assert.deepEqual(got, expected.slice(0, got.length));
          await client.close().catch(() => {});
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("framed() async iterator answers next() calls in call order, also several at once", async () => {
  for (const highWaterMark of [0, 1 << 20]) {
    const link = new MemoryLink();
    const client = framed(link.client, lines(), { highWaterMark });
    const server = framed(link.server, lines());
    const sending = (async () => {
      for (let i = 0; i < 20; i++) {
        await client.send(`${i}`);
        await turns(); // one frame per read
      }
      await client.closeWrite();
    })();
    // A consumer that keeps three calls outstanding, and makes one more per answer.
    const it = server[Symbol.asyncIterator]();
    const calls = [it.next(), it.next(), it.next()];
    const got: string[] = [];
    const results: string[] = [];
    while (calls.length > 0) {
      const result = await calls.shift()!;
      results.push(result.done ? "done" : "frame");
      if (!result.done) {
        got.push(text.decode(result.value));
        calls.push(it.next());
      }
    }
    await sending;
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `${i}`));
    assert.deepEqual(results, [...Array(20).fill("frame"), "done", "done", "done"]);
    await client.close();
    await server.close();
  }
});

test("framed() rejects bad options", () => {
  const { conn } = recordingConn();
  assert.throws(() => framed(conn, lines(), { coalesce: -1 }), RangeError);
  assert.throws(() => framed(conn, lines(), { highWaterMark: 1.5 }), RangeError);
});

test("framed() writable rejects a payload the framing refuses instead of dropping it", async () => {
  const { conn, writes } = recordingConn();
  const writer = framed(conn, lines()).writable.getWriter();
  await assert.rejects(writer.write(new TextEncoder().encode("a\nb")), RangeError);
  assert.equal(writes.length, 0);
});

test("framed() writable close() half-closes: the peer sees the end and can still reply", async () => {
  const link = new MemoryLink();
  const client = framed(link.client, lines());
  const server = framed(link.server, lines());
  const writer = client.writable.getWriter();
  writer.write(new TextEncoder().encode("last"));
  await writer.close();
  const got: string[] = [];
  for await (const f of server) got.push(text.decode(f));
  assert.deepEqual(got, ["last"]);
  await server.send("reply");
  await server.close();
  const replies: string[] = [];
  for await (const f of client) replies.push(text.decode(f));
  assert.deepEqual(replies, ["reply"]);
  await client.close();
});

test("framed() cancelling readable mid-frame ends reading but keeps sending", async () => {
  const { conn, feed, writes, closedCalls } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  // Fails once the conn's readable is cancelled with fc's (if that comes first).
  feed.write(new Uint8Array([0, 0, 0, 9, 1, 2])).catch(() => {});
  const reader = fc.readable.getReader();
  const pending = reader.read();
  await reader.cancel("done reading");
  assert.equal((await pending).done, true);
  await fc.send("still works");
  assert.equal(writes.length, 1);
  assert.equal(closedCalls(), 0);
});

test("framed() cancelling readable while a truncation is on its way ends reading cleanly and keeps sending", async () => {
  // Found by the lifecycle fuzz (framed_fuzz_test.ts): the peer ends inside a frame, and the
  // application cancels its read a few turns later, before the error reaches it. Before, framed()
  // took the TruncatedFrameError as handed over once it was thrown, not once the application got
  // it: the cancelled read ended cleanly, yet sends rejected with that error, and the connection
  // closed itself. Every number of turns up to where the error reaches the read first.
  let cancelWon = 0;
  for (let turns = 0; turns < 16; turns++) {
    const { conn, feed, writes, closedCalls } = recordingConn();
    const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
    const reader = fc.readable.getReader();
    const pending = reader.read();
    pending.catch(() => {});
    await feed.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
    // The peer's end, inside the frame; not awaited, so that 0 turns cancels before it is read.
    const ended = feed.close();
    for (let i = 0; i < turns; i++) await null;
    const cancelled = reader.cancel("done reading");
    cancelled.catch(() => {});
    await ended;
    const read = await pending.then((r) => r, (error: unknown) => error);
    if (read instanceof TruncatedFrameError) {
      // The error reached the application first: sends fail with it (documented).
      await assert.rejects(fc.send("reply"), TruncatedFrameError);
      continue;
    }
    cancelWon++;
    assert.deepEqual(read, { done: true, value: undefined }, `after ${turns} turns`);
    await fc.send("still works");
    assert.equal(writes.length, 1, `after ${turns} turns`);
    assert.equal(closedCalls(), 0, `after ${turns} turns`);
    await fc.close();
  }
  assert.ok(cancelWon > 0);
});

test("framed() close() reports frames lost after a truncation that a cancelled readable dropped", async () => {
  // A read that failed counts as the application having seen the failure (close() then says
  // nothing of the frames promised before it) only once a front end handed it over: a readable
  // cancelled meanwhile ends cleanly, and the application saw nothing. Before, such a dropped
  // TruncatedFrameError still counted, and close() resolved though resolved sends were lost.
  let cancelWon = 0;
  for (let turns = 0; turns < 16; turns++) {
    const { conn, feed } = recordingConn();
    const { conn: { writable }, arrived, failNext } = heldConn();
    const fc = framed({ ...conn, writable }, lengthPrefixed(), { coalesce: 0 });
    await fc.send("a"); // resolves at once (under highWaterMark); its write waits
    await fc.send("b");
    const reader = fc.readable.getReader();
    const pending = reader.read();
    pending.catch(() => {});
    await feed.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
    // The peer's end, inside the frame; not awaited, so that 0 turns cancels before it is read.
    const ended = feed.close();
    for (let i = 0; i < turns; i++) await null;
    reader.cancel("done reading").catch(() => {});
    await ended;
    const read = await pending.then((r) => r, (error: unknown) => error);
    if (read instanceof TruncatedFrameError) continue; // the application has the error
    cancelWon++;
    assert.deepEqual(read, { done: true, value: undefined }, `after ${turns} turns`);
    await arrived(1);
    failNext(new Error("reset")); // the frames of both resolved sends are lost
    await assert.rejects(
      fc.close(),
      { message: "Cannot send as it failed: reset" },
      `after ${turns} turns`,
    );
  }
  assert.ok(cancelWon > 0);
});

/**
 * A reset that a readable cancelled meanwhile dropped reaches the application through `via` (a
 * send, or a `writable` write) instead: it rejects with the reset, and the application knows the
 * connection failed, so the frames promised before then are lost knowingly, as when a read hands
 * it over (before, close() still rejected for them with the write's failure). Whether the cancel
 * comes before the read fails depends on microtask turns: resolves with how many of 16 runs went
 * that way, each ending in a close() that reports no loss.
 */
async function resetSeenThrough(via: (fc: FramedConnection) => Promise<void>): Promise<number> {
  let seen = 0;
  for (let turns = 0; turns < 16; turns++) {
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const feed = input.writable.getWriter();
    const { conn, arrived, failNext } = heldConn();
    const fc = framed({ ...conn, readable: input.readable }, lengthPrefixed(), { coalesce: 0 });
    await fc.send("a"); // resolves at once (under highWaterMark); its write waits
    await fc.send("b");
    const reader = fc.readable.getReader();
    const pending = reader.read();
    pending.catch(() => {});
    await feed.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
    const reset = new ConnectionError("Connection reset (test)", { code: "CONNECTION_RESET" });
    feed.abort(reset).catch(() => {});
    for (let i = 0; i < turns; i++) await null;
    reader.cancel("done reading").catch(() => {});
    const read = await pending.then((r) => r, (error: unknown) => error);
    // Done: the cancel came first, and the reset is left for `via`; else the read handed it over.
    const error = (read as { done?: boolean }).done
      ? await via(fc).then(() => undefined, (error: unknown) => error)
      : undefined;
    await arrived(1);
    failNext(new Error("reset")); // the frames of both resolved sends are lost
    if (error !== reset) {
      // The application saw nothing through `via` (or the read showed it the reset).
      await fc.close().catch(() => {});
      continue;
    }
    seen++;
    await fc.close(); // the application saw the reset
  }
  return seen;
}

test("framed() close() reports no loss of frames promised before a read handed the application a reset", async () => {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const { conn, arrived, failNext } = heldConn();
  const fc = framed({ ...conn, readable: input.readable }, lengthPrefixed(), { coalesce: 0 });
  await fc.send("a"); // resolves at once (under highWaterMark); its write waits
  await fc.send("b");
  const reset = new ConnectionError("Connection reset (test)", { code: "CONNECTION_RESET" });
  input.writable.abort(reset).catch(() => {});
  await assert.rejects(fc[Symbol.asyncIterator]().next(), reset); // the application has it
  await arrived(1);
  failNext(new Error("reset")); // the frames of both resolved sends are lost, knowingly
  await fc.close();
});

test("framed() close() reports no loss once a send the application awaited rejected with the read's reset", async () => {
  assert.ok(await resetSeenThrough((fc) => fc.send("c")) > 0);
});

test("framed() close() reports no loss once a writable write rejected with the read's reset", async () => {
  const seen = await resetSeenThrough(async (fc) => {
    const writer = fc.writable.getWriter();
    try {
      await writer.write(new Uint8Array([1]));
    } finally {
      writer.releaseLock();
    }
  });
  assert.ok(seen > 0);
});

test(
  "framed() readable: a break out of values({ preventCancel: true }) pauses; one out of for-await cancels it, and sending goes on",
  {
    timeout: 5000,
  },
  async () => {
    const { conn, feed, writes, closedCalls } = recordingConn();
    const fc = framed(conn, lengthPrefixed({ width: 1 }), UNTIL_WRITTEN);
    // Taken once read: the conn's readable has no room of its own.
    const fed = feed.write(new Uint8Array([1, 65, 1, 66, 1, 67]));
    // What each loop took (asserted after them: a loop that got nothing would skip an assert in it).
    const took: number[] = [];
    for await (const frame of fc.readable.values({ preventCancel: true })) {
      took.push(frame[0]!);
      break;
    }
    for await (const frame of fc.readable) {
      took.push(frame[0]!); // goes on where the first loop stopped
      break; // cancels the readable, as for any stream (a break out of `for await (fc)` pauses)
    }
    assert.deepEqual(took, [65, 66]);
    // Reading ended: the conn's readable was cancelled (the reason of for-await's return():
    // undefined), the frame queued is dropped, and the connection stays open for sending.
    await fed;
    await assert.rejects(feed.closed);
    assert.deepEqual(await fc.readable.getReader().read(), { done: true, value: undefined });
    await fc.send("still works");
    assert.equal(writes.length, 1);
    assert.equal(closedCalls(), 0);
  },
);

test(
  "framed() readable piped with an AbortSignal: the destination is aborted and the conn's readable cancelled with its reason, and sending goes on",
  {
    timeout: 5000,
  },
  async () => {
    const { conn, feed, writes, closedCalls } = recordingConn();
    const fc = framed(conn, lengthPrefixed({ width: 1 }), UNTIL_WRITTEN);
    const got: number[] = [];
    let aborted: { reason: unknown } | undefined;
    const destination = new WritableStream<Uint8Array>({
      write: (frame) => void got.push(frame[0]!),
      abort: (reason) => void (aborted = { reason }),
    });
    const controller = new AbortController();
    const pipe = fc.readable.pipeTo(destination, { signal: controller.signal }).then(
      () => "closed",
      (error) => error,
    );
    // A frame, and the start of the next (taken once read: the conn's readable has no room).
    const fed = feed.write(new Uint8Array([1, 65, 1]));
    while (got.length === 0) await turns(); // (microtask turns alone would starve a macrotask)
    await fed;
    const reason = new Error("stop");
    controller.abort(reason);
    assert.equal(await pipe, reason);
    assert.deepEqual(aborted, { reason });
    await assert.rejects(feed.closed, (error) => error === reason);
    assert.deepEqual(got, [65]);
    await fc.send("still works");
    assert.equal(writes.length, 1);
    assert.equal(closedCalls(), 0);
  },
);

test(
  "framed() writable piped into with an AbortSignal: aborted, the connection closes at once; with preventAbort it stays usable",
  {
    timeout: 5000,
  },
  async () => {
    for (const preventAbort of [false, true]) {
      const { conn, writes, closedCalls } = recordingConn();
      const fc = framed(conn, lengthPrefixed({ width: 1 }), UNTIL_WRITTEN);
      let cancelled: { reason: unknown } | undefined;
      const source = new ReadableStream<Uint8Array>({
        start: (c) => c.enqueue(new Uint8Array([65])),
        cancel: (reason) => void (cancelled = { reason }),
      });
      const controller = new AbortController();
      const pipe = source.pipeTo(fc.writable, { signal: controller.signal, preventAbort }).then(
        () => "closed",
        (error) => error,
      );
      while (writes.length === 0) await turns(); // (as above)
      const reason = new Error("stop");
      controller.abort(reason);
      assert.equal(await pipe, reason);
      assert.deepEqual(cancelled, { reason });
      assert.equal(fc.writable.locked, false);
      if (preventAbort) {
        const writer = fc.writable.getWriter();
        await writer.write(new Uint8Array([66]));
        writer.releaseLock();
        await fc.send("C");
        assert.deepEqual(writes.map((w) => [...w]), [[1, 65], [1, 66], [1, 67]]);
        assert.equal(closedCalls(), 0);
        await fc.close();
      } else {
        // As writable.abort(): the conn is closed (once: before, the abort signal's listener and
        // the sink's abort() each closed it), and sends fail with the abort, its reason the cause.
        assert.equal(closedCalls(), 1);
        await assert.rejects(fc.send("C"), (error) => {
          assert.ok(error instanceof ConnectionError);
          assert.equal(error.cause, reason);
          return true;
        });
      }
    }
  },
);

test(
  "framed() readable: releaseLock() with a read pending rejects it, and the frames it was reading go to the next reader; a framing error is the same object on every read",
  {
    timeout: 5000,
  },
  async () => {
    const { conn, feed } = recordingConn();
    const fc = framed(conn, lengthPrefixed({ width: 1, maxFrameLength: 3 }));
    const first = fc.readable.getReader();
    const pending = first.read();
    first.releaseLock();
    await assert.rejects(pending, TypeError); // on Node, Deno and Bun alike (the current spec)
    // Fed once the pull it started reads it: two frames, then a header over maxFrameLength.
    feed.write(new Uint8Array([1, 65, 1, 66, 9])).catch(() => {});
    const second = fc.readable.getReader();
    assert.deepEqual((await second.read()).value, new Uint8Array([65]));
    assert.deepEqual((await second.read()).value, new Uint8Array([66]));
    const error = await second.read().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof FrameTooLargeError, String(error));
    await assert.rejects(second.read(), (e) => e === error);
    await assert.rejects(second.closed, (e) => e === error);
  },
);

test("framed() cancelling readable before any read cancels the connection's readable", {
  timeout: 5000,
}, async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.readable.cancel("not reading");
  // The conn's readable was cancelled (a socket adapter then keeps draining the socket, so the
  // peer is not blocked); before, nothing reached it and the socket paused once its queue was full.
  await assert.rejects(feed.write(new Uint8Array(1)));
  await fc.send("still works");
});

test("framed() hands over the frames before a bad header, then the error", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }));
  feed.write(new Uint8Array([0, 0, 0, 2, 65, 66, 0, 0, 1, 0]));
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const f of fc) got.push(text.decode(f));
  }, FrameTooLargeError);
  assert.deepEqual(got, ["AB"]);
});

test(
  "framed(): replies to the frames before a bad header go out, then the connection closes",
  { timeout: 10_000 },
  async () => {
    // Whichever front end hands the error over (batches() did not count as one: the connection
    // stayed open, and later sends were still written).
    for (const front of ["for-await", "batches", "readable"] as const) {
      const { conn, feed, writes } = recordingConn();
      const closing = closeCalled(conn);
      const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }), UNTIL_WRITTEN);
      // Two frames and an oversized header in one chunk, as one read may bring them. Before, the
      // connection closed as the header was decoded, and the replies to both frames were lost.
      feed.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 1, 66, 0, 0, 1, 0]));
      const replies: Promise<void>[] = [];
      const reply = (f: Uint8Array) => replies.push(fc.send(`re ${text.decode(f)}`));
      await assert.rejects(
        async () => {
          if (front === "for-await") { for await (const f of fc) reply(f); }
          else if (front === "batches") {
            for await (const batch of fc.batches()) batch.forEach(reply);
          } else {
            const reader = fc.readable.getReader();
            for (let r = await reader.read(); !r.done; r = await reader.read()) reply(r.value);
          }
        },
        FrameTooLargeError,
        front,
      );
      await Promise.all(replies);
      await closing; // by framed() itself, once the replies were written
      const decoder = lengthPrefixed().decoder();
      for (const chunk of writes) decoder.push(chunk);
      assert.deepEqual(
        [decoder.next(), decoder.next()].map((f) => text.decode(f)),
        ["re A", "re B"],
        front,
      );
      await assert.rejects(fc.send("late"), FrameTooLargeError, front);
      await fc.close(); // quiet: nothing was lost
    }
  },
);

test("framed(): next() calls waiting together when a read fails: the first gets the error, the next ones are done", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  const it = fc[Symbol.asyncIterator]();
  const first = it.next();
  const second = it.next(); // waits behind the first, for the same read
  await feed.abort(new Error("reset")).catch(() => {});
  await assert.rejects(first, ConnectionError);
  // Before, the second was never answered: nothing read for it after the first was rejected.
  assert.deepEqual(await second, { done: true, value: undefined });
  await fc.close();
});

test(
  "framed(): a reply sent in the turn the next frame is asked for goes out before a bad header",
  { timeout: 10_000 },
  async () => {
    for (const front of ["iterator", "batches"] as const) {
      const { conn, feed, writes } = recordingConn();
      const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }), UNTIL_WRITTEN);
      feed.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 1, 0])); // a frame, then a bad header
      const it = front === "iterator"
        ? fc[Symbol.asyncIterator]()
        : fc.batches()[Symbol.asyncIterator]();
      assert.equal((await it.next()).done, false);
      // Reading ahead, then replying in the same turn (a request loop that overlaps the next
      // read with the reply). A read started at once refused the reply with the framing error.
      const ahead = it.next();
      await fc.send("re A");
      await assert.rejects(ahead, FrameTooLargeError, front);
      const decoder = lengthPrefixed().decoder();
      decoder.push(writes[0]!);
      assert.equal(text.decode(decoder.next()), "re A", front);
      await fc.close();
    }
  },
);

test(
  "framed(): a next() and a cancel() in one turn on a failed conn: the next() is done",
  { timeout: 10_000 },
  async () => {
    const { conn, feed } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    await feed.abort(new Error("reset")).catch(() => {});
    const next = fc[Symbol.asyncIterator]().next();
    await fc.readable.cancel("stop").catch(() => {}); // as the failed conn's readable answers
    // The cancel() comes first: a read started at once saw the failure instead.
    assert.deepEqual(await next, { value: undefined, done: true });
    await fc.close();
  },
);

test(
  "framed(): a send made before a bad header arrives still goes out; the error is not its own",
  { timeout: 10_000 },
  async () => {
    const { conn, feed, writes } = recordingConn();
    const closing = closeCalled(conn);
    const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }), UNTIL_WRITTEN);
    const early = fc.send("early"); // queued until the coalescer's flush
    feed.write(new Uint8Array([0, 0, 1, 0]));
    await assert.rejects(async () => {
      for await (const _ of fc) { /* none */ }
    }, FrameTooLargeError);
    await early; // before, it rejected with the FrameTooLargeError
    await closing;
    const decoder = lengthPrefixed().decoder();
    decoder.push(writes[0]!);
    assert.equal(text.decode(decoder.next()), "early");
  },
);

test(
  "framed() close({ timeout }) closes at once after the timeout when the peer reads nothing",
  { timeout: 10_000 },
  async () => {
    // 1 KiB of room and a peer that never reads: close() alone would wait for ever.
    const link = new MemoryLink({ highWaterMark: 1024 });
    const fc = framed(link.client, lengthPrefixed());
    for (let i = 0; i < 64; i++) fc.send(new Uint8Array(1024)).catch(() => {});
    // Sends that had resolved were lost, and nothing showed the failure: close() says so.
    await assert.rejects(fc.close({ timeout: 20 }), {
      name: "ConnectionError",
      message: "Cannot send as close() timed out after 20 ms with frames not yet written",
    });
    await fc.close(); // once is enough
    await assert.rejects(fc.close({ timeout: -1 }), RangeError);
    // Every runtime fires a longer timer after 1 ms: refused, not a close after 1 ms.
    await assert.rejects(fc.close({ timeout: 2 ** 31 }), {
      name: "RangeError",
      message:
        "Cannot close connection as timeout must be a number of ms from 0 to 2147483647, or Infinity: received 2147483648",
    });
    await fc.close({ timeout: 2 ** 31 - 1 }); // the longest a timer takes: accepted
    link.cut();
  },
);

test("framed() close() refuses options that are no object, as close(5000) for close({ timeout: 5000 }), and closes nothing", async () => {
  // Before: the number was ignored, and close() waited for ever on a peer that reads nothing.
  const link = new MemoryLink();
  const fc = framed(link.client, lines());
  try {
    for (const [options, shown] of [[5000, "5000"], ["5000", 'the string "5000"']] as const) {
      await assert.rejects(fc.close(options as FramedCloseOptions), {
        name: "TypeError",
        message: `Cannot close connection as options must be an object: received ${shown}`,
      });
    }
    await fc.send("still open"); // nothing was closed
    await fc.close(null as unknown as undefined); // null: no options
  } finally {
    link.cut();
  }
});

test(
  "framed() close({ timeout }) that cuts off a frame of one byte says frames were not yet written",
  {
    timeout: 10_000,
  },
  async () => {
    const { conn, arrived } = heldConn();
    const fc = framed(conn, lines(), { coalesce: 0 });
    await fc.send(""); // "\n": resolved, its write held for ever
    await arrived(1);
    await assert.rejects(fc.close({ timeout: 20 }), {
      message: "Cannot send as close() timed out after 20 ms with frames not yet written",
    });
  },
);

test(
  "framed() close({ timeout }) that cuts off only the Conn's half-close does not say frames were not yet written",
  { timeout: 10_000 },
  async () => {
    // Every frame written; the Conn's closeWrite() never ends (a Conn of one's own).
    const { conn: recording, writes } = recordingConn();
    const conn: Conn = { ...recording, closeWrite: () => new Promise<void>(() => {}) };
    const fc = framed(conn, lines(), { coalesce: 0, highWaterMark: 0 });
    await fc.send("a"); // highWaterMark 0: resolved once written
    const closingWrite = fc.closeWrite();
    assert.equal(fc.bufferedAmount, 0);
    await fc.close({ timeout: 20 }); // nothing that was promised is lost
    await assert.rejects(closingWrite, {
      name: "ConnectionError",
      code: "CONNECTION_CLOSED",
      message: "Cannot send as close() timed out after 20 ms",
    });
    assert.deepEqual(writes.map((w) => text.decode(w)), ["a\n"]);
  },
);

test("framed() close({ timeout }) returns even if the Conn's close() leaves its writes pending", {
  timeout: 10_000,
}, async () => {
  // A Conn of one's own whose close() does nothing and whose writes never settle.
  const { conn, arrived } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0 });
  const sent = fc.send("kept");
  await sent; // under highWaterMark: resolved, not written
  const waiting = fc.send(new Uint8Array(2 * 1024 * 1024)); // over it: waits
  await arrived(1);
  const timedOut = {
    name: "ConnectionError",
    code: "CONNECTION_CLOSED",
    message: "Cannot send as close() timed out after 20 ms with frames not yet written",
  };
  // The resolved send's frame was lost: close() says so, and the waiting send gets the reason.
  await assert.rejects(fc.close({ timeout: 20 }), timedOut);
  await assert.rejects(waiting, timedOut);
  await assert.rejects(fc.send("late"), { code: "CONNECTION_CLOSED" });
  await assert.rejects(fc.closeWrite(), timedOut);
});

test("framed() close({ timeout }) resolves the sends whose frames were written before it", {
  timeout: 10_000,
}, async () => {
  // highWaterMark 0: each send resolves once its frame is written. The second and third frames
  // go to the conn in one batch; the sink completes the second and holds the third.
  const { conn, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 0 });
  const sends = ["a", "b", "c"].map((p) => fc.send(p));
  await arrived(1);
  complete();
  await sends[0];
  await arrived(2);
  complete();
  await arrived(3);
  const closing = fc.close(); // no timeout: it would wait for ever on the third
  // Before, the second send rejected too: written frames counted only once a whole batch was.
  await fc.close({ timeout: 20 }); // nothing that was promised is lost
  await sends[1];
  await assert.rejects(sends[2]!, {
    code: "CONNECTION_CLOSED",
    message: "Cannot send as close() timed out after 20 ms with frames not yet written",
  });
  await closing; // stops waiting too
});

test(
  "framed() close({ timeout }): every close() in progress reports the loss, a closeWrite() ends",
  { timeout: 10_000 },
  async () => {
    const fc = await withLostFrame();
    // A closeWrite() and a close() without timeout in progress (as an error handler may leave
    // them), and a watchdog's close({ timeout: 0 }) nobody waits on: they all end with the timeout
    // that fires first. Before, the loss went to one close() only (the watchdog's: an unhandled
    // rejection) and the one awaited resolved; the closeWrite() never settled.
    const closingWrite = fc.closeWrite(); // waited on at the end (waiting shows the failure)
    const closing = watch(fc.close());
    const watchdog = watch(fc.close({ timeout: 0 }));
    const timedOut = {
      message: "Cannot send as close() timed out after 0 ms with frames not yet written",
    };
    await assert.rejects(fc.close({ timeout: 20 }), timedOut);
    await turns();
    assert.deepEqual([closing(), watchdog()], ["rejected", "rejected"]);
    await fc.close(); // made after the report: quiet
    await assert.rejects(closingWrite, timedOut);
  },
);

test(
  "framed() close() with a closeWrite() in progress that the application waits on: the same outcome in either call order",
  {
    timeout: 10_000,
  },
  async () => {
    for (const closeFirst of [false, true]) {
      const fc = await withLostFrame();
      let closing: Promise<string>;
      let closingWrite: Promise<string>;
      if (closeFirst) {
        closing = settledAs(fc.close({ timeout: 10 }));
        closingWrite = settledAs(fc.closeWrite());
      } else {
        closingWrite = settledAs(fc.closeWrite());
        closing = settledAs(fc.close({ timeout: 10 }));
      }
      // The closeWrite() reports the failure; close() made first rejected too (reported twice).
      assert.deepEqual([await closingWrite, await closing], ["rejected", "ok"], `${closeFirst}`);
    }
  },
);

test(
  "framed() close() with two closeWrite() calls in progress, only the later waited on: it reports the failure, close() does not",
  { timeout: 10_000 },
  async () => {
    const fc = await withLostFrame();
    // close() first: its handler runs before the closeWrite() calls' own, so it must find the
    // one waited on among those in progress.
    const closing = settledAs(fc.close({ timeout: 10 }));
    void fc.closeWrite(); // nobody waits on it (quiet)
    const closingWrite = settledAs(fc.closeWrite());
    // Every closeWrite() in progress counts, not only the first: the later one showed the loss.
    assert.deepEqual([await closingWrite, await closing], ["rejected", "ok"]);
  },
);

test("framed() close({ timeout }): a close() in progress that nobody waits on stays quiet", {
  timeout: 10_000,
}, async () => {
  const fc = await withLostFrame();
  // As an error handler may leave it. Before, it rejected with the loss too: an unhandled
  // rejection, which ends the process on Node, Deno and Bun (and fails this test).
  void fc.close();
  await assert.rejects(fc.close({ timeout: 20 }), { code: "CONNECTION_CLOSED" });
  // One task later: the runtimes report an unhandled rejection by then.
  await new Promise((resolve) => setTimeout(resolve, 0));
});

test(
  "framed() close() waited on only after it rejected still reports the loss, and raised nothing",
  {
    timeout: 10_000,
  },
  async () => {
    const { conn, arrived } = heldConn();
    const closed = closeCalled(conn);
    const fc = framed(conn, lengthPrefixed());
    await fc.send("lost"); // under highWaterMark: resolved, never written
    await arrived(1);
    const closing = fc.close({ timeout: 20 });
    await closed; // the timeout closed the conn
    // A task later: an unhandled rejection is reported by then (before, on all three runtimes).
    await new Promise((resolve) => setTimeout(resolve, 0));
    await assert.rejects(closing, { code: "CONNECTION_CLOSED" });
  },
);

test("framed() close() reports a loss that a close() nobody waited on found", {
  timeout: 10_000,
}, async () => {
  const { conn, arrived } = heldConn();
  const closed = closeCalled(conn);
  const fc = framed(conn, lengthPrefixed());
  await fc.send("lost"); // under highWaterMark: resolved, never written
  await arrived(1);
  void fc.close({ timeout: 10 }); // a watchdog's
  await closed;
  await turns();
  // Before, the watchdog's close() took the report and nobody saw it: this one resolved.
  await assert.rejects(fc.close(), { code: "CONNECTION_CLOSED" });
  await fc.close(); // the application has seen it now
});

test("framed() close() after the application saw the failure elsewhere resolves", {
  timeout: 10_000,
}, async () => {
  // 10-byte payloads are 14 bytes on the wire: the first send resolves at once, the second waits.
  const { conn, arrived } = heldConn();
  const closed = closeCalled(conn);
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 20 });
  await fc.send(new Uint8Array(10)); // resolved, never written
  const waiting = fc.send(new Uint8Array(10));
  await arrived(1);
  void fc.close({ timeout: 10 }); // a watchdog's: finds the loss, nobody waits on it
  await closed;
  await turns(); // the watchdog's close() has settled
  await assert.rejects(waiting, { code: "CONNECTION_CLOSED" }); // the application sees it here
  // Before, this close() reported it again.
  await fc.close();
});

test(
  "framed() close({ timeout }) judges a writable write by its own frame, not sends made with it",
  {
    timeout: 10_000,
  },
  async () => {
    // highWaterMark 50: a 100-byte write waits until its frame is written. Sends made in the same
    // turn go out after it: the first (10 B) resolves once the write's frame is written, the second
    // waits; only the write's frame is ever written.
    const { conn, arrived, complete } = heldConn();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 50 });
    const writer = fc.writable.getWriter();
    const written = writer.write(new Uint8Array(100));
    const lost = fc.send(new Uint8Array(10));
    const held = fc.send(new Uint8Array(200));
    await arrived(1);
    complete();
    await lost; // resolved; its frame is never written
    // Before, the write rejected (its end counted the sends), which counted as the application
    // seeing the failure: close() resolved and the resolved send's loss went unreported.
    await assert.rejects(fc.close({ timeout: 20 }), { code: "CONNECTION_CLOSED" });
    await written;
    await assert.rejects(held, { code: "CONNECTION_CLOSED" });
  },
);

test("framed() close() counts no send that never resolved as promised", {
  timeout: 10_000,
}, async () => {
  // A small writable write (resolves at once) and, in the same turn, a large send (written
  // without a copy: it resolves once written). Only the write's frame is written.
  const { conn, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed());
  const writer = fc.writable.getWriter();
  const small = writer.write(new Uint8Array(10));
  const large = fc.send(new Uint8Array(300 * 1024));
  await arrived(1);
  complete();
  await small;
  // Before, the write's promise counted the send's frame: close() reported a loss.
  await fc.close({ timeout: 20 });
  await assert.rejects(large, { code: "CONNECTION_CLOSED" });
});

test("framed() writable.abort() over a Conn whose close() throws raises nothing, and closes it once", async () => {
  const { conn } = heldConn();
  let closes = 0;
  conn.close = () => {
    closes++;
    throw new Error("close failed");
  };
  const fc = framed(conn, lengthPrefixed());
  const writer = fc.writable.getWriter();
  // Before, the throw escaped the abort signal's listener: an uncaught exception.
  await writer.abort(new Error("gave up"));
  await new Promise((resolve) => setTimeout(resolve, 0)); // as above
  assert.equal(closes, 1); // before, 2: the signal's listener and the sink's abort()
});

test("framed() close({ timeout }) resolves a writable write whose frame was written", {
  timeout: 10_000,
}, async () => {
  // highWaterMark 0: the write waits until its frame is written; a send after it is held.
  const { conn, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 0 });
  const writer = fc.writable.getWriter();
  const written = writer.write(new Uint8Array(100));
  await turns();
  const held = fc.send(new Uint8Array(10));
  await turns();
  await arrived(1);
  complete();
  await arrived(2);
  // Before, the write rejected too (all bytes emitted had to be written), and with it the
  // application counted as having seen the loss.
  await fc.close({ timeout: 20 });
  await written;
  await assert.rejects(held, { code: "CONNECTION_CLOSED" });
});

test("framed() close({ timeout }) settles when the Conn's close() throws", {
  timeout: 10_000,
}, async () => {
  const { conn, arrived } = heldConn();
  conn.close = () => {
    throw new Error("close failed");
  };
  const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
  const held = fc.send("held");
  await arrived(1);
  // Before, the throw escaped the timer and the close() never settled. The Conn's error is the
  // cause of a ConnectionError, as a read's or a write's is.
  await assert.rejects(fc.close({ timeout: 20 }), {
    code: "CONNECTION_FAILED",
    message: "Cannot close connection as it failed: close failed",
  });
  await assert.rejects(held, { code: "CONNECTION_CLOSED" });
});

test("framed() close({ timeout }) resolves no send whose frame it then drops", {
  timeout: 10_000,
}, async () => {
  // 20-byte payloads are 24 bytes on the wire; with highWaterMark 30 the third send may resolve
  // once 42 bytes are written, but its frame ends at byte 72.
  const { conn, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 30 });
  const sends = [1, 2, 3].map((i) => fc.send(new Uint8Array(20).fill(i)));
  await sends[0]; // at once
  await arrived(1);
  complete();
  await sends[1]; // once the first frame is written
  await arrived(2);
  complete(); // the second frame is written too; the third is held
  await arrived(3);
  // Before, the timeout resolved the third send and then dropped its frame: close() rejected.
  await fc.close({ timeout: 20 });
  await assert.rejects(sends[2]!, { code: "CONNECTION_CLOSED" });
});

test(
  "framed() close() reports the loss of a send released behind writable writes that resolved at once",
  {
    timeout: 10_000,
  },
  async () => {
    // coalesce 0, highWaterMark 20: a 30-byte write waits; a second write and a send queue
    // behind it. Once the sink takes the second write, the send is released and resolves at once
    // (its frame is within highWaterMark of what was written) but is never written.
    const { conn, arrived, complete } = heldConn();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 20 });
    const writer = fc.writable.getWriter();
    await writer.ready;
    void writer.write(new Uint8Array(30));
    void writer.write(new Uint8Array([2]));
    const sent = fc.send(new Uint8Array([3]));
    await arrived(1);
    complete();
    await arrived(2);
    complete();
    await arrived(3);
    await sent;
    // Before, the second write's sink lowered the promised position to its own frame's end after
    // the send had raised it: close() resolved, the send's loss unreported.
    await assert.rejects(fc.close({ timeout: 20 }), { code: "CONNECTION_CLOSED" });
  },
);

test(
  "framed() with highWaterMark 0: a writable write waits while its frame is still being coalesced",
  {
    timeout: 10_000,
  },
  async () => {
    const { conn, arrived, complete } = heldConn();
    const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
    const writer = fc.writable.getWriter();
    await writer.ready;
    const first = fc.send("a");
    await arrived(1); // "a" is the conn's, not written yet
    const written = watch(writer.write(new Uint8Array([42]))); // its frame waits in the send buffer
    complete(); // "a" is written; the write's frame is not handed to the conn yet
    await first;
    // Before, the write resolved here (every byte emitted was written, not its own frame).
    assert.equal(written(), "pending");
    await arrived(2);
    assert.equal(written(), "pending");
    await fc.close({ timeout: 20 }); // nothing that resolved is lost
    assert.equal(written(), "rejected");
  },
);

test(
  "framed() a send refused with the framing error that ended reading does not hide a later loss",
  {
    timeout: 10_000,
  },
  async () => {
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    const held = heldConn();
    const conn: Conn = { ...held.conn, readable };
    const fc = framed(conn, lengthPrefixed({ maxFrameLength: 100 }), {
      coalesce: 0,
      highWaterMark: 20,
    });
    const waiting = [fc.send(new Uint8Array(30)), fc.send(new Uint8Array(10))]; // both wait
    await held.arrived(1);
    feed.enqueue(new Uint8Array([0, 0, 3, 232])); // a 1000-byte frame: too large
    await assert.rejects(fc[Symbol.asyncIterator]().next(), FrameTooLargeError);
    // A reply the application waits on, refused with the read's error.
    await assert.rejects(fc.send("reply"), FrameTooLargeError);
    held.complete(); // the first frame is written, and the second send resolves: its frame is not
    await held.arrived(2);
    await Promise.all(waiting);
    // Before, the refused reply counted as having seen this loss: close() resolved.
    await assert.rejects(fc.close({ timeout: 20 }), { code: "CONNECTION_CLOSED" });
  },
);

test("framed() close({ timeout }) and writable.abort() end a read waiting meanwhile cleanly", {
  timeout: 10_000,
}, async () => {
  for (const how of ["timeout", "abort"] as const) {
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    const held = heldConn();
    const conn: Conn = {
      ...held.conn,
      readable,
      close: () => {
        try {
          feed.close();
        } catch {
          // closed already (close() is idempotent)
        }
      },
    };
    const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
    const sent = fc.send("held"); // never written: close() waits on it
    await held.arrived(1);
    feed.enqueue(new Uint8Array([0, 0, 0, 9, 1, 2])); // part of a frame
    const next = fc[Symbol.asyncIterator]().next();
    await turns(); // the part is read; the read waits for the rest
    if (how === "timeout") await fc.close({ timeout: 20 });
    else await fc.writable.getWriter().abort(new Error("gave up"));
    // Before, a TruncatedFrameError, as if the peer had gone (close() without a timeout: done).
    assert.deepEqual(await next, { done: true, value: undefined }, how);
    await assert.rejects(sent);
  }
});

test("framed() writable.abort() after a clean close() or closeWrite() changes neither", async () => {
  for (const first of ["close", "closeWrite"] as const) {
    const { conn } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    await fc.send("sent");
    await (first === "close" ? fc.close() : fc.closeWrite());
    await fc.writable.getWriter().abort(new Error("late"));
    // Before, the abort made a later closeWrite() reject, though nothing was lost.
    await fc.closeWrite();
    await fc.close();
  }
});

test(
  "framed() after writable.abort(), close() and closeWrite() settle over a Conn that leaves its writes pending",
  {
    timeout: 10_000,
  },
  async () => {
    const { conn, arrived } = heldConn(); // its close() leaves the write in progress pending
    const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
    const sent = fc.send("held");
    await arrived(1);
    const before = fc.close(); // waits for the held write
    await fc.writable.getWriter().abort(new Error("gave up"));
    // Before, all three waited for ever on the write the Conn left pending.
    await before; // the application gave up on what it sent: no loss to report
    await fc.close();
    // The abort's reason is its cause.
    await assert.rejects(fc.closeWrite(), { message: "Cannot send as the writable was aborted" });
    await assert.rejects(sent);
  },
);

test(
  "framed() close({ timeout }) after a framing error from a peer that reads nothing",
  { timeout: 10_000 },
  async () => {
    const link = new MemoryLink({ highWaterMark: 1024 });
    const fc = framed(link.client, lengthPrefixed({ maxFrameLength: 10 }));
    const peer = link.server.writable.getWriter();
    void peer.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 1, 0])); // a frame, then too large
    await assert.rejects(async () => {
      for await (const _ of fc) {
        // Replies that cannot all go out: the peer reads nothing.
        for (let i = 0; i < 64; i++) fc.send(new Uint8Array(1024)).catch(() => {});
      }
    }, FrameTooLargeError);
    // The application saw the error (a read failed), so the lost replies are no news to it.
    await fc.close({ timeout: 20 });
    link.cut();
  },
);

test("framed() concurrent next() calls each get their own frame", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  const it = fc[Symbol.asyncIterator]();
  const calls = [it.next(), it.next(), it.next(), it.next()];
  feed.write(new Uint8Array([1, 1, 1, 2]));
  feed.write(new Uint8Array([1, 3, 1, 4]));
  const values = (await Promise.all(calls)).map((r) => r.value?.[0]);
  assert.deepEqual(values, [1, 2, 3, 4]);
});

/**
 * Every frame of `connection.batches()`. Reused buffers are valid until the next batch, so
 * with `reuseBuffers` frames are copied on arrival; owned frames are kept as they are and
 * compared at the end, after every later read.
 */
async function collectBatches(
  connection: { batches(): AsyncIterable<Uint8Array[]> },
  reuseBuffers: boolean,
): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  for await (const batch of connection.batches()) {
    for (const frame of batch) got.push(reuseBuffers ? frame.slice() : frame);
  }
  return got;
}

/**
 * A Conn with `read()` (like the Deno adapter's) over fixed input: each read
 * copies at most the next of `sizes` bytes (cycling) into the caller's
 * buffer. Records the buffers read into.
 */
function byobConn(input: Uint8Array, sizes: number[], end: "eof" | Error = "eof"): {
  conn: Conn;
  targets: Set<ArrayBufferLike>;
  reads: () => number;
  cancelled: () => boolean;
} {
  const targets = new Set<ArrayBufferLike>();
  let at = 0;
  let reads = 0;
  let cancelled = false;
  const conn: Conn = {
    ...recordingConn().conn,
    get readable(): ReadableStream<Uint8Array> {
      return new ReadableStream({
        cancel() {
          cancelled = true;
        },
      });
    },
    read(buffer: Uint8Array): Promise<number | null> {
      targets.add(buffer.buffer);
      if (at === input.length) {
        return end === "eof" ? Promise.resolve(null) : Promise.reject(end);
      }
      const n = Math.min(buffer.length, sizes[reads++ % sizes.length]!, input.length - at);
      buffer.set(input.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
  return { conn, targets, reads: () => reads, cancelled: () => cancelled };
}

test("framed() over a Conn with read(): any read sizes, owned frames stay intact", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 70_000 }), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      async (lengths, sizes, reuseBuffers) => {
        const framing = lengthPrefixed();
        const payloads = lengths.map(payloadOf);
        const wire = encodeAll(framing, payloads);
        const connection = framed(byobConn(wire, sizes).conn, framing, { reuseBuffers });
        assert.deepEqual(await collectBatches(connection, reuseBuffers), payloads);
      },
    ),
    { numRuns: 150 },
  );
});

for (const [i, { framing, payload }] of formats.entries()) {
  test(`framed() over a Conn with read(), ${label(framing, i)}: any read sizes, both modes`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(payload, { maxLength: 30, size: "max" }).chain((payloads) => {
          const wire = encodeAll(framing, payloads);
          return fc.tuple(fc.constant(payloads), fc.constant(wire), cutsArbitrary(wire.length));
        }),
        fc.boolean(),
        async ([payloads, wire, cuts], reuseBuffers) => {
          // Read sizes from the cuts: the gaps between them (at least 1).
          const sizes = [...cuts, wire.length].map((c, j, all) =>
            Math.max(1, c - (all[j - 1] ?? 0))
          );
          const connection = framed(byobConn(wire, sizes).conn, framing, { reuseBuffers });
          assert.deepEqual(await collectBatches(connection, reuseBuffers), payloads);
        },
      ),
      { numRuns: 40 },
    );
  });
}

test("framed() over a Conn with read() reads the rest of a large frame straight into it", async () => {
  const framing = lengthPrefixed({ maxFrameLength: 2 * 1024 * 1024 });
  const big = payloadOf(1024 * 1024, 7);
  const { conn, targets } = byobConn(framing.encode(big), [1000, 65536]);
  const frames: Uint8Array[] = [];
  for await (const frame of framed(conn, framing)) frames.push(frame);
  assert.deepEqual(frames, [big]);
  assert.ok(targets.has(frames[0]!.buffer), "the frame's own buffer was read into");
});

test("framed() asks allocate for a large frame once an eighth of it has come, then reads the rest into it", async () => {
  const framing = lengthPrefixed();
  const big = payloadOf(1024 * 1024, 9);
  const byob = byobConn(framing.encode(big), [4, 1000, 16384]);
  const asked: [number, number][] = [];
  const conn: Conn = {
    ...byob.conn,
    allocate: (n) => {
      asked.push([n, connection.bytesRead]);
      return new Uint8Array(n);
    },
  };
  const connection = framed(conn, framing);
  const frames = await collectBatches(connection, false);
  assert.equal(frames.length, 1);
  assert.ok(frames[0]!.every((byte, i) => byte === big[i]), "the frame as sent");
  assert.equal(asked.length, 1);
  const [size, read] = asked[0]!;
  assert.equal(size, big.length);
  assert.ok(read >= 4 + big.length / 8, `allocated after ${read} bytes`);
  assert.ok(byob.targets.has(frames[0]!.buffer), "the rest was read straight into the frame");
});

test("framed() over a Conn with read() and allocate: frame.buffer shows nothing allocate left there", async () => {
  // allocate may hand out memory that still holds old bytes (Buffer.allocUnsafeSlow): read
  // buffers, which frames are views into and are read into only in part, must not come from it.
  const framing = lengthPrefixed();
  const small = new Uint8Array([1, 2, 3, 4, 5]);
  const big = new Uint8Array(20_000).fill(7); // no 0xee on the wire: every 0xee is allocate's
  const byob = byobConn(encodeAll(framing, [small, big]), [9, 3000, 65536]);
  const conn: Conn = { ...byob.conn, allocate: (n) => new Uint8Array(n).fill(0xee) };
  const frames = await collectBatches(framed(conn, framing), false);
  assert.deepEqual(frames.map((f) => f.length), [5, 20_000]);
  assert.deepEqual(frames[0], small);
  // The small frame is a view into a read buffer: nothing of it may be allocate's.
  const stale = new Uint8Array(frames[0]!.buffer).indexOf(0xee);
  assert.equal(stale, -1, `frame.buffer holds allocate's bytes at ${stale}`);
  // The large frame, read into allocate's memory, is overwritten in full.
  assert.equal(frames[1]!.indexOf(0xee), -1);
});

test("framed() bytesRead counts the bytes read, a frame still arriving included", async () => {
  const framing = lengthPrefixed();
  const wire = framing.encode(payloadOf(100, 1));
  const { conn, feed } = recordingConn();
  const connection = framed(conn, framing, { buffered: wire.subarray(0, 10) });
  const next = connection[Symbol.asyncIterator]().next();
  await feed.write(wire.subarray(10, 60));
  for (let i = 0; i < 20 && connection.bytesRead < 50; i++) await Promise.resolve();
  assert.equal(connection.bytesRead, 50, "read from conn; the buffered option's bytes not counted");
  await feed.write(wire.subarray(60));
  assert.deepEqual((await next).value, payloadOf(100, 1));
  assert.equal(connection.bytesRead, 94);
  // Through read(), the rest of a large frame straight into it too.
  const bigWire = framing.encode(payloadOf(100_000, 2));
  const direct = framed(byobConn(bigWire, [1000, 30_000]).conn, framing);
  assert.deepEqual(await collectBatches(direct, false), [payloadOf(100_000, 2)]);
  assert.equal(direct.bytesRead, bigWire.length);
});

test("framed() over a Conn with read() and reuseBuffers reads into the same buffers", async () => {
  const framing = lengthPrefixed();
  const payloads = Array.from({ length: 20_000 }, (_, i) => payloadOf(i % 300, i));
  const { conn, targets, reads } = byobConn(
    encodeAll(framing, payloads),
    [700, 5000, 20000],
  );
  let n = 0;
  for await (const batch of framed(conn, framing, { reuseBuffers: true }).batches()) {
    for (const frame of batch) assert.deepEqual(frame, payloads[n++]);
  }
  assert.equal(n, payloads.length);
  assert.ok(reads() > 20);
  assert.ok(targets.size <= 3, `${targets.size} buffers for ${reads()} reads`);
});

test("framed() over a Conn with read(): after a bulk read, a trickle moves to small buffers", async () => {
  const framing = lengthPrefixed();
  const payloads = Array.from({ length: 40_000 }, (_, i) => payloadOf(20, i));
  // Bulk reads (the buffers grow to 256 KiB), then reads of one frame each.
  const sizes = [16_384, 65_536, 262_144, ...Array(40_000).fill(24)];
  const reads: number[] = [];
  const byob = byobConn(encodeAll(framing, payloads), sizes);
  const read = byob.conn.read!;
  const conn: Conn = {
    ...byob.conn,
    read: (buffer) => {
      reads.push(buffer.buffer.byteLength);
      return read(buffer);
    },
  };
  let n = 0;
  for await (const frame of framed(conn, framing)) assert.deepEqual(frame, payloads[n++]);
  assert.equal(n, payloads.length);
  assert.ok(reads.some((size) => size >= 256 * 1024), "bulk reads went into a large buffer");
  assert.ok(reads.at(-1)! <= 16 * 1024, `the trickle reads into ${reads.at(-1)} bytes`);
});

test("framed() over a Conn with read(): truncation, failures and cancel", async () => {
  const framing = lengthPrefixed();
  const wire = concat([framing.encode(payloadOf(5, 1)), framing.encode(payloadOf(40_000, 2))]);
  const cut = wire.subarray(0, wire.length - 10);
  // The peer ends inside a frame.
  const frames: Uint8Array[] = [];
  await assert.rejects(async () => {
    for await (const frame of framed(byobConn(cut, [30_000]).conn, framing)) frames.push(frame);
  }, (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.expected, error.received], [40_000, 40_000 - 10]);
    return true;
  });
  assert.deepEqual(frames, [payloadOf(5, 1)]);
  // A reset inside a frame: TruncatedFrameError caused by it; at a boundary: ConnectionError.
  const reset = new ConnectionError("Connection reset", { code: "CONNECTION_RESET" });
  await assert.rejects(async () => {
    for await (const _ of framed(byobConn(cut, [30_000], reset).conn, framing)) { /* on */ }
  }, (error) => error instanceof TruncatedFrameError && error.cause === reset);
  await assert.rejects(async () => {
    for await (const _ of framed(byobConn(wire, [30_000], reset).conn, framing)) { /* on */ }
  }, (error) => error === reset);
  // Cancelling readable hands reading over to the connection's readable (which drains).
  const byob = byobConn(wire, [3]);
  const connection = framed(byob.conn, framing);
  const reader = connection.readable.getReader();
  assert.deepEqual((await reader.read()).value, payloadOf(5, 1));
  await reader.cancel();
  await connection.close();
  assert.ok(byob.cancelled());
});

/**
 * `inner` with its read() recording the size of each read buffer that received bytes, in turn
 * (one entry per run).
 */
function readBufferSizes(inner: Conn): { conn: Conn; sizes: number[] } {
  const read = inner.read!;
  const sizes: number[] = [];
  const conn: Conn = {
    ...inner,
    read: async (buffer) => {
      const size = buffer.buffer.byteLength;
      const n = await read(buffer);
      // Buffers that received bytes (not the one the end of the input was found with).
      if (n !== null && sizes.at(-1) !== size) sizes.push(size);
      return n;
    },
  };
  return { conn, sizes };
}

/** Bytes beyond its size a read buffer has for frame headers (docs/adapters.md). */
const READ_ROOM = 1024;

/**
 * `sizes` (from {@linkcode readBufferSizes}) start at 4 KiB and rise step by step to 256 KiB, the
 * range docs/adapters.md gives (each 1 KiB more, for headers), then, when `fall`, fall step by
 * step back to 4 KiB. The factors (×4 and ÷4 in framed.ts) are tuning, not pinned.
 */
function assertRiseAndFall(sizes: number[], fall: boolean): void {
  const KiB = 1024;
  const peak = sizes.indexOf(256 * KiB + READ_ROOM);
  assert.ok(peak > 0, `never reached 256 KiB: ${sizes}`);
  assert.equal(sizes[0], 4 * KiB + READ_ROOM, `${sizes}`);
  for (let i = 1; i < sizes.length; i++) {
    assert.ok(i <= peak ? sizes[i]! > sizes[i - 1]! : sizes[i]! < sizes[i - 1]!, `${sizes}`);
  }
  assert.equal(sizes.at(-1), (fall ? 4 * KiB : 256 * KiB) + READ_ROOM, `${sizes}`);
}

test("framed() over a Conn with read(): four 64 KiB frames and their headers fit one read buffer whole", async () => {
  // Before, a 256 KiB read buffer held three 64 KiB frames and all but 16 bytes of a fourth, which
  // was then copied into a buffer of its own: a copy of a quarter of every byte received (and one
  // allocation more per read), measured on the Deno adapter at about a fifth of its throughput.
  const framing = lengthPrefixed();
  const payloads = Array.from({ length: 24 }, (_, i) => payloadOf(65_536, i));
  const byob = byobConn(encodeAll(framing, payloads), [1 << 20]);
  const perBuffer = new Map<ArrayBufferLike, number>();
  let n = 0;
  for await (const frame of framed(byob.conn, framing)) {
    assert.deepEqual(frame, payloads[n++]);
    perBuffer.set(frame.buffer, (perBuffer.get(frame.buffer) ?? 0) + 1);
  }
  assert.equal(n, payloads.length);
  assert.equal(Math.max(...perBuffer.values()), 4, `frames per buffer: ${[...perBuffer.values()]}`);
});

test("framed() over a Conn with read(): the buffers read into shrink back to 4 KiB after a bulk read", async () => {
  // Read buffers grow after a read that fills them, up to 256 KiB, and shrink (down to 4 KiB)
  // when one was used by much smaller reads (16 times smaller, in framed.ts).
  const framing = lengthPrefixed();
  // 1.92 MB: eight reads as large as the buffer (enough to reach 256 KiB growing ×2 or more),
  // then reads of one 24-byte frame each (at least 560 KB of them, enough to fill a buffer of
  // each size on the way back down).
  const payloads = Array.from({ length: 80_000 }, (_, i) => payloadOf(20, i));
  const byob = byobConn(encodeAll(framing, payloads), [
    ...Array(8).fill(262_144),
    ...Array(80_000).fill(24),
  ]);
  const { conn, sizes } = readBufferSizes(byob.conn);
  let n = 0;
  for await (const frame of framed(conn, framing)) assert.deepEqual(frame, payloads[n++]);
  assert.equal(n, payloads.length);
  assertRiseAndFall(sizes, true);
});

test("framed() over a Conn with read(): a read that fills the room left in a buffer grows the next, to 256 KiB", async () => {
  // Each buffer is first read into in part (100 bytes), then to its end (720,000 bytes in all).
  const framing = lengthPrefixed();
  const payloads = Array.from({ length: 30_000 }, (_, i) => payloadOf(20, i));
  const byob = byobConn(encodeAll(framing, payloads), [100, 1 << 20]);
  const { conn, sizes } = readBufferSizes(byob.conn);
  assert.deepEqual(await collectBatches(framed(conn, framing), false), payloads);
  // Up to 256 KiB: a 256 KiB buffer filled is followed by another.
  assertRiseAndFall(sizes, false);
});

test("framed() over a Conn with read(): after a read that drained the socket at a frame boundary, the next read goes into a buffer of at most 64 KiB", async () => {
  // The read an idle connection waits on keeps its buffer reachable: not the rest of a 256 KiB
  // one. Reads fill 4, 16 and 64 KiB buffers (and their room for headers: 89,088 bytes, a whole
  // number of 24-byte frames), then 100 frames arrive, then the rest fills buffers again.
  const framing = lengthPrefixed();
  const payloads = Array.from({ length: 12_000 }, (_, i) => payloadOf(20, i));
  const byob = byobConn(encodeAll(framing, payloads), [5_120, 17_408, 66_560, 2_400, 1 << 20]);
  const { conn, sizes } = readBufferSizes(byob.conn);
  assert.deepEqual(await collectBatches(framed(conn, framing), false), payloads);
  const KiB = 1024;
  assert.deepEqual(
    sizes.slice(0, 5),
    [4, 16, 64, 256, 64].map((n) => n * KiB + READ_ROOM),
    `${sizes}`,
  );
});

test("framed() batches(): concurrent next() calls each get their own batch, also over a Conn with read()", async () => {
  const wire = new Uint8Array([1, 65, 1, 66, 1, 67]);
  const framing = lengthPrefixed({ width: 1 });
  for (const withRead of [false, true]) {
    let conn: Conn;
    if (withRead) conn = byobConn(wire, [2]).conn;
    else {
      const recorded = recordingConn();
      conn = recorded.conn;
      for (let i = 0; i < wire.length; i += 2) void recorded.feed.write(wire.subarray(i, i + 2));
    }
    const fc = framed(conn, framing);
    const batches = fc.batches()[Symbol.asyncIterator]();
    const got = await Promise.all([batches.next(), batches.next(), batches.next()]);
    assert.deepEqual(
      got.map((r) => r.done ? undefined : r.value.map((frame) => text.decode(frame))),
      [["A"], ["B"], ["C"]],
      withRead ? "read()" : "readable",
    );
    await fc.close();
  }
});

test(
  "framed() over a Conn with read(): a large frame read straight into it is handed over without waiting for more data",
  {
    timeout: 5000,
  },
  async () => {
    const framing = lengthPrefixed();
    const payload = payloadOf(100_000, 4);
    const wire = framing.encode(payload);
    let at = 0;
    let ended!: (end: null) => void;
    const quiet = new Promise<null>((resolve) => ended = resolve);
    const conn: Conn = {
      ...recordingConn().conn,
      read(buffer: Uint8Array): Promise<number | null> {
        if (at === wire.length) return quiet; // the peer waits for a reply
        const n = Math.min(buffer.length, wire.length - at);
        buffer.set(wire.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
    const fc = framed(conn, framing);
    assert.deepEqual((await fc[Symbol.asyncIterator]().next()).value, payload);
    ended(null);
    await fc.close();
  },
);

test("framed() over a Conn with read(): the rest of a frame is read straight into it from 16 KiB on", async () => {
  // The first read brings the header and all but `rest` bytes of a 20,000-byte frame (over an
  // eighth: its buffer is allocated); the rest is read into the frame itself only from 16 KiB.
  const framing = lengthPrefixed();
  const payload = payloadOf(20_000, 3);
  for (const rest of [16 * 1024, 16 * 1024 - 1]) {
    const { conn, targets } = byobConn(framing.encode(payload), [
      4 + payload.length - rest,
      65_536,
    ]);
    const frames = await collectBatches(framed(conn, framing), false);
    assert.deepEqual(frames, [payload]);
    assert.equal(targets.has(frames[0]!.buffer), rest >= 16 * 1024, `rest ${rest}`);
  }
});

test("framed(): a second framed() reading a Conn with read() while the first does fails with a TypeError", async () => {
  const framing = lengthPrefixed({ width: 1 });
  const { conn } = byobConn(new Uint8Array([1, 65, 1, 66]), [2]);
  const first = framed(conn, framing);
  const second = framed(conn, framing);
  assert.deepEqual((await first[Symbol.asyncIterator]().next()).value, new Uint8Array([65]));
  await assert.rejects(
    second[Symbol.asyncIterator]().next(),
    (e: unknown) => e instanceof TypeError && /readable is locked/.test(e.message),
  );
  // The first reads on: the second took nothing.
  assert.deepEqual((await first[Symbol.asyncIterator]().next()).value, new Uint8Array([66]));
  await first.close();
});

test("framed() after a framing error: reading is over, a later next() is done and reads nothing more", async () => {
  // With and without a frame before the oversized header in the same read.
  for (const before of [[], [0, 0, 0, 1, 65]]) {
    const { conn, feed } = recordingConn();
    const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }));
    const frames = fc[Symbol.asyncIterator]();
    void feed.write(new Uint8Array([...before, 0, 0, 1, 0]));
    if (before.length > 0) assert.deepEqual((await frames.next()).value, new Uint8Array([65]));
    await assert.rejects(frames.next(), FrameTooLargeError);
    void feed.write(new Uint8Array([0, 0, 0, 1, 66])); // bytes after the error are not read
    assert.deepEqual(await frames.next(), { done: true, value: undefined });
    await fc.close();
  }
});

test("framed(): no Conn at all, or one without close() or closeWrite(), is a TypeError that says so, at once or at its first read and send", async () => {
  // Before: undefined and null threw the engine's "Cannot read properties of undefined (reading
  // 'allocate')", and a number, a string or an object without streams was taken, its reads and
  // sends then refused as "its readable is locked" (nothing held it) and its close() a
  // ConnectionError.
  const notConns: [unknown, string][] = [
    [undefined, "undefined"],
    [null, "null"],
    [5, "5"],
    ["c", 'the string "c"'],
  ];
  for (const [conn, shown] of notConns) {
    assert.throws(() => framed(conn as Conn, lines()), {
      name: "TypeError",
      message: `Cannot frame connection as conn must be a Conn: received ${shown}`,
    });
  }
  // A Conn of one's own without close() or closeWrite(): refused at once too. Before, it was
  // taken, and failed only when closing, as a ConnectionError ("Cannot close connection for
  // writing as it failed: this.conn.closeWrite is not a function").
  const streams = { readable: new ReadableStream(), writable: new WritableStream() };
  const noClose: [object, string, string][] = [
    [{ ...streams, close() {} }, "closeWrite", "undefined"],
    [{ ...streams, closeWrite: () => Promise.resolve(), close: true }, "close", "true"],
    [{ ...streams }, "closeWrite", "undefined"],
  ];
  for (const [conn, method, shown] of noClose) {
    assert.throws(() => framed(conn as Conn, lines()), {
      name: "TypeError",
      message: `Cannot frame connection as conn.${method} must be a function: received ${shown}`,
    });
  }
  // Objects without streams (a Conn of one's own missing its readable or writable).
  for (
    const [conn, readable, writable] of [
      [{ close() {}, closeWrite: () => Promise.resolve() }, "undefined", "undefined"],
      [
        { readable: {}, writable: 7, close() {}, closeWrite: () => Promise.resolve() },
        "Object",
        "7",
      ],
    ] as const
  ) {
    const fc = framed(conn as unknown as Conn, lines());
    await assert.rejects(fc[Symbol.asyncIterator]().next(), {
      name: "TypeError",
      message:
        `Cannot read from connection as its readable must be a ReadableStream: received ${readable}`,
    });
    await assert.rejects(fc.send("x"), {
      name: "TypeError",
      message:
        `Cannot send to connection as its writable must be a WritableStream: received ${writable}`,
    });
    // Its readable cancelled before a first read: the same words (before, the engine's "Cannot
    // read properties of undefined (reading 'cancel')" or "....cancel is not a function").
    await assert.rejects(framed(conn as unknown as Conn, lines()).readable.cancel("done"), {
      name: "TypeError",
      message:
        `Cannot read from connection as its readable must be a ReadableStream: received ${readable}`,
    });
  }
});

test("framed(): a second framed() on a Conn may use the direction the first leaves alone; one that sends or reads too fails with a TypeError, no hang", async () => {
  const { conn, writes, feed } = recordingConn();
  // Asymmetric framings: lines one way, length-prefixed the other.
  const sender = framed(conn, lines(), UNTIL_WRITTEN);
  const receiver = framed(conn, lengthPrefixed());
  await sender.send("hi");
  assert.equal(text.decode(concat(writes)), "hi\n");
  feed.write(new Uint8Array([0, 0, 0, 1, 33]));
  const frames = receiver[Symbol.asyncIterator]();
  assert.deepEqual((await frames.next()).value, new Uint8Array([33]));

  const sends: Promise<void>[] = [];
  for (let i = 0; i < 3; i++) sends.push(receiver.send(new Uint8Array(100_000)));
  for (const send of sends) {
    await assert.rejects(
      send,
      (e: unknown) => e instanceof TypeError && /writable is locked/.test(e.message),
    );
  }
  await assert.rejects(receiver.send("later"), TypeError);
  await assert.rejects(
    sender[Symbol.asyncIterator]().next(),
    (e: unknown) => e instanceof TypeError && /readable is locked/.test(e.message),
  );
  await sender.send("still fine");
  assert.equal(text.decode(concat(writes)), "hi\nstill fine\n");
});

test("framed(): a send of any size to a Conn whose writable is held elsewhere is refused at once, before anything is queued", async () => {
  for (const payload of [new Uint8Array(1), "x", new Uint8Array(100_000)]) {
    const { conn, writes } = recordingConn();
    const holder = conn.writable.getWriter();
    const fc = framed(conn, lengthPrefixed());
    const sent = fc.send(payload);
    // Nothing was queued: the send failed in send(), not later in the pump (where a small one
    // used to fail quietly, after counting in bufferedAmount).
    assert.equal(fc.bufferedAmount, 0);
    await assert.rejects(
      sent,
      (e: unknown) => e instanceof TypeError && /writable is locked/.test(e.message),
    );
    // Later sends report it too; the holder's writes still go through.
    await assert.rejects(fc.send("later"), TypeError);
    await holder.write(new Uint8Array([7]));
    assert.deepEqual(concat(writes), new Uint8Array([7]));
    holder.releaseLock();
    await fc.close();
  }
});

test("framed(): of two framed() that send on one Conn in the same tick, the second is refused at once and the first goes out", async () => {
  for (const second of ["from b", new Uint8Array(100_000)]) {
    const { conn, writes } = recordingConn();
    const a = framed(conn, lines(), UNTIL_WRITTEN);
    const b = framed(conn, lines());
    const first = a.send("from a");
    const refused = b.send(second);
    assert.equal(b.bufferedAmount, 0);
    await assert.rejects(
      refused,
      (e: unknown) => e instanceof TypeError && /writable is locked/.test(e.message),
    );
    await first;
    assert.equal(text.decode(concat(writes)), "from a\n");
    await a.close();
  }
});

test("framed(): a write to one framed()'s writable and a send on another in the same tick: the write goes out, the send is refused", async () => {
  const { conn, writes } = recordingConn();
  const a = framed(conn, lines());
  const b = framed(conn, lines());
  const writer = a.writable.getWriter();
  const written = writer.write(new TextEncoder().encode("from a"));
  const refused = b.send("from b");
  await assert.rejects(
    refused,
    (e: unknown) => e instanceof TypeError && /writable is locked/.test(e.message),
  );
  await written;
  await writer.close();
  assert.equal(text.decode(concat(writes)), "from a\n");
});

test("framed(): a payload refused for its size or type leaves the conn's writable free for another framed()", async () => {
  const { conn, writes } = recordingConn();
  const receiver = framed(conn, lengthPrefixed({ maxFrameLength: 4 }));
  await assert.rejects(receiver.send(new Uint8Array(5)), RangeError);
  await assert.rejects(receiver.send(123 as unknown as string), TypeError);
  assert.equal(conn.writable.locked, false);
  const sender = framed(conn, lines(), UNTIL_WRITTEN);
  await sender.send("ok");
  assert.equal(text.decode(concat(writes)), "ok\n");
});

test("framed(): a payload refused after frames went out keeps the conn's writable: another framed() that sends is still refused", async () => {
  const { conn, writes } = recordingConn();
  const first = framed(conn, lengthPrefixed({ maxFrameLength: 4 }), UNTIL_WRITTEN);
  await first.send(new Uint8Array([1, 2]));
  // Written, and nothing queued: only the refused payload below is left of this call.
  await assert.rejects(first.send(new Uint8Array(5)), RangeError);
  assert.equal(conn.writable.locked, true);
  const second = framed(conn, lines());
  await assert.rejects(second.send("no"), TypeError);
  await first.send(new Uint8Array([3]));
  assert.deepEqual(concat(writes), new Uint8Array([0, 0, 0, 2, 1, 2, 0, 0, 0, 1, 3]));
  await first.close();
});

test("framed(): buffered bytes are decoded before anything read from the conn; a non-Uint8Array is a TypeError", async () => {
  const framing = lengthPrefixed();
  const wire = encodeAll(framing, ["one", "two", "three"].map((s) => new TextEncoder().encode(s)));
  for (let cut = 0; cut <= wire.length; cut++) {
    const { conn, feed } = recordingConn();
    const fc = framed(conn, framing, { buffered: wire.slice(0, cut) });
    feed.write(wire.slice(cut));
    feed.close();
    const frames: string[] = [];
    for await (const frame of fc) frames.push(text.decode(frame));
    assert.deepEqual(frames, ["one", "two", "three"], `cut at ${cut}`);
  }
  const { conn } = recordingConn();
  assert.throws(
    () => framed(conn, framing, { buffered: [1, 2] as unknown as Uint8Array }),
    TypeError,
  );
});

test("framed(): buffered bytes whose buffer was transferred are a TypeError; a length-tracking view is taken at the length it has at framed()", async () => {
  const framing = lengthPrefixed();
  const wire = encodeAll(framing, ["one", "two"].map((s) => new TextEncoder().encode(s)));
  const transferred = wire.slice(0, 9);
  transferred.buffer.transfer();
  // Before: taken as no bytes buffered, and the frame in them lost without a word.
  assert.throws(() => framed(recordingConn().conn, framing, { buffered: transferred }), {
    name: "TypeError",
    message: /^Cannot frame connection as the buffer of buffered was detached \(transferred\)/,
  });
  // Grown before the first read (misuse): the bytes it gained were never read from the conn.
  // Before: decoded as the stream's (a TruncatedFrameError of a 25443-byte length made of them).
  const grows = new ArrayBuffer(9, { maxByteLength: 64 });
  new Uint8Array(grows).set(wire.subarray(0, 9));
  const { conn, feed } = recordingConn();
  const fc = framed(conn, framing, { buffered: new Uint8Array(grows) });
  grows.resize(64);
  new Uint8Array(grows).fill(0x63, 9);
  feed.write(wire.slice(9));
  feed.close();
  const frames: string[] = [];
  for await (const frame of fc) frames.push(text.decode(frame));
  assert.deepEqual(frames, ["one", "two"]);
});

test("framed() fails on a chunk that is not a Uint8Array, after the frames before it", async () => {
  const { conn, feed, closedCalls } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  const wire = lengthPrefixed().encode(new Uint8Array([9, 9]));
  void feed.write(wire);
  // A Conn over a WebSocket with binaryType "arraybuffer", say. Before, the chunk was skipped
  // (bytesRead became NaN) and the frames in it were lost.
  void feed.write(wire.slice().buffer as unknown as Uint8Array);
  const frames: Uint8Array[] = [];
  await assert.rejects(
    (async () => {
      for await (const frame of fc) frames.push(frame);
    })(),
    (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, /must be a Uint8Array: received ArrayBuffer/);
      return true;
    },
  );
  assert.deepEqual(frames, [new Uint8Array([9, 9])]);
  assert.equal(fc.bytesRead, wire.length);
  assert.equal(closedCalls(), 1);
});

test("framed(): a send queued behind a writable write is copied when send() would copy it (fixedSize at coalesce)", async () => {
  const wire: number[] = [];
  const conn: Conn = {
    readable: new ReadableStream(),
    writable: new WritableStream({
      write(chunk) {
        wire.push(...chunk);
      },
    }),
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => Promise.resolve(),
    close() {},
    closed: Promise.resolve(),
    releasesChunkOnWrite: true,
  };
  // No header: the frame is exactly coalesce bytes, which send() copies into its send buffer.
  const fc = framed(conn, fixedSize(8), { coalesce: 8 });
  const writer = fc.writable.getWriter();
  void writer.write(new Uint8Array(8).fill(1)); // not taken by the sink yet: the send waits
  const payload = new Uint8Array(8).fill(2);
  const sent = fc.send(payload);
  assert.equal(fc.bufferedAmount, 8); // the queued send (the writable's chunk is not taken yet)

  payload.fill(9); // allowed once send() returned: the frame fits in coalesce
  await sent;
  writer.releaseLock();
  await fc.close();
  // Before: the queued send kept the caller's array, and the changed bytes went out.
  assert.deepEqual(wire, [...new Array(8).fill(1), ...new Array(8).fill(2)]);
  assert.equal(fc.bufferedAmount, 0);
});

/**
 * A framed() over a {@linkcode heldConn} with one frame sent (under highWaterMark: resolved) that
 * the conn took and never writes: a close() that times out loses it.
 */
async function withLostFrame(): Promise<FramedConnection> {
  const { conn, arrived } = heldConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.send("lost");
  await arrived(1);
  return fc;
}

/** "ok" or "rejected", as `p` settles. */
const settledAs = (p: Promise<void>): Promise<string> => p.then(() => "ok", () => "rejected");

/**
 * A Conn whose writes the test completes (or fails) one at a time, as a socket that the peer
 * drains slowly: `arrived(n)` resolves once the sink has taken `n` chunks.
 */
function heldConn(releasesChunkOnWrite = false): {
  conn: Conn;
  chunks: Uint8Array[];
  arrived: (n: number) => Promise<void>;
  complete: () => void;
  failNext: (error: Error) => void;
} {
  const chunks: Uint8Array[] = [];
  const held: { done: () => void; fail: (error: Error) => void }[] = [];
  let waiting: { n: number; resolve: () => void }[] = [];
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((done, fail) => {
        chunks.push(releasesChunkOnWrite ? chunk.slice() : chunk);
        held.push({ done, fail });
        for (const w of waiting.filter((w) => chunks.length >= w.n)) w.resolve();
        waiting = waiting.filter((w) => chunks.length < w.n);
      }),
  });
  return {
    conn: { ...recordingConn().conn, writable, releasesChunkOnWrite },
    chunks,
    arrived: (n) =>
      chunks.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push({ n, resolve })),
    complete: () => held.shift()!.done(),
    failNext: (error) => held.shift()!.fail(error),
  };
}

/**
 * Lets every microtask queued so far run, and those they queue (settled promises run their
 * callbacks): a macrotask barrier (see macrotask()), not a count of turns, so that a "still
 * pending" read after it cannot pass because the runtime needed more turns than counted.
 */
function turns(): Promise<void> {
  return macrotask();
}

/** The state of `promise`, read after the callbacks ran (see `turns()`). */
function watch(promise: Promise<unknown>): () => "pending" | "ok" | "rejected" {
  let state: "pending" | "ok" | "rejected" = "pending";
  promise.then(() => state = "ok", () => state = "rejected");
  return () => state;
}

test(
  "framed() closeWrite() with a framing error handed over resolves once the frames sent before it are written, called before the error or after",
  { timeout: 10_000 },
  async () => {
    // As its doc says (fcf9f88): not a failure of the application's own; the connection ends once
    // what was sent before went out. Before, only a closeWrite() with nothing left to write was
    // tried.
    for (const callFirst of [true, false]) {
      const { conn: recording, feed } = recordingConn();
      const held = heldConn();
      const conn: Conn = { ...recording, writable: held.conn.writable };
      const events: string[] = [];
      const closed = closeCalled(conn).then(() => events.push("closed"));
      const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }), UNTIL_WRITTEN);
      const early = fc.send("early").then(() => events.push("sent"));
      await held.arrived(1); // its write is under way, held
      let closingWrite = callFirst ? fc.closeWrite() : undefined;
      feed.write(new Uint8Array([0, 0, 1, 0]));
      await assert.rejects(async () => {
        for await (const _ of fc) { /* none */ }
      }, FrameTooLargeError);
      closingWrite ??= fc.closeWrite();
      const wrote = closingWrite.then(() => events.push("closeWrite"));
      await turns();
      assert.deepEqual(events, [], `called first: ${callFirst}`);
      held.complete();
      await Promise.all([early, wrote, closed]);
      assert.deepEqual(events.slice(0, 1), ["sent"], `called first: ${callFirst}`);
      assert.deepEqual(
        events.slice(1).sort(),
        ["closeWrite", "closed"],
        `called first: ${callFirst}`,
      );
      await assert.rejects(fc.send("late"), FrameTooLargeError);
      await fc.close();
    }
  },
);

test("framed() send() resolves at once while at most highWaterMark bytes wait, later ones once written down to it", async () => {
  const { conn, chunks, arrived, complete } = heldConn(true);
  // coalesce 0: one write per frame; a 10-byte payload is 14 bytes queued.
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 28 });
  const sends = [1, 2, 3, 4].map((i) => watch(fc.send(new Uint8Array(10).fill(i))));
  await turns();
  // 14 and 28 bytes queued: no more than highWaterMark; the third and fourth are over it.
  assert.deepEqual(sends.map((s) => s()), ["ok", "ok", "pending", "pending"]);
  assert.equal(fc.bufferedAmount, 56);
  await arrived(1);
  complete(); // 42 bytes wait: the third frame and those before it are down to 28
  await turns();
  assert.deepEqual(sends.map((s) => s()), ["ok", "ok", "ok", "pending"]);
  // The other three frames went to the socket together: written is counted once the last is.
  for (let i = 2; i <= 4; i++) {
    await arrived(i);
    complete();
  }
  await turns();
  assert.deepEqual(sends.map((s) => s()), ["ok", "ok", "ok", "ok"]);
  await fc.close();
  assert.deepEqual(chunks.map((c) => c[4]), [1, 2, 3, 4]);
});

test("framed() send() of a payload written as it is resolves once written, whatever highWaterMark; sends after it wait for it", async () => {
  const { conn, arrived, complete } = heldConn(true);
  const fc = framed(conn, lengthPrefixed(), { coalesce: 1024 });
  const order: string[] = [];
  const sent = fc.send(new Uint8Array(2000)).then(() => order.push("big")); // over coalesce
  const after = fc.send("after").then(() => order.push("after"));
  const [big, small] = [watch(sent), watch(after)];
  await turns();
  // 2009 bytes queued, under highWaterMark (1 MiB): the large payload is not copied, so its
  // send waits for its write, and the send after it for it.
  assert.deepEqual([big(), small()], ["pending", "pending"]);
  for (let i = 1; i <= 3; i++) {
    // The header, the payload itself, the small frame.
    await arrived(i);
    if (i <= 2) assert.equal(big(), "pending"); // its bytes are not all written yet
    complete();
  }
  await Promise.all([sent, after]);
  assert.deepEqual(order, ["big", "after"]);
  await fc.close();
});

test("framed(): a loop that awaits each send() still coalesces its frames into few writes", async () => {
  for (const [options, most] of [[{}, 1], [UNTIL_WRITTEN, 1000]] as const) {
    const { conn, writes } = recordingConn();
    const fc = framed(conn, lengthPrefixed(), options);
    for (let i = 0; i < 1000; i++) await fc.send(`message ${i}`);
    await fc.close();
    // By default the sends resolve while queued and go out together; resolved only once
    // written, each one is a write of its own.
    assert.equal(writes.length, most, JSON.stringify(options));
    const decoder = lengthPrefixed().decoder();
    decoder.push(concat(writes));
    for (let i = 0; i < 1000; i++) assert.equal(text.decode(decoder.next()), `message ${i}`);
  }
});

test("framed() send() that joins the send buffer of a waiting send still waits while more than highWaterMark bytes wait", async () => {
  const { conn, arrived, complete } = heldConn(true);
  const fc = framed(conn, lengthPrefixed(), { coalesce: 1024, highWaterMark: 100 });
  const first = fc.send(new Uint8Array(300)); // 304 bytes: over highWaterMark, waits
  await arrived(1);
  const second = watch(fc.send(new Uint8Array(10))); // behind it, in the next send buffer
  complete(); // the first frame is written
  await first;
  // Joins the send buffer the second one waits in: 318 bytes wait, over highWaterMark.
  const third = watch(fc.send(new Uint8Array(300)));
  assert.equal(fc.bufferedAmount, 318);
  await turns();
  assert.equal(third(), "pending");
  assert.equal(second(), "pending");
  // The third send joins that buffer if it comes before the buffer is flushed (a few microtask
  // turns, so it depends on the runtime); either way, complete every write close() makes.
  let closed = false;
  const closing = fc.close().then(() => closed = true);
  for (let n = 2; !closed; n++) {
    await Promise.race([arrived(n), closing]);
    if (!closed) complete();
  }
  assert.deepEqual([second(), third()], ["ok", "ok"]);
});

test("framed() close() rejects for lost frames on every path a send or write resolves by", async () => {
  const cases: [
    string,
    FramedOptions,
    (fc: FramedConnection, step: () => Promise<void>) => Promise<void>,
  ][] = [
    // A writable write resolves once queued; its frame, written as it is, is lost.
    ["writable write", { coalesce: 1024 }, async (fc) => {
      await fc.writable.getWriter().write(new Uint8Array(2000));
    }],
    // A send that waited for highWaterMark resolves once the frame before it is written.
    ["send resolved by a write", { coalesce: 1024, highWaterMark: 100 }, async (fc, step) => {
      fc.send(new Uint8Array(300));
      await turns(); // out in a write of its own
      const sent = fc.send(new Uint8Array(50));
      await turns();
      await step(); // the 304 bytes are written: 54 wait, under highWaterMark
      await sent;
    }],
    // A writable write that waited for highWaterMark resolves once the queue drained to it.
    ["writable write resolved by draining", { coalesce: 1024, highWaterMark: 100 }, async (
      fc,
      step,
    ) => {
      fc.send(new Uint8Array(300));
      await turns();
      const written = fc.writable.getWriter().write(new Uint8Array(50));
      await turns();
      await step();
      await written;
    }],
  ];
  for (const [name, options, run] of cases) {
    const { conn, arrived, complete, failNext } = heldConn(true);
    const fc = framed(conn, lengthPrefixed(), options);
    let n = 0;
    await run(fc, async () => {
      await arrived(++n);
      complete();
    });
    // The next write fails: frames whose sends or writes resolved are lost.
    await arrived(n + 1);
    failNext(new Error("EPIPE"));
    await assert.rejects(fc.close(), ConnectionError, name);
  }
});

test("framed() close() counts what was written before a write failed: nothing lost, no rejection", async () => {
  const { conn, arrived, complete, failNext } = heldConn(true);
  const fc = framed(conn, lengthPrefixed());
  const first = fc.send("x");
  await arrived(1);
  // Queued while "x" is being written: "a" (copied) and a payload written as it is.
  const a = watch(fc.send("a"));
  const big = fc.send(new Uint8Array(300_000));
  big.catch(() => {});
  complete();
  await first;
  await arrived(2); // "a", in the same batch of writes as the large frame
  complete();
  await arrived(3);
  failNext(new Error("ECONNRESET")); // the large frame's header
  await assert.rejects(big, ConnectionError);
  assert.equal(a(), "ok");
  // Every frame whose send resolved reached the socket; the failure was shown by the large
  // frame's send.
  await fc.close();
});

test("framed() close() ends quietly once the application saw the failure or gave up", async () => {
  const shown: Record<string, (fc: FramedConnection) => Promise<void>> = {
    "a later send rejected": async (fc) => {
      await assert.rejects(fc.send("later"), ConnectionError);
    },
    "closeWrite() rejected": async (fc) => {
      await assert.rejects(fc.closeWrite(), ConnectionError);
    },
    "the writable was aborted": async (fc) => {
      await fc.writable.abort(new Error("give up")).catch(() => {});
    },
    "a writable write rejected": async (fc) => {
      await assert.rejects(fc.writable.getWriter().write(new Uint8Array(1)), ConnectionError);
    },
  };
  for (const [name, show] of Object.entries(shown)) {
    const { conn, fail } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    fail(new Error("EPIPE"));
    await fc.send("lost"); // resolves at once: queued under highWaterMark
    await turns(); // the write fails
    await show(fc);
    await fc.close().catch((error) => assert.fail(`${name}: ${error}`));
  }
});

test("framed() close() rejects when the promises that carried the failure were never waited on", async () => {
  // Unawaited sends, the last ones over highWaterMark: they reject quietly, nothing showed the
  // failure, and the frames of the first ones, whose sends resolved, are lost.
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), { highWaterMark: 100 });
  fail(new Error("EPIPE"));
  for (let i = 0; i < 5; i++) fc.send(new Uint8Array(40));
  await turns();
  await assert.rejects(fc.close(), ConnectionError);
  // A closeWrite() left unawaited: close() reports, and nothing is an unhandled rejection.
  const other = recordingConn();
  const fc2 = framed(other.conn, lengthPrefixed());
  other.fail(new Error("EPIPE"));
  await fc2.send("lost");
  fc2.closeWrite();
  await assert.rejects(fc2.close(), ConnectionError);
});

test("framed() after a failed read: later sends reject with its error; close() is quiet about frames promised before", async () => {
  for (const sendAfterRead of [false, true]) {
    const { conn, fail, feed } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    if (!sendAfterRead) await fc.send("before"); // promised before the read failed
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    feed.abort(reset);
    await assert.rejects(fc[Symbol.asyncIterator]().next(), ConnectionError);
    fail(new Error("EPIPE"));
    if (sendAfterRead) {
      // Before: it resolved (below highWaterMark), its write failed later and the frame was lost;
      // only close() said so.
      await assert.rejects(fc.send("after"), (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.cause, reset);
        return true;
      });
    }
    await turns();
    await fc.close();
  }
});

test("framed() after a failed read: a send on its way settles as its write does, and a Conn whose reading failed otherwise still sends", async () => {
  // The diff review of the change above: it rejected a send whose frame was being written (and
  // went out: an application resending on rejection would send it twice), and took the write
  // side of a Conn whose readable failed with an error of its own.
  const held = heldConn();
  let reads!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (reads = c) });
  const fc = framed({ ...held.conn, readable }, lengthPrefixed(), { highWaterMark: 0 });
  const sending = watch(fc.send("on its way"));
  await held.arrived(1);
  reads.error(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  await assert.rejects(fc[Symbol.asyncIterator]().next(), { code: "CONNECTION_RESET" });
  await turns();
  assert.equal(sending(), "pending", "its write is still in progress");
  held.complete();
  await turns();
  assert.equal(sending(), "ok");
  await assert.rejects(fc.send("after"), { code: "CONNECTION_RESET" }); // a new one fails at once
  assert.equal(held.chunks.length, 1);
  const other = recordingConn();
  const fc2 = framed(other.conn, lengthPrefixed());
  other.feed.abort(new Error("a reader of its own gave up"));
  await assert.rejects(fc2[Symbol.asyncIterator]().next(), { code: "CONNECTION_FAILED" });
  await fc2.send("still goes out");
  await fc2.close();
  assert.ok(other.writes.length > 0);
});

test("framed() after a failed read: a send waiting on highWaterMark resolves only if its frame is written; a queued one rejects quietly", async () => {
  // The last diff review of bfff316: the waiting send resolved by the highWaterMark rule after the
  // application had seen the reset, and its frame was then lost; and a send queued behind writable
  // writes rejected loudly (an unhandled rejection, which ends a Deno or Node process).
  const held = heldConn();
  let reads!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (reads = c) });
  const fc = framed({ ...held.conn, readable }, lengthPrefixed(), {
    coalesce: 0,
    highWaterMark: 20,
  });
  const a = watch(fc.send(new Uint8Array(10)));
  const b = watch(fc.send(new Uint8Array(10)));
  await held.arrived(1);
  reads.error(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  await assert.rejects(fc[Symbol.asyncIterator]().next(), { code: "CONNECTION_RESET" });
  held.complete(); // a's frame written
  await turns();
  assert.deepEqual([a(), b()], ["ok", "pending"], "b waits for its own write now");
  held.failNext(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })); // b's frame lost
  await turns();
  assert.equal(b(), "rejected");
  await fc.close();

  const other = heldConn();
  let otherReads!: ReadableStreamDefaultController<Uint8Array>;
  const otherReadable = new ReadableStream<Uint8Array>({ start: (c) => void (otherReads = c) });
  const fc2 = framed({ ...other.conn, readable: otherReadable }, lengthPrefixed());
  const writer = fc2.writable.getWriter();
  void writer.write(new Uint8Array(1)).catch(() => {}); // held: later sends queue behind it
  const queued = fc2.send("queued before the reset"); // left unawaited below
  otherReads.error(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  await assert.rejects(fc2[Symbol.asyncIterator]().next(), { code: "CONNECTION_RESET" });
  const after = fc2.send("queued after the reset"); // left unawaited too
  await turns();
  other.complete();
  await turns();
  void queued;
  void after;
  writer.releaseLock();
  await fc2.close().catch(() => {});
  await turns();
  // An unhandled rejection would fail this test (all three test runners report them).
});

test("framed() closeWrite() promises left unawaited raise no unhandled rejection, however many and whenever", async () => {
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  fail(new Error("EPIPE"));
  await fc.send("a");
  fc.closeWrite(); // left unawaited
  await assert.rejects(fc.closeWrite(), ConnectionError); // a second call, awaited
  const closing = fc.close(); // quiet: the awaited closeWrite() showed the failure
  fc.closeWrite(); // during close(), left unawaited
  await closing;
  fc.closeWrite(); // after it
  await turns();
  // An unhandled rejection would fail this test (all three test runners report them).
});

test("framed() close() that rejected once ends quietly the next time (as await using calls it again)", async () => {
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  fail(new Error("EPIPE"));
  await fc.send("lost");
  await turns();
  await assert.rejects(fc.close(), ConnectionError);
  await fc.close();
});

test("framed() [Symbol.asyncDispose]() is close(): it flushes, closes the conn, and reports a loss", async () => {
  const { conn, writes, closedCalls } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  void fc.send("a");
  await fc[Symbol.asyncDispose]();
  assert.deepEqual(concat(writes), new Uint8Array([1, 97]));
  assert.equal(closedCalls(), 1);
  const other = recordingConn();
  const lossy = framed(other.conn, lengthPrefixed());
  other.fail(new Error("EPIPE"));
  await lossy.send("lost");
  await turns();
  await assert.rejects(async () => await lossy[Symbol.asyncDispose](), ConnectionError);
});

test(
  "framed() send() left unawaited: a refused payload is an unhandled rejection, a send after a failure is not",
  {
    timeout: 30_000,
  },
  async () => {
    // In a child process: an unhandled rejection would fail this test itself.
    const script = fileURLToPath(new URL("./_unawaited_send_child.ts", import.meta.url));
    for (const mode of ["refused", "failed"]) {
      // Killed after 20 s, and in any case before runCli() returns.
      const { code, stdout, stderr } = await runCli([mode], { script });
      const out = stdout + stderr;
      assert.match(stdout, /sent/, out);
      if (mode === "refused") {
        assert.notEqual(code, 0, `a refused payload's rejection was quiet: ${out}`);
        assert.match(out, /exceeds maxFrameLength/, out);
      } else assert.equal(code, 0, out);
    }
  },
);

test("framed() keeps its first failure: a later abort of writable does not replace the error sends reject with", async () => {
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed(), UNTIL_WRITTEN);
  fail(new Error("EPIPE"));
  const first = await fc.send("lost").then(() => undefined, (error: unknown) => error);
  assert.ok(first instanceof ConnectionError, `${first}`);
  await fc.writable.abort(new Error("gave up")).catch(() => {});
  await assert.rejects(fc.send("later"), (error: unknown) => error === first);
  await assert.rejects(fc.closeWrite(), (error: unknown) => error === first);
  await fc.close();
});

test("framed() a send coalesced into one write with earlier sends resolves only once its own bytes are within highWaterMark", async () => {
  const { conn, arrived, complete } = heldConn(true);
  const fc = framed(conn, lengthPrefixed(), { coalesce: 100, highWaterMark: 20 });
  const a = watch(fc.send(new Uint8Array(60))); // 64 bytes: waits until 44 are written
  await arrived(1);
  // One write of 48 bytes behind the first: b alone could go once 58 bytes are written, c once
  // 92 are. (They share a promise, which waits for c: not pinned here, only that c waits.)
  const b = watch(fc.send(new Uint8Array(10)));
  const c = watch(fc.send(new Uint8Array(30)));
  await turns();
  assert.deepEqual([a(), b(), c()], ["pending", "pending", "pending"]);
  complete(); // 64 bytes written: 48 wait, more than highWaterMark
  await turns();
  // c's bytes are not within highWaterMark yet (b's are: whether b resolves now is not pinned).
  assert.deepEqual([a(), c()], ["ok", "pending"]);
  await arrived(2);
  complete();
  await turns();
  assert.deepEqual([a(), b(), c()], ["ok", "ok", "ok"]);
  await fc.close();
});

test("framed() a payload refused behind writable writes does not count as seeing the connection's failure", async () => {
  // Its send rejects with the framing's error, not the connection's: close() still reports the
  // frames lost when the write failed.
  const { conn, fail } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }));
  fail(new Error("EPIPE"));
  const writer = fc.writable.getWriter();
  const written = writer.write(new Uint8Array(5)); // resolves: its frame is lost below
  const refused = fc.send(new Uint8Array(11)); // behind the write, refused once it goes on
  await assert.rejects(refused, RangeError);
  await written;
  await turns(); // the write fails
  writer.releaseLock();
  await assert.rejects(fc.close(), ConnectionError);
});

test("framed() after a failed read: reading is over, a later next() is done and reads nothing more", async () => {
  const { conn, feed } = recordingConn();
  let reads = 0;
  const source = conn.readable.getReader();
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reads++;
      const { done, value } = await source.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  }, { highWaterMark: 0 });
  const fc = framed({ ...conn, readable }, lengthPrefixed());
  const frames = fc[Symbol.asyncIterator]();
  void feed.abort(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  await assert.rejects(frames.next(), { code: "CONNECTION_RESET" });
  const before = reads;
  assert.deepEqual(await frames.next(), { done: true, value: undefined });
  assert.equal(reads, before, "the conn was not read again");
  await fc.close();
});

test("framed() readable after a for-await that stopped inside a batch hands over the frames left before reading on", async () => {
  const fc = await leftInBatch();
  const reader = fc.readable.getReader();
  assert.equal(text.decode((await reader.read()).value), "B");
  await turns();
  assert.equal(fc.bytesRead, 6, "D was not read: the frames left came first, in their own pull");
  assert.equal(text.decode((await reader.read()).value), "C");
  assert.equal(text.decode((await reader.read()).value), "D");
  assert.equal((await reader.read()).done, true);
  assert.equal(fc.bytesRead, 8);
});

test("framed() close() waiting for writes still in writable ends when the connection fails", {
  timeout: 5000,
}, async () => {
  const { conn, arrived, failNext } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 0 });
  const writer = fc.writable.getWriter();
  const waiting = writer.write(new Uint8Array(10)); // its frame is being written
  waiting.catch(() => {});
  await arrived(1);
  const queued = writer.write(new Uint8Array(10)); // waits in the writable
  queued.catch(() => {});
  const closing = fc.close(); // flushes: waits for the writable to hand `queued` on
  await turns();
  failNext(new Error("EPIPE"));
  await assert.rejects(waiting, ConnectionError);
  await closing; // the application saw the failure (its write rejected): nothing to report
});

test("framed() send() behind writable writes refuses what a direct send refuses: no Uint8Array, a detached buffer", async () => {
  const detached = new Uint8Array(4);
  detached.buffer.transfer();
  const cases: [unknown, RegExp][] = [
    [[1, 2], /the payload must be a Uint8Array/],
    [detached, /buffer was detached \(transferred\)/],
  ];
  for (const [payload, message] of cases) {
    const { conn, writes } = recordingConn();
    const fc = framed(conn, lengthPrefixed({ width: 1 }));
    const writer = fc.writable.getWriter();
    const written = writer.write(new Uint8Array([7])); // not taken yet: the send waits behind it
    await assert.rejects(fc.send(payload as Uint8Array), (e: unknown) => {
      assert.ok(e instanceof TypeError, `${e}`);
      assert.match(e.message, message);
      return true;
    });
    await written;
    writer.releaseLock();
    await fc.close();
    assert.deepEqual(concat(writes), new Uint8Array([1, 7]));
  }
});

test("framed() a read that fails one byte into a frame is a TruncatedFrameError caused by the failure", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  const next = fc[Symbol.asyncIterator]().next();
  await feed.write(new Uint8Array([0])); // read: one byte of a length prefix
  await turns();
  const reset = new ConnectionError("Connection reset", { code: "CONNECTION_RESET" });
  void feed.abort(reset);
  await assert.rejects(next, (e: unknown) => {
    assert.ok(e instanceof TruncatedFrameError, `${e}`);
    assert.equal(e.cause, reset);
    return true;
  });
  await fc.close();
});

test("framed() close() reports no loss once a writable write waiting on highWaterMark rejected with the failure", async () => {
  const { conn, arrived, failNext } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 20 });
  await fc.send("lost"); // 8 bytes: resolves at once, its write is held
  await arrived(1);
  const writer = fc.writable.getWriter();
  const waiting = writer.write(new Uint8Array(30)); // over highWaterMark: waits
  await turns();
  failNext(new Error("EPIPE")); // "lost" is lost
  await assert.rejects(waiting, ConnectionError);
  writer.releaseLock();
  await fc.close(); // the write showed the failure
});

test("framed() close({ timeout }) that flushed in time clears its timer", async () => {
  const { conn } = recordingConn();
  const fc = framed(conn, lengthPrefixed());
  await fc.send("a");
  const timers = spyTimers();
  let left: number;
  try {
    await fc.close({ timeout: 60_000 });
    left = timers.pending.size;
  } finally {
    timers.restore();
  }
  assert.equal(left, 0, "the timer outlived close()");
});

test("framed() writable: writer.ready waits while a write waits on highWaterMark", async () => {
  const { conn, arrived, complete } = heldConn();
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 10 });
  const writer = fc.writable.getWriter();
  const written = writer.write(new Uint8Array(20)); // over highWaterMark: waits until written
  await arrived(1);
  await turns();
  const ready = watch(writer.ready);
  await turns();
  assert.equal(ready(), "pending");
  complete();
  await written;
  await writer.ready;
  writer.releaseLock();
  await fc.close();
});

test("framed() closeWrite() resolves once the conn's closeWrite() has", async () => {
  let halfClosed: (() => void) | undefined;
  const { conn } = recordingConn();
  const fc = framed({
    ...conn,
    closeWrite: () => new Promise<void>((resolve) => halfClosed = resolve),
  }, lengthPrefixed());
  await fc.send("a");
  const closing = watch(fc.closeWrite());
  await turns();
  assert.ok(halfClosed !== undefined, "the conn's closeWrite() was called");
  assert.equal(closing(), "pending");
  halfClosed();
  await turns();
  assert.equal(closing(), "ok");
  await fc.close();
});

test("framed() with highWaterMark 0: a send whose frame was written before a later write failed resolves", async () => {
  const { conn, arrived, complete, failNext } = heldConn(true);
  const fc = framed(conn, lengthPrefixed(), { highWaterMark: 0 });
  const first = fc.send("x");
  await arrived(1);
  const a = watch(fc.send("a"));
  const big = fc.send(new Uint8Array(300_000)); // written as it is: header, payload
  big.catch(() => {});
  complete();
  await first;
  await arrived(2); // "a", in one batch of writes with the large frame
  complete();
  await arrived(3);
  failNext(new Error("ECONNRESET"));
  await assert.rejects(big, ConnectionError);
  await turns();
  assert.equal(a(), "ok");
  await fc.close(); // the failure was seen through `big`
});

test("framed() close() rejects when frames whose sends had resolved were lost, not when their sends rejected", async () => {
  for (const options of [{}, UNTIL_WRITTEN]) {
    const { conn, fail } = recordingConn();
    const fc = framed(conn, lengthPrefixed(), options);
    fail(new Error("EPIPE"));
    const sent = watch(fc.send("lost"));
    await turns();
    if (options === UNTIL_WRITTEN) {
      // Rejected: the application knows; close() ends quietly.
      await fc.close();
      assert.equal(sent(), "rejected");
    } else {
      assert.equal(sent(), "ok");
      await assert.rejects(fc.close(), (error) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal((error.cause as Error).message, "EPIPE");
        return true;
      });
    }
  }
});

test("framed() writable: a write waits once more than highWaterMark bytes are queued, and goes on at highWaterMark", async () => {
  const { conn, arrived, complete } = heldConn();
  // coalesce 0: every frame is its own write; one 100-byte payload is 104 bytes queued.
  const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 104 });
  const writer = fc.writable.getWriter();
  const done: string[] = [];
  const first = writer.write(new Uint8Array(100)).then(() => done.push("first"));
  await arrived(1);
  await turns();
  // Exactly highWaterMark bytes queued: not over it, the write is done.
  assert.deepEqual(done, ["first"]);
  const second = writer.write(new Uint8Array(100)).then(() => done.push("second"));
  await turns();
  assert.deepEqual(done, ["first"], "208 bytes queued: the second write waits");
  complete(); // the first frame is written: 104 bytes queued again, no more than highWaterMark
  await arrived(2);
  await turns();
  assert.deepEqual(done, ["first", "second"]);
  complete();
  await Promise.all([first, second]);
  await turns();
  // Both written: a third write is within highWaterMark again, done while its frame waits.
  const third = writer.write(new Uint8Array(100)).then(() => done.push("third"));
  await arrived(3);
  await turns();
  assert.deepEqual(done, ["first", "second", "third"]);
  complete();
  await third;
  writer.releaseLock();
  await fc.close();
});

test(
  "framed(): when the connection fails, a write waiting on highWaterMark and a send queued behind writable writes reject",
  {
    timeout: 5000,
  },
  async () => {
    const { conn, arrived, failNext } = heldConn();
    const fc = framed(conn, lengthPrefixed(), { coalesce: 0, highWaterMark: 0 });
    const writer = fc.writable.getWriter();
    const outcome = (p: Promise<void>): Promise<unknown> => p.then(() => "ok", (e) => e);
    const waiting = outcome(writer.write(new Uint8Array(10))); // over highWaterMark: waits
    await arrived(1);
    const queued = outcome(writer.write(new Uint8Array(10))); // waits in the writable
    const sent = outcome(fc.send("after the writes")); // held behind them
    const cause = new Error("EPIPE");
    failNext(cause);
    // Every one settles: none is left waiting for a drain or a write that never comes.
    for (const result of [await waiting, await sent, await queued]) {
      assert.ok(result instanceof ConnectionError, String(result));
      assert.equal(result.cause, cause);
    }
    await fc.close();
  },
);

test("framed() closeWrite() rejects once the connection failed, and does not half-close", async () => {
  const { conn, fail } = recordingConn();
  let halfClosed = false;
  const fc = framed({
    ...conn,
    closeWrite: () => {
      halfClosed = true;
      return Promise.resolve();
    },
  }, lengthPrefixed());
  const cause = new Error("EPIPE");
  fail(cause);
  fc.send("lost"); // unawaited: the failure shows in closeWrite()
  await assert.rejects(fc.closeWrite(), (error) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.cause, cause);
    return true;
  });
  assert.equal(halfClosed, false);
  // The send had resolved, but closeWrite() told of the failure: close() ends quietly.
  await fc.close();
});

test("framed() closeWrite() gives the conn's writable back first, for a Conn whose closeWrite() closes it", async () => {
  // The loopback Conn of framed()'s own example.
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const conn: Conn = {
    readable,
    writable,
    localAddr: addr,
    remoteAddr: addr,
    closeWrite: () => writable.close(),
    close() {},
    closed: Promise.resolve(),
  };
  const fc = framed(conn, lengthPrefixed());
  fc.send("ping");
  const closing = fc.closeWrite();
  const got: string[] = [];
  for await (const frame of fc) got.push(text.decode(frame));
  await closing; // a TypeError if the writable were still locked
  assert.deepEqual(got, ["ping"]);
  assert.equal(conn.writable.locked, false);
});

test("framed() close() ends a read waiting meanwhile cleanly, inside a frame too, whether conn.close() ends or errors its readable", async () => {
  for (const how of ["end", "error"] as const) {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const conn: Conn = {
      ...recordingConn().conn,
      readable,
      close() {
        if (how === "end") controller.close();
        else controller.error(new Error("closed"));
      },
    };
    const fc = framed(conn, lengthPrefixed());
    controller.enqueue(new Uint8Array([0, 0, 0, 9, 1, 2])); // part of a frame
    const next = fc[Symbol.asyncIterator]().next();
    await turns(); // the part is read; the read waits for the rest
    await fc.close();
    // Not a TruncatedFrameError (or ConnectionError), as if the peer had gone.
    assert.deepEqual(await next, { done: true, value: undefined }, how);
  }
});

test("framed() close() or a cancelled readable ends reading cleanly when a framing error came in the same read as the frames before it", async () => {
  // A frame and an oversized header in one read: the error is held back until the frame was
  // handed over. Before, a read after close() (or after the readable was cancelled) still threw
  // it, and sends then rejected with it (the connection closed itself after a cancel), whereas
  // the same error in a later read ended reading cleanly: which it was is chance.
  for (const how of ["close", "cancel"] as const) {
    // The same readable after close(); a cancelled one has ended.
    const frontEnds = how === "close"
      ? ["batches", "for-await", "readable"] as const
      : ["batches", "for-await"] as const;
    for (const frontEnd of frontEnds) {
      const label = `${how}, ${frontEnd}`;
      const { conn, feed, writes, closedCalls } = recordingConn();
      const fc = framed(conn, lengthPrefixed({ maxFrameLength: 100 }), UNTIL_WRITTEN);
      void feed.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 1, 0])); // "A", then 256 bytes
      const reader = fc.readable.getReader();
      const first = await reader.read(); // the readable takes the batch: "A"
      assert.deepEqual(first, { done: false, value: new Uint8Array([65]) }, label);
      if (how === "close") await fc.close();
      else await reader.cancel("done reading");
      let end: unknown;
      try {
        if (frontEnd === "batches") end = await fc.batches()[Symbol.asyncIterator]().next();
        else if (frontEnd === "for-await") end = await fc[Symbol.asyncIterator]().next();
        else end = await reader.read();
      } catch (error) {
        end = error;
      }
      assert.deepEqual(end, { done: true, value: undefined }, label);
      if (how === "close") {
        await assert.rejects(fc.send("late"), { code: "CONNECTION_CLOSED" }, label);
      } else {
        // Cancelling keeps the write direction.
        await fc.send("reply");
        assert.equal(writes.length, 1, label);
        assert.equal(closedCalls(), 0, label);
        await fc.close();
      }
    }
  }
});

/**
 * A recording conn whose close() ends its readable after the chunks it holds, as the Node and Bun
 * adapters read ahead: bytes fed before a close are there to be dropped.
 */
function readAheadConn(): ReturnType<typeof recordingConn> {
  const recorded = recordingConn();
  recorded.conn.close = () => void recorded.feed.close().catch(() => {});
  return recorded;
}

/** Frames A, B and C (one-byte lengths) in one read, as the Deno adapter reads, or in three. */
const ABC_READS = [[[1, 65, 1, 66, 1, 67]], [[1, 65], [1, 66], [1, 67]]];

test("framed() after close() or writable.abort(), frames the conn had read ahead are not read", {
  timeout: 10_000,
}, async () => {
  for (const how of ["close", "timeout", "abort"] as const) {
    const { conn, feed } = readAheadConn();
    const fc = framed(conn, lengthPrefixed());
    void feed.write(lengthPrefixed().encode(new TextEncoder().encode("early")));
    await turns();
    if (how === "close") await fc.close();
    else if (how === "timeout") await fc.close({ timeout: 0 });
    else await fc.writable.getWriter().abort(new Error("gave up"));
    const frames: string[] = [];
    for await (const frame of fc) frames.push(text.decode(frame));
    // Before, "early" was read (the Deno adapter's read() ended at once: reading differed).
    assert.deepEqual(frames, [], how);
  }
});

/** A framed() whose `for await` took A and stopped inside the batch A, B, C; D comes next. */
async function leftInBatch(): Promise<FramedConnection> {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  feed.write(new Uint8Array([1, 65, 1, 66, 1, 67]));
  for await (const frame of fc) {
    assert.equal(text.decode(frame), "A");
    break;
  }
  feed.write(new Uint8Array([1, 68]));
  feed.close();
  return fc;
}

test("framed() batches() after a for-await that stopped inside a batch starts with the frames left in it", async () => {
  const batches: string[][] = [];
  for await (const batch of (await leftInBatch()).batches()) {
    batches.push(batch.map((f) => text.decode(f)));
  }
  assert.deepEqual(batches, [["B", "C"], ["D"]]);
});

test("framed() batches() after a for-await that stopped at the end of a batch gets the next batch, not an empty one", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  void feed.write(new Uint8Array([1, 65, 1, 66]));
  const looped: string[] = [];
  for await (const frame of fc) {
    looped.push(text.decode(frame));
    if (looped.length === 2) break; // the last frame of the batch
  }
  void feed.write(new Uint8Array([1, 67]));
  void feed.close();
  const batches: string[][] = [];
  for await (const batch of fc.batches()) batches.push(batch.map((f) => text.decode(f)));
  assert.deepEqual([looped, batches], [["A", "B"], [["C"]]]);
});

test("framed() batches(): a next() made once an earlier one resolved, while others wait, is answered after them", async () => {
  const { conn, feed } = recordingConn();
  const fc = framed(conn, lengthPrefixed({ width: 1 }));
  const iterator = fc.batches()[Symbol.asyncIterator]();
  const names = (r: IteratorResult<Uint8Array[]>): string[] =>
    (r.value as Uint8Array[]).map((f) => text.decode(f));
  const calls = [iterator.next(), iterator.next(), iterator.next()];
  await feed.write(new Uint8Array([1, 65]));
  assert.deepEqual(names(await calls[0]!), ["A"]);
  // Two calls still wait, one per read: this one comes after them.
  calls.push(iterator.next());
  for (const frame of ["B", "C", "D"]) await feed.write(new Uint8Array([1, frame.charCodeAt(0)]));
  const got: string[] = [];
  for (const call of calls.slice(1)) got.push(...names(await call));
  assert.deepEqual(got, ["B", "C", "D"]);
  await fc.close();
});

test(
  "framed() close() inside a for-await drops the frames left in the batch, as it drops bytes read ahead",
  {
    timeout: 10_000,
  },
  async () => {
    // A, B and C in one read (as the Deno adapter reads what has arrived) or in three (as the
    // Node and Bun adapters read them as they arrive): after close(), the loop gets no more. Before,
    // B and C of the single read were still handed over, and the outcome depended on the reads.
    for (const reads of ABC_READS) {
      const { conn, feed } = readAheadConn();
      const fc = framed(conn, lengthPrefixed({ width: 1 }));
      for (const bytes of reads) void feed.write(new Uint8Array(bytes));
      await turns();
      const frames: string[] = [];
      for await (const frame of fc) {
        frames.push(text.decode(frame));
        await fc.close();
      }
      assert.deepEqual(frames, ["A"], `${reads.length} reads`);
      const batches: string[][] = [];
      for await (const batch of fc.batches()) batches.push(batch.map((f) => text.decode(f)));
      assert.deepEqual(batches, []);
    }
  },
);

test(
  "framed() a next() waiting at close() gets the frame of a batch that arrives as close() ends reading, not the rest",
  {
    timeout: 10_000,
  },
  async () => {
    // A, B and C written just before close(), with a next() waiting: the batch is read before
    // close() and handed over once close() has ended reading. The waiting next() gets A; after
    // close() the loop gets no more, whether the frames came in one read or in three. Before,
    // the single read put B and C in the batch after close() had cleared it, and the loop got
    // them after close() had resolved.
    for (const reads of ABC_READS) {
      const { conn, feed } = readAheadConn();
      const fc = framed(conn, lengthPrefixed({ width: 1 }));
      const iterator = fc[Symbol.asyncIterator]();
      const first = iterator.next();
      await turns();
      for (const bytes of reads) void feed.write(new Uint8Array(bytes));
      const closing = fc.close();
      const got = await first;
      assert.equal(got.done, false, `${reads.length} reads`);
      assert.equal(text.decode(got.value as Uint8Array), "A", `${reads.length} reads`);
      await closing;
      const after: string[] = [];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
        after.push(text.decode(r.value));
      }
      assert.deepEqual(after, [], `${reads.length} reads: frames after close()`);
    }
  },
);

test("framed() readable after a for-await that stopped inside a batch starts with the frames left in it", async () => {
  // Before, readable went on with the next read and lost B and C.
  const frames: string[] = [];
  for await (const frame of (await leftInBatch()).readable) frames.push(text.decode(frame));
  assert.deepEqual(frames, ["B", "C", "D"]);
});

test("framed() closeWrite() goes on when a write to writable made before it is refused", {
  timeout: 5000,
}, async () => {
  const enc = new TextEncoder();
  const link = new MemoryLink();
  const client = framed(link.client, lines());
  const writer = client.writable.getWriter();
  const outcomes = ["1", "bad\nline", "3"].map((s) =>
    writer.write(enc.encode(s)).then(() => "ok", (e) => (e as Error).name)
  );
  await client.closeWrite(); // does not wait for the writes that the refused one dropped
  assert.deepEqual(await Promise.all(outcomes), ["ok", "RangeError", "RangeError"]);
  const got: string[] = [];
  for await (const f of framed(link.server, lines())) got.push(text.decode(f));
  assert.deepEqual(got, ["1"]);
  await client.close();
});

test("framed() writable close() goes on when a write made after it is refused", {
  timeout: 5000,
}, async () => {
  const { conn, writes } = recordingConn();
  const fc = framed(conn, lines());
  const writer = fc.writable.getWriter();
  const enc = new TextEncoder();
  const wrote = writer.write(enc.encode("1"));
  const closed = writer.close();
  // Refused by the stream, never given to framed(): the half-close does not wait for it.
  await assert.rejects(writer.write(enc.encode("2")), TypeError);
  await wrote;
  await closed;
  assert.equal(text.decode(concat(writes)), "1\n");
  await fc.close();
});

test("framed() with coalesce 0 over a Conn that releases chunks: one write per frame, and a small payload may change once send() returns", async () => {
  const { conn, chunks, arrived, complete } = heldConn(true);
  const fc = framed(conn, lengthPrefixed(), { ...UNTIL_WRITTEN, coalesce: 0 });
  const payloads = [1, 2, 3].map((i) => new Uint8Array(5).fill(i));
  const sent = payloads.map((p) => fc.send(p));
  for (const p of payloads) p.fill(9); // copied: the wire has the bytes as they were
  let settled = false;
  const all = Promise.all(sent).then(() => settled = true);
  for (let i = 1; !settled; i++) {
    await Promise.race([arrived(i), all]);
    if (!settled) complete(); // each write the socket is given, however many there are
  }
  assert.deepEqual(
    chunks,
    [1, 2, 3].map((i) => lengthPrefixed().encode(new Uint8Array(5).fill(i))),
  );
  await fc.close();
});

sockets.check();

test("framed() keeps another copy's framewire errors as they are, and codes a custom Conn's errno errors as the adapters do", async () => {
  // Before (the error-contract review): both became CONNECTION_FAILED "Cannot read from
  // connection" (instanceof fails across two copies of the module, as when a Conn comes from one
  // and framed() from the other).
  class OtherCopyConnectionError extends Error {
    override name = "ConnectionError";
    code = "CONNECTION_RESET";
  }
  const foreign = new OtherCopyConnectionError(
    "Cannot read from 127.0.0.1:1 as the connection was reset",
  );
  const errno = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  for (
    const [error, check] of [
      [foreign, (e: unknown) => e === foreign],
      [
        errno,
        (e: unknown) =>
          e instanceof ConnectionError && e.code === "CONNECTION_RESET" && e.cause === errno &&
          e.message === "Cannot read from connection as the connection was reset",
      ],
    ] as const
  ) {
    const { conn, feed } = recordingConn();
    const fc = framed(conn, lengthPrefixed());
    feed.abort(error);
    await assert.rejects(fc[Symbol.asyncIterator]().next(), check);
    await assert.rejects(fc.send("after"), check); // later sends fail with the same error
    await fc.close();
  }
});

test("framed(): 2,000 large sends made at once go out in order in linear time (no slice() of the rest per write)", async () => {
  // A payload of 16 KiB or more is written as it is (a view), each in a write of its own: the
  // queue of chunks to write, and the sends waiting, were sliced after each such write, copying
  // all those left behind it. Quadratic in the large sends made without awaiting.
  const n = 2_000;
  const link = new MemoryLink({ highWaterMark: 1 << 30 });
  const sender = framed(link.client, lengthPrefixed());
  const receiver = framed(link.server, lengthPrefixed());
  const payloads = Array.from({ length: 4 }, (_, i) => new Uint8Array(16384).fill(i));
  let received = 0;
  const copied = await sliceCopies(async () => {
    const sent = Array.from({ length: n }, (_, i) => sender.send(payloads[i % 4]!));
    for await (const frame of receiver) {
      if (frame.length !== 16384 || frame[0] !== received % 4) assert.fail(`frame ${received}`);
      if (++received === n) break;
    }
    await Promise.all(sent);
  });
  assert.equal(received, n);
  assert.ok(copied <= 4 * n, `slice() copied ${copied} elements for ${n} sends`);
  await sender.close();
  await receiver.close();
});

test("framed(): 5,000 sends each made after a writable write go out in order in linear time (no splice() per write)", async () => {
  // A send made while writes wait in `writable` waits behind them. Each write the sink took
  // released the sends behind it and spliced them off the front of that queue, moving every send
  // still held: with writes and sends interleaved, quadratic in the sends.
  const n = 5_000;
  const link = new MemoryLink({ highWaterMark: 1 << 30 });
  const sender = framed(link.client, lengthPrefixed(), { highWaterMark: 1 << 30 });
  const receiver = framed(link.server, lengthPrefixed());
  const writer = sender.writable.getWriter();
  const order: string[] = [];
  const moved = await spliceMoves(async () => {
    const done: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      done.push(writer.write(new Uint8Array([119])), sender.send("s"));
    }
    for await (const frame of receiver) {
      order.push(text.decode(frame));
      if (order.length === 2 * n) break;
    }
    await Promise.all(done);
  });
  assert.equal(order.join(""), "ws".repeat(n));
  assert.ok(moved <= 2 * n, `splice() moved ${moved} elements for ${n} sends`);
  writer.releaseLock();
  await sender.close();
  await receiver.close();
});

test("framed(): 20,000 next() calls made at once get the frames in order in linear time (no shift() of a long array)", async () => {
  // Calls made before their frames arrive wait in a queue. Taken with shift(), each answer moved
  // every call behind it: quadratic on V8 past about 16,000 calls made without awaiting.
  const n = 20_000;
  const link = new MemoryLink();
  const sender = framed(link.client, lengthPrefixed());
  const receiver = framed(link.server, lengthPrefixed());
  const it = receiver[Symbol.asyncIterator]();
  let got: IteratorResult<Uint8Array>[] = [];
  const moved = await shiftMoves(async () => {
    const calls = Array.from({ length: n }, () => it.next());
    for (let i = 0; i < n; i++) void sender.send(String(i));
    got = await Promise.all(calls);
  });
  got.forEach((result, i) => {
    if (result.done || text.decode(result.value) !== String(i)) assert.fail(`call ${i}`);
  });
  assert.ok(moved <= n, `shift() moved ${moved} elements for ${n} calls`);
  await sender.close();
  await receiver.close();
});
