// Copyright 2026 the framewire authors. MIT license.
/**
 * framewire turns a TCP byte stream back into the messages that were sent,
 * on Deno, Bun and Node: length-prefixed, varint, decimal-header, delimited,
 * fixed-size and netstring framing, an incremental decoder correct for any
 * chunking, and Web Streams front ends.
 *
 * @example Decoding frames from arbitrary chunks
 * ```ts
 * import { lengthPrefixed } from "@framewire/framewire";
 * import assert from "node:assert/strict";
 *
 * const decoder = lengthPrefixed({ width: 1 }).decoder();
 * const frames: string[] = [];
 * for (const chunk of [[3, 97, 98], [99, 2, 104], [105, 4, 112, 105], [110, 103]]) {
 *   decoder.push(new Uint8Array(chunk));
 *   for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
 *     frames.push(new TextDecoder().decode(f));
 *   }
 * }
 * assert.deepEqual(frames, ["abc", "hi", "ping"]);
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/framing/mod.ts";
export * from "./src/streams/mod.ts";
export type * from "./src/connection/types.ts";
export * from "./src/connection/framed.ts";
export * from "./src/reliable/mod.ts";
