import { test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoderStream, FrameEncoderStream, lengthPrefixed, lines } from "../../mod.ts";
import { cancelWhilePiped, openSource } from "../framing/_formats.ts";
import { macrotask } from "../_util/macrotask.ts";

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

test("FrameEncoderStream coalesces frames written in one tick into one chunk", async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const writer = encoder.writable.getWriter();
  for (let i = 0; i < 1000; i++) writer.write(new Uint8Array([i & 0xff]));
  writer.close();
  const chunks = await collect(encoder.readable);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.length, 5000);
});

test("FrameEncoderStream keeps chunks within coalesce and emits each frame with coalesce 0", async () => {
  const limited = new FrameEncoderStream(lengthPrefixed(), { coalesce: 100 });
  const writer = limited.writable.getWriter();
  for (let i = 0; i < 50; i++) writer.write(new Uint8Array(16));
  writer.close();
  const chunks = await collect(limited.readable);
  assert.ok(chunks.every((c) => c.length <= 100));
  assert.equal(chunks.reduce((n, c) => n + c.length, 0), 50 * 20);
  const none = new FrameEncoderStream(lengthPrefixed(), { coalesce: 0 });
  const w = none.writable.getWriter();
  for (let i = 0; i < 5; i++) w.write(new Uint8Array(3));
  w.close();
  assert.equal((await collect(none.readable)).length, 5);
});

test("FrameEncoderStream writes a large payload as header + the payload itself", async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const big = new Uint8Array(100_000);
  const writer = encoder.writable.getWriter();
  writer.write(new Uint8Array([1]));
  writer.write(big);
  writer.close();
  const chunks = await collect(encoder.readable);
  assert.deepEqual(chunks.map((c) => c.length), [5, 4, 100_000]);
  assert.equal(chunks[2], big);
});

test("FrameEncoderStream round-trips through FrameDecoderStream", async () => {
  const encoder = new FrameEncoderStream(lines());
  const decoded = encoder.readable.pipeThrough(new FrameDecoderStream(lines()));
  const writer = encoder.writable.getWriter();
  const sent = Array.from({ length: 300 }, (_, i) => `line ${i}`);
  for (const s of sent) writer.write(new TextEncoder().encode(s));
  writer.close();
  const got = (await collect(decoded)).map((f) => new TextDecoder().decode(f));
  assert.deepEqual(got, sent);
});

test("FrameEncoderStream errors both sides on a payload the framing refuses", async () => {
  const encoder = new FrameEncoderStream(lines());
  const writer = encoder.writable.getWriter();
  await assert.rejects(writer.write(new TextEncoder().encode("a\nb")), RangeError);
  await assert.rejects(collect(encoder.readable), RangeError);
});

test("FrameEncoderStream refuses a payload detached before its write is taken: not an empty frame", async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const writer = encoder.writable.getWriter();
  const payload = new TextEncoder().encode("lost");
  const writing = writer.write(payload);
  payload.buffer.transfer(); // before the sink takes it (a microtask later)
  await assert.rejects(
    writing,
    /^TypeError: Cannot encode frame as the payload's buffer was detached/,
  );
  await assert.rejects(collect(encoder.readable), TypeError);
});

test("FrameEncoderStream hands over the frames written before a refused payload, then errors", async () => {
  for (const coalesce of [65536, 0]) {
    const encoder = new FrameEncoderStream(lines(), { coalesce });
    const writer = encoder.writable.getWriter();
    const enc = new TextEncoder();
    // Small frames, and a large one that comes out as two chunks (header, payload).
    const accepted = ["a", "b", "c", "d".repeat(20_000)].map((s) => writer.write(enc.encode(s)));
    const refused = writer.write(enc.encode("d\ne"));
    let out = "";
    const reading = (async () => {
      const reader = encoder.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
    })();
    await Promise.all(accepted);
    await assert.rejects(refused, RangeError);
    await assert.rejects(reading, RangeError);
    assert.equal(out, `a\nb\nc\n${"d".repeat(20_000)}\n`, `coalesce ${coalesce}`);
  }
});

test("FrameEncoderStream applies backpressure when the reader is slow", async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed(), { coalesce: 1024 });
  const writer = encoder.writable.getWriter();
  let accepted = 0;
  for (let i = 0; i < 1000; i++) {
    const ready = await Promise.race([
      writer.ready.then(() => true),
      new Promise((r) => setTimeout(r, 20, false)),
    ]);
    if (!ready) break;
    writer.write(new Uint8Array(100));
    accepted++;
  }
  assert.ok(accepted < 1000 && accepted * 104 <= 4 * 1024, `accepted ${accepted} frames`);
  const reader = encoder.readable.getReader();
  writer.close();
  let bytes = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
  assert.equal(bytes, accepted * 104);
  assert.throws(() => new FrameEncoderStream(lines(), { coalesce: -1 }), RangeError);
  // "received 10" for the string "10" read as if 10 were out of range.
  assert.throws(() => new FrameEncoderStream(lines(), { coalesce: "10" as unknown as number }), {
    name: "TypeError", // not a number at all: no RangeError
    message:
      'Cannot create FrameEncoderStream as coalesce must be a non-negative integer: received the string "10"',
  });
});

test("FrameEncoderStream drops a scheduled flush after cancel or abort instead of throwing", async () => {
  // A frame's flush runs a few microtasks after its write; after cancel or abort it must not
  // enqueue into the closed readable (an uncaught TypeError there crashes the process). The
  // flush runs inside the awaited microtasks below, so a throw surfaces as an uncaught error
  // and fails this test run.
  for (const how of ["cancel", "abort"] as const) {
    const encoder = new FrameEncoderStream(lines());
    const writer = encoder.writable.getWriter();
    const reader = encoder.readable.getReader();
    await writer.write(new TextEncoder().encode("x"));
    if (how === "cancel") await reader.cancel("stop");
    else await writer.abort("stop");
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
});

test("FrameEncoderStream: abort() ends a write that waits for a consumer that stopped reading", {
  timeout: 5000,
}, async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const reader = encoder.readable.getReader();
  const writer = encoder.writable.getWriter();
  const first = writer.write(new Uint8Array(200_000)).then(() => "ok", () => "rejected");
  const second = writer.write(new Uint8Array(200_000)).then(() => "ok", () => "rejected");
  // The first frame's header: the write is in progress, its 200 KB wait in the queue, and the
  // consumer stops reading (a stalled peer).
  assert.equal((await reader.read()).value?.length, 4);
  await writer.abort(new Error("peer stalled")); // hung before: it waited for the write
  assert.equal(await first, "rejected");
  assert.equal(await second, "rejected");
  await assert.rejects(reader.closed, /peer stalled/);
});

test("FrameEncoderStream copies a payload below 16 KiB and writes one of 16 KiB as it is", async () => {
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const writer = encoder.writable.getWriter();
  const below = new Uint8Array(16 * 1024 - 1).fill(1);
  const at = new Uint8Array(16 * 1024).fill(2);
  writer.write(below);
  writer.write(at);
  writer.close();
  const chunks = await collect(encoder.readable);
  assert.deepEqual(chunks.map((c) => c.length), [4 + below.length, 4, at.length]);
  assert.equal(chunks[2], at);
});

test(
  "FrameEncoderStream: cancelling the readable errors the writable and ends a write waiting for the reader",
  {
    timeout: 5000,
  },
  async () => {
    const encoder = new FrameEncoderStream(lengthPrefixed(), { coalesce: 16 });
    const writer = encoder.writable.getWriter();
    const reader = encoder.readable.getReader();
    const reason = new Error("no more");
    // 24 bytes queued, over coalesce: the write waits for the reader.
    const waiting = writer.write(new Uint8Array(20)).then(() => "ok", (e) => e);
    await macrotask(); // the sink takes it, and waits (an ordering barrier)
    await reader.cancel(reason);
    // Settles, not left waiting for a reader that is gone, and fails: its frame will never be
    // read (it resolved before, where FrameDecoderStream and a TransformStream reject).
    assert.equal(await waiting, reason);
    await assert.rejects(writer.write(new Uint8Array(1)), (error) => error === reason);
    await assert.rejects(writer.closed, (error) => error === reason);
  },
);

test("FrameEncoderStream: the frames accepted before a refused payload are read first, those still held too, when reading starts after the refusal", async () => {
  const enc = new TextEncoder();
  const encoder = new FrameEncoderStream(lines());
  const writer = encoder.writable.getWriter();
  const big = "d".repeat(20_000); // comes out as chunks of its own, after the frames before it
  for (const s of ["a", "b", big, "c"]) writer.write(enc.encode(s)); // "c" is held, unflushed
  await assert.rejects(writer.write(enc.encode("x\ny")), RangeError);
  const reader = encoder.readable.getReader();
  let out = "";
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
  }, RangeError);
  assert.equal(out, `a\nb\n${big}\nc\n`);
});

test("FrameEncoderStream: a write that fills the readable's queue to coalesce bytes (with 0: any) waits for the reader", async () => {
  for (const coalesce of [8, 0]) {
    const encoder = new FrameEncoderStream(lengthPrefixed(), { coalesce });
    const writer = encoder.writable.getWriter();
    let written = false;
    const write = writer.write(new Uint8Array(4)).then(() => written = true); // an 8-byte frame
    await macrotask(); // so that "waits" is not read too early (an ordering barrier)
    assert.equal(written, false, `coalesce ${coalesce}: 8 bytes queued, the write waits`);
    const reader = encoder.readable.getReader();
    assert.equal((await reader.read()).value?.length, 8);
    await write;
    writer.close();
    assert.equal((await reader.read()).done, true);
  }
});

test(
  "FrameEncoderStream: a consumer that reads just the chunks it expects, then awaits the write, is not left waiting",
  {
    timeout: 5000,
  },
  async () => {
    // Hung with coalesce 0: the write waited until the consumer asked for a chunk beyond its own.
    for (const coalesce of [0, 8, 65536]) {
      const encoder = new FrameEncoderStream(lengthPrefixed(), { coalesce });
      const writer = encoder.writable.getWriter();
      const reader = encoder.readable.getReader();
      const write = writer.write(new Uint8Array([65, 66]));
      assert.deepEqual([...(await reader.read()).value!], [0, 0, 0, 2, 65, 66]);
      await write;
      await writer.close();
    }
  },
);

test(
  "FrameEncoderStream: by default a write waits once 65536 bytes are queued unread, not before; with coalesce 0 once one byte is",
  {
    timeout: 5000,
  },
  async () => {
    // The mutation review: the default (65536, documented) and the wait's bounds were not pinned.
    const settledAfterTurns = async (write: Promise<void>): Promise<boolean> => {
      let settled = false;
      write.then(() => settled = true, () => settled = true);
      for (let i = 0; i < 20; i++) await null;
      return settled;
    };
    // 65531 bytes of payload (written as it is) and a 4-byte header: 65535 bytes queued. Settled
    // within the turns given: so the waits below are waits, not writes slower to settle.
    const under = new FrameEncoderStream(lengthPrefixed());
    const underWrite = under.writable.getWriter().write(new Uint8Array(65531));
    assert.equal(await settledAfterTurns(underWrite), true, "65535 bytes queued: no wait");
    const at = new FrameEncoderStream(lengthPrefixed());
    const atWrite = at.writable.getWriter().write(new Uint8Array(65532)); // 65536 bytes queued
    assert.equal(await settledAfterTurns(atWrite), false, "65536 bytes queued: waits");
    const atReader = at.readable.getReader();
    assert.equal((await atReader.read()).value?.length, 4);
    assert.equal((await atReader.read()).value?.length, 65532);
    await atWrite;
    // coalesce 0: a frame of a single byte is enough.
    const none = new FrameEncoderStream(lengthPrefixed({ width: 1 }), { coalesce: 0 });
    const oneByte = none.writable.getWriter().write(new Uint8Array(0));
    assert.equal(await settledAfterTurns(oneByte), false);
    assert.deepEqual((await none.readable.getReader().read()).value, new Uint8Array([0]));
    await oneByte;
  },
);

test("FrameEncoderStream: cancelling the readable with no write waiting errors the writable", {
  timeout: 5000,
}, async () => {
  // The mutation review: with the writable left open, later writes were taken and dropped.
  const encoder = new FrameEncoderStream(lengthPrefixed());
  const writer = encoder.writable.getWriter();
  const reason = new Error("gone");
  await encoder.readable.cancel(reason);
  await assert.rejects(writer.write(new Uint8Array(1)), (error) => error === reason);
  await assert.rejects(writer.closed, (error) => error === reason);
});

test("FrameEncoderStream: a read waiting on an empty queue fails when a payload is refused", {
  timeout: 5000,
}, async () => {
  for (const coalesce of [65536, 0]) {
    const encoder = new FrameEncoderStream(lines(), { coalesce });
    const writer = encoder.writable.getWriter();
    const reader = encoder.readable.getReader();
    const reading = reader.read();
    await assert.rejects(writer.write(new TextEncoder().encode("a\nb")), RangeError);
    await assert.rejects(reading, RangeError, `coalesce ${coalesce}`);
    await assert.rejects(reader.closed, RangeError);
  }
});

test(
  "FrameEncoderStream: pipeThrough() aborted by its signal cancels the source and errors the output with the signal's reason",
  {
    timeout: 5000,
  },
  async () => {
    const piped = openSource([new Uint8Array([65]), new Uint8Array([66])]);
    const controller = new AbortController();
    const reader = piped.source.pipeThrough(new FrameEncoderStream(lengthPrefixed()), {
      signal: controller.signal,
    }).getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 1, 66]));
    const read = reader.read(); // the source has no more yet
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(read, (error) => error === reason);
    assert.equal(piped.cancelled?.reason, reason);
  },
);

test(
  "FrameEncoderStream: cancelling the readable ends the pipe into it with the reason, and cancels its source with it",
  {
    timeout: 5000,
  },
  async () => {
    const encoder = new FrameEncoderStream(lengthPrefixed());
    const chunks = await cancelWhilePiped(encoder, [new Uint8Array([65])], 1);
    assert.deepEqual(chunks, [new Uint8Array([0, 0, 0, 1, 65])]);
  },
);

test("FrameEncoderStream refuses a coalesce that is no safe integer with a RangeError, and takes the largest safe one", () => {
  // The mutation review (Number.isSafeInteger → Number.isInteger): 2 ** 53 was taken.
  for (const bad of [1.5, NaN, Infinity, 2 ** 53, -0.5]) {
    assert.throws(() => new FrameEncoderStream(lines(), { coalesce: bad }), {
      name: "RangeError",
      message: /^Cannot create FrameEncoderStream as coalesce must be a non-negative integer/,
    }, String(bad));
  }
  for (const good of [0, 1, Number.MAX_SAFE_INTEGER]) {
    new FrameEncoderStream(lines(), { coalesce: good });
  }
});
