// Copyright 2026 the framewire authors. MIT license.
// The framewire command run as a subprocess of the current runtime.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { spawn } from "node:child_process";
import { closeSync, constants, existsSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import { adapter, root, runtime, scriptArgv } from "../_util/runtime.ts";
import { writeUntilStalled } from "../adapters/_suite.ts";
import type { Conn } from "../../src/connection/types.ts";
import { CLI, importOf, runCli, runUntilIdle, startCli } from "./_spawn_cli.ts";
import { watchSockets } from "../_util/leaks.ts";
import { framingFor } from "../../src/cli/_formats.ts";
import { showPayload } from "../../src/cli/_display.ts";
import { concat } from "../framing/_formats.ts";

const sockets = watchSockets();

const TIMEOUT = { timeout: 60_000 };

function clientHello(): Uint8Array {
  // A TLS 1.2 record header (16 03 01, length 0x00a5) and the start of a ClientHello (01, length 0x0000a1).
  const bytes = new Uint8Array(0xa5 + 5);
  bytes.set([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]);
  for (let i = 11; i < bytes.length; i++) bytes[i] = (i * 37) & 0xff;
  return bytes;
}

/**
 * A FIFO that nobody reads, as a shell's pipe into a stalled reader (`| less`, `| sleep`); with
 * `full`, filled to its capacity first, so that every byte written to it waits. `close()` closes
 * both ends and removes it.
 */
async function unreadPipe(full = false): Promise<{ writeEnd: number; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
  const fifo = join(dir, "out");
  await new Promise((resolve, reject) =>
    spawn("mkfifo", [fifo]).on("error", reject).on("close", resolve)
  );
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // never read
  if (full) {
    const filler = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      for (;;) writeSync(filler, new Uint8Array(4096));
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    } finally {
      closeSync(filler);
    }
  }
  const writeEnd = openSync(fifo, constants.O_WRONLY);
  return {
    writeEnd,
    async close(): Promise<void> {
      closeSync(writeEnd);
      closeSync(readEnd);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test("framewire --help and help exit 0 and list the commands", TIMEOUT, async () => {
  const result = await runCli(["--help"]);
  assert.equal(result.code, 0, result.stderr);
  for (const command of ["demo", "listen", "send", "inspect"]) {
    assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
  }
});

test("framewire --version as a process names the runtime it runs on", TIMEOUT, async () => {
  // The in-process test (_run_test.ts) gives its own runtime name; this one is the runtime's I/O.
  // Before (mutation run of _io.ts on Bun), with Bun taken for Node, every test passed.
  const { version } = JSON.parse(await readFile(`${root}/deno.json`, "utf8"));
  const result = await runCli(["--version"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `framewire ${version} (${runtime})\n`);
});

test(
  "main.ts as the program: the command on Deno (as from JSR), nothing on Node or Bun (as in a bundle)",
  TIMEOUT,
  async () => {
    // An application bundled into one module that imports `main` is the program itself; before,
    // main.ts then ran the command on the application's arguments, and exited.
    const { code, stdout, stderr } = await runCli(["--version"], {
      script: `${root}/src/cli/main.ts`,
    });
    assert.equal(code, 0, stderr);
    if (runtime === "deno") assert.match(stdout, /^framewire \d/);
    else assert.equal(stdout, "");
  },
);

test("framewire with an unknown command prints one line and exits 2", TIMEOUT, async () => {
  const result = await runCli(["lisen"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.match(result.stderr, /unknown command "lisen"/);
});

test("framewire listen with a bad port prints one line and exits 2", TIMEOUT, async () => {
  const result = await runCli(["listen", "--port", "70000"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.match(
    result.stderr,
    /^framewire listen: invalid --port "70000": expected a port number from 0 to 65535/,
  );
});

test("framewire send to a closed port prints one line and exits 1", TIMEOUT, async () => {
  // Bind a port, then free it: nothing listens there afterwards.
  const probe = startCli(["listen", "--port", "0", "--once"], { timeoutMs: 20_000 });
  let port: string;
  try {
    port = (await probe.waitForErr(/listening on 127\.0\.0\.1:(\d+)/))[1]!;
  } finally {
    await probe.kill();
  }
  const result = await runCli(["send", `127.0.0.1:${port}`], { stdin: "hello\n" });
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.match(
    result.stderr,
    /^framewire send: cannot connect to 127\.0\.0\.1:\d+: connection refused/,
  );
});

for (const format of ["u32be", "varint", "line"]) {
  test(
    `framewire send to framewire listen --echo round-trips every line (${format})`,
    TIMEOUT,
    async () => {
      const server = startCli(["listen", "--port", "0", "--echo", "--once", "--format", format], {
        timeoutMs: 30_000,
      });
      try {
        const port = (await server.waitForErr(/listening on 127\.0\.0\.1:(\d+)/))[1]!;
        const lines = ["hello", "", "naïve café ☕", "x".repeat(3000), "last line without newline"];
        const client = await runCli(["send", `127.0.0.1:${port}`, "--format", format, "--json"], {
          stdin: lines.join("\n"),
        });
        assert.equal(client.code, 0, client.stderr);
        const replies = client.stdout.trim().split("\n").map((l) => JSON.parse(l));
        assert.deepEqual(replies.map((r) => r.text), lines);
        assert.deepEqual(replies.map((r) => r.reply), [1, 2, 3, 4, 5]);

        const served = await server.done;
        assert.equal(served.code, 0, served.stderr);
        assert.match(served.stdout, /\[1\] #1 {2}5 B {2}"hello"/);
        assert.match(served.stdout, /\[1\] #2 {2}0 B {2}""/);
        assert.match(served.stderr, /closed the connection after 5 frames/);
      } finally {
        await server.kill();
      }
    },
  );
}

test("framewire inspect reads a capture file and shows every frame", TIMEOUT, async () => {
  const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
  try {
    const file = join(dir, "capture.bin");
    await writeFile(
      file,
      new Uint8Array([0, 0, 0, 5, 104, 101, 108, 108, 111, 0, 0, 0, 0, 0, 0, 0, 2, 104, 105]),
    );
    const result = await runCli(["inspect", "--format", "u32be", file]);
    assert.equal(result.code, 0, result.stderr);
    const rows = result.stdout.split("\n").filter((l) => /^\s+\d+\s/.test(l));
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /^\s+1\s+0\s+9\s+4\s+5\s+68 65 6c 6c 6f\s+\|hello\|$/);
    assert.match(rows[1]!, /^\s+2\s+9\s+13\s+4\s+0\s+\(empty\)$/);
    assert.match(rows[2]!, /^\s+3\s+13\s+19\s+4\s+2\s+68 69\s+\|hi\|$/);
    assert.match(result.stdout, /ok: 3 frames, all 19 bytes decoded/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  "framewire inspect says why it cannot read a file, in the same words on every runtime",
  TIMEOUT,
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
    try {
      for (
        const [path, why] of [[dir, "it is a directory"], [join(dir, "none.bin"), "no such file"]]
      ) {
        const result = await runCli(["inspect", path!]);
        assert.equal(result.code, 1);
        assert.equal(result.stderr, `framewire inspect: cannot read ${path}: ${why}\n`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "framewire inspect reads a file over 2 GiB as it goes, and a device of no size as a pipe",
  TIMEOUT,
  async () => {
    // Before, Node refused a file over 2 GiB ("File size ... is greater than 2 GiB") and Deno read
    // all of it into memory first. The file is sparse (4 bytes written, nothing more on disk) and
    // its first header is over the limit: inspect reads its first chunk and stops.
    const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
    try {
      const file = join(dir, "big.bin");
      await writeFile(file, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      const size = 2 ** 31 + 8;
      await truncate(file, size);
      const result = await runCli(["inspect", file]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(
        result.stdout.split("\n")[0],
        `${file}: ${size} bytes, format u32be (max frame 4194304 bytes)`,
      );
      assert.match(
        result.stdout,
        /\nstopped: no complete frame; none of the 2147483656 bytes could be decoded\n$/,
      );
      assert.match(result.stderr, /^framewire inspect: Cannot decode frame as length 4294967295/);
      // A character device has no size to give: it is counted first, as standard input is.
      const empty = await runCli(["inspect", "/dev/null"]);
      assert.equal(empty.code, 0, empty.stderr);
      assert.equal(
        empty.stdout,
        "/dev/null: 0 bytes, format u32be (max frame 4194304 bytes)\nok: 0 frames, all 0 bytes decoded\n",
      );
      // Nor does a file of size 0 in /proc, which has content all the same (as Linux has it).
      if (existsSync("/proc/self/status")) {
        const status = await runCli(["inspect", "--format", "line", "/proc/self/status"]);
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, /^\/proc\/self\/status: \d{3,} bytes, format line/);
        assert.match(status.stdout, /\|Name:\..*\|\n/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test("framewire inspect explains a truncated capture and exits 1", TIMEOUT, async () => {
  const capture = new Uint8Array([0, 0, 0, 2, 104, 105, 0, 0, 0, 10, 97, 98, 99]);
  const result = await runCli(["inspect", "-"], { stdin: capture });
  assert.equal(result.code, 1, result.stderr);
  // One line, and no note about a terminal: standard input is a pipe here. Before (mutation run of
  // _io_node.ts), with stdinIsTerminal() true for a pipe, every test passed.
  assert.equal(
    result.stderr,
    "framewire inspect: Cannot decode frame as the input ended inside its payload: received 3 of 10 bytes (at offset 6)\n",
  );
  assert.match(
    result.stdout,
    /error at offset 6: truncated payload: the header declares 10 bytes but only 3 arrived \(7 missing\)/,
  );
  assert.match(
    result.stdout,
    /stopped: 1 complete frame in the first 6 bytes; 7 bytes from offset 6 not decoded/,
  );
});

test(
  "stdinIsTerminal() says false, not undefined, for a standard input that is a pipe",
  TIMEOUT,
  async () => {
    // CliIo promises a boolean. Before (mutation review of _io_node.ts), one that returned Node's
    // process.stdin.isTTY as is (undefined for a pipe) passed every test: inspect's `if` takes
    // undefined as false. The runtime's own io, and the node:process one on every runtime.
    const { code, stdout, stderr } = await runUntilIdle(`
    ${importOf("runtimeIo", "src/cli/_io.ts")}
    ${importOf("nodeIo", "src/cli/_io_node.ts")}
    const own = (await runtimeIo()).stdinIsTerminal();
    console.log(String(own), String(nodeIo("node").stdinIsTerminal()));
  `);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "false false\n");
  },
);

test("framewire inspect recognises a TLS ClientHello sent to a framed port", TIMEOUT, async () => {
  const result = await runCli(["inspect", "--format", "u32be"], { stdin: clientHello() });
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /error at offset 0: oversized frame: the header declares 369295616 bytes/,
  );
  assert.match(result.stdout, /look like a TLS ClientHello/);
  assert.match(result.stdout, /speaking TLS to a plain-TCP port/);
});

test(
  "framewire demo exits 0 and tells a 30-60 line story ending in the summary",
  TIMEOUT,
  async () => {
    const result = await runCli(["demo", "--seed", "3"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const lines = result.stdout.trimEnd().split("\n");
    assert.ok(lines.length >= 30 && lines.length <= 60, `${lines.length} lines`);
    assert.match(result.stdout, /^read 1 /m);
    assert.match(result.stdout, /The decoder returned all 6 messages intact/);
  },
);

test(
  "framewire inspect with standard output on a full disk prints one line and exits 1",
  { ...TIMEOUT, skip: !existsSync("/dev/full") && "no /dev/full" },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
    const full = openSync("/dev/full", "w");
    try {
      const file = join(dir, "capture.bin");
      await writeFile(file, new Uint8Array([0, 0, 0, 2, 104, 105]));
      const [command, ...argv] = scriptArgv(runtime, CLI, ["inspect", file]);
      const child = spawn(command!, argv, {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdio: ["ignore", full, "pipe"],
      });
      let stderr = "";
      child.stderr!.setEncoding("utf8").on("data", (s: string) => stderr += s);
      const code = await new Promise((resolve) => child.on("close", resolve));
      assert.equal(code, 1, stderr);
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^framewire.*(space|ENOSPC)/i);
    } finally {
      closeSync(full);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "send --wait and withDeadline leave no timer behind: a process that does not call exit ends by itself",
  TIMEOUT,
  async () => {
    // No exitProcess() here, unlike main.ts: a timer left running would keep the process alive for
    // the 600 seconds it was set to.
    const { code, stdout, stderr } = await runUntilIdle(
      `
      ${importOf("run", "src/cli/_run.ts")}
      ${importOf("runtimeIo", "src/cli/_io.ts")}
      ${importOf("withDeadline", "src/cli/_net.ts")}
      const io = await runtimeIo();
      const { listen } = await io.adapter();
      const listener = await listen({ hostname: "127.0.0.1", port: 0 });
      const serving = (async () => {
        for await (const conn of listener) {
          for await (const _ of conn.readable) { /* the whole request first */ }
          const writer = conn.writable.getWriter();
          await writer.write(new Uint8Array([0, 0, 0, 2, 111, 107]));
          writer.releaseLock();
          conn.close();
          return;
        }
      })();
      const sent = await run(["send", "127.0.0.1:" + listener.addr.port, "--wait", "600000"], io);
      await serving;
      listener.close();
      const value = await withDeadline(Promise.resolve(7), 600000, "nothing");
      io.out("exit " + sent + " " + value + "\\n");
      await io.flush();
    `,
      "hello\n",
    );
    assert.equal(code, 0, `the process did not end by itself (exit ${code}); stderr: ${stderr}`);
    assert.equal(stdout, '#1  2 B  "ok"\nexit 0 7\n');
  },
);

/**
 * Runs Node with `args` under a heap of `heapMiB` (the old space), standard output into a file
 * in `dir`; asserts it exits 0 (running out of memory is exit 134).
 */
async function exitsUnderHeapLimit(dir: string, heapMiB: number, args: string[]): Promise<void> {
  const out = openSync(join(dir, "out.txt"), "w");
  try {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMiB}`, ...args], {
      stdio: ["ignore", out, "pipe"],
    });
    let err = "";
    child.stderr!.setEncoding("utf8").on("data", (s: string) => err += s);
    const code = await new Promise((resolve) => child.once("close", resolve));
    assert.equal(code, 0, err.slice(0, 500));
  } finally {
    closeSync(out);
  }
}

test(
  "inspect of a large capture into a file keeps no output it has written (Node)",
  { ...TIMEOUT, skip: runtime !== "node" && "a Node heap limit" },
  async () => {
    // A file's write callbacks come a tick later, and inspect writes in one synchronous run: each
    // callback's closure kept its text until the run ended (517 MB for these 5 M empty frames,
    // 97 MB of it live in the JavaScript heap). Under a 64 MB heap that ran out of memory.
    const dir = await mkdtemp(join(tmpdir(), "framewire-inspect-"));
    try {
      const capture = join(dir, "zeros.bin");
      await writeFile(capture, new Uint8Array(20_000_000));
      await exitsUnderHeapLimit(dir, 64, [`${root}/src/cli/bin.ts`, "inspect", capture]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "the CLI's output on Node keeps no text it has written while its callbacks wait",
  { ...TIMEOUT, skip: runtime !== "node" && "a Node heap limit" },
  async () => {
    // A write's callback shared a closure context with its text, and a file's callbacks come a
    // tick later: 3,000 synchronous writes of 64 KiB kept 196 MB, beyond a 32 MB heap.
    const dir = await mkdtemp(join(tmpdir(), "framewire-io-"));
    const script = `import { nodeIo } from ${JSON.stringify(`${root}/src/cli/_io_node.ts`)};
      const io = nodeIo("node");
      for (let i = 0; i < 3000; i++) io.out(String(i).padEnd(65536, "x"));
      await io.flush();`;
    try {
      await exitsUnderHeapLimit(dir, 32, ["--input-type=module", "-e", script]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "framewire listen whose output pipe nobody reads holds the sender back instead of buffering",
  { ...TIMEOUT, skip: process.platform === "win32" && "no mkfifo" },
  async () => {
    // Printing is slower than the network: before, on Node and Bun, listen read on and buffered
    // its output without end (`listen | sleep` went to 1.7 GB in 6 s). A FIFO is a real pipe,
    // as a shell's is (Node's own stdio pipes are socket pairs, which it writes synchronously).
    const pipe = await unreadPipe();
    const proc = startCli(["listen", "--port", "0"], { stdout: pipe.writeEnd });
    let conn: Conn | undefined;
    try {
      const [, port] = await proc.waitForErr(/listening on 127\.0\.0\.1:(\d+)/);
      const { connect } = await adapter();
      conn = await connect({ port: Number(port) });
      // Frames of 400 bytes print as lines of about 220. The sender stalls after about 6 MB (1 MiB
      // of output waiting, the pipe's and the sockets' buffers); before, it got 37 MB through in
      // 4 s on Node, 92 MB on Bun.
      const chunk = new Uint8Array(404 * 162);
      for (let at = 0; at < chunk.length; at += 404) chunk[at + 2] = 1; // u32be length 400
      const writer = conn.writable.getWriter();
      const limit = 16 * 1024 * 1024;
      const { pending } = await writeUntilStalled((c) => writer.write(c), chunk, limit, 1000);
      pending.catch(() => {});
    } finally {
      conn?.close();
      await proc.kill();
      await pipe.close();
    }
  },
);

test(
  "framewire inspect whose output reader went away (| head) exits 0 quietly",
  { ...TIMEOUT, skip: process.platform === "win32" && "no mkfifo" },
  async () => {
    // `framewire inspect big.bin | head`: once head exits, the next write fails with EPIPE
    // (BrokenPipe on Deno). That is no error of the command: no message, exit 0.
    const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
    try {
      const capture = join(dir, "zeros.bin");
      await writeFile(capture, new Uint8Array(4 * 5000)); // 5,000 empty u32be frames
      const fifo = join(dir, "out");
      await new Promise((resolve, reject) =>
        spawn("mkfifo", [fifo]).on("error", reject).on("close", resolve)
      );
      const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeEnd = openSync(fifo, constants.O_WRONLY);
      const proc = startCli(["inspect", capture], { stdout: writeEnd });
      closeSync(writeEnd);
      closeSync(readEnd); // the reader is gone: every write of the command fails
      const result = await proc.done;
      assert.equal(result.stderr, "");
      assert.equal(result.code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "framewire listen stops on SIGINT or SIGTERM: it says so and exits 0",
  { ...TIMEOUT, skip: process.platform === "win32" && "POSIX signals" },
  async () => {
    // Ctrl-C, or a service manager's stop: a clean stop, not the runtime's default (killed by
    // the signal). Before (mutation review), no test sent a signal to the command: with the Deno
    // I/O's signal listeners never added, every test passed.
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const server = startCli(["listen", "--port", "0"], { timeoutMs: 30_000 });
      let client: Conn | undefined;
      try {
        const port = (await server.waitForErr(/listening on 127\.0\.0\.1:(\d+)/))[1]!;
        // A connection it took: it is past setting up its signal handling.
        const { connect } = await adapter();
        client = await connect({ port: Number(port) });
        await server.waitForErr(/\[1\] connection from/);
        // Not child.kill(): Deno's node:child_process then reports the exit as by that signal,
        // whatever the exit code.
        process.kill(server.child.pid!, signal);
        const result = await server.done;
        assert.equal(result.code, 0, `${signal}: ${result.stderr}`);
        assert.match(result.stderr, /^framewire listen: stopping$/m, signal);
        // It closed the connection it served.
        assert.equal((await client.readable.getReader().read()).done, true);
      } finally {
        client?.close();
        await server.kill();
      }
    }
  },
);

test(
  "framewire listen whose output pipe is full stops at a second SIGINT with exit 130",
  {
    ...TIMEOUT,
    skip: process.platform === "win32" ? "no mkfifo" : runtime === "deno" &&
      "Deno writes output synchronously: it handles no signal while the pipe takes nothing",
  },
  async () => {
    // The first Ctrl-C stops the listener, but a connection whose lines wait for the output
    // cannot end while nobody reads it; the second exits at once (130). Seen by hand only before.
    // The pipe is full before listen starts, so every line it prints waits: once the echoes say
    // more than 1 MiB (the I/O's OUTPUT_ROOM) was printed, it waits for room that never comes.
    const pipe = await unreadPipe(true);
    const proc = startCli(["listen", "--port", "0", "--echo"], {
      stdout: pipe.writeEnd,
      timeoutMs: 30_000,
    });
    let conn: Conn | undefined;
    try {
      const [, port] = await proc.waitForErr(/listening on 127\.0\.0\.1:(\d+)/);
      const { connect } = await adapter();
      conn = await connect({ port: Number(port) });
      const payload = new Uint8Array(400).fill(0x78); // "xxx…": lines of about 220 characters
      const framing = framingFor("u32be");
      const frames = Array.from({ length: 8000 }, () => framing.encode(payload));
      const writer = conn.writable.getWriter();
      writer.write(concat(frames)).catch(() => {}); // it stalls once listen waits
      // Count the echoes: each frame is echoed after its line was printed.
      const decoder = framing.decoder();
      const reader = conn.readable.getReader();
      let printed = 0;
      for (let n = 1; printed <= 1024 * 1024;) {
        const { value, done } = await reader.read();
        assert.ok(!done, `the echoes ended after ${n - 1} frames`);
        decoder.push(value);
        for (; decoder.next() !== undefined; n++) {
          printed += `[1] #${n}  400 B  ${showPayload(payload, 200)}\n`.length;
        }
      }
      process.kill(proc.child.pid!, "SIGINT");
      await proc.waitForErr(/^framewire listen: stopping$/m);
      process.kill(proc.child.pid!, "SIGINT");
      const result = await proc.done;
      assert.equal(result.code, 130, result.stderr);
    } finally {
      conn?.close();
      await proc.kill();
      await pipe.close();
    }
  },
);

test("the runtime I/O's out() and err() write every text, one byte long too", TIMEOUT, async () => {
  // Before (mutation review of _io_deno.ts on Deno), with its write loop stopping at one byte
  // left, every test passed.
  const { code, stdout, stderr } = await runUntilIdle(`
    ${importOf("runtimeIo", "src/cli/_io.ts")}
    const io = await runtimeIo();
    io.out("a");
    io.err("b");
    io.out("cd");
    io.out("\\n");
    await io.flush();
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "acd\n");
  assert.equal(stderr, "b");
});

test(
  "the runtime I/O's outputRoom() waits while more than 1 MiB waits for standard error (Node, Bun)",
  {
    ...TIMEOUT,
    skip: (runtime === "deno" && "Deno writes synchronously: no outputRoom()") ||
      (process.platform === "win32" && "no mkfifo"),
  },
  async () => {
    // listen writes a line or two on standard error for every connection; before, only standard
    // output counted, so with standard error into a pipe nobody read (`2>&1 | less`) a flood of
    // connections grew it without end. The FIFO is never read: the write cannot complete, and
    // room that comes before the next turn of the event loop was never waited for.
    const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
    const fifo = join(dir, "err");
    const script = join(dir, "room.ts");
    await writeFile(
      script,
      `${importOf("runtimeIo", "src/cli/_io.ts")}
      import process from "node:process";
      const io = await runtimeIo();
      io.err("x".repeat(2 * 1024 * 1024));
      const verdict = await Promise.race([
        io.outputRoom().then(() => "room"),
        new Promise((resolve) => setImmediate(() => resolve("waiting"))),
      ]);
      process.stdout.write(verdict + "\\n", () => process.exit(0));
      `,
    );
    await new Promise((resolve, reject) =>
      spawn("mkfifo", [fifo]).on("error", reject).on("close", resolve)
    );
    const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // never read
    const writeEnd = openSync(fifo, constants.O_WRONLY);
    try {
      const [command, ...argv] = scriptArgv(runtime, script);
      const child = spawn(command!, argv, { cwd: root, stdio: ["ignore", "pipe", writeEnd] });
      let stdout = "";
      child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await new Promise((resolve) => child.on("close", resolve));
      clearTimeout(timer);
      assert.equal(stdout, "waiting\n");
      assert.equal(code, 0);
    } finally {
      closeSync(writeEnd);
      closeSync(readEnd);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "the runtime I/O's onInterrupt() handler runs on SIGINT and SIGTERM, and no more once removed",
  { ...TIMEOUT, skip: process.platform === "win32" && "POSIX signals" },
  async () => {
    // With the Deno I/O's remover a no-op, every test passed: the command exits once it is done,
    // but main() called from code returns and leaves the handler on the process.
    const { code, stdout, stderr } = await runUntilIdle(`
      ${importOf("runtimeIo", "src/cli/_io.ts")}
      import process from "node:process";
      const io = await runtimeIo();
      const calls = [];
      const remove = io.onInterrupt(() => calls.push("handler"));
      // The signal to this process, with a listener of its own that takes it too (so that it
      // does not end the process), gone once it ran.
      const raise = (signal) => new Promise((resolve) => {
        const own = () => {
          process.off(signal, own);
          resolve();
        };
        process.on(signal, own);
        process.kill(process.pid, signal);
      });
      const alive = setInterval(() => {}, 1000); // Node: a pending signal keeps no process alive
      await raise("SIGINT");
      await raise("SIGTERM");
      io.out("before " + calls.length + "\\n");
      remove();
      await raise("SIGINT");
      await raise("SIGTERM");
      io.out("after " + calls.length + "\\n");
      clearInterval(alive);
      await io.flush();
    `);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "before 2\nafter 2\n");
  },
);

test(
  "main() called from code runs the command on the runtime's I/O and returns its exit code",
  TIMEOUT,
  async () => {
    // The public API of the cli subpath: before this test, only `deno test --doc` called it.
    const { code, stdout, stderr } = await runUntilIdle(`
      ${importOf("main", "src/cli/main.ts")}
      const usage = await main(["inspect", "--format", "u24"]);
      const version = await main(["--version"]);
      console.log("codes " + usage + " " + version);
    `);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^framewire \d\S* \((?:deno|bun|node)\)$/m);
    assert.match(stdout, /^codes 2 0$/m);
    assert.match(stderr, /^framewire inspect: unknown format "u24"/);
  },
);

sockets.check();
