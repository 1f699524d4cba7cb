// Copyright 2026 the framewire authors. MIT license.
/**
 * Reliable sessions: message ids, confirmations, resend, duplicate
 * suppression and reconnection on top of any {@linkcode Conn}.
 *
 * @module
 */
export * from "./types.ts";
export * from "./reliable_client.ts";
export * from "./reliable_server.ts";
