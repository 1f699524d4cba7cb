import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type FrameDecoder,
  FrameDecoderStream,
  FrameTooLargeError,
  type Framing,
  lengthPrefixed,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import {
  byteStreamOf,
  cancelWhilePiped,
  concat,
  cutsArbitrary,
  encodeAll,
  openSource,
  streamOf,
  wholeInput,
} from "../framing/_formats.ts";
import { isNode } from "../_util/runtime.ts";
import { macrotask } from "../_util/macrotask.ts";

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const frame of stream) out.push(frame.slice());
  return out;
}

test("FrameDecoderStream decodes any chunking of a stream into the same frames", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 200, size: "max" }), { maxLength: 10, size: "max" })
        .chain((payloads) => {
          const wire = encodeAll(varint(), payloads);
          return fc.tuple(fc.constant(payloads), fc.constant(wire), cutsArbitrary(wire.length));
        }),
      async ([payloads, wire, cuts]) => {
        const chunks: Uint8Array[] = [];
        let start = 0;
        for (const cut of [...cuts, wire.length]) {
          chunks.push(wire.slice(start, cut));
          start = cut;
        }
        assert.deepEqual(
          await collect(streamOf(chunks).pipeThrough(new FrameDecoderStream(varint()))),
          payloads,
        );
      },
    ),
    { numRuns: 100 },
  );
});

test("FrameDecoderStream errors with TruncatedFrameError when the input ends mid-frame", async () => {
  const stream = streamOf([new Uint8Array([0, 0, 0, 3, 1])]).pipeThrough(
    new FrameDecoderStream(lengthPrefixed()),
  );
  await assert.rejects(collect(stream), TruncatedFrameError);
});

test("FrameDecoderStream errors with FrameTooLargeError and cancels its source", async () => {
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(
    collect(source.pipeThrough(new FrameDecoderStream(lengthPrefixed()))),
    FrameTooLargeError,
  );
  assert.equal(cancelled, true);
});

test("FrameDecoderStream delivers the frames before a bad header or a truncation, at every split", async () => {
  const framing = lengthPrefixed({ maxFrameLength: 100 });
  const good = ["one", "two", "three"].map((t) => framing.encode(new TextEncoder().encode(t)));
  const cases = [
    { tail: [0xff, 0xff, 0xff, 0xff], error: FrameTooLargeError },
    { tail: [0, 0, 0, 9, 1, 2], error: TruncatedFrameError },
  ];
  for (const { tail, error } of cases) {
    const wire = new Uint8Array([...good.flatMap((f) => [...f]), ...tail]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const chunks = [wire.subarray(0, cut), wire.subarray(cut)].filter((c) => c.length > 0);
      const got: string[] = [];
      await assert.rejects(async () => {
        const frames = streamOf(chunks.map((c) => c.slice())).pipeThrough(
          new FrameDecoderStream(framing),
        );
        for await (const frame of frames) got.push(new TextDecoder().decode(frame));
      }, error);
      // Before, frames queued in the same chunk as the error were dropped with the stream.
      assert.deepEqual(got, ["one", "two", "three"], `${error.name}, cut at ${cut}`);
    }
  }
});

test("FrameDecoderStream applies backpressure: it decodes no further than its reader reads", async () => {
  const framing = lengthPrefixed();
  let pulled = 0;
  const chunk = framing.encode(new Uint8Array(10));
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(chunk.slice());
    },
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(new FrameDecoderStream(framing)).getReader();
  for (let i = 0; i < 5; i++) assert.equal((await reader.read()).value?.length, 10);
  // A bounded read-ahead (pipeTo's and the writable's queues), not the whole endless source.
  assert.ok(pulled <= 5 + 4, `pulled ${pulled}`);
  await reader.cancel();
});

test("FrameDecoderStream: a write waiting for the reader fails on abort() or cancel()", {
  timeout: 5000,
}, async () => {
  for (const end of ["abort", "cancel"] as const) {
    const stream = new FrameDecoderStream(lengthPrefixed());
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const frames = new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 1, 66]);
    await writer.write(frames.slice()); // two frames queued: the write is done
    // Nobody reads them: the next write waits for room.
    const waiting = writer.write(frames.slice()).then(() => "ok", (e) => (e as Error).message);
    await macrotask(); // an ordering barrier: the write is waiting by then
    if (end === "abort") await writer.abort(new Error("stop")); // a TransformStream hangs here
    else await reader.cancel(new Error("stop"));
    assert.equal(await waiting, "stop", end);
  }
});

test("FrameDecoderStream copies spanning frames above 8 KiB into memory from options.allocate, smaller ones into a zeroed slab", async () => {
  const allocated: Uint8Array[] = [];
  const allocate = (n: number) => {
    const buffer = new Uint8Array(n).fill(0xee); // dirty: every byte of a frame must be overwritten
    allocated.push(buffer);
    return buffer;
  };
  const small = lengthPrefixed().encode(new Uint8Array([1, 2, 3, 4, 5]));
  const large = lengthPrefixed().encode(new Uint8Array(9000).fill(7));
  const stream = streamOf([small.slice(0, 6), small.slice(6), large.slice(0, 6), large.slice(6)])
    .pipeThrough(new FrameDecoderStream(lengthPrefixed(), { allocate }));
  const frames: Uint8Array[] = [];
  for await (const frame of stream) frames.push(frame); // not copied
  assert.deepEqual(frames, [new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array(9000).fill(7)]);
  // The large frame has its own buffer from allocate; the small one is carved out of a 4 KiB
  // slab that the decoder allocated zeroed (allocate's memory may be uninitialised, and the rest
  // of a slab is reachable through frame.buffer).
  assert.deepEqual(allocated.map((b) => b.length), [9000]);
  assert.equal(frames[1]!.buffer, allocated[0]!.buffer);
  const slab = new Uint8Array(4096);
  slab.set([1, 2, 3, 4, 5]);
  assert.deepEqual(new Uint8Array(frames[0]!.buffer), slab);
});

test("FrameDecoderStream errors with a TypeError on a chunk that is not a Uint8Array, after the frames before it", async () => {
  const wire = lengthPrefixed().encode(new Uint8Array([1, 2]));
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(wire);
      // An ArrayBuffer (a WebSocket's binaryType "arraybuffer"): before, it read as no bytes.
      controller.enqueue(wire.slice().buffer as unknown as Uint8Array);
      controller.close();
    },
  });
  const reader = input.pipeThrough(new FrameDecoderStream(lengthPrefixed())).getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  await assert.rejects(reader.read(), (error) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, /must be a Uint8Array: received ArrayBuffer \(wrap it/);
    return true;
  });
});

test("FrameDecoderStream errors with a TypeError on a chunk whose buffer was transferred before it was decoded, after the frames before it", async () => {
  const framing = lengthPrefixed();
  const wire = concat([
    framing.encode(new Uint8Array([1, 2])),
    framing.encode(new Uint8Array([3])),
  ]);
  const transferred = wire.slice(6);
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(wire.slice(0, 6));
      // Posted to a worker (transferred) as well as decoded: before, it read as no bytes, and
      // the stream went on without them (here: ended cleanly, one frame short).
      controller.enqueue(transferred);
      controller.close();
    },
  });
  structuredClone(transferred.buffer, { transfer: [transferred.buffer] });
  const reader = input.pipeThrough(new FrameDecoderStream(framing)).getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  await assert.rejects(reader.read(), {
    name: "TypeError",
    message: /^Cannot decode frames as the chunk's buffer was detached \(transferred\)/,
  });
});

test(
  "FrameDecoderStream: cancelling the readable errors the writable; aborting the writable errors the readable",
  {
    timeout: 5000,
  },
  async () => {
    const reason = new Error("stop");
    const cancelled = new FrameDecoderStream(lengthPrefixed());
    const writer = cancelled.writable.getWriter();
    await cancelled.readable.cancel(reason);
    // Part of a frame: nothing to hand over, the write still fails.
    await assert.rejects(writer.write(new Uint8Array([0, 0, 0, 5])), (error) => error === reason);
    await assert.rejects(writer.closed, (error) => error === reason);

    const aborted = new FrameDecoderStream(lengthPrefixed());
    const reader = aborted.readable.getReader();
    await aborted.writable.abort(reason);
    await assert.rejects(reader.read(), (error) => error === reason);
  },
);

test("FrameDecoderStream delivers a frame that the framing completes at the end of the input", async () => {
  // A framing of a custom protocol: the whole input is one frame, complete once it ends.
  const whole = wholeInput();
  const frames = await collect(
    streamOf([new Uint8Array([1, 2]), new Uint8Array([3])]).pipeThrough(
      new FrameDecoderStream(whole),
    ),
  );
  assert.deepEqual(frames, [new Uint8Array([1, 2, 3])]);
});

test("FrameDecoderStream errors when a framing's next() throws after its end() returned, after the frames before it", async () => {
  // A custom framing whose decoder finds a bad frame only when asked for it once the input is
  // over. The mutation review: closing then ignored that error and closed the readable cleanly.
  const bad = new Error("bad last frame");
  const lazy: Framing = {
    ...lengthPrefixed(),
    name: "lazy",
    decoder(): FrameDecoder {
      const chunks: Uint8Array[] = [];
      let ended = false;
      let taken = 0;
      return {
        push: (chunk) => void chunks.push(chunk),
        next: () => {
          if (!ended) return undefined;
          if (taken++ === 0) return concat(chunks);
          throw bad;
        },
        end: () => void (ended = true),
        get bufferedBytes() {
          return 0;
        },
      };
    },
  };
  const stream = new FrameDecoderStream(lazy);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  await writer.write(new Uint8Array([1, 2]));
  const closed = writer.close().then(() => "closed", (e) => e);
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  await assert.rejects(reader.read(), (error) => error === bad);
  assert.equal(await closed, bad);
});

test(
  "FrameDecoderStream: a consumer that reads just the frames it expects, then awaits the pipe, is not left waiting",
  {
    timeout: 5000,
  },
  async () => {
    // Hung before: a write waited until the consumer asked for a frame beyond its own.
    const decoder = new FrameDecoderStream(lengthPrefixed({ width: 1 }));
    const piped = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 65, 1, 66, 1, 67]));
        controller.close();
      },
    }).pipeTo(decoder.writable);
    const reader = decoder.readable.getReader();
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push((await reader.read()).value![0]!);
    assert.deepEqual(got, [65, 66, 67]);
    await piped; // the pipe closed the decoder: its write was done once its frames were queued
    assert.equal((await reader.read()).done, true);
  },
);

test(
  "FrameDecoderStream: a write released by a read and cancelled in the same turn rejects with the cancel's reason",
  {
    timeout: 5000,
  },
  async () => {
    // Before (the diff review): it went on to decode into the closed readable and rejected with the
    // runtime's own "controller is already closed" error.
    const stream = new FrameDecoderStream(lengthPrefixed({ width: 1 }));
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    await writer.write(new Uint8Array([1, 65])); // one frame queued
    const waiting = writer.write(new Uint8Array([1, 66])).then(() => "ok", (e) => e);
    await macrotask(); // an ordering barrier: the write is waiting by then
    assert.equal((await reader.read()).value?.[0], 65);
    const pending = reader.read(); // asks for more: releases the waiting write
    const reason = new Error("stop");
    await reader.cancel(reason);
    assert.equal((await pending).done, true);
    assert.equal(await waiting, reason);
  },
);

test(
  "FrameDecoderStream: pipeThrough() aborted by its signal inside a frame cancels the source and errors the frames with the signal's reason",
  {
    timeout: 5000,
  },
  async () => {
    const piped = openSource([new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 9, 1, 2])]);
    const controller = new AbortController();
    const reader = piped.source.pipeThrough(new FrameDecoderStream(lengthPrefixed()), {
      signal: controller.signal,
    }).getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([65]));
    const reason = new Error("stop");
    const read = reader.read(); // waits for the rest of the second frame
    controller.abort(reason);
    // The same object, not a TruncatedFrameError for the part held, nor a wrapper.
    await assert.rejects(read, (error) => error === reason);
    await assert.rejects(reader.read(), (error) => error === reason);
    assert.equal(piped.cancelled?.reason, reason);
  },
);

test(
  "FrameDecoderStream: cancelling the readable inside a frame ends the pipe into it with the reason, and cancels its source with it",
  {
    timeout: 5000,
  },
  async () => {
    const stream = new FrameDecoderStream(lengthPrefixed());
    await cancelWhilePiped(stream, [new Uint8Array([0, 0, 0, 9, 1, 2])], 0);
  },
);

test("FrameDecoderStream calls its decoder's end() once when the input closes, and not when it is cancelled or aborted", async () => {
  for (const how of ["close", "cancel", "abort"] as const) {
    let ends = 0;
    const framing = lengthPrefixed({ width: 1 });
    const counting: Framing = {
      ...framing,
      decoder(options): FrameDecoder {
        const decoder = framing.decoder(options);
        return {
          push: (chunk) => decoder.push(chunk),
          next: () => decoder.next(),
          end: () => {
            ends++;
            decoder.end();
          },
          get bufferedBytes() {
            return decoder.bufferedBytes;
          },
        };
      },
    };
    const stream = new FrameDecoderStream(counting);
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    await writer.write(new Uint8Array([1, 65]));
    if (how === "close") await writer.close();
    else if (how === "cancel") await reader.cancel(new Error("stop"));
    else await writer.abort(new Error("stop"));
    const rest: unknown[] = [];
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    } catch {
      // aborted: the frame queued goes with the stream
    }
    assert.equal(ends, how === "close" ? 1 : 0, how);
    if (how === "close") assert.deepEqual(rest, [new Uint8Array([65])]);
  }
});

test('FrameDecoderStream decodes a byte stream (type "bytes") whose source fills the reads\' own buffers', async () => {
  const wire = encodeAll(lengthPrefixed(), [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    new Uint8Array([4]),
  ]);
  const source = byteStreamOf(wire, 3, 8); // 3 bytes at a time
  const frames = await collect(source.pipeThrough(new FrameDecoderStream(lengthPrefixed())));
  assert.deepEqual(frames, [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array([4])]);
});

test(
  "FrameDecoderStream: releaseLock() with a read pending rejects that read, and the frame it asked for goes to the next reader",
  {
    timeout: 5000,
  },
  async () => {
    const stream = new FrameDecoderStream(lengthPrefixed({ width: 1 }));
    const writer = stream.writable.getWriter();
    const first = stream.readable.getReader();
    const pending = first.read();
    first.releaseLock();
    // Node, Deno and Bun all follow the current spec here (the old one threw from releaseLock()).
    await assert.rejects(pending, TypeError);
    await writer.write(new Uint8Array([1, 65]));
    const second = stream.readable.getReader();
    assert.deepEqual((await second.read()).value, new Uint8Array([65]));
  },
);

test(
  "FrameDecoderStream: a break out of values({ preventCancel: true }) leaves the stream open, and a break out of for-await cancels its source",
  {
    timeout: 5000,
  },
  async () => {
    const piped = openSource([new Uint8Array([1, 65, 1, 66, 1, 67])]);
    const frames = piped.source.pipeThrough(new FrameDecoderStream(lengthPrefixed({ width: 1 })));
    for await (const frame of frames.values({ preventCancel: true })) {
      assert.equal(frame[0], 65);
      break;
    }
    assert.equal(piped.cancelled, undefined);
    for await (const frame of frames) {
      assert.equal(frame[0], 66); // goes on where the first loop stopped
      break;
    }
    assert.deepEqual(piped.cancelled, { reason: undefined });
  },
);

test("FrameDecoderStream: tee() hands both branches the same frame objects (views of the input), as any stream's tee() does", async () => {
  // Frames of 40 bytes: views on Bun too (it copies frames under 33 bytes).
  const wire = encodeAll(lengthPrefixed({ width: 1 }), [new Uint8Array(40), new Uint8Array(40)]);
  const [a, b] = streamOf([wire]).pipeThrough(new FrameDecoderStream(lengthPrefixed({ width: 1 })))
    .tee();
  const readA = a.getReader();
  const readB = b.getReader();
  const fromA = (await readA.read()).value!;
  const fromB = (await readB.read()).value!;
  assert.equal(fromA, fromB);
  assert.equal(fromA.buffer, wire.buffer);
  fromA[0] = 0; // what one branch's consumer changes, the other sees (copy a frame to change it)
  assert.equal(fromB[0], 0);
  // A branch's cancel() settles once both branches are cancelled.
  await Promise.all([readA.cancel(), readB.cancel()]);
});

test(
  "FrameDecoderStream: a pipe into it aborted while its write waits for the consumer cancels its source once the frames queued are read, or the readable is cancelled (not on Node)",
  {
    timeout: 5000,
  },
  async () => {
    for (const end of ["read", "cancel"] as const) {
      const seen: { cancelled?: { reason: unknown } } = {};
      const source = new ReadableStream<Uint8Array>({
        pull: (c) => c.enqueue(new Uint8Array([1, 65])),
        cancel: (reason) => void (seen.cancelled = { reason }),
      }, { highWaterMark: 0 });
      const controller = new AbortController();
      const stream = new FrameDecoderStream(lengthPrefixed({ width: 1 }));
      const pipe = source.pipeTo(stream.writable, { signal: controller.signal }).then(
        () => "closed",
        (error) => error,
      );
      const reader = stream.readable.getReader();
      assert.deepEqual((await reader.read()).value, new Uint8Array([65]));
      // Nobody reads: a write decodes, the next one waits for room, and the pipe with it.
      await macrotask(); // an ordering barrier (not a count of turns that may fall short)
      const reason = new Error("stop");
      controller.abort(reason);
      await macrotask(); // so that "not cancelled yet" below is not read too early
      // pipeTo() aborts the writable only once the write in progress is done (the Web Streams
      // rule; a TransformStream's write waits likewise).
      const before = seen.cancelled;
      assert.equal(before, undefined, end);
      if (end === "read") {
        assert.deepEqual((await reader.read()).value, new Uint8Array([65])); // releases the write
        assert.deepEqual((await reader.read()).value, new Uint8Array([65])); // its frame
        await assert.rejects(reader.read(), (error) => error === reason);
        assert.equal(await pipe, reason);
        assert.equal(seen.cancelled?.reason, reason);
      } else {
        const done = new Error("done");
        await reader.cancel(done);
        const error = await pipe;
        assert.equal(source.locked, false); // the application can cancel it itself
        if (isNode) {
          // Node 24 leaves the source of a pipe whose write in progress failed after its signal
          // aborted as it is, and rejects with the write's error, for any writable (a
          // TransformStream's too); the spec, Deno and Bun cancel it with the signal's reason.
          assert.equal(error, done);
          assert.equal(seen.cancelled, undefined);
        } else {
          assert.equal(error, reason);
          assert.equal(seen.cancelled?.reason, reason);
        }
      }
    }
  },
);

test(
  "FrameDecoderStream: a producer that awaits writer.ready gets two chunks in while nobody reads",
  {
    timeout: 5000,
  },
  async () => {
    const stream = new FrameDecoderStream(lengthPrefixed({ width: 1 }));
    const writer = stream.writable.getWriter();
    let written = 0;
    const producing = (async () => {
      for (let i = 0; i < 100; i++) {
        await writer.ready;
        writer.write(new Uint8Array([1, 65, 1, 66])).catch(() => {});
        written++;
      }
    })();
    await macrotask(); // every microtask has run: the producer cannot get further
    // One decoded (its two frames queued), one waiting for room in the writable's queue: bounded.
    assert.equal(written, 2);
    assert.equal(writer.desiredSize, 0);
    const reader = stream.readable.getReader();
    for (let i = 0; i < 2; i++) assert.equal((await reader.read()).value![0], [65, 66][i]);
    await reader.cancel(new Error("done"));
    await producing.catch(() => {});
  },
);

test("FrameDecoderStream: when the input ends, the error of the decoder's end() wins over one that next() throws after it", async () => {
  // The mutation review (error ??= → error =): a decoder that fails both at its end() and at the
  // next() after it errored the stream with next()'s error, not with the truncation end() reported.
  const truncated = new Error("end: truncated");
  const later = new Error("next after end");
  const failing: Framing = {
    ...lengthPrefixed(),
    name: "failing",
    decoder(): FrameDecoder {
      let ended = false;
      return {
        push: () => {},
        next: () => {
          if (ended) throw later;
          return undefined;
        },
        end: () => {
          ended = true;
          throw truncated;
        },
        get bufferedBytes() {
          return 1;
        },
      };
    },
  };
  const stream = new FrameDecoderStream(failing);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  await writer.write(new Uint8Array([1]));
  const closed = writer.close().then(() => "closed", (e) => e);
  await assert.rejects(reader.read(), (error) => error === truncated);
  assert.equal(await closed, truncated);
});
