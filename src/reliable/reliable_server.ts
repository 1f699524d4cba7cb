// Copyright 2026 the framewire authors. MIT license.

import { checkOptionNames, checkOptions, numberError, receivedValue } from "../framing/_options.ts";
import type { Conn } from "../connection/types.ts";
import { Fifo } from "../_fifo.ts";
import {
  decodeHandshake,
  encodeAck,
  encodeHandshake,
  FLAG_CLOSING,
  FLAG_LOST,
  FLAG_RESUME,
  GOODBYE,
  HELLO,
  idToHex,
  PROTOCOL_VERSION,
  randomSessionId,
  SESSION_ID_LENGTH,
  WELCOME,
} from "./_protocol.ts";
import {
  cancelGraceTimer,
  cancelTimeout,
  CLOSE_OPTION_NAMES,
  closeQuietly,
  type GraceTimer,
  handshakeFraming,
  type Link,
  MAX_DELAY,
  msOption,
  openLink,
  type ResolvedOptions,
  resolveOptions,
  Session,
  SESSION_OPTION_NAMES,
  timeoutWithGrace,
} from "./_session.ts";
import { resolvers } from "./_resolvers.ts";
import { LATE_TIMER_MS, SessionMachine } from "./_session_machine.ts";
import type {
  ReliableCloseOptions,
  ReliableServer,
  ReliableServerOptions,
  ReliableSession,
} from "./types.ts";

const noop = (): void => {};

/** Sends `frame` as the only answer on `link`, then closes it. */
function answerAndClose(link: Link, frame: Uint8Array): void {
  link.fc.send(frame).catch(noop);
  link.fc.close().catch(noop).finally(() => link.conn.close());
}

/** The frame types by their byte, for a REJECT's text. */
const FRAME_NAMES: readonly (string | undefined)[] = [
  undefined,
  "DATA",
  "ACK",
  "HELLO",
  "WELCOME",
  "GOODBYE",
  "REJECT",
];

/** What is wrong with `frame`, a connection's first frame that is no well-formed HELLO. */
function notHello(frame: Uint8Array): string {
  if (frame.length === 0) return "expected HELLO, received an empty frame";
  if (frame[0] === HELLO) return "malformed HELLO";
  return `expected HELLO, received ${FRAME_NAMES[frame[0]!] ?? `frame type ${frame[0]}`}`;
}

/**
 * Accepts reliable sessions on the connections of `listener`.
 *
 * Each connection starts with the client's HELLO, which names its session:
 * a connection for a session the server holds (a client reconnecting) is
 * attached to it, and the session resumes; any other starts a new session,
 * which the returned iterable yields. A session whose client does not come
 * back within `resumeTimeout` ends with `sessionlost` then `close`. See
 * {@linkcode reliableClient} for the guarantees and docs/protocol.md for the
 * wire protocol.
 *
 * @param listener The accepted connections, e.g. a `Listener` from `listen`.
 * @param options Buffer sizes, ack and heartbeat timing, `resumeTimeout`, `maxSessions`, clock.
 * @returns The new sessions, as an async iterable, and `close()`.
 * @throws {RangeError} A numeric option is out of range (one that is no
 * number at all is a `TypeError`).
 * @throws {TypeError} `listener` is not an async iterable, `options` is not an
 * object or has a key that is none of its options (a misspelling, or a
 * client's `reconnect`), or `clock` lacks a method.
 *
 * @example Echo every message back
 * ```ts ignore
 * import { reliableServer } from "@framewire/framewire";
 * import { listen } from "@framewire/framewire/node";
 *
 * const listener = await listen({ port: 9000 });
 * const server = reliableServer(listener);
 * for await (const session of server) {
 *   (async () => {
 *     // Not `await` every send: a send resolves once the client confirmed it, an ack delay
 *     // (2 ms) later, so awaiting each would echo a few hundred messages a second. But wait for
 *     // room in the send buffer: else a client that sends and never confirms (or never reads)
 *     // makes this loop queue replies without end. If the session fails (say its client does not
 *     // come back within resumeTimeout), the loop throws its error, which the catch below takes;
 *     // a send's own rejection can be ignored.
 *     for await (const message of session) {
 *       await session.ready;
 *       session.send(message).catch(() => {});
 *     }
 *   })().catch((error) => console.error(`session ${session.id} failed:`, error.message));
 * }
 * ```
 */
export function reliableServer<B extends ArrayBufferLike = ArrayBufferLike>(
  listener: AsyncIterable<Conn<B>>,
  options: ReliableServerOptions = {},
): ReliableServer<B | ArrayBuffer> {
  if (
    typeof (listener as Partial<AsyncIterable<Conn>> | null)?.[Symbol.asyncIterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot create server as listener must be an async iterable of connections: received ${
        receivedValue(listener)
      }`,
    );
  }
  checkOptions(options, "create server");
  checkOptionNames(options, SERVER_OPTION_NAMES, "create server", "reliableServer()");
  // Its sessions' messages are views of framed()'s frames over the listener's conns.
  return new Server(listener, options) as ReliableServer<B | ArrayBuffer>;
}

/** The options of {@linkcode reliableServer}. */
const SERVER_OPTION_NAMES: readonly string[] = [
  ...SESSION_OPTION_NAMES,
  "resumeTimeout",
  "maxSessions",
];

/** A session that ended here (see `Server.#tombstones`). */
interface Tombstone {
  /** The ack its GOODBYE carried. */
  ack: number;
  /** When it is forgotten (the clock's time). */
  expires: number;
  /** Its expiry was put off once already, for time the server did not run. */
  renewed: boolean;
}

class Server implements ReliableServer {
  #o: ResolvedOptions;
  #resumeTimeout: number;
  #maxSessions: number;
  #sessions = new Map<string, Session>();
  /** Sessions started afresh under a new id, by the id the client asked to resume. */
  #formerIds = new Map<string, Session>();
  #fresh = new Fifo<Session>();
  /** Sessions in `#fresh`, and those of them that have ended (they still count: not taken yet). */
  #freshSet = new Set<Session>();
  #freshEnded = new Set<Session>();
  #waiters = new Fifo<(result: IteratorResult<ReliableSession>) => void>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #accepting: AsyncIterator<Conn>;
  /** The listener ended (no new session can come): with `error` if it failed, until reported. */
  #listenerEnded: { error?: unknown } | undefined;
  #handshaking = new Set<Link>();
  /** The handshakes under way: a connection's first frames read, then its session found. */
  #handshakes = new Set<Promise<void>>();
  // Sessions that ended (other than by expiring), kept for resumeTimeout so
  // that a client that missed the final GOODBYE gets it again: id -> ack.
  #tombstones = new Map<string, Tombstone>();
  /**
   * The tombstones in expiry order (the Map's own), to find the oldest without iterating the
   * Map: an iteration from its start walks the entries deleted before it (an engine leaves them
   * as holes until the table is rebuilt), which made each HELLO and each session end cost in
   * proportion to the tombstones dropped before. An entry no longer in the Map (deleted, or its
   * key ended again) is stale: skipped, and dropped when it comes first or piles up.
   */
  #tombstoneOrder = new Fifo<[string, Tombstone]>();
  /** The timer that forgets expired tombstones, while there are any. */
  #pruneTimer: unknown;
  /** When that timer is due (the clock's time). */
  #pruneDue = Infinity;
  /** No client can come back (the listener ended, or close() is done): no tombstones are kept. */
  #tombstonesOver = false;

  constructor(listener: AsyncIterable<Conn>, options: ReliableServerOptions) {
    this.#o = resolveOptions(options, "create server");
    this.#resumeTimeout = msOption("resumeTimeout", options.resumeTimeout, 60000, "create server");
    const max = options.maxSessions ?? Infinity;
    if (typeof max !== "number" || !(max >= 1) || (max !== Infinity && !Number.isInteger(max))) {
      throw numberError(
        max,
        `Cannot create server as maxSessions must be a positive integer or Infinity: received ${
          receivedValue(max)
        }`,
      );
    }
    this.#maxSessions = max;
    this.#accepting = listener[Symbol.asyncIterator]();
    void this.#accept();
  }

  get size(): number {
    return this.#sessions.size;
  }

  close(options?: ReliableCloseOptions): Promise<void> {
    const timeout = options?.timeout;
    try {
      // A number is no timeout (it would be ignored): options must be an object.
      if (options !== null) checkOptions(options, "close server");
      if (options != null) checkOptionNames(options, CLOSE_OPTION_NAMES, "close server", "close()");
      msOption("timeout", timeout, 0, "close server");
    } catch (error) {
      return Promise.reject(error);
    }
    // A second call waits for the sessions as the first does, and gets the same promise: also one
    // made while the first closes them (a session's close listener: one whose client is away
    // ends inside that call), before #close() has returned its promise. Its timeout may shorten
    // the sessions' waits (as a second session.close() does).
    if (this.#closing === undefined) {
      const { promise, resolve, reject } = resolvers<void>();
      this.#closing = promise;
      this.#close(timeout).then(resolve, reject);
    } else if (timeout !== undefined && timeout !== null) {
      for (const session of this.#sessions.values()) session.close({ timeout }).catch(noop);
    }
    return this.#closing;
  }

  async #close(timeout: number | undefined): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.drain()) waiter({ value: undefined, done: true });
    // Connections keep being taken while sessions close: a client that lost its connection
    // comes back to finish (new sessions are refused).
    await Promise.allSettled(
      [...this.#sessions.values()].map((session) => session.close({ timeout })),
    );
    try {
      this.#accepting.return?.().catch(noop);
    } finally {
      // Also when the listener's return() throws (close() rejects with that).
      for (const link of this.#handshaking) link.conn.close();
      this.#handshaking.clear();
      this.#forgetTombstones();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ReliableSession> {
    return {
      next: (): Promise<IteratorResult<ReliableSession>> => {
        const session = this.#fresh.shift();
        if (session !== undefined) {
          this.#freshSet.delete(session);
          this.#freshEnded.delete(session);
          return Promise.resolve({ value: session, done: false });
        }
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        const ended = this.#listenerEnded;
        if (ended !== undefined) return this.#endOfSessions(ended);
        return new Promise((resolve, reject) =>
          this.#waiters.push((result) => {
            const ended = this.#listenerEnded;
            if (result.done && ended !== undefined && !this.#closed) {
              this.#endOfSessions(ended).then(resolve, reject);
            } else resolve(result);
          })
        );
      },
      return: (): Promise<IteratorResult<ReliableSession>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
  }

  /**
   * The end of the iteration once the listener ended: its error once (the
   * first call to get there), then done.
   */
  #endOfSessions(ended: { error?: unknown }): Promise<IteratorResult<ReliableSession>> {
    if (!("error" in ended)) return Promise.resolve({ value: undefined, done: true });
    const error = ended.error;
    delete ended.error;
    return Promise.reject(error);
  }

  async #accept(): Promise<void> {
    let ended: { error?: unknown } = {};
    const handshakes = this.#handshakes;
    try {
      for (;;) {
        const result = await this.#accepting.next();
        if (result.done) break;
        if (this.#closed && this.#sessions.size === 0) {
          closeQuietly(result.value);
          return;
        }
        // The first frames with a small limit: a peer that sends a large header first gets no
        // maxMessageSize buffer for it (it would hold one until deadPeerTimeout).
        const framing = handshakeFraming(this.#o.maxMessageSize);
        let link: Link;
        try {
          link = openLink(result.value, framing.framing);
        } catch (error) {
          // Not a Conn that framed() takes (a listener of one's own that yields something else,
          // or a Conn without closeWrite): the listener's fault, not a peer's, and every
          // connection it yields would be dropped alike. It fails as a listener that throws does:
          // the iteration ends with framed()'s TypeError.
          closeQuietly(result.value);
          throw error;
        }
        const handshake = this.#handshake(link, framing);
        handshakes.add(handshake);
        // Not quiet: #handshake handles its failures; one that escapes is a bug to see.
        void handshake.finally(() => handshakes.delete(handshake));
      }
    } catch (error) {
      ended = { error };
    }
    // The listener ended or failed: sessions held carry on (their clients cannot come back
    // through it, though), and no new one can come once the handshakes under way are done: the
    // iteration ends then, with the failure.
    await Promise.allSettled(handshakes);
    // No client can come back to read a tombstone now.
    this.#forgetTombstones();
    if (this.#closed) return;
    this.#listenerEnded = ended;
    for (const waiter of this.#waiters.drain()) waiter({ value: undefined, done: true });
  }

  async #handshake(
    link: Link,
    handshake: ReturnType<typeof handshakeFraming>,
  ): Promise<void> {
    const clock = this.#o.clock;
    this.#handshaking.add(link);
    // Overdue, the timer gives I/O its grace first: a HELLO that arrived while the process did
    // not run (see Session's #onTimer) is read only after the timer; dropped unread, its client's
    // reconnection could come after the session's own overdue resumeTimeout.
    let timer: GraceTimer | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = timeoutWithGrace(clock, () => resolve(undefined), this.#o.deadPeerTimeout);
    });
    let batch: Uint8Array[] | undefined;
    try {
      const result = await Promise.race([link.frames.next(), timeout]);
      batch = result === undefined || result.done ? undefined : result.value;
    } catch {
      batch = undefined;
    } finally {
      cancelGraceTimer(clock, timer);
      this.#handshaking.delete(link);
    }
    if (batch === undefined || batch.length === 0) {
      // No frame: silence, the peer's end, or a length the handshake framing refused at its
      // header (docs/protocol.md: no REJECT for that).
      link.conn.close();
      return;
    }
    const first = batch[0]!;
    const hello = first.length > 0 && first[0] === HELLO ? decodeHandshake(first) : undefined;
    if (hello === undefined) {
      answerAndClose(link, SessionMachine.reject("protocol", notHello(first)));
      return;
    }
    handshake.open();
    const key = hello.version === PROTOCOL_VERSION ? idToHex(hello.id) : "";
    let session = this.#sessions.get(key);
    // Only a HELLO to resume can mean a former id (a retry after a lost WELCOME(LOST) has RESUME).
    const former = session === undefined && (hello.flags & FLAG_RESUME) !== 0
      ? this.#formerIds.get(key)
      : undefined;
    session ??= former;
    if (session === undefined && hello.version === PROTOCOL_VERSION) {
      const tombstone = this.#tombstone(key);
      const resumeWhileClosing =
        (hello.flags & (FLAG_RESUME | FLAG_CLOSING)) === (FLAG_RESUME | FLAG_CLOSING);
      if (tombstone !== undefined || resumeWhileClosing) {
        // The session ended here (the client missed our GOODBYE), or is unknown
        // and the client only wants to finish closing: answer, create nothing.
        const frame = tombstone !== undefined
          ? encodeAck(GOODBYE, tombstone.ack)
          : encodeHandshake(WELCOME, FLAG_LOST, hello.id, 0);
        answerAndClose(link, frame);
        return;
      }
    }
    if (hello.version !== PROTOCOL_VERSION || (this.#closed && session === undefined)) {
      const frame = hello.version !== PROTOCOL_VERSION
        ? SessionMachine.reject("version", `unsupported protocol version ${hello.version}`)
        : SessionMachine.reject("closing", "server is shutting down");
      answerAndClose(link, frame);
      return;
    }
    if (hello.id.length !== SESSION_ID_LENGTH) {
      link.conn.close();
      return;
    }
    // A protocol error is answered before the HELLO touches a session: attaching it would drop
    // the session's live connection, and a new session would wait resumeTimeout for this client.
    // For a known session: an ack above what it ever sent, or its client's former id once the
    // client has shown it has the new one (every time, until the session ends and takes the old
    // id with it). A new session cannot have received anything.
    const refused = session !== undefined
      ? session.helloError(hello)
      : (hello.flags & FLAG_RESUME) === 0 && hello.lastReceived > 0
      ? `HELLO for a new session acks ${hello.lastReceived}`
      : undefined;
    if (refused !== undefined) {
      answerAndClose(link, SessionMachine.reject("protocol", refused));
      return;
    }
    // Sessions that ended before the application took them count too: they are held until then.
    const held = this.#sessions.size + this.#freshEnded.size;
    if (session === undefined && held >= this.#maxSessions) {
      // As at shutdown: the client tries again after its backoff.
      const frame = SessionMachine.reject(
        "closing",
        `server holds its limit of ${this.#maxSessions} session${
          this.#maxSessions === 1 ? "" : "s"
        }`,
      );
      answerAndClose(link, frame);
      return;
    }
    // Resuming a session unknown here: it starts afresh under a new id, and keeps the client's
    // old one too, for a HELLO that comes again because the WELCOME(LOST) was cut off.
    session ??= (hello.flags & FLAG_RESUME) !== 0
      ? this.#create(randomSessionId(), key)
      : this.#create(hello.id);
    session.attach(link, batch);
  }

  #tombstone(key: string): Tombstone | undefined {
    this.#dropExpiredTombstones();
    return this.#tombstones.get(key);
  }

  #dropExpiredTombstones(): void {
    const now = this.#o.clock.now();
    // The timer that looks after them is late: this process did not run when they expired (see
    // LATE_TIMER_MS), and a client that missed its GOODBYE may be coming back (a HELLO read on
    // waking, before that timer). Each gets resumeTimeout again from now, once, as a session
    // does (see SessionMachine.tick).
    const late = now - this.#pruneDue >= LATE_TIMER_MS && this.#resumeTimeout > 0;
    let renewed: [string, Tombstone][] | undefined;
    // Map order is expiry order (one timeout for all): drop the expired ones.
    for (
      let entry = this.#oldestTombstone();
      entry !== undefined;
      entry = this.#oldestTombstone()
    ) {
      if (entry[1].expires > now) break;
      this.#tombstoneOrder.shift();
      this.#tombstones.delete(entry[0]);
      if (late && !entry[1].renewed) (renewed ??= []).push(entry);
    }
    // Last in expiry order, as none expires after now + resumeTimeout.
    for (const entry of renewed ?? []) {
      entry[1].expires = now + this.#resumeTimeout;
      entry[1].renewed = true;
      this.#setTombstone(entry);
    }
  }

  /** The oldest tombstone, once the stale entries before it in #tombstoneOrder are dropped. */
  #oldestTombstone(): [string, Tombstone] | undefined {
    const order = this.#tombstoneOrder;
    for (let entry = order.peek(); entry !== undefined; entry = order.peek()) {
      if (this.#tombstones.get(entry[0]) === entry[1]) return entry;
      order.shift();
    }
    return undefined;
  }

  /** Remembers a tombstone, last in expiry order. */
  #setTombstone(entry: [string, Tombstone]): void {
    this.#tombstones.set(entry[0], entry[1]);
    const order = this.#tombstoneOrder;
    order.push(entry);
    // Stale entries behind a live one (keys that ended again): dropped once they are half.
    if (order.length > 1024 && order.length > 2 * this.#tombstones.size) {
      for (const e of order.drain()) if (this.#tombstones.get(e[0]) === e[1]) order.push(e);
    }
  }

  /**
   * Keeps one timer, due when the oldest tombstone expires (but no sooner
   * than an eighth of resumeTimeout from now, so that a steady stream of
   * ending sessions wakes it a few times per resumeTimeout, not once per
   * session): an idle server lets expired tombstones go too. A tombstone
   * past its time is never answered from, whenever it is dropped.
   */
  #schedulePrune(): void {
    if (this.#pruneTimer !== undefined) return;
    const oldest = this.#oldestTombstone();
    if (oldest === undefined) return;
    const clock = this.#o.clock;
    const delay = Math.max(oldest[1].expires - clock.now(), this.#resumeTimeout / 8);
    // One that never expires (resumeTimeout Infinity) needs none; one further away than timers
    // reach: wake up then, and look again (timeoutAfter() would set no timer at all).
    if (delay === Infinity) return;
    this.#pruneDue = clock.now() + Math.min(MAX_DELAY, delay);
    this.#pruneTimer = clock.setTimeout(this.#prune, Math.min(MAX_DELAY, delay));
  }

  #prune = (): void => {
    this.#pruneTimer = undefined;
    this.#dropExpiredTombstones();
    this.#pruneDue = Infinity;
    this.#schedulePrune();
  };

  #forgetTombstones(): void {
    this.#tombstonesOver = true;
    this.#tombstones.clear();
    this.#tombstoneOrder.drain();
    cancelTimeout(this.#o.clock, this.#pruneTimer);
    this.#pruneTimer = undefined;
    this.#pruneDue = Infinity;
  }

  #create(id: Uint8Array, oldKey?: string): Session {
    const o = this.#o;
    const key = idToHex(id);
    const session: Session = new Session(
      {
        role: "server",
        id,
        sendBufferSize: o.sendBufferSize,
        maxMessageSize: o.maxMessageSize,
        ackDelay: o.ackDelay,
        ackEvery: o.ackEvery,
        ackBytes: o.ackBytes,
        heartbeatInterval: o.heartbeatInterval,
        deadPeerTimeout: o.deadPeerTimeout,
        resumeTimeout: this.#resumeTimeout,
        backoff: { base: 0, factor: 1, cap: 0, jitter: 0, maxAttempts: Infinity },
        random: Math.random,
      },
      o,
      {
        // A session whose client is away waits for these before it gives the client up; not
        // when a handshake may read for ever (deadPeerTimeout Infinity: a silent peer would hold
        // the session as long as it stays connected).
        hellos: () =>
          this.#handshakes.size === 0 || o.deadPeerTimeout > MAX_DELAY
            ? undefined
            : Promise.allSettled(this.#handshakes).then(noop),
        onEnd: (error, lastReceived) => {
          if (this.#sessions.get(key) === session) this.#sessions.delete(key);
          if (this.#freshSet.has(session)) this.#freshEnded.add(session);
          if (oldKey !== undefined && this.#formerIds.get(oldKey) === session) {
            this.#formerIds.delete(oldKey);
          }
          if (
            (error as { code?: string } | undefined)?.code !== "SESSION_LOST" &&
            !this.#tombstonesOver
          ) {
            const tombstones = this.#tombstones;
            tombstones.delete(key);
            this.#dropExpiredTombstones();
            // At most maxSessions of them, the oldest dropped first: any peer can end sessions
            // faster than they expire (a client that missed its GOODBYE then gets WELCOME(LOST)).
            if (tombstones.size >= this.#maxSessions) {
              tombstones.delete(this.#oldestTombstone()![0]);
              this.#tombstoneOrder.shift();
            }
            this.#setTombstone([key, {
              ack: lastReceived,
              expires: o.clock.now() + this.#resumeTimeout,
              renewed: false,
            }]);
            this.#schedulePrune();
          }
        },
      },
    );
    this.#sessions.set(key, session);
    if (oldKey !== undefined) this.#formerIds.set(oldKey, session);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ value: session, done: false });
    else {
      this.#fresh.push(session);
      this.#freshSet.add(session);
    }
    return session;
  }
}
