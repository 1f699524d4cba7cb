// Copyright 2026 the framewire authors. MIT license.
// The framings README and the doc comments give for HTTP/2, MQTT and PostgreSQL, checked against
// independent implementations of those protocols: Node's own `node:http2` server (over loopback),
// mqtt-packet (mqtt.js's packet generator and parser) and pg-protocol (node-postgres's wire
// protocol). Each decodes what the other side's implementation wrote, and framewire's `encode`
// must give the bytes that implementation gives (or bytes it parses back).

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Buffer } from "node:buffer";
import * as mqtt from "mqtt-packet";
import { serialize as pgSerialize } from "pg-protocol";
import { Parser as PgParser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { FrameTooLargeError, lengthPrefixed, varint } from "../../mod.ts";
import type { FrameDecoder, Framing } from "../../src/framing/types.ts";
import type { Conn } from "../../src/connection/types.ts";
import { watchSockets } from "../_util/leaks.ts";
import { adapter } from "../_util/runtime.ts";
import { concat } from "./_formats.ts";

const sockets = watchSockets();

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Every frame `decoder` has ready. */
function drain(decoder: FrameDecoder): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f.slice());
  return frames;
}

/**
 * Decodes a copy of `wire` pushed in the pieces that `cuts` (increasing offsets) make, then ends.
 * A copy: a decoder owns what is pushed, and with an `offset` it moves the offset bytes inside it.
 */
function decodeSplit(framing: Framing, input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const wire = input.slice();
  const decoder = framing.decoder();
  const frames: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    decoder.push(wire.subarray(from, cut));
    frames.push(...drain(decoder));
    from = cut;
  }
  decoder.end();
  assert.equal(decoder.bufferedBytes, 0);
  return frames;
}

/** Decodes `wire` pushed in pieces of `size` bytes. */
function decodeChunked(framing: Framing, wire: Uint8Array, size: number): Uint8Array[] {
  const cuts: number[] = [];
  for (let at = size; at < wire.length; at += size) cuts.push(at);
  return decodeSplit(framing, wire, cuts);
}

/**
 * Offsets to cut a stream of `packets` at: every offset within `near` bytes of the start of a
 * packet (its type byte, its length field, the first bytes after it) and of its end.
 */
function cutsNearBoundaries(packets: readonly Uint8Array[], near: number): number[] {
  const total = packets.reduce((n, p) => n + p.length, 0);
  const cuts = new Set<number>();
  let at = 0;
  for (const p of packets) {
    for (let d = -near; d <= near; d++) {
      for (const base of [at, at + p.length]) {
        if (base + d > 0 && base + d < total) cuts.add(base + d);
      }
    }
    at += p.length;
  }
  return [...cuts].sort((a, b) => a - b);
}

const u8 = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

// ---------------------------------------------------------------------------------------------
// HTTP/2: lengthPrefixed({ width: 3, lengthAdjustment: 6 }) against node:http2's server.

const h2 = lengthPrefixed({ width: 3, lengthAdjustment: 6 });

const H2_DATA = 0x0;
const H2_HEADERS = 0x1;
const H2_SETTINGS = 0x4;
const H2_GOAWAY = 0x7;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;

/** An HTTP/2 frame as framewire's `h2` takes and returns it: type, flags, stream id, payload. */
function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = type;
  frame[1] = flags;
  new DataView(frame.buffer).setUint32(2, stream);
  frame.set(payload, 6);
  return frame;
}

interface H2Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

function parseH2(frame: Uint8Array): H2Frame {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return {
    type: frame[0]!,
    flags: frame[1]!,
    stream: view.getUint32(2) & 0x7fffffff,
    payload: frame.subarray(6),
  };
}

test(
  "lengthPrefixed({ width: 3, lengthAdjustment: 6 }) speaks HTTP/2 with node:http2's server",
  async () => {
    // 40000 bytes: more than the 16384-byte default SETTINGS_MAX_FRAME_SIZE, so the server
    // sends several DATA frames (lengths 0x004000 and the rest), and less than the 65535-byte
    // initial window, so no WINDOW_UPDATE is needed.
    const body = new Uint8Array(40000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
    const sessions = new Set<http2.ServerHttp2Session>();
    const server = http2.createServer();
    server.on("session", (session) => sessions.add(session));
    const requests: Record<string, unknown>[] = [];
    server.on("stream", (stream, headers) => {
      requests.push({ ...headers });
      stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
      stream.end(Buffer.from(body));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as { port: number };
    const { connect } = await adapter();
    let conn: Conn | undefined;
    try {
      conn = await connect({ hostname: "127.0.0.1", port });
      const writer = conn.writable.getWriter();
      const reader = conn.readable.getReader();
      const authority = enc(`127.0.0.1:${port}`);
      const hpack = concat([
        // Indexed (static table): :method GET, :scheme http, :path /.
        new Uint8Array([0x82, 0x86, 0x84]),
        // Literal without indexing, name :authority (static index 1), a 7-bit plain length.
        new Uint8Array([0x01, authority.length]),
        authority,
      ]);
      // The preface is raw bytes, before any frame; then frames that framewire encodes.
      await writer.write(enc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
      await writer.write(h2.encode(h2Frame(H2_SETTINGS, 0, 0, new Uint8Array(0))));
      await writer.write(h2.encode(h2Frame(H2_HEADERS, END_STREAM | END_HEADERS, 1, hpack)));
      // GOAWAY at once (last stream 0, NO_ERROR): the server finishes stream 1, then closes the
      // connection, so a client that misreads the frames fails at the end of the stream instead
      // of waiting for a frame that never comes.
      await writer.write(h2.encode(h2Frame(H2_GOAWAY, 0, 0, new Uint8Array(8))));

      const decoder = h2.decoder();
      const frames: H2Frame[] = [];
      let received: Uint8Array = new Uint8Array(0);
      let ended = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        decoder.push(value);
        for (const raw of drain(decoder)) {
          const frame = parseH2(raw);
          frames.push(frame);
          if (frame.type === H2_SETTINGS && (frame.flags & ACK) === 0) {
            await writer.write(h2.encode(h2Frame(H2_SETTINGS, ACK, 0, new Uint8Array(0))));
          }
          if (frame.type === H2_DATA && frame.stream === 1) {
            received = concat([received, frame.payload]);
            if (frame.flags & END_STREAM) ended = true;
          }
        }
      }
      decoder.end(); // throws TruncatedFrameError if the stream ended inside a frame
      assert.ok(ended, "the server closed the connection before the response ended");

      // The server's SETTINGS first (stream 0, six bytes a setting), and its ack of ours.
      assert.equal(frames[0]!.type, H2_SETTINGS, "the first frame is the server's SETTINGS");
      assert.equal(frames[0]!.flags & ACK, 0);
      assert.equal(frames[0]!.stream, 0);
      assert.equal(frames[0]!.payload.length % 6, 0);
      const acks = frames.filter((f) => f.type === H2_SETTINGS && (f.flags & ACK) !== 0);
      assert.equal(acks.length, 1, "one SETTINGS ack");
      assert.equal(acks[0]!.payload.length, 0);
      assert.equal(acks[0]!.stream, 0);
      // The response's HEADERS on stream 1, :status 200 as static index 8 (so on Node's
      // nghttp2, Deno's and Bun's node:http2).
      const headers = frames.filter((f) => f.type === H2_HEADERS);
      assert.equal(headers.length, 1);
      assert.equal(headers[0]!.stream, 1);
      assert.ok(headers[0]!.flags & END_HEADERS);
      assert.equal(headers[0]!.payload[0], 0x88, ":status 200 (indexed)");
      // The body, in DATA frames of at most 16384 bytes, all on stream 1.
      const data = frames.filter((f) => f.type === H2_DATA);
      assert.ok(data.length >= 3, `${data.length} DATA frames`);
      for (const f of data) {
        assert.equal(f.stream, 1);
        assert.ok(f.payload.length <= 16384);
      }
      assert.deepEqual(received, body);
      // The server decoded our HEADERS frame as the GET we meant.
      assert.equal(requests.length, 1);
      assert.equal(requests[0]![":method"], "GET");
      assert.equal(requests[0]![":path"], "/");
      assert.equal(requests[0]![":scheme"], "http");
      assert.equal(requests[0]![":authority"], `127.0.0.1:${port}`);
      // The server's answer to our GOAWAY (one or two, before or after the response, depending
      // on the runtime): stream 0, NO_ERROR.
      const goaways = frames.filter((f) => f.type === H2_GOAWAY);
      assert.ok(goaways.length >= 1, "a GOAWAY");
      for (const goaway of goaways) {
        assert.equal(goaway.stream, 0);
        assert.equal(
          new DataView(goaway.payload.buffer, goaway.payload.byteOffset).getUint32(4),
          0,
        );
      }
    } finally {
      conn?.close();
      await conn?.closed;
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
);

// ---------------------------------------------------------------------------------------------
// MQTT: varint({ offset: 1 }) against mqtt-packet's generator and parser.

/** MQTT's largest remaining length (4 varint bytes); the limit its framing takes. */
const MQTT_MAX = 268435455;
const mqttFraming = varint({ offset: 1, maxFrameLength: MQTT_MAX });
const TOPIC = "framewire/interop";

/** A PUBLISH whose remaining length is `remaining` (topic length, topic and payload, QoS 0). */
function publishWithRemaining(remaining: number): mqtt.IPublishPacket {
  const payload = Buffer.alloc(remaining - 2 - TOPIC.length);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  return { cmd: "publish", topic: TOPIC, payload, qos: 0, retain: false, dup: false };
}

/** Packets mqtt-packet generates, with how many bytes their remaining length takes. */
function mqttPackets(): { name: string; bytes: Uint8Array; varintBytes: number }[] {
  const packets: [string, mqtt.Packet, number][] = [
    ["CONNECT", {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: "framewire-interop",
      keepalive: 60,
    }, 1],
    ["CONNACK", { cmd: "connack", returnCode: 0, sessionPresent: false }, 1],
    ["SUBSCRIBE", {
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: "framewire/#", qos: 1 }],
    }, 1],
    ["PINGREQ", { cmd: "pingreq" }, 1],
  ];
  // Payloads of 0, 127, 128, 16383 and 16384 bytes, and remaining lengths at each edge of a
  // varint byte count (127/128, 16383/16384, 2097151/2097152: 1 to 4 bytes).
  for (const size of [0, 127, 128, 16383, 16384]) {
    packets.push([`PUBLISH of ${size} bytes`, {
      cmd: "publish",
      topic: TOPIC,
      payload: Buffer.alloc(size, size & 0xff),
      qos: 1,
      messageId: 2,
      retain: false,
      dup: false,
    }, size + 4 + TOPIC.length < 128 ? 1 : size + 4 + TOPIC.length < 16384 ? 2 : 3]);
  }
  for (const [remaining, bytes] of [[127, 1], [128, 2], [16383, 2], [16384, 3]]) {
    packets.push([
      `PUBLISH, remaining length ${remaining}`,
      publishWithRemaining(remaining!),
      bytes!,
    ]);
  }
  packets.push(["PUBLISH, remaining length 2097151", publishWithRemaining(2097151), 3]);
  packets.push(["PUBLISH, remaining length 2097152", publishWithRemaining(2097152), 4]);
  packets.push(["DISCONNECT", { cmd: "disconnect" }, 1]);
  return packets.map(([name, packet, varintBytes]) => ({
    name,
    bytes: u8(mqtt.generate(packet)),
    varintBytes,
  }));
}

test("varint({ offset: 1 }) decodes and encodes the MQTT packets mqtt-packet generates", () => {
  const packets = mqttPackets();
  const frames: Uint8Array[] = [];
  for (const { name, bytes, varintBytes } of packets) {
    // The packet as framewire returns it: the fixed-header byte, then the rest of the packet.
    const frame = concat([bytes.subarray(0, 1), bytes.subarray(1 + varintBytes)]);
    frames.push(frame);
    assert.deepEqual(mqttFraming.encode(frame), bytes, `${name}: encode`);
    assert.equal(mqttFraming.encodedLength(frame), bytes.length, `${name}: encodedLength`);
    assert.deepEqual(decodeSplit(mqttFraming, bytes, []), [frame], `${name}: decode`);
  }
  const wire = concat(packets.map((p) => p.bytes));
  // Cut near every packet boundary (type byte, 1-4 length bytes, the body's first bytes), two
  // pieces at a time, then in 64 KiB pieces and in all of these cuts at once.
  const cuts = cutsNearBoundaries(packets.map((p) => p.bytes), 6);
  for (const cut of cuts) {
    assert.deepEqual(decodeSplit(mqttFraming, wire, [cut]), frames, `cut at ${cut}`);
  }
  assert.deepEqual(decodeChunked(mqttFraming, wire, 65536), frames);
  assert.deepEqual(decodeSplit(mqttFraming, wire, cuts), frames);
  // Byte at a time through everything but the 2 MB packets.
  const small = concat(packets.filter((p) => p.bytes.length < 100_000).map((p) => p.bytes));
  assert.deepEqual(
    decodeChunked(mqttFraming, small, 1),
    frames.filter((f) => f.length < 100_000),
  );
});

test("varint({ offset: 1 }) encodes packets mqtt-packet's parser reads back", () => {
  const packets = mqttPackets().filter((p) => p.name !== "PUBLISH, remaining length 2097152");
  const parsed: mqtt.Packet[] = [];
  const errors: Error[] = [];
  const parser = mqtt.parser({ protocolVersion: 4 });
  parser.on("packet", (packet: mqtt.Packet) => parsed.push(packet));
  parser.on("error", (error: Error) => errors.push(error));
  const frames = decodeSplit(mqttFraming, concat(packets.map((p) => p.bytes)), []);
  // framewire's encoding of each decoded frame, pushed a few bytes at a time.
  const wire = concat(frames.map((f) => mqttFraming.encode(f)));
  for (let at = 0; at < wire.length; at += 1000) {
    parser.parse(Buffer.from(wire.subarray(at, at + 1000)));
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(parsed.map((p) => p.cmd), [
    "connect",
    "connack",
    "subscribe",
    "pingreq",
    ...new Array(10).fill("publish"),
    "disconnect",
  ]);
  const publishes = parsed.filter((p): p is mqtt.IPublishPacket => p.cmd === "publish");
  assert.deepEqual(
    publishes.map((p) => p.payload.length),
    [0, 127, 128, 16383, 16384, 127 - 19, 128 - 19, 16383 - 19, 16384 - 19, 2097151 - 19],
  );
});

test("varint({ offset: 1, maxFrameLength: 268435455 }) rejects a 5-byte MQTT remaining length, as mqtt-packet does", () => {
  // PUBLISH, remaining length 2^28: one more than MQTT's 4 varint bytes hold.
  const header = new Uint8Array([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]);
  const decoder = mqttFraming.decoder();
  decoder.push(header);
  assert.throws(() => decoder.next(), (error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 2 ** 28);
    assert.equal(error.limit, MQTT_MAX);
    return true;
  });
  const errors: Error[] = [];
  const parser = mqtt.parser();
  parser.on("error", (error: Error) => errors.push(error));
  parser.parse(Buffer.from(header));
  assert.equal(errors.length, 1);
  // The largest remaining length is accepted by both (the varint ff ff ff 7f).
  const largest = new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f]);
  const ok = mqttFraming.decoder();
  ok.push(largest);
  assert.equal(ok.next(), undefined);
  assert.equal(ok.bufferedBytes, largest.length);
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL: lengthPrefixed({ offset: 1, lengthAdjustment: -4 }) against pg-protocol.

const pgMessages = lengthPrefixed({ offset: 1, lengthAdjustment: -4 });
const pgStartup = lengthPrefixed({ lengthAdjustment: -4 });

test("lengthPrefixed({ offset: 1, lengthAdjustment: -4 }) frames pg-protocol's client messages", () => {
  const big = Buffer.alloc(100_000, 0x61);
  const messages: [string, Uint8Array][] = [
    ["query", u8(pgSerialize.query("SELECT 1"))],
    ["empty query", u8(pgSerialize.query(""))],
    ["parse", u8(pgSerialize.parse({ name: "s1", text: "SELECT $1::int", types: [23] }))],
    ["bind", u8(pgSerialize.bind({ statement: "s1", values: ["42", null, Buffer.from([1, 2])] }))],
    ["bind of 100 kB", u8(pgSerialize.bind({ statement: "s1", values: [big] }))],
    ["describe", u8(pgSerialize.describe({ type: "P" }))],
    ["execute", u8(pgSerialize.execute({ rows: 0 }))],
    ["flush", u8(pgSerialize.flush())],
    ["sync", u8(pgSerialize.sync())],
    ["close", u8(pgSerialize.close({ type: "S", name: "s1" }))],
    ["password", u8(pgSerialize.password("secret"))],
    ["copyData", u8(pgSerialize.copyData(Buffer.from("1\tone\n")))],
    ["copyDone", u8(pgSerialize.copyDone())],
    ["copyFail", u8(pgSerialize.copyFail("no"))],
    ["end", u8(pgSerialize.end())],
  ];
  const frames: Uint8Array[] = [];
  for (const [name, bytes] of messages) {
    // Type byte, then an int32 that counts itself and the body.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getInt32(1), bytes.length - 1, `${name}: pg-protocol's length`);
    const frame = concat([bytes.subarray(0, 1), bytes.subarray(5)]);
    frames.push(frame);
    assert.deepEqual(pgMessages.encode(frame), bytes, `${name}: encode`);
    assert.deepEqual(decodeSplit(pgMessages, bytes, []), [frame], `${name}: decode`);
  }
  const wire = concat(messages.map(([, b]) => b));
  const cuts = cutsNearBoundaries(messages.map(([, b]) => b), 6);
  for (const cut of cuts) {
    assert.deepEqual(decodeSplit(pgMessages, wire, [cut]), frames, `cut at ${cut}`);
  }
  assert.deepEqual(decodeSplit(pgMessages, wire, cuts), frames);
  assert.deepEqual(decodeChunked(pgMessages, wire, 7), frames);
});

test("lengthPrefixed({ lengthAdjustment: -4 }) frames pg-protocol's startup, SSLRequest and CancelRequest", () => {
  const messages = [
    u8(pgSerialize.startup({ user: "framewire", database: "interop", client_encoding: "UTF8" })),
    u8(pgSerialize.requestSsl()),
    u8(pgSerialize.cancel(4242, 0x7fff0001)),
  ];
  const frames = messages.map((m) => m.subarray(4));
  for (const [i, bytes] of messages.entries()) {
    assert.deepEqual(pgStartup.encode(frames[i]!), bytes);
  }
  // The protocol version 3.0, the SSLRequest code and the CancelRequest code start the bodies.
  const codes = frames.map((f) => new DataView(f.buffer, f.byteOffset).getInt32(0));
  assert.deepEqual(codes, [196608, 80877103, 80877102]);
  const wire = concat(messages);
  for (let cut = 1; cut < wire.length; cut++) {
    assert.deepEqual(decodeSplit(pgStartup, wire, [cut]), frames, `cut at ${cut}`);
  }
});

/** A backend message body: the parts, strings NUL-terminated, numbers as big-endian int32/16. */
function pgBody(...parts: (string | ["i32" | "i16", number] | Uint8Array)[]): Uint8Array {
  return concat(parts.map((part) => {
    if (typeof part === "string") return enc(`${part}\0`);
    if (part instanceof Uint8Array) return part;
    const out = new Uint8Array(part[0] === "i32" ? 4 : 2);
    const view = new DataView(out.buffer);
    if (part[0] === "i32") view.setInt32(0, part[1]);
    else view.setInt16(0, part[1]);
    return out;
  }));
}

test("lengthPrefixed({ offset: 1, lengthAdjustment: -4 }) encodes server messages pg-protocol's parser reads", () => {
  const type = (c: string): Uint8Array => enc(c);
  const value = new Uint8Array(70_000).fill(0x62);
  const frames = [
    concat([type("R"), pgBody(["i32", 0])]), // AuthenticationOk
    concat([type("S"), pgBody("client_encoding", "UTF8")]), // ParameterStatus
    concat([type("K"), pgBody(["i32", 4242], ["i32", 99])]), // BackendKeyData
    concat([type("Z"), enc("I")]), // ReadyForQuery, idle
    concat([
      type("T"), // RowDescription: one text column "v"
      pgBody(["i16", 1], "v", ["i32", 0], ["i16", 0], ["i32", 25], ["i16", -1], ["i32", -1], [
        "i16",
        0,
      ]),
    ]),
    concat([type("D"), pgBody(["i16", 1], ["i32", value.length], value)]), // DataRow, 70 kB
    concat([type("C"), pgBody("SELECT 1")]), // CommandComplete
    type("I"), // EmptyQueryResponse: a length of 4, no body
    type("n"), // NoData
    concat([type("E"), pgBody("SERROR", "C42P01", "Mno such table", "")]), // ErrorResponse
    concat([type("Z"), enc("E")]), // ReadyForQuery, failed transaction
  ];
  const wire = concat(frames.map((f) => pgMessages.encode(f)));
  const parsed: BackendMessage[] = [];
  const parser = new PgParser();
  for (let at = 0; at < wire.length; at += 4096) {
    parser.parse(Buffer.from(wire.subarray(at, at + 4096)), (msg) => parsed.push(msg));
  }
  assert.deepEqual(parsed.map((m) => m.name), [
    "authenticationOk",
    "parameterStatus",
    "backendKeyData",
    "readyForQuery",
    "rowDescription",
    "dataRow",
    "commandComplete",
    "emptyQuery",
    "noData",
    "error",
    "readyForQuery",
  ]);
  const byName = (name: string) => parsed.filter((m) => m.name === name) as unknown[];
  assert.deepEqual(
    byName("readyForQuery").map((m) => (m as { status: string }).status),
    ["I", "E"],
  );
  assert.equal((byName("parameterStatus")[0] as { parameterValue: string }).parameterValue, "UTF8");
  assert.equal((byName("backendKeyData")[0] as { processID: number }).processID, 4242);
  const row = byName("dataRow")[0] as { fields: string[] };
  assert.equal(row.fields[0], new TextDecoder().decode(value));
  assert.equal((byName("commandComplete")[0] as { text: string }).text, "SELECT 1");
  const error = byName("error")[0] as { message: string; code: string; severity: string };
  assert.deepEqual([error.severity, error.code, error.message], [
    "ERROR",
    "42P01",
    "no such table",
  ]);
  // And framewire decodes its own encoding back, wherever the stream is cut.
  const cuts = cutsNearBoundaries(frames.map((f) => pgMessages.encode(f)), 6);
  for (const cut of cuts) {
    assert.deepEqual(decodeSplit(pgMessages, wire, [cut]), frames, `cut at ${cut}`);
  }
});

sockets.check();
