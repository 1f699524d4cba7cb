// Copyright 2026 the framewire authors. MIT license.
// Socket helpers of the framewire command: addresses and one-line error reasons. Private.

import type { NetAddr } from "../connection/types.ts";
import { errnoOf, NO_SUCH_FILE } from "../adapters/_errors.ts";
import { ConnectionError, FramingError } from "../errors.ts";
import { causeText } from "../framing/_options.ts";

/** `127.0.0.1:80`, `[::1]:80`, or the socket path. */
export function formatAddr(
  addr: NetAddr | { hostname?: string | undefined; port: number } | { path: string },
): string {
  if ("path" in addr) return addr.path;
  const host = addr.hostname ?? "127.0.0.1";
  // `--host [::1]` arrives with its brackets (the adapters take both forms).
  return host.includes(":") && !host.startsWith("[")
    ? `[${host}]:${addr.port}`
    : `${host}:${addr.port}`;
}

function codeOf(error: unknown): string | undefined {
  if (error instanceof FramingError) return undefined;
  const name = (error as { name?: unknown } | undefined)?.name;
  return errnoOf(error) ?? (typeof name === "string" && name !== "Error" ? name : undefined);
}

const PHRASES: Record<string, string> = {
  CONNECTION_REFUSED: "connection refused (is anything listening there?)",
  CONNECTION_RESET: "the connection was reset by the peer",
  CONNECTION_TIMEOUT: "the connection timed out",
  CONNECTION_CLOSED: "the connection is closed",
  EADDRINUSE: "the address is already in use",
  AddrInUse: "the address is already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  PermissionDenied: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "the address is not available on this machine",
  AddrNotAvailable: "the address is not available on this machine",
  ENOTFOUND: "the host name was not found",
  EAI_AGAIN: "the host name could not be resolved",
  ENOENT: "no such socket file",
  NotFound: "no such socket file (or the host name was not found)",
};

// Where a Unix socket was being listened on or connected to, the port advice and the bare
// "not found" would mislead.
const UNIX_PHRASES: Record<"listen" | "connect", Record<string, string>> = {
  listen: {
    EACCES: "permission denied",
    PermissionDenied: "permission denied",
    ENOENT: "no such directory",
    NotFound: "no such directory",
    EADDRINUSE: "the socket file exists (remove it if no server uses it)",
    AddrInUse: "the socket file exists (remove it if no server uses it)",
  },
  connect: {
    EACCES: "permission denied",
    PermissionDenied: "permission denied",
    NotFound: "no such socket file",
  },
};

/** The table's phrase for `code`: its own keys only (a `name` of "constructor" is no code of it). */
function phraseOf(table: Record<string, string>, code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(table, code) ? table[code] : undefined;
}

/**
 * A short, lower-case reason for a socket or framing failure, for one-line
 * messages; `unix`: what was being done with a Unix socket path.
 */
export function describeError(error: unknown, unix?: "listen" | "connect"): string {
  if (unix !== undefined) {
    let code = codeOf(error instanceof ConnectionError ? error.cause : error);
    // Node's EACCES for a path in a missing directory: the node adapter found which it was, and
    // worded it as the other runtimes' ENOENT (before, "permission denied, or no such directory").
    if (
      code === "EACCES" && error instanceof ConnectionError &&
      error.message.endsWith(` as ${NO_SUCH_FILE}`)
    ) code = "ENOENT";
    const phrase = phraseOf(UNIX_PHRASES[unix], code);
    if (phrase !== undefined) return phrase;
  }
  if (error instanceof ConnectionError) {
    const phrase = phraseOf(PHRASES, error.code) ?? phraseOf(PHRASES, codeOf(error.cause));
    if (phrase !== undefined) return phrase;
    // The cause's own words when it has some; else the error's, which say what the cause was.
    const cause = error.cause;
    return cause instanceof Error && cause.message !== "" ? cause.message : error.message;
  }
  if (error instanceof FramingError) return error.message;
  const phrase = phraseOf(PHRASES, codeOf(error));
  if (phrase !== undefined) return phrase;
  return causeText(error);
}

/** Joins byte arrays into one (returns the only one unchanged). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Resolves as `work` does, or rejects with "WHAT did not finish within MS ms"
 * once `ms` have passed; the timer never outlives the call.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts progress (bytes or messages); `waitFor(n)` resolves once `n` were counted. */
export class Progress {
  #count = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  /** Counts `n` more (default 1) and wakes the waiters it satisfies. */
  advance(n = 1): void {
    this.#count += n;
    this.#waiters = this.#waiters.filter((w) => {
      if (w.n > this.#count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `n` were counted. */
  waitFor(n: number): Promise<void> {
    if (n <= this.#count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}
