// Copyright 2026 the framewire authors. MIT license.
// Private: dials a host name's addresses one after the other, as Node's and Deno's connect do
// (the Bun adapter's connect; Bun alone would dial them all at once). Runtime-agnostic.

/**
 * Ms an attempt to reach one of a name's addresses may take before the next
 * is tried (the last one has no limit): Node's `autoSelectFamilyAttemptTimeout`,
 * and the delay after which Deno tries the next address too.
 */
export const ATTEMPT_TIMEOUT = 250;

/**
 * One attempt: connects to `address`, aborting when `signal` does (rejecting
 * with its reason), and calls `opened` once a TCP connection is made (what
 * follows, such as a TLS handshake, is no longer timed by this module).
 */
export type Attempt<T> = (
  address: string,
  signal: AbortSignal | undefined,
  opened: () => void,
) => Promise<T>;

/**
 * Tries `addresses` in order until one connects; each but the last is given
 * up after {@linkcode ATTEMPT_TIMEOUT} without a TCP connection (an address
 * that drops SYNs would otherwise hold the dial until the kernel gives up,
 * minutes). An attempt that made a connection and then failed (a TLS handshake)
 * is the answer, and `signal`'s abort ends it with the signal's reason;
 * otherwise the last failure.
 */
export async function dialAddresses<T>(
  addresses: readonly string[],
  signal: AbortSignal | undefined,
  attempt: Attempt<T>,
): Promise<T> {
  let failure: unknown;
  for (let i = 0; i < addresses.length; i++) {
    // Aborted already (in the turn since the caller checked): no attempt, which the listener
    // below would not stop.
    if (signal?.aborted) throw signal.reason;
    let opened = false;
    const limit = i < addresses.length - 1 ? new AbortController() : undefined;
    // Past the limit, the I/O that is ready gets a turn first (a 0 ms timer): an event loop
    // blocked until then (a long synchronous computation right after connect()) fires this timer
    // before it hands over the connection made meanwhile, which was then given up for the next
    // address (and, where that one refuses, the dial failed).
    let timer = limit === undefined ? undefined : setTimeout(() => {
      timer = setTimeout(
        () => limit.abort(new Error(`no answer within ${ATTEMPT_TIMEOUT} ms`)),
        0,
      );
    }, ATTEMPT_TIMEOUT);
    // The caller's abort aborts the limited attempt too: followed with a listener, not
    // AbortSignal.any(), which refuses a look-alike signal (a polyfill's, another realm's).
    const follow = limit === undefined || signal === undefined
      ? undefined
      : (): void => limit.abort(signal.reason);
    if (follow !== undefined) signal!.addEventListener("abort", follow, { once: true });
    const attemptSignal = limit === undefined ? signal : limit.signal;
    try {
      return await attempt(addresses[i]!, attemptSignal, () => {
        opened = true;
        clearTimeout(timer);
      });
    } catch (error) {
      // The caller's abort ends it with the reason, also when the attempt's own failure (its
      // time limit, a refusal) came first in the same turn.
      if (signal?.aborted) throw signal.reason;
      if (opened) throw error;
      failure = error;
    } finally {
      clearTimeout(timer);
      if (follow !== undefined) signal!.removeEventListener("abort", follow);
    }
  }
  throw failure;
}
