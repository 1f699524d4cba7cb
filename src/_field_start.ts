// Copyright 2026 the framewire authors. MIT license.
// Private: how lengthPrefixed() tells FrameTooLargeError where its length field starts in the
// header bytes it passes (after the `offset` bytes that travel before it), which no public option
// says. The likely cause read from a header judges a binary field by its own bytes: a text hint
// needs a field of 4 bytes or more, however many offset bytes come before it.

import type { FrameTooLargeErrorOptions } from "./errors.ts";

/** The option key: the index in `header` where the length field starts (default 0). */
export const FIELD_START: unique symbol = Symbol("framewire.fieldStart");

/** {@linkcode FrameTooLargeErrorOptions} with where the length field starts in `header`. */
export interface FieldStartOptions extends FrameTooLargeErrorOptions {
  [FIELD_START]?: number | undefined;
}
