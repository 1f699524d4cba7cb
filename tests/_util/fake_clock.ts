// Copyright 2026 the framewire authors. MIT license.
// A virtual clock for tests: timers fire only when the test advances time.

import type { Clock } from "../../src/reliable/types.ts";

/** Timers one {@linkcode FakeClock.advance} call fires at most. */
export const MAX_FIRES = 100_000;

interface Timer {
  at: number;
  order: number;
  callback: () => void;
}

/**
 * A {@linkcode Clock} whose time moves only when told to. Timers fire in
 * deadline order (then in the order they were set), synchronously, inside
 * {@linkcode FakeClock.advance} / {@linkcode FakeClock.runNext}.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Map<number, Timer>();
  #nextHandle = 1;
  #order = 0;
  #waiters: (() => void)[] = [];

  /** Starts at `start` ms. */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** The virtual time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at now + `ms` (negative counts as 0). */
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, {
      at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0),
      order: this.#order++,
      callback,
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    return handle;
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.#timers.size;
  }

  /** The time of the earliest pending timer, or `undefined`. */
  nextAt(): number | undefined {
    const next = this.#next();
    return next?.[1].at;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way, in order.
   * Throws after {@linkcode MAX_FIRES} timers in one call: code that keeps
   * setting a timer already due would otherwise spin here for ever, where no
   * test timeout can end it.
   */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let fired = 0;; fired++) {
      const next = this.#next();
      if (next === undefined || next[1].at > target) break;
      if (fired === MAX_FIRES) {
        throw new Error(`FakeClock.advance(${ms}) fired ${MAX_FIRES} timers: a timer loop?`);
      }
      this.#fire(next);
    }
    this.#now = target;
  }

  /** Jumps to the earliest timer and fires it; false when none is pending. */
  runNext(): boolean {
    const next = this.#next();
    if (next === undefined) return false;
    this.#fire(next);
    return true;
  }

  /** Resolves once at least one timer is pending. */
  whenScheduled(): Promise<void> {
    if (this.#timers.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #next(): [number, Timer] | undefined {
    let best: [number, Timer] | undefined;
    for (const entry of this.#timers) {
      if (
        best === undefined || entry[1].at < best[1].at ||
        (entry[1].at === best[1].at && entry[1].order < best[1].order)
      ) {
        best = entry;
      }
    }
    return best;
  }

  #fire([handle, timer]: [number, Timer]): void {
    this.#timers.delete(handle);
    if (timer.at > this.#now) this.#now = timer.at;
    timer.callback();
  }
}

/**
 * A clock reading `clock`'s time whose timers fire `skew` ms off their
 * delay: late when positive, as real timers are by a fraction of a ms; early
 * when negative, as Node's whole-ms timers can be against a fractional clock
 * (only a delay of 1 ms or more, so that a timer set again for what is left
 * does come due). `onSet` sees each timer set.
 */
export function skewedClock(clock: FakeClock, skew: number, onSet?: () => void): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (callback, ms) => {
      onSet?.();
      return clock.setTimeout(callback, skew >= 0 || ms >= 1 ? ms + skew : ms);
    },
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
}

/**
 * A {@linkcode FakeClock} (`fake`, which moves the timers) and a clock
 * (`clock`) reading its time plus every `stop(ms)`: time that passes with no
 * timer firing, as for a process stopped (SIGSTOP, a debugger, a paused VM).
 */
export function stoppableClock(): { fake: FakeClock; clock: Clock; stop(ms: number): void } {
  const fake = new FakeClock();
  let stopped = 0;
  return {
    fake,
    clock: {
      now: () => fake.now() + stopped,
      setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
      clearTimeout: (handle) => fake.clearTimeout(handle),
    },
    stop: (ms) => void (stopped += ms),
  };
}
