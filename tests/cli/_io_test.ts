// Copyright 2026 the framewire authors. MIT license.
// The CLI's I/O on each runtime (src/cli/_io_node.ts on Node and Bun, src/cli/_io_deno.ts on Deno).

import assert from "node:assert/strict";
import { test } from "node:test";
import process from "node:process";
import type { CliIo } from "../../src/cli/_io.ts";
import { nodeIo } from "../../src/cli/_io_node.ts";
import { denoIo } from "../../src/cli/_io_deno.ts";
import { isBun, isDeno } from "../_util/runtime.ts";

type Signal = "SIGINT" | "SIGTERM";

/** This process's own signal listeners, as the runtime's CliIo installs them. */
const signals = isDeno
  ? {
    on: (signal: Signal, listener: () => void) => Deno.addSignalListener(signal, listener),
    off: (signal: Signal, listener: () => void) => Deno.removeSignalListener(signal, listener),
    send: (signal: Signal) => Deno.kill(Deno.pid, signal),
  }
  : {
    on: (signal: Signal, listener: () => void) => process.on(signal, listener),
    off: (signal: Signal, listener: () => void) => process.off(signal, listener),
    send: (signal: Signal) => process.kill(process.pid, signal),
  };

const io: CliIo = isDeno ? denoIo() : nodeIo(isBun ? "bun" : "node");

// `deno test` takes SIGINT itself (it reports the pending tests and exits): SIGTERM only there;
// denoIo makes the same two calls for both.
for (const signal of isDeno ? ["SIGTERM"] as const : ["SIGINT", "SIGTERM"] as const) {
  test(`the CLI's onInterrupt() handler hears ${signal} until its remover is called`, async () => {
    // A caller of main() in a long-lived process (a test, a tool) runs several commands: each must
    // take its handlers away again. Real signals to this process; a listener of the test's own
    // keeps the default action (ending the process) away throughout, and tells when one arrived.
    let heard = 0;
    let arrived: () => void = () => {};
    const sentinel = (): void => arrived();
    const next = (): Promise<void> => new Promise((resolve) => arrived = resolve);
    signals.on(signal, sentinel);
    // Signal listeners keep no event loop alive on Deno: an interval does, until the end.
    const alive = setInterval(() => {}, 1000);
    try {
      const remove = io.onInterrupt(() => heard++);
      let got = next();
      signals.send(signal);
      await got;
      assert.equal(heard, 1);
      remove();
      got = next();
      signals.send(signal);
      await got;
      assert.equal(heard, 1);
    } finally {
      clearInterval(alive);
      signals.off(signal, sentinel);
    }
  });
}
