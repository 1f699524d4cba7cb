// Copyright 2026 the framewire authors. MIT license.
// A reconnect storm at a small scale: 50 clients on the memory network and one FakeClock, then
// every link dropped at once (the server keeps its sessions: all resume), or the server process
// dies and a new one starts (it knows none: all lose their session and start afresh).
// Deterministic and bounded: no sockets, no real timers. The same storm with hundreds of clients
// over loopback TCP, per runtime, is measured by hand (see the commit that added this file).

import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../../src/cli/_prng.ts";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import type {
  ReliableServer,
  ReliableSession,
  SessionLostDetail,
} from "../../src/reliable/types.ts";
import { FakeClock } from "../_util/fake_clock.ts";
import { type MemoryListener, MemoryNetwork } from "../_util/memory_conn.ts";
import { drainJobs } from "./_helpers.ts";

const CLIENTS = 50;
const decoder = new TextDecoder();

interface Peer {
  index: number;
  session: ReliableSession;
  /** Echoes received, as strings. */
  echoes: string[];
  /** Outcome of each send, by payload: "ok" or the error's code; absent while pending. */
  outcomes: Map<string, string>;
  lost: SessionLostDetail[];
  resumed: number;
}

/** What one server saw: the messages of each client (by the index in its payloads), in order. */
interface ServerLog {
  server: ReliableServer;
  listener: MemoryListener;
  clock: FakeClock;
  /** Sessions the server yielded that carried messages, per client index (their first's). */
  sessions: Map<number, number>;
  received: Map<number, string[]>;
}

/** Runs a server on `net` that echoes every message and logs what it got, per client. */
function startServer(net: MemoryNetwork, clock: FakeClock): ServerLog {
  const listener = net.listen();
  const server = reliableServer(listener, { clock, maxSessions: CLIENTS });
  const log: ServerLog = { server, listener, clock, sessions: new Map(), received: new Map() };
  (async () => {
    for await (const session of server) {
      (async () => {
        let first = true;
        for await (const message of session) {
          const text = decoder.decode(message);
          const index = Number(text.split(":")[0]);
          // Counted per session, not per client: a second session of the same client counts.
          if (first) log.sessions.set(index, (log.sessions.get(index) ?? 0) + 1);
          first = false;
          const list = log.received.get(index) ?? [];
          list.push(text);
          log.received.set(index, list);
          session.send(message).catch(() => {});
        }
      })().catch(() => {});
    }
  })();
  return log;
}

function startClients(net: MemoryNetwork, clock: FakeClock): Peer[] {
  const random = mulberry32(79);
  return Array.from({ length: CLIENTS }, (_, index) => {
    const session = reliableClient(net.dialer, { clock, reconnect: { random } });
    const peer: Peer = { index, session, echoes: [], outcomes: new Map(), lost: [], resumed: 0 };
    session.addEventListener("sessionlost", (event) => peer.lost.push(event.detail));
    session.addEventListener("resumed", () => peer.resumed++);
    (async () => {
      for await (const message of session) peer.echoes.push(decoder.decode(message));
    })().catch(() => {});
    return peer;
  });
}

/** Sends `${index}:${n}` for each n in [from, to) from every client, not awaited. */
function sendRange(peers: Peer[], from: number, to: number): void {
  for (const peer of peers) {
    for (let n = from; n < to; n++) {
      const payload = `${peer.index}:${n}`;
      peer.session.send(payload).then(
        () => peer.outcomes.set(payload, "ok"),
        (error) => peer.outcomes.set(payload, String(error?.code ?? error)),
      );
    }
  }
}

function range(index: number, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, k) => `${index}:${from + k}`);
}

/**
 * Lets the network run and `clocks` advance 1 ms at a time until `done()`; fails after 20 s of
 * virtual time (a client stuck reconnecting, a message never confirmed).
 */
async function runUntil(clocks: FakeClock[], done: () => boolean, what: string): Promise<void> {
  for (let ms = 0; ms < 20_000; ms++) {
    await drainJobs(30);
    if (done()) return;
    for (const clock of clocks) clock.advance(1);
  }
  assert.fail(`not within 20 s of virtual time: ${what}`);
}

const allOpen = (peers: Peer[]) => () => peers.every((p) => p.session.state === "open");
const allSettled = (peers: Peer[], sent: number) => () =>
  peers.every((p) => p.outcomes.size === sent);

async function closeAll(peers: Peer[], servers: ServerLog[], clocks: FakeClock[]): Promise<void> {
  const closing = Promise.allSettled(peers.map((p) => p.session.close({ timeout: 1000 })));
  let done = false;
  closing.then(() => (done = true));
  await runUntil(clocks, () => done, "clients closed");
  for (const log of servers) {
    const closed = log.server.close({ timeout: 0 });
    let serverDone = false;
    closed.then(() => (serverDone = true));
    await runUntil([log.clock], () => serverDone, "server closed");
    log.listener.close();
  }
}

test(
  "reliable storm: 50 clients whose links all reset at once resume; each message arrives exactly once, in order, both ways",
  { timeout: 30_000 },
  async () => {
    const net = new MemoryNetwork();
    const clock = new FakeClock();
    const log = startServer(net, clock);
    const peers = startClients(net, clock);
    try {
      await runUntil([clock], allOpen(peers), "all open");
      sendRange(peers, 0, 5);
      await runUntil([clock], allSettled(peers, 5), "first messages confirmed");
      // More messages, which reach the server but whose confirmations (and echoes) vanish on the
      // way back: then every link resets at once.
      for (const link of net.links) link.blackHole("s2c");
      sendRange(peers, 5, 10);
      await drainJobs(200);
      assert.ok(peers.every((p) => p.session.stats.inFlight > 0), "messages in flight at the cut");
      const dials = net.dials;
      net.cutAll("reset");
      sendRange(peers, 10, 15); // while the links are down
      await runUntil(
        [clock],
        () => allSettled(peers, 15)() && allOpen(peers)() && peers.every((p) => p.resumed === 1),
        "all resumed and confirmed",
      );
      // The first retry after a lost connection is immediate, and the server keeps the
      // sessions: one dial each, no session refused at maxSessions, none lost.
      assert.equal(net.dials - dials, CLIENTS);
      assert.equal(log.server.size, CLIENTS);
      for (const peer of peers) {
        assert.deepEqual(peer.lost, [], `client ${peer.index}: no sessionlost`);
        assert.deepEqual([...peer.outcomes.values()], Array(15).fill("ok"));
        assert.deepEqual(log.received.get(peer.index), range(peer.index, 0, 15));
        assert.equal(log.sessions.get(peer.index), 1);
        assert.equal(peer.session.stats.reconnects, 1);
      }
      await runUntil([clock], () => peers.every((p) => p.echoes.length === 15), "echoes");
      for (const peer of peers) assert.deepEqual(peer.echoes, range(peer.index, 0, 15));
    } finally {
      await closeAll(peers, [log], [clock]);
    }
    assert.equal(log.server.size, 0);
    assert.ok(peers.every((p) => p.session.state === "closed"));
  },
);

test(
  "reliable storm: 50 clients of a server that dies and restarts all lose their session, are told exactly which messages are in doubt and which never left, and go on afresh",
  { timeout: 30_000 },
  async () => {
    const net = new MemoryNetwork();
    const clock = new FakeClock();
    // The first server's own clock: once its process dies, its timers never fire again.
    const oldClock = new FakeClock();
    const old = startServer(net, oldClock);
    const peers = startClients(net, clock);
    const both = [clock, oldClock];
    let fresh: ServerLog | undefined;
    try {
      await runUntil(both, allOpen(peers), "all open");
      sendRange(peers, 0, 5);
      await runUntil(both, allSettled(peers, 5), "first messages confirmed");
      // Messages that reach the first server, unconfirmed when it dies: in doubt.
      for (const link of net.links) link.blackHole("s2c");
      sendRange(peers, 5, 8);
      await drainJobs(200);
      for (const peer of peers) {
        assert.deepEqual(old.received.get(peer.index), range(peer.index, 0, 8));
      }
      old.listener.close(); // the process dies: nothing listens, every connection resets
      net.cutAll("reset");
      // Every client finds nobody listening (its immediate retries are refused) and backs off.
      await runUntil([clock], () => net.dials >= 3 * CLIENTS, "clients backing off");
      assert.ok(peers.every((p) => p.session.state === "reconnecting"));
      sendRange(peers, 8, 10); // while no server runs: they never leave
      fresh = startServer(net, clock);
      const f = fresh;
      await runUntil(
        [clock],
        () =>
          allOpen(peers)() && peers.every((p) => p.lost.length === 1) && allSettled(peers, 10)(),
        "all recovered from the restart",
      );
      for (const peer of peers) {
        const [detail] = peer.lost;
        const text = (list: Uint8Array[]) => list.map((b) => decoder.decode(b));
        assert.deepEqual(text(detail!.unknown), range(peer.index, 5, 8), `client ${peer.index}`);
        assert.deepEqual(text(detail!.unsent), range(peer.index, 8, 10), `client ${peer.index}`);
        const outcomes = [...peer.outcomes].map(([payload, outcome]) => `${payload} ${outcome}`);
        assert.deepEqual(outcomes, [
          ...range(peer.index, 0, 5).map((p) => `${p} ok`),
          ...range(peer.index, 5, 10).map((p) => `${p} SESSION_LOST`),
        ]);
      }
      assert.equal(f.server.size, CLIENTS);
      // The fresh sessions work: each message once, in order, on one session per client.
      sendRange(peers, 10, 20);
      await runUntil(
        [clock],
        () => allSettled(peers, 20)() && peers.every((p) => p.echoes.length === 15),
        "fresh sessions confirmed and echoed",
      );
      for (const peer of peers) {
        assert.deepEqual([...peer.outcomes.values()].slice(10), Array(10).fill("ok"));
        assert.deepEqual(f.received.get(peer.index), range(peer.index, 10, 20));
        assert.equal(f.sessions.get(peer.index), 1);
        // Echoes of the first server (0..4; those of 5..7 vanished), then of the fresh one.
        const echoes = peer.echoes;
        assert.deepEqual(echoes.slice(-10), range(peer.index, 10, 20));
        assert.deepEqual(echoes.slice(0, -10), range(peer.index, 0, echoes.length - 10));
      }
    } finally {
      await closeAll(peers, fresh === undefined ? [old] : [fresh, old], both);
    }
    assert.equal(fresh.server.size, 0);
    assert.ok(peers.every((p) => p.session.state === "closed"));
  },
);
