// Copyright 2026 the framewire authors. MIT license.
// The session framings: shared between sessions, as they hold no state of a connection.

import { test } from "node:test";
import assert from "node:assert/strict";
import { HANDSHAKE_LIMIT, handshakeFraming, sessionFraming } from "../../src/reliable/_session.ts";
import { DATA_HEADER } from "../../src/reliable/_protocol.ts";

test("session framing: sessions with the same maxMessageSize share one framing (a server made three per session: about 2 KB of heap more per session on V8)", () => {
  const a = sessionFraming(4096);
  assert.equal(sessionFraming(4096), a);
  assert.equal(a.maxFrameLength, 4096 + DATA_HEADER);
  const b = sessionFraming(100);
  assert.notEqual(b, a);
  assert.equal(b.maxFrameLength, HANDSHAKE_LIMIT, "a HELLO or a REJECT must fit");
  assert.equal(sessionFraming(100), b);
});

test("session framing: each handshake has a decoder of its own, held to HANDSHAKE_LIMIT until open(), and encodes with the shared session framing", () => {
  const one = handshakeFraming(4096);
  const two = handshakeFraming(4096);
  assert.equal(one.framing.encodeInto, sessionFraming(4096).encodeInto);
  const header = (length: number) =>
    new Uint8Array([length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255]);
  const first = one.framing.decoder();
  const second = two.framing.decoder();
  assert.notEqual(first, second);
  one.open(); // lifts the first one's limit only
  first.push(header(HANDSHAKE_LIMIT + 1));
  assert.equal(first.next(), undefined, "the first waits for its payload");
  second.push(header(HANDSHAKE_LIMIT + 1));
  assert.throws(() => second.next(), { name: "FrameTooLargeError" });
});
