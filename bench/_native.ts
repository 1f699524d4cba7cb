// Copyright 2026 the framewire authors. MIT license.
// The raw native socket baselines for the loopback benches: each runtime's
// own socket API, used directly (Deno.connect/listen, Bun.connect/listen,
// node:net). Private to bench/.

import * as net from "node:net";
import { Buffer } from "node:buffer";
import { runtimeName } from "./_common.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** What the churn bench uses of a `Deno.Conn` (this module does not need Deno's types). */
interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  setNoDelay(on: boolean): void;
  close(): void;
}

/** A native client socket. */
export interface NativeClient {
  /**
   * Writes `bytes` with one native write. On Node and Bun it waits only when
   * the socket asks to; on Deno every write is awaited (`Deno.Conn.write`
   * returns a promise, and may write part of the bytes).
   */
  write(bytes: Uint8Array): Promise<void> | void;
  /** Waits until everything written was handed to the OS, then closes. */
  end(): Promise<void>;
}

/** A native server that counts the bytes of the first connection. */
export interface NativeCounter {
  readonly port: number;
  /** Resolves with the byte count once `expected` bytes arrived. */
  received(expected: number): Promise<number>;
  close(): void;
}

/** Connects with the runtime's own API to 127.0.0.1:`port`, Nagle off. */
export function nativeConnect(port: number): Promise<NativeClient> {
  const rt = runtimeName();
  if (rt === "deno") return denoConnect(port);
  if (rt === "bun") return bunConnect(port);
  return nodeConnect(port);
}

/**
 * Listens with the runtime's own API on 127.0.0.1:0 and counts received bytes
 * (Deno: into one reused read buffer). With `onChunk`, every chunk read is
 * handed to it first (Deno: each read into a fresh buffer, as the runtime's
 * own API gives on Bun and Node, so that views into it stay valid).
 */
export function nativeCounter(onChunk?: (chunk: Uint8Array) => void): Promise<NativeCounter> {
  const rt = runtimeName();
  const hook = onChunk ?? ((): void => {});
  if (rt === "deno") return denoCounter(hook, onChunk !== undefined);
  if (rt === "bun") return bunCounter(hook);
  return nodeCounter(hook);
}

async function denoConnect(port: number): Promise<NativeClient> {
  const conn = await g.Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return {
    async write(bytes: Uint8Array): Promise<void> {
      let at = 0;
      while (at < bytes.length) at += await conn.write(at === 0 ? bytes : bytes.subarray(at));
    },
    end(): Promise<void> {
      conn.close();
      return Promise.resolve();
    },
  };
}

function denoCounter(onChunk: (chunk: Uint8Array) => void, fresh: boolean): Promise<NativeCounter> {
  const listener = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  return Promise.resolve({
    port: listener.addr.port,
    async received(expected: number): Promise<number> {
      const conn = await accepted;
      let buf = new Uint8Array(256 * 1024);
      let got = 0;
      try {
        while (got < expected) {
          const n = await conn.read(buf);
          if (n === null) break;
          onChunk(buf.subarray(0, n));
          got += n;
          if (fresh) buf = new Uint8Array(256 * 1024);
        }
      } finally {
        conn.close();
      }
      return got;
    },
    close(): void {
      listener.close();
    },
  });
}

function nodeConnect(port: number): Promise<NativeClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => {
      socket.off("error", reject);
      resolve({
        write(bytes: Uint8Array): Promise<void> | void {
          if (!socket.write(bytes)) return new Promise((r) => socket.once("drain", r));
        },
        end(): Promise<void> {
          return new Promise((r) => socket.end(r));
        },
      });
    });
    socket.once("error", reject);
  });
}

function nodeCounter(onChunk: (chunk: Uint8Array) => void): Promise<NativeCounter> {
  return new Promise((resolve) => {
    let onSocket: (s: net.Socket) => void = () => {};
    const server = net.createServer((s) => onSocket(s));
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        received(expected: number): Promise<number> {
          return new Promise((done) => {
            onSocket = (s) => {
              let got = 0;
              s.on("data", (d: Uint8Array) => {
                onChunk(d);
                got += d.length;
                if (got >= expected) {
                  s.destroy();
                  done(got);
                }
              });
              s.on("end", () => done(got));
              s.on("error", () => done(got));
            };
          });
        },
        close(): void {
          server.close();
        },
      });
    });
  });
}

async function bunConnect(port: number): Promise<NativeClient> {
  // Bun's write can be partial: keep the rest and retry on drain.
  let pending: Uint8Array | undefined;
  let wake: (() => void) | undefined;
  const socket = await g.Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(): void {},
      drain(s: { write(b: Uint8Array): number }): void {
        if (pending !== undefined) {
          const n = s.write(pending);
          pending = n === pending.length ? undefined : pending.subarray(n);
        }
        if (pending === undefined && wake !== undefined) {
          const w = wake;
          wake = undefined;
          w();
        }
      },
    },
  });
  socket.setNoDelay?.(true);
  return {
    write(bytes: Uint8Array): Promise<void> | void {
      const n = socket.write(bytes);
      if (n < bytes.length) {
        pending = bytes.subarray(n);
        return new Promise((r) => wake = r);
      }
    },
    end(): Promise<void> {
      socket.end();
      return Promise.resolve();
    },
  };
}

function bunCounter(onChunk: (chunk: Uint8Array) => void): Promise<NativeCounter> {
  let got = 0;
  let expected = Infinity;
  let done: ((n: number) => void) | undefined;
  // Settles with what arrived (the caller checks the count); at most once.
  const settle = (): void => {
    const finish = done;
    done = undefined;
    finish?.(got);
  };
  const server = g.Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s: { end(): void }, d: Uint8Array): void {
        onChunk(d);
        got += d.length;
        if (got >= expected && done !== undefined) {
          settle();
          s.end();
        }
      },
      // A sender that ends or fails early.
      end: settle,
      close: settle,
    },
  });
  return Promise.resolve({
    port: server.port,
    received(n: number): Promise<number> {
      expected = n;
      got = 0;
      return new Promise((r) => done = r);
    },
    close(): void {
      server.stop(true);
    },
  });
}

/**
 * Ping-pong over the runtime's own socket API (Nagle off at both ends): an
 * echo server, and a client that writes `size` bytes and waits for them to
 * come back, `count` times. Returns the seconds of the round trips
 * (listening and connecting not counted).
 */
export function nativePingPong(count: number, size: number): Promise<number> {
  const rt = runtimeName();
  if (rt === "deno") return denoPingPong(count, size);
  if (rt === "bun") return bunPingPong(count, size);
  return nodePingPong(count, size);
}

async function denoPingPong(count: number, size: number): Promise<number> {
  const listener = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    const conn = await listener.accept();
    conn.setNoDelay(true);
    const buf = new Uint8Array(64 * 1024);
    try {
      for (let n; (n = await conn.read(buf)) !== null;) {
        for (let at = 0; at < n;) at += await conn.write(buf.subarray(at, n));
      }
    } finally {
      conn.close();
    }
  })();
  let conn: { close(): void } | undefined;
  try {
    const c = conn = await g.Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    c.setNoDelay(true);
    const message = new Uint8Array(size);
    const buf = new Uint8Array(64 * 1024);
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      for (let at = 0; at < size;) at += await c.write(message.subarray(at));
      for (let got = 0; got < size;) {
        const n = await c.read(buf);
        if (n === null) throw new Error("ping-pong: the echo server closed");
        got += n;
      }
    }
    return (performance.now() - start) / 1000;
  } finally {
    conn?.close();
    listener.close(); // ends an accept still waiting
    await echo.catch(() => {});
  }
}

/**
 * The client side of a ping-pong over event callbacks (Node, Bun): `data`
 * counts echoed bytes, `next()` waits for the next `size` of them, and
 * `fail` ends that wait with an error (the echo gone: not a hang).
 */
function echoes(size: number): {
  data(chunk: Uint8Array): void;
  fail(error: Error): void;
  next(): Promise<void>;
} {
  let got = 0;
  let back: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  return {
    data(chunk: Uint8Array): void {
      got += chunk.length;
      if (got >= size) {
        got -= size;
        back();
      }
    },
    fail: (error) => fail(error),
    next: () =>
      new Promise<void>((resolve, reject) => {
        back = resolve;
        fail = reject;
      }),
  };
}

async function nodePingPong(count: number, size: number): Promise<number> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("data", (d) => s.write(d));
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const port = (server.address() as net.AddressInfo).port;
    const s = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(s));
    s.once("error", reject);
  });
  const echo = echoes(size);
  socket.on("data", echo.data);
  socket.on("error", echo.fail);
  socket.on("close", () => echo.fail(new Error("ping-pong: the connection closed")));
  const message = new Uint8Array(size);
  const start = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const echoed = echo.next();
      socket.write(message);
      await echoed;
    }
    return (performance.now() - start) / 1000;
  } finally {
    socket.destroy();
    server.close();
  }
}

async function bunPingPong(count: number, size: number): Promise<number> {
  // The echo writes are at most `size` bytes into an empty socket buffer: never partial here.
  const server = g.Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s: { setNoDelay?(on: boolean): void }): void {
        s.setNoDelay?.(true);
      },
      data(s: { write(b: Uint8Array): number; end(): void }, d: Uint8Array): void {
        if (s.write(d) !== d.length) s.end(); // the client's round trip fails (never here)
      },
    },
  });
  const echo = echoes(size);
  const socket = await g.Bun.connect({
    hostname: "127.0.0.1",
    port: server.port,
    socket: {
      data: (_s: unknown, d: Uint8Array) => echo.data(d),
      end: () => echo.fail(new Error("ping-pong: the echo server ended")),
      close: () => echo.fail(new Error("ping-pong: the connection closed")),
      error: (_s: unknown, error: Error) => echo.fail(error),
    },
  });
  socket.setNoDelay?.(true);
  const message = new Uint8Array(size);
  const start = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const echoed = echo.next();
      if (socket.write(message) !== size) throw new Error("ping-pong: partial write");
      await echoed;
    }
    return (performance.now() - start) / 1000;
  } finally {
    socket.end();
    server.stop(true);
  }
}

/**
 * Connection churn over the runtime's own socket API (Nagle off): `parallel`
 * clients at a time, `count` connections in all, each connecting, writing
 * one frame of `size` bytes behind a 4-byte header, reading the server's
 * echo of it, and closing; the server echoes one frame per connection and
 * closes. Returns the seconds from the first connect to the last close
 * (listening not counted).
 */
export function nativeChurn(count: number, size: number, parallel: number): Promise<number> {
  const rt = runtimeName();
  if (rt === "deno") return denoChurn(count, size, parallel);
  if (rt === "bun") return bunChurn(count, size, parallel);
  return nodeChurn(count, size, parallel);
}

/** Runs `connect` `count` times, `parallel` at a time; the seconds it took. */
async function timedConnections(
  count: number,
  parallel: number,
  connect: () => Promise<void>,
): Promise<number> {
  let started = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (started < count) {
      started++;
      await connect();
    }
  }));
  return (performance.now() - start) / 1000;
}

function churnFrame(size: number): Uint8Array {
  const frame = new Uint8Array(4 + size);
  new DataView(frame.buffer).setUint32(0, size);
  return frame;
}

async function denoChurn(count: number, size: number, parallel: number): Promise<number> {
  const frame = churnFrame(size);
  const listener = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const readAll = async (conn: DenoConn, into: Uint8Array): Promise<boolean> => {
    for (let got = 0; got < into.length;) {
      const n = await conn.read(into.subarray(got));
      if (n === null) return false;
      got += n;
    }
    return true;
  };
  const serving = (async () => {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener closed
      }
      (async () => {
        try {
          const got = new Uint8Array(frame.length);
          if (await readAll(conn, got)) {
            for (let at = 0; at < got.length;) at += await conn.write(got.subarray(at));
          }
        } catch {
          // the client went first
        } finally {
          conn.close();
        }
      })();
    }
  })();
  try {
    return await timedConnections(count, parallel, async () => {
      const conn = await g.Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      try {
        conn.setNoDelay(true);
        for (let at = 0; at < frame.length;) at += await conn.write(frame.subarray(at));
        if (!await readAll(conn, new Uint8Array(frame.length))) throw new Error("churn: no echo");
      } finally {
        conn.close();
      }
    });
  } finally {
    listener.close();
    await serving;
  }
}

function nodeChurn(count: number, size: number, parallel: number): Promise<number> {
  const frame = churnFrame(size);
  const server = net.createServer({ noDelay: true }, (socket) => {
    let got = 0;
    const parts: Uint8Array[] = [];
    socket.on("data", (data: Uint8Array) => {
      parts.push(data);
      got += data.length;
      if (got >= frame.length) socket.end(Buffer.concat(parts));
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      timedConnections(count, parallel, () =>
        new Promise<void>((done, fail) => {
          let got = 0;
          const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => {
            socket.write(frame);
          });
          socket.on("data", (data: Uint8Array) => {
            got += data.length;
            if (got >= frame.length) socket.end();
          });
          socket.on(
            "close",
            () => got >= frame.length ? done() : fail(new Error("churn: no echo")),
          );
          socket.on("error", fail);
        })).then(
          (seconds) => server.close(() => resolve(seconds)),
          (error) => server.close(() => reject(error)),
        );
    });
  });
}

async function bunChurn(count: number, size: number, parallel: number): Promise<number> {
  const frame = churnFrame(size);
  // Writes of a few bytes into an empty socket buffer: never partial here.
  const server = g.Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s: { setNoDelay?(on: boolean): void; data: unknown }): void {
        s.setNoDelay?.(true);
        s.data = [];
      },
      data(s: { data: Uint8Array[]; write(b: Uint8Array): number; end(): void }, d: Uint8Array) {
        s.data.push(d.slice());
        const got = s.data.reduce((n, part) => n + part.length, 0);
        if (got >= frame.length) {
          s.write(Buffer.concat(s.data));
          s.end();
        }
      },
    },
  });
  try {
    return await timedConnections(count, parallel, () =>
      new Promise<void>((done, fail) => {
        let got = 0;
        g.Bun.connect({
          hostname: "127.0.0.1",
          port: server.port,
          socket: {
            open(s: { setNoDelay?(on: boolean): void; write(b: Uint8Array): number }): void {
              s.setNoDelay?.(true);
              s.write(frame);
            },
            data(s: { end(): void }, d: Uint8Array): void {
              got += d.length;
              if (got >= frame.length) s.end();
            },
            close: () => got >= frame.length ? done() : fail(new Error("churn: no echo")),
            error: (_s: unknown, error: Error) => fail(error),
          },
        }).catch(fail);
      }));
  } finally {
    server.stop(true);
  }
}
