// Copyright 2026 the framewire authors. MIT license.
// `framewire demo --reliable`: a reliable session survives a link killed
// mid-stream, and nothing is lost. Private.
//
// A `reliableClient` and a `reliableServer` talk, in this process, through a
// small proxy that reads the session protocol as it forwards it and kills the
// TCP link at seeded points: inside a DATA frame (client to server), or by
// dropping the server's ACK (server to client). To keep the story the same
// on every run and runtime, the client queues every message before its first
// connection (so each connection replays everything not yet confirmed), the
// proxy counts frames rather than reads, and it connects a new link to the
// server only once the server has delivered everything the previous link
// carried.

import type { Conn, Listener } from "../connection/types.ts";
import { lengthPrefixed } from "../framing/length_prefixed.ts";
import type { FrameDecoder, Framing } from "../framing/types.ts";
import {
  ACK,
  DATA,
  DATA_HEADER,
  decodeHandshake,
  readU64,
  WELCOME,
} from "../reliable/_protocol.ts";
import { reliableClient } from "../reliable/reliable_client.ts";
import { resolvers } from "../reliable/_resolvers.ts";
import { reliableServer } from "../reliable/reliable_server.ts";
import type { ReliableServer, ReliableSession } from "../reliable/types.ts";
import { bytesWord, showPayload } from "./_display.ts";
import type { Adapter, CliIo } from "./_io.ts";
import { describeError, Progress, withDeadline } from "./_net.ts";
import { mulberry32 } from "./_prng.ts";

/** The options of `framewire demo --reliable`. */
export interface ReliableDemoOptions {
  /** Seed of the cut points and of the message texts. */
  seed: number;
  /** How many messages the client sends. */
  messages: number;
}

/** Fewest `--messages` (a cut needs a message before it and one after). */
export const MIN_MESSAGES = 2;
/** Default of `--messages`. */
export const DEFAULT_MESSAGES = 200;
/** Largest `--messages` (all of them sit in the client's send buffer at once). */
export const MAX_MESSAGES = 10_000;

/** How long the demo may take before it gives up (it needs well under a second). */
const WATCHDOG_MS = 15_000;
/** Bytes of the length prefix in front of every protocol frame. */
const PREFIX = 4;
/** The session framing (the default `maxMessageSize` plus the DATA header). */
const FRAMING: Framing = lengthPrefixed({ maxFrameLength: 4 * 1024 * 1024 + DATA_HEADER });
const WORDS = [
  "amber",
  "bison",
  "cedar",
  "delta",
  "ember",
  "fjord",
  "gecko",
  "harbor",
  "iris",
  "juniper",
  "kelp",
  "lumen",
  "maple",
  "nectar",
  "orbit",
  "pebble",
];

/** One planned kill of a link. */
interface Cut {
  /** `c2s`: inside a DATA frame; `s2c`: the server's ACK is dropped. */
  direction: "c2s" | "s2c";
  /** New DATA frames that get through whole on this link (at least 1). */
  whole: number;
  /** `c2s`: bytes of the next DATA frame that get through (1 to its length - 1). */
  partial: number;
}

/** Runs `framewire demo --reliable`; returns the exit code. */
export async function demoReliable(options: ReliableDemoOptions, io: CliIo): Promise<number> {
  const adapter = await io.adapter();
  const parts: Parts = {};
  try {
    return await withDeadline(story(adapter, options, io, parts), WATCHDOG_MS, "the demo");
  } catch (error) {
    io.err(`framewire demo: ${describeError(error)}\n`);
    return 1;
  } finally {
    await parts.client?.close({ timeout: 0 }).catch(() => {});
    await parts.server?.close().catch(() => {});
    await parts.proxy?.close();
    parts.listener?.close();
  }
}

/** What the demo opened, for the cleanup. */
interface Parts {
  listener?: Listener;
  server?: ReliableServer;
  proxy?: CuttingProxy;
  client?: ReliableSession;
}

/** The seeded message texts: `#007 cedar fjord`, and the like. */
function makeMessages(count: number, random: () => number): string[] {
  const width = String(count).length;
  const out: string[] = [];
  for (let i = 1; i <= count; i++) {
    const words: string[] = [];
    const n = 1 + Math.floor(random() * 4);
    for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
    out.push(`#${String(i).padStart(width, "0")} ${words.join(" ")}`);
  }
  return out;
}

/**
 * Three or four kills (fewer with few messages), each after at least one new
 * message got through and leaving at least one for every later link; both
 * directions appear when there are two kills or more.
 */
function planCuts(sizes: readonly number[], random: () => number): Cut[] {
  const count = Math.min(3 + Math.floor(random() * 2), sizes.length - 1);
  const cuts: Cut[] = [];
  let remaining = sizes.length;
  for (let left = count; left > 0; left--) {
    const share = Math.max(1, Math.floor((2 * (remaining - 1)) / (left + 1)));
    const whole = Math.min(remaining - left, 1 + Math.floor(random() * share));
    const direction = random() < 0.5 ? "c2s" : "s2c";
    const next = sizes[sizes.length - remaining + whole]!; // payload of the frame cut
    const frame = PREFIX + DATA_HEADER + next;
    const partial = 1 + Math.floor(random() * (frame - 1));
    cuts.push({ direction, whole, partial });
    remaining -= whole;
  }
  if (cuts.length >= 2 && cuts.every((c) => c.direction === cuts[0]!.direction)) {
    const last = cuts[cuts.length - 1]!;
    last.direction = last.direction === "c2s" ? "s2c" : "c2s";
  }
  return cuts;
}

function range(from: number, to: number): string {
  return from === to ? `${from}` : `${from}–${to}`;
}

const INDENT = "        ";

async function story(
  adapter: Adapter,
  options: ReliableDemoOptions,
  io: CliIo,
  parts: Parts,
): Promise<number> {
  const say = (line = ""): void => io.out(line + "\n");
  const random = mulberry32(options.seed);
  const total = options.messages;
  const texts = makeMessages(total, random);
  const encoder = new TextEncoder();
  const payloads = texts.map((t) => encoder.encode(t));
  const cuts = planCuts(payloads.map((p) => p.length), random);
  const wire = payloads.reduce((sum, p) => sum + PREFIX + DATA_HEADER + p.length, 0);

  say(
    `framewire demo --reliable: a link killed mid-stream, nothing lost (seed ${options.seed})`,
  );
  say();
  say(`A reliableClient sends ${total} numbered messages to a reliableServer in this process,`);
  say(
    `through a proxy on 127.0.0.1 that kills the TCP connection ${
      cuts.length === 1 ? "once, at a seeded point" : `${cuts.length} times, at seeded points`
    }.`,
  );
  say(`Each message is a DATA frame with a sequence number (${wire} bytes in all); the server`);
  say(`confirms with ACKs; the client keeps what is unconfirmed, and on every new connection`);
  say(`resends what the server's WELCOME says it lacks. The messages:`);
  const shown = total <= 5 ? [...texts.keys()] : [0, 1, 2, total - 1];
  const numberWidth = String(total).length;
  for (const i of shown) {
    if (total > 5 && i === total - 1) say(`  …`);
    say(`  ${String(i + 1).padStart(numberWidth)}  ${showPayload(payloads[i]!, 48)}`);
  }
  say();

  // The server application: records every message it receives.
  const received = new Progress();
  const got: string[] = [];
  const decoder = new TextDecoder();
  parts.listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
  const server = reliableServer(parts.listener);
  parts.server = server;
  const serving = (async (): Promise<ReliableSession> => {
    const next = await server[Symbol.asyncIterator]().next();
    if (next.done) throw new Error("the server closed before the client arrived");
    const session = next.value;
    for await (const message of session) {
      got.push(decoder.decode(message));
      received.advance();
    }
    return session;
  })();
  serving.catch(() => {}); // awaited below; this only keeps a failure after the watchdog quiet

  parts.proxy = await CuttingProxy.start(adapter, {
    targetPort: (parts.listener.addr as { port: number }).port,
    cuts,
    serverHas: (n) => received.waitFor(n),
    say,
  });

  // The client: every send() is made before the first connection is up.
  const client = reliableClient(
    () => adapter.connect({ hostname: "127.0.0.1", port: parts.proxy!.port }),
    {
      // Room for every message at once (each counts its payload plus 64 bytes).
      sendBufferSize: payloads.reduce((sum, p) => sum + p.length + 64, 0),
    },
  );
  parts.client = client;
  client.addEventListener("open", () => {
    say(`link 1  open: HELLO and WELCOME exchanged; the client writes messages ${range(1, total)}`);
  });
  client.addEventListener("reconnecting", (event) => {
    const { delay } = event.detail;
    say(
      `${INDENT}client: "reconnecting" event, dials again ${
        delay === 0 ? "at once" : `in ${Math.round(delay)} ms (timing-dependent)`
      }`,
    );
  });
  client.addEventListener("resumed", (event) => {
    const { replayed } = event.detail;
    const proxy = parts.proxy!;
    const has = proxy.welcomed;
    const resend = has === total
      ? "so the client has nothing to resend"
      : `so the client resends ${range(has + 1, total)}`;
    const expected = replayed === total - has ? "" : `, not ${total - has}: timing-dependent`;
    say(
      `link ${proxy.links}  "resumed" (replayed ${replayed}${expected}): the WELCOME says the server ` +
        `has ${has === 0 ? "nothing" : range(1, has)},`,
    );
    const unacked = proxy.unacked;
    say(
      `${INDENT}${resend}` +
        (unacked === undefined ? "" : ` (the WELCOME stands in for the lost ACK of ${unacked})`),
    );
  });

  const sends = payloads.map((p) => client.send(p));
  await Promise.all(sends);
  say(
    `link ${parts.proxy.links}  stays up: the server confirms everything, so every send() resolves;`,
  );
  say(`${INDENT}close() waits for the last ACK and exchanges GOODBYE with the server`);
  await client.close();
  const session = await serving;
  await server.close();

  // The verdict, from what the server application actually received.
  const index = new Map(texts.map((t, i) => [t, i]));
  const seen = new Set<number>();
  let duplicated = 0;
  let foreign = 0;
  let ordered = true;
  let last = -1;
  for (const text of got) {
    const i = index.get(text);
    if (i === undefined) {
      foreign++;
      continue;
    }
    if (seen.has(i)) {
      duplicated++;
      continue;
    }
    if (i < last) ordered = false;
    last = i;
    seen.add(i);
  }
  const lost = total - seen.size;
  const { resent, reconnects } = client.stats;
  const ok = lost === 0 && duplicated === 0 && foreign === 0 && ordered;
  say();
  say(
    `Summary: sent ${total}, received ${got.length}, lost ${lost}, duplicated ${duplicated}, ` +
      `order ${ordered ? "kept" : "BROKEN"}, resent ${resent}, reconnects ${reconnects}` +
      (foreign > 0 ? `, ${foreign} unknown messages` : "") + ".",
  );
  say(
    ok
      ? `Every message arrived exactly once and in order, although ${
        cuts.length === 1 ? "a link was" : `${cuts.length} links were`
      } killed mid-stream.`
      : "SOMETHING WENT WRONG: the session did not deliver every message exactly once, in order.",
  );
  const dropped = session.stats.duplicatesDropped;
  if (dropped > 0) say(`(The server dropped ${dropped} duplicate frames; timing-dependent.)`);
  return ok ? 0 : 1;
}

/** Options of {@linkcode CuttingProxy.start}. */
interface ProxyOptions {
  /** The server's port. */
  targetPort: number;
  /** The kills of links 1, 2, …; later links are left alone. */
  cuts: readonly Cut[];
  /** Resolves once the server application has received `n` messages. */
  serverHas: (n: number) => Promise<void>;
  /** Prints a line of the story. */
  say: (line: string) => void;
}

/** One proxied connection. */
interface Link {
  number: number;
  inbound: Conn;
  outbound: Conn | undefined;
  cut: Cut | undefined;
  dead: boolean;
  /** Bytes forwarded client to server. */
  c2s: number;
  /** DATA frames forwarded whole; the first and last seq among them. */
  whole: number;
  first: number;
  last: number;
  /** `s2c`: the ACK to drop (the one confirming `last`). */
  dropAck: number | undefined;
}

/**
 * Forwards each client connection to the server frame by frame (the bytes are
 * unchanged) and kills link n as `cuts[n - 1]` says.
 */
class CuttingProxy {
  /** The port the client dials. */
  readonly port: number;
  /** Links accepted so far (the current one's number). */
  links = 0;
  /** `lastReceived` of the latest WELCOME the server sent. */
  welcomed = 0;
  /** The messages whose ACK the latest kill dropped (when it was server to client). */
  unacked: string | undefined;
  #o: ProxyOptions;
  #adapter: Adapter;
  #listener: Listener;
  #live = new Set<Link>();
  #tasks = new Set<Promise<void>>();
  /** Messages the server has for sure once the links so far are gone. */
  #serverHas = 0;
  #closing = resolvers<void>();
  #closed = false;

  private constructor(adapter: Adapter, listener: Listener, options: ProxyOptions) {
    this.#adapter = adapter;
    this.#listener = listener;
    this.#o = options;
    this.port = (listener.addr as { port: number }).port;
    this.#track(this.#accept());
  }

  static async start(adapter: Adapter, options: ProxyOptions): Promise<CuttingProxy> {
    const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
    return new CuttingProxy(adapter, listener, options);
  }

  /** Stops listening, closes every link and waits for the forwarding to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener.close();
    this.#closing.resolve();
    for (const link of this.#live) this.#kill(link);
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task)).catch(() => {});
  }

  async #accept(): Promise<void> {
    try {
      for await (const inbound of this.#listener) {
        if (this.#closed) {
          inbound.close();
          continue;
        }
        const link: Link = {
          number: ++this.links,
          inbound,
          outbound: undefined,
          cut: this.#o.cuts[this.links - 1],
          dead: false,
          c2s: 0,
          whole: 0,
          first: 0,
          last: 0,
          dropAck: undefined,
        };
        this.#live.add(link);
        this.#track(this.#open(link));
      }
    } catch {
      // the listener was closed
    }
  }

  async #open(link: Link): Promise<void> {
    // The new link reaches the server only once the server holds everything
    // the previous links carried whole: its WELCOME then says so exactly.
    await Promise.race([this.#o.serverHas(this.#serverHas), this.#closing.promise]);
    if (this.#closed) this.#kill(link);
    if (link.dead) return;
    try {
      link.outbound = await this.#adapter.connect({
        hostname: "127.0.0.1",
        port: this.#o.targetPort,
      });
    } catch {
      this.#kill(link);
      return;
    }
    if (link.dead) {
      link.outbound.close();
      return;
    }
    await Promise.all([
      this.#pump(link, link.inbound, link.outbound, "c2s"),
      this.#pump(link, link.outbound, link.inbound, "s2c"),
    ]);
    this.#kill(link);
  }

  async #pump(link: Link, from: Conn, to: Conn, direction: "c2s" | "s2c"): Promise<void> {
    const reader = from.readable.getReader();
    const writer = to.writable.getWriter();
    const frames = FRAMING.decoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || link.dead) break;
        frames.push(value);
        const more = direction === "c2s"
          ? await this.#clientToServer(link, frames, writer)
          : await this.#serverToClient(link, frames, writer);
        if (!more) break;
      }
    } catch {
      // either side failed, or a frame did not decode: the link goes down
    } finally {
      this.#kill(link);
      reader.releaseLock();
      writer.releaseLock();
    }
  }

  /** Forwards the client's complete frames; false once the link is killed. */
  async #clientToServer(
    link: Link,
    frames: FrameDecoder,
    writer: WritableStreamDefaultWriter<Uint8Array>,
  ): Promise<boolean> {
    const cut = link.cut;
    for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
      if (link.dead) return false;
      if (link.dropAck !== undefined) continue; // held back: the link is about to die
      const bytes = FRAMING.encode(frame);
      if (frame[0] !== DATA) {
        link.c2s += bytes.length;
        await writer.write(bytes);
        continue;
      }
      const seq = readU64(frame, 1);
      if (cut?.direction === "c2s" && link.whole === cut.whole) {
        link.c2s += cut.partial;
        await writer.write(bytes.subarray(0, cut.partial));
        this.#serverHas = link.last;
        this.unacked = undefined;
        const into = bytesWord(cut.partial);
        this.#o.say(
          `link ${link.number}  killed client→server after ${link.c2s} bytes, ${into} into ` +
            `message ${seq} (a ${bytes.length}-byte frame):`,
        );
        this.#o.say(
          `${INDENT}the server got ${range(link.first, link.last)} whole on this link; ${seq} ` +
            `and later never arrived`,
        );
        // FIN after the cut frame, then the end of the link once the server has read up to it: a
        // close would reset the connection, and the server would lose what it had not read yet
        // (and the next link, which waits for the server to hold it all, would wait for ever).
        link.inbound.close();
        await link.outbound!.closeWrite().catch(() => {});
        await Promise.race([this.#o.serverHas(link.last), this.#closing.promise]);
        this.#kill(link);
        return false;
      }
      if (link.whole++ === 0) link.first = seq;
      link.last = seq;
      link.c2s += bytes.length;
      if (cut?.direction === "s2c" && link.whole === cut.whole) link.dropAck = seq;
      await writer.write(bytes);
    }
    return true;
  }

  /** Forwards the server's frames; drops the planned ACK and kills the link there. */
  async #serverToClient(
    link: Link,
    frames: FrameDecoder,
    writer: WritableStreamDefaultWriter<Uint8Array>,
  ): Promise<boolean> {
    for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
      if (link.dead) return false;
      if (frame[0] === WELCOME) this.welcomed = decodeHandshake(frame)?.lastReceived ?? 0;
      if (frame[0] === ACK && link.dropAck !== undefined && readU64(frame, 1) >= link.dropAck) {
        this.#serverHas = link.last;
        this.unacked = range(link.first, link.last);
        this.#o.say(
          `link ${link.number}  killed server→client after the client's ${link.c2s} bytes: the server ` +
            `got ${range(link.first, link.last)},`,
        );
        this.#o.say(
          `${INDENT}but its ACK confirming ${
            link.first === link.last ? "it" : `them up to ${link.last}`
          } is dropped with the link`,
        );
        this.#kill(link);
        return false;
      }
      await writer.write(FRAMING.encode(frame));
    }
    return true;
  }

  #kill(link: Link): void {
    if (link.dead) return;
    link.dead = true;
    this.#live.delete(link);
    link.inbound.close();
    link.outbound?.close();
  }
}
