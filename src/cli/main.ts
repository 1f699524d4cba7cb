#!/usr/bin/env node
// Copyright 2026 the framewire authors. MIT license.
/**
 * The `framewire` command: watch, send and decode framed messages on Deno,
 * Bun and Node.
 *
 * ```sh
 * framewire demo                                  # why a byte stream needs framing
 * framewire listen --port 9000 --echo             # print (and echo) every frame
 * echo hello | framewire send 127.0.0.1:9000      # one frame per stdin line
 * framewire inspect --format varint capture.bin   # where each frame starts and ends
 * ```
 *
 * Run it with `deno run -A jsr:@framewire/framewire/cli`, `npx framewire`,
 * `bun src/cli/main.ts` or `node src/cli/main.ts`.
 *
 * @example Running a subcommand from code
 * ```ts ignore
 * import { main } from "@framewire/framewire/cli";
 *
 * const code = await main(["inspect", "--format", "line", "session.log"]);
 * console.log(`exit code ${code}`);
 * ```
 *
 * @module
 */

import { exitProcess, processArgs, runtimeIo } from "./_io.ts";
import { run } from "./_run.ts";

/**
 * Runs the `framewire` command with `args` (the arguments after the command
 * name) on the current runtime's standard input, output and sockets.
 *
 * Output goes to standard output; status lines and errors (one line each) to
 * standard error.
 *
 * @param args The command-line arguments, e.g. `["listen", "--port", "9000"]`.
 * @returns The exit code: 0 on success, 1 when the work failed (a refused
 * connection, a framing error in the stream), 2 for a usage mistake.
 *
 * @example Exit codes
 * ```ts
 * import { main } from "@framewire/framewire/cli";
 * import assert from "node:assert/strict";
 *
 * // A usage mistake prints one line on standard error and returns 2.
 * assert.equal(await main(["inspect", "--format", "u24"]), 2);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  return await run(args, await runtimeIo());
}

/** Whether this module is the program's entry point (Node before 24.2 has no `import.meta.main`). */
async function isEntryPoint(): Promise<boolean> {
  if (typeof import.meta.main === "boolean") return import.meta.main;
  const [{ realpathSync }, { argv }, { fileURLToPath }] = await Promise.all([
    import("node:fs"),
    import("node:process"),
    import("node:url"),
  ]);
  try {
    return argv[1] !== undefined &&
      realpathSync(argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Not a top-level await: the module stays loadable with require() (Node 22.12+).
void isEntryPoint().then(async (entry) => {
  if (!entry) return;
  const io = await runtimeIo();
  const code = await run(processArgs(), io);
  await io.flush();
  exitProcess(code);
});
