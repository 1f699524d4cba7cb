import { test } from "node:test";
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { delimited, FrameTooLargeError, lines, TruncatedFrameError } from "../../mod.ts";
import { isBun } from "../_util/runtime.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = new TextDecoder();

test("delimited() splits on a multi-byte delimiter split across chunks", () => {
  const decoder = delimited({ delimiter: "\r\n" }).decoder();
  const out: string[] = [];
  for (const chunk of ["ab\r", "\ncd\r", "x\r\n", "\r\n"]) {
    decoder.push(utf8(chunk));
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(text.decode(f));
  }
  decoder.end();
  assert.deepEqual(out, ["ab", "cd\rx", ""]);
});

test("delimited() finds a delimiter whose prefix repeats (aab in aaab)", () => {
  const decoder = delimited({ delimiter: "aab" }).decoder();
  decoder.push(utf8("xaaab"));
  assert.equal(text.decode(decoder.next()), "xa");
});

test("delimited() fails as soon as maxFrameLength bytes arrive with no delimiter", () => {
  const decoder = delimited({ maxFrameLength: 8 }).decoder();
  decoder.push(utf8("12345678"));
  assert.equal(decoder.next(), undefined);
  decoder.push(utf8("9"));
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.limit, 8);
    // Not "length 9 exceeds": how much arrived without a delimiter depends on the chunking.
    assert.equal(
      error.message,
      "Cannot decode frame as no delimiter came within maxFrameLength 8 bytes (9 read)",
    );
    return true;
  });
  const exact = delimited({ maxFrameLength: 8 }).decoder();
  exact.push(utf8("12345678\n"));
  assert.equal(text.decode(exact.next()), "12345678");
});

test("delimited() stripCR does not count the \\r against the limit", () => {
  const decoder = delimited({ maxFrameLength: 3, stripCR: true }).decoder();
  decoder.push(utf8("abc\r\nabc\n"));
  assert.equal(text.decode(decoder.next()), "abc");
  assert.equal(text.decode(decoder.next()), "abc");
  const over = delimited({ maxFrameLength: 3, stripCR: true }).decoder();
  over.push(utf8("abcd\n"));
  assert.throws(() => over.next(), FrameTooLargeError);
});

test("delimited() keeps a copy of a delimiter given as bytes, also as a Buffer", () => {
  for (const given of [utf8("--"), Buffer.from("--")]) {
    const framing = delimited({ delimiter: given });
    given.fill(0x21); // "!!": the framing still splits on "--"
    const decoder = framing.decoder();
    decoder.push(utf8("a--b!!--"));
    assert.deepEqual([decoder.next(), decoder.next()].map((f) => text.decode(f)), ["a", "b!!"]);
    assert.deepEqual(framing.encode(utf8("c")), utf8("c--"));
  }
});

test("delimited() refuses a delimiter whose buffer was detached or shrunk below it, in its own words", () => {
  const transferred = utf8("\r\n");
  transferred.buffer.transfer();
  const buffer = new ArrayBuffer(2, { maxByteLength: 2 });
  const shrunk = new Uint8Array(buffer, 0, 2); // fixed-length
  buffer.resize(1);
  for (const delimiter of [transferred, shrunk]) {
    // Before: the engine's TypeError from copying it ("Cannot perform Construct on a detached
    // ArrayBuffer", in V8's words).
    assert.throws(() => delimited({ delimiter }), {
      name: "TypeError",
      message:
        "Cannot create framing as the delimiter's buffer was detached (transferred) or shrunk below it",
    });
  }
});

test("delimited() encode rejects a payload containing the delimiter", () => {
  assert.throws(() => delimited().encode(utf8("a\nb")), RangeError);
  assert.throws(() => delimited({ delimiter: "--" }).encode(utf8("a--b")), RangeError);
  assert.deepEqual(delimited({ delimiter: "--" }).encode(utf8("a-b")), utf8("a-b--"));
  assert.throws(() => delimited({ delimiter: "" }), RangeError);
  // @ts-expect-error: an array is not a delimiter
  assert.throws(() => delimited({ delimiter: [10] }), TypeError);
});

test("delimited() with stripCR refuses a payload ending in \\r, which would not arrive as sent", () => {
  const framing = delimited({ stripCR: true });
  assert.throws(() => framing.encode(utf8("abc\r")), /stripCR/);
  assert.throws(() => lines().encode(utf8("\r")), /stripCR/);
  assert.deepEqual(framing.encode(utf8("a\rb")), utf8("a\rb\n"));
  assert.deepEqual(
    delimited().encode(utf8("abc\r")),
    utf8("abc\r\n"),
    "without stripCR it is data",
  );
});

test("delimited() reports a last frame with no delimiter as truncated", () => {
  const decoder = delimited().decoder();
  decoder.push(utf8("one\ntwo"));
  assert.equal(text.decode(decoder.next()), "one");
  assert.throws(() => decoder.end(), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.part, error.received, error.expected], ["payload", 3, undefined]);
    // Its length is not known: the message says what is missing instead.
    assert.equal(
      error.message,
      "Cannot decode frame as the input ended with 3 bytes and no delimiter after them",
    );
    return true;
  });
  const one = delimited().decoder();
  one.push(utf8("x"));
  assert.equal(one.next(), undefined);
  assert.throws(() => one.end(), {
    message: "Cannot decode frame as the input ended with 1 byte and no delimiter after it",
  });
});

test("delimited() decodes a 64 KiB line fed one byte at a time", () => {
  // Correctness only; bench/decode_bench.ts measures that the cost per byte stays flat.
  const decoder = delimited({ maxFrameLength: 65536 }).decoder();
  const byte = utf8("x");
  for (let i = 0; i < 65536; i++) {
    decoder.push(byte);
    assert.equal(decoder.next(), undefined);
  }
  decoder.push(utf8("\n"));
  assert.equal(decoder.next()?.length, 65536);
});

test("delimited() encode rejects a payload whose end runs into the delimiter", () => {
  // "hdr\r\n" + "\r\n\r\n" would decode as "hdr" and leave two bytes behind.
  assert.throws(() => delimited({ delimiter: "\r\n\r\n" }).encode(utf8("hdr\r\n")), RangeError);
  assert.throws(() => delimited({ delimiter: "abab" }).encode(utf8("xab")), RangeError);
  assert.throws(() => delimited({ delimiter: "aa" }).encode(utf8("a")), RangeError);
  assert.deepEqual(delimited({ delimiter: "abab" }).encode(utf8("xb")), utf8("xbabab"));
  assert.equal(delimited().name, "delimited");
});

test("delimited() with a self-overlapping delimiter round-trips every payload it accepts", () => {
  for (const delimiter of ["aa", "abab", "\r\n\r\n", "aab"]) {
    const framing = delimited({ delimiter });
    const alphabet = [...new Set(delimiter)].map((c) => c.charCodeAt(0));
    for (let n = 0; n < 300; n++) {
      const payload = new Uint8Array(n % 7).map((_, i) =>
        alphabet[(n * 31 + i * 7) % alphabet.length]!
      );
      let wire: Uint8Array;
      try {
        wire = framing.encode(payload);
      } catch {
        continue;
      }
      const decoder = framing.decoder();
      decoder.push(wire);
      assert.deepEqual(decoder.next(), payload, `${JSON.stringify(delimiter)} ${payload}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  }
});

test("delimited() scans a multi-byte delimiter's near misses fed one byte at a time", () => {
  // "\r" bytes are all candidates for "\r\n"; each must be checked from where it is.
  const decoder = delimited({ delimiter: "\r\n", maxFrameLength: 65536 }).decoder();
  const cr = utf8("\r");
  for (let i = 0; i < 65536; i++) {
    decoder.push(cr);
    assert.equal(decoder.next(), undefined);
  }
  decoder.push(utf8("\n"));
  assert.equal(decoder.next()?.length, 65535);
});

test("delimited() fails at the first byte after which no delimiter can end a frame within the limit", () => {
  const cases: [ReturnType<typeof delimited>, string, number][] = [
    // "\r\n\r\n" could still start at byte 4 until "e" arrives.
    [delimited({ delimiter: "\r\n\r\n", maxFrameLength: 4 }), "abcdef", 5],
    // ... and at byte 4 while what follows is a start of it.
    [delimited({ delimiter: "\r\n\r\n", maxFrameLength: 4 }), "abcd\r\nx", 7],
    // With stripCR a fifth byte may only be the "\r" it removes.
    [lines({ maxFrameLength: 4 }), "abcde", 5],
    [lines({ maxFrameLength: 4 }), "abcd\rx", 6],
    [delimited({ delimiter: "abab", maxFrameLength: 2 }), "xyabax", 6],
  ];
  for (const [framing, input, failsAt] of cases) {
    const decoder = framing.decoder();
    const bytes = utf8(input);
    let at = 0;
    try {
      while (at < bytes.length) {
        decoder.push(bytes.subarray(at, ++at));
        decoder.next();
      }
      assert.fail(`${JSON.stringify(input)}: no error`);
    } catch (error) {
      assert.ok(error instanceof FrameTooLargeError, `${JSON.stringify(input)}: ${error}`);
      assert.equal(at, failsAt, JSON.stringify(input));
    }
  }
});

test("delimited() at the end: a frame with no delimiter over the limit is too large, within it truncated", () => {
  for (
    const [framing, input, error] of [
      [
        delimited({ delimiter: "\r\n\r\n", maxFrameLength: 4 }),
        "ok\r\n\r\nabcd\r",
        FrameTooLargeError,
      ],
      [
        delimited({ delimiter: "\r\n\r\n", maxFrameLength: 4 }),
        "ok\r\n\r\nabcd",
        TruncatedFrameError,
      ],
      [lines({ maxFrameLength: 4 }), "ok\nabcd\r", TruncatedFrameError],
      [lines({ maxFrameLength: 3 }), "ok\nabcd", FrameTooLargeError],
    ] as const
  ) {
    const decoder = framing.decoder();
    decoder.push(utf8(input));
    assert.throws(() => decoder.end(), error, JSON.stringify(input));
    assert.equal(text.decode(decoder.next()), "ok");
  }
});

test('delimited() with stripCR: a too-large frame\'s length does not count the "\\r" it removes', () => {
  // [input, the length reported when the whole input comes in one chunk]
  const cases: [string, number][] = [
    ["abcde\n", 5],
    ["abcde\r\n", 5],
    ["abcd\rx", 6], // a "\r" inside the frame counts
    ["abcde\r", 5], // found at the end
    ["abcd\r", 4],
  ];
  for (const [input, length] of cases) {
    const bytes = utf8(input);
    // Split anywhere, the error may come before the frame's end is seen: it reports the bytes
    // seen so far, never a final "\r".
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = lines({ maxFrameLength: 3 }).decoder();
      const error = (() => {
        try {
          decoder.push(bytes.subarray(0, cut));
          decoder.next();
          decoder.push(bytes.subarray(cut));
          decoder.next();
          decoder.end();
        } catch (error) {
          return error;
        }
      })();
      const where = `${JSON.stringify(input)} cut at ${cut}`;
      assert.ok(error instanceof FrameTooLargeError, `${where}: ${error}`);
      assert.equal(error.limit, 3, where);
      assert.ok(error.length > 3 && error.length <= length, `${where}: ${error.length}`);
      if (cut === bytes.length) assert.equal(error.length, length, where);
    }
  }
});

test("delimited() with stripCR copies a line that spans chunks once, into a slab of its own", () => {
  const decoder = lines().decoder();
  const first = utf8("hel");
  const second = utf8("lo\r\n");
  decoder.push(first);
  decoder.push(second);
  const frame = decoder.next()!;
  assert.equal(text.decode(frame), "hello");
  assert.equal(frame.length, 5);
  assert.notEqual(frame.buffer, first.buffer);
  assert.notEqual(frame.buffer, second.buffer);
  assert.equal(frame.buffer.byteLength, 4096); // a slab
});

test("lines() with reuseBuffers copies spanning lines into two buffers in turn, and end() into fresh ones", () => {
  const decoder = lines().decoder({ reuseBuffers: true });
  const frames: Uint8Array[] = [];
  const words = "one two three four five".split(" ");
  // Lines of 5000 bytes or more ("three" longer), cut 4500 bytes into each: every line spans two
  // chunks, and no chunk is small enough to be gathered into the queue's own blocks.
  const lineOf = (word: string): string => word + ".".repeat(word === "three" ? 6000 : 5000);
  const all = words.map((w) => lineOf(w) + "\n").join("");
  const cuts = [0];
  for (let i = 0, start = 0; i < words.length; start += lineOf(words[i]!).length + 1, i++) {
    cuts.push(start + 4500);
  }
  cuts.push(all.length);
  for (let c = 1; c < cuts.length; c++) {
    decoder.push(utf8(all.slice(cuts[c - 1], cuts[c])));
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
      if (frames.length > 0) {
        assert.equal(text.decode(frames.at(-1)), lineOf(words[frames.length - 1]!));
      }
      frames.push(f);
    }
  }
  assert.equal(frames.length, 5);
  // "three" needs a larger buffer than "one" had; "five" fits in it again.
  assert.equal(frames[2]!.buffer, frames[4]!.buffer, "the buffer of the third line is reused");
  assert.notEqual(frames[3]!.buffer, frames[4]!.buffer);
  assert.deepEqual([3, 4].map((i) => text.decode(frames[i])), ["four", "five"].map(lineOf));

  // end() decodes what is left ahead of next(): not into the two buffers.
  for (const chunk of ["si", "x\nse", "ven\nei", "ght\n"]) decoder.push(utf8(chunk));
  decoder.end();
  const rest: string[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) rest.push(text.decode(f));
  assert.deepEqual(rest, ["six", "seven", "eight"]);
  assert.equal(text.decode(frames[4]), lineOf("five"), "the line read last is intact");
});

test("lines(): a line trickled in byte by byte is copied together as it comes, not held chunk by chunk", () => {
  // A peer sending one byte per write: before, each byte stayed a chunk object of its own (some
  // hundred bytes each) until the line was complete; 600 KB of a line without its newline held
  // about 100 MB. Now the small chunks after the first are copied into blocks of the queue's own
  // as they come, which shows: changing them afterwards changes nothing.
  const decoder = lines().decoder();
  const pushed: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const chunk = new Uint8Array([120]); // "x"
    decoder.push(chunk);
    pushed.push(chunk);
  }
  for (const chunk of pushed) chunk[0] = 121; // "y"
  decoder.push(utf8("\n"));
  const line = text.decode(decoder.next());
  assert.equal(line.length, 3000);
  assert.equal(line.slice(1), "x".repeat(2999), "held as pushed: the bytes changed");
});

test("delimited() encode rejects a payload that starts with a one-byte delimiter", () => {
  assert.throws(() => delimited().encode(utf8("\nabc")), RangeError);
  assert.throws(
    () => delimited({ delimiter: new Uint8Array([0]) }).encode(new Uint8Array([0, 1])),
    RangeError,
  );
  assert.throws(() => lines().encode(utf8("\n")), RangeError);
});

test("delimited() keeps its own copy of a Uint8Array delimiter and hands out fresh ones", () => {
  const delimiter = new Uint8Array([0x2c]);
  const framing = delimited({ delimiter });
  delimiter[0] = 0x3b; // the caller changes its array afterwards
  assert.deepEqual(framing.encode(utf8("a;b")), utf8("a;b,"));
  const decoder = framing.decoder();
  decoder.push(utf8("x;y,z,"));
  assert.equal(text.decode(decoder.next()), "x;y");
  // A part handed out by encodeParts may be changed (or transferred) by the caller.
  const parts = framing.encodeParts(utf8("p"));
  assert.deepEqual(parts[1], utf8(","));
  parts[1]![0] = 0x3b;
  assert.deepEqual(framing.encodeParts(utf8("q"))[1], utf8(","));
  assert.deepEqual(framing.encode(utf8("q")), utf8("q,"));
});

test("delimited(): a frame that ends exactly at the end of a chunk is a view into it", () => {
  const cases: [ReturnType<typeof delimited>, string][] = [
    [lines(), "\n"],
    [lines(), "\r\n"],
    [delimited({ delimiter: "\r\n" }), "\r\n"],
    [delimited(), "\n"],
  ];
  for (const [framing, ending] of cases) {
    const decoder = framing.decoder();
    // 36 bytes: on Bun frames under 33 B are copies of their own.
    const first = utf8("abc".repeat(12));
    decoder.push(first);
    assert.equal(decoder.next(), undefined);
    decoder.push(utf8(ending));
    const frame = decoder.next()!;
    assert.equal(text.decode(frame), "abc".repeat(12), framing.name);
    assert.equal(frame.buffer, first.buffer, `${framing.name}: frame is a view into the chunk`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test("delimited(): frames of 32 bytes inside one chunk are copies of their own on Bun, 33 bytes views (V8: both views), without the delimiter or a stripped \\r", () => {
  // COPY_BELOW: 33 on Bun, 0 on V8.
  const cases: [ReturnType<typeof delimited>, string][] = [
    [lines(), "\n"],
    [lines(), "\r\n"],
    [delimited({ delimiter: "\r\n" }), "\r\n"],
    [delimited({ delimiter: "ab|ab" }), "ab|ab"],
  ];
  for (const [framing, ending] of cases) {
    for (const n of [0, 32, 33]) {
      const payload = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, n);
      const wire = utf8(`${payload}${ending}next${ending}`);
      const decoder = framing.decoder();
      decoder.push(wire);
      const frame = decoder.next()!;
      const where = `${framing.name} ${JSON.stringify(ending)}, ${n} B`;
      assert.equal(text.decode(frame), payload, where);
      if (isBun && n < 33) {
        assert.notEqual(frame.buffer, wire.buffer, `${where}: a copy`);
        assert.equal(frame.buffer.byteLength, n, `${where}: a buffer of its own`);
        wire.fill(0x21); // the chunk changes: a copy does not
        assert.equal(text.decode(frame), payload, where);
      } else {
        assert.equal(frame.buffer, wire.buffer, `${where}: a view into the chunk`);
        assert.equal(text.decode(decoder.next()), "next", where);
      }
    }
  }
});

test("delimited() encode: a multi-byte delimiter at the payload's start is refused, its first byte alone is data, and maxFrameLength holds", () => {
  // The mutation review: none of these was pinned by a test.
  assert.throws(() => delimited({ delimiter: "--" }).encode(utf8("--a")), {
    name: "RangeError",
    message: "Cannot encode frame as the payload contains the delimiter",
  });
  const crlf = delimited({ delimiter: "\r\n" });
  assert.deepEqual(crlf.encode(utf8("a\rb\nc")), utf8("a\rb\nc\r\n"));
  for (const framing of [delimited({ maxFrameLength: 4 }), lines({ maxFrameLength: 4 })]) {
    assert.deepEqual(framing.encode(utf8("abcd")), utf8("abcd\n"));
    for (const encode of [framing.encode, framing.encodedLength, framing.encodeParts]) {
      assert.throws(() => encode(utf8("abcde")), {
        name: "RangeError",
        message: "Cannot encode frame as length 5 exceeds maxFrameLength 4",
      });
    }
  }
});

test("delimited(): FrameTooLargeError names TLS when a TLS client talks to a line protocol", () => {
  // The mutation review: the first bytes the error looks at were never read (left zero), and every
  // test passed.
  const hello = new Uint8Array(40).fill(0x41);
  hello.set([0x16, 0x03, 0x01, 0x00, 0x23]);
  for (
    const framing of [
      lines({ maxFrameLength: 16 }),
      delimited({ delimiter: "\r\n", maxFrameLength: 16 }),
    ]
  ) {
    const decoder = framing.decoder();
    decoder.push(hello);
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof FrameTooLargeError, String(error));
      assert.match(error.hint ?? "", /look like a TLS handshake record/);
      return true;
    });
  }
});

test("delimited(): FrameTooLargeError names HTTP from the first 4 bytes when an HTTP client or server talks to a line protocol", () => {
  // The mutation sweep (h144): the TLS test above needs 2 bytes of the frame; keeping fewer than
  // the 4 an HTTP method needs for the error's header (`Math.min(8, …)` → `Math.min(2, …)`,
  // _delimited_decoder.ts:181) lost the hint, and every test passed.
  const cases: [string, RegExp][] = [
    ["POST /form HTTP/1.1\r\n", /look like HTTP \("POST"\)/],
    ["CONNECT example.com:443 HTTP/1.1\r\n", /look like HTTP \("CONN"\)/],
    ["HTTP/1.1 400 Bad Request\r\n", /look like an HTTP response/],
  ];
  for (const [wire, hint] of cases) {
    for (
      const framing of [
        lines({ maxFrameLength: 8 }),
        delimited({ delimiter: "\r\n", maxFrameLength: 8 }),
      ]
    ) {
      for (const way of ["next", "end"] as const) {
        // Whole, or 9 bytes (one over the limit) then end().
        const decoder = framing.decoder();
        decoder.push(utf8(way === "next" ? wire : wire.slice(0, 9)));
        assert.throws(() => way === "next" ? decoder.next() : decoder.end(), (error) => {
          assert.ok(error instanceof FrameTooLargeError, String(error));
          assert.match(error.hint ?? "", hint, `${framing.name} ${way} ${wire}`);
          return true;
        });
      }
    }
  }
});
