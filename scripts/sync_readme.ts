// Copyright 2026 the framewire authors. MIT license.
/**
 * Copies the "Talk to it" section of docs/cli.md (between its first two
 * `---` rules) into README.md between the talk-to-it markers:
 * `deno run -A scripts/sync_readme.ts` (or `node scripts/sync_readme.ts`).
 * With `--check`, fails instead when README.md is out of date.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { argv, exit } from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = readFileSync(join(root, "docs/cli.md"), "utf8");
const parts = cli.split(/^---$/m);
if (parts.length < 3) throw new Error("docs/cli.md has no section between two --- rules");
const section = parts[1]!.trim();
const readmePath = join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const start = "<!-- talk-to-it:start -->";
const end = "<!-- talk-to-it:end -->";
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.slice(readme.indexOf(end));
const next = `${before}\n\n${section}\n\n${after}`;
if (argv.includes("--check")) {
  if (next !== readme) {
    console.error("README.md is out of date with docs/cli.md: run scripts/sync_readme.ts");
    exit(1);
  }
} else {
  writeFileSync(readmePath, next);
}
