// Copyright 2026 the framewire authors. MIT license.
// Shared helpers for the bench scripts: runtime detection, a round-robin
// timing harness (warm-up first, several rounds, median with min–max), table
// printing and JSON output. Plain TypeScript that Deno, Bun and Node 24 run
// as is. Private to bench/.

import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import * as os from "node:os";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { mulberry32 } from "../src/cli/_prng.ts";

/** The runtime running this script. */
export type RuntimeName = "deno" | "bun" | "node";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Which runtime runs this script. */
export function runtimeName(): RuntimeName {
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/** The runtime's version string. */
export function runtimeVersion(): string {
  const name = runtimeName();
  if (name === "deno") return `deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (name === "bun") return `bun ${g.Bun.version} (JavaScriptCore)`;
  return `node ${g.process.version} (V8 ${g.process.versions.v8})`;
}

/** The machine the numbers come from. */
export function machine(): { cpu: string; cores: number; memoryGiB: number; os: string } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

let gc: (() => void) | undefined;
if (g.Bun !== undefined) {
  gc = () => g.Bun.gc(true);
} else {
  try {
    // Node and Deno: expose V8's gc() without a command line flag.
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc");
  } catch {
    gc = undefined;
  }
}

/**
 * Runs a full garbage collection when the runtime allows it (for memory
 * measurements; not used between timing rounds).
 */
export function collectGarbage(): void {
  gc?.();
}

/** Command line arguments after the script name, on every runtime. */
export function args(): string[] {
  if (g.Deno !== undefined) return [...g.Deno.args];
  return g.process.argv.slice(2);
}

/**
 * `--only <text>`: which groups to run. `text` may list alternatives,
 * `"a|b"`: the groups whose name contains `a` or `b`. Returns the text (or
 * `undefined` without `--only`) and the test for a group name.
 */
export function onlyGroups(
  argv: string[],
  example: string,
): { only: string | undefined; chosen: (group: string) => boolean } {
  if (!argv.includes("--only")) return { only: undefined, chosen: () => true };
  const only = argv[argv.indexOf("--only") + 1];
  const texts = only?.split("|") ?? [];
  if (only === undefined || only.startsWith("--") || texts.includes("")) {
    throw new Error(
      `--only needs the text of a group name after it (alternatives separated by |, none empty), e.g. --only "${example}"`,
    );
  }
  return { only, chosen: (group) => texts.some((t) => group.includes(t)) };
}

/** Median, minimum and maximum of a list of numbers. */
export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** Median, min and max of `values` (not empty). */
export function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** One contender in a group: a function that processes the whole input once. */
export interface Case {
  /** Shown in the table, e.g. "framewire", "it-length-prefixed". */
  name: string;
  /** Frames handled by one call of `run`. */
  frames: number;
  /** Payload bytes handled by one call of `run` (MB/s is computed from these). */
  bytes: number;
  /**
   * Processes the input once; returns the number of frames seen (checked),
   * or a {@linkcode Timed} with the seconds of the part that counts.
   */
  run: () => number | Timed | Promise<number | Timed>;
  /** A note for the JSON (e.g. which header the peer decodes). */
  note?: string;
}

/**
 * What a case that times itself returns: the frames it processed and the
 * seconds of the part that counts (e.g. without starting a child process).
 */
export interface Timed {
  frames: number;
  seconds: number;
}

/** A measured case. */
export interface Result {
  group: string;
  name: string;
  note?: string;
  framesPerSec: Stat;
  mbPerSec: Stat;
  rounds: number;
  /**
   * Frames/s of each round, in the order of the rounds: the n-th of every
   * case of a group come from the same pass over the group, so two cases'
   * rates can be compared round by round.
   */
  framesPerSecRounds: number[];
}

/** Timing parameters. */
export interface MeasureOptions {
  /** Warm-up time per case before the first round, in ms. */
  warmupMs: number;
  /** Rounds per case. */
  rounds: number;
  /** Minimum duration of one round, in ms (the input is processed repeatedly until then). */
  roundMs: number;
}

/** Defaults tuned to keep each bench well under a minute per runtime. */
export const DEFAULT_MEASURE: MeasureOptions = { warmupMs: 150, rounds: 5, roundMs: 80 };

/** Runs the case once; returns the seconds it timed itself, if it did. */
async function once(c: Case): Promise<number | undefined> {
  const r = await c.run();
  const n = typeof r === "number" ? r : r.frames;
  if (n !== c.frames) throw new Error(`${c.name}: expected ${c.frames} frames, got ${n}`);
  return typeof r === "number" ? undefined : r.seconds;
}

// One round: run the case until `ms` have passed; seconds per call (the
// case's own timing where it reports one).
// No forced GC between rounds: measured, a full gc() before each round made
// V8 shrink its young generation and cut framewire's 16 B rate by up to 2x.
async function round(c: Case, ms: number): Promise<number> {
  let calls = 0;
  let seconds = 0;
  const start = performance.now();
  let now = start;
  do {
    const before = now;
    const own = await once(c);
    now = performance.now();
    seconds += own ?? (now - before) / 1000;
    calls++;
  } while (now - start < ms);
  return seconds / calls;
}

/**
 * Measures every case of a group in the same run: each case is warmed up,
 * then rounds go round-robin over the cases so that machine noise hits them
 * alike, each round after the first in a new order (see
 * {@linkcode roundOrders}). Returns one result per case.
 */
export async function measureGroup(
  group: string,
  cases: Case[],
  options: MeasureOptions = DEFAULT_MEASURE,
): Promise<Result[]> {
  for (const c of cases) await round(c, options.warmupMs);
  const times: number[][] = cases.map(() => []);
  for (const order of roundOrders(cases.length, options.rounds)) {
    for (const i of order) times[i]!.push(await round(cases[i]!, options.roundMs));
  }
  return cases.map((c, i) => {
    const secs = times[i]!;
    const fps = stat(secs.map((s) => c.frames / s));
    const mbps = stat(secs.map((s) => c.bytes / s / 1e6));
    const result: Result = {
      group,
      name: c.name,
      framesPerSec: fps,
      mbPerSec: mbps,
      rounds: secs.length,
      framesPerSecRounds: secs.map((s) => Math.round(c.frames / s * 1000) / 1000),
    };
    if (c.note !== undefined) result.note = c.note;
    return result;
  });
}

/**
 * The order of the cases in each round: the first round in the given order
 * (as the warm-up), each later one a seeded shuffle that makes no case follow
 * a case it has followed before (across round boundaries too) where one can be
 * found, so that no case always runs right after the same one and inherits
 * its garbage (or the memory it gave back). The same orders in every run.
 */
export function roundOrders(n: number, rounds: number): number[][] {
  const random = mulberry32(n * 7919 + rounds);
  const seen = new Set<number>(); // predecessor * n + case
  const orders: number[][] = [];
  let last = n - 1; // the warm-up's last case
  for (let r = 0; r < rounds; r++) {
    let best: number[] = [];
    let bestRepeats = Infinity;
    for (let attempt = 0; attempt < (r === 0 ? 1 : 500) && bestRepeats > 0; attempt++) {
      const order = Array.from({ length: n }, (_, i) => i);
      if (r > 0) shuffle(order, random);
      let repeats = 0;
      let before = last;
      for (const i of order) {
        if (seen.has(before * n + i)) repeats++;
        before = i;
      }
      if (repeats < bestRepeats) [best, bestRepeats] = [order, repeats];
    }
    for (const i of best) {
      seen.add(last * n + i);
      last = i;
    }
    orders.push(best);
  }
  return orders;
}

/** Fisher–Yates, in place. */
function shuffle(items: number[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** Formats a rate with an SI suffix: 12.3M, 456k. */
export function si(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n >= 100 ? 0 : 1);
}

/** Formats a byte count: 16 B, 4 KiB, 1 MiB. */
export function sizeLabel(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/**
 * Prints results as a table with ratios to `reference` (by name): to the
 * reference measured in the same group where there is one (side by side),
 * else to the first.
 */
export function printGroup(
  title: string,
  results: Result[],
  reference = "framewire",
  ratioBy: "frames" | "bytes" = "frames",
): void {
  const first = results.find((r) => r.name === reference);
  const ratio = (r: Result, ref: Result): number =>
    ratioBy === "frames"
      ? r.framesPerSec.median / ref.framesPerSec.median
      : r.mbPerSec.median / ref.mbPerSec.median;
  const rows = results.map((r) => {
    const ref = results.find((x) => x.name === reference && x.group === r.group) ?? first;
    return [
      results.filter((x) => x.name === r.name).length > 1 ? `${r.name} (${r.group})` : r.name,
      `${si(r.framesPerSec.median)} (${si(r.framesPerSec.min)}–${si(r.framesPerSec.max)})`,
      `${r.mbPerSec.median.toFixed(0)} (${r.mbPerSec.min.toFixed(0)}–${r.mbPerSec.max.toFixed(0)})`,
      ref === undefined ? "" : `${ratio(r, ref).toFixed(2)}×`,
    ];
  });
  const head = [
    "",
    "frames/s median (min–max)",
    "MB/s median (min–max)",
    `${ratioBy === "frames" ? "frames/s" : "MB/s"} vs ${reference}`,
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  console.log(`\n${title}`);
  console.log(head.map((h, i) => pad(h, widths[i]!, i > 0)).join("  "));
  for (const row of rows) console.log(row.map((c, i) => pad(c, widths[i]!, i > 0)).join("  "));
}

/** Writes `data` as JSON to `bench/results/<file>` (creating the folder). */
export function writeResults(file: string, data: unknown): string {
  const dir = new URL("./results/", import.meta.url);
  fs.mkdirSync(dir, { recursive: true });
  const url = new URL(file, dir);
  fs.writeFileSync(url, JSON.stringify(data, null, 2) + "\n");
  return url.pathname;
}

/** The header every results file starts with. */
export function resultHeader(bench: string): Record<string, unknown> {
  return {
    bench,
    runtime: runtimeName(),
    runtimeVersion: runtimeVersion(),
    machine: machine(),
    date: new Date().toISOString(),
  };
}

/** Splits `bytes` into views of at most `size` bytes. */
export function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.subarray(i, Math.min(i + size, bytes.length)));
  }
  return out;
}

/** Deterministic filler bytes (no crypto, same on every runtime). */
export function payload(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * A Buffer over the same bytes (no copy), where the runtime has Buffer: what
 * a Node stream takes as it is (readable-stream copies a plain Uint8Array
 * with `Buffer.from` first), and what a node:net socket hands out.
 */
export function asBuffer(bytes: Uint8Array): Uint8Array {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * What any receiver that hands out one `Uint8Array` per frame must do, and
 * nothing else: for every chunk of a u32be stream of `size`-byte frames, one
 * view per frame (with `copies`, one `new Uint8Array(size)` filled by a
 * loop: cheaper than a view for small frames on Bun), kept in a fresh array.
 * Returns a function that takes the next chunk and says how many frames ended
 * in it (a frame that spans into the next chunk is counted, not viewed: one
 * in thousands at 16 B).
 */
export function frameViews(size: number, copies = false): (chunk: Uint8Array) => number {
  let pos = 0; // the next frame's start, relative to the current chunk
  return (c: Uint8Array): number => {
    const out: Uint8Array[] = [];
    const buffer = c.buffer;
    const base = c.byteOffset;
    if (copies) {
      for (; pos + 4 + size <= c.length; pos += 4 + size) {
        const f = new Uint8Array(size);
        for (let i = 0, from = pos + 4; i < size; i++) f[i] = c[from + i]!;
        out.push(f);
      }
    } else {
      for (; pos + 4 + size <= c.length; pos += 4 + size) {
        out.push(new Uint8Array(buffer, base + pos + 4, size));
      }
    }
    viewSink += out[out.length - 1]?.length ?? 0;
    let n = out.length;
    if (pos < c.length) {
      n++;
      pos += 4 + size;
    }
    pos -= c.length;
    return n;
  };
}

/** Keeps the views observable, so that making them is not optimised away. */
let viewSink = 0;

/** What {@linkcode frameViews} summed up: print something that depends on it. */
export function viewsSeen(): number {
  return viewSink;
}
