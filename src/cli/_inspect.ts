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
import type { Framing } from "../framing/types.ts";
import type { CliIo } from "./_io.ts";
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

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return concat(parts);
}

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
  let all: Uint8Array;
  try {
    all = file === "-" ? await readAll(io.stdin()) : await io.readFile(file);
  } catch (error) {
    io.err(`framewire inspect: cannot read ${source}: ${readError(error)}\n`);
    return 1;
  }
  if (skip > all.length) {
    io.err(
      `framewire inspect: cannot skip ${bytesWord(skip)}: ${source} has ${bytesWord(all.length)}\n`,
    );
    return 1;
  }
  // What is decoded; offsets shown count from the start of the input (`skip` before `data`).
  const data = all.subarray(skip);
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

  const width = Math.max(7, String(all.length).length + 1);
  let headed = false;
  function head(problemAtStart: boolean, anyRows: boolean): void {
    headed = true;
    if (json) return;
    write(
      `${source}: ${bytesWord(all.length)}${
        skip > 0 ? ` (the first ${skip} skipped)` : ""
      }, format ${formatName} (max frame ${bytesWord(framing.maxFrameLength)})\n`,
    );
    const looks = sniff(data);
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

  const decoder = framing.decoder();
  const delimiterLast = framing.name === "line" || framing.name === "delimited";
  if (data.length > 0) decoder.push(data);
  let problem: Problem | undefined;
  let frames = 0;
  let decoded = skip; // where decoding stopped
  for (;;) {
    const start = all.length - decoder.bufferedBytes;
    let frame: Uint8Array | undefined;
    try {
      frame = decoder.next();
      if (frame === undefined) decoder.end();
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      problem = explain(
        settled(error, all.subarray(start), framing),
        all.subarray(start),
        start,
        framing,
      );
    }
    if (frame === undefined || problem !== undefined) break;
    const end = all.length - decoder.bufferedBytes;
    const inside = frame.buffer === all.buffer && frame.byteOffset >= all.byteOffset &&
      frame.byteOffset + frame.length <= all.byteOffset + all.length;
    // A frame that is not a view into the input (on Bun small frames are copies): where its
    // payload starts follows from the format.
    const payloadStart = inside
      ? frame.byteOffset - all.byteOffset
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
  if (!headed) head(problem?.offset === skip, false);

  if (json) {
    write(
      jsonLine({
        summary: true,
        frames,
        bytes: all.length,
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
  if (problem === undefined) {
    write(`ok: ${plural(frames, "frame")}, all ${bytesWord(data.length)}${after} decoded\n`);
    flush();
    return 0;
  }
  for (const line of problem.lines) write(`${line}\n`);
  write(
    frames === 0
      ? `stopped: no complete frame; ${
        data.length === 1 ? "the only byte" : `none of the ${bytesWord(data.length)}`
      }${after} could ${data.length === 1 ? "not " : ""}be decoded\n`
      : `stopped: ${plural(frames, "complete frame")} in the first ${
        bytesWord(decoded - skip)
      }${after}; ${bytesWord(all.length - decoded)} from offset ${decoded} not decoded\n`,
  );
  flush();
  failed(problem);
  return 1;
}

/**
 * The error to report: a delimiter format's says the limit, not how far the
 * search had gone (up to the end of the input, which depends on how the input
 * was read: "(3221225472 read)").
 */
function settled(error: FramingError, at: Uint8Array, framing: Framing): FramingError {
  if (error instanceof FrameTooLargeError && isDelimited(framing)) {
    return new FrameTooLargeError(error.limit + 1, error.limit, {
      header: at.subarray(0, 8),
      noDelimiter: true,
    });
  }
  return error;
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
  const delimited = framing.name === "line" || framing.name === "delimited";
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
