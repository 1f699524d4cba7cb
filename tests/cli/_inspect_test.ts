// Copyright 2026 the framewire authors. MIT license.

import assert from "node:assert/strict";
import { test } from "node:test";
import { FORMAT_NAMES, framingFor, PROTOCOL_NAMES } from "../../src/cli/_formats.ts";
import { run } from "../../src/cli/_run.ts";
import { HELD_INPUT_LIMIT } from "../../src/cli/_inspect.ts";
import { captureIo } from "./_capture_io.ts";
import { concat, encodeAll } from "../framing/_formats.ts";
import { watchSockets } from "../_util/leaks.ts";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeIo } from "../../src/cli/_io.ts";
import { root } from "../_util/runtime.ts";
import { shiftMoves } from "../_util/shift_moves.ts";

const sockets = watchSockets();

const te = new TextEncoder();
const MESSAGES = ["hello", "", "naïve", "x".repeat(40)].map((m) => te.encode(m));

function capture(format: string, payloads: Uint8Array[] = MESSAGES): Uint8Array {
  return encodeAll(framingFor(format), payloads);
}

async function inspectJson(format: string, data: Uint8Array, extra: string[] = []) {
  const io = captureIo({ stdin: [data] });
  const code = await run(["inspect", "--format", format, "--json", ...extra], io);
  const objects = io.stdout.trim().split("\n").map((l) => JSON.parse(l));
  return { code, frames: objects.slice(0, -1), summary: objects.at(-1), io };
}

test("the inspect examples of docs/cli.md (and the README) print what they show", async () => {
  const doc = readFileSync(join(root, "docs/cli.md"), "utf8");
  const block = doc.slice(doc.indexOf("$ framewire inspect capture.bin"));
  const session = block.slice(0, block.indexOf("```")).trimEnd().split("\n");
  // Commands and the lines they print, as shown.
  const runs: { command: string; shown: string[] }[] = [];
  for (const line of session) {
    if (line.startsWith("$ ")) runs.push({ command: line.slice(2), shown: [] });
    else runs.at(-1)!.shown.push(line);
  }
  assert.equal(runs.length, 3);
  for (const { command, shown } of runs) {
    const piped = command.match(/^printf '(.*)' \| framewire inspect$/);
    const file = command.match(/^framewire inspect (\S+)$/)?.[1];
    assert.ok(piped !== null || file !== undefined, command);
    const io = piped === null
      ? captureIo({ files: { [file!]: readFileSync(join(root, "docs/examples", file!)) } })
      : captureIo({ stdin: [printfBytes(piped[1]!)] });
    await run(piped === null ? ["inspect", file!] : ["inspect"], io);
    assert.equal(io.stdout, shown.join("\n") + "\n", command);
  }
});

/** What printf makes of `\xNN` and `\n` escapes (the ones the docs use). */
function printfBytes(format: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < format.length; i++) {
    if (format[i] === "\\" && format[i + 1] === "x") {
      bytes.push(parseInt(format.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (format[i] === "\\" && format[i + 1] === "n") {
      bytes.push(10);
      i++;
    } else bytes.push(format.charCodeAt(i));
  }
  return new Uint8Array(bytes);
}

test("inspect says it reads standard input when that is a terminal, and only then", async () => {
  for (const terminal of [true, false]) {
    const io = captureIo({ terminal, stdin: [capture("u32be")] });
    assert.equal(await run(["inspect"], io), 0);
    assert.match(io.stdout, /ok: 4 frames/);
    assert.equal(
      io.stderr,
      terminal
        ? "framewire inspect: reading the capture from standard input, a terminal: end it with Ctrl-D, or give a FILE (framewire inspect --help)\n"
        : "",
    );
  }
});

test("inspect finds the offsets of every frame in every format", async () => {
  for (const format of FORMAT_NAMES) {
    const framing = framingFor(format);
    const data = capture(format);
    const { code, frames, summary } = await inspectJson(format, data);
    assert.equal(code, 0, format);
    assert.equal(frames.length, MESSAGES.length, format);
    let offset = 0;
    frames.forEach((f, i) => {
      const wire = framing.encode(MESSAGES[i]!).length;
      assert.equal(f.frame, i + 1);
      assert.equal(f.start, offset, `${format} frame ${i + 1} start`);
      assert.equal(f.end, offset + wire, `${format} frame ${i + 1} end`);
      assert.equal(f.header + f.length + f.trailer, wire);
      assert.equal(f.length, MESSAGES[i]!.length);
      assert.equal(f.text, new TextDecoder().decode(MESSAGES[i]));
      offset += wire;
    });
    assert.deepEqual(summary, {
      summary: true,
      frames: 4,
      bytes: data.length,
      skipped: 0,
      decodedBytes: data.length,
      error: null,
    });
  }
});

test("inspect splits header and trailer bytes per format, for frames that are views and copies", async () => {
  // On Bun frames under 33 B are copies, not views into the input: 5 and 40 bytes take both paths.
  for (const text of ["hello", "x".repeat(40)]) {
    const n = text.length;
    const first = async (format: string) =>
      (await inspectJson(format, capture(format, [te.encode(text), te.encode("next")]))).frames[0];
    const row = { frame: 1, start: 0, length: n, text };
    assert.deepEqual(await first("u32be"), { ...row, end: 4 + n, header: 4, trailer: 0 });
    assert.deepEqual(await first("line"), { ...row, end: n + 1, header: 0, trailer: 1 });
    const digits = String(n).length;
    assert.deepEqual(await first("netstring"), {
      ...row,
      end: digits + 2 + n,
      header: digits + 1,
      trailer: 1,
    });
    const crlf = await inspectJson("line", te.encode(`${text}\r\nnext\n`));
    assert.deepEqual(crlf.frames[0], { ...row, end: n + 2, header: 0, trailer: 2 });
  }
});

test("inspect counts offsets from the input's start when it is a view into a larger buffer", async () => {
  const wire = capture("u32be", [te.encode("x".repeat(40)), te.encode("hi")]);
  const buffer = new Uint8Array(7 + wire.length);
  buffer.set(wire, 7);
  const { code, frames } = await inspectJson("u32be", buffer.subarray(7));
  assert.equal(code, 0);
  assert.deepEqual(frames.map((f) => [f.start, f.end, f.header, f.trailer]), [
    [0, 44, 4, 0],
    [44, 50, 4, 0],
  ]);
});

test("inspect places the payload of 32- and 33-byte frames in every format (on Bun the first are copies, the second views)", async () => {
  for (const format of [...FORMAT_NAMES, ...PROTOCOL_NAMES]) {
    const framing = framingFor(format, undefined, true);
    const trailer = format === "netstring" || format === "line" ? 1 : 0;
    for (const n of [32, 33]) {
      // The payload counts the type byte of mqtt and postgres, and http2's 6 header bytes.
      const payload = te.encode("0123456789abcdefghijklmnopqrstuvwxyz".slice(0, n));
      const first = framing.encode(payload).length;
      const data = new Uint8Array([
        ...framing.encode(payload),
        ...framing.encode(te.encode("next...")),
      ]);
      const { code, frames } = await inspectJson(format, data);
      assert.equal(code, 0, format);
      assert.deepEqual(frames[0], {
        frame: 1,
        start: 0,
        end: first,
        header: first - n - trailer,
        trailer,
        length: n,
        text: new TextDecoder().decode(payload),
      }, `${format} ${n} B`);
      assert.equal(frames[1].start, first, format);
    }
  }
});

test("inspect --preview 0 ends rows without trailing spaces, --limit 0 prints no column header", async () => {
  const data = capture("u32be", [te.encode("hi")]);
  const a = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u32be", "--preview", "0", "-"], a), 0);
  assert.match(a.stdout, /\n {5}1 {6}0 {6}6 {8}4 {8}2\n/); // before: "2  \n"
  const b = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u32be", "--limit", "0", "-"], b), 0);
  assert.doesNotMatch(b.stdout, /frame +start/); // before: a header with no rows under it
  assert.match(b.stdout, /1 more frame not shown \(--limit 0\)/);
  const c = captureIo({ stdin: [data, data] });
  assert.equal(await run(["inspect", "--format", "u32be", "--limit", "1", "-"], c), 0);
  assert.match(c.stdout, /\n frame {2}start {4}end {2}framing {2}payload {2}preview\n {5}1 /);
  assert.match(c.stdout, /1 more frame not shown \(--limit 1\)/);
});

test("inspect words a stream of one undecodable byte in the singular", async () => {
  const io = captureIo({ stdin: [new Uint8Array([0x78])] });
  assert.equal(await run(["inspect", "--format", "u32be", "-"], io), 1);
  // Before: "none of the 1 byte could be decoded".
  assert.match(io.stdout, /\n {2}bytes at offset 0: 78 {2}\|x\|\n/);
  assert.match(io.stdout, /\nstopped: no complete frame; the only byte could not be decoded\n$/);
});

test("inspect reports a truncated header with the bytes it got", async () => {
  const data = new Uint8Array([...capture("u32be", [te.encode("ok")]), 0, 0]);
  const { code, summary } = await inspectJson("u32be", data);
  assert.equal(code, 1);
  assert.equal(summary.frames, 1);
  assert.equal(summary.decodedBytes, 6);
  assert.equal(summary.error.code, "TRUNCATED_FRAME");
  assert.equal(summary.error.offset, 6);
  assert.match(
    summary.error.explanation[0],
    /truncated header: the stream ends after 2 of the 4 header bytes/,
  );
});

test("inspect reports a line with no newline at the end", async () => {
  for (const json of [false, true]) {
    const io = captureIo({ stdin: ["one\ntwo\nthree"] });
    assert.equal(await run(["inspect", "--format", "line", ...(json ? ["--json"] : [])], io), 1);
    if (!json) {
      assert.match(
        io.stdout,
        /error at offset 8: truncated frame: the stream ends with 5 bytes and no delimiter/,
      );
    }
    // The one line on standard error every failure writes (docs/cli.md); before, none.
    assert.match(io.stderr, /^framewire inspect: Cannot decode frame as .* \(at offset 8\)\n$/);
  }
});

test("inspect names the likely cause of an oversized length", async () => {
  // A little-endian length read as big-endian.
  const io = captureIo({ stdin: [new Uint8Array([5, 0, 0, 0, 104, 101, 108, 108, 111])] });
  assert.equal(await run(["inspect"], io), 1);
  assert.match(
    io.stdout,
    /oversized frame: the header declares 83886080 bytes, over the limit of 4194304/,
  );
  assert.match(io.stdout, /opposite byte order the length would be 5/);
});

test("inspect of a header that claims 2^40 bytes: over the limit, or truncated without allocating them", async () => {
  // A debugging tool gets pointed at anything: a u64be length of 2^40 followed by 100 KiB. Over the
  // default limit it is refused as it is read; under a limit that takes it, the capture ends long
  // before the frame does, which is what inspect must say, without first asking for 1 TiB of
  // memory (which would fail as "more than can be allocated", or take it on some systems).
  const data = new Uint8Array(8 + 100 * 1024);
  data[2] = 1; // 2^40
  let io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u64be"], io), 1);
  assert.match(
    io.stdout,
    /error at offset 0: oversized frame: the header declares 1099511627776 bytes, over the limit of 4194304 \(FRAME_TOO_LARGE\)/,
  );
  io = captureIo({ stdin: [data] });
  const max = String(Number.MAX_SAFE_INTEGER);
  assert.equal(await run(["inspect", "--format", "u64be", "--max-frame-length", max], io), 1);
  assert.match(
    io.stdout,
    /error at offset 0: truncated payload: the header declares 1099511627776 bytes but only 102400 arrived \(1099511525376 missing\) \(TRUNCATED_FRAME\)/,
  );
  assert.equal(io.stderr.split("\n").length, 2, io.stderr); // its one line
});

test("inspect says when a stream that decodes looks like HTTP", async () => {
  const io = captureIo({ stdin: ["GET / HTTP/1.1\r\nHost: example\r\n\r\n"] });
  assert.equal(await run(["inspect", "--format", "line"], io), 0);
  assert.match(io.stdout, /note: the stream starts like an HTTP request \("GET \/ HTTP\/1\.1"\)/);
  assert.match(io.stdout, /ok: 3 frames, all 33 bytes decoded/);
});

test("inspect explains a malformed header in plain words", async () => {
  const io = captureIo({ stdin: ["5:hello,03:abc,"] });
  assert.equal(await run(["inspect", "--format", "netstring"], io), 1);
  assert.match(io.stdout, /error at offset 8: malformed header: .*\(MALFORMED_HEADER\)/);
  assert.doesNotMatch(io.stdout, /Cannot decode frame as its header is malformed/);
});

test("inspect --limit prints fewer rows but checks every frame", async () => {
  const data = capture("u8", Array.from({ length: 10 }, () => te.encode("ab")));
  const io = captureIo({ files: { "cap.bin": data } });
  assert.equal(await run(["inspect", "--format=u8", "--limit", "2", "cap.bin"], io), 0);
  assert.equal(io.stdout.split("\n").filter((l) => /^\s+\d+\s+\d+/.test(l)).length, 2);
  assert.match(io.stdout, /… 8 more frames not shown \(--limit 2\)/);
  assert.match(io.stdout, /ok: 10 frames, all 30 bytes decoded/);
});

test("inspect waits for room in its output as it prints rows", async () => {
  // Before, it printed every row in one synchronous run: into a pipe to a pager, all of its
  // output waited in memory. The output here has no room until the test gives it some.
  const io = captureIo({ files: { "cap.bin": new Uint8Array(4 * 20_000) } }); // 20,000 empty frames
  const giveRoom = io.holdOutput();
  const done = run(["inspect", "cap.bin"], io);
  await io.waitForOut(/\n\s+1\s/);
  const rows = io.stdout.split("\n").length;
  assert.ok(rows < 4000, `${rows} lines printed before waiting for room`);
  giveRoom();
  assert.equal(await done, 0);
  assert.match(io.stdout, /ok: 20000 frames, all 80000 bytes decoded/);
});

test("inspect --max-frame-length applies to the capture", async () => {
  const { code, summary } = await inspectJson("u32be", capture("u32be"), [
    "--max-frame-length",
    "8",
  ]);
  assert.equal(code, 1);
  assert.equal(summary.frames, 3);
  assert.equal(summary.error.code, "FRAME_TOO_LARGE");
});

test("inspect of an empty input succeeds with no frames", async () => {
  const io = captureIo({ stdin: [] });
  assert.equal(await run(["inspect", "-"], io), 0);
  assert.match(io.stdout, /standard input: 0 bytes/);
  assert.match(io.stdout, /ok: 0 frames/);
});

test("inspect of a missing file fails in one line", async () => {
  const io = captureIo();
  assert.equal(await run(["inspect", "missing.bin"], io), 1);
  assert.equal(io.stderr, "framewire inspect: cannot read missing.bin: no such file\n");
  assert.equal(io.stdout, "");
});

test("inspect of an empty FILE argument is a usage error: it reads no file and not standard input either", async () => {
  const io = captureIo({ stdin: [capture("u32be")] });
  assert.equal(await run(["inspect", ""], io), 2);
  assert.match(
    io.stderr,
    /^framewire inspect: FILE must not be empty: give a file name, or - for standard input /,
  );
  assert.equal(io.stdout, "");
});

test("inspect counts one byte as 1 byte: the capture, the limit, a cut line", async () => {
  // Before: "(max frame 1 bytes)" and "1 byte and no delimiter after them".
  const io = captureIo({ stdin: ["a"] });
  assert.equal(await run(["inspect", "--format", "line", "--max-frame-length", "1"], io), 1);
  assert.match(io.stdout, /^standard input: 1 byte, format line \(max frame 1 byte\)\n/);
  assert.match(
    io.stdout,
    /truncated frame: the stream ends with 1 byte and no delimiter after it \(TRUNCATED_FRAME\)/,
  );
  const two = captureIo({ stdin: ["ab"] });
  assert.equal(await run(["inspect", "--format", "line"], two), 1);
  assert.match(
    two.stdout,
    /truncated frame: the stream ends with 2 bytes and no delimiter after them \(TRUNCATED_FRAME\)/,
  );
});

test("inspect rejects a second file and a bad --limit as usage errors", async () => {
  const io = captureIo();
  assert.equal(await run(["inspect", "a", "b"], io), 2);
  assert.equal(await run(["inspect", "--limit", "x"], io), 2);
  assert.match(io.stderr, /expected at most one FILE/);
  assert.match(io.stderr, /invalid --limit "x"/);
});

test("inspect words errors for the format: no header for lines, the closing comma of a netstring", async () => {
  const line = captureIo({ stdin: ["abcdefghij\n"] });
  assert.equal(await run(["inspect", "--format", "line", "--max-frame-length", "4"], line), 1);
  assert.match(
    line.stdout,
    /oversized frame: no delimiter within the limit of 4 bytes, from offset 0 to 4 \(FRAME_TOO_LARGE\)/,
  );
  assert.match(line.stdout, /a longer line than --max-frame-length allows/);
  // The limit and where: before, how far the search had gone, to the end of the input.
  assert.equal(
    line.stderr,
    "framewire inspect: Cannot decode frame as no delimiter came within maxFrameLength 4 bytes " +
      "(5 read) (at offset 0)\n",
  );
  assert.doesNotMatch(line.stdout, /header/);

  const netstring = captureIo({ stdin: ["5:hello"] });
  assert.equal(await run(["inspect", "--format", "netstring"], netstring), 1);
  assert.match(
    netstring.stdout,
    /truncated payload: the header declares 5 bytes and a closing "," but only 5 of those 6 arrived \(1 missing\)/,
  );
  // Before: a missing "," was a "malformed header", though the header was fine.
  const comma = captureIo({ stdin: ["5:hello,3:abcX"] });
  assert.equal(await run(["inspect", "--format", "netstring"], comma), 1);
  assert.match(comma.stdout, /error at offset 8: malformed frame: netstring does not end with ','/);
});

test("inspect --skip decodes what follows a greeting, with offsets from the start", async () => {
  const greeting = te.encode("HELLO v1\n");
  const frames = capture("u32be");
  const data = new Uint8Array([...greeting, ...frames]);
  // Without --skip the greeting is read as a length header.
  assert.equal((await inspectJson("u32be", data)).code, 1);

  const { code, frames: rows, summary } = await inspectJson("u32be", data, ["--skip", "9"]);
  assert.equal(code, 0);
  assert.deepEqual(rows.map((r) => [r.start, r.end]), [[9, 18], [18, 22], [22, 32], [32, 76]]);
  assert.deepEqual(summary, {
    summary: true,
    frames: 4,
    bytes: data.length,
    skipped: 9,
    decodedBytes: frames.length,
    error: null,
  });

  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--skip", "9"], io), 0);
  assert.match(io.stdout, /^standard input: 76 bytes \(the first 9 skipped\), format u32be/);
  assert.match(io.stdout, /\n {5}1 {6}9 {5}18 {8}4 {8}5 {2}68 65/);
  assert.match(io.stdout, /ok: 4 frames, all 67 bytes after offset 9 decoded/);
});

test("inspect --skip 1 says that one byte was skipped, in the header and the verdict", async () => {
  const data = new Uint8Array([0x2a, ...capture("u8", [te.encode("hi")])]);
  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u8", "--skip", "1"], io), 0);
  assert.match(io.stdout, /^standard input: 4 bytes \(the first 1 skipped\), format u8/);
  assert.match(io.stdout, /\nok: 1 frame, all 3 bytes after offset 1 decoded\n$/);
});

test("inspect --max-frame-length 0 is refused for its range, before any format sees it", async () => {
  const io = captureIo({ stdin: [] });
  assert.equal(await run(["inspect", "--max-frame-length", "0"], io), 2);
  assert.match(
    io.stderr,
    /^framewire inspect: invalid --max-frame-length "0": expected an integer from 1 to /,
  );
});

test("inspect --skip reports errors at their offset in the whole input", async () => {
  const data = new Uint8Array([
    ...te.encode("HI"),
    ...capture("u16be", [te.encode("ok")]),
    0,
    9,
    1,
  ]);
  const { code, summary } = await inspectJson("u16be", data, ["--skip", "2"]);
  assert.equal(code, 1);
  assert.equal(summary.frames, 1);
  assert.equal(summary.decodedBytes, 4);
  assert.equal(summary.error.offset, 6);
  assert.match(summary.error.explanation[0], /^error at offset 6: truncated payload/);

  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u16be", "--skip", "2"], io), 1);
  assert.match(
    io.stdout,
    /stopped: 1 complete frame in the first 4 bytes after offset 2; 3 bytes from offset 6 not decoded/,
  );
});

test("inspect --skip to the end decodes nothing; past the end is an error", async () => {
  const data = capture("u8", [te.encode("ab")]);
  const { code, summary } = await inspectJson("u8", data, ["--skip", "3"]);
  assert.equal(code, 0);
  assert.equal(summary.frames, 0);
  assert.equal(summary.decodedBytes, 0);

  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u8", "--skip", "4"], io), 1);
  assert.equal(io.stderr, "framewire inspect: cannot skip 4 bytes: standard input has 3 bytes\n");
  assert.equal(io.stdout, "");
  assert.equal(await run(["inspect", "--skip", "-1"], captureIo()), 2);
});

test("inspect --skip works with --limit, and names what the bytes at the skip offset look like", async () => {
  const rows = capture("u8", Array.from({ length: 5 }, () => te.encode("ab")));
  const limited = captureIo({ stdin: [new Uint8Array([7, 7, ...rows])] });
  assert.equal(await run(["inspect", "--format", "u8", "--skip", "2", "--limit", "1"], limited), 0);
  assert.match(limited.stdout, /\n {5}1 {6}2 {6}5 /);
  assert.match(limited.stdout, /… 4 more frames not shown \(--limit 1\)/);
  assert.match(limited.stdout, /ok: 5 frames, all 15 bytes after offset 2 decoded/);

  // A TLS ClientHello right after a 4-byte preamble: explained once, at offset 4.
  const hello = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03];
  const tls = captureIo({ stdin: [new Uint8Array([0, 0, 0, 0, ...hello])] });
  assert.equal(await run(["inspect", "--skip", "4"], tls), 1);
  assert.match(tls.stdout, /error at offset 4: oversized frame/);
  assert.match(tls.stdout, /the bytes there look like a TLS ClientHello/);
  assert.doesNotMatch(tls.stdout, /^note:/m);
  assert.match(tls.stdout, /none of the 11 bytes after offset 4 could be decoded/);
});

test("inspect rows: framing counts header and trailer, previews of 16 bytes, aligned and cut past --preview", async () => {
  const lines = ["abc\r\n", "0123456789abcdef\n", "0123456789abcdefg\n", "\n"];
  const io = captureIo({ stdin: [lines.join("")] });
  assert.equal(await run(["inspect", "--format", "line"], io), 0);
  const rows = io.stdout.split("\n").filter((l) => /^\s+\d+\s+\d+/.test(l));
  assert.equal(rows.length, 4);
  // frame, start, end, framing (the "\r\n" or "\n"), payload length
  assert.deepEqual(rows.map((r) => r.trim().split(/\s+/).slice(0, 5).map(Number)), [
    [1, 0, 5, 2, 3],
    [2, 5, 22, 1, 16],
    [3, 22, 40, 1, 17],
    [4, 40, 41, 1, 0],
  ]);
  assert.match(rows[0]!, / 61 62 63 +\|abc\|$/);
  assert.match(rows[1]!, / 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 +\|0123456789abcdef\|$/);
  assert.match(
    rows[2]!,
    / 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 … \|0123456789abcdef…\|$/,
  );
  assert.match(rows[3]!, / \(empty\)$/);
  // The ASCII column starts at the same place whether the hex was cut or not.
  const bars = rows.slice(0, 3).map((r) => r.indexOf("|"));
  assert.deepEqual(bars, [bars[0], bars[0], bars[0]]);
});

test("inspect words one byte in the singular", async () => {
  const io = captureIo({ stdin: [new Uint8Array([0])] });
  assert.equal(await run(["inspect", "--format", "u8"], io), 0);
  assert.match(io.stdout, /^standard input: 1 byte, format u8/);
  assert.match(io.stdout, /\nok: 1 frame, all 1 byte decoded\n$/);
});

test("inspect --limit of exactly the frame count shows every row and hides none", async () => {
  const data = capture("u8", [te.encode("a"), te.encode("b")]);
  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect", "--format", "u8", "--limit", "2"], io), 0);
  assert.equal(io.stdout.split("\n").filter((l) => /^\s+\d+\s+\d+/.test(l)).length, 2);
  assert.doesNotMatch(io.stdout, /not shown/);
});

test("inspect of a cut TLS record header names TLS instead of a cut capture", async () => {
  const io = captureIo({ stdin: [new Uint8Array([0x16, 0x03, 0x01])] });
  assert.equal(await run(["inspect"], io), 1);
  assert.match(io.stdout, /error at offset 0: truncated header: the stream ends after 3 of the 4/);
  assert.match(io.stdout, /\n {2}the bytes there look like a TLS handshake record, 16 03 01: /);
  assert.doesNotMatch(io.stdout, /the capture was cut/);
  // Without a protocol to name, the cut capture is the explanation.
  const plain = captureIo({ stdin: [new Uint8Array([0, 0, 1])] });
  assert.equal(await run(["inspect"], plain), 1);
  assert.match(plain.stdout, /\n {2}the capture was cut, or the sender closed the connection/);
});

test("inspect shows the first 16 bytes where decoding stopped", async () => {
  const data = new Uint8Array(20).map((_, i) => 0x41 + i);
  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect"], io), 1);
  assert.match(
    io.stdout,
    /\n {2}bytes at offset 0: 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50 … {2}\|ABCDEFGHIJKLMNOP…\|\n/,
  );
});

test("inspect of a missing file says so on Deno too (NotFound has no code)", async () => {
  const io = captureIo();
  io.readInput = (path) =>
    Promise.reject(
      Object.assign(new Error(`No such file or directory (os error 2): readfile '${path}'`), {
        name: "NotFound",
      }),
    );
  assert.equal(await run(["inspect", "gone.bin"], io), 1);
  assert.equal(io.stderr, "framewire inspect: cannot read gone.bin: no such file\n");
});

test("inspect keeps the offset columns apart in a capture of a million bytes", async () => {
  const data = capture("u32be", [new Uint8Array(1_000_000)]);
  const io = captureIo({ stdin: [data] });
  assert.equal(await run(["inspect"], io), 0);
  assert.match(io.stdout, /\n frame {3}start {5}end {2}framing/);
  assert.match(io.stdout, /\n {5}1 {7}0 1000004 {8}4 {2}1000000 {2}00 00/);
});

test("inspect --format http2, mqtt and postgres: protocol captures, type bytes in the payload", async () => {
  // HTTP/2: the client preface, an empty SETTINGS, a HEADERS on stream 1 (3 HPACK bytes).
  const preface = te.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const h2 = new Uint8Array([
    ...preface,
    ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
    ...[0, 0, 3, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x84],
  ]);
  const http2 = await inspectJson("http2", h2, ["--skip", "24"]);
  assert.equal(http2.code, 0);
  assert.deepEqual(
    http2.frames.map((f) => [f.start, f.end, f.header, f.length]),
    [[24, 33, 3, 6], [33, 45, 3, 9]],
  );
  // MQTT: PINGREQ, then CONNACK.
  const mqtt = await inspectJson("mqtt", new Uint8Array([0xc0, 0, 0x20, 2, 0, 0]));
  assert.equal(mqtt.code, 0);
  assert.deepEqual(mqtt.frames.map((f) => [f.start, f.end, f.header, f.length]), [
    [0, 2, 1, 1],
    [2, 6, 1, 3],
  ]);
  // PostgreSQL: ReadyForQuery ('Z', idle); then a length smaller than itself is malformed.
  const pg = await inspectJson(
    "postgres",
    new Uint8Array([0x5a, 0, 0, 0, 5, 0x49, 0x5a, 0, 0, 0, 3]),
  );
  assert.equal(pg.code, 1);
  assert.deepEqual(pg.frames.map((f) => [f.start, f.end, f.text]), [[0, 6, "ZI"]]);
  assert.match(pg.summary.error.message, /length 3 is smaller than the 4 bytes it counts/);
  // Named as asked for, not by the length field (postgres is a u32be field).
  const text = captureIo({ stdin: [new Uint8Array([0x5a, 0, 0, 0, 5, 0x49])] });
  assert.equal(await run(["inspect", "--format", "postgres"], text), 0);
  assert.match(
    text.stdout,
    /^standard input: 6 bytes, format postgres \(max frame 4194304 bytes\)\n/,
  );
  assert.match(text.stdout, /\n {5}1 {6}0 {6}6 {8}4 {8}2 {2}5a 49 /);
  // The other commands frame lines of text: these formats are for inspect only.
  const io = captureIo();
  assert.equal(await run(["send", "127.0.0.1:1", "--format", "mqtt"], io), 2);
  assert.match(io.stderr, /unknown format "mqtt": .*\(mqtt is for inspect only/);
});

test("inspect --max-frame-length counts the bytes after the length field: not mqtt's and postgres's type byte, http2's 6 header bytes", async () => {
  // An MQTT PUBLISH with a remaining length of 2: the payload column says 3, the limit 2 takes it.
  const mqtt = await inspectJson("mqtt", new Uint8Array([0x30, 2, 0x61, 0x62]), [
    "--max-frame-length",
    "2",
  ]);
  assert.equal(mqtt.code, 0);
  assert.deepEqual(mqtt.frames.map((f) => f.length), [3]);
  const over = await inspectJson("mqtt", new Uint8Array([0x30, 3, 0x61, 0x62, 0x63]), [
    "--max-frame-length",
    "2",
  ]);
  assert.equal(over.code, 1);
  assert.equal(over.summary.error.code, "FRAME_TOO_LARGE");
  // PostgreSQL ReadyForQuery: length 5, one byte after the field (the type byte not counted).
  const pg = await inspectJson("postgres", new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]), [
    "--max-frame-length",
    "1",
  ]);
  assert.equal(pg.code, 0);
  assert.deepEqual(pg.frames.map((f) => f.length), [2]);
  // An empty HTTP/2 SETTINGS: length 0, yet 6 bytes after the field; every HTTP/2 frame has
  // them, so a limit of 5 is refused before anything is read.
  const settings = new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  assert.equal((await inspectJson("http2", settings, ["--max-frame-length", "6"])).code, 0);
  const io = captureIo({ stdin: [settings] });
  assert.equal(await run(["inspect", "--format", "http2", "--max-frame-length", "5"], io), 2);
  assert.match(
    io.stderr,
    /invalid --max-frame-length for http2: .*maxFrameLength must be at least the 6 bytes after the length field/,
  );
});

sockets.check();

/** Inputs of every kind inspect explains, with the options they are inspected with. */
function splitCases(): { args: string[]; data: Uint8Array }[] {
  const bytes = (...parts: (string | number[])[]) =>
    concat(parts.map((p) => typeof p === "string" ? te.encode(p) : new Uint8Array(p)));
  const example = (name: string) => readFileSync(join(root, "docs/examples", name));
  const cases: { args: string[]; data: Uint8Array }[] = [
    { args: [], data: example("capture.bin") },
    { args: ["--limit", "1", "--preview", "4"], data: example("capture.bin") },
    { args: ["--json"], data: example("capture.bin") },
    { args: [], data: example("clienthello.bin") },
    { args: [], data: bytes([5, 0, 0, 0], "hello") },
    { args: ["--skip", "9"], data: bytes("HELLO v1\n", [0, 0, 0, 5], "hello") },
    { args: ["--skip", "3", "--json"], data: bytes("abc", [0, 0, 0, 1]) },
    { args: ["--skip", "4"], data: bytes("abc") },
    { args: ["--format", "postgres"], data: bytes([0x5a, 0, 0, 0, 5], "I") },
    { args: ["--format", "postgres"], data: bytes([0x5a, 0, 0, 0, 2], "I") },
    { args: ["--format", "mqtt"], data: bytes([0x30, 2], "ab", [0x30, 5], "a") },
    { args: ["--format", "http2"], data: bytes([0, 0, 1, 4, 0, 0, 0, 0, 0], "x", [0, 0]) },
    { args: [], data: new Uint8Array(0) },
    { args: [], data: bytes([7]) },
    { args: [], data: bytes([0x16, 3, 1]) },
    { args: ["--format", "u16be", "--max-frame-length", "3"], data: bytes([5, 0], "hello") },
    { args: ["--format", "varint"], data: bytes([1], "a", [0x80, 0], "bcdefgh") },
    { args: ["--format", "netstring"], data: bytes("5:hello,3:abcX") },
    { args: ["--format", "netstring"], data: bytes("1:a,05:hello,") },
    { args: ["--format", "netstring"], data: bytes("99999999999999999999:") },
    { args: ["--format", "decimal10"], data: bytes("3         abc12x       abc") },
    {
      args: ["--format", "line", "--max-frame-length", "4"],
      data: bytes("ab\r\nabcd\r\nabcdefghij\n"),
    },
    { args: ["--format", "line", "--max-frame-length", "4", "--json"], data: bytes("abcd\rx\n") },
    { args: ["--format", "line", "--max-frame-length", "8"], data: bytes("ok\n", "y".repeat(100)) },
    { args: ["--format", "line"], data: bytes("GET / HTTP/1.1\r\nHost: example\r\n\r\n") },
    { args: ["--format", "line"], data: bytes("one\ntwo") },
  ];
  for (const format of [...FORMAT_NAMES, ...PROTOCOL_NAMES]) {
    const framing = framingFor(format, undefined, true);
    const prefix: Record<string, number[]> = {
      http2: [0, 0, 0, 0, 0, 0],
      mqtt: [0x30],
      postgres: [0x44],
    };
    const data = encodeAll(framing, MESSAGES.map((m) => bytes(prefix[format] ?? [], [...m])));
    cases.push({ args: ["--format", format], data });
    cases.push({ args: ["--format", format, "--json"], data: data.subarray(0, data.length - 3) });
    cases.push({ args: ["--format", format], data: bytes([...data], "GET /x HTTP/1.1\r\n\r\n") });
  }
  return cases;
}

test("inspect prints the same for any split of its input into chunks: a file, standard input, --json", async () => {
  // It decodes as it reads (before, it read everything first): the rows, the errors and their
  // explanations must not depend on where the reads of a file or of a pipe happened to end.
  for (const { args, data } of splitCases()) {
    // (Copies for each run: a decoder owns what it is given, and may write into it: mqtt's and
    // postgres's put the type byte next to the payload.)
    const whole = captureIo({ files: { "in.bin": data.slice() } });
    const code = await run(["inspect", ...args, "in.bin"], whole);
    const expected = { code, stdout: whole.stdout, stderr: whole.stderr };
    const wholeStdin = captureIo({ stdin: [data.slice()] });
    const stdinCode = await run(["inspect", ...args], wholeStdin);
    const expectedStdin = { code: stdinCode, stdout: wholeStdin.stdout, stderr: wholeStdin.stderr };
    const splits = Array.from({ length: data.length + 1 }, (_, i) => [
      data.slice(0, i),
      data.slice(i),
    ]);
    splits.push(Array.from(data, (b) => new Uint8Array([b])));
    for (const chunks of splits) {
      const what = `${args.join(" ")} of ${data.length} bytes in chunks of ${
        chunks.map((c) => c.length).join("+")
      }`;
      const file = captureIo({ files: { "in.bin": chunks.map((c) => c.slice()) } });
      const fileCode = await run(["inspect", ...args, "in.bin"], file);
      assert.deepEqual(
        { code: fileCode, stdout: file.stdout, stderr: file.stderr },
        expected,
        what,
      );
      // Standard input: held, then decoded in its chunks as a file is (one split shows it); with
      // --json, decoded as it comes without a size (every split).
      const middle = chunks.length !== 2 || chunks[0]!.length === data.length >> 1;
      if (!args.includes("--json") && !middle) continue;
      const stdin = captureIo({ stdin: chunks });
      const splitCode = await run(["inspect", ...args], stdin);
      assert.deepEqual(
        { code: splitCode, stdout: stdin.stdout, stderr: stdin.stderr },
        expectedStdin,
        `standard input, ${what}`,
      );
    }
  }
});

test("inspect decodes a file as it reads it: the first rows come before the rest is read", async () => {
  // Before, it read the whole input first: 3 GB of capture took 6.3 GB on Deno and was refused on
  // Node (a file over 2 GiB). The file here gives its second chunk only once the first chunk's rows
  // are out (a bound of 5 s for the old way, which never printed them).
  const first = new Uint8Array(4 * 20_000); // 20,000 empty frames: more than a buffer of rows
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield first;
    await io.waitForOut(/\n {5}1 {6}0 {6}4 /, 5_000);
    yield capture("u32be", [te.encode("last")]);
  }
  const io = captureIo({ files: { "cap.bin": { size: first.length + 8, chunks: chunks() } } });
  assert.equal(await run(["inspect", "cap.bin"], io), 0, io.stderr);
  assert.match(io.stdout, /^cap\.bin: 80008 bytes, format u32be/);
  assert.match(io.stdout, /\n 20001 {2}80000 {2}80008 {8}4 {8}4 {2}6c 61 73 74 .*\|last\|\n/);
  assert.match(io.stdout, /ok: 20001 frames, all 80008 bytes decoded\n$/);
});

test("inspect of a file that shrinks as it is read, or grows, reads the size it had", async () => {
  const data = capture("u32be", [te.encode("abc"), te.encode("def")]);
  const once = async function* (): AsyncGenerator<Uint8Array> {
    yield data.slice();
  };
  let io = captureIo({ files: { "cap.bin": { size: 20, chunks: once() } } });
  assert.equal(await run(["inspect", "cap.bin"], io), 1);
  assert.match(io.stderr, /cannot read cap\.bin: it ended after 14 bytes of 20 \(it shrank\)\n$/);
  io = captureIo({ files: { "cap.bin": { size: 7, chunks: once() } } });
  assert.equal(await run(["inspect", "cap.bin"], io), 0, io.stderr);
  assert.match(
    io.stdout,
    /^cap\.bin: 7 bytes.*\n.*\n.*\|abc\|\nok: 1 frame, all 7 bytes decoded\n$/,
  );
});

test(
  "inspect of an endless standard input ends with an error at the limit, or with --json prints as it reads",
  {
    // 256 MiB held, and decoded as it is held (67 million empty frames): seconds on a loaded
    // machine, over Bun's default 5 s.
    timeout: 60_000,
  },
  async () => {
    // Before, `cat /dev/zero | framewire inspect` grew until the system killed it. The input here
    // gives the same 1 MiB chunk again and again, and fails past twice the limit (the old way).
    const MiB = new Uint8Array(1024 * 1024);
    const endless = (bound: number) => ({
      *[Symbol.iterator](): Generator<Uint8Array> {
        for (let i = 0; i < bound; i++) yield MiB;
        throw new Error("read past the bound of the test");
      },
    });
    const io = captureIo({ stdin: endless(2 * HELD_INPUT_LIMIT / MiB.length) });
    assert.equal(await run(["inspect"], io), 1);
    assert.equal(io.stdout, "");
    assert.equal(
      io.stderr,
      "framewire inspect: standard input goes on past 268435456 bytes, the most inspect holds to " +
        "count an input of unknown size before printing: save it to a file and inspect that, or " +
        "use --json (which prints as it reads)\n",
    );
    // --json holds nothing: rows come as the input does (here one MiB of u16be empty frames).
    const json = captureIo({ stdin: endless(1) });
    assert.equal(await run(["inspect", "--json", "--format", "u16be", "--limit", "2"], json), 1);
    assert.equal(
      json.stdout.split("\n").slice(0, 2).join("\n"),
      '{"frame":1,"start":0,"end":2,"header":2,"trailer":0,"length":0,"text":""}\n' +
        '{"frame":2,"start":2,"end":4,"header":2,"trailer":0,"length":0,"text":""}',
    );
    assert.match(json.stderr, /cannot read standard input: read past the bound of the test\n$/);
  },
);

test("inspect of an endless standard input stops reading at a framing error, 128 bytes past it, with --json too", async () => {
  // An HTTP request sent to a u32be port: an oversized frame at offset 0.
  const request = te.encode(
    "GET / HTTP/1.1\r\nHost: example.com\r\n" + "X-Pad: 0123456789\r\n".repeat(8),
  );
  assert.ok(request.length > 128);
  for (const json of [false, true]) {
    const args = ["inspect", ...(json ? ["--json"] : [])];
    // One read holds the error and the 128 bytes the explanation shows; a read after it fails the
    // test (a pipe that went quiet would leave it waiting). Before: --json read on to count the
    // bytes; without it, inspect read on to the end (or 256 MiB) before decoding.
    let asked = 0;
    let released = false;
    const quiet = captureIo();
    quiet.readInput = () =>
      Promise.resolve({
        size: undefined,
        chunks: {
          [Symbol.asyncIterator]: () => {
            let reads = 0;
            return {
              next: () => {
                if (reads++ === 0) return Promise.resolve({ value: request.slice(), done: false });
                asked++;
                return Promise.reject(new Error("read past the bound of the test"));
              },
              return: () => {
                released = true;
                return Promise.resolve({ value: undefined, done: true as const });
              },
            };
          },
        },
      });
    assert.equal(await run(args, quiet), 1, `json ${json}`);
    assert.equal(asked, 0, `json ${json}: read on after the error`);
    assert.ok(released, `json ${json}: the input was let go`);
    assert.match(
      quiet.stderr,
      /^framewire inspect: .* exceeds maxFrameLength .* \(at offset 0\)\n$/,
    );
    if (json) {
      const summary = JSON.parse(quiet.stdout.trim().split("\n").at(-1)!);
      assert.equal(summary.bytes, null); // where the input ends is not known
      assert.equal(summary.error.code, "FRAME_TOO_LARGE");
      assert.match(summary.error.explanation.join("\n"), /HTTP/);
    } else {
      assert.match(
        quiet.stdout,
        /^standard input: 128 bytes read \(reading stopped at the error\), format u32be /,
      );
      assert.match(quiet.stdout, /HTTP/);
      assert.match(quiet.stdout, /none of the 128 bytes read could be decoded\n$/);
    }
    // A pipe that goes on in 32-byte reads: read up to 128 bytes past the error, and no further.
    let reads = 0;
    const endless = {
      *[Symbol.iterator](): Generator<Uint8Array> {
        for (; reads < 1000; reads++) yield request.slice(0, 32);
        throw new Error("read past the bound of the test");
      },
    };
    const flowing = captureIo({ stdin: endless });
    assert.equal(await run(args, flowing), 1, `json ${json}, flowing: ${flowing.stderr}`);
    assert.equal(reads, 3, `json ${json}: reads after the first`);
    assert.match(flowing.stderr, / exceeds maxFrameLength .* \(at offset 0\)\n$/);
    // A line over the limit is found only 301 bytes on (here in 8-byte reads): read that far, so
    // that it is reported as such (a first version of this stopped 128 bytes past the line's
    // start, and reported a truncated line).
    let lineReads = 0;
    const line = {
      *[Symbol.iterator](): Generator<Uint8Array> {
        for (; lineReads < 1000; lineReads++) yield te.encode("a".repeat(8));
        throw new Error("read past the bound of the test");
      },
    };
    const long = captureIo({ stdin: line });
    const lineArgs = [...args, "--format", "line", "--max-frame-length", "300"];
    assert.equal(await run(lineArgs, long), 1, `json ${json}, line: ${long.stderr}`);
    assert.equal(lineReads, 37, `json ${json}: reads of the line`); // 38 reads: 304 bytes
    assert.match(
      long.stderr,
      /no delimiter came within maxFrameLength 300 bytes .*\(at offset 0\)\n$/,
    );
  }
});

/** The process's file descriptors open on `path` (Linux: /proc/self/fd). */
function openOn(path: string): string[] {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile (the listing's own descriptor)
    }
  });
}

test(
  "inspect closes the file it opened however it ends (this runtime's own readInput)",
  { skip: !existsSync("/proc/self/fd") && "Linux only" },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "framewire-inspect-"));
    const path = join(dir, "capture.bin");
    const io = await runtimeIo();
    let out = "";
    let err = "";
    io.out = (text) => out += text;
    io.err = (text) => err += text;
    try {
      await writeFile(path, capture("u32be"));
      // Read to its end; stopped early by an error (the rest is not read); refused before any
      // read, as --skip goes past its end.
      assert.equal(await run(["inspect", path], io), 0);
      assert.match(out, /\nok: 4 frames/);
      assert.deepEqual(openOn(path), []);
      assert.equal(
        await run(["inspect", "--format", "u8", "--max-frame-length", "1", path], io),
        1,
      );
      assert.deepEqual(openOn(path), []);
      assert.equal(await run(["inspect", "--skip", "1000", path], io), 1);
      assert.match(err, /cannot skip 1000 bytes: .* has 67 bytes\n$/);
      assert.deepEqual(openOn(path), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test("inspect of standard input in 20,000 chunks hands them on in linear time (no shift() of a long array)", async () => {
  // Plain mode holds standard input to count it first, then hands the chunks on. Taken with
  // shift(), each chunk moved every one behind it: quadratic on V8 past about 16,000 chunks.
  const n = 20_000;
  const data = capture("u8", Array.from({ length: n }, () => te.encode("x")));
  const chunks = Array.from({ length: n }, (_, i) => data.subarray(2 * i, 2 * i + 2));
  const io = captureIo({ stdin: chunks });
  let code = -1;
  const moved = await shiftMoves(async () => {
    code = await run(["inspect", "--format", "u8", "--limit", "1", "-"], io);
  }, 2048);
  assert.equal(code, 0);
  assert.match(io.stdout, /19999 more frames not shown \(--limit 1\)/);
  assert.ok(moved <= n, `shift() moved ${moved} elements for ${n} chunks`);
});
