// Copyright 2026 the framewire authors. MIT license.
// Child script of tests/cross_runtime_test.ts: an echo server on this runtime's adapter, one
// listener per wire format. Prints one line `PORTS {"u32be":1234,...}` once bound, then echoes each
// frame back with framed() (decoded and encoded again) until the client's FIN, and runs until killed.

import type { Conn } from "../../src/connection/types.ts";
import { framed, type Framing } from "../../mod.ts";
import { adapter } from "./runtime.ts";
import { FORMATS } from "./cross_formats.ts";

async function echo(conn: Conn, framing: Framing): Promise<void> {
  const fc = framed(conn, framing);
  const peer = (conn.remoteAddr as { port: number }).port;
  let frames = 0;
  try {
    for await (const batch of fc.batches()) {
      let last: Promise<void> | undefined;
      for (const frame of batch) last = fc.send(frame); // in call order, coalesced
      frames += batch.length;
      await last;
    }
    await fc.closeWrite();
  } catch (error) {
    console.error(
      `cross_server: ${framing.name}: client port ${peer}: after ${frames} frames:`,
      error,
    );
    // close() rejects when frames were lost: caught, since an unhandled rejection would end this
    // process and reset every other client's connection, hiding which failure came first.
    await fc.close().catch((closeError) =>
      console.error(`cross_server: ${framing.name}: client port ${peer}: close:`, closeError)
    );
  }
}

const { listen } = await adapter();
const ports: Record<string, number> = {};
for (const [name, make] of Object.entries(FORMATS)) {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  ports[name] = (listener.addr as { port: number }).port;
  (async () => {
    for await (const conn of listener) echo(conn, make());
  })();
}
console.log(`PORTS ${JSON.stringify(ports)}`);
