// The delimited decoder's fast paths: one-byte delimiters found in the head chunk by next() and
// by takeAll() (what framed() calls), against the general search.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { delimited, type FrameDecoder, type Framing, lines } from "../../mod.ts";
import type { DelimitedDecoder } from "../../src/framing/_delimited_decoder.ts";
import { cutsArbitrary, decodeWays } from "./_formats.ts";
import { isBun } from "../_util/runtime.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

/** One-byte delimiters (the fast paths) and a two-byte one (the general search). */
const FRAMINGS: [string, Framing, string][] = [
  ["lines()", lines({ maxFrameLength: 12 }), "\n"],
  ["delimited(NUL)", delimited({ delimiter: new Uint8Array([0]), maxFrameLength: 12 }), "\0"],
  ["delimited(CRLF)", delimited({ delimiter: "\r\n", maxFrameLength: 12 }), "\r\n"],
];

test("delimited decoder: next() and takeAll() give the same frames and error for every split of the input", () => {
  // Empty frames, "\r" before the delimiter (stripped by lines()) and elsewhere, a frame at the
  // limit (12 bytes), one at it only once a "\r" is stripped, then one over it: the frames before
  // it, then FrameTooLargeError.
  const frames = [
    "one",
    "",
    "two\r",
    "",
    "th\rree",
    "123456789012",
    "123456789012\r",
    "x",
    "1234567890123",
    "after",
  ];
  for (const [name, framing, delimiter] of FRAMINGS) {
    const wire = utf8(frames.join(delimiter) + delimiter);
    const whole = decodeWays(framing, wire, [], "next");
    assert.ok(
      whole.length > 3 && whole.at(-1)!.startsWith("FrameTooLargeError"),
      `${name}: ${whole}`,
    );
    for (let a = 0; a <= wire.length; a++) {
      for (let b = a; b <= wire.length; b += 5) {
        for (const way of ["next", "takeAll"] as const) {
          assert.deepEqual(
            decodeWays(framing, wire, [a, b], way),
            whole,
            `${name} ${way} ${a} ${b}`,
          );
        }
      }
    }
  }
});

test("delimited decoder: takeAll() matches next() on random lines in random chunks", () => {
  const line = fc.stringMatching(/^[a-c\r]{0,20}$/).map((s) => s.replace(/\r$/, ""));
  fc.assert(
    fc.property(
      fc.array(line, { maxLength: 40 }).chain((ls) => {
        const wire = utf8(ls.map((l) => l + (l.length % 3 === 0 ? "\r\n" : "\n")).join(""));
        return fc.tuple(fc.constant(wire), cutsArbitrary(wire.length));
      }),
      ([wire, cuts]) => {
        const framing = lines({ maxFrameLength: 16 });
        assert.deepEqual(
          decodeWays(framing, wire, cuts, "takeAll"),
          decodeWays(framing, wire, cuts, "next"),
        );
      },
    ),
    { numRuns: 300 },
  );
});

/** A chunk that counts the bytes its indexOf() looks at. */
class Counted extends Uint8Array {
  static scanned = 0;
  override indexOf(value: number, from = 0): number {
    const at = super.indexOf(value, from);
    Counted.scanned += (at < 0 ? this.length : at + 1) - from;
    return at;
  }
}

test("delimited decoder: a long line in many chunks is searched once, byte by byte, with next() and takeAll()", () => {
  // 15 chunks of 4 KiB (not gathered: each is queued as it is) then one with the "\n": each call
  // after a push must go on where the search stopped, not search the head chunk again.
  for (const way of ["next", "takeAll"] as const) {
    const decoder: FrameDecoder = lines({ maxFrameLength: 100_000 }).decoder();
    Counted.scanned = 0;
    const out: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) {
      const chunk = new Counted(4096).fill(0x61);
      if (i === 15) chunk[4095] = 0x0a;
      decoder.push(chunk);
      if (way === "next") {
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
      } else (decoder as DelimitedDecoder).takeAll(out);
    }
    assert.equal(out.length, 1, way);
    assert.equal(out[0]!.length, 16 * 4096 - 1, way);
    assert.ok(Counted.scanned <= 16 * 4096, `${way}: ${Counted.scanned} bytes searched`);
  }
});

test("delimited decoder: takeAll() hands out views of the chunk (copies of their own under 33 bytes on Bun), as next() does", () => {
  const wire = utf8(`${"x".repeat(40)}\n${"y".repeat(5)}\n`);
  for (const way of ["next", "takeAll"] as const) {
    const decoder = lines().decoder();
    decoder.push(wire);
    const out: Uint8Array[] = [];
    if (way === "next") {
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
    } else (decoder as DelimitedDecoder).takeAll(out);
    assert.equal(out[0]!.buffer, wire.buffer, way);
    assert.equal(out[0]!.byteOffset, 0, way);
    assert.equal(out[1]!.buffer === wire.buffer, !isBun, way);
    assert.deepEqual(out[1], utf8("yyyyy"), way);
  }
});

test("delimited decoder: next() and takeAll() say so when a frame's transferred buffer held the bytes they would search", () => {
  for (const way of ["next", "takeAll"] as const) {
    const decoder = lines().decoder();
    decoder.push(utf8(`${"x".repeat(40)}\n${"z".repeat(40)}\n`));
    const first = decoder.next()!; // a view of the chunk, which still holds the second line
    structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    assert.throws(
      () => way === "next" ? decoder.next() : (decoder as DelimitedDecoder).takeAll([]),
      (error) => error instanceof TypeError && /detached.*frame\.slice\(\)/.test(error.message),
      way,
    );
  }
});

test("delimited decoder: lines trickled in small chunks (gathered into blocks) are searched once, byte by byte, with next() and takeAll()", () => {
  // Each 7-byte push is gathered into the block that holds the line so far (the head chunk, read
  // from an offset once the first line is taken): the search must go on after the bytes searched
  // before each push, not start again at the head (quadratic in the line's length).
  const lengths = [20_000, 0, 30_000, 5];
  const wire = utf8(lengths.map((n, i) => String.fromCharCode(0x61 + i).repeat(n) + "\n").join(""));
  const indexOf = Uint8Array.prototype.indexOf;
  for (const way of ["next", "takeAll"] as const) {
    let scanned = 0;
    Uint8Array.prototype.indexOf = function (this: Uint8Array, value: number, from = 0): number {
      const at = indexOf.call(this, value, from);
      scanned += (at < 0 ? this.length : at + 1) - from;
      return at;
    };
    const out: Uint8Array[] = [];
    try {
      const decoder: FrameDecoder = lines({ maxFrameLength: 100_000 }).decoder();
      for (let at = 0; at < wire.length; at += 7) {
        decoder.push(wire.slice(at, at + 7));
        if (way === "next") {
          for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
        } else (decoder as DelimitedDecoder).takeAll(out);
      }
      decoder.end();
    } finally {
      Uint8Array.prototype.indexOf = indexOf;
    }
    assert.deepEqual(out.map((f) => f.length), lengths, way);
    assert.deepEqual(out[2], utf8("c".repeat(30_000)), way);
    assert.ok(scanned <= wire.length, `${way}: ${scanned} bytes searched of ${wire.length}`);
  }
});

test("delimited() with stripCR and a delimiter that ends in \\r: an empty frame right after a delimiter is empty, at every split, with next() and takeAll()", () => {
  // The mutation sweep (h144): with a delimiter whose last byte is "\r", the byte before an empty
  // frame is a "\r" of the delimiter before it, which stripCR must not take for one of the frame
  // (the fast paths of next() and takeAll(): `at > pos` → `at >= pos`, _delimited_decoder.ts:72
  // and :125; #lengthBefore(): `end > 0` dropped, :165). No test had such a delimiter.
  const digest = (frame: string): string => {
    let d = 0;
    for (const byte of utf8(frame)) d = (d * 31 + byte) >>> 0;
    return `${frame.length}:${d}`;
  };
  const cases: [string, string, string[]][] = [
    ["\r", "a\r\rb\r\r", ["a", "", "b", ""]],
    ["|\r", "a|\r|\rb\r|\r|\r", ["a", "", "b", ""]],
  ];
  for (const [delimiter, input, frames] of cases) {
    const framing = delimited({ delimiter, stripCR: true, maxFrameLength: 4 });
    const wire = utf8(input);
    const want = frames.map(digest);
    for (let a = 0; a <= wire.length; a++) {
      for (let b = a; b <= wire.length; b++) {
        for (const way of ["next", "takeAll"] as const) {
          assert.deepEqual(
            decodeWays(framing, wire, [a, b], way),
            want,
            `${JSON.stringify(delimiter)} ${way} ${a} ${b}`,
          );
        }
      }
    }
  }
});
