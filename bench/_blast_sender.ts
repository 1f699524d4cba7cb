// Copyright 2026 the framewire authors. MIT license.
// Child process for bench/loopback_bench.ts: connects to 127.0.0.1:PORT, says
// "connected" on standard output, waits for a line on standard input, then
// writes COUNT pre-encoded u32be frames of SIZE bytes in 256 KiB writes and
// ends. Run with Node: `node bench/_blast_sender.ts PORT COUNT SIZE`. It lets
// the receiver be measured without a sender on its thread, and without the
// child's start-up in the timing.
import { Buffer } from "node:buffer";
import * as net from "node:net";
import process from "node:process";

const [port, count, size] = process.argv.slice(2).map(Number) as [number, number, number];
const frame = size + 4;
const perWrite = Math.max(1, Math.floor((256 * 1024) / frame));
const block = Buffer.alloc(perWrite * frame);
for (let i = 0; i < perWrite; i++) block.writeUInt32BE(size, i * frame);

const socket = net.connect(port, "127.0.0.1", async () => {
  socket.setNoDelay(true);
  process.stdout.write("connected\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  process.stdin.destroy();
  for (let sent = 0; sent < count;) {
    const n = Math.min(perWrite, count - sent);
    const ok = socket.write(n === perWrite ? block : block.subarray(0, n * frame));
    sent += n;
    if (!ok) await new Promise((resolve) => socket.once("drain", resolve));
  }
  socket.end();
});
socket.on("error", (error) => {
  console.error(`blast sender: ${error.message}`);
  process.exit(1);
});
