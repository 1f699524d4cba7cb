// Copyright 2026 the framewire authors. MIT license.
// Reliable sessions in a process whose event loop is blocked (a long synchronous computation, a
// GC pause) while the peer, in another process, goes on: what the peer sent meanwhile waits in
// the socket, and a timer that fell due during the stall fires before it is read. The stall is
// real (Atomics.wait), the peer a child process (tests/reliable/_suspend_child.ts); the
// assertions are about outcomes (a close that succeeds, no reconnect), never about time.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { reliableClient } from "../../src/reliable/reliable_client.ts";
import { reliableServer } from "../../src/reliable/reliable_server.ts";
import { OVERDUE_MS } from "../../src/reliable/_session.ts";
import type { Clock, ReliableClientOptions, ReliableSession } from "../../src/reliable/types.ts";
import { watchSockets } from "../_util/leaks.ts";
import { macrotask } from "../_util/macrotask.ts";
import { adapter, runtime } from "../_util/runtime.ts";
import { stallUntil } from "../_util/stall.ts";
import { startSuspendable, SUSPEND_TEST as OPTIONS } from "../_util/suspendable.ts";
import { nextSession, outcome } from "./_helpers.ts";

const sockets = watchSockets();
const CHILD = fileURLToPath(new URL("./_suspend_child.ts", import.meta.url));

/**
 * Runs `body` with a client (`options`) of a reliable server in a child on this runtime, which
 * heartbeats every 100 ms and confirms within its ackDelay (2 ms); `events` lists the client's
 * events as they come. Then the child closes and reports what it received and its stats.
 */
async function withChildServer(
  options: ReliableClientOptions,
  body: (client: ReliableSession, events: string[]) => Promise<void>,
): Promise<{ received: string[]; stats: ReliableSession["stats"]; dials: number }> {
  const { connect } = await adapter();
  const child = startSuspendable(runtime, CHILD, ["server", "0", "100", "60000"]);
  try {
    const port = Number((await child.waitFor(/^PORT (\d+)$/m))[1]);
    let dials = 0;
    const client = reliableClient((signal) => {
      dials++;
      return connect({ hostname: "127.0.0.1", port, signal });
    }, options);
    const events: string[] = [];
    for (const type of ["open", "reconnecting", "resumed", "sessionlost"]) {
      client.addEventListener(type, () => events.push(type));
    }
    try {
      await body(client, events);
    } finally {
      await client.close({ timeout: 0 }).catch(() => {});
    }
    child.end("close");
    const done = JSON.parse((await child.waitFor(/^DONE (.*)$/m))[1]!);
    return { ...done, dials };
  } finally {
    await child.kill();
  }
}

test(
  `reliable: a ${runtime} client whose event loop is blocked past its close timeout, while the server confirmed everything, closes cleanly`,
  OPTIONS,
  async () => {
    // The client's own heartbeat is far off: the close's deadline is its next timer.
    const done = await withChildServer(
      { heartbeatInterval: 10_000, deadPeerTimeout: 60_000 },
      async (client, events) => {
        await client.send("first");
        const sent = outcome(client.send("second"));
        await macrotask(); // "second" is on its way
        const start = performance.now();
        const closed = outcome(client.close({ timeout: 1000 }));
        // Blocked from before the server's confirmation arrives until a little after the
        // close's deadline (1 s: room for a loaded machine's child to confirm meanwhile): the timer then fires a little late (under the 50 ms after which a
        // timer counts as overdue), with the confirmation unread. Before, the close rejected
        // with CONNECTION_TIMEOUT and "second" with CONNECTION_CLOSED.
        stallUntil(start + 1015);
        assert.deepEqual([await sent, await closed], ["ok", "ok"]);
        assert.deepEqual(events, ["open"]);
      },
    );
    assert.deepEqual(done.received, ["first", "second"]);
  },
);

test(
  `reliable: a ${runtime} client whose event loop is blocked past its deadPeerTimeout, while the server kept sending, keeps its connection`,
  OPTIONS,
  async () => {
    // The server heartbeats every 100 ms; the client gives it up after 300 ms of silence, and
    // is blocked for 700 ms: it wakes with its timers long overdue and the heartbeats unread.
    const done = await withChildServer(
      { heartbeatInterval: 100, deadPeerTimeout: 300 },
      async (client, events) => {
        await client.send("before");
        stallUntil(performance.now() + 700);
        await client.send("after");
        assert.equal(await outcome(client.close()), "ok");
        assert.deepEqual(events, ["open"]);
        assert.equal(client.stats.reconnects, 0);
      },
    );
    assert.deepEqual(done.received, ["before", "after"]);
    assert.deepEqual([done.dials, done.stats.reconnects], [1, 0]);
  },
);

/**
 * The global timers and performance.now(), and a promise of the first timer of `ms` to have fired
 * (its callback returned) since `next` was called.
 */
function watchedClock(): { clock: Clock; next(ms: number): Promise<void> } {
  const waiting: { ms: number; resolve: () => void }[] = [];
  return {
    clock: {
      now: () => performance.now(),
      setTimeout: (callback, ms) =>
        setTimeout(() => {
          callback();
          for (const w of waiting.filter((w) => w.ms === ms)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.resolve();
          }
        }, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    },
    next: (ms) => new Promise((resolve) => waiting.push({ ms, resolve })),
  };
}

test(
  `reliable: a ${runtime} client and its server in one process whose event loop is blocked past deadPeerTimeout keep their connection`,
  OPTIONS,
  async () => {
    // As both ends on a laptop that slept: each wakes with its dead-peer check long overdue and
    // gives the I/O that waits 50 ms (OVERDUE_MS), but the other said nothing while blocked.
    // Before, each took that silence, its own, for the other's death: both dropped the
    // connection, and the client reconnected (and resumed). Now each sends its heartbeat at
    // once, and reads the other's before it judges.
    const { connect, listen } = await adapter();
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as { port: number }).port;
    const timing = { heartbeatInterval: 100, deadPeerTimeout: 300 };
    const onServer = watchedClock();
    const onClient = watchedClock();
    const server = reliableServer(listener, { ...timing, clock: onServer.clock });
    const client = reliableClient(
      (signal) => connect({ hostname: "127.0.0.1", port, signal }),
      { ...timing, clock: onClient.clock },
    );
    const seen: string[] = [];
    try {
      const [session] = await Promise.all([nextSession(server), client.send("before")]);
      for (const [side, s] of [["client", client], ["server", session]] as const) {
        for (const type of ["reconnecting", "resumed", "sessionlost", "close"]) {
          s.addEventListener(type, () => seen.push(`${side} ${type}`));
        }
      }
      // Both checks, once overdue, are judged when their grace timer fires.
      const judged = Promise.all([onServer.next(OVERDUE_MS), onClient.next(OVERDUE_MS)]);
      stallUntil(performance.now() + 700);
      await judged;
      assert.deepEqual([...seen], []); // (a copy: deepEqual would narrow `seen` to never[])
      assert.equal(await outcome(client.send("after")), "ok");
      assert.equal(await outcome(client.close()), "ok");
      assert.deepEqual(seen.filter((e) => !e.endsWith(" close")), [], "no reconnect");
      assert.equal(client.stats.reconnects, 0);
    } finally {
      await client.close({ timeout: 0 }).catch(() => {});
      await server.close({ timeout: 0 });
      listener.close();
    }
  },
);

sockets.check();
