// Copyright 2026 the framewire authors. MIT license.
// Test helper: counts the work Array.prototype.shift() does while a test runs. On V8, once an
// array holds more than about 16,000 elements, shift() moves every one of them: a queue taken
// from with it is quadratic. Counting the elements instead of timing anything makes such a queue
// fail a test on every runtime, however fast the machine.

/**
 * Runs `body` with `Array.prototype.shift` counting the elements each call
 * would move (the length of the array it takes from, when that is above
 * `above`), and returns that count. Runtimes' own streams use their own copy
 * of `shift` (primordials) and are not counted.
 */
export async function shiftMoves(body: () => unknown, above = 0): Promise<number> {
  const shift = Array.prototype.shift;
  let moved = 0;
  Array.prototype.shift = function <T>(this: T[]): T | undefined {
    if (this.length > above) moved += this.length;
    return shift.call(this) as T | undefined;
  };
  try {
    await body();
  } finally {
    Array.prototype.shift = shift;
  }
  return moved;
}
