// Copyright 2026 the framewire authors. MIT license.
// Private: the first-in first-out queue of waiting calls, queued connections, sessions and write
// lengths. Array.prototype.shift() moves every element once an array holds more than about 16,000
// on V8, so a queue taken from with it is quadratic; this one takes from an index.

/**
 * Whether an array-backed queue should drop the `taken` slots at its front now: over 1,024 of
 * them and over half of its `length` (its slots, taken ones included). Dropping them costs the
 * slots kept, fewer than those taken since the last drop, so a queue that is never empty for
 * long stays amortised linear, and holds at most twice what it queues (plus 1,024).
 */
export function compactable(taken: number, length: number): boolean {
  return taken > 1024 && taken * 2 > length;
}

/** A queue whose `shift()` takes amortised constant time, however long it gets. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  /** The index of the first item not taken yet. */
  #head = 0;

  /** The number of items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queues `item` last; returns the new length. */
  push(item: T): number {
    this.#items.push(item);
    return this.#items.length - this.#head;
  }

  /** The first item, without taking it (`undefined` if none). */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Takes the first item (`undefined` if none). */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined; // let it go now, not at the next compaction
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (compactable(this.#head, items.length)) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Takes every item, first first, leaving the queue empty. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}
