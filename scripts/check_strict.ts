// Copyright 2026 the framewire authors. MIT license.
/**
 * Type-checks the sources themselves (`mod.ts`, `src/`: every file, the
 * adapters and the CLI too) under a consumer's strictest checking settings
 * (scripts/strict_consumer.ts), as a project that vendors the source, or runs
 * `deno check --all` over its JSR dependencies, checks them:
 * `deno run -A scripts/check_strict.ts`. The published `.d.ts` get the same
 * settings in scripts/build_npm.ts; this covers the private declarations the
 * `.d.ts` leave out.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { STRICT_CONSUMER } from "./strict_consumer.ts";

/** The settings that change what a check of sources accepts (the rest are about emit). */
const CHECKING = [
  "strict",
  "exactOptionalPropertyTypes",
  "noUncheckedIndexedAccess",
  "noPropertyAccessFromIndexSignature",
  "noImplicitOverride",
  "noFallthroughCasesInSwitch",
  "verbatimModuleSyntax",
];
/**
 * Settings that only the sources keep to: the docs' examples (an application's code, checked
 * with STRICT_CONSUMER by scripts/build_npm.ts) may end a function without a return.
 */
const SOURCES_ONLY = ["noImplicitReturns"];

const root = join(import.meta.dirname!, "..");
const dir = mkdtempSync(join(tmpdir(), "framewire-strict-"));
try {
  const config = join(dir, "deno.json");
  const compilerOptions: Record<string, unknown> = { lib: ["deno.ns", "esnext", "dom"] };
  for (const name of CHECKING) compilerOptions[name] = STRICT_CONSUMER[name];
  for (const name of SOURCES_ONLY) compilerOptions[name] = true;
  writeFileSync(config, JSON.stringify({ compilerOptions }));
  const { status } = spawnSync("deno", ["check", "--quiet", "--config", config, "mod.ts", "src/"], {
    cwd: root,
    stdio: "inherit",
  });
  if (status === 0) {
    console.log("mod.ts and src/ type-check under", [...CHECKING, ...SOURCES_ONLY].join(", "));
  } else process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
