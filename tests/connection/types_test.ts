// Copyright 2026 the framewire authors. MIT license.
// The public interfaces a consumer implements or wraps (Conn, FramingLike) type-check under a
// consumer's strictest tsc settings: tests/fixtures/types/optional_members.ts passes on their
// optional members, which may be undefined (exactOptionalPropertyTypes), and its @ts-expect-error
// lines keep the members' types from growing too loose. The built package's types get the same
// settings (scripts/strict_consumer.ts) in scripts/build_npm.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binaries, root } from "../_util/runtime.ts";
import { STRICT_CONSUMER } from "../../scripts/strict_consumer.ts";

/** Runs the pinned Node's tsc with `tsconfig`; resolves with its exit code and output. */
function tsc(tsconfig: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      binaries.node,
      [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", tsconfig, "--pretty", "false"],
      { cwd: root, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : error.code;
        if (typeof code !== "number") reject(error);
        else resolve({ code, output: stdout + stderr });
      },
    );
  });
}

// tsc takes 2-3 s alone, more on a busy machine: past bun test's default of 5 s (it failed there
// once, under load).
test(
  "types: a Conn or FramingLike wrapper passing on undefined members type-checks under exactOptionalPropertyTypes",
  {
    timeout: 60_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "framewire-types-"));
    try {
      const tsconfig = join(dir, "tsconfig.json");
      writeFileSync(
        tsconfig,
        JSON.stringify({
          compilerOptions: {
            target: "es2022",
            module: "nodenext",
            moduleResolution: "nodenext",
            lib: ["es2022", "dom"],
            types: [],
            ...STRICT_CONSUMER,
            allowImportingTsExtensions: true,
          },
          files: [join(root, "tests", "fixtures", "types", "optional_members.ts")],
        }),
      );
      const { code, output } = await tsc(tsconfig);
      assert.equal(output, "");
      assert.equal(code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
