// Copyright 2026 the framewire authors. MIT license.
// Test helper: a CliIo that records output and feeds given stdin and files (no process I/O).

import type { Adapter, CliIo, Input } from "../../src/cli/_io.ts";
import type { Conn, Listener } from "../../src/connection/types.ts";
import { adapter, runtime } from "../_util/runtime.ts";

/** A {@linkcode CliIo} whose output is kept in strings. */
export interface CaptureIo extends CliIo {
  /** Everything written to standard output. */
  readonly stdout: string;
  /** Everything written to standard error. */
  readonly stderr: string;
  /**
   * Resolves with the first match of `pattern` in standard error (now or later);
   * rejects, quoting the output so far, if none comes within `deadlineMs` (a bound
   * for a wrong output, which would otherwise leave the test waiting forever).
   */
  waitForErr(pattern: RegExp, deadlineMs?: number): Promise<RegExpMatchArray>;
  /** As `waitForErr`, for standard output. */
  waitForOut(pattern: RegExp, deadlineMs?: number): Promise<RegExpMatchArray>;
  /**
   * Ends every wait still under way (its promise rejects, its deadline timer
   * stops): for a caller that got its answer another way, such as the command
   * exiting first, so that no timer keeps the test file's process alive.
   */
  stopWaiting(): void;
  /** Calls the handlers registered with `onInterrupt` (as a Ctrl-C would). */
  interrupt(): void;
  /**
   * Gives the output no room: `outputRoom()` waits until the returned
   * function is called (as a pipe whose reader has stopped, until it reads).
   */
  holdOutput(): () => void;
}

/** Options for {@linkcode captureIo}. */
export interface CaptureIoOptions {
  /** Standard input, as chunks (an endless generator too). */
  stdin?: Iterable<Uint8Array | string>;
  /**
   * Files `readInput` can read, by path: their bytes (in one chunk), their
   * chunks, or an {@linkcode Input} of the test's own (a size, and chunks that
   * come as the test decides).
   */
  files?: Record<string, Uint8Array | Uint8Array[] | Input>;
  /** What `stdinIsTerminal()` says (default false). */
  terminal?: boolean;
}

/** How long `waitForErr` and `waitForOut` wait by default: output comes in milliseconds (a margin for a loaded machine). */
export const WAIT_DEADLINE_MS = 10_000;

/** Returns a new {@linkcode CaptureIo}. */
export function captureIo(options: CaptureIoOptions = {}): CaptureIo {
  let stdout = "";
  let stderr = "";
  const waiters: {
    pattern: RegExp;
    err: boolean;
    resolve: (m: RegExpMatchArray) => void;
    stop: () => void;
  }[] = [];
  const handlers = new Set<() => void>();
  let room: Promise<void> | undefined;
  function wait(pattern: RegExp, err: boolean, deadlineMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `${pattern} did not appear in standard ${err ? "error" : "output"} within ` +
              `${deadlineMs} ms; it was:\n${err ? stderr : stdout}`,
          ),
        );
      }, deadlineMs);
      const waiter = {
        pattern,
        err,
        resolve: (m: RegExpMatchArray) => {
          clearTimeout(timer);
          resolve(m);
        },
        stop: () => {
          clearTimeout(timer);
          reject(
            new Error(`stopped waiting for ${pattern} in standard ${err ? "error" : "output"}`),
          );
        },
      };
      waiters.push(waiter);
      check();
    });
  }
  function check(): void {
    for (const w of [...waiters]) {
      const m = (w.err ? stderr : stdout).match(w.pattern);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }
  return {
    runtime,
    get stdout(): string {
      return stdout;
    },
    get stderr(): string {
      return stderr;
    },
    out(text: string): void {
      stdout += text;
      check();
    },
    err(text: string): void {
      stderr += text;
      check();
    },
    flush(): Promise<void> {
      return Promise.resolve();
    },
    async *stdin(): AsyncIterable<Uint8Array> {
      for (const chunk of options.stdin ?? []) {
        yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      }
    },
    stdinIsTerminal(): boolean {
      return options.terminal ?? false;
    },
    readInput(path: string | undefined): Promise<Input> {
      if (path === undefined) return Promise.resolve({ size: undefined, chunks: this.stdin() });
      const file = options.files?.[path];
      if (file === undefined) {
        return Promise.reject(Object.assign(new Error(`no file ${path}`), { code: "ENOENT" }));
      }
      if ("chunks" in file) return Promise.resolve(file);
      const parts = file instanceof Uint8Array ? [file] : file;
      return Promise.resolve({
        size: parts.reduce((n, part) => n + part.length, 0),
        chunks: (async function* (): AsyncGenerator<Uint8Array> {
          yield* parts;
        })(),
      });
    },
    adapter: () => adapter(),
    onInterrupt(handler: () => void): () => void {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    waitForErr(pattern: RegExp, deadlineMs = WAIT_DEADLINE_MS): Promise<RegExpMatchArray> {
      return wait(pattern, true, deadlineMs);
    },
    waitForOut(pattern: RegExp, deadlineMs = WAIT_DEADLINE_MS): Promise<RegExpMatchArray> {
      return wait(pattern, false, deadlineMs);
    },
    outputRoom(): Promise<void> {
      return room ?? Promise.resolve();
    },
    holdOutput(): () => void {
      let release!: () => void;
      room = new Promise((resolve) => release = resolve);
      return () => {
        room = undefined;
        release();
      };
    },
    interrupt(): void {
      for (const h of [...handlers]) h();
    },
    stopWaiting(): void {
      for (const w of waiters.splice(0)) w.stop();
    },
  };
}

/**
 * The current runtime's adapter, with every connection its listeners accept
 * passed through `wrap` (a network that misbehaves in a way of the test's choosing).
 */
export async function acceptingThrough(wrap: (conn: Conn) => Conn): Promise<Adapter> {
  const real = await adapter();
  return {
    connect: real.connect,
    async listen(options): Promise<Listener> {
      const listener = await real.listen(options);
      return {
        addr: listener.addr,
        close: () => listener.close(),
        [Symbol.asyncDispose]: () => listener[Symbol.asyncDispose](),
        async *[Symbol.asyncIterator](): AsyncGenerator<Conn> {
          for await (const conn of listener) yield wrap(conn);
        },
      };
    },
  };
}

/** `conn`, with the bytes from its peer passed through `transform` (the rest as it is). */
export function readingThrough(
  conn: Conn,
  transform: TransformStream<Uint8Array, Uint8Array>,
): Conn {
  return {
    readable: conn.readable.pipeThrough(transform),
    writable: conn.writable,
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
    closed: conn.closed,
  };
}
