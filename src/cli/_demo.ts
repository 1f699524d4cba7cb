// Copyright 2026 the framewire authors. MIT license.
// `framewire demo`: the picture of why a byte stream needs framing. Private.

import { framed } from "../connection/framed.ts";
import type { Conn, Listener } from "../connection/types.ts";
import type { Framing } from "../framing/types.ts";
import { flag, integerOption, parseArgs, stringOption, UsageError } from "./_args.ts";
import { DEFAULT_MESSAGES, demoReliable, MAX_MESSAGES, MIN_MESSAGES } from "./_demo_reliable.ts";
import { ascii, bytesWord, hex, plural, showPayload } from "./_display.ts";
import { formatHelp, framingFor } from "./_formats.ts";
import type { Adapter, CliIo } from "./_io.ts";
import { describeError, Progress, withDeadline } from "./_net.ts";
import { mulberry32 } from "./_prng.ts";

/** `framewire demo --help`. */
export const DEMO_HELP: string =
  `framewire demo — show, step by step, why a byte stream needs framing

Usage:
  framewire demo [--seed N] [--format F] [--max-chunk N]
  framewire demo --reliable [--seed N] [--messages N]

Starts a server and a client in this process, on 127.0.0.1, with a proxy
between them that re-cuts the byte stream at random points, as a network is
allowed to. The client sends a few messages, one send() call each; the demo
prints every read the server gets (its size and bytes) and the frames the
decoder produced from it. The same seed always prints the same story.

Options:
  --seed N        seed of the proxy's random cut points (default 1)
  --format F      wire format (default u32be), one of:
${formatHelp()}
  --max-chunk N   largest chunk the proxy delivers, in bytes (default 16)
  --reliable      reliable-session mode: a reliableClient sends numbered
                  messages to a reliableServer through a proxy that kills the
                  TCP link mid-stream a few times (seeded); the story shows
                  each cut, the reconnects and what was resent, and ends with
                  "lost 0, duplicated 0, order kept" (exit 1 otherwise)
  --messages N    messages the reliable demo sends (default ${DEFAULT_MESSAGES}, ${MIN_MESSAGES} to ${MAX_MESSAGES})
  -h, --help      show this help
`;

const SPEC = {
  seed: { type: "string" },
  format: { type: "string", short: "f" },
  "max-chunk": { type: "string" },
  reliable: { type: "boolean" },
  messages: { type: "string" },
} as const;

/** The options of `framewire demo`. */
export interface DemoOptions {
  /** Seed of the proxy's cut points. */
  seed: number;
  /** The wire format. */
  framing: Framing;
  /** The largest chunk the proxy delivers. */
  maxChunk: number;
}

/** The messages the demo client sends. */
export const DEMO_MESSAGES: readonly string[] = [
  "hello",
  "how are you?",
  "",
  "this longer message will need several reads",
  "ok",
  "bye",
];

/** How long the demo may take before it gives up (it needs a few milliseconds). */
const WATCHDOG_MS = 15_000;

/** Runs `framewire demo`; returns the exit code. */
export async function demo(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(args, SPEC);
  if (flag(parsed, "help")) {
    io.out(DEMO_HELP);
    return 0;
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  }
  const seed = integerOption(parsed, "seed", { min: 0, max: 2 ** 32 - 1, fallback: 1 })!;
  if (flag(parsed, "reliable")) {
    for (const name of ["format", "max-chunk"]) {
      if (stringOption(parsed, name) !== undefined) {
        throw new UsageError(`--${name} does not apply to --reliable`);
      }
    }
    const messages = integerOption(parsed, "messages", {
      min: MIN_MESSAGES,
      max: MAX_MESSAGES,
      fallback: DEFAULT_MESSAGES,
    })!;
    return await demoReliable({ seed, messages }, io);
  }
  if (stringOption(parsed, "messages") !== undefined) {
    throw new UsageError("--messages applies only to --reliable");
  }
  const options: DemoOptions = {
    seed,
    framing: framingFor(stringOption(parsed, "format")),
    maxChunk: integerOption(parsed, "max-chunk", { min: 1, max: 65536, fallback: 16 })!,
  };

  const adapter = await io.adapter();
  const cleanup: Array<Listener | Conn> = [];
  try {
    return await withDeadline(story(adapter, options, io, cleanup), WATCHDOG_MS, "the demo");
  } catch (error) {
    io.err(`framewire demo: ${describeError(error)}\n`);
    return 1;
  } finally {
    for (const c of cleanup) c.close();
  }
}

async function accept(listener: Listener): Promise<Conn> {
  const next = await listener[Symbol.asyncIterator]().next();
  if (next.done) throw new Error("the listener closed before a connection arrived");
  return next.value;
}

const encoder = new TextEncoder();
const PREVIEW = 16;

async function story(
  adapter: Adapter,
  options: DemoOptions,
  io: CliIo,
  cleanup: Array<Listener | Conn>,
): Promise<number> {
  const { framing } = options;
  const say = (line = ""): void => io.out(line + "\n");
  const payloads = DEMO_MESSAGES.map((m) => encoder.encode(m));
  const wire = payloads.map((p) => framing.encode(p).length);
  const total = wire.reduce((a, b) => a + b, 0);

  say(
    `framewire demo: why a TCP byte stream needs framing (format ${framing.name}, seed ${options.seed})`,
  );
  say();
  say(
    `A client sends ${payloads.length} messages, one send() call each; ${
      describeFraming(framing)
    }:`,
  );
  const width = Math.max(...DEMO_MESSAGES.map((m) => JSON.stringify(m).length));
  payloads.forEach((p, i) => {
    say(
      `  message ${i + 1}  ${JSON.stringify(DEMO_MESSAGES[i]).padEnd(width)}  ${
        String(p.length).padStart(2)
      } B` +
        ` -> ${String(wire[i]).padStart(2)} B on the wire`,
    );
  });
  say();
  say(
    `TCP keeps these ${total} bytes in order but not their boundaries: a read returns whatever has`,
  );
  say(`arrived. Here a proxy between client and server cuts the stream at random points (at most`);
  say(
    `${
      bytesWord(options.maxChunk)
    } per piece), as a real network may. The server's reads, and what its decoder`,
  );
  say(`made of each one (it drains every complete frame, then keeps the rest for the next read):`);
  say();

  // Server, proxy and client, all on loopback.
  const serverListener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
  cleanup.push(serverListener);
  const proxyListener = await adapter.listen({ hostname: "127.0.0.1", port: 0 });
  cleanup.push(proxyListener);
  const proxyPort = (proxyListener.addr as { port: number }).port;
  const serverPort = (serverListener.addr as { port: number }).port;
  const [client, downstream] = await Promise.all([
    adapter.connect({ hostname: "127.0.0.1", port: proxyPort }),
    accept(proxyListener),
  ]);
  cleanup.push(client, downstream);
  const [upstream, server] = await Promise.all([
    adapter.connect({ hostname: "127.0.0.1", port: serverPort }),
    accept(serverListener),
  ]);
  cleanup.push(upstream, server);

  const delivered = new Progress();
  const sending = (async () => {
    const fc = framed(client, framing);
    await Promise.all(payloads.map((p) => fc.send(p)));
    await fc.closeWrite();
  })();
  const proxying = proxy(
    downstream,
    upstream,
    delivered,
    mulberry32(options.seed),
    options.maxChunk,
  );

  // The server: one decoder, and the loop that drains every frame of each read.
  const decoder = framing.decoder();
  const reader = server.readable.getReader();
  const frames: Uint8Array[] = [];
  const readEnds: number[] = [];
  let received = 0;
  let frameStart = 0; // stream offset where the next frame begins
  let midFrameReads = 0;
  let multiFrameReads = 0;
  let splitFrames = 0;
  let exactReads = 0;
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) break;
    const readStart = received;
    received += chunk.length;
    readEnds.push(received);
    const n = readEnds.length;
    say(`read ${String(n).padEnd(2)} ${String(chunk.length).padStart(3)} B  ${preview(chunk)}`);
    decoder.push(chunk);
    let got = 0;
    const startedAt = frameStart;
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
      got++;
      frames.push(frame);
      const first = readIndex(readEnds, frameStart);
      if (first < n) splitFrames++;
      say(
        `          -> frame ${frames.length}: ${showPayload(frame, 48)}${
          first < n ? `, began in read ${first}` : ""
        }`,
      );
      // Right after a frame is returned, everything still buffered belongs to later frames.
      frameStart = received - decoder.bufferedBytes;
    }
    const held = received - frameStart;
    if (got === 0) say(`          -> no complete frame yet (${bytesWord(held)} held)`);
    else if (held > 0) say(`             ${bytesWord(held)} held for the next frame`);
    if (held > 0) midFrameReads++;
    if (got > 1) multiFrameReads++;
    if (got === 1 && held === 0 && startedAt === readStart) exactReads++;
    delivered.advance(chunk.length);
  }
  reader.releaseLock();
  decoder.end();
  await Promise.all([sending, proxying]);

  const intact = frames.length === payloads.length &&
    frames.every((f, i) =>
      f.length === payloads[i]!.length && f.every((b, j) => b === payloads[i]![j])
    );
  const reads = readEnds.length;
  say();
  say(
    `Summary: ${plural(payloads.length, "message")} (${bytesWord(total)}) arrived in ${
      plural(reads, "read")
    }.`,
  );
  say(
    `${midFrameReads} of the reads ended in the middle of a frame, ${multiFrameReads} held more than one frame, ` +
      `and ${splitFrames} of`,
  );
  say(
    `the ${plural(frames.length, "frame")} ${
      splitFrames === 1 ? "was" : "were"
    } spread over several reads. ` +
      (intact
        ? `The decoder returned all ${payloads.length} messages intact;`
        : `MISMATCH: the decoder returned ${
          plural(frames.length, "frame")
        } that differ from what was sent.`),
  );
  if (intact) {
    say(
      `a receiver that took each read for one message would have got ${reads - exactReads} wrong ` +
        `message${reads - exactReads === 1 ? "" : "s"} out of ${reads}.`,
    );
  }
  return intact ? 0 : 1;
}

function describeFraming(framing: Framing): string {
  const probe = framing.encode(encoder.encode("hi"));
  switch (framing.name) {
    case "line":
      return 'line framing ends each one with "\\n"';
    case "netstring":
      return 'a netstring wraps each one as LENGTH ":" payload ","';
    case "varint":
      return "varint puts a LEB128 length (1 byte when short) before each";
    case "decimal10":
      return "decimal10 puts the length in 10 ASCII characters before each";
    default:
      return `${framing.name} puts a ${probe.length - 2}-byte length before each`;
  }
}

/** The 1-based number of the read that holds stream offset `offset`. */
function readIndex(readEnds: readonly number[], offset: number): number {
  let i = 0;
  while (i < readEnds.length - 1 && readEnds[i]! <= offset) i++;
  return i + 1;
}

function preview(chunk: Uint8Array): string {
  return `${hex(chunk, PREVIEW).padEnd(PREVIEW * 3 + 1)} |${ascii(chunk, PREVIEW)}${
    chunk.length > PREVIEW ? "…" : ""
  }|`;
}

/**
 * Forwards `from` to `to` in pieces of random sizes from `random`, sending
 * the next piece only once the server has read the previous one (so the
 * story is the same on every run and every runtime).
 */
async function proxy(
  from: Conn,
  to: Conn,
  delivered: Progress,
  random: () => number,
  maxChunk: number,
): Promise<void> {
  const reader = from.readable.getReader();
  const writer = to.writable.getWriter();
  let pending = new Uint8Array(0);
  let sent = 0;
  let size = 1 + Math.floor(random() * maxChunk);
  let ended = false;
  try {
    while (!ended || pending.length > 0) {
      if (!ended && pending.length < size) {
        const { value, done } = await reader.read();
        if (done) ended = true;
        else {
          const joined = new Uint8Array(pending.length + value.length);
          joined.set(pending);
          joined.set(value, pending.length);
          pending = joined;
        }
        continue;
      }
      const piece = pending.slice(0, size);
      pending = pending.slice(piece.length);
      await writer.write(piece);
      sent += piece.length;
      await delivered.waitFor(sent);
      size = 1 + Math.floor(random() * maxChunk);
    }
  } finally {
    reader.releaseLock();
    writer.releaseLock();
  }
  await to.closeWrite();
}
