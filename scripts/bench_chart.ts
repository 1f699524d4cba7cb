// Copyright 2026 the framewire authors. MIT license.
/**
 * Turns the bench JSON in `bench/results/` into the summary table (issue 5's
 * targets, per runtime), an SVG bar chart (`bench/results/chart.svg`), and
 * the results section of `bench/README.md` (between the
 * `<!-- results:start -->` and `<!-- results:end -->` markers; it ends with a
 * table of the cross-runtime pairs).
 *
 *     node scripts/bench_chart.ts        (or deno run -A / bun)
 *
 * @module
 */

import * as fs from "node:fs";

type Runtime = "deno" | "bun" | "node";
const RUNTIMES: Runtime[] = ["deno", "bun", "node"];
const ROOT = new URL("../", import.meta.url);
const RESULTS = new URL("bench/results/", ROOT);

interface Stat {
  median: number;
  min: number;
  max: number;
}
interface Result {
  group: string;
  name: string;
  framesPerSec: Stat;
  mbPerSec: Stat;
  /** Frames/s of each round, in round order (results written before it existed lack it). */
  framesPerSecRounds?: number[];
}
interface ResultFile {
  runtimeVersion: string;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string };
  date: string;
  results: Result[];
  memory?: {
    rawPeakMiB?: number;
    framedPeakMiB?: number;
    differenceMiB?: number;
    reusePeakMiB?: number;
    reuseDifferenceMiB?: number;
  };
}

function load<T = ResultFile>(name: string): T | undefined {
  const url = new URL(name, RESULTS);
  if (!fs.existsSync(url)) return undefined;
  return JSON.parse(fs.readFileSync(url, "utf8"));
}

function find(file: ResultFile | undefined, group: string, name: string): Result | undefined {
  return file?.results.find((r) => r.group === group && r.name === name);
}

/**
 * One row of the summary: a measured value per runtime, whether it meets the
 * target, and whether that verdict is settled (see {@linkcode unsettled}).
 */
export interface Row {
  metric: string;
  target: string;
  values: Partial<
    Record<
      Runtime,
      { text: string; ok: boolean | undefined; value: number; unsettled?: boolean }
    >
  >;
}

/**
 * The ratio of two cases' medians, and the lowest and highest ratio of their
 * rounds taken round by round (each round of a group runs every case once);
 * `rounds` holds those per-round ratios when the results have rounds.
 */
export interface Ratio {
  value: number;
  low: number;
  high: number;
  rounds?: number[];
}

type Rate = "framesPerSec" | "mbPerSec";

/** Each round's rate of a result, or undefined for results written before rounds were kept. */
function roundsOf(r: Result, stat: Rate): number[] | undefined {
  const f = r.framesPerSecRounds;
  if (f === undefined || f.length === 0) return undefined;
  // MB/s is frames/s times the case's bytes per frame: the same factor in every round.
  const k = stat === "framesPerSec" ? 1 : r.mbPerSec.median / r.framesPerSec.median;
  return f.map((x) => x * k);
}

/**
 * {@linkcode Ratio} of `a` to the best of `others` (by median; one result:
 * that one), of frames/s or (`stat`) MB/s. Round by round, `a` is compared
 * with whichever of `others` did best in that round. Results without rounds
 * get the widest band their min and max allow.
 */
export function ratioOf(a: Result, others: Result | Result[], stat: Rate = "framesPerSec"): Ratio {
  const bs = Array.isArray(others) ? others : [others];
  let best = bs[0]!;
  for (const b of bs) if (b[stat].median > best[stat].median) best = b;
  const value = a[stat].median / best[stat].median;
  const ra = roundsOf(a, stat);
  const rbs = bs.map((b) => roundsOf(b, stat));
  if (ra === undefined || rbs.some((rb) => rb === undefined || rb.length !== ra.length)) {
    return { value, low: a[stat].min / best[stat].max, high: a[stat].max / best[stat].min };
  }
  const rounds = ra.map((x, i) => x / Math.max(...rbs.map((rb) => rb![i]!)));
  return { value, low: Math.min(...rounds), high: Math.max(...rounds), rounds };
}

/**
 * The worst of several ratios (one per size, say): the lowest value, and per
 * round the lowest of that round's ratios, so that a round counts as meeting
 * a target only if it met it at every size. Without rounds, the band of the
 * lowest ratio.
 */
export function worstOf(ratios: Ratio[]): Ratio {
  let worst = ratios[0]!;
  for (const r of ratios) if (r.value < worst.value) worst = r;
  const n = ratios[0]!.rounds?.length;
  if (n === undefined || ratios.some((r) => r.rounds?.length !== n)) {
    const { value, low, high } = worst;
    return { value, low, high };
  }
  const rounds = ratios[0]!.rounds!.map((_, i) => Math.min(...ratios.map((r) => r.rounds![i]!)));
  return { value: worst.value, low: Math.min(...rounds), high: Math.max(...rounds), rounds };
}

/**
 * Whether a verdict against `threshold` is not settled: the band's ends fall
 * on both sides of it (some round gave the other verdict), so another run
 * could too. A verdict marked so is noted with a dagger.
 */
export function unsettled(band: { low: number; high: number }, threshold: number): boolean {
  return band.low < threshold && band.high >= threshold;
}

/** What a dagger in the table means (printed under it). */
export const UNSETTLED_NOTE =
  "† not settled: at least one round gave the other verdict, so another run can too. A ratio is taken round by round (every round of a group runs each of its cases once), against the best peer of that round and, in a worst-size row, at every size; the memory rows are one measurement each and get no †.";

const SIZES = ["16 B", "256 B", "4 KiB", "64 KiB", "1 MiB"];
/** framewire's synchronous decoder as configured by default, and with `allocate` where offered. */
const FRAMEWIRE_SYNC = ["framewire", "framewire allocUnsafe"];
const SYNC_PEERS = ["it-length-prefixed+subarray", "length-prefixed-stream", "concat-and-slice"];
const STREAM_PEERS = ["it-length-prefixed async", "length-prefixed-stream"];
const LOOPBACK_PEERS = ["length-prefixed-stream", "it-length-prefixed"];

/** A row of rates in M frames/s that has no target (a limit). */
function limitRow(metric: string, value: (rt: Runtime) => number | undefined): Row {
  const row: Row = { metric, target: "(no target)", values: {} };
  for (const rt of RUNTIMES) {
    const v = value(rt);
    if (v !== undefined) {
      row.values[rt] = { text: `${(v / 1e6).toFixed(2)} M/s`, ok: undefined, value: v };
    }
  }
  return row;
}

function ratioRow(
  metric: string,
  target: string,
  threshold: number,
  compute: (rt: Runtime) => Ratio | undefined,
): Row {
  const row: Row = { metric, target, values: {} };
  for (const rt of RUNTIMES) {
    const r = compute(rt);
    if (r === undefined || !Number.isFinite(r.value)) continue;
    const v = r.value;
    const judged = !Number.isNaN(threshold);
    row.values[rt] = {
      text: `${v.toFixed(2)}×`,
      ok: judged ? v >= threshold : undefined,
      value: v,
      unsettled: judged && unsettled(r, threshold),
    };
  }
  return row;
}

function fps(r: Result | undefined): number | undefined {
  return r?.framesPerSec.median;
}

/** The peers of `peers` measured in the group (the best of them is what a row compares with). */
function peersIn(file: ResultFile | undefined, group: string, peers: string[]): Result[] {
  return peers.map((p) => find(file, group, p)).filter((r): r is Result => r !== undefined);
}

/** {@linkcode Ratio} of a result's frames/s to the best of others, when they exist. */
function fpsRatio(a: Result | undefined, others: Result | Result[] | undefined): Ratio | undefined {
  if (a === undefined || others === undefined) return undefined;
  if (Array.isArray(others) && others.length === 0) return undefined;
  return ratioOf(a, others);
}

/** The summary rows, from whatever result files exist. */
export function summarize(): {
  rows: Row[];
  versions: Partial<Record<Runtime, string>>;
  machine?: string;
} {
  const decode = Object.fromEntries(
    RUNTIMES.map((rt) => [rt, load(`decode-${rt}.json`)]),
  ) as Record<
    Runtime,
    ResultFile | undefined
  >;
  const encode = Object.fromEntries(
    RUNTIMES.map((rt) => [rt, load(`encode-${rt}.json`)]),
  ) as Record<
    Runtime,
    ResultFile | undefined
  >;
  const loop = Object.fromEntries(
    RUNTIMES.map((rt) => [rt, load(`loopback-${rt}.json`)]),
  ) as Record<
    Runtime,
    ResultFile | undefined
  >;
  const rows: Row[] = [];
  // framewire's synchronous decoder in the summary: one row, not the better of two (the
  // allocUnsafe one where the runtime has it, as framed() uses over the Node and Bun adapters).
  const framewireSync = (rt: Runtime, group: string): Result | undefined =>
    find(decode[rt], group, "framewire allocUnsafe") ?? find(decode[rt], group, "framewire");
  for (const size of SIZES) {
    rows.push(ratioRow(
      `decode sync ${size}: framewire (allocUnsafe on Node/Bun) / best peer`,
      size === "16 B" ? "≥ 1.5×" : "> 1×",
      size === "16 B" ? 1.5 : 1.0001,
      (rt) =>
        fpsRatio(
          framewireSync(rt, `sync ${size}`),
          peersIn(decode[rt], `sync ${size}`, SYNC_PEERS),
        ),
    ));
  }
  // One case's rate over another's, in the same group of one results file.
  const caseRatio = (
    file: ResultFile | undefined,
    group: string,
    a: string,
    b: string,
  ): Ratio | undefined => fpsRatio(find(file, group, a), find(file, group, b));
  const decodeRatio = (rt: Runtime, group: string, a: string, b: string): Ratio | undefined =>
    caseRatio(decode[rt], group, a, b);
  rows.push(
    ratioRow(
      "decode sync 16 B: framewire (allocUnsafe on Node/Bun) / it-length-prefixed",
      "≥ 5×",
      5,
      (rt) =>
        fpsRatio(
          framewireSync(rt, "sync 16 B"),
          find(decode[rt], "sync 16 B", "it-length-prefixed"),
        ),
    ),
  );
  rows.push(
    ratioRow(
      "decode varint 16 B: framewire varint(), framed()'s batch / best peer (each with its own varint parser)",
      "(no target)",
      NaN,
      (rt) =>
        fpsRatio(
          find(decode[rt], "varint 16 B", "framewire varint(), framed()'s batch"),
          peersIn(decode[rt], "varint 16 B", [
            "it-length-prefixed+subarray",
            "length-prefixed-stream",
          ]),
        ),
    ),
  );
  for (const size of ["64 KiB", "1 MiB"]) {
    for (
      const [label, a, b, target] of [
        ["framewire / copy once", "framewire", "copy once", "≥ 0.65×"],
        [
          "framewire reuseBuffers / memcpy",
          "framewire reuseBuffers",
          "memcpy",
          "≥ 0.65× (memcpy meant)",
        ],
        ["framewire / memcpy", "framewire", "memcpy", "(≥ 0.65× if memcpy is meant)"],
      ] as const
    ) {
      rows.push(
        ratioRow(
          `decode sync ${size} (spanning): ${label}`,
          target,
          0.65,
          (rt) => decodeRatio(rt, `sync ${size}`, a, b),
        ),
      );
    }
  }

  for (const front of ["FrameDecoderStream", "framed() for await", "framed() batches()"]) {
    rows.push(
      ratioRow(
        `decode stream: ${front} / best streaming peer, worst size`,
        "> 1×",
        1.0001,
        (rt) => {
          const ratios: Ratio[] = [];
          for (const size of SIZES) {
            const r = fpsRatio(
              find(decode[rt], `stream ${size}`, front),
              peersIn(decode[rt], `stream ${size}`, STREAM_PEERS),
            );
            if (r === undefined) return undefined;
            ratios.push(r);
          }
          return worstOf(ratios);
        },
      ),
    );
  }
  rows.push(
    ratioRow(
      "decode stream: ByteReader readFrame() (pull reader) / best streaming peer, worst size",
      "(no target)",
      NaN,
      (rt) => {
        const ratios: Ratio[] = [];
        for (const size of SIZES) {
          const r = fpsRatio(
            find(decode[rt], `stream ${size}`, "ByteReader readFrame()"),
            peersIn(decode[rt], `stream ${size}`, STREAM_PEERS),
          );
          if (r === undefined) return undefined;
          ratios.push(r);
        }
        return worstOf(ratios);
      },
    ),
  );
  rows.push(
    ratioRow(
      "decode stream 16 B: FrameDecoderStream / Web Streams limit (enqueue + read per frame)",
      "(no target)",
      NaN,
      (rt) => decodeRatio(rt, "stream 16 B", "FrameDecoderStream", "Web Streams limit"),
    ),
  );
  const ENCODE_PEERS = ["it-length-prefixed", "length-prefixed-stream", "copy per frame"];
  for (const name of ["framed() send buffers", "FrameEncoderStream"]) {
    rows.push(
      ratioRow(
        `encode 16 B: ${name} / best peer`,
        "(no target)",
        NaN,
        (rt) =>
          fpsRatio(
            find(encode[rt], "encode 16 B", name),
            peersIn(encode[rt], "encode 16 B", ENCODE_PEERS),
          ),
      ),
    );
  }
  rows.push(
    ratioRow(
      "encode 16 B: FrameEncoderStream / Web Streams limit (write per payload)",
      "(no target)",
      NaN,
      (rt) => caseRatio(encode[rt], "encode 16 B", "FrameEncoderStream", "Web Streams limit"),
    ),
  );
  // A case's MB/s over the raw case measured in the same group, side by side.
  const mbVsRaw = (
    file: ResultFile | undefined,
    group: string,
    name: string,
  ): Ratio | undefined => {
    const f = find(file, group, name);
    const r = find(file, group, "raw native");
    return f !== undefined && r !== undefined ? ratioOf(f, r, "mbPerSec") : undefined;
  };
  rows.push(
    ratioRow(
      "loopback 64 KiB owned: framed() / raw native (MB/s)",
      "≥ 0.75×",
      0.75,
      (rt) => mbVsRaw(loop[rt], "framed 64 KiB", "framed() batches() 64 KiB"),
    ),
  );
  rows.push(
    ratioRow(
      "loopback 64 KiB reuseBuffers: framed() / raw native",
      "≥ 0.90×",
      0.9,
      (rt) => mbVsRaw(loop[rt], "framed reuseBuffers", "framed() reuseBuffers 64 KiB"),
    ),
  );
  for (
    const [label, name] of [
      ["sender only", "framed() sender only 64 KiB"],
      ["receiver only, owned", "framed() receiver only 64 KiB"],
      ["receiver only, reuseBuffers", "framed() receiver only 64 KiB reuseBuffers"],
    ]
  ) {
    rows.push(
      ratioRow(
        `loopback 64 KiB ${label} (raw other side) / raw native`,
        "(no target)",
        NaN,
        (rt) => mbVsRaw(loop[rt], "one side 64 KiB", name!),
      ),
    );
  }
  {
    const row: Row = {
      metric: "loopback 16 B: frames/s through batches()",
      target: "≥ 20 M/s",
      values: {},
    };
    for (const rt of RUNTIMES) {
      // The receiver's rate: measured with the sender in another process where the
      // bench has that case, else with both on one thread.
      const r = find(
        loop[rt],
        "framed 16 B, sender in another process",
        "framed() batches() 16 B, sender in another process",
      ) ?? find(loop[rt], "framed 16 B", "framed() batches() 16 B");
      if (r !== undefined) {
        const v = r.framesPerSec.median;
        row.values[rt] = {
          text: `${(v / 1e6).toFixed(2)} M/s`,
          ok: v >= 20e6,
          value: v,
          unsettled: unsettled({ low: r.framesPerSec.min, high: r.framesPerSec.max }, 20e6),
        };
      }
    }
    rows.push(row);
  }
  rows.push(
    limitRow(
      "limit, 16 B: one Uint8Array view per frame and nothing else (decode bench)",
      (rt) => fps(find(decode[rt], "sync 16 B", "one view per frame")),
    ),
    limitRow(
      "limit, 16 B: one Uint8Array of its own per frame, filled by a loop (what framewire does on Bun)",
      // Bun only: V8 decoders keep views, which cost less there.
      (rt) =>
        rt === "bun" ? fps(find(decode[rt], "sync 16 B", "one small copy per frame")) : undefined,
    ),
  );

  rows.push(
    limitRow(
      "limit, 16 B over loopback: native receiver, one view per frame, nothing else",
      (rt) =>
        fps(find(
          loop[rt],
          "framed 16 B, sender in another process",
          "native receiver, one view per frame 16 B, sender in another process",
        )),
    ),
  );

  rows.push(
    ratioRow(
      "loopback 100 B: framed() / one native write per message",
      "≥ 10×",
      10,
      (rt) =>
        caseRatio(
          loop[rt],
          "framed 100 B",
          "framed() batches() 100 B",
          "one write per message 100 B",
        ),
    ),
  );
  rows.push(
    ratioRow(
      "decode lines() 80-100 B: framed()'s batch / indexOf and a view per line (limit)",
      "(no target)",
      NaN,
      (rt) =>
        decodeRatio(
          rt,
          "lines 80-100 B",
          "framewire lines(), framed()'s batch",
          "indexOf and a view per line",
        ),
    ),
  );
  rows.push(
    ratioRow(
      "loopback 100 B: framed() send(string) / send(bytes), messages/s",
      "(no target)",
      NaN,
      (rt) =>
        caseRatio(
          loop[rt],
          "framed 100 B",
          "framed() send(string) 100 B",
          "framed() batches() 100 B",
        ),
    ),
  );
  rows.push(
    ratioRow(
      "loopback 16 B ping-pong (latency): framed() / raw native, round trips/s",
      "(no target)",
      NaN,
      (rt) => caseRatio(loop[rt], "ping-pong 16 B", "framed() ping-pong 16 B", "raw native"),
    ),
  );
  rows.push(
    ratioRow(
      "loopback 16 B churn (connect, one request and reply, close): framed() / raw native, connections/s",
      "(no target)",
      NaN,
      (rt) => caseRatio(loop[rt], "churn 16 B", "framed() churn 16 B", "raw native"),
    ),
  );
  {
    // The same as time per round trip, framewire's and (in brackets) the raw socket's.
    const row: Row = {
      metric: "loopback 16 B ping-pong: µs per round trip, framed() (raw native)",
      target: "(no target)",
      values: {},
    };
    for (const rt of RUNTIMES) {
      const f = fps(find(loop[rt], "ping-pong 16 B", "framed() ping-pong 16 B"));
      const r = fps(find(loop[rt], "ping-pong 16 B", "raw native"));
      if (f === undefined || r === undefined) continue;
      row.values[rt] = {
        text: `${(1e6 / f).toFixed(1)} µs (${(1e6 / r).toFixed(1)})`,
        ok: undefined,
        value: 1e6 / f,
      };
    }
    rows.push(row);
  }
  rows.push(
    ratioRow(
      "loopback 100 B and 64 KiB: framed() / best peer over node:net, worse size",
      "(no target)",
      NaN,
      (rt) => {
        const ratios: Ratio[] = [];
        for (const size of ["100 B", "64 KiB"]) {
          // The peers are measured in the same group.
          const r = fpsRatio(
            find(loop[rt], `framed ${size}`, `framed() batches() ${size}`),
            peersIn(loop[rt], `framed ${size}`, LOOPBACK_PEERS.map((peer) => `${peer} ${size}`)),
          );
          if (r === undefined) return undefined;
          ratios.push(r);
        }
        return worstOf(ratios);
      },
    ),
  );
  // The target is for the receiver as it comes (owned frames); reuseBuffers is shown next to it.
  for (
    const [metric, key, target] of [
      ["memory, 64 KiB messages: framed() peak − raw peak", "differenceMiB", "≤ 64 MiB"],
      [
        "memory, 64 KiB messages: framed() reuseBuffers peak − raw peak",
        "reuseDifferenceMiB",
        "(no target)",
      ],
    ] as const
  ) {
    const row: Row = { metric, target, values: {} };
    for (const rt of RUNTIMES) {
      const v = loop[rt]?.memory?.[key];
      if (v === undefined) continue;
      const ok = target === "(no target)" ? undefined : v <= 64;
      row.values[rt] = { text: `${v.toFixed(1)} MiB`, ok, value: v };
    }
    rows.push(row);
  }
  // framewire's node:net adapter on Deno and Bun (on Node it is the runtime's own adapter, above),
  // each ratio against the runtime's raw native socket in the same group of the same run.
  const viaNode: Partial<Record<Runtime, ResultFile | undefined>> = {
    deno: load("loopback-deno-node.json"),
    bun: load("loopback-bun-node.json"),
  };
  rows.push(
    ratioRow(
      "node:net adapter on Deno/Bun: loopback 64 KiB owned / raw native",
      "(no target)",
      NaN,
      (rt) => mbVsRaw(viaNode[rt], "framed 64 KiB", "framed() batches() 64 KiB"),
    ),
    ratioRow(
      "node:net adapter on Deno/Bun: loopback 64 KiB reuseBuffers / raw native",
      "(no target)",
      NaN,
      (rt) => mbVsRaw(viaNode[rt], "framed reuseBuffers", "framed() reuseBuffers 64 KiB"),
    ),
    limitRow(
      "node:net adapter on Deno/Bun: loopback 16 B, frames/s through batches()",
      (rt) =>
        fps(find(
          viaNode[rt],
          "framed 16 B, sender in another process",
          "framed() batches() 16 B, sender in another process",
        )),
    ),
    ratioRow(
      "node:net adapter on Deno/Bun: loopback 16 B ping-pong / raw native, round trips/s",
      "(no target)",
      NaN,
      (rt) => caseRatio(viaNode[rt], "ping-pong 16 B", "framed() ping-pong 16 B", "raw native"),
    ),
    ratioRow(
      "node:net adapter on Deno/Bun: loopback 100 B / one native write per message",
      "(no target)",
      NaN,
      (rt) =>
        caseRatio(
          viaNode[rt],
          "framed 100 B",
          "framed() batches() 100 B",
          "one write per message 100 B",
        ),
    ),
  );
  const versions: Partial<Record<Runtime, string>> = {};
  let machineText: string | undefined;
  for (const rt of RUNTIMES) {
    const f = decode[rt] ?? loop[rt] ?? encode[rt];
    if (f === undefined) continue;
    versions[rt] = f.runtimeVersion;
    machineText ??=
      `${f.machine.cpu}, ${f.machine.cores} cores, ${f.machine.memoryGiB} GiB, ${f.machine.os}`;
  }
  return { rows, versions, machine: machineText };
}

function mark(
  v: { text: string; ok: boolean | undefined; unsettled?: boolean } | undefined,
): string {
  if (v === undefined) return "–";
  if (v.ok === undefined) return v.text;
  return `${v.text} ${v.ok ? "✓" : "✗"}${v.unsettled === true ? "†" : ""}`;
}

/** The summary as a Markdown table. */
export function markdownTable(rows: Row[]): string {
  const head = ["metric", "target", "Deno", "Bun", "Node"];
  const body = rows.map((r) => [r.metric, r.target, ...RUNTIMES.map((rt) => mark(r.values[rt]))]);
  return paddedTable(head, body);
}

/** A Markdown table padded the way `deno fmt` pads tables (the README passes `deno fmt --check`). */
function paddedTable(head: string[], body: string[][]): string {
  const widths = head.map((h, i) =>
    Math.max(3, [...h].length, ...body.map((b) => [...b[i]!].length))
  );
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The summary as a plain-text table for the terminal. */
export function textTable(rows: Row[]): string {
  const head = ["metric", "target", "deno", "bun", "node"];
  const body = rows.map((r) => [r.metric, r.target, ...RUNTIMES.map((rt) => mark(r.values[rt]))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [fmt(head), ...body.map(fmt)].join("\n");
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A horizontal bar chart of the sync decode rates (frames/s, log scale) per size and runtime. */
export function svgChart(): string {
  const contenders = [...FRAMEWIRE_SYNC, ...SYNC_PEERS, "it-length-prefixed"];
  const colors = ["#2b6cb0", "#63b3ed", "#dd6b20", "#38a169", "#805ad5", "#a0aec0"];
  const bars: { label: string; runtime: Runtime; values: (number | undefined)[] }[] = [];
  for (const size of SIZES) {
    for (const rt of RUNTIMES) {
      const file = load(`decode-${rt}.json`);
      if (file === undefined) continue;
      bars.push({
        label: `${size} ${rt}`,
        runtime: rt,
        values: contenders.map((c) => fps(find(file, `sync ${size}`, c))),
      });
    }
  }
  const all = bars.flatMap((b) => b.values).filter((v): v is number => v !== undefined);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all, 1e3))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 1e4))));
  const left = 110, width = 560, barH = 4, groupGap = 8, top = 40;
  const groupH = contenders.length * barH + groupGap;
  const height = top + bars.length * groupH + 40;
  const x = (v: number): number => left + (Math.log10(v / lo) / Math.log10(hi / lo)) * width;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${
      left + width + 200
    }" height="${height}" font-family="sans-serif" font-size="10">`,
  );
  out.push(
    `<text x="${left}" y="16" font-size="13">Synchronous decode, frames/s (log scale), 64 KiB chunks</text>`,
  );
  for (let d = lo; d <= hi; d *= 10) {
    out.push(
      `<line x1="${x(d)}" y1="${top - 6}" x2="${x(d)}" y2="${height - 30}" stroke="#e2e8f0"/>`,
    );
    out.push(
      `<text x="${x(d)}" y="${top - 10}" text-anchor="middle">${
        d >= 1e6 ? `${d / 1e6}M` : d >= 1e3 ? `${d / 1e3}k` : d
      }</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y0 = top + i * groupH;
    out.push(
      `<text x="${left - 6}" y="${y0 + (contenders.length * barH) / 2 + 3}" text-anchor="end">${
        escapeXml(b.label)
      }</text>`,
    );
    b.values.forEach((v, j) => {
      if (v === undefined) return;
      out.push(
        `<rect x="${left}" y="${y0 + j * barH}" width="${
          Math.max(1, x(v) - left).toFixed(1)
        }" height="${barH - 0.5}" fill="${colors[j]}"/>`,
      );
    });
  });
  contenders.forEach((c, j) => {
    const y = top + j * 16;
    out.push(
      `<rect x="${left + width + 20}" y="${y}" width="10" height="10" fill="${colors[j]}"/>`,
    );
    out.push(`<text x="${left + width + 36}" y="${y + 9}">${escapeXml(c)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** `cross.json`: one result per (server, client) pair. */
interface CrossFile {
  config?: { size?: number; rounds?: number };
  results: { server: Runtime; client: Runtime; framesPerSec: Stat }[];
}

/**
 * The cross-runtime pairs (`cross.json`) as a Markdown table: one row per
 * receiving server, one column per sending client, MB/s of payload.
 */
export function crossTable(): { table: string; rounds: number; size: number } | undefined {
  const file = load<CrossFile>("cross.json");
  if (file === undefined) return undefined;
  const pairs = file.results;
  const size = file.config?.size ?? 4096;
  const cell = (server: Runtime, client: Runtime): string => {
    const p = pairs.find((r) => r.server === server && r.client === client);
    if (p === undefined) return "–";
    const mb = (fps: number): string => (fps * size / 1e6).toFixed(0);
    return `${mb(p.framesPerSec.median)} (${mb(p.framesPerSec.min)}–${mb(p.framesPerSec.max)})`;
  };
  const name = (rt: Runtime): string => rt[0]!.toUpperCase() + rt.slice(1);
  const head = ["server ← client", ...RUNTIMES.map(name)];
  const body = RUNTIMES.map((server) => [name(server), ...RUNTIMES.map((c) => cell(server, c))]);
  return { table: paddedTable(head, body), rounds: file.config?.rounds ?? 3, size };
}

function main(): void {
  const { rows, versions, machine } = summarize();
  console.log(textTable(rows));
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(new URL("chart.svg", RESULTS), svgChart());
  const readmeUrl = new URL("bench/README.md", ROOT);
  if (fs.existsSync(readmeUrl)) {
    const readme = fs.readFileSync(readmeUrl, "utf8");
    const start = "<!-- results:start -->";
    const end = "<!-- results:end -->";
    const i = readme.indexOf(start);
    const j = readme.indexOf(end);
    if (i >= 0 && j > i) {
      const cross = crossTable();
      // Generated text is kept as written: `deno fmt` skips it.
      const section = [
        start,
        "<!-- deno-fmt-ignore-start -->",
        "",
        `Machine: ${machine ?? "unknown"}.`,
        `Runtimes: ${RUNTIMES.filter((rt) => versions[rt]).map((rt) => versions[rt]).join("; ")}.`,
        `Generated ${
          new Date().toISOString().slice(0, 10)
        } by \`scripts/bench_chart.ts\` from \`bench/results/*.json\`.`,
        "",
        markdownTable(rows),
        "",
        UNSETTLED_NOTE,
        "",
        "![Synchronous decode, frames/s](results/chart.svg)",
        "",
        ...(cross === undefined ? [] : [
          `Cross-runtime pairs (\`cross_bench.ts\`): a server on each runtime receives ${
            cross.size / 1024
          } KiB messages from a client on each runtime (in separate processes), each through its own adapter and \`framed()\`; MB/s of payload, median (min–max) of ${cross.rounds} round${
            cross.rounds === 1 ? "" : "s"
          } per pair. The pairs run one after another, not side by side: compare them with care.`,
          "",
          cross.table,
          "",
        ]),
        "<!-- deno-fmt-ignore-end -->",
        end,
      ].join("\n");
      fs.writeFileSync(readmeUrl, readme.slice(0, i) + section + readme.slice(j + end.length));
    }
  }
}

if ((import.meta as { main?: boolean }).main) main();
