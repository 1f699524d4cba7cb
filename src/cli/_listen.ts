// Copyright 2026 the framewire authors. MIT license.
// `framewire listen`: accept connections and print each frame as it arrives. Private.

import type { Conn, Listener, ListenOptions } from "../connection/types.ts";
import type { Framing } from "../framing/types.ts";
import { ConnectionError } from "../errors.ts";
import { flag, integerOption, parseArgs, parsePort, stringOption, UsageError } from "./_args.ts";
import { bytesWord, jsonLine, payloadJson, plural, showPayload } from "./_display.ts";
import { formatHelp, framingFor } from "./_formats.ts";
import { type CliIo, exitProcess } from "./_io.ts";
import { concat, describeError, formatAddr } from "./_net.ts";

/** Frames printed (and echoed) between two waits for room in the output. */
const LINES_PER_BATCH = 1024;

/** `framewire listen --help`. */
export const LISTEN_HELP: string =
  `framewire listen — accept connections and print each frame as it arrives

Usage:
  framewire listen --port P [--format F] [--echo] [options]
  framewire listen --unix PATH [--format F] [--echo] [options]

Prints one line per frame on standard output: the connection number, the
frame number, its length and its payload (as quoted text when it is
printable UTF-8, as hex otherwise). Connections opening and closing, and
framing errors, are reported on standard error. Runs until Ctrl-C.

Options:
  --port P                TCP port to listen on; 0 picks a free one (printed)
  --host H                address to bind (default 127.0.0.1; 0.0.0.0 or :: for all)
  --unix PATH             listen on a Unix socket instead of TCP
  --format F              wire format (default u32be), one of:
${formatHelp()}
  --max-frame-length N    largest payload accepted, in bytes
                          (default 4194304 for length formats, or 255 for u8 and
                          65535 for u16; 65536 for line)
  --echo                  send every frame back to its sender
  --json                  one JSON object per frame:
                          {"conn":1,"remote":"…","frame":1,"length":5,"text":"hello"}
                          ("hex" instead of "text" for binary payloads;
                          "remote" null for a Unix socket's peer, which has no
                          address, or a peer whose address is unknown)
  --once                  exit after the first connection ends (exit 1 if it
                          ended with a framing error)
  --preview N             characters (or bytes) of each payload shown (default 200)
  -h, --help              show this help

Examples:
  framewire listen --port 9000 --echo
  framewire listen --port 9000 --format line --json
  framewire listen --port 0 --once --format varint
`;

const SPEC = {
  port: { type: "string", short: "p" },
  host: { type: "string" },
  unix: { type: "string" },
  format: { type: "string", short: "f" },
  "max-frame-length": { type: "string" },
  echo: { type: "boolean" },
  json: { type: "boolean" },
  once: { type: "boolean" },
  preview: { type: "string" },
} as const;

interface Context {
  io: CliIo;
  framing: Framing;
  echo: boolean;
  json: boolean;
  preview: number;
}

/** Runs `framewire listen`; returns the exit code. */
export async function listen(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(args, SPEC);
  if (flag(parsed, "help")) {
    io.out(LISTEN_HELP);
    return 0;
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  }
  const rawPort = stringOption(parsed, "port");
  const unix = stringOption(parsed, "unix");
  if ((rawPort === undefined) === (unix === undefined)) {
    throw new UsageError(
      unix === undefined
        ? "missing --port (use --port 0 for any free port)"
        : "give --port or --unix, not both",
    );
  }
  if (unix !== undefined && stringOption(parsed, "host") !== undefined) {
    throw new UsageError("--host goes with --port, not --unix");
  }
  if (unix === "") throw new UsageError("--unix needs a socket path");
  if (["", "[]"].includes(stringOption(parsed, "host") ?? "127.0.0.1")) {
    throw new UsageError("--host needs an address, e.g. 127.0.0.1, 0.0.0.0 or ::");
  }
  // Brackets are for IPv6 addresses, as in URLs (before, "[127.0.0.1]" was taken as bare; the
  // adapters now refuse it with a TypeError, which read as "cannot listen on …").
  const bracketed = /^\[([^\]:]*)\]$/.exec(stringOption(parsed, "host") ?? "");
  if (bracketed !== null) {
    throw new UsageError(
      `--host ${bracketed[0]}: brackets are for IPv6 addresses, e.g. [::1]; write ${bracketed[1]}`,
    );
  }
  const options: ListenOptions = unix !== undefined ? { path: unix } : {
    hostname: stringOption(parsed, "host") ?? "127.0.0.1",
    port: parsePort(rawPort!, `--port "${rawPort}"`, true),
  };
  const maxFrameLength = integerOption(parsed, "max-frame-length", {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  });
  const ctx: Context = {
    io,
    framing: framingFor(stringOption(parsed, "format"), maxFrameLength),
    echo: flag(parsed, "echo"),
    json: flag(parsed, "json"),
    preview: integerOption(parsed, "preview", {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      fallback: 200,
    })!,
  };
  const once = flag(parsed, "once");

  const adapter = await io.adapter();
  let listener: Listener;
  try {
    listener = await adapter.listen(options);
  } catch (error) {
    io.err(
      `framewire listen: cannot listen on ${formatAddr(options)}: ${
        describeError(error, "path" in options ? "listen" : undefined)
      }\n`,
    );
    return 1;
  }
  try {
    io.err(
      `framewire listen: listening on ${formatAddr(listener.addr)} (format ${ctx.framing.name}` +
        `${ctx.echo ? ", echo" : ""}); ${once ? "exits after one connection" : "Ctrl-C to stop"}\n`,
    );
  } catch (error) {
    // Standard error gone (a closed pipe): the listener is not left open behind the failure.
    listener.close();
    throw error;
  }

  const open = new Set<Conn>();
  const running = new Set<Promise<boolean>>();
  let stopping = false;
  const removeInterrupt = io.onInterrupt(() => {
    if (stopping) exitProcess(130);
    stopping = true;
    io.err("framewire listen: stopping\n");
    listener.close();
    for (const conn of open) conn.close();
  });
  let ok = true;
  let count = 0;
  try {
    for await (const conn of listener) {
      count++;
      open.add(conn);
      const task = serve(conn, count, ctx, () => stopping);
      running.add(task);
      void task.then((clean) => {
        ok &&= clean;
        open.delete(conn);
        running.delete(task);
      });
      if (once) break;
      // Output paces accepting too: every connection writes a line or two on standard error, and
      // a flood of them while nobody read it (`2>&1 | less`) grew the command without end.
      await io.outputRoom?.();
    }
  } finally {
    listener.close();
    await Promise.all(running);
    removeInterrupt();
  }
  return once && !ok ? 1 : 0;
}

/** Serves one connection; resolves `false` when it ended with an error. */
async function serve(
  conn: Conn,
  id: number,
  ctx: Context,
  stopping: () => boolean,
): Promise<boolean> {
  const { io, framing } = ctx;
  const remote = formatAddr(conn.remoteAddr);
  // A Unix socket's peer has no address of its own: its remoteAddr is the listener's path. A TCP
  // peer that reset as it connected has none either by the time Node or Bun read it ("" and 0).
  const addr = conn.remoteAddr;
  const unknown = addr.transport === "tcp" && addr.hostname === "" && addr.port === 0;
  const peer = addr.transport === "unix"
    ? `a peer on ${remote}`
    : unknown
    ? "a peer of unknown address (it reset as it connected)"
    : remote;
  // --json: null for an address unknown (before, ":0", as if it were one), and for a Unix
  // socket's peer (before, the listener's own path, as if it were the peer's).
  const remoteJson = unknown || addr.transport === "unix" ? null : remote;
  io.err(`[${id}] connection from ${peer}\n`);
  const decoder = framing.decoder();
  const reader = conn.readable.getReader();
  const writer = ctx.echo ? conn.writable.getWriter() : undefined;
  let frames = 0;
  let bytes = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      decoder.push(value);
      // Drain every complete frame of this read, not just the first, in batches: printing is
      // slower than the network (a pipe into a pager, a terminal), so after each batch the loop
      // waits until the output has room, and the socket holds the peer back, not an ever larger
      // buffer here. (One read of empty frames is up to 131,072 lines: waiting only once per
      // read let 50 peers grow the command to 1 GB while a pager sat on its first page.)
      let frame = decoder.next();
      while (frame !== undefined) {
        const lines: string[] = [];
        const replies: Uint8Array[] = [];
        let failure: { error: unknown } | undefined;
        try {
          for (; frame !== undefined && lines.length < LINES_PER_BATCH; frame = decoder.next()) {
            frames++;
            bytes += frame.length;
            lines.push(
              ctx.json
                ? jsonLine({ conn: id, remote: remoteJson, frame: frames, ...payloadJson(frame) }) +
                  "\n"
                : `[${id}] #${frames}  ${frame.length} B  ${showPayload(frame, ctx.preview)}\n`,
            );
            if (writer !== undefined) replies.push(framing.encode(frame));
          }
        } catch (error) {
          failure = { error };
        }
        // The frames before a framing error in the same read are shown, and echoed, before it.
        io.out(lines.join(""));
        if (writer !== undefined && replies.length > 0) {
          const writing = writer.write(concat(replies));
          await (failure === undefined ? writing : writing.catch(() => {}));
        }
        if (failure !== undefined) throw failure.error;
        await io.outputRoom?.();
      }
    }
    const summary = `${plural(frames, "frame")} (${bytesWord(bytes)} of payload)`;
    if (stopping()) {
      // Ctrl-C closed it, not the peer (a frame it was in the middle of is no error then).
      io.err(`[${id}] closed the connection to ${peer} after ${summary}\n`);
      return true;
    }
    decoder.end();
    io.err(`[${id}] ${peer} closed the connection after ${summary}\n`);
    return true;
  } catch (error) {
    if (stopping() && error instanceof ConnectionError && error.code === "CONNECTION_CLOSED") {
      // Ctrl-C closed it while an echo waited for a peer that did not read: no error either.
      io.err(
        `[${id}] closed the connection to ${peer} after ${plural(frames, "frame")} (${
          bytesWord(bytes)
        } of payload)\n`,
      );
      return true;
    }
    io.err(
      `[${id}] error after ${plural(frames, "frame")}, closing the connection: ${
        describeError(error)
      }\n`,
    );
    return false;
  } finally {
    reader.releaseLock();
    writer?.releaseLock();
    conn.close();
  }
}
