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
 * Run it with `deno run -A jsr:@framewire/framewire/cli` or `npx framewire`
 * (in a clone: `deno run -A src/cli/bin.ts`, `bun src/cli/bin.ts` or
 * `node src/cli/bin.ts`). Importing this module runs nothing.
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

import { runtimeIo } from "./_io.ts";
import { run, runProcess } from "./_run.ts";

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
 * // The arguments may be a read-only array (a frozen config, `as const`).
 * const args = ["inspect", "--skip", "-1"] as const;
 * assert.equal(await main(args), 2);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  return await run(args, await runtimeIo());
}

// `deno run jsr:@framewire/framewire/cli` runs this module. Node and Bun run bin.ts (the npm
// package's `bin`), never this: an application bundled into one ES module that imports `main`
// would otherwise run the command on its own arguments (in the bundle, `import.meta.main` is the
// application's). The npm package has no such check (scripts/build_npm.ts removes it): from npm,
// Deno too runs the bin. Not a top-level await: the module stays loadable with require() (Node
// 22.12+).
if ((globalThis as { Deno?: unknown }).Deno !== undefined && import.meta.main) void runProcess();
