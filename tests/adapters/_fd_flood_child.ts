// Copyright 2026 the framewire authors. MIT license.
// Child of the adapter suite's descriptor test, run under a low `ulimit -n`: fills the descriptor
// table with connections to its own listener (the last connect fails), frees a few, connects once
// more, and takes a connection from the listener. Prints one JSON line and exits.
import process from "node:process";
import { adapter, type Runtime } from "../_util/runtime.ts";
import type { Conn } from "../../src/connection/types.ts";

const name = process.argv[2] as Runtime;
const deno = (globalThis as { Deno?: typeof Deno }).Deno;
// Deno 2.9 panics (ext/signals) if it finds no descriptor about half a second after it started:
// the flood comes after that.
if (deno !== undefined) await new Promise((resolve) => setTimeout(resolve, 1000));
// The Deno adapter: count the accept() calls that failed, to show the listener met the error.
let failedAccepts = 0;
let acceptFailed: () => void = () => {};
const firstFailure = new Promise<void>((resolve) => acceptFailed = resolve);
if (name === "deno") {
  const probe = deno!.listen({ hostname: "127.0.0.1", port: 0 });
  const proto = Object.getPrototypeOf(probe) as { accept: () => Promise<unknown> };
  probe.close();
  const accept = proto.accept;
  proto.accept = function (this: unknown) {
    return accept.call(this).catch((error: unknown) => {
      failedAccepts++;
      acceptFailed();
      throw error;
    });
  };
}
// The Deno adapter waits (a timer) before it tries accept() again: record those waits (nothing
// else in this process sets a timer through the global, this script's own waits aside). In the
// "close" mode they are held, never run: only close() can end the wait then.
const waits: number[] = [];
let cleared = 0;
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const held = new Set<unknown>();
if (name === "deno") {
  const record = ((callback: () => void, delay: number) => {
    waits.push(delay);
    if (process.argv[3] !== "close") return realSetTimeout(callback, delay);
    const timer = -waits.length;
    held.add(timer);
    return timer;
  }) as typeof setTimeout;
  globalThis.setTimeout = record;
  globalThis.clearTimeout = ((timer: number) => {
    if (held.delete(timer)) cleared++;
    else realClearTimeout(timer);
  }) as typeof clearTimeout;
}
const { connect, listen } = await adapter(name);
const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as { port: number }).port;
const clients: Conn[] = [];
let full = "";
try {
  // Each connection costs two descriptors (both ends) once accepted; none is accepted here.
  for (let i = 0; i < 10_000; i++) clients.push(await connect({ port }));
} catch (error) {
  full = String((error as { cause?: unknown }).cause ?? error);
}
const next = listener[Symbol.asyncIterator]().next();
let result: string;
if (process.argv[3] === "close") {
  // close() while the listener waits to try accept() again (Deno adapter): next() ends. Once the
  // failed accept's handlers have run (a timer comes after them), the wait has begun.
  await firstFailure;
  await new Promise((resolve) => realSetTimeout(resolve, 0));
  listener.close();
  result = (await next).done ? "ended" : "accepted";
  for (const client of clients) client.close();
  console.log(JSON.stringify({ full, result, failedAccepts, waits, cleared }));
  process.exit(0);
}
try {
  // The listener tries to take the first connection with no descriptor left. Not a wait this
  // test needs to pass: one in which a listener that gives up at that (as the Deno adapter's did)
  // has done so.
  await new Promise((resolve) => realSetTimeout(resolve, 100));
  // Descriptors free again (the peer ends of these connections wait in the backlog, or were
  // dropped by the runtime), and one more connection that the listener can take.
  for (const client of clients.splice(0, 10)) client.close();
  clients.push(await connect({ port }));
  const taken = await next;
  result = taken.done ? "ended" : "accepted";
  if (!taken.done) taken.value.close();
} catch (error) {
  result = `failed: ${String(error)}`;
}
for (const client of clients) client.close();
listener.close();
console.log(JSON.stringify({ full, result, failedAccepts, waits, cleared }));
process.exit(0);
