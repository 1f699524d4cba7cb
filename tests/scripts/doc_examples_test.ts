// Copyright 2026 the framewire authors. MIT license.
// Which documented examples run where (scripts/doc_examples.ts), on a scratch tree of docs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { docExamples, printsAsDocumented } from "../../scripts/doc_examples.ts";

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
