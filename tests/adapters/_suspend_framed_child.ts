// Copyright 2026 the framewire authors. MIT license.
// Child of suspended_peer_test.ts: one end of a framed() connection (u32be) on this runtime's
// adapter, which the test stops (SIGSTOP) and resumes (SIGCONT). Frame i is `size` bytes: i as a
// u32be, then i's low byte repeated (see frameOf).
// `receive <port>` connects, prints `CONNECTED`, reads frames until the end and prints
// `RECEIVED <n> <in order: ok|bad> <end|error code>`.
// `send <port> <size>` connects, prints `CONNECTED`, then takes commands on standard input:
// `send <from> <to>` sends frames from..to (each awaited; prints `SENT <to>`), `end` closes.

import process from "node:process";
import { createInterface } from "node:readline";
import { framed } from "../../src/connection/framed.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import { adapter } from "../_util/runtime.ts";

/** Frame `i` of `size` bytes (at least 4). */
export function frameOf(i: number, size: number): Uint8Array {
  const frame = new Uint8Array(size).fill(i & 0xff);
  new DataView(frame.buffer).setUint32(0, i);
  return frame;
}

/** Whether `frame` is frame `i` of `size` bytes. */
export function isFrame(frame: Uint8Array, i: number, size: number): boolean {
  if (frame.length !== size) return false;
  if (new DataView(frame.buffer, frame.byteOffset).getUint32(0) !== i) return false;
  for (let j = 4; j < size; j++) if (frame[j] !== (i & 0xff)) return false;
  return true;
}

if (import.meta.main) {
  const [role, port, size = "4"] = process.argv.slice(2);
  const { connect } = await adapter();
  const fc = framed(await connect({ hostname: "127.0.0.1", port: Number(port) }), lengthPrefixed());
  console.log("CONNECTED");
  if (role === "receive") {
    let n = 0;
    let inOrder = true;
    let end = "end";
    try {
      for await (const frame of fc) {
        n++;
        if (!isFrame(frame, n, frame.length)) inOrder = false;
      }
    } catch (error) {
      end = `error ${(error as { code?: string }).code}`;
    }
    console.log(`RECEIVED ${n} ${inOrder ? "ok" : "bad"} ${end}`);
    await fc.close().catch(() => {});
  } else {
    for await (const line of createInterface({ input: process.stdin })) {
      const [command, from, to] = line.split(" ");
      if (command === "send") {
        for (let i = Number(from); i <= Number(to); i++) await fc.send(frameOf(i, Number(size)));
        console.log(`SENT ${to}`);
      } else if (command === "end") {
        await fc.close();
        break;
      }
    }
  }
}
