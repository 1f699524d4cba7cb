// Copyright 2026 the framewire authors. MIT license.
// The package version, for `framewire --version`. Private; a test keeps it equal to deno.json's.

/** The version of this framewire, as in deno.json (and the npm package built from it). */
export const VERSION = "0.1.0";
