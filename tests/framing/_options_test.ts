// Every entry point that takes options or a framing refuses other values with one TypeError.
import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import {
  ByteReader,
  decimalHeader,
  delimited,
  fixedSize,
  framed,
  FrameDecoderStream,
  FrameEncoderStream,
  lengthPrefixed,
  lines,
  netstring,
  reliableClient,
  reliableServer,
  varint,
} from "../../mod.ts";
import type {
  DecimalHeaderOptions,
  DelimitedOptions,
  LengthPrefixedOptions,
  LinesOptions,
  NetstringOptions,
  VarintOptions,
} from "../../mod.ts";
import { isOwnFraming, signalError, withFixedOverhead } from "../../src/framing/_options.ts";
import { MemoryLink } from "../_util/memory_conn.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

test("null or a primitive as options: a TypeError in framewire's words, not the engine's", () => {
  const link = new MemoryLink();
  const entries: [string, (options: Any) => unknown][] = [
    ["create framing", (o) => lengthPrefixed(o)],
    ["create framing", (o) => varint(o)],
    ["create framing", (o) => decimalHeader(o)],
    ["create framing", (o) => delimited(o)],
    ["create framing", (o) => lines(o)],
    ["create framing", (o) => netstring(o)],
    ["frame connection", (o) => framed(link.client, lengthPrefixed(), o)],
    ["create FrameEncoderStream", (o) => new FrameEncoderStream(lengthPrefixed(), o)],
    ["create FrameDecoderStream", (o) => new FrameDecoderStream(lengthPrefixed(), o)],
    ["create server", (o) => reliableServer((async function* () {})(), o)],
    ["create client", (o) => reliableClient(() => Promise.resolve(link.client), o)],
  ];
  for (const [action, make] of entries) {
    for (
      const [value, received] of [[null, "null"], [5, "5"], ["u32be", 'the string "u32be"']] as [
        unknown,
        string,
      ][]
    ) {
      // Before, null read as "Cannot read properties of null (reading 'width')", or worse.
      assert.throws(() => make(value), {
        name: "TypeError",
        message: `Cannot ${action} as options must be an object: received ${received}`,
      });
    }
  }
  for (const [dial, received] of [[undefined, "undefined"], [{}, "Object"]] as [Any, string][]) {
    assert.throws(() => reliableClient(dial), {
      name: "TypeError",
      message: `Cannot create client as dial must be a function: received ${received}`,
    });
  }
  link.cut();
});

test("a framing factory refuses an option it does not take, naming the one meant", () => {
  // Every option each factory documents, as a Required<> literal: an option added to an
  // interface must be added here (the type check says so) and to the factory's list (or this
  // test fails), so that a known option is never refused.
  const every: [string, (o: Any) => unknown, object][] = [
    [
      "lengthPrefixed",
      (o) => lengthPrefixed(o),
      {
        width: 2,
        endian: "little",
        counts: "frame",
        lengthAdjustment: 0,
        offset: 1,
        maxFrameLength: 100,
      } satisfies Required<LengthPrefixedOptions>,
    ],
    [
      "varint",
      (o) => varint(o),
      { offset: 1, maxFrameLength: 100 } satisfies Required<VarintOptions>,
    ],
    [
      "decimalHeader",
      (o) => decimalHeader(o),
      {
        width: 4,
        maxFrameLength: 100,
      } satisfies Required<DecimalHeaderOptions>,
    ],
    [
      "delimited",
      (o) => delimited(o),
      {
        delimiter: "\0",
        maxFrameLength: 100,
        stripCR: false,
      } satisfies Required<DelimitedOptions>,
    ],
    ["lines", (o) => lines(o), { maxFrameLength: 100 } satisfies Required<LinesOptions>],
    [
      "netstring",
      (o) => netstring(o),
      { maxFrameLength: 100 } satisfies Required<NetstringOptions>,
    ],
  ];
  for (const [name, make, options] of every) {
    assert.doesNotThrow(() => make(options), name);
    // A key whose value is undefined means nothing either way (a spread of optional settings).
    assert.doesNotThrow(() => make({ ...options, other: undefined }), name);
    assert.throws(() => make({ ...options, other: 0 }), {
      name: "TypeError",
      message: `Cannot create framing as ${name}() has no option "other": its options are ${
        Object.keys(options).join(", ")
      }`,
    }, name);
  }
  // Other libraries' names (Netty's LengthFieldBasedFrameDecoder, tokio-util, it-length-prefixed),
  // in any case and with underscores, and misspellings: before, each was ignored, and
  // lengthPrefixed({ lengthFieldLength: 2 }) read 4-byte lengths.
  const refused: [() => unknown, string][] = [
    [
      () => lengthPrefixed({ lengthFieldLength: 2 } as Any),
      '"lengthFieldLength" (in framewire: width)',
    ],
    [
      () => lengthPrefixed({ length_field_length: 2 } as Any),
      '"length_field_length" (in framewire: width)',
    ],
    [
      () => lengthPrefixed({ lengthFieldOffset: 1 } as Any),
      '"lengthFieldOffset" (in framewire: offset)',
    ],
    [
      () => lengthPrefixed({ littleEndian: true } as Any),
      '"littleEndian" (in framewire: endian: "little")',
    ],
    // The value counts: false is the other order.
    [
      () => lengthPrefixed({ littleEndian: false } as Any),
      '"littleEndian" (in framewire: endian: "big")',
    ],
    [
      () => lengthPrefixed({ big_endian: false } as Any),
      '"big_endian" (in framewire: endian: "little")',
    ],
    [
      () => lengthPrefixed({ bigEndian: 1 } as Any),
      '"bigEndian" (in framewire: endian: "big")',
    ],
    [() => lengthPrefixed({ byteOrder: "LE" } as Any), '"byteOrder" (in framewire: endian)'],
    [() => lengthPrefixed({ widht: 2 } as Any), '"widht" (did you mean width?)'],
    [() => lengthPrefixed({ Width: 2 } as Any), '"Width" (did you mean width?)'],
    [
      () => lengthPrefixed({ lengthadjustment: -4 } as Any),
      '"lengthadjustment" (did you mean lengthAdjustment?)',
    ],
    [() => varint({ maxDataLength: 9 } as Any), '"maxDataLength" (in framewire: maxFrameLength)'],
    [() => netstring({ maxFrameLen: 9 } as Any), '"maxFrameLen" (did you mean maxFrameLength?)'],
    [() => decimalHeader({ digits: 8 } as Any), '"digits" (in framewire: width)'],
    [() => delimited({ delimiters: "\n" } as Any), '"delimiters" (in framewire: delimiter)'],
    [() => lines({ maxLength: 80 } as Any), '"maxLength" (in framewire: maxFrameLength)'],
    // A name another factory takes is no suggestion here: lines() always strips "\r".
    [() => lines({ stripCR: false } as Any), '"stripCR"'],
    // Netty's alias for an option this factory lacks: no suggestion.
    [() => netstring({ lengthFieldLength: 2 } as Any), '"lengthFieldLength"'],
    // Names an Object.prototype member has are no alias: before, "constructor" (any case) found
    // Object as its framewire name and threw "other.split is not a function".
    [() => lengthPrefixed({ constructor: 2 } as Any), '"constructor"'],
    [() => varint({ Constructor: 2 } as Any), '"Constructor"'],
    [() => lines(JSON.parse('{"__proto__": 80}')), '"__proto__"'],
  ];
  for (const [make, what] of refused) {
    assert.throws(make, (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.ok(
        error.message.includes(`() has no option ${what}: its options are `),
        error.message,
      );
      return true;
    }, what);
  }
});

test("a framing factory checks the keys it reads: inherited ones too, but not inherited methods; symbol keys it neither reads nor checks", () => {
  // Options are read by name through the prototype chain, as Web IDL dictionaries are: an
  // inherited maxFrameLength sets the limit, so an inherited misspelling must be refused too.
  // Before, only own keys were checked: lengthPrefixed(Object.create({ lengthFieldLength: 2 }))
  // silently read 4-byte lengths.
  assert.equal(lines(Object.create({ maxFrameLength: 5 })).maxFrameLength, 5);
  assert.equal(lengthPrefixed(Object.create(Object.create({ width: 2 }))).name, "u16be");
  for (
    const [make, what] of [
      [() => lengthPrefixed(Object.create({ lengthFieldLength: 2 })), '"lengthFieldLength"'],
      [() => varint(Object.create(Object.create({ maxFrameLen: 9 }))), '"maxFrameLen"'],
    ] as const
  ) {
    assert.throws(make, (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.ok(error.message.includes(`() has no option ${what}`), error.message);
      return true;
    }, what);
  }
  // An own key whose value is undefined hides an inherited one, for the check as for the reading.
  const hidden = Object.assign(Object.create({ widht: 2, width: 2 }), {
    widht: undefined,
    width: undefined,
  });
  assert.equal(lengthPrefixed(hidden).name, "u32be");
  // An inherited method is no option (none takes a function): a class compiled to ES5, a
  // constructor function or an object literal puts enumerable methods on the prototype. Before,
  // lines(new Config()) below failed with 'has no option "describe"'. An own one is still refused.
  function Config(this: { maxFrameLength: number }): void {
    this.maxFrameLength = 7;
  }
  Config.prototype.describe = function (): string {
    return "config";
  };
  assert.equal(lines(new (Config as Any)()).maxFrameLength, 7);
  assert.equal(lines(Object.create({ maxFrameLength: 8, toString: () => "x" })).maxFrameLength, 8);
  assert.throws(() => lines({ describe: () => "x" } as Any), /has no option "describe"/);
  // A symbol key is never read, so it is no option: not refused, and no limit.
  assert.equal(lines({ [Symbol("maxFrameLength")]: 5 } as Any).maxFrameLength, 64 * 1024);
  // Object.prototype's own keys are not the caller's: an enumerable one that some other code
  // added is no option of every call.
  const proto = Object.prototype as Record<string, unknown>;
  proto.framewireTestKey = 1;
  try {
    assert.equal(lines({}).maxFrameLength, 64 * 1024);
  } finally {
    delete proto.framewireTestKey;
  }
});

test("an options Proxy whose prototype chain comes back on itself is read once round", () => {
  // Before, the walk up the prototypes followed the trap for ever (the test run hung).
  const looped = (target: object): object => {
    const proxy: object = new Proxy(target, { getPrototypeOf: () => proxy });
    return proxy;
  };
  assert.equal(lines(looped({ maxFrameLength: 9 })).maxFrameLength, 9);
  assert.throws(() => lines(looped({ maxFrameLen: 9 })), /has no option "maxFrameLen"/);
});

test("something other than a framing: a TypeError naming what is missing", async () => {
  const link = new MemoryLink();
  const expected = (action: string, received: string) => ({
    name: "TypeError",
    message:
      `Cannot ${action} as framing must be a Framing, with encode() and decoder(): received ${received}`,
  });
  for (
    const [value, received] of [
      [undefined, "undefined"],
      [{}, "Object"],
      [Object.create(null), "object"],
      [[], "Array"],
      ["u32be", "string"],
    ] as [unknown, string][]
  ) {
    const framing = value as Any;
    assert.throws(() => framed(link.client, framing), expected("frame connection", received));
    assert.throws(
      () => new FrameEncoderStream(framing),
      expected("create FrameEncoderStream", received),
    );
    assert.throws(
      () => new FrameDecoderStream(framing),
      expected("create FrameDecoderStream", received),
    );
    const reader = new ByteReader(new ReadableStream());
    await assert.rejects(reader.readFrame(framing), expected("read frame", received));
    reader.releaseLock();
  }
  link.cut();
});

test("something other than bytes: the message names what it got, in one way everywhere", () => {
  const link = new MemoryLink();
  const cases: [unknown, string][] = [
    [null, "null"],
    [7, "number"],
    [[1, 2], "Array"],
    [new DataView(new ArrayBuffer(2)), "DataView"],
    [new ArrayBuffer(2), "ArrayBuffer (wrap it: new Uint8Array(buffer))"],
    // Of another realm (node:vm, an iframe): instanceof Uint8Array is false for it. Before: "must
    // be a Uint8Array: received Uint8Array".
    [
      vm.runInNewContext("new Uint8Array(2)"),
      "Uint8Array of another realm (copy it into this one: new Uint8Array(value))",
    ],
  ];
  for (const [value, received] of cases) {
    const bytes = value as Any;
    assert.throws(() => lengthPrefixed().encode(bytes), {
      name: "TypeError",
      message: `Cannot encode frame as the payload must be a Uint8Array: received ${received}`,
    });
    assert.throws(() => varint().decoder().push(bytes), {
      name: "TypeError",
      message: `Cannot decode frames as the chunk must be a Uint8Array: received ${received}`,
    });
    assert.throws(() => framed(link.client, lengthPrefixed(), { buffered: bytes }), {
      name: "TypeError",
      message: `Cannot frame connection as buffered must be a Uint8Array: received ${received}`,
    });
    if (value !== null) {
      // (null is no delimiter: the default applies.)
      assert.throws(() => delimited({ delimiter: bytes }), {
        name: "TypeError",
        message:
          `Cannot create framing as the delimiter must be a string or a Uint8Array: received ${received}`,
      });
    }
  }
  link.cut();
});

test("a session's send() names a Uint8Array of another realm as such", async () => {
  const client = reliableClient(() => new Promise<never>(() => {}));
  try {
    await assert.rejects(client.send(vm.runInNewContext("new Uint8Array(2)")), {
      name: "TypeError",
      message:
        "Cannot send as the payload must be a Uint8Array or a string: received Uint8Array of another realm (copy it into this one: new Uint8Array(value))",
    });
  } finally {
    await client.close({ timeout: 0 });
  }
});

test("options that would be misread or fail later are refused at the call: booleans, allocate, offset", () => {
  const link = new MemoryLink();
  const refused: [string, () => unknown, RegExp][] = [
    // Before: "false" read as true (stripCR on, buffers reused).
    [
      "stripCR",
      () => delimited({ stripCR: "false" as Any }),
      /^Cannot create framing as stripCR must be a boolean: received the string "false"$/,
    ],
    [
      "reuseBuffers",
      () => framed(link.client, lengthPrefixed(), { reuseBuffers: "false" as Any }),
      /^Cannot frame connection as reuseBuffers must be a boolean: received the string "false"$/,
    ],
    [
      "decoder reuseBuffers",
      () => lines().decoder({ reuseBuffers: 1 as Any }),
      /^Cannot create decoder as reuseBuffers must be a boolean: received 1$/,
    ],
    [
      "decoder options",
      () => lengthPrefixed().decoder(5 as Any),
      /^Cannot create decoder as options must be an object: received 5$/,
    ],
    // Before: accepted, and "allocate is not a function" at the first frame over 8 KiB that spans chunks.
    [
      "allocate",
      () => new FrameDecoderStream(lengthPrefixed(), { allocate: 5 as Any }),
      /^Cannot create decoder as allocate must be a function: received 5$/,
    ],
    // A falsy non-function too (only undefined and null mean none).
    [
      "allocate false",
      () => lengthPrefixed().decoder({ allocate: false as Any }),
      /^Cannot create decoder as allocate must be a function: received false$/,
    ],
    // Before: accepted, and decoder() allocated offset bytes (8 GiB for 2 ** 33).
    [
      "offset",
      () => lengthPrefixed({ offset: 65536 }),
      /^Cannot create framing as offset must be an integer from 0 to 65535: received 65536$/,
    ],
  ];
  for (const [what, make, message] of refused) {
    const name = what === "offset" ? "RangeError" : "TypeError";
    assert.throws(make, { name, message }, what);
  }
  assert.equal(lengthPrefixed({ offset: 65535 }).decoder().bufferedBytes, 0);
  // null is the default, as for every other option (maxFrameLength and the booleans refused it).
  assert.equal(lengthPrefixed({ maxFrameLength: null as Any }).maxFrameLength, 4 * 1024 * 1024);
  assert.equal(
    delimited({ stripCR: null as Any, maxFrameLength: null as Any }).maxFrameLength,
    65536,
  );
  assert.equal(
    lines().decoder({ reuseBuffers: null as Any, allocate: null as Any }).bufferedBytes,
    0,
  );
  assert.equal(delimited({ stripCR: false }).name, "delimited");
  link.cut();
});

test("a numeric option given no number is a TypeError, a number out of range a RangeError", async () => {
  const none = (async function* () {})();
  const client = (o: Any) => reliableClient(() => Promise.resolve(new MemoryLink().client), o);
  const entries: [string, (value: Any) => unknown][] = [
    ["maxFrameLength", (v) => lengthPrefixed({ maxFrameLength: v })],
    ["size", (v) => fixedSize(v)],
    ["width", (v) => lengthPrefixed({ width: v })],
    ["offset", (v) => lengthPrefixed({ offset: v })],
    ["width", (v) => decimalHeader({ width: v })],
    ["coalesce", (v) => new FrameEncoderStream(lines(), { coalesce: v })],
    ["coalesce", (v) => framed(new MemoryLink().client, lines(), { coalesce: v })],
    ["highWaterMark", (v) => framed(new MemoryLink().client, lines(), { highWaterMark: v })],
    ["timeout", (v) => framed(new MemoryLink().client, lines()).close({ timeout: v })],
    ["n", (v) => new ByteReader(new ReadableStream()).readExactly(v)],
    ["resumeTimeout", (v) => reliableServer(none, { resumeTimeout: v })],
    ["maxSessions", (v) => reliableServer(none, { maxSessions: v })],
    ["maxMessageSize", (v) => reliableServer(none, { maxMessageSize: v })],
    ["sendBufferSize", (v) => client({ sendBufferSize: v })],
    ["ackDelay", (v) => client({ ackDelay: v })],
    ["closeTimeout", (v) => client({ closeTimeout: v })],
    ["reconnect.base", (v) => client({ reconnect: { base: v } })],
    ["reconnect.jitter", (v) => client({ reconnect: { jitter: v } })],
    ["reconnect.maxAttempts", (v) => client({ reconnect: { maxAttempts: v } })],
  ];
  for (const [name, make] of entries) {
    // Before: a RangeError for both, "received the string" read as if it were out of range.
    await assert.rejects(async () => await make("5"), {
      name: "TypeError",
      message: new RegExp(` as ${name.replace(".", "\\.")} must .*: received the string "5"$`),
    }, `${name} "5"`);
    await assert.rejects(async () => await make(true), TypeError, `${name} true`);
    await assert.rejects(async () => await make(-2), {
      name: "RangeError",
      message: new RegExp(` as ${name.replace(".", "\\.")} must .*: received -2$`),
    }, `${name} -2`);
  }
});

test("maxFrameLength: 1 is the smallest limit every format takes (0 a RangeError), and holds", () => {
  const makers: [string, (maxFrameLength: number) => Any][] = [
    ["lengthPrefixed", (m) => lengthPrefixed({ maxFrameLength: m })],
    ["varint", (m) => varint({ maxFrameLength: m })],
    ["decimalHeader", (m) => decimalHeader({ maxFrameLength: m })],
    ["netstring", (m) => netstring({ maxFrameLength: m })],
    ["delimited", (m) => delimited({ delimiter: new Uint8Array([0]), maxFrameLength: m })],
    ["lines", (m) => lines({ maxFrameLength: m })],
  ];
  for (const [name, make] of makers) {
    assert.throws(() => make(0), RangeError, name);
    const framing = make(1);
    assert.equal(framing.maxFrameLength, 1, name);
    const decoder = framing.decoder();
    decoder.push(framing.encode(new Uint8Array([65])));
    assert.deepEqual(decoder.next(), new Uint8Array([65]), name);
    assert.throws(() => framing.encode(new Uint8Array([65, 66])), RangeError, name);
  }
});

test("encodeInto() names a room or a target of one byte as 1 byte, not 1 bytes", () => {
  // Before: "needs 1 bytes" and "a buffer of 1 bytes".
  assert.throws(() => lines().encodeInto(new Uint8Array(0), new Uint8Array(0), 0), {
    name: "RangeError",
    message:
      "Cannot encode frame into target as it needs 1 byte at offset 0: received a buffer of 0 bytes",
  });
  assert.throws(() => fixedSize(2).encodeInto(new Uint8Array(2), new Uint8Array(1), 0), {
    name: "RangeError",
    message:
      "Cannot encode frame into target as it needs 2 bytes at offset 0: received a buffer of 1 byte",
  });
});

test("encodeInto() into a Uint8Array of another realm: taken with room, short of room a RangeError as for any", () => {
  const target = vm.runInNewContext("new Uint8Array(3)") as Uint8Array;
  assert.equal(fixedSize(3).encodeInto(new Uint8Array([1, 2, 3]), target, 0), 3);
  assert.deepEqual(Array.from(target), [1, 2, 3]);
  // Before: a TypeError, "the target must be a Uint8Array: received Uint8Array of another realm
  // (copy it into this one: …)", whose copy would have taken the frame out of the caller's sight.
  assert.throws(() => fixedSize(3).encodeInto(new Uint8Array(3), target, 1), {
    name: "RangeError",
    message:
      "Cannot encode frame into target as it needs 3 bytes at offset 1: received a buffer of 3 bytes",
  });
});

test("a long string is named by its first 40 characters in a message, a string of 40 in full", () => {
  const message = (value: string) =>
    `Cannot create framing as maxFrameLength must be a positive integer or Infinity: received the string ${value}`;
  const forty = "0123456789".repeat(4);
  assert.throws(() => lengthPrefixed({ maxFrameLength: forty as Any }), {
    name: "TypeError",
    message: message(`"${forty}"`),
  });
  assert.throws(() => lengthPrefixed({ maxFrameLength: (forty + "x") as Any }), {
    name: "TypeError",
    message: message(`"${forty}…"`),
  });
});

test("a signal must have aborted, addEventListener() and removeEventListener() (a look-alike passes)", () => {
  const fn = () => {};
  const alike = { aborted: false, addEventListener: fn, removeEventListener: fn };
  assert.equal(signalError(alike, "connect"), undefined);
  assert.equal(signalError(undefined, "connect"), undefined);
  assert.equal(signalError(null, "connect"), undefined);
  for (
    const half of [
      { aborted: false, addEventListener: fn },
      { aborted: false, removeEventListener: fn },
      { addEventListener: fn, removeEventListener: fn },
      { aborted: "no", addEventListener: fn, removeEventListener: fn },
    ]
  ) {
    const error = signalError(half, "connect");
    assert.ok(error instanceof TypeError, JSON.stringify(Object.keys(half)));
    assert.equal(
      error.message,
      "Cannot connect as signal must be an AbortSignal: received Object",
    );
  }
});

test("isOwnFraming(): every factory's framing, and nothing that only states a fixed overhead", () => {
  for (
    const framing of [
      lengthPrefixed(),
      varint(),
      decimalHeader(),
      netstring(),
      fixedSize(4),
      delimited({ delimiter: "\r\n" }),
      lines(),
    ]
  ) {
    assert.equal(isOwnFraming(framing), true, framing.name);
  }
  // A framing made elsewhere from a framewire decoder (as the reliable handshake's is: its
  // decoders' limit changes) is not one whose decoder() always makes the same decoder.
  const inner = lengthPrefixed();
  const made = withFixedOverhead({ ...inner, decoder: () => inner.decoder() }, 4);
  assert.equal(isOwnFraming(made), false);
  assert.equal(isOwnFraming({ ...inner }), false);
});
