// Copyright 2026 the framewire authors. MIT license.
// Linear-time search for a byte sequence (Knuth–Morris–Pratt), resumable across chunks. Private.

/**
 * The failure table of `needle`: entry `i` is the length of the longest
 * proper prefix of `needle[0..i]` that is also a suffix of it.
 */
export function prefixTable(needle: Uint8Array): Int32Array {
  const table = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = table[k - 1]!;
    if (needle[i] === needle[k]) k++;
    table[i] = k;
  }
  return table;
}

/**
 * Searches `bytes[from, to)` for `needle`, given that the `matched` bytes
 * right before `from` are its first bytes. Returns the index just past the
 * first complete match, or, with none, `-1 - m` where `m` is how many bytes
 * at `to` are the needle's first bytes (pass it on with the next bytes).
 * Linear time whatever the needle: no byte is compared again from scratch.
 */
export function scan(
  bytes: Uint8Array,
  from: number,
  to: number,
  needle: Uint8Array,
  table: Int32Array,
  matched: number,
): number {
  const first = needle[0]!;
  const n = needle.length;
  let m = matched;
  let i = from;
  while (i < to) {
    if (m === 0) {
      // Nothing matched: jump to the next byte that can begin the needle.
      const hit = bytes.indexOf(first, i);
      if (hit === -1 || hit >= to) return -1;
      i = hit + 1;
      m = 1;
    }
    while (m < n && i < to && bytes[i] === needle[m]) {
      i++;
      m++;
    }
    if (m === n) return i;
    if (i === to) break;
    // bytes[i] does not continue the match: fall back to the longest match it may continue.
    // Each step either moves i on or shortens the match, so the work stays linear.
    m = table[m - 1]!;
  }
  return -1 - m;
}
