// Copyright 2026 the framewire authors. MIT license.
// The reconnect schedule. Private; documented on ReconnectOptions.

/** Resolved reconnect options. */
export interface Backoff {
  /** Delay before the second retry in ms. */
  base: number;
  /** Growth per further failed attempt. */
  factor: number;
  /** Largest delay in ms. */
  cap: number;
  /** Fraction of the delay taken off at random, 0 to 1. */
  jitter: number;
  /** Failed attempts in a row after which the client gives up (Infinity: never). */
  maxAttempts: number;
}

/**
 * The delay before the next connection attempt, given the number of
 * consecutive failed attempts so far.
 *
 * - 0 failures (the first attempt, or the connection was lost after working):
 *   immediately.
 * - 1 failure: the first retry is immediate too.
 * - n ≥ 2 failures: `min(cap, base * factor^(n-2))`, of which a random
 *   fraction up to `jitter` is taken off, so that the delay lies in
 *   `[d * (1 - jitter), d]`: the cap stays a true maximum and the delay never
 *   collapses to 0 (which would turn a flapping server into a tight loop).
 */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number): number {
  if (failures <= 1) return 0;
  const exponent = failures - 2;
  // factor^exponent may overflow to Infinity, which min() clamps to the cap (but 0 * Infinity is
  // NaN: a base of 0 is no delay at all). The exponent itself is not capped: with a factor just
  // above 1 the delay keeps growing as documented, however many attempts failed.
  const full = backoff.base === 0
    ? 0
    : Math.min(backoff.cap, backoff.base * Math.pow(backoff.factor, exponent));
  const r = random();
  return full * (1 - backoff.jitter * (r >= 0 && r < 1 ? r : 0));
}
