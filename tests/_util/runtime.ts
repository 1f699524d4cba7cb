// Copyright 2026 the framewire authors. MIT license.
// Test helper: which runtime runs the tests, its adapter, and how to spawn scripts on each runtime.

import { fileURLToPath } from "node:url";
import type {
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  TlsConnectOptions,
  TlsListenOptions,
} from "../../src/connection/types.ts";

/** The runtimes framewire supports. */
export type Runtime = "deno" | "bun" | "node";

/** The runtime running this code. */
export const runtime: Runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";
export const isDeno: boolean = runtime === "deno";
export const isBun: boolean = runtime === "bun";
export const isNode: boolean = runtime === "node";

/** What every adapter module (`src/adapters/<runtime>.ts`) exports. */
export interface Adapter {
  connect(options: ConnectOptions): Promise<Conn>;
  listen(options: ListenOptions): Promise<Listener>;
  connectTls(options: TlsConnectOptions): Promise<Conn>;
  listenTls(options: TlsListenOptions): Promise<Listener>;
}

/** The current runtime's adapter (or another's, e.g. `adapter("node")`, which runs everywhere). */
export async function adapter(name: Runtime = runtime): Promise<Adapter> {
  const mod: Adapter = await import(`../../src/adapters/${name}.ts`);
  return mod;
}

/** The repository root (absolute path). */
export const root: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** Absolute paths of the pinned runtimes in `node_modules/.bin` (not whatever is on PATH). */
export const binaries: Readonly<Record<Runtime, string>> = {
  deno: `${root}/node_modules/.bin/deno`,
  bun: `${root}/node_modules/.bin/bun`,
  node: `${root}/node_modules/.bin/node`,
};

/** The argv that runs the TypeScript file `script` (absolute path) on `on`, then `args`. */
export function scriptArgv(on: Runtime, script: string, args: string[] = []): string[] {
  switch (on) {
    case "deno":
      return [binaries.deno, "run", "-A", script, ...args];
    case "bun":
      return [binaries.bun, script, ...args];
    case "node":
      return [binaries.node, script, ...args];
  }
}

/** Port of a TCP listener (throws for a Unix socket). */
export function portOf(listener: Listener): number {
  if (listener.addr.transport !== "tcp") {
    throw new TypeError("Cannot get a port as the listener is not TCP");
  }
  return listener.addr.port;
}
