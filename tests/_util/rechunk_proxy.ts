// Copyright 2026 the framewire authors. MIT license.
// Test helper: a runtime-agnostic TCP proxy that forwards bytes both ways, cut at random
// points (seeded), so that framing code sees every kind of split.

import type { Conn, Listener, NetAddr } from "../../src/connection/types.ts";
import { mulberry32 } from "../../src/cli/_prng.ts";

/** Options for {@linkcode rechunkProxy}. */
export interface RechunkProxyOptions {
  /**
   * Seed of the PRNG that picks the cut points (each direction of each
   * connection gets its own stream derived from it).
   *
   * @default {1}
   */
  seed?: number;
  /**
   * The largest piece written downstream.
   *
   * @default {65536}
   */
  maxChunk?: number;
  /**
   * Probability that a piece is tiny (1 to 16 bytes), to split headers.
   *
   * @default {0.3}
   */
  tinyRatio?: number;
}

/** A running proxy. */
export interface RechunkProxy {
  /** The address clients connect to (the listener's). */
  readonly addr: NetAddr;
  /** Bytes forwarded so far, per direction. */
  readonly stats: { upstream: number; downstream: number; pieces: number };
  /** Stops accepting, closes every proxied connection and waits for the pumps to stop. */
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32); returns floats in [0, 1). */
export const prng: (seed: number) => () => number = mulberry32;

/**
 * Proxies every connection `listener` accepts to a connection made by `dial`,
 * re-chunking the bytes at random points in both directions. A FIN is
 * forwarded as a FIN (`closeWrite`); an error on either side closes both.
 *
 * @example
 * ```ts
 * const upstream = await listen({ hostname: "127.0.0.1", port: 0 });
 * const proxy = rechunkProxy(await listen({ hostname: "127.0.0.1", port: 0 }),
 *   () => connect({ port: portOf(upstream) }), { seed: 42 });
 * const client = await connect({ port: (proxy.addr as { port: number }).port });
 * // ... finally: client.close(); await proxy.close(); upstream.close();
 * ```
 */
export function rechunkProxy(
  listener: Listener,
  dial: () => Promise<Conn>,
  options: RechunkProxyOptions = {},
): RechunkProxy {
  const { seed = 1, maxChunk = 65536, tinyRatio = 0.3 } = options;
  const conns = new Set<Conn>();
  const pumps = new Set<Promise<void>>();
  const stats = { upstream: 0, downstream: 0, pieces: 0 };
  let count = 0;

  async function pump(
    from: Conn,
    to: Conn,
    random: () => number,
    dir: "upstream" | "downstream",
  ): Promise<void> {
    const reader = from.readable.getReader();
    const writer = to.writable.getWriter();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (let off = 0; off < value.byteLength;) {
          const size = random() < tinyRatio
            ? 1 + Math.floor(random() * 16)
            : 1 + Math.floor(random() * maxChunk);
          const piece = value.subarray(off, off + size);
          off += piece.byteLength;
          await writer.write(piece);
          stats[dir] += piece.byteLength;
          stats.pieces++;
        }
      }
      writer.releaseLock();
      await to.closeWrite();
    } catch {
      from.close();
      to.close();
    } finally {
      reader.releaseLock();
    }
  }

  function track(p: Promise<void>): void {
    pumps.add(p);
    p.finally(() => pumps.delete(p));
  }

  async function serve(client: Conn, n: number): Promise<void> {
    conns.add(client);
    let server: Conn;
    try {
      server = await dial();
    } catch {
      client.close();
      conns.delete(client);
      return;
    }
    conns.add(server);
    await Promise.all([
      pump(client, server, prng(seed * 1000 + n * 2), "upstream"),
      pump(server, client, prng(seed * 1000 + n * 2 + 1), "downstream"),
    ]);
    client.close();
    server.close();
    conns.delete(client);
    conns.delete(server);
  }

  const accepting = (async () => {
    for await (const client of listener) track(serve(client, count++));
  })();

  return {
    addr: listener.addr,
    stats,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
      await Promise.all(pumps);
    },
  };
}
