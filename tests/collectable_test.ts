// Copyright 2026 the framewire authors. MIT license.
// What framewire opened and closed can be garbage-collected: connections through `framed()` (both
// ends, and their Conns; TCP, Unix sockets and TLS), and a reliable server's sessions once they ended, while the server stays
// open. Each case runs tests/_collectable_child.ts in a child process of the runtime running the
// tests, with a forced GC available, and the runtime's own adapter; the child holds WeakRefs only.
// A module-level Map, Set or listener that kept each connection or session (a leak that grows
// with every one) leaves at least half of them reachable; a few survive a forced GC anyway (the
// last of each kind, still in a suspended frame, and, on Bun, what its conservative stack scan
// finds: 2 to 36 of 400 in runs), so the bound is a quarter. And decoders that stay reachable,
// as an idle connection's does, let go of the chunks whose frames were all taken.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { binaries, root, runtime } from "./_util/runtime.ts";

const CHILD = fileURLToPath(new URL("./_collectable_child.ts", import.meta.url));
const COUNT = 100;

/** Runs the child's `name` case with a forced GC available; its JSON line, parsed. */
function run(name: string, count = COUNT): Promise<{ made: number; alive: number; open?: number }> {
  const argv = runtime === "deno"
    ? [binaries.deno, "run", "-A", "--v8-flags=--expose-gc", CHILD]
    : runtime === "bun"
    ? [binaries.bun, CHILD]
    : [binaries.node, "--expose-gc", CHILD];
  const [command, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(
      command!,
      [...args, name, String(count)],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`child ${name} failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout.trim().split("\n").at(-1)!));
        } catch {
          reject(new Error(`child ${name} printed no result: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

// TLS fewer: on Deno the first reply on a connection Deno.listenTls accepted waits ~40 ms.
for (const [transport, count] of [["tcp", COUNT], ["unix", COUNT], ["tls", 40]] as const) {
  test(
    `collectable: ${count} framed() connections over ${transport} opened and closed (both ends, and their Conns) can be garbage-collected`,
    { timeout: 90_000 },
    async () => {
      const { made, alive } = await run(
        transport === "tcp" ? "framed" : `framed-${transport}`,
        count,
      );
      assert.equal(made, count * 4);
      assert.ok(alive <= made / 4, `${alive} of ${made} connections and Conns still reachable`);
    },
  );
}

test(
  `collectable: ${COUNT} framed() connections over tcp whose server end only reads (its conn builds no writable) can be garbage-collected`,
  { timeout: 90_000 },
  async () => {
    const { made, alive } = await run("framed-receive");
    assert.equal(made, COUNT * 4);
    assert.ok(alive <= made / 4, `${alive} of ${made} connections and Conns still reachable`);
  },
);

test(
  `collectable: a reliable server that stays open lets go of ${COUNT} sessions that ended (and their clients)`,
  { timeout: 90_000 },
  async () => {
    const { made, alive, open } = await run("reliable-sessions");
    assert.equal(made, COUNT * 2);
    assert.equal(open, 0, "the server holds no session");
    assert.ok(alive <= made / 4, `${alive} of ${made} sessions still reachable`);
  },
);

// Decoders, ByteReaders with theirs, and framed() connections with a batch on its way, that stay
// reachable (an idle connection's) after the frames of a chunk were all taken and dropped, and why
// each case was kept before.
const decoders =
  `${COUNT} decoders that stay reachable let go of the chunk whose frames were all taken`;
for (
  const [name, title, why] of [
    [
      "decoder-chunks",
      `${decoders} and dropped`,
      "a decoder that kept its last chunk (a view's cache of its buffer) made every idle connection hold its last read buffer, up to 256 KiB on Deno",
    ],
    [
      "decoder-waiting",
      `${decoders} while a large frame after them waits for its buffer`,
      "the view cache was let go only when a frame started filling, not while it waited (a stalled peer: for as long as the connection stays open)",
    ],
    [
      "decoder-header",
      `${decoders} while the next header is not complete`,
      "the view cache was let go only when every byte was taken or a frame started: a peer that stopped mid-header kept the chunk before (when both were pushed before taking)",
    ],
    [
      "byte-reader-chunks",
      `${COUNT} ByteReaders that stay reachable let go of the chunk whose frames readFrame() all took`,
      "since readFrame() keeps its decoder for the next frame of the framing (fe65f34), the decoder's view cache kept the last chunk it made a frame of, for as long as the reader lived",
    ],
    [
      "concurrent-batches",
      `${COUNT} framed() connections with a second batches() call waiting let go of the chunk of the first batch`,
      "the call asked for while the first was on its way awaited the first's own promise: the value it resumed with and its parameter kept that batch, and so its chunk, reachable while it waited",
    ],
  ] as const
) {
  test(
    `collectable: ${title}`,
    { timeout: 90_000 },
    async () => {
      const { made, alive, open } = await run(name);
      assert.equal(made, COUNT);
      assert.equal(open, COUNT);
      assert.ok(alive <= made / 4, `${alive} of ${made} chunks still reachable (${why})`);
    },
  );
}

test(
  `collectable: ${COUNT} framed() connections kept to send after their readable was cancelled inside a large frame let go of its buffer`,
  { timeout: 90_000 },
  async () => {
    // The decoder, and the 64 KiB buffer of the frame it was filling (up to maxFrameLength),
    // stayed reachable for as long as the connection: 100 of 100 before.
    const { made, alive, open } = await run("cancelled-inside-frame");
    assert.equal(made, COUNT);
    assert.equal(open, COUNT);
    assert.ok(alive <= made / 4, `${alive} of ${made} frame buffers still reachable`);
  },
);

test(
  `collectable: a ByteReader that stays reachable lets go of the ${COUNT} chunks of the frames that span them it read`,
  { timeout: 90_000 },
  async () => {
    // Its decoder keeps the bytes after a frame for the next one, while the reader keeps the
    // chunks read (their bytes are its own until a frame is found): the chunks of frames returned
    // are dropped as it reads (at first they were kept for as long as the reader lived).
    const { made, alive, open } = await run("byte-reader-spanning");
    assert.equal(made, COUNT);
    assert.equal(open, 1);
    assert.ok(alive <= 4, `${alive} of ${made} chunks still reachable`);
  },
);

test(
  `collectable: a ByteReader that stays reachable lets go of the ${COUNT} chunks of the one frame that spans them it returned`,
  { timeout: 90_000 },
  async () => {
    // The frame is a copy; the bytes after it, the start of the next frame, lie in the last chunk.
    // The reader kept every chunk of the frame until its next call (a reader left idle after a
    // large frame held it twice: 100 of 100 chunks reachable before).
    const { made, alive, open } = await run("byte-reader-large");
    assert.equal(made, COUNT);
    assert.equal(open, 1);
    assert.ok(alive <= 4, `${alive} of ${made} chunks still reachable`);
  },
);

test(
  `collectable: ${COUNT} decoders and byte queues that stay reachable let go of the block small chunks were copied into once its bytes are read`,
  { timeout: 90_000 },
  async () => {
    // The queue kept its last block (up to 64 KiB) for good, though it never appends to a block
    // whose bytes were all read.
    const { made, alive, open } = await run("queue-blocks");
    assert.equal(made, COUNT);
    assert.equal(open, COUNT);
    assert.ok(alive <= made / 4, `${alive} of ${made} blocks still reachable`);
  },
);

test(
  "collectable: on Deno, framed() connections that received a burst and wait for more hold no read buffer of it",
  {
    timeout: 90_000,
    skip: runtime !== "deno" && "framed() reads into buffers of its own only over the Deno adapter",
  },
  async () => {
    // framed() read on into the rest of its last read buffer (up to 257 KiB) once the socket was
    // drained, so the read an idle connection waits on kept that buffer reachable.
    const { made, alive, open } = await run("idle-after-burst", 20);
    assert.equal(open, 20);
    assert.ok(made >= 10, `${made} large read buffers seen`);
    assert.ok(alive <= made / 4, `${alive} of ${made} read buffers still reachable`);
  },
);
