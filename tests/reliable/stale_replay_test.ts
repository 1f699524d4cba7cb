// Copyright 2026 the framewire authors. MIT license.
// A reliable server that finds its client's abandoned connections waiting in its listener (its
// process was stopped, or its event loop blocked, while the client retried): each holds a HELLO,
// then the client's end. Real loopback sockets; the server's listener is held shut while the
// client retries (as a stopped process leaves its backlog), then opened at once. What is asserted
// is what the server wrote to each connection, and delivery; not how long anything took.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient } from "../../src/reliable/reliable_client.ts";
import { reliableServer } from "../../src/reliable/reliable_server.ts";
import type { Conn } from "../../src/connection/types.ts";
import type { ReliableSession } from "../../src/reliable/types.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import { DATA } from "../../src/reliable/_protocol.ts";
import { watchSockets } from "../_util/leaks.ts";
import { withWritable } from "../fixtures/types/optional_members.ts";
import { adapter, portOf } from "../_util/runtime.ts";
import { events, nextSession, once } from "./_helpers.ts";

const sockets = watchSockets();

/** Messages the server holds unconfirmed when its listener opens. */
const N = 2000;

/** A server-side connection whose written DATA frames are counted. */
interface Counted {
  conn: Conn;
  /** DATA frames in the writes that went through. */
  data: number;
}

function counted(conn: Conn): Counted {
  const out: Counted = { conn, data: 0 };
  const decoder = lengthPrefixed({ maxFrameLength: Infinity }).decoder();
  const writer = conn.writable.getWriter();
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      await writer.write(chunk);
      decoder.push(chunk.slice());
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
        if (f[0] === DATA) out.data++;
      }
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
  out.conn = withWritable(conn, writable);
  return out;
}

test(
  "reliable: a server that finds its client's abandoned retries in its listener replays to the live connection, not to each of them",
  { timeout: 30_000 },
  async () => {
    const net = await adapter();
    const listener = await net.listen({ hostname: "127.0.0.1", port: 0 });
    const port = portOf(listener);
    let gate: Promise<void> = Promise.resolve();
    let openGate = (): void => {};
    const accepted: Counted[] = [];
    const inner = listener[Symbol.asyncIterator]();
    const gated: AsyncIterable<Conn> = {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<Conn>> {
          const result = await inner.next();
          if (result.done) return result;
          await gate;
          const c = counted(result.value);
          accepted.push(c);
          return { value: c.conn, done: false };
        },
        return: () => inner.return?.() ?? Promise.resolve({ value: undefined, done: true }),
      }),
    };
    const server = reliableServer(gated, { heartbeatInterval: 50, deadPeerTimeout: 5000 });
    /** The client's connections, in the order it made them. */
    const dialed: Conn[] = [];
    let client: ReliableSession | undefined;
    try {
      client = reliableClient(async (signal) => {
        const conn = await net.connect({ hostname: "127.0.0.1", port, signal });
        dialed.push(conn);
        return conn;
      }, {
        heartbeatInterval: 50,
        deadPeerTimeout: 500,
        reconnect: { base: 300, factor: 1, cap: 300, jitter: 0 },
      });
      const session = await nextSession(server);
      await client.send("hello");
      const received: string[] = [];
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const m of client!) {
          received.push(decoder.decode(m));
          if (received.length === N) return;
        }
      })();
      // Shut the listener, cut the link: the client retries into the backlog.
      gate = new Promise((resolve) => openGate = resolve);
      const serverWaits = once(session, "reconnecting");
      const retries = events<{ attempt: number }>(client, "reconnecting");
      dialed[0]!.close();
      await serverWaits;
      const sent: Promise<void>[] = [];
      for (let i = 1; i <= N; i++) sent.push(session.send(`s${i}`));
      // Three attempts whose handshake timed out: abandoned, each with its HELLO unanswered.
      for (;;) {
        const { detail } = await retries.next();
        if (detail.attempt >= 4) break;
      }
      // The client waits out a backoff delay: every connection after the first is abandoned.
      const stale = dialed.length - 1;
      openGate();
      await Promise.all(sent);
      await reading;
      assert.deepEqual(received, Array.from({ length: N }, (_, i) => `s${i + 1}`));
      const perConn = accepted.map((c) => c.data);
      const why = `DATA frames written per connection: ${perConn.join(", ")}`;
      assert.equal(accepted.length, dialed.length, why);
      // None to the abandoned connections. Before, each was sent the WELCOME and the replay in
      // one write: 699 DATA frames of the 2,000 reached each of them, on every runtime.
      assert.deepEqual(perConn.slice(1, 1 + stale), perConn.slice(1, 1 + stale).map(() => 0), why);
      assert.ok(perConn.slice(1 + stale).some((n) => n >= N), why);
    } finally {
      await client?.close({ timeout: 0 }).catch(() => {});
      await server.close({ timeout: 0 });
      listener.close();
    }
  },
);

sockets.check();
