// Copyright 2026 the framewire authors. MIT license.
// Test helper: counts the deleted entries that iterating a Map passes over. Engines keep a Map's
// entries in insertion order and leave a deleted one as a hole until the table is rebuilt (when
// it fills up, or shrinks below a quarter): every iteration from the start walks the holes at the
// front. A Map used as a queue (delete the oldest, found with keys().next(), add at the end) is
// quadratic so, on V8 and JavaScriptCore alike. This model never rebuilds, so it counts more
// holes than an engine walks, but only where the engine walks some: a Map never iterated from
// the start after deletions counts none.

/** A Map that counts, in `walked.holes`, the deleted entries its iterators pass over. */
function holeCountingMap(walked: { holes: number }, Plain: MapConstructor): MapConstructor {
  return class HoleCountingMap<K, V> extends Map<K, V> {
    // Keys in insertion order (a key deleted and set again is a new entry), each live or a hole.
    #log: { key: K; live: boolean }[] = [];
    #at = new Plain<K, { key: K; live: boolean }>(); // (globalThis.Map is this class now)

    override set(key: K, value: V): this {
      // (Map's constructor calls set() before the fields exist: those entries are not logged.)
      if (this.#at !== undefined && !this.#at.has(key)) {
        const entry = { key, live: true };
        this.#log.push(entry);
        this.#at.set(key, entry);
      }
      return super.set(key, value);
    }

    override delete(key: K): boolean {
      const entry = this.#at.get(key);
      if (entry !== undefined) {
        entry.live = false;
        this.#at.delete(key);
      }
      return super.delete(key);
    }

    override clear(): void {
      this.#log = [];
      this.#at.clear();
      super.clear();
    }

    override entries(): MapIterator<[K, V]> {
      return this.#counted(super.entries());
    }

    override keys(): MapIterator<K> {
      return this.#counted(super.keys());
    }

    override values(): MapIterator<V> {
      return this.#counted(super.values());
    }

    override [Symbol.iterator](): MapIterator<[K, V]> {
      return this.entries();
    }

    override forEach(fn: (value: V, key: K, map: Map<K, V>) => void, self?: unknown): void {
      for (const [key, value] of this.entries()) fn.call(self, value, key, this);
    }

    /** `inner`, counting the holes of #log before each entry it yields. */
    #counted<T>(inner: MapIterator<T>): MapIterator<T> {
      const log = this.#log;
      let i = 0;
      const next = (): IteratorResult<T, undefined> => {
        const result = inner.next();
        while (i < log.length && !log[i]!.live) {
          walked.holes++;
          i++;
        }
        if (!result.done) i++;
        return result;
      };
      const iterator = { next, [Symbol.iterator]: () => iterator };
      return iterator as unknown as MapIterator<T>;
    }
  } as MapConstructor;
}

/**
 * Runs `body` with `globalThis.Map` replaced by one that counts the deleted
 * entries its iterators pass over (Maps made meanwhile, by `body` or by
 * objects it constructs); returns that count.
 */
export async function mapHolesWalked(body: () => unknown): Promise<number> {
  const original = globalThis.Map;
  const walked = { holes: 0 };
  globalThis.Map = holeCountingMap(walked, original);
  try {
    await body();
  } finally {
    globalThis.Map = original;
  }
  return walked.holes;
}
