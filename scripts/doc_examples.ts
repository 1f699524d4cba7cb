// Copyright 2026 the framewire authors. MIT license.
/**
 * The documentation's code examples, for running on Node and Bun against the
 * built npm package (scripts/build_npm.ts does). `deno test --doc` runs them on
 * Deno against the source; this runs them as a user copying them would, as ES
 * modules in a project where `@framewire/framewire` is installed.
 *
 * Extraction: every fenced block whose info string starts with `ts` in
 * README.md and docs/*.md, and in the JSDoc comments (the ` * ` prefix
 * removed) of mod.ts and src/**\/*.ts: the files scripts/test.sh gives `deno test --doc`.
 * Which runtime runs which block:
 *
 * - `ts ignore` blocks are skipped, as `deno test --doc` skips them (fragments,
 *   or programs that need files or a fixed port), except the `/bun` adapter's
 *   own example, which is marked so only because Deno cannot run it: Bun runs it.
 * - A block that uses `Deno.` runs on neither.
 * - A block that imports `@framewire/framewire/bun` runs on Bun only.
 * - In README.md and docs/*.md, `@framewire/framewire/deno` stands for the
 *   runtime's own adapter (docs/performance.md says so): it becomes `/node` on
 *   Node and `/bun` on Bun. In JSDoc it is the Deno adapter itself: the block
 *   runs on neither.
 *
 * Run on its own to list the blocks and what runs them:
 * `deno run -A scripts/doc_examples.ts`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** A runtime the examples run on here. */
export type Runtime = "node" | "bun";

/** One code block of the documentation. */
export interface DocExample {
  /** Where it starts: `README.md:173`, `src/framing/varint.ts:60`. */
  where: string;
  /** Its code, for each runtime that runs it. */
  code: Partial<Record<Runtime, string>>;
  /** Why a runtime does not run it. */
  skipped: Partial<Record<Runtime, string>>;
}

const PACKAGE = "@framewire/framewire";

function walk(dir: string, files: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, files);
    else if (path.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** The fenced blocks of `text`: info string, first line number, code. */
function blocks(
  text: string,
  jsdoc: boolean,
): { info: string; line: number; code: string }[] {
  const found: { info: string; line: number; code: string }[] = [];
  const lines = text.split("\n").map((line) => jsdoc ? line.replace(/^\s*\* ?/, "") : line);
  for (let i = 0; i < lines.length; i++) {
    // A fence may be indented (a block in a list item): the code keeps its own indentation.
    const open = /^\s*```(\S*)(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const end = lines.findIndex((line, j) => j > i && /^\s*```\s*$/.test(line));
    if (end === -1) throw new Error(`an unclosed code block at line ${i + 1}`);
    if (open[1] === "ts") {
      found.push({
        info: (open[1] + open[2]).trim(),
        line: i + 1,
        code: lines.slice(i + 1, end).join("\n") + "\n",
      });
    }
    i = end;
  }
  return found;
}

/** Every `ts` block of README.md, docs/*.md, mod.ts and src/, with the runtimes that run it. */
export function docExamples(root: string): DocExample[] {
  const sources = [
    join(root, "README.md"),
    ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) =>
      join(root, "docs", name)
    ),
    join(root, "mod.ts"),
    ...walk(join(root, "src")),
  ];
  const examples: DocExample[] = [];
  for (const source of sources) {
    const markdown = source.endsWith(".md");
    const file = relative(root, source);
    for (const { info, line, code } of blocks(readFileSync(source, "utf8"), !markdown)) {
      const example: DocExample = { where: `${file}:${line}`, code: {}, skipped: {} };
      examples.push(example);
      const bun = code.includes(`"${PACKAGE}/bun"`);
      const deno = code.includes(`"${PACKAGE}/deno"`);
      let skip: string | undefined;
      if (info.split(/\s+/).includes("ignore") && !(bun && file === "src/adapters/bun.ts")) {
        skip = "marked ignore";
      } else if (/\bDeno\./.test(code)) skip = "uses Deno.*";
      else if (deno && !markdown) skip = "the Deno adapter's own example";
      for (const runtime of ["node", "bun"] as const) {
        if (skip !== undefined) example.skipped[runtime] = skip;
        else if (bun && runtime !== "bun") example.skipped[runtime] = "imports /bun";
        else {
          example.code[runtime] = code.replaceAll(`"${PACKAGE}/deno"`, `"${PACKAGE}/${runtime}"`);
        }
      }
    }
  }
  return examples;
}

/** Spacing, quotes and trailing commas aside: Node and Bun print objects differently. */
function loose(text: string): string {
  return text.replace(/["'\s]/g, "").replace(/,([}\]])/g, "$1");
}

/**
 * Whether `stdout` is what a block says it prints: the comments after its `console.log(...);`
 * lines, as in `console.log(await counting); // 10000`, spacing, quotes and trailing commas aside.
 * Undefined if the block prints nothing, or has a `console.log` without such a comment.
 */
export function printsAsDocumented(code: string, stdout: string): boolean | undefined {
  const calls = code.split("\n").filter((line) => line.includes("console.log("));
  const said = calls.map((line) => /console\.log\(.*\);\s*\/\/\s*(.+)$/.exec(line)?.[1]);
  if (said.length === 0 || said.includes(undefined)) return undefined;
  return loose(stdout) === loose(said.join(""));
}

/**
 * Writes every example that runs into `dir` (inside a project where the package is installed)
 * and runs each on each runtime, one process at a time with a time limit; prints one line per
 * block and runtime. A block fails if it exits with an error or hangs, or prints something else
 * than the comments after its `console.log()` calls say. Returns the failures.
 */
export function runDocExamples(
  root: string,
  dir: string,
  runtimes: Record<Runtime, string>,
  timeoutMs = 20_000,
): string[] {
  mkdirSync(dir, { recursive: true });
  const problems: string[] = [];
  docExamples(root).forEach((example, i) => {
    for (const runtime of ["node", "bun"] as const) {
      const code = example.code[runtime];
      const label = `${example.where} on ${runtime}`;
      if (code === undefined) {
        console.log(`example ${label}: skipped (${example.skipped[runtime]})`);
        continue;
      }
      const file = join(dir, `example_${i}_${runtime}.ts`);
      writeFileSync(file, `// ${example.where}\n${code}`);
      const started = performance.now();
      const result = spawnSync(runtimes[runtime], [file], {
        cwd: dir,
        encoding: "utf8",
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        env: { ...process.env, NO_COLOR: "1" },
      });
      const ms = Math.round(performance.now() - started);
      let verdict = "pass";
      if (result.error !== undefined && (result.error as { code?: string }).code === "ETIMEDOUT") {
        verdict = `hang (killed after ${timeoutMs / 1000} s)`;
      } else if (result.error !== undefined) verdict = `fail (${result.error.message})`;
      else if (result.status !== 0) verdict = `fail (exit ${result.status ?? result.signal})`;
      else if (printsAsDocumented(code, result.stdout) === true) {
        verdict = "pass (printed what its comments say)";
      } else if (printsAsDocumented(code, result.stdout) === false) {
        verdict = `fail (printed ${JSON.stringify(result.stdout)}, not what its comments say)`;
      }
      console.log(`example ${label}: ${verdict}, ${ms} ms`);
      if (!verdict.startsWith("pass")) {
        problems.push(`${label}: ${verdict}`);
        process.stderr.write(result.stdout + result.stderr);
      }
    }
  });
  return problems;
}

if (import.meta.main) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  for (const { where, skipped } of docExamples(root)) {
    const on = (runtime: Runtime) => skipped[runtime] ?? "runs";
    console.log(`${where}: node ${on("node")}; bun ${on("bun")}`);
  }
}
