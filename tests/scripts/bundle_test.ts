// Copyright 2026 the framewire authors. MIT license.
// What an application bundler does to framewire: the source bundled with `bun build` (the pinned
// Bun, a devDependency), the bundle run on the current runtime.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { binaries, root, runtime, scriptArgv } from "../_util/runtime.ts";

const TIMEOUT = { timeout: 60_000 };

/** Runs `command` to completion; resolves with its standard output (rejects on a failure). */
function output(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      timeout: 30_000,
    }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

test(
  "errors keep their class names in a minified bundle (bun build --minify)",
  TIMEOUT,
  async () => {
    // Minifiers rename classes: with `this.name = new.target.name`, every error of an application
    // bundled with esbuild --minify, bun build --minify (or --compile --minify) was named after
    // the minified class ("x: Cannot decode frame as length 256 exceeds maxFrameLength 16"), and
    // code that checks `name` (the docs advise it where two copies of framewire meet) missed it.
    const dir = await mkdtemp(join(tmpdir(), "framewire-bundle-"));
    try {
      const entry = join(dir, "app.ts");
      await writeFile(
        entry,
        `import {
  ConnectionError,
  FrameTooLargeError,
  FramingError,
  lengthPrefixed,
  MalformedHeaderError,
  TruncatedFrameError,
} from ${JSON.stringify(`${root}/mod.ts`)};
class AppError extends ConnectionError {}
const decoder = lengthPrefixed({ maxFrameLength: 16 }).decoder();
decoder.push(new Uint8Array([0, 0, 1, 0]));
let decoded: unknown;
try {
  decoder.next();
} catch (error) {
  decoded = error;
}
const errors = [
  decoded,
  new FramingError("m", "PROTOCOL_ERROR"),
  new FrameTooLargeError(2, 1),
  new TruncatedFrameError("header", 1),
  new MalformedHeaderError("r", new Uint8Array([1])),
  new ConnectionError("m"),
  new AppError("m"),
];
console.log(JSON.stringify({
  names: errors.map((e) => (e as Error).name),
  appError: AppError.name,
}));
`,
      );
      const bundle = join(dir, "app.mjs");
      await output(binaries.bun, [
        "build",
        entry,
        "--minify",
        "--target=node",
        "--format=esm",
        `--outfile=${bundle}`,
      ]);
      // The minifier did rename classes (else this test could not fail).
      assert.doesNotMatch(await readFile(bundle, "utf8"), /class FrameTooLargeError\b/);
      const [command, ...argv] = scriptArgv(runtime, bundle);
      const { names, appError } = JSON.parse(await output(command!, argv));
      assert.deepEqual(names.slice(0, 6), [
        "FrameTooLargeError",
        "FramingError",
        "FrameTooLargeError",
        "TruncatedFrameError",
        "MalformedHeaderError",
        "ConnectionError",
      ]);
      // An application's own subclass is still named after its class, as minified with the rest.
      assert.equal(names[6], appError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "bun build: the ./cli module bundled as the entry runs the command on Deno; imported, none",
  TIMEOUT,
  async () => {
    // main.ts runs the command on Deno when it is the program (deno run jsr:…/cli), which a
    // bundler that knows import.meta.main keeps apart from an application that imports `main`
    // (bun build and deno bundle make it false outside the entry; esbuild does not). A check of
    // main.ts's URL tried for esbuild would have broken the first bundle: a bundle's URL is its own.
    const dir = await mkdtemp(join(tmpdir(), "framewire-bundle-"));
    try {
      const app = join(dir, "app.ts");
      await writeFile(
        app,
        `import { main } from ${JSON.stringify(`${root}/src/cli/main.ts`)};
console.log("app " + typeof main);
`,
      );
      const results: string[] = [];
      for (const [entry, name] of [[`${root}/src/cli/main.ts`, "cli.mjs"], [app, "app.mjs"]]) {
        const bundle = join(dir, name!);
        await output(binaries.bun, ["build", entry!, "--target=node", `--outfile=${bundle}`]);
        results.push(await output(binaries.deno, ["run", "-A", bundle, "--version"]));
      }
      assert.match(results[0]!, /^framewire \d\S* \(deno\)\n$/);
      assert.equal(results[1], "app function\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
