// Copyright 2026 the framewire authors. MIT license.
// Test helper: runs the framewire command as a subprocess of the current runtime.

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { binaries, root, runtime, scriptArgv } from "../_util/runtime.ts";

/** The CLI entry point (absolute path). */
export const CLI: string = `${root}/src/cli/bin.ts`;

/** How a subprocess ended. */
export interface CliResult {
  /** The exit code (`null` when killed by a signal). */
  code: number | null;
  /** Everything written to standard output. */
  stdout: string;
  /** Everything written to standard error. */
  stderr: string;
}

/** A running CLI subprocess. */
export interface CliProcess {
  /** The child process. */
  readonly child: ChildProcess;
  /** Standard error so far. */
  readonly stderr: string;
  /** Resolves with the first match of `pattern` in standard error (rejects if the process ends first). */
  waitForErr(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once the process has exited and its output is closed. */
  readonly done: Promise<CliResult>;
  /** Kills the process (SIGKILL) if it is still running; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Options for {@linkcode startCli}. */
export interface StartOptions {
  /** Bytes for standard input, which is then closed; default: closed at once. */
  stdin?: string | Uint8Array;
  /** Kill the process after this many milliseconds. */
  timeoutMs?: number;
  /** The module to run; default {@linkcode CLI}. */
  script?: string;
  /** A file descriptor for standard output (then not captured); default a pipe. */
  stdout?: number;
}

/** Starts `framewire ARGS` on the current runtime. */
export function startCli(args: string[], options: StartOptions = {}): CliProcess {
  const [command, ...argv] = scriptArgv(runtime, options.script ?? CLI, args);
  const child = spawn(command!, argv, {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["pipe", options.stdout ?? "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: {
    pattern: RegExp;
    resolve: (m: RegExpMatchArray) => void;
    reject: (e: Error) => void;
  }[] = [];
  child.stdout?.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
    for (const w of [...waiters]) {
      const m = stderr.match(w.pattern);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stdin!.on("error", () => {}); // the process may exit before reading its input
  child.stdin!.end(options.stdin ?? "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) {
        w.reject(
          new Error(
            `the process exited (code ${code}) before ${w.pattern} appeared; stderr: ${stderr}`,
          ),
        );
      }
      resolve({ code, stdout, stderr });
    });
  });
  if (options.timeoutMs !== undefined) {
    timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  }
  return {
    child,
    get stderr(): string {
      return stderr;
    },
    waitForErr(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = stderr.match(pattern);
      if (m !== null) return Promise.resolve(m);
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`the process has exited; stderr: ${stderr}`));
      }
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    done,
    async kill(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await done.catch(() => {});
    },
  };
}

/** Runs `framewire ARGS` to completion (killed after `timeoutMs`, default 20 s). */
export async function runCli(args: string[], options: StartOptions = {}): Promise<CliResult> {
  const proc = startCli(args, { timeoutMs: 20_000, ...options });
  try {
    return await proc.done;
  } finally {
    await proc.kill();
  }
}

/** `import` of a file of the repository, for a script given to `runUntilIdle`. */
export function importOf(name: string, path: string): string {
  return `import { ${name} } from ${JSON.stringify(pathToFileURL(`${root}/${path}`).href)};`;
}

/**
 * Runs a module `code` in a subprocess of the current runtime that never
 * calls exit, so it ends only once nothing (a socket, a timer) keeps it
 * alive; killed after 20 s, which the caller sees as a `null` exit code.
 */
export async function runUntilIdle(code: string, stdin = ""): Promise<CliResult> {
  const argv = runtime === "deno"
    ? [binaries.deno, "eval", code]
    : runtime === "bun"
    ? [binaries.bun, "-e", code]
    : [binaries.node, "--input-type=module", "-e", code];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.on("error", () => {});
  child.stdin.end(stdin);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status) => resolve(status));
      timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
