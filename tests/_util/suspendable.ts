// Copyright 2026 the framewire authors. MIT license.
// Test helper: a child script on any runtime that a test stops (SIGSTOP) and resumes (SIGCONT),
// as a laptop that sleeps, a paused VM or a debugger stops a peer with its sockets still open.
// The child takes commands on standard input, one a line, and answers on standard output.

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { root, type Runtime, scriptArgv } from "./runtime.ts";

/** Options of a test that stops a child: skipped where there are no POSIX signals, bounded. */
export const SUSPEND_TEST: { skip: string | false; timeout: number } = {
  skip: process.platform === "win32" && "POSIX signals (SIGSTOP, SIGCONT)",
  timeout: 60_000,
};

/** A child is killed this long after it started, whatever it is doing. */
const KILL_AFTER_MS = 60_000;

/** A running child script. */
export interface Suspendable {
  readonly process: ChildProcess;
  /** Resolves with the first match of `pattern` on standard output (rejects once it exited). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Writes a command line to standard input (read once the child runs). */
  command(line: string): void;
  /**
   * Writes a last command line and closes standard input. Closed, not left open: a Deno child
   * whose loop over `node:readline` awaits something before it breaks out stays alive while
   * its standard input is open (Deno 2.9.5).
   */
  end(line: string): void;
  stop(): void;
  resume(): void;
  /** Kills it (SIGKILL; a stopped process dies too) unless it exited; resolves once it is gone. */
  kill(): Promise<void>;
  /** Its exit code (null: killed), once its output is all in. */
  readonly exited: Promise<number | null>;
  readonly stderr: string;
}

/** Starts the TypeScript file `script` (absolute path) on `on`, with `args`. */
export function startSuspendable(on: Runtime, script: string, args: string[]): Suspendable {
  const [command, ...argv] = scriptArgv(on, script, args);
  const child = spawn(command!, argv, {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["pipe", "pipe", "pipe"],
    timeout: KILL_AFTER_MS,
    killSignal: "SIGKILL",
  });
  child.stdin!.on("error", () => {}); // it may exit before reading its input
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    for (const w of [...waiters]) {
      const m = stdout.match(w.pattern);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => stderr += s);
  const exited = new Promise<number | null>((resolve) => {
    child.once("close", (code) => {
      child.stdin!.destroy();
      resolve(code);
    });
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = stdout.match(pattern);
      if (m !== null) return Promise.resolve(m);
      return Promise.race([
        new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
        exited.then((code) => {
          throw new Error(
            `the child exited (${code}) before ${pattern} appeared; stdout: ${stdout}; stderr: ${stderr}`,
          );
        }),
      ]);
    },
    command(line: string): void {
      child.stdin!.write(`${line}\n`);
    },
    end(line: string): void {
      child.stdin!.end(`${line}\n`);
    },
    stop(): void {
      process.kill(child.pid!, "SIGSTOP");
    },
    resume(): void {
      process.kill(child.pid!, "SIGCONT");
    },
    async kill(): Promise<void> {
      if (running()) child.kill("SIGKILL");
      await exited;
    },
    exited,
    get stderr(): string {
      return stderr;
    },
  };
}
