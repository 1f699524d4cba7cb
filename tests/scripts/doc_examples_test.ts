// Copyright 2026 the framewire authors. MIT license.
// Which documented examples run where (scripts/doc_examples.ts), on a scratch tree of docs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { docExamples, printsAsDocumented, runDocExamples } from "../../scripts/doc_examples.ts";
import { binaries } from "../_util/runtime.ts";

/** A tree with these files (path: text), removed after `fn`. */
function withTree(files: Record<string, string>, fn: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), "framewire-doc-examples-"));
  try {
    for (const dir of ["docs", "src"]) mkdirSync(join(root, dir));
    writeFileSync(join(root, "mod.ts"), "export {};\n");
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const fence = "```";

test("doc_examples: Markdown ts blocks; /deno is the runtime's own adapter, ignore is skipped", () => {
  const readme = [
    "# t",
    `${fence}sh`,
    "npm i",
    fence,
    `${fence}ts`,
    'import { listen } from "@framewire/framewire/deno";',
    fence,
    `${fence}ts ignore`,
    "not a program(",
    fence,
    "",
  ].join("\n");
  const list = `- a step:\n\n  ${fence}ts\n  Deno.exit(0);\n  ${fence}\n`; // in a list item
  withTree(
    { "README.md": readme, "docs/b.md": list },
    (root) => {
      assert.deepEqual(docExamples(root), [
        {
          where: "README.md:5",
          code: {
            node: 'import { listen } from "@framewire/framewire/node";\n',
            bun: 'import { listen } from "@framewire/framewire/bun";\n',
          },
          skipped: {},
        },
        {
          where: "README.md:8",
          code: {},
          skipped: { node: "marked ignore", bun: "marked ignore" },
        },
        { where: "docs/b.md:3", code: {}, skipped: { node: "uses Deno.*", bun: "uses Deno.*" } },
      ]);
    },
  );
});

test("doc_examples: JSDoc blocks lose their ` * `; the adapters' own examples run on their runtime", () => {
  const jsdoc = (code: string, info = "ts") =>
    `/**\n * Text.\n *\n * @example\n * ${fence}${info}\n${
      code.split("\n").map((line) => line === "" ? " *" : `    * ${line}`).join("\n")
    }\n * ${fence}\n */\nexport {};\n`;
  const files = {
    "README.md": "",
    "src/a.ts": jsdoc('import assert from "node:assert/strict";\n\nassert.ok(true);'),
    "src/adapters/bun.ts": jsdoc('import { listen } from "@framewire/framewire/bun";', "ts ignore"),
    "src/adapters/deno.ts": jsdoc('import { listen } from "@framewire/framewire/deno";'),
    "src/c.ts": jsdoc('import { listen } from "@framewire/framewire/bun";', "ts ignore"),
  };
  withTree(files, (root) => {
    assert.deepEqual(docExamples(root), [
      {
        where: "src/a.ts:5",
        code: {
          node: 'import assert from "node:assert/strict";\n\nassert.ok(true);\n',
          bun: 'import assert from "node:assert/strict";\n\nassert.ok(true);\n',
        },
        skipped: {},
      },
      {
        where: "src/adapters/bun.ts:5",
        code: { bun: 'import { listen } from "@framewire/framewire/bun";\n' },
        skipped: { node: "imports /bun" },
      },
      {
        where: "src/adapters/deno.ts:5",
        code: {},
        skipped: {
          node: "the Deno adapter's own example",
          bun: "the Deno adapter's own example",
        },
      },
      { where: "src/c.ts:5", code: {}, skipped: { node: "marked ignore", bun: "marked ignore" } },
    ]);
  });
});

test("doc_examples: an unclosed block is an error, not a block that runs to the end", () => {
  withTree({ "README.md": `${fence}ts\nconst a = 1;\n` }, (root) => {
    assert.throws(() => docExamples(root), /unclosed code block at line 1/);
  });
});

test("doc_examples: printsAsDocumented compares with the comments, as Node or Bun prints", () => {
  const code = "console.log(await counting); // 10000\nconsole.log(o); // { bytes: 4, first: 1 }\n";
  assert.equal(printsAsDocumented(code, "10000\n{ bytes: 4, first: 1 }\n"), true); // Node
  assert.equal(printsAsDocumented(code, "10000\n{\n  bytes: 4,\n  first: 1,\n}\n"), true); // Bun
  assert.equal(printsAsDocumented(code, "10000\n{ bytes: 5, first: 1 }\n"), false);
  assert.equal(printsAsDocumented(code, "10000\n"), false);
  const strings = 'console.log(new TextDecoder().decode(reply)); // "hello"\n';
  assert.equal(printsAsDocumented(strings, "hello\n"), true);
  assert.equal(printsAsDocumented(strings, "hullo\n"), false);
  // Nothing to compare: no console.log, or one whose output the block does not state.
  assert.equal(printsAsDocumented("assert.ok(true);\n", ""), undefined);
  assert.equal(printsAsDocumented(code + "console.log(n);\n", "anything"), undefined);
});

// About 4 s of child processes (a hang waits for its limit): past bun test's default of 5 s under load.
test(
  "doc_examples: runDocExamples fails a block that throws, exits non-zero, prints other than its comments say or never ends",
  {
    timeout: 60_000,
  },
  () => {
    // Each block runs on Node and Bun, as build_npm runs them (no package import: none is installed).
    const readme = (codes: string[]) =>
      codes.map((code) => `${fence}ts\n${code}\n${fence}\n`).join("\n");
    const runtimes = { node: binaries.node, bun: binaries.bun };
    const run = (codes: string[], timeoutMs?: number) => {
      let problems: string[] = [];
      withTree({ "README.md": readme(codes) }, (root) => {
        const dir = join(root, "run");
        mkdirSync(dir);
        writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
        problems = runDocExamples(root, dir, runtimes, timeoutMs);
      });
      return problems;
    };
    const problems = run([
      "console.log(1 + 1); // 2", // README.md:1, passes
      "console.log(3); // 2", // :5
      'throw new Error("wrong");', // :9
      "process.exitCode = 3;", // :13
      "await Promise.resolve();\nconsole.log([1, 2]); // [ 1, 2 ]", // :17, passes
      'process.kill(process.pid, "SIGKILL");', // :22, ended by a signal: no exit code
      'if ("Bun" in globalThis) process.exit(4);', // :26, fails on Bun only
    ]);
    const verdicts: [number, string][] = [
      [5, 'fail (printed "3\\n", not what its comments say)'],
      [9, "fail (exit 1)"],
      [13, "fail (exit 3)"],
    ];
    assert.deepEqual(problems, [
      ...verdicts.flatMap(([line, verdict]) =>
        ["node", "bun"].map((on) => `README.md:${line} on ${on}: ${verdict}`)
      ),
      "README.md:22 on node: fail (exit SIGKILL)",
      "README.md:22 on bun: fail (exit SIGKILL)",
      "README.md:26 on bun: fail (exit 4)",
    ]);
    // Never ends: a timer that keeps it alive, and a promise that never settles (Node exits with
    // 13 and a warning, Bun keeps running): neither may pass. Killed at the limit given.
    const hung = run(["setInterval(() => {}, 1000);", "await new Promise(() => {});"], 1000);
    assert.equal(hung.length, 4, hung.join("\n"));
    assert.match(hung[0]!, /^README\.md:1 on node: hang \(killed after 1 s\)$/);
    assert.match(hung[1]!, /^README\.md:1 on bun: hang \(killed after 1 s\)$/);
    // Node exits with 13 at once, unless a loaded machine makes its start alone outlast the limit
    // (seen once in a full run of the suite beside other work).
    assert.match(
      hung[2]!,
      /^README\.md:5 on node: (?:fail \(exit 13\)|hang \(killed after 1 s\))$/,
    );
    assert.match(hung[3]!, /^README\.md:5 on bun: (?:hang|fail)/);
  },
);
