// Copyright 2026 the framewire authors. MIT license.
// TEMPORARY: the subset of framed() the session driver uses, until
// src/connection/framed.ts lands. Private.

import type { Conn } from "../connection/types.ts";
import type { Framing } from "../framing/types.ts";

/** What the driver needs of a FramedConnection. */
export interface FramedLike {
  send(payload: Uint8Array): Promise<void>;
  close(): Promise<void>;
  batches(): AsyncIterable<Uint8Array[]>;
}

/** A minimal framed connection: coalesced writes per microtask, batches per read. */
export function framed(conn: Conn, framing: Framing): FramedLike {
  const writer = conn.writable.getWriter();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let flushing: Promise<void> | undefined;
  let last: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    flushing = undefined;
    const parts = pending;
    const total = pendingBytes;
    pending = [];
    pendingBytes = 0;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) at += framing.encodeInto(p, out, at);
    last = writer.write(out);
    return last;
  }
  return {
    send(payload: Uint8Array): Promise<void> {
      pending.push(payload);
      pendingBytes += framing.encodedLength(payload);
      flushing ??= Promise.resolve().then(flush);
      return flushing;
    },
    async close(): Promise<void> {
      if (flushing !== undefined) await flushing.catch(() => {});
      await last.catch(() => {});
      await writer.close().catch(() => {});
      conn.close();
    },
    async *batches(): AsyncIterable<Uint8Array[]> {
      const decoder = framing.decoder();
      const reader = conn.readable.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          decoder.push(value);
          const frames: Uint8Array[] = [];
          for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
          if (frames.length > 0) yield frames;
        }
        decoder.end();
      } finally {
        reader.releaseLock();
      }
    },
  };
}

/** The shim's connection type. */
export type FramedConnection = FramedLike;
