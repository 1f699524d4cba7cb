// Copyright 2026 the framewire authors. MIT license.
// dialAddresses(): the Bun adapter's connect by host name, one address after the other.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer } from "node:net";
import { ATTEMPT_TIMEOUT, dialAddresses } from "../../src/adapters/_dial_addresses.ts";
import { runtime } from "../_util/runtime.ts";
import { stallUntil } from "../_util/stall.ts";
import { spyTimers } from "../_util/timer_spy.ts";

/** An attempt that neither connects nor fails (an address that drops SYNs), until aborted. */
function blackHole(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal === undefined) return; // never ends: a test would time out
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

const refused = () => Promise.reject(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));

test("dialAddresses: an address that does not answer is given up for the next one", {
  timeout: 5000,
}, async () => {
  // Before, the Bun adapter waited on the first address until the kernel gave up on it (minutes
  // where SYNs are dropped; 2.7 s on the test machine for an unroutable IPv6 address), where
  // Node and Deno reached the next after 250 ms.
  const tried: string[] = [];
  const started = performance.now();
  const result = await dialAddresses(["fd00::dead", "127.0.0.1"], undefined, (address, signal) => {
    tried.push(address);
    return address === "127.0.0.1" ? Promise.resolve(address) : blackHole(signal);
  });
  assert.equal(result, "127.0.0.1");
  assert.deepEqual(tried, ["fd00::dead", "127.0.0.1"]);
  // Not before ATTEMPT_TIMEOUT (timers may fire a ms early by the clock's reading).
  assert.ok(performance.now() - started >= ATTEMPT_TIMEOUT - 2, "waited for the first");
});

test("dialAddresses: a refused address moves on at once; the last failure is the answer", async () => {
  const tried: string[] = [];
  await assert.rejects(
    dialAddresses(["a", "b", "c"], undefined, (address) => {
      tried.push(address);
      return address === "c"
        ? Promise.reject(Object.assign(new Error("last"), { code: "ETIMEDOUT" }))
        : refused();
    }),
    { message: "last" },
  );
  assert.deepEqual(tried, ["a", "b", "c"]);
});

test("dialAddresses: an attempt that ends before its time limit leaves no timer behind", async () => {
  // Before (mutation review), nothing pinned the clearTimeout() after each attempt: the limit
  // of an address refused at once, or of one that answered without opened(), stayed pending for
  // ATTEMPT_TIMEOUT (holding the event loop open), then aborted an attempt long over.
  const timers = spyTimers({
    from: new URL("../../src/adapters/_dial_addresses.ts", import.meta.url),
  });
  try {
    const answer = await dialAddresses(
      ["a", "b", "c"],
      undefined,
      (address) => address === "b" ? Promise.resolve(address) : refused(),
    );
    assert.equal(answer, "b");
    assert.equal(timers.made.length, 2, "a limit for each of a and b");
    assert.equal(timers.pending.size, 0);
  } finally {
    timers.restore();
  }
});

test("dialAddresses: the last address and an opened connection are not timed", async () => {
  const slow = (ms: number) => new Promise<string>((resolve) => setTimeout(resolve, ms, "slow"));
  // The only address: no limit of its own.
  let aborted = false;
  assert.equal(
    await dialAddresses(["a"], undefined, (_, signal) => {
      signal?.addEventListener("abort", () => (aborted = true));
      return slow(ATTEMPT_TIMEOUT + 100);
    }),
    "slow",
  );
  assert.equal(aborted, false);
  // A TCP connection made, then a slow TLS handshake: the answer, whatever it takes.
  const tried: string[] = [];
  assert.equal(
    await dialAddresses(["a", "b"], undefined, (address, signal, opened) => {
      tried.push(address);
      opened();
      return Promise.race([slow(ATTEMPT_TIMEOUT + 100), blackHole(signal)]);
    }),
    "slow",
  );
  assert.deepEqual(tried, ["a"]);
  // One that failed after it connected (a certificate refused) is the answer too.
  await assert.rejects(
    dialAddresses(["a", "b"], undefined, (address, _, opened) => {
      tried.push(address);
      opened();
      return Promise.reject(new Error("bad certificate"));
    }),
    { message: "bad certificate" },
  );
  assert.deepEqual(tried, ["a", "a"]);
});

test("dialAddresses: the caller's abort ends it with its reason, no address after it", async () => {
  const controller = new AbortController();
  const tried: string[] = [];
  const dialing = dialAddresses(["a", "b"], controller.signal, (address, signal) => {
    tried.push(address);
    return blackHole(signal);
  });
  const reason = new Error("mine");
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(dialing, (error) => error === reason);
  assert.deepEqual(tried, ["a"]);
});

test("dialAddresses: an abort in the same turn as an attempt's failure ends it with the signal's reason", async () => {
  // The attempt failed (refused, or its own time limit) and the caller's signal aborted before
  // dialAddresses saw that failure: an abort rejects with the signal's reason, as everywhere
  // else, not with what the attempt failed with. Before, the attempt's error came out.
  for (const addresses of [["a"], ["a", "b"]]) {
    const controller = new AbortController();
    const reason = new Error("mine");
    const tried: string[] = [];
    await assert.rejects(
      dialAddresses(addresses, controller.signal, (address) => {
        tried.push(address);
        controller.abort(reason);
        return refused();
      }),
      (error) => error === reason,
    );
    assert.deepEqual(tried, ["a"], `${addresses.length} addresses`);
  }
});

test("dialAddresses: a look-alike signal is followed on an address that has a time limit too", async () => {
  // Before, an address with a time limit of its own (any but the last) got the caller's signal
  // combined with AbortSignal.any(), which refuses a signal that is not the runtime's own (a
  // polyfill's, another realm's): the Bun adapter's connect() to a host name with several
  // addresses rejected with that TypeError, where one address connected.
  class LookAlike extends EventTarget {
    aborted = false;
    reason: unknown = undefined;
    listeners = 0;
    override addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void {
      if (args[0] === "abort") this.listeners++;
      super.addEventListener(...args);
    }
    override removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void {
      if (args[0] === "abort") this.listeners--;
      super.removeEventListener(...args);
    }
  }
  const alike = new LookAlike();
  const signal = alike as unknown as AbortSignal;
  assert.equal(await dialAddresses(["a", "b"], signal, (address) => Promise.resolve(address)), "a");
  // The next address after a refusal, then one that connects.
  assert.equal(
    await dialAddresses(
      ["a", "b", "c"],
      signal,
      (address) => address === "a" ? refused() : Promise.resolve(address),
    ),
    "b",
  );
  assert.equal(alike.listeners, 0, "listeners left on the caller's signal");
  // Aborting it ends the attempt under way with its reason.
  const tried: string[] = [];
  const dialing = dialAddresses(["a", "b"], signal, (address, attemptSignal) => {
    tried.push(address);
    return blackHole(attemptSignal);
  });
  const reason = new Error("mine");
  alike.aborted = true;
  alike.reason = reason;
  alike.dispatchEvent(new Event("abort"));
  await assert.rejects(dialing, (error) => error === reason);
  assert.deepEqual(tried, ["a"]);
  assert.equal(alike.listeners, 0, "listeners left on the caller's signal after its abort");
  // Aborted already (between the caller's check and the call): no attempt at all.
  for (const aborted of [signal, AbortSignal.abort(reason)]) {
    await assert.rejects(
      dialAddresses(["a", "b"], aborted, (address) => {
        tried.push(address);
        return Promise.resolve(address);
      }),
      (error) => error === reason,
    );
  }
  assert.deepEqual(tried, ["a"], "an attempt despite an aborted signal");
});

/** Bun's own sockets (what the Bun adapter dials with), where present. */
interface BunConnect {
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(socket: { end(): void }): void;
      data(): void;
      connectError(socket: unknown, error: unknown): void;
    };
  }): Promise<unknown>;
}
const bun = (globalThis as { Bun?: BunConnect }).Bun;

/**
 * Connects to 127.0.0.1:`port` as an attempt does (`opened` once connected; an abort rejects),
 * with Bun's own sockets on Bun and node:net elsewhere; `close` ends every socket it made.
 */
function loopbackAttempt(port: number): {
  attempt: (signal: AbortSignal | undefined, opened: () => void) => Promise<string>;
  close(): void;
} {
  const closers: (() => void)[] = [];
  return {
    attempt: (signal, opened) =>
      new Promise<string>((resolve, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        if (bun !== undefined) {
          bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: {
              open(socket) {
                closers.push(() => socket.end());
                opened();
                resolve("first");
              },
              data() {},
              connectError: (_, error) => reject(error),
            },
          }).catch(reject);
          return;
        }
        const socket = connect({ host: "127.0.0.1", port });
        closers.push(() => socket.destroy());
        socket.once("connect", () => {
          opened();
          resolve("first");
        });
        socket.once("error", reject);
      }),
    close: () => closers.forEach((close) => close()),
  };
}

test(
  "dialAddresses: a connection made while the event loop was blocked past the time limit is taken, not given up for the next address",
  {
    timeout: 10_000,
    // dialAddresses() is the Bun adapter's; Deno's node:net (the stand-in there) hands a
    // connection over a turn or more after a 0 ms timer now and then, which Bun's sockets and
    // Node's do not.
    skip: runtime === "deno" && "Deno's node:net hands a connection over late (not Bun's path)",
  },
  async () => {
    // A long synchronous computation right after connect(): the connection is made meanwhile
    // (the kernel completes the handshake), but the limit's timer fired before the runtime handed
    // it over (Bun's own sockets: about one dial in two; Deno's node:net: every one). The attempt
    // was then aborted and the next address tried; where that one refuses (a server listening on
    // ::1 only, dialled by a name that gives ::1 first), the dial failed.
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { attempt, close } = loopbackAttempt((server.address() as AddressInfo).port);
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const dialled = dialAddresses(
          ["first", "second"],
          undefined,
          (address, signal, opened) => address === "second" ? refused() : attempt(signal, opened),
        );
        stallUntil(performance.now() + ATTEMPT_TIMEOUT + 30);
        outcomes.push(await dialled.catch((error) => `rejected: ${error.message}`));
      }
      assert.deepEqual(outcomes, ["first", "first", "first", "first"]);
    } finally {
      close();
      await new Promise((resolve) => server.close(resolve));
    }
  },
);
