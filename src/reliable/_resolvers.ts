// Copyright 2026 the framewire authors. MIT license.
// Private.

/** A promise with its resolve and reject functions. */
export interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

/**
 * `Promise.withResolvers()`, which Node has only from 22: made by hand, so
 * that reliable sessions run on Node 20 too.
 */
export function resolvers<T>(): Resolvers<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
