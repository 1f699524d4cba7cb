// Copyright 2026 the framewire authors. MIT license.
// The runtime services the framewire command uses, one implementation per
// runtime (Deno globals, or node:process for Bun and Node). Private.

import type { Conn, ConnectOptions, Listener, ListenOptions } from "../connection/types.ts";

/** The part of a runtime adapter (`src/adapters/<runtime>.ts`) the command uses. */
export interface Adapter {
  /** Opens a TCP or Unix socket connection. */
  connect(options: ConnectOptions): Promise<Conn>;
  /** Binds a TCP or Unix socket listener. */
  listen(options: ListenOptions): Promise<Listener>;
}

/** The runtime the command runs on. */
export type RuntimeName = "deno" | "bun" | "node";

/** Bytes asked for per read of a file (each read a fresh buffer of this size). */
export const READ_CHUNK = 256 * 1024;

/** A file (or standard input) to be read in chunks (a file is opened at the first read). */
export interface Input {
  /**
   * Its size in bytes when it is a regular file that says one; undefined for a
   * pipe, a device, a terminal, or a file of size 0 (`/proc` files have
   * content all the same).
   */
  readonly size: number | undefined;
  /** Its bytes, each chunk a fresh buffer (a decoder may keep views into it); ends at its end. */
  readonly chunks: AsyncIterable<Uint8Array>;
}

/** Everything the command needs from the runtime; tests pass their own. */
export interface CliIo {
  /** The runtime. */
  readonly runtime: RuntimeName;
  /** Writes to standard output (the caller adds newlines). */
  out(text: string): void;
  /** Writes to standard error (the caller adds newlines). */
  err(text: string): void;
  /** Resolves once everything written so far has been handed to the OS. */
  flush(): Promise<void>;
  /**
   * Resolves once standard output and standard error have room again (at
   * most about 1 MiB waiting on each), so that a reader slower than the peer
   * holds the peer back; absent where a write blocks until the OS took it.
   */
  outputRoom?(): Promise<void>;
  /** Standard input as byte chunks. */
  stdin(): AsyncIterable<Uint8Array>;
  /** Whether standard input is a terminal (someone would have to type the input). */
  stdinIsTerminal(): boolean;
  /**
   * A file to read, or standard input when `path` is undefined (its size is
   * then undefined). Rejects for a directory (code `EISDIR`). The file is
   * opened at the first read of `chunks` (a failure to open it comes from
   * there), so an input never read holds nothing open.
   */
  readInput(path: string | undefined): Promise<Input>;
  /** The socket adapter of this runtime. */
  adapter(): Promise<Adapter>;
  /** Calls `handler` on SIGINT or SIGTERM until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
}

/** Detects the runtime from its globals. */
export function detectRuntime(): RuntimeName {
  if ("Deno" in globalThis) return "deno";
  if ("Bun" in globalThis) return "bun";
  return "node";
}

/** The command-line arguments after the script name. */
export function processArgs(): string[] {
  const g = globalThis as unknown as { Deno?: { args: string[] }; process?: { argv: string[] } };
  if (g.Deno !== undefined) return [...g.Deno.args];
  return g.process?.argv.slice(2) ?? [];
}

/** Ends the process with `code`. */
export function exitProcess(code: number): never {
  const g = globalThis as unknown as {
    Deno?: { exit(code: number): never };
    process?: { exit(code: number): never };
  };
  if (g.Deno !== undefined) return g.Deno.exit(code);
  if (g.process !== undefined) return g.process.exit(code);
  throw new Error(`Cannot exit with code ${code} as the runtime has no exit function`);
}

/** The I/O of the runtime the command runs on. */
export async function runtimeIo(): Promise<CliIo> {
  const runtime = detectRuntime();
  if (runtime === "deno") return (await import("./_io_deno.ts")).denoIo();
  return (await import("./_io_node.ts")).nodeIo(runtime);
}
