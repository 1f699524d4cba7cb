// Copyright 2026 the framewire authors. MIT license.
// CliIo on Deno. Private.

import type { Adapter, CliIo } from "./_io.ts";

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
    readFile(path: string): Promise<Uint8Array> {
      return Deno.readFile(path);
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
