// Copyright 2026 the framewire authors. MIT license.
// Shared by cross_server.ts and cross_client.ts: the wire formats exchanged across runtimes and the
// payloads sent in each.

import {
  decimalHeader,
  type Framing,
  lengthPrefixed,
  lines,
  netstring,
  varint,
} from "../../mod.ts";
import { prng } from "./rechunk_proxy.ts";

/** The formats every runtime pair exchanges, by name. */
export const FORMATS: Readonly<Record<string, () => Framing>> = {
  u32be: () => lengthPrefixed(),
  u16le: () => lengthPrefixed({ width: 2, endian: "little" }),
  varint: () => varint(),
  decimal10: () => decimalHeader(),
  line: () => lines(),
  netstring: () => netstring(),
};

/**
 * `count` payloads for `format`: mostly small, some up to 60 KiB, a few empty;
 * printable ASCII for `line` (no "\n", no trailing "\r").
 */
export function payloadsFor(format: string, count: number, seed: number): Uint8Array[] {
  const random = prng(seed);
  const text = format === "line";
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const size = i % 50 === 0
      ? 0
      : r < 0.9
      ? Math.floor(random() * 200)
      : Math.floor(random() * 60 * 1024);
    const payload = new Uint8Array(size);
    for (let j = 0; j < size; j++) {
      payload[j] = text ? 0x20 + Math.floor(random() * 95) : random() * 256;
    }
    out.push(payload);
  }
  return out;
}
