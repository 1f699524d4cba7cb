// Copyright 2026 the framewire authors. MIT license.
// A reliable client that dials something that is not a framewire reliable server, on real
// loopback sockets: an echo server, an HTTP server answering 400, a server of another protocol
// that speaks length-prefixed frames. The client goes on reconnecting (docs/protocol.md,
// "Reconnecting"); what is asserted is that each `reconnecting` event, and the `close` event of
// a client that gives up, says that the peer is not a framewire reliable server and what it sent.

import { test } from "node:test";
import assert from "node:assert/strict";
import { reliableClient } from "../../src/reliable/reliable_client.ts";
import type { Conn } from "../../src/connection/types.ts";
import { ConnectionError, FrameTooLargeError } from "../../src/errors.ts";
import { watchSockets } from "../_util/leaks.ts";
import { adapter, portOf } from "../_util/runtime.ts";
import { events, once } from "./_helpers.ts";

const sockets = watchSockets();

/** What each server does with a connection, and what the client's errors say of it. */
const PEERS: {
  name: string;
  serve(conn: Conn): Promise<void>;
  message: string;
  cause?: new (...args: never[]) => Error;
}[] = [
  {
    name: "an echo server",
    serve: (conn) => conn.readable.pipeTo(conn.writable),
    // Before: "Cannot read from connection as the peer broke the protocol: expected WELCOME,
    // received frame type 3".
    message:
      "Cannot open session as the peer is not a framewire reliable server: it sent this client's HELLO back (an echo server?)",
  },
  {
    name: "an HTTP server answering 400",
    async serve(conn) {
      const reader = conn.readable.getReader();
      await reader.read(); // the HELLO: no request line
      reader.releaseLock();
      const writer = conn.writable.getWriter();
      await writer.write(
        new TextEncoder().encode(
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
      );
      await writer.close();
    },
    message:
      'Cannot open session as the peer is not a framewire reliable server: it announced a frame of 1213486160 bytes where a frame before the handshake has at most 1024: the bytes look like an HTTP response ("HTTP"); is the other side an HTTP server?',
    cause: FrameTooLargeError,
  },
  {
    name: "a server of another length-prefixed protocol",
    async serve(conn) {
      const writer = conn.writable.getWriter();
      await writer.write(Uint8Array.of(0, 0, 0, 5, ...new TextEncoder().encode("hello")));
      await writer.close();
    },
    // Before: "... the peer broke the protocol: expected WELCOME, received frame type 104".
    message:
      "Cannot open session as the peer is not a framewire reliable server: it answered the HELLO with a frame of 5 bytes (68 65 6c 6c 6f), not a WELCOME, GOODBYE or REJECT",
  },
];

for (const peer of PEERS) {
  test(
    `reliable: a client that dials ${peer.name} is told the peer is not a framewire reliable server, with what it sent`,
    {
      timeout: 20_000,
    },
    async () => {
      const net = await adapter();
      const listener = await net.listen({ hostname: "127.0.0.1", port: 0 });
      const port = portOf(listener);
      const accepted: Conn[] = [];
      const serving = (async () => {
        for await (const conn of listener) {
          accepted.push(conn);
          peer.serve(conn).catch(() => {}).finally(() => conn.close());
        }
      })();
      const client = reliableClient(
        (signal) => net.connect({ hostname: "127.0.0.1", port, signal }),
        { reconnect: { maxAttempts: 2 } },
      );
      try {
        const reconnecting = events<{ attempt: number; error: unknown }>(client, "reconnecting");
        const closed = once<{ error: Error | undefined }>(client, "close");
        // Not confirmed: the session ends before any server takes it.
        const sent = client.send("x").then(() => undefined, (error: Error) => error);
        const { detail } = await reconnecting.next();
        assert.equal(detail.attempt, 2);
        const error = detail.error;
        assert.ok(error instanceof ConnectionError, String(error));
        assert.equal(error.code, "PROTOCOL_ERROR");
        assert.equal(error.message, peer.message);
        if (peer.cause !== undefined) assert.ok(error.cause instanceof peer.cause);
        // The second attempt fails the same way, and the client gives up (maxAttempts 2) with the
        // same words; without maxAttempts it goes on, with this error in every reconnecting event.
        const end = (await closed).detail.error;
        assert.ok(end instanceof ConnectionError);
        assert.equal(
          end.message,
          `Cannot connect as 2 attempts in a row failed (reconnect.maxAttempts: 2): the last could not ${
            peer.message.slice("Cannot ".length)
          }`,
        );
        assert.equal((end.cause as Error).message, peer.message);
        assert.equal(((await sent) as ConnectionError | undefined)?.code, "CONNECTION_CLOSED");
      } finally {
        await client.close({ timeout: 0 }).catch(() => {});
        listener.close();
        for (const conn of accepted) conn.close();
        await serving;
      }
    },
  );
}

sockets.check();
