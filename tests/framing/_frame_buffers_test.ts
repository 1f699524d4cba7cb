import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeAll, formats, label } from "./_formats.ts";
import { shiftMoves } from "../_util/shift_moves.ts";

test("frames read after end() come out in order and in linear time, in every format (no shift() of a long array)", async () => {
  // end() decodes every complete frame ahead (decodeAhead) and next() hands them out. Taken with
  // shift(), each call moved every frame left: on V8, once an array holds more than about 16,000
  // elements, 50,000 frames of 16 B pushed in one chunk took 5 s to read after end().
  const n = 20_000;
  for (const [i, { framing }] of formats.entries()) {
    const width = framing.name.startsWith("fixed") ? 5 : 12;
    const payloads = Array.from(
      { length: n },
      (_, k) => new TextEncoder().encode(String(k).padStart(width, "0")),
    );
    const decoder = framing.decoder();
    decoder.push(encodeAll(framing, payloads));
    const frames: Uint8Array[] = [];
    const moved = await shiftMoves(() => {
      decoder.end();
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
    });
    assert.equal(frames.length, n, label(framing, i));
    assert.ok(
      frames.every((f, k) => new TextDecoder().decode(f) === String(k).padStart(width, "0")),
      `${label(framing, i)}: frames out of order`,
    );
    assert.ok(moved <= n, `${label(framing, i)}: shift() moved ${moved} elements for ${n} frames`);
  }
});
