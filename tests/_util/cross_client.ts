// Copyright 2026 the framewire authors. MIT license.
// Child script of tests/cross_runtime_test.ts: connects with this runtime's adapter to the echo
// server given as argv `'{"u32be":1234,...}'`, sends frames in every format and checks that the same
// frames come back. Exits 0 and prints `OK <frames>` when all match, exits 1 otherwise.

import process from "node:process";
import { adapter } from "./runtime.ts";
import { concat, FORMATS, payloadsFor } from "./cross_formats.ts";

const ports: Record<string, number> = JSON.parse(process.argv[process.argv.length - 1]!);
const { connect } = await adapter();
let checked = 0;

async function exchange(name: string, port: number): Promise<void> {
  const framing = FORMATS[name]!();
  const payloads = payloadsFor(name, 300, port);
  const conn = await connect({ hostname: "127.0.0.1", port });
  try {
    const sending = (async () => {
      const writer = conn.writable.getWriter();
      // Several frames per write, cut at frame boundaries and inside frames.
      const wire = concat(payloads.map((p) => framing.encode(p)));
      for (let off = 0; off < wire.byteLength; off += 7919) {
        await writer.write(wire.subarray(off, off + 7919));
      }
      await writer.close();
    })();
    const decoder = framing.decoder();
    let i = 0;
    for await (const chunk of conn.readable) {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next(), i++) {
        const expected = payloads[i];
        if (expected === undefined) throw new Error(`${name}: extra frame ${i}`);
        if (frame.byteLength !== expected.byteLength || frame.some((b, j) => b !== expected[j])) {
          throw new Error(
            `${name}: frame ${i} differs (${frame.byteLength} vs ${expected.byteLength} bytes)`,
          );
        }
      }
    }
    decoder.end();
    await sending;
    if (i !== payloads.length) throw new Error(`${name}: got ${i} of ${payloads.length} frames`);
    checked += i;
  } finally {
    conn.close();
  }
}

try {
  await Promise.all(Object.entries(ports).map(([name, port]) => exchange(name, port)));
  console.log(`OK ${checked}`);
  process.exit(0);
} catch (error) {
  console.error("cross_client:", error);
  process.exit(1);
}
