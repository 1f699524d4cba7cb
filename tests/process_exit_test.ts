// Copyright 2026 the framewire authors. MIT license.
// A process that closed everything it opened with framewire exits by itself, with code 0, and one
// that still waits on framewire stays alive. Each case runs tests/_process_exit_child.ts in a
// child process of the runtime running the tests (once per adapter that runs there: its own, and
// the Node adapter on Deno and Bun); the child never calls exit: it prints "done" as its last
// statement and falls off its end. A timer, a ref'd socket or a pending operation that framewire
// left behind keeps it alive until the parent kills it, which fails the case; how long the exit
// took after "done" is reported as a diagnostic, not asserted (it depends on the machine).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { Conn, Listener } from "../src/connection/types.ts";
import { reliableServer } from "../src/reliable/reliable_server.ts";
import { watchSockets } from "./_util/leaks.ts";
import { adapter, portOf, root, type Runtime, runtime, scriptArgv } from "./_util/runtime.ts";

const sockets = watchSockets();

const CHILD = fileURLToPath(new URL("./_process_exit_child.ts", import.meta.url));
/** A child still running this long after it printed "done" is killed (the case fails). */
const EXIT_WITHIN_MS = 10_000;
/** A child is killed this long after it started, "done" or not (a case takes < 2 s). */
const KILL_AFTER_MS = 10_000;
const TIMEOUT = { timeout: 60_000 };
const tls = new URL("./fixtures/tls/", import.meta.url);
const cert = readFileSync(new URL("localhost.crt", tls), "utf8");
const key = readFileSync(new URL("localhost.key", tls), "utf8");

/** How a child ended. */
interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Ms from "done" on its standard output to its exit (undefined: no "done"). */
  afterDone: number | undefined;
}

/** A running child of this runtime. */
interface Child {
  /** Resolves with the first match of `pattern` on standard output (rejects at exit). */
  waitForOut(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Writes `text` to its standard input and closes it. */
  end(text: string): void;
  readonly exited: Promise<Exit>;
}

function start(args: string[], stdin: string | undefined): Child {
  const [command, ...argv] = scriptArgv(runtime, CHILD, args);
  const child = spawn(command!, argv, {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.on("error", () => {}); // it may exit before reading its input
  if (stdin !== undefined) child.stdin.end(stdin);
  let stdout = "";
  let stderr = "";
  let doneAt: number | undefined;
  let killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    if (doneAt === undefined && /^done$/m.test(stdout)) {
      doneAt = performance.now();
      clearTimeout(killer);
      killer = setTimeout(() => child.kill("SIGKILL"), EXIT_WITHIN_MS);
    }
    for (const w of [...waiters]) {
      const m = stdout.match(w.pattern);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  let exitedAt = 0;
  child.on("exit", () => exitedAt = performance.now());
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on("error", reject);
    // Once its output is all in ("close"); the exit itself ("exit") is what is timed.
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      child.stdin.destroy();
      resolve({
        code,
        signal,
        stdout,
        stderr,
        // "done" read after the exit was on its way before: as good as 0.
        afterDone: doneAt === undefined ? undefined : Math.max(0, exitedAt - doneAt),
      });
    });
  });
  return {
    waitForOut(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = stdout.match(pattern);
      if (m !== null) return Promise.resolve(m);
      return Promise.race([
        new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
        exited.then((exit) => {
          throw new Error(
            `the child exited (code ${exit.code}) before ${pattern} appeared; stderr: ${exit.stderr}`,
          );
        }),
      ]);
    },
    end(text: string): void {
      // Closed too: a read of it in progress would keep Deno's process alive.
      child.stdin.end(text);
    },
    exited,
  };
}

/** Waits for the child's exit (it is killed after KILL_AFTER_MS) and checks how it ended. */
async function assertExits(t: TestContext, child: Child): Promise<void> {
  const { code, signal, stdout, stderr, afterDone } = await child.exited;
  assert.equal(
    signal,
    null,
    `the child did not exit by itself (${
      afterDone === undefined
        ? `it never got to its end in ${KILL_AFTER_MS} ms`
        : `killed ${EXIT_WITHIN_MS} ms after it printed done`
    }); stdout: ${JSON.stringify(stdout)}; stderr: ${stderr}`,
  );
  assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
  // The last line: a child that exits while still waiting (nothing kept it alive) never prints it.
  assert.match(stdout, /(?:^|\n)done\n$/, `the child ended early; stderr: ${stderr}`);
  assert.equal(stderr, "");
  (t as { diagnostic?: (message: string) => void }).diagnostic?.(
    `exited ${afterDone!.toFixed(0)} ms after done`,
  );
}

/** Cases with nothing but the child itself (the argument after the adapter: none). */
const ALONE = [
  "baseline",
  "tcp",
  "unix",
  "tls",
  "blocked-write",
  "half-close",
  "closewrite-close",
  "abort-connect",
  "refused",
  "framed-close",
  "framed-close-timeout",
  "framed-closewrite",
  "framed-error",
  "reliable-close",
  "reliable-close-timeout",
  "reliable-server-close",
  "reliable-server-gone",
  "reliable-server-listener-end",
  "reliable-first-dial",
];

/** The CLI's commands, called from code: the CLI uses the runtime's own adapter only. */
const CLI = ["cli-send", "cli-listen", "cli-demo"];

const adapters: Runtime[] = runtime === "node" ? ["node"] : [runtime, "node"];

/** A listener of this process that takes connections and leaves them alone until `close()`. */
async function silentPeer(
  listening: Promise<Listener>,
): Promise<{ port: number; close(): Promise<void> }> {
  const listener = await listening;
  const conns: Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  return {
    port: portOf(listener),
    async close(): Promise<void> {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
      await Promise.all(conns.map((conn) => conn.closed));
    },
  };
}

for (const on of adapters) {
  for (const name of on === runtime ? [...ALONE, ...CLI] : ALONE) {
    test(`process exit: ${name} (${on} adapter), everything closed`, TIMEOUT, async (t) => {
      await assertExits(t, start([name, on], "hello\n"));
    });
  }

  test(
    `process exit: a write blocked on a peer of another process, then close() (${on} adapter)`,
    TIMEOUT,
    async (t) => {
      const { listen } = await adapter();
      const peer = await silentPeer(listen({ hostname: "127.0.0.1", port: 0 }));
      try {
        await assertExits(t, start(["ext-blocked-write", on, String(peer.port)], ""));
      } finally {
        await peer.close();
      }
    },
  );

  test(
    `process exit: TLS closed during a write blocked on a peer of another process (${on} adapter)`,
    TIMEOUT,
    async (t) => {
      const { listenTls } = await adapter();
      const peer = await silentPeer(listenTls({ hostname: "127.0.0.1", port: 0, cert, key }));
      try {
        await assertExits(t, start(["ext-tls-blocked-write", on, String(peer.port)], ""));
      } finally {
        await peer.close();
      }
    },
  );

  test(
    `process exit: TLS closed while the peer of another process never closes (${on} adapter)`,
    TIMEOUT,
    async (t) => {
      // The adapter waits for the peer's end for at most a second (tlsClose.limit) after
      // close_notify: `closed` resolves then, and the process exits.
      const { listenTls } = await adapter();
      const peer = await silentPeer(listenTls({ hostname: "127.0.0.1", port: 0, cert, key }));
      try {
        await assertExits(t, start(["ext-tls-close", on, String(peer.port)], ""));
      } finally {
        await peer.close();
      }
    },
  );

  test(
    `process exit: a TLS server shut down while a client has not begun its handshake (${on} adapter)`,
    TIMEOUT,
    async (t) => {
      const { connect } = await adapter();
      const child = start(["ext-tls-handshaking", on], undefined);
      let conn: Conn | undefined;
      try {
        const [, port] = await child.waitForOut(/^port (\d+)$/m);
        conn = await connect({ hostname: "127.0.0.1", port: Number(port) }); // sends nothing
        child.end("go\n");
        await assertExits(t, child);
      } finally {
        child.end("go\n");
        conn?.close();
        await child.exited;
      }
    },
  );

  test(
    `process exit: a reliable client waiting in back-off for its server stays alive for its send (${on} adapter)`,
    TIMEOUT,
    async (t) => {
      // Nothing at the client's address until it says it is reconnecting. A Unix socket in a
      // directory of the test's own: no other process can take that address meanwhile (a TCP port
      // closed and listened on again later could be).
      const { listen } = await adapter();
      const dir = mkdtempSync(join(tmpdir(), "framewire-exit-"));
      const path = join(dir, "s.sock");
      const child = start(["ext-reliable-later", on, path], "");
      let listener: Listener | undefined;
      let server: ReturnType<typeof reliableServer> | undefined;
      try {
        await child.waitForOut(/^reconnecting$/m);
        listener = await listen({ path });
        server = reliableServer(listener);
        await assertExits(t, child);
      } finally {
        await child.exited;
        await server?.close();
        listener?.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

sockets.check();
