import { test } from "node:test";
import assert from "node:assert/strict";
import { FrameTooLargeError, MalformedHeaderError, netstring } from "../../mod.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = new TextDecoder();

test("netstring() encodes D. J. Bernstein's vectors", () => {
  assert.equal(text.decode(netstring().encode(utf8("hello world!"))), "12:hello world!,");
  assert.equal(text.decode(netstring().encode(new Uint8Array(0))), "0:,");
});

test("netstring() rejects leading zeros, bad digits and a missing comma", () => {
  for (const wire of ["05:hello,", "00:,", ":,", "5x:hello,", "5:hello;", "-1:,"]) {
    const decoder = netstring().decoder();
    decoder.push(utf8(wire));
    assert.throws(() => decoder.next(), MalformedHeaderError, wire);
  }
});

test("netstring() rejects an over-long digit run before the colon arrives", () => {
  const decoder = netstring({ maxFrameLength: 65536 }).decoder();
  decoder.push(utf8("9999999999:"));
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.limit, 65536);
    // What the digits read when it was refused: not the length declared (9999999999).
    assert.equal(error.length, 99999);
    assert.equal(
      error.message,
      "Cannot decode frame as a length of at least 99999 exceeds maxFrameLength 65536",
    );
    return true;
  });
  const endless = netstring().decoder();
  let caught = false;
  for (let i = 0; i < 100 && !caught; i++) {
    endless.push(utf8("1"));
    try {
      endless.next();
    } catch (error) {
      caught = error instanceof FrameTooLargeError;
    }
  }
  assert.ok(caught);
  assert.ok(endless.bufferedBytes <= 8);
});

test("netstring() decodes a length of exactly maxFrameLength and rejects one more", () => {
  const framing = netstring({ maxFrameLength: 10 });
  const decoder = framing.decoder();
  decoder.push(utf8("10:0123456789,"));
  assert.equal(text.decode(decoder.next()), "0123456789");
  const over = framing.decoder();
  over.push(utf8("11:"));
  assert.throws(
    () => over.next(),
    (error) => error instanceof FrameTooLargeError && error.length === 11,
  );
});

test("netstring() encodeInto and encodeParts write the colon and the comma", () => {
  const framing = netstring();
  const payload = utf8("hello");
  const target = new Uint8Array(12).fill(0xee);
  assert.equal(framing.encodeInto(payload, target, 2), 8);
  assert.equal(text.decode(target.subarray(2, 10)), "5:hello,");
  assert.deepEqual([target[0], target[1], target[10], target[11]], [0xee, 0xee, 0xee, 0xee]);
  assert.deepEqual(framing.encodeParts(payload).map((p) => text.decode(p)), ["5:", "hello", ","]);
});

test("netstring() refuses the bytes right outside the digits, and names the bytes of a leading zero", () => {
  for (const [input, byte] of [["1/:a,", "2f"], ["1;:a,", "3b"]]) {
    const decoder = netstring().decoder();
    decoder.push(utf8(input));
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof MalformedHeaderError, String(error));
      assert.match(error.message, new RegExp(`has byte 0x${byte}`));
      return true;
    });
  }
  const decoder = netstring().decoder();
  decoder.push(utf8("05:hello,"));
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof MalformedHeaderError, String(error));
    assert.match(error.message, /leading zero/);
    assert.equal(error.bytes, "30 35");
    return true;
  });
});
