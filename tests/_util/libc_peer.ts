// Copyright 2026 the framewire authors. MIT license.
// Test helper: a Unix socket peer made with libc through Deno's or Bun's FFI, for what no
// runtime's socket API does: shutting down only its reading, which makes this side's writes fail
// (EPIPE) while the peer is still there. Linux only (libc.so.6); Node has no FFI.

import { isBun, isDeno } from "./runtime.ts";

/** A connected Unix socket of libc's. */
export interface LibcPeer {
  /** Sends `bytes` (all of them: a few, into an empty socket buffer). */
  send(bytes: Uint8Array): void;
  /** `shutdown(SHUT_RD)`: the peer reads no more; this side's writes fail. */
  shutRead(): void;
  /** Closes the socket (idempotent). */
  close(): void;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SHUT_RD = 0;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: Uint8Array, length: number): number;
  send(fd: number, bytes: Uint8Array, length: number, flags: number): number;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  /** Unloads the library. */
  unload(): void;
}

async function openLibc(): Promise<Libc | undefined> {
  try {
    if (isDeno) {
      const lib = Deno.dlopen("libc.so.6", {
        socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
        connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
        send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
        shutdown: { parameters: ["i32", "i32"], result: "i32" },
        close: { parameters: ["i32"], result: "i32" },
      });
      const c = lib.symbols;
      return {
        socket: (d, t, p) => c.socket(d, t, p),
        connect: (fd, a, n) => c.connect(fd, a, n),
        send: (fd, b, n, f) => Number(c.send(fd, b, BigInt(n), f)),
        shutdown: (fd, how) => c.shutdown(fd, how),
        close: (fd) => c.close(fd),
        unload: () => lib.close(),
      };
    }
    if (isBun) {
      const specifier = "bun:ffi"; // not resolved by Deno's type check
      const { dlopen } = await import(specifier);
      const lib = dlopen("libc.so.6", {
        socket: { args: ["i32", "i32", "i32"], returns: "i32" },
        connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
        send: { args: ["i32", "ptr", "u64", "i32"], returns: "i64_fast" },
        shutdown: { args: ["i32", "i32"], returns: "i32" },
        close: { args: ["i32"], returns: "i32" },
      });
      const c = lib.symbols as unknown as Omit<Libc, "unload">;
      return { ...c, unload: () => lib.close() };
    }
  } catch {
    // not Linux, or no FFI
  }
  return undefined;
}

/**
 * Runs `body` with libc's socket made (so that a count of open sockets taken
 * first includes it) and a `connect(path)` for it; closes it after. Resolves
 * `false` without running `body` where there is no libc through FFI.
 */
export async function withLibcPeer(
  body: (connect: (path: string) => LibcPeer) => Promise<void>,
): Promise<boolean> {
  const libc = await openLibc();
  if (libc === undefined) return false;
  const fd = libc.socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) throw new Error("socket() failed");
  let closed = false;
  const peer: LibcPeer = {
    send: (bytes) => {
      if (libc.send(fd, bytes, bytes.length, 0) !== bytes.length) throw new Error("send() failed");
    },
    shutRead: () => {
      if (libc.shutdown(fd, SHUT_RD) !== 0) throw new Error("shutdown() failed");
    },
    close: () => {
      if (closed) return;
      closed = true;
      libc.close(fd);
    },
  };
  try {
    await body((path) => {
      const address = new Uint8Array(110); // struct sockaddr_un: sun_family, then sun_path
      new DataView(address.buffer).setUint16(0, AF_UNIX, true);
      address.set(new TextEncoder().encode(path), 2);
      if (libc.connect(fd, address, address.length) !== 0) throw new Error("connect() failed");
      return peer;
    });
  } finally {
    peer.close();
    libc.unload();
  }
  return true;
}
