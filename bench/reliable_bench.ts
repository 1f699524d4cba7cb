// Copyright 2026 the framewire authors. MIT license.
/**
 * Reliable sessions against a plain `framed()` connection, loopback TCP
 * (127.0.0.1), sender and receiver in one process, measured in the same run:
 *
 *     deno run -A bench/reliable_bench.ts      bun bench/reliable_bench.ts      node bench/reliable_bench.ts
 *
 * For 64 B and 4 KiB messages:
 *
 * - framed(): the current runtime's adapter and `framed(conn,
 *   lengthPrefixed())` on both ends; the client calls `send()` for every
 *   message without awaiting (then awaits the last); the server takes frames
 *   with `for await`.
 * - reliable: `reliableClient` / `reliableServer` over the same adapter; the
 *   client calls `send()` for every message without awaiting, then awaits all
 *   of them (each resolves on the server's confirmation); the server session
 *   takes messages with `for await`. Includes the handshake, ids, acks and
 *   the bounded send buffer (default options).
 * - reliable, awaited every 4096: the same, but the client awaits its latest
 *   send after every 4096 messages (sends are confirmed in order), so the
 *   session drains every 4096 and at most 4096 are pending: what a sender
 *   that bounds its unconfirmed sends pays, without the heap of 100,000
 *   pending promises and message copies.
 * - reliable, awaited every 4096, one signal: the same, every send given the
 *   same `AbortSignal` (an application's shutdown signal), which never
 *   fires: what watching a signal costs a session.
 *
 * One warm-up transfer per case, then rounds alternating between the cases;
 * medians with min–max. The overhead column is how much lower the reliable
 * session's message rate is than framed()'s. Results go to
 * `bench/results/reliable-<runtime>.json`. `--quick` runs smaller transfers.
 *
 * @module
 */

import { type Conn, framed, lengthPrefixed, type Listener } from "../mod.ts";
import { reliableClient, reliableServer } from "../src/reliable/mod.ts";
import {
  args,
  type Case,
  measureGroup,
  payload,
  printGroup,
  type Result,
  resultHeader,
  runtimeName,
  sizeLabel,
  writeResults,
} from "./_common.ts";

const quick = args().includes("--quick");
const runtime = runtimeName();

interface Adapter {
  connect(options: { hostname?: string; port: number }): Promise<Conn>;
  listen(options: { hostname?: string; port: number }): Promise<Listener>;
}
const adapter = await import(`../src/adapters/${runtime}.ts`) as Adapter;
const framing = lengthPrefixed();

const SIZES: [number, number][] = quick
  ? [[64, 20_000], [4096, 2_000]]
  : [[64, 100_000], [4096, 10_000]];

function portOf(listener: Listener): number {
  return (listener.addr as { port: number }).port;
}

function framedCase(size: number, count: number): Case {
  const body = payload(size);
  return {
    name: "framed()",
    note: `${runtime} adapter, send() per message unawaited, receiver for await`,
    frames: count,
    bytes: count * size,
    async run(): Promise<number> {
      const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener[Symbol.asyncIterator]().next();
      const client = await adapter.connect({ hostname: "127.0.0.1", port: portOf(listener) });
      const server = (await accepted).value as Conn;
      const tx = framed(client, framing);
      const rx = framed(server, framing);
      try {
        const got = (async () => {
          let n = 0;
          for await (const _ of rx) if (++n === count) break;
          return n;
        })();
        let last: Promise<void> = Promise.resolve();
        for (let i = 0; i < count; i++) last = tx.send(body);
        await last;
        return await got;
      } finally {
        await tx.close();
        await rx.close();
        listener.close();
      }
    },
  };
}

/** Sends the bounded case makes before it waits for the latest one to be confirmed. */
const WINDOW = 4096;

/**
 * `window`: undefined sends every message before awaiting any (all of them
 * pending at once); a number awaits the latest send after every `window`
 * messages, so at most that many are pending.
 */
function reliableCase(size: number, count: number, window?: number, signal?: AbortSignal): Case {
  const body = payload(size);
  const options = signal === undefined ? undefined : { signal };
  return {
    name: window === undefined
      ? "reliable"
      : `reliable, awaited every ${window}${signal === undefined ? "" : ", one signal"}`,
    note: window === undefined
      ? `${runtime} adapter, reliableClient send() per message unawaited, all awaited (confirmed)`
      : `${runtime} adapter, reliableClient send() per message, the latest awaited after every ${window}`,
    frames: count,
    bytes: count * size,
    async run(): Promise<number> {
      const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
      const port = portOf(listener);
      const server = reliableServer(listener);
      const client = reliableClient(() => adapter.connect({ hostname: "127.0.0.1", port }));
      try {
        const got = (async () => {
          const { value: session } = await server[Symbol.asyncIterator]().next();
          let n = 0;
          for await (const _ of session!) if (++n === count) break;
          return n;
        })();
        if (window === undefined) {
          const sends: Promise<void>[] = new Array(count);
          for (let i = 0; i < count; i++) sends[i] = client.send(body);
          await Promise.all(sends);
        } else {
          // Sends are confirmed in order: the latest resolving means all before it did. (A failed
          // send that is not awaited ends the process as an unhandled rejection, with its error:
          // a handler per send would add a promise reaction per message to what is measured.)
          let latest: Promise<void> = Promise.resolve();
          for (let i = 1; i <= count; i++) {
            latest = client.send(body, options);
            if (i % window === 0) await latest;
          }
          await latest;
        }
        return await got;
      } finally {
        await client.close();
        await server.close();
        listener.close();
      }
    },
  };
}

const results: Result[] = [];
const summary: {
  size: number;
  framedPerSec: number;
  reliablePerSec: number;
  overheadPercent: number;
  reliableWindowedPerSec: number;
  windowedOverheadPercent: number;
  reliableSignalPerSec: number;
  signalOverheadPercent: number;
}[] = [];
const shutdown = new AbortController();
for (const [size, count] of SIZES) {
  const group = `${sizeLabel(size)} messages, ${count} per transfer`;
  const measured = await measureGroup(group, [
    framedCase(size, count),
    reliableCase(size, count),
    reliableCase(size, count, WINDOW),
    reliableCase(size, count, WINDOW, shutdown.signal),
  ], {
    warmupMs: 0,
    rounds: quick ? 2 : 5,
    roundMs: 0,
  });
  printGroup(`${runtime}: ${group}`, measured, "framed()");
  const [plain, rel, windowed, signalled] = measured as [Result, Result, Result, Result];
  const overhead = (r: Result): number =>
    Number(((1 - r.framesPerSec.median / plain.framesPerSec.median) * 100).toFixed(1));
  console.log(
    `reliable overhead at ${sizeLabel(size)}: ${overhead(rel)}% fewer messages/s than framed(); ${
      overhead(windowed)
    }% awaiting every ${WINDOW}; ${overhead(signalled)}% with one signal for every send (${
      (signalled.framesPerSec.median / windowed.framesPerSec.median).toFixed(2)
    }× the rate without)`,
  );
  summary.push({
    size,
    framedPerSec: plain.framesPerSec.median,
    reliablePerSec: rel.framesPerSec.median,
    overheadPercent: overhead(rel),
    reliableWindowedPerSec: windowed.framesPerSec.median,
    windowedOverheadPercent: overhead(windowed),
    reliableSignalPerSec: signalled.framesPerSec.median,
    signalOverheadPercent: overhead(signalled),
  });
  results.push(...measured);
}
const file = writeResults(`reliable-${runtime}.json`, {
  ...resultHeader("reliable"),
  quick,
  summary,
  results,
});
console.log(`\nwrote ${file}`);
