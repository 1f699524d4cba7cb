// Copyright 2026 the framewire authors. MIT license.
// Child of framed_test.ts: leaves one send unawaited and lets the process end. `refused`: a
// payload the framing refuses, whose rejection must stay loud (an unhandled rejection ends the
// process with an error); `failed`: a send after the connection failed, which must stay quiet.
import process from "node:process";
import { framed } from "../../src/connection/framed.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import type { Conn } from "../../src/connection/types.ts";
import { macrotask } from "../_util/macrotask.ts";

const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;
const conn: Conn = {
  readable: new ReadableStream(),
  writable: new WritableStream({
    write() {
      throw new Error("EPIPE");
    },
  }),
  localAddr: addr,
  remoteAddr: addr,
  closeWrite: () => Promise.resolve(),
  close() {},
  closed: Promise.resolve(),
};
const fc = framed(conn, lengthPrefixed({ maxFrameLength: 10 }));
if (process.argv[2] === "refused") {
  void fc.send(new Uint8Array(11));
} else {
  await fc.send("x").catch(() => {}); // its write fails the connection
  await macrotask(); // the failure has gone all the way through (an ordering barrier, not a count)
  void fc.send("after the failure");
}
console.log("sent");
