// The resumable KMP search under delimited() and ByteQueue.find(), against a naive search.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { prefixTable, scan } from "../../src/framing/_search.ts";

/** The index past the first match of `needle` in `bytes`, or -1. */
function naive(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let k = 0; k < needle.length; k++) if (bytes[i + k] !== needle[k]) continue outer;
    return i + needle.length;
  }
  return -1;
}

/** The longest prefix of `needle` (shorter than it) that ends `bytes`. */
function naiveTail(bytes: Uint8Array, needle: Uint8Array): number {
  for (let k = Math.min(needle.length - 1, bytes.length); k > 0; k--) {
    let i = 0;
    while (i < k && bytes[bytes.length - k + i] === needle[i]) i++;
    if (i === k) return k;
  }
  return 0;
}

test("prefixTable() of repetitive needles", () => {
  const table = (s: string): number[] => [...prefixTable(new TextEncoder().encode(s))];
  assert.deepEqual(table("a"), [0]);
  assert.deepEqual(table("aab"), [0, 1, 0]);
  assert.deepEqual(table("abab"), [0, 0, 1, 2]);
  assert.deepEqual(table("aaaa"), [0, 1, 2, 3]);
  assert.deepEqual(table("\r\n\r\n"), [0, 0, 1, 2]);
  assert.deepEqual(table("abacabab"), [0, 0, 1, 0, 1, 2, 3, 2]);
});

test("scan() finds what a naive search finds, fed in any pieces, on a two-letter alphabet", () => {
  const bytes = (max: number) =>
    fc.uint8Array({ min: 0, max: 1, minLength: 0, maxLength: max, size: "max" });
  fc.assert(
    fc.property(
      bytes(60),
      fc.uint8Array({ min: 0, max: 1, minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(60), { maxLength: 6 }),
      (text, needle, cuts) => {
        const table = prefixTable(needle);
        const bounds = [...new Set([0, ...cuts.filter((c) => c < text.length), text.length])]
          .sort((a, b) => a - b);
        let matched = 0;
        let found = -1;
        for (let i = 0; i + 1 < bounds.length && found === -1; i++) {
          const r = scan(text, bounds[i]!, bounds[i + 1]!, needle, table, matched);
          if (r >= 0) found = r;
          else matched = -1 - r;
        }
        assert.equal(found, naive(text, needle));
        if (found === -1) assert.equal(matched, naiveTail(text, needle));
      },
    ),
    { numRuns: 3000 },
  );
});
