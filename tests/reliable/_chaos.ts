// Copyright 2026 the framewire authors. MIT license.
// Model-based chaos fuzz of reliable sessions: one seed -> one pseudo-random schedule of sends
// (both ends, 0 bytes to maxMessageSize, some with an AbortSignal), cuts (eof, reset, half-close,
// black hole, hold), fake-clock advances, slow readers, session and client closes, server
// crashes and graceful restarts. After the schedule everything is closed and the documented
// invariants are checked. Deterministic: the memory network works by promise jobs only, and
// every timer runs on one FakeClock.

import process from "node:process";
import { mulberry32 } from "../../src/cli/_prng.ts";
import { reliableClient, reliableServer } from "../../src/reliable/mod.ts";
import type { Clock, ReliableSession } from "../../src/reliable/types.ts";
import { FakeClock } from "../_util/fake_clock.ts";
import { type MemoryLink, type MemoryListener, MemoryNetwork } from "../_util/memory_conn.ts";

/** Deterministic pseudo-random numbers in [0, 1) for a seed (the seeds of a range spread apart). */
const prng = (seed: number): () => number => mulberry32(Math.imul(seed, 2654435761));

/** A clock view that can be killed (a crashed process): its timers never fire again. */
class KillableClock implements Clock {
  #base: FakeClock;
  #handles = new Set<unknown>();
  dead = false;
  constructor(base: FakeClock) {
    this.#base = base;
  }
  now(): number {
    return this.#base.now();
  }
  setTimeout(callback: () => void, ms: number): unknown {
    if (this.dead) return -1;
    const handle: unknown = this.#base.setTimeout(() => {
      this.#handles.delete(handle);
      if (!this.dead) callback();
    }, ms);
    this.#handles.add(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.#handles.delete(handle);
    this.#base.clearTimeout(handle);
  }
  kill(): void {
    this.dead = true;
    for (const h of this.#handles) this.#base.clearTimeout(h);
    this.#handles.clear();
  }
}

class AbortMarker extends Error {
  code = "ABORTED_BY_TEST";
}

interface SendRec {
  tag: number;
  from: string; // "c<k>" or "s<k>"
  epoch: string; // client: "c<k>:<epoch>"; server: session key
  payload: Uint8Array;
  controller: AbortController | undefined;
  aborted: boolean;
  afterClose: boolean;
  outcome: string | undefined; // "ok" or the code
  error: unknown;
  delivered: number;
  listedUnsent: boolean;
  listedUnknown: boolean;
  listedClose: boolean;
  closeError: string | undefined; // code of the close event of the sender when listed
}

class Reader {
  got: Uint8Array[] = [];
  credit = 0;
  done = false;
  error: unknown;
  #wake: (() => void) | undefined;
  constructor(session: AsyncIterable<Uint8Array>) {
    void this.#loop(session);
  }
  async #loop(session: AsyncIterable<Uint8Array>): Promise<void> {
    const it = session[Symbol.asyncIterator]();
    try {
      for (;;) {
        while (this.credit <= 0) await new Promise<void>((r) => (this.#wake = r));
        this.credit--;
        const r = await it.next();
        if (r.done) {
          this.done = true;
          return;
        }
        this.got.push(r.value.slice());
      }
    } catch (e) {
      this.error = e;
      this.done = true;
    }
  }
  give(n: number): void {
    this.credit += n;
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
}

interface Ended {
  error: Error | undefined;
  unconfirmed: Uint8Array[];
}

interface SessCtx {
  key: string;
  name: string;
  session: ReliableSession;
  reader: Reader;
  sends: SendRec[];
  epochs: string[]; // client: epoch keys in order (ids)
  ids: string[];
  ended: Ended | undefined;
  lost: { unknown: Uint8Array[]; unsent: Uint8Array[] }[];
  closeCalled: boolean;
  closePromise: { outcome: string | undefined; error: unknown } | undefined;
  sendsBeforeClose: SendRec[] | undefined;
  crashed: boolean;
  events: string[];
  endedBeforeYield?: boolean;
  endedAt?: number;
}

export interface ChaosOptions {
  steps?: number;
  log?: boolean;
}

export interface ChaosResult {
  seed: number;
  violations: string[];
  trace: string[];
  stats: Record<string, number>;
}

const drain = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

function code(e: unknown): string {
  if (e instanceof AbortMarker) return "ABORTED";
  return String((e as { code?: string })?.code ?? (e as Error)?.name ?? e);
}

/** Runs one schedule; returns the invariant violations (empty: all held). */
export async function runChaos(seed: number, opts: ChaosOptions = {}): Promise<ChaosResult> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number) => rnd() < p;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const trace: string[] = [];
  const violations: string[] = [];
  const stats: Record<string, number> = {};
  const count = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);
  const t = (s: string) => {
    trace.push(s);
    if (opts.log) console.log(s);
  };

  // Unhandled rejections.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);

  const clock = new FakeClock();
  const maxMessageSize = pick([16, 1024, 3000]);
  const heartbeatInterval = pick([50, 300, 1000]);
  const common = {
    maxMessageSize,
    sendBufferSize: pick([200, 2048, 8192, 1 << 20]),
    receiveBufferSize: pick([100, 1500, 8192, 1 << 20]),
    ackDelay: pick([0, 2, 40]),
    ackEvery: pick([1, 3, 32]),
    ackBytes: pick([100, 65536]),
    heartbeatInterval,
    deadPeerTimeout: heartbeatInterval * pick([3, 4, 8]),
    closeTimeout: pick([0, 500, 5000]),
  };
  const resumeTimeout = pick([200, 2000, 20000]);
  const highWaterMark = pick([8, 64, 1024, 65536]);
  const net = new MemoryNetwork({ highWaterMark });
  const linkFaulty = new Set<MemoryLink>();
  t(
    `seed ${seed}: ${JSON.stringify({ ...common, resumeTimeout, highWaterMark })}`,
  );

  let tagNext = 1;
  let stepCounter = 0;
  let endPhase = false;
  const clients: SessCtx[] = [];
  const serverSessions: SessCtx[] = [];
  const allSends: SendRec[] = [];

  function payloadFor(tag: number, size: number, dir: number): Uint8Array {
    const p = new Uint8Array(size);
    const r = prng(tag * 7 + dir);
    for (let i = 0; i < size; i++) p[i] = Math.floor(r() * 256);
    // 1-4 bytes: distinct for tags less than 256 apart.
    const small = tag * 131 + dir * 17;
    for (let i = 0; i < Math.min(size, 4); i++) p[i] = (small >>> (8 * i)) & 0xff;
    if (size >= 5) {
      p[0] = dir;
      new DataView(p.buffer).setUint32(1, tag);
    }
    return p;
  }

  const backoffOf = new Map<ReliableSession, { base: number; cap: number }>();
  function watch(ctx: SessCtx): void {
    const s = ctx.session;
    for (const type of ["sessionlost", "reconnecting", "resumed", "open", "close"]) {
      s.addEventListener(type, () => {
        if (ctx.ended !== undefined) violations.push(`${ctx.name}: ${type} event after close`);
      });
    }
    s.addEventListener("reconnecting", (ev) => {
      const { attempt, delay } = (ev as CustomEvent).detail;
      const b = backoffOf.get(s);
      if (b === undefined) {
        if (attempt !== 0 || delay !== resumeTimeout) {
          violations.push(`${ctx.name}: server reconnecting ${attempt}/${delay}`);
        }
        return;
      }
      const d = attempt <= 2 ? 0 : Math.min(b.cap, b.base * 2 ** (attempt - 3));
      if (!(delay <= d && delay >= d / 2)) {
        violations.push(
          `${ctx.name}: reconnecting attempt ${attempt} delay ${delay}, expected [${d / 2}, ${d}]`,
        );
      }
    });
    s.addEventListener("sessionlost", (ev) => {
      const d = (ev as CustomEvent).detail;
      ctx.lost.push(d);
      ctx.events.push("sessionlost");
      t(`  ${ctx.name} sessionlost unknown=${d.unknown.length} unsent=${d.unsent.length} id->${
        s.id.slice(0, 6)
      }`);
      if (ctx.name.startsWith("c") && s.id !== ctx.ids.at(-1)) {
        ctx.ids.push(s.id);
        ctx.epochs.push(`${ctx.name}:${ctx.ids.length - 1}`);
      }
    });
    s.addEventListener("close", (ev) => {
      const d = (ev as CustomEvent).detail as Ended;
      if (ctx.ended !== undefined) violations.push(`${ctx.name}: two close events`);
      ctx.ended = d;
      ctx.endedAt = stepCounter++;
      ctx.events.push("close");
      t(`  ${ctx.name} close error=${
        d.error && code(d.error)
      } unconfirmed=${d.unconfirmed.length}`);
    });
    s.addEventListener("reconnecting", (ev) => {
      const d = (ev as CustomEvent).detail;
      ctx.events.push("reconnecting");
      t(`  ${ctx.name} reconnecting attempt=${d.attempt} delay=${Math.round(d.delay)} ${
        code(d.error)
      }`);
    });
    s.addEventListener("resumed", (ev) => {
      ctx.events.push("resumed");
      t(`  ${ctx.name} resumed replayed=${(ev as CustomEvent).detail.replayed}`);
    });
    s.addEventListener("open", () => {
      ctx.events.push("open");
      t(`  ${ctx.name} open`);
    });
  }

  function newCtx(name: string, session: ReliableSession): SessCtx {
    const ctx: SessCtx = {
      key: name,
      name,
      session,
      reader: new Reader(session),
      sends: [],
      epochs: [`${name}:0`],
      ids: [session.id],
      ended: undefined,
      lost: [],
      closeCalled: false,
      closePromise: undefined,
      sendsBeforeClose: undefined,
      crashed: false,
      events: [],
    };
    watch(ctx);
    return ctx;
  }

  // ---- servers
  interface ServerCtx {
    n: number;
    listener: MemoryListener;
    server: ReturnType<typeof reliableServer>;
    clock: KillableClock;
    closing: Promise<void> | undefined;
    closed: boolean;
    crashed: boolean;
    iterDone: boolean;
    closeCalledAt?: number;
  }
  const servers: ServerCtx[] = [];
  let serverN = 0;
  function startServer(): ServerCtx {
    const kc = new KillableClock(clock);
    const listener = net.listen();
    const server = reliableServer(listener, { ...common, clock: kc, resumeTimeout });
    const sc: ServerCtx = {
      n: serverN++,
      listener,
      server,
      clock: kc,
      closing: undefined,
      closed: false,
      crashed: false,
      iterDone: false,
    };
    servers.push(sc);
    t(`server ${sc.n} started`);
    void (async () => {
      try {
        for await (const session of server) {
          const ctx = newCtx(`s${sc.n}.${serverSessions.length}`, session);
          ctx.key = session.id;
          ctx.endedBeforeYield = session.state === "closed";
          serverSessions.push(ctx);
          (ctx as SessCtx & { server: ServerCtx }).server = sc;
          t(`  server ${sc.n} yields ${ctx.name} id=${session.id.slice(0, 6)}`);
          ctx.reader.give(endPhase ? 1_000_000 : int(0, 3));
        }
      } catch (e) {
        violations.push(`server ${sc.n} iteration failed: ${e}`);
      }
      sc.iterDone = true;
    })();
    return sc;
  }
  let current: ServerCtx | undefined = startServer();

  // Dials that take a while: some are held until a later step releases them (maybe after the
  // session gave up on them: deadPeerTimeout, or closed).
  const slowDials = chance(0.5) ? pick([0.2, 0.5]) : 0;
  const heldDials: (() => void)[] = [];
  const slowDialer = (signal: AbortSignal) => {
    if (!chance(slowDials)) return net.dial();
    count("slowDial");
    return new Promise<Awaited<ReturnType<MemoryNetwork["dial"]>>>((resolve, reject) => {
      heldDials.push(() => {
        if (signal.aborted && chance(0.5)) reject(signal.reason);
        else net.dial().then(resolve, reject);
      });
    });
  };
  const releaseDials = (all: boolean) => {
    const n = all ? heldDials.length : int(0, heldDials.length);
    for (const go of heldDials.splice(0, n)) go();
  };
  let clientN = 0;
  function startClient(): SessCtx {
    const reconnect = { base: pick([0, 10, 100]), cap: pick([50, 1000]), random: prng(seed + 99) };
    const session = reliableClient(slowDialer, { ...common, clock, reconnect });
    backoffOf.set(session, reconnect);
    const ctx = newCtx(`c${clientN++}`, session);
    clients.push(ctx);
    ctx.reader.give(int(0, 3));
    t(`client ${ctx.name} id=${session.id.slice(0, 6)}`);
    return ctx;
  }
  startClient();

  function doSend(ctx: SessCtx, dir: number): void {
    const sizes = [0, 1, 4, 5, 12, 100, maxMessageSize - 1, maxMessageSize].filter((n) =>
      n >= 0 && n <= maxMessageSize
    );
    const size = pick(sizes);
    const tag = tagNext++;
    const payload = payloadFor(tag, size, dir);
    const controller = size > 0 && chance(0.2) ? new AbortController() : undefined;
    const epoch = dir === 1 ? ctx.epochs.at(-1)! : ctx.name;
    const rec: SendRec = {
      tag,
      from: ctx.name,
      epoch,
      payload,
      controller,
      aborted: false,
      afterClose: ctx.closeCalled || ctx.ended !== undefined || ctx.session.state === "closing" ||
        ctx.session.state === "closed",
      outcome: undefined,
      error: undefined,
      delivered: 0,
      listedUnsent: false,
      listedUnknown: false,
      listedClose: false,
      closeError: undefined,
    };
    ctx.sends.push(rec);
    allSends.push(rec);
    const p = ctx.session.send(payload, controller ? { signal: controller.signal } : undefined);
    count("sends");
    t(`${ctx.name} send #${tag} (${size} B)${
      controller ? " +signal" : ""
    } state=${ctx.session.state}`);
    p.then(
      () => {
        rec.outcome = "ok";
      },
      (e) => {
        rec.outcome = code(e);
        rec.error = e;
      },
    );
  }

  function liveLinks(): MemoryLink[] {
    return net.links.filter((l) => !l.down);
  }

  const steps = opts.steps ?? int(20, 120);
  for (let step = 0; step < steps; step++) {
    const r = rnd();
    const liveClients = clients.filter((c) => c.ended === undefined);
    const liveServerSessions = serverSessions.filter((s) => s.ended === undefined && !s.crashed);
    if (r < 0.22) {
      if (liveClients.length === 0 && clients.length < 6) liveClients.push(startClient());
      const c = liveClients.length > 0 ? pick(liveClients) : pick(clients);
      const n = chance(0.2) ? int(2, chance(0.3) ? 40 : 8) : 1;
      for (let i = 0; i < n; i++) doSend(c, 1);
    } else if (r < 0.38) {
      if (liveServerSessions.length > 0) {
        const s = pick(liveServerSessions);
        const n = chance(0.2) ? int(2, chance(0.3) ? 40 : 8) : 1;
        for (let i = 0; i < n; i++) doSend(s, 2);
      }
    } else if (r < 0.44) {
      const pending = allSends.filter((s) => s.controller && !s.aborted && s.outcome === undefined);
      if (pending.length > 0) {
        const s = pick(pending);
        s.aborted = true;
        t(`abort #${s.tag}`);
        s.controller!.abort(new AbortMarker(`aborted #${s.tag}`));
        count("aborts");
      }
    } else if (r < 0.56) {
      const links = liveLinks();
      if (links.length > 0) {
        const link = pick(links);
        const kind = pick(["eof", "reset", "halfc", "halfs", "blackhole", "hold", "cutAfter"]);
        t(`fault ${kind} on link ${net.links.indexOf(link)}`);
        count(`fault_${kind}`);
        switch (kind) {
          case "eof":
          case "reset":
            link.cut(kind);
            break;
          case "halfc":
            void link.client.closeWrite();
            break;
          case "halfs":
            void link.server.closeWrite();
            break;
          case "blackhole":
            link.blackHole(pick(["c2s", "s2c", undefined] as const));
            break;
          case "hold":
            link.hold(pick(["c2s", "s2c", undefined] as const));
            linkFaulty.add(link);
            break;
          case "cutAfter": {
            const dir = pick(["c2s", "s2c"] as const);
            link.cutAfter(dir, link.bytes[dir] + int(0, 60), pick(["eof", "reset"] as const));
            break;
          }
        }
      }
    } else if (r < 0.6) {
      releaseDials(false);
      for (const link of linkFaulty) {
        if (chance(0.5)) link.releaseSome(pick(["c2s", "s2c"] as const), int(1, 40));
        else link.release();
      }
    } else if (r < 0.78) {
      const choice = rnd();
      if (choice < 0.3) {
        clock.runNext();
        t(`runNext -> ${clock.now()}`);
      } else {
        const ms = pick([
          0,
          1,
          common.ackDelay,
          heartbeatInterval,
          common.deadPeerTimeout,
          common.deadPeerTimeout + 1,
          resumeTimeout,
          int(0, 2 * common.deadPeerTimeout),
          common.closeTimeout,
        ]);
        clock.advance(ms);
        t(`advance ${ms} -> ${clock.now()}`);
      }
    } else if (r < 0.86) {
      const all = [...clients, ...serverSessions].filter((c) => !c.crashed);
      const c = pick(all);
      c.reader.give(pick([1, 2, 5, 1000]));
    } else if (r < 0.88) {
      if (liveServerSessions.length > 0) {
        const s = pick(liveServerSessions);
        callClose(s, pick([0, 100, 3000, undefined]));
      }
    } else if (r < 0.91) {
      if (liveClients.length > 0) {
        callClose(pick(liveClients), pick([0, 100, 3000, undefined]));
      }
    } else if (r < 0.93) {
      if (liveClients.length < 2) startClient();
    } else if (r < 0.95) {
      // crash
      if (current !== undefined && !current.crashed) await crash(current);
      if (chance(0.7)) current = startServer();
    } else if (r < 0.96) {
      if (current !== undefined && current.closing === undefined && !current.crashed) {
        const sc = current;
        t(`server ${sc.n} close()`);
        count("serverClose");
        sc.closeCalledAt = stepCounter++;
        sc.closing = sc.server.close().then(() => {
          sc.closed = true;
          t(`server ${sc.n} closed`);
        }, (e) => {
          violations.push(`server.close() rejected: ${e}`);
        });
      }
    } else if (r < 0.97) {
      if (current === undefined || current.crashed) current = startServer();
      else if (current.closed) {
        current.listener.close();
        current = startServer();
      }
    }
    await drain(pick([0, 1, 3, 10, 40]));
  }

  function callClose(ctx: SessCtx, timeout: number | undefined): void {
    if (ctx.closeCalled) {
      t(`${ctx.name} close(${timeout}) again`);
      void ctx.session.close({ timeout }).catch(() => {});
      return;
    }
    ctx.closeCalled = true;
    // Messages still unconfirmed when close() was called (not settled, not listed in a
    // sessionlost already); after the session ended, close() resolves: nothing to wait for.
    const listedBefore = ctx.lost.flatMap((l) => [...l.unknown, ...l.unsent]);
    ctx.sendsBeforeClose = ctx.ended !== undefined
      ? []
      : ctx.sends.filter((s) =>
        s.outcome === undefined && !listedBefore.some((u) =>
          u.length === s.payload.length && u.every((x, i) => x === s.payload[i])
        )
      );
    t(`${ctx.name} close(${timeout}) state=${ctx.session.state} inFlight=${ctx.session.stats.inFlight} waiting=${ctx.session.stats.waiting}`);
    const rec: { outcome: string | undefined; error: unknown } = {
      outcome: undefined,
      error: undefined,
    };
    ctx.closePromise = rec;
    count("closes");
    ctx.session.close({ timeout }).then(() => (rec.outcome = "ok"), (e) => {
      rec.outcome = code(e);
      rec.error = e;
    });
  }

  async function crash(sc: ServerCtx): Promise<void> {
    t(`server ${sc.n} CRASH`);
    count("crashes");
    sc.crashed = true;
    sc.clock.kill();
    sc.listener.close();
    // Every connection of this server dies with a reset.
    for (const link of net.links) if (!link.down) link.cut("reset");
    for (const s of serverSessions) {
      if ((s as SessCtx & { server: ServerCtx }).server === sc && !s.crashed) {
        // Confirmed means "in the receive queue": take what is queued.
        s.reader.give(1_000_000);
      }
    }
    await drain(100);
    for (const s of serverSessions) {
      if ((s as SessCtx & { server: ServerCtx }).server === sc) s.crashed = true;
    }
  }

  // ---- end phase: no more faults; read everything, close everything, bounded.
  t("---- end phase");
  endPhase = true;
  for (const link of linkFaulty) link.release();
  if (current === undefined || current.crashed) current = startServer();
  for (const c of [...clients, ...serverSessions]) if (!c.crashed) c.reader.give(1_000_000);
  for (const c of clients) if (!c.closeCalled) callClose(c, pick([2000, 30000]));
  let rounds = 0;
  const settledAll = () =>
    clients.every((c) => c.ended !== undefined && c.closePromise?.outcome !== undefined);
  while (!settledAll() && rounds < 3000) {
    rounds++;
    await drain(20);
    if (current.closed) {
      current.listener.close();
      current = startServer();
    }
    for (const link of linkFaulty) link.release();
    releaseDials(true);
    if (!settledAll()) clock.advance(pick([1, 10, 100]));
  }
  if (!settledAll()) {
    violations.push(
      `hang: clients not closed after ${rounds} rounds: ${
        clients.map((c) => `${c.name}:${c.session.state}/${c.closePromise?.outcome}`).join(",")
      }`,
    );
  }
  // Close the servers.
  for (const sc of servers) {
    if (sc.crashed) continue;
    if (sc.closing === undefined) {
      t(`server ${sc.n} close() (end)`);
      sc.closeCalledAt = stepCounter++;
      sc.closing = sc.server.close().then(() => {
        sc.closed = true;
      }, (e) => {
        violations.push(`server.close() rejected: ${e}`);
      });
    }
  }
  rounds = 0;
  while (servers.some((s) => !s.crashed && !s.closed) && rounds < 3000) {
    rounds++;
    await drain(20);
    releaseDials(true);
    clock.advance(pick([1, 10, 100]));
  }
  releaseDials(true);
  for (const sc of servers) {
    if (!sc.crashed && !sc.closed) violations.push(`hang: server ${sc.n} close() never resolved`);
    sc.listener.close();
  }
  // Graceful link closes are bounded by deadPeerTimeout.
  for (let i = 0; i < 20; i++) {
    await drain(20);
    clock.advance(common.deadPeerTimeout);
  }
  await drain(200);
  // Timers left: only those of crashed servers' clocks were killed.
  if (clock.pending !== 0) violations.push(`${clock.pending} timers pending after every close`);

  // ---- checks
  for (const c of [...clients, ...serverSessions]) {
    if (c.crashed) continue;
    if (c.session.state !== "closed") violations.push(`${c.name}: state ${c.session.state} at end`);
    if (!c.reader.done) violations.push(`${c.name}: iterator did not end`);
    if (c.ended === undefined && !c.endedBeforeYield) violations.push(`${c.name}: no close event`);
    const st = c.session.stats;
    if (st.inFlight !== 0 || st.waiting !== 0 || st.bufferedBytes !== 0) {
      violations.push(`${c.name}: stats after close ${JSON.stringify(st)}`);
    }
    // The iterator ends cleanly, except on a session ended by an error this side did not ask for.
    if (c.ended !== undefined) {
      const serverClosing = (c as SessCtx & { server?: ServerCtx }).server?.closing !== undefined &&
        (c as SessCtx & { server?: ServerCtx }).server!.closeCalledAt! <= (c.endedAt ?? Infinity);
      const expected = c.closeCalled || serverClosing || c.ended.error === undefined
        ? undefined
        : code(c.ended.error);
      const got = c.reader.error === undefined ? undefined : code(c.reader.error);
      if (expected !== got) {
        violations.push(`${c.name}: iterator ended with ${got}, expected ${expected}`);
      }
    }
    // On a client, a sessionlost is followed at once by resumed (unless the session closes).
    if (c.name.startsWith("c")) {
      c.events.forEach((e, i) => {
        if (e === "sessionlost" && c.events[i + 1] !== "resumed" && c.events[i + 1] !== "close") {
          violations.push(`${c.name}: sessionlost followed by ${c.events[i + 1]}`);
        }
      });
    }
  }

  // Mark listed payloads.
  const sameBytes = (a: Uint8Array, b: Uint8Array) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  function markListed(ctx: SessCtx) {
    for (const l of ctx.lost) {
      for (const u of l.unknown) {
        const s = ctx.sends.find((s) =>
          s.payload === u ||
          (!s.listedUnknown && !s.listedUnsent && sameBytes(s.payload, u) &&
            (s.outcome === "SESSION_LOST" || s.outcome === "ABORTED"))
        );
        if (s) s.listedUnknown = true;
        else {violations.push(
            `${ctx.name}: sessionlost lists an unknown payload not sent as SESSION_LOST`,
          );}
      }
      for (const u of l.unsent) {
        const s = ctx.sends.find((s) =>
          !s.listedUnknown && !s.listedUnsent && sameBytes(s.payload, u) &&
          (s.outcome === "SESSION_LOST" || s.outcome === "ABORTED")
        );
        if (s) s.listedUnsent = true;
        else {violations.push(
            `${ctx.name}: sessionlost lists an unsent payload not rejected SESSION_LOST`,
          );}
      }
    }
    if (ctx.ended) {
      for (const u of ctx.ended.unconfirmed) {
        const s = ctx.sends.find((s) =>
          !s.listedClose && !s.listedUnknown && !s.listedUnsent && sameBytes(s.payload, u) &&
          s.outcome !== "ok"
        );
        if (s) {
          s.listedClose = true;
          s.closeError = ctx.ended.error ? code(ctx.ended.error) : "none";
        } else violations.push(`${ctx.name}: close event lists a payload that was not rejected`);
      }
    }
  }

  function bestMatch(label: string, seq: SendRec[], got: Uint8Array[]) {
    // cost of skipping seq[k] when the next match is in epoch `epoch` (undefined: the end)
    const skipCost = (k: number, epoch: string | undefined) => {
      const s = seq[k]!;
      if (s.outcome === "ok") return 1; // resolved: must be delivered
      if (epoch !== undefined && s.epoch === epoch && !s.aborted) return 1; // a gap
      return 0;
    };
    const memo = new Map<number, { cost: number; q: number }>();
    const INF = 1e9;
    const solve = (i: number, p: number): number => {
      const key = i * 100003 + p;
      const hit = memo.get(key);
      if (hit) return hit.cost;
      let best = { cost: INF, q: -1 };
      if (i === got.length) {
        let cost = 0;
        for (let k = p; k < seq.length; k++) cost += skipCost(k, undefined);
        best = { cost, q: -1 };
      } else {
        const d = got[i]!;
        for (let q = p; q < seq.length; q++) {
          if (!sameBytes(seq[q]!.payload, d)) continue;
          // Matching a message listed as unsent (or resolved twice) is a violation too.
          let cost = seq[q]!.listedUnsent ? 1 : 0;
          for (let k = p; k < q; k++) cost += skipCost(k, seq[q]!.epoch);
          if (cost >= best.cost) continue;
          cost += solve(i + 1, q + 1);
          if (cost < best.cost) best = { cost, q };
        }
      }
      memo.set(key, best);
      return best.cost;
    };
    solve(0, 0);
    let p = 0;
    for (let i = 0; i < got.length; i++) {
      const { q } = memo.get(i * 100003 + p)!;
      if (q < 0) {
        const d = got[i]!;
        violations.push(
          `${label}: delivery ${i} (${d.length} B${
            d.length >= 5 ? ` tag ${new DataView(d.buffer).getUint32(1)}` : ""
          }) matches no later send (duplicate, reordering or foreign)`,
        );
        return;
      }
      for (let k = p; k < q; k++) {
        if (skipCost(k, seq[q]!.epoch) > 0 && seq[k]!.epoch === seq[q]!.epoch && !seq[k]!.aborted) {
          violations.push(
            `${label}: gap: #${seq[k]!.tag} (${seq[k]!.payload.length} B, ${
              seq[k]!.outcome
            }) skipped before #${seq[q]!.tag}`,
          );
        }
      }
      seq[q]!.delivered++;
      p = q + 1;
    }
  }

  for (const c of clients) markListed(c);
  for (const s of serverSessions) markListed(s);

  // c2s: each server session against the client epoch with its id.
  for (const s of serverSessions) {
    let found: { c: SessCtx; epoch: string } | undefined;
    for (const c of clients) {
      const i = c.ids.indexOf(s.key);
      if (i >= 0) found = { c, epoch: c.epochs[i]! };
    }
    if (found === undefined) {
      if (s.reader.got.length > 0) violations.push(`${s.name}: deliveries but no client epoch`);
      continue;
    }
    const seq = found.c.sends.filter((x) => x.epoch === found!.epoch);
    bestMatch(`${s.name}<-${found.epoch}`, seq, s.reader.got);
  }
  // s2c: the client's deliveries against the server sessions' sends, in session order. Empty
  // messages are ambiguous across sessions: take the assignment with the fewest violations.
  for (const c of clients) {
    const sessionsOfClient = serverSessions.filter((s) => c.ids.includes(s.key));
    const seq = sessionsOfClient.flatMap((s) => s.sends);
    bestMatch(c.name, seq, c.reader.got);
  }
  const allowed = new Set(["ok", "CONNECTION_CLOSED", "SESSION_LOST", "ABORTED"]);
  const crashedSender = (s: SendRec) => serverSessions.some((x) => x.name === s.from && x.crashed);
  for (const s of allSends) {
    const label = `${s.from} #${s.tag} (${s.payload.length} B)`;
    if (s.delivered > 1) violations.push(`${label}: delivered ${s.delivered} times`);
    if (crashedSender(s)) continue;
    if (s.outcome === undefined) {
      violations.push(`${label}: send never settled`);
      continue;
    }
    if (!allowed.has(s.outcome)) violations.push(`${label}: rejected with ${s.outcome}`);
    if (s.outcome === "ok" && s.delivered !== 1) {
      // A server session that crashed took its queue with it; we read the queue at the crash.
      violations.push(`${label}: send resolved but delivered ${s.delivered} times`);
    }
    if (s.outcome === "ABORTED" && !s.aborted) {
      violations.push(`${label}: abort outcome without abort`);
    }
    if (s.outcome === "SESSION_LOST" && !s.listedUnknown && !s.listedUnsent) {
      violations.push(`${label}: SESSION_LOST but not listed in sessionlost`);
    }
    if (s.listedUnsent && s.delivered > 0) violations.push(`${label}: listed unsent but delivered`);
    if (s.outcome === "CONNECTION_CLOSED" && !s.afterClose && !s.listedClose) {
      violations.push(`${label}: CONNECTION_CLOSED but not listed in the close event`);
    }
    if (
      s.listedClose && (s.closeError === "none" || s.closeError === "CONNECTION_CLOSED") &&
      s.delivered > 0
    ) {
      violations.push(
        `${label}: the peer's GOODBYE said it will never be delivered (close error ${s.closeError}), but it was`,
      );
    }
  }

  // close() outcomes.
  for (const c of [...clients, ...serverSessions]) {
    if (c.crashed || c.closePromise === undefined) continue;
    const cp = c.closePromise;
    if (cp.outcome === undefined) {
      violations.push(`${c.name}: close() never settled`);
      continue;
    }
    if (cp.outcome === "ok") {
      for (const s of c.sendsBeforeClose ?? []) {
        if (s.outcome !== "ok" && s.outcome !== "ABORTED") {
          violations.push(
            `${c.name}: close() resolved but #${s.tag} sent before it ended ${s.outcome}`,
          );
        }
      }
    } else if (c.ended && c.ended.error !== cp.error) {
      violations.push(
        `${c.name}: close() rejected with ${cp.outcome} but the close event has ${
          c.ended.error && code(c.ended.error)
        }`,
      );
    }
    if (
      cp.outcome !== "ok" &&
      !["CONNECTION_TIMEOUT", "CONNECTION_CLOSED", "SESSION_LOST"].includes(cp.outcome)
    ) {
      violations.push(`${c.name}: close() rejected with ${cp.outcome}`);
    }
  }

  await drain(50);
  process.off("unhandledRejection", onUnhandled);
  for (const u of unhandled) violations.push(`unhandled rejection: ${u}`);
  return { seed, violations, trace, stats };
}
