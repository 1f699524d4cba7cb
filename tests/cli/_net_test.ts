// Copyright 2026 the framewire authors. MIT license.
// listen, send and demo in-process over real loopback sockets of the current runtime.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { FORMAT_NAMES } from "../../src/cli/_formats.ts";
import { DEMO_MESSAGES } from "../../src/cli/_demo.ts";
import { bytesWord, showPayload } from "../../src/cli/_display.ts";
import { concat, describeError, formatAddr, Progress, withDeadline } from "../../src/cli/_net.ts";
import { mulberry32 } from "../../src/cli/_prng.ts";
import { run } from "../../src/cli/_run.ts";
import { ConnectionError } from "../../src/errors.ts";
import { connectionError } from "../../src/adapters/_errors.ts";
import type { Conn, Listener, ListenOptions } from "../../src/connection/types.ts";
import { adapter } from "../_util/runtime.ts";
import { startSilentListener } from "../_util/silent_listener.ts";
import { spyTimers } from "../_util/timer_spy.ts";
import { acceptingThrough, type CaptureIo, captureIo, WAIT_DEADLINE_MS } from "./_capture_io.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const TIMEOUT = { timeout: 30_000 };
const te = new TextEncoder();

/** Starts `framewire listen ARGS` in-process; resolves once it is bound. */
/**
 * Connects to a `listen` server, writes `bytes` (and half-closes, with
 * `end`), and returns what `then` gives; the connection is closed after.
 */
async function writeThen<T>(
  server: { port: string },
  bytes: Uint8Array,
  then: () => Promise<T>,
  end = false,
): Promise<T> {
  const { connect } = await adapter();
  const conn = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
  try {
    const writer = conn.writable.getWriter();
    await writer.write(bytes);
    writer.releaseLock();
    if (end) await conn.closeWrite();
    return await then();
  } finally {
    conn.close();
  }
}

/**
 * Connects to a `listen --once` server, writes `bytes`, half-closes, and
 * returns the server's exit code (the connection is closed after it exits).
 */
function writeThenEnd(
  server: { port: string; done: Promise<number> },
  bytes: Uint8Array,
): Promise<number> {
  return writeThen(server, bytes, () => server.done, true);
}

const HTTP_GET = te.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

/**
 * Rejects if `promise` has not settled within `ms`: for a command's exit, which a
 * wrong command may never reach (the test then fails instead of waiting forever).
 */
function settles<T>(promise: Promise<T>, what: string, ms = WAIT_DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A captured IO whose standard input gives `input`, then stays open until `end()`. */
function stdinLeftOpen(input: string): { io: CaptureIo; end: () => void } {
  const open = Promise.withResolvers<void>();
  const io = captureIo();
  io.stdin = async function* () {
    yield te.encode(input);
    await open.promise;
  };
  return { io, end: () => open.resolve() };
}

/**
 * A `listen` started in-process. `done` is its exit code, bounded by a deadline.
 * Disposing it (`await using`) interrupts it and waits for it to end, so a test that
 * fails before it stops the server does not leave it listening (the file then hung).
 */
interface Server extends AsyncDisposable {
  io: CaptureIo;
  port: string;
  done: Promise<number>;
}

async function startListen(args: string[], io: CaptureIo = captureIo()): Promise<Server> {
  const running = run(["listen", ...args], io);
  const stop = async () => {
    io.interrupt();
    await settles(running, "listen, interrupted").catch(() => {});
  };
  const bound = io.waitForErr(/listening on (?:127\.0\.0\.1:(\d+)|(\/\S+))/);
  let first: RegExpMatchArray | number;
  try {
    first = await Promise.race([bound, running]);
  } catch (error) {
    await stop();
    throw error;
  }
  if (typeof first === "number") {
    // Its wait for "listening on" would hold the process for its whole deadline.
    bound.catch(() => {});
    io.stopWaiting();
    throw new Error(`listen exited with ${first}: ${io.stderr}`);
  }
  return {
    io,
    port: first[1] ?? first[2]!,
    get done(): Promise<number> {
      return settles(running, "listen");
    },
    [Symbol.asyncDispose]: stop,
  };
}

test("send to listen --echo round-trips lines in every format", TIMEOUT, async () => {
  for (const format of FORMAT_NAMES) {
    await using server = await startListen(["--port", "0", "--echo", "--format", format]);
    try {
      const lines = ["hello", "", "two words", "z".repeat(201)];
      const client = captureIo({ stdin: ["hel", "lo\n\ntwo ", "words\r\n", "z".repeat(201)] });
      const code = await settles(
        run(
          ["send", `127.0.0.1:${server.port}`, "--format", format, "--json"],
          client,
        ),
        "send",
      );
      assert.equal(code, 0, `${format}: ${client.stderr}`);
      const replies = client.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(replies.map((r) => r.text), lines, format);
      await server.io.waitForErr(/closed the connection after 4 frames/);
    } finally {
      server.io.interrupt();
    }
    assert.equal(await server.done, 0, format);
    // listen shows 200 characters by default, as send does.
    assert.match(server.io.stdout, /\[1\] #4 {2}201 B {2}"z{200}"…\n/);
  }
});

test("listen serves several connections at once and numbers them", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0", "--json", "--format", "line"]);
  const { connect } = await adapter();
  const a = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
  const b = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
  try {
    const wa = a.writable.getWriter();
    const wb = b.writable.getWriter();
    await wa.write(te.encode("from a\n"));
    await server.io.waitForErr(/\[1\] connection from/);
    await wb.write(te.encode("from b\n"));
    await server.io.waitForErr(/\[2\] connection from/);
    wa.releaseLock();
    wb.releaseLock();
    await a.closeWrite();
    await b.closeWrite();
    await server.io.waitForErr(/\[1\] .* closed the connection after 1 frame /);
    await server.io.waitForErr(/\[2\] .* closed the connection after 1 frame /);
  } finally {
    a.close();
    b.close();
    server.io.interrupt();
  }
  assert.equal(await server.done, 0);
  const frames = server.io.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(
    frames.map((f) => [f.conn, f.frame, f.text]).sort(),
    [[1, 1, "from a"], [2, 1, "from b"]],
  );
  assert.match(frames[0].remote, /^127\.0\.0\.1:\d+$/);
});

test(
  "listen stopped with connections open says it closed them, mid-frame or not",
  TIMEOUT,
  async () => {
    // With --once too, whose exit code says whether the connection ended well: before (mutation
    // run of _listen.ts), one closed by Ctrl-C counted as an error there (exit 1) and passed.
    for (const once of [[], ["--once"]]) {
      await using server = await startListen(["--port", "0", "--format", "u32be", ...once]);
      const { connect } = await adapter();
      const conn = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
      try {
        const writer = conn.writable.getWriter();
        await writer.write(new Uint8Array([0, 0, 0, 1, 65, 0, 0, 0, 9, 1])); // one frame, then half
        await server.io.waitForErr(/\[1\] connection from/);
        await server.io.waitForOut(/\[1\] #1 /);
        server.io.interrupt();
        assert.equal(await server.done, 0, once.join(""));
        // Not "<peer> closed the connection", and the half frame is no error: the listener closed
        // it.
        assert.match(
          server.io.stderr,
          /\[1\] closed the connection to 127\.0\.0\.1:\d+ after 1 frame /,
        );
        assert.doesNotMatch(server.io.stderr, /error after/);
      } finally {
        conn.close();
      }
    }
  },
);

test(
  "listen --echo stopped while an echo waits for a peer that does not read says it closed the connection",
  TIMEOUT,
  async () => {
    // With --once, whose exit code says whether the connection ended well, and with a line too long
    // after the two frames in the same write (one read on loopback, as the framing-error test
    // below assumes): that error came before Ctrl-C, and is one. Before (mutation run of
    // _listen.ts), a stop that counted as an error (exit 1), and one that made any error while
    // stopping a clean close, passed every test.
    for (
      const [once, tail] of [[[], ""], [["--once"], ""], [["--once"], "x".repeat(20)]] as const
    ) {
      await stoppedWhileEchoing([...once], tail);
    }
  },
);

/** listen --echo (line, --max-frame-length 9) stopped while an echo of "one", "two" waits, then `tail`. */
async function stoppedWhileEchoing(once: string[], tail: string): Promise<void> {
  const io = captureIo();
  // Accepted connections whose writes never finish until closed, as to a peer that stopped reading.
  let echoing!: () => void;
  const stuck = new Promise<void>((resolve) => echoing = resolve);
  const real = await adapter();
  const stalled = (conn: Conn): Conn => {
    let fail: ((error: unknown) => void) | undefined;
    return {
      readable: conn.readable,
      writable: new WritableStream<Uint8Array>({
        write(): Promise<void> {
          echoing();
          return new Promise((_, reject) => fail = reject);
        },
      }),
      localAddr: conn.localAddr,
      remoteAddr: conn.remoteAddr,
      closeWrite: () => conn.closeWrite(),
      close(): void {
        conn.close();
        fail?.(
          new ConnectionError("Cannot write as the connection is closed", {
            code: "CONNECTION_CLOSED",
          }),
        );
      },
      closed: conn.closed,
    };
  };
  io.adapter = () => acceptingThrough(stalled);
  await using server = await startListen(
    ["--port", "0", "--echo", "--format", "line", "--max-frame-length", "9", ...once],
    io,
  );
  const conn = await real.connect({ hostname: "127.0.0.1", port: Number(server.port) });
  try {
    const writer = conn.writable.getWriter();
    await writer.write(te.encode("one\ntwo\n" + tail));
    await settles(stuck, "the wait for the echo");
    io.interrupt();
    assert.equal(await server.done, tail === "" ? 0 : 1);
    if (tail === "") {
      assert.match(io.stderr, /\[1\] closed the connection to 127\.0\.0\.1:\d+ after 2 frames /);
      assert.doesNotMatch(io.stderr, /error after/);
    } else {
      assert.match(io.stderr, /\[1\] error after 2 frames, closing the connection: .* 9\b/);
      assert.doesNotMatch(io.stderr, /closed the connection to/);
    }
  } finally {
    conn.close();
  }
}

for (const json of [false, true]) {
  test(
    `listen${json ? " --json" : ""} names a peer whose address is unknown as such, not ':0'`,
    TIMEOUT,
    async () => {
      await unknownPeer(json);
    },
  );
}

async function unknownPeer(json: boolean): Promise<void> {
  // Node and Bun give a connection reset as it was accepted no remote address; the adapters then
  // say hostname "" and port 0, which listen printed as "connection from :0", and --json as
  // "remote":":0".
  const io = captureIo();
  io.adapter = () =>
    acceptingThrough((conn): Conn => ({
      readable: conn.readable,
      writable: conn.writable,
      localAddr: conn.localAddr,
      remoteAddr: { transport: "tcp", hostname: "", port: 0 },
      closeWrite: () => conn.closeWrite(),
      close: () => conn.close(),
      closed: conn.closed,
    }));
  await using server = await startListen(["--port", "0", ...json ? ["--json"] : []], io);
  const { connect } = await adapter();
  const peer = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
  try {
    const writer = peer.writable.getWriter();
    await writer.write(new Uint8Array([0, 0, 0, 2, 104, 105])); // u32be "hi"
    await writer.close();
    await io.waitForErr(/\[1\] .* closed the connection after 1 frame/);
    assert.match(
      io.stderr,
      /\[1\] connection from a peer of unknown address \(it reset as it connected\)\n/,
    );
    assert.doesNotMatch(io.stderr, /:0\b/);
    if (json) {
      assert.deepEqual(JSON.parse(io.stdout), {
        conn: 1,
        remote: null,
        frame: 1,
        length: 2,
        text: "hi",
      });
    } else assert.match(io.stdout, /^\[1\] #1 {2}2 B {2}"hi"\n$/);
    assert.doesNotMatch(io.stdout, /:0\b/);
  } finally {
    peer.close();
  }
}

test(
  "listen --echo whose echo cannot be written reports it and closes the connection",
  TIMEOUT,
  async () => {
    // Before (mutation run of _listen.ts), a listen that ignored a failed echo (awaiting it with its
    // error caught) and went on reading passed every test (exit 0, "closed the connection").
    const io = captureIo();
    const refusing = (conn: Conn): Conn => ({
      readable: conn.readable,
      writable: new WritableStream<Uint8Array>({
        write(): never {
          throw new Error("no room for echoes");
        },
      }),
      localAddr: conn.localAddr,
      remoteAddr: conn.remoteAddr,
      closeWrite: () => conn.closeWrite(),
      close: () => conn.close(),
      closed: conn.closed,
    });
    io.adapter = () => acceptingThrough(refusing);
    await using server = await startListen(
      ["--port", "0", "--echo", "--format", "line", "--once"],
      io,
    );
    const conn = await (await adapter()).connect({
      hostname: "127.0.0.1",
      port: Number(server.port),
    });
    try {
      const writer = conn.writable.getWriter();
      await writer.write(te.encode("one\n"));
      await writer.close();
      assert.equal(await server.done, 1);
      assert.match(
        io.stderr,
        /\[1\] error after 1 frame, closing the connection: no room for echoes\n$/,
      );
    } finally {
      conn.close();
    }
  },
);

test(
  "listen waits for room in its output within a read, not only after it",
  TIMEOUT,
  async () => {
    // One read of empty frames is thousands of lines. Before, all of them were printed (each a
    // write of its own) before listen waited for its output: 50 peers grew it to 1 GB while a
    // pager sat on its first page. The output here has no room until the test gives it some.
    const watched = watchingRoom(captureIo());
    await using server = await startListen(["--port", "0"], watched.io);
    const { io, port } = server;
    const giveRoom = io.holdOutput();
    const conn = await (await adapter()).connect({ hostname: "127.0.0.1", port: Number(port) });
    try {
      const writer = conn.writable.getWriter();
      await writer.write(new Uint8Array(4 * 10_000)); // 10,000 empty u32be frames
      await io.waitForOut(/#1 /);
      const printed = io.stdout.split("\n").length - 1;
      assert.ok(printed <= 1024, `${printed} lines printed before waiting for room`);
      giveRoom();
      await io.waitForOut(/#10000 /);
      await writer.close();
      await io.waitForErr(/closed the connection after 10000 frames/);
      // Every 1,024 lines (before, mutation run of _listen.ts, batches of 1,023 passed), and after
      // every read, each wait awaited.
      assertBatches(watched.waits, 1024, 10_000);
      assert.equal(watched.awaited(), watched.waits.length);
    } finally {
      giveRoom(); // idempotent: listen must not stop waiting for room it never gets
      conn.close();
      io.interrupt();
    }
    assert.equal(await server.done, 0);
  },
);

test(
  "listen accepts no other connection while its output has no room",
  TIMEOUT,
  async () => {
    // Every connection writes a line or two on standard error. Before, listen accepted on while
    // nobody read its output (`2>&1 | less`): connections that sent nothing were never held back,
    // and their lines waited in memory without end (Node, standard error into a pipe nobody read:
    // 535 MB RSS after 160,000 connections, and growing; 247 MB when it was read).
    const events: string[] = [];
    let changed = (): void => {};
    const event = (what: string): void => {
      events.push(what);
      changed();
    };
    const io = captureIo();
    io.adapter = () => acceptingThrough((conn) => (event("accepted"), conn));
    const room = io.outputRoom!.bind(io);
    io.outputRoom = () => (event("room"), room());
    /** Resolves once `events` has `n` entries, with the first `n`. */
    const first = (n: number): Promise<string[]> =>
      settles(
        new Promise<string[]>((resolve) => {
          changed = () => events.length >= n && resolve(events.slice(0, n));
          changed();
        }),
        `${n} accepts or waits for room (${events.join(", ")})`,
      );
    await using server = await startListen(["--port", "0"], io);
    const giveRoom = io.holdOutput();
    const { connect } = await adapter();
    const peers: Conn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        peers.push(await connect({ hostname: "127.0.0.1", port: Number(server.port) }));
      }
      // Before, the other two were accepted at once, and listen never asked for room.
      assert.deepEqual(await first(2), ["accepted", "room"]);
      assert.doesNotMatch(io.stderr, /\[2\]/);
      giveRoom();
      await io.waitForErr(/\[3\] connection from/);
      assert.deepEqual(await first(6), [
        "accepted",
        "room",
        "accepted",
        "room",
        "accepted",
        "room",
      ]);
    } finally {
      giveRoom();
      for (const peer of peers) peer.close();
    }
    await io.waitForErr(/\[3\] .*closed the connection after 0 frames/);
    io.interrupt();
    assert.equal(await server.done, 0);
  },
);

test(
  "listen goes on serving after peers that reset their connection before it was taken",
  TIMEOUT,
  async () => {
    // A port scanner, or a client that gives up at once. Before, on Deno, listen exited 1 with
    // "Cannot accept on 127.0.0.1:P as it failed: Transport endpoint is not connected": the
    // adapter's listener ended with the ENOTCONN of such a connection. They are reset while
    // listen waits for room in its output, before it takes another connection.
    const io = captureIo();
    await using server = await startListen(["--port", "0"], io);
    const port = Number(server.port);
    const giveRoom = io.holdOutput();
    const { connect } = await adapter();
    const first = await connect({ hostname: "127.0.0.1", port });
    let good: Conn | undefined;
    try {
      await io.waitForErr(/\[1\] connection from/);
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          const socket = netConnect(port, "127.0.0.1", () => socket.resetAndDestroy());
          socket.on("error", reject);
          socket.on("close", () => resolve());
        });
      }
      good = await connect({ hostname: "127.0.0.1", port });
      const writer = good.writable.getWriter();
      await writer.write(new Uint8Array([0, 0, 0, 2, 104, 105]));
      writer.releaseLock();
      giveRoom();
      await io.waitForOut(/\[\d+\] #1 {2}2 B {2}"hi"/);
    } finally {
      giveRoom();
      first.close();
      good?.close();
    }
    io.interrupt();
    assert.equal(await server.done, 0, io.stderr);
  },
);

test(
  "listen shows and echoes the frames before a framing error that came in the same read",
  TIMEOUT,
  async () => {
    await using server = await startListen([
      "--port",
      "0",
      "--once",
      "--echo",
      "--max-frame-length",
      "10",
    ]);
    // Two frames, then a header of 100 bytes, over the limit: all in one write (one read).
    const frames = [0, 0, 0, 2, 104, 105, 0, 0, 0, 2, 111, 107];
    const { connect } = await adapter();
    const conn = await connect({ hostname: "127.0.0.1", port: Number(server.port) });
    try {
      const writer = conn.writable.getWriter();
      await writer.write(new Uint8Array([...frames, 0, 0, 0, 100]));
      const echoed: number[] = [];
      await settles(
        (async () => {
          for await (const chunk of conn.readable) echoed.push(...chunk);
        })(),
        "the echo (until listen closes the connection)",
      );
      assert.deepEqual(echoed, frames);
    } finally {
      conn.close();
    }
    assert.equal(await server.done, 1);
    assert.match(server.io.stdout, /\[1\] #1 {2}2 B {2}"hi"\n\[1\] #2 {2}2 B {2}"ok"\n/);
    assert.match(server.io.stderr, /\[1\] error after 2 frames/);
  },
);

test("listen --once reports an HTTP client on a u32be port and exits 1", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0", "--once"]);
  assert.equal(await writeThen(server, HTTP_GET, () => server.done), 1);
  assert.match(
    server.io.stderr,
    /\[1\] error after 0 frames, closing the connection: .*look like HTTP/,
  );
  assert.equal(server.io.stdout, "");
});

test("listen --once reports a connection closed in the middle of a frame", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0", "--once"]);
  const bytes = new Uint8Array([0, 0, 0, 2, 104, 105, 0, 0, 0, 5, 104]);
  assert.equal(await writeThenEnd(server, bytes), 1);
  assert.equal(server.io.stdout, '[1] #1  2 B  "hi"\n');
  assert.match(
    server.io.stderr,
    /\[1\] error after 1 frame, closing the connection: .*inside its payload: received 1 of 5/,
  );
});

test("listen and send work over a Unix socket", TIMEOUT, async () => {
  const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
  try {
    const path = join(dir, "fw.sock");
    await using server = await startListen([
      "--unix",
      path,
      "--echo",
      "--once",
      "--format",
      "netstring",
    ]);
    const client = captureIo({ stdin: ["over unix\n"] });
    assert.equal(
      await settles(run(["send", `unix:${path}`, "--format", "netstring"], client), "send"),
      0,
      client.stderr,
    );
    assert.equal(client.stdout, '#1  9 B  "over unix"\n');
    assert.equal(await server.done, 0);
    // The peer of a Unix socket has no address: the listener's path is not passed off as one.
    assert.match(server.io.stderr, new RegExp(`\\[1\\] connection from a peer on ${path}\n`));
    assert.match(server.io.stderr, new RegExp(`\\[1\\] a peer on ${path} closed the connection`));
    // Nor by --json, which gave it as "remote" before: a peer with no address is null there.
    await using json = await startListen(["--unix", `${path}2`, "--once", "--json"]);
    const jsonClient = captureIo({ stdin: ["hi\n"] });
    assert.equal(await settles(run(["send", `unix:${path}2`], jsonClient), "send"), 0);
    assert.equal(await json.done, 0);
    assert.deepEqual(JSON.parse(json.io.stdout), {
      conn: 1,
      remote: null,
      frame: 1,
      length: 2,
      text: "hi",
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  "listen says where it listens, in which format, whether it echoes and how it stops",
  TIMEOUT,
  async () => {
    // Before (mutation run of _listen.ts), ", echo", "exits after one connection" and "Ctrl-C to
    // stop" could each go from that line and every test passed.
    const cases: Array<[string[], string]> = [
      [[], "(format u32be); Ctrl-C to stop"],
      [["--echo", "--once", "--format", "line"], "(format line, echo); exits after one connection"],
    ];
    for (const [args, rest] of cases) {
      await using server = await startListen(["--port", "0", ...args]);
      assert.equal(
        server.io.stderr,
        `framewire listen: listening on 127.0.0.1:${server.port} ${rest}\n`,
      );
    }
  },
);

test(
  "listen closes its listener when standard error fails as it says where it listens",
  TIMEOUT,
  async () => {
    // Standard error gone (a closed pipe: writing throws): before, the listener stayed open behind
    // the failure (the h111 mutation run's note).
    const real = await adapter();
    const made: Listener[] = [];
    const io = captureIo();
    const err = io.err.bind(io);
    io.err = (text: string): void => {
      if (text.includes("listening on")) throw new Error("write EPIPE");
      err(text);
    };
    io.adapter = () =>
      Promise.resolve({
        ...real,
        listen: async (options: ListenOptions): Promise<Listener> => {
          const listener = await real.listen(options);
          made.push(listener);
          return listener;
        },
      });
    try {
      // And fails (before, mutation run of _listen.ts, one that went on after closing its listener,
      // then returned 0 at once, passed).
      assert.equal(await run(["listen", "--port", "0"], io), 1);
      assert.match(io.stderr, /^framewire listen: write EPIPE$/m);
      assert.equal(made.length, 1);
      const port = (made[0]!.addr as { port: number }).port;
      // Closed: a connect is refused (one that got through is closed at once).
      await assert.rejects(
        real.connect({ hostname: "127.0.0.1", port }).then((conn) => conn.close()),
        ConnectionError,
      );
    } finally {
      for (const listener of made) listener.close();
    }
  },
);

test("listen and send name what is wrong with a Unix socket path", TIMEOUT, async () => {
  const dir = await mkdtemp(join(tmpdir(), "framewire-cli-"));
  try {
    const missing = join(dir, "no-such-dir", "fw.sock");
    const listenIo = captureIo();
    assert.equal(await run(["listen", "--unix", missing], listenIo), 1);
    // Node reports a missing directory as EACCES; before, the message spoke of ports below 1024,
    // then said "permission denied, or no such directory" there (the node adapter finds which).
    assert.equal(
      listenIo.stderr,
      `framewire listen: cannot listen on ${missing}: no such directory\n`,
    );
    const sendIo = captureIo({ stdin: ["x\n"] });
    assert.equal(await settles(run(["send", `unix:${missing}`], sendIo), "send"), 1);
    assert.equal(
      sendIo.stderr,
      `framewire send: cannot connect to ${missing}: no such socket file\n`,
    );
    // A socket it may not use: no advice about ports (root, who runs these tests, is never refused,
    // so the adapter's error is made here). Before (mutation run of _send.ts), a send that did not
    // say it was connecting to a Unix socket ("path" in target as "" in target) passed every test.
    const deniedIo = captureIo({ stdin: ["x\n"] });
    deniedIo.adapter = () =>
      Promise.resolve({
        connect: () =>
          Promise.reject(Object.assign(new Error("connect EACCES"), { code: "EACCES" })),
        listen: () => Promise.reject(new Error("not used")),
      });
    assert.equal(await run(["send", `unix:${missing}`], deniedIo), 1);
    assert.equal(
      deniedIo.stderr,
      `framewire send: cannot connect to ${missing}: permission denied\n`,
    );
    // A file left behind at the path (as by a server that was killed).
    const stale = join(dir, "stale.sock");
    await writeFile(stale, "");
    const staleIo = captureIo();
    assert.equal(await run(["listen", "--unix", stale], staleIo), 1);
    assert.equal(
      staleIo.stderr,
      `framewire listen: cannot listen on ${stale}: the socket file exists (remove it if no server uses it)\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * A server for one `send`: reads the whole request (closing with unread input would reset the
 * connection), answers `reply` and closes. Returns its port, the serving task and `close`.
 */
/**
 * `client`, whose `outputRoom()` records how many lines standard output had at each call, and
 * counts the calls whose promise was awaited (an `await` calls its `then`).
 */
function watchingRoom(
  client: CaptureIo,
): { io: CaptureIo; waits: number[]; awaited: () => number } {
  const waits: number[] = [];
  let awaited = 0;
  const io: CaptureIo = Object.create(client);
  io.outputRoom = () => {
    waits.push(client.stdout.split("\n").length - 1);
    const room = client.outputRoom!();
    return {
      then(resolve, reject) {
        awaited++;
        return room.then(resolve, reject);
      },
    } as Promise<void>;
  };
  return { io, waits, awaited: () => awaited };
}

/** Checks that `waits` (lines printed at each wait for room) has one at every `batch` lines of `total`, and none more than `batch` apart. */
function assertBatches(waits: readonly number[], batch: number, total: number): void {
  for (let n = batch; n <= total; n += batch) {
    assert.ok(waits.includes(n), `no wait for room after ${n} lines: ${waits.join(", ")}`);
  }
  let last = 0;
  for (const n of waits) {
    assert.ok(n - last <= batch, `${n - last} lines without a wait for room: ${waits.join(", ")}`);
    last = n;
  }
}

async function replyOnce(
  reply: Uint8Array,
): Promise<{ port: number; serving: Promise<void>; close: () => void }> {
  const { listen } = await adapter();
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  let accepted: Conn | undefined;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted = conn;
      for await (const _ of conn.readable) { /* discard */ }
      const writer = conn.writable.getWriter();
      await writer.write(reply);
      writer.releaseLock();
      conn.close();
      return;
    }
  })();
  return {
    port: (listener.addr as { port: number }).port,
    // Bounded: a send that never ends its request would leave it waiting forever.
    get serving(): Promise<void> {
      return settles(serving, "the server's reply");
    },
    close(): void {
      accepted?.close(); // as when a test failed before the request ended
      listener.close();
    },
  };
}

test("send prints binary replies as hex and stops when the server closes", TIMEOUT, async () => {
  const server = await replyOnce(new Uint8Array([0, 0, 0, 3, 0, 1, 255, 0, 0, 0, 2, 111, 107]));
  try {
    const client = captureIo({ stdin: ["ping\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${server.port}`], client), "send"),
      0,
      client.stderr,
    );
    assert.equal(client.stdout, '#1  3 B  hex 00 01 ff\n#2  2 B  "ok"\n');
    await server.serving;
  } finally {
    server.close();
  }
});

test("send waits for room in its output within a read of replies", TIMEOUT, async () => {
  // As listen: before, a read's replies were all printed before send waited for its output.
  const server = await replyOnce(new Uint8Array(4 * 10_000)); // 10,000 empty replies
  try {
    const client = captureIo({ stdin: ["ping\n"] });
    const { io, waits, awaited } = watchingRoom(client);
    const giveRoom = client.holdOutput();
    const done = settles(run(["send", `127.0.0.1:${server.port}`], io), "send");
    await client.waitForOut(/#1 /);
    const printed = client.stdout.split("\n").length - 1;
    assert.ok(printed <= 1024, `${printed} replies printed before waiting for room`);
    giveRoom();
    assert.equal(await done, 0, client.stderr);
    assert.match(client.stdout, /#10000 {2}0 B/);
    await server.serving;
    // Every 1,024 replies, and after every read (before, mutation run of _send.ts, a wait after
    // 1,023, or after every reply but the 1,024th, passed), each wait awaited.
    assertBatches(waits, 1024, 10_000);
    assert.equal(awaited(), waits.length);
  } finally {
    server.close();
  }
});

test("send exits 1 when a reply cannot be decoded", TIMEOUT, async () => {
  const { listen } = await adapter();
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as { port: number }).port;
  const serving = (async () => {
    for await (const conn of listener) {
      // Read the whole request first: closing with unread input would reset the connection.
      for await (const _ of conn.readable) { /* discard */ }
      const writer = conn.writable.getWriter();
      await writer.write(te.encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
      writer.releaseLock();
      conn.close();
      return;
    }
  })();
  try {
    const client = captureIo({ stdin: ["hello\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${port}`, "--format", "varint"], client), "send"),
      1,
    );
    assert.match(client.stderr, /^framewire send: error while receiving: .*\n$/);
    await serving;
  } finally {
    listener.close();
  }
});

test("send --wait stops waiting for a server that keeps the connection open", TIMEOUT, async () => {
  const { listen } = await adapter();
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as { port: number }).port;
  const accepted: Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      return;
    }
  })();
  try {
    const client = captureIo({ stdin: ["hello\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${port}`, "--wait", "50"], client), "send"),
      0,
      client.stderr,
    );
    assert.match(client.stderr, /stopped waiting for replies after 50 ms/);
    await serving;
    // And it closed its connection: what the server writes now is refused. Before (mutation run
    // of _send.ts), a send that left it open (half-closed, reading nothing) passed every test.
    const writer = accepted[0]!.writable.getWriter();
    const refused = (async () => {
      for (;;) await writer.write(new Uint8Array(1024));
    })().then(() => false, () => true);
    assert.equal(await settles(refused, "the server's writes to the closed send"), true);
  } finally {
    for (const c of accepted) c.close();
    listener.close();
  }
});

test("send refuses a line the format cannot carry", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0", "--format", "u8", "--once"]);
  const client = captureIo({ stdin: ["short\n", "y".repeat(300) + "\n"] });
  assert.equal(
    await settles(run(["send", `127.0.0.1:${server.port}`, "--format", "u8"], client), "send"),
    1,
  );
  assert.match(client.stderr, /cannot send line 2 as u8/);
  assert.equal(await server.done, 0);
  assert.match(server.io.stdout, /\[1\] #1 {2}5 B {2}"short"/);
});

test(
  "send prints the replies to the lines before a refused one, then exits 1",
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0", "--format", "u8", "--echo", "--once"]);
    // Both lines in one read: the reply to the first cannot have arrived when the second is refused.
    const client = captureIo({ stdin: ["ab\n" + "x".repeat(300) + "\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${server.port}`, "--format", "u8"], client), "send"),
      1,
    );
    assert.match(
      client.stderr,
      /cannot send line 2 as u8: it is longer than the limit of 255 bytes \(300 bytes\)\n$/,
    );
    assert.equal(client.stdout, '#1  2 B  "ab"\n');
    // The server saw the end of the stream, not a reset.
    assert.equal(await server.done, 0);
    assert.match(server.io.stderr, /closed the connection after 1 frame/);
  },
);

test(
  "send gives up a connect the peer does not answer after --connect-timeout, with one line",
  { ...TIMEOUT, skip: process.platform !== "linux" && "Linux drops SYNs to a full accept queue" },
  async () => {
    // The peer does not answer: a listener with a backlog of 1 that never accepts (its process
    // blocks once listening), its accept queue filled first, so Linux drops the SYNs that come
    // after. Before, send waited for the system to give up (about two minutes).
    const listener = await startSilentListener();
    const port = listener.port;
    const net = await adapter();
    const opened: Conn[] = [];
    try {
      // Fill the accept queue: connects complete until it is full (two with a backlog of 1).
      for (let i = 0; i < 8; i++) {
        const conn = await net.connect({ port, signal: AbortSignal.timeout(1000) }).catch(() => {});
        if (conn === undefined) break;
        opened.push(conn);
      }
      const io = captureIo({ stdin: ["hello\n"] });
      const args = ["send", `127.0.0.1:${port}`, "--connect-timeout", "200"];
      assert.equal(await settles(run(args, io), "send"), 1);
      assert.equal(
        io.stderr,
        `framewire send: cannot connect to 127.0.0.1:${port}: no answer within 200 ms (--connect-timeout)\n`,
      );
      assert.equal(io.stdout, "");
    } finally {
      for (const conn of opened) conn.close();
      await listener.close();
    }
  },
);

test("send --connect-timeout refuses what is no count of ms", async () => {
  for (const bad of ["-1", "x", "1.5"]) {
    const io = captureIo();
    assert.equal(await run(["send", "127.0.0.1:9", "--connect-timeout", bad], io), 2, bad);
    assert.match(io.stderr, /--connect-timeout/, bad);
  }
});

test(
  'send refuses a line over a limit of one byte in the singular: "1 byte"',
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0", "--format", "u8", "--once"]);
    const client = captureIo({ stdin: ["ab\n"] });
    const args = ["send", `127.0.0.1:${server.port}`, "--format", "u8", "--max-frame-length", "1"];
    assert.equal(await settles(run(args, client), "send"), 1);
    // Before: "the limit of 1 bytes (2 bytes)".
    assert.match(
      client.stderr,
      /cannot send line 1 as u8: it is longer than the limit of 1 byte \(2 bytes\)\n$/,
    );
    assert.equal(await server.done, 0);
  },
);

test(
  "send sends the lines before a refused one, even when they come in the same read",
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0", "--format", "u8", "--once"]);
    const client = captureIo({ stdin: ["a\nb\n" + "x".repeat(300) + "\nc\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${server.port}`, "--format", "u8"], client), "send"),
      1,
    );
    assert.match(client.stderr, /cannot send line 3 as u8/);
    assert.equal(await server.done, 0);
    // Before: nothing of that read was sent ("after 0 frames").
    assert.match(server.io.stdout, /\[1\] #1 {2}1 B {2}"a"\n\[1\] #2 {2}1 B {2}"b"\n/);
    assert.match(server.io.stderr, /closed the connection after 2 frames/);
  },
);

test(
  "send refuses a line as soon as it is too long, without reading the rest of it",
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0", "--once"]);
    let chunksRead = 0;
    // Input without a newline, endless as far as send knows: before, send held all of it and
    // never stopped. 100 chunks, not endless: a send that reads on then fails instead of
    // spinning without end (its reads never wait, so no timer could stop it).
    function* endless(): Generator<Uint8Array> {
      const chunk = new Uint8Array(1000).fill(0x7a);
      for (let i = 0; i < 100; i++) {
        chunksRead++;
        yield chunk;
      }
    }
    const client = captureIo({ stdin: endless() });
    const code = await settles(
      run(
        ["send", `127.0.0.1:${server.port}`, "--max-frame-length", "4500"],
        client,
      ),
      "send",
    );
    assert.equal(code, 1);
    assert.match(
      client.stderr,
      /cannot send line 1 as u32be: it is longer than the limit of 4500 bytes \(5000 read so far/,
    );
    assert.equal(chunksRead, 5); // 5000 bytes > 4500 + a "\r" that could end the line
    assert.equal(await server.done, 0);
  },
);

test("listen on a port in use fails in one line with exit 1", TIMEOUT, async () => {
  const { listen } = await adapter();
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const io = captureIo();
    const port = (listener.addr as { port: number }).port;
    assert.equal(await run(["listen", "--port", String(port)], io), 1);
    assert.equal(
      io.stderr,
      `framewire listen: cannot listen on 127.0.0.1:${port}: the address is already in use\n`,
    );
  } finally {
    listener.close();
  }
});

test(
  "listen --host with an IPv6 address in brackets names it once when it fails",
  {
    ...TIMEOUT,
    skip: !Object.values(networkInterfaces()).flat().some((i) => i?.address === "::1") &&
      "no IPv6 loopback on this machine",
  },
  async () => {
    const { listen } = await adapter();
    const listener = await listen({ hostname: "::1", port: 0 });
    try {
      const port = (listener.addr as { port: number }).port;
      for (const host of ["::1", "[::1]"]) {
        const io = captureIo();
        assert.equal(await run(["listen", "--port", String(port), "--host", host], io), 1);
        // Before, "cannot listen on [[::1]]:…" for "[::1]".
        assert.equal(
          io.stderr,
          `framewire listen: cannot listen on [::1]:${port}: the address is already in use\n`,
        );
      }
    } finally {
      listener.close();
    }
  },
);

test(
  "demo prints the same story for the same seed, and works in every format",
  TIMEOUT,
  async () => {
    const a = captureIo();
    const b = captureIo();
    assert.equal(await run(["demo", "--seed", "42"], a), 0, a.stderr);
    assert.equal(await run(["demo", "--seed", "42"], b), 0, b.stderr);
    assert.equal(a.stdout, b.stdout);
    const c = captureIo();
    assert.equal(await run(["demo", "--seed", "43"], c), 0, c.stderr);
    assert.notEqual(c.stdout, a.stdout);
    for (const format of FORMAT_NAMES) {
      const io = captureIo();
      assert.equal(
        await run(["demo", "--format", format, "--max-chunk", "7"], io),
        0,
        `${format}: ${io.stderr}`,
      );
      assert.match(io.stdout, /The decoder returned all 6 messages intact/, format);
    }
  },
);

test("Progress resolves each waiter once its count is reached, and at once when already there", async () => {
  const progress = new Progress();
  const order: number[] = [];
  const three = progress.waitFor(3).then(() => order.push(3));
  const one = progress.waitFor(1).then(() => order.push(1));
  const two = progress.waitFor(2).then(() => order.push(2));
  progress.advance(); // counts one (before, mutation run: a default of 2 passed)
  await one;
  assert.deepEqual(order, [1]);
  progress.advance(2);
  await Promise.all([two, three]);
  assert.deepEqual(order.slice(1).sort(), [2, 3]);
  await progress.waitFor(2);
});

test("describeError() words a failed host lookup the same on every runtime", () => {
  const failed = (cause: Error) =>
    describeError(new ConnectionError("Cannot connect", { code: "CONNECTION_FAILED", cause }));
  const node = Object.assign(new Error("getaddrinfo ENOTFOUND nosuch.invalid"), {
    code: "ENOTFOUND",
  });
  const deno = new Error("failed to lookup address information: Name or service not known");
  assert.equal(failed(node), "the host name was not found");
  assert.equal(failed(deno), "the host name was not found");
});

test("formatAddr() puts an IPv6 host in brackets", () => {
  assert.equal(formatAddr({ hostname: "::1", port: 80 }), "[::1]:80");
  assert.equal(
    formatAddr({ transport: "tcp", hostname: "fe80::1", port: 9000 }),
    "[fe80::1]:9000",
  );
  assert.equal(formatAddr({ hostname: "127.0.0.1", port: 80 }), "127.0.0.1:80");
  assert.equal(formatAddr({ port: 80 }), "127.0.0.1:80");
  assert.equal(formatAddr({ path: "/tmp/fw.sock" }), "/tmp/fw.sock");
  // Already in brackets (`listen --host [::1]`): before, "[[::1]]:80".
  assert.equal(formatAddr({ hostname: "[::1]", port: 80 }), "[::1]:80");
});

test("describeError() words Deno's errors, which have a name and no code", () => {
  const named = (name: string) => Object.assign(new Error("os error"), { name });
  const failed = (cause: Error) =>
    new ConnectionError("Cannot listen", { code: "CONNECTION_FAILED", cause });
  assert.equal(describeError(failed(named("AddrInUse"))), "the address is already in use");
  assert.equal(
    describeError(named("AddrNotAvailable")),
    "the address is not available on this machine",
  );
  assert.equal(describeError(failed(named("NotFound")), "listen"), "no such directory");
  assert.equal(describeError(failed(named("NotFound")), "connect"), "no such socket file");
});

test("describeError() tells a Unix listen's denied permission from a missing directory on Node", () => {
  // libuv reports both as EACCES; the node adapter words the second as ENOENT (its cause keeps
  // Node's error). Before, both read "permission denied, or no such directory".
  const eacces = () =>
    Object.assign(new Error("listen EACCES: permission denied"), { code: "EACCES" });
  const missing = connectionError("listen on /nope/fw.sock", eacces(), "ENOENT");
  assert.equal(
    missing.message,
    "Cannot listen on /nope/fw.sock as there is no such file or directory",
  );
  assert.equal(describeError(missing, "listen"), "no such directory");
  const denied = connectionError("listen on /root/fw.sock", eacces());
  assert.equal(describeError(denied, "listen"), "permission denied");
  assert.equal(describeError(eacces(), "listen"), "permission denied");
});

test("describeError() has a phrase for each failure it knows, the same for Node's code and Deno's name", () => {
  // Before (mutation run of _net.ts), any one of these phrases made empty passed every test.
  const coded = (code: string) => Object.assign(new Error("raw"), { code });
  const named = (name: string) => Object.assign(new Error("raw"), { name });
  const said = (phrase: string, what: string): void => {
    assert.ok(phrase !== "" && phrase !== "raw", `${what}: ${JSON.stringify(phrase)}`);
  };
  const pairs = [
    ["EADDRINUSE", "AddrInUse"],
    ["EACCES", "PermissionDenied"],
    ["EADDRNOTAVAIL", "AddrNotAvailable"],
  ];
  for (const unix of [undefined, "listen", "connect"] as const) {
    for (const [code, name] of unix === undefined ? pairs : [...pairs, ["ENOENT", "NotFound"]]) {
      const phrase = describeError(coded(code!), unix);
      said(phrase, `${code} ${unix}`);
      assert.equal(describeError(named(name!), unix), phrase, `${name} ${unix}`);
    }
  }
  for (const code of ["ENOTFOUND", "EAI_AGAIN", "ENOENT"]) said(describeError(coded(code)), code);
  said(describeError(named("NotFound")), "NotFound");
  for (
    const code of [
      "CONNECTION_REFUSED",
      "CONNECTION_RESET",
      "CONNECTION_TIMEOUT",
      "CONNECTION_CLOSED",
    ] as const
  ) {
    said(describeError(new ConnectionError("raw", { code })), code);
  }
});

test("describeError() says what a failure without a message was, as framewire's own errors do (causeText)", () => {
  // Before: "" for an Error without a message (the line ended in ": "), the same for a
  // ConnectionError whose cause had none, and an object without a prototype threw from String().
  assert.equal(describeError(new RangeError("")), "RangeError (no message)");
  assert.equal(describeError(Object.create(null)), "object (no message)");
  assert.equal(describeError("plain words"), "plain words");
  const wrapped = new ConnectionError(
    "Cannot read from 127.0.0.1:1 as it failed: Error (no message)",
    {
      cause: new Error(""),
    },
  );
  assert.equal(describeError(wrapped), wrapped.message);
  assert.equal(
    describeError(new ConnectionError("Cannot connect", { cause: new Error("its words") })),
    "its words",
  );
});

test("describeError() takes no phrase from Object.prototype for a code or name like 'constructor'", () => {
  // Before, a name of "toString" read Object.prototype.toString from the phrase table and the
  // line said "function toString() { [native code] }".
  for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    const named = Object.assign(new Error("its own words"), { name: key });
    const coded = Object.assign(new Error("its own words"), { code: key });
    for (const error of [named, coded]) {
      for (const unix of [undefined, "listen", "connect"] as const) {
        assert.equal(describeError(error, unix), "its own words", `${key} ${unix}`);
        assert.equal(
          describeError(new ConnectionError("Cannot connect", { cause: error }), unix),
          "its own words",
          `${key} ${unix}, as a cause`,
        );
      }
    }
  }
});

test("describeError() of a failure it has no phrase for says its message, or its cause's", () => {
  // Before (mutation run of _net.ts), a ConnectionError without a phrase described as undefined,
  // and one without a cause making describeError() throw ((error)?.name as error.name), passed.
  assert.equal(
    describeError(new ConnectionError("Cannot open session", { code: "PROTOCOL_ERROR" })),
    "Cannot open session",
  );
  assert.equal(
    describeError(new ConnectionError("Cannot connect", { cause: new Error("odd failure") })),
    "odd failure",
  );
  assert.equal(describeError(undefined), "undefined (no message)"); // as causeText() says it
  assert.equal(describeError("a string"), "a string");
});

test("concat() returns the only part unchanged, and joins more into a new array", () => {
  // Before (mutation run of _net.ts), a concat() that copied a lone part passed every test.
  const one = new Uint8Array([1, 2]);
  assert.equal(concat([one]), one);
  const joined = concat([one, new Uint8Array([3])]);
  assert.deepEqual([...joined], [1, 2, 3]);
  assert.notEqual(joined.buffer, one.buffer);
});

test("withDeadline() rejects once its time has passed, and leaves no timer behind", async () => {
  // Before (mutation run of _net.ts), a withDeadline() that set no timer, or cleared it before the
  // race settled (return Promise.race(...) without await), or left it set, passed every test.
  // A bound of its own, so that a withDeadline() that never settles fails here instead of hanging.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const unsettled = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error("withDeadline() did not settle")), WAIT_DEADLINE_MS);
  });
  try {
    await assert.rejects(Promise.race([withDeadline(unsettled, 1, "the wait"), unsettled]), {
      message: "the wait did not finish within 1 ms",
    });
  } finally {
    clearTimeout(guard);
  }
  const spy = spyTimers();
  try {
    assert.equal(await withDeadline(Promise.resolve(7), 60_000, "the work"), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error("no")), 60_000, "it"), {
      message: "no",
    });
    assert.equal(spy.made.length, 2);
    assert.deepEqual([...spy.pending], []);
  } finally {
    spy.restore();
  }
});

test(
  "listen without --once exits 0 on Ctrl-C after a connection ended with an error",
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0"]);
    await writeThen(server, HTTP_GET, async () => {
      await server.io.waitForErr(/\[1\] error after 0 frames/);
      server.io.interrupt();
      assert.equal(await server.done, 0); // only --once reports the error in the exit code
    });
  },
);

test(
  "listen --once closes its port and removes its Ctrl-C handler when it returns",
  TIMEOUT,
  async () => {
    await using server = await startListen(["--port", "0", "--once", "--format", "line"]);
    const { connect } = await adapter();
    assert.equal(await writeThenEnd(server, te.encode("hi\n")), 0);
    assert.equal(server.io.stdout, '[1] #1  2 B  "hi"\n');
    assert.match(server.io.stderr, /closed the connection after 1 frame \(2 bytes of payload\)\n/);
    const before = server.io.stderr;
    server.io.interrupt(); // a Ctrl-C after listen returned is none of its business
    assert.equal(server.io.stderr, before);
    await assert.rejects(
      connect({ hostname: "127.0.0.1", port: Number(server.port) }).then((c) => c.close()),
    );
  },
);

test(
  "send stops with exit 0 when the server closes before standard input ends",
  TIMEOUT,
  async () => {
    const { listen } = await adapter();
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as { port: number }).port;
    const serving = (async () => {
      for await (const conn of listener) {
        // Read the request's 8 bytes before closing (unread input would reset the connection).
        const reader = conn.readable.getReader();
        let got = 0;
        while (got < 8) {
          const { value, done } = await reader.read();
          if (done) break;
          got += value.length;
        }
        reader.releaseLock();
        const writer = conn.writable.getWriter();
        await writer.write(new Uint8Array([0, 0, 0, 2, 111, 107]));
        writer.releaseLock();
        conn.close();
        return;
      }
    })();
    const { io: client, end: endStdin } = stdinLeftOpen("ping\n");
    try {
      assert.equal(
        await settles(run(["send", `127.0.0.1:${port}`], client), "send"),
        0,
        client.stderr,
      );
      assert.equal(client.stdout, '#1  2 B  "ok"\n');
      assert.equal(client.stderr, "framewire send: the server closed the connection\n");
      await serving;
    } finally {
      endStdin();
      listener.close();
    }
  },
);

test(
  "send cuts lines at newlines however the reads fall, and copies what a runtime may reuse",
  TIMEOUT,
  async () => {
    await using server = await startListen([
      "--port",
      "0",
      "--once",
      "--json",
      "--format",
      "line",
      "--max-frame-length",
      "4",
    ]);
    function* input(): Generator<Uint8Array | string> {
      yield "abcd\r"; // a line at the limit, its "\r" before the newline's read
      yield "\n";
      for (let i = 0; i < 3; i++) {
        yield "ab"; // lines in pieces: only each line's own pieces count against the limit
        yield "c\n";
      }
      yield "x\ny"; // one byte of the next line at the end of a read
      yield "z\n";
      const reused = new Uint8Array(3);
      reused.set(te.encode("qrs"));
      yield reused;
      reused.set(te.encode("t\nu")); // the same memory, read again
      yield reused;
    }
    const client = captureIo({ stdin: input() });
    assert.equal(
      await settles(
        run(
          ["send", `127.0.0.1:${server.port}`, "--format", "line", "--max-frame-length", "4"],
          client,
        ),
        "send",
      ),
      0,
      client.stderr,
    );
    assert.equal(await server.done, 0, server.io.stderr);
    const texts = server.io.stdout.trim().split("\n").map((l) => JSON.parse(l).text);
    assert.deepEqual(texts, ["abcd", "abc", "abc", "abc", "x", "yz", "qrst", "u"]);
  },
);

/** What `framewire demo` must print for the reads it shows: each frame, where it began, what is held. */
function demoOracle(stdout: string, seed: number, maxChunk: number): void {
  const wire = [...stdout.matchAll(/^ {2}message \d+ .* -> +(\d+) B on the wire$/gm)].map((m) =>
    Number(m[1])
  );
  assert.equal(wire.length, DEMO_MESSAGES.length);
  const lines = stdout.split("\n");
  const first = lines.findIndex((l) => l.startsWith("read 1 "));
  const summary = lines.findIndex((l) => l.startsWith("Summary: "));
  const story = lines.slice(first, summary - 1).map((l) => l.replace(/^(read .*? B) .*$/, "$1"));
  const sizes = story.filter((l) => l.startsWith("read ")).map((l) => Number(l.split(/\s+/)[2]));
  const total = wire.reduce((a, b) => a + b, 0);
  assert.equal(sizes.reduce((a, b) => a + b, 0), total);
  // The proxy cuts pieces of 1 + floor(random() * maxChunk) bytes, the last one what is left.
  const random = mulberry32(seed);
  sizes.forEach((size, i) => {
    const drawn = 1 + Math.floor(random() * maxChunk);
    if (i < sizes.length - 1) assert.equal(size, drawn, `read ${i + 1}`);
    else assert.ok(size >= 1 && size <= drawn, `read ${i + 1}`);
  });

  const ends: number[] = [];
  for (const w of wire) ends.push((ends.at(-1) ?? 0) + w);
  const readEnds: number[] = [];
  for (const s of sizes) readEnds.push((readEnds.at(-1) ?? 0) + s);
  const expected: string[] = [];
  let next = 0; // the next frame
  let frameStart = 0;
  let [mid, multi, split, exact] = [0, 0, 0, 0];
  sizes.forEach((size, r) => {
    const n = r + 1;
    const readStart = readEnds[r]! - size;
    expected.push(`read ${String(n).padEnd(2)} ${String(size).padStart(3)} B`);
    let got = 0;
    const startedAt = frameStart;
    while (next < ends.length && ends[next]! <= readEnds[r]!) {
      const began = readEnds.findIndex((e) => e > frameStart) + 1;
      if (began < n) split++;
      const payload = showPayload(new TextEncoder().encode(DEMO_MESSAGES[next]!), 48);
      expected.push(
        `          -> frame ${next + 1}: ${payload}${began < n ? `, began in read ${began}` : ""}`,
      );
      frameStart = ends[next]!;
      next++;
      got++;
    }
    const held = readEnds[r]! - frameStart;
    if (got === 0) expected.push(`          -> no complete frame yet (${bytesWord(held)} held)`);
    else if (held > 0) expected.push(`             ${bytesWord(held)} held for the next frame`);
    if (held > 0) mid++;
    if (got > 1) multi++;
    if (got === 1 && held === 0 && startedAt === readStart) exact++;
  });
  assert.deepEqual(story, expected);
  const reads = sizes.length;
  const wrong = reads - exact;
  assert.deepEqual(lines.slice(summary, summary + 4), [
    `Summary: 6 messages (${total} bytes) arrived in ${reads} read${reads === 1 ? "" : "s"}.`,
    `${mid} of the reads ended in the middle of a frame, ${multi} held more than one frame, and ${split} of`,
    `the 6 frames ${
      split === 1 ? "was" : "were"
    } spread over several reads. The decoder returned all 6 messages intact;`,
    `a receiver that took each read for one message would have got ${wrong} wrong message${
      wrong === 1 ? "" : "s"
    } out of ${reads}.`,
  ]);
}

test("demo tells what the decoder made of each read, and sums it up right", TIMEOUT, async () => {
  const runs: Array<[number, number, string]> = [
    [1, 16, "u32be"],
    [3, 12, "u32be"],
    [5, 9, "u8"],
    [2, 40, "line"],
    [4, 64, "netstring"],
    [6, 2, "varint"],
    // One read holds exactly one frame, the other does not: "1 wrong message out of 2". Before
    // (mutation run of _demo.ts), that word's plural could go wrong and every test passed.
    [46, 100, "u16be"],
    // The last piece the proxy delivers is one byte (before, mutation run of _demo.ts: a proxy
    // that stopped with one byte left passed every test).
    [1, 4, "u32be"],
  ];
  for (const [seed, maxChunk, format] of runs) {
    const io = captureIo();
    const args = ["--seed", String(seed), "--max-chunk", String(maxChunk), "--format", format];
    assert.equal(await run(["demo", ...args], io), 0, io.stderr);
    demoOracle(io.stdout, seed, maxChunk);
  }
});

test(
  "demo's default seed is 1, and it names the length width of each format",
  TIMEOUT,
  async () => {
    const plain = captureIo();
    const seeded = captureIo();
    assert.equal(await run(["demo"], plain), 0, plain.stderr);
    assert.equal(await run(["demo", "--seed", "1"], seeded), 0, seeded.stderr);
    assert.match(plain.stdout, /^framewire demo: .*\(format u32be, seed 1\)\n/);
    assert.equal(plain.stdout, seeded.stdout);
    const widths: Record<string, number> = { u32le: 4, u16be: 2, u16le: 2, u8: 1, u64be: 8 };
    for (const [format, width] of Object.entries(widths)) {
      const io = captureIo();
      assert.equal(await run(["demo", "--format", format], io), 0, io.stderr);
      assert.match(io.stdout, new RegExp(`; ${format} puts a ${width}-byte length before each:\n`));
    }
  },
);

test("send shows 200 characters of a reply by default, as its help says", TIMEOUT, async () => {
  const payload = te.encode("y".repeat(201));
  const server = await replyOnce(new Uint8Array([0, 0, 0, payload.length, ...payload]));
  try {
    const client = captureIo({ stdin: ["ping\n"] });
    assert.equal(
      await settles(run(["send", `127.0.0.1:${server.port}`], client), "send"),
      0,
      client.stderr,
    );
    assert.equal(client.stdout, `#1  201 B  "${"y".repeat(200)}"…\n`);
    await server.serving;
  } finally {
    server.close();
  }
});

test(
  "send waits for room in its output after each read, not only every 1,024 replies",
  TIMEOUT,
  async () => {
    // A read of a few replies into a slow pipe must hold the server back too.
    const server = await replyOnce(new Uint8Array([0, 0, 0, 2, 111, 107]));
    try {
      const client = captureIo({ stdin: ["ping\n"] });
      const { io, waits, awaited } = watchingRoom(client);
      assert.equal(
        await settles(run(["send", `127.0.0.1:${server.port}`], io), "send"),
        0,
        client.stderr,
      );
      assert.equal(client.stdout, '#1  2 B  "ok"\n');
      assert.ok(waits.length >= 1, "send never asked whether its output had room");
      // And waited for it (before, mutation run of _send.ts, a call without await passed).
      assert.equal(awaited(), waits.length);
      await server.serving;
    } finally {
      server.close();
    }
  },
);

test("listen says on standard error that it is stopping when interrupted", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0"]);
  server.io.interrupt();
  assert.equal(await server.done, 0);
  assert.match(server.io.stderr, /\nframewire listen: stopping\n/);
});

test(
  "send exits 1 at once when a reply cannot be decoded while standard input is still open",
  TIMEOUT,
  async () => {
    // The receiving side fails first (standard input has not ended): before (mutation run), no
    // test took that way out, and its exit code could be 0 or 2 with every test passing.
    const { listen } = await adapter();
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as { port: number }).port;
    const accepted: Conn[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        accepted.push(conn);
        const writer = conn.writable.getWriter();
        await writer.write(te.encode("HTTP/1.1 400 Bad Request\r\n\r\n")); // no u32be frame
        writer.releaseLock();
        return;
      }
    })();
    const { io: client, end: endStdin } = stdinLeftOpen("ping\n");
    // send's sending side goes on after it returned: once its standard input ends, it half-closes
    // the connection it closed. The test waits for that call to settle before it ends.
    const halfClosed = Promise.withResolvers<void>();
    client.adapter = async () => {
      const real = await adapter();
      return {
        listen: real.listen,
        connect: async (options) => {
          const conn = await real.connect(options);
          return {
            readable: conn.readable,
            writable: conn.writable,
            localAddr: conn.localAddr,
            remoteAddr: conn.remoteAddr,
            closed: conn.closed,
            close: () => conn.close(),
            closeWrite: () => {
              const done = conn.closeWrite();
              done.then(halfClosed.resolve, halfClosed.resolve);
              return done;
            },
          };
        },
      };
    };
    try {
      const code = await settles(run(["send", `127.0.0.1:${port}`], client), "send");
      assert.equal(code, 1, client.stderr);
      assert.match(client.stderr, /^framewire send: error while receiving: .*\n$/);
      assert.equal(client.stdout, "");
      await settles(serving, "the server");
      endStdin();
      await settles(halfClosed.promise, "send's closeWrite()");
    } finally {
      endStdin();
      for (const conn of accepted) conn.close();
      listener.close();
    }
  },
);

test(
  'send refuses an unfinished line once it is one byte past the limit and a possible "\\r"',
  TIMEOUT,
  async () => {
    // Limit 4: "abcde" may still be "abcd\r" (5 bytes), "abcdef" cannot, and the bytes of the
    // lines before count for nothing. Before (mutation run), refusing a read early or late, or
    // counting from 1 after a newline, passed every test; so did a lone "\r" sent as a payload.
    await using server = await startListen(["--port", "0", "--once"]);
    let reads = 0;
    function* input(): Generator<string> {
      for (const chunk of ["\r\nok\nabcd", "e", "f", "gh\n"]) {
        reads++;
        yield chunk;
      }
    }
    const client = captureIo({ stdin: input() });
    const code = await settles(
      run(["send", `127.0.0.1:${server.port}`, "--max-frame-length", "4"], client),
      "send",
    );
    assert.equal(code, 1);
    assert.equal(
      client.stderr,
      "framewire send: error while sending: cannot send line 3 as u32be: it is longer than " +
        "the limit of 4 bytes (6 read so far, no end of line yet)\n",
    );
    assert.equal(reads, 3);
    assert.equal(await server.done, 0);
    assert.equal(server.io.stdout, '[1] #1  0 B  ""\n[1] #2  2 B  "ok"\n');
  },
);

test("send refuses a last line without a newline that is over the limit", TIMEOUT, async () => {
  await using server = await startListen(["--port", "0", "--once"]);
  const client = captureIo({ stdin: ["ok\n", "abcde"] });
  const code = await settles(
    run(["send", `127.0.0.1:${server.port}`, "--max-frame-length", "4"], client),
    "send",
  );
  assert.equal(code, 1);
  assert.equal(
    client.stderr,
    "framewire send: error while sending: cannot send line 2 as u32be: it is longer than " +
      "the limit of 4 bytes (5 bytes)\n",
  );
  assert.equal(await server.done, 0);
  assert.equal(server.io.stdout, '[1] #1  2 B  "ok"\n');
});

sockets.check();
