// Copyright 2026 the framewire authors. MIT license.
/**
 * Sans-IO wire formats: bytes in, frames out.
 *
 * @module
 */
export * from "./types.ts";
export * from "./length_prefixed.ts";
export * from "./varint.ts";
export * from "./decimal_header.ts";
export * from "./delimited.ts";
export * from "./lines.ts";
export * from "./fixed_size.ts";
export * from "./netstring.ts";
