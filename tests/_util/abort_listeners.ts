// Copyright 2026 the framewire authors. MIT license.
// Test helper: counts the 'abort' listeners added to one signal and not removed since.

/**
 * Wraps `signal`'s own `addEventListener` and `removeEventListener` (the
 * instance's, so any runtime's signal, `AbortSignal.any()`'s and
 * `AbortSignal.timeout()`'s included) and returns the set of its 'abort'
 * listeners added since and not removed. Listeners a runtime adds through
 * its internals (Deno's own ops) are not seen.
 */
export function abortListeners(signal: AbortSignal): ReadonlySet<unknown> {
  const listeners = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (type: string, listener: unknown, options?: unknown): void => {
    if (type === "abort") listeners.add(listener);
    add(type, listener as EventListener, options as AddEventListenerOptions);
  };
  signal.removeEventListener = (type: string, listener: unknown, options?: unknown): void => {
    if (type === "abort") listeners.delete(listener);
    remove(type, listener as EventListener, options as EventListenerOptions);
  };
  return listeners;
}
