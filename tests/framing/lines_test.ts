import { test } from "node:test";
import assert from "node:assert/strict";
import { lines } from "../../mod.ts";

test("lines() strips \\r\\n and \\n, keeps empty lines, and encodes with \\n", () => {
  const decoder = lines().decoder();
  decoder.push(new TextEncoder().encode("a\r\n\nb\r\r\n"));
  const out = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
    out.push(new TextDecoder().decode(f));
  }
  assert.deepEqual(out, ["a", "", "b\r"]);
  assert.deepEqual(
    lines().encode(new TextEncoder().encode("hi")),
    new TextEncoder().encode("hi\n"),
  );
  assert.equal(lines().name, "line");
  assert.equal(lines().maxFrameLength, 65536);
});

test("lines() returns an empty line that is all the decoder holds: \\n or \\r\\n alone, as a chunk or after the line before", () => {
  // The mutation review: an empty CRLF line at the head of the queue (the blank line that ends
  // HTTP headers) came out as "\r" with the \r check one byte off, and a lone "\n" was not looked
  // at with the empty check one byte off; no test saw either.
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const read = (chunks: string[]) => {
    const decoder = lines().decoder();
    const out: string[] = [];
    for (const chunk of chunks) {
      decoder.push(utf8(chunk));
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
        out.push(new TextDecoder().decode(f));
      }
    }
    decoder.end();
    return out;
  };
  assert.deepEqual(read(["\n"]), [""]);
  assert.deepEqual(read(["\r\n"]), [""]);
  assert.deepEqual(read(["\r", "\n"]), [""]);
  assert.deepEqual(read(["Host: x\r\n\r\n"]), ["Host: x", ""]);
  assert.deepEqual(read(["Host: x\r\n", "\r\n", "\n"]), ["Host: x", "", ""]);
});
