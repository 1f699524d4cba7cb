// Copyright 2026 the framewire authors. MIT license.
// Test helper: counts the work Array.prototype.shift() (splice(), slice()) does while a test
// runs. On V8, once an array holds more than about 16,000 elements, shift() moves every one of
// them: a queue taken from with it is quadratic, as is one whose front is spliced off, or whose
// rest is sliced off, a few entries at a time. Counting the elements instead of timing anything
// makes such a queue fail a test on every runtime, however fast the machine.

type ArrayMethod = "shift" | "splice" | "slice";

/**
 * Runs `body` with `Array.prototype[name]` replaced by one that adds
 * `count(array, args)` to a total before doing its work; returns the total.
 */
async function counting(
  name: ArrayMethod,
  count: (array: unknown[], args: unknown[]) => number,
  body: () => unknown,
): Promise<number> {
  const proto = Array.prototype as unknown as Record<ArrayMethod, (...args: unknown[]) => unknown>;
  const original = proto[name];
  let total = 0;
  proto[name] = function (this: unknown[], ...args: unknown[]): unknown {
    total += count(this, args);
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    proto[name] = original;
  }
  return total;
}

/** The start of a `splice()` or `slice()` range, as the method reads it. */
function startOf(value: unknown, length: number): number {
  const n = Math.trunc(Number(value ?? 0)) || 0;
  return n < 0 ? Math.max(0, length + n) : Math.min(n, length);
}

/**
 * Runs `body` with `Array.prototype.shift` counting the elements each call
 * would move (the length of the array it takes from, when that is above
 * `above`), and returns that count. Runtimes' own streams use their own copy
 * of `shift` (primordials) and are not counted.
 */
export function shiftMoves(body: () => unknown, above = 0): Promise<number> {
  return counting("shift", (array) => array.length > above ? array.length : 0, body);
}

/**
 * Runs `body` with `Array.prototype.splice` counting the elements each call
 * moves to close or open its gap (those after the deleted ones, when the
 * array holds more than `above`), and returns that count. `splice(0, k)` of
 * a queue's first `k` entries, once per few entries taken, is quadratic as
 * `shift()` is; once per many (more than half the array) it is not.
 */
export function spliceMoves(body: () => unknown, above = 0): Promise<number> {
  return counting("splice", (array, args) => {
    const length = array.length;
    if (length <= above) return 0;
    const start = startOf(args[0], length);
    const deleted = args.length < 2
      ? length - start
      : Math.min(Math.max(0, Math.trunc(Number(args[1])) || 0), length - start);
    return deleted === args.length - 2 ? 0 : length - start - deleted;
  }, body);
}

/**
 * Runs `body` with `Array.prototype.slice` counting the elements each call
 * copies, and returns that count: slicing off the rest of a queue each time
 * a few entries are taken is quadratic too.
 */
export function sliceCopies(body: () => unknown): Promise<number> {
  return counting("slice", (array, args) => {
    const start = startOf(args[0], array.length);
    const end = args[1] === undefined ? array.length : startOf(args[1], array.length);
    return Math.max(0, end - start);
  }, body);
}
