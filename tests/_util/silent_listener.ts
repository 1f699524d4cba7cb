// Copyright 2026 the framewire authors. MIT license.
// A TCP listener on 127.0.0.1, or a Unix socket listener, that never accepts.

import { spawn } from "node:child_process";
import { binaries } from "./runtime.ts";

/** A listener whose process blocks once listening: it never accepts. */
export interface SilentListener {
  port: number;
  /** Kills its process and waits until it is gone. */
  close(): Promise<void>;
}

/**
 * Starts, in a Node process of its own, a listener with a backlog of 1 that
 * never accepts (the process blocks once listening, for a minute at most, so
 * a failed test leaves it behind no longer). On Linux, once its accept queue
 * is full (two connections), the SYNs that come after are dropped: a connect
 * gets no answer, as to a black-holed address. With `path`, on that Unix
 * socket (`port` is then 0): a connect once the queue is full fails at once.
 */
export async function startSilentListener(path?: string): Promise<SilentListener> {
  const where = path === undefined
    ? `{ port: 0, host: "127.0.0.1", backlog: 1 }`
    : `{ path: ${JSON.stringify(path)}, backlog: 1 }`;
  const script = `
    const server = require("node:net").createServer();
    server.listen(${where}, () => {
      console.log(server.address().port ?? 0);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      process.exit(0);
    });`;
  const child = spawn(binaries.node, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const close = async (): Promise<void> => {
    child.kill();
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        if (out.includes("\n")) resolve(Number(out));
      });
      child.once("exit", (code) => reject(new Error(`the listener exited with ${code}`)));
    });
    return { port, close };
  } catch (error) {
    await close();
    throw error;
  }
}
