// Copyright 2026 the framewire authors. MIT license.
// A Uint8Array subclass of one's own, for tests of what framewire does with such byte arrays.

/**
 * A `Uint8Array` subclass made from other arguments than `Uint8Array`'s (a
 * copy of `bytes`), as some libraries' byte classes are. Its species is
 * itself, so `subarray()` and `slice()` of one call this constructor with
 * `(buffer, byteOffset, length)`, which makes an empty `Packet`: code that
 * slices what it is given loses the bytes without a word.
 */
export class Packet extends Uint8Array {
  constructor(bytes: ArrayLike<number>) {
    super(bytes.length); // an ArrayBuffer has no length: an empty Packet
    this.set(bytes);
  }
}
