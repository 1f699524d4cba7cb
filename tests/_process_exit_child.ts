// Copyright 2026 the framewire authors. MIT license.
// Child of process_exit_test.ts: `<case> <adapter>` opens what the case names with that adapter
// (deno, bun or node), uses it, closes everything it opened, prints "done" and falls off its end,
// without calling exit: the process must then end by itself, with code 0. Anything framewire left
// running (a timer, a ref'd socket, a pending operation) keeps it alive.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { framed } from "../src/connection/framed.ts";
import type { Conn, Listener } from "../src/connection/types.ts";
import { lengthPrefixed } from "../src/framing/length_prefixed.ts";
import { reliableClient } from "../src/reliable/reliable_client.ts";
import { reliableServer } from "../src/reliable/reliable_server.ts";
import { run } from "../src/cli/_run.ts";
import { runtimeIo } from "../src/cli/_io.ts";
import type { Adapter } from "./_util/runtime.ts";

const [name, adapterName = "", peerPort = "0"] = process.argv.slice(2);
const adapter: Adapter = await import(`../src/adapters/${adapterName}.ts`);
const { connect, listen, connectTls, listenTls } = adapter;
const tlsDir = new URL("./fixtures/tls/", import.meta.url);
const cert = readFileSync(new URL("localhost.crt", tlsDir), "utf8");
const key = readFileSync(new URL("localhost.key", tlsDir), "utf8");
const ca = readFileSync(new URL("ca.crt", tlsDir), "utf8");
const LOOPBACK = "127.0.0.1";
/**
 * Reliable sessions' timeouts made long: a dial, linger or close timer left running would keep
 * the process alive for a minute, well past the test's bound (with the defaults, some of them
 * would end within it).
 */
const LONG = { deadPeerTimeout: 60_000, closeTimeout: 60_000 };

function portOf(listener: Listener): number {
  if (listener.addr.transport !== "tcp") throw new TypeError("not a TCP listener");
  return listener.addr.port;
}

/** A reliable server on a fresh loopback listener, and a client of it (`LONG` timeouts). */
async function reliablePair(
  serverOptions: Parameters<typeof reliableServer>[1] = LONG,
): Promise<{
  listener: Listener;
  server: ReturnType<typeof reliableServer>;
  client: ReturnType<typeof reliableClient>;
}> {
  const listener = await listen({ hostname: LOOPBACK, port: 0 });
  const server = reliableServer(listener, serverOptions);
  const client = reliableClient(
    (signal) => connect({ hostname: LOOPBACK, port: portOf(listener), signal }),
    LONG,
  );
  return { listener, server, client };
}

async function accept(listener: Listener): Promise<Conn> {
  for await (const conn of listener) return conn;
  throw new Error("the listener ended");
}

/** Reads `conn` to its end; the bytes read. */
async function readToEnd(conn: Conn): Promise<number> {
  let n = 0;
  for await (const chunk of conn.readable) n += chunk.length;
  return n;
}

async function write(conn: Conn, text: string): Promise<void> {
  const writer = conn.writable.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
  } finally {
    writer.releaseLock();
  }
}

async function readSome(conn: Conn): Promise<void> {
  const reader = conn.readable.getReader();
  try {
    const { done } = await reader.read();
    if (done) throw new Error("the connection ended before its first byte");
  } finally {
    reader.releaseLock();
  }
}

/** A listener and a connection to it: [listener, client, server side]. */
async function pair(kind: "tcp" | "unix" | "tls"): Promise<[Listener, Conn, Conn, () => void]> {
  let cleanup = (): void => {};
  let listener: Listener;
  let dial: () => Promise<Conn>;
  if (kind === "unix") {
    const dir = mkdtempSync(join(tmpdir(), "framewire-exit-"));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    const path = join(dir, "s.sock");
    listener = await listen({ path });
    dial = () => connect({ path });
  } else if (kind === "tls") {
    listener = await listenTls({ hostname: LOOPBACK, port: 0, cert, key });
    dial = () => connectTls({ hostname: LOOPBACK, port: portOf(listener), caCerts: [ca] });
  } else {
    listener = await listen({ hostname: LOOPBACK, port: 0 });
    dial = () => connect({ hostname: LOOPBACK, port: portOf(listener) });
  }
  const [client, server] = await Promise.all([dial(), accept(listener)]);
  return [listener, client, server, cleanup];
}

/** Both directions used, then everything closed: client, server side, listener. */
async function roundTrip(kind: "tcp" | "unix" | "tls"): Promise<void> {
  const [listener, client, server, cleanup] = await pair(kind);
  await write(client, "ping");
  await readSome(server);
  await write(server, "pong");
  await readSome(client);
  client.close();
  server.close();
  listener.close();
  await Promise.all([client.closed, server.closed]);
  cleanup();
}

/** Closes `conn` while a 64 MiB write to a peer that reads nothing is under way: it must reject. */
async function closeDuringBlockedWrite(conn: Conn): Promise<void> {
  const writer = conn.writable.getWriter();
  const writing = writer.write(new Uint8Array(64 * 1024 * 1024)).then(
    () => "written",
    () => "rejected",
  );
  conn.close();
  if (await writing !== "rejected") throw new Error("the blocked write did not reject");
  await conn.closed;
}

const cases: Record<string, () => Promise<void>> = {
  tcp: () => roundTrip("tcp"),
  unix: () => roundTrip("unix"),
  tls: () => roundTrip("tls"),
  // A write the peer never reads (far more than the socket buffers take) is pending at close().
  async "blocked-write"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const writer = client.writable.getWriter();
      const writing = writer.write(new Uint8Array(64 * 1024 * 1024)).then(
        () => "written",
        () => "rejected",
      );
      client.close();
      if (await writing !== "rejected") throw new Error("the blocked write did not reject");
      server.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // The peer half-closes; this side reads to its end, answers, then both close.
  async "half-close"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      await write(client, "request");
      await client.closeWrite();
      await readToEnd(server);
      await write(server, "reply");
      await server.closeWrite();
      await readToEnd(client);
      client.close();
      server.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // closeWrite() then close() at once, on each side.
  async "closewrite-close"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const ending = client.closeWrite();
      client.close();
      await ending.catch(() => {});
      const serverEnding = server.closeWrite();
      server.close();
      await serverEnding.catch(() => {});
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // A connect aborted by its signal while under way: TCP, and TLS to a server that accepts and
  // never answers the handshake.
  async "abort-connect"(): Promise<void> {
    const listener = await listen({ hostname: LOOPBACK, port: 0 });
    const port = portOf(listener);
    const controller = new AbortController();
    const connecting = connect({ hostname: LOOPBACK, port, signal: controller.signal });
    controller.abort(new Error("given up"));
    const outcome = await connecting.then((conn) => (conn.close(), "connected"), () => "aborted");
    if (outcome !== "aborted") throw new Error(`the aborted connect ${outcome}`);
    const tls = new AbortController();
    const tlsConnecting = connectTls({
      hostname: LOOPBACK,
      port,
      caCerts: [ca],
      signal: tls.signal,
    })
      .then((conn) => (conn.close(), "connected"), () => "aborted");
    const silent: Conn[] = [];
    for await (const conn of listener) {
      silent.push(conn); // the TCP connect's, if it got here, then the TLS one's
      if (silent.length === 1) break;
    }
    tls.abort(new Error("given up"));
    if (await tlsConnecting !== "aborted") throw new Error("the aborted TLS connect went on");
    for (const conn of silent) conn.close();
    listener.close();
    await Promise.all(silent.map((conn) => conn.closed));
  },
  async refused(): Promise<void> {
    const listener = await listen({ hostname: LOOPBACK, port: 0 });
    const port = portOf(listener);
    listener.close();
    const dials = [
      () => connect({ hostname: LOOPBACK, port }),
      () => connectTls({ hostname: LOOPBACK, port, caCerts: [ca] }),
    ];
    for (const dial of dials) {
      const outcome = await dial().then((conn) => (conn.close(), "connected"), () => "refused");
      if (outcome !== "refused") throw new Error(`a connect to a closed port ${outcome}`);
    }
  },
  // framed() over TCP and TLS: a message each way, then close() on both (one with a timeout).
  async "framed-close"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const fc = framed(client, lengthPrefixed());
      const fs = framed(server, lengthPrefixed());
      await fc.send("ping");
      for await (const _ of fs) break;
      await fs.send("pong");
      for await (const _ of fc) break;
      await fc.close({ timeout: 60_000 }); // its timer must not outlive it
      await fs.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // close({ timeout }) with frames queued that a peer that does not read never takes.
  async "framed-close-timeout"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const fc = framed(client, lengthPrefixed({ maxFrameLength: Infinity }));
      for (let i = 0; i < 64; i++) fc.send(new Uint8Array(1024 * 1024)).catch(() => {});
      await fc.close({ timeout: 20 }).catch(() => {});
      server.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // closeWrite(), the peer reads to the end and closes, this side reads to the peer's end.
  async "framed-closewrite"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const fc = framed(client, lengthPrefixed());
      const fs = framed(server, lengthPrefixed());
      await fc.send("last");
      await fc.closeWrite();
      for await (const _ of fs) { /* to the client's end */ }
      await fs.close();
      for await (const _ of fc) { /* to the server's end */ }
      await fc.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // The peer sends a header no frame may have: reading fails, then close().
  async "framed-error"(): Promise<void> {
    for (const kind of ["tcp", "tls"] as const) {
      const [listener, client, server] = await pair(kind);
      const fc = framed(client, lengthPrefixed());
      await write(server, "\xff\xff\xff\xffxx");
      const failed = await (async () => {
        for await (const _ of fc) return false;
        return false;
      })().catch(() => true);
      if (!failed) throw new Error("the oversized frame was not refused");
      await fc.close().catch(() => {});
      server.close();
      listener.close();
      await Promise.all([client.closed, server.closed]);
    }
  },
  // A reliable client and server: a message, then both closed.
  async "reliable-close"(): Promise<void> {
    const { listener, server, client } = await reliablePair();
    await client.send("order");
    for await (const session of server) {
      for await (const _ of session) break;
      break;
    }
    await client.close();
    await server.close();
    listener.close();
  },
  // A client with messages its server never confirms (it does not read them and its receive
  // buffer is full): close({ timeout }) gives up on them.
  async "reliable-close-timeout"(): Promise<void> {
    const { listener, server, client } = await reliablePair({ ...LONG, receiveBufferSize: 4096 });
    for (let i = 0; i < 32; i++) client.send(new Uint8Array(65536)).catch(() => {});
    let session: AsyncIterable<Uint8Array> | undefined;
    for await (const s of server) {
      session = s; // not read, until the client gave up
      break;
    }
    const closing = await client.close({ timeout: 50 }).then(() => "closed", () => "timed out");
    if (closing !== "timed out") throw new Error(`close() with unconfirmed messages: ${closing}`);
    // Unread, the session would see its client gone only after heartbeats (5 s).
    for await (const _ of session!) { /* to the client's GOODBYE */ }
    await server.close().catch(() => {});
    listener.close();
  },
  // The server is closed while its client is connected; then the client is closed.
  async "reliable-server-close"(): Promise<void> {
    const { listener, server, client } = await reliablePair();
    await client.send("hello");
    for await (const _ of server) break;
    await server.close();
    listener.close();
    await client.close().catch(() => {});
  },
  // A session ends (its client closed it: the server keeps its tombstone, and a timer to
  // forget it, for resumeTimeout: 60 s), then the listener is closed; the server is never closed.
  async "reliable-server-listener-end"(): Promise<void> {
    const { listener, server, client } = await reliablePair();
    await client.send("hello");
    let session: AsyncIterable<Uint8Array> | undefined;
    for await (const s of server) {
      session = s;
      break;
    }
    await client.close();
    for await (const _ of session!) { /* to the client's GOODBYE */ }
    listener.close();
    for await (const _ of server) throw new Error("a session after the listener closed");
  },
  // The server's connection and listener go away (no GOODBYE): the client reconnects, is
  // refused and backs off; then it is closed, then the server.
  async "reliable-server-gone"(): Promise<void> {
    const listener = await listen({ hostname: LOOPBACK, port: 0 });
    const port = portOf(listener);
    const conns: Conn[] = [];
    const recording: AsyncIterable<Conn> = {
      async *[Symbol.asyncIterator]() {
        for await (const conn of listener) {
          conns.push(conn);
          yield conn;
        }
      },
    };
    const server = reliableServer(recording, LONG);
    const client = reliableClient((signal) => connect({ hostname: LOOPBACK, port, signal }), LONG);
    await client.send("hello");
    const reconnecting = new Promise((resolve) =>
      client.addEventListener("reconnecting", (event) => {
        if ((event as CustomEvent<{ attempt: number }>).detail.attempt >= 2) resolve(undefined);
      })
    );
    listener.close();
    for (const conn of conns) conn.close();
    await reconnecting;
    // Everything sent is confirmed, but close() would go on redialling for closeTimeout (30 s)
    // to say goodbye.
    await client.close({ timeout: 100 });
    await server.close().catch(() => {});
  },
  // A client closed while its first dial is under way (a dial that only its signal ends).
  async "reliable-first-dial"(): Promise<void> {
    const client = reliableClient(
      (signal) =>
        new Promise<Conn>((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        ),
      LONG,
    );
    await client.close();
    // A first dial that reaches a server that accepts and never answers the HELLO.
    const listener = await listen({ hostname: LOOPBACK, port: 0 });
    const silent = reliableClient(
      (signal) => connect({ hostname: LOOPBACK, port: portOf(listener), signal }),
      LONG,
    );
    const conn = await accept(listener);
    await silent.close().catch(() => {});
    conn.close();
    listener.close();
  },
  // framewire send, called from code, to an echo server of the same process.
  async "cli-send"(): Promise<void> {
    const io = await runtimeIo();
    const listener = await listen({ hostname: LOOPBACK, port: 0 });
    const serving = (async () => {
      const conn = await accept(listener);
      const fs = framed(conn, lengthPrefixed());
      for await (const message of fs) await fs.send(message);
      await fs.close();
    })();
    const code = await run(["send", `${LOOPBACK}:${portOf(listener)}`], io);
    await serving;
    listener.close();
    await io.flush();
    if (code !== 0) throw new Error(`send exited ${code}`);
  },
  // framewire listen --once, called from code, ended by its peer; then ended by SIGINT.
  async "cli-listen"(): Promise<void> {
    const io = await runtimeIo();
    for (const how of ["peer", "SIGINT"]) {
      let announced: (port: number) => void;
      const port = new Promise<number>((resolve) => announced = resolve);
      const quiet = {
        ...io,
        err: (text: string): void => {
          const m = text.match(/listening on 127\.0\.0\.1:(\d+)/);
          if (m !== null) announced(Number(m[1]));
        },
        out: (): void => {},
      };
      const args = ["listen", "--port", "0", ...(how === "peer" ? ["--once"] : [])];
      const listening = run(args, quiet);
      const conn = framed(
        await connect({ hostname: LOOPBACK, port: await port }),
        lengthPrefixed(),
      );
      await conn.send("hello");
      if (how === "peer") await conn.close();
      else {
        await conn.send("again");
        process.kill(process.pid, "SIGINT");
      }
      const code = await listening;
      if (how === "SIGINT") {
        // The command closed the connection (a reset, on some runtimes, with "again" unread).
        await (async () => {
          for await (const _ of conn) { /* to the end the command gave it */ }
        })().catch(() => {});
        await conn.close().catch(() => {});
      }
      if (code !== 0) throw new Error(`listen ended by ${how} exited ${code}`);
    }
  },
  // framewire demo and demo --reliable, called from code.
  async "cli-demo"(): Promise<void> {
    const io = await runtimeIo();
    const quiet = { ...io, out: (): void => {}, err: (): void => {} };
    for (const args of [["demo"], ["demo", "--reliable"]]) {
      const code = await run(args, quiet);
      if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}`);
    }
  },
  // A peer in another process (the test's), which reads nothing and never closes: a write that
  // cannot finish is pending at close().
  async "ext-blocked-write"(): Promise<void> {
    await closeDuringBlockedWrite(await connect({ hostname: LOOPBACK, port: Number(peerPort) }));
  },
  // The same over TLS: the write rejects and `closed` resolves once the adapter gives up the
  // graceful close, whose close_notify cannot get past the write's bytes (at once with the Node
  // adapter, after tlsClose.limit, a second, with the Deno and Bun adapters).
  async "ext-tls-blocked-write"(): Promise<void> {
    await closeDuringBlockedWrite(
      await connectTls({ hostname: LOOPBACK, port: Number(peerPort), caCerts: [ca] }),
    );
  },
  // A TLS peer in another process that never answers close_notify: closed resolves once the
  // adapter gives up waiting for the peer's end.
  async "ext-tls-close"(): Promise<void> {
    const conn = await connectTls({ hostname: LOOPBACK, port: Number(peerPort), caCerts: [ca] });
    await write(conn, "bye");
    conn.close();
    await conn.closed;
  },
  // A TLS server shut down while a client (the test) is connected but has not begun its
  // handshake: the listener and every connection it gave are closed.
  async "ext-tls-handshaking"(): Promise<void> {
    const listener = await listenTls({ hostname: LOOPBACK, port: 0, cert, key });
    const conns = new Set<Conn>();
    const serving = (async () => {
      for await (const conn of listener) {
        conns.add(conn);
        readToEnd(conn).catch(() => {});
      }
    })();
    console.log(`port ${portOf(listener)}`);
    for await (const chunk of process.stdin) {
      if (String(chunk).includes("go")) break;
    }
    listener.close();
    await serving;
    for (const conn of conns) conn.close();
    await Promise.all([...conns].map((conn) => conn.closed));
  },
  // A client started before its server (the test's, which listens on the Unix socket path given
  // in place of a port once the client says it is reconnecting): waiting in back-off between
  // dials keeps the process alive for the send.
  async "ext-reliable-later"(): Promise<void> {
    const path = peerPort;
    const client = reliableClient((signal) => connect({ path, signal }), LONG);
    client.addEventListener("reconnecting", () => console.log("reconnecting"), { once: true });
    await client.send("at last");
    await client.close();
  },
  // Nothing at all: how long a process takes to exit after its last line.
  async baseline(): Promise<void> {},
};

const body = cases[name ?? ""];
if (body === undefined) throw new Error(`unknown case ${name}`);
await body();
console.log("done");
