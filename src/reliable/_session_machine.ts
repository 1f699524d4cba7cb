// Copyright 2026 the framewire authors. MIT license.
// The reliable-session state machine. Private, sans-IO: it never touches a
// socket or a timer. Inputs are method calls carrying the current time;
// outputs accumulate in public arrays and fields that the driver drains after
// every input (see docs/protocol.md for the protocol it implements).

import { ConnectionError, type FramingErrorCode } from "../errors.ts";
import { causeText, couldNot } from "../framing/_options.ts";
import { type Backoff, backoffDelay } from "./_backoff.ts";
import {
  ACK,
  ACK_LENGTH,
  DATA,
  DATA_HEADER,
  decodeHandshake,
  encodeAck,
  encodeHandshake,
  encodeReject,
  FLAG_CLOSING,
  FLAG_LOST,
  FLAG_RESUME,
  GOODBYE,
  type Handshake,
  HELLO,
  HELLO_LENGTH,
  PROTOCOL_VERSION,
  readU64,
  REJECT,
  REJECT_CLOSING,
  REJECT_PROTOCOL,
  REJECT_VERSION,
  SESSION_ID_LENGTH,
  setDataAck,
  setDataSeq,
  WELCOME,
} from "./_protocol.ts";
import { plural, toHex } from "../framing/_options.ts";
import type { ReliableSessionState } from "./types.ts";
import { compactable } from "../_fifo.ts";

/** A message accepted for sending. */
export interface Entry {
  /** Its sequence number (0 until accepted). */
  seq: number;
  /**
   * The whole DATA frame, a copy of the payload in framewire's own memory; the
   * payload is `frame.subarray(DATA_HEADER)`.
   */
  readonly frame: Uint8Array<ArrayBuffer>;
  /** Payload bytes. */
  readonly size: number;
  /**
   * Whether it was handed to a connection at least once (its bytes may have
   * reached the peer); see {@linkcode SessionMachine.unwritten}.
   */
  sent: boolean;
  /**
   * Whether it is waiting for room in the send buffer (set by the machine):
   * neither admitted nor withdrawn nor failed yet.
   */
  waiting: boolean;
  /** The driver's handle (the `send` promise's resolvers). */
  readonly token: unknown;
  /** Why it failed, once it is in {@linkcode SessionMachine.failed}. */
  error: Error | undefined;
}

/** Something the application should hear about. */
export type MachineEvent =
  | { type: "open" }
  | { type: "resumed"; replayed: number }
  | { type: "reconnecting"; attempt: number; delay: number; error: unknown }
  | { type: "sessionlost"; unknown: Entry[]; unsent: Entry[] }
  | { type: "close"; error: Error | undefined; unconfirmed: Entry[] };

/** Resolved machine settings. */
export interface MachineOptions {
  /** Which end of the session this is. */
  role: "client" | "server";
  /** The 16-byte session id. */
  id: Uint8Array;
  /** See ReliableSessionOptions. */
  sendBufferSize: number;
  /** See ReliableSessionOptions (at most MAX_MESSAGE_SIZE). */
  maxMessageSize: number;
  /** See ReliableSessionOptions. */
  ackDelay: number;
  /** See ReliableSessionOptions. */
  ackEvery: number;
  /** See ReliableSessionOptions. */
  ackBytes: number;
  /** See ReliableSessionOptions. */
  heartbeatInterval: number;
  /** See ReliableSessionOptions. */
  deadPeerTimeout: number;
  /** Server: see ReliableServerOptions. */
  resumeTimeout: number;
  /** Client: the reconnect schedule. */
  backoff: Backoff;
  /** Client: the jitter's random source. */
  random: () => number;
}

/** A connection code of `error`'s (a framewire error's, or one of another copy's) to keep. */
const KEPT_CODES = new Set(["CONNECTION_REFUSED", "CONNECTION_RESET", "CONNECTION_TIMEOUT"]);

/** The error a client ends its session with once `max` attempts in a row failed. */
function gaveUp(last: unknown, max: number, established: boolean): ConnectionError {
  const code = (last as { code?: unknown } | null | undefined)?.code;
  // Any value a dial rejects with (String() throws for one with no prototype).
  const text = causeText(last);
  // An error in framewire's words ("Cannot connect to … as …") says what the last attempt could
  // not do: not a second "Cannot" in the line.
  const could = couldNot(text);
  const reason = could === undefined ? text : `${max === 1 ? "it" : "the last"} ${could}`;
  return new ConnectionError(
    `Cannot ${established ? "reconnect" : "connect"} as ${
      max === 1 ? "the attempt" : `${max} attempts in a row`
    } failed (reconnect.maxAttempts: ${max}): ${reason}`,
    {
      code: KEPT_CODES.has(code as string) ? code as FramingErrorCode : "CONNECTION_FAILED",
      cause: last,
    },
  );
}

/**
 * The server's words in a REJECT, for an error message: control characters (C0, DEL and C1)
 * and the line and paragraph separators escaped (a peer's newline, NEL or U+2028 would start a
 * line of its own in a log), and none at all said so.
 */
function peerText(text: string): string {
  if (text === "") return "(no reason given)";
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\r"
        ? "\\r"
        : c === "\t"
        ? "\\t"
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** What each message costs against the send buffer on top of its payload. */
export const ENTRY_COST = 64;

/**
 * Ms past its due time from which a timer is late: the process did not run
 * meanwhile (stopped: a laptop asleep, a VM paused, a debugger; or its event
 * loop blocked), as runtimes fire timers a few ms late at most otherwise. A
 * server's resumeTimeout that ends this late has not seen its client stay
 * away: the server could not have answered it (see {@linkcode SessionMachine.tick}).
 */
export const LATE_TIMER_MS = 50;

/** The state of the current connection, if any. */
export type LinkState = "down" | "dialing" | "handshaking" | "up";

/**
 * How the driver should end the current connection: `graceful` once what
 * was written goes out (the GOODBYE last; within `deadPeerTimeout`) and the
 * peer ended it (within a second more); `brief` the same, all within a
 * second (a close that timed out: the connection must not keep the process
 * alive long after it); `abort` now.
 */
export type LinkClose = "none" | "graceful" | "brief" | "abort";

/**
 * One end of a reliable session.
 *
 * Inputs: {@linkcode connected}, {@linkcode receive} (then {@linkcode flush}
 * after a batch), {@linkcode disconnected}, {@linkcode dialFailed},
 * {@linkcode send}, {@linkcode close}, {@linkcode tick},
 * {@linkcode pauseReading}/{@linkcode resumeReading}.
 *
 * Outputs: {@linkcode writes} (frames for the current connection, in order),
 * {@linkcode deliveries} (payloads for the application, in order),
 * {@linkcode confirmed} and {@linkcode failed} (entries whose fate is
 * settled), {@linkcode events}, {@linkcode linkClose} (end the connection),
 * {@linkcode dial} (client: open a connection now), and
 * {@linkcode deadline} (call {@linkcode tick} then).
 */
export class SessionMachine {
  /** Frames to write on the current connection, in order. */
  writes: Uint8Array[] = [];
  /** Received payloads for the application, in order. */
  deliveries: Uint8Array[] = [];
  /** Entries the peer confirmed, in order. */
  confirmed: Entry[] = [];
  /** Entries that will never be confirmed; each carries its `error`. */
  failed: Entry[] = [];
  /** Events, in order. */
  events: MachineEvent[] = [];
  /** Set when the driver must end the current connection. */
  linkClose: LinkClose = "none";
  /** The error behind an abortive {@linkcode linkClose}. */
  linkError: unknown = undefined;
  /** Client: set when the driver must open a connection now. */
  dial = false;

  /** DATA frames sent again (handed to a connection after an earlier one). */
  resent = 0;
  /** Duplicate DATA frames dropped. */
  duplicatesDropped = 0;
  /** Handshakes completed after the first. */
  reconnects = 0;
  /** Payload bytes of unconfirmed entries. */
  bufferedBytes = 0;

  #o: MachineOptions;
  /** The session id: the options' id, until a client adopts the one a WELCOME(LOST) carries. */
  #id: Uint8Array;
  /**
   * Server: this session answered a HELLO with WELCOME(LOST) and has not yet
   * seen that the client got it (a frame after that HELLO, or a HELLO with
   * the new id). Until then a HELLO with the client's old id gets WELCOME(LOST) again.
   */
  #lostPending = false;
  #state: ReliableSessionState = "connecting";
  #link: LinkState = "down";
  #established = false;
  #healthy = false;

  // Sending: entries[head..] are unconfirmed; entries[cursor..] are not yet
  // written on the current connection.
  #entries: (Entry | undefined)[] = [];
  #head = 0;
  #cursor = 0;
  #nextSeq = 1;
  /**
   * The highest seq the current connection's replay holds: entries up to it
   * were sent on an earlier connection, those after it are written first on
   * this one (see {@linkcode unwritten}).
   */
  #replayedUpTo = 0;
  #peerAcked = 0;
  #cost = 0;
  // Entries waiting for room in the send buffer: those of #waiting[#waitHead..] still `waiting`
  // (#withdrawn of them are not: withdrawn behind the first, left in place until passed over or
  // swept out). The first is never a withdrawn one.
  #waiting: Entry[] = [];
  #waitHead = 0;
  #withdrawn = 0;

  // Receiving.
  #lastReceived = 0;
  #pendingAcks = 0;
  #pendingAckBytes = 0;
  #forceAck = false;
  #ackDeadline = Infinity;

  // Liveness.
  #lastHeard = 0;
  #lastWritten = 0;
  #readPaused = false;

  // Reconnecting (client) and waiting for the client (server).
  #failures = 0;
  #dialAt = Infinity;
  #resumeDeadline = Infinity;
  /** Server: this wait's resumeTimeout was renewed once already, after a late check. */
  #resumeRenewed = false;
  /** Server: the end of this wait is put off, until {@linkcode releaseExpiry}. */
  #expiryHeld = false;

  // Closing.
  #closeRequested = false;
  #goodbyeSent = false;
  #closeDeadline = Infinity;
  /** This side's close() was called (the peer's GOODBYE sets #closeRequested too). */
  #closeCalled = false;
  /** close()'s timeout ran out: the connection gets no more time to say goodbye. */
  #closeTimedOut = false;
  /** The peer lost the session while this side was closing, with messages in doubt. */
  #closeLoss: ConnectionError | undefined;

  /**
   * A client starts by asking for a dial; a server session starts waiting
   * for its HELLO (the driver calls {@linkcode connected} then
   * {@linkcode receive} with it).
   */
  constructor(options: MachineOptions, now: number) {
    this.#o = options;
    this.#id = options.id;
    if (options.role === "client") this.#dialAt = now;
  }

  /** The session id (16 bytes); a client takes a new one from a WELCOME(LOST). */
  get id(): Uint8Array {
    return this.#id;
  }

  /** Server: whether a HELLO with the client's former id is still expected (see `#lostPending`). */
  get expectsFormerId(): boolean {
    return this.#lostPending;
  }

  /** The session state. */
  get state(): ReliableSessionState {
    return this.#state;
  }

  /** The connection state. */
  get link(): LinkState {
    return this.#link;
  }

  /** Entries in the send buffer (accepted, not yet confirmed). */
  get inFlight(): number {
    return this.#entries.length - this.#head;
  }

  /** Whether `close` was called (or the peer said goodbye). */
  get closeRequested(): boolean {
    return this.#closeRequested;
  }

  /** The highest sequence number received in order. */
  get lastReceived(): number {
    return this.#lastReceived;
  }

  /** The next sequence number to assign. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  #hasRoom(size: number): boolean {
    return this.#head === this.#entries.length ||
      this.#cost + size + ENTRY_COST <= this.#o.sendBufferSize;
  }

  /** The earliest time {@linkcode tick} has something to do (Infinity: none). */
  get deadline(): number {
    let d = this.#dialAt;
    if (this.#resumeDeadline < d) d = this.#resumeDeadline;
    if (this.#closeDeadline < d) d = this.#closeDeadline;
    const link = this.#link;
    if (link === "up" || link === "handshaking") {
      if (!this.#readPaused) {
        const dead = this.#lastHeard + this.#o.deadPeerTimeout;
        if (dead < d) d = dead;
      }
      if (link === "up") {
        if (this.#ackDeadline < d) d = this.#ackDeadline;
        const beat = this.#lastWritten + this.#o.heartbeatInterval;
        if (beat < d) d = beat;
      }
    }
    return d;
  }

  /** Server: when resumeTimeout ends the wait for the client (Infinity: not waiting). */
  get resumeDeadline(): number {
    return this.#resumeDeadline;
  }

  /**
   * The earliest time {@linkcode tick} gives up on something (Infinity:
   * nothing to give up on): close()'s timeout, a server's resumeTimeout, or
   * the peer's silence (deadPeerTimeout). Each judges what the peer sent by
   * then, so the driver lets what waits unread be read first (see Session's
   * `#onTimer`).
   */
  get verdictAt(): number {
    let d = this.#resumeDeadline < this.#closeDeadline ? this.#resumeDeadline : this.#closeDeadline;
    const link = this.#link;
    if ((link === "up" || link === "handshaking") && !this.#readPaused) {
      const dead = this.#lastHeard + this.#o.deadPeerTimeout;
      if (dead < d) d = dead;
    }
    return d;
  }

  // ---------------------------------------------------------------- inputs

  /**
   * Queues an entry (built by the driver with `newDataFrame`) for sending.
   * It enters the send buffer (and gets its sequence number) as soon as
   * there is room, in call order, and is written at once when connected.
   *
   * @throws {TypeError} The session is closing or closed.
   */
  send(entry: Entry, now: number): void {
    if (this.#closeRequested) throw new TypeError("Cannot send as the session is closing");
    entry.waiting = true;
    this.#waiting.push(entry);
    if (this.#waiting.length - this.#waitHead === 1) this.#admit(now);
  }

  /**
   * Withdraws an entry still waiting for buffer space (its `send` was
   * aborted); false when it is already in the buffer. The entries behind it
   * that fit where it did not wait for {@linkcode admitWaiting}: one signal
   * can abort several sends, and each must be withdrawn before any is
   * admitted.
   */
  withdraw(entry: Entry): boolean {
    if (!entry.waiting) return false;
    entry.waiting = false;
    // Left in place, and passed over when the entries before it are admitted: one signal
    // aborting many sends withdraws them in send order, and a search and splice() per send was
    // quadratic (40,000 sends aborted at once took 8 s on Node).
    if (this.#waiting[this.#waitHead] === entry) this.#dropWaiting(this.#waitHead);
    else if (compactable(++this.#withdrawn, this.#waiting.length - this.#waitHead)) {
      this.#sweepWithdrawn();
    }
    return true;
  }

  /**
   * Takes the withdrawn entries out of the waiting list, once they are more than half of it:
   * else each kept its slot and its frame for as long as the first waiting one got no room
   * (without bound, a send per abort). Amortised linear.
   */
  #sweepWithdrawn(): void {
    const waiting = this.#waiting;
    let kept = 0;
    for (let i = this.#waitHead; i < waiting.length; i++) {
      const entry = waiting[i]!;
      if (entry.waiting) waiting[kept++] = entry;
    }
    waiting.length = kept;
    this.#waitHead = 0;
    this.#withdrawn = 0;
  }

  /** Admits the entries waiting for buffer space that fit now. */
  admitWaiting(now: number): void {
    if (this.#waitHead < this.#waiting.length) this.#admit(now);
  }

  /** Number of entries waiting for buffer space. */
  get waiting(): number {
    return this.#waiting.length - this.#waitHead - this.#withdrawn;
  }

  /**
   * Slots the send buffer and the waiting queue hold, the taken ones at
   * their heads included (for tests: a session never fully confirmed must
   * not grow them).
   */
  get slotsHeld(): number {
    return this.#entries.length + this.#waiting.length;
  }

  #admit(now: number): void {
    const waiting = this.#waiting;
    let i = this.#waitHead;
    let admitted = false;
    while (i < waiting.length) {
      const entry = waiting[i]!;
      if (!this.#hasRoom(entry.size)) break;
      waiting[i] = undefined as unknown as Entry;
      i++;
      entry.waiting = false;
      entry.seq = this.#nextSeq++;
      setDataSeq(entry.frame, entry.seq);
      this.#entries.push(entry);
      this.bufferedBytes += entry.size;
      this.#cost += entry.size + ENTRY_COST;
      admitted = true;
      i = this.#passWithdrawn(i);
    }
    this.#dropWaiting(i);
    if (admitted && this.#link === "up") this.#transmit(now);
  }

  /** The first waiting entry from `i` on, passing over (and letting go of) withdrawn ones. */
  #passWithdrawn(i: number): number {
    const waiting = this.#waiting;
    while (this.#withdrawn > 0 && i < waiting.length && !waiting[i]!.waiting) {
      waiting[i++] = undefined as unknown as Entry;
      this.#withdrawn--;
    }
    return i;
  }

  /**
   * The waiting entries before `i` were taken, and the one at `i` too when
   * it was withdrawn: #waitHead moves to the first still waiting (amortised
   * linear).
   */
  #dropWaiting(i: number): void {
    const waiting = this.#waiting;
    if (i < waiting.length && !waiting[i]!.waiting) {
      waiting[i] = undefined as unknown as Entry;
      i = this.#passWithdrawn(i + 1);
    }
    if (i === waiting.length) {
      waiting.length = 0;
      this.#waitHead = 0;
      this.#withdrawn = 0;
    } else if (compactable(i, waiting.length)) {
      waiting.splice(0, i);
      this.#waitHead = 0;
    } else {
      this.#waitHead = i;
    }
  }

  /** A connection is up (client: dialed; server: accepted with this session's HELLO). */
  connected(now: number): void {
    if (this.#state === "closed") {
      this.#closeLink(
        "abort",
        new ConnectionError("Cannot go on with connection as the session is closed", {
          code: "CONNECTION_CLOSED",
        }),
      );
      return;
    }
    this.#link = "handshaking";
    this.#lastHeard = now;
    this.#lastWritten = now;
    this.#readPaused = false;
    this.#healthy = false;
    if (this.#o.role === "client") {
      const flags = (this.#established ? FLAG_RESUME : 0) |
        (this.#closeRequested ? FLAG_CLOSING : 0);
      this.writes.push(encodeHandshake(HELLO, flags, this.#id, this.#lastReceived));
    } else {
      this.#resumeDeadline = Infinity;
    }
  }

  /**
   * Frames of {@linkcode writes} that the driver never handed to a connection
   * (a server's replay held until its WELCOME is written, on a connection that
   * ended first): their DATA messages did not go out, so a replay among them is
   * not counted in {@linkcode resent}, and a message written for the first
   * time is unsent again (a loss lists it as such, not as unknown). Call it
   * before reporting the connection's end.
   */
  unwritten(frames: readonly Uint8Array[]): void {
    const entries = this.#entries;
    const head = this.#head;
    const base = head < entries.length ? entries[head]!.seq : 0;
    for (const frame of frames) {
      if (frame[0] !== DATA || frame.length < DATA_HEADER) continue;
      const seq = readU64(frame, 1);
      // Entries are consecutive by seq from the head; a confirmed or failed one is gone.
      const entry = seq >= base ? entries[head + seq - base] : undefined;
      if (seq <= this.#replayedUpTo) {
        // Sent on an earlier connection: it stays sent, but this replay did not happen.
        if (entry === undefined || entry.frame === frame) this.resent--;
      } else if (entry?.frame === frame) {
        entry.sent = false;
      }
    }
  }

  /** Client: the dial the machine asked for failed. */
  dialFailed(now: number, error: unknown): void {
    if (this.#link !== "dialing") return;
    this.#link = "down";
    if (this.#state === "closed") return;
    this.#failures++;
    this.#scheduleDial(now, error);
  }

  /** The current connection ended (EOF, error, or the driver dropped it). */
  disconnected(now: number, error: unknown): void {
    const link = this.#link;
    if (link === "down" || link === "dialing") return;
    this.#link = "down";
    this.#readPaused = false;
    this.#ackDeadline = Infinity;
    this.#pendingAcks = 0;
    this.#pendingAckBytes = 0;
    this.#forceAck = false;
    if (this.#state === "closed") return;
    if (this.#goodbyeSent) {
      if (this.#o.role === "server") {
        // Everything we sent is confirmed; if the client missed our GOODBYE
        // the server answers its next HELLO with one (see reliable_server.ts).
        this.#finish(undefined);
        return;
      }
      // The client reconnects to finish the goodbye if this connection worked (within the close
      // timeout); else this drop is the failed attempt that ends the session (#scheduleDial).
      this.#goodbyeSent = false;
    }
    if (this.#state === "open") this.#state = "reconnecting";
    if (this.#o.role === "server") {
      this.#resumeDeadline = now + this.#o.resumeTimeout;
      this.#resumeRenewed = false;
      this.#expiryHeld = false;
      this.events.push({ type: "reconnecting", attempt: 0, delay: this.#o.resumeTimeout, error });
      return;
    }
    // A connection that completed its handshake and then carried a frame
    // worked: reconnect at once. One that died before that counts as failed.
    if (link === "up" && this.#healthy) this.#failures = 0;
    else this.#failures++;
    this.#scheduleDial(now, error);
  }

  /** One frame from the current connection; call {@linkcode flush} after a batch. */
  receive(frame: Uint8Array, now: number): void {
    const link = this.#link;
    if (link === "down" || link === "dialing") return;
    this.#lastHeard = now;
    const type = frame.length > 0 ? frame[0]! : -1;
    if (link === "up") {
      // The client sends nothing before it has the WELCOME: it has the new id.
      this.#lostPending = false;
      if (type === DATA) this.#onData(frame, now);
      else if (type === ACK && frame.length === ACK_LENGTH) this.#onAck(readU64(frame, 1), now);
      else if (type === GOODBYE && frame.length === ACK_LENGTH) this.#onGoodbye(frame, now);
      else {
        const size = plural(frame.length, "byte");
        this.#protocolError(now, `unexpected frame type ${type} (${size})`);
      }
      // The connection worked once it carried a frame that did not break the protocol (one that
      // did dropped it, as a failed attempt: else a peer that breaks it at once on every
      // connection, as a server with a larger maxMessageSize replaying a message too large for
      // this side does, would be retried at once, for ever, whatever maxAttempts says).
      if (this.#link === "up") this.#healthy = true;
      return;
    }
    // Handshaking.
    if (this.#o.role === "client") {
      if (type === WELCOME) this.#onWelcome(frame, now);
      else if (type === GOODBYE && frame.length === ACK_LENGTH) this.#onGoodbye(frame, now);
      else if (type === REJECT && frame.length >= 2) this.#onReject(frame, now);
      else this.#notAServer(frame, now);
    } else {
      if (type === HELLO) this.#onHello(frame, now);
      else this.#protocolError(now, `expected HELLO, received frame type ${type}`);
    }
  }

  /**
   * Bytes arrived on the current connection, though maybe no whole frame:
   * the peer is alive (a frame that takes longer than deadPeerTimeout to
   * arrive must not look like silence).
   */
  heard(now: number): void {
    // Not while handshaking: a peer that trickles bytes and never completes its answer must
    // not hold the handshake open.
    if (this.#link === "up") this.#lastHeard = now;
  }

  /** End of a batch of received frames: decides whether an ACK goes out now. */
  flush(now: number): void {
    if (this.#link !== "up") return;
    if (
      this.#forceAck || this.#pendingAcks >= this.#o.ackEvery ||
      this.#pendingAckBytes >= this.#o.ackBytes || (this.#pendingAcks > 0 && this.#o.ackDelay <= 0)
    ) {
      this.#sendAck(ACK, now);
    } else if (this.#pendingAcks > 0 && this.#ackDeadline === Infinity) {
      this.#ackDeadline = now + this.#o.ackDelay;
    }
  }

  /** Stops waiting for confirmations after `timeout` ms; see ReliableSession.close. */
  close(now: number, timeout: number): void {
    if (this.#state === "closed") return;
    if (this.#closeRequested) {
      // A later close() may shorten the wait (close({ timeout: 0 }) after a close() that waits),
      // never lengthen it.
      if (now + timeout < this.#closeDeadline) {
        this.#closeDeadline = now + timeout;
        if (timeout <= 0) this.tick(now);
      }
      return;
    }
    this.#closeRequested = true;
    this.#closeCalled = true;
    this.#state = "closing";
    this.#closeDeadline = now + timeout;
    if (
      this.#link !== "up" && this.#head === this.#entries.length &&
      this.#waitHead === this.#waiting.length &&
      (this.#o.role === "server" || !this.#established)
    ) {
      // Nothing in doubt, and nobody to say goodbye to: a server cannot reach
      // its client (it answers the client's return from a tombstone), and a
      // client that never got through has no server session. A client that
      // did reconnects to say goodbye. A client whose first HELLO is out may
      // have a server session already: a GOODBYE behind the HELLO ends it
      // (it would wait resumeTimeout for this client otherwise).
      if (this.#o.role === "client" && this.#link === "handshaking") {
        this.#sendGoodbyeBehindHello(now);
      }
      this.#finish(undefined);
      return;
    }
    this.#maybeGoodbye(now);
    if (
      this.#o.role === "client" && this.#link === "down" && this.#dialAt > now &&
      this.#head === this.#entries.length && this.#waitHead === this.#waiting.length
    ) {
      // Nothing in doubt: the reconnect is only to say goodbye, so it is not kept waiting for the
      // rest of a backoff delay (and a failed one ends the session: #scheduleDial).
      this.#dialAt = now;
      this.tick(now);
      return;
    }
    if (timeout <= 0) this.tick(now);
  }

  /** The receive queue is full: stop counting silence as a dead peer. */
  pauseReading(): void {
    this.#readPaused = true;
  }

  /** The receive queue drained: reading again. */
  resumeReading(now: number): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    this.#lastHeard = now;
  }

  /** Time passed: fires whatever is due. */
  tick(now: number): void {
    if (this.#state === "closed") return;
    if (this.#closeDeadline <= now) {
      this.#closeDeadline = Infinity;
      this.#closeTimedOut = true;
      const n = this.inFlight + this.waiting;
      // A client whose HELLO is out says GOODBYE behind it, as at close() in a first handshake:
      // the server ends the session at once instead of waiting resumeTimeout for it.
      if (!this.#goodbyeSent) {
        if (this.#link === "up") this.#sendGoodbye(now);
        else if (this.#link === "handshaking" && this.#o.role === "client") {
          this.#sendGoodbyeBehindHello(now);
        }
      }
      this.#finish(
        n === 0 ? undefined : new ConnectionError(
          `Cannot close session as ${plural(n, "message")} ${
            n === 1 ? "was" : "were"
          } not confirmed in time`,
          { code: "CONNECTION_TIMEOUT" },
        ),
      );
      return;
    }
    if (
      this.#resumeDeadline <= now && !this.#resumeRenewed &&
      now - this.#resumeDeadline >= LATE_TIMER_MS
    ) {
      // Late: this process did not run when the client's time ran out, so the client's attempts
      // meanwhile (refused by no one, answered by no one, given up) say nothing of its absence,
      // and its next may come a backoff delay after the wake. It gets resumeTimeout again from
      // now. Once per wait: a loop starved at every check must not hold a session for ever.
      this.#resumeRenewed = true;
      this.#resumeDeadline = now + this.#o.resumeTimeout;
    }
    if (this.#resumeDeadline <= now) {
      this.#resumeDeadline = Infinity;
      const error = new ConnectionError(
        `Cannot resume session as the client did not reconnect within resumeTimeout (${this.#o.resumeTimeout} ms)`,
        { code: "SESSION_LOST" },
      );
      this.#lose("the client did not reconnect within resumeTimeout", error);
      this.#finish(error);
      return;
    }
    if (this.#dialAt <= now) {
      this.#dialAt = Infinity;
      this.#link = "dialing";
      this.dial = true;
    }
    const link = this.#link;
    if ((link === "up" || link === "handshaking") && !this.#readPaused) {
      if (now - this.#lastHeard >= this.#o.deadPeerTimeout) {
        // Whole ms: the default clock's readings have fractions (performance.now()).
        const silent = Math.round(now - this.#lastHeard);
        const error = new ConnectionError(
          link === "up"
            ? `Cannot read from connection as nothing was heard from the peer for ${silent} ms (deadPeerTimeout ${this.#o.deadPeerTimeout} ms)`
            : `Cannot open session as the handshake took ${silent} ms (deadPeerTimeout ${this.#o.deadPeerTimeout} ms)`,
          { code: "CONNECTION_TIMEOUT" },
        );
        this.#closeLink("abort", error);
        this.disconnected(now, error);
        return;
      }
    }
    this.beat(now);
  }

  /**
   * Sends what {@linkcode tick} would send now (a heartbeat, an ack that
   * waited), and gives up on nothing: the driver calls it when it puts off a
   * late check to read what waits first, so that a peer stopped together
   * with this side (both ends on one machine that slept, or in one process
   * whose event loop was blocked) hears from it before its own check.
   */
  beat(now: number): void {
    if (this.#state === "closed" || this.#link !== "up") return;
    if (this.#ackDeadline <= now || now - this.#lastWritten >= this.#o.heartbeatInterval) {
      this.#sendAck(ACK, now);
    }
  }

  /**
   * Server: puts off the end of the wait for the client that {@linkcode tick}
   * would give at `now` (its resumeTimeout ran out, and the check is not
   * late), until {@linkcode releaseExpiry}: the server is reading the first
   * frames of connections it accepted, and one may be this client's HELLO.
   * False (nothing put off) otherwise. Once per wait: the release ends it.
   */
  holdExpiry(now: number): boolean {
    if (
      this.#o.role !== "server" || this.#state === "closed" || this.#resumeDeadline > now ||
      // A late check renews the wait instead (see tick()).
      (!this.#resumeRenewed && now - this.#resumeDeadline >= LATE_TIMER_MS)
    ) {
      return false;
    }
    this.#expiryHeld = true;
    this.#resumeDeadline = Infinity;
    return true;
  }

  /**
   * Server: the connections {@linkcode holdExpiry} waited for have been read:
   * the wait ends now unless one of them brought the client back.
   */
  releaseExpiry(now: number): void {
    if (!this.#expiryHeld) return;
    this.#expiryHeld = false;
    if (this.#state === "closed" || this.#link !== "down") return;
    // Not a late check: the time went to reading those connections.
    this.#resumeDeadline = now;
    this.tick(now);
  }

  /** Server: the server is shutting down; refuse this HELLO. */
  static reject(reason: "closing" | "version" | "protocol", message: string): Uint8Array {
    const code = reason === "closing"
      ? REJECT_CLOSING
      : reason === "version"
      ? REJECT_VERSION
      : REJECT_PROTOCOL;
    return encodeReject(code, message);
  }

  // ------------------------------------------------------------- internals

  #scheduleDial(now: number, error: unknown): void {
    const max = this.#o.backoff.maxAttempts;
    // After a close() with everything confirmed a reconnect is only to say goodbye, a courtesy:
    // the first attempt that fails ends the session, as running out of attempts or of close()'s
    // timeout does, and close() resolves (a server that never got the GOODBYE holds the session
    // for its resumeTimeout). Else a client whose server is gone took closeTimeout to close. A
    // connection that worked and then dropped (#failures reset) is followed by one more attempt.
    const confirmed = this.#closeCalled && this.inFlight + this.waiting === 0;
    if (this.#failures >= max || (confirmed && this.#failures > 0)) {
      this.#finish(
        confirmed ? undefined : gaveUp(error, max, this.#established),
      );
      return;
    }
    const delay = backoffDelay(this.#failures, this.#o.backoff, this.#o.random);
    this.#dialAt = now + delay;
    this.events.push({ type: "reconnecting", attempt: this.#failures + 1, delay, error });
  }

  #transmit(now: number): void {
    const entries = this.#entries;
    if (this.#cursor < this.#head) this.#cursor = this.#head;
    if (this.#cursor >= entries.length) return;
    const ack = this.#lastReceived;
    for (let i = this.#cursor; i < entries.length; i++) {
      const entry = entries[i]!;
      setDataAck(entry.frame, ack);
      if (entry.sent) this.resent++;
      else entry.sent = true;
      this.writes.push(entry.frame);
    }
    this.#cursor = entries.length;
    this.#ackWritten(now);
  }

  #ackWritten(now: number): void {
    this.#pendingAcks = 0;
    this.#pendingAckBytes = 0;
    this.#forceAck = false;
    this.#ackDeadline = Infinity;
    this.#lastWritten = now;
  }

  #sendAck(type: number, now: number): void {
    this.writes.push(encodeAck(type, this.#lastReceived));
    this.#ackWritten(now);
  }

  #onData(frame: Uint8Array, now: number): void {
    if (frame.length < DATA_HEADER) {
      this.#protocolError(now, `DATA frame of ${plural(frame.length, "byte")}`);
      return;
    }
    // The framing's limit is at least 1 KiB (a HELLO fits): a smaller maxMessageSize is this.
    if (frame.length - DATA_HEADER > this.#o.maxMessageSize) {
      this.#protocolError(
        now,
        `DATA payload of ${
          frame.length - DATA_HEADER
        } bytes exceeds maxMessageSize ${this.#o.maxMessageSize} (both sides must agree on it)`,
      );
      return;
    }
    const seq = readU64(frame, 1);
    const ack = readU64(frame, 9);
    // A GOODBYE this ack makes due waits for the message: it arrived before the GOODBYE went
    // out, so it is delivered and the GOODBYE's ack confirms it.
    if (!this.#onAck(ack, now, false)) return;
    if (this.#goodbyeSent) return; // we promised the peer to deliver nothing more
    if (seq === this.#lastReceived + 1) {
      this.#lastReceived = seq;
      // A view made with the constructor: cheaper than subarray() per message on V8.
      this.deliveries.push(
        new Uint8Array(frame.buffer, frame.byteOffset + DATA_HEADER, frame.length - DATA_HEADER),
      );
      this.#pendingAcks++;
      this.#pendingAckBytes += frame.length - DATA_HEADER;
    } else if (seq >= 1 && seq <= this.#lastReceived) {
      this.duplicatesDropped++;
      this.#forceAck = true; // the peer may have missed our ack
    } else {
      this.#protocolError(now, `DATA seq ${seq} after ${this.#lastReceived}`);
      return;
    }
    this.#maybeGoodbye(now);
  }

  /**
   * Applies a cumulative ack, then says goodbye if that was the last thing a
   * close waited for (unless `goodbye` is false); false (and the connection
   * dropped) when the ack is impossible.
   */
  #onAck(ack: number, now: number, goodbye = true): boolean {
    // -1: at or above 2^53 (readU64), which no sender reaches.
    if (ack <= this.#peerAcked && ack >= 0) return true;
    if (ack >= this.#nextSeq || ack < 0) {
      this.#protocolError(
        now,
        ack < 0
          ? "ack of 2^53 or more"
          : `ack ${ack} for messages never sent (next is ${this.#nextSeq})`,
      );
      return false;
    }
    this.#confirmUpTo(ack, now);
    if (goodbye) this.#maybeGoodbye(now);
    return true;
  }

  /** Confirms entries up to `ack`, then admits waiting entries into the freed room. */
  #confirmUpTo(ack: number, now: number): void {
    const entries = this.#entries;
    let head = this.#head;
    while (head < entries.length) {
      const entry = entries[head]!;
      if (entry.seq > ack) break;
      entries[head] = undefined;
      head++;
      this.bufferedBytes -= entry.size;
      this.#cost -= entry.size + ENTRY_COST;
      this.confirmed.push(entry);
    }
    this.#head = head;
    if (this.#cursor < head) this.#cursor = head;
    if (ack > this.#peerAcked) this.#peerAcked = ack;
    if (head === entries.length) {
      entries.length = 0;
      this.#head = this.#cursor = 0;
    } else if (compactable(head, entries.length)) {
      entries.splice(0, head);
      this.#cursor -= head;
      this.#head = 0;
    }
    if (this.#waitHead < this.#waiting.length) this.#admit(now);
  }

  #maybeGoodbye(now: number): void {
    if (
      this.#closeRequested && !this.#goodbyeSent && this.#link === "up" &&
      this.#head === this.#entries.length && this.#waitHead === this.#waiting.length &&
      this.#state !== "closed"
    ) {
      this.#sendGoodbye(now);
    }
  }

  #sendGoodbye(now: number): void {
    this.#goodbyeSent = true;
    this.#sendAck(GOODBYE, now);
  }

  /**
   * A client's GOODBYE behind its HELLO, not yet answered. It acks 0: the HELLO carried our
   * lastReceived, and a server that does not know the session answers it with a fresh one (under
   * a new id, WELCOME(LOST)) that has sent nothing, where our old ack would be a protocol error
   * and leave that session waiting resumeTimeout. 0 is an ack either answer takes.
   */
  #sendGoodbyeBehindHello(now: number): void {
    this.#goodbyeSent = true;
    this.writes.push(encodeAck(GOODBYE, 0));
    this.#ackWritten(now);
  }

  #onGoodbye(frame: Uint8Array, now: number): void {
    const ack = readU64(frame, 1);
    if (!this.#onAck(ack, now)) return;
    // The peer delivers nothing past `ack`: what is left will never arrive.
    if (!this.#goodbyeSent) {
      this.#closeRequested = true;
      this.#sendGoodbye(now);
    }
    this.#finish(undefined);
  }

  #onHello(frame: Uint8Array, now: number): void {
    const hello = decodeHandshake(frame);
    if (hello === undefined) {
      this.#protocolError(now, "malformed HELLO");
      return;
    }
    if (hello.version !== PROTOCOL_VERSION) {
      this.writes.push(
        SessionMachine.reject("version", `unsupported protocol version ${hello.version}`),
      );
      this.#closeLink("graceful", undefined);
      this.disconnected(
        now,
        new ConnectionError(
          `Cannot accept session as the client speaks protocol version ${hello.version}, not ${PROTOCOL_VERSION}`,
          { code: "PROTOCOL_ERROR" },
        ),
      );
      return;
    }
    const refused = this.helloError(hello);
    if (refused !== undefined) {
      this.#protocolError(now, refused);
      return;
    }
    const lost = this.#helloLost(hello);
    this.#lostPending = lost;
    if (!lost) this.#confirmUpTo(hello.lastReceived, now);
    this.writes.push(
      encodeHandshake(WELCOME, lost ? FLAG_LOST : 0, this.#id, this.#lastReceived),
    );
    this.#linkUp(now);
  }

  /**
   * Server: why `hello` (a decoded HELLO of this version) is a protocol
   * error for this session, or undefined if it is not. The server asks
   * before it attaches the HELLO's connection (which replaces the session's
   * live one), so that such a HELLO gets REJECT 3 and leaves the session be.
   */
  helloError(hello: Handshake): string | undefined {
    // A HELLO to resume with another id than this session's: the session was started afresh
    // under a new id for it, and the WELCOME(LOST) saying so may have been cut off.
    if (
      !equalIds(hello.id, this.#id) &&
      !((hello.flags & FLAG_RESUME) !== 0 && (this.#lostPending || !this.#established))
    ) {
      return "HELLO for another session id";
    }
    if (!this.#helloLost(hello) && hello.lastReceived >= this.#nextSeq) {
      return `HELLO acks ${hello.lastReceived} but next is ${this.#nextSeq}`;
    }
    return undefined;
  }

  /** Whether `hello` is answered with WELCOME(LOST): its `lastReceived` counts in another session. */
  #helloLost(hello: Handshake): boolean {
    return (hello.flags & FLAG_RESUME) !== 0 &&
      (!equalIds(hello.id, this.#id) || !this.#established);
  }

  #onWelcome(frame: Uint8Array, now: number): void {
    const welcome = decodeHandshake(frame);
    if (welcome !== undefined && welcome.version !== PROTOCOL_VERSION) {
      // As fatal as REJECT "unsupported version": retrying would get the same answer.
      this.#finish(
        new ConnectionError(
          `Cannot open session as the server speaks protocol version ${welcome.version}, not ${PROTOCOL_VERSION}`,
          { code: "PROTOCOL_ERROR" },
        ),
      );
      return;
    }
    if (welcome === undefined) {
      this.#protocolError(now, "malformed WELCOME");
      return;
    }
    if ((welcome.flags & FLAG_LOST) !== 0 && !this.#established) {
      // LOST says the server had no state for a session we asked to resume; our HELLO (without
      // RESUME until a handshake completed) asked for none, so the server contradicts it.
      this.#protocolError(now, "WELCOME with LOST in answer to a HELLO without RESUME");
      return;
    }
    if ((welcome.flags & FLAG_LOST) !== 0) {
      this.#lose();
      // The server started the session afresh under the id it sends.
      this.#id = welcome.id;
      if (this.#closeRequested) {
        // Closing, and the server no longer knows the session. If the HELLO did not say CLOSING
        // (close() came after it), the server started a fresh session for this client: a
        // GOODBYE ends it at once instead of after resumeTimeout.
        this.#sendGoodbye(now);
        this.#finish(undefined);
        return;
      }
    } else {
      if (!equalIds(welcome.id, this.#id)) {
        this.#protocolError(now, "WELCOME for another session id");
        return;
      }
      if (welcome.lastReceived >= this.#nextSeq) {
        this.#protocolError(
          now,
          `WELCOME acks ${welcome.lastReceived} but next is ${this.#nextSeq}`,
        );
        return;
      }
      const before = this.#peerAcked;
      this.#confirmUpTo(welcome.lastReceived, now);
      // The server got messages we never saw confirmed: the previous
      // connection worked after all (its acks were cut off), so the schedule resets.
      if (this.#peerAcked > before) this.#failures = 0;
    }
    this.#linkUp(now);
  }

  #onReject(frame: Uint8Array, now: number): void {
    const reason = frame[1]!;
    const message = peerText(new TextDecoder().decode(frame.subarray(2)));
    if (reason === REJECT_VERSION) {
      this.#finish(
        new ConnectionError(`Cannot open session as the server rejected it: ${message}`, {
          code: "PROTOCOL_ERROR",
        }),
      );
      return;
    }
    const error = new ConnectionError(
      `Cannot connect as the server rejected the connection: ${message}`,
      {
        code: reason === REJECT_CLOSING ? "CONNECTION_CLOSED" : "PROTOCOL_ERROR",
      },
    );
    this.#closeLink("abort", error);
    this.disconnected(now, error);
  }

  /**
   * The session is lost (`why`: the peer lost it, or on a server its client
   * did not come back in time): report every unconfirmed entry, start afresh.
   * `ending`: the error the session ends with at once (the `close` event's),
   * which each entry's error carries as its `cause`, as {@linkcode #finish}
   * gives it.
   */
  #lose(why = "the peer lost the session", ending?: ConnectionError): void {
    const lost = this.#entries.length - this.#head + this.waiting;
    if (lost > 0 && this.#closeCalled) {
      // close() was to confirm these: the close that follows is not a clean one.
      this.#closeLoss ??= new ConnectionError(
        `Cannot close session cleanly as the peer lost it: ${
          plural(lost, "message")
        } sent before close() ${lost === 1 ? "was" : "were"} not confirmed`,
        { code: "SESSION_LOST" },
      );
    }
    // Closing: the session ends with this loss (see #onWelcome); else it goes on afresh.
    const cause = ending ?? (this.#closeRequested ? this.#closeLoss : undefined);
    const options = cause === undefined
      ? { code: "SESSION_LOST" as const }
      : { code: "SESSION_LOST" as const, cause };
    const unknown: Entry[] = [];
    const unsent: Entry[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      // A message never sent was certainly not delivered: its error says so.
      entry.error = new ConnectionError(
        entry.sent
          ? `Cannot confirm message ${entry.seq} as ${why}: it may or may not have been delivered`
          : `Cannot send message ${entry.seq} as ${why}`,
        options,
      );
      (entry.sent ? unknown : unsent).push(entry);
      this.failed.push(entry);
    }
    for (const entry of this.#takeWaiting()) {
      entry.error = new ConnectionError(`Cannot send message as ${why}`, options);
      unsent.push(entry);
      this.failed.push(entry);
    }
    this.#entries = [];
    this.#head = this.#cursor = 0;
    this.#nextSeq = 1;
    this.#peerAcked = 0;
    this.#lastReceived = 0;
    this.bufferedBytes = 0;
    this.#cost = 0;
    if (lost > 0 || !this.#closeRequested) {
      this.events.push({ type: "sessionlost", unknown, unsent });
    }
  }

  #takeWaiting(): Entry[] {
    const out: Entry[] = [];
    for (let i = this.#waitHead; i < this.#waiting.length; i++) {
      const entry = this.#waiting[i]!;
      if (!entry.waiting) continue; // withdrawn
      entry.waiting = false;
      out.push(entry);
    }
    this.#waiting = [];
    this.#waitHead = 0;
    this.#withdrawn = 0;
    return out;
  }

  #linkUp(now: number): void {
    this.#link = "up";
    this.#lastHeard = now;
    this.#cursor = this.#head;
    let replayed = 0;
    this.#replayedUpTo = 0;
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (!entry.sent) break; // those sent are the oldest: a prefix
      replayed++;
      this.#replayedUpTo = entry.seq;
    }
    if (this.#state !== "closing") this.#state = "open";
    if (this.#established) {
      this.reconnects++;
      this.events.push({ type: "resumed", replayed });
    } else {
      this.#established = true;
      this.events.push({ type: "open" });
    }
    // #failures is reset only once this connection carries a frame (#healthy).
    this.#transmit(now);
    this.#ackWritten(now); // the handshake carried our lastReceived
    this.#maybeGoodbye(now);
  }

  #protocolError(now: number, message: string): void {
    this.#linkFailed(
      now,
      `Cannot read from connection as the peer broke the protocol: ${message}`,
    );
  }

  /**
   * Client: the answer to its HELLO is no WELCOME, GOODBYE or REJECT: the peer
   * is no framewire reliable server (an echo server, a server of another
   * protocol that speaks length-prefixed frames). Said with what it sent.
   */
  #notAServer(frame: Uint8Array, now: number): void {
    const echo = frame.length === HELLO_LENGTH && frame[0] === HELLO &&
      equalIds(frame.subarray(3, 3 + SESSION_ID_LENGTH), this.#id);
    this.#linkFailed(
      now,
      `Cannot open session as the peer is not a framewire reliable server: ${
        echo
          ? "it sent this client's HELLO back (an echo server?)"
          : `it answered the HELLO with a frame of ${plural(frame.length, "byte")}${
            frame.length === 0 ? "" : ` (${toHex(frame, 16)})`
          }, not a WELCOME, GOODBYE or REJECT`
      }`,
    );
  }

  #linkFailed(now: number, message: string): void {
    const error = new ConnectionError(message, { code: "PROTOCOL_ERROR" });
    this.#closeLink("abort", error);
    this.disconnected(now, error);
  }

  #closeLink(how: LinkClose, error: unknown): void {
    if (how === "abort" || this.linkClose === "none") {
      this.linkClose = how;
      this.linkError = error;
    }
  }

  /**
   * Ends the session with `error` (the `close` event's). A lost session's
   * messages were failed by {@linkcode #lose} first: those left here fail with
   * `CONNECTION_CLOSED`.
   */
  #finish(error: Error | undefined): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#closeRequested = true;
    const unconfirmed: Entry[] = [];
    // close() resolves only if every message unconfirmed when it was called got confirmed: the
    // close event carries the error it rejects with (the iterator ends cleanly all the same).
    error ??= this.#closeLoss;
    const left = this.#entries.length - this.#head + this.waiting;
    if (error === undefined && this.#closeCalled && left > 0) {
      // The peer closed first (its GOODBYE): it will never take these.
      error = new ConnectionError(
        `Cannot confirm ${plural(left, "message")} as the peer closed the session first`,
        { code: "CONNECTION_CLOSED" },
      );
    }
    // Each message's error says why the session ended (the close event's error, whenever there
    // is one: a give-up, a close timeout, a version mismatch, the peer closing first) through its
    // cause; its code stays the message's own.
    const options = error === undefined
      ? { code: "CONNECTION_CLOSED" as const }
      : { code: "CONNECTION_CLOSED" as const, cause: error };
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      entry.error = new ConnectionError(
        entry.sent
          ? `Cannot confirm message ${entry.seq} as the session closed before the peer confirmed it`
          : `Cannot send message ${entry.seq} as the session closed`,
        options,
      );
      unconfirmed.push(entry);
      this.failed.push(entry);
    }
    for (const entry of this.#takeWaiting()) {
      entry.error = new ConnectionError("Cannot send message as the session closed", options);
      unconfirmed.push(entry);
      this.failed.push(entry);
    }
    this.#entries = [];
    this.#head = this.#cursor = 0;
    this.bufferedBytes = 0;
    this.#cost = 0;
    this.#dialAt =
      this.#resumeDeadline =
      this.#closeDeadline =
      this.#ackDeadline =
        Infinity;
    if (this.#link === "up" || this.#link === "handshaking") {
      this.#closeLink(
        !this.#goodbyeSent ? "abort" : this.#closeTimedOut ? "brief" : "graceful",
        error,
      );
    }
    if (this.#link !== "dialing") this.#link = "down";
    this.events.push({ type: "close", error, unconfirmed });
  }
}

function equalIds(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
