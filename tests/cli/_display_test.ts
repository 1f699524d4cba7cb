// Copyright 2026 the framewire authors. MIT license.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hex,
  hexAscii,
  jsonLine,
  payloadJson,
  printableText,
  showPayload,
} from "../../src/cli/_display.ts";
import { sniff } from "../../src/cli/_sniff.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const te = new TextEncoder();

test("printableText() accepts UTF-8 text with tabs and line breaks, nothing with control bytes", () => {
  assert.equal(printableText(te.encode("héllo\tworld\r\n")), "héllo\tworld\r\n");
  assert.equal(printableText(new Uint8Array()), "");
  assert.equal(printableText(new Uint8Array([104, 0, 105])), undefined);
  assert.equal(printableText(new Uint8Array([0x7f])), undefined);
  assert.equal(printableText(new Uint8Array([0xc3])), undefined); // cut UTF-8 sequence
  assert.equal(printableText(te.encode("\u0085")), undefined); // C1 control
  assert.equal(printableText(te.encode("naïve café ✓")), "naïve café ✓");
  // A leading BOM is part of the payload (TextDecoder drops it unless told not to).
  assert.equal(printableText(new Uint8Array([0xef, 0xbb, 0xbf, 0x42])), "\ufeffB");
});

test("showPayload() quotes text, shows binary as hex, and cuts long payloads", () => {
  assert.equal(showPayload(te.encode('say "hi"'), 100), '"say \\"hi\\""');
  assert.equal(showPayload(new Uint8Array([0, 1, 255]), 100), "hex 00 01 ff");
  assert.equal(showPayload(te.encode("abcdef"), 3), '"abc"…');
  assert.equal(showPayload(new Uint8Array([0, 1, 2, 3]), 2), "hex 00 01 …");
});

test("hex() and hexAscii() show bytes like hexdump -C", () => {
  assert.equal(hex(new Uint8Array([0, 15, 16, 255])), "00 0f 10 ff");
  assert.equal(hexAscii(te.encode("hi\n"), 16), "68 69 0a  |hi.|");
  assert.equal(hexAscii(te.encode("abcd"), 2), "61 62 …  |ab…|");
});

test("showPayload() and jsonLine() escape characters that change how a line looks", () => {
  // Bidi overrides, zero-width characters, the BOM, tag characters, line and paragraph
  // separators: before, they went to the terminal as they were. Escaped, the text is the same
  // once parsed, and the rest (emoji, marks) is shown as it is.
  const tricky = "ok\u202eko \u200b\u200d\ufeff\u{e0041}\u2028\u2029 👨\u200d👩 שָׁלוֹם";
  const shown = showPayload(te.encode(tricky), 100);
  assert.doesNotMatch(shown, /[\u202e\u200b\u200d\ufeff\u2028\u2029]|\u{e0041}/u);
  assert.equal(JSON.parse(shown), tricky);
  assert.match(shown, /👨\\u200d👩 שָׁלוֹם/);
  const line = jsonLine({ frame: 1, ...payloadJson(te.encode(tricky)) });
  assert.doesNotMatch(line, /[\u202e\u200b\u200d\ufeff\u2028\u2029]|\u{e0041}/u);
  assert.deepEqual(JSON.parse(line), { frame: 1, length: te.encode(tricky).length, text: tricky });
});

test("jsonLine() writes an invisible character as a \\u escape of four hex digits", () => {
  // U+00AD (soft hyphen) is a format character with a code under 0x1000.
  assert.equal(jsonLine("a\u00adb\u202e"), '"a\\u00adb\\u202e"');
  assert.equal(jsonLine({ t: "\u{e0041}" }), '{"t":"\\udb40\\udc41"}');
});

test("printableText() and hexAscii() draw the line between 1f and 20", () => {
  assert.equal(printableText(new Uint8Array([0x41, 0x1f])), undefined);
  assert.equal(printableText(new Uint8Array([0x41, 0x20])), "A ");
  assert.equal(hexAscii(new Uint8Array([0x1f, 0x20]), 16), "1f 20  |. |");
});

test("showPayload() counts U+10000, the first character past U+FFFF, as one", () => {
  assert.equal(showPayload(te.encode("\u{10000}ab"), 1), '"\u{10000}"…');
});

test("payloadJson() gives text for printable payloads and compact hex otherwise", () => {
  assert.deepEqual(payloadJson(te.encode("ok")), { length: 2, text: "ok" });
  assert.deepEqual(payloadJson(new Uint8Array([0, 171])), { length: 2, hex: "00ab" });
});

test("sniff() recognises TLS, HTTP, HTTP/2, SSH and gzip, and nothing else", () => {
  const cases: Array<[Uint8Array, RegExp | undefined]> = [
    [
      new Uint8Array([0x16, 3, 1, 0, 0xa5, 1, 0, 0]),
      /^a TLS ClientHello \(TLS handshake record, 16 03 01\)$/,
    ],
    [new Uint8Array([0x16, 3, 3, 0, 0x40, 2]), /^a TLS ServerHello/],
    [new Uint8Array([0x15, 3, 3, 0, 2]), /^a TLS alert record/],
    [
      te.encode("GET /health HTTP/1.1\r\nHost: x\r\n"),
      /^an HTTP request \("GET \/health HTTP\/1\.1"\)$/,
    ],
    [te.encode("HTTP/1.1 400 Bad Request\r\n"), /^an HTTP response/],
    [te.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), /HTTP\/2 connection preface/],
    [te.encode("SSH-2.0-OpenSSH_9.6\r\n"), /SSH banner/],
    [new Uint8Array([0x1f, 0x8b, 8, 0]), /gzip/],
    [new Uint8Array([0, 0, 0, 5, 104, 101, 108, 108, 111]), undefined],
    [te.encode("GETTING"), undefined],
    [new Uint8Array([0x16, 3]), undefined],
    [new Uint8Array(), undefined],
  ];
  for (const [bytes, expected] of cases) {
    const found = sniff(bytes);
    if (expected === undefined) assert.equal(found, undefined, hex(bytes));
    else assert.match(found?.what ?? "(nothing)", expected);
  }
});

test("showPayload() cuts after whole characters, never inside a surrogate pair", () => {
  assert.equal(showPayload(te.encode("a😀bcd"), 2), '"a😀"…');
  assert.equal(showPayload(te.encode("a😀"), 2), '"a😀"');
  assert.equal(showPayload(te.encode("😀😀😀"), 1), '"😀"…');
});

test("hexAscii() shows DEL as a dot, and marks a cut only when bytes were left out", () => {
  assert.equal(hexAscii(new Uint8Array([0x41, 0x7f, 0x20, 0x7e]), 16), "41 7f 20 7e  |A. ~|");
  assert.equal(hexAscii(te.encode("abcd"), 4), "61 62 63 64  |abcd|");
  assert.equal(hexAscii(te.encode("abcde"), 4), "61 62 63 64 …  |abcd…|");
});

test("sniff() takes every TLS version up to 03 04, from a 3-byte record header on", () => {
  assert.equal(
    sniff(new Uint8Array([0x17, 3, 4]))?.what,
    "a TLS application data record, 17 03 04",
  );
  assert.equal(sniff(new Uint8Array([0x16, 3, 1]))?.what, "a TLS handshake record, 16 03 01");
  assert.equal(sniff(new Uint8Array([0x17, 3, 5])), undefined);
  assert.equal(sniff(new Uint8Array([0x17, 2, 0])), undefined);
});

test("sniff() gives the ServerHello advice only to a ServerHello", () => {
  const server = sniff(new Uint8Array([0x16, 3, 3, 0, 0x40, 2]))!;
  assert.match(server.advice, /^the server answered with TLS/);
  for (const bytes of [[0x16, 3, 1, 0, 0xa5, 1], [0x15, 3, 3, 0, 2], [0x17, 3, 3, 0, 9]]) {
    assert.match(sniff(new Uint8Array(bytes))!.advice, /speaking TLS to a plain-TCP port/);
  }
});

test("sniff() needs both gzip magic bytes, and quotes at most 80 characters of an HTTP line", () => {
  assert.equal(sniff(new Uint8Array([0x1f, 0x00, 0x00, 0x05])), undefined);
  assert.equal(sniff(new Uint8Array([0x1f])), undefined);
  const path = "/" + "a".repeat(200);
  const found = sniff(te.encode(`GET ${path} HTTP/1.1\r\n`));
  assert.equal(found?.what, `an HTTP request (${JSON.stringify(`GET ${path}`.slice(0, 80))})`);
});

test("sniff() compares the first byte of a signature too: a Redis SET is no HTTP request", () => {
  // "SET " differs from "GET " in its first byte only, as "XSH-" from "SSH-".
  assert.equal(sniff(te.encode("SET key value\r\n")), undefined);
  assert.equal(sniff(te.encode("XSH-2.0-OpenSSH_9.6\r\n")), undefined);
  assert.equal(sniff(te.encode("xTTP/1.1 200 OK\r\n")), undefined);
  assert.equal(sniff(te.encode("XRI * HTTP/2.0\r\n")), undefined);
});

test("sniff() recognises a stream that holds just the signature", () => {
  assert.match(sniff(te.encode("SSH-"))?.what ?? "(nothing)", /^an SSH banner$/);
  assert.match(sniff(te.encode("GET "))?.what ?? "(nothing)", /^an HTTP request \("GET "\)$/);
  assert.match(sniff(te.encode("HTTP/1."))?.what ?? "(nothing)", /^an HTTP response/);
  assert.equal(sniff(new Uint8Array([0x1f, 0x8b]))?.what, "gzip data (1f 8b)");
});

test("sniff() reads a hello type only in a handshake record: a whole alert is no ServerHello", () => {
  // An alert record with its body: level 2 (fatal) in byte 5, where a handshake has its type.
  const alert = sniff(new Uint8Array([0x15, 3, 3, 0, 2, 2, 0x28]))!;
  assert.equal(alert.what, "a TLS alert record, 15 03 03");
  assert.match(alert.advice, /speaking TLS to a plain-TCP port/);
  assert.equal(
    sniff(new Uint8Array([0x17, 3, 3, 0, 9, 1, 0]))?.what,
    "a TLS application data record, 17 03 03",
  );
});

test("hexAscii() shows every byte from 80 to ff as a dot, and hex() of no bytes is empty", () => {
  assert.equal(hexAscii(new Uint8Array([0x80, 0xa0, 0xfe, 0xff]), 16), "80 a0 fe ff  |....|");
  assert.equal(hex(new Uint8Array()), "");
});

test("hex() and showPayload() show a payload of one byte", () => {
  assert.equal(hex(new Uint8Array([0xab])), "ab");
  assert.equal(showPayload(new Uint8Array([0]), 100), "hex 00");
});

test("showPayload() counts U+FFFF as one character, like any other below U+10000", () => {
  assert.equal(showPayload(te.encode("\uffffab"), 1), '"\uffff"…');
});

test("sniff() quotes an HTTP request line with a dot for each byte that is not printable ASCII", () => {
  const bytes = new Uint8Array([...te.encode("GET /a"), 0x7f, 0xff, 0x01, ...te.encode("b\r\n")]);
  assert.equal(sniff(bytes)?.what, 'an HTTP request ("GET /a...b")');
});

test("sniff() ends a quoted HTTP line at a bare LF, and keeps ~ but not 1f as a character", () => {
  const bytes = new Uint8Array([
    ...te.encode("GET /~a"),
    0x1f,
    ...te.encode("b HTTP/1.0\nHost: x\n"),
  ]);
  assert.equal(sniff(bytes)?.what, 'an HTTP request ("GET /~a.b HTTP/1.0")');
  assert.equal(
    sniff(te.encode("HTTP/1.0 200 OK\n\n"))?.what,
    'an HTTP response ("HTTP/1.0 200 OK")',
  );
});

test("sniff() names a TLS ChangeCipherSpec record", () => {
  assert.equal(
    sniff(new Uint8Array([0x14, 3, 3, 0, 1, 1]))?.what,
    "a TLS ChangeCipherSpec record, 14 03 03",
  );
  assert.equal(sniff(new Uint8Array([0x13, 3, 3, 0, 1, 1])), undefined);
  assert.equal(sniff(new Uint8Array([0x18, 3, 3, 0, 1, 1])), undefined);
});

sockets.check();
