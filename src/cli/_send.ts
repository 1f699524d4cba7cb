// Copyright 2026 the framewire authors. MIT license.
// `framewire send`: each stdin line as one frame, replies printed. Private.

import type { Conn } from "../connection/types.ts";
import type { Framing } from "../framing/types.ts";
import { flag, integerOption, parseArgs, parseTarget, stringOption, UsageError } from "./_args.ts";
import { bytesWord, jsonLine, payloadJson, showPayload } from "./_display.ts";
import { formatHelp, framingFor } from "./_formats.ts";
import type { CliIo } from "./_io.ts";
import { concat, describeError, formatAddr } from "./_net.ts";

/** `framewire send --help`. */
export const SEND_HELP: string =
  `framewire send — send each line of standard input as one frame, print the replies

Usage:
  framewire send HOST:PORT [--format F] [options]

Connects to HOST:PORT ([::1]:PORT for IPv6, unix:PATH for a Unix socket),
sends every line read from standard input (without its line ending) as one
frame, and prints every frame the server sends back, one line each: the reply
number, its length and its payload (quoted text, or hex when binary). When
standard input ends it half-closes the connection (the server sees the end
of the stream) and waits for the server to close its side.

Options:
  --format F              wire format (default u32be), one of:
${formatHelp()}
  --max-frame-length N    largest frame sent or reply accepted, in bytes
                          (default 4194304 for length formats, or 255 for u8 and
                          65535 for u16; 65536 for line)
  --connect-timeout MS    give up a connection the peer does not answer after
                          MS milliseconds (default 10000; 0: wait as long as
                          the system does, about two minutes on Linux)
  --wait MS               after standard input ends, wait at most MS
                          milliseconds for replies (default: until the server
                          closes the connection)
  --json                  one JSON object per reply: {"reply":1,"length":5,"text":"hello"}
  --preview N             characters (or bytes) of each reply shown (default 200)
  -h, --help              show this help

Examples:
  printf 'hello\\nworld\\n' | framewire send 127.0.0.1:9000
  framewire send localhost:9000 --format line          # type lines, Ctrl-D to end
  echo '{"op":"ping"}' | framewire send [::1]:7000 --format varint --json
`;

const SPEC = {
  format: { type: "string", short: "f" },
  "max-frame-length": { type: "string" },
  "connect-timeout": { type: "string" },
  wait: { type: "string" },
  json: { type: "boolean" },
  preview: { type: "string" },
} as const;

/** Ms `send` waits for a peer to answer its connect (`--connect-timeout`). */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** Runs `framewire send`; returns the exit code. */
export async function send(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(args, SPEC);
  if (flag(parsed, "help")) {
    io.out(SEND_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? "missing HOST:PORT, e.g. framewire send 127.0.0.1:9000"
        : `expected one HOST:PORT: received ${parsed.positionals.length} arguments`,
    );
  }
  const target = parseTarget(parsed.positionals[0]!);
  const maxFrameLength = integerOption(parsed, "max-frame-length", {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  });
  const framing = framingFor(stringOption(parsed, "format"), maxFrameLength);
  const wait = integerOption(parsed, "wait", { min: 0, max: 2_147_483_647 });
  const connectTimeout = integerOption(parsed, "connect-timeout", {
    min: 0,
    max: 2_147_483_647,
    fallback: DEFAULT_CONNECT_TIMEOUT,
  })!;
  const json = flag(parsed, "json");
  const preview = integerOption(parsed, "preview", {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 200,
  })!;

  const adapter = await io.adapter();
  let conn: Conn;
  // A peer that never answers (a black-holed address, a full accept queue) is given up after
  // connectTimeout, not after the system's own limit (about two minutes on Linux).
  const gaveUp = new Error(`no answer within ${connectTimeout} ms (--connect-timeout)`);
  const giveUp = new AbortController();
  const timer = connectTimeout === 0
    ? undefined
    : setTimeout(() => giveUp.abort(gaveUp), connectTimeout);
  try {
    conn = await adapter.connect({ ...target, signal: giveUp.signal });
  } catch (error) {
    io.err(
      `framewire send: cannot connect to ${formatAddr(target)}: ${
        error === gaveUp
          ? gaveUp.message
          : describeError(error, "path" in target ? "connect" : undefined)
      }\n`,
    );
    return 1;
  } finally {
    clearTimeout(timer);
  }

  try {
    const replies = receive(conn, framing, io, (n, frame) => {
      io.out(
        json
          ? jsonLine({ reply: n, ...payloadJson(frame) }) + "\n"
          : `#${n}  ${frame.length} B  ${showPayload(frame, preview)}\n`,
      );
    });
    const sending = transmit(conn, framing, io.stdin());
    const first = await Promise.race([
      sending.then(() => "sent" as const, (error) => ({ error, when: "sending" })),
      replies.then(() => "closed" as const, (error) => ({ error, when: "receiving" })),
    ]);
    let status = 0;
    if (typeof first === "object") {
      io.err(`framewire send: error while ${first.when}: ${describeError(first.error)}\n`);
      // A line refused here: the lines before it were sent, and their replies still count.
      if (!(first.error instanceof UsageError)) return 1;
      status = 1;
    } else if (first === "closed") {
      io.err("framewire send: the server closed the connection\n");
      return 0;
    }
    // Standard input is over (or a line was refused) and the connection half-closed: wait for
    // the rest of the replies.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = wait === undefined ? undefined : new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), wait);
    });
    try {
      const end = await Promise.race(timeout === undefined ? [replies] : [replies, timeout]);
      if (end === "timeout") {
        io.err(`framewire send: stopped waiting for replies after ${wait} ms\n`);
      }
    } catch (error) {
      io.err(`framewire send: error while receiving: ${describeError(error)}\n`);
      return 1;
    } finally {
      clearTimeout(timer);
    }
    return status;
  } finally {
    conn.close();
  }
}

/** Reads frames until the peer closes; calls `onFrame` for each. */
async function receive(
  conn: Conn,
  framing: Framing,
  io: CliIo,
  onFrame: (n: number, frame: Uint8Array) => void,
): Promise<void> {
  const decoder = framing.decoder();
  const reader = conn.readable.getReader();
  let n = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      decoder.push(value);
      // As in listen: the output has room again after every 1,024 replies, not only after a
      // read (one read of empty frames is up to 131,072 of them).
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
        onFrame(++n, frame);
        if (n % 1024 === 0) await io.outputRoom?.();
      }
      await io.outputRoom?.();
    }
    decoder.end();
  } finally {
    reader.releaseLock();
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Sends each line of `input` as one frame, then half-closes. A line it
 * cannot send ends it too: the lines before it are sent, the connection
 * half-closed, then it rejects with a `UsageError`.
 */
async function transmit(
  conn: Conn,
  framing: Framing,
  input: AsyncIterable<Uint8Array>,
): Promise<void> {
  const writer = conn.writable.getWriter();
  // Pieces of the unfinished line, joined once its newline arrives (linear
  // however long the line and however small the reads).
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  // A line this long cannot be sent, whatever follows (its "\r" may be stripped): refuse it now
  // rather than holding all of it.
  const tooLong = framing.maxFrameLength + 1;
  let line = 0;
  function frame(bytes: Uint8Array): Uint8Array {
    line++;
    const payload = bytes.length > 0 && bytes[bytes.length - 1] === CR
      ? bytes.subarray(0, -1)
      : bytes;
    // The same words as a line refused before its end arrived.
    if (payload.length > framing.maxFrameLength) throw lineTooLong(line, payload.length, true);
    try {
      return framing.encode(payload);
    } catch (error) {
      throw new UsageError(
        `cannot send line ${line} as ${framing.name}: ${(error as Error).message}`,
      );
    }
  }
  let refused: { error: unknown } | undefined;
  try {
    for await (const chunk of input) {
      const frames: Uint8Array[] = [];
      try {
        let start = 0;
        for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, start)) {
          const piece = chunk.subarray(start, i);
          frames.push(frame(pending.length === 0 ? piece : concat([...pending, piece])));
          pending.length = 0;
          pendingBytes = 0;
          start = i + 1;
        }
        if (start < chunk.length) {
          // Copy the unfinished line: the runtime may reuse the chunk's memory.
          pending.push(new Uint8Array(chunk.subarray(start))); // (a Buffer's slice() is a view)
          pendingBytes += chunk.length - start;
          if (pendingBytes > tooLong) throw lineTooLong(line + 1, pendingBytes, false);
        }
      } catch (error) {
        refused = { error };
      }
      // The lines before a refused one are sent.
      if (frames.length > 0) await writer.write(concat(frames));
      if (refused !== undefined) break;
    }
    if (refused === undefined && pending.length > 0) {
      let last: Uint8Array | undefined;
      try {
        last = frame(concat(pending));
      } catch (error) {
        refused = { error };
      }
      if (last !== undefined) await writer.write(last);
    }
  } finally {
    writer.releaseLock();
  }
  await conn.closeWrite();
  if (refused !== undefined) throw refused.error;

  function lineTooLong(n: number, length: number, whole: boolean): UsageError {
    return new UsageError(
      `cannot send line ${n} as ${framing.name}: it is longer than the limit of ` +
        `${bytesWord(framing.maxFrameLength)} (${
          whole ? bytesWord(length) : `${length} read so far, no end of line yet`
        })`,
    );
  }
}
