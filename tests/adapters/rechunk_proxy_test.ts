// Copyright 2026 the framewire authors. MIT license.
// The re-chunking test proxy (tests/_util/rechunk_proxy.ts) on the current runtime's adapter.

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Conn } from "../../src/connection/types.ts";
import { adapter, portOf, runtime } from "../_util/runtime.ts";
import { rechunkProxy } from "../_util/rechunk_proxy.ts";
import { accept, assertBytes, randomBytes, readAll } from "./_suite.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

test(`rechunkProxy (${runtime}) forwards both directions in random pieces and forwards FIN`, {
  timeout: 30_000,
}, async () => {
  const { connect, listen } = await adapter();
  const upstream = await listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = rechunkProxy(
    await listen({ hostname: "127.0.0.1", port: 0 }),
    () => connect({ port: portOf(upstream) }),
    { seed: 9 },
  );
  const conns: Conn[] = [];
  try {
    const accepted = accept(upstream);
    const client = await connect({ port: (proxy.addr as { port: number }).port });
    conns.push(client);
    const server = await accepted;
    conns.push(server);
    const data = randomBytes(2 << 20, 9);
    const echo = server.readable.pipeTo(server.writable);
    const writer = client.writable.getWriter();
    const [received] = await Promise.all([
      readAll(client.readable),
      writer.write(data).then(() => writer.close()),
      echo,
    ]);
    assertBytes(received, data);
    assert.equal(proxy.stats.upstream, data.byteLength);
    assert.equal(proxy.stats.downstream, data.byteLength);
    assert.ok(
      proxy.stats.pieces > 2 * (data.byteLength / 65536),
      `re-chunked (${proxy.stats.pieces} pieces)`,
    );
  } finally {
    for (const conn of conns) conn.close();
    await proxy.close();
    upstream.close();
  }
});

sockets.check();
