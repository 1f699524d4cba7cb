import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  FrameTooLargeError,
  MalformedHeaderError,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import { assertSplitsAlike, concat, cutsArbitrary, decodeWays, payloadOf } from "./_formats.ts";

test("varint() encodes lengths like protobuf writeDelimitedTo", () => {
  const vectors: [number, number[]][] = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [2097152, [0x80, 0x80, 0x80, 0x01]],
  ];
  for (const [length, header] of vectors) {
    const wire = varint({ maxFrameLength: Infinity }).encode(new Uint8Array(length));
    assert.deepEqual(wire.subarray(0, header.length), new Uint8Array(header), `length ${length}`);
    assert.equal(wire.length, header.length + length);
    const decoder = varint({ maxFrameLength: Infinity }).decoder();
    decoder.push(wire);
    assert.equal(decoder.next()?.length, length);
  }
});

test("varint() rejects a non-minimal varint as soon as it is seen", () => {
  for (const header of [[0x80, 0x00], [0x81, 0x80, 0x00], [0xff, 0x80, 0x80, 0x00]]) {
    const decoder = varint().decoder();
    decoder.push(new Uint8Array(header));
    assert.throws(() => decoder.next(), MalformedHeaderError, `header ${header}`);
  }
});

test("varint() rejects an over-long varint (11 bytes, or more than a 2^53-1 length needs)", () => {
  const eleven = new Uint8Array([...new Array(10).fill(0x80), 0x01]);
  const decoder = varint({ maxFrameLength: Infinity }).decoder();
  decoder.push(eleven);
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof MalformedHeaderError);
    assert.match(error.message, /longer than 8 bytes/);
    return true;
  });
  // Byte at a time: rejected on the 8th continuation byte, before the rest arrives.
  const slow = varint({ maxFrameLength: Infinity }).decoder();
  let thrownAt = -1;
  for (let i = 0; i < eleven.length && thrownAt < 0; i++) {
    slow.push(eleven.subarray(i, i + 1));
    try {
      slow.next();
    } catch (error) {
      assert.ok(error instanceof MalformedHeaderError);
      thrownAt = i;
    }
  }
  assert.equal(thrownAt, 7);
});

test("varint() checks maxFrameLength once the varint is complete", () => {
  const decoder = varint({ maxFrameLength: 100 }).decoder();
  decoder.push(new Uint8Array([0xe5, 0x00 | 0x00]));
  assert.throws(() => decoder.next(), MalformedHeaderError);
  const big = varint({ maxFrameLength: 100 }).decoder();
  big.push(new Uint8Array([101]));
  assert.throws(
    () => big.next(),
    (error) => error instanceof FrameTooLargeError && error.length === 101,
  );
});

test("varint() reports a truncated header without an expected size", () => {
  const decoder = varint().decoder();
  decoder.push(new Uint8Array([0x80]));
  assert.equal(decoder.next(), undefined);
  assert.throws(() => decoder.end(), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.deepEqual([error.part, error.expected, error.received], ["header", undefined, 1]);
    return true;
  });
});

test("varint() decodes a length of exactly maxFrameLength, one byte or more, and rejects one more", () => {
  for (const limit of [100, 300]) {
    const framing = varint({ maxFrameLength: limit });
    const decoder = framing.decoder();
    decoder.push(framing.encode(new Uint8Array(limit).fill(1)));
    assert.equal(decoder.next()?.length, limit, `limit ${limit}`);
    const over = framing.decoder();
    over.push(varint().encode(new Uint8Array(limit + 1)));
    assert.throws(
      () => over.next(),
      (error) => error instanceof FrameTooLargeError && error.length === limit + 1,
    );
  }
});

test("varint() rejects an 8-byte varint above 2^53-1 as malformed, whatever the limit", () => {
  // 7 continuation bytes and a final 0x7f: 2^56 - 1.
  const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  for (const maxFrameLength of [Infinity, 100, undefined]) {
    const decoder = varint({ maxFrameLength }).decoder();
    decoder.push(header);
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof MalformedHeaderError, `${maxFrameLength}: ${error}`);
      assert.match(error.message, /exceeds 2\^53-1/);
      return true;
    });
  }
  // 2^53 - 1 itself is a length (too large to allocate, but not malformed).
  const max = varint({ maxFrameLength: 1000 }).decoder();
  max.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  assert.throws(() => max.next(), FrameTooLargeError);
});

test("varint() names TLS and HTTP from the bytes after a one-byte length", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("GET / HTTP/1.1\r\n"), /HTTP \("GET"\)/],
    [new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5]), /TLS/],
  ];
  for (const [bytes, pattern] of cases) {
    const decoder = varint({ maxFrameLength: 16 }).decoder();
    decoder.push(bytes);
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof FrameTooLargeError);
      assert.match(error.message, pattern);
      return true;
    });
  }
});

test("varint() names the bytes of a malformed varint, up to the one that shows it, and no others", () => {
  const cases: [number[], RegExp, string][] = [
    [[0x85, 0x00, 0x41], /non-minimal/, "85 00"],
    [[0x81, 0x80, 0x00, 0x41], /non-minimal/, "81 80 00"],
    [
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x41],
      /exceeds 2\^53-1/,
      "ff ff ff ff ff ff ff 7f",
    ],
  ];
  for (const [input, reason, bytes] of cases) {
    const decoder = varint({ maxFrameLength: Infinity }).decoder();
    decoder.push(new Uint8Array(input));
    assert.throws(() => decoder.next(), (error) => {
      assert.ok(error instanceof MalformedHeaderError, String(error));
      assert.match(error.message, reason);
      assert.equal(error.bytes, bytes);
      return true;
    });
  }
});

test("varint({ offset }): MQTT packets (type byte, remaining length), split at every offset", () => {
  const mqtt = varint({ offset: 1 });
  const publish = new Uint8Array(200).fill(7); // its remaining length takes two varint bytes
  publish[0] = 0x30;
  const packets = [
    [0xc0], // PINGREQ: remaining length 0
    [0x20, 0x00, 0x00], // CONNACK
    [...publish],
  ];
  const wire = new Uint8Array([0xc0, 0, 0x20, 2, 0, 0, 0x30, 0xc7, 0x01, ...publish.subarray(1)]);
  const encoded = packets.map((p) => mqtt.encode(new Uint8Array(p)));
  assert.deepEqual(new Uint8Array(encoded.flatMap((e) => [...e])), wire);
  assert.deepEqual(
    encoded.map((e, i) => e.length - mqtt.encodedLength(new Uint8Array(packets[i]!))),
    [0, 0, 0],
  );
  const parts = mqtt.encodeParts(publish);
  assert.deepEqual(parts[0], new Uint8Array([0x30, 0xc7, 0x01]));
  assert.deepEqual(parts[1], publish.subarray(1));
  const into = new Uint8Array(wire.length + 2);
  assert.equal(mqtt.encodeInto(publish, into, 2), 202);
  assert.deepEqual(into.subarray(2, 204), wire.subarray(6));
  for (let cut = 0; cut <= wire.length; cut++) {
    for (const cut2 of [cut, Math.min(wire.length, cut + 1), Math.min(wire.length, cut + 2)]) {
      const decoder = mqtt.decoder();
      const out: number[][] = [];
      // Copies: a decoder owns what is pushed (it moves offset bytes up to the payload).
      for (const part of [wire.slice(0, cut), wire.slice(cut, cut2), wire.slice(cut2)]) {
        decoder.push(part);
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push([...f]);
      }
      decoder.end();
      assert.deepEqual(out, packets, `cut at ${cut} and ${cut2}`);
    }
  }
});

test("varint({ offset }): errors name the offset bytes too; a cut offset is a truncated header", () => {
  const mqtt = varint({ offset: 1, maxFrameLength: 100 });
  const tooLarge = mqtt.decoder();
  tooLarge.push(new Uint8Array([0x30, 0xc7, 0x01]));
  assert.throws(() => tooLarge.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 199);
    return true;
  });
  const malformed = mqtt.decoder();
  malformed.push(new Uint8Array([0x30, 0x80, 0x00]));
  assert.throws(() => malformed.next(), (error) => {
    assert.ok(error instanceof MalformedHeaderError);
    assert.equal(error.bytes, "30 80 00");
    return true;
  });
  const cut = mqtt.decoder();
  cut.push(new Uint8Array([0x30]));
  assert.equal(cut.next(), undefined);
  assert.throws(() => cut.end(), (error) => {
    assert.ok(error instanceof TruncatedFrameError);
    assert.equal(error.part, "header");
    return true;
  });
  assert.throws(() => mqtt.encode(new Uint8Array(0)), {
    name: "RangeError",
    // Before: "the 1 offset bytes".
    message: "Cannot encode frame as it must start with the 1 offset byte: received 0 bytes",
  });
  assert.throws(() => varint({ offset: 2 }).encode(new Uint8Array(1)), {
    name: "RangeError",
    message: "Cannot encode frame as it must start with the 2 offset bytes: received 1 byte",
  });
  // The limit counts what follows the varint: 100 bytes after the type byte pass, 101 do not.
  assert.equal(mqtt.encode(new Uint8Array(101)).length, 102);
  assert.throws(() => mqtt.encode(new Uint8Array(102)), RangeError);
  for (
    const [offset, type] of [[-1, "RangeError"], [65536, "RangeError"], [1.5, "RangeError"], [
      "1",
      "TypeError",
    ]] as const
  ) {
    assert.throws(() => varint({ offset: offset as number }), {
      name: type,
      message: /^Cannot create framing as offset must be an integer from 0 to 65535: received/,
    });
  }
});

test("varint({ offset }): the varint is of the bytes after the offset, in every encode method, at each edge of a varint byte count", () => {
  const mqtt = varint({ offset: 1, maxFrameLength: Infinity });
  // [bytes after the type byte, varint bytes]: the whole argument is one byte longer, and at
  // these lengths a varint of it would take one byte more.
  for (const [after, varintBytes] of [[127, 1], [16383, 2], [2097151, 3]] as const) {
    const packet = new Uint8Array(1 + after).fill(0x5a);
    packet[0] = 0x30;
    const size = 1 + varintBytes + after;
    assert.equal(mqtt.encodedLength(packet), size, `encodedLength, ${after} bytes`);
    const wire = mqtt.encode(packet);
    assert.equal(wire.length, size, `encode, ${after} bytes`);
    // An exact-size target: encodeInto must neither ask for more room nor write past the frame.
    const into = new Uint8Array(size);
    assert.equal(mqtt.encodeInto(packet, into, 0), size, `encodeInto, ${after} bytes`);
    assert.deepEqual(into, wire);
    const parts = mqtt.encodeParts(packet);
    assert.equal(parts[0]!.length, 1 + varintBytes, `encodeParts, ${after} bytes`);
    assert.deepEqual(concat(parts), wire);
    const decoder = mqtt.decoder();
    decoder.push(wire);
    assert.deepEqual(decoder.next(), packet);
  }
});

test("varint({ offset }): an offset longer than any varint, split at every offset; an over-long varint after an offset, byte at a time", () => {
  // 12 bytes before a 2-byte varint: a header spanning chunks is gathered whole.
  const framing = varint({ offset: 12 });
  const frames = [new Uint8Array(212).map((_, i) => i), new Uint8Array(12).fill(9)];
  const wire = concat(frames.map((f) => framing.encode(f)));
  for (let cut = 0; cut <= wire.length; cut++) {
    const decoder = framing.decoder();
    const out: Uint8Array[] = [];
    for (const part of [wire.slice(0, cut), wire.slice(cut)]) {
      decoder.push(part);
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f.slice());
    }
    decoder.end();
    assert.deepEqual(out, frames, `cut at ${cut}`);
  }
  // A type byte, then 9 varint bytes with the continuation bit: rejected on the 8th varint byte.
  const longer = new Uint8Array([0x30, ...new Array(9).fill(0x80), 0x01]);
  const slow = varint({ offset: 1, maxFrameLength: Infinity }).decoder();
  let thrownAt = -1;
  for (let i = 0; i < longer.length && thrownAt < 0; i++) {
    slow.push(longer.slice(i, i + 1));
    try {
      slow.next();
    } catch (error) {
      assert.ok(error instanceof MalformedHeaderError);
      assert.match(error.message, /longer than 8 bytes/);
      assert.equal(error.bytes, "30 80 80 80 80 80 80 80 80");
      thrownAt = i;
    }
  }
  assert.equal(thrownAt, 8);
});

test("varint({ offset }): a too-large length names HTTP or gzip from the bytes from the frame's start, offset bytes included", () => {
  // An HTTP client on an MQTT port: "G" is the type byte, "E" (69) the remaining length.
  const decoder = varint({ offset: 1, maxFrameLength: 16 }).decoder();
  decoder.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 69);
    assert.match(error.message, /HTTP \("GET"\)/);
    return true;
  });
  // gzip data: 1f the offset byte, 8b 08 a two-byte varint (1035).
  const gzip = varint({ offset: 1, maxFrameLength: 16 }).decoder();
  gzip.push(new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00]));
  assert.throws(() => gzip.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 1035);
    assert.match(error.message, /gzip/);
    return true;
  });
});

test("varint(): one- and two-byte lengths (parsed inline by next() and takeAll()) decode as longer ones do, with the same errors, at every split", () => {
  const lengths = [0, 1, 5, 127, 128, 129, 255, 256, 300, 0, 2];
  assertSplitsAlike(varint({ maxFrameLength: 300 }), lengths, [
    ["the end", [], ""],
    ["a non-minimal two-byte varint", [0x85, 0x00, 1, 2, 3, 4, 5], "MalformedHeaderError"],
    ["a two-byte length over the limit", [0xad, 0x02, 7, 7], "FrameTooLargeError"],
    ["a three-byte varint (within the limit)", [0x81, 0x80, 0x00], "MalformedHeaderError"],
    ["a header cut short", [0x81], "TruncatedFrameError"],
    ["a payload cut short", [0x81, 0x01, 1, 2], "TruncatedFrameError"],
  ]);
  assertSplitsAlike(varint({ maxFrameLength: 100 }), [100, 0, 99], [
    ["a one-byte length over the limit", [101, 7, 7], "FrameTooLargeError"],
  ]);
});

test("varint(): lengths around 16384 (two bytes, then three) decode alike in random chunks, with next() and takeAll()", () => {
  const framing = varint();
  const lengths = [16383, 3, 16384, 128, 16385, 127];
  const wire = concat(lengths.map((n, i) => framing.encode(payloadOf(n, i))));
  const reference = decodeWays(framing, wire, [], "next");
  assert.deepEqual(reference.map((f) => Number(f.split(":")[0])), lengths);
  // Cuts inside or next to every header, then random ones.
  const headers: number[] = [];
  for (let i = 0, at = 0; i < lengths.length; i++) {
    headers.push(at);
    at += framing.encodedLength(new Uint8Array(lengths[i]!));
  }
  const near = headers.flatMap((h) => [h - 1, h, h + 1, h + 2, h + 3]).filter((c) => c >= 0);
  for (const way of ["next", "takeAll"] as const) {
    for (const a of near) {
      for (const b of near) {
        if (a >= b) continue;
        assert.deepEqual(decodeWays(framing, wire, [a, b], way), reference, `${way} ${a} ${b}`);
      }
    }
    fc.assert(
      fc.property(
        cutsArbitrary(wire.length),
        (cuts) => {
          assert.deepEqual(decodeWays(framing, wire, cuts, way), reference);
        },
      ),
      { numRuns: 100 },
    );
  }
});
