// Copyright 2026 the framewire authors. MIT license.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import type { Listener } from "../../src/connection/types.ts";
import { run } from "../../src/cli/_run.ts";
import { root, runtime } from "../_util/runtime.ts";
import { captureIo } from "./_capture_io.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

test("every command has --help, and help COMMAND prints the same text", async () => {
  for (const command of ["demo", "listen", "send", "inspect"]) {
    const a = captureIo();
    assert.equal(await run([command, "--help"], a), 0);
    assert.match(a.stdout, new RegExp(`^framewire ${command} — `));
    assert.match(a.stdout, /Usage:\n {2}framewire /);
    assert.equal(a.stderr, "");
    const b = captureIo();
    assert.equal(await run(["help", command], b), 0);
    assert.equal(b.stdout, a.stdout);
    const c = captureIo();
    assert.equal(await run([command, "-h"], c), 0);
    assert.equal(c.stdout, a.stdout);
  }
});

test("help and help help print the main help", async () => {
  const a = captureIo();
  assert.equal(await run(["help"], a), 0);
  assert.match(a.stdout, /Usage:/);
  const b = captureIo();
  assert.equal(await run(["help", "help"], b), 0); // before: unknown command "help", exit 2
  assert.equal(b.stdout, a.stdout);
});

test("framewire --help and -h print the main help, with every command and format", async () => {
  // Before (mutation run of _run.ts): with "-h" no longer taken, or the lists joined without ", ",
  // every test passed.
  for (const flag of ["--help", "-h"]) {
    const io = captureIo();
    assert.equal(await run([flag], io), 0, flag);
    assert.equal(io.stderr, "", flag);
    assert.match(io.stdout, /^framewire — turn a TCP byte stream back into the messages/, flag);
    assert.match(
      io.stdout,
      /\nFormats \(--format\): u32be, u32le, u16be, u16le, u8, u64be, varint, decimal10, line, netstring; u32be is the default\.\n/,
      flag,
    );
  }
});

test("an unknown command is answered with the list of the commands", async () => {
  const io = captureIo();
  assert.equal(await run(["lisen", "--port", "1"], io), 2);
  assert.equal(
    io.stderr,
    'framewire: unknown command "lisen": expected one of demo, listen, send, inspect ' +
      '(see "framewire --help")\n',
  );
  assert.equal(io.stdout, "");
});

test("framewire without a command prints the help on stderr and exits 2", async () => {
  const io = captureIo();
  assert.equal(await run([], io), 2);
  assert.match(io.stderr, /Usage:/);
});

test("usage errors are one line naming the command, exit 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--port", "1"], /^framewire: unknown option --port \(options go after the command\)/],
    [["help", "nope"], /^framewire: unknown command "nope"/],
    [["listen"], /^framewire listen: missing --port \(use --port 0 for any free port\)/],
    [
      ["listen", "--port", "1", "--unix", "/tmp/x"],
      /^framewire listen: give --port or --unix, not both/,
    ],
    [
      ["listen", "--unix", "/tmp/x", "--host", "::"],
      /^framewire listen: --host goes with --port, not --unix/,
    ],
    [["listen", "--port", "0", "extra"], /^framewire listen: unexpected argument "extra"/],
    // Before: exit 1 with the adapter's TypeError ("cannot listen on :0: …").
    [["listen", "--port", "0", "--host", ""], /^framewire listen: --host needs an address/],
    [["listen", "--port", "0", "--host", "[]"], /^framewire listen: --host needs an address/],
    // Before: "[127.0.0.1]" listened on 127.0.0.1 (brackets are for IPv6 addresses only).
    [
      ["listen", "--port", "0", "--host", "[127.0.0.1]"],
      /^framewire listen: --host \[127\.0\.0\.1\]: brackets are for IPv6 addresses, e\.g\. \[::1\]; write 127\.0\.0\.1 /,
    ],
    [
      ["send", "[localhost]:9000"],
      /^framewire send: invalid address "\[localhost\]:9000": brackets are for IPv6 addresses, e\.g\. \[::1\]:9000; write localhost:9000 /,
    ],
    [["listen", "--unix", ""], /^framewire listen: --unix needs a socket path/],
    [
      ["listen", "--port", "0", "--format", "u8", "--max-frame-length", "256"],
      /^framewire listen: --max-frame-length 256 is more than u8 can carry: at most 255 bytes/,
    ],
    [["listen", "--port", "0", "--format", "u24"], /^framewire listen: unknown format "u24"/],
    [["send"], /^framewire send: missing HOST:PORT/],
    [["send", "a:1", "b:2"], /^framewire send: expected one HOST:PORT/],
    [["send", "127.0.0.1:0"], /^framewire send: invalid port "0" in "127.0.0.1:0"/],
    [["send", "127.0.0.1:1", "--wait", "soon"], /^framewire send: invalid --wait "soon"/],
    // Before (mutation run of _send.ts), a --wait range from -1, and send or listen without the
    // -f (and -p) aliases docs/cli.md names, passed every test.
    [["send", "127.0.0.1:1", "--wait", "-1"], /^framewire send: invalid --wait "-1"/],
    [["send", "127.0.0.1:1", "-f", "u24"], /^framewire send: unknown format "u24"/],
    [["listen", "-p", "0", "-f", "u24"], /^framewire listen: unknown format "u24"/],
    [["demo", "--seed", "-1"], /^framewire demo: invalid --seed "-1"/],
    [["demo", "--max-chunk", "0"], /^framewire demo: invalid --max-chunk "0"/],
  ];
  for (const [args, message] of cases) {
    const io = captureIo();
    // A usage error let through fails here (exit 1) instead of listening for ever.
    io.adapter = () => Promise.reject(new Error("no sockets in this test"));
    assert.equal(await run(args, io), 2, args.join(" "));
    assert.equal(io.stderr.split("\n").length, 2, io.stderr); // one line and the final newline
    assert.match(io.stderr, message);
    assert.match(io.stderr, /\(see "framewire( \w+)? --help"\)\n$/);
  }
});

test(
  "demo --reliable runs the reliable-session story and exits 0",
  { timeout: 30_000 },
  async () => {
    const io = captureIo();
    assert.equal(await run(["demo", "--reliable", "--messages", "20"], io), 0, io.stderr);
    assert.equal(io.stderr, "");
    assert.match(io.stdout, /lost 0, duplicated 0, order kept/);
  },
);

test("framewire --version prints deno.json's version and the runtime", async () => {
  const { version } = JSON.parse(await readFile(`${root}/deno.json`, "utf8"));
  for (const flag of ["--version", "-V"]) {
    const io = captureIo();
    assert.equal(await run([flag], io), 0);
    assert.equal(io.stdout, `framewire ${version} (${runtime})\n`);
  }
});

test("a name every object has is an unknown command too", async () => {
  for (
    const args of [["toString"], ["constructor"], ["help", "constructor"], ["help", "valueOf"]]
  ) {
    const io = captureIo();
    assert.equal(await run(args, io), 2, args.join(" "));
    assert.match(io.stderr, /^framewire: unknown command "\w+"/);
    assert.equal(io.stdout, "");
  }
});

/** A captured io whose adapter's listener fails with `failure` at its first accept. */
function failingListenIo(failure: unknown): ReturnType<typeof captureIo> {
  const io = captureIo();
  io.adapter = () =>
    Promise.resolve({
      connect: () => Promise.reject(new Error("not used")),
      listen: () =>
        Promise.resolve({
          addr: { transport: "tcp", hostname: "127.0.0.1", port: 4000 },
          close(): void {},
          [Symbol.asyncDispose]: () => Promise.resolve(),
          // deno-lint-ignore require-yield
          async *[Symbol.asyncIterator](): AsyncGenerator<never> {
            throw failure;
          },
        } as unknown as Listener),
    });
  return io;
}

test("a command that fails other than by a usage mistake exits 1 with one line", async () => {
  const io = failingListenIo(new Error("accept failed: too many open files"));
  assert.equal(await run(["listen", "--port", "4000"], io), 1);
  assert.match(
    io.stderr,
    /\nframewire listen: accept failed: too many open files\n$/,
  );
});

test("a command failing with no message says what failed, in one line", async () => {
  // Before: "framewire listen: " and nothing after for an Error without a message, and a value
  // with no prototype made run() itself throw (String() of it), with no line and no exit code.
  const cases: [unknown, RegExp][] = [
    [new RangeError(""), /\nframewire listen: RangeError \(no message\)\n$/],
    [Object.create(null), /\nframewire listen: object \(no message\)\n$/],
  ];
  for (const [failure, line] of cases) {
    const io = failingListenIo(failure);
    assert.equal(await run(["listen", "--port", "4000"], io), 1);
    assert.match(io.stderr, line);
  }
});

test("numeric options accept their bounds and refuse one beyond as usage errors", async () => {
  // Accepted values get as far as opening sockets, which this io refuses (exit 1).
  const cases: Array<[string[], number]> = [
    [["listen", "--port", "0", "--preview", "0"], 2],
    [["listen", "--port", "0", "--preview", "1"], 1],
    [["listen", "--port", "0", "--max-frame-length", "0"], 2],
    [["listen", "--port", "0", "--max-frame-length", "1"], 1],
    [["send", "127.0.0.1:1", "--wait", "0"], 1],
    [["send", "127.0.0.1:1", "--wait", "2147483647"], 1],
    // setTimeout cannot wait longer (it would fire at once).
    [["send", "127.0.0.1:1", "--wait", "2147483648"], 2],
    [["send", "127.0.0.1:1", "--preview", "0"], 2],
    [["send", "127.0.0.1:1", "--preview", "1"], 1],
    [["send", "127.0.0.1:1", "--max-frame-length", "0"], 2],
    [["send", "127.0.0.1:1", "--max-frame-length", "1"], 1],
    [["demo", "--seed", "0"], 1],
    [["demo", "--seed", "4294967295"], 1],
    [["demo", "--seed", "4294967296"], 2],
    [["demo", "--max-chunk", "1"], 1],
    [["demo", "--max-chunk", "65536"], 1],
    [["demo", "--max-chunk", "65537"], 2],
    [["demo", "--reliable", "--messages", "2"], 1],
    [["demo", "--reliable", "--messages", "10000"], 1],
    [["inspect", "--preview", "4096"], 0],
    [["inspect", "--preview", "4097"], 2],
    [["inspect", "--skip", "0"], 0],
    [["inspect", "--max-frame-length", "0"], 2],
  ];
  for (const [args, expected] of cases) {
    const io = captureIo();
    io.adapter = () => Promise.reject(new Error("no sockets in this test"));
    assert.equal(await run(args, io), expected, `${args.join(" ")}: ${io.stderr}`);
    if (expected === 1) assert.match(io.stderr, /no sockets in this test/, args.join(" "));
  }
  // --max-frame-length 0 is refused by the option's range, not left to the format (whose words
  // differ): before (mutation run), a range from 0 passed every test.
  for (const command of [["send", "127.0.0.1:1"], ["listen", "--port", "0"]]) {
    const io = captureIo();
    io.adapter = () => Promise.reject(new Error("no sockets in this test"));
    assert.equal(await run([...command, "--max-frame-length", "0"], io), 2, io.stderr);
    assert.match(io.stderr, /invalid --max-frame-length "0": expected an integer from 1 to /);
  }
});

sockets.check();
