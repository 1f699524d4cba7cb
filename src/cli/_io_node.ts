// Copyright 2026 the framewire authors. MIT license.
// CliIo on Node and Bun (both through node:process). Private.

import { readFile } from "node:fs/promises";
import process from "node:process";
import type { Adapter, CliIo } from "./_io.ts";

interface BunStdin {
  stdin: { stream(): ReadableStream<Uint8Array> };
}

function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

let pipeGuarded = false;

/** The Node (or Bun) implementation of {@linkcode CliIo}. */
export function nodeIo(runtime: "node" | "bun"): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    // A reader that went away (`framewire inspect big.bin | head`) ends the command quietly.
    process.stdout.on("error", (error: Error & { code?: string }) => {
      if (error.code === "EPIPE") process.exit(0);
      throw error;
    });
  }
  return {
    runtime,
    out(text: string): void {
      process.stdout.write(text);
    },
    err(text: string): void {
      process.stderr.write(text);
    },
    async flush(): Promise<void> {
      await Promise.all([drained(process.stdout), drained(process.stderr)]);
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
    async readFile(path: string): Promise<Uint8Array> {
      const buf = await readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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
