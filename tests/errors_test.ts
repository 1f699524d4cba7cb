import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  decimalHeader,
  FrameTooLargeError,
  FramingError,
  lengthPrefixed,
  lines,
  MalformedHeaderError,
  netstring,
  TruncatedFrameError,
} from "../mod.ts";
import { inspect } from "node:util";
import { watchSockets } from "./_util/leaks.ts";

const sockets = watchSockets();

test("FramingError subclasses carry stable codes, names and fields", () => {
  const tooLarge = new FrameTooLargeError(70000, 65536);
  assert.equal(
    tooLarge.message,
    "Cannot decode frame as length 70000 exceeds maxFrameLength 65536",
  );
  assert.deepEqual([tooLarge.name, tooLarge.code, tooLarge.length, tooLarge.limit], [
    "FrameTooLargeError",
    "FRAME_TOO_LARGE",
    70000,
    65536,
  ]);
  const truncated = new TruncatedFrameError("header", 2, { expected: 4 });
  assert.deepEqual([
    truncated.name,
    truncated.code,
    truncated.part,
    truncated.expected,
    truncated.received,
  ], [
    "TruncatedFrameError",
    "TRUNCATED_FRAME",
    "header",
    4,
    2,
  ]);
  const malformed = new MalformedHeaderError("bad", new Uint8Array([0xde, 0xad]));
  assert.deepEqual([malformed.name, malformed.code, malformed.bytes], [
    "MalformedHeaderError",
    "MALFORMED_HEADER",
    "de ad",
  ]);
  const cause = new Error("ECONNREFUSED");
  const connection = new ConnectionError("Cannot connect", { code: "CONNECTION_REFUSED", cause });
  assert.deepEqual([connection.name, connection.code, connection.cause], [
    "ConnectionError",
    "CONNECTION_REFUSED",
    cause,
  ]);
  assert.equal(new ConnectionError("x").code, "CONNECTION_FAILED");
  for (const error of [tooLarge, truncated, malformed, connection]) {
    assert.ok(error instanceof FramingError && error instanceof Error);
  }
});

/**
 * What a decoder may throw, told apart by `code` alone: each class's `code` is its literal, so the
 * switch narrows to the class and its fields (without that, `error.length` does not type-check and
 * the function may return undefined; `deno check` fails).
 */
function describeDecodeError(
  error: FrameTooLargeError | TruncatedFrameError | MalformedHeaderError,
): string {
  switch (error.code) {
    case "FRAME_TOO_LARGE":
      return `${error.length} > ${error.limit}`;
    case "TRUNCATED_FRAME":
      return `${error.part}: ${error.received} of ${error.expected}`;
    case "MALFORMED_HEADER":
      return error.bytes;
  }
}

test("FramingError subclasses: a switch on code narrows a union of them to each class", () => {
  assert.deepEqual(
    [
      new FrameTooLargeError(9, 8),
      new TruncatedFrameError("payload", 1, { expected: 3 }),
      new MalformedHeaderError("bad", new Uint8Array([0x7a])),
    ].map(describeDecodeError),
    ["9 > 8", "payload: 1 of 3", "7a"],
  );
});

test("MalformedHeaderError names TLS and HTTP when a text header meets them", () => {
  const tls = decimalHeader().decoder();
  tls.push(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5]));
  assert.throws(
    () => tls.next(),
    (error) => error instanceof MalformedHeaderError && /TLS/.test(error.message),
  );
  // A TLS server's alert to a plain-TCP client (Deno's and Bun's), as a text header reads it.
  for (const framing of [decimalHeader(), netstring()]) {
    const alert = framing.decoder();
    alert.push(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]));
    assert.throws(() => alert.next(), {
      name: "MalformedHeaderError",
      message:
        /: the bytes look like a TLS alert record \(15 03 \.\.\.\); is the peer a TLS server/,
    }, framing.name);
  }
  const http = decimalHeader().decoder();
  http.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assert.throws(
    () => http.next(),
    (error) => error instanceof MalformedHeaderError && /HTTP/.test(error.message),
  );
  // The bytes shown end at the one that is wrong; the cause is read from all that arrived.
  const ns = netstring().decoder();
  ns.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assert.throws(() => ns.next(), {
    name: "MalformedHeaderError",
    message:
      'Cannot decode frame as its header is malformed: netstring length has byte 0x47 (bytes 47): the bytes look like HTTP ("GET"); is an HTTP client talking to this port?',
  });
});

test("FrameTooLargeError names text only where a binary length field was expected", () => {
  // A decimal header is text itself: "9999" over the limit is no sign of the wrong format.
  const decimal = decimalHeader({ width: 4, maxFrameLength: 100 }).decoder();
  decimal.push(new TextEncoder().encode("9999"));
  assert.throws(() => decimal.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.message, "Cannot decode frame as length 9999 exceeds maxFrameLength 100");
    assert.equal(error.hint, undefined);
    return true;
  });
});

test("A length field of 1-3 bytes is read on into the bytes after it to name HTTP", () => {
  const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const hint = 'the bytes look like HTTP ("GET"); is an HTTP client talking to this port?';
  // A u16 field reads "GE" as 18245: over a 1 KiB limit, an HTTP request once its bytes are there.
  for (
    const [framing, length] of [
      [lengthPrefixed({ width: 2, maxFrameLength: 1024 }), 0x4745],
      [lengthPrefixed({ width: 2, endian: "little", maxFrameLength: 1024 }), 0x4547],
      [lengthPrefixed({ width: 3, maxFrameLength: 1024 }), 0x474554],
      [lengthPrefixed({ width: 1, maxFrameLength: 64 }), 0x47],
    ] as const
  ) {
    // Split at every offset: the hint needs the first 4 bytes in the chunk that completes the
    // header (a header gathered from two chunks is checked alone, and says nothing of HTTP).
    for (let cut = 1; cut <= request.length; cut++) {
      const decoder = framing.decoder();
      decoder.push(request.subarray(0, cut));
      let error: unknown;
      try {
        decoder.next();
        decoder.push(request.subarray(cut));
        decoder.next();
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof FrameTooLargeError, `${framing.name}, cut ${cut}`);
      assert.equal(error.length, length);
      assert.equal(error.hint, cut >= 4 ? hint : undefined, `${framing.name}, cut ${cut}`);
    }
  }
  // The bytes after a field join only the signature checks: a u16 field of text followed by
  // more text is no sign of the wrong format (printable lengths are common in 2-byte fields).
  const text = new FrameTooLargeError(0x4142, 100, {
    header: new Uint8Array([0x41, 0x42]),
    following: new TextEncoder().encode("CDEF"),
    swappedLength: 0x4241,
  });
  assert.equal(text.hint, undefined);
  // No bytes after it, or a header of 4 bytes already: as before.
  const short = (following?: Uint8Array) =>
    new FrameTooLargeError(1e9, 100, { header: new TextEncoder().encode("GE"), following }).hint;
  assert.equal(short(), undefined);
  assert.equal(short(new Uint8Array(0)), undefined);
  assert.equal(short(new TextEncoder().encode("T")), undefined);
  assert.equal(short(new TextEncoder().encode("T ")), hint);
  assert.equal(
    new FrameTooLargeError(1e9, 100, {
      header: new TextEncoder().encode("XGET"),
      following: new TextEncoder().encode("GET "),
    }).hint,
    undefined,
  );
});

test("MalformedHeaderError shows up to 32 bytes in full and marks only longer ones as cut", () => {
  const hex32 = new MalformedHeaderError("bad", new Uint8Array(32).fill(0xab)).bytes;
  assert.equal(hex32, Array(32).fill("ab").join(" "));
  const hex33 = new MalformedHeaderError("bad", new Uint8Array(33).fill(0xab)).bytes;
  assert.equal(hex33, `${hex32} …`);
});

/** What the runtime's own inspect shows: Deno.inspect, Bun.inspect, and util.inspect on all three. */
function inspections(value: unknown): string[] {
  const runtime = globalThis as {
    Deno?: { inspect(value: unknown): string };
    Bun?: { inspect(value: unknown): string };
  };
  const own = runtime.Deno?.inspect ?? runtime.Bun?.inspect;
  return [inspect(value), ...(own === undefined ? [] : [own(value)])];
}

test("toJSON() gives name, code, message, the fields and the cause, without the stack", () => {
  const tooLarge = new FrameTooLargeError(70000, 65536, {
    header: new Uint8Array([0x16, 3, 1, 0]),
  });
  const json = tooLarge.toJSON();
  assert.deepEqual(Object.keys(json), ["name", "code", "message", "length", "limit", "hint"]);
  // Plain data: its own JSON, with nothing JSON would leave out.
  const cut = new TruncatedFrameError("header", 1).toJSON();
  assert.deepEqual(cut, JSON.parse(JSON.stringify(cut)));
  assert.equal(json.message, tooLarge.message);
  assert.equal(json.hint, tooLarge.hint);
  // JSON.stringify calls it: before, a log line had no message ({"code":…,"name":…,"length":…}).
  assert.deepEqual(JSON.parse(JSON.stringify(tooLarge)), json);
  const runtime = new Error("connect ECONNREFUSED 127.0.0.1:1") as Error & { code: string };
  runtime.code = "ECONNREFUSED";
  const error = new ConnectionError("Cannot connect to 127.0.0.1:1 as the connection was refused", {
    code: "CONNECTION_REFUSED",
    cause: runtime,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(error)), {
    name: "ConnectionError",
    code: "CONNECTION_REFUSED",
    message: "Cannot connect to 127.0.0.1:1 as the connection was refused",
    cause: { name: "Error", code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" },
  });
  assert.doesNotMatch(JSON.stringify(error), /stack|\bat /);
  // A cause of each kind: a framewire error with its fields, a DOMException (name and message
  // are getters of its prototype), bytes as hex, a bigint as digits, a plain value as it is.
  const shapes: [unknown, unknown][] = [
    [new TruncatedFrameError("payload", 2, { expected: 5 }), {
      name: "TruncatedFrameError",
      code: "TRUNCATED_FRAME",
      message: "Cannot decode frame as the input ended inside its payload: received 2 of 5 bytes",
      part: "payload",
      expected: 5,
      received: 2,
    }],
    [new DOMException("The operation was aborted", "AbortError"), {
      name: "AbortError",
      code: 20,
      message: "The operation was aborted",
    }],
    [new Uint8Array([0x16, 3, 1]), "16 03 01"],
    [new Uint8Array(40).buffer, `${"00 ".repeat(32)}…`],
    [new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2), "02 03"],
    [2n ** 64n, "18446744073709551616"],
    [{ reason: "quota", bytes: new Uint8Array([255]), at: [1, 2n] }, {
      reason: "quota",
      bytes: "ff",
      at: [1, "2"],
    }],
    ["timeout", "timeout"],
    [new Date(0), "1970-01-01T00:00:00.000Z"],
  ];
  for (const [cause, expected] of shapes) {
    const json = new ConnectionError("Cannot connect as it failed", { cause }).toJSON();
    assert.deepEqual(json.cause, expected, inspect(cause));
  }
  // No cause, no key; a cause of undefined given, nothing JSON shows.
  assert.ok(!("cause" in new ConnectionError("Cannot connect as it failed").toJSON()));
});

test("toJSON() of an application's subclass shows its fields, bytes as hex", () => {
  class RecordError extends FramingError {
    readonly header: Uint8Array;
    readonly count: bigint;
    constructor(header: Uint8Array) {
      super("Cannot read record as its header is unknown", "MALFORMED_HEADER");
      this.header = header;
      this.count = 3n;
    }
  }
  const error = new RecordError(new Uint8Array([0x16, 0x03, 0x01]));
  // Before (no toJSON()): {"name":"RecordError","code":…,"header":{"0":22,"1":3,"2":1},…}; a
  // bigint field made JSON.stringify throw.
  assert.deepEqual(JSON.parse(JSON.stringify(error)), {
    name: "RecordError",
    code: "MALFORMED_HEADER",
    message: "Cannot read record as its header is unknown",
    header: "16 03 01",
    count: "3",
  });
  // A detached buffer has no bytes left to show.
  const detached = new RecordError(new Uint8Array(4));
  structuredClone(detached.header.buffer, { transfer: [detached.header.buffer] });
  assert.equal(detached.toJSON().header, "");
});

test("toJSON() ends a cycle of causes and cuts a deep chain, and never throws", () => {
  const a = new ConnectionError("Cannot read as a failed");
  const b = new ConnectionError("Cannot write as b failed", { cause: a });
  Object.defineProperty(a, "cause", { value: b });
  const json = JSON.parse(JSON.stringify(a));
  assert.equal(json.cause.message, b.message);
  assert.equal(json.cause.cause, "[Circular]");
  // A cause that holds itself, in an object and in an array.
  const holder: { self?: unknown; list: unknown[] } = { list: [] };
  holder.self = holder;
  holder.list.push(holder);
  assert.deepEqual(new ConnectionError("Cannot x as y", { cause: holder }).toJSON().cause, {
    self: "[Circular]",
    list: ["[Circular]"],
  });
  // The same value twice side by side is no cycle.
  const shared = { n: 1 };
  assert.deepEqual(
    new ConnectionError("Cannot x as y", { cause: [shared, shared] }).toJSON().cause,
    [{ n: 1 }, { n: 1 }],
  );
  // 10000 errors deep: 9 are shown (the error and 8 causes), then the chain is cut.
  let deep: Error = new Error("the first");
  for (let i = 0; i < 10000; i++) deep = new ConnectionError(`Cannot x as ${i}`, { cause: deep });
  let level: { cause?: unknown } = JSON.parse(JSON.stringify(deep));
  let shown = 1;
  for (; typeof level.cause === "object"; shown++) level = level.cause as { cause?: unknown };
  assert.equal(shown, 9);
  assert.equal(level.cause, "[more left out]");
  // Getters that throw, a throwing toJSON(), a revoked Proxy: left out or named, no throw.
  const hostile = Object.defineProperty({ ok: 1 }, "bad", {
    enumerable: true,
    get() {
      throw new Error("getter");
    },
  });
  const badMessage = Object.defineProperty(new Error("x"), "message", {
    get() {
      throw new Error("getter");
    },
  });
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const causes: [unknown, unknown][] = [
    [hostile, { ok: 1 }],
    [badMessage, { name: "Error" }],
    [{
      toJSON: () => {
        throw new Error("toJSON");
      },
    }, "[a value that JSON cannot hold]"],
    [proxy, "[a value that JSON cannot hold]"],
    [() => {}, undefined],
    [Symbol("s"), undefined],
  ];
  for (const [cause, expected] of causes) {
    const error = new ConnectionError("Cannot x as y", { cause });
    assert.deepEqual(error.toJSON().cause, expected, String(expected));
    JSON.stringify(error);
  }
});

test("toJSON() output goes through structuredClone (postMessage) as it is", () => {
  // structuredClone(error) itself keeps a message and a stack (the name "Error", no code; Bun
  // drops the cause): README.md (Compatibility) says to send error.toJSON() instead.
  const error = new ConnectionError("Cannot read from 127.0.0.1:1 as the peer broke the protocol", {
    code: "PROTOCOL_ERROR",
    cause: new FrameTooLargeError(70000, 65536, { header: new TextEncoder().encode("GET / HT") }),
  });
  const json = error.toJSON();
  const cloned = structuredClone(json);
  assert.deepEqual(cloned, json);
  assert.deepEqual(cloned, JSON.parse(JSON.stringify(error)));
  assert.equal((cloned.cause as { hint?: string }).hint, (error.cause as FrameTooLargeError).hint);
});

test("Inspecting an error shows no hint or expected that is undefined; both stay own properties", () => {
  const tooLarge = new FrameTooLargeError(70000, 65536);
  const truncated = new TruncatedFrameError("header", 1);
  for (const error of [tooLarge, truncated]) {
    for (const shown of inspections(error)) {
      // Before: "hint: undefined" and "expected: undefined" in every one (Bun's also quotes
      // the source line that made the error).
      assert.doesNotMatch(shown, /\b(hint|expected): undefined/, shown);
    }
  }
  assert.ok(Object.hasOwn(tooLarge, "hint") && tooLarge.hint === undefined);
  assert.ok(Object.hasOwn(truncated, "expected") && truncated.expected === undefined);
  assert.deepEqual(Object.keys(tooLarge).sort(), ["code", "length", "limit", "name"]);
  assert.throws(() => {
    throw tooLarge;
  }, { name: "FrameTooLargeError", hint: undefined });
  // Present, they show.
  const withHint = new FrameTooLargeError(70000, 65536, { header: new Uint8Array([0x1f, 0x8b]) });
  const known = new TruncatedFrameError("header", 1, { expected: 4 });
  for (const shown of inspections(withHint)) assert.match(shown, /hint: .*gzip/);
  for (const shown of inspections(known)) assert.match(shown, /expected: 4/);
});

sockets.check();

test("FramingError messages tell an unallocatable length and an unknown header size", () => {
  // Under a huge limit, a length the runtime cannot allocate is at most the limit.
  const cause = new RangeError("Array buffer allocation failed");
  const huge = new FrameTooLargeError(16, 16, { cause });
  assert.equal(
    huge.message,
    "Cannot decode frame as length 16 cannot be allocated (maxFrameLength 16)",
  );
  assert.equal(huge.cause, cause);
  // A cut header of unknown size is not worded as a delimiter format's payload.
  const header = new TruncatedFrameError("header", 2, { cause });
  assert.equal(
    header.message,
    "Cannot decode frame as the input ended inside its header: received 2 of an unknown number of bytes",
  );
  assert.equal(header.cause, cause);
  const malformed = new MalformedHeaderError("bad", new Uint8Array([0xde, 0xad]), { cause });
  assert.equal(
    malformed.message,
    "Cannot decode frame as its header is malformed: bad (bytes de ad)",
  );
  assert.equal(malformed.cause, cause);
});

test("The hints name every HTTP method, and fire on their bytes only", () => {
  const hintOf = (text: string): string | undefined =>
    new FrameTooLargeError(1e9, 100, { header: new TextEncoder().encode(text) }).hint;
  for (
    const method of ["GET", "POST", "PUT", "HEAD", "PRI", "DELETE", "OPTIONS", "PATCH", "CONNECT"]
  ) {
    assert.equal(
      hintOf(`${method} / HTTP/1.1`),
      `the bytes look like HTTP ("${
        method.slice(0, 4).trim()
      }"); is an HTTP client talking to this port?`,
    );
  }
  // One letter off is no HTTP (a Redis "SET", say).
  assert.equal(hintOf("SET k"), undefined);
  assert.equal(hintOf("XTTP/1.1 200"), undefined);
  // TLS and gzip in a 2-byte length field; one of the two bytes alone is neither.
  const hint2 = (a: number, b: number) =>
    new FrameTooLargeError(1e9, 100, { header: new Uint8Array([a, b]) }).hint;
  assert.match(hint2(0x16, 0x03) ?? "", /TLS handshake record/);
  // A TLS server's answer to a plain-TCP client (before, no hint, or a byte-order one).
  assert.match(
    hint2(0x15, 0x03) ?? "",
    /TLS alert record \(15 03 \.\.\.\); is the peer a TLS server/,
  );
  assert.equal(hint2(0x15, 0x00), undefined);
  assert.match(hint2(0x1f, 0x8b) ?? "", /gzip/);
  assert.equal(hint2(0x1f, 0x00), undefined);
  assert.equal(hint2(0x00, 0x8b), undefined);
  // A malformed header has no swapped length to name.
  assert.equal(
    new MalformedHeaderError("bad", new Uint8Array([0, 0, 0, 0])).message,
    "Cannot decode frame as its header is malformed: bad (bytes 00 00 00 00)",
  );
});

test("The text hint takes printable ASCII, tab, CR and LF, from the first byte on", () => {
  const hintOf = (bytes: number[]): string | undefined =>
    new FrameTooLargeError(1e9, 100, { header: new Uint8Array(bytes), swappedLength: 1e9 }).hint;
  assert.equal(
    hintOf([0x20, 0x7e, 0x09, 0x0a, 0x0d]),
    'the bytes look like text (" ~\\t\\n\\r"); is the peer sending lines or other text, not length-prefixed frames?',
  );
  for (const odd of [0x00, 0x08, 0x0b, 0x1f, 0x7f, 0x80]) {
    assert.equal(hintOf([0x41, 0x42, 0x43, odd]), undefined, `byte ${odd}`);
    assert.equal(hintOf([odd, 0x41, 0x42, 0x43]), undefined, `byte ${odd} first`);
  }
});

test("The text hint reads and quotes the first 32 bytes only", () => {
  const text = "abcdefghijklmnopqrstuvwxyz012345"; // 32 bytes
  const hintOf = (bytes: Uint8Array): string | undefined =>
    new FrameTooLargeError(1e9, 100, { header: bytes, swappedLength: 1e9 }).hint;
  const tail = new Uint8Array([...new TextEncoder().encode(text), 0x00, 0x41]);
  assert.equal(
    hintOf(tail),
    `the bytes look like text ("${text}"); is the peer sending lines or other text, not length-prefixed frames?`,
  );
  const last = new TextEncoder().encode(text);
  last[31] = 0x00;
  assert.equal(hintOf(last), undefined);
});

test("FramingError messages count one byte as 1 byte, not 1 bytes", () => {
  // Before: "within maxFrameLength 1 bytes" and "received 0 of 1 bytes".
  assert.equal(
    new FrameTooLargeError(2, 1, { noDelimiter: true }).message,
    "Cannot decode frame as no delimiter came within maxFrameLength 1 byte (2 read)",
  );
  assert.equal(
    new TruncatedFrameError("payload", 0, { expected: 1 }).message,
    "Cannot decode frame as the input ended inside its payload: received 0 of 1 byte",
  );
  assert.equal(
    new TruncatedFrameError("header", 1, { expected: 2 }).message,
    "Cannot decode frame as the input ended inside its header: received 1 of 2 bytes",
  );
  // As a decoder reports them.
  const line = lines({ maxFrameLength: 1 }).decoder();
  line.push(new Uint8Array([65, 66]));
  assert.throws(() => line.next(), {
    name: "FrameTooLargeError",
    message: /^Cannot decode frame as no delimiter came within maxFrameLength 1 byte \(2 read\)/,
  });
  const u8 = lengthPrefixed({ width: 1 }).decoder();
  u8.push(new Uint8Array([1]));
  assert.equal(u8.next(), undefined);
  assert.throws(() => u8.end(), {
    name: "TruncatedFrameError",
    message: "Cannot decode frame as the input ended inside its payload: received 0 of 1 byte",
  });
});
