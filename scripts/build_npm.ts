// Copyright 2026 the framewire authors. MIT license.
/**
 * Builds the npm package into `npm/` from the same source that is published
 * to JSR, then tests the built package: `deno run -A scripts/build_npm.ts`.
 *
 * 1. `tsc` compiles `mod.ts` and `src/` to ESM `.js` + `.d.ts`
 *    (`rewriteRelativeImportExtensions`); `.d.ts` files keep `.ts` specifiers
 *    (microsoft/TypeScript#61037), so they are rewritten to `.js` here.
 * 2. `npm/package.json` is generated from `deno.json`: name, version,
 *    license, and the same subpath exports; the CLI becomes the `bin`.
 * 3. The export maps are checked against each other (scripts/check_exports.ts).
 * 4. The package is packed, installed into a scratch project, and imported
 *    from Node and Bun: a round trip through the codec, a loopback echo
 *    through the Node adapter, a reliable session, and `framewire --help`
 *    (and the same on an older Node found on `PATH`, such as the machine's
 *    own Node 20, if there is one); publint lints it.
 * 5. Every code example of the docs (README.md, docs/*.md, the JSDoc of mod.ts
 *    and src/: scripts/doc_examples.ts says which and where) runs from that
 *    project on Node 24 and on Bun, one line each, and type-checks against the
 *    published types with the strict nodenext consumer's settings.
 * 6. An application's code that must need no cast (tests/fixtures/types/consumer.ts,
 *    importing all five exports) type-checks against the published types with
 *    those settings under moduleResolution nodenext and node16 (Node's types)
 *    and bundler (the DOM's alone); so do a `module: commonjs` project and a
 *    `.cts` file's `require()`.
 *
 * This is the job dnt usually does; dnt and `@std/*` are on JSR only, which
 * this project's machines cannot reach.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkExports } from "./check_exports.ts";
import { runDocExamples } from "./doc_examples.ts";
import { STRICT_CONSUMER } from "./strict_consumer.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "npm");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

/** A `node` on `PATH` (not the pinned one) of major version 20 up to the pinned one's, exclusive. */
function olderNode(): string | undefined {
  const pinned = Number(run(bin("node"), ["-p", "process.versions.node"]).split(".")[0]);
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir === join(root, "node_modules", ".bin")) continue;
    const candidate = join(dir, "node");
    try {
      statSync(candidate);
      const major = Number(run(candidate, ["-p", "process.versions.node"]).split(".")[0]);
      if (major >= 20 && major < pinned) return candidate;
    } catch {
      // Not there or not runnable: try the next directory.
    }
  }
  return undefined;
}

function run(cmd: string, args: string[], cwd = root): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  } catch (error) {
    // What a failed command printed (tsc prints its errors on standard output).
    const stdout = (error as { stdout?: unknown }).stdout;
    if (typeof stdout === "string") process.stderr.write(stdout);
    throw error;
  }
}

/**
 * tests/fixtures/types/consumer.ts with its imports of the sources turned into the package's
 * (`../../../src/adapters/node.ts` -> `@framewire/framewire/node`, one for each export).
 */
function consumerOfPackage(): string {
  let text = readFileSync(join(root, "tests", "fixtures", "types", "consumer.ts"), "utf8");
  for (const [key, path] of Object.entries(denoJson.exports as Record<string, string>)) {
    const source = JSON.stringify("../../../" + path.replace(/^\.\//, ""));
    text = text.replaceAll(
      `from ${source}`,
      `from ${JSON.stringify(denoJson.name + key.slice(1))}`,
    );
  }
  const left = /from "\.[^"]*"/.exec(text);
  if (left !== null) throw new Error(`build_npm: consumer.ts imports no export: ${left[0]}`);
  return text;
}

/** Node's types, from this project's node_modules (a scratch project has none of its own). */
const nodeTypes = { types: ["node"], typeRoots: [join(root, "node_modules", "@types")] };

/** Writes a tsconfig.json to `path` for `files` (relative to it), then type-checks them with tsc. */
function typeCheck(path: string, compilerOptions: Record<string, unknown>, files: string[]): void {
  writeFileSync(path, JSON.stringify({ compilerOptions, files }));
  run(bin("tsc"), ["-p", path], dirname(path));
}

function walk(dir: string, files: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, files);
    else files.push(path);
  }
  return files;
}

// 1. Compile.
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
const tsconfig = {
  compilerOptions: {
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: ["es2023", "dom", "dom.iterable", "esnext.disposable"],
    types: ["node"],
    declaration: true,
    rewriteRelativeImportExtensions: true,
    allowImportingTsExtensions: true,
    // The adapters use each runtime's own globals (Deno, Bun), which have no
    // types here; `deno check` type-checks the source. This step only emits.
    noCheck: true,
    skipLibCheck: true,
    strict: true,
    rootDir: root,
    outDir: out,
  },
  files: [
    join(root, "mod.ts"),
    ...Object.values(denoJson.exports as Record<string, string>).map((p) => join(root, p)),
    join(root, "src", "cli", "bin.ts"),
  ],
};
const tsconfigPath = join(out, "tsconfig.build.json");
writeFileSync(tsconfigPath, JSON.stringify(tsconfig, null, 2));
run(bin("tsc"), ["-p", tsconfigPath]);
rmSync(tsconfigPath);
for (const file of walk(out)) {
  if (file.endsWith(".d.ts")) {
    const text = readFileSync(file, "utf8");
    writeFileSync(
      file,
      text.replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2"),
    );
  }
}

// 2. package.json from deno.json.
const exportsMap: Record<string, { types: string; default: string }> = {};
for (const [key, path] of Object.entries(denoJson.exports as Record<string, string>)) {
  const js = path.replace(/^\.\//, "./").replace(/\.ts$/, ".js");
  exportsMap[key] = { types: js.replace(/\.js$/, ".d.ts"), default: js };
}
// "deno" -> ["./src/adapters/deno.d.ts"], and so on for every subpath export.
const subpathTypes: Record<string, string[]> = {};
for (const [key, { types }] of Object.entries(exportsMap)) {
  if (key !== ".") subpathTypes[key.slice("./".length)] = [types];
}
const pkg = {
  name: denoJson.name,
  version: denoJson.version,
  description: "Framing for TCP byte streams on Deno, Bun and Node: length-prefixed, varint, " +
    "delimited, decimal-header, fixed-size and netstring codecs, Web Streams, socket adapters.",
  license: denoJson.license,
  type: "module",
  // package.json too, for tools that read the version.
  exports: { ...exportsMap, "./package.json": "./package.json" },
  // For tools that predate `exports`: the root, and TypeScript's `moduleResolution: node10`
  // (what `"module": "commonjs"` implies) finds the subpaths' types through typesVersions (the
  // code loads with require() on Node 22.12+); resolutions that read `exports` ignore it.
  main: "./mod.js",
  types: "./mod.d.ts",
  typesVersions: { "*": subpathTypes },
  // The executable, not the ./cli export: importing `main` from there runs nothing, even bundled.
  // No leading "./": npm publish warns that it removes such a bin entry.
  bin: { framewire: "src/cli/bin.js" },
  files: [
    "**/*.js",
    "**/*.d.ts",
    "README.md",
    "LICENSE",
    "docs/*.md",
    "docs/examples/*.bin",
    "bench/README.md",
    "bench/results/chart.svg",
  ],
  // The tests run on Node 24; the smoke test also on an older Node on PATH (the machine's 20).
  engines: { node: ">=20" },
  keywords: ["framing", "tcp", "length-prefixed", "varint", "netstring", "streams", "deno", "bun"],
  // Only the executable does something when loaded.
  sideEffects: ["./src/cli/bin.js"],
  // A scoped package is private unless published otherwise.
  publishConfig: { access: "public" },
};
writeFileSync(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
cpSync(join(root, "README.md"), join(out, "README.md"));
cpSync(join(root, "LICENSE"), join(out, "LICENSE"));
// The README and docs link to them.
cpSync(join(root, "docs"), join(out, "docs"), { recursive: true });
mkdirSync(join(out, "bench", "results"), { recursive: true });
cpSync(join(root, "bench", "README.md"), join(out, "bench", "README.md"));
cpSync(join(root, "bench", "results", "chart.svg"), join(out, "bench", "results", "chart.svg"));
// `deno run jsr:@framewire/framewire/cli` runs src/cli/main.ts as the main module; from npm the
// command is the bin on every runtime (`deno run -A npm:@framewire/framewire`). Bundled into an
// application, that check would see the application's `import.meta.main` and run the command on
// its arguments under Deno: removed here.
const cliMain = join(out, "src", "cli", "main.js");
const mainText = readFileSync(cliMain, "utf8");
// The comment above the check goes with it.
const guard =
  /^\/\/ `deno run jsr:[^]*?^if \(globalThis\.Deno !== undefined && import\.meta\.main\)\s*void runProcess\(\);\n/m;
if (!guard.test(mainText)) {
  throw new Error(`build_npm: the Deno main-module check is not in ${cliMain}`);
}
writeFileSync(cliMain, mainText.replace(guard, ""));
const cli = join(out, pkg.bin.framewire);
const cliText = readFileSync(cli, "utf8");
if (!cliText.startsWith("#!")) writeFileSync(cli, "#!/usr/bin/env node\n" + cliText);

// 3. Export maps agree.
checkExports(denoJson, pkg);

// 4. Smoke test of the packed package from a scratch project.
const scratch = mkdtempSync(join(tmpdir(), "framewire-npm-"));
try {
  const tarball = run("npm", ["pack", "--silent", "--pack-destination", scratch], out).trim().split(
    "\n",
  ).pop()!;
  writeFileSync(
    join(scratch, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module" }),
  );
  run("npm", [
    "install",
    "--silent",
    "--no-audit",
    "--no-fund",
    "--offline",
    join(scratch, tarball),
  ], scratch);
  writeFileSync(
    join(scratch, "smoke.mjs"),
    `import assert from "node:assert/strict";
import { framed, lengthPrefixed, varint, FrameDecoderStream, TruncatedFrameError, reliableClient, reliableServer } from "@framewire/framewire";
import { connect, listen } from "@framewire/framewire/node";

const framing = lengthPrefixed();
const wire = framing.encode(new TextEncoder().encode("hello"));
const decoder = framing.decoder();
for (const byte of wire) decoder.push(new Uint8Array([byte]));
assert.equal(new TextDecoder().decode(decoder.next()), "hello");
assert.equal(typeof FrameDecoderStream, "function");
assert.ok(new TruncatedFrameError("header", 1) instanceof Error);

const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const serving = (async () => {
  for await (const conn of listener) {
    const fc = framed(conn, varint());
    for await (const frame of fc) await fc.send(frame);
    await fc.close();
    break;
  }
})();
const client = framed(await connect({ hostname: "127.0.0.1", port: listener.addr.port }), varint());
for (let i = 0; i < 100; i++) client.send("echo " + i);
await client.closeWrite();
let n = 0;
for await (const frame of client) assert.equal(new TextDecoder().decode(frame), "echo " + n++);
assert.equal(n, 100);
await client.close();
await serving;
listener.close();

// A reliable session: a message sent, confirmed and received.
const reliableListener = await listen({ hostname: "127.0.0.1", port: 0 });
const server = reliableServer(reliableListener);
const session = reliableClient((signal) =>
  connect({ hostname: "127.0.0.1", port: reliableListener.addr.port, signal })
);
await session.send("order #1");
for await (const peer of server) {
  for await (const message of peer) {
    assert.equal(new TextDecoder().decode(message), "order #1");
    break;
  }
  break;
}
await session.close();
await server.close();
reliableListener.close();
console.log("smoke ok on", typeof Bun !== "undefined" ? "bun" : "node " + process.version);
`,
  );
  process.stdout.write(run(bin("node"), ["smoke.mjs"], scratch));
  // require() of ESM (Node 22.12+) loads every entry point: none has a top-level await.
  writeFileSync(
    join(scratch, "require.cjs"),
    `const assert = require("node:assert/strict");
for (const path of ${
      JSON.stringify(Object.keys(exportsMap).map((k) => denoJson.name + k.slice(1)))
    }) {
  assert.ok(Object.keys(require(path)).length > 0, path);
}
assert.equal(typeof require("${denoJson.name}/cli").main, "function");
assert.equal(require("${denoJson.name}/package.json").version, "${denoJson.version}");
console.log("require() ok for every entry point");
`,
  );
  process.stdout.write(run(bin("node"), ["require.cjs"], scratch));
  process.stdout.write(run(bin("bun"), ["smoke.mjs"], scratch));
  // The machine's own Node, if older than the pinned one (Node 20 lacks Promise.withResolvers).
  const older = olderNode();
  if (older !== undefined) {
    process.stdout.write(run(older, ["smoke.mjs"], scratch));
    // And require(), where it loads ESM (Node 20.19 and 22.12 on; the README says so).
    if (run(older, ["-p", "process.features.require_module === true"]).trim() === "true") {
      process.stdout.write(run(older, ["require.cjs"], scratch));
    }
  } else console.log("no Node from 20 up to the pinned one's major on PATH: no smoke test on it");
  // 5. The docs' examples, as a user would run them (a TypeScript file each, Node's type
  // stripping): written into examples/, type-checked with types.ts below.
  const examples = join(scratch, "examples");
  const failed = runDocExamples(root, examples, { node: bin("node"), bun: bin("bun") });
  if (failed.length > 0) throw new Error(`build_npm: doc examples failed:\n${failed.join("\n")}`);
  const help = run(
    bin("node"),
    [join(scratch, "node_modules", ".bin", "framewire"), "--help"],
    scratch,
  );
  if (!/framewire/.test(help)) throw new Error("framewire --help printed no usage");
  // ./cli run as the program's own module (as in an application bundled into one file that
  // imports `main`) runs no command, on Node nor on Deno: only the bin does.
  const cliEntry = join(scratch, "node_modules", denoJson.name, exportsMap["./cli"]!.default);
  for (const [runtime, args] of [["node", []], ["deno", ["run", "-A"]]] as const) {
    const quiet = run(bin(runtime), [...args, cliEntry, "--version"], scratch);
    if (quiet !== "") {
      throw new Error(`running ./cli as a program on ${runtime} printed ${JSON.stringify(quiet)}`);
    }
  }
  for (const example of ["capture.bin", "clienthello.bin"]) {
    statSync(join(scratch, "node_modules", denoJson.name, "docs", "examples", example));
  }
  console.log("bin ok: framewire --help; ./cli alone runs nothing; docs/examples are in");
  // The published types resolve for a TypeScript consumer (nodenext, strict, and the stricter
  // settings a consumer may add: a wrapper passing on a Conn's or a FramingLike's optional
  // members, which may be undefined, type-checks under exactOptionalPropertyTypes).
  writeFileSync(
    join(scratch, "types.ts"),
    `import { framed, lengthPrefixed, type Conn, type Framing, type FramedConnection } from "@framewire/framewire";
import type { FramingLike, ReliableSession } from "@framewire/framewire";
import { listen } from "@framewire/framewire/node";
import { reliableClient } from "@framewire/framewire";
const framing: Framing = lengthPrefixed({ width: 2 });
const listener = await listen({ port: 0 });
const port: number = listener.addr.port;
export function wrap(conn: Conn): FramedConnection {
  const wrapper: Conn = { ...conn, allocate: conn.allocate, read: conn.read };
  const inner: FramingLike = framing;
  return framed(wrapper, { ...inner, encodeInto: inner.encodeInto, encodeParts: undefined });
}
export const session: ReliableSession = reliableClient(() => Promise.reject(new Error(String(port))));
`,
  );
  // An application's code, cast-free (tests/fixtures/types/consumer.ts: `deno check` checks it
  // against the sources), importing every subpath export of the package.
  writeFileSync(join(scratch, "consumer.ts"), consumerOfPackage());
  // A CommonJS consumer: require() of the ESM package (TypeScript 5.8+ under nodenext).
  writeFileSync(
    join(scratch, "require.cts"),
    `import framewire = require("@framewire/framewire");
import node = require("@framewire/framewire/node");
function isReset(error: unknown): boolean {
  return error instanceof framewire.ConnectionError && error.code === "CONNECTION_RESET";
}
const api: { connect: typeof node.connect; isReset: typeof isReset } = { connect: node.connect, isReset };
export = api;
`,
  );
  // A Node-only consumer: no DOM lib, Node's own types (the web globals come from there).
  const nodeConsumer = (module: "nodenext" | "node16") => ({
    target: "es2022",
    module,
    moduleResolution: module,
    lib: ["es2023", "esnext.disposable"],
    ...nodeTypes,
    ...STRICT_CONSUMER,
  });
  typeCheck(join(scratch, "tsconfig.json"), nodeConsumer("nodenext"), [
    "types.ts",
    "consumer.ts",
    "require.cts",
    // Each example once: its Node version, or its Bun one if Node does not run it.
    ...readdirSync(examples).filter((name, _, names) =>
      name.endsWith("_node.ts") || !names.includes(name.replace(/_bun\.ts$/, "_node.ts"))
    ).map((name) => join("examples", name)),
  ]);
  // The same application under node16 (what differs from nodenext: no require() of ESM).
  typeCheck(join(scratch, "tsconfig.node16.json"), nodeConsumer("node16"), ["consumer.ts"]);
  // A CommonJS project of the older kind: "module": "commonjs" (moduleResolution node10, which
  // ignores `exports`), its imports compiled to require(), and an older lib (es2021, as in
  // @tsconfig/node16): the types bring es2022.error (ErrorOptions) themselves.
  mkdirSync(join(scratch, "legacy"));
  writeFileSync(
    join(scratch, "legacy", "legacy.ts"),
    `import { framed, lengthPrefixed, type Conn, type FramedConnection } from "@framewire/framewire";
import { connect } from "@framewire/framewire/node";
import type { Listener } from "@framewire/framewire/deno";
import type { Conn as BunConn } from "@framewire/framewire/bun";
import { main } from "@framewire/framewire/cli";
export async function dial(port: number): Promise<FramedConnection> {
  const conn: Conn | BunConn = await connect({ port });
  return framed(conn, lengthPrefixed());
}
export type L = Listener;
export const run: (args: string[]) => Promise<number> = main;
`,
  );
  typeCheck(join(scratch, "legacy", "tsconfig.json"), {
    target: "es2022",
    module: "commonjs",
    lib: ["es2021"],
    ...nodeTypes,
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  }, ["legacy.ts"]);
  // A browser-style consumer: DOM lib (the web streams), no @types/node, no esnext lib. The types
  // bring esnext.disposable (AsyncDisposable) themselves, and no subpath's types need Node's,
  // Deno's or Bun's (the application imports all five).
  writeFileSync(
    join(scratch, "web.ts"),
    `import { framed, lengthPrefixed, type Conn, type FramedConnection } from "@framewire/framewire";
export function wrap(conn: Conn, options?: { highWaterMark?: number | undefined }): FramedConnection {
  return framed(conn, lengthPrefixed({ maxFrameLength: undefined }), options);
}
`,
  );
  typeCheck(join(scratch, "tsconfig.web.json"), {
    target: "es2022",
    module: "esnext",
    moduleResolution: "bundler",
    lib: ["es2022", "dom"],
    types: [],
    ...STRICT_CONSUMER,
  }, ["web.ts", "consumer.ts"]);
  console.log(
    "types ok: a strict nodenext TypeScript consumer (ESM, require() and the docs' examples) " +
      "type-checks, a node16 one, a module: commonjs one (node10), and a DOM-only bundler one",
  );
  process.stdout.write(run(bin("publint"), ["--strict", out]));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`built ${pkg.name}@${pkg.version} into npm/`);
