import { test } from "node:test";
import assert from "node:assert/strict";
import { decimalHeader, FrameTooLargeError, MalformedHeaderError } from "../../mod.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = new TextDecoder();

test('decimalHeader() writes f"{len(msg):<10}" headers', () => {
  assert.equal(text.decode(decimalHeader().encode(utf8("hello"))), "5         hello");
  assert.equal(text.decode(decimalHeader().encode(new Uint8Array(0))), "0         ");
  assert.equal(
    text.decode(decimalHeader({ width: 4 }).encode(utf8("x".repeat(1234)))).slice(0, 4),
    "1234",
  );
  assert.equal(decimalHeader().name, "decimal10");
});

test("decimalHeader() accepts space padding on either side", () => {
  for (const header of ["5         ", "         5", "    5     ", "0000000005"]) {
    const decoder = decimalHeader().decoder();
    decoder.push(utf8(header + "hello"));
    assert.equal(text.decode(decoder.next()), "hello", JSON.stringify(header));
  }
});

test("decimalHeader() rejects a non-digit as soon as it arrives", () => {
  for (const header of ["5x        ", "\t5        ", "5 5       ", "          ", "-5        "]) {
    const decoder = decimalHeader().decoder();
    decoder.push(utf8(header));
    assert.throws(() => decoder.next(), MalformedHeaderError, JSON.stringify(header));
  }
  // Before the header is complete.
  const early = decimalHeader().decoder();
  early.push(utf8("12a"));
  assert.throws(() => early.next(), (error) => {
    assert.ok(error instanceof MalformedHeaderError);
    assert.equal(error.bytes, "31 32 61");
    return true;
  });
});

test("decimalHeader() rejects an oversized length and an unencodable payload", () => {
  const decoder = decimalHeader({ maxFrameLength: 100 }).decoder();
  decoder.push(utf8("101       "));
  assert.throws(() => decoder.next(), FrameTooLargeError);
  assert.throws(() => decimalHeader({ width: 2 }).encode(new Uint8Array(100)), /2-digit/);
  assert.throws(() => decimalHeader({ width: 0 }), RangeError);
});

test("decimalHeader() lowers a limit the header cannot hold, and reports it", () => {
  assert.equal(decimalHeader({ width: 2, maxFrameLength: 1000 }).maxFrameLength, 99);
  assert.equal(decimalHeader({ width: 3 }).maxFrameLength, 999);
  assert.equal(decimalHeader({ width: 10, maxFrameLength: 1000 }).maxFrameLength, 1000);
});

test("decimalHeader() decodes a length of exactly maxFrameLength and rejects one more", () => {
  const framing = decimalHeader({ maxFrameLength: 100 });
  const decoder = framing.decoder();
  decoder.push(framing.encode(new Uint8Array(100).fill(1)));
  assert.equal(decoder.next()?.length, 100);
  const over = framing.decoder();
  over.push(utf8("101       "));
  assert.throws(
    () => over.next(),
    (error) => error instanceof FrameTooLargeError && error.length === 101,
  );
});

test("decimalHeader() caps the limit of a 16-digit header at 2^53-1", () => {
  assert.equal(
    decimalHeader({ width: 16, maxFrameLength: Infinity }).maxFrameLength,
    Number.MAX_SAFE_INTEGER,
  );
  assert.equal(decimalHeader({ width: 15, maxFrameLength: Infinity }).maxFrameLength, 10 ** 15 - 1);
});

test("decimalHeader() takes a width from 1 to 16 and refuses 17", () => {
  const one = decimalHeader({ width: 1 });
  assert.equal(text.decode(one.encode(utf8("hello"))), "5hello");
  const decoder = one.decoder();
  decoder.push(utf8("5hello9"));
  assert.equal(text.decode(decoder.next()), "hello");
  assert.equal(decimalHeader({ width: 16 }).name, "decimal16");
  assert.throws(() => decimalHeader({ width: 17 }), {
    name: "RangeError",
    message: "Cannot create framing as width must be an integer from 1 to 16: received 17",
  });
});

test("decimalHeader() refuses the bytes either side of the digits, and names the bytes up to a space between digits", () => {
  for (const [input, byte] of [["1/        ", "2f"], ["1:        ", "3a"]]) {
    const decoder = decimalHeader().decoder();
    decoder.push(utf8(input));
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof MalformedHeaderError, String(error));
      assert.match(error.message, new RegExp(`byte 0x${byte} is not a digit or a space`));
      return true;
    });
  }
  const decoder = decimalHeader().decoder();
  decoder.push(utf8("1 2       xx"));
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof MalformedHeaderError, String(error));
    assert.match(error.message, /space between digits/);
    assert.equal(error.bytes, "31 20 32");
    return true;
  });
});
