// Copyright 2026 the framewire authors. MIT license.
// `framewire inspect`: where each frame of a captured byte stream starts and ends. Private.

import {
  FrameTooLargeError,
  FramingError,
  MalformedHeaderError,
  TruncatedFrameError,
} from "../errors.ts";
import { flag, integerOption, parseArgs, stringOption, UsageError } from "./_args.ts";
import { ascii, bytesWord, hex, hexAscii, jsonLine, payloadJson, plural } from "./_display.ts";
import { formatHelp, framingFor } from "./_formats.ts";
import type { FrameDecoder, Framing } from "../framing/types.ts";
import type { CliIo, Input } from "./_io.ts";
import { concat } from "./_net.ts";
import { sniff } from "./_sniff.ts";

/** `framewire inspect --help`. */
export const INSPECT_HELP: string =
  `framewire inspect — show where each frame of a captured byte stream starts and ends

Usage:
  framewire inspect [--format F] [options] [FILE]

Reads FILE (or standard input when FILE is "-" or missing), decodes it as one
byte stream and prints one row per frame: its offsets, its framing overhead,
its payload length and a hex/ASCII preview. When the stream cannot be decoded
to the end it explains why: a truncated header or payload, a declared length
over the limit, a malformed header, or bytes that look like TLS or HTTP
rather than framed messages. Exits 1 when the stream has an error.

It decodes FILE as it reads it. Standard input (or a device, a named pipe)
has no size to give up front, and the first line gives it: it is read to its
end first, and held, up to 268435456 bytes (256 MiB); past that inspect stops
with an error. --json needs no size: it holds nothing and prints as it reads.
Once decoding stops at an error, it reads no further than the 128 bytes from
the error that the explanation shows: an input that goes on, even one that
never ends, is let go there, and the size given is then what was read (with
--json, the summary's "bytes" is null).

Options:
  --format F              wire format (default u32be), one of:
${formatHelp(true)}
  --max-frame-length N    largest payload accepted, in bytes
                          (default 4194304 for length formats, or 255 for u8 and
                          65535 for u16; 65536 for line)
  --skip N                ignore the first N bytes (a handshake or greeting before
                          the frames); offsets still count from the start
  --limit N               print at most N frame rows (every frame is still checked)
  --preview N             payload bytes shown per row (default 16)
  --json                  one JSON object per frame, then a summary object
  -h, --help              show this help

Columns: start and end are byte offsets in the stream (end exclusive),
framing counts header and trailer bytes, payload the message bytes (for mqtt,
postgres and http2 with the type byte first; http2's with all 6 bytes after
its length; --max-frame-length counts the bytes after the length field, not
mqtt's and postgres's type byte). Skip what comes before the frames: http2's
24-byte preface, postgres's startup message (a length without a type byte)
and handshake.

Examples:
  framewire inspect --format u32be capture.bin
  printf '5:hello,3:abc,' | framewire inspect --format netstring -
  framewire inspect --format http2 --skip 24 h2c.bin
  framewire inspect --format line --json session.log
  framewire inspect --format u16be --skip 12 capture.bin   # after a 12-byte greeting
`;

const SPEC = {
  format: { type: "string", short: "f" },
  "max-frame-length": { type: "string" },
  limit: { type: "string" },
  skip: { type: "string" },
  preview: { type: "string" },
  json: { type: "boolean" },
} as const;

/**
 * The most bytes of an input of unknown size (standard input, a device) held
 * to count them before the table (whose first line gives the size); with
 * `--json`, or from a regular file, nothing is held.
 */
export const HELD_INPUT_LIMIT = 256 * 1024 * 1024;

/**
 * Bytes kept from where decoding stands, for an explanation: its preview
 * shows 16 (and "…" after them), and `sniff()` looks at up to 80.
 */
const LOOK = 128;

/** A frame found in the stream. */
interface FrameRow {
  index: number;
  start: number;
  end: number;
  payloadStart: number;
  payload: Uint8Array;
}

/** What stopped the decoding. */
interface Problem {
  offset: number;
  error: FramingError;
  lines: string[];
}

/** Runs `framewire inspect`; returns the exit code. */
export async function inspect(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(args, SPEC);
  if (flag(parsed, "help")) {
    io.out(INSPECT_HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected at most one FILE: received ${parsed.positionals.length} arguments`,
    );
  }
  const maxFrameLength = integerOption(parsed, "max-frame-length", {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  });
  const format = stringOption(parsed, "format");
  const framing = framingFor(format, maxFrameLength, true);
  // The name asked for: a protocol's framing is named by its length field (postgres: u32be).
  const formatName = format ?? framing.name;
  const limit = integerOption(parsed, "limit", {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: Infinity,
  })!;
  const skip = integerOption(parsed, "skip", {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 0,
  })!;
  const preview = integerOption(parsed, "preview", { min: 0, max: 4096, fallback: 16 })!;
  const json = flag(parsed, "json");
  const file = parsed.positionals[0] ?? "-";
  // (An empty one read "cannot read : no such file", a script's unset variable most likely.)
  if (file === "") {
    throw new UsageError("FILE must not be empty: give a file name, or - for standard input");
  }
  const source = file === "-" ? "standard input" : file;

  if (file === "-" && io.stdinIsTerminal()) {
    // Else it looks like a hang: the capture would have to be typed.
    io.err(
      "framewire inspect: reading the capture from standard input, a terminal: end it with " +
        "Ctrl-D, or give a FILE (framewire inspect --help)\n",
    );
  }
  let input: Input;
  try {
    input = await io.readInput(file === "-" ? undefined : file);
  } catch (error) {
    return cannotRead(error);
  }
  function cannotRead(error: unknown): number {
    io.err(`framewire inspect: cannot read ${source}: ${readError(error)}\n`);
    return 1;
  }
  // The table's first line gives the size of the input, and its columns are as wide as the last
  // offset: a regular file says its size up front; a pipe (or a device) is counted first, held
  // (once) up to HELD_INPUT_LIMIT. --json needs neither: it prints as it reads.
  let size = input.size;
  let chunks = input.chunks;
  /**
   * An input of unknown size was read no further than LOOK bytes past the error that stopped
   * decoding (a pipe may never end): `size` is then where reading stopped, not its end.
   */
  let cut = false;
  if (size === undefined && !json) {
    const held: Uint8Array[] = [];
    let total = 0;
    // Decoded as it is held (copies: a decoder may move bytes inside what it is pushed), so that
    // an error ends the reading. Before, an endless pipe that failed at its first bytes was read
    // up to the limit, and failed there instead; one that went quiet was waited for, for ever.
    const probe = framing.decoder();
    let errorAt = -1;
    /**
     * Where reading stops past the error: its explanation's bytes, and as far as decoding needs
     * to find it again however the input came in chunks (a line over the limit: one byte more
     * than the limit, and a "\r").
     */
    let stopAt = Infinity;
    try {
      for await (const chunk of input.chunks) {
        const from = total;
        total += chunk.length;
        if (total > HELD_INPUT_LIMIT) {
          io.err(
            `framewire inspect: ${source} goes on past ${bytesWord(HELD_INPUT_LIMIT)}, the most ` +
              `inspect holds to count an input of unknown size before printing: save it to a file ` +
              `and inspect that, or use --json (which prints as it reads)\n`,
          );
          return 1;
        }
        held.push(chunk);
        if (errorAt < 0 && total > skip) {
          errorAt = errorOffset(probe, chunk.slice(Math.max(0, skip - from)), total);
          if (errorAt >= 0) {
            stopAt = errorAt +
              Math.max(LOOK, isDelimited(framing) ? framing.maxFrameLength + 2 : 0);
          }
        }
        if (total >= stopAt) {
          cut = true;
          break;
        }
      }
    } catch (error) {
      return cannotRead(error);
    }
    size = cut ? stopAt : total;
    chunks = handOver(held);
  }
  if (size !== undefined && skip > size) return cannotSkip(size);
  function cannotSkip(length: number): number {
    io.err(
      `framewire inspect: cannot skip ${bytesWord(skip)}: ${source} has ${bytesWord(length)}\n`,
    );
    return 1;
  }
  const after = skip > 0 ? ` after offset ${skip}` : "";

  // Rows are printed as they are found, through a buffer (captures can hold millions of frames).
  let pending: string[] = [];
  let pendingLength = 0;
  /** A buffer's worth was written since the loop last waited for room in the output. */
  let written = false;
  function write(text: string): void {
    pending.push(text);
    pendingLength += text.length;
    if (pendingLength >= 65536) flush();
  }
  function flush(): void {
    if (pending.length > 0) io.out(pending.join(""));
    pending = [];
    pendingLength = 0;
    written = true;
  }

  /** The one line on standard error every failed command writes (the analysis is on stdout). */
  function failed(problem: Problem): void {
    io.err(`framewire inspect: ${problem.error.message} (at offset ${problem.offset})\n`);
  }

  const width = Math.max(7, String(size ?? 0).length + 1);
  /** The first LOOK bytes after the skipped ones: what the stream starts like. */
  let first: Uint8Array | undefined;
  let headed = false;
  function head(problemAtStart: boolean, anyRows: boolean): void {
    headed = true;
    if (json) return;
    write(
      `${source}: ${bytesWord(size!)}${cut ? " read (reading stopped at the error)" : ""}${
        skip > 0 ? ` (the first ${skip} skipped)` : ""
      }, format ${formatName} (max frame ${bytesWord(framing.maxFrameLength)})\n`,
    );
    const looks = sniff(first!);
    if (looks !== undefined && !problemAtStart) {
      write(`note: the stream starts like ${looks.what}: ${looks.advice}\n`);
    }
    const columns = `${"frame".padStart(6)}${"start".padStart(width)}${"end".padStart(width)}`;
    if (anyRows) write(`${columns}  framing  payload  preview\n`);
  }

  function emit(row: FrameRow): void {
    const header = row.payloadStart - row.start;
    const trailer = row.end - row.start - header - row.payload.length;
    if (json) {
      const fields = { frame: row.index, start: row.start, end: row.end, header, trailer };
      write(jsonLine({ ...fields, ...payloadJson(row.payload) }) + "\n");
      return;
    }
    write(
      String(row.index).padStart(6) + String(row.start).padStart(width) +
        String(row.end).padStart(width) +
        (String(header + trailer).padStart(9) + String(row.payload.length).padStart(9) + "  " +
          previewColumn(row.payload, preview)).trimEnd() +
        "\n",
    );
  }

  // The input is decoded as it is read, a chunk at a time: what is held is what the decoder holds
  // (a frame not yet complete, up to --max-frame-length) and, for an explanation, the first LOOK
  // bytes from where decoding stands.
  const decoder = framing.decoder();
  const delimiterLast = isDelimited(framing);
  let frames = 0;
  let decoded = skip; // where decoding stopped
  /** Where the bytes pushed to the decoder end (offsets count from the start of the input). */
  let pushed = skip;
  /** The chunk pushed last, and its offset. */
  let last: Uint8Array = new Uint8Array(0);
  let lastStart = skip;
  /** A copy of the bytes from `lookStart` (where the decoder's bytes start), at most LOOK. */
  let look: Uint8Array = new Uint8Array(0);
  let lookStart = skip;
  /** The error that stopped decoding, and where. */
  let stopped: { error: FramingError; offset: number } | undefined;

  /** The bytes from `offset` (at or after `lookStart`) that were read, at most LOOK. */
  function bytesFrom(offset: number): Uint8Array {
    if (offset === lookStart) return look;
    if (offset >= lastStart) return last.slice(offset - lastStart, offset - lastStart + LOOK);
    // Decoding stops at frame ends: after the frames a chunk completed, the rest is inside it.
    throw new Error(`inspect lost the bytes at offset ${offset}`);
  }

  /** Decodes `chunk` and prints every frame it completes. */
  async function feed(chunk: Uint8Array): Promise<void> {
    decoder.push(chunk);
    last = chunk;
    lastStart = pushed;
    pushed += chunk.length;
    if (look.length < LOOK) look = concat([look, chunk.subarray(0, LOOK - look.length)]).slice();
    for (;;) {
      const start = pushed - decoder.bufferedBytes;
      let frame: Uint8Array | undefined;
      try {
        frame = decoder.next();
      } catch (error) {
        if (!(error instanceof FramingError)) throw error;
        stopped = { error, offset: start };
      }
      if (frame === undefined || stopped !== undefined) {
        look = bytesFrom(start);
        lookStart = start;
        return;
      }
      const end = pushed - decoder.bufferedBytes;
      const inside = frame.buffer === last.buffer && frame.byteOffset >= last.byteOffset &&
        frame.byteOffset + frame.length <= last.byteOffset + last.length;
      // A frame that is not a view into the input (one that spans chunks, or on Bun small frames,
      // which are copies): where its payload starts follows from the format.
      const payloadStart = inside
        ? lastStart + frame.byteOffset - last.byteOffset
        : delimiterLast
        ? start
        : end - frame.length - (framing.name === "netstring" ? 1 : 0);
      frames++;
      decoded = end;
      if (!headed) head(false, limit > 0);
      if (frames <= limit) emit({ index: frames, start, end, payloadStart, payload: frame });
      if (written) {
        // Output paces the rows, as in listen: into a pipe to a pager, what waits stays bounded.
        written = false;
        await io.outputRoom?.();
      }
    }
  }

  /** Takes a chunk read after decoding stopped: the explanation shows its first bytes. */
  function lookFurther(chunk: Uint8Array): void {
    if (look.length < LOOK) look = concat([look, chunk.subarray(0, LOOK - look.length)]).slice();
  }

  /** Bytes of the input read so far, the skipped ones included. */
  let read = 0;
  /** Why reading the input failed. */
  let readFailure: { error: unknown } | undefined;
  /** The input after the skipped bytes, and no further than the size a regular file had. */
  async function* afterSkip(): AsyncGenerator<Uint8Array> {
    try {
      for await (let chunk of chunks) {
        if (size !== undefined && read + chunk.length > size) {
          chunk = chunk.subarray(0, size - read); // it grew as it was read
        }
        const from = read;
        read += chunk.length;
        if (read > skip) yield from >= skip ? chunk : chunk.subarray(skip - from);
        if (read === size) return;
      }
    } catch (error) {
      readFailure = { error };
      throw error;
    }
  }

  try {
    // The stream's first LOOK bytes are gathered before decoding: the table's first line notes
    // what they look like, and it comes before the first row.
    const early: Uint8Array[] = [];
    let earlyLength = 0;
    for await (const chunk of afterSkip()) {
      if (stopped !== undefined) {
        lookFurther(chunk);
        // Read no further than the explanation's bytes: before, --json without a size read on
        // to count the bytes, for ever from a pipe that never ends.
        if (look.length >= LOOK) {
          if (size === undefined) cut = true;
          break;
        }
        continue;
      }
      if (first === undefined) {
        early.push(chunk);
        earlyLength += chunk.length;
        if (earlyLength < LOOK) continue;
        first = concat(early).slice(0, LOOK);
        for (const c of early.splice(0)) stopped === undefined ? await feed(c) : lookFurther(c);
      } else {
        await feed(chunk);
      }
      // The chunk that stopped decoding held the explanation's bytes: no read waits for more.
      if (stopped !== undefined && look.length >= LOOK) {
        if (size === undefined) cut = true;
        break;
      }
    }
    if (first === undefined) {
      first = concat(early).slice();
      for (const c of early) stopped === undefined ? await feed(c) : lookFurther(c);
    }
  } catch (error) {
    if (readFailure === undefined) throw error;
    flush();
    return cannotRead(readFailure.error);
  }
  if (size === undefined) {
    size = read;
    if (skip > size) return cannotSkip(size);
  } else if (read < size && stopped === undefined) {
    flush();
    return cannotRead(new Error(`it ended after ${bytesWord(read)} of ${size} (it shrank)`));
  }
  if (stopped === undefined) {
    try {
      decoder.end();
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      stopped = { error, offset: pushed - decoder.bufferedBytes };
      look = bytesFrom(stopped.offset);
    }
  }
  const problem = stopped === undefined
    ? undefined
    : explain(settled(stopped.error, look, framing), look, stopped.offset, framing);
  if (!headed) head(problem?.offset === skip, false);

  if (json) {
    write(
      jsonLine({
        summary: true,
        frames,
        bytes: cut ? null : size,
        skipped: skip,
        decodedBytes: decoded - skip,
        error: problem === undefined ? null : {
          code: problem.error.code,
          name: problem.error.name,
          offset: problem.offset,
          message: problem.error.message,
          explanation: problem.lines,
        },
      }) + "\n",
    );
    flush();
    if (problem === undefined) return 0;
    failed(problem);
    return 1;
  }
  if (frames > limit) {
    write(`   … ${plural(frames - limit, "more frame")} not shown (--limit ${limit})\n`);
  }
  const dataLength = size - skip;
  if (problem === undefined) {
    write(`ok: ${plural(frames, "frame")}, all ${bytesWord(dataLength)}${after} decoded\n`);
    flush();
    return 0;
  }
  for (const line of problem.lines) write(`${line}\n`);
  write(
    frames === 0
      ? `stopped: no complete frame; ${
        dataLength === 1 ? "the only byte" : `none of the ${bytesWord(dataLength)}`
      }${cut ? " read" : ""}${after} could ${dataLength === 1 ? "not " : ""}be decoded\n`
      : `stopped: ${plural(frames, "complete frame")} in the first ${
        bytesWord(decoded - skip)
      }${after}; ${bytesWord(size - decoded)}${
        cut ? " read" : ""
      } from offset ${decoded} not decoded\n`,
  );
  flush();
  failed(problem);
  return 1;
}

/**
 * Pushes `chunk`, whose bytes end at offset `end` of the input, into `decoder` and takes every
 * frame: the offset of the frame a framing error stopped it at, or -1.
 */
function errorOffset(decoder: FrameDecoder, chunk: Uint8Array, end: number): number {
  decoder.push(chunk);
  for (;;) {
    const start = end - decoder.bufferedBytes;
    try {
      if (decoder.next() === undefined) return -1;
    } catch (error) {
      if (error instanceof FramingError) return start;
      throw error;
    }
  }
}

/** Empty: what a chunk handed over is replaced with in `held`. */
const EMPTY = new Uint8Array(0);

/** Hands over `held` chunk by chunk, letting go of each as it goes. */
async function* handOver(held: Uint8Array[]): AsyncGenerator<Uint8Array> {
  // Not shift(): quadratic on V8 past ~16,000 chunks (a pipe written in small pieces gives many).
  for (let i = 0; i < held.length; i++) {
    const chunk = held[i]!;
    held[i] = EMPTY;
    yield chunk;
  }
  held.length = 0;
}

/**
 * The error to report, the same however the input was read: a header's error
 * as a decoder given the bytes from there at once reports it (it can name a
 * likely cause from bytes after the header that had not arrived when the
 * error came); a delimiter format's says the limit, not how far the search
 * had gone (up to the end of the input: "(3221225472 read)").
 */
function settled(error: FramingError, look: Uint8Array, framing: Framing): FramingError {
  if (error instanceof TruncatedFrameError) return error; // at the end of the input: all was read
  if (error instanceof FrameTooLargeError && isDelimited(framing)) {
    return new FrameTooLargeError(error.limit + 1, error.limit, {
      header: look.subarray(0, 8),
      noDelimiter: true,
    });
  }
  const fresh = framing.decoder();
  try {
    fresh.push(look.slice());
    fresh.next();
  } catch (again) {
    if (again instanceof FramingError) return again;
  }
  return error; // LOOK bytes did not show it (a length that cannot be allocated)
}

function isDelimited(framing: Framing): boolean {
  return framing.name === "line" || framing.name === "delimited";
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  NotFound: "no such file",
  EISDIR: "it is a directory",
  IsADirectory: "it is a directory",
  EACCES: "permission denied",
  PermissionDenied: "permission denied",
};

/** Why a file could not be read, the same on every runtime when the error is a common one. */
function readError(error: unknown): string {
  const e = error as Error & { code?: string };
  return READ_ERRORS[e.code ?? ""] ?? READ_ERRORS[e.name] ?? e.message;
}

/** Describes a decoding failure at `offset` (where the bytes `at` start) in plain words. */
function explain(
  error: FramingError,
  at: Uint8Array,
  offset: number,
  framing: Framing,
): Problem {
  const lines: string[] = [];
  // Lines and delimited frames have no header; a netstring's payload ends with a ",".
  const delimited = isDelimited(framing);
  const trailer = framing.name === "netstring" ? 1 : 0;
  const looks = sniff(at);
  if (error instanceof TruncatedFrameError) {
    if (error.part === "header") {
      lines.push(
        `error at offset ${offset}: truncated header: the stream ends ${
          error.expected === undefined
            ? `after ${bytesWord(error.received)} of a header`
            : `after ${error.received} of the ${error.expected} header bytes`
        } (TRUNCATED_FRAME)`,
      );
    } else if (error.expected === undefined) {
      lines.push(
        `error at offset ${offset}: truncated frame: the stream ends with ${
          bytesWord(error.received)
        } ` +
          `and no delimiter after ${error.received === 1 ? "it" : "them"} (TRUNCATED_FRAME)`,
      );
    } else {
      lines.push(
        `error at offset ${offset}: truncated payload: the header declares ${
          trailer > 0
            ? `${
              bytesWord(error.expected - trailer)
            } and a closing "," but only ${error.received} ` +
              `of those ${error.expected}`
            : `${bytesWord(error.expected)} but only ${error.received}`
        } arrived (${error.expected - error.received} missing) (TRUNCATED_FRAME)`,
      );
    }
    if (looks === undefined) {
      lines.push(
        "  the capture was cut, or the sender closed the connection in the middle of a frame",
      );
    }
  } else if (error instanceof FrameTooLargeError && delimited) {
    // Where the limit ends, not how far the search went (that depends on how the input was read).
    lines.push(
      `error at offset ${offset}: oversized frame: no delimiter within the limit of ${
        bytesWord(error.limit)
      }, from offset ${offset} to ${offset + error.limit} (FRAME_TOO_LARGE)`,
    );
  } else if (error instanceof FrameTooLargeError) {
    lines.push(
      `error at offset ${offset}: oversized frame: the header declares ${
        bytesWord(error.length)
      }, ` +
        (error.length > error.limit
          ? `over the limit of ${error.limit} (FRAME_TOO_LARGE)`
          : `more than can be allocated (FRAME_TOO_LARGE)`),
    );
  } else if (error instanceof MalformedHeaderError) {
    const reason = error.message.replace(/^Cannot decode frame as its header is malformed: /, "");
    // A netstring's "," after the payload is checked as part of its framing, not its header.
    const what = trailer > 0 && /does not end with/.test(reason)
      ? "malformed frame"
      : "malformed header";
    lines.push(`error at offset ${offset}: ${what}: ${reason} (MALFORMED_HEADER)`);
  } else {
    lines.push(`error at offset ${offset}: ${error.message} (${error.code})`);
  }
  if (looks !== undefined) {
    lines.push(`  the bytes there look like ${looks.what}: ${looks.advice}`);
  } else if (error instanceof FrameTooLargeError) {
    lines.push(
      error.hint !== undefined
        ? `  likely cause: ${error.hint}`
        : delimited
        ? "  is the format right? (a longer line than --max-frame-length allows, binary data, or another delimiter)"
        : "  is the format right? (a different header width or byte order, or the stream is out of sync)",
    );
  }
  if (at.length > 0) lines.push(`  bytes at offset ${offset}: ${hexAscii(at, 16)}`);
  return { offset, error, lines };
}

/** Hex of the first `n` bytes padded to a fixed width, then `|ascii|`. */
function previewColumn(payload: Uint8Array, n: number): string {
  if (payload.length === 0) return "(empty)";
  if (n === 0) return "";
  const cut = payload.length > n ? "…" : "";
  return `${hex(payload, n).padEnd(n * 3 + 1)} |${ascii(payload, n)}${cut}|`;
}
