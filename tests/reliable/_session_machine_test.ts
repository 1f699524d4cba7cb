// Copyright 2026 the framewire authors. MIT license.
// The sans-IO state machine, driven by hand with a virtual clock: no
// sockets, no timers, fully deterministic.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ACK,
  DATA,
  decodeHandshake,
  encodeAck,
  encodeHandshake,
  FLAG_CLOSING,
  FLAG_LOST,
  FLAG_RESUME,
  GOODBYE,
  HELLO,
  newDataFrame,
  readU64,
  setDataAck,
  setDataSeq,
  WELCOME,
} from "../../src/reliable/_protocol.ts";
import {
  type Entry,
  ENTRY_COST,
  LATE_TIMER_MS,
  type MachineEvent,
  type MachineOptions,
  SessionMachine,
} from "../../src/reliable/_session_machine.ts";
import { backoffDelay } from "../../src/reliable/_backoff.ts";
import { ConnectionError } from "../../src/errors.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const ID = new Uint8Array(16).fill(7);
const T0 = 1000;

function options(
  role: "client" | "server",
  overrides: Partial<MachineOptions> = {},
): MachineOptions {
  return {
    role,
    id: ID,
    sendBufferSize: 1 << 20,
    maxMessageSize: 1 << 22,
    ackDelay: 5,
    ackEvery: 4,
    ackBytes: 1 << 16,
    heartbeatInterval: 1000,
    deadPeerTimeout: 4000,
    resumeTimeout: 30000,
    backoff: { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts: Infinity },
    random: () => 0,
    ...overrides,
  };
}

function entry(text: string): Entry {
  const payload = new TextEncoder().encode(text);
  return {
    seq: 0,
    frame: newDataFrame(payload),
    size: payload.length,
    sent: false,
    waiting: false,
    token: text,
    error: undefined,
  };
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Takes (and clears) a machine's outputs. */
function take(m: SessionMachine): {
  writes: Uint8Array[];
  deliveries: string[];
  confirmed: string[];
  failed: [string, string][];
  events: MachineEvent[];
} {
  const out = {
    writes: m.writes.map((w) => w.slice()),
    deliveries: m.deliveries.map(text),
    confirmed: m.confirmed.map((e) => e.token as string),
    failed: m.failed.map((e) =>
      [e.token as string, (e.error as unknown as { code: string }).code] as [string, string]
    ),
    events: m.events,
  };
  m.writes = [];
  m.deliveries = [];
  m.confirmed = [];
  m.failed = [];
  m.events = [];
  return out;
}

const types = (frames: Uint8Array[]): number[] => frames.map((f) => f[0]!);

/** A client machine that dialled, connected at T0 and sent its HELLO (taken). */
function helloSent(): SessionMachine {
  const c = new SessionMachine(options("client"), T0);
  c.tick(T0);
  c.dial = false;
  c.connected(T0);
  take(c);
  return c;
}

/** A client and a server machine joined by hand. */
function connectedPair(
  clientOverrides: Partial<MachineOptions> = {},
  serverOverrides: Partial<MachineOptions> = {},
): { c: SessionMachine; s: SessionMachine } {
  const c = new SessionMachine(options("client", clientOverrides), T0);
  const s = new SessionMachine(options("server", serverOverrides), T0);
  c.tick(T0);
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(T0);
  s.connected(T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  for (const f of take(s).writes) c.receive(f, T0);
  c.flush(T0);
  take(c);
  assert.equal(c.state, "open");
  assert.equal(s.state, "open");
  return { c, s };
}

/** Moves every pending write across, both ways, until quiet. Returns the frames moved. */
function exchange(
  c: SessionMachine,
  s: SessionMachine,
  now: number,
): { c2s: Uint8Array[]; s2c: Uint8Array[] } {
  const moved = { c2s: [] as Uint8Array[], s2c: [] as Uint8Array[] };
  for (let i = 0; i < 100; i++) {
    const cw = c.writes.splice(0);
    const sw = s.writes.splice(0);
    if (cw.length === 0 && sw.length === 0) return moved;
    for (const f of cw) s.receive(f, now);
    s.flush(now);
    for (const f of sw) c.receive(f, now);
    c.flush(now);
    moved.c2s.push(...cw);
    moved.s2c.push(...sw);
  }
  throw new Error("exchange did not settle");
}

test("SessionMachine: client asks to dial at once and sends HELLO on connect", () => {
  const c = new SessionMachine(options("client"), T0);
  assert.equal(c.deadline, T0);
  c.tick(T0);
  assert.equal(c.dial, true);
  assert.equal(c.link, "dialing");
  c.connected(T0);
  const { writes } = take(c);
  assert.equal(writes.length, 1);
  const hello = decodeHandshake(writes[0]!)!;
  assert.equal(hello.type, HELLO);
  assert.equal(hello.flags, 0);
  assert.deepEqual(hello.id, ID);
  assert.equal(hello.lastReceived, 0);
});

test("SessionMachine: handshake opens both ends and emits open once", () => {
  const c = new SessionMachine(options("client"), T0);
  const s = new SessionMachine(options("server"), T0);
  c.tick(T0);
  c.connected(T0);
  s.connected(T0);
  for (const f of take(c).writes) s.receive(f, T0);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [WELCOME]);
  assert.deepEqual(sOut.events, [{ type: "open" }]);
  for (const f of sOut.writes) c.receive(f, T0);
  assert.deepEqual(take(c).events, [{ type: "open" }]);
  assert.equal(c.state, "open");
});

test("SessionMachine: data is numbered from 1, delivered in order and acked cumulatively", () => {
  const { c, s } = connectedPair();
  for (const word of ["a", "b", "c"]) c.send(entry(word), T0);
  const out = take(c);
  assert.deepEqual(types(out.writes), [DATA, DATA, DATA]);
  assert.deepEqual(out.writes.map((f) => readU64(f, 1)), [1, 2, 3]);
  for (const f of out.writes) s.receive(f, T0);
  s.flush(T0);
  // 3 < ackEvery (4): the ack waits for ackDelay.
  let sOut = take(s);
  assert.deepEqual(sOut.deliveries, ["a", "b", "c"]);
  assert.deepEqual(sOut.writes, []);
  assert.equal(s.deadline, T0 + 5);
  s.tick(T0 + 5);
  sOut = take(s);
  assert.deepEqual(types(sOut.writes), [ACK]);
  assert.equal(readU64(sOut.writes[0]!, 1), 3);
  c.receive(sOut.writes[0]!, T0 + 5);
  assert.deepEqual(take(c).confirmed, ["a", "b", "c"]);
  assert.equal(c.inFlight, 0);
  assert.equal(c.bufferedBytes, 0);
});

test("SessionMachine: a standalone ack goes out after ackEvery messages, in one frame per batch", () => {
  const { c, s } = connectedPair();
  for (let i = 0; i < 10; i++) c.send(entry(`m${i}`), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [ACK]);
  assert.equal(readU64(sOut.writes[0]!, 1), 10);
});

test("SessionMachine: a standalone ack goes out after ackBytes", () => {
  const { c, s } = connectedPair({}, { ackBytes: 10, ackEvery: 100 });
  c.send(entry("0123456789"), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  assert.deepEqual(types(take(s).writes), [ACK]);
});

test("SessionMachine: acks ride on data going the other way", () => {
  const { c, s } = connectedPair();
  c.send(entry("ping"), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  take(s);
  s.send(entry("pong"), T0 + 1);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [DATA]);
  assert.equal(readU64(sOut.writes[0]!, 9), 1, "the DATA frame carries ack 1");
  assert.equal(s.deadline > T0 + 5, true, "no standalone ack is pending any more");
  c.receive(sOut.writes[0]!, T0 + 1);
  const cOut = take(c);
  assert.deepEqual(cOut.confirmed, ["ping"]);
  assert.deepEqual(cOut.deliveries, ["pong"]);
});

test("SessionMachine: a duplicated DATA frame is dropped and re-acked at once", () => {
  const { c, s } = connectedPair();
  c.send(entry("x"), T0);
  c.send(entry("y"), T0);
  const frames = take(c).writes;
  s.receive(frames[0]!, T0);
  s.receive(frames[0]!, T0);
  s.receive(frames[1]!, T0);
  s.receive(frames[1]!, T0);
  s.flush(T0);
  const sOut = take(s);
  assert.deepEqual(sOut.deliveries, ["x", "y"]);
  assert.equal(s.duplicatesDropped, 2);
  assert.deepEqual(types(sOut.writes), [ACK], "duplicates force an immediate ack");
  assert.equal(readU64(sOut.writes[0]!, 1), 2);
});

test("SessionMachine: lost acks are recovered by the handshake, and only unconfirmed data is replayed", () => {
  const { c, s } = connectedPair();
  for (const w of ["1", "2", "3"]) c.send(entry(w), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  s.tick(T0 + 5);
  const lostAck = take(s);
  assert.deepEqual(lostAck.deliveries, ["1", "2", "3"]);
  assert.deepEqual(types(lostAck.writes), [ACK]); // ...and this ACK is lost with the connection
  c.disconnected(T0 + 6, new Error("cut"));
  s.disconnected(T0 + 6, new Error("cut"));
  take(c);
  take(s);
  assert.equal(c.inFlight, 3);
  // Reconnect: first attempt after a working connection is immediate.
  assert.equal(c.deadline, T0 + 6);
  c.tick(T0 + 6);
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(T0 + 7);
  s.connected(T0 + 7);
  const hello = take(c).writes;
  assert.equal(decodeHandshake(hello[0]!)!.flags, FLAG_RESUME);
  for (const f of hello) s.receive(f, T0 + 7);
  const welcome = take(s);
  assert.deepEqual(types(welcome.writes), [WELCOME]);
  assert.equal(decodeHandshake(welcome.writes[0]!)!.lastReceived, 3);
  assert.deepEqual(welcome.events, [{ type: "resumed", replayed: 0 }]);
  for (const f of welcome.writes) c.receive(f, T0 + 7);
  const cOut = take(c);
  assert.deepEqual(cOut.confirmed, ["1", "2", "3"]);
  assert.deepEqual(cOut.writes, [], "nothing to replay: the WELCOME confirmed everything");
  assert.deepEqual(cOut.events, [{ type: "resumed", replayed: 0 }]);
  assert.equal(c.resent, 0);
  assert.equal(c.reconnects, 1);
});

test("SessionMachine: unconfirmed data is replayed after the handshake, before new data", () => {
  const { c, s } = connectedPair();
  c.send(entry("1"), T0);
  c.send(entry("2"), T0);
  const first = take(c).writes;
  s.receive(first[0]!, T0); // "2" is lost with the connection
  s.flush(T0);
  take(s);
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  c.send(entry("3"), T0 + 1); // while disconnected
  take(c);
  take(s);
  c.tick(T0 + 1);
  c.dial = false;
  c.connected(T0 + 2);
  s.connected(T0 + 2);
  for (const f of take(c).writes) s.receive(f, T0 + 2);
  for (const f of take(s).writes) c.receive(f, T0 + 2);
  const cOut = take(c);
  assert.deepEqual(cOut.confirmed, ["1"]);
  assert.deepEqual(cOut.events, [{ type: "resumed", replayed: 1 }]);
  assert.deepEqual(cOut.writes.map((f) => [f[0], readU64(f, 1), text(f.subarray(17))]), [
    [DATA, 2, "2"],
    [DATA, 3, "3"],
  ]);
  assert.equal(c.resent, 1);
  for (const f of cOut.writes) s.receive(f, T0 + 2);
  s.flush(T0 + 2);
  assert.deepEqual(take(s).deliveries, ["2", "3"]);
});

test("SessionMachine: frames the driver never handed to a connection (unwritten) are no replay, and a message first written among them is unsent again", () => {
  const { c, s } = connectedPair();
  s.send(entry("1"), T0);
  s.send(entry("2"), T0);
  assert.equal(take(s).writes.length, 2); // written, never confirmed
  s.disconnected(T0 + 1, new Error("cut"));
  c.disconnected(T0 + 1, new Error("cut"));
  take(c);
  // A connection whose HELLO is answered, and whose WELCOME and replay never go out.
  const resume = (now: number): Uint8Array[] => {
    c.tick(now);
    c.dial = false;
    c.connected(now);
    s.connected(now);
    for (const f of take(c).writes) s.receive(f, now);
    return frames();
  };
  // The frames themselves, as the driver has them (take() copies them).
  const frames = (): Uint8Array[] => {
    const out = s.writes;
    s.writes = [];
    return out;
  };
  const held = resume(T0 + 2);
  s.send(entry("3"), T0 + 2); // queued behind the WELCOME too
  held.push(...frames());
  assert.deepEqual(held.map((f) => f[0]), [WELCOME, DATA, DATA, DATA]);
  assert.equal(s.resent, 2);
  s.unwritten(held);
  assert.equal(s.resent, 0, "no replay went out");
  s.disconnected(T0 + 3, new Error("ended before its WELCOME was written"));
  c.disconnected(T0 + 3, new Error("cut"));
  take(c);
  // The next connection replays "1" and "2" (sent before) and writes "3" for the first time.
  const next = resume(T0 + 4);
  assert.deepEqual(next.map((f) => f[0] === DATA ? text(f.subarray(17)) : f[0]), [
    WELCOME,
    "1",
    "2",
    "3",
  ]);
  assert.equal(s.resent, 2);
  // Dropped unwritten again, then lost: "3" never left this side.
  s.unwritten(next);
  assert.deepEqual(lostUnwritten(s, T0 + 5), [["1", "2"], ["3"]]);
  assert.equal(s.resent, 0);
});

/**
 * A server session whose connection ends before its WELCOME is written, and whose client then
 * stays away for resumeTimeout: the `sessionlost` event's unknown and unsent messages (tokens).
 */
function lostUnwritten(s: SessionMachine, now: number): [unknown[], unknown[]] {
  s.disconnected(now, new Error("ended before its WELCOME was written"));
  take(s);
  s.tick(now + 30000);
  const lost = take(s).events.find((e) => e.type === "sessionlost");
  assert.ok(lost?.type === "sessionlost");
  return [lost.unknown.map((e) => e.token), lost.unsent.map((e) => e.token)];
}

test("SessionMachine: an empty message first written among frames never handed to a connection is unsent again", () => {
  const { c, s } = connectedPair();
  s.disconnected(T0 + 1, new Error("cut"));
  c.disconnected(T0 + 1, new Error("cut"));
  take(c);
  take(s);
  for (const f of redial(c, s, T0 + 2)) s.receive(f, T0 + 2);
  s.send(entry(""), T0 + 2); // a DATA frame of its 17-byte header only, behind the WELCOME
  const held = s.writes;
  s.writes = [];
  assert.deepEqual(held.map((f) => [f[0], f.length]), [[WELCOME, 27], [DATA, 17]]);
  s.unwritten(held);
  assert.deepEqual(lostUnwritten(s, T0 + 3), [[], [""]]);
});

test("SessionMachine: the send buffer is bounded and admits waiting messages in order as acks arrive", () => {
  // 3 messages of 36 bytes cost 100 each: a 250-byte buffer holds 2.
  const { c, s } = connectedPair({ sendBufferSize: 250 });
  const big = (n: number): Entry => entry(String(n).repeat(36));
  for (let i = 1; i <= 5; i++) c.send(big(i), T0);
  assert.equal(c.inFlight, 2);
  assert.equal(c.waiting, 3);
  assert.equal(c.bufferedBytes, 72);
  const written = take(c).writes;
  assert.equal(written.length, 2);
  for (const f of written) s.receive(f, T0);
  s.flush(T0);
  s.tick(T0 + 5);
  for (const f of take(s).writes) c.receive(f, T0 + 5);
  const cOut = take(c);
  assert.equal(cOut.confirmed.length, 2);
  assert.deepEqual(cOut.writes.map((f) => readU64(f, 1)), [3, 4], "admitted in call order");
  assert.equal(c.waiting, 1);
});

test("SessionMachine: one message larger than the buffer is accepted when the buffer is empty", () => {
  const { c } = connectedPair({ sendBufferSize: 10 });
  c.send(entry("x".repeat(100)), T0);
  assert.equal(c.inFlight, 1);
  c.send(entry("y"), T0);
  assert.equal(c.waiting, 1);
});

test("SessionMachine: withdraw removes a waiting message only", () => {
  const { c } = connectedPair({ sendBufferSize: 70 });
  const a = entry("a");
  const b = entry("b");
  c.send(a, T0);
  c.send(b, T0);
  assert.equal(c.withdraw(a), false);
  assert.equal(c.withdraw(b), true);
  assert.equal(c.waiting, 0);
});

test("SessionMachine: after withdrawing the first waiting message, admitWaiting admits the ones behind it that fit", () => {
  const { c } = connectedPair({ sendBufferSize: 200 });
  c.send(entry("a"), T0); // 1 + 64
  const big = entry("b".repeat(100)); // does not fit next to "a"
  c.send(big, T0);
  c.send(entry("c"), T0); // waits behind it, in call order
  take(c);
  assert.equal(c.waiting, 2);
  assert.equal(c.withdraw(big), true);
  c.admitWaiting(T0 + 1);
  assert.equal(c.waiting, 0);
  assert.deepEqual(take(c).writes.map((f) => text(f.subarray(17))), ["c"]);
});

test("SessionMachine: withdraw leaves the rest waiting until admitWaiting", () => {
  const { c } = connectedPair({ sendBufferSize: 200 });
  c.send(entry("a"), T0);
  const big = entry("b".repeat(100));
  c.send(big, T0);
  const small = entry("c");
  c.send(small, T0);
  take(c);
  assert.equal(c.withdraw(big), true);
  assert.equal(c.waiting, 1);
  assert.deepEqual(take(c).writes, []);
  // The same abort withdraws the one behind it too: it was never admitted.
  assert.equal(c.withdraw(small), true);
  c.admitWaiting(T0 + 1);
  assert.equal(c.waiting, 0);
  assert.deepEqual(take(c).writes, []);
});

test("SessionMachine: messages withdrawn behind the first waiting one, alone or several in a row, are passed over; the others go out in send order, once each", () => {
  // Room for one message at a time: a goes out, the rest wait.
  const { c } = connectedPair({ sendBufferSize: 65 });
  const [a, b, x, d, y, z, f] = ["a", "b", "x", "d", "y", "z", "f"].map(entry);
  for (const e of [a, b, x, d, y, z, f]) c.send(e!, T0);
  assert.equal(c.waiting, 6);
  for (const e of [x, y, z]) assert.equal(c.withdraw(e!), true);
  assert.equal(c.withdraw(y!), false, "once");
  assert.equal(c.waiting, 3);
  const sent = (): string[] => take(c).writes.map((w) => text(w.subarray(17)));
  assert.deepEqual(sent(), ["a"]);
  for (const [seq, next, waiting] of [[1, "b", 2], [2, "d", 1], [3, "f", 0]] as const) {
    c.receive(encodeAck(ACK, seq), T0);
    assert.deepEqual(sent(), [next]);
    assert.equal(c.waiting, waiting);
  }
  for (const e of [a, b, x, d, y, z, f]) assert.equal(c.withdraw(e!), false);
  c.receive(encodeAck(ACK, 4), T0);
  c.send(entry("g"), T0 + 1);
  const { writes } = take(c);
  assert.deepEqual(writes.map((w) => [readU64(w, 1), text(w.subarray(17))]), [[5, "g"]]);
});

test("SessionMachine: a session lost with messages withdrawn behind the first waiting one reports the others only", () => {
  const { c } = connectedPair({ sendBufferSize: 65 });
  const [a, b, x, d] = ["a", "b", "x", "d"].map(entry);
  for (const e of [a, b, x, d]) c.send(e!, T0);
  assert.equal(c.withdraw(x!), true);
  take(c);
  c.close(T0, 0); // nothing confirmed: the close loses them
  const failed = c.failed.splice(0).map((e) => text(e.frame.subarray(17)));
  assert.deepEqual(failed, ["a", "b", "d"]);
  assert.equal(c.waiting, 0);
  assert.equal(c.withdraw(b!), false, "failed: no longer waiting");
});

test("SessionMachine: the peer's GOODBYE counts the messages it will never take without those withdrawn behind the first waiting one", () => {
  // Room for one message at a time: a goes out, b, x and d wait; x is withdrawn (left in place).
  const { c, s } = connectedPair({ sendBufferSize: 65 });
  const [a, b, x, d] = ["a", "b", "x", "d"].map(entry);
  for (const e of [a, b, x, d]) c.send(e!, T0);
  assert.equal(c.withdraw(x!), true);
  assert.equal(c.waiting, 2);
  take(c); // a's DATA never reaches the server
  c.close(T0, 1000);
  s.close(T0, 1000); // nothing unconfirmed on the server: GOODBYE(0) at once
  for (const f of take(s).writes) c.receive(f, T0);
  const out = take(c);
  assert.equal(c.state, "closed");
  assert.deepEqual(out.failed.map(([token]) => token), ["a", "b", "d"]);
  const close = out.events.at(-1) as { type: string; error?: Error; unconfirmed: Entry[] };
  assert.equal(close.type, "close");
  assert.deepEqual(close.unconfirmed.map((e) => e.token), ["a", "b", "d"]);
  assert.match(
    close.error!.message,
    /^Cannot confirm 3 messages as the peer closed the session first$/,
  );
});

test("SessionMachine: messages withdrawn behind a first waiting one that gets no room are let go of, not held until it does", () => {
  // Room for one: a goes out, b and h wait; the ack of a admits b, and h waits (its send has no
  // signal, and no ack comes: a peer away). Sends behind it, each withdrawn soon after (a timeout
  // signal each, say): before 0859970 each was taken out at once; left in place, each kept its
  // slot and its frame (a payload's copy) for as long as h waited, without bound.
  const { c } = connectedPair({ sendBufferSize: 65 });
  for (const word of ["a", "b", "h"]) c.send(entry(word), T0);
  c.receive(encodeAck(ACK, 1), T0);
  assert.deepEqual(take(c).writes.map((w) => text(w.subarray(17))), ["a", "b"]);
  const live: Entry[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = entry(String(i % 10));
    c.send(e, T0);
    if (i % 100 === 0) live.push(e); // a few are not withdrawn
    else assert.equal(c.withdraw(e), true);
  }
  assert.equal(c.waiting, 1 + live.length);
  assert.ok(c.slotsHeld <= 2 * 1024 + 2 * live.length, `slots held: ${c.slotsHeld}`);
  // Those left still go out in send order, once each, when there is room.
  const sent: string[] = [];
  for (let seq = 2; c.inFlight > 0; seq++) {
    c.receive(encodeAck(ACK, seq), T0);
    sent.push(...take(c).writes.map((w) => text(w.subarray(17))));
  }
  assert.deepEqual(sent, ["h", ...live.map((e) => e.token as string)]);
  assert.equal(c.waiting, 0);
});

test("SessionMachine: 20,000 waiting messages withdrawn one by one, every other first, then the rest in send order, in linear time", () => {
  // Each withdraw searched the waiting messages and took its own out with splice(): quadratic
  // when one signal aborts many sends (40,000 took 8 s on Node).
  const n = 20_000;
  const { c } = connectedPair({ sendBufferSize: 65 });
  const entries = Array.from({ length: n }, (_, i) => entry(String(i % 10)));
  for (const e of entries) c.send(e, T0);
  take(c);
  const proto = Array.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { splice: proto.splice!, indexOf: proto.indexOf! };
  let looked = 0;
  for (const name of ["splice", "indexOf"] as const) {
    proto[name] = function (this: unknown[], ...args: unknown[]): unknown {
      if (this.length > 1024) looked += this.length;
      return originals[name].apply(this, args);
    };
  }
  try {
    for (let i = 1; i < n; i += 2) assert.equal(c.withdraw(entries[i]!), true);
    assert.equal(c.waiting, n / 2 - 1);
    for (let i = 2; i < n; i += 2) assert.equal(c.withdraw(entries[i]!), true);
  } finally {
    Object.assign(proto, originals);
  }
  assert.equal(c.waiting, 0);
  assert.ok(looked <= 2 * n, `withdraw looked through ${looked} elements for ${n} messages`);
  c.receive(encodeAck(ACK, 1), T0);
  c.send(entry("last"), T0);
  assert.deepEqual(take(c).writes.map((w) => [readU64(w, 1), text(w.subarray(17))]), [[2, "last"]]);
});

test("SessionMachine: sends, withdrawals, acks, admitWaiting, resumes and lost sessions behave as a plain model of the send buffer and its waiting queue", () => {
  // The model: a send buffer (admitted, numbered from 1 per session, in send order) and a queue
  // of sends waiting for room; withdrawn ones leave the queue at once. The machine leaves them in
  // place (0859970) and passes over them: whatever the mix, every message must be admitted once
  // or withdrawn or failed, in send order, with the counts and flags the model has. Runs long
  // enough (bursts over 1,024) to cross the compaction of the waiting queue.
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ send: fc.integer({ min: 1, max: 4 }), size: fc.nat(80) }) },
    { weight: 1, arbitrary: fc.record({ burst: fc.integer({ min: 1000, max: 2600 }) }) },
    // Any message, or one of the first two waiting (the head, or the one behind it).
    { weight: 5, arbitrary: fc.record({ withdraw: fc.nat(), near: fc.boolean() }) },
    // The one behind the head, then the head (two signals, the later one aborted first).
    { weight: 1, arbitrary: fc.constant({ pair: true }) },
    {
      weight: 2,
      arbitrary: fc.record({
        abort: fc.nat(),
        every: fc.integer({ min: 1, max: 3 }),
        fromHead: fc.boolean(),
      }),
    },
    { weight: 4, arbitrary: fc.record({ ack: fc.nat() }) },
    { weight: 2, arbitrary: fc.constant({ admit: true }) },
    { weight: 1, arbitrary: fc.record({ resume: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ lose: true }) },
  );
  const end = fc.constantFrom("none", "close timeout", "peer goodbye");
  const bufferSize = fc.constantFrom(65, 150, 400, 70_000);
  const cost = (e: Entry): number => e.size + ENTRY_COST;
  fc.assert(
    fc.property(bufferSize, fc.array(op, { maxLength: 30 }), end, (size, ops, ending) => {
      const { c } = connectedPair({ sendBufferSize: size });
      let now = T0;
      let made = 0;
      let ids = 0;
      const all: Entry[] = [];
      const buffer: Entry[] = []; // admitted, not confirmed (model)
      let waiting: Entry[] = []; // waiting for room (model)
      let nextSeq = 1;
      let acked = 0;
      let costs = 0;
      /** The model's admission, as #hasRoom has it; returns those admitted. */
      const admit = (): Entry[] => {
        const admitted: Entry[] = [];
        while (waiting.length > 0) {
          const e = waiting[0]!;
          if (buffer.length > 0 && costs + cost(e) > size) break;
          waiting.shift();
          e.seq = nextSeq++;
          buffer.push(e);
          costs += cost(e);
          admitted.push(e);
        }
        return admitted;
      };
      /** The DATA frames among `writes`, as [seq, token]. */
      const data = (writes: Uint8Array[]): [number, string][] =>
        writes.filter((w) => w[0] === DATA).map((w) => [readU64(w, 1), text(w.subarray(17))]);
      const expect = (admitted: Entry[]): [number, string][] =>
        admitted.map((e) => [e.seq, e.token as string]);
      const check = (where: string): void => {
        assert.equal(c.waiting, waiting.length, `waiting after ${where}`);
        assert.equal(c.inFlight, buffer.length, `inFlight after ${where}`);
        assert.equal(c.bufferedBytes, buffer.reduce((n, e) => n + e.size, 0), where);
        const queued = new Set(waiting);
        for (const e of all) assert.equal(e.waiting, queued.has(e), `${e.token}.waiting, ${where}`);
      };
      const send = (n: number, extra: number): void => {
        const wasEmpty = waiting.length === 0;
        for (let i = 0; i < n; i++) {
          const e = entry(`${made++}:${".".repeat(extra)}`);
          all.push(e);
          waiting.push(e);
          c.send(e, now);
        }
        // The machine admits when a send finds nothing waiting (later ones wait behind).
        const admitted = wasEmpty ? admit() : [];
        assert.deepEqual(data(take(c).writes), expect(admitted), "sent");
      };
      const withdraw = (e: Entry): void => {
        const at = waiting.indexOf(e);
        if (at >= 0) waiting.splice(at, 1);
        assert.equal(c.withdraw(e), at >= 0, `withdraw ${e.token}`);
      };
      const confirm = (k: number): string[] => {
        const done = buffer.splice(0, k);
        for (const e of done) costs -= cost(e);
        if (done.length > 0) acked = done.at(-1)!.seq;
        return done.map((e) => e.token as string);
      };
      for (const o of ops) {
        if ("send" in o) send(o.send, o.size);
        else if ("burst" in o) send(o.burst, 0);
        else if ("withdraw" in o) {
          if (o.near && waiting.length > 0) {
            withdraw(waiting[o.withdraw % Math.min(2, waiting.length)]!);
          } else if (all.length > 0) withdraw(all[o.withdraw % all.length]!);
          assert.deepEqual(take(c).writes, [], "a withdrawal admits nothing");
        } else if ("pair" in o) {
          for (const e of waiting.slice(0, 2).reverse()) withdraw(e);
          assert.deepEqual(take(c).writes, [], "a withdrawal admits nothing");
        } else if ("abort" in o) {
          // One signal's sends: withdrawn in send order (some may be in the buffer already).
          const start = o.fromHead && waiting.length > 0
            ? all.indexOf(waiting[0]!)
            : all.length === 0
            ? 0
            : o.abort % all.length;
          for (let i = start; i < all.length; i += o.every) withdraw(all[i]!);
          assert.deepEqual(take(c).writes, [], "a withdrawal admits nothing");
        } else if ("ack" in o) {
          if (buffer.length === 0) continue;
          const k = 1 + o.ack % buffer.length;
          c.receive(encodeAck(ACK, buffer[k - 1]!.seq), now);
          const confirmed = confirm(k);
          const admitted = admit();
          const out = take(c);
          assert.deepEqual(out.confirmed, confirmed, "confirmed");
          assert.deepEqual(
            data(out.writes),
            expect(admitted),
            "admitted by an ack",
          );
        } else if ("admit" in o) {
          c.admitWaiting(now);
          assert.deepEqual(data(take(c).writes), expect(admit()), "admitWaiting");
        } else {
          // The connection drops; the next one resumes (acking some) or finds the session lost.
          c.disconnected(now, new Error("cut"));
          now = Math.max(now, c.deadline);
          c.tick(now);
          assert.equal(c.dial, true);
          c.dial = false;
          c.connected(now);
          take(c);
          if ("resume" in o) {
            const k = buffer.length === 0 ? 0 : o.resume % (buffer.length + 1);
            const ack = k === 0 ? acked : buffer[k - 1]!.seq;
            c.receive(encodeHandshake(WELCOME, 0, c.id, ack), now);
            const confirmed = confirm(k);
            admit();
            const out = take(c);
            assert.deepEqual(out.confirmed, confirmed, "confirmed by the WELCOME");
            assert.deepEqual(out.events.map((e) => e.type), ["resumed"]);
            // Everything in the buffer goes out: the replay, then those admitted meanwhile.
            assert.deepEqual(
              data(out.writes),
              expect(buffer),
              "written on the new connection",
            );
          } else {
            const id = new Uint8Array(16).fill(100 + ids++ % 100);
            c.receive(encodeHandshake(WELCOME, FLAG_LOST, id, 0), now);
            const out = take(c);
            const lost = [...buffer, ...waiting].map((e) => e.token as string);
            assert.deepEqual(out.failed, lost.map((t) => [t, "SESSION_LOST"]), "failed");
            const event = out.events.find((e) => e.type === "sessionlost");
            assert.ok(event?.type === "sessionlost");
            assert.deepEqual([...event.unknown, ...event.unsent].map((e) => e.token), lost);
            buffer.length = 0;
            waiting = [];
            costs = 0;
            nextSeq = 1;
            acked = 0;
          }
        }
        check(Object.keys(o)[0]!);
      }
      if (ending === "none") return;
      const left = [...buffer, ...waiting].map((e) => e.token as string);
      if (ending === "close timeout") c.close(now, 0);
      else {
        c.close(now, 1000);
        take(c);
        c.receive(encodeAck(GOODBYE, acked), now);
      }
      assert.equal(c.state, "closed");
      const out = take(c);
      assert.deepEqual(out.failed.map(([t]) => t), left, "failed at the end");
      const close = out.events.at(-1) as { type: string; error?: Error; unconfirmed: Entry[] };
      assert.equal(close.type, "close");
      assert.deepEqual(close.unconfirmed.map((e) => e.token), left);
      if (ending === "peer goodbye" && left.length > 0) {
        assert.match(close.error!.message, new RegExp(`^Cannot confirm ${left.length} messages?`));
      }
      buffer.length = 0;
      waiting = [];
      check("the end");
      for (const e of all) assert.equal(c.withdraw(e), false);
    }),
    { numRuns: 150 },
  );
});

test("SessionMachine: heartbeats go out after heartbeatInterval of silence", () => {
  const { c } = connectedPair();
  assert.equal(c.deadline, T0 + 1000);
  c.tick(T0 + 1000);
  const out = take(c);
  assert.deepEqual(types(out.writes), [ACK]);
  assert.equal(c.deadline, T0 + 2000);
});

test("SessionMachine: a silent peer is declared dead after deadPeerTimeout, and the client reconnects at once", () => {
  const { c } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0 + 10); // healthy: a frame after the handshake
  for (let t = T0 + 1000; t < T0 + 4010; t += 1000) {
    c.tick(t);
    assert.equal(c.linkClose, "none");
  }
  c.tick(T0 + 4010);
  assert.equal(c.linkClose, "abort");
  assert.equal((c.linkError as { code: string }).code, "CONNECTION_TIMEOUT");
  const out = take(c);
  assert.equal(out.events.length, 1);
  assert.equal(out.events[0]!.type, "reconnecting");
  assert.deepEqual({ ...out.events[0]!, error: undefined }, {
    type: "reconnecting",
    attempt: 1,
    delay: 0,
    error: undefined,
  });
  assert.equal(c.state, "reconnecting");
  assert.equal(c.deadline, T0 + 4010);
});

test("SessionMachine: once up, bytes of a frame still arriving count as hearing from the peer", () => {
  const { c } = connectedPair();
  c.heard(T0 + 3000);
  c.tick(T0 + 4010);
  assert.equal(c.linkClose, "none");
  c.tick(T0 + 7000);
  assert.equal(c.linkClose, "abort");
});

test("SessionMachine: reading paused by a full receive queue is not a dead peer", () => {
  const { c } = connectedPair();
  c.pauseReading();
  // Nothing to give up on meanwhile: the driver gives a timer no I/O turn first (see Session's
  // #onTimer), as it would for a verdict due.
  assert.equal(c.verdictAt, Infinity);
  c.tick(T0 + 50_000);
  assert.equal(c.linkClose, "none");
  assert.equal(c.verdictAt, Infinity);
  c.resumeReading(T0 + 50_000);
  c.tick(T0 + 53_999);
  assert.equal(c.linkClose, "none");
  c.tick(T0 + 54_000);
  assert.equal(c.linkClose, "abort");
});

test("SessionMachine: the handshake is bounded by deadPeerTimeout", () => {
  const c = helloSent();
  // Bytes that never make a whole answer do not hold the handshake open.
  for (let t = T0 + 1000; t < T0 + 4000; t += 1000) c.heard(t);
  c.tick(T0 + 4000);
  assert.equal(c.linkClose, "abort");
  const [event] = take(c).events;
  assert.equal(event!.type, "reconnecting");
  // Dropped before the handshake completed: a failed attempt, and the first retry is immediate.
  assert.equal((event as { attempt: number }).attempt, 2);
  assert.equal((event as { delay: number }).delay, 0);
});

test("backoffDelay: a base of 0 is no delay, however many failures (not NaN)", () => {
  const b = { base: 0, factor: 2, cap: 30000, jitter: 0.5, maxAttempts: Infinity };
  for (const n of [2, 100, 1025, 1026, 5000, 1e9]) assert.equal(backoffDelay(n, b, () => 0.5), 0);
  // And a huge base stays within the cap.
  assert.equal(backoffDelay(5000, { ...b, base: 1e300, jitter: 0 }, () => 0), 30000);
});

test("backoffDelay: base * factor^(n-2) keeps growing towards the cap after a thousand failures", () => {
  // Before, the exponent stopped at 1024: with a factor of 1.001 the delay stayed at 2.78 ms.
  const b = { base: 1, factor: 1.001, cap: 1e9, jitter: 0, maxAttempts: Infinity };
  const delay = backoffDelay(2000, b, () => 0);
  assert.ok(Math.abs(delay - Math.pow(1.001, 1998)) < 1e-9, String(delay)); // 7.37
  // A factor of 1 never grows; one far above 1 reaches the cap, not Infinity or NaN.
  assert.equal(backoffDelay(1e6, { ...b, factor: 1 }, () => 0), 1);
  assert.equal(backoffDelay(1e6, { ...b, factor: 10 }, () => 0), 1e9);
});

test("backoffDelay: immediate first attempt and first retry, then growth, cap and jitter spread", () => {
  const b = { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts: Infinity };
  const none = () => 0;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, b, none)), [
    0,
    0,
    100,
    200,
    400,
    800,
    1000,
    1000,
    1000,
  ]);
  // Jitter takes off up to half: every delay lies in [d/2, d].
  assert.equal(backoffDelay(2, b, () => 0.999999), 100 * (1 - 0.5 * 0.999999));
  assert.equal(backoffDelay(6, b, () => 0.5), 750);
  let rng = 1;
  const random = () => ((rng = (rng * 16807) % 2147483647) - 1) / 2147483646;
  const samples = Array.from({ length: 2000 }, () => backoffDelay(4, b, random));
  assert.ok(samples.every((d) => d >= 200 && d <= 400));
  assert.ok(
    Math.min(...samples) < 210 && Math.max(...samples) > 390,
    "spread over the whole range",
  );
  // No jitter: exactly the schedule.
  assert.equal(backoffDelay(3, { ...b, jitter: 0 }, () => 0.7), 200);
});

test("SessionMachine: failed dials follow the backoff schedule", () => {
  const c = new SessionMachine(options("client", { random: () => 0 }), T0);
  let now = T0;
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    assert.equal(c.deadline, now);
    c.tick(now);
    assert.equal(c.dial, true);
    c.dial = false;
    c.dialFailed(now, new Error("refused"));
    const [event] = take(c).events as { type: string; attempt: number; delay: number }[];
    assert.equal(event!.attempt, i + 2);
    delays.push(event!.delay);
    now = c.deadline;
  }
  assert.deepEqual(delays, [0, 100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(c.state, "connecting");
});

/**
 * The client dials at its deadline and both ends take a new connection: HELLO, then the server's
 * answer (WELCOME, and whatever follows it) to the client. Returns the time it happened.
 */
function handshakeAt(c: SessionMachine, s: SessionMachine): number {
  const now = c.deadline;
  c.tick(now);
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(now);
  s.connected(now);
  for (const f of take(c).writes) s.receive(f, now);
  for (const f of take(s).writes) c.receive(f, now);
  return now;
}

test("SessionMachine: a connection that drops right after its handshake counts as failed (no tight loop)", () => {
  const c = new SessionMachine(options("client"), T0);
  const s = new SessionMachine(options("server"), T0);
  let now = T0;
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    now = handshakeAt(c, s);
    take(c);
    c.disconnected(now, new Error("dropped"));
    s.disconnected(now, new Error("dropped"));
    take(s);
    const events = take(c).events.filter((e) => e.type === "reconnecting") as { delay: number }[];
    delays.push(events[0]!.delay);
  }
  assert.deepEqual(delays, [0, 100, 200, 400, 800]);
  // Once a connection carries a frame after its handshake, the schedule resets.
  now = handshakeAt(c, s);
  c.receive(encodeAck(ACK, 0), now);
  take(c);
  c.disconnected(now, new Error("dropped"));
  const [event] = take(c).events as { attempt: number; delay: number }[];
  assert.equal(event!.attempt, 1);
  assert.equal(event!.delay, 0);
});

test("SessionMachine: connections that complete their handshake and drop before any frame count against maxAttempts too", () => {
  // The rule chosen over DESIGN.md's "a connection that completed its handshake resets the
  // schedule" (docs/protocol.md, "Reconnecting"): a handshake alone shows nothing working. Else a
  // server that answers WELCOME and drops (or one whose connections break at once after it) would
  // never be given up on, whatever maxAttempts said.
  const c = new SessionMachine(
    options("client", {
      backoff: { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts: 3 },
    }),
    T0,
  );
  const s = new SessionMachine(options("server"), T0);
  const seen: (number | string)[] = [];
  for (let i = 0; i < 5 && c.state !== "closed"; i++) {
    const now = handshakeAt(c, s);
    c.disconnected(now, new Error("dropped"));
    s.disconnected(now, new Error("dropped"));
    take(s);
    for (const e of take(c).events) {
      if (e.type === "reconnecting") seen.push(e.attempt);
      if (e.type === "close") seen.push(e.error!.message);
    }
  }
  assert.deepEqual(seen, [
    2,
    3,
    "Cannot reconnect as 3 attempts in a row failed (reconnect.maxAttempts: 3): dropped",
  ]);
  assert.equal(c.reconnects, 2, "every handshake completed");
});

test("SessionMachine: close waits for confirmations, then GOODBYE both ways ends both ends", () => {
  const { c, s } = connectedPair();
  c.send(entry("last"), T0);
  c.close(T0, 10_000);
  assert.equal(c.state, "closing");
  const cOut = take(c);
  assert.deepEqual(types(cOut.writes), [DATA], "no GOODBYE while a message is unconfirmed");
  assert.throws(() => c.send(entry("late"), T0), TypeError);
  for (const f of cOut.writes) s.receive(f, T0);
  s.flush(T0);
  s.tick(T0 + 5);
  for (const f of take(s).writes) c.receive(f, T0 + 5);
  const afterAck = take(c);
  assert.deepEqual(afterAck.confirmed, ["last"]);
  assert.deepEqual(types(afterAck.writes), [GOODBYE]);
  assert.equal(readU64(afterAck.writes[0]!, 1), 0);
  assert.equal(c.state, "closing", "waits for the peer's GOODBYE");
  for (const f of afterAck.writes) s.receive(f, T0 + 5);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [GOODBYE]);
  assert.equal(readU64(sOut.writes[0]!, 1), 1);
  assert.equal(s.state, "closed");
  assert.equal(s.linkClose, "graceful");
  assert.deepEqual(sOut.events, [{ type: "close", error: undefined, unconfirmed: [] }]);
  for (const f of sOut.writes) c.receive(f, T0 + 6);
  assert.equal(c.state, "closed");
  assert.equal(c.linkClose, "graceful");
  assert.deepEqual(take(c).events, [{ type: "close", error: undefined, unconfirmed: [] }]);
});

test("SessionMachine: the peer's GOODBYE fails what it will never deliver", () => {
  const { c, s } = connectedPair();
  s.send(entry("s1"), T0);
  s.send(entry("s2"), T0);
  const [s1] = take(s).writes;
  c.receive(s1!, T0); // s2 still in flight when the client says goodbye
  c.flush(T0);
  c.close(T0, 1000);
  const goodbye = take(c);
  assert.deepEqual(goodbye.deliveries, ["s1"]);
  assert.deepEqual(types(goodbye.writes), [GOODBYE]);
  for (const f of goodbye.writes) s.receive(f, T0);
  const sOut = take(s);
  assert.deepEqual(sOut.confirmed, ["s1"]);
  assert.deepEqual(sOut.failed, [["s2", "CONNECTION_CLOSED"]]);
  assert.equal(s.state, "closed");
});

test("SessionMachine: close times out with unconfirmed messages and reports them", () => {
  const { c } = connectedPair();
  c.send(entry("a"), T0);
  c.send(entry("b"), T0);
  take(c);
  c.close(T0, 500);
  assert.equal(c.deadline, T0 + 500);
  c.tick(T0 + 500);
  const out = take(c);
  assert.deepEqual(types(out.writes), [GOODBYE]);
  assert.deepEqual(out.failed, [["a", "CONNECTION_CLOSED"], ["b", "CONNECTION_CLOSED"]]);
  const close = out.events.at(-1) as {
    type: string;
    error: { code: string };
    unconfirmed: Entry[];
  };
  assert.equal(close.type, "close");
  assert.equal(close.error.code, "CONNECTION_TIMEOUT");
  assert.deepEqual(close.unconfirmed.map((e) => e.token), ["a", "b"]);
  assert.equal(c.state, "closed");
});

test("SessionMachine: a server, or a client that never got through, closes at once when idle and disconnected", () => {
  const { s } = connectedPair();
  s.disconnected(T0, new Error("cut"));
  take(s);
  s.close(T0, 1000);
  assert.equal(s.state, "closed");
  assert.equal(s.deadline, Infinity);
  const c = new SessionMachine(options("client"), T0);
  c.tick(T0);
  c.dialFailed(T0, new Error("refused"));
  c.close(T0, 1000);
  assert.equal(c.state, "closed");
});

test("SessionMachine: the DATA frame whose ack completes a close is delivered, and the GOODBYE confirms it", () => {
  const { c, s } = connectedPair();
  c.send(entry("req"), T0);
  c.close(T0, 1000);
  for (const f of take(c).writes) s.receive(f, T0);
  assert.deepEqual(take(s).deliveries, ["req"]);
  s.send(entry("resp"), T0); // its DATA frame acks "req": all the client's close waited for
  s.close(T0, 1000);
  for (const f of take(s).writes) c.receive(f, T0);
  const out = take(c);
  assert.deepEqual(out.confirmed, ["req"]);
  assert.deepEqual(out.deliveries, ["resp"], "the response is not dropped");
  assert.deepEqual(types(out.writes), [GOODBYE]);
  assert.equal(readU64(out.writes[0]!, 1), 1, "the GOODBYE acks the response");
  for (const f of out.writes) s.receive(f, T0);
  const end = take(s);
  assert.deepEqual(end.confirmed, ["resp"]);
  assert.deepEqual(end.failed, []);
  assert.equal(s.state, "closed");
  const close = end.events.at(-1) as { type: string; error: unknown };
  assert.equal(close.type, "close");
  assert.equal(close.error, undefined);
});

test("SessionMachine: the peer's GOODBYE with messages it will never take: they fail, and a close() that waited for them is not a clean one", () => {
  for (const closeCalled of [false, true]) {
    const { c, s } = connectedPair();
    c.send(entry("x"), T0);
    take(c); // the DATA frame never reaches the server
    if (closeCalled) c.close(T0, 1000);
    s.close(T0, 1000); // nothing unconfirmed on the server: GOODBYE(0) at once
    for (const f of take(s).writes) c.receive(f, T0);
    const out = take(c);
    assert.equal(c.state, "closed");
    assert.deepEqual(out.failed, [["x", "CONNECTION_CLOSED"]]);
    const close = out.events.at(-1) as {
      type: string;
      error?: { code: string; message: string };
      unconfirmed: Entry[];
    };
    assert.equal(close.type, "close");
    assert.deepEqual(close.unconfirmed.map((e) => e.token), ["x"]);
    // The close event's error, when there is one, is the message's error's cause (before, a
    // GOODBYE gave none, though the close event said the peer closed first).
    assert.equal((close.unconfirmed[0]!.error as Error).cause, close.error);
    if (!closeCalled) {
      assert.equal(close.error, undefined, "the peer ended the session: a graceful end here");
      continue;
    }
    assert.equal(close.error?.code, "CONNECTION_CLOSED");
    assert.match(
      close.error!.message,
      /^Cannot confirm 1 message as the peer closed the session first$/,
    );
  }
});

test("SessionMachine: a client closing during its first handshake sends GOODBYE behind its HELLO, which ends the server's new session at once", () => {
  const c = new SessionMachine(options("client"), T0);
  const s = new SessionMachine(options("server"), T0);
  c.tick(T0);
  c.dial = false;
  c.connected(T0);
  c.close(T0, 1000);
  assert.equal(c.state, "closed");
  assert.equal(c.linkClose, "graceful", "the HELLO and GOODBYE are flushed, not dropped");
  const out = take(c);
  assert.deepEqual(types(out.writes), [HELLO, GOODBYE]);
  assert.deepEqual(out.events.map((e) => e.type), ["close"]);
  s.connected(T0);
  for (const f of out.writes) s.receive(f, T0);
  const answer = take(s);
  assert.deepEqual(types(answer.writes), [WELCOME, GOODBYE]);
  assert.deepEqual(answer.events.map((e) => e.type), ["open", "close"]);
  assert.equal((answer.events[1] as { error: unknown }).error, undefined);
  assert.equal(s.state, "closed");
  assert.equal(s.deadline, Infinity, "no resumeTimeout left running");
});

test("SessionMachine: a client closing while disconnected reconnects to say goodbye", () => {
  const { c, s } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0);
  c.disconnected(T0, new Error("cut"));
  s.disconnected(T0, new Error("cut"));
  take(c);
  take(s);
  c.close(T0, 1000);
  assert.equal(c.state, "closing");
  c.tick(T0);
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(T0 + 1);
  s.connected(T0 + 1);
  const [hello] = take(c).writes;
  assert.equal(decodeHandshake(hello!)!.flags, FLAG_RESUME | FLAG_CLOSING);
  s.receive(hello!, T0 + 1);
  for (const f of take(s).writes) c.receive(f, T0 + 1);
  const out = take(c);
  assert.deepEqual(types(out.writes), [GOODBYE]);
  for (const f of out.writes) s.receive(f, T0 + 1);
  for (const f of take(s).writes) c.receive(f, T0 + 1);
  assert.equal(s.state, "closed");
  assert.equal(c.state, "closed");
});

test("SessionMachine: a closing client with everything confirmed retries a connection that worked once; a failed retry ends the session cleanly", () => {
  const { c } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0); // the connection carried a frame: it worked
  take(c);
  c.close(T0, 30000);
  assert.deepEqual(types(take(c).writes), [GOODBYE]);
  c.disconnected(T0, new Error("cut")); // before the server's GOODBYE came back
  assert.deepEqual(take(c).events.map((e) => e.type), ["reconnecting"]);
  c.tick(T0);
  assert.equal(c.dial, true, "retried at once");
  c.dial = false;
  c.dialFailed(T0 + 1, new Error("refused"));
  assert.equal(c.state, "closed", "not retried until closeTimeout");
  const events = take(c).events as { type: string; error?: unknown }[];
  assert.deepEqual(events.map((e) => e.type), ["close"]);
  assert.equal(events[0]!.error, undefined, "a clean close: everything was confirmed");
  assert.equal(c.deadline, Infinity, "no timer left");
});

test("SessionMachine: a closing client with a message unconfirmed keeps retrying on its backoff schedule", () => {
  const { c } = connectedPair();
  c.send(entry("unconfirmed"), T0);
  take(c);
  c.disconnected(T0, new Error("cut"));
  c.close(T0, 30000);
  c.tick(T0);
  assert.equal(c.dial, true);
  c.dial = false;
  c.dialFailed(T0, new Error("refused"));
  assert.equal(c.state, "closing");
  assert.equal(c.deadline, T0 + 100, "the next retry after the backoff delay");
  c.tick(T0 + 99);
  assert.equal(c.dial, false, "not at once");
  c.tick(T0 + 100);
  assert.equal(c.dial, true);
});

test("SessionMachine: a closing client with a message unconfirmed waits out the backoff delay it is in: close() does not dial at once", () => {
  const { c } = connectedPair();
  c.send(entry("unconfirmed"), T0);
  take(c);
  c.disconnected(T0, new Error("cut")); // no frame on that connection: a failure
  c.tick(T0);
  c.dial = false;
  take(c);
  c.dialFailed(T0, new Error("refused")); // the second failure in a row: the next retry waits
  const [waiting] = take(c).events as { type: string; delay: number }[];
  assert.deepEqual([waiting!.type, waiting!.delay], ["reconnecting", 100]);
  assert.equal(c.deadline, T0 + 100);
  c.close(T0 + 10, 30000);
  assert.equal(c.dial, false, "the message is in doubt: the backoff schedule is kept");
  assert.equal(c.deadline, T0 + 100);
  c.tick(T0 + 99);
  assert.equal(c.dial, false);
  c.tick(T0 + 100);
  assert.equal(c.dial, true);
  assert.equal(c.state, "closing");
});

test("SessionMachine: a closing client with everything confirmed whose one more attempt connects but drops before the WELCOME ends the session there", () => {
  const { c } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0); // the connection carried a frame: it worked
  c.close(T0, 30000);
  assert.deepEqual(types(take(c).writes), [GOODBYE]);
  c.disconnected(T0, new Error("cut")); // before the server's GOODBYE came back
  assert.deepEqual(take(c).events.map((e) => e.type), ["reconnecting"]);
  c.tick(T0);
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(T0 + 1);
  const [hello] = take(c).writes;
  assert.equal(decodeHandshake(hello!)!.flags, FLAG_RESUME | FLAG_CLOSING);
  c.disconnected(T0 + 2, new Error("dropped before the WELCOME"));
  assert.equal(c.state, "closed", "no further attempt");
  const { events } = take(c);
  assert.deepEqual(events.map((e) => e.type), ["close"]);
  assert.equal((events[0] as { error: unknown }).error, undefined);
  assert.equal(c.dial, false);
  assert.equal(c.deadline, Infinity, "no timer left");
  assert.equal(c.reconnects, 0, "the handshake never completed");
});

/**
 * A client with everything confirmed, closed during a backoff delay: it dialled at once, got its
 * WELCOME at T0 + 10 and sent its GOODBYE (taken).
 */
function goodbyeConnection(): SessionMachine {
  const { c } = connectedPair();
  c.disconnected(T0, new Error("cut"));
  c.tick(T0);
  c.dial = false;
  c.dialFailed(T0, new Error("refused"));
  take(c);
  c.close(T0 + 10, 30000); // in a backoff delay: dials at once
  assert.equal(c.dial, true);
  c.dial = false;
  c.connected(T0 + 10);
  take(c);
  c.receive(encodeHandshake(WELCOME, 0, ID, 0), T0 + 10);
  assert.deepEqual(types(take(c).writes), [GOODBYE]);
  return c;
}

test("SessionMachine: a closing client's goodbye connection that carried a frame and dropped before the GOODBYE exchange is followed by one more attempt", () => {
  const c = goodbyeConnection();
  c.receive(encodeAck(ACK, 0), T0 + 11); // a heartbeat: this connection worked
  c.disconnected(T0 + 12, new Error("cut before the server's GOODBYE"));
  assert.equal(c.state, "closing");
  const [retry] = take(c).events as { type: string; attempt: number; delay: number }[];
  assert.deepEqual([retry!.type, retry!.attempt, retry!.delay], ["reconnecting", 1, 0]);
  c.tick(T0 + 12);
  assert.equal(c.dial, true);
  c.dial = false;
  c.dialFailed(T0 + 12, new Error("refused"));
  assert.equal(c.state, "closed");
  assert.equal(c.reconnects, 1, "the goodbye connection's handshake");
});

test("SessionMachine: a closing client with everything confirmed whose goodbye connection gets its WELCOME but ends before any frame after it ends the session there", () => {
  const c = goodbyeConnection();
  c.disconnected(T0 + 12, new Error("cut before any frame after the WELCOME"));
  assert.equal(c.state, "closed", "a connection that carried no frame is a failed attempt");
  const { events } = take(c);
  assert.deepEqual(events.map((e) => e.type), ["close"]);
  assert.equal((events[0] as { error: unknown }).error, undefined);
  assert.equal(c.dial, false);
  assert.equal(c.deadline, Infinity, "no timer left");
  assert.equal(c.reconnects, 1, "the handshake completed");
});

test("SessionMachine: a GOODBYE in answer to HELLO (the server ended the session) closes the client", () => {
  const { c } = connectedPair();
  c.send(entry("delivered"), T0);
  c.send(entry("not delivered"), T0);
  take(c);
  c.disconnected(T0, new Error("cut"));
  take(c);
  c.tick(T0);
  c.dial = false;
  c.connected(T0);
  take(c);
  c.receive(encodeAck(GOODBYE, 1), T0); // from the server's tombstone
  const out = take(c);
  assert.deepEqual(out.confirmed, ["delivered"]);
  assert.deepEqual(out.failed, [["not delivered", "CONNECTION_CLOSED"]]);
  assert.deepEqual(types(out.writes), [GOODBYE]);
  assert.equal(c.state, "closed");
});

test("SessionMachine: WELCOME(LOST) while closing closes; messages in doubt are reported and make the close an unclean one", () => {
  for (const inDoubt of [false, true]) {
    const { c } = connectedPair();
    if (inDoubt) c.send(entry("in doubt"), T0);
    else c.receive(encodeAck(ACK, 0), T0);
    take(c);
    c.disconnected(T0, new Error("cut"));
    take(c);
    c.close(T0, 1000);
    c.tick(T0);
    c.dial = false;
    c.connected(T0);
    take(c);
    c.receive(encodeHandshake(WELCOME, FLAG_LOST, ID, 0), T0);
    const out = take(c);
    assert.equal(c.state, "closed");
    // Sent whether or not the HELLO said CLOSING: when it did not, the server started a fresh
    // session, which the GOODBYE ends.
    assert.deepEqual(types(out.writes), [GOODBYE]);
    const close = out.events.at(-1) as { type: string; error?: { code: string; message: string } };
    assert.equal(close.type, "close");
    if (!inDoubt) {
      assert.equal(out.events.length, 1, "no sessionlost: nothing was in doubt");
      assert.equal(close.error, undefined);
      continue;
    }
    assert.deepEqual(out.events.map((e) => e.type), ["sessionlost", "close"]);
    assert.deepEqual(out.failed, [["in doubt", "SESSION_LOST"]]);
    assert.equal(close.error?.code, "SESSION_LOST");
    assert.match(close.error!.message, /1 message sent before close\(\) was not confirmed/);
    // The loss ended the session: its error is the message's error's cause (before, none).
    const { unknown } = out.events[0] as { unknown: Entry[] };
    assert.equal((unknown[0]!.error as Error).cause, close.error);
  }
});

test("SessionMachine: a restarted server reports the session lost; the client lists unknown and unsent messages", () => {
  const { c, s } = connectedPair({ sendBufferSize: 140 });
  c.send(entry("confirmed"), T0);
  exchange(c, s, T0);
  s.tick(T0 + 5);
  exchange(c, s, T0 + 5);
  take(c);
  c.send(entry("in-flight"), T0 + 6); // reaches nobody: the server dies
  c.send(entry("waiting"), T0 + 6); // no room: waits
  assert.equal(c.waiting, 1);
  take(c);
  c.disconnected(T0 + 7, new Error("reset"));
  c.send(entry("buffered"), T0 + 7);
  take(c);
  // A fresh server machine: the restart lost the state.
  const fresh = new SessionMachine(options("server"), T0 + 8);
  c.tick(c.deadline);
  c.dial = false;
  c.connected(T0 + 8);
  fresh.connected(T0 + 8);
  for (const f of take(c).writes) fresh.receive(f, T0 + 8);
  const welcome = take(fresh);
  assert.equal(decodeHandshake(welcome.writes[0]!)!.flags, FLAG_LOST);
  assert.deepEqual(welcome.events, [{ type: "open" }], "a new session on the server");
  for (const f of welcome.writes) c.receive(f, T0 + 8);
  const out = take(c);
  const lost = out.events[0] as { type: string; unknown: Entry[]; unsent: Entry[] };
  assert.equal(lost.type, "sessionlost");
  assert.deepEqual(lost.unknown.map((e) => e.token), ["in-flight"]);
  assert.deepEqual(lost.unsent.map((e) => e.token), ["waiting", "buffered"]);
  assert.deepEqual(out.failed, [
    ["in-flight", "SESSION_LOST"],
    ["waiting", "SESSION_LOST"],
    ["buffered", "SESSION_LOST"],
  ]);
  assert.deepEqual(out.events[1], { type: "resumed", replayed: 0 });
  assert.equal(c.state, "open");
  // The session goes on afresh: no error ends it, and the messages' errors have no cause.
  for (const e of [...lost.unknown, ...lost.unsent]) {
    assert.equal((e.error as Error).cause, undefined);
  }
  // Numbering restarts at 1 on both sides.
  c.send(entry("again"), T0 + 9);
  const [frame] = take(c).writes;
  assert.equal(readU64(frame!, 1), 1);
  fresh.receive(frame!, T0 + 9);
  assert.deepEqual(take(fresh).deliveries, ["again"]);
});

/** A restarted server's machine for the client's session: afresh, under a new id (as reliableServer does). */
const NEW_ID = new Uint8Array(16).fill(9);

/** The client dials again (its backoff deadline passed) and both ends see the connection; returns the HELLO. */
function redial(c: SessionMachine, server: SessionMachine, now: number): Uint8Array[] {
  c.tick(c.deadline);
  c.dial = false;
  c.connected(now);
  server.connected(now);
  return take(c).writes;
}

test("SessionMachine: a WELCOME(LOST) cut off is sent again, and the client's old lastReceived confirms nothing", () => {
  const { c, s } = connectedPair();
  for (const m of ["old-1", "old-2", "old-3"]) s.send(entry(m), T0);
  exchange(c, s, T0);
  assert.equal(c.lastReceived, 3);
  c.disconnected(T0 + 1, new Error("the server restarts"));
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 2);
  const hello = redial(c, fresh, T0 + 2);
  assert.equal(decodeHandshake(hello[0]!)!.lastReceived, 3);
  for (const f of hello) fresh.receive(f, T0 + 2);
  for (const m of ["new-1", "new-2", "new-3", "new-4"]) fresh.send(entry(m), T0 + 2);
  const first = take(fresh);
  const welcome = decodeHandshake(first.writes[0]!)!;
  assert.equal(welcome.flags, FLAG_LOST);
  assert.deepEqual(welcome.id, NEW_ID);
  assert.equal(first.writes.length, 5, "WELCOME(LOST), then new-1 to new-4");
  // That connection dies before the client reads anything: it never heard of LOST, and
  // asks to resume with its old id and its old lastReceived (3).
  fresh.disconnected(T0 + 3, new Error("cut"));
  c.disconnected(T0 + 3, new Error("cut"));
  for (const f of redial(c, fresh, T0 + 4)) fresh.receive(f, T0 + 4);
  const again = take(fresh);
  assert.deepEqual(again.confirmed, [], "the old lastReceived confirms none of the new messages");
  assert.equal(decodeHandshake(again.writes[0]!)!.flags, FLAG_LOST, "WELCOME(LOST) again");
  for (const f of again.writes) c.receive(f, T0 + 4);
  c.flush(T0 + 4);
  const out = take(c);
  assert.deepEqual(out.events.map((e) => e.type), ["sessionlost", "resumed"]);
  assert.deepEqual(out.deliveries, ["new-1", "new-2", "new-3", "new-4"]);
  assert.deepEqual(c.id, NEW_ID, "the client takes the new id");
  // The client's acks and messages are in the new numbering.
  c.send(entry("reply"), T0 + 5);
  for (const f of take(c).writes) fresh.receive(f, T0 + 5);
  fresh.flush(T0 + 5);
  const served = take(fresh);
  assert.deepEqual(served.deliveries, ["reply"]);
  assert.deepEqual(served.confirmed, ["new-1", "new-2", "new-3", "new-4"]);
  assert.equal(fresh.link, "up");
});

test("SessionMachine: a client that got the WELCOME(LOST) resumes with the new id, even if the server heard nothing after it", () => {
  const { c, s } = connectedPair();
  s.send(entry("old-1"), T0);
  exchange(c, s, T0);
  c.disconnected(T0 + 1, new Error("the server restarts"));
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 2);
  for (const f of redial(c, fresh, T0 + 2)) fresh.receive(f, T0 + 2);
  fresh.send(entry("new-1"), T0 + 2);
  // The client gets WELCOME(LOST) and new-1; its ack and its own message are cut off.
  for (const f of take(fresh).writes) c.receive(f, T0 + 2);
  c.flush(T0 + 2);
  c.send(entry("reply"), T0 + 2);
  assert.deepEqual(take(c).deliveries, ["new-1"]);
  c.disconnected(T0 + 3, new Error("cut"));
  fresh.disconnected(T0 + 3, new Error("cut"));
  const hello = redial(c, fresh, T0 + 4);
  assert.deepEqual(decodeHandshake(hello[0]!)!.id, NEW_ID);
  for (const f of hello) fresh.receive(f, T0 + 4);
  const welcome = take(fresh);
  assert.equal(decodeHandshake(welcome.writes[0]!)!.flags, 0, "a plain resume");
  assert.deepEqual(welcome.confirmed, ["new-1"]);
  for (const f of welcome.writes) c.receive(f, T0 + 4);
  const out = take(c);
  assert.deepEqual(out.events.map((e) => e.type), ["resumed"]);
  assert.deepEqual(out.deliveries, [], "new-1 is not delivered twice");
  for (const f of out.writes) fresh.receive(f, T0 + 4);
  assert.deepEqual(take(fresh).deliveries, ["reply"]);
});

test("SessionMachine: after a WELCOME(LOST), a fresh message the driver never handed to a connection is unsent, not a replay", () => {
  const { c, s } = connectedPair();
  for (const m of ["old-1", "old-2", "old-3"]) c.send(entry(m), T0);
  assert.equal(take(c).writes.length, 3); // written, never confirmed
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  // Replayed on the next connection, which ends before anything is confirmed.
  for (const f of redial(c, s, T0 + 1)) s.receive(f, T0 + 1);
  for (const f of take(s).writes) c.receive(f, T0 + 1);
  assert.deepEqual(take(c).events, [{ type: "resumed", replayed: 3 }]);
  c.disconnected(T0 + 1, new Error("the server restarts"));
  take(c);
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 2);
  for (const f of redial(c, fresh, T0 + 2)) fresh.receive(f, T0 + 2);
  for (const f of take(fresh).writes) c.receive(f, T0 + 2);
  assert.deepEqual(take(c).events.map((e) => e.type), ["sessionlost", "resumed"]);
  assert.equal(c.resent, 3, "the replay of old-1 to old-3");
  // Seq 1 of the fresh numbering, written by the machine; the connection ends before the driver
  // hands it over (its pump comes after the end).
  c.send(entry("new-1"), T0 + 3);
  const frames = c.writes;
  c.writes = [];
  assert.deepEqual(frames.map((f) => [f[0], readU64(f, 1)]), [[DATA, 1]]);
  c.unwritten(frames);
  assert.equal(c.resent, 3, "new-1 was no replay");
  c.disconnected(T0 + 4, new Error("cut"));
  fresh.disconnected(T0 + 4, new Error("cut"));
  take(c);
  for (const f of redial(c, fresh, T0 + 5)) fresh.receive(f, T0 + 5);
  for (const f of take(fresh).writes) c.receive(f, T0 + 5);
  const out = take(c);
  // Never written: the next connection writes it for the first time (no replay, none resent).
  assert.deepEqual(out.events, [{ type: "resumed", replayed: 0 }]);
  assert.equal(c.resent, 3);
  for (const f of out.writes) fresh.receive(f, T0 + 5);
  assert.deepEqual(take(fresh).deliveries, ["new-1"]);
});

test("SessionMachine: handshakes for another session id are protocol errors", () => {
  const OTHER = new Uint8Array(16).fill(3);
  // A server session that never lost anything: a HELLO with another id.
  const { c, s } = connectedPair();
  s.disconnected(T0 + 1, new Error("cut"));
  s.connected(T0 + 2);
  s.receive(encodeHandshake(HELLO, FLAG_RESUME, OTHER, 0), T0 + 2);
  assert.equal(s.linkClose, "abort");
  assert.match(String(s.linkError), /another session id/);
  // A client: a WELCOME (not LOST) with another id.
  c.disconnected(T0 + 1, new Error("cut"));
  c.tick(c.deadline);
  c.dial = false;
  c.connected(T0 + 2);
  take(c);
  c.receive(encodeHandshake(WELCOME, 0, OTHER, 0), T0 + 2);
  assert.equal(c.linkClose, "abort");
  assert.match(String(c.linkError), /another session id/);
});

test("SessionMachine: acks of 2^53 or more are protocol errors", () => {
  const huge = new Uint8Array(8).fill(0xff); // 2^64 - 1
  const ack = new Uint8Array(9);
  ack[0] = ACK;
  ack.set(huge, 1);
  const goodbye = ack.slice();
  goodbye[0] = GOODBYE;
  const data = newDataFrame(new TextEncoder().encode("x"));
  setDataSeq(data, 1);
  data.set(huge, 9);
  for (const [name, frame] of [["ACK", ack], ["GOODBYE", goodbye], ["DATA", data]] as const) {
    const { s } = connectedPair();
    s.receive(frame, T0 + 1);
    assert.equal(s.linkClose, "abort", name);
    assert.match(String(s.linkError), /2\^53/, name);
    assert.deepEqual(take(s).deliveries, [], name);
    assert.equal(s.state, "reconnecting", name);
  }
});

test("SessionMachine: a server session whose client does not return is lost after resumeTimeout", () => {
  const { c, s } = connectedPair();
  s.send(entry("s1"), T0);
  take(s);
  s.disconnected(T0 + 1, new Error("reset"));
  const ev = take(s).events[0] as { type: string; delay: number };
  assert.equal(ev.type, "reconnecting");
  assert.equal(ev.delay, 30000);
  assert.equal(s.state, "reconnecting");
  assert.equal(s.deadline, T0 + 30001);
  s.tick(T0 + 30001);
  const out = take(s);
  assert.deepEqual(out.failed, [["s1", "SESSION_LOST"]]);
  assert.deepEqual(out.events.map((e) => e.type), ["sessionlost", "close"]);
  const { error } = out.events[1] as { error: { code: string } };
  assert.equal(error.code, "SESSION_LOST");
  // The message's error has the close event's as its cause (before, none).
  assert.equal(((out.events[0] as { unknown: Entry[] }).unknown[0]!.error as Error).cause, error);
  assert.equal(s.state, "closed");
  void c;
});

/** A connected pair whose server holds "s1" unconfirmed, their connection cut at T0 + 1. */
function cutPair(): { c: SessionMachine; s: SessionMachine } {
  const { c, s } = connectedPair();
  s.send(entry("s1"), T0);
  take(s);
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  take(s);
  return { c, s };
}

test("SessionMachine: a server whose resumeTimeout check comes late (its process did not run) gives the client resumeTimeout again from then, once per wait", () => {
  const { c, s } = cutPair();
  assert.equal(s.deadline, T0 + 30_001);
  // The server process was stopped from before its deadline until 5 s after it: the client,
  // retrying meanwhile, could not get through, and its next attempt comes 2 s after the wake.
  const wake = T0 + 35_001;
  s.tick(wake);
  assert.deepEqual(take(s).events, [], "not lost at the late check");
  assert.equal(s.state, "reconnecting");
  assert.equal(s.deadline, wake + 30_000);
  for (const f of redial(c, s, wake + 2000)) s.receive(f, wake + 2000);
  exchange(c, s, wake + 2000);
  assert.deepEqual(take(s).events.map((e) => e.type), ["resumed"]);
  assert.deepEqual(take(c).deliveries, ["s1"], "replayed on the resumed connection");
  assert.equal(s.state, "open");
  // A later wait gets the same: the renewal is once per wait, not once per session.
  const cut = wake + 3000;
  c.disconnected(cut, new Error("cut again"));
  s.disconnected(cut, new Error("cut again"));
  take(s);
  s.tick(cut + 30_000 + 200);
  assert.deepEqual(take(s).events, []);
  assert.equal(s.deadline, cut + 60_200);
  // Late again in the same wait (a loop starved turn after turn): lost, not held for ever.
  s.tick(cut + 60_200 + 5000);
  assert.deepEqual(take(s).events.map((e) => e.type), ["sessionlost", "close"]);
  assert.equal(s.state, "closed");
});

test("SessionMachine: a server's resumeTimeout check that comes on time, or late by less than LATE_TIMER_MS, loses the session", () => {
  for (const late of [0, LATE_TIMER_MS - 1]) {
    const { c, s } = connectedPair();
    s.disconnected(T0 + 1, new Error("cut"));
    take(s);
    s.tick(T0 + 30_001 + late);
    assert.deepEqual(take(s).events.map((e) => e.type), ["sessionlost", "close"], `late ${late}`);
    void c;
  }
});

test("SessionMachine: a server's resumeTimeout check late by exactly LATE_TIMER_MS renews the wait", () => {
  // The bound is inclusive, as the driver's OVERDUE_MS (the same 50 ms) is: a timer that much late
  // gets the I/O turn first, and so must the session. Before, no test told >= from >.
  const { c, s } = connectedPair();
  s.disconnected(T0 + 1, new Error("cut"));
  take(s);
  const late = T0 + 30_001 + LATE_TIMER_MS;
  s.tick(late);
  assert.deepEqual(take(s).events, [], "not lost at a check LATE_TIMER_MS late");
  assert.equal(s.deadline, late + 30_000);
  void c;
});

test("SessionMachine: a DATA payload above maxMessageSize drops the connection, undelivered", () => {
  // Below the framing's 1 KiB floor, which lets such a frame through.
  const { s } = connectedPair({}, { maxMessageSize: 10 });
  const fits = newDataFrame(new Uint8Array(10));
  setDataSeq(fits, 1);
  s.receive(fits, T0);
  const big = newDataFrame(new Uint8Array(11));
  setDataSeq(big, 2);
  s.receive(big, T0);
  assert.equal(take(s).deliveries.length, 1);
  assert.equal(s.linkClose, "abort");
  const error = s.linkError as Error & { code: string };
  assert.equal(error.code, "PROTOCOL_ERROR");
  assert.match(error.message, /DATA payload of 11 bytes exceeds maxMessageSize 10/);
});

test("SessionMachine: impossible sequence numbers and acks drop the connection", () => {
  const { c, s } = connectedPair();
  const frame = newDataFrame(new Uint8Array([1]));
  setDataSeq(frame, 5); // gap: expected 1
  s.receive(frame, T0);
  assert.equal(s.linkClose, "abort");
  assert.equal((s.linkError as { code: string }).code, "PROTOCOL_ERROR");
  c.receive(encodeAck(ACK, 9), T0); // acks a message never sent
  assert.equal(c.linkClose, "abort");
  const s2 = connectedPair().s;
  const data = newDataFrame(new Uint8Array([1]));
  setDataSeq(data, 1);
  setDataAck(data, 0);
  s2.receive(new Uint8Array([0x42]), T0);
  assert.equal(s2.linkClose, "abort");
  void data;
});

test("SessionMachine: a HELLO with an unknown version is rejected", () => {
  const s = new SessionMachine(options("server"), T0);
  s.connected(T0);
  const hello = encodeHandshake(HELLO, 0, ID, 0);
  hello[1] = 9;
  s.receive(hello, T0);
  const out = take(s);
  assert.equal(out.writes[0]![0], 0x06);
  assert.equal(s.linkClose, "graceful");
});

test("SessionMachine: a WELCOME of another protocol version ends the client session (no retries)", () => {
  const c = new SessionMachine(options("client"), T0);
  c.tick(T0);
  c.connected(T0);
  c.send(entry("x"), T0); // queued behind the HELLO
  take(c);
  const welcome = encodeHandshake(WELCOME, 0, ID, 0);
  welcome[1] = 9;
  c.receive(welcome, T0);
  assert.equal(c.state, "closed");
  const close = take(c).events.find((e) => e.type === "close") as
    | { error?: { code: string }; unconfirmed: Entry[] }
    | undefined;
  assert.equal(close?.error?.code, "PROTOCOL_ERROR");
  // The message's own error keeps CONNECTION_CLOSED and says why through its cause.
  const failed = close!.unconfirmed[0]!.error as unknown as { code: string; cause?: unknown };
  assert.equal(failed.code, "CONNECTION_CLOSED");
  assert.equal(failed.cause, close!.error);
});

/** Deterministic pseudo-random numbers in [0, 1). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

test("SessionMachine: exactly once and in order across random connection cuts (model check)", () => {
  const N = 30;
  for (let seed = 1; seed <= 150; seed++) {
    const random = prng(seed);
    const c = new SessionMachine(options("client", { sendBufferSize: 400, random }), T0);
    const s = new SessionMachine(options("server", { sendBufferSize: 400 }), T0);
    const got = { c: [] as string[], s: [] as string[] };
    const confirmed = { c: [] as string[], s: [] as string[] };
    let now = T0;
    let cQueue: Uint8Array[] = [];
    let sQueue: Uint8Array[] = [];
    let sentC = 0;
    let sentS = 0;
    const cut = (): void => {
      cQueue = [];
      sQueue = [];
      c.disconnected(now, new Error("cut"));
      s.disconnected(now, new Error("cut"));
      c.writes.length = 0;
      s.writes.length = 0;
    };
    const drain = (m: SessionMachine, side: "c" | "s"): void => {
      for (const d of m.deliveries) got[side].push(text(d));
      for (const e of m.confirmed) confirmed[side].push(e.token as string);
      if (m.failed.length > 0) throw new Error(`seed ${seed}: unexpected failure`);
      m.deliveries.length = 0;
      m.confirmed.length = 0;
      m.events.length = 0;
      if (m.linkClose !== "none") {
        m.linkClose = "none";
        cut();
      }
    };
    const settle = (): void => {
      if (c.dial) {
        c.dial = false;
        if (random() < 0.2) c.dialFailed(now, new Error("refused"));
        else {
          c.connected(now);
          s.connected(now);
        }
      }
      for (const f of c.writes) cQueue.push(f);
      for (const f of s.writes) sQueue.push(f);
      c.writes.length = 0;
      s.writes.length = 0;
      drain(c, "c");
      drain(s, "s");
    };
    const deliver = (all: boolean): void => {
      const k = all ? cQueue.length : Math.floor(random() * (cQueue.length + 1));
      for (const f of cQueue.splice(0, k)) s.receive(f, now);
      s.flush(now);
      const j = all ? sQueue.length : Math.floor(random() * (sQueue.length + 1));
      for (const f of sQueue.splice(0, j)) c.receive(f, now);
      c.flush(now);
    };
    // Chaos: sends, partial deliveries, cuts, failed dials, time.
    for (let step = 0; step < 400; step++) {
      const r = random();
      if (r < 0.2 && sentC < N) c.send(entry(`c${++sentC}`), now);
      else if (r < 0.4 && sentS < N) s.send(entry(`s${++sentS}`), now);
      else if (r < 0.45) cut();
      else if (r < 0.75) deliver(false);
      else {
        now += Math.floor(random() * 8);
        c.tick(now);
        s.tick(now);
      }
      settle();
    }
    // Heal: no more faults; everything must get through.
    while (sentC < N) c.send(entry(`c${++sentC}`), now);
    while (sentS < N) s.send(entry(`s${++sentS}`), now);
    for (let step = 0; step < 2000 && (confirmed.c.length < N || confirmed.s.length < N); step++) {
      settle();
      deliver(true);
      settle();
      now += 5;
      c.tick(now);
      s.tick(now);
      settle();
    }
    const expect = (p: string): string[] => Array.from({ length: N }, (_, i) => `${p}${i + 1}`);
    assert.deepEqual(got.s, expect("c"), `seed ${seed}: client to server`);
    assert.deepEqual(got.c, expect("s"), `seed ${seed}: server to client`);
    assert.deepEqual(confirmed.c, expect("c"), `seed ${seed}: client confirmations`);
    assert.deepEqual(confirmed.s, expect("s"), `seed ${seed}: server confirmations`);
  }
});

test("SessionMachine: a message that exactly fills the send buffer is admitted", () => {
  // 36-byte messages cost 100 each: a 200-byte buffer holds two, to the byte.
  const { c } = connectedPair({ sendBufferSize: 200 });
  c.send(entry("1".repeat(36)), T0);
  c.send(entry("2".repeat(36)), T0);
  assert.equal(c.inFlight, 2);
  assert.equal(c.waiting, 0);
  assert.equal(take(c).writes.length, 2);
  c.send(entry("3"), T0);
  assert.equal(c.waiting, 1, "one byte more does not fit");
});

test("SessionMachine: a standalone ack goes out as soon as exactly ackEvery messages arrived", () => {
  const { c, s } = connectedPair(); // ackEvery 4
  for (const m of ["a", "b", "c", "d"]) c.send(entry(m), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [ACK], "not after ackDelay");
  assert.equal(readU64(sOut.writes[0]!, 1), 4);
});

test("SessionMachine: later messages do not push back an ack already due", () => {
  const { c, s } = connectedPair(); // ackDelay 5
  c.send(entry("a"), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  assert.equal(s.deadline, T0 + 5);
  c.send(entry("b"), T0 + 3);
  for (const f of take(c).writes) s.receive(f, T0 + 3);
  s.flush(T0 + 3);
  assert.equal(s.deadline, T0 + 5, "the ack of a is still due at T0 + 5");
  s.tick(T0 + 5);
  const sOut = take(s);
  assert.deepEqual(types(sOut.writes), [ACK]);
  assert.equal(readU64(sOut.writes[0]!, 1), 2);
});

test("SessionMachine: ACK, GOODBYE, HELLO and WELCOME frames of the wrong length are protocol errors", () => {
  for (const type of [ACK, GOODBYE]) {
    for (const length of [8, 10]) {
      const { s } = connectedPair();
      const frame = new Uint8Array(length);
      frame[0] = type;
      s.receive(frame, T0 + 1);
      assert.equal(s.linkClose, "abort", `type ${type}, ${length} bytes`);
      assert.equal((s.linkError as { code: string }).code, "PROTOCOL_ERROR");
      assert.equal(s.state, "reconnecting");
    }
  }
  const long = (type: number): Uint8Array => {
    const frame = new Uint8Array(28);
    frame.set(encodeHandshake(type, 0, ID, 0));
    return frame;
  };
  refusesHandshakes(long);
});

/** A server refuses `mangled(HELLO)` and a client `mangled(WELCOME)` as malformed. */
function refusesHandshakes(mangled: (type: number) => Uint8Array): void {
  const s = new SessionMachine(options("server"), T0);
  s.connected(T0);
  s.receive(mangled(HELLO), T0);
  assert.equal(s.linkClose, "abort");
  assert.match(String(s.linkError), /malformed HELLO/);
  assert.ok(!take(s).events.some((e) => e.type === "open"), "no session opened");
  const c = helloSent();
  c.receive(mangled(WELCOME), T0);
  assert.equal(c.linkClose, "abort");
  assert.match(String(c.linkError), /malformed WELCOME/);
  assert.equal(c.state, "connecting");
}

test("SessionMachine: acks of the next sequence number (never sent) are protocol errors, in any frame", () => {
  // ACK: nothing sent yet, and one message sent.
  const { c } = connectedPair();
  c.receive(encodeAck(ACK, 1), T0);
  assert.equal(c.linkClose, "abort");
  assert.match(String(c.linkError), /never sent/);
  const other = connectedPair().c;
  other.send(entry("a"), T0);
  take(other);
  other.receive(encodeAck(ACK, 2), T0);
  assert.equal(other.linkClose, "abort");
  assert.deepEqual(take(other).confirmed, []);
  // HELLO (server) and WELCOME (client) after a cut.
  const pair = connectedPair();
  pair.s.disconnected(T0 + 1, new Error("cut"));
  pair.s.connected(T0 + 2);
  pair.s.receive(encodeHandshake(HELLO, FLAG_RESUME, ID, 1), T0 + 2);
  assert.equal(pair.s.linkClose, "abort");
  assert.match(String(pair.s.linkError), /HELLO acks 1 but next is 1/);
  pair.c.disconnected(T0 + 1, new Error("cut"));
  pair.c.tick(pair.c.deadline);
  pair.c.dial = false;
  pair.c.connected(T0 + 2);
  take(pair.c);
  pair.c.receive(encodeHandshake(WELCOME, 0, ID, 1), T0 + 2);
  assert.equal(pair.c.linkClose, "abort");
  assert.match(String(pair.c.linkError), /WELCOME acks 1 but next is 1/);
});

test("SessionMachine: a second close() keeps the first one's deadline", () => {
  const { c } = connectedPair();
  c.send(entry("a"), T0);
  take(c);
  c.close(T0, 500);
  c.close(T0 + 100, 10_000);
  assert.equal(c.deadline, T0 + 500);
  c.tick(T0 + 500);
  assert.equal(c.state, "closed");
  const close = take(c).events.at(-1) as { type: string; error?: { code: string } };
  assert.equal(close.type, "close");
  assert.equal(close.error?.code, "CONNECTION_TIMEOUT");
});

test("SessionMachine: close times out with exactly one unconfirmed message: an error", () => {
  const { c } = connectedPair();
  c.send(entry("a"), T0);
  take(c);
  c.close(T0, 500);
  c.tick(T0 + 500);
  const out = take(c);
  assert.deepEqual(out.failed, [["a", "CONNECTION_CLOSED"]]);
  const close = out.events.at(-1) as { type: string; error?: { code: string; message: string } };
  assert.equal(close.error?.code, "CONNECTION_TIMEOUT");
  assert.match(close.error!.message, /1 message was not confirmed/);
});

test("SessionMachine: after its GOODBYE a side delivers nothing more, and the peer fails what crossed it", () => {
  const { c, s } = connectedPair();
  c.close(T0, 1000); // nothing unconfirmed: GOODBYE(0) at once
  const bye = take(c).writes;
  assert.deepEqual(types(bye), [GOODBYE]);
  s.send(entry("late"), T0); // crosses the GOODBYE on the wire
  for (const f of take(s).writes) c.receive(f, T0);
  c.flush(T0);
  assert.deepEqual(take(c).deliveries, [], "promised the peer to deliver nothing past ack 0");
  for (const f of bye) s.receive(f, T0);
  const sOut = take(s);
  assert.deepEqual(sOut.failed, [["late", "CONNECTION_CLOSED"]]);
  assert.equal(s.state, "closed");
});

test("SessionMachine: a side that said GOODBYE does not say it again on the peer's answer", () => {
  const { c, s } = connectedPair();
  c.close(T0, 1000);
  for (const f of take(c).writes) s.receive(f, T0);
  const answer = take(s).writes;
  assert.deepEqual(types(answer), [GOODBYE]);
  for (const f of answer) c.receive(f, T0);
  const out = take(c);
  assert.equal(c.state, "closed");
  assert.deepEqual(out.writes, [], "one GOODBYE each way");
});

test("SessionMachine: a client closing while disconnected stays closing once reconnected", () => {
  const { c, s } = connectedPair();
  c.send(entry("a"), T0); // lost with the connection: the close waits for it
  take(c);
  c.disconnected(T0, new Error("cut"));
  s.disconnected(T0, new Error("cut"));
  c.close(T0, 1000);
  for (const f of redial(c, s, T0 + 1)) s.receive(f, T0 + 1);
  for (const f of take(s).writes) c.receive(f, T0 + 1);
  const out = take(c);
  assert.deepEqual(out.events.map((e) => e.type), ["resumed"]);
  assert.equal(c.state, "closing", "not open again");
  assert.deepEqual(types(out.writes), [DATA], "a is replayed; no GOODBYE before it is confirmed");
});

test("SessionMachine: a server session whose client came back is not lost at the old resumeTimeout", () => {
  const { c, s } = connectedPair();
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  assert.equal(s.deadline, T0 + 1 + 30000);
  for (const f of redial(c, s, T0 + 2)) s.receive(f, T0 + 2);
  exchange(c, s, T0 + 2);
  take(c);
  take(s);
  // Heartbeats keep the connection alive well past the first resumeTimeout, checked exactly at
  // the old deadline too (on time: not a late check, which would renew it anyway).
  const times: number[] = [];
  for (let t = T0 + 1000; t <= T0 + 32_000; t += 1000) times.push(t);
  times.splice(times.indexOf(T0 + 30_000) + 1, 0, T0 + 1 + 30_000);
  for (const t of times) {
    c.tick(t);
    s.tick(t);
    exchange(c, s, t);
  }
  const out = take(s);
  assert.deepEqual(out.events, []);
  assert.equal(s.state, "open");
  assert.equal(s.linkClose, "none");
});

test("SessionMachine: a WELCOME that confirms messages shows the last connection worked: the schedule resets", () => {
  const { c, s } = connectedPair();
  c.send(entry("a"), T0);
  for (const f of take(c).writes) s.receive(f, T0); // s got it; its ack is lost with the connection
  take(s);
  // Dropped before the connection carried a frame to the client: counts as failed.
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  take(s);
  let now = T0 + 1;
  for (let i = 0; i < 2; i++) {
    c.tick(now);
    c.dial = false;
    c.dialFailed(now, new Error("refused"));
    now = c.deadline;
  }
  const failing = take(c).events as { attempt: number; delay: number }[];
  assert.deepEqual(failing.map((e) => [e.attempt, e.delay]), [[2, 0], [3, 100], [4, 200]]);
  for (const f of redial(c, s, now)) s.receive(f, now);
  for (const f of take(s).writes) c.receive(f, now);
  assert.deepEqual(take(c).confirmed, ["a"]);
  c.disconnected(now, new Error("cut again"));
  const [event] = take(c).events as { type: string; attempt: number; delay: number }[];
  assert.equal(event!.type, "reconnecting");
  assert.deepEqual([event!.attempt, event!.delay], [2, 0], "as after a first failure");
});

test("SessionMachine: a REJECT drops the connection with the code of its reason, and the client retries", () => {
  for (
    const [reason, code] of [["closing", "CONNECTION_CLOSED"], [
      "protocol",
      "PROTOCOL_ERROR",
    ]] as const
  ) {
    const c = helloSent();
    c.receive(SessionMachine.reject(reason, "no"), T0);
    assert.equal(c.linkClose, "abort", reason);
    assert.equal((c.linkError as { code: string }).code, code, reason);
    const [event] = take(c).events as { type: string; error: { code: string; message: string } }[];
    assert.equal(event!.type, "reconnecting");
    assert.equal(event!.error.code, code);
    assert.match(event!.error.message, /rejected the connection: no/);
    assert.equal(c.state, "connecting");
  }
});

test("SessionMachine: a REJECT's text reaches the error message on one line, and an empty one is said to be", () => {
  // Before: the server's text as it came: a newline in it started a line of its own in a log,
  // and an empty one left the message ending in ": ".
  for (
    const [text, shown] of [
      ["busy\n2026-12-07 ERROR forged", "busy\\n2026-12-07 ERROR forged"],
      ["a\u0000b\tc\u007f", "a\\u0000b\\tc\\u007f"],
      // C1 controls (NEL, CSI) and the line and paragraph separators: a line break to some log
      // viewers, or a terminal's escape. Before: left as they came.
      ["a\u0085b\u009bc\u2028d\u2029e", "a\\u0085b\\u009bc\\u2028d\\u2029e"],
      ["", "(no reason given)"],
    ]
  ) {
    const c = helloSent();
    c.receive(SessionMachine.reject("protocol", text), T0);
    const [event] = take(c).events as { error: { message: string } }[];
    assert.equal(
      event!.error.message,
      `Cannot connect as the server rejected the connection: ${shown}`,
    );
  }
  const c = helloSent();
  c.receive(SessionMachine.reject("version", "v9\r\n"), T0);
  const [closed] = take(c).events as ErrorEvent[];
  assert.equal(closed!.error?.message, "Cannot open session as the server rejected it: v9\\r\\n");
});

test("SessionMachine: the send buffer admits every waiting message in order across many partial acks", () => {
  // Room for 600 one-byte messages; 3000 wait their turn and are admitted 600 at a time.
  const { c, s } = connectedPair({ sendBufferSize: 600 * 65 }, { ackEvery: 1 << 20 });
  for (let i = 1; i <= 3000; i++) c.send(entry(String(i % 10)), T0);
  assert.equal(c.inFlight, 600);
  assert.equal(c.waiting, 2400);
  const seqs: number[] = [];
  let confirmed = 0;
  for (let round = 0; round < 10 && confirmed < 3000; round++) {
    const writes = take(c).writes;
    for (const f of writes) {
      seqs.push(readU64(f, 1));
      s.receive(f, T0);
    }
    s.flush(T0);
    s.tick(T0 + 5); // the ack of everything received
    for (const f of take(s).writes) c.receive(f, T0 + 5);
    confirmed += c.confirmed.length;
    c.confirmed = [];
  }
  assert.equal(confirmed, 3000);
  assert.deepEqual(seqs, Array.from({ length: 3000 }, (_, i) => i + 1));
  assert.equal(c.waiting, 0);
  assert.equal(c.inFlight, 0);
});

test("SessionMachine: after many confirmed messages, new ones are still written at once", () => {
  const { c } = connectedPair();
  for (let i = 0; i < 2000; i++) c.send(entry("m"), T0);
  assert.equal(take(c).writes.length, 2000);
  c.receive(encodeAck(ACK, 1500), T0);
  assert.equal(take(c).confirmed.length, 1500);
  c.send(entry("after"), T0);
  const writes = take(c).writes;
  assert.equal(writes.length, 1);
  assert.equal(readU64(writes[0]!, 1), 2001);
  c.receive(encodeAck(ACK, 2001), T0);
  assert.equal(take(c).confirmed.length, 501);
  assert.equal(c.inFlight, 0);
});

test("SessionMachine: an error that ends the session without GOODBYE aborts the connection", () => {
  const c = helloSent();
  const welcome = encodeHandshake(WELCOME, 0, ID, 0);
  welcome[1] = 9;
  c.receive(welcome, T0);
  assert.equal(c.state, "closed");
  assert.equal(c.linkClose, "abort");
});

test("SessionMachine: a handshake whose lastReceived is 2^53 or more is malformed", () => {
  const huge = (type: number): Uint8Array => {
    const frame = encodeHandshake(type, 0, ID, 0);
    frame.fill(0xff, 19);
    return frame;
  };
  refusesHandshakes(huge);
});

test("backoffDelay: a random source outside [0, 1) takes nothing off: the delay stays in [d/2, d]", () => {
  const b = { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts: Infinity };
  for (const r of [1, 1.5, -0.5, NaN, Infinity]) {
    assert.equal(backoffDelay(4, b, () => r), 400, String(r));
  }
});

test("SessionMachine: a client whose GOODBYE was cut off says it again on the next connection", () => {
  const { c, s } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0); // the connection worked
  c.close(T0, 1000);
  assert.deepEqual(types(take(c).writes), [GOODBYE]); // lost with the connection
  c.disconnected(T0 + 1, new Error("cut"));
  s.disconnected(T0 + 1, new Error("cut"));
  for (const f of redial(c, s, T0 + 1)) s.receive(f, T0 + 1);
  const moved = exchange(c, s, T0 + 1);
  assert.deepEqual(types(moved.c2s), [GOODBYE]);
  assert.equal(c.state, "closed");
  assert.equal(s.state, "closed");
});

sockets.check();

// ------------------------------------------------------------------------------------------------
// Behaviour that mutation testing found unpinned (each test kills mutants that survived the rest).

type ErrorEvent = {
  type: string;
  attempt?: number;
  delay?: number;
  error?: { code: string; message: string };
};

test("SessionMachine: an empty message is delivered; a DATA frame shorter than its 17-byte header is a protocol error", () => {
  const { c, s } = connectedPair();
  c.send(entry(""), T0);
  const [frame] = take(c).writes;
  assert.equal(frame!.length, 17);
  s.receive(frame!, T0);
  assert.deepEqual(take(s).deliveries, [""]);
  assert.equal(s.linkClose, "none");
  const s2 = connectedPair().s;
  s2.receive(frame!.slice(0, 16), T0);
  assert.equal(s2.linkClose, "abort");
  assert.match(String(s2.linkError), /DATA frame of 16 bytes/);
  assert.deepEqual(take(s2).deliveries, []);
});

test("SessionMachine: a protocol error names a frame of one byte as 1 byte, not 1 bytes", () => {
  // Before: "DATA frame of 1 bytes" and "unexpected frame type 200 (1 bytes)".
  for (
    const [type, words] of [[DATA, "DATA frame of 1 byte"], [
      200,
      "unexpected frame type 200 (1 byte)",
    ]] as const
  ) {
    const { s } = connectedPair();
    s.receive(new Uint8Array([type]), T0);
    assert.equal(s.linkClose, "abort");
    assert.ok(String(s.linkError).includes(words), String(s.linkError));
  }
});

test("SessionMachine: DATA with seq 0 is a protocol error, not a duplicate", () => {
  const { s } = connectedPair();
  const frame = newDataFrame(new Uint8Array([1]));
  setDataSeq(frame, 0);
  s.receive(frame, T0);
  assert.equal(s.linkClose, "abort");
  assert.match(String(s.linkError), /DATA seq 0 after 0/);
  assert.equal(s.duplicatesDropped, 0);
});

test("SessionMachine: with ackDelay 0 a batch with messages is acked at once, a batch without none", () => {
  const { c, s } = connectedPair({}, { ackDelay: 0 });
  c.send(entry("a"), T0);
  for (const f of take(c).writes) s.receive(f, T0);
  s.flush(T0);
  const out = take(s);
  assert.deepEqual(types(out.writes), [ACK]);
  assert.equal(readU64(out.writes[0]!, 1), 1);
  // An ACK alone is not answered: two sides with ackDelay 0 would bounce ACKs forever.
  s.receive(encodeAck(ACK, 0), T0 + 1);
  s.flush(T0 + 1);
  assert.deepEqual(take(s).writes, []);
  // ackDelay 1 is a delay, however short.
  const pair = connectedPair({}, { ackDelay: 1 });
  pair.c.send(entry("a"), T0);
  for (const f of take(pair.c).writes) pair.s.receive(f, T0);
  pair.s.flush(T0);
  assert.deepEqual(take(pair.s).writes, []);
  assert.equal(pair.s.deadline, T0 + 1);
});

test("SessionMachine: ackBytes counts payload bytes only, afresh after each ack", () => {
  const { c, s } = connectedPair({}, { ackBytes: 10 });
  const deliver = (text: string): number[] => {
    c.send(entry(text), T0);
    for (const f of take(c).writes) s.receive(f, T0);
    s.flush(T0);
    return types(take(s).writes);
  };
  assert.deepEqual(deliver("123456789"), [], "9 bytes");
  assert.deepEqual(deliver("0"), [ACK], "10 bytes");
  assert.deepEqual(deliver("123456789"), [], "9 bytes since the ack");
});

test("SessionMachine: a client takes REJECT for the version as final; a REJECT of any length is a REJECT", () => {
  let c = helloSent();
  c.receive(SessionMachine.reject("version", "version 9 only"), T0);
  assert.equal(c.state, "closed");
  const out = take(c);
  assert.deepEqual(out.events.map((e) => e.type), ["close"]);
  assert.equal((out.events[0] as ErrorEvent).error?.code, "PROTOCOL_ERROR");
  assert.equal(c.deadline, Infinity, "no retry");
  // No text (2 bytes), and 9 bytes (as long as a GOODBYE): still a REJECT.
  for (const text of ["", "1234567"]) {
    c = helloSent();
    c.receive(SessionMachine.reject("closing", text), T0);
    const [event] = take(c).events as ErrorEvent[];
    assert.equal(event!.type, "reconnecting", `${text.length + 2} bytes`);
    assert.equal(event!.error?.code, "CONNECTION_CLOSED");
    assert.match(event!.error!.message, /rejected the connection/);
    assert.equal(c.state, "connecting");
  }
});

test("SessionMachine: a connection whose first frame after the handshake breaks the protocol did not work: the client backs off, and maxAttempts counts it", () => {
  // A server whose maxMessageSize is larger than the client's (within the framing's 1 KiB
  // floor): its replay breaks the protocol on every connection, right after the WELCOME. Before,
  // the frame counted as the connection working (#healthy was set before the frame was looked
  // at): every retry was immediate, "attempt 1", for ever, whatever maxAttempts said.
  const { c, s } = connectedPair({
    maxMessageSize: 100,
    backoff: { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts: 4 },
  });
  s.send(entry("x".repeat(500)), T0);
  let now = T0;
  const seen: [string, number, number][] = [];
  for (let round = 0; round < 10; round++) {
    // The first round on the connected pair, then each on a new connection: WELCOME, replay.
    if (round === 0) { for (const f of take(s).writes) c.receive(f, now); }
    else now = handshakeAt(c, s);
    c.flush(now);
    for (const e of take(c).events) {
      if (e.type === "reconnecting") seen.push([e.type, e.attempt, e.delay]);
      else if (e.type === "close") seen.push([e.type, 0, 0]);
    }
    if (c.state === "closed") break;
    s.disconnected(now, new Error("dropped by the client"));
    take(s);
  }
  assert.deepEqual(seen, [
    ["reconnecting", 2, 0],
    ["reconnecting", 3, 100],
    ["reconnecting", 4, 200],
    ["close", 0, 0],
  ]);
});

test("SessionMachine: before the handshake, a client takes only WELCOME, GOODBYE or REJECT, a server only HELLO", () => {
  const c = helloSent();
  const data = newDataFrame(new Uint8Array([1]));
  setDataSeq(data, 1);
  c.receive(data, T0);
  assert.equal(c.linkClose, "abort");
  assert.equal(
    (c.linkError as Error).message,
    "Cannot open session as the peer is not a framewire reliable server: it answered the HELLO " +
      "with a frame of 18 bytes (01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 …), not a " +
      "WELCOME, GOODBYE or REJECT",
  );
  assert.deepEqual(take(c).deliveries, []);
  // A frame laid out like a HELLO, but a WELCOME.
  const s = new SessionMachine(options("server"), T0);
  s.connected(T0);
  s.receive(encodeHandshake(WELCOME, 0, ID, 0), T0);
  assert.equal(s.linkClose, "abort");
  assert.match(String(s.linkError), /expected HELLO, received frame type 4/);
  assert.deepEqual(types(take(s).writes), []);
  // A HELLO in answer: an echo if it carries this client's id, else a frame like any other.
  const echoed = helloSent();
  echoed.receive(encodeHandshake(HELLO, 0, ID, 0), T0);
  assert.match(String(echoed.linkError), /it sent this client's HELLO back \(an echo server\?\)$/);
  const other = helloSent();
  other.receive(encodeHandshake(HELLO, 0, new Uint8Array(16).fill(3), 0), T0);
  assert.match(
    String(other.linkError),
    /it answered the HELLO with a frame of 27 bytes \(03 01 00 03 /,
  );
});

test("SessionMachine: giving up after reconnect.maxAttempts says what the last attempt could not do", () => {
  const refused = new ConnectionError("Cannot connect to 127.0.0.1:1 as it refused", {
    code: "CONNECTION_REFUSED",
  });
  for (
    const [maxAttempts, said] of [[1, "the attempt failed"], [
      2,
      "2 attempts in a row failed",
    ]] as const
  ) {
    const c = new SessionMachine(
      options("client", {
        backoff: { base: 100, factor: 2, cap: 1000, jitter: 0.5, maxAttempts },
      }),
      T0,
    );
    for (let i = 0; i < maxAttempts; i++) {
      const now = c.deadline;
      c.tick(now);
      c.dial = false;
      c.dialFailed(now, refused);
    }
    const close = take(c).events.find((e) => e.type === "close");
    assert.ok(close?.type === "close");
    assert.equal(
      close.error?.message,
      `Cannot connect as ${said} (reconnect.maxAttempts: ${maxAttempts}): ${
        maxAttempts === 1 ? "it" : "the last"
      } could not connect to 127.0.0.1:1 as it refused`,
    );
    assert.equal((close.error as ConnectionError).code, "CONNECTION_REFUSED");
    assert.equal(close.error?.cause, refused);
  }
});

test("SessionMachine: frames and disconnects are ignored while no connection is up", () => {
  const { c } = connectedPair();
  c.disconnected(T0 + 1, new Error("cut"));
  take(c);
  c.disconnected(T0 + 1, new Error("again"));
  c.receive(encodeAck(ACK, 0), T0 + 1);
  assert.deepEqual(take(c).events, []);
  c.tick(c.deadline);
  assert.equal(c.link, "dialing");
  c.disconnected(T0 + 2, new Error("an old connection"));
  c.receive(encodeHandshake(WELCOME, 0, ID, 0), T0 + 2);
  assert.deepEqual(take(c).events, []);
  assert.equal(c.link, "dialing");
  assert.equal(c.linkClose, "none");
  // A dial failure while connected, or after the session closed, schedules nothing.
  const up = connectedPair().c;
  up.dialFailed(T0 + 1, new Error("stale"));
  assert.deepEqual(take(up).events, []);
  assert.equal(up.link, "up");
  const never = new SessionMachine(options("client"), T0);
  never.tick(T0);
  assert.equal(never.link, "dialing");
  never.close(T0 + 3, 1000); // never got through, nothing in flight: closes at once
  assert.equal(never.state, "closed");
  take(never);
  never.dialFailed(T0 + 4, new Error("refused"));
  assert.deepEqual(take(never).events, []);
  assert.equal(never.deadline, Infinity);
});

test("SessionMachine: close with timeout 0 ends at once, and a later close() shortens the wait", () => {
  for (const second of [0, 2000]) {
    const { c } = connectedPair();
    c.send(entry("a"), T0);
    take(c);
    c.close(T0, 10_000);
    c.close(T0 + 100, second);
    if (second > 0) {
      c.tick(T0 + 2099);
      assert.equal(c.state, "closing");
      c.tick(T0 + 2100);
    }
    // timeout 0: closed within the call, with no tick.
    assert.equal(c.state, "closed", `second close(${second})`);
    const close = take(c).events.at(-1) as ErrorEvent;
    assert.equal(close.error?.code, "CONNECTION_TIMEOUT");
  }
  const { c } = connectedPair();
  c.send(entry("a"), T0);
  take(c);
  c.close(T0, 0);
  assert.equal(c.state, "closed", "first close(0)");
});

test("SessionMachine: a close that times out counts messages in flight and waiting alike", () => {
  const { c } = connectedPair({ sendBufferSize: 70 });
  c.send(entry("a"), T0);
  c.send(entry("b"), T0);
  assert.equal(c.inFlight, 1);
  assert.equal(c.waiting, 1);
  take(c);
  c.close(T0, 500);
  c.tick(T0 + 500);
  const out = take(c);
  assert.deepEqual(out.failed, [["a", "CONNECTION_CLOSED"], ["b", "CONNECTION_CLOSED"]]);
  const close = out.events.at(-1) as ErrorEvent & { unconfirmed: Entry[] };
  assert.deepEqual(close.unconfirmed.map((e) => e.token), ["a", "b"]);
  assert.equal(close.error?.code, "CONNECTION_TIMEOUT");
  assert.match(close.error!.message, /2 messages were not confirmed/);
});

test("SessionMachine: inFlight and bufferedBytes count what is still unconfirmed", () => {
  const { c } = connectedPair();
  for (const word of ["a", "bb", "ccc"]) c.send(entry(word), T0);
  take(c);
  assert.equal(c.inFlight, 3);
  assert.equal(c.bufferedBytes, 6);
  c.receive(encodeAck(ACK, 2), T0);
  assert.deepEqual(take(c).confirmed, ["a", "bb"]);
  assert.equal(c.inFlight, 1);
  assert.equal(c.bufferedBytes, 3);
  c.close(T0, 0);
  assert.deepEqual(take(c).failed, [["ccc", "CONNECTION_CLOSED"]]);
  assert.equal(c.inFlight, 0);
  assert.equal(c.bufferedBytes, 0);
});

test("SessionMachine: after the session was lost, the fresh session sends and confirms from seq 1", () => {
  // Room for two messages: a and b go out, c and d wait; ack 1 admits c, d still waits.
  const { c } = connectedPair({ sendBufferSize: 140 });
  for (const word of ["a", "b", "c", "d"]) c.send(entry(word), T0);
  c.receive(encodeAck(ACK, 1), T0);
  assert.deepEqual(take(c).confirmed, ["a"]);
  assert.equal(c.inFlight, 2);
  assert.equal(c.waiting, 1);
  c.disconnected(T0 + 7, new Error("the server restarts"));
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 8);
  for (const f of redial(c, fresh, T0 + 8)) fresh.receive(f, T0 + 8);
  for (const f of take(fresh).writes) c.receive(f, T0 + 8);
  assert.deepEqual(take(c).failed, [["b", "SESSION_LOST"], ["c", "SESSION_LOST"], [
    "d",
    "SESSION_LOST",
  ]]);
  assert.equal(c.inFlight, 0);
  assert.equal(c.waiting, 0);
  assert.equal(c.bufferedBytes, 0);
  // The whole send buffer is free again: two messages go out at once.
  c.send(entry("x"), T0 + 9);
  c.send(entry("y"), T0 + 9);
  const writes = take(c).writes;
  assert.deepEqual(writes.map((f) => readU64(f, 1)), [1, 2]);
  for (const f of writes) fresh.receive(f, T0 + 9);
  fresh.flush(T0 + 9);
  assert.deepEqual(take(fresh).deliveries, ["x", "y"]);
  // Acks count in the new numbering from 1: an ack of 1 confirms x.
  c.receive(encodeAck(ACK, 1), T0 + 10);
  assert.deepEqual(take(c).confirmed, ["x"]);
  fresh.tick(T0 + 14); // ackDelay
  for (const f of take(fresh).writes) c.receive(f, T0 + 14);
  assert.deepEqual(take(c).confirmed, ["y"]);
  assert.equal(c.inFlight, 0);
  assert.equal(c.bufferedBytes, 0);
});

test("SessionMachine: once the client showed it has the new id, a HELLO with its old id is a protocol error", () => {
  const { c, s } = connectedPair();
  s.send(entry("old-1"), T0);
  exchange(c, s, T0);
  c.disconnected(T0 + 1, new Error("the server restarts"));
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 2);
  for (const f of redial(c, fresh, T0 + 2)) fresh.receive(f, T0 + 2);
  assert.equal(fresh.expectsFormerId, true);
  for (const f of take(fresh).writes) c.receive(f, T0 + 2);
  // The client's first frame after the WELCOME(LOST): it has the new id.
  c.send(entry("reply"), T0 + 2);
  for (const f of take(c).writes) fresh.receive(f, T0 + 2);
  assert.equal(fresh.expectsFormerId, false);
  fresh.disconnected(T0 + 3, new Error("cut"));
  fresh.connected(T0 + 4);
  take(fresh);
  fresh.receive(encodeHandshake(HELLO, FLAG_RESUME, ID, 0), T0 + 4);
  assert.equal(fresh.linkClose, "abort");
  assert.match(String(fresh.linkError), /another session id/);
});

test("SessionMachine: a handshake's deadPeerTimeout counts from its connection, not from the last one's frames", () => {
  const { c } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0 + 10);
  c.disconnected(T0 + 20, new Error("cut"));
  c.tick(c.deadline);
  c.dial = false;
  c.connected(T0 + 60_000); // a dial that took long
  take(c);
  c.tick(T0 + 60_001);
  assert.equal(c.linkClose, "none");
  assert.equal(c.deadline, T0 + 64_000);
});

test("SessionMachine: after a working connection, one that drops right after its handshake counts as failed", () => {
  const { c, s } = connectedPair();
  c.receive(encodeAck(ACK, 0), T0 + 1); // this one worked
  c.disconnected(T0 + 2, new Error("cut"));
  s.disconnected(T0 + 2, new Error("cut"));
  assert.deepEqual((take(c).events as ErrorEvent[]).map((e) => e.attempt), [1]);
  const attempts: number[] = [];
  for (let i = 0; i < 2; i++) {
    const now = c.deadline;
    for (const f of redial(c, s, now)) s.receive(f, now);
    for (const f of take(s).writes) c.receive(f, now);
    take(c);
    c.disconnected(now, new Error("dropped after WELCOME"));
    s.disconnected(now, new Error("dropped after WELCOME"));
    take(s);
    const [event] = take(c).events as ErrorEvent[];
    attempts.push(event!.attempt!);
    assert.equal(c.deadline, now + event!.delay!);
  }
  assert.deepEqual(attempts, [2, 3]);
});

test("SessionMachine: with heartbeats off, the deadline still includes the dead-peer timeout (unless reading is paused)", () => {
  const { c } = connectedPair({ heartbeatInterval: Infinity });
  c.receive(encodeAck(ACK, 0), T0 + 10);
  assert.equal(c.deadline, T0 + 4010);
  c.resumeReading(T0 + 3000); // not paused: no effect
  assert.equal(c.deadline, T0 + 4010);
  c.pauseReading();
  assert.equal(c.deadline, Infinity);
  c.resumeReading(T0 + 5000);
  assert.equal(c.deadline, T0 + 9000);
  c.tick(T0 + 9000);
  assert.equal((c.linkError as { code: string }).code, "CONNECTION_TIMEOUT");
});

test("SessionMachine: a tick with nothing due writes nothing", () => {
  const { c } = connectedPair();
  c.tick(T0 + 1);
  c.tick(T0 + 999);
  assert.deepEqual(take(c).writes, []);
});

test("SessionMachine: a server session whose client left says so once (attempt 0), and refuses sends once lost", () => {
  const { s } = connectedPair();
  s.disconnected(T0 + 1, new Error("reset"));
  const [event] = take(s).events as ErrorEvent[];
  assert.deepEqual({ ...event, error: undefined }, {
    type: "reconnecting",
    attempt: 0,
    delay: 30000,
    error: undefined,
  });
  s.tick(T0 + 30001);
  assert.equal(s.state, "closed");
  assert.throws(() => s.send(entry("late"), T0 + 30002), TypeError);
});

test("SessionMachine: the ACK forced by a duplicate goes out once", () => {
  const { c, s } = connectedPair();
  c.send(entry("a"), T0);
  const [frame] = take(c).writes;
  s.receive(frame!, T0);
  s.receive(frame!, T0);
  s.flush(T0);
  assert.deepEqual(types(take(s).writes), [ACK]);
  s.receive(encodeAck(ACK, 0), T0 + 1);
  s.flush(T0 + 1);
  assert.deepEqual(take(s).writes, []);
});

test("SessionMachine: WELCOME(LOST) while closing with one message in doubt and one unsent: an unclean close", () => {
  const { c } = connectedPair({ sendBufferSize: 70 });
  c.send(entry("in doubt"), T0);
  c.send(entry("unsent"), T0);
  take(c);
  c.disconnected(T0, new Error("cut"));
  take(c);
  c.close(T0, 1000);
  c.tick(T0);
  c.dial = false;
  c.connected(T0);
  take(c);
  c.receive(encodeHandshake(WELCOME, FLAG_LOST, NEW_ID, 0), T0);
  const out = take(c);
  assert.deepEqual(out.events.map((e) => e.type), ["sessionlost", "close"]);
  const close = out.events.at(-1) as ErrorEvent;
  assert.equal(close.error?.code, "SESSION_LOST");
  assert.match(close.error!.message, /2 messages sent before close\(\) were not confirmed/);
});

test("SessionMachine: a message sent after the last waiting one was withdrawn goes out at once", () => {
  // Room for two messages: a and b go out, c and d wait; ack 1 admits c, d still waits.
  const { c } = connectedPair({ sendBufferSize: 140 });
  const d = entry("d");
  for (const e of [entry("a"), entry("b"), entry("c"), d]) c.send(e, T0);
  c.receive(encodeAck(ACK, 1), T0);
  assert.equal(c.waiting, 1);
  assert.equal(c.withdraw(d), true); // its send was aborted
  c.admitWaiting(T0);
  c.receive(encodeAck(ACK, 3), T0); // nothing in flight any more: no ack will come
  take(c);
  c.send(entry("e"), T0 + 1);
  const { writes } = take(c);
  assert.deepEqual(writes.map((f) => readU64(f, 1)), [4]);
  assert.equal(c.waiting, 0);
});

test("SessionMachine: a client whose close() times out in a reconnect handshake sends GOODBYE behind its HELLO, which ends the server's session at once", () => {
  const { c, s } = connectedPair();
  c.send(entry("never confirmed"), T0);
  s.send(entry("never read"), T0);
  take(c);
  take(s);
  c.disconnected(T0, new Error("cut"));
  s.disconnected(T0, new Error("cut"));
  take(c);
  take(s);
  c.close(T0, 1000);
  const hello = redial(c, s, T0 + 1);
  assert.deepEqual(types(hello), [HELLO]);
  c.tick(T0 + 1000); // the close timeout, the WELCOME not in yet
  assert.equal(c.state, "closed");
  // The GOODBYE goes out, and the connection ends within a second (close() has timed out).
  assert.equal(c.linkClose, "brief");
  const out = take(c);
  assert.deepEqual(types(out.writes), [GOODBYE]);
  const closed = out.events.find((e) => e.type === "close") as { error?: { code?: string } };
  assert.equal(closed.error?.code, "CONNECTION_TIMEOUT");
  // The server gets the HELLO (sent before) and the GOODBYE: the session ends now, not after
  // resumeTimeout, and its unconfirmed message fails as closed, not as lost.
  for (const f of [...hello, ...out.writes]) s.receive(f, T0 + 1);
  const answer = take(s);
  assert.equal(s.state, "closed");
  assert.equal(s.deadline, Infinity, "no resumeTimeout left running");
  assert.deepEqual(
    answer.events.map((e) => e.type).filter((t) => t === "close" || t === "sessionlost"),
    ["close"],
  );
  assert.deepEqual(answer.failed, [["never read", "CONNECTION_CLOSED"]]);
  assert.deepEqual(out.failed, [["never confirmed", "CONNECTION_CLOSED"]]);
});

test("SessionMachine: a client whose close() times out in a reconnect handshake to a server that lost the session ends the fresh server session at once, with no protocol error", () => {
  const { c, s } = connectedPair();
  s.send(entry("old-1"), T0);
  exchange(c, s, T0);
  assert.equal(c.lastReceived, 1);
  c.disconnected(T0 + 1, new Error("the server restarts"));
  take(c);
  // The restarted server makes a fresh session (under a new id) of the client's RESUME.
  const fresh = new SessionMachine(options("server", { id: NEW_ID }), T0 + 2);
  const hello = redial(c, fresh, T0 + 2);
  assert.equal(decodeHandshake(hello[0]!)!.flags, FLAG_RESUME, "close() comes after the HELLO");
  c.close(T0 + 2, 1000);
  c.tick(T0 + 1002); // the close timeout, the WELCOME(LOST) not in yet
  assert.equal(c.state, "closed");
  const out = take(c);
  assert.deepEqual(types(out.writes), [GOODBYE]);
  for (const f of [...hello, ...out.writes]) fresh.receive(f, T0 + 2);
  const answer = take(fresh);
  assert.equal(fresh.linkError, undefined, "the GOODBYE is no protocol error");
  assert.equal(fresh.state, "closed", "the fresh session ends now, not after resumeTimeout");
  assert.equal(fresh.deadline, Infinity);
  const close = answer.events.find((e) => e.type === "close") as { error?: unknown };
  assert.equal(close.error, undefined);
});

test("SessionMachine: a session never fully confirmed does not grow its send buffer or waiting queue", () => {
  // Three messages fit (100 each); three more wait. Every ack confirms all but the last message
  // sent, which admits two waiting ones, and two more are sent: the slots taken at the heads of
  // both queues must be given back, not kept for the life of the session.
  const { c } = connectedPair({ sendBufferSize: 300 });
  const big = (n: number): Entry => entry(String(n % 10).repeat(36));
  let sent = 0;
  for (let i = 0; i < 6; i++) c.send(big(sent++), T0);
  for (let round = 0; round < 5000; round++) {
    c.receive(encodeAck(ACK, c.nextSeq - 2), T0);
    for (let i = 0; i < 2; i++) c.send(big(sent++), T0);
    take(c);
    assert.equal(c.inFlight, 3);
    assert.equal(c.waiting, 3);
  }
  assert.ok(c.slotsHeld <= 2 * 1024 + 64, `slots held: ${c.slotsHeld}`);
});

test("SessionMachine: a server's resumeTimeout held while the server reads connections' first frames ends at the release, unless the client came back", () => {
  // The driver holds it while the server reads HELLOs (see Session's #holdExpiry).
  const { s } = cutPair();
  assert.equal(s.holdExpiry(T0 + 30_000), false, "not due yet");
  assert.equal(s.holdExpiry(T0 + 30_001 + LATE_TIMER_MS), false, "late: tick() renews instead");
  assert.equal(s.holdExpiry(T0 + 30_001), true);
  assert.equal(s.deadline, Infinity, "no verdict while held");
  s.tick(T0 + 40_000);
  assert.deepEqual(take(s).events, []);
  s.releaseExpiry(T0 + 40_000);
  assert.deepEqual(take(s).events.map((e) => e.type), ["sessionlost", "close"]);
  // One of the connections read was the client's: the release changes nothing.
  const pair = cutPair();
  assert.equal(pair.s.holdExpiry(T0 + 30_010), true);
  for (const f of redial(pair.c, pair.s, T0 + 30_020)) pair.s.receive(f, T0 + 30_020);
  exchange(pair.c, pair.s, T0 + 30_020);
  assert.deepEqual(take(pair.s).events.map((e) => e.type), ["resumed"]);
  pair.s.releaseExpiry(T0 + 30_030);
  assert.deepEqual(take(pair.s).events, []);
  assert.equal(pair.s.state, "open");
  assert.equal(pair.c.holdExpiry(T0 + 30_030), false, "a client holds nothing");
});
