// Copyright 2026 the framewire authors. MIT license.
// The bun adapter against real loopback sockets; skips on other runtimes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { adapterSuite } from "./_suite.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

adapterSuite("bun");

interface PeerSocket {
  getPeerCertificate(): unknown;
}
interface ConnectOptions {
  socket: { handshake(socket: PeerSocket, ...rest: unknown[]): void };
}
const Bun = (globalThis as { Bun?: { connect(options: ConnectOptions): Promise<unknown> } }).Bun;

test(
  "bun adapter: connectTls() checks the certificate Bun reports against the name itself",
  { skip: Bun === undefined && "Bun only" },
  async () => {
    const { connectTls, listenTls } = await import("../../src/adapters/bun.ts");
    const fixture = (file: string): string =>
      readFileSync(new URL(`../fixtures/tls/${file}`, import.meta.url), "utf8");
    await using listener = await listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: fixture("localhost.crt"),
      key: fixture("localhost.key"),
    });
    const accepting = (async () => {
      for await (const conn of listener) conn.close();
    })().catch(() => {});
    // The certificate Bun reports after a successful handshake, replaced: Bun 1.4 itself refuses
    // a certificate for another name (Bun 1.3 does not), so on Bun 1.4 only a replaced one
    // reaches the adapter's own check. Before (review), nothing on Bun 1.4 tested that check.
    let peer: (() => unknown) | undefined;
    const connect = Bun!.connect;
    Bun!.connect = (options) => {
      const { handshake } = options.socket;
      options.socket.handshake = (socket, ...rest) => {
        const real = socket.getPeerCertificate.bind(socket);
        socket.getPeerCertificate = () => (peer ?? real)();
        handshake(socket, ...rest);
      };
      return connect.call(Bun, options);
    };
    const dial = () =>
      connectTls({
        hostname: "127.0.0.1",
        port: listener.addr.port,
        caCerts: [fixture("ca.crt")],
        serverName: "localhost",
      });
    const cannot = `Cannot connect to 127.0.0.1:${listener.addr.port} as`;
    try {
      // The real certificate: connects (the replacement itself breaks nothing).
      const conn = await dial();
      conn.close();
      await conn.closed;
      // Before, with no check of its own, the adapter took a certificate for another name.
      peer = () => ({ subject: { CN: "other.example" }, subjectaltname: "DNS:other.example" });
      await assert.rejects(dial(), {
        name: "ConnectionError",
        message: `${cannot} the server's certificate is not valid for the server name`,
      });
      // A certificate Bun cannot report is no certificate for the name.
      peer = () => {
        throw new Error("no certificate");
      };
      await assert.rejects(dial(), {
        name: "ConnectionError",
        message: `${cannot} it failed: no certificate`,
      });
      peer = () => ({});
      await assert.rejects(dial(), {
        name: "ConnectionError",
        message: `${cannot} the server's certificate is not valid for the server name`,
      });
    } finally {
      Bun!.connect = connect;
      listener.close();
      await accepting;
    }
  },
);

test(
  "bun adapter: connect() whose signal aborts as its host name's lookup fails rejects with the signal's reason",
  { skip: Bun === undefined && "Bun only" },
  async () => {
    const { connect } = await import("../../src/adapters/bun.ts");
    // A real signal, seen through a look-alike (which signal options take) that aborts it when
    // the adapter first looks at it after it began to listen to it, during the lookup: the
    // lookup has failed by then (its error taken, the listener not yet removed), so the abort
    // comes in the same turn as that failure. Before, the lookup's error came out, where an abort
    // rejects with the signal's reason everywhere else. The name has an empty label: it fails
    // without a query.
    const controller = new AbortController();
    const reason = new Error("mine");
    let listening = false;
    const signal = {
      get aborted(): boolean {
        if (listening) controller.abort(reason);
        return controller.signal.aborted;
      },
      get reason(): unknown {
        return controller.signal.reason;
      },
      addEventListener: (type: string, listener: () => void, options?: AddEventListenerOptions) => {
        listening = true;
        controller.signal.addEventListener(type, listener, options);
      },
      removeEventListener: (type: string, listener: () => void) =>
        controller.signal.removeEventListener(type, listener),
    } as unknown as AbortSignal;
    await assert.rejects(
      connect({ hostname: "framewire..invalid", port: 1, signal }),
      (error) => error === reason,
    );
    // Without the abort, the lookup's failure (so the name does fail to resolve).
    await assert.rejects(connect({ hostname: "framewire..invalid", port: 1 }), {
      name: "ConnectionError",
      message: "Cannot connect to framewire..invalid:1 as the host name could not be resolved",
    });
  },
);

sockets.check();
