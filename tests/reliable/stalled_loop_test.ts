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
import type { ReliableClientOptions, ReliableSession } from "../../src/reliable/types.ts";
import { watchSockets } from "../_util/leaks.ts";
import { macrotask } from "../_util/macrotask.ts";
import { adapter, runtime } from "../_util/runtime.ts";
import { stallUntil } from "../_util/stall.ts";
import { startSuspendable, SUSPEND_TEST as OPTIONS } from "../_util/suspendable.ts";
import { outcome } from "./_helpers.ts";

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
        const closed = outcome(client.close({ timeout: 200 }));
        // Blocked from before the server's confirmation arrives until a little after the
        // close's deadline: the timer then fires a little late (under the 50 ms after which a
        // timer counts as overdue), with the confirmation unread. Before, the close rejected
        // with CONNECTION_TIMEOUT and "second" with CONNECTION_CLOSED.
        stallUntil(start + 215);
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

sockets.check();
