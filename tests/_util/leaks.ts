// Copyright 2026 the framewire authors. MIT license.
// Test helper: fails a test file that leaves sockets open. Linux only (it reads /proc/self/fd);
// elsewhere it checks nothing. Deno's own leak sanitizers do not run for node:test tests.

import { readdirSync, readlinkSync } from "node:fs";
import { test } from "node:test";

/** The process's open sockets (TCP, Unix), by file descriptor, or `undefined` off Linux. */
export function openSockets(): Map<string, string> | undefined {
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return undefined;
  }
  const sockets = new Map<string, string>();
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("socket:")) sockets.set(fd, target);
    } catch {
      // closed meanwhile (the directory listing's own descriptor, for one)
    }
  }
  return sockets;
}

/**
 * Watches the sockets a test file opens. Call it at the top of the file,
 * before any `test()` (Node starts a test as soon as it is registered), and
 * call `check()` on the result at the bottom: that registers a last test
 * which fails if a socket opened since is still open. A socket closes a
 * moment after its `closed` settles on some runtimes, so that test waits up
 * to `graceMs` for them (a deadline, not a pause: it ends as soon as they are
 * gone). A last test and not an `after()` hook: Deno's node:test does not
 * report a hook's failure.
 */
export function watchSockets(): { check(graceMs?: number): void } {
  const baseline = openSockets();
  return {
    check(graceMs = 5000): void {
      test("leaves no socket open", { skip: baseline === undefined }, async () => {
        const leaked = await socketsLeftOpen(baseline!, graceMs);
        if (leaked.length > 0) {
          throw new Error(
            `${leaked.length} socket(s) opened by this file's tests are still open: ` +
              leaked.join(", "),
          );
        }
      });
    },
  };
}

/**
 * The sockets (`fd N (socket:[inode])`) open now that were not in
 * `baseline` (an {@linkcode openSockets} result), once they are all closed
 * or `graceMs` has passed (a deadline, not a pause: a socket closes a moment
 * after its `closed` settles on some runtimes). Linux only.
 */
export async function socketsLeftOpen(
  baseline: Map<string, string>,
  graceMs = 5000,
): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const leaked = [...openSockets()!]
      .filter(([fd, target]) => baseline.get(fd) !== target)
      .map(([fd, target]) => `fd ${fd} (${target})`);
    if (leaked.length === 0 || Date.now() > deadline) return leaked;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
