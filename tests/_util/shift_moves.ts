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

/**
 * Runs `body` with `Array.prototype.splice` counting the elements each call
 * moves to close or open its gap (those after the deleted ones, when the
 * array holds more than `above`), and returns that count. `splice(0, k)` of
 * a queue's first `k` entries, once per few entries taken, is quadratic as
 * `shift()` is; once per many (more than half the array) it is not.
 */
export async function spliceMoves(body: () => unknown, above = 0): Promise<number> {
  const splice = Array.prototype.splice;
  let moved = 0;
  Array.prototype.splice = function <T>(this: T[], ...args: [number, number, ...T[]]): T[] {
    const length = this.length;
    if (length > above) {
      const start = args[0] < 0 ? Math.max(0, length + args[0]) : Math.min(args[0], length);
      const deleted = args.length < 2
        ? length - start
        : Math.min(Math.max(0, args[1]), length - start);
      if (deleted !== args.length - 2) moved += length - start - deleted;
    }
    return splice.apply(this, args) as T[];
  } as typeof splice;
  try {
    await body();
  } finally {
    Array.prototype.splice = splice;
  }
  return moved;
}
