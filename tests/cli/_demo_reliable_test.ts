// Copyright 2026 the framewire authors. MIT license.
// `framewire demo --reliable`: in-process over loopback, and as a subprocess of
// the current runtime (exit code, summary, and a process that ends by itself).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run } from "../../src/cli/_run.ts";
import type { Adapter } from "../../src/cli/_io.ts";
import type { Conn, Listener } from "../../src/connection/types.ts";
import { lengthPrefixed } from "../../src/framing/length_prefixed.ts";
import { DATA, DATA_HEADER, readU64 } from "../../src/reliable/_protocol.ts";
import { adapter, root } from "../_util/runtime.ts";
import { acceptingThrough, captureIo, readingThrough } from "./_capture_io.ts";
import { importOf, runCli, runUntilIdle } from "./_spawn_cli.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const TIMEOUT = { timeout: 60_000 };

const SUMMARY =
  /^Summary: sent (\d+), received (\d+), lost (\d+), duplicated (\d+), order (\w+), resent (\d+), reconnects (\d+)\.$/m;

async function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo();
  const code = await run(["demo", "--reliable", ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

test("demo --reliable tells a 20-40 line story that ends in lost 0", TIMEOUT, async () => {
  const { code, stdout, stderr } = await demo([]);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const lines = stdout.trimEnd().split("\n");
  assert.ok(lines.length >= 20 && lines.length <= 40, `${lines.length} lines:\n${stdout}`);
  const m = stdout.match(SUMMARY);
  assert.ok(m !== null, stdout);
  const [, sent, received, lost, duplicated, order] = m;
  assert.deepEqual([sent, received, lost, duplicated, order], ["200", "200", "0", "0", "kept"]);
});

test("demo --reliable prints the default run docs/cli.md shows", TIMEOUT, async () => {
  // The story is the same on every run and runtime (docs/cli.md says so). Before (mutation run of
  // _demo_reliable.ts), the wording and numbers of its lines could change and every test passed.
  const doc = readFileSync(join(root, "docs/cli.md"), "utf8");
  const start = doc.indexOf("framewire demo --reliable: a link killed mid-stream");
  assert.notEqual(start, -1);
  const { code, stdout, stderr } = await demo([]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, doc.slice(start, doc.indexOf("```", start)));
});

test(
  "demo --reliable: every kill is followed by a reconnect and a resume that adds up",
  TIMEOUT,
  async () => {
    const directions = new Set<string>();
    for (const seed of ["1", "2", "3", "4", "5"]) {
      const { code, stdout, stderr } = await demo(["--seed", seed, "--messages", "120"]);
      assert.equal(code, 0, stderr);
      const kills = [...stdout.matchAll(/^link (\d+) {2}killed (client→server|server→client)/gm)];
      const reconnecting = stdout.match(/"reconnecting" event/g) ?? [];
      const resumed = [
        ...stdout.matchAll(/^link (\d+) {2}"resumed" \(replayed (\d+)\): .* has 1(?:–(\d+))?,$/gm),
      ];
      const [, , received, lost, , , resent, reconnects] = stdout.match(SUMMARY)!;
      assert.ok(kills.length >= 1, stdout);
      assert.equal(reconnecting.length, kills.length, stdout);
      assert.equal(resumed.length, kills.length, stdout);
      assert.equal(Number(reconnects), kills.length);
      assert.equal(received, "120");
      assert.equal(lost, "0");
      // The resumes replay exactly what the server's WELCOME says it lacks, and add up to "resent".
      let total = 0;
      for (const [, link, replayed, has] of resumed) {
        assert.equal(Number(replayed), 120 - Number(has ?? 1), `link ${link}`);
        total += Number(replayed);
      }
      assert.equal(total, Number(resent));
      for (const kill of kills) directions.add(kill[2]!);
    }
    assert.deepEqual([...directions].sort(), ["client→server", "server→client"]);
  },
);

test(
  "demo --reliable with the most messages allowed ends in lost 0 (a cut link loses nothing the server has not read)",
  TIMEOUT,
  async () => {
    for (const seed of ["1", "99"]) {
      const { code, stdout, stderr } = await demo(["--seed", seed, "--messages", "10000"]);
      assert.equal(code, 0, `seed ${seed}: ${stderr}`);
      const [, sent, received, lost] = stdout.match(SUMMARY)!;
      assert.deepEqual([sent, received, lost], ["10000", "10000", "0"]);
    }
  },
);

test('demo --reliable says "it" of an ACK that confirms one message', TIMEOUT, async () => {
  // Seed 5 with two messages drops the server's ACK after one message (the story is the same on
  // every runtime). Before: "its ACK confirming them up to 1".
  const { code, stdout, stderr } = await demo(["--messages", "2", "--seed", "5"]);
  assert.equal(code, 0, stderr);
  // Two messages make one kill, in the singular (before, mutation run: "1 times", "1 links were"
  // passed every test).
  assert.match(stdout, /kills the TCP connection once, at a seeded point\.\n/);
  assert.match(stdout, /although a link was killed mid-stream\.\n/);
  assert.match(
    stdout,
    /the server got 1,\n\s+but its ACK confirming it is dropped with the link\n/,
  );
});

test('demo --reliable says "1 byte" of a cut one byte into a frame', TIMEOUT, async () => {
  // Seed 20 with twelve messages cuts link 3 one byte into message 8 (the same on every runtime).
  // Before: "1 bytes into message 8".
  const { code, stdout, stderr } = await demo(["--messages", "12", "--seed", "20"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /killed client→server after \d+ bytes, 1 byte into message 8 \(a /);
});

test("demo --reliable prints the same story for the same seed", TIMEOUT, async () => {
  const a = await demo(["--seed", "7", "--messages", "50"]);
  const b = await demo(["--seed", "7", "--messages", "50"]);
  const c = await demo(["--seed", "8", "--messages", "50"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
});

test("two demo --reliable run at once: each listens on ports of its own", TIMEOUT, async () => {
  // Before (mutation run of _demo_reliable.ts), with the server or the proxy on a fixed port
  // instead of an ephemeral one, every test passed (as root, which may bind port 1).
  const runs = await Promise.all([demo(["--messages", "20"]), demo(["--messages", "20"])]);
  assert.deepEqual(runs.map((r) => r.code), [0, 0], runs.map((r) => r.stderr).join(""));
});

/** `conn`, whose DATA frames from the peer arrive as `edit` makes them: one frame for each text it returns, with the frame's header. */
function editingData(conn: Conn, edit: (seq: number, text: string) => string[]): Conn {
  const framing = lengthPrefixed();
  const decoder = framing.decoder();
  const encoder = new TextEncoder();
  const textDecoder = new TextDecoder();
  return readingThrough(
    conn,
    new TransformStream({
      transform(chunk, controller): void {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (frame[0] !== DATA) {
            controller.enqueue(framing.encode(frame));
            continue;
          }
          const header = frame.subarray(0, DATA_HEADER);
          const text = textDecoder.decode(frame.subarray(DATA_HEADER));
          for (const edited of edit(readU64(frame, 1), text)) {
            const payload = encoder.encode(edited);
            const out = new Uint8Array(DATA_HEADER + payload.length);
            out.set(header);
            out.set(payload, DATA_HEADER);
            controller.enqueue(framing.encode(out));
          }
        }
      },
    }),
  );
}

/** `conn`, whose DATA frames from the peer arrive with their text in upper case. */
function shoutingData(conn: Conn): Conn {
  return editingData(conn, (_, text) => [text.toUpperCase()]);
}

/** The runtime's adapter, with the connections the first listener (the demo's server) accepts passed through `wrap`. */
async function serverThrough(wrap: (conn: Conn) => Conn): Promise<Adapter> {
  const real = await adapter();
  let first = true;
  return {
    connect: real.connect,
    async listen(options): Promise<Listener> {
      if (!first) return real.listen(options);
      first = false;
      return (await acceptingThrough(wrap)).listen(options);
    },
  };
}

test(
  "demo --reliable judges what the server application received: order, duplicates, losses",
  TIMEOUT,
  async () => {
    // A network between the proxy and the server that edits DATA frames (sessions carry no
    // checksum). Before (mutation run of _demo_reliable.ts), a verdict that never counted a
    // duplicate, stopped at the first one, or never saw the order broken passed every test, as
    // did a story without the line about duplicate frames the server dropped.
    const args = ["--messages", "5", "--seed", "3"];
    const plain = await demo(args);
    assert.equal(plain.code, 0, plain.stderr);
    const texts = [...plain.stdout.matchAll(/^ {2}\d {2}"(.*)"$/gm)].map((m) => m[1]!);
    assert.equal(texts.length, 5, plain.stdout);
    const cases: Array<[string, (seq: number, text: string) => string[], number, string]> = [
      // Messages 1 and 2 swapped.
      [
        "swapped",
        (seq, text) => [seq <= 2 ? texts[2 - seq]! : text],
        1,
        "lost 0, duplicated 0, order BROKEN",
      ],
      // Message 2 with the text of 1.
      [
        "copied",
        (seq, text) => [seq === 2 ? texts[0]! : text],
        1,
        "lost 1, duplicated 1, order kept",
      ],
      // Message 3 sent twice under its seq: the session drops the second.
      [
        "repeated",
        (seq, text) => seq === 3 ? [text, text] : [text],
        0,
        "lost 0, duplicated 0, order kept",
      ],
    ];
    for (const [name, edit, exit, verdict] of cases) {
      const io = captureIo();
      io.adapter = () => serverThrough((conn) => editingData(conn, edit));
      assert.equal(await run(["demo", "--reliable", ...args], io), exit, `${name}: ${io.stderr}`);
      assert.equal(io.stderr, "");
      assert.match(io.stdout, new RegExp(`^Summary: sent 5, received 5, ${verdict}, `, "m"), name);
      const dropped = /^\(The server dropped (\d+) duplicate frames?; timing-dependent\.\)$/m;
      assert.equal(io.stdout.match(dropped)?.[1], name === "repeated" ? "1" : undefined, name);
    }
  },
);

test(
  "demo --reliable tells the same story when the server gets a link's bytes late",
  TIMEOUT,
  async () => {
    // The proxy connects a new link only once the server holds what the previous one carried, so
    // that its WELCOME says so exactly, however late those bytes reach it (here every read of a
    // link but its first comes 30 ms late, so a new link's HELLO could overtake them). Before
    // (mutation run of _demo_reliable.ts), a proxy that did not wait (the await deleted, or the
    // kills not telling it how much the server has) passed every test on loopback.
    const args = ["--messages", "12", "--seed", "6"];
    const plain = await demo(args);
    assert.equal(plain.code, 0, plain.stderr);
    const io = captureIo();
    io.adapter = () =>
      serverThrough((conn) => {
        let reads = 0;
        return readingThrough(
          conn,
          new TransformStream({
            async transform(chunk, controller): Promise<void> {
              if (reads++ > 0) await new Promise((resolve) => setTimeout(resolve, 30));
              controller.enqueue(chunk);
            },
          }),
        );
      });
    assert.equal(await run(["demo", "--reliable", ...args], io), 0, io.stderr);
    assert.equal(io.stdout, plain.stdout);
  },
);

test(
  "demo --reliable says SOMETHING WENT WRONG and exits 1 when the server gets messages that were not sent",
  TIMEOUT,
  async () => {
    // A network that changes the text of every message (sessions carry no checksum): the server
    // application receives 20 messages, none of them one the client sent. Before (mutation run of
    // _demo_reliable.ts), a verdict that ignored what was lost or unknown passed every test.
    const io = captureIo();
    io.adapter = () => acceptingThrough(shoutingData);
    assert.equal(await run(["demo", "--reliable", "--messages", "20"], io), 1, io.stderr);
    assert.equal(io.stderr, "");
    assert.match(
      io.stdout,
      /\nSummary: sent 20, received 20, lost 20, duplicated 0, order kept, resent \d+, reconnects \d+, 20 unknown messages\.\nSOMETHING WENT WRONG: the session did not deliver every message exactly once, in order\.\n/,
    );
  },
);

/** `conn`, whose written bytes are added to `counts[index]` as they are written. */
function countingWrites(conn: Conn, counts: number[], index: number): Conn {
  const inner = conn.writable.getWriter();
  counts[index] = 0;
  return {
    readable: conn.readable,
    writable: new WritableStream({
      write(chunk): Promise<void> {
        counts[index]! += chunk.length;
        return inner.write(chunk);
      },
      close: () => inner.close(),
      abort: (reason) => inner.abort(reason),
    }),
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
    closeWrite(): Promise<void> {
      inner.releaseLock();
      return conn.closeWrite();
    },
    close: () => conn.close(),
    closed: conn.closed,
  };
}

test(
  "demo --reliable's byte counts are what the proxy wrote to the server on each killed link",
  TIMEOUT,
  async () => {
    // Before (mutation run of _demo_reliable.ts), a proxy that wrote other bytes of the cut frame
    // than the story says (bytes.subarray(1, cut.partial), or none of them) passed every test.
    const io = captureIo();
    const counts: number[] = [];
    io.adapter = async () => {
      const real = await adapter();
      let serverPort: number | undefined;
      return {
        async listen(options) {
          const listener = await real.listen(options);
          serverPort ??= (listener.addr as { port: number }).port; // the server listens first
          return listener;
        },
        async connect(options) {
          const conn = await real.connect(options);
          const toServer = "port" in options && options.port === serverPort;
          return toServer ? countingWrites(conn, counts, counts.length) : conn;
        },
      };
    };
    assert.equal(
      await run(["demo", "--reliable", "--messages", "30", "--seed", "4"], io),
      0,
      io.stderr,
    );
    const kills = [
      ...io.stdout.matchAll(/^link (\d+) {2}killed \S+ after (?:the client's )?(\d+) bytes/gm),
    ];
    assert.ok(kills.some((k) => /client→server/.test(k[0])), io.stdout);
    for (const [line, link, bytes] of kills) {
      assert.equal(counts[Number(link) - 1], Number(bytes), line);
    }
  },
);

test("demo --reliable that cannot listen says why in one line and exits 1", TIMEOUT, async () => {
  // Before (mutation run of _demo_reliable.ts), its own exit code 1, and a cleanup that touched
  // parts it had not opened yet (parts.client.close() instead of parts.client?.close()), passed
  // every test: no test had the demo fail after it began.
  const io = captureIo();
  io.adapter = () =>
    Promise.resolve({
      connect: () => Promise.reject(new Error("not used")),
      listen: () => Promise.reject(new Error("no listeners in this test")),
    });
  assert.equal(await run(["demo", "--reliable", "--messages", "5"], io), 1);
  assert.equal(io.stderr, "framewire demo: no listeners in this test\n");
  assert.match(io.stdout, /^framewire demo --reliable: a link killed mid-stream/);
});

test("demo --reliable usage errors", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--reliable", "--format", "line"], /--format does not apply to --reliable/],
    [["--reliable", "--max-chunk", "4"], /--max-chunk does not apply to --reliable/],
    [
      ["--reliable", "--messages", "1"],
      /invalid --messages "1": expected an integer from 2 to 10000/,
    ],
    [["--reliable", "--messages", "10001"], /invalid --messages "10001"/],
    [["--messages", "5"], /--messages applies only to --reliable/],
  ];
  for (const [args, message] of cases) {
    const io = captureIo();
    assert.equal(await run(["demo", ...args], io), 2, args.join(" "));
    assert.match(io.stderr, message);
  }
});

test("framewire demo --reliable as a subprocess exits 0 with lost 0", TIMEOUT, async () => {
  const result = await runCli(["demo", "--reliable"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.match(result.stdout, /lost 0, duplicated 0, order kept/);
});

test(
  "demo --reliable leaves nothing behind: a process that does not call exit ends by itself",
  TIMEOUT,
  async () => {
    // No exitProcess() here, unlike main.ts: an open socket or timer would keep it alive. Also when
    // the story fails once every part is open (its output throws at "stays up"): before (mutation
    // run of _demo_reliable.ts), a cleanup that left the server open then (parts.server never set,
    // or its close() deleted: the process stayed alive, likely on its session's resume timer) passed
    // every test.
    const failing = `
      const out = io.out;
      io.out = (text) => {
        if (text.includes("stays up")) throw new Error("no more output");
        out(text);
      };`;
    for (const [patch, exit] of [["", 0], [failing, 1]] as const) {
      const result = await runUntilIdle(`
        ${importOf("run", "src/cli/_run.ts")}
        ${importOf("runtimeIo", "src/cli/_io.ts")}
        const io = await runtimeIo();
        ${patch}
        const code = await run(["demo", "--reliable", "--messages", "40"], io);
        io.err("exit " + code + "\\n");
        await io.flush();
      `);
      const { code, stdout, stderr } = result;
      assert.equal(code, 0, `the process did not end by itself (exit ${code}); stderr: ${stderr}`);
      assert.match(stderr, new RegExp(`^exit ${exit}$`, "m"));
      if (exit === 0) assert.match(stdout, /lost 0, duplicated 0, order kept/);
      else assert.equal(stderr, "framewire demo: no more output\nexit 1\n");
    }
  },
);

test(
  "demo --reliable that does not finish in time says so in one line, exits 1 and leaves nothing behind",
  TIMEOUT,
  async () => {
    // A network that delivers no byte to the proxy or the server: the client waits for a WELCOME
    // until the watchdog gives up (its 15 s made 100 ms here: setTimeout is wrapped). Before
    // (mutation run of _demo_reliable.ts), the watchdog's words ("the demo" as ""), and a cleanup
    // that left the client open (parts.client never set, or its close() deleted: it dials again
    // for ever), passed every test.
    const result = await runUntilIdle(`
      ${importOf("run", "src/cli/_run.ts")}
      ${importOf("runtimeIo", "src/cli/_io.ts")}
      ${importOf("acceptingThrough", "tests/cli/_capture_io.ts")}
      ${importOf("readingThrough", "tests/cli/_capture_io.ts")}
      const realSetTimeout = globalThis.setTimeout;
      globalThis.setTimeout = (f, ms, ...rest) => realSetTimeout(f, ms === 15000 ? 100 : ms, ...rest);
      const io = await runtimeIo();
      io.adapter = () =>
        acceptingThrough((conn) => readingThrough(conn, new TransformStream({ transform() {} })));
      const code = await run(["demo", "--reliable", "--messages", "5"], io);
      io.err("exit " + code + "\\n");
      await io.flush();
    `);
    const { code, stderr } = result;
    assert.equal(code, 0, `the process did not end by itself (exit ${code}); stderr: ${stderr}`);
    assert.equal(stderr, "framewire demo: the demo did not finish within 15000 ms\nexit 1\n");
  },
);

test(
  "demo --reliable with two kills kills one link each way, and names the ACK a WELCOME stands in for",
  TIMEOUT,
  async () => {
    // With three messages there are two kills; seeds 2 and 7 first drew the same direction twice.
    for (const seed of ["2", "7"]) {
      const { code, stdout, stderr } = await demo(["--messages", "3", "--seed", seed]);
      assert.equal(code, 0, stderr);
      const kills = [...stdout.matchAll(/^link (\d+) {2}killed (client→server|server→client)/gm)];
      assert.deepEqual(kills.map((k) => k[2]).sort(), ["client→server", "server→client"], stdout);
      // The link after a dropped ACK resumes from a WELCOME that confirms what the ACK would have.
      const dropped = [
        ...stdout.matchAll(/^link (\d+) {2}killed server→client .*the server got ([\d–]+),$/gm),
      ];
      assert.equal(dropped.length, 1, stdout);
      const [, link, got] = dropped[0]!;
      assert.match(
        stdout,
        new RegExp(
          `\\nlink ${Number(link) + 1} {2}"resumed" .*\\n {8}so the client resends .* ` +
            `\\(the WELCOME stands in for the lost ACK of ${got}\\)\\n`,
        ),
      );
      assert.equal(stdout.match(/stands in for the lost ACK/g)?.length, 1, stdout);
    }
  },
);

test(
  "demo --reliable lists up to five messages whole, and elides the middle of more",
  TIMEOUT,
  async () => {
    const five = await demo(["--messages", "5"]);
    assert.equal(five.code, 0, five.stderr);
    assert.deepEqual(
      [...five.stdout.matchAll(/^ {2}(\d) {2}"#\d /gm)].map((m) => m[1]),
      ["1", "2", "3", "4", "5"],
    );
    assert.doesNotMatch(five.stdout, /^ {2}…$/m);
    const six = await demo(["--messages", "6"]);
    assert.equal(six.code, 0, six.stderr);
    assert.deepEqual(
      [...six.stdout.matchAll(/^ {2}(\d) {2}"#\d /gm)].map((m) => m[1]),
      ["1", "2", "3", "6"],
    );
    assert.match(six.stdout, /^ {2}3 {2}.*\n {2}…\n {2}6 {2}/m);
  },
);

test(
  "demo --reliable kills the link three or four times, as docs/cli.md says",
  TIMEOUT,
  async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const { code, stdout, stderr } = await demo(["--seed", String(seed)]);
      assert.equal(code, 0, stderr);
      const kills = stdout.match(/^link \d+ {2}killed /gm) ?? [];
      assert.ok(kills.length === 3 || kills.length === 4, `seed ${seed}: ${kills.length} kills`);
      assert.match(stdout, new RegExp(`kills the TCP connection ${kills.length} times`));
    }
  },
);

sockets.check();
