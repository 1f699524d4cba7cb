// Every error path that is cheap to reach, as the people who log, serialise and branch on the
// errors see them: the class's name, a documented code, a message in the std style with nothing
// left unfilled, and no bytes held that the error has no use for.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  FrameTooLargeError,
  FramingError,
  MalformedHeaderError,
  TruncatedFrameError,
} from "../src/errors.ts";
import {
  decimalHeader,
  delimited,
  fixedSize,
  type Framing,
  lengthPrefixed,
  lines,
  netstring,
  varint,
} from "../src/framing/mod.ts";
import { ByteReader, FrameDecoderStream, FrameEncoderStream } from "../src/streams/mod.ts";
import type { Conn } from "../src/connection/types.ts";
import { framed } from "../src/connection/framed.ts";
import { reliableClient, reliableServer } from "../src/reliable/mod.ts";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import * as node from "../src/adapters/node.ts";
import { MemoryLink, MemoryNetwork } from "./_util/memory_conn.ts";
import { FakeClock } from "./_util/fake_clock.ts";
import { watchSockets } from "./_util/leaks.ts";

const sockets = watchSockets();

/** The codes `FramingErrorCode` documents (the doc comments of src/errors.ts). */
const CODES: ReadonlySet<string> = new Set(
  /export type FramingErrorCode =([^;]+);/
    .exec(readFileSync(new URL("../src/errors.ts", import.meta.url), "utf8"))![1]!
    .match(/"[A-Z_]+"/g)!
    .map((quoted) => quoted.slice(1, -1)),
);

const CLASSES = new Map<string, new (...args: never[]) => Error>([
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["FrameTooLargeError", FrameTooLargeError],
  ["TruncatedFrameError", TruncatedFrameError],
  ["MalformedHeaderError", MalformedHeaderError],
  ["ConnectionError", ConnectionError],
]);

/** What the error says and keeps is fit to log: checked for `label`, thrown or rejected. */
function checkError(label: string, error: unknown): void {
  assert.ok(error instanceof Error, `${label}: ${String(error)}`);
  const Class = CLASSES.get(error.name);
  assert.ok(Class !== undefined, `${label}: unexpected ${error.name}`);
  assert.ok(error instanceof Class, `${label}: named ${error.name}, not one`);
  assert.equal(error.constructor, Class, `${label}: named ${error.name}`);
  const message = error.message;
  // DESIGN.md's wording: "Cannot X as Y".
  assert.match(message, /^Cannot \S.*? as \S/, label);
  // The value a caller passed may be undefined or NaN ("received undefined"); nothing else may.
  const filled = message.replace(/received (undefined|NaN)\b/g, "received X");
  assert.doesNotMatch(filled, /undefined|NaN|\[object |null null/, label);
  assert.doesNotMatch(message, / {2}|(?<!\.)\.\.(?!\.)|(?<!\.)\.$| $/, label);
  // One sentence: a wrapped error's words follow without a second "Cannot".
  assert.doesNotMatch(message, /\bcannot\b.*\bcannot\b/is, label);
  assert.ok(String(error).startsWith(`${error.name}: Cannot `), label);
  assert.ok(error.stack?.split("\n")[0]?.startsWith(`${error.name}: Cannot `), label);
  if (error instanceof FramingError) {
    assert.ok(CODES.has(error.code), `${label}: code ${error.code}`);
    // JSON (a log line) keeps what a reader branches on.
    const json = JSON.parse(JSON.stringify(error));
    assert.equal(json.name, error.name, label);
    assert.equal(json.code, error.code, label);
    // And the message (toJSON(): an Error's own message is not enumerable), which a copy to
    // another thread keeps as it is.
    assert.equal(json.message, error.message, label);
    assert.deepEqual(structuredClone(error.toJSON()), json, label);
    // Inspecting shows no field that is undefined (before: "hint: undefined", "expected: undefined").
    assert.doesNotMatch(inspect(error), /^ +\w+: undefined,?$/m, label);
  }
  if (error instanceof FrameTooLargeError) {
    assert.ok(Number.isSafeInteger(error.length) && error.length >= 0, label);
    assert.ok(error.limit > 0, label);
  }
  if (error instanceof TruncatedFrameError) {
    assert.ok(Number.isSafeInteger(error.received), label);
    assert.ok(error.expected === undefined || error.expected > error.received, label);
  }
  assert.equal(bytesHeld(error, new Set()), 0, `${label}: holds bytes`);
}

/** Bytes of views and buffers reachable from the error's own properties and its causes. */
function bytesHeld(value: unknown, seen: Set<unknown>): number {
  if (typeof value !== "object" || value === null || seen.has(value)) return 0;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return value.buffer.byteLength; // what it keeps alive
  if (value instanceof ArrayBuffer) return value.byteLength;
  let total = 0;
  for (const key of Object.getOwnPropertyNames(value)) {
    if (key === "stack") continue;
    total += bytesHeld((value as Record<string, unknown>)[key], seen);
  }
  return total;
}

/** The error `run` throws or its promise rejects with; fails if it does neither. */
async function errorOf(label: string, run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  assert.fail(`${label}: no error`);
}

/**
 * A decoder of `framing` given `bytes` in one chunk, then ended: an array padded with zeros to
 * 1 MiB (which no error may keep), a string (one byte a character) as it is.
 */
function decode(framing: Framing, bytes: number[] | string): () => void {
  return () => {
    const chunk = new Uint8Array(1 << 20);
    const head = typeof bytes === "string" ? Array.from(bytes, (c) => c.charCodeAt(0)) : bytes;
    chunk.set(head);
    const decoder = framing.decoder();
    decoder.push(typeof bytes === "string" ? chunk.subarray(0, head.length) : chunk);
    while (decoder.next() !== undefined);
    decoder.end();
  };
}

const SYNC: [string, () => unknown][] = [
  // Factories and their options.
  ["lengthPrefixed width 9", () => lengthPrefixed({ width: 9 as 1 })],
  ["lengthPrefixed maxFrameLength 0", () => lengthPrefixed({ maxFrameLength: 0 })],
  ["lengthPrefixed maxFrameLength NaN", () => lengthPrefixed({ maxFrameLength: NaN })],
  ["lengthPrefixed unknown option", () => lengthPrefixed({ lengthFieldLength: 2 } as object)],
  ["lengthPrefixed options 5", () => lengthPrefixed(5 as unknown as object)],
  ["lengthPrefixed endian", () => lengthPrefixed({ endian: "middle" as "big" })],
  ["lengthPrefixed offset -1", () => lengthPrefixed({ offset: -1 })],
  ["varint maxFrameLength -1", () => varint({ maxFrameLength: -1 })],
  ["decimalHeader width 0", () => decimalHeader({ width: 0 })],
  ["delimited empty", () => delimited({ delimiter: "" })],
  ["delimited number", () => delimited({ delimiter: 5 as unknown as string })],
  ["lines stripCR", () => lines({ stripCR: true } as object)],
  ["fixedSize 0", () => fixedSize(0)],
  ["fixedSize undefined", () => fixedSize(undefined as unknown as number)],
  ["netstring maxFrameLength 1.5", () => netstring({ maxFrameLength: 1.5 })],
  // Encoding.
  ["encode string", () => lengthPrefixed().encode("x" as unknown as Uint8Array)],
  ["encode undefined", () => lengthPrefixed().encode(undefined as unknown as Uint8Array)],
  ["encode over the limit", () => lengthPrefixed({ maxFrameLength: 2 }).encode(new Uint8Array(3))],
  [
    "encode over the field",
    () => lengthPrefixed({ width: 1, maxFrameLength: Infinity }).encode(new Uint8Array(256)),
  ],
  ["decimalHeader over the width", () => decimalHeader({ width: 1 }).encode(new Uint8Array(10))],
  ["delimited encode delimiter", () => lines().encode(new Uint8Array([10]))],
  ["fixedSize encode size", () => fixedSize(4).encode(new Uint8Array(3))],
  [
    "encodeInto small target",
    () => lengthPrefixed().encodeInto(new Uint8Array(3), new Uint8Array(2), 0),
  ],
  [
    "encodeInto offset NaN",
    () => lengthPrefixed().encodeInto(new Uint8Array(3), new Uint8Array(9), NaN),
  ],
  // Decoders: bad input, and every peer condition of every format.
  ["push string", () => lengthPrefixed().decoder().push("x" as unknown as Uint8Array)],
  ["push ArrayBuffer", () => lines().decoder().push(new ArrayBuffer(1) as unknown as Uint8Array)],
  ["decoder reuseBuffers 1", () => lines().decoder({ reuseBuffers: 1 as unknown as boolean })],
  ["allocate too small", () => {
    const decoder = lengthPrefixed().decoder({ allocate: (n) => new Uint8Array(n - 1) });
    decoder.push(new Uint8Array([0, 0, 0x23, 0x28, 1])); // 9000 bytes, spanning two chunks
    decoder.push(new Uint8Array(8999));
    decoder.next();
  }],
  ["push after end", () => {
    const decoder = lines().decoder();
    decoder.end();
    decoder.push(new Uint8Array([65]));
  }],
  ["bytes held transferred", () => {
    // A frame's buffer transferred while the decoder still holds the bytes after the frame.
    const decoder = lines().decoder();
    const chunk = new Uint8Array([65, 10, 66]);
    decoder.push(chunk);
    decoder.next();
    structuredClone(chunk.buffer, { transfer: [chunk.buffer] });
    decoder.end();
  }],
  ["u32 too large", decode(lengthPrefixed({ maxFrameLength: 16 }), [0, 0, 1, 0])],
  ["u32 HTTP", decode(lengthPrefixed({ maxFrameLength: 16 }), "GET / HTTP/1.1\r\n")],
  ["u32 swapped", decode(lengthPrefixed({ maxFrameLength: 16 }), [5, 0, 0, 0])],
  ["u16 TLS", decode(lengthPrefixed({ width: 2, maxFrameLength: 16 }), [0x16, 3, 1, 0])],
  ["u64 over 2^53", decode(lengthPrefixed({ width: 8 }), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
  ["u32 cut header", decode(lengthPrefixed(), "\0\0")],
  ["u32 cut payload", decode(lengthPrefixed(), "\0\0\0\x05ab")],
  ["u32 frame counts less than header", decode(lengthPrefixed({ counts: "frame" }), "\0\0\0\x01")],
  ["varint too large", decode(varint({ maxFrameLength: 1 }), [9])],
  ["varint non-minimal", decode(varint(), [0x80, 0x00])],
  ["varint over-long", decode(varint(), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  ["varint cut", decode(varint(), "\x80")],
  ["decimal non-digit", decode(decimalHeader({ width: 4 }), "1x  ")],
  ["decimal gzip", decode(decimalHeader(), [0x1f, 0x8b, 8, 0])],
  ["decimal too large", decode(decimalHeader({ width: 4, maxFrameLength: 2 }), "9999")],
  ["decimal cut", decode(decimalHeader(), "12")],
  ["lines no delimiter", decode(lines({ maxFrameLength: 4 }), "abcdefgh")],
  ["lines cut", decode(lines(), "abc")],
  ["delimited cut one byte", decode(delimited({ delimiter: "\r\n" }), "a")],
  ["fixedSize cut", decode(fixedSize(4), "ab")],
  ["netstring leading zero", decode(netstring(), "01:a,")],
  ["netstring no comma", decode(netstring(), "1:ab")],
  ["netstring too large", decode(netstring({ maxFrameLength: 1 }), "99")],
  ["netstring cut header", decode(netstring(), "12")],
  ["netstring cut payload", decode(netstring(), "5:ab")],
  // Streams and framed() arguments.
  ["FrameDecoderStream 5", () => new FrameDecoderStream(5 as unknown as Framing)],
  ["FrameEncoderStream coalesce", () => new FrameEncoderStream(lines(), { coalesce: -1 })],
  ["ByteReader 5", () => new ByteReader(5 as unknown as ReadableStream<Uint8Array>)],
  ["framed conn undefined", () => framed(undefined as unknown as Conn, lines())],
  ["framed framing 5", () => framed(new MemoryLink().client, 5 as unknown as Framing)],
  ["framed coalesce", () => framed(new MemoryLink().client, lines(), { coalesce: -1 })],
  ["framed buffered", () => framed(new MemoryLink().client, lines(), { buffered: [] as never })],
  // Reliable sessions' arguments.
  ["reliableClient 5", () => reliableClient(5 as never)],
  ["reliableClient sendBufferSize", () => reliableClient(rejectDial, { sendBufferSize: 0 })],
  ["reliableClient factor", () => reliableClient(rejectDial, { reconnect: { factor: 0 } })],
  ["reliableClient clock", () => reliableClient(rejectDial, { clock: {} as never })],
  ["reliableClient unknown option", () => reliableClient(rejectDial, { ackDely: 1 } as never)],
  [
    "reliableClient reconnect unknown option",
    () => reliableClient(rejectDial, { reconnect: { bse: 1 } } as never),
  ],
  [
    "reliableServer unknown option",
    () => reliableServer(new MemoryNetwork().listen(), { maxSession: 1 } as never),
  ],
  ["reliableServer 5", () => reliableServer(5 as never)],
];

function rejectDial(): Promise<Conn> {
  return Promise.reject(new Error("no dial in this test"));
}

function oneChunk(bytes: number[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(bytes));
      controller.close();
    },
  });
}

test("Every cheap error path: its class's name, a documented code, a message with nothing left unfilled, no bytes held", async () => {
  for (const [label, run] of SYNC) {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, `${label}: no error`);
    checkError(label, error);
  }
  // Async functions reject (they never throw): each is called without await first.
  const link = new MemoryLink();
  const fc = framed(link.client, lines({ maxFrameLength: 8 }));
  const client = reliableClient(new MemoryNetwork().dialer, { clock: new FakeClock() });
  const net = new MemoryNetwork();
  const server = reliableServer(net.listen());
  const stream = oneChunk([0, 0, 0, 5, 1]).pipeThrough(new FrameDecoderStream(lengthPrefixed()));
  const ASYNC: [string, () => Promise<unknown>][] = [
    ["readExactly -1", () => new ByteReader(oneChunk([1])).readExactly(-1)],
    ["readExactly cut", () => new ByteReader(oneChunk([1])).readExactly(2)],
    ["readFrame 5", () => new ByteReader(oneChunk([1])).readFrame(5 as unknown as Framing)],
    ["readFrame cut", () => new ByteReader(oneChunk([0, 0, 0, 5, 1])).readFrame(lengthPrefixed())],
    ["FrameDecoderStream cut", () => stream.getReader().read().then(() => stream)],
    ["send 5", () => fc.send(5 as unknown as string)],
    ["send too large", () => fc.send("123456789")],
    ["send delimiter", () => fc.send("a\nb")],
    ["close timeout", () => fc.close({ timeout: -1 })],
    ["close 5", () => fc.close(5 as never)],
    ["session send 5", () => client.send(5 as unknown as string)],
    ["session send too large", () => client.send(new Uint8Array(5 * 1024 * 1024))],
    ["session send signal", () => client.send("x", { signal: 1 as never })],
    ["session send unknown option", () => client.send("x", { signl: 1 } as never)],
    ["session close timeout", () => client.close({ timeout: -1 })],
    ["session close unknown option", () => client.close({ timout: 1 } as never)],
    ["server close unknown option", () => server.close({ timout: 1 } as never)],
    ["server close timeout", () => server.close({ timeout: -1 })],
    ["connect undefined", () => node.connect(undefined as never)],
    ["connect port NaN", () => node.connect({ port: NaN })],
    ["connect port string", () => node.connect({ port: "1" as unknown as number })],
    ["connect hostname", () => node.connect({ hostname: "", port: 1 })],
    ["connect path and port", () => node.connect({ path: "/tmp/x", port: 1 } as never)],
    ["connect long path", () => node.connect({ path: "/".repeat(200) })],
    ["connect signal", () => node.connect({ port: 1, signal: {} as never })],
    ["connectTls caCerts", () => node.connectTls({ port: 1, caCerts: ["no PEM"] })],
    ["listen port 70000", () => node.listen({ port: 70000 })],
    ["listenTls no cert", () => node.listenTls({ port: 0 } as never)],
  ];
  try {
    for (const [label, run] of ASYNC) {
      let promise: Promise<unknown>;
      try {
        promise = run();
      } catch (error) {
        assert.fail(`${label}: threw ${String(error)} instead of rejecting`);
      }
      checkError(label, await errorOf(label, () => promise));
    }
    // A refused connect, on a port that was just free.
    const listener = await node.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const refused = await errorOf("refused", () => node.connect({ port }));
    checkError("refused", refused);
    assert.ok(refused instanceof ConnectionError);
    assert.equal(refused.code, "CONNECTION_REFUSED");
    assert.ok(refused.cause instanceof Error, "the runtime's own error is the cause");
    // A reliable client that gives up on that port: the adapter's words follow its own.
    for (const maxAttempts of [1, 2]) {
      const giving = reliableClient(
        (signal) => node.connect({ hostname: "127.0.0.1", port, signal }),
        { reconnect: { maxAttempts } },
      );
      try {
        const closed = new Promise<unknown>((resolve) =>
          giving.addEventListener("close", (e) => resolve((e as CustomEvent).detail.error))
        );
        const gaveUp = await closed;
        checkError(`gave up after ${maxAttempts}`, gaveUp);
        assert.match(
          (gaveUp as Error).message,
          new RegExp(
            `\\): ${
              maxAttempts === 1 ? "it" : "the last"
            } could not connect to 127\\.0\\.0\\.1:${port} ` +
              "as the connection was refused$",
          ),
        );
      } finally {
        await giving.close({ timeout: 0 }).catch(() => {});
      }
    }
    // A closed session's send and close, after the timeout ran out with a message unconfirmed.
    const pending = client.send("never confirmed");
    checkError("session close", await errorOf("session close", () => client.close({ timeout: 0 })));
    checkError("session unconfirmed send", await errorOf("unconfirmed send", () => pending));
    checkError("session send after close", await errorOf("after close", () => client.send("x")));
  } finally {
    link.cut();
    await client.close({ timeout: 0 }).catch(() => {});
    await server.close();
  }
});

test("One wording per rule: close()'s timeout on a connection, a session and a server; a client's and a server's options name the call", async () => {
  // Before: framed() said "timeout must be from 0 to 2147483647 ms or Infinity", a session
  // "Cannot close as timeout must be a non-negative number", and a client's session options said
  // "Cannot create session as" beside its own "Cannot create client as".
  const fc = framed(new MemoryLink().client, lines());
  const client = reliableClient(new MemoryNetwork().dialer, { clock: new FakeClock() });
  const server = reliableServer(new MemoryNetwork().listen(), { clock: new FakeClock() });
  try {
    const messages = await Promise.all(
      [fc.close({ timeout: -1 }), client.close({ timeout: -1 }), server.close({ timeout: -1 })]
        .map((p) => p.then(() => "", (error: Error) => error.message)),
    );
    assert.deepEqual(messages, [
      "Cannot close connection as timeout must be a number of ms from 0 to 2147483647, or Infinity: received -1",
      "Cannot close session as timeout must be a number of ms from 0 to Infinity: received -1",
      "Cannot close server as timeout must be a number of ms from 0 to Infinity: received -1",
    ]);
    assert.throws(() => reliableClient(rejectDial, { closeTimeout: -1 }), {
      message:
        "Cannot create client as closeTimeout must be a number of ms from 0 to Infinity: received -1",
    });
    // Every other option in ms that takes 0 to Infinity, in the same words. Before, these said
    // "must be a non-negative number".
    const client2 = [
      ["ackDelay", { ackDelay: -1 }],
      ["reconnect.base", { reconnect: { base: -1 } }],
      ["reconnect.cap", { reconnect: { cap: -1 } }],
    ] as const;
    for (const [name, bad] of client2) {
      assert.throws(() => reliableClient(rejectDial, bad), {
        name: "RangeError",
        message:
          `Cannot create client as ${name} must be a number of ms from 0 to Infinity: received -1`,
      });
    }
    for (
      const [name, bad] of [["ackDelay", { ackDelay: -1 }], ["resumeTimeout", {
        resumeTimeout: -1,
      }]] as const
    ) {
      assert.throws(() => reliableServer(new MemoryNetwork().listen(), bad), {
        name: "RangeError",
        message:
          `Cannot create server as ${name} must be a number of ms from 0 to Infinity: received -1`,
      });
    }
    const options = [{ ackEvery: 0 }, { maxMessageSize: 0 }, { clock: {} as never }, {
      ackDelay: Infinity,
      heartbeatInterval: Infinity,
    }];
    for (const bad of options) {
      assert.throws(() => reliableClient(rejectDial, bad), /^\w+Error: Cannot create client as /);
      assert.throws(
        () => reliableServer(new MemoryNetwork().listen(), bad),
        /^\w+Error: Cannot create server as /,
      );
    }
  } finally {
    await client.close({ timeout: 0 }).catch(() => {});
    await server.close();
    await fc.close();
  }
});

sockets.check();
