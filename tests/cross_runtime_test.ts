// Copyright 2026 the framewire authors. MIT license.
// Every runtime talks to every other: an echo server on each runtime's own adapter
// (tests/_util/cross_server.ts), and clients on the two other runtimes (tests/_util/cross_client.ts)
// exchanging frames in every wire format. Spawns processes, so it does its work only under Node
// and skips on Deno and Bun (the suite runs on all three).

import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { binaries, isNode, root, type Runtime, scriptArgv } from "./_util/runtime.ts";
import { watchSockets } from "./_util/leaks.ts";

const sockets = watchSockets();

const RUNTIMES: Runtime[] = ["deno", "bun", "node"];
const PROCESS_TIMEOUT = 60_000;

interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function start(on: Runtime, script: string, args: string[] = []): Child {
  const [command, ...argv] = scriptArgv(on, `${root}/tests/_util/${script}`, args);
  const child = spawn(command!, argv, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeout: PROCESS_TIMEOUT,
    killSignal: "SIGKILL",
  });
  const result: Child = {
    process: child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.once("close", (code) => resolve(code))),
  };
  child.stdout!.setEncoding("utf8").on("data", (s: string) => result.stdout += s);
  child.stderr!.setEncoding("utf8").on("data", (s: string) => result.stderr += s);
  return result;
}

/** Resolves with the server's ports once it printed them, or rejects when it exits first. */
function portsOf(server: Child): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const line = /^PORTS (.*)$/m.exec(server.stdout);
      if (line !== null) {
        server.process.stdout!.off("data", check);
        resolve(line[1]!);
      }
    };
    server.process.stdout!.on("data", check);
    server.exited.then((code) =>
      reject(new Error(`server exited (${code}) before listening:\n${server.stderr}`))
    );
    check();
  });
}

for (const serverRuntime of RUNTIMES) {
  const clients = RUNTIMES.filter((r) => r !== serverRuntime);
  test(
    `cross-runtime: ${
      clients.join(" and ")
    } clients exchange every format with a ${serverRuntime} server`,
    {
      skip: !isNode && "runs under Node only (it spawns all three runtimes)",
      timeout: 2 * PROCESS_TIMEOUT,
    },
    async () => {
      for (const r of RUNTIMES) assert.ok(binaries[r].startsWith(root), `pinned ${r} binary`);
      const children: Child[] = [];
      try {
        const server = start(serverRuntime, "cross_server.ts");
        children.push(server);
        const ports = await portsOf(server);
        const runs = clients.map((r) => start(r, "cross_client.ts", [ports]));
        children.push(...runs);
        const codes = await Promise.all(runs.map((c) => c.exited));
        // Every client that failed, and what the server saw meanwhile (it names each connection
        // by the client's port): which side lost bytes, or whether the server died (exit, signal).
        const failed = runs.flatMap((run, i) =>
          codes[i] === 0 && /^OK 1800$/m.test(run.stdout) ? [] : [
            `${clients[i]} client (exit ${
              codes[i]
            }, signal ${run.process.signalCode}):\n${run.stderr}`,
          ]
        );
        if (failed.length > 0) {
          assert.fail(
            `against a ${serverRuntime} server (exit ${server.process.exitCode}, signal ${server.process.signalCode}):\n${
              failed.join("\n")
            }\n${serverRuntime} server:\n${server.stderr}`,
          );
        }
        assert.equal(server.stderr, "", "server reported no errors");
      } finally {
        for (const child of children) {
          if (child.process.exitCode === null && child.process.signalCode === null) {
            child.process.kill("SIGKILL");
          }
        }
        await Promise.all(children.map((c) => c.exited));
      }
    },
  );
}

sockets.check();
