// Copyright 2026 the framewire authors. MIT license.

import {
  checkOptionNames,
  checkOptions,
  describeValue,
  numberError,
  receivedValue,
} from "../framing/_options.ts";
import type { Conn } from "../connection/types.ts";
import type { Backoff } from "./_backoff.ts";
import { randomSessionId } from "./_protocol.ts";
import { MS_RANGE, resolveOptions, Session, SESSION_OPTION_NAMES } from "./_session.ts";
import type { ReconnectOptions, ReliableClientOptions, ReliableSession } from "./types.ts";

/** The options of {@linkcode ReconnectOptions}. */
const RECONNECT_OPTION_NAMES: readonly string[] = [
  "base",
  "factor",
  "cap",
  "jitter",
  "random",
  "maxAttempts",
];

/** The options of {@linkcode reliableClient}. */
const CLIENT_OPTION_NAMES: readonly string[] = [...SESSION_OPTION_NAMES, "reconnect"];

function resolveBackoff(options: ReconnectOptions | undefined): Backoff & { random: () => number } {
  if (options !== null) checkOptions(options, "create client", "reconnect");
  if (options != null) {
    checkOptionNames(options, RECONNECT_OPTION_NAMES, "create client", "reconnect");
  }
  const at = (
    name: keyof ReconnectOptions,
    fallback: number,
    ok: (v: number) => boolean,
    must: string,
  ) => {
    const value = options?.[name] ?? fallback;
    if (typeof value !== "number" || !ok(value)) {
      throw numberError(
        value,
        `Cannot create client as reconnect.${name} must be ${must}: received ${
          receivedValue(value)
        }`,
      );
    }
    return value;
  };
  const base = at("base", 100, (v) => v >= 0, MS_RANGE);
  const factor = at("factor", 2, (v) => v >= 1, "at least 1");
  const cap = at("cap", 5000, (v) => v >= 0, MS_RANGE);
  const jitter = at("jitter", 0.5, (v) => v >= 0 && v <= 1, "between 0 and 1");
  const maxAttempts = at(
    "maxAttempts",
    Infinity,
    (v) => v >= 1 && (Number.isSafeInteger(v) || v === Infinity),
    "a positive integer or Infinity",
  );
  const random = options?.random ?? Math.random;
  if (typeof random !== "function") {
    throw new TypeError(
      `Cannot create client as reconnect.random must be a function: received ${
        receivedValue(random)
      }`,
    );
  }
  return { base, factor, cap, jitter, maxAttempts, random };
}

/**
 * Opens a reliable session as a client: calls `dial` at once to connect, and
 * again whenever the connection is lost, until the session is closed.
 *
 * Every message passed to `send` is delivered to the server session's
 * iterator exactly once and in order, across reconnects; `send` resolves
 * when the server confirmed it. The first attempt and the first retry after
 * a failure are immediate; further retries back off (see
 * {@linkcode ReconnectOptions}). If the server lost the session (it
 * restarted), a `sessionlost` event lists the messages whose fate is
 * unknown and the session carries on afresh, under a new id the server
 * chose. The wire protocol is described in docs/protocol.md.
 *
 * @param dial Opens a new connection to the server, e.g.
 * `(signal) => connect({ port, signal })`. An attempt that takes longer than
 * `deadPeerTimeout` counts as failed, and `signal` aborts then.
 * @param options Buffer sizes, ack and heartbeat timing, reconnect schedule, clock.
 * @returns The session; it is connecting when returned.
 * @throws {TypeError} `dial` or `reconnect.random` is not a function, `options`
 * or `reconnect` is not an object or has a key that is none of its options
 * (a misspelling, or a server's `resumeTimeout`: one ignored would run with a
 * default; as for a framing, keys whose value is `undefined` and inherited
 * methods are let through), or `clock` lacks a method.
 * @throws {RangeError} A numeric option is out of range (one that is no
 * number at all is a `TypeError`).
 *
 * @example A client and a server on loopback
 * ```ts
 * import { reliableClient, reliableServer } from "@framewire/framewire";
 * import { connect, listen } from "@framewire/framewire/node";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * const server = reliableServer(listener);
 * const client = reliableClient((signal) => connect({ hostname: "127.0.0.1", port, signal }));
 *
 * await client.send("hello"); // resolves once the server confirmed it
 * for await (const session of server) {
 *   for await (const message of session) {
 *     assert.equal(new TextDecoder().decode(message), "hello");
 *     break;
 *   }
 *   break;
 * }
 * await client.close(); // waits for confirmations, then says goodbye
 * await server.close();
 * listener.close();
 * ```
 *
 * @example Giving up after a number of failed attempts
 * ```ts
 * import { ConnectionError, reliableClient } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * // A server that is down: every attempt fails.
 * const dial = () => Promise.reject(new Error("connection refused"));
 * const client = reliableClient(dial, { reconnect: { maxAttempts: 2 } });
 * const closed = new Promise<CustomEvent>((resolve) => client.addEventListener("close", resolve));
 * await assert.rejects(client.send("hello"), ConnectionError); // never confirmed
 * const { error } = (await closed).detail;
 * assert.equal(
 *   error.message,
 *   "Cannot connect as 2 attempts in a row failed (reconnect.maxAttempts: 2): connection refused",
 * );
 * ```
 */
export function reliableClient<B extends ArrayBufferLike = ArrayBufferLike>(
  dial: (signal: AbortSignal) => Promise<Conn<B>>,
  options: ReliableClientOptions = {},
): ReliableSession<B | ArrayBuffer> {
  if (typeof dial !== "function") {
    throw new TypeError(
      `Cannot create client as dial must be a function: received ${describeValue(dial)}`,
    );
  }
  checkOptions(options, "create client");
  checkOptionNames(options, CLIENT_OPTION_NAMES, "create client", "reliableClient()");
  const resolved = resolveOptions(options, "create client");
  const { random, ...backoff } = resolveBackoff(options.reconnect);
  const session = new Session(
    {
      role: "client",
      id: randomSessionId(),
      sendBufferSize: resolved.sendBufferSize,
      maxMessageSize: resolved.maxMessageSize,
      ackDelay: resolved.ackDelay,
      ackEvery: resolved.ackEvery,
      ackBytes: resolved.ackBytes,
      heartbeatInterval: resolved.heartbeatInterval,
      deadPeerTimeout: resolved.deadPeerTimeout,
      resumeTimeout: Infinity,
      backoff,
      random,
    },
    resolved,
    { dial },
  );
  session.start();
  // Its messages are views of framed()'s frames over the conns dial gives.
  return session as ReliableSession<B | ArrayBuffer>;
}
