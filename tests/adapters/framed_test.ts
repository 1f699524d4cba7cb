// Copyright 2026 the framewire authors. MIT license.
// framed() over the current runtime's adapter and real sockets: many frames through the
// re-chunking proxy, a peer that stops mid-frame, and send() under a slow reader.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { framed } from "../../src/connection/framed.ts";
import {
  FrameTooLargeError,
  type Framing,
  lengthPrefixed,
  lines,
  TruncatedFrameError,
  varint,
} from "../../mod.ts";
import type { Conn } from "../../src/connection/types.ts";
import { adapter, binaries, portOf, runtime } from "../_util/runtime.ts";
import { ConnectionError } from "../../src/errors.ts";
import { prng, rechunkProxy } from "../_util/rechunk_proxy.ts";
import { accept, assertBytes, writeUntilStalled } from "./_suite.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

const NET = { timeout: 60_000 };

/** `count` payloads of 0 B to 1 MiB: mostly under 1 KiB, 1 in 50 large (about 20 MB in all). */
function payloads(count: number, seed: number): Uint8Array[] {
  const random = prng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const size = i % 100 === 0
      ? 0
      : random() < 0.02
      ? Math.floor(random() * (1 << 20)) + 1
      : Math.floor(random() * 1024);
    const payload = new Uint8Array(size);
    // Cheap but position-dependent content, so any misplaced byte shows.
    for (let j = 0; j < size; j += 97) payload[j] = (i * 31 + j) & 255;
    if (size > 0) payload[size - 1] = i & 255;
    out.push(payload);
  }
  return out;
}

/** A client and server Conn through a re-chunking proxy; `cleanup` closes everything. */
async function proxiedPair(
  seed: number,
): Promise<{ client: Conn; server: Conn; cleanup: () => Promise<void> }> {
  const { connect, listen } = await adapter();
  const upstream = await listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = rechunkProxy(
    await listen({ hostname: "127.0.0.1", port: 0 }),
    () => connect({ port: portOf(upstream) }),
    { seed },
  );
  const conns: Conn[] = [];
  const cleanup = async (): Promise<void> => {
    for (const conn of conns) conn.close();
    await proxy.close();
    upstream.close();
  };
  try {
    const accepted = accept(upstream);
    conns.push(await connect({ port: (proxy.addr as { port: number }).port }));
    conns.push(await accepted);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { client: conns[0]!, server: conns[1]!, cleanup };
}

for (
  const [name, make] of [["u32be", () => lengthPrefixed()], ["varint", () => varint()]] as const
) {
  test(
    `framed() on ${runtime}: 2,000 frames of 0 B-1 MiB (${name}) echo through a re-chunking proxy`,
    NET,
    async () => {
      const { client, server, cleanup } = await proxiedPair(name.length);
      try {
        const framing: Framing = make();
        const sent = payloads(2000, 11);
        const fc = framed(client, framing);
        const fs = framed(server, framing);
        const echoing = (async () => {
          for await (const frame of fs) await fs.send(frame);
          await fs.closeWrite();
        })();
        const sending = (async () => {
          const sends = sent.map((p) => fc.send(p)); // unawaited sends go out in call order
          await Promise.all(sends);
          await fc.closeWrite();
        })();
        let i = 0;
        for await (const frame of fc) {
          assert.ok(i < sent.length, "no extra frames");
          assertBytes(frame, sent[i]!);
          i++;
        }
        assert.equal(i, sent.length);
        await Promise.all([sending, echoing]);
      } finally {
        await cleanup();
      }
    },
  );
}

test(
  `framed() on ${runtime}: a peer that closes mid-frame gives TruncatedFrameError`,
  NET,
  async () => {
    for (const how of ["closeWrite", "close"] as const) {
      const { client, server, cleanup } = await proxiedPair(3);
      try {
        const framing = lengthPrefixed();
        const fc = framed(client, framing);
        const writer = server.writable.getWriter();
        const whole = framing.encode(new Uint8Array(100).fill(7));
        await writer.write(framing.encode(new Uint8Array([1, 2, 3]))); // one whole frame
        await writer.write(whole.subarray(0, 40)); // then 36 of 100 payload bytes
        writer.releaseLock();
        if (how === "closeWrite") await server.closeWrite();
        else server.close();
        const frames: Uint8Array[] = [];
        await assert.rejects(
          (async () => {
            for await (const frame of fc) frames.push(frame);
          })(),
          (error) => {
            assert.ok(error instanceof TruncatedFrameError, `${how}: got ${error}`);
            assert.equal(error.part, "payload");
            return true;
          },
        );
        assert.deepEqual(frames, [new Uint8Array([1, 2, 3])]);
        // Every byte read is counted (the adapter hands its data to framed() directly).
        assert.equal(fc.bytesRead, 7 + 40, `${how}: bytesRead`);
      } finally {
        await cleanup();
      }
    }
  },
);

test(
  `framed() on ${runtime}: the replies to the lines before one too long reach the peer, then FIN`,
  NET,
  async () => {
    const { connect, listen } = await adapter();
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = accept(listener);
    const client = await connect({ port: portOf(listener) });
    const server = framed(await accepted, lines({ maxFrameLength: 16 }));
    try {
      const text = new TextEncoder();
      // One write, so that the good lines and the bad one come in one read: before, the
      // connection closed when the bad line was decoded, and both replies were lost.
      const writer = client.writable.getWriter();
      await writer.write(text.encode(`a\nb\n${"x".repeat(40)}\n`));
      const serving = (async () => {
        for await (const line of server) {
          void server.send(`reply to ${new TextDecoder().decode(line)}`);
        }
      })();
      await assert.rejects(serving, FrameTooLargeError);
      assert.equal(await new Response(client.readable).text(), "reply to a\nreply to b\n");
    } finally {
      client.close();
      await server.close();
      listener.close();
    }
  },
);

test(
  `framed() on ${runtime}: send() waits while the peer reads nothing, then everything arrives`,
  NET,
  async () => {
    const { connect, listen } = await adapter();
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const conns: Conn[] = [];
    try {
      const accepted = accept(listener);
      conns.push(await connect({ port: portOf(listener) }));
      conns.push(await accepted);
      const [client, server] = conns as [Conn, Conn];
      const framing = lengthPrefixed();
      const fc = framed(client, framing);
      const payload = new Uint8Array(1 << 20).map((_, i) => i & 255);
      // Send until a send() has not resolved for a while (the limit includes framed()'s queue).
      const { accepted: sentBytes, pending } = await writeUntilStalled(
        (p) => fc.send(p),
        payload,
        64 << 20,
      );
      const stalledSend = fc.send(payload); // queued behind the stalled one
      const fs = framed(server, framing);
      const receiving = (async () => {
        let frames = 0;
        for await (const frame of fs) {
          assertBytes(frame, payload);
          frames++;
        }
        return frames;
      })();
      await Promise.all([pending, stalledSend]);
      await fc.closeWrite();
      assert.equal(await receiving, sentBytes / payload.byteLength + 2);
    } finally {
      listener.close();
      for (const conn of conns) conn.close();
    }
  },
);

for (const name of new Set([runtime, "node"] as const)) {
  test(
    `framed() on ${runtime}, ${name} adapter: a peer process killed while send(), closeWrite() and close() wait for it to read settles each`,
    NET,
    async () => {
      // The hang hunt: a peer that reads nothing fills the kernel buffers, so the flush of
      // closeWrite() and close() waits for it (close() without a timeout for ever, as documented).
      // Once the peer's process dies with our bytes unread, its kernel resets the connection: every
      // promise waiting on the peer must settle, none may wait for a reader that will never come.
      const { listen } = await adapter(name);
      const listener = await listen({ hostname: "127.0.0.1", port: 0 });
      const script = `const s = require("node:net").connect(${
        portOf(listener)
      }, "127.0.0.1", () => {
          s.pause(); // reads nothing
          s.write("\\0\\0\\0\\2hi\\0\\0"); // a frame, then half of the next one's header
          console.log("connected");
        });
        s.on("error", () => {});
        setInterval(() => {}, 60_000);`;
      const child = spawn(binaries.node, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      let conn: Conn | undefined;
      try {
        conn = await accept(listener);
        await new Promise((resolve) => child.stdout!.once("data", resolve));
        const fc = framed(conn, lengthPrefixed());
        const reader = fc[Symbol.asyncIterator]();
        assert.deepEqual(await reader.next(), {
          done: false,
          value: new TextEncoder().encode("hi"),
        });
        const reading = reader.next(); // waits inside the next frame's header
        const { pending } = await writeUntilStalled(
          (p) => fc.send(p),
          new Uint8Array(1 << 20),
          64 << 20,
        );
        const events: string[] = [];
        const settled = (what: string, promise: Promise<unknown>): Promise<unknown> =>
          promise.then(
            () => events.push(`${what} resolved`),
            (error) =>
              events.push(`${what} rejected${error instanceof ConnectionError ? "" : ` ${error}`}`),
          );
        const waits = [
          settled("send", pending),
          settled("closeWrite", fc.closeWrite()),
          settled("close", fc.close()),
          settled("read", reading),
        ];
        events.push("killed");
        child.kill("SIGKILL");
        await Promise.all(waits);
        // Nothing settled before the kill; the send and closeWrite() fail with a ConnectionError
        // (the reset); close() ends (it may report the loss) and reading ends (cleanly, as
        // close() had begun, or with the reset or the truncated header).
        assert.equal(events[0], "killed", events.join(", "));
        assert.ok(events.includes("send rejected"), events.join(", "));
        assert.ok(events.includes("closeWrite rejected"), events.join(", "));
        assert.ok(events.some((e) => e.startsWith("close ")), events.join(", "));
        assert.ok(events.some((e) => /^read (resolved|rejected)/.test(e)), events.join(", "));
        await conn.closed;
      } finally {
        child.kill("SIGKILL");
        await exited;
        conn?.close();
        listener.close();
      }
    },
  );
}

sockets.check();
