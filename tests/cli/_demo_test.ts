// Copyright 2026 the framewire authors. MIT license.
// `framewire demo` (the framing story) in-process over loopback. The reads and the summary against
// an oracle: tests/cli/_net_test.ts.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run } from "../../src/cli/_run.ts";
import type { Conn } from "../../src/connection/types.ts";
import { adapter, root } from "../_util/runtime.ts";
import { acceptingThrough, captureIo, readingThrough } from "./_capture_io.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const TIMEOUT = { timeout: 30_000 };

test(
  "framewire demo prints the default run docs/cli.md (and the README) shows",
  TIMEOUT,
  async () => {
    // Before (mutation run of _demo.ts), the message table's column widths, the wording around the
    // reads and the "at most 16 bytes" of the default --max-chunk could change and every test passed.
    const doc = readFileSync(join(root, "docs/cli.md"), "utf8");
    const start = doc.indexOf("framewire demo: why a TCP byte stream needs framing");
    assert.notEqual(start, -1);
    const shown = doc.slice(start, doc.indexOf("```", start));
    const io = captureIo();
    assert.equal(await run(["demo"], io), 0, io.stderr);
    assert.equal(io.stderr, "");
    assert.equal(io.stdout, shown);
  },
);

test("two demos run at once: each listens on ports of its own", TIMEOUT, async () => {
  // Before (mutation run of _demo.ts), with the server or the proxy on a fixed port instead of an
  // ephemeral one, every test passed (as root, which may bind port 1).
  const a = captureIo();
  const b = captureIo();
  const codes = await Promise.all([run(["demo"], a), run(["demo", "--seed", "2"], b)]);
  assert.deepEqual(codes, [0, 0], a.stderr + b.stderr);
});

/** `conn`, whose bytes from the peer arrive with every lowercase ASCII letter made uppercase. */
function shouting(conn: Conn): Conn {
  return readingThrough(
    conn,
    new TransformStream({
      transform(chunk, controller): void {
        controller.enqueue(chunk.map((b) => b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
      },
    }),
  );
}

test(
  "framewire demo says MISMATCH and exits 1 when the frames differ from what was sent",
  TIMEOUT,
  async () => {
    // A network that changes bytes but keeps their number (the length prefixes hold no letter): the
    // decoder returns six frames of the right lengths. Before (mutation run of _demo.ts), a check
    // that compared only the number of frames, or only their lengths, passed every test.
    const io = captureIo();
    io.adapter = () => acceptingThrough(shouting);
    assert.equal(await run(["demo"], io), 1, io.stderr);
    assert.equal(io.stderr, "");
    assert.match(io.stdout, /-> frame 1: "HELLO"\n/);
    assert.match(
      io.stdout,
      /spread over several reads\. MISMATCH: the decoder returned 6 frames that differ from what was sent\.\n$/,
    );
  },
);

test(
  "framewire demo that cannot connect says why in one line, exits 1 and closes its listeners",
  TIMEOUT,
  async () => {
    // Before (mutation run of _demo.ts), the exit code of a demo that failed after it began could
    // change and every test passed: only a failure to get the adapter (an exit 1 of run()) was tried.
    const io = captureIo();
    io.adapter = async () => {
      const real = await adapter();
      return {
        listen: real.listen,
        connect: () => Promise.reject(new Error("no connections in this test")),
      };
    };
    assert.equal(await run(["demo"], io), 1);
    assert.equal(io.stderr, "framewire demo: no connections in this test\n");
    assert.match(io.stdout, /^framewire demo: why a TCP byte stream needs framing/);
  },
);

test("framewire demo -f F is --format F, as docs/cli.md says", TIMEOUT, async () => {
  // Before (mutation run of _demo.ts), with the alias gone, every test passed.
  for (const args of [["-f", "line"], ["-fline"], ["--format=line"]]) {
    const io = captureIo();
    assert.equal(await run(["demo", ...args], io), 0, io.stderr);
    assert.match(io.stdout, /^framewire demo: .* \(format line, seed 1\)\n/, args.join(" "));
  }
});

test("framewire demo names how each format frames a message", TIMEOUT, async () => {
  // Before (mutation run of _demo.ts), these four sentences could go and every test passed (the
  // length-prefix formats are in _net_test.ts).
  const sentences: Record<string, string> = {
    line: 'line framing ends each one with "\\n"',
    netstring: 'a netstring wraps each one as LENGTH ":" payload ","',
    varint: "varint puts a LEB128 length (1 byte when short) before each",
    decimal10: "decimal10 puts the length in 10 ASCII characters before each",
  };
  for (const [format, sentence] of Object.entries(sentences)) {
    const io = captureIo();
    assert.equal(await run(["demo", "--format", format], io), 0, io.stderr);
    assert.ok(
      io.stdout.includes(`one send() call each; ${sentence}:\n`),
      `${format}:\n${io.stdout}`,
    );
  }
});

test(
  "framewire demo shows 16 bytes of a read, and … after them when there are more",
  TIMEOUT,
  async () => {
    // Before (mutation run of _demo.ts), with the "…" gone, every test passed: no test had a read
    // of more than 16 bytes in its view.
    const io = captureIo();
    assert.equal(await run(["demo", "--max-chunk", "64"], io), 0, io.stderr);
    const reads = [...io.stdout.matchAll(/^read \d+ +(\d+) B {2}.*\|(.*)\|$/gm)];
    assert.ok(reads.some(([, size]) => Number(size) > 16), io.stdout);
    for (const [line, size, text] of reads) {
      assert.equal(text!.endsWith("…"), Number(size) > 16, line);
    }
  },
);

test(
  "framewire demo whose proxy gets the client's bytes one at a time still decodes them",
  TIMEOUT,
  async () => {
    // Before (mutation run of _demo.ts), a proxy that dropped what it held when it read more
    // (joined.set(pending) deleted) passed every test: on loopback the client's bytes came in one read.
    const io = captureIo();
    io.adapter = () =>
      acceptingThrough((conn) =>
        readingThrough(
          conn,
          new TransformStream({
            transform(chunk, controller): void {
              for (let i = 0; i < chunk.length; i++) controller.enqueue(chunk.slice(i, i + 1));
            },
          }),
        )
      );
    assert.equal(await run(["demo"], io), 0, io.stderr);
    assert.match(io.stdout, /The decoder returned all 6 messages intact;/);
  },
);

test("framewire demo --max-chunk 1 says 1 byte per piece, not 1 bytes", TIMEOUT, async () => {
  const io = captureIo();
  assert.equal(await run(["demo", "--max-chunk", "1"], io), 0, io.stderr);
  assert.match(io.stdout, /\(at most\n1 byte per piece\)/);
});

test("framewire demo refuses an argument it does not take, in one line with exit 2", async () => {
  // Before (mutation run of _demo.ts), with one argument let through, every test passed.
  const io = captureIo();
  io.adapter = () => Promise.reject(new Error("no sockets in this test"));
  assert.equal(await run(["demo", "extra"], io), 2, io.stderr);
  assert.equal(
    io.stderr,
    'framewire demo: unexpected argument "extra" (see "framewire demo --help")\n',
  );
  assert.equal(io.stdout, "");
});

sockets.check();
