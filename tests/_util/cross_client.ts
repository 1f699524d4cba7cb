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
  const conn = await connect({ hostname: "127.0.0.1", port });
  const local = (conn.localAddr as { port: number }).port;
  const fc = framed(conn, framing);
  let i = 0;
  let sent = 0;
  try {
    const sending = (async () => {
      const sends = payloads.map((p) => fc.send(p).then(() => sent++)); // unawaited: in call order
      await Promise.all(sends);
      await fc.closeWrite();
    })();
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
  } catch (error) {
    // Which format, which connection (the server names it by this port), how far it got.
    throw new Error(
      `${name}: client port ${local}: ${i} of ${payloads.length} frames back, ${sent} sends resolved`,
      { cause: error },
    );
  } finally {
    await fc.close();
  }
}

const results = await Promise.allSettled(
  Object.entries(ports).map(([name, port]) => exchange(name, port)),
);
const failures = results.filter((r) => r.status === "rejected");
if (failures.length === 0) {
  console.log(`OK ${checked}`);
  process.exit(0);
}
for (const failure of failures) console.error("cross_client:", failure.reason);
process.exit(1);
