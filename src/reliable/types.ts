// Copyright 2026 the framewire authors. MIT license.
/**
 * Public types of reliable sessions.
 *
 * @module
 */

/** The life cycle of a {@linkcode ReliableSession}. */
export type ReliableSessionState = "connecting" | "open" | "reconnecting" | "closing" | "closed";

/** Counters of a {@linkcode ReliableSession}. */
export interface ReliableStats {
  /**
   * Messages in the send buffer that the peer has not confirmed yet. Sends
   * still waiting for room in the buffer are not counted until they get it.
   */
  readonly inFlight: number;
  /** Payload bytes of those messages. */
  readonly bufferedBytes: number;
  /**
   * Sends waiting for room in the send buffer (each holds a copy of its
   * payload). They are not limited: an application that sends without
   * awaiting bounds them itself, by awaiting {@linkcode ReliableSession.ready}
   * before each send.
   */
  readonly waiting: number;
  /**
   * DATA frames sent again after a reconnect (replays), counted as each is
   * handed to the new connection, not once the peer has it: a replay lost
   * with a connection that fails after taking it counts (its bytes may have
   * reached the peer). A server's replay waits until its WELCOME is written,
   * and is not counted when the connection is found ended, or replaced, by
   * then: it went nowhere (docs/protocol.md, "The handshake").
   */
  readonly resent: number;
  /** DATA frames received again and dropped (duplicates). */
  readonly duplicatesDropped: number;
  /** Connections whose handshake completed after the first one. */
  readonly reconnects: number;
}

/**
 * A message channel that survives dropped connections: every payload passed
 * to {@linkcode ReliableSession.send} is delivered to the peer's iterator
 * exactly once and in order, across any number of reconnects, or reported.
 *
 * Events (each a `CustomEvent` whose `detail` is described below):
 * - `open`: the first handshake completed (`detail` null; client sessions:
 *   the server hands its sessions over already open).
 * - `reconnecting`: the connection was lost or an attempt failed
 *   ({@linkcode ReconnectingDetail}).
 * - `resumed`: a handshake on a new connection completed and unconfirmed
 *   messages were replayed ({@linkcode ResumedDetail}).
 * - `sessionlost`: the peer lost the session (restart, or it gave up waiting
 *   for this side), or on a server the client did not come back within
 *   `resumeTimeout`; lists the messages whose fate is unknown
 *   ({@linkcode SessionLostDetail}). On a client a `resumed` follows at once,
 *   with `replayed` 0: the session goes on afresh under the server's new id,
 *   not the old one resumed.
 * - `close`: the session ended ({@linkcode CloseDetail}).
 *
 * Listeners run synchronously inside the session and may call its methods
 * (`close()` from a listener of an event that comes with the session's end,
 * such as a server's `sessionlost`, counts as called after the end).
 * A listener that throws does not stop the session, but its error goes
 * where each runtime sends an `EventTarget` listener's: it ends a Deno,
 * Node or Bun process at once unless handled (by an `uncaughtException`
 * listener of `process` on all three, or Deno's global `error` event).
 * Catch inside listeners.
 *
 * `B` is the type of the buffers under the messages it yields: they are
 * views of the frames read, so `reliableClient()` and `reliableServer()`
 * over framewire's adapters (whose connections are `Conn<ArrayBuffer>`)
 * give sessions of `Uint8Array<ArrayBuffer>` messages.
 */
export interface ReliableSession<B extends ArrayBufferLike = ArrayBufferLike>
  extends EventTarget, AsyncIterable<Uint8Array<B>> {
  /**
   * The session id: 32 hex digits, random, chosen by the client. When the
   * server lost the session (`sessionlost` on the client), it starts it
   * afresh under a new id of its choosing, which both sides use from then on
   * (unless the client was closing: then the id stays, and the session
   * closes).
   */
  readonly id: string;
  /** The current state. */
  readonly state: ReliableSessionState;
  /**
   * Sends one message. Resolves once the peer confirmed it (it sits in the
   * peer's receive queue); waits first while the send buffer is full. Calls
   * that are not awaited are delivered in call order.
   *
   * Rejects with a `ConnectionError`: `CONNECTION_CLOSED` when the session is
   * closing or closed (or closed before the message was confirmed),
   * `SESSION_LOST` when the session was lost (see the `sessionlost`
   * event). A message that fails as the session ends has the `close`
   * event's error as `cause` whenever there is one: `reconnect.maxAttempts`
   * ran out, a `close()` timed out, the peer speaks another version, the
   * peer closed first while this side's `close()` waited, or a loss ended
   * the session (on a server, a client that did not come back within
   * `resumeTimeout`; a loss met while closing). A session that ends without
   * one (the peer's GOODBYE before this side called `close()`) gives no
   * cause, nor does a loss after which a client goes on afresh. Aborting `signal` withdraws a
   * message still waiting for buffer space; a message already in the buffer
   * is still delivered, only the promise rejects with the signal's reason. A
   * payload longer than `maxMessageSize` (a string's UTF-8 bytes: one of more
   * UTF-16 code units is refused before it is encoded) rejects with a
   * `RangeError`, one that is neither a `Uint8Array` nor a string, a
   * `signal` that is no `AbortSignal`, or `options` that are no object (a
   * signal passed in their place) or have a key other than `signal` (a
   * misspelt one would be ignored), with a `TypeError` (the promise rejects
   * and nothing is sent; `send` itself never throws).
   */
  send(payload: Uint8Array | string, options?: ReliableSendOptions): Promise<void>;
  /**
   * Resolves once no send waits for room in the send buffer (`stats.waiting`
   * is 0): at once when none does, and once the session has ended. A sender
   * that awaits it before each send keeps the buffer full and at most one
   * send waiting, without awaiting any confirmation (as `writer.ready` does
   * for a `WritableStream`); catch the sends' rejections, which say what
   * was lost. Awaiting the newest send instead waits until every message
   * before it is confirmed: the buffer empties before it fills again.
   *
   * @example A steady sender
   * ```ts
   * import { reliableClient, reliableServer } from "@framewire/framewire";
   * import { connect, listen } from "@framewire/framewire/node";
   *
   * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
   * const server = reliableServer(listener);
   * const client = reliableClient((signal) => connect({ port: listener.addr.port, signal }), {
   *   sendBufferSize: 4096,
   * });
   * const failed: unknown[] = [];
   * for (let i = 0; i < 1000; i++) {
   *   await client.ready; // room in the send buffer: memory stays bounded
   *   client.send(`line ${i}`).catch((error) => failed.push(error));
   * }
   * for await (const session of server) {
   *   let n = 0;
   *   for await (const _ of session) if (++n === 1000) break;
   *   break;
   * }
   * await client.close(); // every line confirmed
   * await server.close();
   * ```
   */
  readonly ready: Promise<void>;
  /**
   * Stops accepting messages, waits until every message not yet confirmed
   * (sends waiting for room included, except those their signal withdraws
   * meanwhile: their `send` rejected with the abort reason, and they are
   * never sent) is confirmed, then says goodbye to the
   * peer (carrying the last ack) and closes. Resolves only if all of them
   * were confirmed; otherwise rejects with a `ConnectionError`:
   * `CONNECTION_TIMEOUT` when messages are still unconfirmed after `timeout`
   * ms (they are listed in the `close` event), `CONNECTION_CLOSED` when the
   * peer closed first and will never take some (listed in the `close`
   * event), `SESSION_LOST` when the session was lost while this side waited
   * (a restarted server, listed in the `sessionlost` event; on a server, a
   * client that did not come back within `resumeTimeout`), or the error that
   * ended the session (such as `PROTOCOL_ERROR`). The `close` event carries
   * the same error. Called after the session ended, it resolves: how it
   * ended is in the `close` event, and in the `send` promises. A client with
   * nothing unconfirmed whose connection is down reconnects at once to say
   * goodbye (one that never completed a handshake has no server session,
   * and ends at once); if that attempt fails (its server is gone), the session ends
   * there and `close()` resolves, with no retry (only a connection that
   * carried a frame, then dropped before the goodbye, is followed by one
   * more attempt). Called again
   * while closing, it may shorten the wait (`close({ timeout: 0 })` gives up
   * at once), never lengthen it, and settles with the first. The connection
   * ends cleanly: the GOODBYE, then the peer's end, not a reset that would
   * drop what the peer had not read yet. It outlives the session by at most
   * `deadPeerTimeout` (a peer that reads nothing) plus a second (for the
   * peer's end), and by at most 1 s once `timeout` ran out (a GOODBYE the
   * peer has not read by then is lost); over TLS the adapter's close may
   * wait a second more (docs/protocol.md, "Closing"). A negative `timeout`
   * rejects with a `RangeError` (one that is no number with a `TypeError`),
   * and `options` that are no object (`close(5000)` for
   * `close({ timeout: 5000 })`) or have a key other than `timeout` with a
   * `TypeError`, before anything closes.
   */
  close(options?: ReliableCloseOptions): Promise<void>;
  /** Counters. */
  readonly stats: ReliableStats;
  // The parameter types come from EventTarget, which Node's types (@types/node) have as well as
  // the DOM's: the DOM-only names (AddEventListenerOptions, ...) break Node-only consumers.
  /**
   * Listens for a session event, with its `detail` typed (see
   * {@linkcode ReliableSessionEventMap}).
   *
   * @param type The event.
   * @param listener Called with the event.
   * @param options As for any `EventTarget`.
   */
  addEventListener<K extends keyof ReliableSessionEventMap>(
    type: K,
    listener: (event: ReliableSessionEventMap[K]) => void,
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void;
  /**
   * Listens for any event, as on any `EventTarget`.
   *
   * @param type The event.
   * @param listener Called with the event.
   * @param options As for any `EventTarget`.
   */
  addEventListener(
    type: string,
    listener: Parameters<EventTarget["addEventListener"]>[1],
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void;
  /**
   * Stops listening for a session event.
   *
   * @param type The event.
   * @param listener The listener given to `addEventListener`.
   * @param options As for any `EventTarget`.
   */
  removeEventListener<K extends keyof ReliableSessionEventMap>(
    type: K,
    listener: (event: ReliableSessionEventMap[K]) => void,
    options?: Parameters<EventTarget["removeEventListener"]>[2],
  ): void;
  /**
   * Stops listening, as on any `EventTarget`.
   *
   * @param type The event.
   * @param listener The listener given to `addEventListener`.
   * @param options As for any `EventTarget`.
   */
  removeEventListener(
    type: string,
    listener: Parameters<EventTarget["addEventListener"]>[1],
    options?: Parameters<EventTarget["removeEventListener"]>[2],
  ): void;
}

/** Options for {@linkcode ReliableSession.send}. */
export interface ReliableSendOptions {
  /**
   * Withdraws the message while it waits for room in the send buffer (the
   * promise rejects with the signal's reason and nothing is sent); once the
   * message is in the buffer it is still delivered, and only the promise
   * rejects with the reason. One signal may be given to any number of sends
   * (an application's shutdown signal, say): a session adds one listener to
   * it, and removes it once those sends have settled.
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
}

/** Options for {@linkcode ReliableSession.close}. */
export interface ReliableCloseOptions {
  /**
   * Ms to wait for every message to be confirmed before giving up with a
   * `CONNECTION_TIMEOUT` error: 0 gives up at once, `Infinity` (or more than
   * 2^31 − 1) waits for ever. A `close()` called again while closing may
   * shorten the wait, never lengthen it.
   *
   * @default {the session's `closeTimeout` option}
   */
  timeout?: number | undefined;
}

/** The events of a {@linkcode ReliableSession}, by name. */
export interface ReliableSessionEventMap {
  /**
   * The first handshake completed. A client's; a server hands its sessions
   * over already open (their `open` has fired by then).
   */
  open: CustomEvent<null>;
  /** The connection was lost or an attempt failed. */
  reconnecting: CustomEvent<ReconnectingDetail>;
  /** A handshake on a new connection completed. */
  resumed: CustomEvent<ResumedDetail>;
  /** The peer lost the session. */
  sessionlost: CustomEvent<SessionLostDetail>;
  /** The session ended. */
  close: CustomEvent<CloseDetail>;
}

/** `detail` of the `reconnecting` event. */
export interface ReconnectingDetail {
  /**
   * Client: the number of the next attempt in the current run of failures (1
   * after a working connection was lost). Server: always 0.
   */
  readonly attempt: number;
  /** Client: ms until the next attempt. Server: the ms it waits for the client to return. */
  readonly delay: number;
  /** Why the connection was lost or the attempt failed. */
  readonly error: unknown;
}

/** `detail` of the `resumed` event. */
export interface ResumedDetail {
  /**
   * Unconfirmed messages sent before, to be sent again on the new connection
   * (counted at the handshake). A server writes them once its WELCOME is
   * written: a connection found ended, or replaced, by then gets none, which
   * `stats.resent` tells (it counts only replays handed to a connection).
   */
  readonly replayed: number;
}

/**
 * `detail` of the `sessionlost` event. Its messages are the session's own
 * copies of what was sent, backed by an `ArrayBuffer` (never shared memory,
 * even when the payload given to `send` was): they go to APIs typed for
 * `ArrayBuffer`-backed views (`new Blob([message])`, `crypto.subtle.digest()`)
 * as they are.
 */
export interface SessionLostDetail {
  /**
   * Messages that were sent and never confirmed: the peer may or may not have
   * received them. Their `send` promises reject with `SESSION_LOST` (one
   * whose signal aborted after the message was buffered has rejected with
   * the abort reason already, and is listed all the same).
   */
  readonly unknown: Uint8Array<ArrayBuffer>[];
  /**
   * Messages that never left this side (buffered or waiting for room): the
   * peer did not get them. Their `send` promises reject with `SESSION_LOST`
   * too; the application decides what to send again.
   */
  readonly unsent: Uint8Array<ArrayBuffer>[];
}

/**
 * `detail` of the `close` event. Its messages are, as
 * {@linkcode SessionLostDetail}'s, the session's own copies, backed by an
 * `ArrayBuffer`.
 */
export interface CloseDetail {
  /**
   * Why the session ended, or `undefined` for a graceful close. After this
   * side's `close()`, the error it rejects with (see
   * {@linkcode ReliableSession.close}); the peer's GOODBYE ends a session
   * gracefully when this side had not called `close()`.
   */
  readonly error: Error | undefined;
  /**
   * Messages that were never confirmed (their `send` promises reject, unless
   * one already did with its signal's abort reason): those
   * left when `close()` timed out or an error ended the session, or, when the
   * peer closed first (its GOODBYE), those it will never take. Messages in
   * doubt when the session was lost are in the `sessionlost` event instead.
   */
  readonly unconfirmed: Uint8Array<ArrayBuffer>[];
}

/** The timers a session uses; pass a fake one to test with virtual time. */
export interface Clock {
  /**
   * The current time in ms, on a clock that never goes back: only
   * differences between two readings are used.
   */
  now(): number;
  /**
   * Calls `callback` after `ms` ms, never from within this call (as the
   * global `setTimeout` does, also for 0); returns a handle for `clearTimeout`.
   * A timer whose callback finds `now()` 50 ms or more past its time is taken
   * for a process that did not run: the session sets another of 50 ms and acts
   * then. One that would give up on something (a close's timeout, the peer's
   * silence, `resumeTimeout`, a dial) sets another first however little late
   * it is, of 0 ms, so that what is ready to be read is read before the
   * verdict. A fake clock should fire each timer with `now()` at its time,
   * not move `now()` to the end of an advance first.
   */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** Options shared by {@linkcode reliableClient} and {@linkcode reliableServer} sessions. */
export interface ReliableSessionOptions {
  /**
   * Bytes of unconfirmed messages held for resending; `send` waits while it
   * is full. Each message counts its payload plus 64 bytes, so that empty
   * messages are bounded too. One message larger than the buffer is accepted
   * when the buffer is empty. 1 MiB keeps a loopback or LAN link busy while
   * bounding the memory one session can pin.
   *
   * @default {1048576}
   */
  sendBufferSize?: number | undefined;
  /**
   * Bytes of received messages queued for the iterator before the session
   * stops reading from the connection (so a slow consumer slows the sender
   * down instead of growing memory). Each message counts its payload plus
   * 64 bytes, so that empty messages are bounded too.
   *
   * @default {1048576}
   */
  receiveBufferSize?: number | undefined;
  /**
   * The largest payload in bytes; both sides must agree. An integer; at most
   * 4 GiB − 18 (what a frame's 32-bit length holds), which `Infinity` means.
   *
   * @default {4194304}
   */
  maxMessageSize?: number | undefined;
  /**
   * Ms a received message may wait for its confirmation when nothing is sent
   * the other way to carry it. Short, because `send` resolves on
   * confirmation and the buffer frees on it; long enough to confirm a burst
   * with one ACK. `Infinity` leaves confirmations to `ackEvery`, `ackBytes`
   * and heartbeats (so not with `heartbeatInterval` `Infinity` too).
   *
   * @default {2}
   */
  ackDelay?: number | undefined;
  /**
   * Received messages after which a confirmation goes out at once.
   *
   * @default {32}
   */
  ackEvery?: number | undefined;
  /**
   * Received payload bytes after which a confirmation goes out at once.
   * Well under `sendBufferSize`, so the sender never stalls on a full
   * buffer while its acks wait.
   *
   * @default {65536}
   */
  ackBytes?: number | undefined;
  /**
   * Ms of silence after which a heartbeat (an ACK frame) is sent, so the
   * peer hears from this side at least this often. Each costs both sides a
   * small write and read: with 5,000 idle sessions the default took 13–29 %
   * of a core on a server (Node, Deno, Bun), so a gateway with many idle
   * peers raises it, and `deadPeerTimeout` with it.
   *
   * @default {2500}
   */
  heartbeatInterval?: number | undefined;
  /**
   * Ms without hearing anything from the peer (not a byte: part of a large
   * message counts) after which the connection is declared dead and
   * dropped (then the client reconnects). Four heartbeat
   * intervals: a dead or black-holed peer is detected within 10 s, while a
   * peer stalled by a long GC pause or a busy event loop is not. Time this
   * process itself did not run (stopped, asleep, its event loop blocked) does
   * not count against the peer: the check reads what arrived meanwhile first
   * (a timer tick later; 50 ms later when it came 50 ms or more late, as after
   * a long stop), also when the loop was blocked until just past it. Also
   * bounds the handshake, and a client's `dial` (an attempt that takes longer
   * fails, and the signal passed to `dial` aborts). Make it longer
   * than the peer's `heartbeatInterval`, or an idle link is dropped and
   * reconnected every `deadPeerTimeout`.
   *
   * @default {10000}
   */
  deadPeerTimeout?: number | undefined;
  /**
   * Default `timeout` of `close()` in ms.
   *
   * @default {30000}
   */
  closeTimeout?: number | undefined;
  /**
   * The clock used for every timer.
   *
   * The default reads `performance.now()`, which, unlike `Date.now()`, does
   * not jump when the system's wall clock is set.
   *
   * @default {globalThis's performance.now, setTimeout and clearTimeout}
   */
  clock?: Clock | undefined;
}

/**
 * The reconnect schedule of a client, over consecutive failed attempts (a
 * refused connection, or one dropped before it carried a frame after its
 * handshake that did not break the protocol): attempt 1 is immediate, the first retry is immediate, then
 * `base * factor^(n-2)` ms capped at `cap`, minus up to `jitter` of it at
 * random. A connection that worked resets the schedule. The client tries
 * for ever unless `maxAttempts` says otherwise.
 */
export interface ReconnectOptions {
  /**
   * Delay before the second retry, ms: long enough that a server refusing
   * connections is not hammered, short enough to be unnoticeable. 0 retries
   * at once, for ever (hundreds of attempts a second against a refusing
   * server).
   *
   * @default {100}
   */
  base?: number | undefined;
  /**
   * Growth per further failed attempt.
   *
   * @default {2}
   */
  factor?: number | undefined;
  /**
   * Largest delay, ms: a client notices a returning server within 5 s, and
   * a down server sees at most one attempt per 2.5–5 s from each client.
   *
   * @default {5000}
   */
  cap?: number | undefined;
  /**
   * Fraction of each delay taken off at random (0 to 1), so that clients
   * dropped together do not reconnect in lockstep. Half, not all: the delay
   * stays within `[d/2, d]` and never collapses to 0.
   *
   * @default {0.5}
   */
  jitter?: number | undefined;
  /**
   * The random source for the jitter, returning numbers in [0, 1).
   *
   * @default {Math.random}
   */
  random?: (() => number) | undefined;
  /**
   * Failed attempts in a row after which the client gives up: the session
   * ends with a `ConnectionError` (the `close` event's `error`; `send`
   * promises reject with `CONNECTION_CLOSED` and this error as `cause`, the
   * iterator throws, and a `close()` under way rejects unless everything
   * sent was confirmed, as when its timeout runs out) whose `cause` is the
   * last attempt's error and whose `code` is its code
   * when that is `CONNECTION_REFUSED`, `CONNECTION_RESET` or
   * `CONNECTION_TIMEOUT` (else `CONNECTION_FAILED`). Attempts count as in
   * the `reconnecting` event: after a working connection was lost, the
   * immediate retry is attempt 1, and that event reports attempts up to
   * this number. Messages not yet confirmed are in the `close` event's
   * `unconfirmed`: the server may have received them, and keeps the session
   * for its `resumeTimeout`. `1` fails at the first refusal, e.g. for a
   * command-line tool; a service whose server is expected back keeps the
   * default. An error no retry can mend (a denied permission, a
   * certificate the client does not trust) is retried too: to stop on one,
   * call `close({ timeout: 0 })` from a `reconnecting` listener that sees it.
   *
   * @default {Infinity}
   */
  maxAttempts?: number | undefined;
}

/** Options for {@linkcode reliableClient}. */
export interface ReliableClientOptions extends ReliableSessionOptions {
  /**
   * The reconnect schedule.
   *
   * @default {{ base: 100, factor: 2, cap: 5000, jitter: 0.5, maxAttempts: Infinity }}
   */
  reconnect?: ReconnectOptions | undefined;
}

/** Options for {@linkcode reliableServer}. */
export interface ReliableServerOptions extends ReliableSessionOptions {
  /**
   * Ms a session waits for its client to reconnect before it is dropped
   * (with a `sessionlost` event listing the unconfirmed messages, then
   * `close`). A client that returns later is told its session was lost.
   * Time the server itself did not run does not count against the client:
   * a check that comes 50 ms or more late (the process was stopped or its
   * event loop blocked) waits `resumeTimeout` again from then, once per wait
   * (and so, once, does the record of a session that ended, kept this long
   * to answer a client that missed its GOODBYE). A wait that runs out while
   * the server reads the first frame of connections it accepted waits for
   * them (each within a finite `deadPeerTimeout`), once: one may be the
   * client's.
   *
   * @default {60000}
   */
  resumeTimeout?: number | undefined;
  /**
   * Sessions held at most: open, waiting for their client (as `size`
   * counts them), or ended but not yet taken from the server. A HELLO for a
   * new session beyond that is refused with the reason code of a shutdown
   * (REJECT 2, "server holds its limit of N sessions"): the client counts
   * the attempt as failed and tries again after its backoff. Each session a client
   * opened and dropped stays for `resumeTimeout`, so a server open to
   * clients it does not trust sets this (and perhaps a shorter
   * `resumeTimeout`): any peer can open sessions faster than they expire.
   * It also bounds the sessions that ended here and are remembered (for
   * `resumeTimeout`) to answer a client that missed the final GOODBYE: the
   * oldest is forgotten first, and its client, if it comes back, is told
   * its session was lost. (All of them are forgotten once the listener has
   * ended or `close()` is done.)
   *
   * @default {Infinity}
   */
  maxSessions?: number | undefined;
}

/**
 * The sessions accepted by {@linkcode reliableServer}. The iteration ends at
 * `close()`, or once the listener has ended and the handshakes under way are
 * done (no new session can come); if the listener failed, the first `next()`
 * to get there rejects with its error. A listener that yields a connection
 * `framed()` refuses (not an object, or without `close()` or `closeWrite()`)
 * fails so too, with `framed()`'s `TypeError`: the connection is closed and
 * the listener no longer iterated. Sessions held carry on either way.
 * `B`: the sessions' buffer type (see {@linkcode ReliableSession}).
 */
export interface ReliableServer<B extends ArrayBufferLike = ArrayBufferLike>
  extends AsyncIterable<ReliableSession<B>> {
  /** Sessions currently held (open or waiting for their client). */
  readonly size: number;
  /**
   * Stops accepting sessions (a HELLO for a new one gets REJECT 2, "server
   * is shutting down"), then closes every session as `session.close()` does.
   * Meanwhile connections are still taken, so that the client of a closing
   * session that lost its connection can come back to finish; once all are
   * closed the listener is no longer iterated (closing it stays the caller's
   * job). Resolves once all are closed, even when some timed out; a second
   * call returns the first one's promise.
   *
   * `timeout` bounds each session's wait for its messages to be confirmed,
   * as `session.close({ timeout })` does (default: the sessions'
   * `closeTimeout`, 30 s); a second call with a shorter one shortens the
   * waits still running (`close({ timeout: 0 })` gives up at once). A
   * negative `timeout`, or `options` that are no object (`close(5000)`) or
   * have a key other than `timeout`, rejects as `session.close()` does,
   * before anything closes.
   *
   * @example Shutting down within a deadline
   * ```ts
   * import { reliableServer } from "@framewire/framewire";
   * import { listen } from "@framewire/framewire/node";
   *
   * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
   * const server = reliableServer(listener);
   * // ... then, on SIGTERM: at most 5 s for the sessions' messages to be confirmed
   * // (those that were not are listed in each session's close event).
   * await server.close({ timeout: 5000 });
   * listener.close();
   * ```
   */
  close(options?: ReliableCloseOptions): Promise<void>;
}
