// Copyright 2026 the framewire authors. MIT license.
// The session framings: shared between sessions, as they hold no state of a connection.

import { test } from "node:test";
import assert from "node:assert/strict";
import { HANDSHAKE_LIMIT, handshakeFraming, sessionFraming } from "../../src/reliable/_session.ts";
import { DATA_HEADER } from "../../src/reliable/_protocol.ts";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import type { ReliableSession } from "../../src/reliable/types.ts";
import { MemoryNetwork } from "../_util/memory_conn.ts";
import { FakeClock } from "../_util/fake_clock.ts";
import { nextSession, read } from "./_helpers.ts";

test("session framing: sessions with the same maxMessageSize share one framing (a server made three per session: about 2 KB of heap more per session on V8)", () => {
  const a = sessionFraming(4096);
  assert.equal(sessionFraming(4096), a);
  assert.equal(a.maxFrameLength, 4096 + DATA_HEADER);
  const b = sessionFraming(100);
  assert.notEqual(b, a);
  assert.equal(b.maxFrameLength, HANDSHAKE_LIMIT, "a HELLO or a REJECT must fit");
  assert.equal(sessionFraming(100), b);
});

test("session framing: each handshake has a decoder of its own, held to HANDSHAKE_LIMIT until open(), and encodes with the shared session framing", () => {
  const one = handshakeFraming(4096);
  const two = handshakeFraming(4096);
  assert.equal(one.framing.encodeInto, sessionFraming(4096).encodeInto);
  const header = (length: number) =>
    new Uint8Array([length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255]);
  const first = one.framing.decoder();
  const second = two.framing.decoder();
  assert.notEqual(first, second);
  one.open(); // lifts the first one's limit only
  first.push(header(HANDSHAKE_LIMIT + 1));
  assert.equal(first.next(), undefined, "the first waits for its payload");
  second.push(header(HANDSHAKE_LIMIT + 1));
  assert.throws(() => second.next(), { name: "FrameTooLargeError" });
});

test("session framing: a handshake keeps its own session framing when another maxMessageSize is made meanwhile (two servers in one process, alternating)", () => {
  const header = (length: number) =>
    new Uint8Array([length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255]);
  const small = handshakeFraming(4096);
  const decoder = small.framing.decoder();
  const other = handshakeFraming(100_000); // another server's handshake: the last framing made
  assert.equal(sessionFraming(100_000).maxFrameLength, 100_000 + DATA_HEADER);
  small.open(); // lifts to 4096's limit, not to the last framing made
  decoder.push(header(4096 + DATA_HEADER + 1));
  assert.throws(() => decoder.next(), { name: "FrameTooLargeError" });
  assert.throws(() => small.framing.encode(new Uint8Array(4096 + DATA_HEADER + 1)), RangeError);
  const large = other.framing.decoder();
  other.open();
  large.push(header(100_000 + DATA_HEADER));
  assert.equal(large.next(), undefined, "the other waits for its payload");
  // Back to the first size: a framing with its limit again.
  assert.equal(sessionFraming(4096).maxFrameLength, 4096 + DATA_HEADER);
});

test(
  "session framing: sessions of two servers with different maxMessageSize in one process, made alternately, each keep their own limit",
  {
    timeout: 10_000,
  },
  async () => {
    const nets = [new MemoryNetwork(), new MemoryNetwork()];
    // On a fake clock: with a framing of the wrong size, a session that stalls ends the test at
    // once (nothing left to run) rather than reconnecting on real timers.
    const clock = new FakeClock();
    const small = { clock, maxMessageSize: 2048, ackDelay: 0 };
    const large = { clock, maxMessageSize: 64 * 1024, ackDelay: 0 };
    const listeners = nets.map((net) => net.listen());
    const servers = [reliableServer(listeners[0]!, large), reliableServer(listeners[1]!, small)];
    const clients: ReturnType<typeof reliableClient>[] = [];
    const big = new Uint8Array(10 * 1024).fill(7);
    try {
      // A large server's session, then a small one's (the last framing made), then each sends.
      const sessions: ReliableSession[] = [];
      for (const [i, options] of [large, small, large, small].entries()) {
        const client = reliableClient(nets[i % 2]!.dialer, options);
        clients.push(client);
        const [session] = await Promise.all([nextSession(servers[i % 2]!), client.send("hi")]);
        assert.deepEqual(await read(session, 1), ["hi"]);
        sessions.push(session);
      }
      for (const i of [0, 2]) {
        // Both ways, over a large session made before the small ones.
        const got = sessions[i]![Symbol.asyncIterator]().next();
        await clients[i]!.send(big);
        assert.deepEqual((await got).value, big, `session ${i}: client to server`);
        const back = clients[i]![Symbol.asyncIterator]().next();
        await sessions[i]!.send(big);
        assert.deepEqual((await back).value, big, `session ${i}: server to client`);
      }
      for (const i of [1, 3]) {
        await assert.rejects(sessions[i]!.send(new Uint8Array(2049)), RangeError, `session ${i}`);
      }
    } finally {
      for (const client of clients) await client.close({ timeout: 0 }).catch(() => {});
      for (const server of servers) await server.close({ timeout: 0 }).catch(() => {});
      for (const listener of listeners) listener.close();
    }
  },
);
