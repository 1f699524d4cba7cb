// Copyright 2026 the framewire authors. MIT license.
// Soak: 20,000 messages each way through a real loopback TCP proxy that kills
// the connection at random points every few hundred messages. Zero lost, zero
// duplicated, order kept, on the runtime running the test.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import { FaultProxy } from "../_util/fault_proxy.ts";
import { adapter, portOf } from "../_util/runtime.ts";
import { nextSession } from "./_helpers.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const COUNT = 20_000;

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

/** Checks that `session` yields exactly `${prefix}0` … `${prefix}${COUNT - 1}`, in order. */
async function expectSequence(session: AsyncIterable<Uint8Array>, prefix: string): Promise<number> {
  const decoder = new TextDecoder();
  let next = 0;
  for await (const message of session) {
    const text = decoder.decode(message);
    if (text !== `${prefix}${next}`) {
      throw new assert.AssertionError({
        message: `expected ${prefix}${next}, received ${text} (a loss, duplicate or reordering)`,
        actual: text,
        expected: `${prefix}${next}`,
      });
    }
    next++;
    if (next === COUNT) break;
  }
  return next;
}

test(
  "reliable soak: 20,000 messages each way through a proxy that kills the connection every few hundred messages",
  {
    timeout: 60_000,
  },
  async () => {
    const net = await adapter();
    const random = prng(20_000);
    const listener = await net.listen({ hostname: "127.0.0.1", port: 0 });
    const server = reliableServer(listener);
    const proxy = await FaultProxy.start(net, portOf(listener));
    // Each connection is cut after 2–16 KiB (both directions together): with
    // ~30 bytes per message on the wire, every 70–550 messages.
    proxy.plan = () => ({
      cutAfter: { direction: "any", bytes: 2048 + Math.floor(random() * 14336) },
    });
    const client = reliableClient(() => net.connect({ hostname: "127.0.0.1", port: proxy.port }));
    try {
      const clientSends: Promise<void>[] = [];
      for (let i = 0; i < COUNT; i++) clientSends.push(client.send(`c${i}`));
      const session = await nextSession(server);
      const serverSends: Promise<void>[] = [];
      for (let i = 0; i < COUNT; i++) serverSends.push(session.send(`s${i}`));
      const [atServer, atClient] = await Promise.all([
        expectSequence(session, "c"),
        expectSequence(client, "s"),
      ]);
      assert.equal(atServer, COUNT);
      assert.equal(atClient, COUNT);
      await Promise.all(clientSends);
      await Promise.all(serverSends);
      await client.close();
      // Nothing more arrives after the last message: no duplicate at the end either.
      for await (const extra of session) {
        assert.fail(
          `unexpected message ${new TextDecoder().decode(extra)}`,
        );
      }
      assert.ok(proxy.stats.cut >= 20, `the proxy cut ${proxy.stats.cut} connections`);
      assert.equal(client.stats.reconnects, proxy.stats.accepted - 1);
      assert.equal(server.size, 0);
    } finally {
      await client.close({ timeout: 1000 }).catch(() => {});
      await server.close();
      await proxy.close();
      listener.close();
    }
  },
);

sockets.check();
