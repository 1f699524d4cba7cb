// Copyright 2026 the framewire authors. MIT license.
// CliIo on Deno. Private.

import { type Adapter, type CliIo, type Input, READ_CHUNK } from "./_io.ts";

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  try {
    while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
  } catch (error) {
    // A reader that went away (`framewire inspect big.bin | head`) ends the command quietly.
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    throw error;
  }
}

/**
 * The bytes of a file in fresh chunks. Opened at the first read, not before: an input the
 * reader never reads (inspect refusing a --skip past its end) holds nothing open. Closed at the
 * end, or when the reader stops.
 */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    for (;;) {
      const buffer = new Uint8Array(READ_CHUNK);
      const n = await file.read(buffer);
      if (n === null) return;
      yield buffer.subarray(0, n);
    }
  } finally {
    file.close();
  }
}

/** The Deno implementation of {@linkcode CliIo}. */
export function denoIo(): CliIo {
  return {
    runtime: "deno",
    out(text: string): void {
      writeAll(Deno.stdout, text);
    },
    err(text: string): void {
      writeAll(Deno.stderr, text);
    },
    flush(): Promise<void> {
      return Promise.resolve();
    },
    stdin(): AsyncIterable<Uint8Array> {
      return Deno.stdin.readable;
    },
    stdinIsTerminal(): boolean {
      return Deno.stdin.isTerminal();
    },
    async readInput(path: string | undefined): Promise<Input> {
      if (path === undefined) return { size: undefined, chunks: Deno.stdin.readable };
      // Deno.stat(path), not file.stat(): that checks read permission a second time, for the
      // absolute path (the audit of deno_permissions_test sees the file as given only).
      const stat = await Deno.stat(path);
      if (stat.isDirectory) {
        throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
      }
      return {
        size: stat.isFile && stat.size > 0 ? stat.size : undefined,
        chunks: fileChunks(path),
      };
    },
    async adapter(): Promise<Adapter> {
      return await import("../adapters/deno.ts");
    },
    onInterrupt(handler: () => void): () => void {
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      for (const s of signals) Deno.addSignalListener(s, handler);
      return () => {
        for (const s of signals) Deno.removeSignalListener(s, handler);
      };
    },
  };
}
