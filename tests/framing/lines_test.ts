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
