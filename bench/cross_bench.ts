// Copyright 2026 the framewire authors. MIT license.
/**
 * Cross-runtime pairs: a framewire server on one runtime receives 4 KiB
 * messages from a framewire client on another, over 127.0.0.1, each side
 * with its own runtime's adapter and `framed(conn, lengthPrefixed())`.
 *
 *     node bench/cross_bench.ts            (or deno run -A / bun: the orchestrator)
 *
 * The orchestrator spawns, for every (server, client) pair of Deno, Bun and
 * Node (same-runtime pairs included for reference), `cross_bench.ts serve`
 * under the server runtime, reads its port, then `cross_bench.ts client
 * <port>` under the client runtime. The server times from the first frame to
 * the last and prints JSON. Results go to `bench/results/cross.json`.
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type Conn, framed, lengthPrefixed, type Listener } from "../mod.ts";
import {
  args,
  machine,
  payload,
  type RuntimeName,
  runtimeName,
  stat,
  writeResults,
} from "./_common.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZE = 4 * KiB;
const argv = args();
const quick = argv.includes("--quick");
const COUNT = quick ? 4096 : 32768; // 16 MiB or 128 MiB per transfer
const ROUNDS = quick ? 1 : 3;
const framing = lengthPrefixed({ maxFrameLength: 2 * MiB });

interface Adapter {
  connect(options: { hostname?: string; port: number }): Promise<Conn>;
  listen(options: { hostname?: string; port: number }): Promise<Listener>;
}

async function adapter(): Promise<Adapter> {
  return await import(`../src/adapters/${runtimeName()}.ts`) as Adapter;
}

async function serve(): Promise<void> {
  const { listen } = await adapter();
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: (listener.addr as { port: number }).port }));
  const rates: number[] = [];
  let rounds = 0;
  for await (const conn of listener) {
    const fc = framed(conn, framing);
    let n = 0;
    let start = 0;
    for await (const batch of fc.batches()) {
      if (n === 0) start = performance.now();
      n += batch.length;
      if (n >= COUNT) break;
    }
    const seconds = (performance.now() - start) / 1000;
    rates.push(n / seconds);
    await fc.close();
    if (++rounds === ROUNDS) break;
  }
  listener.close();
  console.log(JSON.stringify({ framesPerSec: rates }));
}

async function client(port: number): Promise<void> {
  const { connect } = await adapter();
  const body = payload(SIZE);
  for (let r = 0; r < ROUNDS; r++) {
    const fc = framed(await connect({ hostname: "127.0.0.1", port }), framing);
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i < COUNT; i++) {
      last = fc.send(body);
      if (i % 256 === 255) await last;
    }
    await last;
    await fc.closeWrite();
    // Wait for the server to finish and close.
    for await (const _ of fc) { /* nothing is sent back */ }
    await fc.close();
  }
}

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "node_modules", ".bin");
const SCRIPT = fileURLToPath(import.meta.url);

function command(rt: RuntimeName, extra: string[]): [string, string[]] {
  const exe = path.join(BIN, rt);
  if (rt === "deno") return [exe, ["run", "-A", SCRIPT, ...extra]];
  return [exe, [SCRIPT, ...extra]];
}

/** Runs one pair; returns the server's frames/s per round. */
function runPair(server: RuntimeName, clientRt: RuntimeName): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const flags = quick ? ["--quick"] : [];
    const [exe, cmdArgs] = command(server, ["serve", ...flags]);
    const srv = spawn(exe, cmdArgs, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let started = false;
    const timer = setTimeout(() => {
      srv.kill();
      reject(new Error(`${server}<-${clientRt}: timed out`));
    }, 120_000);
    srv.stdout.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const lines = out.split("\n");
      if (!started && lines.length > 1) {
        started = true;
        const { port } = JSON.parse(lines[0]!);
        const [cexe, cargs] = command(clientRt, ["client", String(port), ...flags]);
        const cli = spawn(cexe, cargs, { stdio: ["ignore", "inherit", "inherit"] });
        cli.on("exit", (code) => {
          if (code !== 0) reject(new Error(`${clientRt} client exited with ${code}`));
        });
      }
    });
    srv.on("exit", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop()!;
      if (code !== 0) return reject(new Error(`${server} server exited with ${code}`));
      resolve(JSON.parse(last).framesPerSec);
    });
  });
}

async function orchestrate(): Promise<void> {
  const runtimes: RuntimeName[] = ["deno", "bun", "node"];
  const results = [];
  console.log(
    `cross-runtime pairs, ${SIZE / KiB} KiB messages, ${COUNT} per transfer, ${ROUNDS} rounds`,
  );
  console.log(
    `${"server <- client".padEnd(18)} ${"frames/s median (min–max)".padStart(28)} ${
      "MB/s".padStart(7)
    }`,
  );
  for (const server of runtimes) {
    for (const clientRt of runtimes) {
      try {
        const s = stat(await runPair(server, clientRt));
        results.push({
          server,
          client: clientRt,
          size: SIZE,
          framesPerSec: s,
          mbPerSec: s.median * SIZE / 1e6,
        });
        const range = `${(s.median / 1e3).toFixed(1)}k (${(s.min / 1e3).toFixed(1)}k–${
          (s.max / 1e3).toFixed(1)
        }k)`;
        console.log(
          `${`${server} <- ${clientRt}`.padEnd(18)} ${range.padStart(28)} ${
            (s.median * SIZE / 1e6).toFixed(0).padStart(7)
          }`,
        );
      } catch (error) {
        console.log(
          `${server} <- ${clientRt}: failed: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
  }
  const file = writeResults("cross.json", {
    bench: "cross",
    machine: machine(),
    date: new Date().toISOString(),
    config: { size: SIZE, count: COUNT, rounds: ROUNDS },
    results,
  });
  console.log(`\nwrote ${file}`);
}

const mode = argv.find((a) => !a.startsWith("--"));
if (mode === "serve") await serve();
else if (mode === "client") await client(Number(argv.filter((a) => !a.startsWith("--"))[1]));
else await orchestrate();
