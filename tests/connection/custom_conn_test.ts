// Copyright 2026 the framewire authors. MIT license.
// framed() over Conns of one's own, written from the docs alone: odd ones that are legal, and
// plain mistakes, through each receive front end. A legal Conn loses no frame; a wrong one gets
// a clear error (no hang, no frame made of bytes that were never read).

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Conn,
  ConnectionError,
  framed,
  type FramedConnection,
  lengthPrefixed,
} from "../../mod.ts";
import { macrotask } from "../_util/macrotask.ts";

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

/**
 * A Conn with `read()`: `read` answers each call (its buffer, how many calls before), up to 1,000
 * calls; then it rejects, so that a framed() that would read for ever fails instead (a read that
 * resolves at once, over and over, never yields to the event loop: no test timeout could end it).
 */
function readConn(read: (buffer: Uint8Array, call: number) => number | null): Conn {
  let calls = 0;
  return conn({
    read: (buffer) =>
      calls === 1000
        ? Promise.reject(new Error("read() called 1,000 times"))
        : Promise.resolve(read(buffer, calls++)),
  });
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
      // A send after it fails with it, in one sentence (before: "Cannot send as it failed: Cannot
      // decode frames as …").
      await assert.rejects(fc.send("after"), {
        name: "ConnectionError",
        message:
          `Cannot send as it could not decode frames as the chunk must be a Uint8Array: received ${value}`,
      });
      await fc.close();
    }
  });

  test(`framed() over a Conn whose readable yields a chunk whose buffer was transferred fails with a TypeError after the frames before it (${name})`, async () => {
    const [one, two] = wire("one", "two");
    const lost = wire("lost")[0]!.slice();
    // Posted to a worker (transferred) as well as yielded: it reads as no bytes.
    lost.buffer.transfer();
    const fc = framed(chunksConn([one, lost, two]), framing);
    const out: string[] = [];
    // Before: skipped as an empty chunk, and "two" read as if "lost" had never been sent.
    await assert.rejects(receive(fc, out), {
      name: "TypeError",
      message: /^Cannot decode frames as the chunk's buffer was detached \(transferred\)/,
    });
    assert.deepEqual(out, ["one"]);
    await fc.close();
  });

  test(`framed() over a Conn with read() that resolves a count it cannot have read fails with a RangeError or TypeError, at once (${name})`, async () => {
    const frame = wire("hello")[0]!;
    const counts: [unknown, ErrorConstructor][] = [
      [-1, RangeError],
      [2.5, RangeError],
      [NaN, RangeError],
      [Infinity, RangeError],
      ["3", TypeError],
      [undefined, TypeError],
    ];
    for (const [count, kind] of counts) {
      // Each a mistake after a first honest read (inside a frame: the error is the Conn's, not a
      // truncation). Before: a negative or no-integer count was read again for ever (here until
      // readConn gave up), and fractional ones made frames of bytes shifted by a fraction.
      const fc = framed(
        readConn((buffer, call) => {
          if (call > 0) return count as number;
          buffer.set(frame.subarray(0, 3));
          return 3;
        }),
        framing,
      );
      await assert.rejects(receive(fc, []), (error) => {
        assert.ok(error instanceof kind, `${String(count)}: ${error}`);
        assert.match(
          (error as Error).message,
          /^Cannot read from connection as conn\.read\(\) must resolve with the number of bytes it read into the buffer, from 0 to its length \(\d+\), or null at the end: received /,
        );
        return true;
      });
      assert.equal(fc.bytesRead, 3);
      await fc.close();
    }
  });

  test(`framed() over a Conn whose read() transfers the buffer it was given says so (${name})`, async () => {
    const frame = wire("hello")[0]!;
    // The second read takes the buffer away (posted to a worker, say) and counts what it "read":
    // before, a RangeError "from 0 to its length (0)", which did not say what went wrong.
    const fc = framed(
      readConn((buffer, call) => {
        if (call === 0) {
          buffer.set(frame.subarray(0, 3));
          return 3;
        }
        (buffer.buffer as ArrayBuffer).transfer();
        return 2;
      }),
      framing,
    );
    await assert.rejects(receive(fc, []), {
      name: "TypeError",
      message:
        "Cannot read from connection as conn.read() detached (transferred) the buffer it was given: it must read into it and leave it in place",
    });
    assert.equal(fc.bytesRead, 3);
    await fc.close();
  });

  test(`framed() over a Conn with read() that resolves more than its buffer holds fails, making no frame of bytes it never read (${name})`, async () => {
    const [one, two] = wire("one", "two");
    const fc = framed(
      readConn((buffer, call) => {
        if (call > 0) return null;
        buffer.set(one!);
        buffer.set(two!, one!.length);
        // The whole buffer, and more: zeros past the two frames, which read as empty frames.
        return buffer.length + 1;
      }),
      framing,
    );
    const out: string[] = [];
    // Before: "one", "two" and a thousand empty frames made of the buffer's zeros.
    await assert.rejects(receive(fc, out), RangeError);
    assert.deepEqual(out, []);
    assert.equal(fc.bytesRead, 0);
    await fc.close();
  });

  test(`framed() over a Conn with read() that resolves 0 without waiting fails after 100 such reads in a row, and goes on after fewer (${name})`, async () => {
    const [one, two] = wire("one", "two");
    // 99 empty reads before each frame: a Conn that has nothing at times.
    let sent = 0;
    const patient = framed(
      readConn((buffer, call) => {
        if (call % 100 !== 99) return 0;
        const frame = [one, two][sent++];
        if (frame === undefined) return null;
        buffer.set(frame);
        return frame.length;
      }),
      framing,
    );
    const out: string[] = [];
    await receive(patient, out);
    assert.deepEqual(out, ["one", "two"]);
    // Before: read for ever, never yielding to the event loop (here until readConn gave up).
    let empty = 0;
    const spinning = framed(
      readConn(() => {
        empty++;
        return 0;
      }),
      framing,
    );
    await assert.rejects(receive(spinning, []), (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.equal(
        error.message,
        "Cannot read from connection as conn.read() resolved 0 bytes 100 times in a row: it must wait until it has read a byte, or resolve null at the end",
      );
      return true;
    });
    assert.equal(empty, 100); // the 100th empty read fails, not one later
    await spinning.close();
  });
}

test("framed(): a Conn's closeWrite() that rejects or throws, with an Error or anything else, rejects closeWrite() with a ConnectionError caused by it", async () => {
  const boom = new Error("boom");
  const failures: [string, () => Promise<void>][] = [
    ["rejects with an Error", () => Promise.reject(boom)],
    ["rejects with a string", () => Promise.reject("boom")],
    ["throws", () => {
      throw boom;
    }],
  ];
  for (const [how, closeWrite] of failures) {
    const fc = framed(conn({ closeWrite }), framing);
    await fc.send("last");
    // Before: the Conn's own error (or string) as it was, unlike a read's or a write's failure.
    await assert.rejects(fc.closeWrite(), (error) => {
      assert.ok(error instanceof ConnectionError, `${how}: ${error}`);
      assert.equal(error.code, "CONNECTION_FAILED");
      assert.equal(error.message, "Cannot close connection for writing as it failed: boom");
      assert.equal(error.cause, how === "rejects with a string" ? "boom" : boom);
      return true;
    });
    await fc.close();
  }
});

test("framed(): a Conn's closeWrite() that fails under an unawaited closeWrite() is reported by close(), unless the application saw it", async () => {
  const boom = new Error("boom");
  const isFinFailure = (error: unknown): boolean => {
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(error.message, "Cannot close connection for writing as it failed: boom");
    assert.equal(error.cause, boom);
    return true;
  };
  // Nobody waits on closeWrite(): close() says FIN did not go out, as it says frames were lost.
  // Before, it resolved, and the failure was reported nowhere (no frame was lost).
  const fc = framed(conn({ closeWrite: () => Promise.reject(boom) }), framing);
  await fc.send("last");
  void fc.closeWrite();
  await assert.rejects(fc.close(), isFinFailure);
  await fc.close(); // seen: once
  // Waited on: seen, so close() is quiet, as after a send that rejected.
  const awaited = framed(conn({ closeWrite: () => Promise.reject(boom) }), framing);
  await assert.rejects(awaited.closeWrite(), isFinFailure);
  await awaited.close();
  // A read failure reached the application (a reset, which stops FIN too): close() is quiet.
  const readFailed = framed(
    conn({
      readable: new ReadableStream({ start: (c) => c.error(new Error("reset")) }),
      closeWrite: () => Promise.reject(boom),
    }),
    framing,
  );
  void readFailed.closeWrite();
  await assert.rejects(readFailed[Symbol.asyncIterator]().next(), ConnectionError);
  await readFailed.close();
});

test("framed(): a Conn that fails with something that is no Error with a message gets a ConnectionError that says what it was", async () => {
  // Before: an object with no prototype made String() throw, and the application got that engine
  // TypeError ("Cannot convert object to primitive value"), no ConnectionError; a plain object
  // read "[object Object]", an Error with no message left the message ending in ": ".
  const values: [unknown, string][] = [
    [Object.create(null), "object (no message)"],
    [{}, "Object (no message)"],
    [new RangeError(""), "RangeError (no message)"],
    [undefined, "undefined (no message)"],
    ["", 'the string "" (no message)'],
    [{ message: "its own" }, "its own"],
  ];
  for (const [value, said] of values) {
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(value);
      },
    });
    const fc = framed(conn({ readable, closeWrite: () => Promise.reject(value) }), framing);
    await assert.rejects(fc[Symbol.asyncIterator]().next(), (error) => {
      assert.ok(error instanceof ConnectionError, `${said}: ${error}`);
      assert.equal(error.code, "CONNECTION_FAILED");
      assert.equal(error.message, `Cannot read from connection as it failed: ${said}`);
      assert.equal(error.cause, value);
      return true;
    });
    await assert.rejects(fc.closeWrite(), {
      name: "ConnectionError",
      message: `Cannot close connection for writing as it failed: ${said}`,
    });
    await fc.close();
  }
});

test("framed(): a Conn's close() that throws rejects close() with a ConnectionError caused by it, after closing", async () => {
  const boom = new Error("boom");
  let closes = 0;
  const fc = framed(
    conn({
      close() {
        closes++;
        throw boom;
      },
    }),
    framing,
  );
  await fc.send("last");
  // Before: the Conn's own error as it was.
  await assert.rejects(fc.close(), (error) => {
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(error.code, "CONNECTION_FAILED");
    assert.equal(error.message, "Cannot close connection as it failed: boom");
    assert.equal(error.cause, boom);
    return true;
  });
  assert.equal(closes, 1);
  await assert.rejects(fc.send("after"), { code: "CONNECTION_CLOSED" });
});

test("framed() batches() ends with a result of its own per call, as an async generator does", async () => {
  const fc = framed(chunksConn(wire("one")), framing);
  const batches = fc.batches()[Symbol.asyncIterator]();
  assert.equal((await batches.next()).done, false);
  const end = await batches.next();
  const again = await fc.batches()[Symbol.asyncIterator]().next();
  assert.deepEqual([end, again], [{ done: true, value: undefined }, {
    done: true,
    value: undefined,
  }]);
  // Before (a4bc96b): one frozen object for every iterator, which an application that marks or
  // maps results could not change (a TypeError in strict code).
  assert.notEqual(end, again);
  end.value = undefined;
  assert.ok(!Object.isFrozen(again));
  await fc.close();
});

test("framed() close() reports frames lost after a read failed with the Conn's own mistake: that shows the application no connection failure", async () => {
  let fail: ((error: Error) => void) | undefined;
  const fc = framed(
    conn({
      read: () => Promise.resolve(-1), // no byte count: a RangeError, the Conn's mistake
      writable: new WritableStream({
        write: () => new Promise<void>((_, reject) => fail = reject),
      }),
    }),
    framing,
  );
  await fc.send("lost"); // resolves at once (under highWaterMark); its write then waits
  await assert.rejects(fc[Symbol.asyncIterator]().next(), RangeError);
  for (let i = 0; i < 100 && fail === undefined; i++) await macrotask();
  fail!(new Error("reset"));
  await assert.rejects(fc.close(), ConnectionError);
});
