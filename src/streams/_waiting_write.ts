// Copyright 2026 the framewire authors. MIT license.
// Private: the write a stream pair's writable holds back until the readable's consumer asks for
// more (FrameDecoderStream, FrameEncoderStream).

/** At most one write waiting for the consumer, and how it ends. */
export class WaitingWrite {
  #resolve: (() => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;

  /**
   * Makes `controller`'s write fail as soon as its abort signal fires:
   * `abort()` waits for the write in progress, which waits for a consumer
   * that may never come.
   */
  constructor(controller: WritableStreamDefaultController) {
    controller.signal?.addEventListener("abort", () => this.fail(controller.signal.reason));
  }

  /** The promise for the sink's `write` to return. */
  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The consumer asked for more: the waiting write is done. */
  release(): void {
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    resolve?.();
  }

  /** What the waiting write produced will never be read: it fails. */
  fail(reason: unknown): void {
    const reject = this.#reject;
    this.#resolve = this.#reject = undefined;
    reject?.(reason);
  }
}
