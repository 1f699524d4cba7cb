// Copyright 2026 the framewire authors. MIT license.
// The driver shared by client and server sessions: owns the timer, the
// current connection (through framed()), the receive queue and the promises;
// feeds the sans-IO SessionMachine and carries out what it asks. Private.

import type { Conn } from "../connection/types.ts";
import { framed, type FramedConnection } from "../connection/framed.ts";
import { connectionError, reasonOf } from "../adapters/_errors.ts";
import { Fifo } from "../_fifo.ts";
import {
  ConnectionError,
  FrameTooLargeError,
  FramingError,
  TruncatedFrameError,
} from "../errors.ts";
import {
  bytesHint,
  checkOptionNames,
  checkOptions,
  detachedPayload,
  fixedOverhead,
  isDetached,
  isSignalLike,
  numberError,
  plural,
  receivedValue,
  signalError,
  toHex,
  withFixedOverhead,
} from "../framing/_options.ts";
import { HeaderDecoder } from "../framing/_header_decoder.ts";
import { lengthPrefixed } from "../framing/length_prefixed.ts";
import type { Framing } from "../framing/types.ts";
import {
  ACK,
  ACK_LENGTH,
  DATA_HEADER,
  encodeAck,
  FrameAllocator,
  type Handshake,
  idToHex,
} from "./_protocol.ts";
import { type Resolvers, resolvers } from "./_resolvers.ts";
import {
  type Entry,
  ENTRY_COST,
  LATE_TIMER_MS,
  type LinkState,
  type MachineEvent,
  type MachineOptions,
  SessionMachine,
} from "./_session_machine.ts";
import type {
  Clock,
  CloseDetail,
  ReliableCloseOptions,
  ReliableSendOptions,
  ReliableSession,
  ReliableSessionOptions,
  ReliableSessionState,
  ReliableStats,
  SessionLostDetail,
} from "./types.ts";

const noop = (): void => {};

/**
 * Ms a link whose session ended waits for the peer's end once its last
 * frames are written, and a link whose session's `close()` timed out takes
 * at most to write them and see that end (see `#closeLinkGracefully`): not
 * `deadPeerTimeout`, with `close()` settled and the connection keeping the
 * process alive meanwhile (a `deadPeerTimeout` shorter than this bounds
 * both instead).
 */
export const LINGER_LIMIT = 1000;

/**
 * Ms after its deadline from which the session's timer counts as overdue: the
 * process did not run meanwhile (suspended: a laptop asleep, a VM paused, a
 * debugger) or its event loop was blocked (runtimes fire timers a few ms late
 * at most otherwise). An overdue timer waits this long again, for the I/O that
 * waited with it (see `#onTimer`). The machine's own measure of a late timer.
 */
export const OVERDUE_MS: number = LATE_TIMER_MS;

/** Reads `frames` to their end (or failure), dropping them. */
async function drain(frames: AsyncIterator<Uint8Array[]>): Promise<void> {
  while (!(await frames.next()).done);
}

/**
 * The web-standard timers, and a monotonic `now`: the wall clock (`Date.now()`)
 * jumps when it is set (NTP at boot, a user, a VM resumed), which would
 * declare a live peer dead at once or hold heartbeats back until it caught up.
 */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The longest delay timers take (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_DELAY: number = 2 ** 31 - 1;

/**
 * Calls `callback` after `ms` on `clock`; no timer at all for a delay longer
 * than {@linkcode MAX_DELAY} (`Infinity`: never).
 */
export function timeoutAfter(clock: Clock, callback: () => void, ms: number): unknown {
  return ms > MAX_DELAY ? undefined : clock.setTimeout(callback, ms);
}

/** Cancels a timer of {@linkcode timeoutAfter} (none: nothing to do). */
export function cancelTimeout(clock: Clock, handle: unknown): void {
  if (handle !== undefined) clock.clearTimeout(handle);
}

/** A timer of {@linkcode timeoutWithGrace}; `handle` is the pending clock timer, if any. */
export interface GraceTimer {
  handle: unknown;
}

/**
 * Calls `callback` after `ms` on `clock`, as {@linkcode timeoutAfter}; but
 * first gives the I/O that is ready a turn, once: a 0 ms timer (an event loop
 * blocked until just past the due time has what came meanwhile unread), or
 * {@linkcode OVERDUE_MS} when the timer fired that much or more past its due
 * time (the process did not run meanwhile, see Session's `#onTimer`). Cancel
 * it with {@linkcode cancelGraceTimer}.
 */
export function timeoutWithGrace(clock: Clock, callback: () => void, ms: number): GraceTimer {
  const timer: GraceTimer = { handle: undefined };
  const due = clock.now() + ms;
  let grace = false;
  const fire = (): void => {
    if (!grace) {
      grace = true;
      timer.handle = clock.setTimeout(fire, clock.now() - due >= OVERDUE_MS ? OVERDUE_MS : 0);
      return;
    }
    timer.handle = undefined;
    callback();
  };
  timer.handle = timeoutAfter(clock, fire, ms);
  return timer;
}

/** Cancels a timer of {@linkcode timeoutWithGrace} (none: nothing to do). */
export function cancelGraceTimer(clock: Clock, timer: GraceTimer | undefined): void {
  if (timer === undefined) return;
  cancelTimeout(clock, timer.handle);
  timer.handle = undefined;
}

/** Options after defaults. */
export interface ResolvedOptions {
  sendBufferSize: number;
  receiveBufferSize: number;
  maxMessageSize: number;
  ackDelay: number;
  ackEvery: number;
  ackBytes: number;
  heartbeatInterval: number;
  deadPeerTimeout: number;
  closeTimeout: number;
  clock: Clock;
}

/**
 * How a duration option's range is worded (`closeTimeout`, `ackDelay`, `resumeTimeout`,
 * `reconnect.base` and `cap`, a `close()`'s `timeout`): one wording for every option in ms that
 * takes 0 to `Infinity`, as framed()'s `close({ timeout })` words its own range.
 */
export const MS_RANGE = "a number of ms from 0 to Infinity";

/**
 * `value`, or `fallback` for `undefined` or `null`, after checking it is a number from 0 up
 * (`Infinity` too); `rule` words that in the message.
 */
function nonNegative(
  name: string,
  value: number | undefined,
  fallback: number,
  action: string,
  rule: string,
): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !(value >= 0)) {
    throw numberError(
      value,
      `Cannot ${action} as ${name} must be ${rule}: received ${receivedValue(value)}`,
    );
  }
  return value;
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  action: string,
): number {
  // A negative number is told the rule it breaks ("must be positive"), as 0 is, not "must be
  // non-negative", which 0 would satisfy; so is a value that is no number.
  if (typeof value === "number" && !(value > 0)) {
    throw new RangeError(
      `Cannot ${action} as ${name} must be positive: received ${receivedValue(value)}`,
    );
  }
  return nonNegative(name, value, fallback, action, "positive");
}

/**
 * A duration in ms from 0 to `Infinity` (`closeTimeout`, `ackDelay`, a server's
 * `resumeTimeout`, the `timeout` of a `close()`; more than a timer takes waits for
 * ever), its range worded as {@linkcode MS_RANGE}.
 */
export function msOption(
  name: string,
  value: number | undefined,
  fallback: number,
  action: string,
): number {
  return nonNegative(name, value, fallback, action, MS_RANGE);
}

/** The largest message a u32 frame carries with its DATA header. */
export const MAX_MESSAGE_SIZE: number = 2 ** 32 - 1 - DATA_HEADER;

/** The options of {@linkcode ReliableSessionOptions}: a client's and a server's. */
export const SESSION_OPTION_NAMES: readonly string[] = [
  "sendBufferSize",
  "receiveBufferSize",
  "maxMessageSize",
  "ackDelay",
  "ackEvery",
  "ackBytes",
  "heartbeatInterval",
  "deadPeerTimeout",
  "closeTimeout",
  "clock",
];

/** The options of `send()` and `close()`. */
const SEND_OPTION_NAMES: readonly string[] = ["signal"];
export const CLOSE_OPTION_NAMES: readonly string[] = ["timeout"];

/**
 * Applies defaults and checks option ranges; `action` ("create client", "create server") starts
 * the messages.
 */
export function resolveOptions(options: ReliableSessionOptions, action: string): ResolvedOptions {
  const maxMessageSize = options.maxMessageSize ?? 4 * 1024 * 1024;
  if (
    maxMessageSize !== Infinity &&
    !(Number.isInteger(maxMessageSize) && maxMessageSize >= 1 &&
      maxMessageSize <= MAX_MESSAGE_SIZE)
  ) {
    throw numberError(
      maxMessageSize,
      `Cannot ${action} as maxMessageSize must be an integer from 1 to ${MAX_MESSAGE_SIZE} or Infinity: received ${
        receivedValue(maxMessageSize)
      }`,
    );
  }
  const ackDelay = msOption("ackDelay", options.ackDelay, 2, action);
  const heartbeatInterval = positive("heartbeatInterval", options.heartbeatInterval, 2500, action);
  const deadPeerTimeout = positive("deadPeerTimeout", options.deadPeerTimeout, 10000, action);
  if (ackDelay === Infinity && heartbeatInterval === Infinity) {
    throw new RangeError(
      `Cannot ${action} as ackDelay and heartbeatInterval are both Infinity: a message sent alone would never be confirmed`,
    );
  }
  const clock = options.clock ?? SYSTEM_CLOCK;
  if (
    typeof clock?.now !== "function" || typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    throw new TypeError(
      `Cannot ${action} as clock must have now(), setTimeout() and clearTimeout(): received ${
        receivedValue(clock)
      }`,
    );
  }
  return {
    sendBufferSize: positive("sendBufferSize", options.sendBufferSize, 1024 * 1024, action),
    receiveBufferSize: positive(
      "receiveBufferSize",
      options.receiveBufferSize,
      1024 * 1024,
      action,
    ),
    maxMessageSize: Math.min(maxMessageSize, MAX_MESSAGE_SIZE),
    ackDelay,
    ackEvery: positive("ackEvery", options.ackEvery, 32, action),
    ackBytes: positive("ackBytes", options.ackBytes, 65536, action),
    heartbeatInterval,
    deadPeerTimeout,
    closeTimeout: msOption("closeTimeout", options.closeTimeout, 30000, action),
    clock,
  };
}

/**
 * The framing reliable sessions use: u32be, room for the largest message plus
 * the DATA header, and at least {@linkcode HANDSHAKE_LIMIT} (a HELLO or a
 * REJECT with its reason must fit, whatever `maxMessageSize`).
 */
export function sessionFraming(maxMessageSize: number): Framing {
  // Framings hold no state of a connection: the sessions of a server (and its handshakes) share
  // the last one made (about 1 KB of closures and objects each: a server made three per session).
  if (lastFraming?.maxMessageSize !== maxMessageSize) {
    lastFraming = {
      maxMessageSize,
      framing: lengthPrefixed({
        maxFrameLength: Math.max(maxMessageSize + DATA_HEADER, HANDSHAKE_LIMIT),
      }),
    };
  }
  return lastFraming.framing;
}

let lastFraming: { maxMessageSize: number; framing: Framing } | undefined;

/**
 * The most bytes a frame may have before the handshake: a HELLO (27 bytes
 * in this version, with room for later ones) or the GOODBYE behind it.
 */
export const HANDSHAKE_LIMIT = 1024;

/** The framing of a handshake's first frames (shared, as the session framing is). */
const HANDSHAKE_FRAMING: Framing = lengthPrefixed({ maxFrameLength: HANDSHAKE_LIMIT });

/**
 * The session framing as a server reads a connection's first frames: at most
 * {@linkcode HANDSHAKE_LIMIT} bytes each, so that a peer that sends a large
 * header first gets no `maxMessageSize` buffer for it. `open()` lifts the
 * limit to the session's once the HELLO is in (the client sends nothing else
 * before the WELCOME); encoding is the session framing's throughout.
 */
export function handshakeFraming(maxMessageSize: number): { framing: Framing; open(): void } {
  const full = sessionFraming(maxMessageSize);
  let decoder: HeaderDecoder | undefined;
  const framing = withFixedOverhead({
    ...full,
    decoder(options) {
      decoder = HANDSHAKE_FRAMING.decoder(options) as HeaderDecoder;
      return decoder;
    },
  }, fixedOverhead(full));
  return { framing, open: () => decoder?.setLimit(full.maxFrameLength) };
}

/**
 * The session framing as a client reads a connection: the server's first
 * frame (WELCOME, GOODBYE or REJECT) at most {@linkcode HANDSHAKE_LIMIT}
 * bytes, as the server reads the HELLO, so that a server (not framewire, or
 * hostile) that announces a large one gets no `maxMessageSize` buffer for it;
 * the limit is the session's from the frame after it on, also in the same read
 * (the replay that follows a WELCOME at once).
 */
export function clientFraming(maxMessageSize: number): Framing {
  const full = sessionFraming(maxMessageSize);
  if (lastClientFraming?.full !== full) {
    const { next, takeAll } = HeaderDecoder.prototype;
    const framing = withFixedOverhead({
      ...full,
      decoder(options) {
        const decoder = HANDSHAKE_FRAMING.decoder(options) as HeaderDecoder;
        // Once the first frame is out: the decoder's own methods, and the session's limit.
        const lift = (): void => {
          decoder.next = next;
          decoder.takeAll = takeAll;
          decoder.setLimit(full.maxFrameLength);
        };
        decoder.next = (): Uint8Array | undefined => {
          const frame = next.call(decoder);
          if (frame !== undefined) lift();
          return frame;
        };
        decoder.takeAll = (out: Uint8Array[]): void => {
          const frame = next.call(decoder);
          if (frame === undefined) return;
          out.push(frame);
          lift();
          takeAll.call(decoder, out);
        };
        return decoder;
      },
    }, fixedOverhead(full));
    lastClientFraming = { full, framing };
  }
  return lastClientFraming.framing;
}

let lastClientFraming: { full: Framing; framing: Framing } | undefined;

/** One connection attached to a session. */
export interface Link {
  readonly conn: Conn;
  readonly fc: FramedConnection;
  readonly frames: AsyncIterator<Uint8Array[]>;
  dead: boolean;
  /** `fc.bytesRead` when the timer last looked. */
  bytesSeen: number;
  /** A standalone ACK handed to `fc` and not written yet. */
  ackPending: boolean;
  /** An ACK came due meanwhile: the latest goes out once that one is written. */
  ackDue: boolean;
  /** Server: the connection's first frame (its WELCOME) is not written yet. */
  firstPending: boolean;
  /** Frames waiting for the first to be written (see `firstPending`). */
  held: Uint8Array[] | undefined;
}

/** Closes what a dial function or listener gave, which may not be a `Conn` at all. */
export function closeQuietly(conn: Conn): void {
  try {
    (conn as Partial<Conn> | null | undefined)?.close?.();
  } catch {
    // Nothing to close.
  }
}

/**
 * Wraps `conn` for a session: framed() with the session framing, whose sends
 * resolve (or reject) once written: a failed write ends the link at once.
 */
export function openLink(conn: Conn, framing: Framing): Link {
  const fc = framed(conn, framing, { highWaterMark: 0 });
  return {
    conn,
    fc,
    frames: fc.batches()[Symbol.asyncIterator](),
    dead: false,
    bytesSeen: 0,
    ackPending: false,
    ackDue: false,
    firstPending: false,
    held: undefined,
  };
}

type VoidResolvers = Resolvers<void>;
/** A signal that sends watch (see Session#watch): those sends, and its listener. */
interface SignalWatch {
  readonly signal: AbortSignal;
  readonly sends: Set<Entry>;
  readonly onAbort: () => void;
}
/** A send's handle: its promise's resolvers, and the watch of its signal, if any. */
type SendToken = VoidResolvers & { watch?: SignalWatch };

interface Reader {
  resolve(result: IteratorResult<Uint8Array>): void;
  reject(error: unknown): void;
}

const DONE: IteratorResult<Uint8Array> = { value: undefined, done: true };
/** `ready` when no send waits. */
const READY: Promise<void> = Promise.resolve();

/**
 * A reliable session: implements {@linkcode ReliableSession} on top of a
 * {@linkcode SessionMachine}. Clients and servers differ only in how
 * connections arrive (see reliable_client.ts and reliable_server.ts).
 */
export class Session extends EventTarget implements ReliableSession {
  #id: string;
  #idBytes: Uint8Array;
  #m: SessionMachine;
  #o: ResolvedOptions;
  #clock: Clock;
  #framing: Framing;
  #link: Link | undefined;
  #timer: unknown = undefined;
  #timerAt = Infinity;
  /** When the pending timer is due: the clock's time when it was set, plus its delay. */
  #timerDue = -Infinity;
  /** The pending timer gives I/O a turn after an overdue one (see #onTimer). */
  #timerGrace = false;
  /** The latest time handed to the machine (see #now). */
  #lastNow = -Infinity;
  #pumping = false;
  #again = false;
  #frames: FrameAllocator;
  /** The promise of the latest framed() send, which already has a rejection handler. */
  #lastSent: Promise<void> | undefined;
  /** The abort signals of sends not settled yet, each with those sends (see #watch). */
  #signals = new Map<unknown, SignalWatch>();

  // Receive queue.
  #queue = new Fifo<Uint8Array>();
  #queueBytes = 0;
  #readers = new Fifo<Reader>();
  #readWake: (() => void) | undefined;

  // End of the session.
  #ended = false;
  #endError: Error | undefined;
  #localClose = false;
  #closeResolvers: VoidResolvers | undefined;
  /** The pending `ready` promise, while sends wait for room. */
  #ready: VoidResolvers | undefined;
  #onEnd: ((error: Error | undefined, lastReceived: number) => void) | undefined;
  /** Server: the first frames the server is reading, if any (see #holdExpiry). */
  #hellos: (() => Promise<void> | undefined) | undefined;
  /** Client: opens a connection. */
  #dialFn: ((signal: AbortSignal) => Promise<Conn>) | undefined;
  /** Client: the dial in progress (a later one replaces it once it timed out), and its timeout. */
  #dialAttempt: AbortController | undefined;
  #dialTimer: GraceTimer | undefined;

  /** @internal Use reliableClient / reliableServer. */
  constructor(
    machine: MachineOptions,
    options: ResolvedOptions,
    hooks: {
      dial?: (signal: AbortSignal) => Promise<Conn>;
      onEnd?: (error: Error | undefined, lastReceived: number) => void;
      hellos?: () => Promise<void> | undefined;
    },
  ) {
    super();
    this.#o = options;
    this.#frames = new FrameAllocator(options.sendBufferSize);
    this.#clock = options.clock;
    this.#framing = clientFraming(options.maxMessageSize);
    this.#m = new SessionMachine(machine, this.#now());
    this.#idBytes = machine.id;
    this.#id = idToHex(machine.id);
    this.#dialFn = hooks.dial;
    this.#onEnd = hooks.onEnd;
    this.#hellos = hooks.hellos;
  }

  /** The session id, hex (a client's changes when the server lost the session). */
  get id(): string {
    const bytes = this.#m.id;
    if (bytes !== this.#idBytes) {
      this.#idBytes = bytes;
      this.#id = idToHex(bytes);
    }
    return this.#id;
  }

  /** @internal Server: whether a HELLO with the id the client had before a loss is still expected. */
  get expectsFormerId(): boolean {
    return this.#m.expectsFormerId;
  }

  /** @internal Server: why `hello` is a protocol error for this session (see SessionMachine). */
  helloError(hello: Handshake): string | undefined {
    return this.#m.helloError(hello);
  }

  /** The current state. */
  get state(): ReliableSessionState {
    return this.#m.state;
  }

  /** Counters. */
  get stats(): ReliableStats {
    const m = this.#m;
    return {
      inFlight: m.inFlight,
      bufferedBytes: m.bufferedBytes,
      waiting: m.waiting,
      resent: m.resent,
      duplicatesDropped: m.duplicatesDropped,
      reconnects: m.reconnects,
    };
  }

  /** See {@linkcode ReliableSession.ready}. */
  get ready(): Promise<void> {
    if (this.#m.waiting === 0 || this.#ended) return READY;
    return (this.#ready ??= resolvers<void>()).promise;
  }

  /** Resolves a pending `ready` once no send waits for room, or the session ended. */
  #checkReady(): void {
    const ready = this.#ready;
    if (ready !== undefined && (this.#m.waiting === 0 || this.#ended)) {
      this.#ready = undefined;
      ready.resolve();
    }
  }

  /** See {@linkcode ReliableSession.send}. */
  send(
    payload: Uint8Array | string,
    options?: ReliableSendOptions,
  ): Promise<void> {
    // A signal that is none is an argument error whatever the session's state (as a payload that
    // is no Uint8Array or string is), and is found before a string is encoded; so are options that
    // are no object, or a signal passed as they (either would be ignored).
    try {
      if (options !== null) checkOptions(options, "send");
    } catch (error) {
      return Promise.reject(error);
    }
    // (Not signalError(): it makes an error, stack and all, for every options object that is
    // not a signal, which made each send with `{}` cost 7 times as much on Node.)
    if (options != null && !("signal" in options) && isSignalLike(options)) {
      return Promise.reject(
        new TypeError(
          "Cannot send as options must be an object such as { signal }: received an AbortSignal",
        ),
      );
    }
    // Keys beyond `signal` are checked (a misspelt one would be ignored): a loop over the keys
    // first, which allocates nothing, and the check, which does, only when there are others.
    if (options != null) {
      for (const key in options) {
        if (key === "signal") continue;
        try {
          checkOptionNames(options, SEND_OPTION_NAMES, "send", "send()");
        } catch (error) {
          return Promise.reject(error);
        }
        break;
      }
    }
    const signal = options?.signal ?? undefined;
    // A signal watched already was checked then.
    const watch = signal === undefined ? undefined : this.#signals.get(signal);
    if (watch === undefined) {
      const badSignal = signalError(signal, "send");
      if (badSignal !== undefined) return Promise.reject(badSignal);
    }
    // Every refusal that needs no encoding comes before a string is encoded straight into its
    // DATA frame, so that a refused send leaves no bytes unused in the slab, and a string too
    // large is not encoded (and copied) first; bytes are copied into theirs once the send is taken.
    const max = this.#o.maxMessageSize;
    let bytes: Uint8Array | undefined;
    let size: number;
    if (typeof payload === "string") {
      // Its UTF-8 is from 1 to 3 bytes per UTF-16 code unit: `size` is its least.
      size = payload.length;
    } else if (payload instanceof Uint8Array) {
      bytes = payload;
      size = bytes.length;
      // A detached payload reads as empty (its copy below would be the engine's own TypeError).
      if (size === 0 && isDetached(bytes)) return Promise.reject(detachedPayload("send message"));
    } else {
      return Promise.reject(
        new TypeError(
          `Cannot send as the payload must be a Uint8Array or a string: received ${
            bytesHint(payload)
          }`,
        ),
      );
    }
    if (size > max) return Promise.reject(tooLarge(size, max, bytes === undefined));
    const closing = this.#m.closeRequested;
    if (closing || signal?.aborted) {
      // Refused whatever its size, but too large is said first, as for bytes: a string that may
      // not fit is measured, not encoded.
      if (bytes === undefined && size * 3 > max) {
        const length = utf8Length(payload as string);
        if (length > max) return Promise.reject(tooLarge(length, max));
      }
      return Promise.reject(
        closing
          ? new ConnectionError("Cannot send as the session is closing or closed", {
            code: "CONNECTION_CLOSED",
          })
          : signal!.reason,
      );
    }
    let frame: Uint8Array<ArrayBuffer>;
    if (bytes === undefined) {
      const made = this.#frames.textFrame(payload as string, max);
      // Its UTF-8 length, over `max`: nothing was taken from the slab, nor copied.
      if (typeof made === "number") return Promise.reject(tooLarge(made, max));
      frame = made;
      size = frame.length - DATA_HEADER;
    } else {
      frame = this.#frames.dataFrame(bytes);
    }
    const token: VoidResolvers = resolvers<void>();
    const entry: Entry = {
      seq: 0,
      frame,
      size,
      sent: false,
      waiting: false,
      token,
      error: undefined,
    };
    this.#m.send(entry, this.#now());
    if (signal !== undefined) this.#watch(signal, watch, entry, token);
    // One pump for the sends of a microtask turn, not one per send.
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(this.#queuedPump);
    }
    return token.promise;
  }

  /**
   * Lets `signal` abort `entry`'s send until it settles. One listener per
   * signal, whatever the number of sends it may abort: an EventTarget looks
   * through its listeners on every addEventListener() (for a duplicate), so
   * one listener per send made each send cost in proportion to those
   * pending (100,000 sends of 16 B sharing a signal took 15 times as long
   * on Node, and 40,000 sends made at once 17 s).
   */
  #watch(
    signal: AbortSignal,
    watch: SignalWatch | undefined,
    entry: Entry,
    token: SendToken,
  ): void {
    if (watch === undefined) {
      const sends = new Set<Entry>();
      const onAbort = (): void => {
        this.#signals.delete(signal);
        signal.removeEventListener("abort", onAbort); // (once: gone already, unless a polyfill ignores it)
        for (const entry of sends) {
          // Withdrawn when still waiting for room; otherwise it stays in the
          // buffer and will be delivered: only the waiting stops. The sends
          // behind it are admitted once the abort is over: the same signal
          // withdraws them too, and must not find one admitted meanwhile.
          if (this.#m.withdraw(entry) && !this.#admitQueued) {
            this.#admitQueued = true;
            queueMicrotask(this.#queuedAdmit);
          }
          (entry.token as VoidResolvers).reject(signal.reason);
        }
        sends.clear(); // let go: those still buffered settle later, watched by none
      };
      watch = { signal, sends, onAbort };
      this.#signals.set(signal, watch);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    watch.sends.add(entry);
    // Let go where the send settles (#settle), not by a reaction to its promise: one per send.
    token.watch = watch;
  }

  /**
   * Settles `entry`'s send (failed: with `entry.error`); its signal stops
   * watching it, and is let go with its last send.
   */
  #settle(entry: Entry, failed: boolean): void {
    const token = entry.token as SendToken;
    if (failed) token.reject(entry.error);
    else token.resolve();
    const watch = token.watch;
    // Not watched, or its signal aborted (which let go of the watch), or other sends left.
    if (watch === undefined || !watch.sends.delete(entry) || watch.sends.size > 0) return;
    this.#signals.delete(watch.signal);
    watch.signal.removeEventListener("abort", watch.onAbort);
  }

  /** See {@linkcode ReliableSession.close}. */
  close(options?: ReliableCloseOptions): Promise<void> {
    let timeout: number;
    try {
      // A number is no timeout (it would be ignored): options must be an object.
      if (options !== null) checkOptions(options, "close session");
      if (options != null) {
        checkOptionNames(options, CLOSE_OPTION_NAMES, "close session", "close()");
      }
      timeout = msOption(
        "timeout",
        options?.timeout,
        this.#o.closeTimeout,
        "close session",
      );
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closeResolvers === undefined) {
      this.#closeResolvers = resolvers<void>();
      this.#closeResolvers.promise.catch(noop);
      if (this.#ended) this.#settleClose();
    }
    // The machine may have ended the session before its close event is dispatched (a listener of
    // the events before it, such as sessionlost, calls this): called after the end, as documented.
    if (!this.#ended && this.#m.state !== "closed") {
      this.#localClose = true;
      this.#m.close(this.#now(), timeout);
      this.#pump();
    }
    return this.#closeResolvers.promise;
  }

  /** Iterates received messages; ends when the session closes. Breaking out does not close it. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: () => Promise.resolve(DONE),
    };
  }

  /** Closes when disposed. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close().catch(noop);
  }

  // ------------------------------------------------------------ for subclasses

  /** Attaches a new connection; `first` holds frames already read from it (server: the HELLO). */
  attach(link: Link, first?: Uint8Array[]): void {
    // Frames of this turn's sends wait for one pump (see send()): they belong to the connection
    // they were sent on, never ahead of the new one's handshake.
    if (this.#m.writes.length > 0) this.#pump();
    const old = this.#link;
    if (old !== undefined) {
      // A reconnecting client's new connection replaces the old one.
      this.#link = undefined;
      this.#killLink(old);
      this.#m.disconnected(
        this.#now(),
        new ConnectionError("Cannot go on with connection as a newer one took over the session", {
          code: "CONNECTION_CLOSED",
        }),
      );
    }
    this.#link = link;
    link.firstPending = first !== undefined;
    this.#m.connected(this.#now());
    this.#pump();
    void this.#readLoop(link, first);
  }

  /** Client: makes the first connection attempt (immediately). */
  start(): void {
    this.#m.tick(this.#now());
    this.#pump();
  }

  // ---------------------------------------------------------------- internals

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ value: this.#shift(), done: false });
    }
    if (this.#ended) {
      const error = this.#iteratorError();
      return error === undefined ? Promise.resolve(DONE) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
  }

  #iteratorError(): Error | undefined {
    return this.#localClose ? undefined : this.#endError;
  }

  #shift(): Uint8Array {
    const value = this.#queue.shift()!;
    this.#queueBytes -= value.length + ENTRY_COST;
    if (this.#readWake !== undefined && this.#queueBytes < this.#o.receiveBufferSize) {
      const wake = this.#readWake;
      this.#readWake = undefined;
      wake();
    }
    return value;
  }

  async #readLoop(link: Link, first: Uint8Array[] | undefined): Promise<void> {
    let error: unknown;
    // Frames read with the handshake while the queue was full, taken once there is room.
    let held: Uint8Array[] | undefined;
    try {
      if (first !== undefined && first.length > 0) held = this.#onBatch(link, first);
      while (!link.dead) {
        // The handshake is read even then: a new connection must come up to send the replay.
        if (this.#queueBytes >= this.#o.receiveBufferSize && this.#m.link === "up") {
          this.#m.pauseReading();
          this.#schedule();
          await new Promise<void>((resolve) => {
            this.#readWake = resolve;
          });
          if (link.dead) break;
          this.#m.resumeReading(this.#now());
          this.#schedule();
        }
        if (held !== undefined) {
          const batch = held;
          held = undefined;
          this.#onBatch(link, batch);
          continue;
        }
        const result = await link.frames.next();
        if (result.done || link.dead) break;
        held = this.#onBatch(link, result.value);
      }
    } catch (e) {
      // A client's first frame: the answer to its HELLO.
      const answer = this.#dialFn !== undefined && this.#m.link === "handshaking";
      error = readError(e, this.#o.maxMessageSize, answer);
    }
    if (link === this.#link) {
      this.#link = undefined;
      this.#killLink(link);
      this.#m.disconnected(
        this.#now(),
        error ??
          new ConnectionError("Cannot read from connection as the peer closed it", {
            code: "CONNECTION_CLOSED",
          }),
      );
      this.#pump();
    }
  }

  /** An ACK was written; the latest goes out if another came due meanwhile. */
  #ackDone(link: Link): void {
    link.ackPending = false;
    if (!link.ackDue || link.dead || link !== this.#link) return;
    link.ackDue = false;
    this.#m.writes.push(encodeAck(ACK, this.#m.lastReceived));
    this.#pump();
  }

  /**
   * A write failed: the connection is gone. Reading would tell as well, but
   * not while the receive queue is full and reading waits for the application.
   */
  #writeFailed(link: Link, error: unknown): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    this.#killLink(link);
    this.#m.disconnected(this.#now(), error);
    this.#pump();
  }

  /**
   * Feeds a batch to the machine. With the queue full, a connection's
   * handshake is taken but not the frames after it: they are returned, to be
   * taken once the application made room (the queue grows by at most one
   * batch, however often the connection is replaced).
   */
  #onBatch(link: Link, batch: Uint8Array[]): Uint8Array[] | undefined {
    if (link !== this.#link) return undefined;
    const m = this.#m;
    const now = this.#now();
    link.bytesSeen = link.fc.bytesRead; // heard now, with the frames
    const handshakeOnly = m.link !== "up" && this.#queueBytes >= this.#o.receiveBufferSize;
    let rest: Uint8Array[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      m.receive(batch[i]!, now);
      if (m.linkClose !== "none") break;
      // (m.link changes inside receive(): no narrowing from the check above.)
      if (handshakeOnly && (m.link as LinkState) === "up") {
        if (i + 1 < batch.length) rest = batch.slice(i + 1);
        break;
      }
    }
    m.flush(now);
    this.#pump();
    return rest;
  }

  #pumpQueued = false;
  #queuedPump = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  #admitQueued = false;
  #queuedAdmit = (): void => {
    this.#admitQueued = false;
    this.#m.admitWaiting(this.#now());
    this.#pump();
  };

  /** Carries out everything the machine asked for. */
  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    const m = this.#m;
    this.#noticeBytes();
    try {
      do {
        this.#again = false;
        if (m.writes.length > 0) {
          const link = this.#link;
          if (link !== undefined && !link.dead) {
            const held = link.held;
            // A loop, not push(...): a send loop can queue more frames than a call takes arguments.
            if (held !== undefined) { for (const frame of m.writes) held.push(frame); }
            else this.#write(link, m.writes);
          } else m.unwritten(m.writes);
          m.writes.length = 0;
        }
        if (m.confirmed.length > 0) {
          for (const entry of m.confirmed) this.#settle(entry, false);
          m.confirmed.length = 0;
        }
        if (m.failed.length > 0) {
          for (const entry of m.failed) this.#settle(entry, true);
          m.failed.length = 0;
        }
        if (m.deliveries.length > 0) this.#deliver(m.deliveries);
        if (m.linkClose !== "none") {
          const how = m.linkClose;
          m.linkClose = "none";
          m.linkError = undefined;
          const link = this.#link;
          this.#link = undefined;
          if (link !== undefined) {
            if (how === "abort") this.#killLink(link);
            else {
              // What waits for the WELCOME to be written goes out before the end (a GOODBYE).
              const held = link.held;
              link.held = undefined;
              if (held !== undefined && !link.dead) this.#write(link, held);
              this.#closeLinkGracefully(link, how === "brief");
            }
          }
        }
        if (m.dial) {
          m.dial = false;
          this.#startDial();
        }
        if (m.events.length > 0) {
          const events = m.events;
          m.events = [];
          for (const event of events) this.#emit(event);
        }
      } while (this.#again);
      this.#schedule();
    } finally {
      this.#pumping = false;
    }
    this.#checkReady();
  }

  /** Hands `frames` to the link (see #pump). */
  #write(link: Link, frames: Uint8Array[]): void {
    const fc = link.fc;
    // framed() shares one promise among the sends coalesced together
    // (across pumps, as one tick's sends each pump once): attach one
    // handler per promise, not per frame.
    let last = this.#lastSent;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      // ACKs are cumulative: one at a time, so that a peer that sends and never reads
      // (duplicates make an ACK each) cannot pile them up here without end.
      const ack = frame[0] === ACK && frame.length === ACK_LENGTH;
      if (ack && link.ackPending) {
        link.ackDue = true;
        continue;
      }
      const sent = fc.send(frame);
      if (sent !== last) {
        last = sent;
        sent.catch((error) => this.#writeFailed(link, error));
      }
      if (ack) {
        link.ackPending = true;
        sent.then(() => this.#ackDone(link), noop);
      }
      if (link.firstPending) {
        // The connection's first frame (a server's WELCOME): what follows waits until it is
        // written, so that a connection its peer had already abandoned (a stopped server's
        // backlog) is seen dead, or replaced, before the replay goes to it.
        link.firstPending = false;
        if (i + 1 < frames.length) {
          link.held = frames.slice(i + 1);
          sent.then(() => this.#releaseHeld(link), noop);
          break;
        }
      }
    }
    this.#lastSent = last;
  }

  #releaseHeld(link: Link): void {
    const held = link.held;
    link.held = undefined;
    if (held === undefined) return;
    if (link.dead || link !== this.#link) this.#m.unwritten(held);
    else this.#write(link, held);
  }

  #deliver(deliveries: Uint8Array[]): void {
    let i = 0;
    const readers = this.#readers;
    while (i < deliveries.length && readers.length > 0) {
      readers.shift()!.resolve({ value: deliveries[i++]!, done: false });
    }
    for (; i < deliveries.length; i++) {
      const d = deliveries[i]!;
      this.#queue.push(d);
      this.#queueBytes += d.length + ENTRY_COST;
    }
    deliveries.length = 0;
  }

  #emit(event: MachineEvent): void {
    switch (event.type) {
      case "open":
        this.dispatchEvent(new CustomEvent("open", { detail: null })); // null on every runtime
        break;
      case "resumed":
        this.dispatchEvent(new CustomEvent("resumed", { detail: { replayed: event.replayed } }));
        break;
      case "reconnecting":
        this.dispatchEvent(
          new CustomEvent("reconnecting", {
            detail: { attempt: event.attempt, delay: event.delay, error: event.error },
          }),
        );
        break;
      case "sessionlost": {
        const detail: SessionLostDetail = {
          unknown: event.unknown.map(payloadOf),
          unsent: event.unsent.map(payloadOf),
        };
        this.dispatchEvent(new CustomEvent("sessionlost", { detail }));
        break;
      }
      case "close": {
        this.#end(event.error);
        const detail: CloseDetail = {
          error: event.error,
          unconfirmed: event.unconfirmed.map(payloadOf),
        };
        this.dispatchEvent(new CustomEvent("close", { detail }));
        break;
      }
    }
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = error;
    this.#checkReady();
    // A dial in progress is no longer wanted (and its timeout must not keep the process alive).
    const dialing = this.#dialAttempt;
    if (dialing !== undefined) {
      this.#dialAttempt = undefined;
      cancelGraceTimer(this.#clock, this.#dialTimer);
      dialing.abort(
        new ConnectionError("Cannot connect as the session closed", { code: "CONNECTION_CLOSED" }),
      );
    }
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
    }
    const readers = this.#readers.drain();
    if (this.#queue.length === 0) {
      const iteratorError = this.#iteratorError();
      for (const reader of readers) {
        if (iteratorError === undefined) reader.resolve(DONE);
        else reader.reject(iteratorError);
      }
    }
    const wake = this.#readWake;
    this.#readWake = undefined;
    wake?.();
    this.#settleClose();
    this.#onEnd?.(error, this.#m.lastReceived);
  }

  #settleClose(): void {
    const closing = this.#closeResolvers;
    if (closing === undefined) return;
    if (this.#endError !== undefined && this.#localClose) closing.reject(this.#endError);
    else closing.resolve();
  }

  /**
   * The clock's time, never behind the time handed to the machine before
   * (see #onTimer).
   */
  #now(): number {
    const now = this.#clock.now();
    return now > this.#lastNow ? (this.#lastNow = now) : this.#lastNow;
  }

  #schedule(): void {
    if (this.#ended) return;
    const deadline = this.#m.deadline;
    if (deadline === Infinity) {
      if (this.#timer !== undefined) {
        this.#clock.clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#timerAt = Infinity;
      }
      return;
    }
    if (this.#timer !== undefined) {
      if (this.#timerAt <= deadline) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerGrace = false;
    this.#timerAt = deadline;
    // A deadline further away than timers reach: wake up then, and look again. The delay runs
    // from the clock's own time, not from one #onTimer moved ahead (an early timer's due time):
    // else each early timer would bring the next one that much earlier, adding up.
    const now = this.#clock.now();
    const delay = Math.min(MAX_DELAY, Math.max(0, deadline - now));
    this.#timerDue = now + delay;
    this.#timer = this.#clock.setTimeout(this.#onTimer, delay);
  }

  /**
   * Bytes of a frame still arriving count as hearing from the peer. Looked at when the timer
   * fires and whenever the session acts (sends, acks), so at least every heartbeatInterval.
   */
  #noticeBytes(): void {
    const link = this.#link;
    if (link !== undefined && link.fc.bytesRead !== link.bytesSeen) {
      link.bytesSeen = link.fc.bytesRead;
      this.#m.heard(this.#now());
    }
  }

  #onTimer = (): void => {
    const deadline = this.#timerAt;
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const grace = this.#timerGrace;
    this.#timerGrace = false;
    const now = this.#clock.now();
    const overdue = now - deadline >= OVERDUE_MS;
    if (
      !grace &&
      (overdue || this.#m.verdictAt <= Math.max(now, this.#timerDue, this.#lastNow))
    ) {
      // Overdue (also when it was set after the deadline had passed: by whatever ran first once
      // the process went on): the process did not run for a while, and what the peer sent
      // meanwhile (its heartbeats, acks) waits unread in the socket, read only after this timer.
      // Judged now, the peer's silence would be this process's own: first the I/O that is ready
      // gets its turn, then the machine looks, OVERDUE_MS later (a 0 ms timer came after that
      // I/O on Node and Bun, but Deno fired one first about once in fifty wake-ups). Once: a loop
      // blocked turn after turn still gets its heartbeats and dead-peer checks.
      // A timer that gives up on something (close()'s timeout, resumeTimeout, the peer's
      // silence: the machine's verdictAt) gives I/O a turn first however little late it is (a
      // 0 ms timer, so the verdict comes a timer tick later): a loop blocked until just after
      // the deadline has what the peer sent meanwhile unread all the same (a close({ timeout })
      // failed so, with every message confirmed).
      this.#timerGrace = true;
      // Kept whatever deadline comes meanwhile: replaced by a timer for the overdue one, it would
      // be overdue again, and sends coming faster than OVERDUE_MS would put the check off for ever.
      this.#timerAt = -Infinity;
      const wait = overdue ? OVERDUE_MS : 0;
      // Not before the due time of this timer, which may have fired a fraction early (below).
      this.#timerDue = Math.max(this.#timerDue, now + wait);
      this.#timer = this.#clock.setTimeout(this.#onTimer, wait);
      // The heartbeat (or ack) that is due goes out now: a peer stopped with this process
      // (both ends on a laptop that slept, or in this very process) gives its I/O the same turn
      // before its own check, and reads it then. Before, each judged the other's silence, which
      // was its own: both dropped the connection, and the client reconnected.
      this.#m.beat(this.#now());
      this.#pump();
      return;
    }
    // A runtime's timers keep time by their own clock (whole ms on Node), so one can fire a
    // fraction of a ms before the clock reaches its due time. Due is due: else the machine finds
    // nothing to do yet and asks for the same deadline again, a second wake-up per heartbeat.
    if (this.#timerDue > this.#lastNow) this.#lastNow = this.#timerDue;
    this.#noticeBytes();
    const at = this.#now();
    this.#holdExpiry(at);
    this.#m.tick(at);
    this.#pump();
  };

  /**
   * Server: a resumeTimeout that ran out (after its grace, a 0 ms turn: the I/O ready then
   * includes the listener's, not the HELLO that comes on a connection accepted in that turn,
   * which takes another read) waits for the first frames the server is reading: one may be this
   * session's client, back in time, its HELLO unread while the event loop was blocked. Before,
   * the session was lost, and that client got WELCOME(LOST). Each read ends within
   * deadPeerTimeout (with Infinity the server offers none to wait for); once per wait.
   */
  #holdExpiry(at: number): void {
    const hellos = this.#hellos;
    if (hellos === undefined || this.#m.resumeDeadline > at) return;
    const reading = hellos();
    if (reading === undefined || !this.#m.holdExpiry(at)) return;
    reading.then(() => {
      this.#m.releaseExpiry(this.#now());
      this.#pump();
    });
  }

  #startDial(): void {
    const dial = this.#dialFn;
    if (dial === undefined) return;
    const token = new AbortController();
    this.#dialAttempt = token;
    // A dial that takes longer than deadPeerTimeout (a black-holed SYN is retried for minutes)
    // fails like a refused one: the next attempt follows the backoff schedule. Overdue, the
    // timer gives I/O its grace first: a connection made while the process did not run (see
    // #onTimer) is taken only after the timer.
    const onTimeout = (): void => {
      if (this.#dialAttempt !== token) return;
      this.#dialAttempt = undefined;
      const error = new ConnectionError(
        `Cannot connect as the attempt took longer than deadPeerTimeout (${this.#o.deadPeerTimeout} ms)`,
        { code: "CONNECTION_TIMEOUT" },
      );
      token.abort(error);
      this.#m.dialFailed(this.#now(), error);
      this.#pump();
    };
    this.#dialTimer = timeoutWithGrace(this.#clock, onTimeout, this.#o.deadPeerTimeout);
    let attempt: Promise<Conn>;
    try {
      // A dial that returns a Conn rather than a promise of one works too.
      attempt = Promise.resolve(dial(token.signal));
    } catch (error) {
      attempt = Promise.reject(error);
    }
    attempt.then(
      (conn) => {
        // Timed out meanwhile, or the session ended: nobody wants this connection.
        if (this.#dialAttempt !== token) return closeQuietly(conn);
        this.#dialAttempt = undefined;
        cancelGraceTimer(this.#clock, this.#dialTimer); // this attempt's (see onTimeout)
        if (this.#m.link !== "dialing") return closeQuietly(conn);
        let link: Link;
        try {
          link = openLink(conn, this.#framing);
        } catch (error) {
          // Not a Conn (a dial function that resolved with something else) fails like a dial.
          closeQuietly(conn);
          this.#m.dialFailed(this.#now(), error);
          this.#pump();
          return;
        }
        this.attach(link);
      },
      (error) => {
        if (this.#dialAttempt !== token) return; // timed out already
        this.#dialAttempt = undefined;
        cancelGraceTimer(this.#clock, this.#dialTimer);
        this.#m.dialFailed(this.#now(), error);
        this.#pump();
      },
    );
  }

  /**
   * Closes `link` at once. What waited for its first frame to be written
   * (a server's replay behind its WELCOME) never goes out: the machine hears
   * so before it hears of the end (a loss lists those messages as unsent).
   */
  #killLink(link: Link): void {
    if (link.dead) return;
    link.dead = true;
    const held = link.held;
    link.held = undefined;
    if (held !== undefined) this.#m.unwritten(held);
    try {
      link.conn.close();
    } catch {
      // already closed
    }
    link.frames.return?.().catch(noop);
    const wake = this.#readWake;
    this.#readWake = undefined;
    wake?.();
  }

  /**
   * Ends a link whose session ended without losing what was written to it:
   * the queued frames (the GOODBYE last), then the FIN; then it reads to the
   * peer's end, dropping what comes, and closes. Closing with bytes of the
   * peer's unread (its acks, its GOODBYE), or with more of them on their way,
   * makes the OS reset the connection, and the reset drops what the kernel
   * still held for the peer: a GOODBYE behind a few hundred KiB in flight was
   * lost so. The frames within `deadPeerTimeout` (a peer that reads
   * nothing), the peer's end within {@linkcode LINGER_LIMIT} more; all of it
   * within `LINGER_LIMIT` after a close that timed out (`brief`).
   */
  #closeLinkGracefully(link: Link, brief: boolean): void {
    if (link.dead) return;
    link.dead = true;
    const wake = this.#readWake;
    this.#readWake = undefined;
    wake?.();
    const close = (): void => {
      try {
        link.conn.close();
      } catch {
        // already closed
      }
    };
    // Armed after closeWrite() has handed the queued frames on (the GOODBYE last): a Clock may run
    // a 0 ms timer before its setTimeout returns. With the overdue grace: a process stopped
    // meanwhile wakes with the room its writes waited for, and the peer's end, ready but not yet
    // taken: closed first, the connection would lose the GOODBYE still queued, or reset.
    const flushed = link.fc.closeWrite();
    const linger = Math.min(LINGER_LIMIT, this.#o.deadPeerTimeout);
    let timer = timeoutWithGrace(this.#clock, close, brief ? linger : this.#o.deadPeerTimeout);
    const done = (): void => {
      cancelGraceTimer(this.#clock, timer);
      close();
    };
    flushed.then(() => {
      // Written: the peer's end is due at once from a live framewire peer (it ends on the
      // GOODBYE), and one that never ends its side must not hold the connection for long.
      if (!brief) {
        cancelGraceTimer(this.#clock, timer);
        timer = timeoutWithGrace(this.#clock, close, linger);
      }
      drain(link.frames).then(done, done);
    }, done);
  }
}

/**
 * What reading a link failed with, as the session reports it: a
 * `ConnectionError` (docs/protocol.md, "Errors"), with the decoder's error as
 * its `cause`. A frame over the session framing's limit breaks the protocol
 * (said in the session's terms, `maxMessageSize`, with the decoder's hint: an
 * HTTP server, TLS, ...), or, read with the HELLO (before the server lifts
 * the limit), in the handshake's; a frame cut by the end of the stream is a
 * connection the peer closed, and one cut by a failed read (a reset, a
 * timeout) is that failure, with its code.
 */
function readError(error: unknown, maxMessageSize: number, answer: boolean): unknown {
  if (error instanceof FrameTooLargeError && answer) {
    // No framewire reliable server answers a HELLO with more than HANDSHAKE_LIMIT bytes: say
    // what the peer is likely to be (the decoder's hint: an HTTP server, TLS, text), else what
    // its header was.
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, error.length);
    return new ConnectionError(
      `Cannot open session as the peer is not a framewire reliable server: it announced a frame of ${error.length} bytes where a frame before the handshake has at most ${error.limit}: ${
        error.hint ?? `its header was ${toHex(header, 16)}`
      }`,
      { code: "PROTOCOL_ERROR", cause: error },
    );
  }
  if (error instanceof FrameTooLargeError) {
    // The server reads the HELLO with HANDSHAKE_LIMIT: a header that came with it was checked
    // against that limit, not the session's.
    const limit = error.limit < Math.max(maxMessageSize + DATA_HEADER, HANDSHAKE_LIMIT)
      ? `a frame before the handshake has at most ${error.limit}`
      : `a session frame has at most ${error.limit} (maxMessageSize ${maxMessageSize} + ${DATA_HEADER}, at least ${HANDSHAKE_LIMIT})`;
    return new ConnectionError(
      `Cannot read from connection as the peer broke the protocol: it announced a frame of ${error.length} bytes where ${limit}${
        error.hint === undefined ? "" : `: ${error.hint}`
      }`,
      { code: "PROTOCOL_ERROR", cause: error },
    );
  }
  if (error instanceof TruncatedFrameError) {
    const of = error.expected === undefined ? "more bytes" : plural(error.expected, "byte");
    const where = `inside a frame (${error.received} of ${of} of its ${error.part})`;
    // framed() gives a frame cut by a failed read (a reset, a timeout) that failure as its cause.
    if (error.cause !== undefined) {
      const failure = connectionError("read from connection", error.cause);
      // Its reason only: an adapter's error says "Cannot read from <address> as <reason>".
      const reason = reasonOf(failure);
      return new ConnectionError(
        `Cannot read from connection as it failed ${where}: ${reason}`,
        { code: failure.code, cause: error },
      );
    }
    return new ConnectionError(
      `Cannot read from connection as the peer closed it ${where}`,
      { code: "CONNECTION_CLOSED", cause: error },
    );
  }
  if (error instanceof FramingError && !(error instanceof ConnectionError)) {
    return new ConnectionError(
      `Cannot read from connection as the peer broke the protocol: ${error.message}`,
      {
        code: "PROTOCOL_ERROR",
        cause: error,
      },
    );
  }
  return error;
}

function payloadOf(entry: Entry): Uint8Array<ArrayBuffer> {
  return entry.frame.subarray(DATA_HEADER);
}

/**
 * The `RangeError` for a payload of `length` bytes over `max` (`maxMessageSize`); `units`: a
 * string refused by its length in UTF-16 code units, not encoded (its UTF-8 is at least as long).
 */
function tooLarge(length: number, max: number, units = false): RangeError {
  return new RangeError(
    units
      ? `Cannot send message as its length exceeds maxMessageSize ${max}: a string of ${
        plural(length, "UTF-16 code unit")
      } is at least ${plural(length, "byte")} in UTF-8`
      : `Cannot send message as its length ${length} exceeds maxMessageSize ${max}`,
  );
}

/**
 * The bytes `text` takes in UTF-8, as `TextEncoder` writes it (a lone surrogate as U+FFFD, 3
 * bytes), without encoding it.
 */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (
      (c & 0xfc00) === 0xd800 && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      n += 2; // a surrogate pair: 4 bytes for its 2 units
      i++;
    } else n += 2;
  }
  return n;
}
