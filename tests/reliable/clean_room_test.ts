// Copyright 2026 the framewire authors. MIT license.
// reliableServer and reliableClient against a peer written from docs/protocol.md alone
// (_clean_room_peer.ts), over real loopback sockets: every promise the document makes that a
// third-party peer can see on the wire. The peer sends exactly the frames a test asks for.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient, reliableServer } from "../../mod.ts";
import type {
  ReliableClientOptions,
  ReliableServer,
  ReliableServerOptions,
  ReliableSession,
} from "../../mod.ts";
import { ConnectionError } from "../../src/errors.ts";
import type { Conn, Listener } from "../../src/connection/types.ts";
import { adapter, portOf } from "../_util/runtime.ts";
import { FakeClock } from "../_util/fake_clock.ts";
import { watchSockets } from "../_util/leaks.ts";
import {
  CLOSING,
  type Frame,
  frame,
  LOST,
  Peer,
  randomId,
  RESUME,
  withLength,
} from "./_clean_room_peer.ts";

const sockets = watchSockets();
const { connect, listen } = await adapter();
const NET = { timeout: 30_000 };
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** How a promise settles: "resolved", or the rejection's code (its message if it has none). */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "resolved",
    (error) => error instanceof ConnectionError ? error.code : String(error),
  );
}

function codeOf(error: unknown): string | undefined {
  return error instanceof ConnectionError ? error.code : undefined;
}

/** The next event of `type` on `target`, as its `detail`. */
function once<T = unknown>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) =>
    target.addEventListener(type, (event) => resolve((event as CustomEvent<T>).detail), {
      once: true,
    })
  );
}

interface ServerSide {
  server: ReliableServer;
  /** The next session the server hands over. */
  nextSession(): Promise<ReliableSession>;
  /** A clean-room client connection. */
  dial(): Promise<Peer>;
}

/** Runs `fn` against a reliableServer on a loopback port, and cleans up after it. */
async function withServer(
  options: ReliableServerOptions,
  fn: (side: ServerSide) => Promise<void>,
): Promise<void> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const server = reliableServer(listener, options);
  const sessions = server[Symbol.asyncIterator]();
  const peers: Peer[] = [];
  try {
    await fn({
      server,
      async nextSession() {
        const next = await sessions.next();
        assert.equal(next.done, false);
        return next.value!;
      },
      async dial() {
        const peer = new Peer(await connect({ hostname: "127.0.0.1", port: portOf(listener) }));
        peers.push(peer);
        return peer;
      },
    });
  } finally {
    for (const peer of peers) await peer.close();
    await server.close({ timeout: 0 });
    listener.close();
  }
}

/** A new session: HELLO, WELCOME, and the server's session object. */
async function handshake(
  side: ServerSide,
  id = randomId(),
): Promise<[Peer, ReliableSession, string]> {
  const peer = await side.dial();
  await peer.send(frame.hello(id));
  const welcome = await peer.expect("WELCOME");
  assert.equal(welcome.id, id);
  return [peer, await side.nextSession(), id];
}

/**
 * A HELLO to resume a session the server does not know (a new random id, RESUME): it answers
 * WELCOME(LOST) with a new id. The connection, the old id and the new one.
 */
async function resumeUnknown(side: ServerSide): Promise<[Peer, string, string]> {
  const old = randomId();
  const peer = await side.dial();
  await peer.send(frame.hello(old, { flags: RESUME }));
  const lost = await peer.expect("WELCOME");
  assert.equal(lost.flags, LOST);
  assert.notEqual(lost.id, old);
  return [peer, old, lost.id];
}

/**
 * A new session whose message "x" went out unconfirmed on a connection that then dropped (the
 * server has noticed): the session, its id, and `send("x")`'s outcome.
 */
async function droppedWithX(
  side: ServerSide,
): Promise<{ session: ReliableSession; id: string; x: Promise<string> }> {
  const [a, session, id] = await handshake(side);
  const x = outcome(session.send("x"));
  await a.expectPastAcks("DATA");
  const reconnecting = once(session, "reconnecting");
  await a.close();
  await reconnecting;
  return { session, id, x };
}

/**
 * `session` sends a message and closes; the peer's GOODBYE confirms nothing: the message and the
 * `close()` waiting for it reject with CONNECTION_CLOSED, and the session answers GOODBYE.
 */
async function goodbyeWhileClosing(peer: Peer, session: ReliableSession): Promise<void> {
  const x = outcome(session.send("x"));
  await peer.expectPastAcks("DATA");
  const closing = outcome(session.close());
  await peer.send(frame.goodbye(0));
  const answer = (await peer.rest()).filter((f) => f.type !== "ACK");
  assert.deepEqual(answer.map((f) => f.type), ["GOODBYE"]);
  assert.equal(await x, "CONNECTION_CLOSED");
  assert.equal(await closing, "CONNECTION_CLOSED");
}

// ---------------------------------------------------------------------------------------------
// framewire's server, a clean-room client

/** A HELLO's or WELCOME's fields, to compare in one go. */
function fieldsOf(
  f: Extract<Frame, { type: "HELLO" | "WELCOME" }>,
): { version: number; flags: number; id: string; lastReceived: number } {
  return { version: f.version, flags: f.flags, id: f.id, lastReceived: f.lastReceived };
}

test(
  "clean room: a HELLO for a new session gets WELCOME version 1, no flags, the same id, lastReceived 0, with CLOSING too (a client that closed before it first got through)",
  NET,
  async () => {
    await withServer({}, async (side) => {
      // CLOSING without RESUME: the client has messages to deliver, which the new session takes.
      for (const flags of [0, CLOSING]) {
        const peer = await side.dial();
        const id = randomId();
        await peer.send(frame.hello(id, { flags }));
        const welcome = await peer.expect("WELCOME");
        assert.equal(welcome.raw.length, 27);
        assert.deepEqual(fieldsOf(welcome), { version: 1, flags: 0, id, lastReceived: 0 });
        const session = await side.nextSession();
        assert.equal(session.id, id);
        assert.equal(session.state, "open");
        await peer.send(frame.data(1, 0, "x"));
        assert.equal(dec((await session[Symbol.asyncIterator]().next()).value!), "x");
      }
    });
  },
);

test(
  "clean room: the server numbers its DATA from 1, piggybacks its lastReceived, and an ACK resolves its sends",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session] = await handshake(side);
      await peer.send(frame.data(1, 0, "a"), frame.data(2, 0, "b"));
      const it = session[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "a");
      assert.equal(dec((await it.next()).value!), "b");
      const x = outcome(session.send("x"));
      const y = outcome(session.send("y"));
      // A standalone ACK(2) may come first (ackDelay), or not: the DATA carries it anyway.
      let got = await peer.next();
      if (got.type === "ACK") {
        assert.equal(got.ack, 2);
        got = await peer.next();
      }
      assert.equal(got.type, "DATA");
      const first = got as Extract<Frame, { type: "DATA" }>;
      assert.deepEqual([first.seq, first.ack, dec(first.payload)], [1, 2, "x"]);
      const second = await peer.expect("DATA");
      assert.deepEqual([second.seq, second.ack, dec(second.payload)], [2, 2, "y"]);
      assert.equal(session.stats.inFlight, 2);
      await peer.send(frame.ack(2));
      assert.equal(await x, "resolved");
      assert.equal(await y, "resolved");
      assert.equal(session.stats.inFlight, 0);
    });
  },
);

test(
  "clean room: the server's standalone ACK goes out at ackEvery messages, at ackBytes bytes, and at once for a duplicate",
  NET,
  async () => {
    // ackDelay Infinity and a long heartbeat: an ACK can only come from the three triggers.
    await withServer(
      { ackDelay: Infinity, heartbeatInterval: 1e6, deadPeerTimeout: 2e6 },
      async (side) => {
        const [peer] = await handshake(side);
        const burst = Array.from({ length: 31 }, (_, i) => frame.data(i + 1, 0, `m${i + 1}`));
        await peer.send(...burst);
        // However TCP splits it, 31 messages never reach ackEvery (32); the 32nd does.
        await peer.send(frame.data(32, 0, "m32"));
        assert.equal((await peer.expect("ACK")).ack, 32);
        // ackBytes (64 KiB) in one message.
        await peer.send(frame.data(33, 0, new Uint8Array(65536)));
        assert.equal((await peer.expect("ACK")).ack, 33);
        // A duplicate: answered at once, with the current ack.
        await peer.send(frame.data(34, 0, "n"));
        await peer.send(frame.data(34, 0, "n"));
        assert.equal((await peer.expect("ACK")).ack, 34);
      },
    );
  },
);

test(
  "clean room: a lone message is acked after ackDelay, unless a DATA carries the ack first",
  NET,
  async () => {
    const clock = new FakeClock();
    await withServer({ clock, ackDelay: 5 }, async (side) => {
      const [peer, session] = await handshake(side);
      const it = session[Symbol.asyncIterator]();
      await peer.send(frame.data(1, 0, "a"));
      assert.equal(dec((await it.next()).value!), "a");
      clock.advance(5);
      assert.equal((await peer.expect("ACK")).ack, 1);
      await peer.send(frame.data(2, 0, "b"));
      assert.equal(dec((await it.next()).value!), "b");
      clock.advance(4);
      const sent = outcome(session.send("x"));
      const data = await peer.expect("DATA");
      assert.deepEqual([data.seq, data.ack], [1, 2]);
      // The ack went out with the DATA: no ACK follows when ackDelay runs out, only the peer's
      // confirmation is awaited. The next frame is the server's answer to our duplicate.
      clock.advance(10);
      await peer.send(frame.ack(1), frame.data(2, 0, "b"));
      assert.equal(await sent, "resolved");
      assert.equal((await peer.expect("ACK")).ack, 2);
      assert.equal(session.stats.duplicatesDropped, 1);
    });
  },
);

test(
  "clean room: an idle server sends an ACK as heartbeat every heartbeatInterval, and drops a silent peer after deadPeerTimeout",
  NET,
  async () => {
    const clock = new FakeClock();
    await withServer({ clock, heartbeatInterval: 100, deadPeerTimeout: 1000 }, async (side) => {
      const [peer, session] = await handshake(side);
      await peer.send(frame.data(1, 0, "a"));
      const it = session[Symbol.asyncIterator]();
      await it.next();
      clock.advance(100);
      assert.equal((await peer.expect("ACK")).ack, 1);
      const reconnecting = once<{ error: unknown }>(session, "reconnecting");
      for (let t = 0; t < 1000; t += 100) clock.advance(100);
      assert.equal(codeOf((await reconnecting).error), "CONNECTION_TIMEOUT");
      const rest = await peer.rest();
      assert.ok(rest.every((f) => f.type === "ACK"), peer.describe());
    });
  },
);

test(
  "clean room: a client that resumes gets the server's lastReceived, the server replays what it did not confirm with the same seq, and drops duplicates",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session, id] = await handshake(side);
      await peer.send(frame.data(1, 0, "a"), frame.data(2, 0, "b"));
      const it = session[Symbol.asyncIterator]();
      await it.next();
      await it.next();
      const sends = ["x", "y", "z"].map((s) => outcome(session.send(s)));
      for (let seq = 1; seq <= 3; seq++) {
        assert.equal((await peer.expectPastAcks("DATA")).seq, seq);
      }
      // z went out with ack 2; after c, the server's ack is 3.
      await peer.send(frame.data(3, 0, "c"));
      assert.equal(dec((await it.next()).value!), "c");
      const reconnecting = once(session, "reconnecting");
      await peer.close();
      await reconnecting;
      // This client got x and y, and lost the ack of b and c on the way: it resends them.
      const again = await side.dial();
      await again.send(frame.hello(id, { flags: RESUME, lastReceived: 2 }));
      const welcome = await again.expect("WELCOME");
      assert.deepEqual([welcome.version, welcome.flags, welcome.id, welcome.lastReceived], [
        1,
        0,
        id,
        3,
      ]);
      // A replayed DATA carries the current ack, not the one it first went out with.
      const replay = await again.expect("DATA");
      assert.deepEqual([replay.seq, replay.ack, dec(replay.payload)], [3, 3, "z"]);
      assert.equal(await sends[0], "resolved");
      assert.equal(await sends[1], "resolved");
      assert.equal(session.stats.resent, 1);
      await again.send(frame.data(2, 3, "b"), frame.data(3, 3, "c"));
      assert.equal((await again.expect("ACK")).ack, 3);
      assert.equal(session.stats.duplicatesDropped, 2);
      assert.equal(await sends[2], "resolved");
      await again.send(frame.data(4, 3, "d"));
      assert.equal(dec((await it.next()).value!), "d");
    });
  },
);

test(
  "clean room: a HELLO without RESUME whose lastReceived is above 0 gets REJECT 3 and no session",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const peer = await side.dial();
      await peer.send(frame.hello(randomId(), { lastReceived: 1 }));
      const reject = await peer.expect("REJECT");
      assert.equal(reject.reason, 3);
      await peer.expect("end");
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: a HELLO of another version gets REJECT 1 and the connection closes, however short the HELLO",
  NET,
  async () => {
    await withServer({}, async (side) => {
      for (
        const bytes of [
          frame.hello(randomId(), { version: 2 }),
          Uint8Array.of(3, 2),
          Uint8Array.of(3, 0, 0, 0),
        ]
      ) {
        const peer = await side.dial();
        await peer.send(bytes);
        const got = await peer.next();
        assert.equal(got.type, "REJECT", `for ${bytes.length} bytes: ${peer.describe()}`);
        const reject = got as Extract<Frame, { type: "REJECT" }>;
        assert.equal(reject.reason, 1, `for ${bytes.length} bytes`);
        await peer.expect("end");
      }
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: a first frame that is not a well-formed HELLO gets REJECT 3, and a length above 1 KiB a silent close; no session is created",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const id = randomId();
      const hello = frame.hello(id);
      const cases: [string, Uint8Array, string | undefined][] = [
        ["DATA before HELLO", withLength(frame.data(1, 0, "a")), "expected HELLO, received DATA"],
        ["ACK before HELLO", withLength(frame.ack(0)), "expected HELLO, received ACK"],
        ["GOODBYE before HELLO", withLength(frame.goodbye(0)), "expected HELLO, received GOODBYE"],
        [
          "WELCOME from a client",
          withLength(frame.welcome(id)),
          "expected HELLO, received WELCOME",
        ],
        ["HELLO of 26 bytes", withLength(hello.subarray(0, 26)), "malformed HELLO"],
        ["HELLO of 28 bytes", withLength(Uint8Array.of(...hello, 0)), "malformed HELLO"],
        ["a HELLO of 1 byte", withLength(Uint8Array.of(3)), "malformed HELLO"],
        [
          "unknown type 7",
          withLength(Uint8Array.of(7, ...hello.subarray(1))),
          "expected HELLO, received frame type 7",
        ],
        [
          "an empty frame",
          withLength(new Uint8Array(0)),
          "expected HELLO, received an empty frame",
        ],
        [
          "HELLO with lastReceived 2^53",
          withLength(frame.hello(id, { flags: RESUME, lastReceived: 2n ** 53n })),
          "malformed HELLO",
        ],
        // The framing refuses it at the header (docs/protocol.md: it gets no REJECT).
        ["a length above 1 KiB", Uint8Array.of(0, 0, 4, 1), undefined],
      ];
      for (const [name, bytes, text] of cases) {
        const peer = await side.dial();
        await peer.sendRaw(bytes);
        const rest = await peer.rest();
        assert.deepEqual(
          rest.map((f) => f.type === "REJECT" ? [f.reason, f.text] : f.type),
          text === undefined ? [] : [[3, text]],
          `${name}: ${peer.describe()}`,
        );
      }
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: a frame that breaks the rules after the handshake drops the connection, and the session resumes",
  NET,
  async () => {
    await withServer({ maxMessageSize: 100 }, async (side) => {
      const [first, session, id] = await handshake(side);
      await first.send(frame.data(1, 0, "a"));
      const it = session[Symbol.asyncIterator]();
      await it.next();
      const sent = outcome(session.send("x"));
      await first.expect("DATA");
      let peer = first;
      const cases: [string, Uint8Array][] = [
        ["ACK of 8 bytes", frame.ack(0).subarray(0, 8)],
        ["ACK of 10 bytes", Uint8Array.of(...frame.ack(0), 0)],
        ["GOODBYE of 8 bytes", frame.goodbye(0).subarray(0, 8)],
        ["DATA of 16 bytes", frame.data(2, 0).subarray(0, 16)],
        ["ACK 2^53", frame.ack(2n ** 53n)],
        ["DATA seq 2^53", frame.data(2n ** 53n, 0, "b")],
        ["DATA ack 2^53", frame.data(2, 2n ** 53n, "b")],
        ["ack above the highest seq sent", frame.ack(2)],
        ["DATA whose ack is above the highest seq sent", frame.data(2, 2, "b")],
        ["a gap", frame.data(3, 0, "c")],
        ["unknown type 0", Uint8Array.of(0, ...frame.ack(0).subarray(1))],
        ["unknown type 7", Uint8Array.of(7, ...frame.ack(0).subarray(1))],
        ["HELLO after the handshake", frame.hello(id, { flags: RESUME, lastReceived: 1 })],
        ["WELCOME from a client", frame.welcome(id, { lastReceived: 1 })],
        ["REJECT from a client", frame.reject(3, "no")],
        ["a DATA payload above maxMessageSize", frame.data(2, 0, new Uint8Array(101))],
      ];
      for (const [name, body] of cases) {
        const reconnecting = once<{ error: unknown }>(session, "reconnecting");
        await peer.send(body);
        const rest = await peer.rest();
        assert.ok(
          rest.every((f) => f.type !== "DATA" && f.type !== "WELCOME"),
          `${name}: ${peer.describe()}`,
        );
        assert.equal(codeOf((await reconnecting).error), "PROTOCOL_ERROR", name);
        peer = await side.dial();
        await peer.send(frame.hello(id, { flags: RESUME, lastReceived: 0 }));
        const welcome = await peer.expect("WELCOME");
        assert.deepEqual([welcome.flags, welcome.id, welcome.lastReceived], [0, id, 1], name);
        const replay = await peer.expect("DATA");
        assert.deepEqual([replay.seq, dec(replay.payload)], [1, "x"], name);
      }
      // A payload of exactly maxMessageSize is fine.
      await peer.send(frame.data(2, 1, new Uint8Array(100)));
      assert.equal((await it.next()).value!.length, 100);
      assert.equal(await sent, "resolved");
      assert.equal(side.server.size, 1);
    });
  },
);

test(
  "clean room: a HELLO to resume a session the server does not know gets WELCOME(LOST) and a new id, again on a retry, and REJECT 3 once the new id is in use",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const old = randomId();
      const a = await side.dial();
      await a.send(frame.hello(old, { flags: RESUME, lastReceived: 5 }));
      const lost = await a.expect("WELCOME");
      assert.deepEqual([lost.version, lost.flags, lost.lastReceived], [1, LOST, 0]);
      assert.notEqual(lost.id, old);
      const session = await side.nextSession();
      assert.equal(session.id, lost.id);
      // The WELCOME(LOST) got lost with its connection: the retry (old id, RESUME) gets the same answer,
      // and its lastReceived, counted in the old session, confirms nothing.
      const sent = outcome(session.send("x"));
      await a.close();
      // Not even when it happens to cover a message of the new session.
      const b1 = await side.dial();
      await b1.send(frame.hello(old, { flags: RESUME, lastReceived: 1 }));
      assert.deepEqual([(await b1.expect("WELCOME")).id, (await b1.expect("DATA")).seq], [
        lost.id,
        1,
      ]);
      await b1.close();
      const b = await side.dial();
      await b.send(frame.hello(old, { flags: RESUME, lastReceived: 5 }));
      const again = await b.expect("WELCOME");
      assert.deepEqual([again.flags, again.id, again.lastReceived], [LOST, lost.id, 0]);
      const replay = await b.expect("DATA");
      assert.deepEqual([replay.seq, replay.ack], [1, 0]);
      // A frame after that HELLO shows the new id is in use: the old id is a protocol error now,
      // answered without touching the session's connection.
      await b.send(frame.ack(1));
      assert.equal(await sent, "resolved");
      const c = await side.dial();
      await c.send(frame.hello(old, { flags: RESUME, lastReceived: 0 }));
      assert.equal((await c.expect("REJECT")).reason, 3);
      await c.expect("end");
      await b.send(frame.data(1, 1, "still here"));
      const it = session[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "still here");
      assert.equal(side.server.size, 1);
    });
  },
);

test(
  "clean room: a HELLO without RESUME with the old id of a session started afresh is of an unknown session: it starts a new one under that id",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [, old] = await resumeUnknown(side);
      const fresh = await side.nextSession();
      // Only a HELLO to resume can mean the old id (a retry after a lost WELCOME(LOST) has RESUME).
      const b = await side.dial();
      await b.send(frame.hello(old));
      const welcome = await b.expect("WELCOME");
      assert.deepEqual([welcome.flags, welcome.id, welcome.lastReceived], [0, old, 0]);
      assert.equal((await side.nextSession()).id, old);
      assert.equal(side.server.size, 2);
      assert.equal(fresh.state, "open", "the session started afresh keeps its connection");
    });
  },
);

test(
  "clean room: a closing client's HELLO for an unknown session gets WELCOME(LOST) with its own id, and nothing is created",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const id = randomId();
      const peer = await side.dial();
      await peer.send(frame.hello(id, { flags: RESUME | CLOSING, lastReceived: 3 }));
      const welcome = await peer.expect("WELCOME");
      assert.deepEqual([welcome.flags, welcome.id], [LOST, id]);
      await peer.expect("end");
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: a client's GOODBYE is answered with the server's, its unconfirmed sends reject, and a later HELLO gets the tombstone's GOODBYE",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session, id] = await handshake(side);
      await peer.send(frame.data(1, 0, "a"), frame.data(2, 0, "b"));
      const it = session[Symbol.asyncIterator]();
      await it.next();
      const confirmed = outcome(session.send("x"));
      const unconfirmed = outcome(session.send("y"));
      for (let n = 0; n < 2; n++) await peer.expectPastAcks("DATA");
      const closed = once<{ error: unknown; unconfirmed: Uint8Array[] }>(session, "close");
      await peer.send(frame.goodbye(1));
      const answer = (await peer.rest()).filter((f) => f.type !== "ACK");
      assert.deepEqual(answer.map((f) => f.type === "GOODBYE" ? f.ack : f.type), [2]);
      assert.equal(await confirmed, "resolved");
      assert.equal(await unconfirmed, "CONNECTION_CLOSED");
      const detail = await closed;
      assert.equal(detail.error, undefined);
      assert.deepEqual(detail.unconfirmed.map(dec), ["y"]);
      // The iterator ends after the queued message.
      assert.equal(dec((await it.next()).value!), "b");
      assert.equal((await it.next()).done, true);
      // The client missed the GOODBYE and comes back: the tombstone answers, then closes.
      const later = await side.dial();
      await later.send(frame.hello(id, { flags: RESUME, lastReceived: 1 }));
      assert.equal((await later.expect("GOODBYE")).ack, 2);
      await later.expect("end");
    });
  },
);

test(
  "clean room: server.close() says GOODBYE with its ack once all is confirmed, and answers a new HELLO with REJECT 2 meanwhile",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session] = await handshake(side);
      await peer.send(frame.data(1, 0, "a"));
      const sent = outcome(session.send("x"));
      const data = await peer.expect("DATA");
      const closing = outcome(side.server.close());
      const other = await side.dial();
      await other.send(frame.hello(randomId()));
      const reject = await other.expect("REJECT");
      assert.equal(reject.reason, 2);
      assert.equal(reject.text, "server is shutting down");
      await other.expect("end");
      await peer.send(frame.ack(data.seq));
      assert.equal((await peer.expectPastAcks("GOODBYE")).ack, 1);
      await peer.send(frame.goodbye(1));
      await peer.closeWrite();
      assert.equal((await peer.expect("end")).how, "eof");
      assert.equal(await sent, "resolved");
      assert.equal(await closing, "resolved");
    });
  },
);

test("clean room: a server at maxSessions answers a new HELLO with REJECT 2", NET, async () => {
  await withServer({ maxSessions: 1 }, async (side) => {
    await handshake(side);
    const peer = await side.dial();
    await peer.send(frame.hello(randomId()));
    const reject = await peer.expect("REJECT");
    assert.equal(reject.reason, 2);
    assert.equal(reject.text, "server holds its limit of 1 session");
    await peer.expect("end");
  });
});

test(
  "clean room: the newest connection wins: a HELLO for a known session, with RESUME or without (its WELCOME was lost), closes the session's old connection",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [a, session, id] = await handshake(side);
      await a.send(frame.data(1, 0, "a"));
      const it = session[Symbol.asyncIterator]();
      await it.next();
      let old = a;
      for (const [seq, flags] of [[2, RESUME], [3, 0]] as const) {
        const peer = await side.dial();
        await peer.send(frame.hello(id, { flags }));
        const welcome = await peer.expect("WELCOME");
        assert.deepEqual([welcome.flags, welcome.id, welcome.lastReceived], [0, id, seq - 1]);
        await old.rest();
        await peer.send(frame.data(seq, 0, `${seq}`));
        assert.equal(dec((await it.next()).value!), `${seq}`);
        old = peer;
      }
      assert.equal(side.server.size, 1);
    });
  },
);

test(
  "clean room: a HELLO with the new id also shows the client has it: the old id gets REJECT 3 after that",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [a, old, id] = await resumeUnknown(side);
      await a.close();
      const b = await side.dial();
      await b.send(frame.hello(id, { flags: RESUME }));
      const welcome = await b.expect("WELCOME");
      assert.deepEqual([welcome.flags, welcome.id], [0, id]);
      const c = await side.dial();
      await c.send(frame.hello(old, { flags: RESUME }));
      assert.equal((await c.expect("REJECT")).reason, 3);
      await c.expect("end");
      // b is untouched.
      await b.send(frame.ack(0));
      const session = await side.nextSession();
      const sent = outcome(session.send("x"));
      await b.expectPastAcks("DATA");
      await b.send(frame.ack(1));
      assert.equal(await sent, "resolved");
    });
  },
);

test(
  "clean room: acks that do not move forward are ignored, and an empty payload is a message",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session] = await handshake(side);
      const sends = ["x", "y"].map((s) => outcome(session.send(s)));
      for (let n = 0; n < 2; n++) await peer.expectPastAcks("DATA");
      await peer.send(frame.ack(2));
      await Promise.all(sends);
      await peer.send(frame.ack(1), frame.ack(0), frame.data(1, 1, ""), frame.data(2, 0, "z"));
      const it = session[Symbol.asyncIterator]();
      assert.equal((await it.next()).value!.length, 0);
      assert.equal(dec((await it.next()).value!), "z");
      assert.equal(side.server.size, 1);
      assert.equal(session.state, "open");
    });
  },
);

test("clean room: after a reconnect the server replays before anything new", NET, async () => {
  await withServer({}, async (side) => {
    const { session, id, x } = await droppedWithX(side);
    const y = outcome(session.send("y"));
    const b = await side.dial();
    await b.send(frame.hello(id, { flags: RESUME }));
    await b.expect("WELCOME");
    const first = await b.expect("DATA");
    const second = await b.expect("DATA");
    assert.deepEqual([first.seq, dec(first.payload), second.seq, dec(second.payload)], [
      1,
      "x",
      2,
      "y",
    ]);
    await b.send(frame.ack(2));
    await x;
    assert.equal(await y, "resolved");
  });
});

test(
  "clean room: a session whose client stays away past resumeTimeout is lost: the client's return gets WELCOME(LOST)",
  NET,
  async () => {
    const clock = new FakeClock();
    await withServer({ clock, resumeTimeout: 1000 }, async (side) => {
      const [a, session, id] = await handshake(side);
      const x = outcome(session.send("x"));
      await a.expect("DATA");
      const reconnecting = once<{ attempt: number; delay: number }>(session, "reconnecting");
      await a.close();
      const waiting = await reconnecting;
      assert.deepEqual([waiting.attempt, waiting.delay], [0, 1000]);
      const lost = once<{ unknown: Uint8Array[] }>(session, "sessionlost");
      clock.advance(1000);
      assert.deepEqual((await lost).unknown.map(dec), ["x"]);
      assert.equal(await x, "SESSION_LOST");
      const b = await side.dial();
      await b.send(frame.hello(id, { flags: RESUME, lastReceived: 1 }));
      const welcome = await b.expect("WELCOME");
      assert.equal(welcome.flags, LOST);
      assert.notEqual(welcome.id, id);
    });
  },
);

test(
  "clean room: the tombstone of a session that ended answers for resumeTimeout, then the session is unknown",
  NET,
  async () => {
    const clock = new FakeClock();
    await withServer({ clock, resumeTimeout: 1000 }, async (side) => {
      const [a, , id] = await handshake(side);
      await a.send(frame.goodbye(0));
      assert.deepEqual((await a.rest()).map((f) => f.type), ["GOODBYE"]);
      const b = await side.dial();
      await b.send(frame.hello(id, { flags: RESUME | CLOSING }));
      assert.equal((await b.expect("GOODBYE")).ack, 0);
      await b.expect("end");
      clock.advance(1000);
      const c = await side.dial();
      await c.send(frame.hello(id, { flags: RESUME | CLOSING }));
      const welcome = await c.expect("WELCOME");
      assert.deepEqual([welcome.flags, welcome.id], [LOST, id]);
    });
  },
);

test(
  "clean room: a resuming HELLO whose lastReceived is above what the server sent gets REJECT 3, and the session and its connection are untouched",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [a, session, id] = await handshake(side);
      const x = outcome(session.send("x"));
      await a.expect("DATA");
      const events: string[] = [];
      for (const type of ["reconnecting", "resumed", "sessionlost", "close"]) {
        session.addEventListener(type, () => events.push(type));
      }
      for (const flags of [RESUME, 0]) {
        const b = await side.dial();
        await b.send(frame.hello(id, { flags, lastReceived: 2 }));
        const reject = await b.expect("REJECT");
        assert.equal(reject.reason, 3);
        assert.equal(reject.text, "HELLO acks 2 but next is 2");
        await b.expect("end");
      }
      // The message it claimed is not confirmed by that, and the live connection goes on.
      assert.equal(session.stats.inFlight, 1);
      await a.send(frame.data(1, 0, "a"));
      const it = session[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "a");
      await a.send(frame.ack(1));
      assert.equal(await x, "resolved");
      assert.deepEqual(events, []);
      assert.deepEqual([session.state, session.stats.reconnects], ["open", 0]);
      assert.deepEqual(a.received.map((f) => f.type).filter((t) => t !== "ACK"), [
        "WELCOME",
        "DATA",
      ]);
    });
  },
);

test(
  "clean room: a GOODBYE right behind a new session's HELLO ends the session at once",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const peer = await side.dial();
      const id = randomId();
      await peer.send(frame.hello(id), frame.goodbye(0));
      assert.deepEqual((await peer.rest()).map((f) => f.type), ["WELCOME", "GOODBYE"]);
    });
  },
);

test(
  "clean room: a HELLO of another version is answered up to a length of 1 KiB, and a longer one is dropped unanswered",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const hello = new Uint8Array(1024);
      hello.set([3, 2]);
      const a = await side.dial();
      await a.send(hello);
      assert.equal((await a.expect("REJECT")).reason, 1);
      const b = await side.dial();
      await b.send(Uint8Array.of(...hello, 0));
      assert.deepEqual(await b.rest(), []);
    });
  },
);

test(
  "clean room: a length above the session framing's limit drops the connection at its header",
  NET,
  async () => {
    await withServer({ maxMessageSize: 2000 }, async (side) => {
      const [peer, session] = await handshake(side);
      await peer.send(frame.data(1, 0, new Uint8Array(2000)));
      assert.equal((await session[Symbol.asyncIterator]().next()).value!.length, 2000);
      const reconnecting = once<{ error: unknown }>(session, "reconnecting");
      // 2000 + 17 is the limit: a header of 2018 is refused before its payload comes.
      await peer.sendRaw(Uint8Array.of(0, 0, 0x07, 0xe2, 1));
      await peer.rest();
      assert.equal(codeOf((await reconnecting).error), "PROTOCOL_ERROR");
    });
  },
);

test(
  "clean room: the server drops a connection whose HELLO is not complete within deadPeerTimeout",
  NET,
  async () => {
    // Real timers: the test only waits for their effect, however late they fire.
    await withServer({ deadPeerTimeout: 200 }, async (side) => {
      const silent = await side.dial();
      const partial = await side.dial();
      await partial.sendRaw(withLength(frame.hello(randomId())).subarray(0, 20));
      assert.deepEqual(await silent.rest(), []);
      assert.deepEqual(await partial.rest(), []);
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: the server ignores HELLO flag bits it does not know",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const id = randomId();
      const peer = await side.dial();
      await peer.send(frame.hello(id, { flags: 0b1111_1100 }));
      const welcome = await peer.expect("WELCOME");
      assert.deepEqual([welcome.flags, welcome.id], [0, id]);
      const session = await side.nextSession();
      await peer.send(frame.data(1, 0, "a"));
      assert.equal(dec((await session[Symbol.asyncIterator]().next()).value!), "a");
    });
  },
);

test(
  "clean room: a GOODBYE that leaves a closing server's messages unconfirmed rejects its close() with CONNECTION_CLOSED",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const [peer, session] = await handshake(side);
      await goodbyeWhileClosing(peer, session);
    });
  },
);

test(
  "clean room: a closing server still takes back the client of a session it is closing, and says GOODBYE once confirmed",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const { id, x } = await droppedWithX(side);
      const closing = outcome(side.server.close());
      const b = await side.dial();
      await b.send(frame.hello(id, { flags: RESUME }));
      assert.equal((await b.expect("WELCOME")).flags, 0);
      assert.equal((await b.expect("DATA")).seq, 1);
      await b.send(frame.ack(1));
      assert.equal((await b.expectPastAcks("GOODBYE")).ack, 0);
      await b.send(frame.goodbye(0));
      await b.closeWrite();
      assert.equal((await b.expect("end")).how, "eof");
      assert.equal(await x, "resolved");
      assert.equal(await closing, "resolved");
    });
  },
);

test(
  "clean room: the server remembers at most maxSessions ended sessions, forgetting the oldest first",
  NET,
  async () => {
    await withServer({ maxSessions: 1 }, async (side) => {
      const [a, , first] = await handshake(side);
      await a.send(frame.goodbye(0));
      await a.rest();
      const [b, , second] = await handshake(side);
      await b.send(frame.goodbye(0));
      await b.rest();
      const forgotten = await side.dial();
      await forgotten.send(frame.hello(first, { flags: RESUME | CLOSING }));
      assert.equal((await forgotten.expect("WELCOME")).flags, LOST);
      const remembered = await side.dial();
      await remembered.send(frame.hello(second, { flags: RESUME | CLOSING }));
      assert.equal((await remembered.expect("GOODBYE")).ack, 0);
    });
  },
);

test(
  "clean room: a u64 of 2^53 - 1 is a value and 2^53 a protocol error (a resuming HELLO's lastReceived)",
  NET,
  async () => {
    await withServer({}, async (side) => {
      // Unknown with RESUME: the lastReceived is counted in the lost session and confirms nothing.
      const largest = await side.dial();
      await largest.send(frame.hello(randomId(), { flags: RESUME, lastReceived: 2n ** 53n - 1n }));
      assert.equal((await largest.expect("WELCOME")).flags, LOST);
      const beyond = await side.dial();
      await beyond.send(frame.hello(randomId(), { flags: RESUME, lastReceived: 2n ** 53n }));
      assert.deepEqual(
        (await beyond.rest()).map((f) => f.type === "REJECT" ? [f.reason, f.text] : f.type),
        [[3, "malformed HELLO"]],
      );
      assert.equal(side.server.size, 1);
    });
  },
);

test(
  "clean room: a GOODBYE(0) behind a resuming HELLO ends the session, with the HELLO's lastReceived confirming first",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const { session, id, x } = await droppedWithX(side);
      const closed = once<{ error: unknown; unconfirmed: Uint8Array[] }>(session, "close");
      const b = await side.dial();
      await b.send(frame.hello(id, { flags: RESUME, lastReceived: 1 }), frame.goodbye(0));
      assert.deepEqual((await b.rest()).map((f) => f.type), ["WELCOME", "GOODBYE"]);
      assert.equal(await x, "resolved");
      assert.deepEqual(await closed, { error: undefined, unconfirmed: [] });
    });
  },
);

test(
  "clean room: a GOODBYE(0) behind a HELLO that resumes a lost session ends the fresh one at once",
  NET,
  async () => {
    await withServer({}, async (side) => {
      const peer = await side.dial();
      await peer.send(
        frame.hello(randomId(), { flags: RESUME, lastReceived: 4 }),
        frame.goodbye(0),
      );
      const frames = await peer.rest();
      assert.deepEqual(frames.map((f) => f.type), ["WELCOME", "GOODBYE"]);
      assert.equal(frames[0]!.type === "WELCOME" && frames[0]!.flags, LOST);
      const session = await side.nextSession();
      assert.equal(session.state, "closed");
      assert.equal(side.server.size, 0);
    });
  },
);

test(
  "clean room: an ack carried by a DATA counts: ackEvery counts only the messages received after it",
  NET,
  async () => {
    await withServer(
      { ackDelay: Infinity, ackEvery: 4, heartbeatInterval: 1e6, deadPeerTimeout: 2e6 },
      async (side) => {
        const [peer, session] = await handshake(side);
        const it = session[Symbol.asyncIterator]();
        await peer.send(frame.data(1, 0, "1"), frame.data(2, 0, "2"), frame.data(3, 0, "3"));
        for (let n = 1; n <= 3; n++) await it.next();
        const x = outcome(session.send("x"));
        assert.deepEqual((await peer.expect("DATA")).ack, 3);
        await peer.send(frame.data(4, 1, "4"));
        await peer.send(frame.data(5, 1, "5"), frame.data(6, 1, "6"));
        await peer.send(frame.data(7, 1, "7"));
        assert.equal((await peer.expect("ACK")).ack, 7);
        assert.equal(await x, "resolved");
      },
    );
  },
);

// ---------------------------------------------------------------------------------------------
// framewire's client, a clean-room server

interface ClientSide {
  client: ReliableSession;
  /** The client's next connection, as a clean-room server end. */
  accept(): Promise<Peer>;
}

/** Runs `fn` with a reliableClient dialing a loopback listener the test answers by hand. */
async function withClient(
  options: ReliableClientOptions,
  fn: (side: ClientSide) => Promise<void>,
): Promise<void> {
  const listener: Listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener[Symbol.asyncIterator]();
  const port = portOf(listener);
  const client = reliableClient(
    (signal) => connect({ hostname: "127.0.0.1", port, signal }),
    { ...options, reconnect: { base: 1, cap: 1, ...options.reconnect } },
  );
  const peers: Peer[] = [];
  try {
    await fn({
      client,
      async accept() {
        const next = await accepted.next();
        assert.equal(next.done, false);
        const peer = new Peer(next.value as Conn);
        peers.push(peer);
        return peer;
      },
    });
  } finally {
    listener.close();
    await outcome(client.close({ timeout: 0 }));
    for (const peer of peers) await peer.close();
    // Connections the client made that the test never accepted (the closed listener ends the
    // iteration once they are handed over).
    for (let next = await accepted.next(); !next.done; next = await accepted.next()) {
      next.value.close();
    }
  }
}

/** Answers the client's first HELLO with WELCOME; returns the connection and the HELLO. */
async function welcomeClient(
  side: ClientSide,
  lastReceived = 0,
): Promise<[Peer, Extract<Frame, { type: "HELLO" }>]> {
  const peer = await side.accept();
  const hello = await peer.expect("HELLO");
  await peer.send(frame.welcome(hello.id, { lastReceived }));
  return [peer, hello];
}

/**
 * A session whose message "a" went out unconfirmed on a connection that then
 * dropped (the client has noticed): the HELLO it opened with, and `send("a")`'s outcome.
 */
async function sentThenDropped(
  side: ClientSide,
): Promise<{ hello: Extract<Frame, { type: "HELLO" }>; a: Promise<string> }> {
  const [first, hello] = await welcomeClient(side);
  const a = outcome(side.client.send("a"));
  await first.expect("DATA");
  const dropped = once(side.client, "reconnecting");
  await first.close();
  await dropped;
  return { hello, a };
}

test(
  "clean room: the client's first HELLO is version 1, no flags, its session id, lastReceived 0; then DATA from seq 1",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const opened = once(side.client, "open");
      const sent = outcome(side.client.send("a"));
      const peer = await side.accept();
      const hello = await peer.expect("HELLO");
      assert.equal(hello.raw.length, 27);
      assert.deepEqual(fieldsOf(hello), {
        version: 1,
        flags: 0,
        id: side.client.id,
        lastReceived: 0,
      });
      await peer.send(frame.welcome(hello.id), frame.data(1, 0, "s1"));
      await opened;
      const d = await peer.expectPastAcks("DATA");
      assert.deepEqual([d.seq, dec(d.payload)], [1, "a"]);
      assert.ok(d.ack === 0 || d.ack === 1, `ack ${d.ack}`);
      await peer.send(frame.ack(1));
      assert.equal(await sent, "resolved");
      const it = side.client[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "s1");
      const second = outcome(side.client.send("b"));
      const e = await peer.expectPastAcks("DATA");
      assert.deepEqual([e.seq, e.ack], [2, 1]);
      await peer.send(frame.ack(2));
      assert.equal(await second, "resolved");
    });
  },
);

test(
  "clean room: a resuming client says RESUME and its lastReceived, takes the WELCOME's lastReceived as an ack, replays the rest with the same seq, and drops duplicates",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [first, hello] = await welcomeClient(side);
      const sends = ["a", "b", "c"].map((s) => outcome(side.client.send(s)));
      for (let seq = 1; seq <= 3; seq++) {
        assert.equal((await first.expectPastAcks("DATA")).seq, seq);
      }
      await first.send(frame.data(1, 0, "s1"), frame.data(2, 0, "s2"));
      assert.equal((await first.expect("ACK")).ack, 2);
      const resumed = once<{ replayed: number }>(side.client, "resumed");
      await first.close();
      const second = await side.accept();
      const again = await second.expect("HELLO");
      assert.deepEqual([again.version, again.flags, again.id, again.lastReceived], [
        1,
        RESUME,
        hello.id,
        2,
      ]);
      // This server got a and b, and never received the client's ack of s2.
      await second.send(frame.welcome(hello.id, { lastReceived: 2 }));
      // c first went out with ack 0; its replay carries the current ack.
      const replay = await second.expect("DATA");
      assert.deepEqual([replay.seq, replay.ack, dec(replay.payload)], [3, 2, "c"]);
      assert.deepEqual(await resumed, { replayed: 1 });
      assert.equal(await sends[0], "resolved");
      assert.equal(await sends[1], "resolved");
      assert.equal(side.client.stats.resent, 1);
      await second.send(frame.data(2, 2, "s2"));
      assert.equal((await second.expect("ACK")).ack, 2);
      assert.equal(side.client.stats.duplicatesDropped, 1);
      await second.send(frame.ack(3));
      assert.equal(await sends[2], "resolved");
    });
  },
);

test(
  "clean room: WELCOME(LOST) makes the client report its unconfirmed messages, take the new id, and number from 1 again",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const { hello, a } = await sentThenDropped(side);
      // Accepted while no connection is up: never written.
      const b = outcome(side.client.send("b"));
      const second = await side.accept();
      assert.equal((await second.expect("HELLO")).flags, RESUME);
      const lost = once<{ unknown: Uint8Array[]; unsent: Uint8Array[] }>(
        side.client,
        "sessionlost",
      );
      const resumed = once<{ replayed: number }>(side.client, "resumed");
      const fresh = randomId();
      await second.send(frame.welcome(fresh, { flags: LOST }));
      const detail = await lost;
      assert.deepEqual(detail.unknown.map(dec), ["a"]);
      assert.deepEqual(detail.unsent.map(dec), ["b"]);
      assert.deepEqual(await resumed, { replayed: 0 });
      assert.equal(await a, "SESSION_LOST");
      assert.equal(await b, "SESSION_LOST");
      assert.equal(side.client.id, fresh);
      assert.notEqual(fresh, hello.id);
      // Both directions count from 1 again.
      await second.send(frame.data(1, 0, "s1"));
      const it = side.client[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "s1");
      const c = outcome(side.client.send("c"));
      const d = await second.expectPastAcks("DATA");
      assert.deepEqual([d.seq, d.ack, dec(d.payload)], [1, 1, "c"]);
      await second.close();
      const third = await side.accept();
      const next = await third.expect("HELLO");
      assert.deepEqual([next.flags, next.id, next.lastReceived], [RESUME, fresh, 1]);
      await third.send(frame.welcome(fresh, { lastReceived: 1 }));
      assert.equal(await c, "resolved");
    });
  },
);

test(
  "clean room: a WELCOME that breaks the rules is a protocol error: the client drops the connection and tries again",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const { hello, a } = await sentThenDropped(side);
      const cases: [string, Uint8Array][] = [
        ["another id without LOST", frame.welcome(randomId(), { lastReceived: 0 })],
        ["lastReceived above the highest seq sent", frame.welcome(hello.id, { lastReceived: 2 })],
        ["lastReceived 2^53", frame.welcome(hello.id, { lastReceived: 2n ** 53n })],
        ["WELCOME of 26 bytes", frame.welcome(hello.id).subarray(0, 26)],
        ["HELLO instead of WELCOME", frame.hello(hello.id)],
        ["DATA before WELCOME", frame.data(1, 0, "x")],
        ["unknown type 9", Uint8Array.of(9, ...frame.welcome(hello.id).subarray(1))],
        ["REJECT 3", frame.reject(3, "protocol error")],
      ];
      for (const [name, body] of cases) {
        const reconnecting = once<{ error: unknown }>(side.client, "reconnecting");
        const peer = await side.accept();
        assert.equal((await peer.expect("HELLO")).flags, RESUME, name);
        await peer.send(body);
        const rest = await peer.rest();
        assert.ok(rest.every((f) => f.type !== "DATA"), `${name}: ${peer.describe()}`);
        assert.equal(codeOf((await reconnecting).error), "PROTOCOL_ERROR", name);
      }
      const last = await side.accept();
      await last.expect("HELLO");
      await last.send(frame.welcome(hello.id, { lastReceived: 1 }));
      assert.equal(await a, "resolved");
    });
  },
);

test(
  "clean room: a WELCOME(LOST) answering a HELLO without RESUME is a protocol error, whatever id it carries",
  NET,
  async () => {
    // LOST says the server had no state for a session the client asked to resume: a HELLO without
    // RESUME asked for none. Before, LOST was ignored there: with the HELLO's id the session
    // opened as if on an honest WELCOME, and with another id the error said only "another id".
    await withClient({}, async (side) => {
      const sent = outcome(side.client.send("a"));
      let lost = 0;
      side.client.addEventListener("sessionlost", () => lost++);
      let first: string | undefined;
      for (const other of [false, true]) {
        const peer = await side.accept();
        const hello = await peer.expect("HELLO");
        first ??= hello.id;
        assert.deepEqual([hello.flags, hello.id], [0, first], `other ${other}`);
        const refused = once<{ error: unknown }>(side.client, "reconnecting");
        const opened = once(side.client, "open").then(() => undefined);
        await peer.send(frame.welcome(other ? randomId() : hello.id, { flags: LOST }));
        // Fails here, not through the timeout, if the client opens on it.
        const detail = await Promise.race([refused, opened]);
        assert.ok(detail !== undefined, `other ${other}: the client opened on it`);
        assert.equal(codeOf(detail.error), "PROTOCOL_ERROR");
        assert.equal(
          (detail.error as Error).message,
          "Cannot read from connection as the peer broke the protocol: WELCOME with LOST in " +
            "answer to a HELLO without RESUME",
        );
        const rest = await peer.rest();
        assert.ok(rest.every((f) => f.type !== "DATA"), `other ${other}: ${peer.describe()}`);
      }
      // An honest WELCOME then opens the session under the client's own id, nothing lost.
      const [last] = await welcomeClient(side);
      const data = await last.expect("DATA");
      assert.deepEqual([data.seq, dec(data.payload)], [1, "a"]);
      await last.send(frame.ack(1));
      assert.equal(await sent, "resolved");
      assert.equal(side.client.id, first);
      assert.equal(lost, 0);
    });
  },
);

test(
  "clean room: a frame that breaks the rules on an open connection is a protocol error: the client drops it and resumes",
  NET,
  async () => {
    await withClient({ maxMessageSize: 100 }, async (side) => {
      const [first, hello] = await welcomeClient(side);
      const a = outcome(side.client.send("a"));
      await first.expect("DATA");
      let peer = first;
      const cases: [string, Uint8Array][] = [
        ["ACK of 8 bytes", frame.ack(0).subarray(0, 8)],
        ["ACK 2^53", frame.ack(2n ** 53n)],
        ["ack above the highest seq sent", frame.ack(2)],
        ["a gap", frame.data(2, 0, "x")],
        ["a DATA payload above maxMessageSize", frame.data(1, 0, new Uint8Array(101))],
        ["WELCOME again", frame.welcome(hello.id)],
        ["HELLO to a client", frame.hello(hello.id)],
        ["unknown type 7", Uint8Array.of(7, ...frame.ack(0).subarray(1))],
      ];
      for (const [name, body] of cases) {
        const reconnecting = once<{ error: unknown }>(side.client, "reconnecting");
        await peer.send(body);
        const rest = await peer.rest();
        assert.ok(rest.every((f) => f.type !== "DATA"), `${name}: ${peer.describe()}`);
        assert.equal(codeOf((await reconnecting).error), "PROTOCOL_ERROR", name);
        peer = await side.accept();
        const again = await peer.expect("HELLO");
        assert.deepEqual([again.flags, again.lastReceived], [RESUME, 0], name);
        await peer.send(frame.welcome(hello.id));
        const replay = await peer.expect("DATA");
        assert.deepEqual([replay.seq, dec(replay.payload)], [1, "a"], name);
      }
      await peer.send(frame.ack(1));
      assert.equal(await a, "resolved");
    });
  },
);

test(
  "clean room: a WELCOME or REJECT of another version ends the client session",
  NET,
  async () => {
    for (
      const answer of [
        frame.welcome(randomId(), { version: 2 }),
        Uint8Array.of(4, 2, 0),
        // Nothing past the version byte counts, not even flags.
        Uint8Array.of(4, 2),
        frame.reject(1, "v2 only"),
      ]
    ) {
      // Bounded retries, so that a client that takes the answer for a mere protocol error ends too.
      await withClient({ deadPeerTimeout: 2000, reconnect: { maxAttempts: 2 } }, async (side) => {
        const sent = outcome(side.client.send("a"));
        const closed = once<{ error: unknown }>(side.client, "close");
        const peer = await side.accept();
        await peer.expect("HELLO");
        await peer.send(answer);
        await peer.rest();
        const error = (await closed).error;
        assert.equal(codeOf(error), "PROTOCOL_ERROR", `${answer.length} bytes`);
        assert.equal(await sent, "CONNECTION_CLOSED");
        assert.equal(side.client.state, "closed");
      });
    }
  },
);

test(
  "clean room: REJECT 2 counts as a failed attempt, and the client tries again",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const sent = outcome(side.client.send("a"));
      const peer = await side.accept();
      const hello = await peer.expect("HELLO");
      const reconnecting = once<{ attempt: number; error: unknown }>(side.client, "reconnecting");
      await peer.send(frame.reject(2, "server is shutting down"));
      const detail = await reconnecting;
      assert.equal(detail.attempt, 2);
      assert.equal(codeOf(detail.error), "CONNECTION_CLOSED");
      const again = await side.accept();
      const retry = await again.expect("HELLO");
      assert.deepEqual([retry.flags, retry.id], [0, hello.id]);
      await again.send(frame.welcome(hello.id));
      const data = await again.expect("DATA");
      await again.send(frame.ack(data.seq));
      assert.equal(await sent, "resolved");
    });
  },
);

test(
  "clean room: the server's GOODBYE ends the client: it answers GOODBYE with its ack, and its unconfirmed sends reject",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [peer] = await welcomeClient(side);
      const a = outcome(side.client.send("a"));
      const b = outcome(side.client.send("b"));
      for (let n = 0; n < 2; n++) await peer.expectPastAcks("DATA");
      await peer.send(frame.data(1, 0, "s1"));
      const closed = once<{ error: unknown; unconfirmed: Uint8Array[] }>(side.client, "close");
      await peer.send(frame.goodbye(1));
      const answer = (await peer.rest()).filter((f) => f.type !== "ACK");
      assert.deepEqual(answer.map((f) => f.type === "GOODBYE" ? f.ack : f.type), [1]);
      assert.equal(await a, "resolved");
      assert.equal(await b, "CONNECTION_CLOSED");
      const detail = await closed;
      assert.equal(detail.error, undefined);
      assert.deepEqual(detail.unconfirmed.map(dec), ["b"]);
      const it = side.client[Symbol.asyncIterator]();
      assert.equal(dec((await it.next()).value!), "s1");
      assert.equal((await it.next()).done, true);
    });
  },
);

test(
  "clean room: client.close() waits for confirmation, says GOODBYE with its ack, and closes on the server's GOODBYE",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [peer] = await welcomeClient(side);
      const a = outcome(side.client.send("a"));
      const data = await peer.expect("DATA");
      await peer.send(frame.data(1, 0, "s1"), frame.data(2, 0, "s2"));
      const closing = outcome(side.client.close());
      await peer.send(frame.ack(data.seq));
      assert.equal((await peer.expectPastAcks("GOODBYE")).ack, 2);
      // What the server still sends is read and dropped (neither delivered nor answered with a
      // reset, which could take the GOODBYE with it), up to the server's end.
      await peer.send(frame.data(3, 0, new Uint8Array(200_000)), frame.goodbye(1));
      await peer.closeWrite();
      assert.equal(await closing, "resolved");
      assert.equal(await a, "resolved");
      assert.equal((await peer.expect("end")).how, "eof");
      const it = side.client[Symbol.asyncIterator]();
      assert.deepEqual([dec((await it.next()).value!), dec((await it.next()).value!)], [
        "s1",
        "s2",
      ]);
      assert.equal((await it.next()).done, true);
    });
  },
);

test(
  "clean room: a closing client reconnects with CLOSING, and a GOODBYE in answer to its HELLO ends the session",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const { hello, a } = await sentThenDropped(side);
      const closing = outcome(side.client.close());
      const second = await side.accept();
      const again = await second.expect("HELLO");
      assert.deepEqual([again.flags, again.id], [RESUME | CLOSING, hello.id]);
      // The server had ended the session (its tombstone answers) after taking message 1.
      await second.send(frame.goodbye(1));
      await second.rest();
      assert.equal(await a, "resolved");
      assert.equal(await closing, "resolved");
      assert.equal(side.client.state, "closed");
    });
  },
);

test(
  "clean room: a client closing with nothing unconfirmed sends GOODBYE(0) behind its unanswered first HELLO and ends",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const peer = await side.accept();
      await peer.expect("HELLO");
      assert.equal(await outcome(side.client.close()), "resolved");
      assert.equal((await peer.expect("GOODBYE")).ack, 0);
      await peer.closeWrite();
      assert.equal((await peer.expect("end")).how, "eof");
    });
  },
);

test(
  "clean room: a client whose close timeout runs out behind an unanswered resuming HELLO sends GOODBYE(0), not its lastReceived",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [first] = await welcomeClient(side);
      await first.send(frame.data(1, 0, "s1"));
      assert.equal((await first.expect("ACK")).ack, 1);
      const a = outcome(side.client.send("a"));
      await first.expect("DATA");
      const dropped = once(side.client, "reconnecting");
      await first.close();
      await dropped;
      const second = await side.accept();
      const hello = await second.expect("HELLO");
      assert.deepEqual([hello.flags, hello.lastReceived], [RESUME, 1]);
      const closing = await outcome(side.client.close({ timeout: 0 }));
      assert.equal(closing, "CONNECTION_TIMEOUT");
      assert.equal((await second.expect("GOODBYE")).ack, 0);
      assert.equal(await a, "CONNECTION_CLOSED");
      await second.closeWrite();
      await second.expect("end");
    });
  },
);

test(
  "clean room: a closing client told WELCOME(LOST) reports its messages as lost, keeps its id, says GOODBYE and closes",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const { hello, a } = await sentThenDropped(side);
      const lost = once<{ unknown: Uint8Array[] }>(side.client, "sessionlost");
      const closing = outcome(side.client.close());
      const second = await side.accept();
      const again = await second.expect("HELLO");
      assert.equal(again.flags, RESUME | CLOSING);
      await second.send(frame.welcome(hello.id, { flags: LOST }));
      assert.deepEqual((await lost).unknown.map(dec), ["a"]);
      assert.equal(await closing, "SESSION_LOST");
      assert.equal(await a, "SESSION_LOST");
      assert.equal(side.client.id, hello.id);
      assert.deepEqual((await second.rest()).map((f) => f.type === "GOODBYE" ? f.ack : f.type), [
        0,
      ]);
      assert.equal(side.client.state, "closed");
    });
  },
);

test(
  "clean room: a client with everything confirmed makes one attempt to say goodbye, and ends when it fails",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [first, hello] = await welcomeClient(side);
      const dropped = once(side.client, "reconnecting");
      await first.close();
      await dropped;
      const closing = outcome(side.client.close());
      const second = await side.accept();
      const again = await second.expect("HELLO");
      assert.deepEqual([again.flags, again.id], [RESUME | CLOSING, hello.id]);
      await second.close();
      assert.equal(await closing, "resolved");
      assert.equal(side.client.state, "closed");
    });
  },
);

test(
  "clean room: the client ignores WELCOME flag bits it does not know, and takes an unknown REJECT reason for 3",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const a = outcome(side.client.send("a"));
      const first = await side.accept();
      const hello = await first.expect("HELLO");
      const reconnecting = once<{ error: unknown }>(side.client, "reconnecting");
      await first.send(frame.reject(200, "a reason of a later version"));
      await first.rest();
      assert.equal(codeOf((await reconnecting).error), "PROTOCOL_ERROR");
      const second = await side.accept();
      assert.equal((await second.expect("HELLO")).id, hello.id);
      await second.send(frame.welcome(hello.id, { flags: 0b1111_1110 }));
      const data = await second.expect("DATA");
      assert.deepEqual([data.seq, dec(data.payload)], [1, "a"]);
      await second.send(frame.ack(1));
      assert.equal(await a, "resolved");
      assert.equal(side.client.stats.reconnects, 0);
    });
  },
);

test(
  "clean room: a GOODBYE that leaves a closing client's messages unconfirmed rejects its close() with CONNECTION_CLOSED",
  NET,
  async () => {
    await withClient({}, async (side) => {
      const [peer] = await welcomeClient(side);
      await goodbyeWhileClosing(peer, side.client);
    });
  },
);

test(
  "clean room: the client's standalone ACK goes out at ackEvery messages and at once for a duplicate, and an idle client sends heartbeats",
  NET,
  async () => {
    const clock = new FakeClock();
    await withClient(
      { clock, ackDelay: Infinity, ackEvery: 4, heartbeatInterval: 100, deadPeerTimeout: 1e6 },
      async (side) => {
        const [peer] = await welcomeClient(side);
        await peer.send(frame.data(1, 0, "1"), frame.data(2, 0, "2"), frame.data(3, 0, "3"));
        await peer.send(frame.data(4, 0, "4"));
        assert.equal((await peer.expect("ACK")).ack, 4);
        await peer.send(frame.data(4, 0, "4"));
        assert.equal((await peer.expect("ACK")).ack, 4);
        assert.equal(side.client.stats.duplicatesDropped, 1);
        await peer.send(frame.data(5, 0, "5"));
        const it = side.client[Symbol.asyncIterator]();
        for (let n = 1; n <= 5; n++) assert.equal(dec((await it.next()).value!), `${n}`);
        clock.advance(100);
        assert.equal((await peer.expect("ACK")).ack, 5);
      },
    );
  },
);

test(
  "clean room: the client drops a connection whose WELCOME is not complete within deadPeerTimeout",
  NET,
  async () => {
    // Real timers: the test only waits for their effect, however late they fire.
    await withClient({ deadPeerTimeout: 200 }, async (side) => {
      const reconnecting = once<{ error: unknown }>(side.client, "reconnecting");
      const peer = await side.accept();
      const hello = await peer.expect("HELLO");
      await peer.sendRaw(withLength(frame.welcome(hello.id)).subarray(0, 20));
      assert.equal(codeOf((await reconnecting).error), "CONNECTION_TIMEOUT");
      assert.deepEqual(await peer.rest(), []);
    });
  },
);

sockets.check();

test(
  "clean room: the client reads the server's first frame with a 1 KiB limit, and what follows it with the session's",
  NET,
  async () => {
    // Symmetric with the server's HELLO: a server (not framewire, or hostile) that announces a
    // large first frame gets no maxMessageSize buffer for it. Before, the client took the header
    // of 1 MiB and waited for its bytes until deadPeerTimeout (CONNECTION_TIMEOUT).
    await withClient({ deadPeerTimeout: 2000 }, async (side) => {
      const reconnecting = once<{ error: Error }>(side.client, "reconnecting");
      const peer = await side.accept();
      await peer.expect("HELLO");
      await peer.sendRaw(Uint8Array.of(0, 0x10, 0, 0, 0x04)); // a WELCOME of 1 MiB, begun
      const { error } = await reconnecting;
      assert.equal(codeOf(error), "PROTOCOL_ERROR");
      assert.match(
        error.message,
        /a frame of 1048576 bytes where a frame before the handshake has at most 1024/,
      );
      assert.deepEqual(await peer.rest(), []);
      // The replay right behind the WELCOME, in the same write: the session's limit.
      const next = await side.accept();
      const hello = await next.expect("HELLO");
      const big = new Uint8Array(5000).fill(7);
      await next.send(frame.welcome(hello.id), frame.data(1, 0, big));
      const it = side.client[Symbol.asyncIterator]();
      // A connection dropped instead (the DATA refused as too large) fails at once.
      const dropped = once<{ error: Error }>(side.client, "reconnecting");
      const first = await Promise.race([it.next(), dropped]);
      assert.deepEqual("value" in first ? first.value : first.error, big);
    });
  },
);
