// Copyright 2026 the framewire authors. MIT license.
/**
 * Web Streams front ends and pull readers.
 *
 * @module
 */
export * from "./frame_decoder_stream.ts";
export * from "./frame_encoder_stream.ts";
export * from "./byte_reader.ts";
