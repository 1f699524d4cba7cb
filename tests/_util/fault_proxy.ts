// Copyright 2026 the framewire authors. MIT license.
// A fault-injecting TCP proxy on loopback, built on the current runtime's
// adapter: forwards each accepted connection to a target port and can cut it
// at byte N (either direction), drop every connection, black-hole traffic,
// delay it, refuse new connections, or switch target (a restarted server).

import type { Conn, Listener } from "../../src/connection/types.ts";
import type { Adapter } from "./runtime.ts";

/** Direction of travel through the proxy. */
export type ProxyDirection = "c2s" | "s2c";

/** Faults for one proxied connection. */
export interface ConnectionFaults {
  /**
   * Cut both sides once this many bytes went through in `direction`, or in
   * both directions together for `"any"` (the prefix is delivered).
   */
  cutAfter?: { direction: ProxyDirection | "any"; bytes: number };
  /** Discard everything in both directions, keeping the sockets open. */
  blackHole?: boolean;
}

/** Statistics of a proxy. */
export interface ProxyStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections cut by a `cutAfter` fault. */
  cut: number;
  /** Bytes forwarded per direction. */
  bytes: { c2s: number; s2c: number };
}

interface Pair {
  inbound: Conn;
  outbound: Conn | undefined;
  faults: ConnectionFaults;
  counts: { c2s: number; s2c: number };
  dead: boolean;
}

/** A running fault proxy. Start with {@linkcode FaultProxy.start}. */
export class FaultProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Where connections go; change it to point at a restarted server. */
  targetPort: number;
  /** Chooses the faults of the n-th accepted connection (0-based). */
  plan: ((index: number) => ConnectionFaults | undefined) | undefined;
  /** Counters. */
  readonly stats: ProxyStats = { accepted: 0, cut: 0, bytes: { c2s: 0, s2c: 0 } };
  #adapter: Adapter;
  #listener: Listener;
  #pairs = new Set<Pair>();
  #refusing = false;
  #blackHoled = false;
  #delay: Promise<void> | undefined;
  #accepting: Promise<void>;

  private constructor(adapter: Adapter, listener: Listener, targetPort: number) {
    this.#adapter = adapter;
    this.#listener = listener;
    this.targetPort = targetPort;
    this.port = (listener.addr as { port: number }).port;
    this.#accepting = this.#accept();
  }

  /** Listens on 127.0.0.1 (ephemeral port) and forwards to `targetPort`. */
  static async start(adapter: Adapter, targetPort: number): Promise<FaultProxy> {
    const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
    return new FaultProxy(adapter, listener, targetPort);
  }

  /** Connections currently proxied. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Closes every proxied connection (both sides). */
  killAll(): void {
    for (const pair of this.#pairs) this.#kill(pair);
  }

  /** While on, new connections are accepted and closed at once (a server that is down). */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** While on, every connection's traffic is discarded (sockets stay open). */
  blackHole(on: boolean): void {
    this.#blackHoled = on;
  }

  /** Holds all forwarding until `release` resolves (a stalled network). */
  delay(release: Promise<void>): void {
    this.#delay = release;
    release.then(() => {
      if (this.#delay === release) this.#delay = undefined;
    });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#listener.close();
    this.killAll();
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    try {
      for await (const inbound of this.#listener) {
        const index = this.stats.accepted++;
        if (this.#refusing) {
          inbound.close();
          continue;
        }
        const pair: Pair = {
          inbound,
          outbound: undefined,
          faults: this.plan?.(index) ?? {},
          counts: { c2s: 0, s2c: 0 },
          dead: false,
        };
        this.#pairs.add(pair);
        void this.#open(pair);
      }
    } catch {
      // listener closed
    }
  }

  async #open(pair: Pair): Promise<void> {
    try {
      pair.outbound = await this.#adapter.connect({ hostname: "127.0.0.1", port: this.targetPort });
    } catch {
      this.#kill(pair);
      return;
    }
    if (pair.dead) {
      pair.outbound.close();
      return;
    }
    await Promise.all([
      this.#pump(pair, pair.inbound, pair.outbound, "c2s"),
      this.#pump(pair, pair.outbound, pair.inbound, "s2c"),
    ]);
    this.#kill(pair);
  }

  async #pump(pair: Pair, from: Conn, to: Conn, direction: ProxyDirection): Promise<void> {
    const reader = from.readable.getReader();
    const writer = to.writable.getWriter();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || pair.dead) break;
        if (this.#delay !== undefined) await this.#delay;
        if (pair.dead) break;
        if (this.#blackHoled || pair.faults.blackHole) continue;
        let chunk = value;
        let cutNow = false;
        const cut = pair.faults.cutAfter;
        if (cut !== undefined && (cut.direction === direction || cut.direction === "any")) {
          const before = cut.direction === "any"
            ? pair.counts.c2s + pair.counts.s2c
            : pair.counts[direction];
          if (before + chunk.length >= cut.bytes) {
            chunk = chunk.subarray(0, Math.max(0, cut.bytes - before));
            cutNow = true;
          }
        }
        pair.counts[direction] += chunk.length;
        this.stats.bytes[direction] += chunk.length;
        if (chunk.length > 0) await writer.write(chunk);
        if (cutNow) {
          this.stats.cut++;
          break;
        }
      }
    } catch {
      // either side failed: the pair goes down
    } finally {
      this.#kill(pair);
      reader.releaseLock();
      writer.releaseLock();
    }
  }

  #kill(pair: Pair): void {
    if (pair.dead) return;
    pair.dead = true;
    this.#pairs.delete(pair);
    pair.inbound.close();
    pair.outbound?.close();
  }
}
