// Copyright 2026 the framewire authors. MIT license.
// CliIo on Node and Bun (both through node:process). Private.

import { open, stat } from "node:fs/promises";
import process from "node:process";
import { type Adapter, type CliIo, type Input, READ_CHUNK } from "./_io.ts";

interface BunStdin {
  stdin: { stream(): ReadableStream<Uint8Array> };
}

/**
 * Ends the command when standard output or error fails: quietly (exit 0) when
 * the reader went away (`framewire inspect big.bin | head`), else with one
 * line on standard error (if it still works) and exit 1.
 */
function outputFailed(name: "output" | "error", error: Error & { code?: string }): never {
  if (error.code === "EPIPE") process.exit(0);
  if (name === "output") {
    try {
      process.stderr.write(`framewire: cannot write to standard output: ${error.message}\n`);
    } catch {
      // standard error is gone too
    }
  }
  process.exit(1);
}

/** Bytes that may wait for standard output (or error) before reading from the network waits too. */
const OUTPUT_ROOM = 1024 * 1024;

/** The last write to standard output and error: settles once it was handed to the OS. */
const lastWrite = { output: Promise.resolve(), error: Promise.resolve() };
/** Characters written to standard output and error whose write has not called back yet. */
const waiting = { output: 0, error: 0 };

function write(stream: NodeJS.WritableStream, name: "output" | "error", text: string): void {
  // Counted here, not with writableLength: Bun's process.stdout keeps that at 0.
  const length = text.length;
  waiting[name] += length;
  const { promise, callback } = writeDone(name, length);
  lastWrite[name] = promise;
  stream.write(text, callback);
}

/**
 * The callback of a write, and its promise. Made apart from the text, which no
 * closure may hold: a file's callbacks come a tick later, so a long
 * synchronous run of writes (`inspect` of a large capture) kept all of its text
 * until it ended (517 MB for a 20 MB capture of empty frames).
 */
function writeDone(
  name: "output" | "error",
  length: number,
): { promise: Promise<void>; callback: (error?: Error | null) => void } {
  let callback!: (error?: Error | null) => void;
  const promise = new Promise<void>((resolve) => {
    // It gets the error of a failed write (Bun reports it there before the event, and may exit
    // before the event comes).
    callback = (error) => {
      waiting[name] -= length;
      if (error) outputFailed(name, error);
      else resolve();
    };
  });
  return { promise, callback };
}

/**
 * The bytes of a file in fresh chunks. Opened at the first read, not before: an input the
 * reader never reads (inspect refusing a --skip past its end) holds nothing open. Closed at the
 * end, or when the reader stops.
 */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    for (;;) {
      const buffer = new Uint8Array(READ_CHUNK);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** The error a read of a directory gets (the same words on every runtime, see `readError`). */
function isDirectory(path: string): Error {
  return Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
}

let pipeGuarded = false;

/** The Node (or Bun) implementation of {@linkcode CliIo}. */
export function nodeIo(runtime: "node" | "bun"): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    process.stdout.on("error", (error: Error) => outputFailed("output", error));
    process.stderr.on("error", (error: Error) => outputFailed("error", error));
  }
  return {
    runtime,
    out(text: string): void {
      write(process.stdout, "output", text);
    },
    err(text: string): void {
      write(process.stderr, "error", text);
    },
    async flush(): Promise<void> {
      await Promise.all([lastWrite.output, lastWrite.error]);
    },
    outputRoom(): Promise<void> {
      // Once over, until all of it is written: a pipe to a slow reader fills in bursts. Standard
      // error counts as well: listen writes a line or two there for every connection.
      const output = waiting.output > OUTPUT_ROOM ? lastWrite.output : undefined;
      const error = waiting.error > OUTPUT_ROOM ? lastWrite.error : undefined;
      if (output === undefined || error === undefined) return output ?? error ?? Promise.resolve();
      return Promise.all([output, error]).then(() => {});
    },
    stdin(): AsyncIterable<Uint8Array> {
      if (runtime === "bun") {
        return (globalThis as unknown as { Bun: BunStdin }).Bun.stdin
          .stream() as unknown as AsyncIterable<
            Uint8Array
          >;
      }
      return process.stdin;
    },
    stdinIsTerminal(): boolean {
      return process.stdin.isTTY === true;
    },
    async readInput(path: string | undefined): Promise<Input> {
      if (path === undefined) return { size: undefined, chunks: this.stdin() };
      const info = await stat(path);
      if (info.isDirectory()) throw isDirectory(path);
      return {
        size: info.isFile() && info.size > 0 ? info.size : undefined,
        chunks: fileChunks(path),
      };
    },
    async adapter(): Promise<Adapter> {
      return runtime === "bun"
        ? await import("../adapters/bun.ts")
        : await import("../adapters/node.ts");
    },
    onInterrupt(handler: () => void): () => void {
      process.on("SIGINT", handler);
      process.on("SIGTERM", handler);
      return () => {
        process.off("SIGINT", handler);
        process.off("SIGTERM", handler);
      };
    },
  };
}
