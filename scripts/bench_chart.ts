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

/** One row of the summary: a measured value per runtime and whether it meets the target. */
export interface Row {
  metric: string;
  target: string;
  values: Partial<Record<Runtime, { text: string; ok: boolean | undefined; value: number }>>;
}

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
  compute: (rt: Runtime) => number | undefined,
): Row {
  const row: Row = { metric, target, values: {} };
  for (const rt of RUNTIMES) {
    const v = compute(rt);
    if (v === undefined || !Number.isFinite(v)) continue;
    row.values[rt] = {
      text: `${v.toFixed(2)}×`,
      ok: Number.isNaN(threshold) ? undefined : v >= threshold,
      value: v,
    };
  }
  return row;
}

function fps(r: Result | undefined): number | undefined {
  return r?.framesPerSec.median;
}

function bestPeer(
  file: ResultFile | undefined,
  group: string,
  peers: string[],
): number | undefined {
  const values = peers.map((p) => fps(find(file, group, p))).filter((v): v is number =>
    v !== undefined
  );
  return values.length === 0 ? undefined : Math.max(...values);
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
  const framewireSync = (rt: Runtime, group: string): number | undefined =>
    fps(find(decode[rt], group, "framewire allocUnsafe")) ??
      fps(find(decode[rt], group, "framewire"));
  for (const size of SIZES) {
    rows.push(ratioRow(
      `decode sync ${size}: framewire (allocUnsafe on Node/Bun) / best peer`,
      size === "16 B" ? "≥ 1.5×" : "> 1×",
      size === "16 B" ? 1.5 : 1.0001,
      (rt) => {
        const f = framewireSync(rt, `sync ${size}`);
        const p = bestPeer(decode[rt], `sync ${size}`, SYNC_PEERS);
        return f !== undefined && p !== undefined ? f / p : undefined;
      },
    ));
  }
  // One case's rate over another's, in the same group of one results file.
  const caseRatio = (
    file: ResultFile | undefined,
    group: string,
    a: string,
    b: string,
  ): number | undefined => {
    const f = fps(find(file, group, a));
    const c = fps(find(file, group, b));
    return f !== undefined && c !== undefined ? f / c : undefined;
  };
  const decodeRatio = (rt: Runtime, group: string, a: string, b: string): number | undefined =>
    caseRatio(decode[rt], group, a, b);
  rows.push(
    ratioRow(
      "decode sync 16 B: framewire (allocUnsafe on Node/Bun) / it-length-prefixed",
      "≥ 5×",
      5,
      (rt) => {
        const f = framewireSync(rt, "sync 16 B");
        const p = fps(find(decode[rt], "sync 16 B", "it-length-prefixed"));
        return f !== undefined && p !== undefined ? f / p : undefined;
      },
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
          let worst: number | undefined;
          for (const size of SIZES) {
            const f = fps(find(decode[rt], `stream ${size}`, front));
            const p = bestPeer(decode[rt], `stream ${size}`, STREAM_PEERS);
            if (f === undefined || p === undefined) return undefined;
            worst = Math.min(worst ?? Infinity, f / p);
          }
          return worst;
        },
      ),
    );
  }
  rows.push(
    ratioRow(
      "decode stream 16 B: FrameDecoderStream / Web Streams limit (enqueue + read per frame)",
      "(no target)",
      NaN,
      (rt) => decodeRatio(rt, "stream 16 B", "FrameDecoderStream", "Web Streams limit"),
    ),
  );
  rows.push(ratioRow("encode 16 B: framed() send buffers / best peer", "(no target)", NaN, (rt) => {
    const f = fps(find(encode[rt], "encode 16 B", "framed() send buffers"));
    const p = bestPeer(encode[rt], "encode 16 B", [
      "it-length-prefixed",
      "length-prefixed-stream",
      "copy per frame",
    ]);
    return f !== undefined && p !== undefined ? f / p : undefined;
  }));
  rows.push(ratioRow("encode 16 B: FrameEncoderStream / best peer", "(no target)", NaN, (rt) => {
    const f = fps(find(encode[rt], "encode 16 B", "FrameEncoderStream"));
    const p = bestPeer(encode[rt], "encode 16 B", [
      "it-length-prefixed",
      "length-prefixed-stream",
      "copy per frame",
    ]);
    return f !== undefined && p !== undefined ? f / p : undefined;
  }));
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
  ): number | undefined => {
    const f = find(file, group, name)?.mbPerSec.median;
    const r = find(file, group, "raw native")?.mbPerSec.median;
    return f !== undefined && r !== undefined ? f / r : undefined;
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
      const v = fps(
        find(
          loop[rt],
          "framed 16 B, sender in another process",
          "framed() batches() 16 B, sender in another process",
        ),
      ) ?? fps(find(loop[rt], "framed 16 B", "framed() batches() 16 B"));
      if (v !== undefined) {
        row.values[rt] = { text: `${(v / 1e6).toFixed(2)} M/s`, ok: v >= 20e6, value: v };
      }
    }
    rows.push(row);
  }
  rows.push(
    limitRow(
      "limit, 16 B: one Uint8Array view per frame and nothing else (decode bench)",
      (rt) => fps(find(decode[rt], "sync 16 B", "one view per frame")),
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
    ratioRow("loopback 100 B: framed() / one native write per message", "≥ 10×", 10, (rt) => {
      const f = fps(find(loop[rt], "framed 100 B", "framed() batches() 100 B"));
      const p = fps(find(loop[rt], "framed 100 B", "one write per message 100 B"));
      return f !== undefined && p !== undefined ? f / p : undefined;
    }),
  );
  rows.push(
    ratioRow(
      "loopback 100 B and 64 KiB: framed() / best peer over node:net, worse size",
      "(no target)",
      NaN,
      (rt) => {
        let worst: number | undefined;
        for (const size of ["100 B", "64 KiB"]) {
          const f = fps(find(loop[rt], `framed ${size}`, `framed() batches() ${size}`));
          // The peers are measured in the same group.
          const p = Math.max(
            ...LOOPBACK_PEERS.map((peer) =>
              fps(find(loop[rt], `framed ${size}`, `${peer} ${size}`)) ?? 0
            ),
          );
          if (f === undefined || p === 0) return undefined;
          worst = Math.min(worst ?? Infinity, f / p);
        }
        return worst;
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

function mark(v: { text: string; ok: boolean | undefined } | undefined): string {
  if (v === undefined) return "–";
  return v.ok === undefined ? v.text : `${v.text} ${v.ok ? "✓" : "✗"}`;
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
