// Copyright 2026 the framewire authors. MIT license.
// Kill the connection at every byte offset of a short exchange, in both
// directions: every message is delivered exactly once, in order, and both
// ends close cleanly.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import { type CutMode, type Direction, MemoryNetwork } from "../_util/memory_conn.ts";
import { nextSession, read, readAll } from "./_helpers.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const FROM_CLIENT = ["a1", "a2", "a3"];
const FROM_SERVER = ["b1", "b2", "b3"];

interface Run {
  bytes: { c2s: number; s2c: number };
  links: number;
}

/** One exchange; the first connection is cut after `offset` bytes in `direction`. */
async function exchange(
  cut?: { direction: Direction; offset: number; mode: CutMode },
): Promise<Run> {
  const net = new MemoryNetwork();
  net.onLink = (link, index) => {
    if (index === 0 && cut !== undefined) link.cutAfter(cut.direction, cut.offset, cut.mode);
  };
  const listener = net.listen();
  const server = reliableServer(listener);
  const client = reliableClient(net.dialer);
  const where = cut === undefined
    ? "clean run"
    : `cut ${cut.direction} at byte ${cut.offset} (${cut.mode})`;
  try {
    const clientSends = Promise.all(FROM_CLIENT.map((m) => client.send(m)));
    const session = await nextSession(server);
    const serverSends = Promise.all(FROM_SERVER.map((m) => session.send(m)));
    const serverGot = readAll(session);
    assert.deepEqual(await read(client, 3), FROM_SERVER, where);
    await clientSends;
    await serverSends;
    await client.close();
    assert.deepEqual(await serverGot, FROM_CLIENT, where);
    assert.deepEqual(await readAll(client), [], where);
    assert.equal(client.state, "closed", where);
    assert.equal(session.state, "closed", where);
    assert.equal(server.size, 0, where);
    return { bytes: net.links[0]!.bytes, links: net.links.length };
  } finally {
    await client.close().catch(() => {});
    await server.close();
    listener.close();
  }
}

test("reliable: a cut at every byte offset, both directions: exactly once, in order", {
  timeout: 60000,
}, async () => {
  const clean = await exchange();
  assert.equal(clean.links, 1);
  let reconnected = 0;
  for (const direction of ["c2s", "s2c"] as const) {
    // A few bytes past the clean run's total: timing may add an ACK or two.
    const total = clean.bytes[direction] + 30;
    for (let offset = 0; offset <= total; offset++) {
      const run = await exchange({ direction, offset, mode: offset % 2 === 0 ? "eof" : "reset" });
      if (run.links > 1) reconnected++;
    }
  }
  // Nearly every offset must have cut something and forced a reconnect.
  assert.ok(
    reconnected >= clean.bytes.c2s + clean.bytes.s2c - 4,
    `reconnected in ${reconnected} runs`,
  );
});

sockets.check();
