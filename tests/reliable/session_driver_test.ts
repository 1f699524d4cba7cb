// Copyright 2026 the framewire authors. MIT license.
// The session driver (_session.ts): what a mutation review of it found no test pinned.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import type { Conn } from "../../src/connection/types.ts";
import { MemoryNetwork } from "../_util/memory_conn.ts";
import { FakeClock, skewedClock } from "../_util/fake_clock.ts";
import { frame, Peer } from "./_clean_room_peer.ts";
import { drainJobs, nextSession, once, outcome, read, track } from "./_helpers.ts";

/** A server and a client over a new memory network; closes both and the listener after `body`. */
async function withPair(
  options: {
    server?: Parameters<typeof reliableServer>[1];
    client?: Parameters<typeof reliableClient>[1];
  },
  body: (pair: {
    net: MemoryNetwork;
    server: ReturnType<typeof reliableServer>;
    client: ReturnType<typeof reliableClient>;
  }) => Promise<void>,
): Promise<void> {
  const net = new MemoryNetwork();
  const listener = net.listen();
  const server = reliableServer(listener, options.server);
  const client = reliableClient(net.dialer, options.client);
  try {
    await body({ net, server, client });
  } finally {
    await client.close({ timeout: 0 }).catch(() => {});
    await server.close();
    listener.close();
  }
}

/**
 * A client on a new memory network whose server is driven by the test: `accept()` gives its next
 * connection as a clean-room peer. Closes the client, the peers and the listener after `body`.
 */
async function withDrivenServer(
  options: Parameters<typeof reliableClient>[1],
  body: (side: {
    net: MemoryNetwork;
    client: ReturnType<typeof reliableClient>;
    accept(): Promise<Peer>;
  }) => Promise<void>,
): Promise<void> {
  const net = new MemoryNetwork();
  const listener = net.listen();
  const accepted = listener[Symbol.asyncIterator]();
  const client = reliableClient(net.dialer, options);
  const peers: Peer[] = [];
  const accept = async (): Promise<Peer> => {
    const peer = new Peer((await accepted.next()).value as Conn);
    peers.push(peer);
    return peer;
  };
  try {
    await body({ net, client, accept });
  } finally {
    await client.close({ timeout: 0 }).catch(() => {});
    for (const peer of peers) await peer.close();
    listener.close();
  }
}

test("reliable: a receive queue read down to exactly receiveBufferSize does not read on", {
  timeout: 10000,
}, async () => {
  // A 1-byte message counts 65 bytes, a 36-byte one 100: both queued, 165 of 100, reading stops.
  await withPair(
    { server: { receiveBufferSize: 100, ackDelay: 0 } },
    async ({ net, server, client }) => {
      const big = "b".repeat(36);
      const [session] = await Promise.all([nextSession(server), client.send("a")]);
      await client.send(big); // confirmed, so taken, with nothing read: the queue is over
      const third = track(client.send("c"));
      await drainJobs(500);
      assert.equal(third.settled(), false, "not read while the queue is over receiveBufferSize");
      assert.deepEqual(await read(session, 1), ["a"]);
      // 100 bytes left: still full.
      await drainJobs(500);
      assert.equal(third.settled(), false, "read on with the queue exactly full");
      assert.deepEqual(await read(session, 2), [big, "c"]);
      await third.promise;
      assert.equal(net.links.length, 1);
    },
  );
});

test(
  "reliable: a client whose queue is full takes a WELCOME read with the replay behind it, then the replay once the application reads, on that connection",
  { timeout: 10000 },
  async () => {
    // The server here is a peer the test drives, which writes the WELCOME and the messages
    // behind it in one write: the client reads them as one batch (framewire's server writes
    // its replay only once the WELCOME is written).
    // A 36-byte message counts 100 bytes: one fills the queue. Not reading, the client notices
    // the cut when a write fails: its next heartbeat.
    const options = { receiveBufferSize: 100, ackDelay: 0, heartbeatInterval: 20 };
    await withDrivenServer(options, async ({ net, client, accept }) => {
      const big = "a".repeat(36);
      const first = await accept();
      const hello = await first.expect("HELLO");
      await first.send(frame.welcome(hello.id), frame.data(1, 0, big));
      assert.equal((await first.expect("ACK")).ack, 1);
      const resumed = once(client, "resumed");
      net.links[0]!.cut();
      const second = await accept();
      const again = await second.expect("HELLO");
      assert.equal(again.lastReceived, 1);
      await second.send(
        frame.welcome(hello.id, { lastReceived: 0 }),
        frame.data(2, 0, "b"),
        frame.data(3, 0, "c"),
      );
      await resumed;
      // Only the WELCOME is taken while the queue is full: the messages wait, unacknowledged.
      await drainJobs(500);
      const acks = second.received.flatMap((f) => f.type === "ACK" ? [f.ack] : []);
      assert.ok(acks.every((ack) => ack === 1), `acks ${acks}`);
      // The WELCOME fed again with the messages (a protocol error) would drop this connection.
      const dropped = once(client, "reconnecting").then(() => "dropped");
      assert.deepEqual(await Promise.race([read(client, 3), dropped]), [big, "b", "c"]);
      for (;;) {
        const got = await second.expect("ACK");
        if (got.ack === 3) break;
        assert.equal(got.ack, 1, "acks before the replay is taken");
      }
      assert.equal(net.links.length, 2);
    });
  },
);

test(
  "reliable: a connection a dial gives after its attempt timed out, or after the session closed, is closed",
  { timeout: 10000 },
  async () => {
    const clock = new FakeClock();
    const pending: ((conn: Conn) => void)[] = [];
    const client = reliableClient(
      () => new Promise<Conn>((resolve) => pending.push(resolve)),
      { clock, deadPeerTimeout: 3000 },
    );
    /** A stand-in for a connection: only whether it was closed counts. */
    const late = () => {
      const conn = { closed: false, close: () => void (conn.closed = true) };
      return conn;
    };
    try {
      const reconnecting = once(client, "reconnecting");
      clock.advance(3000); // the first attempt times out; the retry is immediate
      await reconnecting;
      await drainJobs();
      assert.equal(pending.length, 2);
      const first = late();
      pending[0]!(first as unknown as Conn);
      await drainJobs();
      assert.equal(first.closed, true, "the timed-out attempt's connection is left open");
      await client.close({ timeout: 0 }).catch(() => {});
      const second = late();
      pending[1]!(second as unknown as Conn);
      await drainJobs();
      assert.equal(second.closed, true, "the connection of a closed session is left open");
    } finally {
      await client.close({ timeout: 0 }).catch(() => {});
    }
  },
);

test(
  "reliable: a close({ timeout }) whose timer fires a little early times out after one grace turn, not a timer more",
  { timeout: 10000 },
  async () => {
    // The timer that gives up (here close()'s timeout) gives I/O a 0 ms turn first; fired early,
    // its due time is kept through that turn: else the machine found nothing due yet, and asked
    // for another timer.
    const clock = new FakeClock();
    let timers = 0;
    const early = skewedClock(clock, -0.5, () => timers++);
    const options = {
      clock: early,
      ackDelay: 0,
      heartbeatInterval: Infinity,
      deadPeerTimeout: 1e5,
    };
    await withDrivenServer(options, async ({ client, accept }) => {
      const peer = await accept();
      const hello = await peer.expect("HELLO");
      await peer.send(frame.welcome(hello.id));
      const sent = outcome(client.send("x")); // never confirmed
      await peer.expect("DATA");
      await drainJobs();
      let atClose: number | undefined;
      client.addEventListener("close", () => atClose = timers);
      const before = timers;
      const closing = outcome(client.close({ timeout: 1000 }));
      for (let ms = 0; ms < 1010 && atClose === undefined; ms++) {
        clock.advance(1);
        await drainJobs(10);
      }
      assert.notEqual(atClose, undefined, "close() timed out");
      // The timeout's, its grace turn, and the connection's linger (see #closeLinkGracefully).
      assert.equal(atClose! - before, 3, "timers set");
      assert.equal(await closing, "CONNECTION_TIMEOUT");
      assert.equal(await sent, "CONNECTION_CLOSED");
    });
  },
);
