// Copyright 2026 the framewire authors. MIT license.
// Child of suspended_peer_test.ts: one end of a reliable session on this runtime's adapter, which
// the test stops (SIGSTOP) and resumes (SIGCONT). `client <port>` dials the test's server,
// `server` listens and prints `PORT <n>`. Commands arrive on standard input, one a line:
// `send <from> <to>` sends messages "c<from>".."c<to>" unawaited (printing `SENDING <to>` once
// they are handed to the session, then `SENT <to>` once each settled, or `SEND-FAILED <to> <code>`), `close` closes the session and prints the summary as
// `DONE <json>`: every message received (in order), the outcome of every send, the events and
// stats, and how many times it dialed (a client). Each event of the session is printed as
// `EVENT <type>` when it happens. Exits 0 after `DONE`, once its standard input is closed.

import process from "node:process";
import { createInterface } from "node:readline";
import { reliableClient } from "../../src/reliable/reliable_client.ts";
import { reliableServer } from "../../src/reliable/reliable_server.ts";
import type { ReliableSession } from "../../src/reliable/types.ts";
import { adapter } from "../_util/runtime.ts";

const [
  role,
  port = "0",
  heartbeatInterval = "100",
  deadPeerTimeout = "400",
  resumeTimeout = "60000",
] = process.argv.slice(2);
const timing = {
  heartbeatInterval: Number(heartbeatInterval),
  deadPeerTimeout: Number(deadPeerTimeout),
};
const { connect, listen } = await adapter();
const events: string[] = [];
const received: string[] = [];
const outcomes: Record<string, number> = {};
let dials = 0;
let session: ReliableSession;
let closeServer = async (): Promise<void> => {};

function watch(s: ReliableSession): void {
  for (const type of ["open", "reconnecting", "resumed", "sessionlost", "close"]) {
    s.addEventListener(type, (event) => {
      const detail = (event as CustomEvent).detail;
      const code = detail?.error?.code;
      events.push(code === undefined ? type : `${type} ${code}`);
      console.log(`EVENT ${type}`);
    });
  }
  (async () => {
    const decoder = new TextDecoder();
    for await (const message of s) received.push(decoder.decode(message));
  })().catch((error) => events.push(`iterator ${error?.code ?? error}`));
}

if (role === "client") {
  session = reliableClient((signal) => {
    dials++;
    return connect({ hostname: "127.0.0.1", port: Number(port), signal });
  }, timing);
  watch(session);
} else {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const server = reliableServer(listener, { ...timing, resumeTimeout: Number(resumeTimeout) });
  closeServer = async () => {
    await server.close();
    listener.close();
  };
  console.log(`PORT ${(listener.addr as { port: number }).port}`);
  for await (const s of server) {
    session = s;
    watch(s);
    break;
  }
  console.log("ACCEPTED");
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, a, b] = line.split(" ");
  if (command === "send") {
    const sends: Promise<void>[] = [];
    for (let i = Number(a); i <= Number(b); i++) {
      const sent = session!.send(`c${i}`);
      sends.push(sent);
      sent.then(
        () => outcomes.ok = (outcomes.ok ?? 0) + 1,
        (error) => outcomes[error?.code ?? "error"] = (outcomes[error?.code ?? "error"] ?? 0) + 1,
      );
    }
    console.log(`SENDING ${b}`);
    Promise.all(sends).then(
      () => console.log(`SENT ${b}`),
      (error) => console.log(`SEND-FAILED ${b} ${error?.code ?? error}`),
    );
  } else if (command === "close") {
    let closed = "ok";
    await session!.close({ timeout: 10_000 }).catch((error) => closed = error?.code ?? "error");
    await closeServer();
    const { stats, state } = session!;
    console.log(
      `DONE ${JSON.stringify({ received, outcomes, events, stats, state, closed, dials })}`,
    );
    break;
  }
}
