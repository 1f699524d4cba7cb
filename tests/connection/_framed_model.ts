// Copyright 2026 the framewire authors. MIT license.
// Model-based fuzz of framed() connections' lifecycle: one seed -> two framed() ends over a
// MemoryLink (random framing, options, link buffer, chunking of the bytes each end reads) and a
// pseudo-random schedule of operations on either end: send() awaited or not (0 bytes to a few
// hundred KiB, strings, bytes, Buffer subarrays, payloads the framing refuses), writes through
// fc.writable, reading through for-await, batches() and fc.readable (pausing, switching front
// ends), closeWrite(), close(), close({ timeout }) on a fake timer, writer.close() and abort(),
// cancelling reading mid-read, and faults (the link cut as EOF or reset, at once or inside a
// frame; one end's conn closed under its framed()). Then both ends read to the end, half-close and
// close, and the documented invariants are checked (see `check`). Time moves only through promise
// jobs, event-loop turns (setImmediate, counted: a budget, not a clock) and the fake timer.

import { Buffer } from "node:buffer";
import process from "node:process";
import { mulberry32 } from "../../src/cli/_prng.ts";
import {
  ConnectionError,
  decimalHeader,
  delimited,
  fixedSize,
  framed,
  type FramedConnection,
  FrameTooLargeError,
  type Framing,
  FramingError,
  lengthPrefixed,
  lines,
  netstring,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import { MemoryLink } from "../_util/memory_conn.ts";

/** Deterministic pseudo-random numbers in [0, 1) for a seed (the seeds of a range spread apart). */
const prng = (seed: number): () => number => mulberry32(Math.imul(seed ^ 0x5bd1e995, 2654435761));

interface Format {
  /** The framing, with the receiver's `maxFrameLength` when given. */
  make(max?: number): Framing;
  /** Bytes a payload must not hold. */
  banned?: number[];
  /** Payloads must have exactly this length. */
  fixed?: number;
  /** Payloads must have at least this length. */
  min?: number;
  /** Whether `make(max)` takes a `maxFrameLength`. */
  limit: boolean;
}

const FORMATS: Format[] = [
  { make: (max) => lengthPrefixed({ maxFrameLength: max }), limit: true },
  { make: () => lengthPrefixed({ width: 1 }), limit: false },
  {
    make: (max) => lengthPrefixed({ width: 2, endian: "little", maxFrameLength: max }),
    limit: true,
  },
  {
    make: (max) => lengthPrefixed({ width: 3, counts: "frame", maxFrameLength: max }),
    limit: true,
  },
  {
    make: (max) => lengthPrefixed({ width: 8, endian: "little", maxFrameLength: max }),
    limit: true,
  },
  {
    make: (max) => lengthPrefixed({ width: 4, offset: 1, maxFrameLength: max }),
    min: 1,
    limit: true,
  },
  { make: (max) => varint({ maxFrameLength: max }), limit: true },
  { make: (max) => decimalHeader({ maxFrameLength: max }), limit: true },
  { make: (max) => decimalHeader({ width: 3, maxFrameLength: max }), limit: true },
  { make: (max) => netstring({ maxFrameLength: max }), limit: true },
  { make: (max) => lines({ maxFrameLength: max }), banned: [0x0a, 0x0d], limit: true },
  {
    make: (max) => delimited({ delimiter: "\r\n", maxFrameLength: max }),
    banned: [0x0a, 0x0d],
    limit: true,
  },
  {
    make: (max) => delimited({ delimiter: "ab|ab", maxFrameLength: max }),
    banned: [0x7c],
    limit: true,
  },
  {
    make: (max) => delimited({ delimiter: new Uint8Array([0]), maxFrameLength: max }),
    banned: [0],
    limit: true,
  },
  { make: () => fixedSize(5), fixed: 5, limit: false },
];

type Outcome = "pending" | "resolved" | "rejected";

/** A frame offered for sending (send() or a writable write), in call order. */
interface Item {
  id: number;
  kind: "send" | "write" | "pipe";
  /** What the peer must receive: a copy taken before the call. */
  expected: Uint8Array;
  encodedLength: number;
  /** The sender's framing refuses it. */
  refused: boolean;
  /** The receiver's framing refuses it (too large). */
  oversize: boolean;
  /** Made after closing began (closeWrite, close, writer.close, abort): must reject. */
  late: boolean;
  /** Sent after writer.close(): goes out if the half-close has not begun yet, else rejects. */
  maybeLate: boolean;
  /** Piped, and the pipe failed: whether it was written is not known. */
  unknown?: boolean;
  /** Written after the writable had refused a chunk: rejects with that. */
  doomed: boolean;
  awaited: boolean;
  promise: Promise<void>;
  outcome: Outcome;
  error: unknown;
}

interface Tracked {
  label: string;
  promise: Promise<unknown>;
  outcome: Outcome;
  error: unknown;
  /** The application waits on it (counts as seeing a failure it rejects with). */
  awaited: boolean;
}

type FrontEnd = "iter" | "batches" | "readable";

class Timers {
  now = 0;
  #list: { at: number; cb: () => void; handle: object }[] = [];
  set(cb: () => void, ms: number): object {
    const handle = { fakeTimer: true };
    this.#list.push({ at: this.now + ms, cb, handle });
    return handle;
  }
  clear(handle: unknown): boolean {
    const i = this.#list.findIndex((t) => t.handle === handle);
    if (i >= 0) this.#list.splice(i, 1);
    return typeof handle === "object" && handle !== null && "fakeTimer" in handle;
  }
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      const due = this.#list.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      this.#list.splice(this.#list.indexOf(due), 1);
      due.cb();
    }
  }
  get pending(): number {
    return this.#list.length;
  }
}

class Side {
  readonly name: string;
  readonly fc: FramedConnection;
  readonly sendFraming: Framing;
  readonly recvFraming: Framing;
  items: Item[] = [];
  tracked: Tracked[] = [];
  /** Frames received: a copy taken at once, and the frame itself (checked again at the end). */
  received: { copy: Uint8Array; frame: Uint8Array }[] = [];
  readEnd: { error?: unknown } | undefined;
  readEndedAfterSelf = false;
  readableUsed = false;
  credit = 0;
  reading = false;
  #wake: (() => void) | undefined;
  readerLock: ReadableStreamDefaultReader<Uint8Array> | undefined;
  writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** This end writes only through `source.pipeTo(fc.writable, { signal })` (no sends). */
  pipeMode = false;
  pipe:
    | {
      ctrl: ReadableStreamDefaultController<Uint8Array>;
      ac: AbortController;
      items: Item[];
      open: boolean;
    }
    | undefined;
  writerRefused = false;
  // What the application did.
  closing = false;
  writableClosed = false;
  /** An abort that may have closed the connection (see abort). */
  maybeClosing = false;
  closedHere = false;
  /** close() was called during the schedule (not by the end's own close). */
  closedHereEarly = false;
  cancelled = false;
  aborted = false;
  timeoutArmed = false;
  /** The application was shown a failure (a promise it waits on rejected, or a read failed). */
  sawFailure = false;
  constructor(name: string, fc: FramedConnection, sendFraming: Framing, recvFraming: Framing) {
    this.name = name;
    this.fc = fc;
    this.sendFraming = sendFraming;
    this.recvFraming = recvFraming;
  }
  give(credit: number): void {
    this.credit = credit;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
  waitCredit(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }
  /** The application's own side closed reading (close, abort, cancel). */
  get selfEnded(): boolean {
    return this.closedHere || this.cancelled || this.aborted;
  }
}

export interface FuzzResult {
  violations: string[];
  trace: string[];
}

const TURN_BUDGET = 400;

/** One event-loop turn (all promise jobs before it run first): no wall time. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runFramedFuzz(
  seed: number,
  options: { log?: boolean; steps?: number } = {},
): Promise<FuzzResult> {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const chance = (p: number) => rnd() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const trace: string[] = [];
  const violations: string[] = [];
  const log = (line: string) => {
    trace.push(line);
    if (options.log) console.log(line);
  };
  const violation = (line: string) => {
    violations.push(line);
    log(`!! ${line}`);
  };

  // ---- setup ----
  const format = pick(FORMATS);
  const maxB = format.limit && chance(0.3) ? pick([64, 300, 5000, 70000]) : undefined;
  const maxA = format.limit && chance(0.3) ? pick([64, 300, 5000, 70000]) : undefined;
  const linkHwm = pick([512, 4096, 65536, 262144]);
  const split = chance(0.5)
    ? ((n: number) => (chance(0.3) ? int(1, 8) : int(1, Math.max(1, n))))
    : undefined;
  const releases = chance(0.5);
  // A read(buffer) as the Deno adapter's: framed() reads into its own buffers then.
  const byob = chance(0.4);
  const link = new MemoryLink({
    read: byob,
    highWaterMark: linkHwm,
    split,
    drainOnCancel: true,
    releasesChunkOnWrite: releases,
  });
  const opts = () => ({
    highWaterMark: pick([0, 1, 300, 16384, 1 << 20, undefined]),
    coalesce: pick([0, 1, 100, 16384, 65536, undefined]),
    reuseBuffers: chance(0.3),
  });
  const optsA = opts();
  const optsB = opts();
  const fA = format.make();
  const fB = format.make();
  // Each end sends with the default limit and receives with its own (maybe smaller) one.
  const A = new Side(
    "A",
    framed(link.client, { ...fA, decoder: format.make(maxA).decoder } as Framing, optsA),
    fA,
    format.make(maxA),
  );
  const B = new Side(
    "B",
    framed(link.server, { ...fB, decoder: format.make(maxB).decoder } as Framing, optsB),
    fB,
    format.make(maxB),
  );
  log(
    `seed ${seed}: ${fA.name} maxA=${maxA} maxB=${maxB} linkHwm=${linkHwm} split=${
      split !== undefined
    } releases=${releases} read=${byob} A=${JSON.stringify(optsA)} B=${JSON.stringify(optsB)}`,
  );
  const sides = [A, B];
  const peer = (s: Side) => (s === A ? B : A);
  for (const s of sides) {
    s.pipeMode = chance(0.15);
    if (s.pipeMode) log(`${s.name} writes through a pipe only`);
  }

  const timers = new Timers();
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  (globalThis as { clearTimeout: unknown }).clearTimeout = (handle: unknown) => {
    if (!timers.clear(handle)) realClearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  };

  const unhandled: { reason: unknown; promise: unknown }[] = [];
  const onUnhandled = (reason: unknown, promise: unknown) => unhandled.push({ reason, promise });
  process.on("unhandledRejection", onUnhandled);

  let faulted = false;
  let ending = false;
  let nextId = 0;
  let events = 0;

  const track = (side: Side, label: string, promise: Promise<unknown>, awaited: boolean) => {
    const t: Tracked = { label, promise, outcome: "pending", error: undefined, awaited };
    side.tracked.push(t);
    const onOk = () => {
      t.outcome = "resolved";
      events++;
    };
    const onErr = (error: unknown) => {
      t.outcome = "rejected";
      t.error = error;
      events++;
      if (awaited) side.sawFailure = true;
    };
    // An awaited promise is waited on as an application would (its then); one left alone is
    // looked at only at the end, without counting as waited on.
    if (awaited) promise.then(onOk, onErr);
    return { t, onOk, onErr };
  };

  // ---- payloads ----
  const makePayload = (side: Side): { bytes: Uint8Array | string; refused: boolean } => {
    let n: number;
    const r = rnd();
    if (format.fixed !== undefined && r < 0.95) n = format.fixed;
    else if (r < 0.6) n = int(0, 40);
    else if (r < 0.85) n = int(0, 2000);
    else if (r < 0.96) n = int(2000, 70000);
    else n = int(70000, 400000);
    if (format.min !== undefined && n < format.min && chance(0.9)) n = format.min;
    const banned = format.banned ?? [];
    const letter = (i: number) => 0x41 + ((i * 7 + nextId) % 26);
    const asString = chance(0.2);
    let bytes: Uint8Array;
    const fill = (out: Uint8Array) => {
      for (let i = 0; i < out.length; i++) {
        let b = asString ? letter(i) : (i * 31 + nextId * 17 + seed) & 0xff;
        if (banned.includes(b)) b = 0x41;
        out[i] = b;
      }
      // A tag that tells frames apart (ids are unique per side).
      if (out.length >= 4 && !asString) {
        for (let k = 0; k < 4; k++) {
          let b = ((nextId >> (8 * k)) & 0x7f) | 0x20;
          if (banned.includes(b)) b = 0x41;
          out[k] = b;
        }
      }
    };
    let payload: Uint8Array | string;
    if (asString) {
      bytes = new Uint8Array(n);
      fill(bytes);
      payload = new TextDecoder().decode(bytes);
    } else if (chance(0.3)) {
      // A Buffer subarray, maybe of the pool (a view with an offset).
      const off = int(0, 16);
      const whole = n + off < 4096 && chance(0.5)
        ? Buffer.allocUnsafe(n + off + int(0, 8))
        : Buffer.alloc(n + off + int(0, 8));
      bytes = whole.subarray(off, off + n);
      fill(bytes);
      payload = bytes;
    } else {
      bytes = new Uint8Array(n);
      fill(bytes);
      payload = bytes;
    }
    let refused = false;
    try {
      side.sendFraming.encode(typeof payload === "string" ? bytes : payload);
    } catch {
      refused = true;
    }
    return { bytes: payload, refused };
  };

  const encodedLength = (side: Side, bytes: Uint8Array) => {
    try {
      return side.sendFraming.encode(bytes).length;
    } catch {
      return -1;
    }
  };
  const oversizeAt = (receiver: Side, frame: Uint8Array): boolean => {
    const d = receiver.recvFraming.decoder();
    try {
      d.push(frame);
      d.next();
      return false;
    } catch (error) {
      return error instanceof FrameTooLargeError;
    }
  };

  /** Whether send() copies a payload of this many bytes (it may change once send() returns). */
  const copies = (side: Side, length: number, encoded: number) => {
    const o = side === A ? optsA : optsB;
    const coalesce = o.coalesce ?? 262144;
    if (releases && coalesce > 0) return encoded <= coalesce;
    return length < (coalesce === 0 ? 16384 : Math.min(coalesce, 16384));
  };

  const newItem = (side: Side, kind: Item["kind"], bytes: Uint8Array, refused: boolean) => {
    const expected = new Uint8Array(bytes); // a copy (a Buffer's slice() is a view)
    const enc = encodedLength(side, expected);
    const item: Item = {
      id: nextId,
      kind,
      expected,
      encodedLength: enc,
      refused,
      oversize: !refused && oversizeAt(peer(side), side.sendFraming.encode(expected)),
      late: side.closing,
      maybeLate: side.writableClosed || side.maybeClosing,
      doomed: kind === "write" && side.writerRefused,
      awaited: false,
      promise: Promise.resolve(),
      outcome: "pending",
      error: undefined,
    };
    side.items.push(item);
    return item;
  };

  // ---- operations ----
  const send = (side: Side) => {
    if (side.pipeMode) return pipeWrite(side);
    const { bytes, refused } = makePayload(side);
    const raw = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const item = newItem(side, "send", raw, refused);
    nextId++;
    // A refused payload, and a send after closing began, reject loudly (the caller's mistakes, as
    // documented): always awaited here (node:test fails a test on any unhandled rejection).
    item.awaited = refused || side.closing || side.writableClosed || side.maybeClosing ||
      chance(0.6);
    log(
      `${side.name} send #${item.id} ${
        typeof bytes === "string" ? "str" : Buffer.isBuffer(bytes) ? "buf" : "u8"
      }[${raw.length}]${refused ? " (refused)" : ""}${item.oversize ? " (oversize at peer)" : ""}${
        item.awaited ? " awaited" : ""
      }`,
    );
    const promise = side.fc.send(bytes);
    item.promise = promise;
    const copied = typeof bytes !== "string" && copies(side, raw.length, item.encodedLength);
    // Scribble over a payload send() copied: the frame must not change.
    if (copied && chance(0.5)) raw.fill(0xee);
    const settle = (outcome: Outcome, error?: unknown) => {
      item.outcome = outcome;
      item.error = error;
      events++;
    };
    if (item.awaited) {
      promise.then(() => {
        settle("resolved");
        // Once its send resolved, a payload written as it is over a Conn that releases chunks.
        if (releases && typeof bytes !== "string" && chance(0.5)) raw.fill(0xdd);
      }, (error) => {
        settle("rejected", error);
        side.sawFailure = true;
      });
    }
  };

  const write = (side: Side) => {
    if (side.pipeMode) return pipeWrite(side);
    // Node's WritableStream throws an internal assertion (ERR_INTERNAL_ASSERTION) from write()
    // while a close() is in flight (Deno and Bun reject the write with a TypeError): no write
    // through a new writer once the writable was closed.
    if (side.writableClosed) return;
    if (side.writer === undefined) {
      try {
        side.writer = side.fc.writable.getWriter();
      } catch (error) {
        violation(`${side.name} writable.getWriter() threw ${String(error)}`);
        return;
      }
      side.writer.closed.catch(() => {});
    }
    const { bytes, refused } = makePayload(side);
    const raw = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const item = newItem(side, "write", raw, refused);
    nextId++;
    item.awaited = true;
    log(`${side.name} write #${item.id} [${raw.length}]${refused ? " (refused)" : ""}`);
    const promise = side.writer.write(raw);
    item.promise = promise;
    if (refused) side.writerRefused = true;
    promise.then(() => {
      item.outcome = "resolved";
      events++;
    }, (error) => {
      item.outcome = "rejected";
      item.error = error;
      events++;
      side.sawFailure = true;
      if (!(error instanceof ConnectionError)) side.writerRefused = true;
    });
  };

  /**
   * A chunk into the source piped to `fc.writable`: written when pipeTo() gets to it (call order
   * among this end's frames; it sends nothing else), its outcome known only from pipeTo()'s.
   */
  const pipeWrite = (side: Side) => {
    if (side.writableClosed || side.pipe?.open === false) return;
    if (side.pipe === undefined) {
      let ctrl!: ReadableStreamDefaultController<Uint8Array>;
      const source = new ReadableStream<Uint8Array>({
        start: (c) => {
          ctrl = c;
        },
      });
      const pipe = { ctrl, ac: new AbortController(), items: [] as Item[], open: true };
      side.pipe = pipe;
      log(`${side.name} pipeTo(fc.writable, { signal })`);
      const done = source.pipeTo(side.fc.writable, { signal: pipe.ac.signal });
      track(side, "pipeTo()", done, true);
      done.then(() => {
        pipe.open = false;
        for (const i of pipe.items) if (i.outcome === "pending") i.outcome = "resolved";
      }, (error) => {
        pipe.open = false;
        let refusedBefore = false;
        for (const i of pipe.items) {
          if (i.outcome !== "pending") continue;
          i.outcome = "rejected";
          if (i.refused) {
            refusedBefore = true;
            i.error = error instanceof ConnectionError ? new RangeError("refused (piped)") : error;
            continue;
          }
          if (refusedBefore) i.doomed = true;
          i.unknown = true;
          i.error = new ConnectionError(`pipeTo() failed: ${describe(error)}`);
        }
      });
    }
    const { bytes, refused } = makePayload(side);
    const raw = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const item = newItem(side, "pipe", raw, refused);
    nextId++;
    item.awaited = true;
    log(`${side.name} pipe #${item.id} [${raw.length}]${refused ? " (refused)" : ""}`);
    try {
      side.pipe.ctrl.enqueue(raw);
      side.pipe.items.push(item);
    } catch {
      // pipeTo() failed and cancelled the source: never sent.
      side.pipe.open = false;
      item.outcome = "rejected";
      item.error = new ConnectionError("the pipe had ended");
      item.late = true;
    }
  };

  /** Closing began: chunks still in the pipe may reach the writable after it (then refused). */
  const pipeClosing = (side: Side) => {
    for (const i of side.pipe?.items ?? []) if (i.outcome === "pending") i.maybeLate = true;
  };

  const readLoop = async (side: Side) => {
    side.reading = true;
    const take = (frame: Uint8Array) => {
      side.received.push({ copy: frame.slice(), frame });
      events++;
    };
    const end = (error?: unknown) => {
      side.readEnd = error === undefined ? {} : { error };
      side.readEndedAfterSelf = side.selfEnded;
      events++;
      if (error !== undefined) side.sawFailure = true;
      log(
        `${side.name} reading ended${
          error === undefined ? "" : ` with ${describe(error)}`
        } (${side.received.length} frames, bytesRead ${side.fc.bytesRead}, link ${
          JSON.stringify(link.bytes)
        })`,
      );
    };
    try {
      while (side.readEnd === undefined) {
        if (side.credit <= 0) {
          await side.waitCredit();
          continue;
        }
        const fe: FrontEnd = side.readableUsed
          ? "readable"
          : pick(["iter", "batches", "readable"] as const);
        log(`${side.name} reads through ${fe}`);
        if (fe === "iter") {
          let ended = true;
          for await (const frame of side.fc) {
            take(frame);
            if (--side.credit <= 0) {
              ended = false;
              break;
            }
          }
          if (ended) end();
        } else if (fe === "batches") {
          let ended = true;
          for await (const batch of side.fc.batches()) {
            for (const frame of batch) take(frame);
            if (--side.credit <= 0) {
              ended = false;
              break;
            }
          }
          if (ended) end();
        } else {
          side.readableUsed = true;
          const reader = side.readerLock = side.fc.readable.getReader();
          while (side.credit > 0 && side.readEnd === undefined) {
            const { done, value } = await reader.read();
            if (done) end();
            else {
              take(value);
              side.credit--;
            }
          }
          side.readerLock = undefined;
          reader.releaseLock();
        }
      }
    } catch (error) {
      if (side.readEnd === undefined) end(error);
      else violation(`${side.name} a read failed after reading ended: ${describe(error)}`);
    }
    side.reading = false;
  };

  const closeWrite = (side: Side, awaited: boolean) => {
    log(`${side.name} closeWrite()${awaited ? " awaited" : ""}`);
    side.closing = true;
    pipeClosing(side);
    track(side, "closeWrite()", side.fc.closeWrite(), awaited);
  };

  const close = (side: Side, timeout: number | undefined, awaited: boolean) => {
    log(
      `${side.name} close(${timeout === undefined ? "" : `{ timeout: ${timeout} }`})${
        awaited ? " awaited" : ""
      }`,
    );
    side.closing = true;
    pipeClosing(side);
    side.closedHere = true;
    if (!ending) side.closedHereEarly = true;
    let promise: Promise<void>;
    if (timeout === undefined) promise = side.fc.close();
    else {
      (globalThis as { setTimeout: unknown }).setTimeout = (cb: () => void, ms: number) => {
        side.timeoutArmed = true;
        return timers.set(cb, ms);
      };
      try {
        promise = side.fc.close({ timeout });
      } finally {
        globalThis.setTimeout = realSetTimeout;
      }
    }
    track(side, `close(${timeout ?? ""})`, promise, awaited);
  };

  const writerClose = (side: Side) => {
    if (side.pipe !== undefined) {
      if (!side.pipe.open) return;
      log(`${side.name} closes the piped source`);
      side.pipe.open = false;
      side.writableClosed = true;
      closeSource(side.pipe.ctrl);
      return;
    }
    if (side.writer === undefined) return;
    log(`${side.name} writer.close()`);
    // Not closing for send(): the half-close waits for the writes before it, and sends made
    // meanwhile go out before it (they are queued behind those writes).
    side.writableClosed = true;
    track(side, "writer.close()", side.writer.close(), true);
    side.writer.releaseLock();
    side.writer = undefined;
  };

  const abort = (side: Side) => {
    if (side.pipeMode) {
      if (side.pipe === undefined || !side.pipe.open) return;
      // pipeTo() aborts the writable once the write in progress is done (documented: it may
      // never get that far while a write waits for a peer that reads nothing).
      log(`${side.name} aborts the pipe's signal`);
      side.pipe.open = false;
      side.aborted = true;
      side.maybeClosing = true;
      pipeClosing(side);
      side.pipe.ac.abort(new Error("aborted by the fuzz"));
      return;
    }
    const writer = side.writer ?? side.fc.writable.getWriter();
    // Aborting an errored writable (one that refused a payload) does nothing, by the streams'
    // rules; one whose close() is in flight or done may or may not close the connection.
    // (A refused write errors it only once it reaches the sink, after the writes before it.)
    const effective = !side.writerRefused && !side.writableClosed;
    log(
      `${side.name} writable.abort()${
        effective ? "" : " (of a writable that may be errored or closed)"
      }`,
    );
    if (effective) side.closing = true;
    else side.maybeClosing = true;
    side.aborted = true;
    track(side, "writer.abort()", writer.abort(new Error("aborted by the fuzz")), true);
    writer.releaseLock();
    side.writer = undefined;
    side.writerRefused = true;
  };

  const cancel = (side: Side) => {
    log(`${side.name} cancel reading${side.readerLock !== undefined ? " (mid-read)" : ""}`);
    side.cancelled = true;
    if (side.readerLock !== undefined) {
      track(side, "reader.cancel()", side.readerLock.cancel("fuzz"), true);
    } else if (!side.fc.readable.locked) {
      track(side, "readable.cancel()", side.fc.readable.cancel("fuzz"), true);
    }
  };

  const fault = () => {
    faulted = true;
    const r = rnd();
    if (r < 0.3) {
      const mode = pick(["eof", "reset"] as const);
      log(`link cut (${mode})`);
      link.cut(mode);
    } else if (r < 0.7) {
      const dir = pick(["c2s", "s2c"] as const);
      const mode = pick(["eof", "reset"] as const);
      const at = link.bytes[dir] + int(1, 3000);
      log(`link cut (${mode}) after ${dir} byte ${at}`);
      link.cutAfter(dir, at, mode);
    } else {
      const side = pick(sides);
      log(`${side.name}'s conn closed under framed()`);
      side.fc.conn.close();
    }
  };

  for (const side of sides) void readLoop(side);

  // ---- the schedule ----
  const steps = options.steps ?? int(10, 60);
  // A third of the seeds only send, write, read (pausing) and wait, which leaves every frame due;
  // the others close, cancel, abort and cut too, after a first part of traffic alone.
  const traffic = chance(0.35);
  const calm = traffic ? steps : int(0, steps >> 1);
  log(traffic ? "traffic only" : `traffic only for ${calm} steps`);
  let faults = 0;
  for (let step = 0; step < steps; step++) {
    const side = pick(sides);
    let r = rnd();
    // Lifecycle operations and faults (0.62 .. 0.75) become waits.
    if (step < calm && r >= 0.62 && r < 0.75) r = 0.9;
    try {
      if (r < 0.35) send(side);
      else if (r < 0.45) write(side);
      else if (r < 0.62) {
        const credit = chance(0.2) ? 0 : int(1, 30);
        log(`${side.name} reads ${credit}`);
        side.give(credit);
      } else if (r < 0.65) closeWrite(side, chance(0.5));
      else if (r < 0.68) {
        close(side, chance(0.5) ? pick([0, 5, 100, Infinity]) : undefined, chance(0.5));
      } else if (r < 0.7) writerClose(side);
      else if (r < 0.715) abort(side);
      else if (r < 0.735) cancel(side);
      else if (r < 0.75 && faults < 2) {
        faults++;
        fault();
      } else if (r < 0.8) {
        const ms = pick([1, 5, 50, 1000]);
        log(`time +${ms} ms`);
        timers.advance(ms);
      } else {
        const n = int(0, 3);
        if (chance(0.2)) await turn();
        else for (let i = 0; i < n; i++) await null;
      }
    } catch (error) {
      violation(`${side.name} an operation threw synchronously: ${describe(error)}`);
      if (options.log) console.log((error as Error).stack);
    }
    for (const s of sides) {
      if (!(s.fc.bufferedAmount >= 0)) violation(`${s.name} bufferedAmount ${s.fc.bufferedAmount}`);
    }
  }

  // ---- the end: both read to the end, half-close, close ----
  const quiesce = async (): Promise<boolean> => {
    let quiet = 0;
    for (let i = 0; i < TURN_BUDGET; i++) {
      const before = events;
      await turn();
      quiet = events === before ? quiet + 1 : 0;
      if (quiet >= 5) return true;
    }
    return false;
  };
  log("-- end: read to the end, closeWrite, close");
  ending = true;
  for (const s of sides) if (s.readEnd === undefined) s.give(Infinity);
  for (const s of sides) {
    if (s.pipe?.open) {
      log(`${s.name} closes the piped source`);
      s.pipe.open = false;
      s.writableClosed = true;
      closeSource(s.pipe.ctrl);
    }
  }
  if (!(await quiesce())) violation("no quiescence while reading to the end");
  for (const s of sides) if (!s.closing) closeWrite(s, true);
  if (!(await quiesce())) violation("no quiescence after closeWrite()");
  for (const s of sides) if (!s.closedHere || chance(0.3)) close(s, undefined, true);
  if (!(await quiesce())) violation("no quiescence after close()");
  // A framing error that ended an end's reading closes it once what it sent goes out, which
  // waits while the peer reads nothing (documented; close({ timeout }) bounds it): both ends
  // may wait on each other then.
  const framingEnded = sides.some((s) =>
    s.readEnd?.error instanceof FramingError && !(s.readEnd.error instanceof ConnectionError)
  );
  if (framingEnded && sides.some((s) => s.tracked.some((t) => t.outcome === "pending"))) {
    for (const s of sides) close(s, 0, true);
    timers.advance(1);
    await quiesce();
  }

  // Everything must have settled by now: closes, half-closes, sends, writes, reads.
  const hung: string[] = [];
  for (const s of sides) {
    for (const t of s.tracked) {
      if (t.outcome === "pending" && t.awaited) hung.push(`${s.name} ${t.label}`);
    }
    for (const item of s.items) {
      if (item.awaited && item.outcome === "pending") {
        hung.push(`${s.name} ${item.kind} #${item.id}`);
      }
    }
    if (s.readEnd === undefined && !s.cancelled) {
      hung.push(`${s.name} reading (a read never ended)`);
    }
  }
  if (timers.pending > 0) {
    // A close({ timeout }) still waits: its timer is the way out (documented), not a hang.
    log(`time +${2 ** 31} ms (pending timers: ${timers.pending})`);
    timers.advance(2 ** 31);
    await quiesce();
  }
  for (const h of hung) {
    violation(`hang: ${h} did not settle after both ends read to the end and closed`);
  }
  // Unawaited promises: looked at now (without counting as waited on), once any unhandled
  // rejection has been reported.
  for (const s of sides) {
    for (const item of s.items) {
      if (!item.awaited) {
        Promise.prototype.then.call(item.promise, () => {
          item.outcome = "resolved";
        }, (error: unknown) => {
          item.outcome = "rejected";
          item.error = error;
        });
      }
    }
    for (const t of s.tracked) {
      if (!t.awaited) {
        Promise.prototype.then.call(t.promise, () => {
          t.outcome = "resolved";
        }, (error: unknown) => {
          t.outcome = "rejected";
          t.error = error;
        });
      }
    }
  }
  let connClosed = 0;
  for (const s of sides) void s.fc.conn.closed.then(() => connClosed++);
  await quiesce();
  process.off("unhandledRejection", onUnhandled);
  globalThis.clearTimeout = realClearTimeout;

  // ---- checks ----
  if (connClosed !== 2) violation(`conn.closed settled on ${connClosed} of 2 ends after close()`);
  const refusedUnawaited = new Set<unknown>();
  for (const s of sides) {
    for (const item of s.items) {
      if (item.refused && !item.awaited) refusedUnawaited.add(item.promise);
    }
  }
  for (const u of unhandled) {
    if (refusedUnawaited.has(u.promise) && !(u.reason instanceof ConnectionError)) continue;
    violation(`unhandled rejection: ${describe(u.reason)}`);
  }
  for (const s of sides) {
    for (const t of s.tracked) {
      if (t.outcome === "pending") violation(`${s.name} ${t.label} never settled`);
      if (
        t.outcome === "rejected" && !(t.error instanceof FramingError) &&
        !t.label.startsWith("writer.") && !t.label.startsWith("pipeTo")
      ) {
        violation(
          `${s.name} ${t.label} rejected with ${describe(t.error)} (not a framewire error)`,
        );
      }
    }
  }
  for (const sender of sides) checkDirection(sender, peer(sender));

  function checkDirection(sender: Side, receiver: Side): void {
    const dir = `${sender.name}->${receiver.name}`;
    for (const item of sender.items) {
      const what = `${dir} ${item.kind} #${item.id} [${item.expected.length}]`;
      if (item.outcome === "pending") violation(`${what} never settled`);
      if (item.refused) {
        if (item.outcome !== "rejected") {
          violation(`${what}: refused by the framing, yet ${item.outcome}`);
        } else if (item.error instanceof ConnectionError && !item.late && !item.doomed) {
          // A closed or failed connection may answer first.
          if (!sender.closing && !faulted) {
            violation(`${what}: refused payload rejected with ${describe(item.error)}`);
          }
        }
      } else if (item.outcome === "rejected" && !(item.error instanceof ConnectionError)) {
        // A framing error: the one that ended this end's reading (sends fail with it), or the
        // writable's refusal of an earlier write.
        const endedBy = sender.readEnd?.error;
        if (
          item.error !== endedBy && !item.doomed && !(item.kind === "write" && sender.writerRefused)
        ) {
          violation(`${what}: a payload the framing takes rejected with ${describe(item.error)}`);
        }
      }
      if (item.late && item.outcome === "resolved") {
        violation(`${what}: made after closing began, yet resolved`);
      }
    }
    // What may have gone out, in call order: every frame not refused with a framing error.
    const offered = sender.items.filter((i) =>
      !(i.outcome === "rejected" && !(i.error instanceof ConnectionError)) && !i.refused
    );
    const got = receiver.received;
    let prefix = 0;
    for (; prefix < got.length && prefix < offered.length; prefix++) {
      if (!equal(got[prefix]!.copy, offered[prefix]!.expected)) break;
    }
    if (prefix < got.length) {
      const g = got[prefix]!.copy;
      const e = offered[prefix];
      violation(
        `${dir}: frame ${prefix} received [${g.length}] ${hex(g)} but the next frame offered is ${
          e === undefined
            ? "none"
            : `#${e.id} [${e.expected.length}] ${hex(e.expected)} (${e.outcome})`
        } (received ${got.length}, offered ${offered.length})`,
      );
      return;
    }
    // Frames stay valid for ever (unless reuseBuffers).
    const reuse = (receiver === A ? optsA : optsB).reuseBuffers;
    if (!reuse) {
      got.forEach((g, i) => {
        if (!equal(g.frame, g.copy)) violation(`${dir}: frame ${i} changed after it was received`);
      });
    }
    for (let i = 0; i < got.length; i++) {
      if (offered[i]!.oversize) {
        violation(`${dir}: frame ${i} is over the receiver's limit, yet delivered`);
      }
    }
    const receivedWire = offered.slice(0, got.length).reduce((n, i) => n + i.encodedLength, 0);
    const end = receiver.readEnd;
    const error = end?.error;
    if (error instanceof TruncatedFrameError && receiver.fc.bytesRead <= receivedWire) {
      violation(
        `${dir}: TruncatedFrameError at a frame boundary (bytesRead ${receiver.fc.bytesRead})`,
      );
    }
    if (error instanceof FrameTooLargeError && !offered[got.length]?.oversize) {
      violation(
        `${dir}: FrameTooLargeError, but the next frame offered (#${
          offered[got.length]?.id
        }) is not too large`,
      );
    }
    if (
      error !== undefined && !(error instanceof FrameTooLargeError) &&
      !(error instanceof TruncatedFrameError)
    ) {
      if (!(error instanceof ConnectionError) || !faulted) {
        violation(`${dir}: reading failed with ${describe(error)}`);
      }
    }
    if (end !== undefined && error === undefined && !receiver.readEndedAfterSelf) {
      // A clean end that was not the receiver's doing: the wire ended at a frame boundary.
      if (receiver.fc.bytesRead !== receivedWire) {
        violation(
          `${dir}: reading ended cleanly inside a frame (bytesRead ${receiver.fc.bytesRead}, frames ${receivedWire})`,
        );
      }
    }
    // Liveness: nothing disturbed this direction, so every frame arrived, and every promise resolved.
    const anyOversize = [...A.items, ...B.items].some((i) => i.oversize);
    const clean = !faulted && !anyOversize && !receiver.closedHereEarly && !receiver.cancelled &&
      !receiver.aborted &&
      !sender.aborted && !sender.timeoutArmed && !receiver.timeoutArmed;
    if (clean) {
      const due = offered.filter((i) =>
        !i.late && !i.doomed && !(i.maybeLate && i.outcome === "rejected")
      );
      // Frames that may or may not have gone out (piped, or sent after writer.close()) may follow.
      const needed = due.length === 0 ? 0 : offered.indexOf(due[due.length - 1]!) + 1;
      if (got.length < needed || (due.length === offered.length && got.length !== needed)) {
        violation(`${dir} (undisturbed): received ${got.length} frames of ${needed} due`);
      }
      for (const i of due) {
        if (i.outcome !== "resolved" && !i.unknown) {
          violation(`${dir} (undisturbed): ${i.kind} #${i.id} ${i.outcome} ${describe(i.error)}`);
        }
      }
      if (error !== undefined) {
        violation(`${dir} (undisturbed): reading failed with ${describe(error)}`);
      }
    }
    // No silent loss: a close() that resolved, with no failure shown, means the frames whose sends
    // resolved were handed to the conn.
    const firstClose = sender.tracked.find((t) => t.label.startsWith("close("));
    if (
      firstClose?.outcome === "resolved" && !sender.sawFailure && !sender.aborted &&
      !sender.timeoutArmed
    ) {
      let wire = 0;
      let owed = 0;
      for (const i of offered) {
        wire += i.encodedLength;
        if (i.outcome === "resolved") owed = wire;
      }
      const passed = link.bytes[sender === A ? "c2s" : "s2c"];
      if (passed < owed && !faulted) {
        violation(
          `${dir}: close() resolved, no failure shown, but only ${passed} of ${owed} promised bytes were written`,
        );
      }
    }
  }

  return { violations, trace };
}

/** Closes a piped source (pipeTo() cancels it when it fails). */
function closeSource(ctrl: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    ctrl.close();
  } catch {
    // cancelled
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("") +
    (bytes.length > 12 ? "…" : "");
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code !== undefined ? `(${String(code)})` : ""}: ${error.message}`;
  }
  return String(error);
}
