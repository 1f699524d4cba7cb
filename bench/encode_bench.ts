// Copyright 2026 the framewire authors. MIT license.
/**
 * Encode throughput: framewire against its peers, measured in the same run.
 *
 *     deno run -A bench/encode_bench.ts      bun bench/encode_bench.ts      node bench/encode_bench.ts
 *
 * For payloads of 16 B, 256 B, 4 KiB (many small ones) and 64 KiB, 1 MiB (a
 * few large ones), a few MiB of payloads are turned into wire bytes ready
 * to hand to a socket (the output chunks are counted and their bytes summed):
 *
 * - framewire encode(): `lengthPrefixed().encode(payload)` per frame (one
 *   new buffer holding header and payload);
 * - framewire coalesced: what `FrameEncoderStream` does: small frames
 *   written with `encodeInto` into fresh 64 KiB batch buffers (its consumer
 *   may keep every chunk), a large payload sent as `encodeParts` (header +
 *   the payload, not copied);
 * - framed() send buffers: the coalescer `framed()` uses over the adapters'
 *   `Conn`s (256 KiB, send buffers reused once written), each chunk reported
 *   written as soon as it is emitted, as by a socket that takes it at once;
 * - FrameEncoderStream: the Web Streams front end, fed
 *   with `writer.write` and drained by a reader in the same run;
 * - it-length-prefixed: `encode()` over a synchronous iterable with a u32be
 *   `lengthEncoder` whose header comes from `Buffer.allocUnsafe`, as its own
 *   default encoder's does (it yields the header and the payload separately);
 * - length-prefixed-stream: its encoder as a Node stream (varint headers),
 *   written Buffers (a plain `Uint8Array` it would copy first);
 * - copy per frame: `new Uint8Array(4 + n)`, header bytes, `set(payload)`;
 * - at 16 B, the Web Streams limit: the same `writer.write` loop into a
 *   `WritableStream` whose sink only counts (what any `WritableStream` of
 *   payloads pays per write; a limit, not a peer).
 *
 * MB/s counts payload bytes. Results go to `bench/results/encode-<runtime>.json`.
 * `--quick` runs fewer, shorter rounds.
 *
 * @module
 */

import { encode as itEncode, type LengthEncoderFunction } from "it-length-prefixed";
// @ts-types="./_length_prefixed_stream.d.ts"
import lps from "length-prefixed-stream";
import { Buffer } from "node:buffer";
import * as framewire from "../mod.ts";
import { Coalescer } from "../src/streams/_coalescer.ts";
import {
  args,
  asBuffer,
  type Case,
  DEFAULT_MEASURE,
  measureGroup,
  type MeasureOptions,
  payload,
  printGroup,
  type Result,
  resultHeader,
  runtimeName,
  runtimeVersion,
  sizeLabel,
  writeResults,
} from "./_common.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [16, 256, 4 * KiB, 64 * KiB, 1 * MiB];
const TOTAL = 4 * MiB;
const BATCH = 64 * KiB;

const quick = args().includes("--quick");
const measure: MeasureOptions = quick ? { warmupMs: 40, rounds: 3, roundMs: 30 } : DEFAULT_MEASURE;

let sink = 0;

// it-length-prefixed's length encoder for a u32be field. Its header comes from
// Buffer.allocUnsafe, as its own default (varint) encoder allocates on every
// runtime (a pooled slice; `new Uint8Array(4)` per frame made it 10x slower on
// Deno, where small typed arrays are slow to allocate).
const u32beLength: LengthEncoderFunction = Object.assign(
  (value: number): Uint8Array<ArrayBuffer> => {
    const out = Buffer.allocUnsafe(4) as Uint8Array<ArrayBuffer>;
    out[0] = value >>> 24;
    out[1] = (value >>> 16) & 255;
    out[2] = (value >>> 8) & 255;
    out[3] = value & 255;
    return out;
  },
  { bytes: 4 },
);

function cases(size: number): Case[] {
  const count = Math.max(8, Math.ceil(TOTAL / size));
  const payloads: Uint8Array[] = [];
  // Distinct payload objects (as an application would have), sharing bytes.
  const body = payload(size);
  for (let i = 0; i < count; i++) payloads.push(body.subarray(0));
  // The same payloads as Buffers for length-prefixed-stream, which copies a plain Uint8Array
  // with Buffer.from() before encoding it.
  const buffers = payloads.map(asBuffer);
  const bytes = size * count;
  const framing = framewire.lengthPrefixed({ maxFrameLength: 2 * MiB });
  const wireLength = (size + 4) * count;

  const list: Case[] = [
    {
      name: "framewire",
      note: "lengthPrefixed().encode(payload) per frame",
      frames: count,
      bytes,
      run(): number {
        let n = 0;
        let total = 0;
        for (const p of payloads) {
          total += framing.encode(p).length;
          n++;
        }
        check(total, wireLength);
        return n;
      },
    },
    {
      name: "framewire coalesced",
      note:
        "encodeInto fresh 64 KiB batch buffers for small frames, encodeParts (no copy) for large ones (what FrameEncoderStream does)",
      frames: count,
      bytes,
      run(): number {
        const out: Uint8Array[] = [];
        let batch = new Uint8Array(BATCH);
        let used = 0;
        let n = 0;
        for (const p of payloads) {
          const length = p.length + 4;
          if (length > BATCH / 2) {
            if (used > 0) {
              out.push(batch.subarray(0, used));
              batch = new Uint8Array(BATCH);
              used = 0;
            }
            for (const part of framing.encodeParts(p)) out.push(part);
          } else {
            if (used + length > BATCH) {
              out.push(batch.subarray(0, used));
              batch = new Uint8Array(BATCH);
              used = 0;
            }
            used += framing.encodeInto(p, batch, used);
          }
          n++;
        }
        if (used > 0) out.push(batch.subarray(0, used));
        check(sum(out), wireLength);
        return n;
      },
    },
    {
      name: "framed() send buffers",
      note:
        "framed()'s coalescer over an adapter Conn: 256 KiB, frames up to that copied into send buffers that are reused once written; every chunk reported written as soon as it is emitted",
      frames: count,
      bytes,
      run(): number {
        let emitted = 0;
        let chunks = 0;
        const coalescer = new Coalescer(framing, 256 * KiB, (chunk) => {
          emitted += chunk.length;
          chunks++;
          coalescer.written(emitted);
        }, true);
        let n = 0;
        for (const p of payloads) {
          coalescer.add(p, false);
          n++;
        }
        coalescer.flush();
        check(emitted, wireLength);
        sink += chunks;
        return n;
      },
    },
  ];

  list.push({
    name: "FrameEncoderStream",
    note: "Web Streams: writer.write per payload (not awaited), reader drains concurrently",
    frames: count,
    bytes,
    async run(): Promise<number> {
      const stream = new framewire.FrameEncoderStream(framing);
      const writer = stream.writable.getWriter();
      const drained = (async () => {
        let total = 0;
        const reader = stream.readable.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          total += r.value.length;
        }
        return total;
      })();
      await writeAll(writer, payloads);
      check(await drained, wireLength);
      return count;
    },
  });
  if (size === 16) {
    list.push({
      name: "Web Streams limit",
      note:
        "the same writer.write loop into a WritableStream whose sink only counts (default strategy, as FrameEncoderStream's writable): the least any WritableStream of payloads pays (a limit, not a peer)",
      frames: count,
      bytes,
      async run(): Promise<number> {
        let total = 0;
        const writer = new WritableStream<Uint8Array>({
          write(p): void {
            total += 4 + p.length;
          },
        }).getWriter();
        await writeAll(writer, payloads);
        check(total, wireLength);
        return count;
      },
    });
  }

  list.push(
    {
      name: "it-length-prefixed",
      note:
        "encode() over a sync iterable, u32be lengthEncoder; yields header and payload separately",
      frames: count,
      bytes,
      run(): number {
        let total = 0;
        for (
          const part of itEncode(payloads, { lengthEncoder: u32beLength, maxDataLength: 2 * MiB })
        ) {
          total += part.length;
        }
        check(total, wireLength);
        return count;
      },
    },
    {
      name: "length-prefixed-stream",
      note: "Node stream (readable-stream Transform), write() per payload, varint headers",
      frames: count,
      bytes,
      run(): Promise<number> {
        return new Promise((resolve, reject) => {
          const encoder = lps.encode();
          let total = 0;
          encoder.on("data", (part: Uint8Array) => {
            total += part.length;
          });
          encoder.on("end", () => {
            sink += total;
            resolve(count);
          });
          encoder.on("error", reject);
          for (const p of buffers) encoder.write(p);
          encoder.end();
        });
      },
    },
    {
      name: "copy per frame",
      note: "new Uint8Array(4 + n), header bytes, set(payload)",
      frames: count,
      bytes,
      run(): number {
        let total = 0;
        for (const p of payloads) {
          const n = p.length;
          const out = new Uint8Array(4 + n);
          out[0] = n >>> 24;
          out[1] = (n >>> 16) & 255;
          out[2] = (n >>> 8) & 255;
          out[3] = n & 255;
          out.set(p, 4);
          total += out.length;
        }
        check(total, wireLength);
        return count;
      },
    },
  );
  return list;
}

/** Writes each payload without awaiting it (waiting only while the writer asks to), then closes. */
async function writeAll(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  payloads: Uint8Array[],
): Promise<void> {
  for (const p of payloads) {
    if (writer.desiredSize !== null && writer.desiredSize <= 0) await writer.ready;
    writer.write(p);
  }
  await writer.close();
}

function sum(parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  return total;
}

function check(total: number, expected: number): void {
  if (total !== expected) throw new Error(`encoded ${total} bytes, expected ${expected}`);
  sink += total;
}

async function main(): Promise<void> {
  console.log(`encode bench on ${runtimeVersion()}${quick ? " (quick)" : ""}`);
  const results: Result[] = [];
  for (const size of SIZES) {
    const r = await measureGroup(`encode ${sizeLabel(size)}`, cases(size), measure);
    printGroup(`encode, ${sizeLabel(size)} payloads`, r);
    results.push(...r);
  }
  const file = writeResults(`encode-${runtimeName()}.json`, {
    ...resultHeader("encode"),
    config: {
      sizes: SIZES,
      totalBytesPerSize: TOTAL,
      batch: BATCH,
      measure,
      mbPerSec: "payload bytes",
    },
    results,
  });
  console.log(`\nwrote ${file}${sink < 0 ? "" : ""}`);
}

await main();
