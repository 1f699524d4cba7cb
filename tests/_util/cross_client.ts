// Copyright 2026 the framewire authors. MIT license.
// Child script of tests/cross_runtime_test.ts: connects with this runtime's adapter to the echo
// server given as argv `'{"u32be":1234,...}'`, sends frames in every format with framed() and
// checks that the same frames come back. Exits 0 and prints `OK <frames>` when all match, exits 1 otherwise.

import process from "node:process";
import { adapter } from "./runtime.ts";
import { framed } from "../../mod.ts";
import { FORMATS, payloadsFor } from "./cross_formats.ts";

const ports: Record<string, number> = JSON.parse(process.argv[process.argv.length - 1]!);
const { connect } = await adapter();
let checked = 0;

async function exchange(name: string, port: number): Promise<void> {
  const framing = FORMATS[name]!();
  const payloads = payloadsFor(name, 300, port);
  const fc = framed(await connect({ hostname: "127.0.0.1", port }), framing);
  try {
    const sending = (async () => {
      const sends = payloads.map((p) => fc.send(p)); // unawaited: they go out in call order
      await Promise.all(sends);
      await fc.closeWrite();
    })();
    let i = 0;
    for await (const frame of fc) {
      const expected = payloads[i];
      if (expected === undefined) throw new Error(`${name}: extra frame ${i}`);
      if (frame.byteLength !== expected.byteLength || frame.some((b, j) => b !== expected[j])) {
        throw new Error(
          `${name}: frame ${i} differs (${frame.byteLength} vs ${expected.byteLength} bytes)`,
        );
      }
      i++;
    }
    await sending;
    if (i !== payloads.length) throw new Error(`${name}: got ${i} of ${payloads.length} frames`);
    checked += i;
  } finally {
    await fc.close();
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
